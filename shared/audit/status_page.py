"""The status page: one self-contained HTML page from the latest drift-audit report.

Owns turning ``audits/latest.json`` (schema ``audit-report.v1``) into HTML people read at a glance:
each cluster with a verdict in words and colour, its nodes, health, RPO, the drift items grouped by
severity, and the time of the last audit. No external assets, no script: inline CSS only, so the
page works under ``Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'``.

Every value comes from tags, resource names or Azure messages and is scrubbed and escaped here (``e``); nothing
from the report is ever placed in markup unescaped, nor a secret in the page, whatever an older record holds. It
must not read Azure: only the stored report (and each cluster's last drill record, ``clusters/<key>/last-drill.json``).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import state
from shared.observability import scrub
from shared.runtime import Runtime, default_runtime
from shared.times import parse_time

SUPPORTED_SCHEMA = 1
STALE_AFTER = timedelta(hours=3)
SEVERITIES = (("critical", "Critical"), ("warning", "Warning"), ("info", "Info"))
VERDICTS = {"red": "RED", "amber": "AMBER", "green": "GREEN"}

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
header{background:#1b1f24;color:#fff;padding:16px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d1d9}
main{padding:16px 24px;max-width:1200px}
.notice{padding:10px 14px;border-radius:6px;margin:0 0 16px;background:#fff4d6;border:1px solid #e0b100}
.summary{display:flex;gap:12px;flex-wrap:wrap;margin:0 0 16px;padding:0;list-style:none}
.summary li{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 14px}
section.cluster{background:#fff;border:1px solid #d0d7de;border-left:10px solid #8c959f;border-radius:6px;
  margin:0 0 18px;padding:12px 18px}
section.red{border-left-color:#cf222e} section.amber{border-left-color:#d4a72c} section.green{border-left-color:#1a7f37}
h2{margin:0 0 6px;font-size:18px}
.verdict{display:inline-block;font-weight:700;padding:2px 10px;border-radius:12px;color:#fff;margin-right:8px}
.verdict.red{background:#cf222e} .verdict.amber{background:#9a6700} .verdict.green{background:#1a7f37}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0}
dl.facts dt{color:#57606a} dl.facts dd{margin:0}
table{border-collapse:collapse;width:100%;margin:8px 0 12px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
h3{font-size:15px;margin:12px 0 4px}
h3.critical{color:#cf222e} h3.warning{color:#9a6700} h3.info{color:#0969da}
ul.findings{margin:0 0 8px;padding-left:20px}
ul.findings li{margin:0 0 6px}
.sev{font-weight:700;text-transform:uppercase;font-size:12px;margin-right:6px}
.fix{color:#57606a}
.ok{color:#1a7f37;font-weight:600}
.tag{font-size:12px;background:#ddf4ff;border-radius:10px;padding:0 8px;margin-left:6px}
footer{color:#57606a;font-size:13px;padding:0 24px 24px}
"""


def e(value: Any) -> str:
    """Scrub and escape anything for HTML text and attribute values (tag values are untrusted)."""
    return html.escape(scrub("" if value is None else str(value)), quote=True)


def _page(title: str, body: str, *, subtitle: str = "") -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
            f"<header><h1>{e(title)}</h1>{f'<p>{e(subtitle)}</p>' if subtitle else ''}</header>"
            f"<main>{body}</main>"
            "<footer>asr-s2d drift audit · Azure Site Recovery for Storage Spaces Direct clusters</footer>"
            "</body></html>\n")


def render_empty() -> str:
    return _page("asr-s2d: disaster-recovery status", (
        "<p class=\"notice\" id=\"no-audit\"><strong>No audit has run yet.</strong> The drift audit runs on its "
        "schedule (DRIFT_AUDIT_SCHEDULE, hourly by default); run <code>asr-s2d audit</code> to run one now.</p>"),
        subtitle="Last audit: never")


def _when(text: Any) -> str:
    """An ISO time as people read it: ``2026-11-24 16:45 UTC``; the raw text when it does not parse."""
    parsed = _parse(text)
    return parsed.strftime("%Y-%m-%d %H:%M UTC") if parsed else ("-" if not text else str(text))


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    value = parse_time(text)
    return value.astimezone(UTC) if value else None


