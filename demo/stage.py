"""What every chapter of the demo stands on: printing step by step, the operator's writes, Event Grid's
delivery to the functions, and the guest cluster's IP as the emulator's control API reads it.

Imports nothing of the demo; the chapters (``failover``, ``drill``) and the story import this.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.clients import control

ACTION = "Microsoft.Resources.ResourceActionSuccess"


class Out:
    """Step-by-step printing (``quiet`` prints nothing: the clean reference run of ``make chaos``)."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.step = 0

    def say(self, text: str) -> None:
        self.step += 1
        if not self.quiet:
            print(f"\n[{self.step}] {text}", flush=True)

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
            try:
                outcome = handle(event, self.rt)
            except TransientError as err:
                self.out.detail(f"event {body['id'][:8]}: transient ({str(err)[:160]}); Event Grid redelivers")
                continue
            self.run.outcomes[outcome.kind] += 1
            return outcome
        return None


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
    """The guest cluster's first IP Address resource on ``vm_id``, as the demo prints it."""
    cluster = control(emu, "GET", "guest", id=vm_id)
    resources = cluster.get("ip_resources") or []
    if not resources:
        return f"none ({cluster.get('access_point')} access point)"
    r = resources[0]
    return f"{r['address']} (probe {r['probe_port']}, network '{r['network']}', {r['state']})"
