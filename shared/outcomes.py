"""The outcome of one event (or timer run) for one cluster: what was decided, why, and what was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.findings import Finding
from shared.times import now_iso

# Ordered by how much an operator needs to see it when one event touched several clusters.
KINDS = ("failed", "rejected", "enabled", "reassigned", "changed", "waiting", "not-yet", "unchanged", "ignored")


@dataclass(frozen=True)
class Outcome:
    event_id: str
    kind: str
    reason: str
    cluster: str | None = None
    cluster_key: str | None = None
    writes: int = 0
    plan: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    trigger: str = "event"
    correlation_id: str = ""
    dry_run: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=now_iso)
    finished: str = field(default_factory=now_iso)

    def to_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "outcome": self.kind, "reason": self.reason, "cluster": self.cluster,
                "cluster_key": self.cluster_key, "writes": self.writes, "plan": list(self.plan),
                "findings": [f.to_json() for f in self.findings], "trigger": self.trigger,
                "correlation_id": self.correlation_id, "dry_run": self.dry_run, "details": self.details,
                "started": self.started, "finished": self.finished}

    def summary(self) -> str:
        """What a trigger logs."""
        return f"{self.kind} ({self.reason})"

    def line(self) -> dict[str, Any]:
        """The CLI's one JSON line per event."""
        return {"event_id": self.event_id, "outcome": self.kind, "reason": self.reason, "cluster": self.cluster,
                "writes": self.writes}


def most_significant(outcomes: list[Outcome]) -> Outcome:
    return min(outcomes, key=lambda o: KINDS.index(o.kind) if o.kind in KINDS else len(KINDS))
