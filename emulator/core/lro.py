"""Long-running operations as ARM runs them: ``Azure-AsyncOperation`` + ``Location`` headers.

An operation stays ``InProgress`` for ``polls`` status reads (0 by default: the first poll sees it
finished), then runs its completion callback. A callback that raises ``ArmError`` ends the operation
``Failed`` with that error, and a fault rule can force any operation to end ``Failed``. ``settle()``
finishes every pending operation, as time would. The responses that carry an operation (``accepted``,
``status_response``, ``result_response``) live in ``emulator.core.http``; this module knows no HTTP.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from emulator.core.errors import ArmError
from emulator.core.faults import Faults

Completion = Callable[[], Any]


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
    status: str = "InProgress"
    result: Any = None
    error: dict[str, Any] | None = None
    start_time: str = field(default_factory=utcnow_iso)
    end_time: str | None = None
    forced_failure: dict[str, Any] | None = None
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
    def __init__(self, lock: threading.RLock, faults: Faults) -> None:
        self._lock = lock
        self._faults = faults
        self._ops: dict[str, Operation] = {}
        self.default_polls = 0

    def reset(self) -> None:
        with self._lock:
            self._ops.clear()

    def snapshot(self) -> dict[str, Operation]:
        """The finished operations (immutable from now on, so shared, not copied); refused while one runs:
        its completion would write into the world the snapshot was taken from."""
        with self._lock:
            running = [op.id for op in self._ops.values() if op.status == "InProgress"]
            if running:
                raise ValueError(f"{len(running)} operation(s) still running: settle them before a checkpoint")
            return dict(self._ops)

    def restore(self, operations: dict[str, Operation]) -> None:
        with self._lock:
            self._ops = dict(operations)

    def start(self, request: Origin, complete: Completion, *, namespace: str, location: str,
              status_path: str | None = None, result_path: str | None = None) -> Operation:
        """Register an operation; its URLs use the request's api-version, as ARM's do."""
        op_id = str(uuid.uuid4())
        sub = request.params.get("subscriptionId", "00000000-0000-0000-0000-000000000000")
        base = f"{request.base_url}/subscriptions/{sub}/providers/{namespace}/locations/{location}"
        status = status_path or f"{base}/operations/{op_id}"
        result = result_path or f"{base}/operationResults/{op_id}"
        suffix = f"?api-version={request.api_version}" if request.api_version else ""
        op = Operation(op_id, status + suffix, result + suffix, complete, self.default_polls)
        op.forced_failure = self._faults.lro_failure(request.method, request.path)
        with self._lock:
            self._ops[op_id] = op
        return op

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
                else:
                    self._finish(op)
            return op

    def settle(self) -> int:
        with self._lock:
            pending = [op for op in self._ops.values() if op.status == "InProgress"]
            for op in pending:
                self._finish(op)
            return len(pending)

    def _finish(self, op: Operation) -> None:
        op.end_time = utcnow_iso()
        if op.forced_failure is not None:
            op.status, op.error = "Failed", op.forced_failure
            return
        try:
            op.result = op.complete()
            op.status = "Succeeded"
        except ArmError as err:
            op.status = "Failed"
            op.error = err.envelope()["error"]

