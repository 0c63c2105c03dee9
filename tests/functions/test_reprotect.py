"""The way back on the emulator + Azurite: after a committed failover, reprotect with ALLOW_REPROTECT, and
only a report (with the exact steps) without it; the drift audit does the same for a committed cluster.

The demo cluster is enrolled, failed over with the operator's Site Recovery client and committed; what the
app changed is read back from the emulator (the items, their direction and cache account, the load
balancers, the request journal) and the outcome records from Azurite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from emulator import Emulator, delivery
from emulator.clients import control, time_passes
from emulator.core.faults import FaultRule
from shared import ids
from shared.audit import service as audit
from shared.audit import status_page
from shared.cli import main as cli
from shared.cli.output import EXIT_REPORTED
from shared.drill import service as drill
from shared.drill.record import Result
from shared.enrollment import service as enrollment
from shared.errors import TransientError
from shared.failover import service as failover
from shared.runtime import Runtime
from shared.way_back import service as way_back
from shared.work import item as items
from shared.work import worker
from tests.functions.conftest import writes_since
from tests.functions.drill_world import CLUSTER, EVERY_CHECK, World

pytestmark = pytest.mark.azure_clock  # failover, drills and the way back: also on Azure's clock

FAILBACK_LB = f"lb-asr-s2d-{CLUSTER}.failback"


@pytest.fixture
def world(emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any]) -> World:
    return World(emu, demo, runtime, operator_sdk)


@pytest.fixture
def committed(world: World) -> World:
    world.enroll()
    world.unplanned_failover()
    world.commit()
    assert {i.protection_state for i in world.items()} == {"UnplannedFailoverCommitted"}
    return world


def raw_items(emu: Emulator) -> list[dict[str, Any]]:
    return sorted((r for r in emu.world.all() if r.get("type", "").endswith("/replicationProtectedItems")),
                  key=lambda r: r["id"].lower())


def test_without_the_setting_reprotect_is_only_reported_with_the_exact_steps(committed: World) -> None:
    seq = committed.emu.journal.last_seq

    outcome = way_back.reprotect_cluster(CLUSTER, committed.rt)

    assert outcome.kind == "unchanged" and "reported only (ALLOW_REPROTECT is off)" in outcome.reason
    assert writes_since(committed.emu, seq) == []
    [finding] = outcome.findings
    assert (finding.code, finding.severity.value) == ("reprotect-needed", "warning")
    assert "s2d-node1" in finding.fix and "s2d-node2" in finding.fix and "Re-protect" in finding.fix
    assert "Update-AzRecoveryServicesAsrProtectionDirection -AzureToAzure" in finding.fix
    assert "stasrcachene01" in finding.fix and "ALLOW_REPROTECT=true" in finding.fix
    assert [a.split(":")[0] for a in outcome.plan] == ["reprotect s2d-node1", "reprotect s2d-node2"]
    assert {i.protection_state for i in committed.items()} == {"UnplannedFailoverCommitted"}


def test_with_the_setting_the_whole_group_is_reprotected_through_the_dr_cache(
        committed: World, make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(ALLOW_REPROTECT="true")
    before = {i.vm_id.lower(): i.recovery_vm_id for i in committed.items()}

    outcome = way_back.reprotect_cluster(CLUSTER, rt)

    assert outcome.kind == "changed" and outcome.writes == 2, outcome.reason
    assert "2 node(s) of s2dclu01 reprotected" in outcome.reason
    items = raw_items(committed.emu)
    assert len(items) == 2
    for item in items:
        details = item["properties"]["providerSpecificDetails"]
        # The failed-over VM now replicates back, from the DR container, staged through the DR cache.
        assert "/replicationFabrics/asr-s2d-northeurope/" in item["id"]
        assert details["primaryFabricLocation"] == "northeurope" and details["recoveryFabricLocation"] == "westeurope"
        assert {d["primaryStagingAzureStorageAccountId"] for d in details["protectedManagedDisks"]} == {
            committed.demo["dr_cache_storage_account_id"]}
        assert details["multiVmGroupName"] == CLUSTER
    assert sorted(i.vm_id.lower() for i in committed.items()) == sorted(str(v).lower() for v in before.values())
    plan = committed.rt.asr.get_plan(f"asr-s2d-{CLUSTER}")
    assert plan is not None and sorted(ids.key(i) for i in plan.item_ids) == sorted(ids.key(i["id"]) for i in items)
    # The original load balancer still fronts the original nodes: nothing to stage for the failback.
    assert not any(r["name"] == FAILBACK_LB for r in committed.emu.world.all())

    seq = committed.emu.journal.last_seq
    again = way_back.reprotect_cluster(CLUSTER, rt)
    assert again.kind == "unchanged" and again.details["stage"] == "replicating-back", again.reason
    assert [f.code for f in again.findings] == ["replicating-back"] and writes_since(committed.emu, seq) == []


def test_reprotect_switches_protection_of_each_item_on_its_container_and_the_plan_names_the_new_items(
        committed: World, make_runtime: Callable[..., Runtime]) -> None:
    """Azure-to-Azure reprotect is a switch protection on the item's container with the failed-over VM's managed
    disks (``reProtect`` with disks in ``vmDisks`` is refused, as ASR's A2AReprotectInput has no managed disks);
    the items are re-created under the DR container, go through initial replication and replicate back."""
    control(committed.emu, "PUT", "asr/config", {"auto_progress": False})  # initial replication waits for us
    before = {i.name: i for i in committed.items()}
    failed_over = {name: committed.rt.compute.get_vm(str(i.recovery_vm_id)) for name, i in before.items()}
    plan_before = committed.rt.asr.get_plan(f"asr-s2d-{CLUSTER}")
    assert plan_before is not None and sorted(ids.key(i) for i in plan_before.item_ids) == sorted(
        ids.key(i.id) for i in before.values())
    seq = committed.emu.journal.last_seq

    outcome = way_back.reprotect_cluster(CLUSTER, make_runtime(ALLOW_REPROTECT="true"))

    assert outcome.kind == "changed" and outcome.writes == 2, outcome.reason
    writes = writes_since(committed.emu, seq)
    assert [(e.method, e.path.rsplit("/", 1)[-1]) for e in writes] == [("POST", "switchprotection")] * 2
    dr_cache, home = committed.demo["dr_cache_storage_account_id"], ids.group_id(committed.demo["vm_ids"][0])
    for entry in writes:
        given = entry.body["properties"]
        item = before[given["replicationProtectedItemName"]]
        container_id = item.id.split("/replicationProtectedItems/")[0]
        vm = failed_over[item.name]
        assert vm is not None
        assert ids.same(entry.path, f"{container_id}/switchprotection")  # on the container that holds the item
        details = given["providerSpecificDetails"]
        assert (details["instanceType"], details["recoveryContainerId"].lower()) == ("A2A", container_id.lower())
        assert ids.same(details["recoveryResourceGroupId"], home) and "vmDisks" not in details
        assert [d["diskId"].lower() for d in details["vmManagedDisks"]] == [d.id.lower() for d in vm.disks]
        assert {(d["primaryStagingAzureStorageAccountId"], d["recoveryResourceGroupId"].lower())
                for d in details["vmManagedDisks"]} == {(dr_cache, home.lower())}
    jobs = [j for j in committed.rt.asr.list_jobs() if j.scenario == "SwitchReplicationGroupProtection"]
    assert sorted((j.target_name, j.state) for j in jobs) == [("s2d-node1", "Succeeded"), ("s2d-node2", "Succeeded")]

    # Re-created under the DR region's container (new IDs), replicating back: initial replication, then Protected.
    after = {i.name: i for i in committed.items()}
    assert set(after) == set(before) and not {ids.key(i.id) for i in after.values()} & {
        ids.key(i.id) for i in before.values()}
    for name, item in after.items():
        assert "/replicationFabrics/asr-s2d-northeurope/" in item.id
        assert (item.protection_state, item.primary_region, item.recovery_region) == (
            "UnprotectedStatesBegin", "northeurope", "westeurope")
        assert ids.same(item.vm_id, failed_over[name].id)  # type: ignore[union-attr]
        assert ids.same(str(item.recovery_vm_id), before[name].vm_id) and item.group_name == CLUSTER
    plan = committed.rt.asr.get_plan(f"asr-s2d-{CLUSTER}")
    assert plan is not None and sorted(ids.key(i) for i in plan.item_ids) == sorted(
        ids.key(i.id) for i in after.values())
    control(committed.emu, "POST", "asr/advance", {"to": "Protected"})
    assert {(i.protection_state, i.replication_health) for i in committed.items()} == {("Protected", "Normal")}


def test_the_failback_load_balancer_is_staged_when_the_original_one_is_gone(
        committed: World, make_runtime: Callable[..., Runtime]) -> None:
    committed.detach_source_load_balancer()
    rt = make_runtime(ALLOW_REPROTECT="true")

    outcome = way_back.reprotect_cluster(CLUSTER, rt)

    assert outcome.kind == "changed" and outcome.writes == 5, (outcome.reason, outcome.plan)  # 2 + LB + 2 NICs
    assert f"failback load balancer {FAILBACK_LB} staged" in outcome.reason
    lb_id = (f"/subscriptions/{committed.demo['subscription_id']}/resourceGroups/rg-s2d-prod/providers/"
             f"Microsoft.Network/loadBalancers/{FAILBACK_LB}")
    lb = committed.rt.network.get_load_balancer(lb_id)
    assert lb is not None and lb.location == "westeurope" and lb.has_ha_ports_rule and lb.probe_port == 59999
    assert ids.same(lb.frontend_subnet_id, committed.demo["source_subnet_id"])
    assert sorted(n.lower() for n in lb.pool_nic_ids) == sorted(n.lower() for n in committed.demo["nic_ids"])
    assert dict(lb.tags) == {"asr-s2d-cluster": CLUSTER, "managed-by": "asr-s2d", "asr-s2d-purpose": "failback"}
    seq = committed.emu.journal.last_seq
    assert way_back.reprotect_cluster(CLUSTER, rt).kind == "unchanged" and writes_since(committed.emu, seq) == []


def test_before_the_commit_nothing_is_reprotected(world: World, make_runtime: Callable[..., Runtime]) -> None:
    world.enroll()
    world.unplanned_failover()
    seq = world.emu.journal.last_seq
    outcome = way_back.reprotect_cluster(CLUSTER, make_runtime(ALLOW_REPROTECT="true"))
    assert outcome.kind == "unchanged" and outcome.details["stage"] == "commit-pending"
    assert [f.code for f in outcome.findings] == ["failover-commit-pending"] and writes_since(world.emu, seq) == []
    assert way_back.reprotect_cluster(CLUSTER, world.rt).details["stage"] == "commit-pending"


def test_the_audit_reports_the_way_back_and_with_the_setting_takes_it(committed: World,
                                                                      make_runtime: Callable[..., Runtime]) -> None:
    seq = committed.emu.journal.last_seq
    [reported] = audit.run_audit(committed.rt).clusters
    way_back = [f for f in reported.findings if f.code == "reprotect-needed"]
    assert len(way_back) == 1 and "Update-AzRecoveryServicesAsrProtectionDirection" in way_back[0].fix
    assert writes_since(committed.emu, seq) == []

    [done] = audit.run_audit(make_runtime(ALLOW_REPROTECT="true")).clusters
    assert [f.code for f in done.findings if f.code.startswith("reprotect")] == ["reprotected"]
    assert all("/replicationFabrics/asr-s2d-northeurope/" in i["id"] for i in raw_items(committed.emu))


def test_reprotect_runs_through_the_worker_in_steps_and_counts_every_node(
        committed: World, make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(ALLOW_REPROTECT="true")
    rt.queue.ensure()
    seq = committed.emu.journal.last_seq

    work = way_back.enqueue_reprotect(CLUSTER, rt, trigger="cli")
    assert work.kind == "reprotect" and work.payload == {"cluster": CLUSTER, "trigger": "cli"}
    assert writes_since(committed.emu, seq) == []  # enqueued only
    counts = worker.run_queue(rt, until_idle=True, max_seconds=120, retry_seconds=1)

    done = items.load(rt.records, work.id)
    assert done is not None and done.status == "done" and done.outcome is not None, done
    assert (done.outcome["outcome"], done.outcome["writes"]) == ("changed", 2), done.outcome
    # Counted over every step: on Azure's clock each node's switch protection ended in a step of its own.
    assert done.outcome["reason"] == f"2 node(s) of {CLUSTER} reprotected: replicating back from northeurope"
    assert [line.split(":")[0] for line in done.outcome["plan"]] == ["reprotect s2d-node1", "reprotect s2d-node2"]
    assert [(e.method, e.path.rsplit("/", 1)[-1]) for e in writes_since(committed.emu, seq)] == [
        ("POST", "switchprotection")] * 2
    if committed.emu.clock.instant:  # every job ended at its first look: one step
        assert done.step == 1 and counts == {"done": 1}
    else:  # each job was looked at again by a delayed message, never waited for
        assert done.step > 2 and counts.get("waiting", 0) == done.step - 1
    assert all("/replicationFabrics/asr-s2d-northeurope/" in i["id"] for i in raw_items(committed.emu))


def test_a_switch_protection_job_that_fails_ends_the_reprotect_with_a_recorded_failure(
        committed: World, make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(ALLOW_REPROTECT="true")
    rt.queue.ensure()
    # The first node's job still runs at the step's one look (on either clock), and ends Failed at a later look.
    control(committed.emu, "PUT", "config", {"lro_polls": 1})
    committed.emu.faults.add(FaultRule(action="lro_fail", method="POST", path=r"switchprotection$", count=1,
                                       code="SwitchProtectionFailed", message="the cache account refused the write"))
    try:
        work = way_back.enqueue_reprotect(CLUSTER, rt)
        worker.run_queue(rt, until_idle=True, max_seconds=120, retry_seconds=1)
    finally:
        control(committed.emu, "PUT", "config", {"lro_polls": 0})
        committed.emu.faults.clear()
    done = items.load(rt.records, work.id)
    assert done is not None and done.status == "failed" and done.outcome is not None, done
    assert done.outcome["outcome"] == "failed" and "a reprotect job failed" in done.outcome["reason"], done.outcome
    assert "SwitchProtectionFailed" in done.outcome["reason"] and done.step >= 2
    assert done.outcome["writes"] == 1 and [line.split(":")[0] for line in done.outcome["plan"]] == [
        "reprotect s2d-node1"]


def test_the_reprotect_of_a_cluster_asr_s2d_never_enrolled_ends_rejected_not_poisoned(
        committed: World, make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(ALLOW_REPROTECT="true")
    rt.queue.ensure()
    work = way_back.enqueue_reprotect("othercluster", rt)
    assert worker.run_queue(rt, until_idle=True, max_seconds=60) == {"failed": 1}
    done = items.load(rt.records, work.id)
    assert done is not None and done.status == "failed" and done.outcome is not None
    assert done.outcome["outcome"] == "rejected" and "never enrolled a cluster othercluster" in done.reason


def test_the_timers_audit_enqueues_the_way_back_and_the_worker_takes_it(
        committed: World, make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(ALLOW_REPROTECT="true")
    rt.queue.ensure()
    seq = committed.emu.journal.last_seq

    [queued] = audit.run_audit(rt, queue_work=True).clusters

    assert writes_since(committed.emu, seq) == []  # the audit started no switch protection
    [finding] = [f for f in queued.findings if f.code.startswith("reprotect")]
    [work] = items.listed(rt.records, kind="reprotect")
    assert finding.code == "reprotect-queued" and work.id in finding.message and work.payload["trigger"] == "audit"
    [again] = [f for f in audit.run_audit(rt, queue_work=True).clusters[0].findings if f.code.startswith("reprotect")]
    assert "runs already" in again.message and len(items.listed(rt.records, kind="reprotect")) == 1
    # Without the setting the timer's audit only reports the steps, as in-process: nothing more enqueued.
    assert [f.code for f in audit.run_audit(committed.rt, queue_work=True).clusters[0].findings
            if f.code.startswith("reprotect")] == ["reprotect-needed"]
    assert len(items.listed(rt.records, kind="reprotect")) == 1 and writes_since(committed.emu, seq) == []

    worker.run_queue(rt, until_idle=True, max_seconds=120, retry_seconds=1)

    done = items.load(rt.records, work.id)
    assert done is not None and done.outcome is not None and done.outcome["outcome"] == "changed", done
    assert [(e.method, e.path.rsplit("/", 1)[-1]) for e in writes_since(committed.emu, seq)] == [
        ("POST", "switchprotection")] * 2


def test_cli_reprotect(committed: World, app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    from shared.config import get_settings
    from shared.runtime import default_runtime

    assert cli.main(["reprotect", CLUSTER]) == EXIT_REPORTED
    out = capsys.readouterr().out
    assert "reprotect-needed" in out and "fix: Portal: Recovery Services vault" in out
    monkeypatch.setenv("ALLOW_REPROTECT", "true")
    get_settings.cache_clear()
    default_runtime.cache_clear()
    assert cli.main(["reprotect", CLUSTER, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["outcome"], record["writes"], record["trigger"]) == ("changed", 2, "cli")
    assert cli.main(["reprotect", "bad name; rm"]) == 2


# -- replicating back: the audit, enrollment and drills after the reprotect ----------------------------------

@pytest.fixture
def replicating_back(world: World, make_runtime: Callable[..., Runtime]) -> World:
    """Failed over (and re-addressed, as the failover event does), committed and reprotected."""
    world.enroll()
    world.unplanned_failover()
    assert failover.reassign_cluster(CLUSTER, world.rt).kind == "reassigned"
    world.commit()
    assert way_back.reprotect_cluster(CLUSTER, make_runtime(ALLOW_REPROTECT="true")).kind == "changed"
    time_passes(world.emu)  # the reprotect jobs end and the resync completes (hours on Azure's clock)
    assert {(i.protection_state, i.recovery_region) for i in world.items()} == {("Protected", "westeurope")}
    return world


def test_a_cluster_replicating_back_is_amber_with_the_failback_steps_and_never_re_enrolled(
        replicating_back: World, make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(AUDIT_REPAIR="true", ALLOW_REPROTECT="true")
    seq = replicating_back.emu.journal.last_seq

    [report] = audit.run_audit(rt).clusters
    # The original nodes are the failback targets of the reprotected items: they replicate, in the group.
    assert report.status == "amber" and report.repair is None
    assert [f.code for f in report.findings] == ["replicating-back", "test-failover-never"]
    [back] = [f for f in report.findings if f.code == "replicating-back"]
    assert "s2d-node1, s2d-node2 (Protected)" in back.message and "RecoveryToPrimary" in back.fix
    # A tag event on an original node re-plans nothing: enabling it again would replicate it twice.
    outcome = enrollment.enroll_cluster(enrollment.find_cluster(rt, CLUSTER), rt, event_id="retag")
    assert outcome.kind == "unchanged" and "replicates back to its original region" in outcome.reason
    assert [f.code for f in outcome.findings] == ["cluster-replicating-back"]
    assert writes_since(replicating_back.emu, seq) == [] and len(raw_items(replicating_back.emu)) == 2


def test_the_drill_of_a_cluster_replicating_back_tests_the_way_back(
        replicating_back: World, make_runtime: Callable[..., Runtime]) -> None:
    demo = replicating_back.demo
    record = drill.run_drill(CLUSTER, replicating_back.rt)

    assert record.passed, record.reason
    assert [c.name for c in record.checks] == EVERY_CHECK
    assert (record.direction, record.test_network) == ("RecoveryToPrimary", demo["failback_test_vnet_id"])
    network = next(c for c in record.checks if c.name == "test-network")
    assert network.detail == "the way back, RecoveryToPrimary into vnet-prod-test (westeurope, FAILBACK_TEST_VNET_ID)"
    # The test nodes came up in the original region's test subnet, with the test load balancer there.
    assert record.test_ip is not None and record.test_ip.startswith("10.40.1.")
    assert record.cleanup.ok and "2 test VM(s) gone" in record.cleanup.detail
    replicating_back.assert_clean()
    # The audit now counts it: the way back was drilled; the status page says which way the drill went.
    [report] = audit.run_audit(replicating_back.rt).clusters
    assert [f.code for f in report.findings] == ["replicating-back"]
    section = status_page.render_latest(replicating_back.rt).split("Last drill", 1)[1]
    assert "Direction</dt><dd>the way back (replicating back to the original region)" in section
    assert "Test network</dt><dd>vnet-prod-test" in section


def test_without_a_failback_test_network_the_drill_of_the_way_back_is_skipped(
        replicating_back: World, make_runtime: Callable[..., Runtime]) -> None:
    seq = replicating_back.emu.journal.last_seq
    record = drill.run_drill(CLUSTER, make_runtime(FAILBACK_TEST_VNET_ID=""))
    assert record.result is Result.SKIPPED and writes_since(replicating_back.emu, seq) == []
    assert record.reason == ("test-network: the cluster replicates back to westeurope since its reprotect, so a drill "
                             "tests the way back there, in FAILBACK_TEST_VNET_ID, which is empty: set it to an "
                             "isolated VNet in westeurope")


# -- the failback, and protected again: the whole round trip ------------------------------------------------

def guest_ip(emu: Emulator, vm_id: str) -> tuple[str, str]:
    resource = control(emu, "GET", "guest", id=vm_id)["ip_resources"][0]
    return resource["address"], resource["state"]


def test_a_failback_moves_the_cluster_ip_home_through_the_failover_event(
        replicating_back: World, event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    w, node = replicating_back, replicating_back.demo["vm_ids"][0]
    event_queue()
    w.failback()
    # The original node booted the disks replicated from the DR side: its cluster IP is the DR one, offline.
    address, state = guest_ip(w.emu, node)
    assert address.startswith("10.20.1.") and state == "Offline"
    events = event_queue()
    seq = w.emu.journal.last_seq

    outcomes = delivery.deliver(events, lambda e: failover.handle(e, w.rt), retry_on=(TransientError,))

    [home] = [o for o in outcomes if o.kind == "reassigned"]
    assert home.reason.startswith(f"cluster {CLUSTER} answers on its original IP {w.demo['cluster_ip']} (probe 59999)")
    assert guest_ip(w.emu, node) == (w.demo["cluster_ip"], "Online")
    # The original load balancer still fronts the nodes: the one write is the Run Command, values as parameters.
    assert [(x.method, x.path.rsplit("/", 1)[-1]) for x in writes_since(w.emu, seq)] == [("POST", "runCommand")]
    [run] = [r for r in control(w.emu, "GET", "guest/run-commands") if ids.same(r["vm_id"], node)]
    assert {p["name"]: p["value"] for p in run["parameters"]} == {
        "IPAddress": w.demo["cluster_ip"], "ProbePort": "59999", "SubnetPrefix": "10.10.1.0/24"}
    # Event Grid delivers at least once: the same event again changes nothing.
    seq = w.emu.journal.last_seq
    again = [o for o in delivery.deliver(events, lambda e: failover.handle(e, w.rt), retry_on=(TransientError,))
             if o.kind != "ignored"]
    assert [o.kind for o in again] == ["unchanged"] and writes_since(w.emu, seq) == []


def test_after_the_committed_failback_the_way_back_protects_it_to_the_dr_region_again(
        replicating_back: World, make_runtime: Callable[..., Runtime]) -> None:
    w = replicating_back
    w.failback()
    w.commit()
    seq = w.emu.journal.last_seq

    reported = way_back.reprotect_cluster(CLUSTER, w.rt)
    assert reported.kind == "unchanged" and writes_since(w.emu, seq) == []
    [finding] = reported.findings
    assert finding.code == "reprotect-needed" and "runs in westeurope after a committed failback" in finding.message
    assert "direction westeurope to northeurope" in finding.fix and "stasrcachewe01" in finding.fix
    assert "DR_CACHE_STORAGE_ACCOUNT_ID" not in finding.fix and "Before failing back" not in finding.fix

    rt = make_runtime(ALLOW_REPROTECT="true", AUDIT_REPAIR="true")
    done = way_back.reprotect_cluster(CLUSTER, rt)
    assert done.kind == "changed" and done.writes == 2, (done.reason, done.plan)
    assert done.reason == f"2 node(s) of {CLUSTER} reprotected after the failback: replicating to northeurope again"
    for raw in raw_items(w.emu):
        details = raw["properties"]["providerSpecificDetails"]
        assert "/replicationFabrics/asr-s2d-westeurope/" in raw["id"]
        assert (details["primaryFabricLocation"], details["recoveryFabricLocation"]) == ("westeurope", "northeurope")
        assert {d["primaryStagingAzureStorageAccountId"] for d in details["protectedManagedDisks"]} == {
            w.demo["cache_storage_account_id"]}
    assert not any(r["name"] == FAILBACK_LB for r in w.emu.world.all())
    time_passes(w.emu)

    # Back to normal: the audit repairs what the reprotect reset (the DR pool on each item), a drill passes the
    # normal way, and the audit then has nothing above info to say.
    [repaired] = audit.run_audit(rt).clusters
    assert repaired.repair is not None and repaired.repair.kinds == ("SetPoolMapping", "SetPoolMapping")
    record = drill.run_drill(CLUSTER, rt)
    assert record.passed and record.direction == "PrimaryToRecovery", record.reason
    [report] = audit.run_audit(rt).clusters
    assert report.status == "green" and report.repair is None, [(f.code, f.message) for f in report.findings]


def test_the_recovery_plan_runbook_of_a_failback_moves_the_cluster_ip_home(replicating_back: World) -> None:
    w = replicating_back
    w.failback()
    vm_map = {f"00000000-0000-0000-0000-00000000000{n}": {
        "SubscriptionId": w.demo["subscription_id"], "ResourceGroupName": "rg-s2d-prod", "CloudServiceName": None,
        "RoleName": f"s2d-node{n}", "RecoveryPointId": None, "RecoveryPointTime": None} for n in (1, 2)}
    context = json.dumps({"RecoveryPlanName": f"asr-s2d-{CLUSTER}", "FailoverType": "Planned",
                          "FailoverDirection": "SecondaryToPrimary", "GroupId": "1", "VmMap": vm_map}).encode()

    status, accepted = failover.handle_runbook(context, rt=w.rt)
    assert status == 202, accepted
    worker.run_queue(w.rt, max_seconds=120)  # the queue worker takes the IP step; the runbook polls its status URL
    status, body = failover.runbook_status(accepted["status"], rt=w.rt)

    assert (status, body["outcome"]) == (200, "reassigned"), body
    assert body["details"]["ip"] == w.demo["cluster_ip"]
    assert guest_ip(w.emu, w.demo["vm_ids"][0]) == (w.demo["cluster_ip"], "Online")


def test_a_failback_no_signal_announced_is_moved_home_by_the_audit(replicating_back: World,
                                                                   make_runtime: Callable[..., Runtime]) -> None:
    w = replicating_back
    w.failback()
    [before] = audit.run_audit(w.rt).clusters
    [unannounced] = [f for f in before.findings if f.code == "failover-unannounced"]
    assert "failed over to westeurope" in unannounced.message and before.status == "red"

    [after] = audit.run_audit(make_runtime(AUDIT_REASSIGN_IP="true")).clusters

    assert after.reassign is not None and after.reassign["outcome"] == "reassigned", after.reassign
    assert guest_ip(w.emu, w.demo["vm_ids"][0]) == (w.demo["cluster_ip"], "Online")
    [settled] = audit.run_audit(w.rt).clusters
    assert [f.code for f in settled.findings if f.severity.value != "info"] == ["failed-over"]
