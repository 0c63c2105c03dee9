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
# Event Grid waits this long for an endpoint's answer, then queues the event for retry
# (https://learn.microsoft.com/azure/event-grid/delivery-and-retry).
EVENT_GRID_WAIT_SECONDS = 30


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
    redeliveries: int = 0
    audits: int = 0
    operator_retries: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())


class EventGrid:
    """Delivers events as Event Grid does, through the azure-functions converter like the host, each to the
    function its type routes it to (the infra's subscription filters send action events to the failover
    function). A transient error (raised) is retried a few times now; an event still failing stays pending
    and is retried later (``retry_pending``): Event Grid keeps retrying for 24 hours."""

    def __init__(self, rt: Any, out: Out, run: StoryRun, *, attempts: int = 3) -> None:
        self.rt, self.out, self.run, self.attempts = rt, out, run, attempts
        self.pending: list[tuple[dict[str, Any], Callable[[Any, Any], Any]]] = []

    def deliver(self, events: list[dict[str, Any]], handle: Callable[[Any, Any], Any] | None = None) -> list[Any]:
        return self._deliver([(body, handle or handler_for(body)) for body in events], first=True)

    def retry_pending(self) -> list[Any]:
        waiting, self.pending = self.pending, []
        if waiting:
            self.out.detail(f"Event Grid retries {len(waiting)} event(s) that failed earlier")
        return self._deliver(waiting, first=False)

    def _deliver(self, deliveries: list[tuple[dict[str, Any], Callable[[Any, Any], Any]]], *, first: bool) -> list[Any]:
        """The outcomes of the events handled; the others wait in ``pending``."""
        outcomes = []
        for body, target in deliveries:
            outcome = self._attempts(body, target, first=first)
            if outcome is None:
                self.pending.append((body, target))
            else:
                outcomes.append(outcome)
        return outcomes

    def _attempts(self, body: dict[str, Any], handle: Callable[[Any, Any], Any], *, first: bool) -> Any:
        from emulator.delivery import as_trigger_event
        from shared.errors import TransientError

        for attempt in range(self.attempts):
            event = as_trigger_event(body)
            self.run.deliveries += 1
            self.run.redeliveries += attempt > 0 or not first
            started = self.out.azure.now() if self.out.azure else 0.0
            try:
                outcome = handle(event, self.rt)
            except TransientError as err:
                self.out.detail(f"event {body['id'][:8]}: transient ({str(err)[:160]}); Event Grid redelivers")
                continue
            finally:
                self._waited(body, started)
            self.run.outcomes[outcome.kind] += 1
            return outcome
        return None

    def _waited(self, body: dict[str, Any], started: float) -> None:
        """On Azure's clock: say when a delivery waited on Azure longer than Event Grid waits for its answer."""
        if self.out.azure is None:
            return
        waited = self.out.azure.spent(started)
        if waited > EVENT_GRID_WAIT_SECONDS:
            self.out.detail(f"event {body['id'][:8]}: its function waited on {azure_duration(waited)} of Azure "
                            f"operations; Event Grid waits {EVENT_GRID_WAIT_SECONDS} s for an answer, then redelivers")


def handler_for(body: dict[str, Any]) -> Callable[[Any, Any], Any]:
    from shared.enrollment import service as enrollment
    from shared.failover import service as failover

    return failover.handle if (body.get("eventType") or body.get("type")) == ACTION else enrollment.handle


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
