"""Session-wide test harness: one emulator (HTTPS, in-process) and one Azurite per session, reset per test.

No test may reach a non-loopback address or an unconfigured credential: the environment is pinned
to the emulator's managed-identity endpoint before any test runs, and the instance metadata address
is never configured.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator import Emulator
from emulator.core.throttle import ThrottleConfig

# The role check: every ARM request the app's identity makes in the suite must be granted by infra/role-actions.json,
# and (on a whole-suite run) every granted action must be used. Hooks only; see tests/role_check.py.
from tests.role_check import (  # noqa: F401
    pytest_configure,
    pytest_configure_node,
    pytest_runtest_teardown,
    pytest_sessionfinish,
)

SUBSCRIPTION = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    emu = Emulator(throttle=ThrottleConfig())
    emu.start()
    saved = {k: os.environ.get(k) for k in emu.identity_env()}
    os.environ.update(emu.identity_env())
    os.environ.pop("MSI_ENDPOINT", None)
    yield emu
    emu.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def emu(emulator_server: Emulator) -> Emulator:
    """The emulator, reset to an empty world with ARM's default throttling and paging."""
    emulator_server.reset()
    emulator_server.page_size = 100
    emulator_server.lro.default_polls = 0
    emulator_server.throttle.reset(ThrottleConfig())
    return emulator_server


@pytest.fixture
def demo(emu: Emulator) -> dict[str, Any]:
    """The demo world (see README): two-node S2D cluster in westeurope, vault and networks in northeurope."""
    return emu.seed("demo")


@pytest.fixture
def credential(emulator_server: Emulator) -> Any:
    """The real ManagedIdentityCredential, served by the emulator's token endpoint."""
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential()


@pytest.fixture
def sdk(emulator_server: Emulator, credential: Any) -> Callable[..., Any]:
    """Build a real management SDK client pointed at the emulator: ``sdk(ComputeManagementClient)``."""

    def build(client_cls: type, subscription_id: str = SUBSCRIPTION, **kwargs: Any) -> Any:
        return client_cls(credential, subscription_id, base_url=emulator_server.endpoint,
                          credential_scopes=[emulator_server.endpoint + "/.default"],
                          connection_verify=emulator_server.ca_bundle, polling_interval=0, **kwargs)

    return build


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


class _OperatorCredential:
    """A person's token (the emulator's operator principal), so their writes are not the app's own."""

    def __init__(self, emulator: Emulator) -> None:
        from emulator.core.identity import issue_token, operator_principal

        self._token, self._expires = issue_token(operator_principal())

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, self._expires)


@pytest.fixture
def operator_sdk(emulator_server: Emulator) -> Callable[..., Any]:
    """Like ``sdk`` but acting as a human operator (events carry the operator's object ID)."""
    credential = _OperatorCredential(emulator_server)

    def build(client_cls: type, subscription_id: str = SUBSCRIPTION, **kwargs: Any) -> Any:
        return client_cls(credential, subscription_id, base_url=emulator_server.endpoint,
                          credential_scopes=[emulator_server.endpoint + "/.default"],
                          connection_verify=emulator_server.ca_bundle, polling_interval=0, **kwargs)

    return build


def pytest_sessionstart(session: pytest.Session) -> None:
    """The reliability suite counts what it tried (inputs, faults, examples) and writes the figures of the README's
    Guarantees section (``tests/reliability/figures.py``)."""
    from tests.reliability.figures import FiguresPlugin

    session.config.pluginmanager.register(FiguresPlugin(session.config), "asr-s2d-reliability-figures")
