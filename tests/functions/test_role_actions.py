"""The app's identity can do exactly what the app does, where it does it: one full journey's ARM requests against
the roles of ``infra/role-actions.json`` as ``infra/main.bicep`` assigns them.

The journey runs every service the way its trigger would: enrollment from the operator's tag events, a test
failover and its cleanup, an unplanned failover (event and runbook) with the re-addressing, the drift audit
with repairs, and a drill. Every request the app's own client factory sent is reduced to its checks — an RBAC
action on a resource, linked access included (``tests/arm_actions.py``) — and each check must be allowed by a
role that holds the action and is assigned at a scope holding the resource, in the deployment an operator makes
for the demo world with the journey's settings (``Deployment.of_world``).

Asserted both ways, per role: everything the journey did is allowed where it did it, and every action a role may
hold was needed by the journey where that role is assigned, or is explained in ``infra/role-actions.notes.json``
with the code path that needs it. The switch parameters are checked from both sides: the action a switch adds
is refused without it. The session hook in ``tests/conftest.py`` checks the same against the whole suite's
journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator import Emulator
from emulator.clients import control
from emulator.core.identity import APP_PRINCIPAL_ID
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from emulator.providers.resources.state import add_group
from shared.audit import service as audit
from shared.cli import main as cli
from shared.enrollment import service as enrollment
from shared.failover import service as failover
from shared.outcomes import Outcome
from shared.runtime import Runtime
from tests import arm_actions
from tests.arm_actions import Deployment, Need
from tests.functions.conftest import deliver
from tests.work import runbook

CLUSTER = "s2dclu01"
PLAN = f"asr-s2d-{CLUSTER}"
A2A_LATEST = [{"instanceType": "A2A", "recoveryPointType": "Latest"}]


def acted_kinds(outcomes: list[Outcome]) -> list[str]:
    """What the events that were not ignored did."""
    return [o.kind for o in outcomes if o.kind != "ignored"]


def journey(emu: Emulator, demo: dict[str, Any], rt: Runtime, operator_sdk: Callable[..., Any],
            queue: Callable[[], list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Every service once, as its trigger runs it; returns what was done (for the failure message)."""
    done: list[str] = []
    tags = operator_sdk(ResourceManagementClient).tags
    for vm_id in demo["vm_ids"]:
        tags.begin_update_at_scope(vm_id, {"operation": "Merge", "properties": {"tags": {
            "asr-s2d": "true", "asr-s2d-cluster": CLUSTER}}}).result()
    kinds = acted_kinds(deliver(queue(), enrollment.handle, rt))
    assert "enabled" in kinds, kinds
    done.append(f"enrollment: {kinds}")
    control(emu, "POST", "asr/advance", {"to": "Protected"})
    queue()

    asr = operator_sdk(SiteRecoveryManagementClient)
    rg, vault = demo["vault_id"].split("/")[4], demo["vault_id"].split("/")[-1]
    plans = asr.replication_recovery_plans
    plans.begin_test_failover(rg, vault, PLAN, {"properties": {
        "failoverDirection": "PrimaryToRecovery", "networkType": "VmNetworkAsInput", "networkId": demo["test_vnet_id"],
        "providerSpecificDetails": A2A_LATEST}}).result()
    done.append(f"test failover: {acted_kinds(deliver(queue(), failover.handle, rt))}")
    plans.begin_test_failover_cleanup(rg, vault, PLAN, {"properties": {"comments": "role test"}}).result()
    done.append(f"test failover cleanup: {acted_kinds(deliver(queue(), failover.handle, rt))}")

    report = audit.run_audit(rt, repair=True)
    done.append(f"audit with repair: {len(report.clusters)} cluster(s)")
    exit_code = cli.main(["drill", CLUSTER, "--json"])
    capsys.readouterr()
    done.append(f"drill: exit {exit_code}")

    plans.begin_unplanned_failover(rg, vault, PLAN, {"properties": {
        "failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired",
        "providerSpecificDetails": A2A_LATEST}}).result()
    kinds = acted_kinds(deliver(queue(), failover.handle, rt))
    assert "reassigned" in kinds, kinds
    done.append(f"failover: {kinds}")
    status, body = runbook(json.dumps({
        "RecoveryPlanName": PLAN, "FailoverType": "Unplanned", "FailoverDirection": "PrimaryToSecondary",
        "GroupId": "1", "VmMap": {}}).encode(), rt)
    done.append(f"runbook: {status} {body['outcome']}")
    plans.begin_failover_commit(rg, vault, PLAN).result()
    done.append(f"commit: {acted_kinds(deliver(queue(), failover.handle, rt))}")
    audit.run_audit(rt, repair=True)
    done.append("audit after the failover")
    return done


