"""Handlers for replication protected items: enable (PUT), read and list (per container and vault-wide),
update (PATCH), disable (POST .../remove), purge (DELETE), recovery points, the item-level
failover actions (unplannedFailover, plannedFailover, testFailover, testFailoverCleanup,
failoverCommit, reProtect), and switch protection (POST .../replicationProtectionContainers/{c}/switchprotection),
which is how an Azure-to-Azure item is reprotected: ``reProtect`` is refused for its managed disks.

Each write is an ASR job (see ``jobs.py``); the rules are checked when the request arrives and
again when the job runs (another job may have changed the item in between). Reads bring the item up
to date with time first (initial replication progress, RPO).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from emulator.core.http import ArmRequest, ArmResponse, ok
from emulator.core.paging import paged
from emulator.core.world import World
from emulator.providers.recoveryservices import errors, failover, items, jobs, replication, scope
from emulator.providers.recoveryservices.events import Changes, Notice, announce
from emulator.providers.recoveryservices.failover import Check, Prepared, Transition
from emulator.providers.recoveryservices.state import CONTAINER_TYPE, ITEM_TYPE, PLAN_TYPE, container_of, same_id, vault_for

SWITCH_PROTECTION = "SwitchReplicationGroupProtection"  # the job's scenarioName (see jobs.SCENARIOS)


def _refreshed(world: World, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with world.lock:
        return [replication.refresh(world, i) for i in found]


# -- reads ----------------------------------------------------------------------------------------------

def get_item(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        return ok(replication.refresh(world, scope.item(req)))


def list_items(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    found = world.by_type(ITEM_TYPE, scope=scope.container(req)["id"])
    return paged(req, _refreshed(world, found), page_size=req.ctx.page_size)


def list_all_items(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    return paged(req, _refreshed(world, items.items_in_vault(world, scope.vault(req))), page_size=req.ctx.page_size)


def list_recovery_points(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        points = replication.recovery_points(world, replication.refresh(world, scope.item(req)))
    return paged(req, points, page_size=req.ctx.page_size)


def get_recovery_point(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    name = req.params["recoveryPointName"]
    with world.lock:
        points = replication.recovery_points(world, replication.refresh(world, scope.item(req)))
    found = next((p for p in points if p["name"].lower() == name.lower()), None)
    if found is None:
        raise errors.not_found("recovery point", name)
    return ok(found)


# -- enable, update, disable ------------------------------------------------------------------------------

def _new_job(world: World, item: dict[str, Any], scenario: str) -> dict[str, Any]:
    details = items.a2a(item)
    job = jobs.new_job(world, vault_for(world, item["id"]), scenario=scenario, target_id=item["name"],
                       target_name=item["properties"]["friendlyName"], target_type="ProtectionEntity",
                       affected={"PrimaryFabricLocation": details["primaryFabricLocation"],
                                 "RecoveryFabricLocation": details["recoveryFabricLocation"],
                                 "ProtectedItemId": item["id"]})
    if scenario == SWITCH_PROTECTION:
        # ASR's switch-protection job names the item it creates once it exists (SwitchProtectionJobDetails;
        # azure-powershell's recorded A2AReprotectTest.json, see jobs.SCENARIOS).
        job["properties"]["customDetails"].update(instanceType="SwitchProtectionJobDetails",
                                                  newReplicationProtectedItemId=None)
    return job


def _current(world: World, item_id: str) -> dict[str, Any]:
    found = world.get(item_id)
    if found is None:
        raise errors.not_found("replicated item", item_id.rsplit("/", 1)[-1])
    return found


def create_item(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    body_props = scope.properties(req)
    with world.lock:
        container = scope.container(req)
        vault = vault_for(world, container["id"])
        item = items.enable(world, container, req.params["replicatedProtectedItemName"], body_props)
        job = _new_job(world, item, "EnableDr")
        items.begin_scenario(item, job)

    def work() -> dict[str, Any]:
        with world.lock:
            current = _current(world, item["id"])
            # The control API may already have advanced the item while the job ran.
            if current["properties"]["protectionState"] == items.State.ENABLING:
                replication.start_initial_replication(world, current)
            items.end_scenario(world, current)
            return current

    return jobs.run_as_job(req, vault, job, work, event=scope.write_event(req, ITEM_TYPE))


def update_item(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    given = scope.properties(req)
    with world.lock:
        item = replication.refresh(world, scope.item(req))
        items.update(world, copy.deepcopy(item), given)  # validate now: a broken rule is the caller's 400
        job = _new_job(world, item, "UpdateVmProperties")
        items.begin_scenario(item, job)

    def work() -> dict[str, Any]:
        with world.lock:
            current = _current(world, item["id"])
            items.update(world, current, given)
            items.end_scenario(world, current)
            return current

    return jobs.run_as_job(req, vault_for(world, item["id"]), job, work, event=scope.write_event(req, ITEM_TYPE))


def _forget(world: World, item: dict[str, Any]) -> None:
    """Remove the item, and its entries from recovery plans (ASR drops them with the item)."""
    vault = vault_for(world, item["id"])
    for plan in world.by_type(PLAN_TYPE, scope=vault["id"]):
        for group in plan["properties"]["groups"]:
            group["replicationProtectedItems"] = [e for e in group["replicationProtectedItems"]
                                                  if not same_id(e.get("id"), item["id"])]
    items.remove(world, item)


def remove_item(req: ArmRequest) -> ArmResponse:
    """Disable replication (``POST .../remove``): the item is ``DisablingProtection`` until the job ends."""
    world = req.ctx.world
    with world.lock:
        item = scope.item(req)
        job = _new_job(world, item, "DisableDr")
        items.set_state(item, items.State.DISABLING)
        items.begin_scenario(item, job)

    def work() -> None:
        with world.lock:
            _forget(world, _current(world, item["id"]))

    return jobs.run_as_job(req, vault_for(world, item["id"]), job, work,
                           event=scope.action_event(req, ITEM_TYPE))


def purge_item(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        item = scope.item(req)
        job = _new_job(world, item, "PurgeProtection")

    def work() -> None:
        with world.lock:
            _forget(world, _current(world, item["id"]))

    return jobs.run_as_job(req, vault_for(world, item["id"]), job, work, event=scope.delete_event(req, ITEM_TYPE))


# -- failover actions ---------------------------------------------------------------------------------------

def _action(req: ArmRequest, scenario: str, check: Check, transition: Transition, *,
            keep_scenario: bool = False, target: dict[str, Any] | None = None, event: Notice | None = None,
            answer: Callable[[World, dict[str, Any]], dict[str, Any]] | None = None) -> ArmResponse:
    """Check now, run ``transition`` when the job completes, announce what it built, answer 202; the operation's
    result is the item the transition leaves, or what ``answer`` makes of it. ``target`` is the item when the
    request does not address it (switch protection names it in its body), ``event`` the caller's ARM event when
    it is not the item's."""
    world = req.ctx.world
    with world.lock:
        item = replication.refresh(world, target if target is not None else scope.item(req))
        check(world, item)
        job = _new_job(world, item, scenario)
        items.begin_scenario(item, job)

    def work() -> dict[str, Any]:
        changes = Changes()
        with world.lock:
            current = replication.refresh(world, _current(world, item["id"]))
            prepared = check(world, current)
            result = transition(world, current, prepared, changes) or current
            if not keep_scenario:
                items.end_scenario(world, result)
            answered = answer(world, result) if answer is not None else result
        announce(req, changes)
        return answered

    return jobs.run_as_job(req, vault_for(world, item["id"]), job, work,
                           event=event or scope.action_event(req, ITEM_TYPE))


