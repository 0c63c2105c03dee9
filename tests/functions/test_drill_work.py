"""Drills side by side, through the worker (issue 19): a drill is a ``drill`` work item that runs as a chain of
bounded steps from Azurite's queue, at most ``DRILL_CONCURRENCY`` per vault at a time, each bounded by
``DRILL_MAX_MINUTES``; a worker that dies between two steps is resumed by the item's next message, and the test
failover is still cleaned up.

The real emulator and Azurite, the real SDK clients; the worker is ``shared.work.worker`` itself, one message at a
time (``handle_message``, as the queue trigger) or as ``run_queue`` (``asr-s2d worker``). On Azure's clock (3600x)
every Site Recovery job takes its time, so the step chain waits for the test failover and its cleanup with delayed
messages; what is asserted is counts and state (the request journal, the work items, the records), never wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from emulator import Emulator
from emulator.clients import control
from emulator.core.clock import AZURE
from emulator.core.identity import APP_PRINCIPAL_ID
from emulator.providers.compute import guest
from emulator.providers.compute.vms import create_vm
from emulator.providers.network.nics import create_nic
from shared import state
from shared.audit import service as audit
from shared.drill import service as drill
from shared.drill.record import DrillRecord, Result
from shared.enrollment import service as enrollment
from shared.runtime import Runtime
from shared.work import item as items
from shared.work import worker
from shared.work.item import Work
from tests.functions.conftest import tag
from tests.functions.drill_world import CLUSTER, EVERY_CHECK, TAGS, World

OTHER = "s2dclu02"  # a second cluster in the demo's source subnet, for drills side by side
WORKER_SECONDS = 180.0  # a bound on one run_queue here (it returns when the queue is idle)


@pytest.fixture
def world(emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any]) -> World:
    return World(emu, demo, runtime, operator_sdk)


def add_cluster(world: World, name: str = OTHER, **extra: str) -> list[str]:
    """A second two-node S2D cluster beside the demo's (what a deployment pipeline builds: VMs, NICs, disks and the
    guest's failover cluster), tagged by the operator through the ARM Tags API and enrolled by the enrollment
    service, then Protected. Returns its VM IDs."""
    emu, demo = world.emu, world.demo
    sub, group, region = demo["subscription_id"], demo["source_resource_group"], demo["source_region"]
    vm_ids = []
    with emu.world.lock:
        for index, address in ((1, "10.10.1.14"), (2, "10.10.1.15")):
            node = f"{name}-node{index}"
            nic = create_nic(emu.world, subscription_id=sub, resource_group=group, name=f"{node}-nic", location=region,
                             subnet_id=demo["source_subnet_id"], static_ip=address)
            vm = create_vm(emu.world, subscription_id=sub, resource_group=group, name=node, location=region,
                           nic_ids=[nic["id"]], vm_size="Standard_D4s_v5",
                           os_disk={"name": f"{node}-osdisk", "size_gb": 128, "sku": "Premium_LRS"},
                           data_disks=[{"name": f"{node}-data{lun}", "size_gb": 1024, "sku": "Premium_LRS"}
                                       for lun in (0, 1)], power_state="running")
            vm_ids.append(str(vm["id"]))
        witness = demo["witness_storage_account_id"].rsplit("/", 1)[-1]
        guest.add_cluster(emu.world, vm_ids, name=name, ip_address="10.10.1.60", network_prefix="10.10.1.0/24",
                          witness_account=witness)
    for vm_id in vm_ids:
        tag(world.operator_sdk, vm_id, {**TAGS, "asr-s2d-cluster": name, **extra})
    outcome = enrollment.enroll_cluster(enrollment.find_cluster(world.rt, name), world.rt, event_id=f"setup-{name}")
    assert outcome.kind == "enabled", outcome.reason
    control(emu, "POST", "asr/advance", {"to": "Protected"})
    return vm_ids


def leftover_test_vms(world: World) -> list[str]:
    return [v for v in world.vm_ids() if v.lower().endswith("-test")]


def one_message(rt: Runtime, *, wait: float = 30.0) -> tuple[str, Work | None] | None:
    """The queue trigger, once: receive one message (waiting out a delayed one), handle it, delete it. None when the
    queue is empty."""
    deadline = time.monotonic() + wait
    while True:
        messages = rt.queue.receive(max_messages=1, visibility_seconds=60)
        if messages:
            break
        if rt.queue.approximate_count() == 0 or time.monotonic() > deadline:
            return None
        time.sleep(0.01)
    [message] = messages
    what = worker.handle_message(rt, message.body, dequeue_count=message.dequeue_count)
    rt.queue.delete(message)
    return what, items.load(rt.records, str(message.body["work"]))


def recorded(work: Work | None) -> DrillRecord:
    assert work is not None and work.outcome is not None, work
    record = DrillRecord.from_json(work.outcome)
    assert record is not None
    return record


def failing(record: DrillRecord) -> dict[str, str]:
    return {c.name: c.detail for c in record.checks if not c.ok}


def asr_posts(world: World, since: int = 0) -> list[tuple[str, str]]:
    """The app's test failover and cleanup requests, in order: (plan, action)."""
    return [(e.path.split("/replicationRecoveryPlans/")[1].split("/")[0], e.path.rsplit("/", 1)[1])
            for e in world.emu.journal.entries(since=since)
            if e.method == "POST" and e.status < 400 and e.principal == APP_PRINCIPAL_ID
            and e.path.endswith(("/testFailover", "/testFailoverCleanup"))]


