"""One package per Azure resource provider; each exposes ``register(emulator)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emulator.core.http import Host


def register_all(emulator: Host) -> None:
    from emulator.providers import authorization, compute, network, recoveryservices, resources, storage

    for provider in (resources, compute, network, storage, recoveryservices, authorization):
        provider.register(emulator)
