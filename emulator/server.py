"""The emulator's HTTPS server: the request pipeline every ARM call goes through, and the control API.

Pipeline: control API (``/_emulator/``) -> bearer token -> injected fault -> throttle -> route and
api-version -> handler -> journal -> events. Handlers raise ``ArmError`` for ARM's errors; anything
else becomes a 500 envelope (logged here, never sent as a stack trace).
"""

from __future__ import annotations

import copy
import json
import logging
import socket
import ssl
import struct
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from emulator.core.clock import Clock
from emulator.core.errors import ArmError
from emulator.core.events import COMPLETED, ArmEvent, EventBus, Subscriber, checked_timing
from emulator.core.faults import FaultRule, Faults
from emulator.core.http import ArmRequest, ArmResponse, ControlHandler, error_response, result_response, status_response
from emulator.core.identity import app_principal, issue_token, operator_principal, principal_from_authorization
from emulator.core.journal import Journal
from emulator.core.lro import OperationStore, Ticker
from emulator.core.router import Router
from emulator.core.throttle import Throttle, ThrottleConfig
from emulator.core.world import World

log = logging.getLogger(__name__)

_ANY_VERSION: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Checkpoint:
    world: Any
    operations: Any
    seeded: dict[str, Any]


class _DropConnection(Exception):
    """Raised to close the socket without an answer (an injected connection reset)."""


