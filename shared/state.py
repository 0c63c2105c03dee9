"""State kept in blob storage: one lock per cluster (a renewed blob lease) and the outcome records.

No state lives in memory between invocations: any instance can take any event; the lease is the
only coordination, and every event ends in a record here (or in a raised error Event Grid retries).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from shared.azure.blobs import BlobGateway, LeaseHeld
from shared.errors import LeaseLost, TransientError

log = logging.getLogger(__name__)


def blob_key(text: str) -> str:
    """A cluster key or event ID made safe as one blob path segment."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:200]


def utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H-%M-%S.%fZ")


class ClusterLock:
    """A blob lease on ``locks/<cluster>``, renewed in the background while the work runs.

    Waits up to ``wait_seconds`` for a held lease, then raises ``TransientError`` (Event Grid will
    redeliver). ``check()`` raises ``LeaseLost`` when a renewal failed: stop writing.
    """

    def __init__(self, blobs: BlobGateway, key: str, *, seconds: int, wait_seconds: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._blobs = blobs
        self.name = f"locks/{blob_key(key)}"
        self._seconds = seconds
        self._wait = wait_seconds
        self._sleep = sleep
        self._lease: Any = None
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ClusterLock:
        deadline = time.monotonic() + self._wait
        while True:
            try:
                self._lease = self._blobs.acquire_lease(self.name, self._seconds)
                break
            except LeaseHeld as err:
                if time.monotonic() >= deadline:
                    raise TransientError(f"{err}; giving up after {self._wait:.0f}s so Event Grid retries") from err
                self._sleep(0.25)
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _renew_loop(self) -> None:
        while not self._stop.wait(self._seconds / 3):
            try:
                self._blobs.renew(self._lease)
            except Exception:
                log.warning("lease renewal failed for %s", self.name, exc_info=True)
                self._lost.set()
                return

    def check(self) -> None:
        if self._lost.is_set():
            raise LeaseLost(f"lost the lease on {self.name}; stopping before the next write")

    def lose(self) -> None:
        """Mark the lease lost (what a failed renewal does); used by fault tests through the real path."""
        self._lost.set()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._lease is not None:
            self._blobs.release(self._lease)


class Records:
    """Outcome records and reports, as JSON blobs under the state container."""

    def __init__(self, blobs: BlobGateway) -> None:
        self.blobs = blobs

    def outcome(self, record: dict[str, Any]) -> str:
        now = datetime.now(UTC)
        name = f"outcomes/{now:%Y/%m/%d}/{utc_stamp(now)}-{blob_key(str(record.get('event_id', 'none')))}.json"
        self.blobs.put_json(name, record)
        cluster = record.get("cluster_key")
        if cluster:
            self.blobs.put_json(f"clusters/{blob_key(str(cluster))}/last-{record.get('trigger', 'event')}.json", record)
        return name

    def answered(self, event_id: str) -> dict[str, Any] | None:
        """What an event's earlier delivery answered (``mark_answered``), or None."""
        doc = self.blobs.get_json(f"events/{blob_key(event_id)}.json")
        return doc.body if doc is not None and isinstance(doc.body, dict) else None

    def mark_answered(self, event_id: str, outcome: dict[str, Any]) -> None:
        """Remember that the event was handled for good, so a duplicate delivery is answered without ARM reads."""
        self.blobs.put_json(f"events/{blob_key(event_id)}.json", {
            "event_id": event_id, "outcome": outcome.get("outcome"), "reason": outcome.get("reason"),
            "cluster": outcome.get("cluster"), "at": datetime.now(UTC).isoformat().replace("+00:00", "Z")})

    def cluster_note(self, cluster_key: str, kind: str) -> Any:
        doc = self.blobs.get_json(f"clusters/{blob_key(cluster_key)}/{kind}.json")
        return doc.body if doc else None

    def set_cluster_note(self, cluster_key: str, kind: str, body: Any) -> None:
        self.blobs.put_json(f"clusters/{blob_key(cluster_key)}/{kind}.json", body)
