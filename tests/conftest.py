"""Session-wide test harness: one emulator (HTTPS, in-process) and one Azurite per session, reset per test.

No test may reach a non-loopback address or an unconfigured credential: the environment is pinned
to the emulator's managed-identity endpoint before any test runs, and the instance metadata address
is never configured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator import Emulator
from emulator.clients import OperatorCredential, managed_identity, sdk_client
from emulator.core.clock import AZURE, INSTANT
from emulator.core.throttle import ThrottleConfig

# The role check: every ARM request the app's identity makes in the suite must be allowed by a role of
# infra/role-actions.json that infra/main.bicep assigns at a scope holding the request's resource, and (on a
# whole-suite run) every action of every role must be needed where that role is assigned. Hooks only; see
# tests/role_check.py.
from tests.role_check import (  # noqa: F401
    pytest_configure,
    pytest_configure_node,
    pytest_runtest_teardown,
    pytest_sessionfinish,
)

SUBSCRIPTION = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
# On Azure's clock the suites run one Azure hour per real second: a 9-minute failover job lasts 0.15 s.
AZURE_CLOCK_TIME_SCALE = 3600.0


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``azure_clock`` runs twice through ``emu``: on the instant clock and on Azure's clock."""
    if "emulator_clock" in metafunc.fixturenames and metafunc.definition.get_closest_marker("azure_clock"):
        metafunc.parametrize("emulator_clock", [INSTANT, AZURE], indirect=True)


@pytest.fixture
def emulator_clock(request: pytest.FixtureRequest) -> str:
    """The emulator's clock for this test (``emulator.core.clock``): instant, unless the test is marked ``azure_clock``
    and this is its Azure run."""
    return str(getattr(request, "param", INSTANT))


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    emu = Emulator(throttle=ThrottleConfig())
    emu.start()
    with managed_identity(emu):
        yield emu
    emu.stop()


@pytest.fixture
def emu(emulator_server: Emulator, emulator_clock: str) -> Iterator[Emulator]:
    """The emulator, reset to an empty world with ARM's default throttling and paging, on this test's clock (the
    instant one again afterwards)."""
    emulator_server.reset()
    emulator_server.page_size = 100
    emulator_server.lro.default_polls = 0
    emulator_server.throttle.reset(ThrottleConfig())
    emulator_server.set_clock(emulator_clock, time_scale=AZURE_CLOCK_TIME_SCALE)
    yield emulator_server
    emulator_server.set_clock(INSTANT)


@pytest.fixture
def demo(emu: Emulator) -> dict[str, Any]:
    """The demo world (see docs/testing.md): two-node S2D cluster in westeurope, vault and networks in northeurope."""
    return emu.seed("demo")


@pytest.fixture
def credential(emulator_server: Emulator) -> Any:
    """The real ManagedIdentityCredential, served by the emulator's token endpoint."""
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential()


def _builder(emu: Emulator, credential: Any) -> Callable[..., Any]:
    def build(client_cls: type, subscription_id: str = SUBSCRIPTION, **kwargs: Any) -> Any:
        return sdk_client(emu, client_cls, credential, subscription_id, **kwargs)

    return build


@pytest.fixture
def sdk(emulator_server: Emulator, credential: Any) -> Callable[..., Any]:
    """Build a real management SDK client pointed at the emulator: ``sdk(ComputeManagementClient)``."""
    return _builder(emulator_server, credential)


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[Any]:
    from emulator.azurite import Azurite

    server = Azurite.start()
    yield server
    server.stop()


@pytest.fixture
def blob_service(azurite_server: Any) -> Any:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite_server.connection_string)


@pytest.fixture
def operator_sdk(emulator_server: Emulator) -> Callable[..., Any]:
    """Like ``sdk`` but acting as a human operator (events carry the operator's object ID)."""
    return _builder(emulator_server, OperatorCredential())


def pytest_sessionstart(session: pytest.Session) -> None:
    """The reliability suite counts what it tried (inputs, faults, examples) and writes the figures of docs/testing.md's
    Guarantees section (``tests/reliability/figures.py``)."""
    from tests.reliability.figures import FiguresPlugin

    session.config.pluginmanager.register(FiguresPlugin(session.config), "asr-s2d-reliability-figures")
