"""The drift audit and the durable work, on the emulator + Azurite: the timer's audit starts no job and writes nothing
to Azure (its repairs and IP steps go through the work queue, and the worker applies them), it re-sends the message
of a work item that lost it, and the work that failed, a poisoned message included, shows on the status page.

The timer's audit is ``run_audit(..., queue_work=True)`` (what ``run_scheduled`` runs); the worker is
``shared.work.worker.run_queue`` on Azurite's queue. What Azure saw is read from the emulator's request journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from emulator import Emulator
from emulator.clients import control
from emulator.core.faults import FaultRule
from emulator.core.identity import APP_PRINCIPAL_ID
from shared.audit import report as audit_report
from shared.audit import service, status_page
from shared.enrollment import service as enrollment
from shared.runtime import Runtime
from shared.times import iso
from shared.work import item as items
from shared.work.item import Work
from shared.work.worker import run_queue
from tests.functions.conftest import writes_since
from tests.functions.drift_world import CLUSTER, DR_IP, add_node, mark_tested, node_tags
from tests.functions.test_drift_audit import _fail_over

SCHEMA = Draft202012Validator(json.loads(audit_report.SCHEMA_PATH.read_text()))
WORKER_SECONDS = 120.0  # the most a run_queue here may take (it returns once the queue is idle)


def audit(rt: Runtime, **kwargs: Any) -> audit_report.Report:
    report = service.run_audit(rt, **kwargs)
    SCHEMA.validate(report.to_json())
    return report


def timer_audit(rt: Runtime, **kwargs: Any) -> audit_report.Report:
    """The audit as the timer runs it: work that starts jobs is enqueued, never run here."""
    return audit(rt, queue_work=True, **kwargs)


@pytest.fixture
def queued(runtime: Runtime) -> Iterator[Runtime]:
    """The test's runtime with its work queue created (Bicep creates it in Azure)."""
    runtime.queue.ensure()
    yield runtime


@pytest.fixture
def new_node(emu: Emulator, converged: dict[str, Any], queued: Runtime) -> str:
    """A third node tagged into the converged cluster and confirmed by an operator: not protected yet, so the audit's
    repair has to enable it (a Site Recovery job of minutes), update the recovery plan and map its DR pool."""
    vm_id = add_node(emu, converged, "s2d-node3", node_tags(CLUSTER, witness=converged["witness_storage_account_id"],
                                                             dr_ip=DR_IP))
    enrollment.confirm_node(queued, CLUSTER, "s2d-node3")
    return vm_id


def repairs(rt: Runtime) -> list[Work]:
    return items.listed(rt.records, kind="repair")


def app_writes(emu: Emulator, seq: int) -> list[Any]:
    return [e for e in writes_since(emu, seq) if e.principal == APP_PRINCIPAL_ID]


@pytest.mark.azure_clock
def test_the_timers_audit_writes_nothing_and_enqueues_the_repair_which_the_worker_applies(
        emu: Emulator, new_node: str, queued: Runtime) -> None:
    seq = emu.journal.last_seq

    report = timer_audit(queued, repair=True)

    assert writes_since(emu, seq) == []  # no ARM write, no job started: the audit only enqueued
    [cluster] = report.clusters
    assert cluster.repair is not None and cluster.repair.outcome == "queued", cluster.repair
    [work] = repairs(queued)
    assert work.id in cluster.repair.reason and work.status == "queued" and work.cluster == CLUSTER
    assert work.payload == {"cluster": CLUSTER, "subscription": cluster.key.split("/")[0],
                            "audit_id": report.audit_id}
    assert report.work is not None and report.work["active"] == 0  # read before this audit enqueued
    # The next audit finds the repair still queued: it enqueues no second one.
    again = timer_audit(queued, repair=True)
    assert again.clusters[0].repair is not None and work.id in again.clusters[0].repair.reason
    assert "runs already" in again.clusters[0].repair.reason and len(repairs(queued)) == 1
    assert again.work is not None and again.work["active"] == 1
    assert [w["work"] for w in again.work["in_flight"]] == [work.id]
    assert writes_since(emu, seq) == []

    seq = emu.journal.last_seq
    counts = run_queue(queued, until_idle=True, max_seconds=WORKER_SECONDS, retry_seconds=1)

    [done] = repairs(queued)
    assert done.status == "done" and done.outcome is not None and done.outcome["outcome"] == "changed", done
    written = app_writes(emu, seq)
    assert len(written) > 0 and done.outcome["writes"] == len(written) == len(done.outcome["applied"])
    assert done.outcome["kinds"] == ["EnableNode", "UpsertRecoveryPlan", "SetPoolMapping"]
    assert any(i.vm_id.lower() == new_node.lower() for i in queued.asr.list_items())
    if emu.clock.instant:  # every job ended at its first look: one step
        assert done.step == 1 and counts == {"done": 1}
    else:  # each job was looked at again in a later step, never waited for in one
        assert done.step > 1 and counts.get("waiting", 0) == done.step - 1
    recorded = [queued.records.json(n) for n in queued.blobs.list_names("outcomes/")]
    assert any(o and o["outcome"] == "changed" and o["trigger"] == "audit" and o["cluster"] == CLUSTER
               for o in recorded)
    control(emu, "POST", "asr/settle")
    control(emu, "POST", "asr/advance", {"to": "Protected"})  # initial replication, hours in Azure, has passed
    mark_tested(emu)
    settled = audit(queued)
    assert settled.clusters[0].status == "green", [(f.code, f.message) for f in settled.clusters[0].findings]
    assert settled.work is not None and (settled.work["active"], settled.work["failed"]) == (0, 0)


