"""ARM paging: ``{"value": [...], "nextLink": ...}`` with an opaque ``$skiptoken``."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Sequence
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "offset":
            raise ValueError(raw)
        return max(0, int(value))
    except (ValueError, UnicodeDecodeError):
        raise ArmError(400, "InvalidSkipToken", f"The skip token '{token}' is invalid.") from None


def paged(request: ArmRequest, items: Sequence[Any], *, page_size: int) -> ArmResponse:
    start = _decode(request.query["$skiptoken"]) if "$skiptoken" in request.query else 0
    end = start + page_size
    body: dict[str, Any] = {"value": list(items[start:end])}
    if end < len(items):
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = _encode(end)
        body["nextLink"] = f"{request.base_url}{request.path}?{urllib.parse.urlencode(query)}"
    return ArmResponse(200, body)
