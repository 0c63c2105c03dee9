"""One package per Azure resource provider; each exposes ``register(emulator)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emulator.server import Emulator


def register_all(emulator: Emulator) -> None:
    import importlib

    for name in ("resources", "compute", "network", "storage", "recoveryservices"):
        try:
            module = importlib.import_module(f"emulator.providers.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"emulator.providers.{name}":
                raise
            continue
        module.register(emulator)