def job_polls(world: World, since: int) -> int:
    """Looks at a Site Recovery job's status (an LRO poll of the vault's operations)."""
    return sum(1 for e in world.emu.journal.entries(since=since)
               if e.poll and e.principal == APP_PRINCIPAL_ID and "/Microsoft.RecoveryServices/" in e.path)


# -- (a) a drill through the worker ----------------------------------------------------------------------------

@pytest.mark.azure_clock
def test_a_drill_runs_through_the_worker_one_bounded_step_at_a_time(world: World) -> None:
    world.enroll()
    work = drill.enqueue_drill(CLUSTER, world.rt, trigger="cli")
    assert work.id.startswith(f"drill/cli-{CLUSTER}-") and world.rt.queue.approximate_count() == 1

    reasons, polls, last = [], [], None
    while True:
        seq = world.emu.journal.last_seq
        if (handled := one_message(world.rt)) is None:
            break
        _what, last = handled
        assert last is not None
        reasons.append(last.reason)
        polls.append(job_polls(world, seq))

    record = recorded(last)
    assert last is not None and last.status == "done" and last.id == work.id
    assert record.result is Result.PASSED, (record.reason, failing(record))
    assert [c.name for c in record.checks] == EVERY_CHECK and all(c.ok for c in record.checks)
    assert record.cleanup.ok and "2 test VM(s) gone" in record.cleanup.detail
    world.assert_clean()
    assert world.stored() == record.to_json()  # the cluster's last drill is the work's outcome
    assert asr_posts(world) == [(f"asr-s2d-{CLUSTER}", "testFailover"), (f"asr-s2d-{CLUSTER}", "testFailoverCleanup")]
    # No step waited on a job: each looked at most once at the job it waits for and once at one it started.
    assert max(polls) <= 2, polls
    marker = world.rt.blobs.get_json(state.drill_marker_blob(CLUSTER))
    assert marker is not None and marker.body["state"] == "idle" and marker.body["record"] == record.blob
    if world.emu.world.clock.instant:
        assert last.step == 4  # admit..test failover, its result + IP step, the guest, cleanup..record
    else:  # the test failover and its cleanup took their Azure minutes: delayed looks, not a waiting invocation
        assert last.step > 4
        assert any(r.endswith(f": test failover: test failover of recovery plan asr-s2d-{CLUSTER}") for r in reasons)
        assert any(r.endswith(f": test-failover cleanup: clean up the test failover of recovery plan asr-s2d-{CLUSTER}")
                   for r in reasons), reasons


# -- (b) a worker killed between two steps -----------------------------------------------------------------------