def _a2a_input(given: dict[str, Any]) -> dict[str, Any]:
    provider = given.get("providerSpecificDetails") or {}
    if not isinstance(provider, dict):
        raise errors.invalid_input("'providerSpecificDetails' must be an object.")
    if provider and provider.get("instanceType") != "A2A":
        raise errors.invalid_input("providerSpecificDetails.instanceType must be 'A2A'.")
    return provider


def fail_over(req: ArmRequest) -> ArmResponse:
    """The item's ``unplannedFailover`` action (A2A has no planned one: ``errors.planned_failover_not_supported``)."""
    given = scope.properties(req, required=False)
    failover.check_direction(given.get("failoverDirection"))
    provider = _a2a_input(given)
    source_ops = given.get("sourceSiteOperations")
    if source_ops not in (None, "Required", "NotRequired"):
        raise errors.invalid_input("sourceSiteOperations must be 'Required' or 'NotRequired'.")

    def check(world: World, item: dict[str, Any]) -> Prepared:
        failover.check_failover(world, item, via_plan=False)
        return {"point": failover.pick_recovery_point(world, item, point_id=provider.get("recoveryPointId"))}

    def transition(world: World, item: dict[str, Any], prepared: Prepared, changes: Changes) -> None:
        failover.fail_over(world, item, point=prepared["point"], shut_down_source=source_ops == "Required",
                           changes=changes)

    return _action(req, "UnplannedFailover", check, transition)


