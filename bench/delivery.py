"""Event Grid as the bench plays it: each event decoded by the azure-functions converter, as the Functions host
does (``emulator.delivery.as_trigger_event``), and handed to a service entry point; a ``TransientError`` (a held
cluster lock, throttling that outlasted the SDK's retries) is redelivered after a short backoff, a bounded
number of times, like Event Grid's retries.

``deliver`` runs the events in order on one thread, or with ``workers > 1`` concurrently on a thread pool, as
many Functions instances would. It counts attempts, redeliveries and events that never got an outcome.

``trigger(accept)`` is the Event Grid trigger's own work for ``deliver``: a service's ``accept`` (screen, answer or
build the work item), then ``shared.work.worker.enqueue`` — what ``handle_trigger`` does with the process's runtime —
timed per invocation.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Enqueued:
    """What the trigger answered for an event it enqueued work for: ``enqueued``, or ``duplicate`` when the same work
    was enqueued before (a duplicate delivery of its event)."""

    kind: str
    work: str


@dataclass
class Trigger:
    """A trigger's work as a ``deliver`` handler, and the wall time of each of its invocations (real seconds)."""

    accept: Callable[[Any, Any], Any]
    seconds: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, event: Any, rt: Any) -> Any:
        from shared.work.item import Work
        from shared.work.worker import enqueue

        started = time.monotonic()
        try:
            accepted = self.accept(event, rt)
            if isinstance(accepted, Work):
                return Enqueued("enqueued" if enqueue(rt, accepted) else "duplicate", accepted.id)
            return accepted
        finally:
            with self.lock:
                self.seconds.append(time.monotonic() - started)


def trigger(accept: Callable[[Any, Any], Any]) -> Trigger:
    return Trigger(accept)


@dataclass
class Delivery:
    events: int = 0
    attempts: int = 0
    redeliveries: int = 0
    lost: list[str] = field(default_factory=list)  # events that never got an outcome (ID, and the error if any)
    outcomes: list[Any] = field(default_factory=list)
    transient_reasons: Counter[str] = field(default_factory=Counter)
    transient_examples: dict[str, str] = field(default_factory=dict)  # the first message of each reason
    seconds: float = 0.0

    @property
    def kinds(self) -> dict[str, int]:
        return dict(Counter(o.kind for o in self.outcomes).most_common())

    def to_json(self) -> dict[str, Any]:
        return {"events": self.events, "attempts": self.attempts, "redeliveries": self.redeliveries,
                "lost": len(self.lost), "outcomes": self.kinds, "seconds": round(self.seconds, 2),
                "transient_reasons": dict(self.transient_reasons.most_common(5)),
                "transient_examples": {r: self.transient_examples[r] for r, _n in self.transient_reasons.most_common(5)}}


def _reason(err: Exception) -> str:
    """A short bucket for a transient error's message (what kept an event from finishing the first time)."""
    text = str(err).lower()
    for needle, label in (("giving up after", "cluster lock held too long"), ("lost the lease", "lease lost mid-run"),
                          ("lease", "cluster lock"), ("429", "throttled"), ("toomanyrequests", "throttled"),
                          ("conflict", "conflict"), ("connection", "connection")):
        if needle in text:
            return label
    return type(err).__name__


def deliver(events: Sequence[dict[str, Any]], handle: Handler, rt: Any, *, workers: int = 1, max_attempts: int = 8,
            backoff: float = 0.5, seed: int = 7) -> Delivery:
    """Deliver every event until it yields an outcome or ``max_attempts`` transient failures lose it."""
    from emulator.delivery import as_trigger_event
    from shared.errors import TransientError

    result = Delivery(events=len(events))
    lock = threading.Lock()
    jitter = random.Random(seed)

    def one(body: dict[str, Any]) -> None:
        for attempt in range(1, max_attempts + 1):
            try:
                outcome = handle(as_trigger_event(body), rt)
            except TransientError as err:
                with lock:
                    result.attempts += 1
                    result.transient_reasons[_reason(err)] += 1
                    result.transient_examples.setdefault(_reason(err), str(err)[:300])
                    if attempt < max_attempts:
                        result.redeliveries += 1
                    pause = backoff * attempt * (0.5 + jitter.random())
                if attempt < max_attempts:
                    time.sleep(pause)
                continue
            except Exception as err:  # a bug, not weather: the event fails for good, and the bench says so
                with lock:
                    result.attempts += 1
                    result.lost.append(f"{body.get('id')}: {type(err).__name__}: {err}"[:300])
                return
            with lock:
                result.attempts += 1
                result.outcomes.append(outcome)
            return
        with lock:
            result.lost.append(str(body.get("id")))

    started = time.monotonic()
    if workers <= 1:
        for body in events:
            one(body)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eventgrid") as pool:
            list(pool.map(one, events))
    result.seconds = time.monotonic() - started
    return result