@pytest.mark.azure_clock
def test_a_drill_whose_worker_died_resumes_from_the_queue_and_cleans_up(world: World,
                                                                         make_runtime: Callable[..., Runtime]) -> None:
    world.enroll()
    work = drill.enqueue_drill(CLUSTER, world.rt, trigger="timer")
    while not any(action == "testFailover" for _plan, action in asr_posts(world)):
        assert one_message(world.rt) is not None
    # The worker dies holding the next message (received, never handled nor deleted): it comes back after its
    # visibility timeout. Nothing of the dead worker's process is used again.
    held = world.rt.queue.receive(max_messages=1, visibility_seconds=1)
    assert len(held) <= 1
    stopped = items.load(world.rt.records, work.id)
    assert stopped is not None and not stopped.ended
    assert drill.cleanup_stale(world.rt) == []  # the drill is alive (its work active, within its deadline)
    assert leftover_test_vms(world) != [] or not world.emu.world.clock.instant

    fresh = make_runtime()
    counts = worker.run_queue(fresh, max_seconds=WORKER_SECONDS, retry_seconds=1)

    assert not {"retried", "poisoned", "rejected"} & set(counts), counts
    done = items.load(fresh.records, work.id)
    record = recorded(done)
    assert record.result is Result.PASSED and record.drill_id == work.payload["drill_id"], failing(record)
    assert [c.name for c in record.checks] == EVERY_CHECK
    world.assert_clean()
    assert [a for _p, a in asr_posts(world)] == ["testFailover", "testFailoverCleanup"]  # started once, cleaned once


def test_a_drill_whose_worker_died_after_requesting_the_test_failover_goes_on_from_there(
        world: World, make_runtime: Callable[..., Runtime]) -> None:
    """The worker dies inside its first step, after Site Recovery accepted the test failover and before the work item
    was saved: the redelivered message runs that step again from the carry before it, and the drill's marker (written
    before the request) tells it the test failover was requested: it reads its result instead of starting another."""
    world.enroll()
    work = drill.enqueue_drill(CLUSTER, world.rt, trigger="timer")
    before = items.load(world.rt.records, work.id)
    assert before is not None
    handled = one_message(world.rt)
    assert handled is not None and asr_posts(world) == [(f"asr-s2d-{CLUSTER}", "testFailover")]
    # What the dead worker left: the item as before its step (the save never happened), its message redelivered.
    world.rt.blobs.put_json(state.work_blob(work.id), before.to_json())
    world.rt.queue.send(before.message())

    fresh = make_runtime()
    worker.run_queue(fresh, max_seconds=WORKER_SECONDS, retry_seconds=1)

    record = recorded(items.load(fresh.records, work.id))
    assert record.result is Result.PASSED, failing(record)
    assert [a for _p, a in asr_posts(world)] == ["testFailover", "testFailoverCleanup"]  # no second test failover
    world.assert_clean()


def test_the_backstop_cleans_up_after_a_drill_whose_work_failed(world: World) -> None:
    world.enroll()
    work = drill.enqueue_drill(CLUSTER, world.rt, trigger="timer")
    while not leftover_test_vms(world):
        assert one_message(world.rt) is not None
    # Its message kept failing: the worker marked the item failed and the message went to the poison queue.
    stopped = items.load(world.rt.records, work.id)
    assert stopped is not None
    items.save(world.rt.records, Work.from_json({**stopped.to_json(), "status": "failed"}, stopped.etag) or stopped)
    while messages := world.rt.queue.receive(max_messages=32, visibility_seconds=60):
        for message in messages:
            world.rt.queue.to_poison(message)

    report = audit.run_audit(world.rt)
    worker.run_queue(world.rt, max_seconds=WORKER_SECONDS, retry_seconds=1)

    assert report.errors == []
    world.assert_clean()
    stored = world.stored()
    assert (stored["drill_id"], stored["result"]) == (work.payload["drill_id"], "failed")
    assert "never finished; audit cleaned up after it" in stored["reason"] and stored["cleanup"]["ok"] is True
    assert drill.cleanup_stale(world.rt) == []