def test_failover(req: ArmRequest) -> ArmResponse:
    given = scope.properties(req)
    failover.check_direction(given.get("failoverDirection"))
    provider = _a2a_input(given)

    def check(world: World, item: dict[str, Any]) -> Prepared:
        failover.check_test_failover(world, item, via_plan=False)
        network = failover.check_test_network(world, item, given.get("networkType"), given.get("networkId"))
        return {"network": network,
                "point": failover.pick_recovery_point(world, item, point_id=provider.get("recoveryPointId"))}

    def transition(world: World, item: dict[str, Any], prepared: Prepared, changes: Changes) -> None:
        failover.test_fail_over(world, item, network_id=prepared["network"], point=prepared["point"], changes=changes)

    # ASR keeps the TestFailover scenario on the item until the cleanup.
    return _action(req, "TestFailover", check, transition, keep_scenario=True)


def test_failover_cleanup(req: ArmRequest) -> ArmResponse:
    scope.properties(req, required=False)

    def check(world: World, current: dict[str, Any]) -> Prepared:
        # At request time the item is marked for deletion (as ASR shows it while cleaning up);
        # when the job runs it finds it so marked.
        if current["properties"]["testFailoverState"] != items.TestState.CLEANING:
            failover.check_cleanup(current)
            failover.mark_cleaning(current)
        return {}

    def transition(world: World, current: dict[str, Any], prepared: Prepared, changes: Changes) -> None:
        failover.clean_up_test(world, current, changes=changes)

    return _action(req, "TestFailoverCleanup", check, transition)


def failover_commit(req: ArmRequest) -> ArmResponse:
    return _action(req, "CommitFailover", failover.check_commit, failover.commit)


def _managed_disk_id(value: Any) -> bool:
    return isinstance(value, str) and "/providers/microsoft.compute/disks/" in value.lower()


def reprotect(req: ArmRequest) -> ArmResponse:
    """The item's ``reProtect`` (``ReverseReplicationInput``): refused for managed disks, which every emulated item
    replicates (enabling takes ``vmManagedDisks`` only): A2A reprotect is ``switch_protection``
    (``errors.switch_protection_required`` cites the sources)."""
    given = scope.properties(req)
    failover.check_direction(given.get("failoverDirection"))
    provider = _a2a_input(given)
    disks = provider.get("vmDisks") or []
    if not isinstance(disks, list) or not all(isinstance(d, dict) for d in disks):
        raise errors.invalid_input("'vmDisks' must be a list of disk inputs.")
    world = req.ctx.world
    with world.lock:
        item = scope.item(req)
    if any(_managed_disk_id(d.get("diskUri")) for d in disks) or items.a2a(item).get("protectedManagedDisks"):
        raise errors.switch_protection_required(item["name"])
    raise errors.invalid_input("Only Azure virtual machines with managed disks are emulated.")


