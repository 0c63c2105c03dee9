"""Fixtures of the reliability suite: a ``Story`` per test on the session's emulator and Azurite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emulator import Emulator
from tests.reliability.story import Story


@pytest.fixture
def story(emu: Emulator, azurite_server: Any, operator_sdk: Callable[..., Any]) -> Story:
    return Story(emu, azurite_server.connection_string, operator_sdk)
