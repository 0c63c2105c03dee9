"""No failover signal is lost, whenever ARM raises it: the failover suite under each action-event timing.

Event Grid's schema page lists ``ResourceActionSuccess`` for an asynchronous action without saying whether ARM raises
it when the action is accepted or when its job completes, and an action that fails or is cancelled is announced as
``ResourceActionFailure`` / ``ResourceActionCancel``. The emulator raises them as its ``action_events`` setting says
(``completed``, ``accepted`` or ``both``: ``emulator.core.events``); here an operator's recovery-plan failover that
succeeds, fails or is cancelled is announced under each timing, on both clocks, and every event is delivered as Event
Grid delivers it (through the azure-functions converter, a failed delivery retried on Event Grid's schedule, on the
emulator's clock): the trigger only enqueues, and the worker looks at a signal that came before its failover ended
again later (a delayed message), never dropping it. Each event ends in a recorded outcome; the cluster answers on its
DR IP after exactly one Run Command, or the failure is recorded and nothing changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from emulator import Emulator, delivery
from emulator.clients import control
from emulator.core.faults import FaultRule
from shared.errors import TransientError
from shared.failover import service as failover
from shared.runtime import Runtime
from shared.work import item as items
from shared.work import worker
from shared.work.item import Work
from tests.functions.test_failover import World, assert_dr_state, last_record, records_of, run_commands

pytestmark = pytest.mark.azure_clock  # the timings matter most where jobs take time

SUCCESS, FAILURE, CANCEL = (f"Microsoft.Resources.ResourceAction{end}" for end in ("Success", "Failure", "Cancel"))


@pytest.fixture
def world(emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
          event_queue: Callable[[], list[dict[str, Any]]]) -> World:
    return World(emu, demo, runtime, operator_sdk, event_queue)


def plan_failover_events(world: World) -> list[dict[str, Any]]:
    """The recovery plan's failover action events published since the last call (ASR's own VM/NIC writes left out)."""
    return [e for e in world.queue() if e["eventType"] in (SUCCESS, FAILURE, CANCEL)
            and e["data"]["operationName"].lower().endswith("replicationrecoveryplans/unplannedfailover/action")]


def deliver(world: World, events: list[dict[str, Any]]) -> list[str]:
    """As Event Grid delivers to the trigger (through the azure-functions converter): it only screens and enqueues, so
    no delivery fails and none is redelivered. Returns the work item each event was enqueued as."""
    answers = delivery.deliver(events, failover.handle_trigger, retry_on=(TransientError,),
                               attempts=len(delivery.RETRY_SCHEDULE), on_retry=delivery.event_grid_waits(world.emu.clock))
    assert all(isinstance(a, Work) for a in answers), answers  # every signal was taken, none answered at once
    return [a.id for a in answers if isinstance(a, Work)]


def worker_pass(world: World) -> None:
    """One pass of the worker over what the queue holds now: each message one step (a signal before its failover
    ended is looked at again later, by a delayed message)."""
    for message in world.rt.queue.receive(max_messages=32, visibility_seconds=60):
        worker.handle_message(world.rt, message.body, dequeue_count=message.dequeue_count)
        world.rt.queue.delete(message)


def ends(world: World, work_ids: list[str]) -> list[str]:
    """The worker until the queue is idle; how each work item ended (its outcome kind)."""
    worker.run_queue(world.rt, until_idle=True, max_seconds=60, retry_seconds=1)
    found = [items.load(world.rt.records, w) for w in work_ids]
    assert all(w is not None and w.ended and w.outcome for w in found), found
    return [str(w.outcome["outcome"]) for w in found if w is not None and w.outcome]


def failover_job(world: World) -> dict[str, Any]:
    [job] = [j for j in control(world.emu, "GET", "asr/jobs") if j["properties"]["scenarioName"] == "UnplannedFailover"]
    return dict(job)


def job_ends(world: World) -> str:
    """Time passes until the failover job has ended (Azure's clock), or it is ended (the instant clock)."""
    if world.emu.clock.instant:
        control(world.emu, "POST", "asr/settle")
    deadline = time.monotonic() + 10
    while (state := failover_job(world)["properties"]["state"]) == "InProgress" and time.monotonic() < deadline:
        time.sleep(0.02)
    return str(state)


@pytest.mark.parametrize("timing", ["completed", "accepted", "both"])
def test_a_failover_that_succeeds_moves_the_ip_once_whenever_its_signal_comes(world: World, app_settings: None,
                                                                            timing: str) -> None:
    world.enroll()
    assert control(world.emu, "PUT", "config", {"action_events": timing})["action_events"] == timing
    world.unplanned_failover(wait=False)
    early = plan_failover_events(world)  # raised at acceptance, delivered while the job runs
    assert [e["eventType"] for e in early] == ([SUCCESS] if timing != "completed" else [])
    works = deliver(world, early)
    worker_pass(world)  # the worker looks while the job runs (Azure's clock): not yet, and it looks again later
    assert job_ends(world) == "Succeeded"
    late = plan_failover_events(world)
    assert [e["eventType"] for e in late] == ([SUCCESS] if timing != "accepted" else [])
    works += deliver(world, late)
    outcomes = ends(world, works)

    assert len(outcomes) == len(early) + len(late) >= 1, outcomes  # every signal answered
    assert sorted(outcomes) == sorted(["reassigned", *["unchanged"] * (len(outcomes) - 1)])
    assert len(run_commands(world.emu)) == 1  # P5: one Run Command per failover, whatever the timing
    dr_lb = world.rt.network.get_load_balancer(world.lb_id)
    assert dr_lb is not None and dr_lb.frontend_ip
    assert_dr_state(world, dr_lb.frontend_ip)
    for event in early + late:
        assert records_of(world.rt, event["id"]), f"event {event['id']} has no outcome record"


@pytest.mark.parametrize("timing", ["completed", "accepted", "both"])
@pytest.mark.parametrize("ending", ["Failed", "Cancelled"])
def test_a_failover_that_fails_or_is_cancelled_is_recorded_so_and_changes_nothing(
        world: World, app_settings: None, timing: str, ending: str) -> None:
    world.enroll()
    control(world.emu, "PUT", "config", {"action_events": timing})
    if ending == "Failed":
        world.emu.faults.add(FaultRule(action="lro_fail", method="POST", path=r"/unplannedFailover$", count=1,
                                       code="A2AFailoverFailed", message="The failover failed."))
    else:
        control(world.emu, "PUT", "config", {"lro_polls": 1000})  # the job runs until the operator cancels it
    world.unplanned_failover(wait=False)
    early = plan_failover_events(world)
    if ending == "Cancelled":
        job = world.asr.replication_jobs.begin_cancel(world.rg, world.vault, failover_job(world)["name"]).result()
        assert job.properties.state == "Cancelled"
        control(world.emu, "PUT", "config", {"lro_polls": 0})
    works = deliver(world, early)  # the acceptance's signal, looked at again until the job ended
    worker_pass(world)
    assert job_ends(world) == ending
    late = plan_failover_events(world)
    ended = FAILURE if ending == "Failed" else CANCEL
    assert [e["eventType"] for e in late] == [ended]  # whatever the timing: an action that ended badly
    works += deliver(world, late)
    outcomes = ends(world, works)

    kind = "failed" if ending == "Failed" else "ignored"
    assert outcomes == [kind] * len(outcomes) and len(outcomes) == len(early) + len(late)
    assert f"ended {ending}" in last_record(world.rt)["reason"]
    assert run_commands(world.emu) == []
    assert {i.protection_state for i in world.rt.asr.list_items()} == {"Protected"}, "nothing failed over"
    for event in early + late:
        assert records_of(world.rt, event["id"]), f"event {event['id']} has no outcome record"


def test_the_action_event_timing_is_a_setting_and_refuses_what_it_cannot_do(emu: Emulator) -> None:
    assert control(emu, "GET", "config")["action_events"] == "completed"  # the default: as the emulator always did
    reply = emu.handle_control("PUT", "/_emulator/config", {}, b'{"action_events": "sometimes"}')
    assert reply[0] == 400 and "completed, accepted, both" in str(reply[1])
    assert control(emu, "GET", "config")["action_events"] == "completed"
