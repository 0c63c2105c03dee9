"""The audit's report: per cluster its nodes, findings, plan and repair, and a verdict (red, amber, green),
as frozen values with ``to_json`` (schema ``shared/schemas/audit-report.v1.json``). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.findings import Finding, Severity

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "audit-report.v1.json"

STATUS_WORDS = {
    "red": "At risk: would not come back as promised",
    "amber": "Degraded: needs attention",
    "green": "Recoverable",
}


@dataclass(frozen=True)
class NodeReport:
    name: str
    id: str
    protected: bool
    protection_state: str | None
    replication_health: str | None
    rpo_seconds: int | None
    group: str | None
    active_location: str | None
    last_test_failover: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "protected": self.protected,
                "protection_state": self.protection_state, "replication_health": self.replication_health,
                "rpo_seconds": self.rpo_seconds, "group": self.group, "active_location": self.active_location,
                "last_test_failover": self.last_test_failover}


@dataclass(frozen=True)
class RepairReport:
    # "changed" | "unchanged" | "failed" | "skipped" | "dry-run" | "queued" (the timer's audit enqueued a ``repair``
    # work item for the worker: the reason names it; the worker records how it ended)
    outcome: str
    reason: str
    writes: int = 0
    applied: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()  # the planner's action types written (what decides which findings were repaired)

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "writes": self.writes, "applied": list(self.applied)}


@dataclass(frozen=True)
class ClusterReport:
    name: str
    key: str
    subscription_id: str
    source_region: str
    enrolled_by: str
    nodes: tuple[NodeReport, ...]
    findings: tuple[Finding, ...]
    plan: tuple[tuple[str, str, bool], ...]  # (action kind, description, the audit may apply it)
    recovery_plan: str | None
    dr_load_balancer: str | None
    dr_ip: str | None
    last_test_failover: str | None
    repair: RepairReport | None = None
    reassign: dict[str, Any] | None = None
    repaired_codes: frozenset[str] = frozenset()

    @property
    def rpo_seconds(self) -> int | None:
        values = [n.rpo_seconds for n in self.nodes if n.rpo_seconds is not None]
        return max(values) if values else None

    @property
    def status(self) -> str:
        return status_of(self.findings, self.repaired_codes)

    def to_json(self) -> dict[str, Any]:
        status = self.status
        return {
            "name": self.name, "key": self.key, "subscription_id": self.subscription_id,
            "source_region": self.source_region, "enrolled_by": self.enrolled_by,
            "status": status, "status_text": STATUS_WORDS[status],
            "rpo_seconds": self.rpo_seconds, "last_test_failover": self.last_test_failover,
            "recovery_plan": self.recovery_plan, "dr_load_balancer": self.dr_load_balancer, "dr_ip": self.dr_ip,
            "nodes": [n.to_json() for n in self.nodes],
            "findings": [{**f.to_json(), "repaired": f.code in self.repaired_codes} for f in self.findings],
            "plan": [{"kind": kind, "action": text, "audit_applies": safe} for kind, text, safe in self.plan],
            "repair": self.repair.to_json() if self.repair else None,
            "reassign": self.reassign,
        }


def status_of(findings: Iterable[Finding], repaired: frozenset[str] = frozenset()) -> str:
    """red: a critical finding stands; amber: a warning stands, or something was just repaired; green: neither."""
    open_severities = {f.severity for f in findings if f.code not in repaired}
    if Severity.CRITICAL in open_severities:
        return "red"
    if Severity.WARNING in open_severities or repaired:
        return "amber"
    return "green"


@dataclass
class Report:
    audit_id: str
    started: str
    trigger: str
    repair: bool
    dry_run: bool
    target_region: str
    vault_id: str
    rpo_threshold_seconds: int
    test_failover_max_age_days: int
    audit_period_minutes: int = 60
    past_due: bool = False
    clusters: list[ClusterReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # about no single cluster (rejected tags, orphans)
    networks: list[dict[str, Any]] = field(default_factory=list)  # where the DR and test networks resolve names
    errors: list[str] = field(default_factory=list)
    work: dict[str, Any] | None = None  # the durable work: in flight, failed, messages re-sent (None: not read)
    finished: str = ""
    blob_name: str = ""

    @property
    def finding_count(self) -> int:
        return len(self.findings) + sum(len(c.findings) for c in self.clusters)

    @property
    def critical(self) -> bool:
        return any(c.status == "red" for c in self.clusters) or any(
            f.severity is Severity.CRITICAL for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        statuses = [c.status for c in self.clusters]
        severities = [f.severity.value for c in self.clusters for f in c.findings] + [
            f.severity.value for f in self.findings]
        return {
            "schema_version": SCHEMA_VERSION, "audit_id": self.audit_id, "started": self.started,
            "finished": self.finished, "trigger": self.trigger, "past_due": self.past_due,
            "repair": self.repair, "dry_run": self.dry_run,
            "settings": {"target_region": self.target_region, "vault_id": self.vault_id,
                         "rpo_threshold_seconds": self.rpo_threshold_seconds,
                         "test_failover_max_age_days": self.test_failover_max_age_days,
                         "audit_period_minutes": self.audit_period_minutes},
            "summary": {"clusters": len(self.clusters),
                        "status": {s: statuses.count(s) for s in ("red", "amber", "green")},
                        "findings": {s.value: severities.count(s.value) for s in Severity},
                        "writes": sum(c.repair.writes for c in self.clusters if c.repair)
                        + sum(int((c.reassign or {}).get("writes") or 0) for c in self.clusters)},
            "clusters": [c.to_json() for c in self.clusters],
            "findings": [f.to_json() for f in self.findings],
            "networks": list(self.networks),
            "errors": list(self.errors),
            **({"work": self.work} if self.work is not None else {}),
        }
