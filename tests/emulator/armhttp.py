"""Raw HTTPS calls to the emulator, for what an SDK client will not send: malformed bodies, missing or
unknown api-versions, lower-cased IDs, conditional headers on their own; and the control API.

Uses ``http.client`` with the emulator's CA and a token the emulator issued (the app's principal).
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

from emulator import Emulator
from emulator.core.identity import app_principal, issue_token


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: Any
    text: str

    @property
    def error_code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None


def request(emu: Emulator, method: str, path: str, *, body: Any = None, raw: bytes | None = None,
            query: dict[str, str] | None = None, headers: dict[str, str] | None = None,
            authorize: bool = True) -> Reply:
    host = urllib.parse.urlsplit(emu.endpoint)
    context = ssl.create_default_context(cafile=emu.ca_bundle)
    conn = http.client.HTTPSConnection(host.hostname or "127.0.0.1", host.port, context=context, timeout=10)
    send_headers = {"Content-Type": "application/json", **(headers or {})}
    if authorize:
        send_headers["Authorization"] = f"Bearer {issue_token(app_principal())[0]}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    url = path + ("?" + urllib.parse.urlencode(query) if query else "")
    try:
        conn.request(method, url, body=data, headers=send_headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        reply_headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return Reply(response.status, reply_headers, parsed, text)


def arm(emu: Emulator, method: str, path: str, *, api_version: str | None, body: Any = None, raw: bytes | None = None,
        headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> Reply:
    """An ARM request; ``api_version=None`` leaves the query parameter out."""
    params = dict(query or {})
    if api_version is not None:
        params["api-version"] = api_version
    return request(emu, method, path, body=body, raw=raw, query=params, headers=headers)


def control(emu: Emulator, method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None) -> Reply:
    """The emulator's control API under ``/_emulator/`` (no token needed)."""
    return request(emu, method, "/_emulator/" + path.lstrip("/"), body=body, query=query, authorize=False)


def control_json(emu: Emulator, method: str, path: str, body: Any = None, **query: str) -> Any:
    """The control API as another process calls it: the answer's JSON, which must come with a 200."""
    reply = control(emu, method, path, body=body, query=query)
    assert reply.status == 200, reply.text
    return reply.body


def drive_operations(emu: Emulator) -> None:
    """Finish every pending long-running operation, as time would (for requests sent with polling=False)."""
    emu.lro.settle()
