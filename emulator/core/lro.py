"""Long-running operations as ARM runs them: ``Azure-AsyncOperation`` + ``Location`` headers.

An operation ends, running its completion callback, when it is read after it is due and after ``polls`` status
reads (0 by default). On the instant clock it is due when it starts, so the first poll sees it finished; on
Azure's clock (``emulator.core.clock``) it is due when its kind's Azure time has passed, scaled, and the
``Ticker`` ends it then even if nobody polls (Azure does not wait for a client to ask; the ARM event of a job
nobody waits on must still be published). The ticker never ends an operation that still owes reads, so
``lro_polls`` holds an operation on either clock. A callback that raises ``ArmError`` ends the operation
``Failed`` with that error, and a fault rule can force any operation to end ``Failed``. ``settle()``
finishes every pending operation, as time would. The responses that carry an operation (``accepted``,
``status_response``, ``result_response``) live in ``emulator.core.http``; this module knows no HTTP.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from emulator.core.clock import Clock
from emulator.core.errors import ArmError
from emulator.core.faults import Faults

log = logging.getLogger(__name__)

Completion = Callable[[], Any]
OnFault = Callable[[dict[str, Any]], None]

TICK_MAX_SLEEP = 0.5  # seconds the ticker sleeps at most (a clock switched to azure is seen within it)
TICK_BATCH = 100  # operations the ticker ends per pass, so one pass holds the world lock briefly


class Origin(Protocol):
    """What an operation takes from the request that starts it (an ``ArmRequest``)."""

    method: str
    path: str
    base_url: str
    api_version: str
    params: dict[str, str]


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Operation:
    id: str
    status_url: str
    result_url: str
    complete: Completion
    remaining_polls: int
    started: float = 0.0  # Clock.now() timestamps
    due: float = 0.0
    status: str = "InProgress"
    result: Any = None
    error: dict[str, Any] | None = None
    start_time: str = field(default_factory=utcnow_iso)
    end_time: str | None = None
    forced_failure: dict[str, Any] | None = None
    on_fault: OnFault | None = None  # told the error when a fault ends the operation without running ``complete``
    result_status: int = 200

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.status_url.split("?")[0], "name": self.id, "status": self.status,
                                "startTime": self.start_time}
        if self.end_time:
            body["endTime"] = self.end_time
        if self.error:
            body["error"] = self.error
        return body


class OperationStore:
    def __init__(self, lock: threading.RLock, faults: Faults, clock: Clock) -> None:
        self._lock = lock
        self._faults = faults
        self._clock = clock
        self._ops: dict[str, Operation] = {}
        self._running: dict[str, Operation] = {}
        self.default_polls = 0
        self.wakeup = threading.Event()  # set when an operation starts: the ticker recomputes its sleep

    def reset(self) -> None:
        with self._lock:
            self._ops.clear()
            self._running.clear()

    def snapshot(self) -> dict[str, Operation]:
        """The finished operations (immutable from now on, so shared, not copied); refused while one runs:
        its completion would write into the world the snapshot was taken from."""
        with self._lock:
            running = list(self._running)
            if running:
                raise ValueError(f"{len(running)} operation(s) still running: settle them before a checkpoint")
            return dict(self._ops)

    def restore(self, operations: dict[str, Operation]) -> None:
        with self._lock:
            self._ops = dict(operations)
            self._running = {op.id: op for op in self._ops.values() if op.status == "InProgress"}

    def start(self, request: Origin, complete: Completion, *, namespace: str, location: str,
              status_path: str | None = None, result_path: str | None = None, kind: str | None = None,
              size: dict[str, float] | None = None, on_fault: OnFault | None = None) -> Operation:
        """Register an operation; its URLs use the request's api-version, as ARM's do. ``kind`` names its duration
        in ``emulator.core.clock.DURATIONS`` (with ``size`` for one per unit); without one it is due at once.
        ``on_fault`` is told the error when an injected fault ends the operation without its completion."""
        op_id = str(uuid.uuid4())
        sub = request.params.get("subscriptionId", "00000000-0000-0000-0000-000000000000")
        base = f"{request.base_url}/subscriptions/{sub}/providers/{namespace}/locations/{location}"
        status = status_path or f"{base}/operations/{op_id}"
        result = result_path or f"{base}/operationResults/{op_id}"
        suffix = f"?api-version={request.api_version}" if request.api_version else ""
        started = self._clock.now()
        due = self._clock.due(kind, **(size or {})) if kind else started
        op = Operation(op_id, status + suffix, result + suffix, complete, self.default_polls, started=started, due=due,
                       on_fault=on_fault)
        op.forced_failure = self._faults.lro_failure(request.method, request.path)
        with self._lock:
            self._ops[op_id] = op
            self._running[op_id] = op
        self.wakeup.set()
        return op

    def spans(self, *, since: float) -> list[tuple[float, float]]:
        """``(started, due)`` of every operation started at or after ``since`` (``Clock.now()`` time)."""
        with self._lock:
            return [(op.started, op.due) for op in self._ops.values() if op.started >= since]

    def get(self, op_id: str) -> Operation:
        with self._lock:
            op = self._ops.get(op_id)
            if op is None:
                raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' was not found.")
            return op

    def poll(self, op_id: str) -> Operation:
        with self._lock:
            op = self.get(op_id)
            if op.status == "InProgress":
                if op.remaining_polls > 0:
                    op.remaining_polls -= 1
                elif self._clock.is_due(op.due):
                    self._finish(op)
            return op

    def cancel(self, op_id: str) -> Operation:
        """End a running operation ``Canceled`` without running its work (a Site Recovery job cancelled)."""
        with self._lock:
            op = self.get(op_id)
            if op.status == "InProgress":
                self._running.pop(op.id, None)
                op.end_time = utcnow_iso()
                op.status = "Canceled"
                op.error = {"code": "OperationCanceled", "message": "The operation was canceled."}
            return op

    def settle(self) -> int:
        with self._lock:
            pending = list(self._running.values())
            for op in pending:
                self._finish(op)
            return len(pending)

    def tick(self) -> float | None:
        """End the operations that are due and owe no reads (Azure's clock only; at most ``TICK_BATCH``, earliest
        first). Returns the seconds until the next one is due, or None when none waits on the clock."""
        if self._clock.instant:
            return None
        with self._lock:
            now = self._clock.now()
            waiting = [op for op in self._running.values() if op.remaining_polls == 0]
            for op in sorted((op for op in waiting if op.due <= now), key=lambda op: op.due)[:TICK_BATCH]:
                self._finish(op)
            later = [op.due for op in waiting if op.status == "InProgress"]
        return max(0.0, min(later) - now) if later else None

    def _finish(self, op: Operation) -> None:
        self._running.pop(op.id, None)
        op.end_time = utcnow_iso()
        if op.forced_failure is not None:
            op.status, op.error = "Failed", op.forced_failure
            if op.on_fault is not None:
                op.on_fault(op.forced_failure)
            return
        try:
            op.result = op.complete()
            op.status = "Succeeded"
        except ArmError as err:
            op.status = "Failed"
            op.error = err.envelope()["error"]
        except Exception as err:  # a bug in a completion must end its operation, not leave it running forever
            log.exception("operation %s failed in its completion", op.id)
            op.status = "Failed"
            op.error = {"code": "InternalServerError",
                        "message": f"The operation failed with an internal error: {type(err).__name__}."}


class Ticker:
    """One background thread that ends operations when they fall due (``OperationStore.tick``): it sleeps until
    the next due time, ``TICK_MAX_SLEEP`` at most, and wakes early when an operation starts."""

    def __init__(self, store: OperationStore) -> None:
        self._store = store
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="emulator-lro-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._store.wakeup.set()
        thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._store.wakeup.clear()
            try:
                wait = self._store.tick()
            except Exception:  # the ticker must outlive one bad pass
                log.exception("the operation ticker failed; it retries")
                wait = TICK_MAX_SLEEP
            self._store.wakeup.wait(TICK_MAX_SLEEP if wait is None else min(wait, TICK_MAX_SLEEP))