def needs_since(emu: Emulator, seq: int = 0) -> set[Need]:
    """Every check of every request the app's own client factory sent after ``seq``."""
    return {need for e in emu.journal.entries(since=seq) if arm_actions.is_app_request(e, APP_PRINCIPAL_ID)
            for need in arm_actions.needs_of(e.method, e.path, e.body)}


def refusals(verdict: arm_actions.Verdict, grants: tuple[arm_actions.Grant, ...]) -> str:
    return "\n".join(line for need in verdict.refused for line in arm_actions.explain(need, grants))


def test_the_roles_allow_what_one_journey_does_where_it_does_it_and_hold_nothing_unexplained(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, app_settings: dict[str, str],
        operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]],
        capsys: pytest.CaptureFixture[str]) -> None:
    done = journey(emu, demo, runtime, operator_sdk, event_queue, capsys)
    deployment = Deployment.of_world(demo)  # the journey's settings: ALLOW_DISABLE_REPLICATION and ALLOW_REPROTECT off
    assert deployment is not None and not runtime.settings.allow_disable_replication and not runtime.settings.allow_reprotect
    grants = deployment.grants()
    verdict = arm_actions.check(needs_since(emu), grants)
    assert not verdict.refused, f"refused where main.bicep assigns the roles:\n{refusals(verdict, grants)}\n(journey: {done})"

    roles, notes = arm_actions.load_roles(), arm_actions.load_role_notes()
    idle = arm_actions.unneeded(verdict.credit, roles)
    unexplained = {key: [a for a in actions if a.lower() not in {n.lower() for n in notes.get(key, {})}]
                   for key, actions in idle.items()}
    assert not any(unexplained.values()), (
        f"roles hold actions this journey never needed where they are assigned, and infra/role-actions.notes.json "
        f"does not explain: {unexplained} (journey: {done})")
    stale = {key: sorted(n for n in explained if n.lower() not in {a.lower() for a in roles[key].every_action()})
             for key, explained in notes.items()}
    assert set(notes) <= set(roles) and not any(stale.values()), f"notes for actions the role does not hold: {stale}"
    redundant = sorted(f"{key}: {n}" for key, explained in notes.items() for n in explained
                       if (key, n.lower()) in verdict.credit)
    assert not redundant, f"the journey needs these where the role is assigned, so their notes are not needed: {redundant}"


def test_moving_a_node_protected_outside_its_group_needs_only_granted_actions(
        emu: Emulator, demo: dict[str, Any], make_runtime: Callable[..., Runtime]) -> None:
    """ALLOW_DISABLE_REPLICATION's code path (disable, then enable in the cluster's group), which the journey
    above cannot reach without a node protected by hand: allowed with allowDisableReplication, refused without."""
    from tests.functions import drift_world

    rt = make_runtime(ALLOW_DISABLE_REPLICATION="true")
    for vm_id in demo["vm_ids"]:
        drift_world.set_tags(emu, vm_id, **drift_world.node_tags(CLUSTER, witness=None))
    drift_world.enroll(rt)
    stray = drift_world.add_node(emu, demo, "s2d-node3", {})
    drift_world.protect_in_group(rt, emu, stray, "othergroup")
    drift_world.set_tags(emu, stray, **drift_world.node_tags(CLUSTER, witness=None))
    enrollment.confirm_node(rt, CLUSTER, "s2d-node3")  # an operator confirms it: it is the cluster's
    seq = emu.journal.last_seq
    kinds = []
    for _run in range(3):  # disable, then (once the item is gone) enable in the cluster's group
        kinds.append(enrollment.enroll_cluster(enrollment.find_cluster(rt, CLUSTER), rt, event_id="move").kind)
        control(emu, "POST", "asr/settle")
    items = {i.vm_id.lower(): i.group_name for i in rt.asr.list_items()}
    assert items[stray.lower()] == CLUSTER, (kinds, items)

    needs = needs_since(emu, seq)
    switched_on = Deployment.of_world(demo, allow_disable_replication=True)
    assert switched_on is not None
    grants = switched_on.grants()
    verdict = arm_actions.check(needs, grants)
    assert not verdict.refused, refusals(verdict, grants)
    remove = next(a for a in arm_actions.load_roles()["recovery"].every_action() if a.endswith("/remove/action"))
    assert ("recovery", remove.lower()) in verdict.credit
    off = replace(switched_on, allow_disable_replication=False)
    assert [n.action for n in arm_actions.check(needs, off.grants()).refused] == [remove]