def _managed_disk_inputs(provider: dict[str, Any]) -> list[dict[str, Any]]:
    """``vmManagedDisks``: a list of ``A2AVmManagedDiskInputDetails``, each with the fields the REST spec requires
    (``diskId``, ``primaryStagingAzureStorageAccountId``, ``recoveryResourceGroupId``: azure-rest-api-specs,
    specification/recoveryservicessiterecovery/resource-manager/Microsoft.RecoveryServices/stable/2025-01-01/
    service.json); unmanaged ``vmDisks`` are refused, as ``reProtect`` refuses managed ones."""
    if provider.get("vmDisks"):
        raise errors.invalid_input("'vmDisks' describes unmanaged (VHD) disks; list the managed disks in "
                                   "'vmManagedDisks'.")
    disks = provider.get("vmManagedDisks") or []
    if not isinstance(disks, list) or not all(isinstance(d, dict) for d in disks):
        raise errors.invalid_input("'vmManagedDisks' must be a list of managed disk inputs.")
    if not disks:
        raise errors.bad_request(errors.VM_DISKS_MISSING, "vmManagedDisks must list the failed-over virtual "
                                 "machine's managed disks, each with its cache storage account.")
    for disk in disks:
        absent = [k for k in ("diskId", "primaryStagingAzureStorageAccountId", "recoveryResourceGroupId")
                  if not isinstance(disk.get(k), str) or not disk[k]]
        if absent:
            raise errors.invalid_input(f"Every vmManagedDisks entry needs {', '.join(absent)}.")
    return disks


def switch_protection(req: ArmRequest) -> ArmResponse:
    """``POST .../replicationProtectionContainers/{container}/switchprotection`` (``SwitchProtectionInput``): how
    Microsoft's tooling reprotects an Azure-to-Azure item (azure-powershell
    UpdateAzureRmRecoveryServicesAsrProtectionDirection.cs ``A2ARPIReprotect``; the az CLI's
    ``site-recovery protection-container switch-protection`` A2A example). The container is the one the item is in
    now, ``replicationProtectedItemName`` names the item, ``A2ASwitchProtectionInput`` carries the failed-over VM's
    ``vmManagedDisks``; the job is ASR's ``SwitchReplicationGroupProtection`` and the item changes as ``reProtect``
    changed it (``failover.reprotect``). The operation's result is the container the item now replicates from, as in
    the REST example ReplicationProtectionContainers_SwitchProtection.json."""
    given = scope.properties(req)
    name = given.get("replicationProtectedItemName")
    if not isinstance(name, str) or not name:
        raise errors.invalid_input("replicationProtectedItemName is required.")
    provider = given.get("providerSpecificDetails")
    if not isinstance(provider, dict) or provider.get("instanceType") != "A2A":
        raise errors.invalid_input("providerSpecificDetails must be A2ASwitchProtectionInput (instanceType 'A2A').")
    disks = _managed_disk_inputs(provider)
    world = req.ctx.world
    with world.lock:
        container = scope.container(req)
        item = world.get(f"{container['id']}/replicationProtectedItems/{name}")
    if item is None:
        raise errors.not_found("replicated item", name)

    def check(world: World, current: dict[str, Any]) -> Prepared:
        return {"mapping": failover.check_reprotect(world, current, disks=disks,
                                                    recovery_container_id=provider.get("recoveryContainerId"),
                                                    policy_id=provider.get("policyId"))}

    def transition(world: World, current: dict[str, Any], prepared: Prepared, changes: Changes) -> dict[str, Any]:
        job = world.get(items.props(current)["currentScenario"]["jobId"])
        moved = failover.reprotect(world, current, reverse_mapping=prepared["mapping"], disks=disks,
                                   recovery_resource_group_id=provider.get("recoveryResourceGroupId"),
                                   policy_id=provider.get("policyId"))
        if job is not None:
            job["properties"]["customDetails"]["newReplicationProtectedItemId"] = moved["id"]
        return moved

    return _action(req, SWITCH_PROTECTION, check, transition, target=item,
                   event=scope.action_event(req, CONTAINER_TYPE), answer=container_of)
