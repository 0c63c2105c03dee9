"""The work queue in tests: the runbook's asynchronous call made the way the shipped runbook makes it (POST, then
poll the status URL), with the worker (``shared.work.worker.run_queue``) taking the queued step in between."""

from __future__ import annotations

from typing import Any

from shared.failover import service as failover
from shared.runtime import Runtime
from shared.work.worker import run_queue


def runbook(body: bytes | str, rt: Runtime, *, max_seconds: float = 30.0) -> tuple[int, dict[str, Any]]:
    """POST the RecoveryPlanContext; on ``202 Accepted`` run the worker until the queue is idle (at most
    ``max_seconds``: a failover that has not ended keeps its work looking again) and answer what the status URL
    answers then."""
    status, answer = failover.handle_runbook(body.encode() if isinstance(body, str) else body, rt=rt)
    if status != 202:
        return status, answer
    run_queue(rt, until_idle=True, max_seconds=max_seconds, retry_seconds=1)
    return failover.runbook_status(str(answer["status"]), rt=rt)
