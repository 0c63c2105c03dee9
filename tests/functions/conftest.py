"""Function-level fixtures: the app's real Runtime pointed at the emulator (HTTPS) and Azurite.

Each test gets its own state container, so locks and outcome records never leak between tests.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator import Emulator, delivery
from emulator.clients import AzureTime
from emulator.core.events import Subscriber
from emulator.settings import app_env
from shared.azure.clients import Clients
from shared.config import Settings
from shared.errors import TransientError
from shared.outcomes import Outcome
from shared.runtime import Runtime


@pytest.fixture
def env(emu: Emulator, demo: dict[str, Any], azurite_server: Any) -> dict[str, str]:
    """App settings for the demo world, as `python -m emulator` prints them."""
    values = app_env(emu, demo, azurite_connection_string=azurite_server.connection_string)
    values["STATE_CONTAINER"] = f"t{uuid.uuid4().hex[:20]}"
    if not emu.clock.instant:  # at 3600x a busy machine's real second is an Azure hour: a drill's bound is a month
        values["DRILL_MAX_MINUTES"] = str(60 * 24 * 30)  # here, so load never overruns one (test (d) sets its own)
    values["WORK_QUEUE"] = f"w{uuid.uuid4().hex[:20]}"
    return values


@pytest.fixture
def make_runtime(env: dict[str, str], emu: Emulator) -> Callable[..., Runtime]:
    """Build a Runtime from the test's settings, optionally changed: ``make_runtime(DRY_RUN="true")``; its in-process
    waits on the emulator's clock (``emulator.clients.AzureTime``)."""

    def build(**changes: str) -> Runtime:
        settings = Settings.from_env({**env, **changes})
        return dataclasses.replace(Runtime.build(settings, clients=Clients(settings)), clock=AzureTime(emu))

    return build


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()


@pytest.fixture
def event_queue(emu: Emulator, demo: dict[str, Any]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """A pull subscriber on the emulator's event bus (subscribed after seeding); call it to drain events."""
    sub = emu.events.subscribe(Subscriber(mode="pull"))
    yield lambda: emu.events.drain(sub.id)


def tag(operator_sdk: Callable[..., Any], resource_id: str, tags: dict[str, str]) -> None:
    """The operator merges ``tags`` into the resource's through the ARM Tags API."""
    client = operator_sdk(ResourceManagementClient)
    client.tags.begin_update_at_scope(resource_id, {"operation": "Merge", "properties": {"tags": tags}}).result()


def deliver(events: list[dict[str, Any]], handle: Callable[[Any, Runtime], Outcome], rt: Runtime) -> list[Outcome]:
    """Through the azure-functions converter, like the host; a transient error is redelivered (Event Grid)."""
    return delivery.deliver(events, lambda event: handle(event, rt), retry_on=(TransientError,), attempts=5)


def writes_since(emu: Emulator, seq: int) -> list[Any]:
    """ARM writes in the journal after ``seq`` (what 'zero writes' is asserted on)."""
    return [e for e in emu.journal.entries(since=seq) if e.is_write and e.status < 400]


@pytest.fixture
def asr_sdk(operator_sdk: Callable[..., Any]) -> Any:
    """Site Recovery as an operator uses it (their writes are not the app's)."""
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

    return operator_sdk(SiteRecoveryManagementClient)


@pytest.fixture
def converged(emu: Emulator, demo: dict[str, Any], runtime: Runtime) -> dict[str, Any]:
    """The demo cluster enrolled, protected and recently tested: the drift audit's green world
    (``tests/functions/drift_world.py`` has the ways to make it drift)."""
    from tests.functions.drift_world import converge

    return converge(emu, demo, runtime)


def process_settings(values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """``values`` as the process environment (what the Functions host or an operator's shell gives the app), with
    the cached settings and runtime rebuilt before and after: a fixture body (``yield from``)."""
    from shared.config import get_settings
    from shared.runtime import default_runtime

    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    default_runtime.cache_clear()
    yield values
    get_settings.cache_clear()
    default_runtime.cache_clear()


@pytest.fixture
def app_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The Functions host's app settings (the process environment) for this test's world: what triggers and the
    CLI build their runtime from."""
    yield from process_settings(env, monkeypatch)


@pytest.fixture
def topic(emu: Emulator, tmp_path: Any) -> Iterator[dict[str, Any]]:
    """A custom Event Grid topic over HTTPS that keeps what EventGridPublisherClient posts; its CA joins the
    emulator's in the one bundle the app trusts (ARM_CA_BUNDLE)."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import trustme

    ca = trustme.CA()
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = self.headers.get("aeg-sas-key") == "topic-key"
            if ok:
                received.extend(json.loads(body))
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bundle = tmp_path / "ca-bundle.pem"
    with open(emu.ca_bundle or "", "rb") as emulator_ca:
        bundle.write_bytes(emulator_ca.read() + ca.cert_pem.bytes())
    yield {"endpoint": f"https://127.0.0.1:{server.server_address[1]}/api/events", "ca_bundle": str(bundle),
           "events": received}
    server.shutdown()
    server.server_close()
