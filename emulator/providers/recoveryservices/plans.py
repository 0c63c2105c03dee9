"""Recovery plans: create (PUT), read, list, update (PATCH), delete, and the plan-level actions
unplannedFailover, testFailover, testFailoverCleanup and failoverCommit (plannedFailover and reProtect are refused:
Azure-to-Azure has no planned failover, and its items are reprotected one by one with switch protection).

A plan is how a multi-VM group fails over: ASR refuses a single VM of a group, and refuses a plan
that holds only part of a group. The plan's groups come back as ASR returns them: a ``Shutdown`` and
a ``Failover`` group first, then the ``Boot`` groups given, each with its items
(``{id, virtualMachineId}``) and start/end actions. A2A inputs are lists of provider-specific
details (``RecoveryPlanA2AFailoverInput`` with ``recoveryPointType``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.core.http import ArmRequest, ArmResponse, ok
from emulator.core.paging import paged
from emulator.core.world import World
from emulator.providers.recoveryservices import errors, failover, items, jobs, replication, scope
from emulator.providers.recoveryservices.events import Changes, announce
from emulator.providers.recoveryservices.failover import Check, Prepared, Transition
from emulator.providers.recoveryservices.items import COMMIT_PENDING, COMMITTED, State, TestState
from emulator.providers.recoveryservices.state import (
    FABRIC_TYPE,
    ITEM_TYPE,
    PLAN_TYPE,
    asr_prefix,
    container_of,
    fabric_of,
    name_of,
    now_iso,
    same_id,
    stable_guid,
)

GROUP_TYPES = ("Shutdown", "Failover", "Boot")
ACTION_KINDS = ("AutomationRunbookActionDetails", "ManualActionDetails", "ScriptActionDetails")


# -- plan objects -----------------------------------------------------------------------------------------

def _actions(given: Any, where: str) -> list[dict[str, Any]]:
    actions = given or []
    if not isinstance(actions, list):
        raise errors.invalid_input(f"'{where}' must be a list of actions.")
    for action in actions:
        if not isinstance(action, dict) or not action.get("actionName"):
            raise errors.invalid_input(f"Every action in '{where}' needs an 'actionName'.")
        kind = (action.get("customDetails") or {}).get("instanceType")
        if kind not in ACTION_KINDS:
            raise errors.invalid_input(f"Action '{action['actionName']}' needs customDetails.instanceType, one of "
                                       f"{', '.join(ACTION_KINDS)}.")
    return [dict(a) for a in actions]


def _groups(world: World, plan_props: dict[str, Any], given: Any) -> list[dict[str, Any]]:
    """Validate the groups given and return them as ASR does (Shutdown, Failover, then Boot groups)."""
    if not isinstance(given, list) or not given:
        raise errors.invalid_input("'groups' must list at least one group.")
    seen: set[str] = set()
    fixed: dict[str, dict[str, Any]] = {}
    boots: list[dict[str, Any]] = []
    for index, group in enumerate(given):
        if not isinstance(group, dict) or group.get("groupType") not in GROUP_TYPES:
            raise errors.invalid_input(f"groups[{index}].groupType must be one of {', '.join(GROUP_TYPES)}.")
        kind = group["groupType"]
        entries = []
        for entry in group.get("replicationProtectedItems") or []:
            item = world.get(entry.get("id") or "") if isinstance(entry, dict) else None
            if item is None or item.get("type") != ITEM_TYPE:
                raise errors.invalid_input(f"The replicated item '{(entry or {}).get('id')}' was not found.")
            if kind != "Boot":
                raise errors.invalid_input("Replicated items belong in Boot groups.")
            if item["id"].lower() in seen:
                raise errors.invalid_input(f"The replicated item '{item['name']}' is in the plan twice.")
            if not same_id(fabric_of(world, container_of(world, item))["id"], plan_props["primaryFabricId"]) or \
                    not same_id(item["properties"]["recoveryFabricId"], plan_props["recoveryFabricId"]):
                raise errors.invalid_input(f"The replicated item '{item['name']}' does not replicate from the plan's "
                                           "primary fabric to its recovery fabric.")
            seen.add(item["id"].lower())
            entries.append({"id": item["id"], "virtualMachineId": entry.get("virtualMachineId") or item["name"]})
        shaped = {"groupType": kind, "replicationProtectedItems": entries,
                  "startGroupActions": _actions(group.get("startGroupActions"), f"groups[{index}].startGroupActions"),
                  "endGroupActions": _actions(group.get("endGroupActions"), f"groups[{index}].endGroupActions")}
        if kind == "Boot":
            boots.append(shaped)
        else:
            fixed.setdefault(kind, shaped)
    empty: dict[str, list[Any]] = {"replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": []}
    return [fixed.get("Shutdown", {"groupType": "Shutdown", **empty}),
            fixed.get("Failover", {"groupType": "Failover", **empty}), *boots]


def _fabric(world: World, fabric_id: Any, what: str) -> dict[str, Any]:
    found = world.get(fabric_id) if isinstance(fabric_id, str) else None
    if found is None or found.get("type") != FABRIC_TYPE:
        raise errors.invalid_input(f"The {what} fabric '{fabric_id}' was not found.")
    return found


def plan_items(world: World, plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for group in plan["properties"]["groups"]:
        for entry in group["replicationProtectedItems"]:
            item = world.get(entry["id"])
            if item is None:
                raise errors.bad_request("ReplicatedItemNotFound",
                                         f"The plan's replicated item '{name_of(entry['id'])}' no longer exists.")
            found.append(item)
    return found


def refresh_plan(world: World, plan: dict[str, Any]) -> dict[str, Any]:
    """``allowedOperations`` follow the items' states, as ASR computes them."""
    found = [world.get(e["id"]) for g in plan["properties"]["groups"] for e in g["replicationProtectedItems"]]
    members = [replication.refresh(world, m) for m in found if m is not None]
    states = {m["properties"]["protectionState"] for m in members}
    tests = {m["properties"]["testFailoverState"] for m in members}
    if TestState.WAITING in tests:
        allowed = ["TestFailoverCleanup"]
    elif not members:
        allowed = []
    elif states <= COMMIT_PENDING:
        allowed = ["Commit", "ChangePit"]
    elif states <= COMMITTED:
        allowed = ["ReverseReplicate"]
    elif states == {State.PROTECTED}:
        allowed = ["UnplannedFailover", "TestFailover"]
    else:
        allowed = []
    plan["properties"]["allowedOperations"] = allowed
    return plan


