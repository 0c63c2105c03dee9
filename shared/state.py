"""State kept in blob storage: one lock per cluster (a renewed blob lease), the records, and the blob layout.

No state lives in memory between invocations: any instance can take any event; the lease is the
only coordination, and every event ends in a record here (or in a raised error Event Grid retries).
Every blob's name is made here and nowhere else (the layout below); services read and write records
through ``Records`` and turn them into their own typed values (``DrillRecord.from_json``, ...).
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

from shared.azure.blobs import BlobGateway, EtagMismatch, LeaseHeld
from shared.errors import LeaseLost, TransientError
from shared.ownership import Enrollment
from shared.times import now_iso, utc_stamp

log = logging.getLogger(__name__)

# -- the blob layout of the state container --------------------------------------------------------
CLUSTERS = "clusters/"  # clusters/<cluster key>/<note>.json: per-cluster notes
ENROLLMENTS = "enrollments/"  # enrollments/<cluster name>.json: what asr-s2d enrolled (shared.ownership)
AUDITS = "audits/"  # audits/<UTC time>.json: every complete audit report (the evidence)
DRILLS = "drills/"  # drills/<cluster key>/<UTC time>.json: every drill record (the evidence)
LATEST_AUDIT = "audits/latest.json"  # the last complete audit report (the status page reads it)
LAST_AUDIT_ATTEMPT = "audits/last-attempt.json"  # how the latest audit attempt ended (complete, or why not)
WORK = "work/"  # work/<kind>/<key>.json: one durable work item each (shared.work): its step, what it waits for, its end
DRILL_MARKERS = "drills/active/"  # drills/active/<cluster>.json: each cluster's drill marker (running, how far it got)
DRILL_MARKER = "drills/active.json"  # the one marker of the single-drill versions: read by the backstop only
# Per-cluster notes: the last drill record, the failover service's record of the last re-addressing
# (after a failover, and after a test failover), and ``last-<trigger>`` (the last outcome of each trigger).
LAST_DRILL = "last-drill"
READDRESS = "readdress"
READDRESS_TEST = "readdress-test"


def blob_key(text: str) -> str:
    """A cluster key or event ID made safe as one blob path segment."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:200]


def enrollment_blob(cluster: str) -> str:
    """A cluster's enrollment record, by name: a name is one group and one plan in the vault."""
    return f"{ENROLLMENTS}{blob_key(cluster.lower())}.json"


def lock_blob(key: str) -> str:
    return f"locks/{blob_key(key)}"


def note_blob(cluster_key: str, note: str) -> str:
    return f"{CLUSTERS}{blob_key(cluster_key)}/{note}.json"


def outcome_blob(moment: datetime, event_id: str) -> str:
    return f"outcomes/{moment:%Y/%m/%d}/{utc_stamp(moment)}-{blob_key(event_id)}.json"


def event_blob(event_id: str) -> str:
    return f"events/{blob_key(event_id)}.json"


def work_blob(work_id: str) -> str:
    """A work item's state: ``work/<kind>/<key>.json`` (``work_id`` is ``<kind>/<key>``)."""
    kind, _, key = work_id.partition("/")
    return f"{WORK}{blob_key(kind)}/{blob_key(key)}.json"


def audit_blob(moment: datetime) -> str:
    return f"{AUDITS}{utc_stamp(moment)}.json"


def drill_prefix(cluster: str) -> str:
    """The folder of a cluster's drill records (list it for the cluster's drills)."""
    return f"{DRILLS}{blob_key(cluster)}/"


def drill_marker_blob(cluster: str) -> str:
    """A cluster's drill marker (by name: one drill of a cluster at a time): ``drills/active/<cluster>.json``."""
    return f"{DRILL_MARKERS}{blob_key(cluster.lower())}.json"


def drill_blob(cluster: str, moment: datetime | None = None) -> str:
    """One drill's record: ``drills/<cluster key, or name>/<UTC time>.json``."""
    return f"{drill_prefix(cluster)}{utc_stamp(moment)}.json"


# The names ``audit_blob`` and ``drill_blob`` make, and nothing else: ``utc_stamp``'s format, a ``blob_key`` segment
# that is not ``.`` or ``..``. What the record route may serve, and how the status page tells records from the notes
# (``audits/latest.json``, ``drills/active.json``) beside them.
_STAMP = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{6}Z"
_AUDIT_RECORD = re.compile(rf"audits/({_STAMP})\.json")
_DRILL_RECORD = re.compile(rf"drills/(?!\.\.?/)([A-Za-z0-9._-]{{1,200}})/({_STAMP})\.json")


