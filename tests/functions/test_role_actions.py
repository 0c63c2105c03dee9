"""The app's identity can do exactly what the app does: one full journey's ARM requests against
``infra/role-actions.json``.

The journey runs every service the way its trigger would: enrollment from the operator's tag events, a test
failover and its cleanup, an unplanned failover (event and runbook) with the re-addressing, the drift audit
with repairs, and a drill. Every request the app's
own client factory sent is mapped to its RBAC action (``tests/arm_actions.py``), linked access included.

Asserted both ways: everything the journey used is granted, and everything granted was used by the journey or
is explained in ``infra/role-actions.notes.json`` with the code path that needs it. The session hook in
``tests/conftest.py`` checks the same against the whole suite's journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator import Emulator
from emulator.clients import control
from emulator.core.identity import APP_PRINCIPAL_ID
from shared.audit import service as audit
from shared.cli import main as cli
from shared.enrollment import service as enrollment
from shared.failover import service as failover
from shared.outcomes import Outcome
from shared.runtime import Runtime
from tests import arm_actions
from tests.functions.conftest import deliver

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
    status, body = failover.handle_runbook(json.dumps({
        "RecoveryPlanName": PLAN, "FailoverType": "Unplanned", "FailoverDirection": "PrimaryToSecondary",
        "GroupId": "1", "VmMap": {}}).encode(), rt=rt)
    done.append(f"runbook: {status} {body['outcome']}")
    plans.begin_failover_commit(rg, vault, PLAN).result()
    done.append(f"commit: {acted_kinds(deliver(queue(), failover.handle, rt))}")
    audit.run_audit(rt, repair=True)
    done.append("audit after the failover")
    return done


def test_the_role_grants_what_one_journey_uses_and_nothing_unexplained(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, app_settings: dict[str, str],
        operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]],
        capsys: pytest.CaptureFixture[str]) -> None:
    done = journey(emu, demo, runtime, operator_sdk, event_queue, capsys)
    requests = {arm_actions.request_of(e.method, e.path, e.body) for e in emu.journal.entries()
                if arm_actions.is_app_request(e, APP_PRINCIPAL_ID)}
    used = arm_actions.actions_of(requests)
    granted = arm_actions.load_role_actions()
    notes = arm_actions.load_notes()
    missing, unused = arm_actions.compare(used, granted)
    assert not missing, f"the app used actions infra/role-actions.json does not grant: {missing} (journey: {done})"
    unexplained = [a for a in unused if a.lower() not in {n.lower() for n in notes}]
    assert not unexplained, (f"infra/role-actions.json grants actions this journey never used and "
                             f"infra/role-actions.notes.json does not explain: {unexplained} (journey: {done})")
    stale = sorted(n for n in notes if n.lower() not in {g.lower() for g in granted})
    assert not stale, f"infra/role-actions.notes.json explains actions the role does not grant: {stale}"
    redundant = sorted(n for n in notes if n.lower() in used)
    assert not redundant, f"the journey uses these, so their notes are not needed: {redundant}"


def test_moving_a_node_protected_outside_its_group_needs_only_granted_actions(
        emu: Emulator, demo: dict[str, Any], make_runtime: Callable[..., Runtime]) -> None:
    """ALLOW_DISABLE_REPLICATION's code path (disable, then enable in the cluster's group), which the journey
    above cannot reach without a node protected by hand."""
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
    requests = {arm_actions.request_of(e.method, e.path, e.body) for e in emu.journal.entries(since=seq)
                if arm_actions.is_app_request(e, APP_PRINCIPAL_ID)}
    used = arm_actions.actions_of(requests)
    assert any(a.endswith("/replicationprotecteditems/remove/action") for a in used), sorted(used)
    missing, _unused = arm_actions.compare(used, arm_actions.load_role_actions())
    assert not missing, f"the app used actions infra/role-actions.json does not grant: {missing}"