# -- (c) drills side by side, at most DRILL_CONCURRENCY at once ------------------------------------------------------

@pytest.mark.azure_clock
def test_a_drill_waits_for_a_slot_and_both_pass(world: World, make_runtime: Callable[..., Runtime]) -> None:
    world.enroll()
    add_cluster(world)
    rt = make_runtime(DRILL_CONCURRENCY="1")
    first, second = (drill.enqueue_drill(name, rt, trigger="timer") for name in (CLUSTER, OTHER))

    reasons: dict[str, list[str]] = {first.id: [], second.id: []}
    ended: dict[str, Work] = {}
    while (handled := one_message(rt)) is not None:
        _what, work = handled
        assert work is not None
        reasons[work.id].append(work.reason)
        if work.ended:
            ended[work.id] = work

    assert "waiting for a drill slot: 1 of 1 running" in " | ".join(reasons[second.id]), reasons[second.id]
    for work in (first, second):
        record = recorded(ended[work.id])
        assert record.result is Result.PASSED, (record.cluster, record.reason, failing(record))
        assert "1 of 1 drill slot(s) in the vault taken" in {c.name: c.detail for c in record.checks}["no-other-drill"]
    # One at a time: the second test failover started after the first one's cleanup.
    assert [a for _p, a in asr_posts(world)] == ["testFailover", "testFailoverCleanup"] * 2
    assert len({p for p, _a in asr_posts(world)}) == 2
    assert leftover_test_vms(world) == []


# -- (d) DRILL_MAX_MINUTES ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("emulator_clock", [AZURE], indirect=True)  # a deadline is Azure time: none on the instant clock
def test_a_drill_that_runs_longer_than_drill_max_minutes_is_cleaned_up_and_recorded_failed(
        world: World, make_runtime: Callable[..., Runtime]) -> None:
    world.enroll()
    rt = make_runtime(DRILL_MAX_MINUTES="1")  # the test failover alone takes longer

    record = drill.run_drill(CLUSTER, rt)

    assert record.result is Result.FAILED and "ran longer than DRILL_MAX_MINUTES (1 min" in record.reason, record.reason
    assert list(failing(record)) == ["drill-time"]
    assert record.cleanup.ok and "test failover cleaned up" in record.cleanup.detail
    world.assert_clean()
    assert control(world.emu, "GET", "guest/run-commands") == []  # straight to the cleanup: no IP step, no health check
    assert world.stored()["result"] == "failed"


# -- (e) the timer -----------------------------------------------------------------------------------------------------

@pytest.mark.azure_clock
def test_the_timer_enqueues_one_drill_per_opted_in_cluster_once_a_month(world: World) -> None:
    # Each with its DR address, so the two drills' IP steps (side by side) take different test addresses.
    world.enroll(**{"asr-s2d-drill": "monthly", "asr-s2d-dr-ip": "10.20.1.50"})
    add_cluster(world, **{"asr-s2d-drill": "monthly", "asr-s2d-dr-ip": "10.20.1.60"})
    seq = world.emu.journal.last_seq
    month = datetime.now(UTC).strftime("%Y-%m")

    enqueued = drill.run_scheduled(rt=world.rt)

    assert sorted(w.id for w in enqueued) == [f"drill/{CLUSTER}-{month}", f"drill/{OTHER}-{month}"]
    assert [e for e in world.emu.journal.entries(since=seq) if e.is_write] == []  # no drill step ran in the timer
    assert world.rt.queue.approximate_count() == 2
    assert drill.run_scheduled(rt=world.rt) == []  # the same month again: nothing new
    assert world.rt.queue.approximate_count() == 2

    counts = worker.run_queue(world.rt, max_seconds=WORKER_SECONDS, retry_seconds=1)

    assert not {"retried", "poisoned"} & set(counts), counts
    results = {w.cluster: recorded(items.load(world.rt.records, w.id)).result for w in enqueued}
    assert results == {CLUSTER: Result.PASSED, OTHER: Result.PASSED}
    assert leftover_test_vms(world) == []

