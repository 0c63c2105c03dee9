"""SDK calls and their errors, mapped to the domain's error tree (``raise ... from err`` keeps the cause).

An error's text is where Azure's words enter the domain; an ARM message may quote a key, a SAS or a token, so
the text is scrubbed here (``shared.observability.scrub``), before it is cut, and only then recorded anywhere.

``read`` and ``read_or_none`` run one SDK call and return its wire form (a plain dict) or, for a list, the
dicts of every page; a 404 is ``None`` (or ``[]``) only where the gateway asks for that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from shared.errors import AsrS2dError, PermanentError, TransientError
from shared.observability import scrub

TRANSIENT_STATUSES = frozenset({408, 409, 412, 423, 429, 500, 502, 503, 504})


def translate(err: Exception, doing: str) -> AsrS2dError:
    """``doing`` says what was attempted ("enable replication of s2d-node1"); the result names ARM's code."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(err, (ServiceRequestError, ServiceResponseError)):
        return TransientError(scrub(f"{doing}: connection failed ({type(err).__name__})"))
    if isinstance(err, HttpResponseError):
        status = err.status_code or 0
        code = error_code(err)
        message = _message(err)
        text = scrub(f"{doing}: {code or status}: {message}")
        if status in TRANSIENT_STATUSES or status == 0:
            return TransientError(text)
        return PermanentError(text)
    return TransientError(f"{scrub(doing)}: {type(err).__name__}: {scrub(str(err))[:300]}")


def error_code(err: Any) -> str:
    """ARM's error code of an SDK error (``""`` when it carries none)."""
    error = getattr(err, "error", None)
    return str(getattr(error, "code", "") or "")


def _message(err: Any) -> str:
    error = getattr(err, "error", None)
    message = getattr(error, "message", None) or getattr(err, "message", None) or str(err)
    lines = str(message).splitlines()
    return scrub(lines[0] if lines else "")[:500]


def is_not_found(err: Exception) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(err, ResourceNotFoundError)


def wire(model: Any) -> dict[str, Any]:
    """An SDK model (or a plain mapping) as its JSON dict: gateways map dicts, never SDK models, to domain values."""
    return model.as_dict() if hasattr(model, "as_dict") else dict(model)


def read(doing: str, call: Callable[[], Any]) -> dict[str, Any]:
    """One SDK read as a dict; every error translated (``doing`` says what was attempted)."""
    try:
        return wire(call())
    except Exception as err:
        raise translate(err, doing) from err


def read_or_none(doing: str, call: Callable[[], Any]) -> dict[str, Any] | None:
    """One SDK read as a dict, or None when the resource does not exist."""
    try:
        return wire(call())
    except Exception as err:
        if is_not_found(err):
            return None
        raise translate(err, doing) from err


def read_raw_pages(doing: str, client: Any, url: str) -> list[dict[str, Any]]:
    """Every ``value`` item of a paged ARM list read with the client's raw ``send_request`` (for an API the SDK does
    not model, or an api-version it does not speak), following ``nextLink``; every error translated."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    found: list[dict[str, Any]] = []
    next_url: str | None = url
    try:
        while next_url:
            response = client.send_request(HttpRequest("GET", next_url))
            if response.status_code != 200:
                raise HttpResponseError(response=response, error_format=ARMErrorFormat)
            page = response.json()
            found += [item for item in page.get("value") or [] if isinstance(item, dict)]
            next_url = page.get("nextLink")
    except Exception as err:
        raise translate(err, doing) from err
    return found


def read_all(doing: str, pages: Callable[[], Iterable[Any]], *, missing_is_empty: bool = False) -> list[dict[str, Any]]:
    """Every item of a paged SDK list as dicts; with ``missing_is_empty``, a 404 of the parent is an empty list."""
    try:
        return [wire(x) for x in pages()]
    except Exception as err:
        if missing_is_empty and is_not_found(err):
            return []
        raise translate(err, doing) from err