def is_audit_record(name: str) -> bool:
    """Whether ``name`` is an audit report's blob (``audits/<UTC time>.json``)."""
    return _AUDIT_RECORD.fullmatch(name) is not None


def is_drill_record(name: str) -> bool:
    """Whether ``name`` is a drill record's blob (``drills/<cluster key>/<UTC time>.json``)."""
    return _DRILL_RECORD.fullmatch(name) is not None


def is_record(name: str) -> bool:
    """Whether ``name`` is evidence: an audit report or a drill record (the names the record route serves)."""
    return is_audit_record(name) or is_drill_record(name)


class ClusterLock:
    """A blob lease on ``locks/<cluster>``, renewed in the background while the work runs.

    Waits up to ``wait_seconds`` for a held lease, then raises ``TransientError`` (Event Grid will
    redeliver). ``check()`` raises ``LeaseLost`` when a renewal failed: stop writing.
    """

    def __init__(self, blobs: BlobGateway, key: str, *, seconds: int, wait_seconds: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._blobs = blobs
        self.name = lock_blob(key)
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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._lease is not None:
            self._blobs.release(self._lease)


class Records:
    """Outcome records and reports, as JSON blobs under the state container; evidence (audit reports, drill
    records) also write-once into the evidence container when one is configured."""

    def __init__(self, blobs: BlobGateway, *, evidence: BlobGateway | None = None) -> None:
        self.blobs = blobs
        self._evidence = evidence

    def keep_evidence(self, name: str, body: dict[str, Any]) -> None:
        """A write-once copy of an audit report or drill record under the same name. An immutable container refuses
        to change a blob: a name already kept stays as it was (the first copy is the evidence)."""
        if self._evidence is None:
            return
        try:
            self._evidence.put_json(name, body, if_none_match=True)
        except EtagMismatch:
            log.info("evidence %s was kept already", name)

    def outcome(self, record: dict[str, Any]) -> str:
        name = outcome_blob(datetime.now(UTC), str(record.get("event_id", "none")))
        self.blobs.put_json(name, record)
        cluster = record.get("cluster_key")
        if cluster:
            self.blobs.put_json(note_blob(str(cluster), f"last-{record.get('trigger', 'event')}"), record)
        return name

    def answered(self, event_id: str) -> dict[str, Any] | None:
        """What an event's earlier delivery answered (``mark_answered``), or None."""
        return self.json(event_blob(event_id))

    def mark_answered(self, event_id: str, outcome: dict[str, Any]) -> None:
        """Remember that the event was handled for good, so a duplicate delivery is answered without ARM reads."""
        self.blobs.put_json(event_blob(event_id), {
            "event_id": event_id, "outcome": outcome.get("outcome"), "reason": outcome.get("reason"),
            "cluster": outcome.get("cluster"), "at": now_iso()})

    def json(self, name: str) -> dict[str, Any] | None:
        """A JSON object blob, or None when it is missing or holds something else."""
        doc = self.blobs.get_json(name)
        return doc.body if doc is not None and isinstance(doc.body, dict) else None

    def record(self, name: str) -> dict[str, Any] | None:
        """An audit report or drill record: the state container's copy, else the evidence container's (which keeps
        records after the state container's lifecycle rule deleted them)."""
        body = self.json(name)
        if body is None and self._evidence is not None:
            doc = self._evidence.get_json(name)
            body = doc.body if doc is not None and isinstance(doc.body, dict) else None
        return body

    def cluster_note(self, cluster_key: str, note: str) -> dict[str, Any] | None:
        return self.json(note_blob(cluster_key, note))

    def set_cluster_note(self, cluster_key: str, note: str, body: dict[str, Any]) -> None:
        self.blobs.put_json(note_blob(cluster_key, note), body)

    def enrollment(self, cluster: str) -> Enrollment | None:
        return Enrollment.from_json(self.json(enrollment_blob(cluster)))

    def save_enrollment(self, enrollment: Enrollment) -> None:
        self.blobs.put_json(enrollment_blob(enrollment.cluster), enrollment.to_json())

    def enrollments(self) -> dict[str, Enrollment]:
        """Every enrollment record, by lower-cased cluster name (one paged list, then one read each)."""
        found = (Enrollment.from_json(self.json(name)) for name in self.blobs.list_names(ENROLLMENTS))
        return {e.cluster.lower(): e for e in found if e is not None}

    def notes(self) -> frozenset[str]:
        """The names of every per-cluster note (one paged list): ``note_blob(key, note) in notes`` says whether a
        note exists without reading it."""
        return frozenset(self.blobs.list_names(CLUSTERS))
