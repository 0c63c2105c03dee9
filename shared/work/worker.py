"""The worker: advance a work item by one bounded step, from a queue message or in-process until it ends.

A step first looks at the operation the item waits for (one status read, ``shared.azure.operations.look``); while it
runs, the step ends there and a delayed message brings the next look (the monitor pattern). Once it ended, or when
the item waits for nothing, the kind's step function runs: it observes, plans and applies one step of its workflow
and says ``Later`` (what it waits for, when to look again, the operation it started) or ``Done`` (the outcome it
recorded). Nothing here sleeps on Azure; ``run_inline`` (the CLI, without ``--no-wait``) sleeps between steps in
its own process, which is the operator's terminal, not an invocation.

Three entry points: ``handle_message`` (the queue trigger; raises so the host redelivers, and records the failure
naming the step and the error on the last delivery before the poison queue), ``run_queue`` (``asr-s2d worker``: the
same handling on the configured queue, locally) and ``run_inline``. ``enqueue`` is what the triggers call.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from shared.azure import operations
from shared.azure.operations import LOOK_SECONDS, WAIT_HERE, OperationPending, Pending
from shared.errors import PermanentError, RejectedInput, TransientError
from shared.observability import log_context, scrub
from shared.outcomes import Outcome
from shared.runtime import Runtime
from shared.state import ClusterLock
from shared.times import iso
from shared.work import item as items
from shared.work.item import Work

log = logging.getLogger(__name__)

# Each kind's step function, imported on first use (a cold start that handles one kind loads only its service).
STEP_FUNCTIONS = {
    "enroll": "shared.enrollment.service:work_step",
    "repair": "shared.audit.service:repair_step",
    "failover": "shared.failover.service:work_step",
    "runbook": "shared.failover.service:work_step",
    "reassign": "shared.failover.service:work_step",
    "drill": "shared.drill.service:work_step",
    "reprotect": "shared.way_back.service:work_step",
}


@dataclass(frozen=True)
class Later:
    """The item waits: look again after ``delay`` seconds (Azure time)."""

    delay: float
    reason: str
    pending: Pending | None = None  # the operation it started and waits for
    carry: dict[str, Any] | None = None  # None: unchanged
    cluster: str | None = None


@dataclass(frozen=True)
class Done:
    """The item ended: its outcome (already recorded by the step)."""

    outcome: dict[str, Any]
    failed: bool = False


Step = Later | Done
StepFunction = Callable[[Runtime, Work, "str | None"], Step]  # the str: why the operation it waited for failed


def started(err: OperationPending, reason: str, carry: dict[str, Any] | None = None,
            cluster: str | None = None) -> Later:
    """The step started a Site Recovery job that still runs: look at it again in ``LOOK_SECONDS``."""
    return Later(LOOK_SECONDS, f"{reason}: {err.pending.doing}", pending=err.pending, carry=carry, cluster=cluster)


def _function(kind: str) -> StepFunction:
    module, _, name = STEP_FUNCTIONS[kind].partition(":")
    fn: StepFunction = getattr(importlib.import_module(module), name)
    return fn


def advance(rt: Runtime, work: Work) -> tuple[Work, float | None]:
    """One bounded step of ``work`` (not saved): the item as it is after it, and the delay of its next look in
    seconds of Azure time (None when it ended). Transient errors propagate: the step is tried again."""
    failure = None
    pending = Pending.from_json(work.pending) if work.pending else None
    if pending is not None:
        try:
            operations.look(pending, rt.clients)
        except OperationPending:
            return replace(work, step=work.step + 1, status="waiting", reason=f"waiting for {pending.doing}",
                           due=_due(rt, LOOK_SECONDS)), LOOK_SECONDS
        except PermanentError as err:
            failure = str(err)
    with log_context(correlation_id=work.id):
        result = _function(work.kind)(rt, replace(work, pending=None), failure)
    if isinstance(result, Later):
        return replace(work, step=work.step + 1, status="waiting", reason=scrub(result.reason)[:500],
                       pending=result.pending.to_json() if result.pending else None,
                       carry=result.carry if result.carry is not None else work.carry,
                       cluster=result.cluster or work.cluster, due=_due(rt, result.delay)), result.delay
    reason = str(result.outcome.get("reason") or "")[:500]
    return replace(work, step=work.step + 1, status="failed" if result.failed else "done", reason=reason,
                   pending=None, outcome=result.outcome, cluster=result.outcome.get("cluster") or work.cluster,
                   due=None), None


def _due(rt: Runtime, delay: float) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=rt.clock.real_seconds(delay)))


def _work_lock(rt: Runtime, work_id: str) -> ClusterLock:
    """One step of an item at a time: another instance holding it makes this delivery retry later."""
    return ClusterLock(rt.blobs, f"work/{work_id}", seconds=rt.settings.lease_seconds, wait_seconds=0)


# -- in-process: the CLI's way, and the services' own entry points --------------------------------

T = TypeVar("T")


def wait_for(rt: Runtime, pending: Pending, *, report: Callable[[str], None] = lambda _m: None) -> str | None:
    """Look at a started operation until it ends, in this process, every ``ARM_POLLING_INTERVAL`` seconds (the app's
    polling interval, as the SDK's own poller would): None when it succeeded, why when it failed."""
    while True:
        try:
            operations.look(pending, rt.clients)
            return None
        except OperationPending:
            report(f"waiting for {pending.doing}")
            time.sleep(rt.settings.arm_polling_interval)
        except PermanentError as err:
            return str(err)


def until_done(rt: Runtime, attempt: Callable[[str | None], T], *,
               report: Callable[[str], None] = lambda _m: None) -> T:
    """Run a step function's core in this process until it ends: a plan the executor applies waits for each of its
    jobs in place and goes on (``WAIT_HERE``), as one run; a job started outside a plan (``OperationPending``) is
    waited for here and the core runs again, told why the job failed if it did."""
    failure: str | None = None
    waiting = WAIT_HERE.set(lambda pending: wait_for(rt, pending, report=report))  # plans go on after each job
    try:
        while True:
            try:
                return attempt(failure)
            except OperationPending as err:  # a job started outside a plan (a drill's test failover, say)
                failure = wait_for(rt, err.pending, report=report)
    finally:
        WAIT_HERE.reset(waiting)


# -- entry points ---------------------------------------------------------------------------------

def enqueue(rt: Runtime, work: Work) -> bool:
    """Store a new item and put its first step on the queue; False (nothing enqueued) when the same work was
    enqueued before (a duplicate delivery of its event)."""
    if not items.create(rt.records, work):
        return False
    rt.queue.send(work.message())
    log.info("work %s enqueued (cluster %s)", work.id, work.cluster or "-")
    return True


def handle_message(rt: Runtime, body: Any, *, dequeue_count: int = 1) -> str:
    """The queue trigger's entry point: one step of the item the message names; returns what happened. A step that
    fails raises (the host redelivers, then moves the message to the poison queue); on its last delivery the failure
    is recorded first, naming the item, the step and the error, and the item is marked failed."""
    try:
        work_id, step = items.parse_message(body)
    except RejectedInput as err:  # nothing to retry: recorded, and the message is done with
        rt.record(Outcome("work-message", "rejected", str(err), trigger="worker"))
        return "rejected"
    try:
        with _work_lock(rt, work_id):
            return _step(rt, work_id, step)
    except Exception as err:  # a held lock counts too: the delivery is retried, and poisoned after the last
        if dequeue_count >= rt.settings.work_max_dequeue:
            _poisoned(rt, work_id, step, err)
        raise


def _step(rt: Runtime, work_id: str, step: int) -> str:
    """Under the item's lease: its step, unless the message is stale; the next message before the save, so a crash
    in between repeats this step rather than skipping the next."""
    work = items.load(rt.records, work_id)
    if work is None:
        log.warning("work %s: no such item (its state was deleted); message dropped", work_id)
        return "missing"
    if work.ended or step < work.step:
        return "stale"
    after, delay = advance(rt, work)
    if delay is not None:
        rt.queue.send(after.message(), delay_seconds=rt.clock.real_seconds(delay))
    items.save(rt.records, after)
    return after.status


def _poisoned(rt: Runtime, work_id: str, step: int, err: Exception) -> None:
    """The last delivery failed: record it (an outcome naming the step and the error) and mark the item failed."""
    reason = scrub(f"work {work_id} failed at step {step} after {rt.settings.work_max_dequeue} deliveries and goes to "
                   f"the poison queue: {type(err).__name__}: {err}")[:1000]
    log.error("%s", reason)
    work = items.load(rt.records, work_id)
    rt.record(Outcome(f"work-{work_id}", "failed", reason, cluster=work.cluster if work else None, trigger="worker",
                      details={"work": work_id, "step": step}))
    if work is not None and not work.ended:
        with contextlib.suppress(Exception):
            items.save(rt.records, replace(work, status="failed", reason=reason))


def run_inline(rt: Runtime, work: Work, *, report: Callable[[str], None] = lambda _m: None) -> Work:
    """Advance ``work`` in this process until it ends, sleeping (``rt.clock``) between looks: the CLI's way (and
    the services' in-process entry points). The item is stored as it goes, so ``asr-s2d status`` shows it."""
    if not items.create(rt.records, work):
        stored = items.load(rt.records, work.id)
        if stored is None:
            raise TransientError(f"work {work.id}: stored and gone again")
        work = stored
        if work.ended:
            return work
    else:
        work = items.load(rt.records, work.id) or work
    said = ""
    while True:
        with _work_lock(rt, work.id):
            current = items.load(rt.records, work.id) or work
            after, delay = advance(rt, current)
            work = items.save(rt.records, after)
        if delay is None:
            return work
        if work.reason != said:  # once per thing waited for, not once per look
            report(f"{work.reason} (step {work.step})")
            said = work.reason
        if work.pending is not None:  # a job: looked at every ARM_POLLING_INTERVAL, as the SDK's own poller would
            time.sleep(rt.settings.arm_polling_interval)
        else:  # the guest, a drill slot: the step's own delay, in Azure time
            rt.clock.sleep(delay)


def run_queue(rt: Runtime, *, until_idle: bool = True, max_seconds: float | None = None, parallel: int = 4,
              poll_seconds: float = 0.2, retry_seconds: int = 5,
              report: Callable[[str], None] = lambda _m: None) -> dict[str, int]:
    """``asr-s2d worker``: take messages from the configured queue and handle each as the queue trigger does, up to
    ``parallel`` at once; a failed one becomes visible again after ``retry_seconds`` and goes to the poison queue
    after ``WORK_MAX_DEQUEUE`` deliveries. With ``until_idle`` it returns when the queue is empty (no message left,
    visible or delayed); ``max_seconds`` bounds the run. Returns counts by what happened."""
    counts: dict[str, int] = {}
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    queue = rt.queue
    queue.ensure()

    def one(message: Any) -> str:
        try:
            what = handle_message(rt, message.body, dequeue_count=message.dequeue_count)
        except Exception as err:  # noqa: BLE001 - as the host does: retry later, poison after the last delivery
            if message.dequeue_count >= rt.settings.work_max_dequeue:
                queue.to_poison(message)
                return "poisoned"
            log.warning("work message %s failed (delivery %d): %s", message.id, message.dequeue_count, err)
            queue.retry_later(message, retry_seconds)
            return "retried"
        queue.delete(message)
        return what

    def done(future: Future[str]) -> None:
        what = future.result()
        counts[what] = counts.get(what, 0) + 1
        report(what)

    # As the host does (host.json batchSize / newBatchThreshold): up to ``parallel`` messages in flight, and more
    # fetched as soon as one ends, so a slow step (a Run Command) never holds back the others.
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        running: set[Future[str]] = set()
        while deadline is None or time.monotonic() < deadline:
            room = max(1, parallel) - len(running)
            messages = queue.receive(max_messages=min(32, room), visibility_seconds=300) if room else []
            running |= {pool.submit(one, m) for m in messages}
            if not running:
                if until_idle and queue.approximate_count() == 0:
                    break
                time.sleep(poll_seconds)
                continue
            full = len(running) >= max(1, parallel)  # every slot busy: wait for one; else look for more soon
            ended, running = wait(running, timeout=None if full else poll_seconds, return_when=FIRST_COMPLETED)
            for future in ended:
                done(future)
        for future in running:  # the deadline came: let the steps in flight end (each is bounded)
            done(future)
    return counts
