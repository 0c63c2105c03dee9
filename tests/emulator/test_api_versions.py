"""The emulator accepts the api-versions Azure serves, and refuses the others as ARM does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator
from emulator.providers import network, recoveryservices, resources, storage
from tests.emulator import armhttp

EXAMPLES = Path(__file__).resolve().parents[1] / "api_examples"
ACCEPTED = {"asr": recoveryservices.ASR_API_VERSIONS, "network": network.API_VERSIONS,
            "resources": resources.API_VERSIONS}


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_version_of_microsofts_examples_is_accepted(example: str) -> None:
    provider, version = re.match(r"([a-z]+)_(\d{4}-\d{2}-\d{2})_", example).groups()  # type: ignore[union-attr]
    assert version in ACCEPTED[provider], f"{example}: Azure serves {version}"


@pytest.mark.parametrize("version", sorted(storage.API_VERSIONS))
def test_a_storage_account_answers_on_each_version_azure_serves(emu: Emulator, demo: dict[str, Any],
                                                                version: str) -> None:
    reply = armhttp.arm(emu, "GET", demo["cache_storage_account_id"], api_version=version)
    assert reply.status == 200 and reply.body["id"].lower() == demo["cache_storage_account_id"].lower()


def test_a_version_azure_does_not_serve_is_refused_as_arm_refuses_it(emu: Emulator, demo: dict[str, Any]) -> None:
    reply = armhttp.arm(emu, "GET", demo["cache_storage_account_id"], api_version="2025-01-02")
    assert reply.status == 400 and reply.body["error"]["code"] == "InvalidApiVersionParameter"
