"""What every chapter of the demo stands on: printing step by step, the operator's writes, Event Grid's
delivery to the functions, and the guest cluster's IP as the emulator's control API reads it.

Imports nothing of the demo; the chapters (``failover``, ``drill``) and the story import this.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.clients import control, time_passes

ACTION = "Microsoft.Resources.ResourceActionSuccess"
WORKER_MAX_SECONDS = 600  # the longest the worker runs after one delivery round (real seconds)


class AzureTime:
    """How long each step of the story takes in Azure, on the emulator's Azure clock: the time the Site Recovery and
    ARM operations the step started take there (overlapping ones counted once), from ``emulator.core.clock``'s
    durations; the app's own work, seconds in Azure, is left out."""

    def __init__(self, emu: Any) -> None:
        self.emu = emu
        self.since = emu.clock.now()
        self.total = 0.0

    def now(self) -> float:
        return float(self.emu.clock.now())

    def spent(self, since: float) -> float:
        """Azure seconds of the operations started since ``since`` (a ``now()``)."""
        busy, end = 0.0, float("-inf")
        for start, due in sorted(self.emu.lro.spans(since=since)):
            busy += max(0.0, due - max(start, end))
            end = max(end, due)
        return busy * float(self.emu.clock.time_scale)

    def lap(self) -> float:
        """Azure seconds of the operations started since the last lap."""
        now = self.now()
        azure = self.spent(self.since)
        self.since = now
        self.total += azure
        return azure


def azure_duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class Out:
    """Step-by-step printing (``quiet`` prints nothing: the clean reference run of ``make chaos``). With ``azure``,
    each step ends with the time it takes in Azure."""

    def __init__(self, *, quiet: bool = False, azure: AzureTime | None = None) -> None:
        self.quiet = quiet
        self.azure = azure
        self.step = 0

    def say(self, text: str) -> None:
        self.lap()
        self.step += 1
        if not self.quiet:
            print(f"\n[{self.step}] {text}", flush=True)

    def lap(self) -> None:
        """Close the step: what it took in Azure (on the emulator's Azure clock only)."""
        if self.azure is None or not self.step:
            return
        took = self.azure.lap()
        if took:
            scale = self.azure.emu.clock.time_scale
            self.detail(f"in Azure: {azure_duration(took)} of Site Recovery and ARM operations "
                        f"({took / scale:.1f} s here: the demo runs Azure's clock {scale:g}x faster)")

    def detail(self, text: str) -> None:
        if not self.quiet:
            print(f"    {text}", flush=True)

    def outcomes(self, outcomes: list[Any], *, ignored: bool = True) -> None:
        """Each event's outcome and the plan it applied (``ignored=False``: only the events that did something)."""
        for outcome in outcomes:
            if ignored or outcome.kind != "ignored":
                self.detail(f"event {outcome.event_id[:8]} -> {outcome.kind}: {outcome.reason}")
                for line in outcome.plan:
                    self.detail(f"  - {line}")


@dataclass
class StoryRun:
    """What one run of the story did and left."""

    end_state: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)  # injected, by kind ("status 429", "reset", ...)
    throttled: int = 0
    deliveries: int = 0
    redeliveries: int = 0  # Event Grid's (a trigger that raised) and the work queue's (a worker step that raised)
    events: set[str] = field(default_factory=set)  # the distinct events delivered
    audits: int = 0
    operator_retries: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())


@dataclass(frozen=True)
class Answer:
    """What one event came to: answered by its trigger at once, or the outcome of the work it enqueued."""

    event_id: str
    kind: str
    reason: str
    writes: int = 0
    plan: tuple[str, ...] = ()