def _facts(cluster: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    rpo = cluster.get("rpo_seconds")
    rows = [
        ("Regions", f"{cluster.get('source_region') or '-'} → {settings.get('target_region') or '-'}"),
        ("Nodes protected", f"{sum(1 for n in cluster.get('nodes') or [] if n.get('protected'))} of "
                            f"{len(cluster.get('nodes') or [])}"),
        ("Worst RPO", f"{rpo} s" if rpo is not None else "-"),
        ("Last test failover", _when(cluster.get("last_test_failover")) if cluster.get("last_test_failover")
         else "never"),
        ("Recovery plan", cluster.get("recovery_plan") or "missing"),
        ("DR load balancer", cluster.get("dr_load_balancer") or "missing"),
        ("DR cluster IP", cluster.get("dr_ip") or "-"),
        ("Enrolled by", cluster.get("enrolled_by") or "-"),
    ]
    return "<dl class=\"facts\">" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows) + "</dl>"


def _nodes(nodes: Iterable[Mapping[str, Any]]) -> str:
    rows = []
    for n in nodes:
        rpo = n.get("rpo_seconds")
        rows.append("<tr>" + "".join(f"<td>{e(v)}</td>" for v in (
            n.get("name"), "yes" if n.get("protected") else "NO", n.get("protection_state") or "not replicating",
            n.get("replication_health") or "-", f"{rpo} s" if rpo is not None else "-", n.get("group") or "-",
            n.get("active_location") or "-")) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("Node", "Protected", "State", "Health", "RPO", "Group", "Active in"))
    return f"<table class=\"nodes\"><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _findings(findings: list[Mapping[str, Any]]) -> str:
    if not findings:
        return "<p class=\"ok\">No drift: every check passed.</p>"
    parts = []
    for key, label in SEVERITIES:
        group = [f for f in findings if f.get("severity") == key]
        if not group:
            continue
        items = []
        for f in group:
            repaired = "<span class=\"tag\">repaired in this run</span>" if f.get("repaired") else ""
            fix = f"<br><span class=\"fix\">Fix: {e(f.get('fix'))}</span>" if f.get("fix") else ""
            items.append(f"<li><span class=\"sev\">{e(label)}</span><strong>{e(f.get('subject'))}</strong>: "
                         f"{e(f.get('message'))} <code>{e(f.get('code'))}</code>{repaired}{fix}</li>")
        parts.append(f"<h3 class=\"{key}\">{e(label)} ({len(group)})</h3><ul class=\"findings {key}\">"
                     f"{''.join(items)}</ul>")
    others = [f for f in findings if f.get("severity") not in {k for k, _ in SEVERITIES}]
    if others:
        parts.append("<h3>Other</h3><ul class=\"findings\">" + "".join(
            f"<li>{e(f.get('subject'))}: {e(f.get('message'))}</li>" for f in others) + "</ul>")
    return "".join(parts)


def _drill(record: Mapping[str, Any] | None) -> str:
    """The cluster's last drill (``clusters/<key>/last-drill.json``, written by ``shared.drill.service``)."""
    if not isinstance(record, Mapping):
        return ("<h3>Last drill</h3><p class=\"drill\">No drill has run yet (tag the nodes asr-s2d-drill=monthly, "
                "or run <code>asr-s2d drill</code>).</p>")
    result = str(record.get("result") or "unknown")
    word = {"passed": "green", "failed": "red", "skipped": "amber"}.get(result, "amber")
    checks = [c for c in record.get("checks") or [] if isinstance(c, Mapping)]
    passed = sum(1 for c in checks if c.get("ok") is True)
    raw_cleanup = record.get("cleanup")
    cleanup: Mapping[str, Any] = raw_cleanup if isinstance(raw_cleanup, Mapping) else {}
    age = record.get("recovery_point_age_seconds")
    seconds = record.get("drill_seconds")
    facts = [("Result", f"{result.upper()}: {record.get('reason') or ''}"), ("When", _when(record.get("ended"))),
             ("Checks passed", f"{passed} of {len(checks)}"),
             ("Direction", {"PrimaryToRecovery": "to the DR region",
                            "RecoveryToPrimary": "the way back (replicating back to the original region)"}.get(
                                str(record.get("direction")), "-")),
             ("Test network", str(record.get("test_network") or "-").rsplit("/", 1)[-1]),
             ("Drill time", f"{float(seconds):.0f} s" if isinstance(seconds, (int, float)) else "-"),
             ("Recovery point age", f"{age} s" if age is not None else "-"),
             ("Cleanup", ("done: " if cleanup.get("ok") else "NOT DONE: ") + str(cleanup.get("detail") or "")),
             ("Last passed drill", _when(record.get("last_passed")) if record.get("last_passed") else "never")]
    failed = "".join(f"<li><strong>{e(c.get('name'))}</strong>: {e(c.get('detail'))}</li>" for c in checks
                     if c.get("ok") is not True)
    return (f"<h3>Last drill <span class=\"verdict {word}\">{e(result.upper())}</span></h3>"
            "<dl class=\"facts drill\">" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts) + "</dl>"
            + (f"<ul class=\"findings\">{failed}</ul>" if failed else ""))


