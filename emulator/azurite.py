"""Starts a real Azurite blob server (npm ``azurite`` 3.35.0 from the project's node_modules) on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft); it guards nothing real.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Azurite:
    process: subprocess.Popen[bytes]
    port: int
    workdir: tempfile.TemporaryDirectory[str]

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint={self.blob_endpoint};")

    @classmethod
    def start(cls, *, timeout: float = 30.0) -> Azurite:
        binary = ROOT / "node_modules" / ".bin" / "azurite-blob"
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: run 'npm ci' (make test and make demo do)")
        if shutil.which("node") is None:
            raise RuntimeError("node is not on PATH: Azurite needs Node.js 20")
        port = _free_port()
        workdir = tempfile.TemporaryDirectory(prefix="asr-s2d-azurite-")
        process = subprocess.Popen(
            [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port),
             "--skipApiVersionCheck", "--inMemoryPersistence", "--silent", "--loose"],
            cwd=workdir.name, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"Azurite exited with {process.returncode}: {err.strip()[:500]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return cls(process, port, workdir)
            except OSError:
                time.sleep(0.1)
        process.kill()
        raise RuntimeError(f"Azurite did not listen on 127.0.0.1:{port} within {timeout:.0f}s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.workdir.cleanup()
