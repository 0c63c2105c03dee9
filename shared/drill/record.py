"""A drill's record: what a drill stores (``drills/<cluster>/<UTC>.json`` and the cluster's ``last-drill`` note),
publishes, and the audit and the status page read. Pure values: ``to_json`` and ``from_json`` are the one
home of the record's shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from shared.drill.checks import DrillCheck, checks_from_json
from shared.times import parse_time

SCHEMA_VERSION = 1


class Result(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CleanupReport:
    attempted: bool
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


NOT_STARTED = CleanupReport(False, True, "the drill did not start a test failover: nothing to clean up")


@dataclass(frozen=True)
class DrillRecord:
    """One drill, as stored (``to_json``) and published. ``last_passed`` carries the end of the last drill
    that passed (this one when it passed), so a failed or skipped drill does not hide the last good one."""

    drill_id: str
    cluster: str
    cluster_key: str | None
    trigger: str
    started: str
    ended: str
    drill_seconds: float
    result: Result
    reason: str
    checks: tuple[DrillCheck, ...] = ()
    cleanup: CleanupReport = NOT_STARTED
    recovery_point_age_seconds: int | None = None
    recovery_point_time: str | None = None
    test_ip: str | None = None
    node: str | None = None
    last_passed: str | None = None
    blob: str | None = None
    direction: str | None = None  # PrimaryToRecovery, or RecoveryToPrimary for a drill of the way back
    test_network: str | None = None  # the VNet the test failover went into

    @property
    def passed(self) -> bool:
        return self.result is Result.PASSED

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "drill_id": self.drill_id, "cluster": self.cluster,
                "cluster_key": self.cluster_key, "trigger": self.trigger, "started": self.started,
                "ended": self.ended, "drill_seconds": self.drill_seconds,
                "recovery_point_age_seconds": self.recovery_point_age_seconds,
                "recovery_point_time": self.recovery_point_time, "test_ip": self.test_ip, "node": self.node,
                "checks": [c.to_json() for c in self.checks], "result": self.result.value, "reason": self.reason,
                "cleanup": self.cleanup.to_json(), "last_passed": self.last_passed, "record": self.blob,
                "direction": self.direction, "test_network": self.test_network}

    @property
    def last_passed_at(self) -> datetime | None:
        """When the last drill that passed ended (this one, when it passed): the audit's "last successful drill"."""
        return parse_time(self.ended if self.passed else self.last_passed)

    @classmethod
    def from_json(cls, body: Any) -> DrillRecord | None:
        """A stored drill record back as a value; None for anything else (an older note, a broken blob)."""
        if not isinstance(body, dict) or body.get("schema_version") != SCHEMA_VERSION:
            return None
        try:
            cleanup = body.get("cleanup") or {}
            return cls(
                drill_id=str(body["drill_id"]), cluster=str(body["cluster"]), cluster_key=body.get("cluster_key"),
                trigger=str(body.get("trigger", "")), started=str(body["started"]), ended=str(body["ended"]),
                drill_seconds=float(body.get("drill_seconds") or 0), result=Result(body["result"]),
                reason=str(body.get("reason", "")),
                checks=checks_from_json(body.get("checks")),
                cleanup=CleanupReport(bool(cleanup.get("attempted")), bool(cleanup.get("ok")), str(cleanup.get("detail", ""))),
                recovery_point_age_seconds=body.get("recovery_point_age_seconds"),
                recovery_point_time=body.get("recovery_point_time"), test_ip=body.get("test_ip"), node=body.get("node"),
                last_passed=body.get("last_passed"), blob=body.get("record"), direction=body.get("direction"),
                test_network=body.get("test_network"))
        except (KeyError, TypeError, ValueError):
            return None
