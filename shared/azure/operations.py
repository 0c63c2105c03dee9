"""Long-running operations that nobody waits for: start one, look at it once, and if it has not ended, say so.

A Site Recovery job takes minutes (an enable-replication job 5-15, a test failover 10-20; DESIGN.md rule 13). No
invocation sleeps on one: ``start`` sends the request and reads the operation's status at most once
(``OneLook``, azure-core's own ``ARMPolling`` that never sleeps); when the job still runs it raises
``OperationPending`` carrying azure-core's continuation token, which the worker stores with the work item and hands
back to ``look`` in a later invocation (a delayed queue message: the monitor pattern). ``look`` rebuilds the poller
from the token (``LROPoller.from_continuation_token``), reads the status once more, and returns the operation's
result when it ended, raises the translated error when it failed, or raises ``OperationPending`` again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from shared.azure.errors import translate, wire

# Seconds of Azure time between two looks at a running Site Recovery job: its jobs take minutes, and Microsoft's own
# samples look once every 30-60 s (the job's ``Retry-After`` is not honoured by the SDK for ASR, DESIGN.md facts).
LOOK_SECONDS = 60.0


@dataclass(frozen=True)
class Pending:
    """A started operation, as a work item stores it: what it does, and azure-core's continuation token."""

    doing: str
    token: str
    api: str  # the client kind that started it: "site_recovery", "compute" or "network"
    subscription: str

    def to_json(self) -> dict[str, str]:
        return {"doing": self.doing, "token": self.token, "api": self.api, "subscription": self.subscription}

    @classmethod
    def from_json(cls, body: Any) -> Pending | None:
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("doing", "token", "api",
                                                                                          "subscription")):
            return None
        return cls(body["doing"], body["token"], body["api"], body["subscription"])


# Where a caller runs a workflow in its own process (the CLI, ``shared.work.worker.until_done``): how it waits for a
# started operation there (None when it ended, why when it failed). Unset in the worker: there a started job ends
# the step. The executor reads it, so a plan applied in-process goes on with its next action, as one run.
WAIT_HERE: ContextVar[Callable[[Pending], str | None] | None] = ContextVar("asr_s2d_wait_here", default=None)


class OperationPending(Exception):
    """An operation was started (or looked at) and has not ended: look again later. Not an ``AsrS2dError``: no
    service may record it as a failure; the worker stores ``pending`` and enqueues a delayed follow-up.

    ``applied`` is set by the executor: what the plan had written before (and including) the action that started it.
    """

    def __init__(self, pending: Pending) -> None:
        super().__init__(f"{pending.doing}: still running")
        self.pending = pending
        self.applied: Any = None
        self.cluster: str | None = None  # the cluster whose step started it, where a step serves several


def _one_look() -> Any:
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    class OneLook(ARMPolling):
        """``ARMPolling`` that reads the status at most once and never sleeps; when the operation has ended it goes
        on as ARMPolling does (raises on Failed/Canceled, then the final GET of the resource)."""

        def _poll(self) -> None:
            if not self.finished():
                self.update_status()
            if self.finished():
                super()._poll()

    return OneLook(0)


def _raw(pipeline_response: Any) -> Any:
    response = pipeline_response.http_response
    try:
        return response.json() if response.text() else None
    except ValueError:
        return None


def start(doing: str, begin: Callable[..., Any], *args: Any, api: str, subscription: str) -> dict[str, Any] | None:
    """Start an operation (``begin`` is an SDK ``begin_*`` method) and look at it once: its result (a dict) when it
    already ended; ``OperationPending`` when it runs; the translated error when it failed."""
    try:
        poller = begin(*args, polling=_one_look())
        poller.wait()
        if not poller.polling_method().finished():
            raise OperationPending(Pending(doing, poller.continuation_token(), api, subscription))
        result = poller.result()
    except OperationPending:
        raise
    except Exception as err:
        raise translate(err, doing) from err
    return wire(result) if result is not None else None


APIS = ("site_recovery", "compute", "network")


def look(pending: Pending, clients: Any) -> Any:
    """Look once at a started operation, through the SDK client of ``pending.api`` from ``clients`` (a ``Clients``):
    its result (JSON) when it ended; ``OperationPending`` when it still runs; the translated error when it failed or
    was cancelled."""
    from azure.core.polling import LROPoller

    if pending.api not in APIS:
        raise ValueError(f"unknown operation api {pending.api!r}")
    client = getattr(clients, pending.api)(pending.subscription)
    try:
        poller = LROPoller.from_continuation_token(_one_look(), pending.token, client=client._client,
                                                   deserialization_callback=_raw)
        poller.wait()
        if not poller.polling_method().finished():
            raise OperationPending(pending)
        return poller.result()
    except OperationPending:
        raise
    except Exception as err:
        raise translate(err, pending.doing) from err