class Emulator:
    """One emulated Azure: world state, routes of every provider, and the servers that expose them.

    Providers, seeds and tools see it as an ``emulator.core.http.Host``. ``clock`` is the instant clock unless
    given (``Clock("azure", time_scale=...)``: see ``emulator.core.clock``); ``set_clock`` changes it later."""

    def __init__(self, *, page_size: int = 100, throttle: ThrottleConfig | None = None,
                 clock: Clock | None = None, action_events: str = COMPLETED) -> None:
        self.world = World(clock=clock)
        self.router = Router()
        self.journal = Journal()
        self.faults = Faults()
        self.throttle = Throttle(throttle)
        self.lro = OperationStore(self.world.lock, self.faults, self.world.clock)
        self._ticker = Ticker(self.lro)
        self.events = EventBus(lambda: self.ca_bundle, action_events=action_events)
        self._action_events = self.events.action_events  # what ``reset`` returns to
        self.page_size = page_size
        self.ca_bundle: str | None = None
        self.endpoint = ""
        self.identity_endpoint = ""
        self.identity_header = uuid.uuid4().hex
        self._control: list[tuple[str, str, ControlHandler]] = []
        self._reset_hooks: list[Callable[[], None]] = []
        self._servers: list[ThreadingHTTPServer] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="asr-s2d-emulator-")
        self.seeded: dict[str, Any] = {}
        self._register_core()
        from emulator.providers import register_all

        register_all(self)

    # -- extension points used by providers -------------------------------------------------
    def route(self, method: str, template: str, handler: Callable[[ArmRequest], ArmResponse], *,
              api_versions: frozenset[str] | set[str]) -> None:
        self.router.add(method, template, handler, api_versions=api_versions)

    def control(self, method: str, path: str, handler: ControlHandler) -> None:
        """Register a control endpoint under ``/_emulator/``; ``path`` may hold ``{param}`` parts."""
        self._control.append((method.upper(), path.strip("/"), handler))

    def on_reset(self, hook: Callable[[], None]) -> None:
        self._reset_hooks.append(hook)

    def emit(self, request: ArmRequest, *, operation_name: str, resource_uri: str,
             event_type: str = "Microsoft.Resources.ResourceWriteSuccess", method: str | None = None,
             status: str = "Succeeded") -> None:
        """Publish the ARM event a request causes (a successful write, or how an action ended), attributed to the
        request's caller."""
        self.events.publish(ArmEvent(
            event_type=event_type, operation_name=operation_name, resource_uri=resource_uri,
            subscription_id=resource_uri.split("/")[2] if resource_uri.lower().startswith("/subscriptions/") else "",
            principal=request.principal, correlation_id=request.correlation_id,
            http_method=method or request.method, url=request.url, status=status))

    @property
    def clock(self) -> Clock:
        return self.world.clock

    def set_clock(self, mode: str | None = None, *, time_scale: float | None = None) -> None:
        """Switch between the instant clock and Azure's, or change the time scale; operations already running keep
        the due time they started with (``settle`` ends them all)."""
        self.world.clock.set(mode, time_scale=time_scale)
        self.lro.wakeup.set()

    # -- lifecycle ------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.world.lock:
            self.world.clear()
            self.lro.reset()
            self.journal.clear()
            self.faults.clear()
            self.events.clear()
            self.events.action_events = self._action_events
            self.throttle.reset()
            self.seeded = {}
            for hook in self._reset_hooks:
                hook()

    def checkpoint(self) -> Checkpoint:
        """The world as it is now (resources, provider state, finished operations, seeded IDs), to ``restore``
        later: a test can build a world once (enrolled, protected) and start each case from it. Every
        operation must have finished (``lro.settle()``)."""
        with self.world.lock:
            return Checkpoint(world=self.world.snapshot(), operations=self.lro.snapshot(),
                              seeded=copy.deepcopy(self.seeded))

    def restore(self, checkpoint: Checkpoint) -> None:
        """``reset()`` (journal, faults, subscribers, throttle included), then the checkpoint's world."""
        with self.world.lock:
            self.reset()
            self.world.restore(checkpoint.world)
            self.lro.restore(checkpoint.operations)
            self.seeded = copy.deepcopy(checkpoint.seeded)

    def seed(self, name: str) -> dict[str, Any]:
        from emulator.seed import SEEDS

        if name not in SEEDS:
            raise ValueError(f"unknown seed {name!r}; known: {sorted(SEEDS)}")
        self.seeded = SEEDS[name](self)
        return self.seeded

    def start(self, *, port: int = 0, identity_port: int = 0) -> None:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca_path = Path(self._tmp.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        self.ca_bundle = str(ca_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        arm = _TlsServer(("127.0.0.1", port), _make_handler(self, arm=True), context)
        ident = ThreadingHTTPServer(("127.0.0.1", identity_port), _make_handler(self, arm=False))
        ident.daemon_threads = True
        self._servers = [arm, ident]
        for server in self._servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        self._ticker.start()
        self.endpoint = f"https://127.0.0.1:{arm.server_address[1]}"
        self.identity_endpoint = f"http://127.0.0.1:{ident.server_address[1]}/msi/token"

    def stop(self) -> None:
        self._ticker.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []
        self._tmp.cleanup()

    def identity_env(self) -> dict[str, str]:
        """What the real ManagedIdentityCredential needs to get tokens from this emulator."""
        return {"IDENTITY_ENDPOINT": self.identity_endpoint, "IDENTITY_HEADER": self.identity_header,
                "AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential"}

    # -- request pipeline ------------------------------------------------------------------------
    def handle_arm(self, request: ArmRequest) -> ArmResponse:
        request.emulator = self
        request.correlation_id = request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        poll = False
        fault_name: str | None = None
        try:
            principal, _claims = principal_from_authorization(request.headers.get("authorization"))
            request.principal = principal
            fault = self.faults.on_request(request.method, request.path)
            if fault is not None:
                fault_name = fault.action
                if fault.action == "reset":
                    raise _DropConnection()
                if fault.action == "latency":
                    time.sleep(fault.latency_ms / 1000)
                else:
                    headers = {"Retry-After": str(fault.retry_after)} if fault.status in (429, 503) else {}
                    raise ArmError(fault.status, fault.error_code, fault.message, headers=headers)
            sub = _subscription_of(request.path)
            kind = "writes" if request.is_write else "reads"
            retry_after, remaining = self.throttle.take(sub or "tenant", kind)
            if retry_after is not None:
                fault_name = "throttled"
                raise ArmError(429, "TooManyRequests",
                               f"Number of '{kind[:-1]}' requests for subscription '{sub}' actor '{principal.object_id}' "
                               f"exceeded. Please try again after '{retry_after}' seconds after the last request.",
                               headers={"Retry-After": str(retry_after),
                                        f"x-ms-ratelimit-remaining-subscription-{kind}": "0"})
            route, params = self.router.match(request.method, request.path)
            request.params = params
            if route.api_versions:
                self.router.check_api_version(route, request)
            else:
                request.api_version = request.query.get("api-version", "")
            poll = route.template.endswith(("/operations/{operationId}", "/operationResults/{operationId}"))
            response = route.handler(request)
            response.headers.setdefault(f"x-ms-ratelimit-remaining-subscription-{kind}", str(remaining))
        except _DropConnection:
            self._journal(request, 0, poll, "reset")
            raise
        except ArmError as err:
            response = error_response(err)
        except Exception as err:
            log.exception("emulator handler failed for %s %s", request.method, request.path)
            response = error_response(ArmError(500, "InternalServerError",
                                               f"The server encountered an internal error: {type(err).__name__}."))
        response.headers.setdefault("x-ms-correlation-request-id", request.correlation_id)
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        self._journal(request, response.status, poll, fault_name)
        return response

    def _journal(self, request: ArmRequest, status: int, poll: bool, fault: str | None) -> None:
        try:
            body = request.json(required=False) if request.raw_body else None
        except ArmError:
            body = request.raw_body[:2048].decode("utf-8", "replace")
        self.journal.record(method=request.method, path=request.path, query=request.query, status=status,
                            principal=request.principal.object_id if request.principal else None,
                            body=body, poll=poll, fault=fault, user_agent=request.headers.get("user-agent", ""))

    # -- core routes and control API ------------------------------------------------------------
    def _register_core(self) -> None:
        def op_status(req: ArmRequest) -> ArmResponse:
            return status_response(self.lro.poll(req.params["operationId"]))

        def op_result(req: ArmRequest) -> ArmResponse:
            return result_response(self.lro.poll(req.params["operationId"]))

        base = "/subscriptions/{subscriptionId}/providers/{namespace}/locations/{location}"
        self.route("GET", base + "/operations/{operationId}", op_status, api_versions=_ANY_VERSION)
        self.route("GET", base + "/operationResults/{operationId}", op_result, api_versions=_ANY_VERSION)

        self.control("POST", "reset", lambda p, b: (self.reset(), {"reset": True})[1])
        self.control("POST", "seed", lambda p, b: self.seed(str((b or {}).get("name", "demo"))))
        self.control("GET", "world", lambda p, b: self.seeded)
        self.control("GET", "journal", lambda p, b: [e.to_json() for e in self.journal.entries(int(p.get("since", 0)))])
        self.control("DELETE", "journal", lambda p, b: (self.journal.clear(), {"cleared": True})[1])
        self.control("GET", "faults", lambda p, b: {"rules": [r.to_json() for r in self.faults.rules()],
                                                    "injected": dict(self.faults.injected)})
        self.control("POST", "faults", lambda p, b: self.faults.add(FaultRule.from_json(_require_object(b))).to_json())
        self.control("DELETE", "faults", lambda p, b: (self.faults.clear(), {"cleared": True})[1])
        self.control("GET", "throttle", lambda p, b: {**self.throttle.config.__dict__, "rejected": self.throttle.rejected})
        self.control("PUT", "throttle", lambda p, b: (self.throttle.reset(self.throttle.config.updated(_require_object(b))),
                                                      self.throttle.config.__dict__)[1])
        self.control("GET", "config", lambda p, b: self._config())
        self.control("PUT", "config", self._put_config)
        self.control("POST", "operations/settle", lambda p, b: {"settled": self.lro.settle()})
        self.control("POST", "subscriptions", self._subscribe)
        self.control("GET", "subscriptions", lambda p, b: [s.to_json() for s in self.events.subscribers()])
        self.control("DELETE", "subscriptions", lambda p, b: (self.events.clear(), {"cleared": True})[1])
        self.control("GET", "events/{subscriber}", lambda p, b: self.events.drain(p["subscriber"]))
        self.control("POST", "identity/token", self._token)
        self.control("GET", "resource", lambda p, b: self._resource(p))

    def _put_config(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        data = _require_object(body)
        unknown = set(data) - {"page_size", "lro_polls", "clock", "time_scale", "action_events"}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        page_size = max(1, int(data.get("page_size", self.page_size)))
        polls = max(0, int(data.get("lro_polls", self.lro.default_polls)))
        mode, scale = data.get("clock", self.clock.mode), data.get("time_scale", self.clock.time_scale)
        if not isinstance(mode, str) or isinstance(scale, bool) or not isinstance(scale, int | float):
            raise ValueError("clock must be a string and time_scale a number")
        Clock(mode, time_scale=scale)  # refused here, before anything changes
        timing = checked_timing(data.get("action_events", self.events.action_events))
        self.page_size, self.lro.default_polls, self.events.action_events = page_size, polls, timing
        self.set_clock(mode, time_scale=scale)
        return self._config()

    def _config(self) -> dict[str, Any]:
        return {"page_size": self.page_size, "lro_polls": self.lro.default_polls, **self.clock.to_json(),
                "action_events": self.events.action_events}

    def _subscribe(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        data = _require_object(body)
        sub = Subscriber(mode=str(data.get("mode", "pull")), schema=str(data.get("schema", "EventGridSchema")),
                         endpoint=data.get("endpoint"), operation_names=tuple(data.get("operation_names", ())),
                         event_types=tuple(data.get("event_types", ())), duplicate=int(data.get("duplicate", 1)),
                         reorder=bool(data.get("reorder", False)), seed=int(data.get("seed", 0)))
        return self.events.subscribe(sub).to_json()

    def _token(self, params: dict[str, str], body: Any) -> dict[str, Any]:
        who = str((body or {}).get("principal", "operator"))
        principal = {"operator": operator_principal(), "app": app_principal()}.get(who)
        if principal is None:
            raise ValueError("principal must be 'operator' or 'app'")
        token, expires = issue_token(principal)
        return {"access_token": token, "expires_on": expires, "object_id": principal.object_id}

    def _resource(self, params: dict[str, str]) -> Any:
        found = self.world.copy_of(params.get("id", ""))
        if found is None:
            raise KeyError(params.get("id", ""))
        return found

    def handle_control(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, Any]:
        parts = path.strip("/").split("/")[1:]
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError as err:
            return 400, {"error": {"code": "InvalidRequestContent", "message": f"control body is not JSON: {err}"}}
        for ctl_method, ctl_path, handler in self._control:
            tmpl = ctl_path.split("/")
            if ctl_method != method or len(tmpl) != len(parts):
                continue
            params = dict(query)
            if all(t == p or (t.startswith("{") and not params.update({t[1:-1]: p})) for t, p in zip(tmpl, parts, strict=True)):
                try:
                    return 200, handler(params, body)
                except KeyError as err:
                    return 404, {"error": {"code": "NotFound", "message": f"not found: {err}"}}
                except (ValueError, TypeError) as err:
                    return 400, {"error": {"code": "InvalidControlRequest", "message": str(err)}}
        return 404, {"error": {"code": "NotFound", "message": f"no control endpoint {method} {path}"}}

    def issue_identity_token(self, resource: str) -> dict[str, Any]:
        token, expires = issue_token(app_principal(), resource=resource)
        return {"access_token": token, "expires_on": str(expires), "resource": resource, "token_type": "Bearer",
                "client_id": app_principal().app_id}


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def _subscription_of(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) > 2 and parts[1].lower() == "subscriptions":
        return parts[2]
    return None


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + the client's delayed ACK
        # hold every response ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The TLS handshake runs in the request thread, so one slow client cannot stall the accept loop.
        return self._context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


def _make_handler(emu: Emulator, *, arm: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "asr-s2d-emulator"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            log.debug("%s " + format, self.address_string(), *args)

        def _serve(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not arm:
                self._identity(split.path, query)
                return
            if split.path.startswith("/_emulator/"):
                status, payload = emu.handle_control(self.command, split.path, query, raw)
                self._send(status, payload, {})
                return
            request = ArmRequest(method=self.command, path=split.path, query=query,
                                 headers={k.lower(): v for k, v in self.headers.items()}, raw_body=raw,
                                 base_url=emu.endpoint)
            try:
                response = emu.handle_arm(request)
            except _DropConnection:
                self._reset()
                return
            self._send(response.status, response.body, response.headers)

        def _identity(self, path: str, query: dict[str, str]) -> None:
            if path != "/msi/token":
                self._send(404, {"error": "not_found"}, {})
            elif self.headers.get("X-IDENTITY-HEADER") != emu.identity_header:
                self._send(401, {"error": "invalid_request", "error_description": "X-IDENTITY-HEADER is missing or wrong"}, {})
            elif not query.get("resource"):
                self._send(400, {"error": "invalid_request", "error_description": "resource is required"}, {})
            else:
                self._send(200, emu.issue_identity_token(query["resource"]), {})

        def _reset(self) -> None:
            self.close_connection = True
            try:
                raw_sock = self.connection
                raw_sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                raw_sock.close()
            except OSError:
                pass

        def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if data:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data and self.command != "HEAD":
                self.wfile.write(data)

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except (ssl.SSLError, ConnectionError, OSError):
                self.close_connection = True

        do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = do_HEAD = _serve

    return Handler