class EventGrid:
    """Delivers events as Event Grid does, through the azure-functions converter like the host, each to the
    function its type routes it to (the infra's subscription filters send action events to the failover
    function). The functions answer at once: they screen the event and enqueue its work; the journal proves each
    delivery called nothing in Azure. The worker (``shared.work.worker.run_queue``) then takes the queued work in
    bounded steps. A transient error (raised: storage unreachable) is retried a few times now; an event still failing
    stays pending and is retried later (``retry_pending``): Event Grid keeps retrying for 24 hours."""

    def __init__(self, rt: Any, out: Out, run: StoryRun, *, emu: Any, attempts: int = 3) -> None:
        self.rt, self.out, self.run, self.emu, self.attempts = rt, out, run, emu, attempts
        self.pending: list[dict[str, Any]] = []
        self.azure_calls = 0  # ARM calls made inside a delivery (must stay 0: the triggers only enqueue)

    def deliver(self, events: list[dict[str, Any]]) -> list[Answer]:
        return self._deliver(events, first=True)

    def retry_pending(self) -> list[Answer]:
        waiting, self.pending = self.pending, []
        if waiting:
            self.out.detail(f"Event Grid retries {len(waiting)} event(s) that failed earlier")
        return self._deliver(waiting, first=False)

    def _deliver(self, bodies: list[dict[str, Any]], *, first: bool) -> list[Answer]:
        """Each event's answer: the trigger's, or (after the worker ran) its work's outcome; the others wait in
        ``pending``."""
        from shared.work import item as items
        from shared.work.worker import run_queue

        answered: list[Answer | str] = []
        for body in bodies:
            answer = self._attempts(body, first=first)
            if answer is None:
                self.pending.append(body)
            else:
                answered.append(answer)
        if any(isinstance(a, str) for a in answered):
            counts = run_queue(self.rt, until_idle=True, max_seconds=WORKER_MAX_SECONDS, retry_seconds=1)
            self.run.redeliveries += counts.get("retried", 0) + counts.get("poisoned", 0)
            self.out.detail(f"the worker took {sum(counts.values())} step(s): "
                            + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())))
        out = []
        for answer in answered:
            if isinstance(answer, str):
                work = items.load(self.rt.records, answer)
                answer = _work_answer(work) if work is not None else Answer(answer, "failed", "work item lost")
            self.run.outcomes[answer.kind] += 1
            out.append(answer)
        return out

    def _attempts(self, body: dict[str, Any], *, first: bool) -> Answer | str | None:
        """One delivery to the trigger (retried now while it raises): its answer, or the id of the work it queued."""
        from emulator.delivery import as_trigger_event
        from shared.errors import TransientError
        from shared.work.item import Work
        from shared.work.item import load as load_work
        from shared.work.worker import enqueue

        accept = acceptor_for(body)
        for attempt in range(self.attempts):
            event = as_trigger_event(body)
            self.run.deliveries += 1
            self.run.redeliveries += attempt > 0 or not first
            self.run.events.add(str(body.get("id")))
            seq = int(self.emu.journal.last_seq)
            try:
                answer = accept(event, self.rt)
                if isinstance(answer, Work) and not enqueue(self.rt, answer):
                    earlier = load_work(self.rt.records, answer.id)  # delivered before: its work answers
                    if earlier is not None and earlier.ended:
                        line = earlier.outcome or {}
                        return Answer(body["id"], "ignored", f"delivered again: its work {answer.id} ended "
                                                             f"{line.get('outcome', earlier.status)} already")
            except TransientError as err:
                self.out.detail(f"event {body['id'][:8]}: transient ({str(err)[:160]}); Event Grid redelivers")
                continue
            finally:
                self.azure_calls += self.calls_since(seq)
            if isinstance(answer, Work):
                return answer.id
            return Answer(answer.event_id, answer.kind, answer.reason, answer.writes, answer.plan)
        return None

    def calls_since(self, seq: int) -> int:
        """ARM calls the journal saw since ``seq`` (the deliveries run one at a time, the worker not meanwhile)."""
        return sum(1 for _entry in self.emu.journal.entries(since=seq))


def _work_answer(work: Any) -> Answer:
    line = work.outcome or {"outcome": work.status, "reason": work.reason}
    return Answer(str(line.get("event_id") or work.id), str(line.get("outcome") or work.status),
                  str(line.get("reason") or work.reason), int(line.get("writes") or 0),
                  tuple(str(p) for p in line.get("plan") or ()))


def acceptor_for(body: dict[str, Any]) -> Callable[[Any, Any], Any]:
    """The trigger an event goes to (``accept``: what the function does with it, short of enqueueing)."""
    from shared.enrollment import service as enrollment
    from shared.failover import service as failover

    return failover.accept if (body.get("eventType") or body.get("type")) == ACTION else enrollment.accept


def operator(action: Callable[[], Any], done: Callable[[], bool], *, what: str, detail: Callable[[str], None],
             run: StoryRun | None = None) -> None:
    """An operator's write: when it fails, they look whether it happened anyway, and otherwise try again."""
    from azure.core.exceptions import AzureError

    for _attempt in range(10):
        try:
            action()
            return
        except AzureError as err:
            if done():
                return
            if run is not None:
                run.operator_retries += 1
            detail(f"the operator's {what} failed ({type(err).__name__}: {str(err).splitlines()[0][:100]}); "
                   "they try again")
    raise SystemExit(f"the operator's {what} never succeeded")


def cluster_ip(emu: Any, vm_id: str) -> str:
    """The guest cluster's IP Address resources on ``vm_id`` (the cluster IP, then each role's), as the demo prints
    them."""
    cluster = control(emu, "GET", "guest", id=vm_id)
    resources = cluster.get("ip_resources") or []
    if not resources:
        return f"none ({cluster.get('access_point')} access point)"
    return "; ".join(f"{'' if r.get('group') in (None, 'Cluster Group') else r['group'] + ': '}{r['address']} (probe "
                     f"{r['probe_port']}, network '{r['network']}', {r['state']})" for r in resources)


def replication_passes(emu: Any, out: Out) -> None:
    """Time passes until the jobs end and initial replication (or the resync after a reprotect) is done: hours in
    Azure, at once here, and on Azure's clock the demo says how long it would have taken."""
    if not emu.clock.instant:
        items = emu.world.by_type("Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/"
                                  "replicationProtectedItems")
        largest = max((int(d.get("diskCapacityInBytes") or 0) for i in items
                       for d in i["properties"]["providerSpecificDetails"].get("protectedManagedDisks", [])), default=0)
        gib = largest / 1024 ** 3
        out.detail(f"in Azure: about {azure_duration(emu.clock.azure_seconds('initial_replication', gib=gib))} of "
                   f"replication (the largest disk, {gib:g} GiB); the demo lets that time pass at once")
    time_passes(emu)
