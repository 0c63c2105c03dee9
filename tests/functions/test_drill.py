"""Drills end to end on the emulator + Azurite: the real SDK clients, the real guest model, no mocks.

The demo cluster is enrolled and Protected first (the enrollment service, as its trigger would run it).
A drill test-fails its recovery plan over, moves the cluster IP in the test network, runs
``cluster_health.ps1`` on a test node and cleans up; the tests read back what it left: the drill record
in Azurite, the items' test-failover state, the VMs and load balancers, the Run Command history and the
request journal. Failures are made the way they happen: the guest model's control API (a degraded
virtual disk, a node down, no quorum), Site Recovery's health control, an operator's own test failover,
a failover job still running, another drill of the cluster running, and emulator fault rules on a step's
requests (a step that fails while the drill's own cleanup fails too, as when its process dies). A drill runs as
its worker's step chain in-process (``run_drill``); what a dead drill leaves, the audit starts cleaning up and
the worker (``run_queue``) finishes. Drills side by side through the queue: ``test_drill_work.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.functions.timer import TimerRequest

from emulator import Emulator
from emulator.clients import control
from emulator.core.faults import FaultRule
from functions import drill as drill_trigger
from shared import state
from shared.audit import service as audit
from shared.audit import status_page
from shared.cli import main as cli
from shared.cli.output import EXIT_SKIPPED
from shared.drill import service as drill
from shared.drill.record import DrillRecord, Result
from shared.runtime import Runtime
from shared.state import blob_key
from shared.times import parse_time
from shared.work import item as work_items
from shared.work import worker
from shared.work.item import Work
from tests.functions.conftest import writes_since
from tests.functions.drill_world import CLUSTER, EVERY_CHECK, HEALTH_SCRIPT, World

pytestmark = pytest.mark.azure_clock  # failover, drills and the way back: also on Azure's clock


@pytest.fixture
def world(emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any]) -> World:
    return World(emu, demo, runtime, operator_sdk)




def failing(record: DrillRecord) -> dict[str, str]:
    return {c.name: c.detail for c in record.checks if not c.ok}


def health_runs(emu: Emulator) -> list[dict[str, Any]]:
    return [r for r in control(emu, "GET", "guest/run-commands") if r["script"][0] == "# asr-s2d:cluster-health v2"]


# -- a drill that passes ------------------------------------------------------------------------------------

def world_point_time(world: World, point_id: str) -> str:
    """The time of a recovery point the emulator lists for its item."""
    from emulator.providers.recoveryservices import replication

    item = world.emu.world.get(point_id.split("/recoveryPoints/")[0])
    with world.emu.world.lock:
        [point] = [p for p in replication.recovery_points(world.emu.world, item) if p["id"] == point_id]
    return str(point["properties"]["recoveryPointTime"])


def test_a_drill_runs_end_to_end_and_its_record_shows_every_check(world: World) -> None:
    world.enroll(**{"asr-s2d-dr-ip": "10.20.1.50"})
    dr_lb = world.rt.network.get_load_balancer(world.test_lb_id.removesuffix(".test"))
    steps: list[str] = []

    record = drill.run_drill(CLUSTER, world.rt, report=steps.append)

    assert record.result is Result.PASSED, (record.reason, failing(record))
    assert [c.name for c in record.checks] == EVERY_CHECK and all(c.ok for c in record.checks)
    assert record.test_ip == "10.30.1.50"  # the DR address's host part in the test subnet
    assert record.cleanup.attempted and record.cleanup.ok and "2 test VM(s) gone" in record.cleanup.detail
    assert record.drill_seconds > 0 and record.recovery_point_age_seconds is not None
    assert record.recovery_point_time is not None and record.node is not None and record.node.endswith("-test")
    world.assert_clean()
    assert world.rt.network.get_load_balancer(world.test_lb_id.removesuffix(".test")) == dr_lb  # DR side untouched
    stored = world.stored()
    assert stored == record.to_json()
    assert stored["schema_version"] == 1 and stored["result"] == "passed" and stored["last_passed"] == stored["ended"]
    assert record.blob and record.blob.startswith(f"drills/{blob_key(world.key)}/")
    assert world.rt.blobs.get_json(record.blob) is not None
    [health] = health_runs(world.emu)
    assert health["script"] == HEALTH_SCRIPT.read_text().splitlines() and health["parameters"] == []
    assert len(steps) >= 5 and any("test failover" in s for s in steps) and any("cleaning up" in s for s in steps)
    # Site Recovery was asked for the latest processed point, into the test network.
    posts = [e for e in world.emu.journal.entries() if e.method == "POST" and e.path.endswith("/testFailover")]
    assert len(posts) == 1
    # ... from the group's common point: every node comes back from the same moment (multi-VM consistency).
    [a2a] = posts[0].body["properties"]["providerSpecificDetails"]
    assert (a2a["recoveryPointType"], a2a["multiVmSyncPointOption"]) == ("LatestProcessed", "UseMultiVmSyncRecoveryPoint")
    points = [world.emu.world.get(i.id)["properties"]["failoverRecoveryPointId"] for i in world.rt.asr.list_items()]
    times = {p.rsplit("/", 1)[-1] for p in points}
    assert len(points) == 2 and len({world_point_time(world, p) for p in points}) == 1, times

    again = drill.run_drill(CLUSTER, world.rt)  # next month: the same drill passes again
    assert again.result is Result.PASSED and again.test_ip == record.test_ip, (again.reason, failing(again))
    world.assert_clean()
    assert world.stored()["drill_id"] == again.drill_id


def test_a_drill_is_published_to_the_custom_topic(world: World, make_runtime: Callable[..., Runtime],
                                                  topic: dict[str, Any]) -> None:
    world.enroll()
    rt = make_runtime(EVENT_GRID_TOPIC_ENDPOINT=topic["endpoint"], EVENT_GRID_TOPIC_KEY="topic-key",
                      ARM_CA_BUNDLE=topic["ca_bundle"])
    record = drill.run_drill(CLUSTER, rt)
    drills = [e for e in topic["events"] if e["eventType"] == drill.DRILL_EVENT]
    assert [(e["subject"], e["data"]["drill_id"], e["data"]["result"]) for e in drills] == [
        (f"asr-s2d/{CLUSTER}", record.drill_id, "passed")]


# -- a drill that fails in the guest ------------------------------------------------------------------------

def test_a_degraded_virtual_disk_fails_the_drill_and_the_test_failover_is_still_cleaned_up(world: World) -> None:
    world.enroll()
    world.degrade({"virtual_disks": [{"name": "vd01", "health": "Degraded"}]})

    record = drill.run_drill(CLUSTER, world.rt)

    assert record.result is Result.FAILED
    assert failing(record) == {"virtual-disks": "not Healthy: vd01 Degraded"}
    assert record.reason == "virtual-disks: not Healthy: vd01 Degraded"
    assert record.cleanup.attempted and record.cleanup.ok
    assert [c.name for c in record.checks] == EVERY_CHECK  # every check ran and is recorded
    world.assert_clean()
    assert world.stored()["result"] == "failed" and world.stored()["last_passed"] is None

    audit.run_audit(world.rt)
    page = status_page.render_latest(world.rt)  # the status page shows each cluster's last drill
    section = page.split("Last drill", 1)[1].split("<h3>Drift</h3>", 1)[0]
    assert "FAILED" in section and "virtual-disks" in section and "vd01 Degraded" in section
    assert f"{len(EVERY_CHECK) - 1} of {len(EVERY_CHECK)}" in section and "Last passed drill</dt><dd>never" in section
    assert "Direction</dt><dd>to the DR region" in section and "Test network</dt><dd>vnet-dr-test" in section


@pytest.mark.parametrize(("change", "check", "detail"), [
    ({"nodes": [{"name": "s2d-node2", "state": "Down"}]}, "nodes-up", "1 of 2 node(s) Up; s2d-node2 Down"),
    ({"quorum": {"state": "Lost"}}, "quorum", "NO quorum"),
    ({"csvs": [{"name": "Cluster Virtual Disk (vd01)", "state": "Offline"}]}, "csvs", "Offline"),
])
def test_what_the_test_nodes_report_decides_each_check(world: World, change: dict[str, Any], check: str,
                                                       detail: str) -> None:
    world.enroll()

    def on_step(message: str) -> None:
        # The test cluster right before the drill looks inside: a node that did not join, lost quorum, ...
        if message.startswith("checking the cluster from inside"):
            for vm_id in world.test_vms():
                control(world.emu, "PATCH", "guest", change, id=vm_id)

    record = drill.run_drill(CLUSTER, world.rt, report=on_step)

    assert record.result is Result.FAILED and list(failing(record)) == [check], failing(record)
    assert detail in failing(record)[check] and record.reason.startswith(f"{check}: ")
    world.assert_clean()


def test_a_distributed_network_name_cluster_passes_without_an_ip_resource(world: World) -> None:
    world.enroll()
    for vm_id in world.demo["vm_ids"]:  # Scale-Out File Server style: no IP Address resource at all
        current = control(world.emu, "GET", "guest", id=vm_id)
        control(world.emu, "PUT", "guest", {**current, "access_point": "Distributed", "ip_resources": []}, id=vm_id)

    record = drill.run_drill(CLUSTER, world.rt)

    assert record.result is Result.PASSED, (record.reason, failing(record))
    checks = {c.name: c.detail for c in record.checks}
    assert "guest no-ip-resource" in checks["ip-step"] and "distributed network name" in checks["cluster-ip"]
    world.assert_clean()


# -- a drill that must not start --------------------------------------------------------------------------

def test_a_drill_never_starts_on_an_unhealthy_cluster(world: World) -> None:
    world.enroll()
    item = world.items()[0]
    control(world.emu, "POST", "asr/health", {"item": item.id, "replicationHealth": "Critical"})
    seq = world.emu.journal.last_seq

    record = drill.run_drill(CLUSTER, world.rt)

    assert record.result is Result.SKIPPED and record.reason.startswith("replication-healthy: ")
    assert f"{item.vm_id.split('/')[-1]} is Critical" in record.reason
    assert not record.cleanup.attempted and writes_since(world.emu, seq) == [] and world.test_vms() == []
    assert world.stored()["result"] == "skipped"


def test_a_drill_never_starts_during_an_operators_test_failover_and_leaves_it_alone(world: World) -> None:
    world.enroll()
    world.test_failover()
    theirs = world.test_vms()
    seq = world.emu.journal.last_seq

    record = drill.run_drill(CLUSTER, world.rt)

    assert record.result is Result.SKIPPED and record.reason.startswith("no-operation-in-progress: ")
    assert "WaitingForCompletion" in record.reason
    assert writes_since(world.emu, seq) == [] and world.test_vms() == theirs and len(theirs) == 2
    assert drill.cleanup_stale(world.rt) == []  # not a drill's: the backstop leaves it alone too
    assert world.test_vms() == theirs


def test_a_drill_never_starts_during_a_failover_or_after_it(world: World) -> None:
    world.enroll()
    control(world.emu, "PUT", "config", {"lro_polls": 1000})  # the failover job stays InProgress
    world.unplanned_failover(wait=False)
    seq = world.emu.journal.last_seq
    running = drill.run_drill(CLUSTER, world.rt)
    assert running.result is Result.SKIPPED and "UnplannedFailover" in running.reason, running.reason
    assert writes_since(world.emu, seq) == []

    control(world.emu, "PUT", "config", {"lro_polls": 0})
    control(world.emu, "POST", "asr/settle")
    world.commit()
    seq = world.emu.journal.last_seq
    committed = drill.run_drill(CLUSTER, world.rt)
    assert committed.result is Result.SKIPPED and committed.reason.startswith("nodes-protected: ")
    assert "UnplannedFailoverCommitted" in committed.reason and writes_since(world.emu, seq) == []


def test_a_drill_never_starts_while_another_drill_of_the_cluster_runs(world: World) -> None:
    world.enroll()
    # Another drill of the cluster, on another instance: its work item is active, its marker within its deadline.
    other = Work.new("drill", "timer-other", {"cluster": CLUSTER, "trigger": "timer"}, cluster=CLUSTER)
    assert work_items.create(world.rt.records, replace(other, status="waiting"))
    world.rt.blobs.put_json(state.drill_marker_blob(CLUSTER), {
        "state": "running", "drill_id": "timer-other", "cluster": CLUSTER, "started": "2026-01-01T03:00:00Z",
        "deadline": (datetime.now(UTC) + timedelta(hours=4)).isoformat(), "work": other.id})
    seq = world.emu.journal.last_seq

    record = drill.run_drill(CLUSTER, world.rt)

    assert record.result is Result.SKIPPED and [c.name for c in record.checks] == ["no-other-drill"]
    assert "timer-other of cluster s2dclu01 is running" in record.reason
    assert drill.cleanup_stale(world.rt) == []  # its work is active: that drill is alive, the backstop leaves it
    assert writes_since(world.emu, seq) == [] and world.test_vms() == []
    marker = world.rt.blobs.get_json(state.drill_marker_blob(CLUSTER))
    assert marker is not None and marker.body["drill_id"] == "timer-other"  # the skipped drill left it alone


@pytest.mark.parametrize(("setting", "reason"), [
    ({"TEST_FAILOVER_VNET_ID": "", "FAILBACK_TEST_VNET_ID": ""}, "drills are off: TEST_FAILOVER_VNET_ID is empty"),
    ({"TEST_FAILOVER_VNET_ID": ""}, "test-network: TEST_FAILOVER_VNET_ID is empty: set it to an isolated VNet in "
                                    "northeurope"),
    ({"DRY_RUN": "true"}, "dry run: a drill writes (a test failover), so none was started"),
])
def test_a_drill_without_a_test_network_or_in_a_dry_run_is_skipped(world: World, make_runtime: Callable[..., Runtime],
                                                                    setting: dict[str, str], reason: str) -> None:
    world.enroll()
    seq = world.emu.journal.last_seq
    record = drill.run_drill(CLUSTER, make_runtime(**setting))
    assert (record.result, record.reason) == (Result.SKIPPED, reason) and writes_since(world.emu, seq) == []


# -- a drill that dies between two steps --------------------------------------------------------------------

STEP_MESSAGES = {
    "before the test failover": "test failover of recovery plan",
    "after the test failover": "moving the cluster IP",
    "after the IP step": "checking the cluster from inside",
    "during the cleanup": "cleaning up the test failover",
}


@pytest.mark.parametrize("moment", list(STEP_MESSAGES))
def test_a_drill_that_dies_between_two_steps_leaves_no_test_vm_after_the_next_audit(world: World,
                                                                                    moment: str) -> None:
    world.enroll()

    def on_step(message: str) -> None:
        if message.startswith(STEP_MESSAGES[moment]):
            # The next ARM call fails, and so does the drill's own cleanup: what a process dying there leaves.
            world.emu.faults.add(FaultRule(action="status", status=409, path="^/subscriptions/", count=1))
            world.emu.faults.add(FaultRule(action="status", status=409, method="POST", path="/testFailoverCleanup$",
                                           count=1))

    record = drill.run_drill(CLUSTER, world.rt, report=on_step)
    started = any(e.method == "POST" and e.path.endswith("/testFailover") and e.status < 400
                  for e in world.emu.journal.entries())
    assert record.result is Result.FAILED, record.reason
    if started:
        assert not record.cleanup.ok and world.test_vms() != []
    world.emu.faults.clear()

    report = audit.run_audit(world.rt)
    worker.run_queue(world.rt)  # the audit started the cleanup; on Azure's clock the worker sees its job through

    world.assert_clean()
    assert report.errors == []
    stored = world.stored()
    assert stored["drill_id"] == record.drill_id and stored["result"] == "failed"
    assert stored["cleanup"]["ok"] is True
    if started:
        assert "(by audit at" in stored["cleanup"]["detail"]
    assert drill.run_drill(CLUSTER, world.rt).result is Result.PASSED  # and the next drill runs normally


def test_a_drill_whose_process_died_is_recorded_and_cleaned_up_by_the_next_audit(world: World) -> None:
    world.enroll()
    # What a drill process killed right after its test failover leaves: the test failover, and the marker
    # still "running" while its lock lease has expired.
    world.test_failover()
    world.dead_drill(step="ip-step", checks=[{"name": "test-failover", "ok": True,
                                              "detail": "2 node(s) test-failed over"}])

    audit.run_audit(world.rt)
    worker.run_queue(world.rt)

    world.assert_clean()
    stored = world.stored()
    assert (stored["drill_id"], stored["result"]) == ("timer-dead", "failed")
    assert "stopped during step ip-step" in stored["reason"] and stored["cleanup"]["ok"] is True
    assert [c["name"] for c in stored["checks"]] == ["test-failover"]
    assert world.rt.blobs.get_json(state.DRILL_MARKER).body["state"] == "idle"  # type: ignore[union-attr]
    assert drill.cleanup_stale(world.rt) == []  # nothing left: one blob read, no ARM call


def test_a_test_failover_job_still_running_is_not_taken_for_clean(world: World) -> None:
    world.enroll()
    control(world.emu, "PUT", "config", {"lro_polls": 1000})  # the drill died while its test failover job ran
    world.test_failover(wait=False)
    world.dead_drill(step="test-failover")

    report = audit.run_audit(world.rt)

    assert [e for e in report.errors if "still running" in e], report.errors
    assert world.rt.blobs.get_json(state.DRILL_MARKER).body["state"] == "cleanup-pending"  # type: ignore[union-attr]
    control(world.emu, "PUT", "config", {"lro_polls": 0})
    control(world.emu, "POST", "asr/settle")  # the job ends: now there is something to clean up
    assert world.test_vms() != []
    assert audit.run_audit(world.rt).errors == []
    worker.run_queue(world.rt)
    world.assert_clean()
    assert world.stored()["cleanup"]["ok"] is True, world.stored()["cleanup"]


# -- the audit reads the record -----------------------------------------------------------------------------

def mark_tested(world: World, when: datetime) -> None:
    """What ASR says about the last successful test failover (its cleanup sets it, passed drill or not)."""
    with world.emu.world.lock:
        for item in world.emu.world.all():
            if item.get("type", "").endswith("/replicationProtectedItems"):
                item["properties"]["lastSuccessfulTestFailoverTime"] = when.isoformat().replace("+00:00", "Z")


def audit_codes(rt: Runtime) -> tuple[list[str], str | None]:
    [cluster] = audit.run_audit(rt).clusters
    return sorted(f.code for f in cluster.findings), cluster.last_test_failover


def test_the_audit_counts_the_last_drill_that_passed_not_a_later_failed_one(world: World) -> None:
    world.enroll(**{"asr-s2d-witness": world.demo["witness_storage_account_id"]})
    old = datetime.now(UTC) - timedelta(days=400)
    world.degrade({"virtual_disks": [{"name": "vd01", "health": "Degraded"}]})
    assert drill.run_drill(CLUSTER, world.rt).result is Result.FAILED
    mark_tested(world, old)
    codes, _last = audit_codes(world.rt)
    assert "test-failover-stale" in codes  # a failed drill proves nothing

    world.degrade({"virtual_disks": [{"name": "vd01", "health": "Healthy"}]})
    passed = drill.run_drill(CLUSTER, world.rt)
    assert passed.result is Result.PASSED
    world.degrade({"csvs": [{"name": "Cluster Virtual Disk (vd01)", "state": "Failed"}]})
    later = drill.run_drill(CLUSTER, world.rt)
    assert later.result is Result.FAILED and later.last_passed == passed.ended
    mark_tested(world, old)
    codes, last = audit_codes(world.rt)
    assert "test-failover-stale" not in codes and "test-failover-never" not in codes
    assert last is not None and parse_time(last) == parse_time(passed.ended)


# -- the timer and the CLI ------------------------------------------------------------------------------------

def test_the_timer_drills_only_clusters_that_opted_in(world: World, app_settings: dict[str, str],
                                                      make_runtime: Callable[..., Runtime]) -> None:
    timer = drill_trigger.on_drill_schedule._function.get_user_function()
    world.enroll()
    seq = world.emu.journal.last_seq
    timer(TimerRequest(past_due=False))
    assert writes_since(world.emu, seq) == []  # not tagged asr-s2d-drill=monthly: no drill
    assert world.rt.blobs.list_names("drills/") == []

    world.tag(**{"asr-s2d-drill": "monthly"})
    seq = world.emu.journal.last_seq
    timer(TimerRequest(past_due=True))
    assert writes_since(world.emu, seq) == []  # the timer only enqueues: the worker drills
    worker.run_queue(world.rt)
    records = [world.rt.blobs.get_json(n) for n in world.rt.blobs.list_names(f"drills/{blob_key(world.key)}/")]
    assert [(r.body["trigger"], r.body["result"]) for r in records if r] == [("timer", "passed")]
    world.assert_clean()

    world.tag(**{"asr-s2d-drill": "off"})
    assert drill.run_scheduled(rt=world.rt) == []
    month = datetime.now(UTC).strftime("%Y-%m")
    # Every cluster: this month's drill of s2dclu01 was enqueued already, so nothing new.
    assert drill.run_scheduled(rt=make_runtime(DRILL_ALL_CLUSTERS="true")) == []
    assert [w.id for w in work_items.listed(world.rt.records, kind="drill")] == [f"drill/{CLUSTER}-{month}"]


def test_cli_drill(world: World, app_settings: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    world.enroll()
    assert cli.main(["drill", CLUSTER, "--json"]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert record["result"] == "passed" and [c["name"] for c in record["checks"]] == EVERY_CHECK
    assert "… test failover of recovery plan" in captured.err  # progress on stderr

    world.degrade({"pool": {"health": "Warning"}})
    assert cli.main(["drill", CLUSTER]) == 1
    out = capsys.readouterr().out
    assert "storage-pool" in out and "FAILED" in out and "pool 'S2D on s2dclu01' Warning" in out
    assert "PrimaryToRecovery" in out and "vnet-dr-test" in out  # which way the drill went, and where

    item = world.items()[0]
    control(world.emu, "POST", "asr/health", {"item": item.id, "replicationHealth": "Warning"})
    assert cli.main(["drill", CLUSTER]) == EXIT_SKIPPED
    assert "SKIPPED" in capsys.readouterr().out
    assert cli.main(["drill", "bad name; rm"]) == 2
    with pytest.raises(SystemExit):
        cli.main(["drill", "--help"])
    assert "exit codes (every command):" in capsys.readouterr().out
