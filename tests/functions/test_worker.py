"""The worker's own rules: one bounded step per message, a stale or duplicated message changes nothing, a Site Recovery
job is looked at again later instead of waited for, a bad message is refused and a failing one ends poisoned.

Real parts: the work queue on Azurite, the app's runtime on the emulator (its Azure clock where the jobs' time matters).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emulator import Emulator
from emulator.clients import control
from emulator.core.faults import FaultRule
from shared.enrollment import service as enrollment
from shared.runtime import Runtime
from shared.work import item as items
from shared.work import worker
from shared.work.item import Work
from tests.functions.conftest import tag
from tests.functions.drill_world import CLUSTER, TAGS


def tag_event(demo: dict[str, Any], n: int = 0) -> dict[str, Any]:
    vm = demo["vm_ids"][n]
    return {"id": f"evt-tag-{n}", "eventType": "Microsoft.Resources.ResourceWriteSuccess",
            "subject": f"{vm}/providers/Microsoft.Resources/tags/default", "eventTime": "2026-12-07T00:00:00Z",
            "dataVersion": "", "metadataVersion": "1",
            "data": {"operationName": "Microsoft.Resources/tags/write",
                     "resourceUri": f"{vm}/providers/Microsoft.Resources/tags/default", "status": "Succeeded",
                     "subscriptionId": demo["subscription_id"], "correlationId": f"c-{n}"}}


@pytest.fixture
def tagged(demo: dict[str, Any], operator_sdk: Callable[..., Any]) -> dict[str, Any]:
    for vm_id in demo["vm_ids"]:
        tag(operator_sdk, vm_id, TAGS)
    return demo


def steps_of(emu: Emulator, rt: Runtime, work_id: str) -> Work:
    found = items.load(rt.records, work_id)
    assert found is not None
    return found


@pytest.mark.azure_clock
def test_an_enrollment_runs_in_steps_and_never_waits_on_a_job(emu: Emulator, tagged: dict[str, Any],
                                                              runtime: Runtime) -> None:
    accepted = enrollment.accept(tag_event(tagged), runtime)
    assert isinstance(accepted, Work) and accepted.kind == "enroll"
    assert worker.enqueue(runtime, accepted)
    assert not worker.enqueue(runtime, accepted)  # the same event again: the same work, enqueued once

    counts = worker.run_queue(runtime, until_idle=True, max_seconds=120, retry_seconds=1)

    work = steps_of(emu, runtime, accepted.id)
    assert work.status == "done" and work.outcome and work.outcome["outcome"] == "enabled", work
    assert sorted(i.vm_id.lower() for i in runtime.asr.list_items()) == sorted(v.lower() for v in tagged["vm_ids"])
    if emu.clock.instant:  # every job ended at its first look: one step
        assert work.step == 1 and counts == {"done": 1}
    else:  # each job was looked at again in a later step, never waited for
        assert work.step > 5 and counts.get("waiting", 0) == work.step - 1
    assert work.outcome["writes"] == sum(1 for line in work.outcome["plan"])


def test_a_stale_or_duplicated_message_changes_nothing(emu: Emulator, tagged: dict[str, Any],
                                                       runtime: Runtime) -> None:
    accepted = enrollment.accept(tag_event(tagged), runtime)
    assert isinstance(accepted, Work) and worker.enqueue(runtime, accepted)
    worker.run_queue(runtime, until_idle=True, max_seconds=60)
    seq = emu.journal.last_seq

    assert worker.handle_message(runtime, {"work": accepted.id, "step": 0}) == "stale"
    assert worker.handle_message(runtime, {"work": "enroll/no-such-event", "step": 0}) == "missing"
    assert list(emu.journal.entries(since=seq)) == []  # neither read nor wrote Azure


def test_a_bad_message_is_refused_and_recorded(runtime: Runtime) -> None:
    assert worker.handle_message(runtime, {"work": "../../etc", "step": 0}) == "rejected"
    assert worker.handle_message(runtime, "not json") == "rejected"
    outcomes = [runtime.records.json(n) for n in runtime.blobs.list_names("outcomes/")]
    assert [o["outcome"] for o in outcomes if o] == ["rejected", "rejected"]


def test_a_message_that_keeps_failing_ends_poisoned_with_its_step_and_error(emu: Emulator, tagged: dict[str, Any],
                                                                            runtime: Runtime) -> None:
    accepted = enrollment.accept(tag_event(tagged), runtime)
    assert isinstance(accepted, Work) and worker.enqueue(runtime, accepted)
    emu.faults.add(FaultRule(action="status", status=503, method="GET", path=r"virtualMachines$", count=1000))

    counts = worker.run_queue(runtime, until_idle=True, max_seconds=120, retry_seconds=0)

    assert counts.get("poisoned") == 1 and counts.get("retried") == runtime.settings.work_max_dequeue - 1
    [poisoned] = runtime.queue.poisoned()
    assert poisoned.body == {"work": accepted.id, "step": 0}
    work = steps_of(emu, runtime, accepted.id)
    assert work.status == "failed" and "step 0" in work.reason and "ServiceUnavailable" in work.reason
    failed = [runtime.records.json(n) for n in runtime.blobs.list_names("outcomes/")]
    assert any(o and o["outcome"] == "failed" and "poison" in o["reason"] for o in failed)
    emu.faults.clear()


def test_in_process_runs_wait_for_each_job_here(emu: Emulator, tagged: dict[str, Any], runtime: Runtime) -> None:
    control(emu, "PUT", "config", {"lro_polls": 2})  # every job still runs at its first and second look
    outcome = enrollment.handle(tag_event(tagged), runtime)
    control(emu, "PUT", "config", {"lro_polls": 0})
    assert outcome.kind == "enabled" and outcome.writes >= 8, outcome.reason
    assert CLUSTER.lower() in outcome.reason.lower()