def add_plan(world: World, vault: dict[str, Any], name: str, members: list[dict[str, Any]]) -> dict[str, Any]:
    """A recovery plan of ``members`` in one boot group, straight into the world (no job, no event: for worlds that
    tests and the bench build without ARM calls)."""
    empty: dict[str, list[Any]] = {"replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": []}
    plan_id = f"{asr_prefix(vault)}/replicationRecoveryPlans/{name}"
    return world.put({"id": plan_id, "name": name, "type": PLAN_TYPE, "properties": {
        "friendlyName": name, "primaryFabricId": fabric_of(world, container_of(world, members[0]))["id"],
        "recoveryFabricId": members[0]["properties"]["recoveryFabricId"],
        "failoverDeploymentModel": "ResourceManager", "replicationProviders": ["A2A"], "allowedOperations": [],
        "groups": [{"groupType": "Shutdown", **empty}, {"groupType": "Failover", **empty},
                   {"groupType": "Boot", "startGroupActions": [], "endGroupActions": [],
                    "replicationProtectedItems": [{"id": m["id"], "virtualMachineId": m["name"]} for m in members]}]}})


def _plan_props(world: World, given: dict[str, Any]) -> dict[str, Any]:
    primary = _fabric(world, given.get("primaryFabricId"), "primary")
    recovery = _fabric(world, given.get("recoveryFabricId"), "recovery")
    if same_id(primary["id"], recovery["id"]):
        raise errors.invalid_input("The primary and recovery fabrics of a plan must differ.")
    model = given.get("failoverDeploymentModel") or "ResourceManager"
    if model not in ("NotApplicable", "Classic", "ResourceManager"):
        raise errors.invalid_input(f"'{model}' is not a failover deployment model.")
    providers = scope.provider_list(given.get("providerSpecificInput"))
    for provider in providers:
        if provider.get("instanceType") != "A2A":
            raise errors.invalid_input("Recovery plan provider input must be A2A.")
    props: dict[str, Any] = {
        "primaryFabricId": primary["id"], "primaryFabricFriendlyName": primary["properties"]["friendlyName"],
        "recoveryFabricId": recovery["id"], "recoveryFabricFriendlyName": recovery["properties"]["friendlyName"],
        "failoverDeploymentModel": model,
    }
    props["groups"] = _groups(world, props, given.get("groups"))
    props["providerSpecificDetails"] = [{"instanceType": "A2A", "primaryZone": p.get("primaryZone"),
                                         "recoveryZone": p.get("recoveryZone"),
                                         "primaryExtendedLocation": p.get("primaryExtendedLocation"),
                                         "recoveryExtendedLocation": p.get("recoveryExtendedLocation")}
                                        for p in providers]
    return props