def test_in_process_the_audit_still_repairs_and_waits_for_each_job_here(
        emu: Emulator, new_node: str, queued: Runtime) -> None:
    control(emu, "PUT", "config", {"lro_polls": 2})  # every job still runs at its first and second look
    try:
        report = audit(queued, repair=True)
    finally:
        control(emu, "PUT", "config", {"lro_polls": 0})
    [cluster] = report.clusters
    assert cluster.repair is not None and cluster.repair.outcome == "changed", cluster.repair
    assert cluster.repair.kinds == ("EnableNode", "UpsertRecoveryPlan", "SetPoolMapping")
    assert cluster.repair.writes == len(cluster.repair.applied) == 3 and repairs(queued) == []


def test_the_timers_audit_enqueues_the_ip_step_of_an_unannounced_failover(
        emu: Emulator, converged: dict[str, Any], make_runtime: Callable[..., Runtime], asr_sdk: Any) -> None:
    rt = make_runtime(AUDIT_REASSIGN_IP="true")
    rt.queue.ensure()
    _fail_over(asr_sdk, rt, emu)
    seq = emu.journal.last_seq

    report = timer_audit(rt)

    assert writes_since(emu, seq) == []
    reassign = report.clusters[0].reassign
    assert reassign is not None and reassign["outcome"] == "queued", reassign
    [work] = items.listed(rt.records, kind="reassign")
    assert work.id in reassign["reason"] and work.payload["trigger"] == "audit"
    again = timer_audit(rt).clusters[0].reassign
    assert again is not None and "runs already" in again["reason"] and len(items.listed(rt.records,
                                                                                           kind="reassign")) == 1

    run_queue(rt, until_idle=True, max_seconds=WORKER_SECONDS, retry_seconds=1)

    [done] = items.listed(rt.records, kind="reassign")
    assert done.status == "done" and done.outcome is not None and done.outcome["outcome"] == "reassigned", done
    assert [f.code for f in audit(rt).clusters[0].findings] == ["failed-over"]


def test_a_work_item_whose_message_was_lost_gets_it_again_from_the_audit(
        emu: Emulator, converged: dict[str, Any], queued: Runtime) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    lost = Work.new("reprotect", "lost-1", {"cluster": CLUSTER, "trigger": "cli"}, cluster=CLUSTER)
    lost = replace(lost, status="waiting", step=2, due=iso(long_ago))
    fresh = Work.new("reprotect", "fresh-1", {"cluster": CLUSTER, "trigger": "cli"}, cluster=CLUSTER)
    fresh = replace(fresh, status="waiting", step=1, due=iso(datetime.now(UTC) + timedelta(minutes=5)))
    assert items.create(queued.records, lost) and items.create(queued.records, fresh)  # neither has a message
    seq = emu.journal.last_seq

    report = audit(queued)

    assert writes_since(emu, seq) == []
    assert report.work is not None and (report.work["active"], report.work["resent"]) == (2, 1)
    assert report.work["resent_ids"] == [lost.id]
    [message] = queued.queue.receive()
    assert message.body == {"work": lost.id, "step": 2}
    queued.queue.delete(message)
    # The worker takes the re-sent step: a cluster that is not failed over has no way back to take.
    queued.queue.send(lost.message())
    run_queue(queued, until_idle=True, max_seconds=WORKER_SECONDS)
    done = items.load(queued.records, lost.id)
    assert done is not None and done.status == "done" and done.outcome is not None
    assert done.outcome["outcome"] == "unchanged" and "nothing to do" in done.outcome["reason"]


def test_a_poisoned_repair_is_reported_and_shown_on_the_status_page_with_its_step_and_error(
        emu: Emulator, new_node: str, queued: Runtime) -> None:
    timer_audit(queued, repair=True)
    [work] = repairs(queued)
    # Azure refuses every VM list while the worker tries: each delivery fails, the last one goes to the poison queue.
    emu.faults.add(FaultRule(action="status", status=503, method="GET", path=r"virtualMachines$", count=10_000))
    try:
        counts = run_queue(queued, until_idle=True, max_seconds=WORKER_SECONDS, retry_seconds=0)
    finally:
        emu.faults.clear()
    assert counts.get("poisoned") == 1, counts
    poisoned = items.load(queued.records, work.id)
    assert poisoned is not None and poisoned.status == "failed" and "step 0" in poisoned.reason

    report = timer_audit(queued, repair=True)

    assert report.work is not None and report.work["failed"] == 1
    [failure] = report.work["failures"]
    assert (failure["work"], failure["kind"], failure["poisoned"]) == (work.id, "repair", True)
    assert "poison queue" in failure["reason"] and "ServiceUnavailable" in failure["reason"]
    page = status_page.render_latest(queued)
    section = page.split("id=\"work\"", 1)[1]
    assert "Poisoned" in section and work.id in section and "step 0" in section
    assert "ServiceUnavailable" in section and "1 work item(s) failed" in page
    # The audit enqueued a fresh repair (the failed one has ended); the next audit finds it in flight.
    [again] = [w for w in repairs(queued) if w.id != work.id]
    assert report.clusters[0].repair is not None and again.id in report.clusters[0].repair.reason
    timer_audit(queued, repair=True)
    assert again.id in status_page.render_latest(queued).split("id=\"work-in-flight\"", 1)[1]