def _cluster(cluster: Mapping[str, Any], settings: Mapping[str, Any], drill: Mapping[str, Any] | None = None) -> str:
    status = cluster.get("status") if cluster.get("status") in VERDICTS else "amber"
    repair = cluster.get("repair") or None
    repair_html = ""
    if isinstance(repair, dict):
        repair_html = f"<p><strong>Repair:</strong> {e(repair.get('outcome'))}: {e(repair.get('reason'))}</p>"
    reassign = cluster.get("reassign") or None
    if isinstance(reassign, dict):
        repair_html += f"<p><strong>IP step:</strong> {e(reassign.get('outcome'))}: {e(reassign.get('reason'))}</p>"
    return (f"<section class=\"cluster {status}\" id=\"cluster-{e(cluster.get('key'))}\">"
            f"<h2><span class=\"verdict {status}\">{VERDICTS[str(status)]}</span>{e(cluster.get('name'))}</h2>"
            f"<p class=\"status-text\"><strong>{e(cluster.get('status_text'))}</strong></p>"
            f"{_facts(cluster, settings)}{_nodes(cluster.get('nodes') or [])}{_drill(drill)}"
            f"<h3>Drift</h3>{_findings(list(cluster.get('findings') or []))}{repair_html}</section>")


def render(report: Mapping[str, Any] | None, *, now: datetime | None = None,
           drills: Mapping[str, Any] | None = None) -> str:
    """The page for one report (None: no audit yet), with each cluster's last drill record from ``drills``
    (cluster key -> record). Pure: no I/O."""
    if report is None:
        return render_empty()
    title = "asr-s2d: disaster-recovery status"
    if report.get("schema_version") != SUPPORTED_SCHEMA:
        return _page(title, f"<p class=\"notice\">The latest report uses schema version "
                            f"{e(report.get('schema_version'))}; this page reads version {SUPPORTED_SCHEMA}.</p>")
    finished = report.get("finished") or report.get("started")
    body: list[str] = []
    moment = now or datetime.now(UTC)
    parsed = _parse(finished)
    if parsed is not None and moment - parsed > STALE_AFTER:
        body.append(f"<p class=\"notice\" id=\"stale\"><strong>This report is old:</strong> the last audit finished "
                    f"{e(_when(finished))}. Check that the drift-audit timer runs.</p>")
    summary = report.get("summary") or {}
    status = summary.get("status") or {}
    counts = summary.get("findings") or {}
    body.append("<ul class=\"summary\">" + "".join(f"<li>{e(label)}</li>" for label in (
        f"{summary.get('clusters', 0)} cluster(s)", f"{status.get('red', 0)} at risk (red)",
        f"{status.get('amber', 0)} degraded (amber)", f"{status.get('green', 0)} recoverable (green)",
        f"{counts.get('critical', 0)} critical / {counts.get('warning', 0)} warning finding(s)")) + "</ul>")
    settings = report.get("settings") or {}
    clusters = list(report.get("clusters") or [])
    order = {"red": 0, "amber": 1, "green": 2}
    clusters.sort(key=lambda c: (order.get(str(c.get("status")), 1), str(c.get("name"))))
    if not clusters:
        body.append("<p>No tagged cluster was found in the allowed subscriptions.</p>")
    body += [_cluster(c, settings, (drills or {}).get(str(c.get("key")))) for c in clusters]
    general = list(report.get("findings") or [])
    if general:
        body.append(f"<section class=\"cluster amber\" id=\"general\"><h2>Outside any cluster</h2>"
                    f"{_findings(general)}</section>")
    errors = list(report.get("errors") or [])
    if errors:
        body.append("<section class=\"cluster amber\" id=\"errors\"><h2>Not audited</h2><ul>" + "".join(
            f"<li>{e(x)}</li>" for x in errors) + "</ul></section>")
    mode = "repairs on" if report.get("repair") else "report only"
    subtitle = (f"Last audit: {_when(finished)} · {mode}"
                f"{' · dry run' if report.get('dry_run') else ''} · audit {report.get('audit_id', '-')}")
    return _page(title, "".join(body), subtitle=subtitle)


def render_latest(rt: Runtime | None = None) -> str:
    """The status page from ``audits/latest.json`` (the HTTP trigger's entry point)."""
    runtime = rt or default_runtime()
    body = runtime.records.json(state.LATEST_AUDIT)
    keys = [str(c.get("key")) for c in (body or {}).get("clusters") or [] if isinstance(c, dict) and c.get("key")]
    return render(body, drills={key: runtime.records.cluster_note(key, state.LAST_DRILL) for key in keys})