def _new_job(world: World, vault: dict[str, Any], plan_id: str, scenario: str) -> dict[str, Any]:
    return jobs.new_job(world, vault, scenario=scenario, target_id=stable_guid(plan_id), target_name=name_of(plan_id),
                        target_type="RecoveryPlan", affected={"RecoveryPlanId": plan_id})


# -- CRUD ----------------------------------------------------------------------------------------------------

def put_plan(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    vault = scope.vault(req)
    name = req.params["recoveryPlanName"]
    rid = f"{asr_prefix(vault)}/replicationRecoveryPlans/{name}"
    given = scope.properties(req)
    with world.lock:
        props = _plan_props(world, given)
        existing = world.get(rid)
        plan = existing or {"id": rid, "name": name, "type": PLAN_TYPE, "properties": {}}
        plan["properties"] = {
            "friendlyName": name, **props,
            "replicationProviders": ["A2A"], "allowedOperations": [],
            "lastPlannedFailoverTime": None, "lastUnplannedFailoverTime": None, "lastTestFailoverTime": None,
            "currentScenario": None, "currentScenarioStatus": None, "currentScenarioStatusDescription": None,
            **({k: existing["properties"].get(k) for k in ("lastPlannedFailoverTime", "lastUnplannedFailoverTime",
                                                           "lastTestFailoverTime")} if existing else {}),
        }
        world.put(plan)
        refresh_plan(world, plan)
        job = _new_job(world, vault, rid, "CreateRecoveryPlan")
    return jobs.run_as_job(req, vault, job, lambda: world.get(rid), event=scope.write_event(req, PLAN_TYPE))


def patch_plan(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    vault = scope.vault(req)
    given = scope.properties(req)
    with world.lock:
        plan = scope.plan(req)
        groups = _groups(world, plan["properties"], given.get("groups"))
        job = _new_job(world, vault, plan["id"], "UpdateRecoveryPlan")

    def work() -> dict[str, Any]:
        with world.lock:
            current = world.get(plan["id"])
            if current is None:
                raise errors.not_found("recovery plan", plan["name"])
            current["properties"]["groups"] = groups
            return refresh_plan(world, current)

    return jobs.run_as_job(req, vault, job, work, event=scope.write_event(req, PLAN_TYPE))


def delete_plan(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    vault = scope.vault(req)
    with world.lock:
        plan = scope.plan(req)
        job = _new_job(world, vault, plan["id"], "DeleteRecoveryPlan")

    def work() -> None:
        world.delete(plan["id"])

    return jobs.run_as_job(req, vault, job, work, event=scope.delete_event(req, PLAN_TYPE))


def get_plan(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        return ok(refresh_plan(world, scope.plan(req)))


def list_plans(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        plans = [refresh_plan(world, p) for p in world.by_type(PLAN_TYPE, scope=scope.vault(req)["id"])]
    return paged(req, plans, page_size=req.ctx.page_size)


# -- actions ---------------------------------------------------------------------------------------------------

def _check_whole_groups(world: World, members: list[dict[str, Any]]) -> None:
    """A plan fails a multi-VM group over only as a whole: every member must be in the plan."""
    in_plan = {m["id"].lower() for m in members}
    for member in members:
        missing = [o for o in items.in_user_group(world, member) if o["id"].lower() not in in_plan]
        if missing:
            raise errors.bad_request(
                errors.GROUP_FAILOVER_REQUIRED,
                f"The recovery plan holds only part of the multi-VM group '{items.a2a(member)['multiVmGroupName']}': "
                f"'{missing[0]['properties']['friendlyName']}' is missing.",
                action="Add every virtual machine of the group to the recovery plan.")


def _plan_direction(world: World, plan: dict[str, Any], item: dict[str, Any]) -> str:
    """Which way the item replicates, seen from the plan: from the plan's primary fabric (``PrimaryToRecovery``)
    or, after a reprotect, back from its recovery fabric (``RecoveryToPrimary``)."""
    primary = fabric_of(world, container_of(world, item))["id"]
    return "PrimaryToRecovery" if same_id(primary, plan["properties"]["primaryFabricId"]) else "RecoveryToPrimary"


def _check_direction(world: World, plan: dict[str, Any], members: list[dict[str, Any]], direction: str) -> None:
    """A plan's failover and test failover go the way its items replicate now: ``RecoveryToPrimary`` after a
    reprotect, else ``PrimaryToRecovery`` (``direction`` is one of the two: ``_required_direction``)."""
    for member in members:
        expected = _plan_direction(world, plan, member)
        if direction != expected:
            raise errors.bad_request(
                errors.OPERATION_NOT_ALLOWED,
                f"The recovery plan '{plan['name']}' cannot fail over {direction}: the replicated item "
                f"'{member['properties']['friendlyName']}' replicates {expected} (from "
                f"'{items.a2a(member)['primaryFabricLocation']}' to '{items.a2a(member)['recoveryFabricLocation']}').",
                action=f"Use failoverDirection '{expected}'.")


def _plan_action(req: ArmRequest, scenario: str, check_item: Check, transition_item: Transition, *,
                 whole_groups: bool = False, only: Callable[[dict[str, Any]], bool] | None = None,
                 last_time: str | None = None, direction: str | None = None) -> ArmResponse:
    world = req.ctx.world
    vault = scope.vault(req)

    def prepare() -> tuple[dict[str, Any], list[tuple[dict[str, Any], Prepared]]]:
        plan = refresh_plan(world, scope.plan(req))
        members = plan_items(world, plan)
        if not members:
            raise errors.bad_request(errors.OPERATION_NOT_ALLOWED, f"The recovery plan '{plan['name']}' is empty.")
        if whole_groups:
            _check_whole_groups(world, members)
        if direction is not None:
            _check_direction(world, plan, members, direction)
        chosen = [m for m in members if only is None or only(m)]
        if not chosen:
            chosen = members  # let the item check explain why nothing qualifies
        return plan, [(m, check_item(world, m)) for m in chosen]

    with world.lock:
        plan, checked = prepare()
        job = _new_job(world, vault, plan["id"], scenario)
        scenario_details = {"scenarioName": scenario, "jobId": job["id"], "startTime": job["properties"]["startTime"]}
        plan["properties"].update(currentScenario=scenario_details, currentScenarioStatus="InProgress",
                                  currentScenarioStatusDescription="InProgress")
        for member, _ in checked:
            items.begin_scenario(member, job)

    def work() -> dict[str, Any]:
        changes = Changes()
        with world.lock:
            try:
                current, rechecked = prepare()
                for member, prepared in rechecked:
                    result = transition_item(world, member, prepared, changes) or member
                    if scenario != "TestFailover":
                        items.end_scenario(world, result)
            except errors.AsrError:
                current = world.get(plan["id"]) or plan
                current["properties"].update(currentScenarioStatus="Failed", currentScenarioStatusDescription="Failed")
                raise
            current = world.get(plan["id"]) or current
            current["properties"].update(currentScenarioStatus="Succeeded",
                                         currentScenarioStatusDescription="Completed")
            if last_time:
                current["properties"][last_time] = now_iso(world)
            refresh_plan(world, current)
        announce(req, changes)
        return current

    return jobs.run_as_job(req, vault, job, work, event=scope.action_event(req, PLAN_TYPE))


def _a2a_details(given: dict[str, Any]) -> dict[str, Any]:
    entries = scope.provider_list(given.get("providerSpecificDetails"))
    for entry in entries:
        if entry.get("instanceType") != "A2A":
            raise errors.invalid_input("Recovery plan failover input must be A2A (RecoveryPlanA2AFailoverInput).")
    return entries[0] if entries else {}


def fail_over(req: ArmRequest) -> ArmResponse:
    """The plan's ``unplannedFailover`` action (A2A has no planned one: ``errors.planned_failover_not_supported``)."""
    given = scope.properties(req)
    direction = _required_direction(given)
    a2a = _a2a_details(given)
    point_type = a2a.get("recoveryPointType") or "Latest"
    sync_option = a2a.get("multiVmSyncPointOption")
    source_ops = given.get("sourceSiteOperations")
    if source_ops not in (None, "Required", "NotRequired"):
        raise errors.invalid_input("sourceSiteOperations must be 'Required' or 'NotRequired'.")

    def check(world: World, item: dict[str, Any]) -> Prepared:
        failover.check_failover(world, item, via_plan=True)
        return {"point": failover.pick_recovery_point(world, item, point_type=point_type, sync_option=sync_option)}

    def transition(world: World, item: dict[str, Any], prepared: Prepared, changes: Changes) -> None:
        failover.fail_over(world, item, point=prepared["point"], shut_down_source=source_ops == "Required",
                           changes=changes)

    return _plan_action(req, "UnplannedFailover", check, transition, whole_groups=True, direction=direction,
                        last_time="lastUnplannedFailoverTime")


def test_failover(req: ArmRequest) -> ArmResponse:
    given = scope.properties(req)
    direction = _required_direction(given)
    a2a = _a2a_details(given)
    point_type = a2a.get("recoveryPointType") or "Latest"
    sync_option = a2a.get("multiVmSyncPointOption")

    def check(world: World, item: dict[str, Any]) -> Prepared:
        failover.check_test_failover(world, item, via_plan=True)
        return {"network": failover.check_test_network(world, item, given.get("networkType"), given.get("networkId")),
                "point": failover.pick_recovery_point(world, item, point_type=point_type, sync_option=sync_option)}

    def transition(world: World, item: dict[str, Any], prepared: Prepared, changes: Changes) -> None:
        failover.test_fail_over(world, item, network_id=prepared["network"], point=prepared["point"], changes=changes)

    return _plan_action(req, "TestFailover", check, transition, whole_groups=True, direction=direction,
                        last_time="lastTestFailoverTime")


def _required_direction(given: dict[str, Any]) -> str:
    """``failoverDirection`` is required on a recovery plan's failover and test failover input."""
    direction = given.get("failoverDirection")
    if direction is None:
        raise errors.invalid_input("failoverDirection is required (PrimaryToRecovery or RecoveryToPrimary).")
    failover.check_direction(direction)
    return str(direction)


def test_failover_cleanup(req: ArmRequest) -> ArmResponse:
    scope.properties(req, required=False)

    def check(world: World, item: dict[str, Any]) -> Prepared:
        if item["properties"]["testFailoverState"] != TestState.CLEANING:
            failover.check_cleanup(item)
            failover.mark_cleaning(item)
        return {}

    def transition(world: World, item: dict[str, Any], prepared: Prepared, changes: Changes) -> None:
        failover.clean_up_test(world, item, changes=changes)

    return _plan_action(req, "TestFailoverCleanup", check, transition,
                        only=lambda m: m["properties"]["testFailoverState"] != TestState.NONE)


def failover_commit(req: ArmRequest) -> ArmResponse:
    return _plan_action(req, "CommitFailover", failover.check_commit, failover.commit)


def reprotect(req: ArmRequest) -> ArmResponse:
    """The plan's ``reProtect``: refused, every emulated plan being Azure-to-Azure (``replicationProviders``
    ``["A2A"]``; ``errors.plan_reprotect_not_supported`` cites the source)."""
    world = req.ctx.world
    with world.lock:
        plan = scope.plan(req)
    raise errors.plan_reprotect_not_supported(plan["name"])
