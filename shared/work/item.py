"""A work item: one piece of long work (an enrollment, a re-addressing, a drill, a reprotect), its state kept in the
state container so any instance can take its next step, and a redelivered or duplicated message changes nothing twice.

The message on the queue carries only ``{"work": id, "step": n}``; everything else lives in the item's blob
(``shared.state.work_blob``). ``step`` counts the steps taken: a message whose step is behind the item's is a stale
duplicate and is dropped. Pure but for ``load`` / ``save`` / ``create``, which go through ``Records``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import state
from shared.azure.blobs import EtagMismatch
from shared.errors import RejectedInput
from shared.state import Records
from shared.times import now_iso

KINDS = ("enroll", "failover", "runbook", "reassign", "drill", "reprotect", "repair")
ACTIVE = ("queued", "waiting", "running")
ENDED = ("done", "failed")
_ID = re.compile(r"[a-z]+/[A-Za-z0-9._:@=+_-]{1,200}")


@dataclass(frozen=True)
class Work:
    id: str  # "<kind>/<key>": the key makes a second enqueue of the same work (a duplicate event) a no-op
    kind: str
    payload: dict[str, Any]  # the kind's input: the event, the RecoveryPlanContext, the cluster's name
    cluster: str | None = None  # when known: ``asr-s2d status CLUSTER`` lists the cluster's work by it
    step: int = 0
    status: str = "queued"  # queued, waiting (a delayed look is enqueued), done, failed
    reason: str = ""  # what it waits for, or how it ended
    pending: dict[str, Any] | None = None  # the started operation it waits for (``shared.azure.operations.Pending``)
    carry: dict[str, Any] = field(default_factory=dict)  # what earlier steps did, for the kind's own step
    outcome: dict[str, Any] | None = None  # the final outcome line (or drill record summary)
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    due: str | None = None  # when its next look is due (ISO, app time), while it waits
    etag: str | None = field(default=None, compare=False)

    @classmethod
    def new(cls, kind: str, key: str, payload: dict[str, Any], *, cluster: str | None = None) -> Work:
        work_id = f"{kind}/{state.blob_key(key)}"
        if kind not in KINDS or not _ID.fullmatch(work_id):
            raise RejectedInput(f"bad work item {work_id[:100]!r}")
        return cls(id=work_id, kind=kind, payload=payload, cluster=cluster)

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def summary(self) -> str:
        """What a trigger logs."""
        return f"enqueued as work {self.id}"

    def message(self) -> dict[str, Any]:
        """What goes on the queue for this item's next step."""
        return {"work": self.id, "step": self.step}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "payload": self.payload, "cluster": self.cluster, "step": self.step,
                "status": self.status, "reason": self.reason, "pending": self.pending, "carry": self.carry,
                "outcome": self.outcome, "created": self.created, "updated": self.updated, "due": self.due}

    @classmethod
    def from_json(cls, body: dict[str, Any] | None, etag: str | None = None) -> Work | None:
        if not isinstance(body, dict) or body.get("kind") not in KINDS or not isinstance(body.get("id"), str):
            return None
        return cls(id=body["id"], kind=body["kind"], payload=dict(body.get("payload") or {}),
                   cluster=body.get("cluster") if isinstance(body.get("cluster"), str) else None,
                   step=int(body.get("step") or 0), status=str(body.get("status") or "queued"),
                   reason=str(body.get("reason") or ""),
                   pending=body.get("pending") if isinstance(body.get("pending"), dict) else None,
                   carry=dict(body.get("carry") or {}),
                   outcome=body.get("outcome") if isinstance(body.get("outcome"), dict) else None,
                   created=str(body.get("created") or ""), updated=str(body.get("updated") or ""),
                   due=body.get("due") if isinstance(body.get("due"), str) else None, etag=etag)

    def line(self) -> dict[str, Any]:
        """One row of ``asr-s2d status`` and the status page."""
        return {"work": self.id, "kind": self.kind, "cluster": self.cluster, "status": self.status,
                "step": self.step, "reason": self.reason, "updated": self.updated, "due": self.due}


def parse_message(body: Any) -> tuple[str, int]:
    """A queue message's work id and step; ``RejectedInput`` for anything else (it is poison: nothing to retry)."""
    if not isinstance(body, dict) or not isinstance(body.get("work"), str) or not _ID.fullmatch(body["work"]):
        raise RejectedInput("a work message must be {\"work\": \"<kind>/<key>\", \"step\": n}")
    step = body.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise RejectedInput(f"work message {body['work'][:100]}: bad step {str(step)[:20]}")
    return body["work"], step


def load(records: Records, work_id: str) -> Work | None:
    return load_blob(records, state.work_blob(work_id))


def create(records: Records, work: Work) -> bool:
    """Store a new item; False when an item with its id exists already (the same work was enqueued before)."""
    try:
        records.blobs.put_json(state.work_blob(work.id), work.to_json(), if_none_match=True)
    except EtagMismatch:
        return False
    return True


def save(records: Records, work: Work) -> Work:
    """Store the item's new state (its step taken); ``EtagMismatch`` when another instance changed it meanwhile."""
    saved = replace(work, updated=now_iso())
    etag = records.blobs.put_json(state.work_blob(work.id), saved.to_json(), if_match=work.etag)
    return replace(saved, etag=etag)


RECENT = timedelta(days=1)  # every active item is rewritten far more often (its steps' delays are minutes at most)


def listed(records: Records, *, kind: str | None = None, since: datetime | None = None) -> list[Work]:
    """Every work item (of one kind; written at or after ``since``: ``recent()`` holds every active item and the
    latest ended ones), oldest first: one list, then one read each."""
    prefix = f"{state.WORK}{kind}/" if kind else state.WORK
    found = (load_blob(records, name) for name in records.blobs.list_names(prefix, modified_since=since))
    return sorted((w for w in found if w is not None), key=lambda w: w.created)


def recent(now: datetime | None = None) -> datetime:
    """Since when ``listed`` must read to see every active item (the audit, the status command): a day back."""
    return (now or datetime.now(UTC)) - RECENT


def load_blob(records: Records, name: str) -> Work | None:
    doc = records.blobs.get_json(name)
    return Work.from_json(doc.body, doc.etag) if doc is not None and isinstance(doc.body, dict) else None