def test_a_write_outside_the_roles_scopes_is_refused_with_the_roles_that_hold_it_and_where(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime) -> None:
    """What the session hook reports when the app acts on a resource no role of its reaches: Run Command on, and
    a load balancer in, a resource group that is neither a recovery scope nor a source group."""
    sub, region = demo["subscription_id"], demo["source_region"]
    with emu.world.lock:
        add_group(emu.world, sub, "rg-other-team", region)
        nic = network.create_nic(emu.world, subscription_id=sub, resource_group="rg-other-team", name="sql1-nic",
                                 location=region, subnet_id=demo["source_subnet_id"])
        vm = compute.create_vm(emu.world, subscription_id=sub, resource_group="rg-other-team", name="sql1",
                               location=region, nic_ids=[nic["id"]], os_disk={"name": "sql1-os", "size_gb": 64},
                               power_state="running")
    seq = emu.journal.last_seq
    runtime.compute.run_command(vm["id"], ["hostname"], {})
    lb_id = f"/subscriptions/{sub}/resourceGroups/rg-other-team/providers/Microsoft.Network/loadBalancers/lb-sql"
    runtime.network.put_internal_load_balancer(lb_id, location=region, subnet_id=demo["source_subnet_id"],
                                               frontend_ip=None, probe_port=59999, tags={})
    needs = needs_since(emu, seq)
    emu.journal.clear()  # deliberate: the session hook would (rightly) fail the suite on these requests
    deployment = Deployment.of_world(demo)
    assert deployment is not None
    grants = deployment.grants()
    verdict = arm_actions.check(needs, grants)

    refused = {(n.action, n.resource) for n in verdict.refused}
    assert refused == {("Microsoft.Compute/virtualMachines/runCommand/action", vm["id"]),
                       ("Microsoft.Network/loadBalancers/write", lb_id)}
    report = refusals(verdict, grants)
    assert f"Microsoft.Compute/virtualMachines/runCommand/action on {vm['id']}    <- POST /subscriptions/" \
           "{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{name}/" \
           "runCommand\n    held by asr-s2d recovery, asr-s2d source: none is assigned at a scope holding the resource" \
           in report, report
    legend = arm_actions.where(grants)
    source_group = f"/subscriptions/{sub}/resourceGroups/{demo['source_resource_group']}"
    assert legend[legend.index("asr-s2d source:") + 1:] == [f"    {source_group}"]
    assert f"    {demo['recovery_resource_group_id']}" in legend
    # the subnet the load balancer names is the nodes' own: joining it is allowed (the source role, in their group)
    assert ("source", "microsoft.network/virtualnetworks/subnets/join/action") in verdict.credit


def test_an_action_added_to_a_wider_role_is_reported_as_never_needed_there(demo: dict[str, Any]) -> None:
    """A widening fails the suite even though nothing is refused: Run Command granted at the subscriptions as well
    is credited only to the narrower assignment that already allows it, so the reader's copy is never needed."""
    run_command = "Microsoft.Compute/virtualMachines/runCommand/action"
    recovered = f"{demo['recovery_resource_group_id']}/providers/Microsoft.Compute/virtualMachines/s2d-node1"
    needs = arm_actions.needs_of("POST", f"{recovered}/runCommand", {"commandId": "RunPowerShellScript"})
    roles = arm_actions.load_roles()
    widened = {**roles, "reader": replace(roles["reader"], actions=(*roles["reader"].actions, run_command))}
    deployment = Deployment.of_world(demo)
    assert deployment is not None
    verdict = arm_actions.check(needs, deployment.grants(widened))
    assert not verdict.refused
    assert verdict.credit == {("recovery", run_command.lower())}
    assert run_command in arm_actions.unneeded(verdict.credit, widened)["reader"]
