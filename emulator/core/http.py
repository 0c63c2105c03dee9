"""Request and response values passed between the server, the router and the handlers."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator.core.errors import ArmError, invalid_body

if TYPE_CHECKING:
    from emulator.core.identity import Principal
    from emulator.server import Emulator

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
    emulator: Emulator | None = None
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
    def ctx(self) -> Emulator:
        assert self.emulator is not None
        return self.emulator


@dataclass
class ArmResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def ok(body: Any) -> ArmResponse:
    return ArmResponse(200, body)


def created(body: Any) -> ArmResponse:
    return ArmResponse(201, body)


def no_content() -> ArmResponse:
    return ArmResponse(204)


def error_response(err: ArmError) -> ArmResponse:
    return ArmResponse(err.status, err.envelope(), dict(err.headers))
