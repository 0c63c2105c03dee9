"""The worker as the bench runs it: ``shared.work.worker.run_queue`` (what ``asr-s2d worker`` and the queue trigger do)
on the lab's Azurite queue, with how long each message was held.

``timed(rt)`` gives the runtime a ``TimedQueue``: the same queue, which notes when each message was received and
when it was let go (deleted, released for a retry, or moved to the poison queue). ``run_queue`` hands a received
batch (at most ``parallel`` messages) to ``parallel`` threads at once, so a message's time held is its invocation's
wall time, and a little more (the receive and delete calls): an upper bound of what the queue trigger would run.
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.azure.queues import Message, WorkQueue

if TYPE_CHECKING:
    from shared.azure.clients import Clients
    from shared.runtime import Runtime


@dataclass
class Held:
    """Real seconds each message was held, in the order they were let go."""

    seconds: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, seconds: float) -> None:
        with self.lock:
            self.seconds.append(seconds)

    @property
    def count(self) -> int:
        return len(self.seconds)

    @property
    def longest(self) -> float:
        return max(self.seconds, default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {"invocations": self.count, "max_seconds": round(self.longest, 3),
                "p95_seconds": round(percentile(self.seconds, 95), 3),
                "median_seconds": round(statistics.median(self.seconds), 3) if self.seconds else 0.0}


def percentile(values: list[float], pct: float) -> float:
    """The ``pct``-th percentile (nearest rank) of ``values``; 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class TimedQueue(WorkQueue):
    """The work queue, noting how long each received message is held before it is let go."""

    def __init__(self, clients: Clients, name: str, held: Held) -> None:
        super().__init__(clients, name)
        self.held = held
        self._received: dict[str, float] = {}
        self._lock = threading.Lock()

    def receive(self, *, max_messages: int = 16, visibility_seconds: int = 300) -> list[Message]:
        messages = super().receive(max_messages=max_messages, visibility_seconds=visibility_seconds)
        now = time.monotonic()
        with self._lock:
            for message in messages:
                self._received[message.id] = now
        return messages

    def _let_go(self, message: Message) -> None:
        with self._lock:
            started = self._received.pop(message.id, None)
        if started is not None:
            self.held.add(time.monotonic() - started)

    def delete(self, message: Message) -> None:
        super().delete(message)
        self._let_go(message)

    def retry_later(self, message: Message, seconds: int) -> None:
        super().retry_later(message, seconds)
        self._let_go(message)

    def to_poison(self, message: Message) -> None:
        super().to_poison(message)
        self._let_go(message)


def timed(rt: Runtime, held: Held | None = None) -> tuple[Runtime, Held]:
    """``rt`` with a ``TimedQueue`` (the same queue and clients) noting into ``held`` (a new one when None)."""
    held = held if held is not None else Held()
    return dataclasses.replace(rt, queue=TimedQueue(rt.clients, rt.queue.name, held)), held


def drain(rt: Runtime, *, parallel: int = 4, max_seconds: float = 600.0) -> tuple[dict[str, int], Held]:
    """``run_queue`` until the queue is idle (no message left, visible or delayed): what happened to the messages,
    and how long each was held."""
    from shared.work.worker import run_queue

    worker_rt, held = timed(rt)
    counts = run_queue(worker_rt, until_idle=True, max_seconds=max_seconds, parallel=parallel, retry_seconds=1)
    return counts, held
