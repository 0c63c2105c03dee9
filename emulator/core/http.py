"""Request and response values passed between the server, the router and the handlers, and the ``Host``
a request carries: the part of the emulator that providers, seeds and tools may use.

``ArmRequest`` and ``Host`` name each other (``req.ctx``, ``Host.emit(request)``), so they live in one
module; everything ``Host`` names sits below this one (``world``, ``lro``, ``events``), so nothing here
reaches ``emulator.server``, which implements ``Host``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from emulator.core.errors import ArmError, invalid_body

if TYPE_CHECKING:
    from emulator.core.events import EventBus
    from emulator.core.identity import Principal
    from emulator.core.lro import Operation, OperationStore
    from emulator.core.world import World

WRITE_METHODS = frozenset({"PUT", "PATCH", "POST", "DELETE"})


@dataclass
class ArmRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case keys
    raw_body: bytes
    base_url: str
    principal: Principal | None = None
    params: dict[str, str] = field(default_factory=dict)
    api_version: str = ""
    correlation_id: str = ""
    emulator: Host | None = None
    _body: Any = None
    _parsed: bool = False

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    @property
    def url(self) -> str:
        query = urllib.parse.urlencode(self.query)
        return f"{self.base_url}{self.path}" + (f"?{query}" if query else "")

    def json(self, *, required: bool = True) -> Any:
        """The parsed JSON body; a malformed or (when required) missing body is an ARM 400."""
        if not self._parsed:
            self._parsed = True
            if not self.raw_body.strip():
                self._body = None
            else:
                import json

                try:
                    self._body = json.loads(self.raw_body)
                except (ValueError, UnicodeDecodeError) as err:
                    raise invalid_body(f"The request content was invalid and could not be deserialized: {err}") from None
        if self._body is None and required:
            raise invalid_body("The request content was invalid and could not be deserialized: the body is empty.")
        return self._body

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise invalid_body("The request content was invalid and could not be deserialized: "
                               f"expected a JSON object, got {type(body).__name__}.")
        return body

    @property
    def ctx(self) -> Host:
        assert self.emulator is not None
        return self.emulator


@dataclass
class ArmResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ArmRequest], ArmResponse]
ControlHandler = Callable[[dict[str, str], Any], Any]


class Host(Protocol):
    """What providers (``register``, handlers through ``req.ctx``), seeds, the end-state snapshot and the
    app settings use of the emulator; ``emulator.server.Emulator`` is one."""

    world: World
    lro: OperationStore
    events: EventBus
    page_size: int
    seeded: dict[str, Any]
    endpoint: str
    ca_bundle: str | None

    def route(self, method: str, template: str, handler: Handler, *,
              api_versions: frozenset[str] | set[str]) -> None: ...

    def control(self, method: str, path: str, handler: ControlHandler) -> None: ...

    def emit(self, request: ArmRequest, *, operation_name: str, resource_uri: str,
             event_type: str = ..., method: str | None = None, status: str = ...) -> None: ...

    def handle_control(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, Any]: ...

    def identity_env(self) -> dict[str, str]: ...


def ok(body: Any) -> ArmResponse:
    return ArmResponse(200, body)


def created(body: Any) -> ArmResponse:
    return ArmResponse(201, body)


def no_content() -> ArmResponse:
    return ArmResponse(204)


def error_response(err: ArmError) -> ArmResponse:
    return ArmResponse(err.status, err.envelope(), dict(err.headers))


def accepted(op: Operation, *, body: Any = None, status: int = 202, location: bool = True) -> ArmResponse:
    """The first answer of a long-running request (201 for PUT create with a body, 202 otherwise)."""
    headers = {"Azure-AsyncOperation": op.status_url}
    if location:
        headers["Location"] = op.result_url
    return ArmResponse(status, body, headers)


def status_response(op: Operation) -> ArmResponse:
    return ArmResponse(200, op.status_body())


def result_response(op: Operation) -> ArmResponse:
    """What the ``Location`` URL answers: 202 while running, then the result (or the error)."""
    if op.status == "InProgress":
        return ArmResponse(202, None, {"Location": op.result_url})
    if op.status in ("Failed", "Canceled"):
        assert op.error is not None
        return ArmResponse(400 if op.error.get("code") != "InternalServerError" else 500, {"error": op.error})
    if op.result is None:
        return ArmResponse(204)
    return ArmResponse(op.result_status, op.result)
