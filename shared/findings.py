"""Findings: what a planner or the audit reports instead of (or besides) writing. Pure values."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    CRITICAL = "critical"  # the cluster would not come back
    WARNING = "warning"    # it would come back, but not as promised
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    subject: str  # the cluster, node or resource the finding is about
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity.value, "subject": self.subject,
                "message": self.message, "fix": self.fix}
