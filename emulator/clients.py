"""How the tests, the demo and the bench reach an emulator as its clients do: the control API in-process,
management SDK clients pointed at it (with the app's managed identity or as a person, the operator), and the
process environment the real ``ManagedIdentityCredential`` reads. Nothing in the emulator imports this.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from emulator.core.identity import issue_token, operator_principal

if TYPE_CHECKING:
    from emulator.core.http import Host


class ControlError(RuntimeError):
    """The control API answered something other than 200."""


def control(emu: Host, method: str, path: str, body: Any = None, **query: str) -> Any:
    """``{method} /_emulator/{path}?{query}`` in-process, with ``body`` as JSON: the answer's payload."""
    status, payload = emu.handle_control(method, f"/_emulator/{path}", query,
                                         json.dumps(body).encode() if body is not None else b"")
    if status != 200:
        raise ControlError(f"emulator control {method} {path}: {status} {payload}")
    return payload


class OperatorCredential:
    """A person's token (the emulator's operator principal), so their writes are not the app's own."""

    def __init__(self) -> None:
        self._token, self._expires = issue_token(operator_principal())

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, self._expires)


def time_passes(emu: Host) -> None:
    """Minutes pass: running operations and Site Recovery jobs finish, initial replication completes."""
    control(emu, "POST", "asr/settle")
    control(emu, "POST", "asr/advance", {"to": "Protected"})


INSTANT_DELAY_SCALE = 3600.0


class AzureTime:
    """The app's own clock (``shared.times.Clock``: where a service waits in-process, a drill between two tries of
    a guest that is not ready) on the emulator's clock: Azure seconds, over the time scale on Azure's clock; real ones
    on the instant clock, where a guest is never kept waiting. The app's waits then take what Azure's do, scaled."""

    def __init__(self, emu: Host) -> None:
        self._clock = emu.world.clock

    def _scale(self) -> float:
        return 1.0 if self._clock.instant else float(self._clock.time_scale)

    def monotonic(self) -> float:
        return time.monotonic() * self._scale()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self._scale())

    def real_seconds(self, seconds: float) -> float:
        """A queue message's delay: Azure seconds over the time scale, or as fast as on a 3600x Azure clock on the
        instant clock (where whatever a job-waiting look would see has ended already; what is still not ready is a
        test's doing, and a look again at once would only spin)."""
        return seconds / (INSTANT_DELAY_SCALE if self._clock.instant else self._scale())


def sdk_client(emu: Host, client_cls: type, credential: Any, subscription_id: str, **kwargs: Any) -> Any:
    """A management SDK client of the emulator: its endpoint and token scope, its throwaway CA (passed explicitly:
    the machine presets ``REQUESTS_CA_BUNDLE``) and, between polls of a long-running operation, no wait on the
    instant clock and the app's scaled polling interval on Azure's (``emulator.settings.AZURE_POLLING_SECONDS``)."""
    from emulator.settings import AZURE_POLLING_SECONDS

    interval = emu.world.clock.polling_interval(AZURE_POLLING_SECONDS)
    return client_cls(credential, subscription_id, base_url=emu.endpoint, credential_scopes=[emu.endpoint + "/.default"],
                      connection_verify=emu.ca_bundle, **{"polling_interval": interval, **kwargs})


@contextlib.contextmanager
def managed_identity(emu: Host) -> Iterator[None]:
    """While inside, the process environment points the real ``ManagedIdentityCredential`` at the emulator's
    token endpoint, and at nothing else (no ``MSI_ENDPOINT``); the environment is restored on the way out."""
    saved = {key: os.environ.get(key) for key in emu.identity_env()}
    os.environ.update(emu.identity_env())
    os.environ.pop("MSI_ENDPOINT", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
