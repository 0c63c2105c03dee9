"""Starts a real Azurite (npm ``azurite`` 3.35.0 from the project's node_modules) on loopback: its blob service
(the app's state) and its queue service (the work queue), from one ``azurite`` process.

The ``azurite`` binary always starts its table service too; it gets a free port of its own and nothing uses it.
Telemetry is off: nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
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


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all held open together, so none is handed out twice)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


@dataclass
class Azurite:
    process: subprocess.Popen[bytes]
    port: int  # blob
    queue_port: int
    workdir: tempfile.TemporaryDirectory[str]

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def queue_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.queue_port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint={self.blob_endpoint};QueueEndpoint={self.queue_endpoint};")

    @classmethod
    def start(cls, *, timeout: float = 30.0) -> Azurite:
        binary = ROOT / "node_modules" / ".bin" / "azurite"
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: run 'npm ci' (make test and make demo do)")
        if shutil.which("node") is None:
            raise RuntimeError("node is not on PATH: Azurite needs Node.js 20")
        blob_port, queue_port, table_port = _free_ports(3)
        workdir = tempfile.TemporaryDirectory(prefix="asr-s2d-azurite-")
        process = subprocess.Popen(
            [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(blob_port),
             "--queueHost", "127.0.0.1", "--queuePort", str(queue_port),
             "--tableHost", "127.0.0.1", "--tablePort", str(table_port),
             "--skipApiVersionCheck", "--inMemoryPersistence", "--silent", "--loose", "--disableTelemetry"],
            cwd=workdir.name, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        waiting = [blob_port, queue_port]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                workdir.cleanup()
                raise RuntimeError(f"Azurite exited with {process.returncode}: {err.strip()[:500]}")
            try:
                with socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2):
                    waiting.pop(0)
            except OSError:
                time.sleep(0.1)
                continue
            if not waiting:
                return cls(process=process, port=blob_port, queue_port=queue_port, workdir=workdir)
        process.kill()
        process.wait()
        workdir.cleanup()
        raise RuntimeError(f"Azurite did not listen on 127.0.0.1:{blob_port} (blob) and :{queue_port} (queue) "
                           f"within {timeout:.0f}s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.workdir.cleanup()
