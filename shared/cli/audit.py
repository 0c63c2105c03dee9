"""``asr-s2d audit``: the drift audit on demand, its report as tables (or JSON), and an exit code for scripts."""

from __future__ import annotations

import argparse
from typing import Any

from shared.audit.report import STATUS_WORDS, Report
from shared.audit.service import run_audit
from shared.cli.output import EXIT_CRITICAL, EXIT_OK, command, progress, say, table
from shared.findings import Severity
from shared.runtime import default_runtime

# Findings that follow from another one (the plan lacks a node because the node is unprotected; nothing has been
# tested because the cluster is new): listed after their causes.
CONSEQUENCES = frozenset({"plan-pending", "recovery-plan-incomplete", "recovery-plan-extra", "pool-mapping-missing",
                          "nodes-missing", "test-failover-never", "test-failover-stale"})


def register(sub: Any) -> None:
    p = command(sub, "audit", cmd_audit, summary="check every enrolled and tagged cluster for drift; optionally repair "
                                                 "what is safe",
                description="Audit every cluster: each tagged one, and each one asr-s2d ever enrolled (the vault's "
                            "witness: one missing from the tags is critical). Is each node protected in one group, is "
                            "the policy crash-consistent, is replication healthy, is the RPO under the threshold, was "
                            "there a recent test failover, do the recovery plan, DR load balancer, pool mappings, "
                            "witness and cache accounts hold? Progress goes to stderr. The report is written to blob "
                            "storage (audits/<UTC time>.json and audits/latest.json). 0: no critical finding stands; "
                            "3: at least one (a cluster would not come back as promised); 1: Azure or the state "
                            "storage could not be read completely (audits/latest.json keeps the last complete "
                            "report).",
                examples=["asr-s2d audit", "asr-s2d audit --repair", "asr-s2d audit --json > report.json"])
    p.add_argument("--json", action="store_true", help="print the report (schema audit-report.v1) instead of tables")
    p.add_argument("--repair", action=argparse.BooleanOptionalAction, default=None,
                   help="apply the safe repairs (enroll unprotected nodes into the group, restore pool mappings, "
                        "create a missing recovery plan or DR load balancer); default: the AUDIT_REPAIR setting. "
                        "Never disables or deletes.")


def cmd_audit(args: argparse.Namespace) -> int:
    result = run_audit(default_runtime(), repair=args.repair, trigger="cli", report=progress)
    if args.json:
        say(result.to_json(), indent=1)
    else:
        print_report(result)
    return EXIT_CRITICAL if result.critical else EXIT_OK


def print_report(result: Report) -> None:
    if not result.clusters:
        say("no tagged cluster found in the allowed subscriptions")
    else:
        rows = []
        for c in result.clusters:
            severities = [f.severity for f in c.findings]
            counts = ", ".join(f"{severities.count(s)} {s.value}" for s in Severity if s in severities) or "none"
            rows.append({"cluster": c.name, "status": f"{c.status.upper()}: {STATUS_WORDS[c.status]}",
                         "nodes": f"{sum(n.protected for n in c.nodes)}/{len(c.nodes)} protected",
                         "rpo": f"{c.rpo_seconds} s" if c.rpo_seconds is not None else "-",
                         "findings": counts, "repair": c.repair.outcome if c.repair else "-"})
        say(table(rows, ["cluster", "status", "nodes", "rpo", "findings", "repair"]))
    findings = [(c.name, f) for c in result.clusters for f in c.findings] + [("-", f) for f in result.findings]
    if findings:
        order = {s: i for i, s in enumerate(Severity)}
        # Root causes before what follows from them (a node unprotected, then the plan that lacks it).
        findings.sort(key=lambda cf: (order[cf[1].severity], cf[1].code in CONSEQUENCES, cf[0], cf[1].subject))
        say()
        say(table([{"severity": f.severity.value, "cluster": name, "subject": f.subject, "finding": f.message,
                      "fix": f.fix} for name, f in findings], ["severity", "cluster", "subject", "finding", "fix"]))
    for error in result.errors:
        say(f"error: {error}", err=True)
    say(f"\nreport: {result.blob_name} ({result.finding_count} finding(s), audit {result.audit_id})")
