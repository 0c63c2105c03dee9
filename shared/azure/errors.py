"""SDK errors mapped to the domain's error tree (``raise ... from err`` keeps the cause)."""

from __future__ import annotations

from typing import Any

from shared.errors import AsrS2dError, PermanentError, TransientError

TRANSIENT_STATUSES = frozenset({408, 409, 412, 423, 429, 500, 502, 503, 504})


def translate(err: Exception, doing: str) -> AsrS2dError:
    """``doing`` says what was attempted ("enable replication of s2d-node1"); the result names ARM's code."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(err, (ServiceRequestError, ServiceResponseError)):
        return TransientError(f"{doing}: connection failed ({type(err).__name__})")
    if isinstance(err, HttpResponseError):
        status = err.status_code or 0
        code = _code(err)
        message = _message(err)
        text = f"{doing}: {code or status}: {message}"
        if status in TRANSIENT_STATUSES or status == 0:
            return TransientError(text)
        return PermanentError(text)
    return TransientError(f"{doing}: {type(err).__name__}: {str(err)[:300]}")


def _code(err: Any) -> str:
    error = getattr(err, "error", None)
    return str(getattr(error, "code", "") or "")


def _message(err: Any) -> str:
    error = getattr(err, "error", None)
    message = getattr(error, "message", None) or getattr(err, "message", None) or str(err)
    return str(message).splitlines()[0][:500]


def is_not_found(err: Exception) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(err, ResourceNotFoundError)
