"""``python -m emulator``: the first stdout line is the world and every setting the app needs; SIGTERM stops it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from shared.azure.clients import Clients
from shared.config import Settings
from shared.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]


def test_foreground_emulator_prints_settings_and_serves_until_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0", "--seed", "demo", "--azurite"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert set(first) == {"endpoint", "ca_bundle", "env", "world"}
        assert first["endpoint"].startswith("https://127.0.0.1:")
        assert "STATE_STORAGE_CONNECTION_STRING" in first["env"]
        assert len(first["world"]["vm_ids"]) == 2
        import os

        saved = dict(os.environ)
        try:
            os.environ.update(first["env"])  # the real ManagedIdentityCredential reads IDENTITY_* from here
            settings = Settings.from_env(first["env"])
            rt = Runtime.build(settings, clients=Clients(settings))
            vms = rt.compute.list_vms(first["world"]["subscription_id"])
            assert sorted(v.name for v in vms) == ["s2d-node1", "s2d-node2"]
            assert rt.asr.vault_location() == "northeurope"
        finally:
            os.environ.clear()
            os.environ.update(saved)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
