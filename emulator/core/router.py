"""Route table: method + path template (case-insensitive, as ARM IDs are) -> handler."""

from __future__ import annotations

import re
from dataclasses import dataclass

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, Handler

_PARAM = re.compile(r"\{(\w+)(:path)?\}")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    api_versions: frozenset[str]
    pattern: re.Pattern[str]
    literal_segments: int


class Router:
    """Matches the most specific route; unknown api-versions are refused as ARM refuses them."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, *, api_versions: frozenset[str] | set[str]) -> None:
        parts: list[str] = []
        pos = 0
        for match in _PARAM.finditer(template):
            parts.append(re.escape(template[pos:match.start()]))
            # ``{name:path}`` spans segments (a tag scope is any resource ID); ``{name}`` is one segment.
            parts.append(f"(?P<{match.group(1)}>/.+?)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)")
            pos = match.end()
        parts.append(re.escape(template[pos:]))
        pattern = re.compile("^" + "".join(parts) + "/?$", re.IGNORECASE)
        literal = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
        self._routes.append(Route(method.upper(), template, handler, frozenset(api_versions), pattern, literal))
        self._routes.sort(key=lambda r: -r.literal_segments)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        path_matched = False
        for route in self._routes:
            found = route.pattern.match(path)
            if not found:
                continue
            path_matched = True
            if route.method == method:
                return route, {k: _unquote(v) for k, v in found.groupdict().items()}
        if path_matched:
            raise ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")
        raise ArmError(404, "InvalidResourceType", f"The resource type for path '{path}' could not be found.")

    @staticmethod
    def check_api_version(route: Route, request: ArmRequest) -> None:
        version = request.query.get("api-version")
        if not version:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all requests.")
        if version not in route.api_versions:
            supported = ", ".join(sorted(route.api_versions))
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{version}' is invalid. The supported versions are '{supported}'.")
        request.api_version = version


def _unquote(value: str) -> str:
    import urllib.parse

    return urllib.parse.unquote(value)
