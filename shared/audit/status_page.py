"""The status page: one self-contained HTML page from the stored audit reports and drill records.

Owns turning what the audit and the drills stored into HTML people read at a glance, and serving one stored
record by name (``stored_record``: ``/api/status?record=<name>``, what the page links to). From ``audits/latest.json``
(schema ``audit-report.v1``): each cluster with a verdict in words and colour, its nodes, health, RPO and drift by
severity. From the history (the newest ``HISTORY_AUDITS`` of ``audits/<UTC time>.json``, each read once for every
cluster): each cluster's verdict per audit and its worst node RPO per audit as a trend. From
``drills/<key>/<UTC time>.json`` (the newest ``DRILLS_SHOWN`` per cluster): every drill with its checks and a link
to its record, and the time since the last passed drill against ``TEST_FAILOVER_MAX_AGE_DAYS``. From
``audits/last-attempt.json``: an audit that failed after the last complete one, shown with its error; a last complete
report older than two audit periods marks the whole page stale, as critical. From the report's ``work`` section: the
durable work in flight (kind, cluster, status, what it waits for, step) and the work that failed, a work item whose
message went to the poison queue included (no work blob is read here: the audit read them). No external assets, no script: inline
CSS and inline SVG only, so the page works under ``Content-Security-Policy: default-src 'none'; style-src
'unsafe-inline'``.

Every value comes from tags, resource names or Azure messages and is scrubbed and escaped here (``e``); nothing
from a record is ever placed in markup unescaped, nor a secret in the page, whatever an older record holds. It
must not read Azure: only the stored blobs (``shared.state`` names them).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from shared import state
from shared.drill.record import DrillRecord
from shared.errors import RejectedInput
from shared.observability import scrub
from shared.runtime import Runtime, default_runtime
from shared.times import parse_time

SUPPORTED_SCHEMA = 1
HISTORY_AUDITS = 48  # the audits a cluster's history and RPO trend show: two days of hourly audits
DRILLS_SHOWN = 12  # the drills listed per cluster, newest first: a year of monthly drills
DEFAULT_PERIOD_MINUTES = 60  # AUDIT_PERIOD_MINUTES, for a report written before it was recorded
STALE_PERIODS = 2  # a last complete report older than this many audit periods: the page is stale (critical)
READERS = 8  # blobs read at once for one page
SEVERITIES = (("critical", "Critical"), ("warning", "Warning"), ("info", "Info"))
VERDICTS = {"red": "RED", "amber": "AMBER", "green": "GREEN"}
DRILL_WORDS = {"passed": "green", "failed": "red", "skipped": "amber"}

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
header{background:#1b1f24;color:#fff;padding:16px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d1d9}
main{padding:16px 24px;max-width:1200px}
.notice{padding:10px 14px;border-radius:6px;margin:0 0 16px;background:#fff4d6;border:1px solid #e0b100}
.banner{padding:12px 16px;border-radius:6px;margin:0 0 16px;background:#cf222e;color:#fff;font-size:16px}
.banner code{background:rgba(255,255,255,.15);color:#fff;padding:0 4px;border-radius:3px;white-space:pre-wrap}
.summary{display:flex;gap:12px;flex-wrap:wrap;margin:0 0 16px;padding:0;list-style:none}
.summary li{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 14px}
.summary li.risk{border-color:#cf222e;color:#cf222e;font-weight:700}
section.cluster{background:#fff;border:1px solid #d0d7de;border-left:10px solid #8c959f;border-radius:6px;
  margin:0 0 18px;padding:12px 18px}
section.red{border-left-color:#cf222e} section.amber{border-left-color:#d4a72c} section.green{border-left-color:#1a7f37}
h2{margin:0 0 6px;font-size:18px}
.verdict{display:inline-block;font-weight:700;padding:2px 10px;border-radius:12px;color:#fff;margin-right:8px}
.verdict.red{background:#cf222e} .verdict.amber{background:#9a6700} .verdict.green{background:#1a7f37}
.verdict.none{background:#8c959f}
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
.bad{color:#cf222e;font-weight:700}
.tag{font-size:12px;background:#ddf4ff;border-radius:10px;padding:0 8px;margin-left:6px}
.strip{display:flex;gap:2px;margin:4px 0;height:22px;max-width:100%}
.strip span{flex:0 0 10px;border-radius:2px;background:#d0d7de}
.strip span.red{background:#cf222e} .strip span.amber{background:#d4a72c} .strip span.green{background:#1a7f37}
.legend{color:#57606a;font-size:13px;margin:2px 0 8px}
svg.trend{display:block;background:#f6f8fa;border:1px solid #eaeef2;border-radius:4px;margin:4px 0}
.drill-age{padding:6px 10px;border-radius:6px;margin:6px 0;background:#dafbe1}
.drill-age.overdue{background:#ffebe9;color:#cf222e;font-weight:700}
details{margin:4px 0 8px}
details summary{cursor:pointer}
details.drill-record{border:1px solid #eaeef2;border-radius:6px;padding:4px 10px}
a{color:#0969da}
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


@dataclass(frozen=True)
class AuditPoint:
    """One complete audit as the history needs it: its record's name, when it finished, and per cluster key the
    verdict and the worst node RPO. ``readable`` is False for a record this page cannot read (another schema)."""

    record: str
    finished: str | None
    clusters: Mapping[str, tuple[str, int | None]]
    readable: bool = True

    @classmethod
    def of(cls, record: str, body: Mapping[str, Any] | None) -> AuditPoint:
        if not isinstance(body, Mapping) or body.get("schema_version") != SUPPORTED_SCHEMA:
            return cls(record, None, {}, readable=False)
        clusters = {str(c["key"]): (str(c.get("status")), _seconds(c.get("rpo_seconds")))
                    for c in body.get("clusters") or [] if isinstance(c, Mapping) and c.get("key")}
        return cls(record, str(body.get("finished") or body.get("started") or "") or None, clusters)


@dataclass(frozen=True)
class StoredDrill:
    """One drill record as stored: its blob name (the link) and the record, None when this page cannot read it."""

    record: str
    drill: DrillRecord | None


@dataclass(frozen=True)
class Stored:
    """What the page is built from, as ``read_stored`` found it in the state container."""

    report: Mapping[str, Any] | None
    attempt: Mapping[str, Any] | None = None
    last_drills: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)  # key -> last-drill note
    history: tuple[AuditPoint, ...] = ()  # newest first, at most HISTORY_AUDITS
    drills: Mapping[str, tuple[StoredDrill, ...]] = field(default_factory=dict)  # key -> newest first, bounded
    drill_counts: Mapping[str, int] = field(default_factory=dict)  # key -> every drill record stored


def record_href(name: str, *, code: str | None = None) -> str:
    """A stored record's address, relative to the page: the same function (``/api/status?record=<name>``), so the
    function key the page was opened with (``code``, carried along) opens its records too."""
    return f"?record={quote(name, safe='/')}" + (f"&code={quote(code, safe='')}" if code else "")


def _failed_attempt(attempt: Mapping[str, Any] | None, report: Mapping[str, Any] | None) -> str:
    """A banner for an audit attempt that failed after the last complete report (``audits/last-attempt.json``)."""
    if not isinstance(attempt, Mapping) or attempt.get("complete") is not False:
        return ""
    if isinstance(report, Mapping) and report.get("audit_id") == attempt.get("audit_id"):
        return ""
    shown = (f"This page shows the last complete audit, which finished {_when(report.get('finished'))}."
             if isinstance(report, Mapping) else "No audit has completed yet.")
    return (f"<div class=\"banner\" id=\"audit-failed\" role=\"alert\"><strong>CRITICAL: the last audit failed</strong> "
            f"(finished {e(_when(attempt.get('finished') or attempt.get('started')))}, trigger "
            f"{e(attempt.get('trigger') or '-')}, audit {e(attempt.get('audit_id') or '-')}): "
            f"<code>{e(attempt.get('error') or 'no reason recorded')}</code><br>{e(shown)} Fix what the error names "
            "(most often the app's identity lost a role, or Azure throttled past the retries), then run "
            "<code>asr-s2d audit</code>.</div>")


def render_empty(attempt: Mapping[str, Any] | None = None) -> str:
    failed = _failed_attempt(attempt, None)
    return _page("asr-s2d: disaster-recovery status", failed + (
        f"<p class=\"notice\" id=\"no-audit\"><strong>{'No audit has completed yet' if failed else 'No audit has run yet'}"
        ".</strong> The drift audit runs on its schedule (DRIFT_AUDIT_SCHEDULE, hourly by default); run "
        "<code>asr-s2d audit</code> to run one now.</p>"), subtitle="Last complete audit: never")


def _when(text: Any) -> str:
    """An ISO time as people read it: ``2026-11-24 16:45 UTC``; the raw text when it does not parse."""
    parsed = _parse(text)
    return parsed.strftime("%Y-%m-%d %H:%M UTC") if parsed else ("-" if not text else str(text))


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    value = parse_time(text)
    return value.astimezone(UTC) if value else None


def _seconds(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _age(delta: timedelta) -> str:
    """A duration as people say it: ``40 days``, ``5 h``, ``12 min``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


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


def _drill(record: Mapping[str, Any] | None, *, due: str = "") -> str:
    """The cluster's last drill (``clusters/<key>/last-drill.json``, written by ``shared.drill.service``), with
    ``due``: how long since the last passed drill, against its limit."""
    if not isinstance(record, Mapping):
        return (f"<h3>Last drill</h3>{due}<p class=\"drill\">No drill has run yet (tag the nodes "
                "asr-s2d-drill=monthly, or run <code>asr-s2d drill</code>).</p>")
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
    return (f"<h3>Last drill <span class=\"verdict {word}\">{e(result.upper())}</span></h3>{due}"
            "<dl class=\"facts drill\">" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts) + "</dl>"
            + (f"<ul class=\"findings\">{failed}</ul>" if failed else ""))


# -- history: the cluster's verdict and worst RPO per audit, oldest left ------------------------------------

def _history(key: str, history: Sequence[AuditPoint], link: Callable[[str], str]) -> str:
    if not history:
        return ""
    oldest_first = list(reversed(history))
    cells, counts = [], {"red": 0, "amber": 0, "green": 0}
    for point in oldest_first:
        seen = point.clusters.get(key)
        status = seen[0] if seen and seen[0] in VERDICTS else "none"
        counts[status] = counts.get(status, 0) + 1
        label = VERDICTS.get(status) or ("not in this audit" if point.readable else "record not readable")
        cells.append(f"<span class=\"{status}\" title=\"{e(_when(point.finished))}: {e(label)}\"></span>")
    absent = counts.get("none", 0)
    legend = (f"{len(history)} audit(s), {_when(oldest_first[0].finished)} to {_when(oldest_first[-1].finished)}, "
              f"oldest left: {counts['red']} red, {counts['amber']} amber, {counts['green']} green"
              + (f", {absent} without this cluster" if absent else "") + ".")
    rows = []
    for point in history:
        seen = point.clusters.get(key)
        status = seen[0] if seen and seen[0] in VERDICTS else "none"
        verdict = VERDICTS.get(status) or ("not in this audit" if point.readable else "record not readable")
        rpo = seen[1] if seen else None
        rows.append(f"<tr><td>{e(_when(point.finished))}</td><td><span class=\"verdict {status}\">{e(verdict)}</span>"
                    f"</td><td>{e(f'{rpo} s' if rpo is not None else '-')}</td>"
                    f"<td><a href=\"{e(link(point.record))}\">{e(point.record)}</a></td></tr>")
    return (f"<h3>History: the last {len(history)} audit(s)</h3>"
            f"<div class=\"strip\" id=\"history-{e(key)}\">{''.join(cells)}</div><p class=\"legend\">{e(legend)}</p>"
            f"<details class=\"audits\"><summary>Every audit, newest first</summary><table class=\"audits\">"
            "<thead><tr><th>Audit finished</th><th>Verdict</th><th>Worst RPO</th><th>Record</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></details>")


def _trend(key: str, history: Sequence[AuditPoint], threshold: int | None) -> str:
    """The worst node RPO per audit as inline SVG bars (red above ``threshold``, the dashed line)."""
    if not history:
        return ""
    values = [(p, (p.clusters.get(key) or ("", None))[1]) for p in reversed(history)]
    known = [v for _, v in values if v is not None]
    if not known:
        return "<h3>RPO trend</h3><p class=\"legend\">No RPO was reported for this cluster in these audits.</p>"
    height, step, bar = 80, 12, 9
    width = 8 + step * len(values)
    top = max([*known, threshold or 0]) * 1.1 or 1.0
    scale = (height - 8) / top
    shapes = []
    if threshold:
        y = height - round(threshold * scale)
        shapes.append(f"<line x1=\"0\" x2=\"{width}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#9a6700\" stroke-width=\"1\" "
                      "stroke-dasharray=\"4 3\"><title>RPO_THRESHOLD_SECONDS</title></line>")
    for i, (point, value) in enumerate(values):
        x = 4 + i * step
        if value is None:
            shapes.append(f"<rect x=\"{x}\" y=\"{height - 2}\" width=\"{bar}\" height=\"2\" fill=\"#8c959f\">"
                          f"<title>{e(_when(point.finished))}: no RPO</title></rect>")
            continue
        tall = max(2, round(value * scale))
        colour = "#cf222e" if threshold and value > threshold else "#1a7f37"
        shapes.append(f"<rect class=\"rpo\" x=\"{x}\" y=\"{height - tall}\" width=\"{bar}\" height=\"{tall}\" "
                      f"fill=\"{colour}\"><title>{e(_when(point.finished))}: {value} s</title></rect>")
    latest = values[-1][1]
    legend = (f"Worst node RPO per audit, oldest left: latest {latest if latest is not None else '-'} s, "
              f"highest {max(known)} s" + (f"; the dashed line is RPO_THRESHOLD_SECONDS ({threshold} s)" if threshold
                                            else "") + ".")
    return (f"<h3>RPO trend</h3><svg class=\"trend\" id=\"rpo-{e(key)}\" xmlns=\"http://www.w3.org/2000/svg\" "
            f"width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" "
            f"aria-label=\"{e(legend)}\">{''.join(shapes)}</svg><p class=\"legend\">{e(legend)}</p>")


# -- drills: every stored drill of the cluster, and how long since one passed ---------------------------------

def _last_passed(note: Mapping[str, Any] | None, drills: Sequence[StoredDrill]) -> datetime | None:
    """When the cluster's last passed drill ended: the newest of what the last-drill note and the records say."""
    found = [d.drill.last_passed_at for d in drills if d.drill is not None]
    if isinstance(note, Mapping):
        record = DrillRecord.from_json(dict(note))
        found.append(record.last_passed_at if record else _parse(note.get("last_passed")))
    moments = [m.astimezone(UTC) for m in found if m is not None]
    return max(moments) if moments else None


def _due(last: datetime | None, max_days: int, moment: datetime, key: str) -> tuple[str, bool]:
    """The time since the last passed drill against TEST_FAILOVER_MAX_AGE_DAYS, and whether it is overdue."""
    limit = f"TEST_FAILOVER_MAX_AGE_DAYS is {max_days} days"
    if last is None:
        text, overdue = f"OVERDUE: no drill of this cluster has passed yet ({limit}).", True
    elif moment - last > timedelta(days=max_days):
        text, overdue = (f"OVERDUE: the last passed drill ended {_when(last.isoformat())}, {_age(moment - last)} ago; "
                         f"{limit}."), True
    else:
        text, overdue = (f"The last passed drill ended {_age(moment - last)} ago ({_when(last.isoformat())}); "
                         f"the next is due by {_when((last + timedelta(days=max_days)).isoformat())} ({limit})."), False
    return f"<p class=\"drill-age{' overdue' if overdue else ''}\" id=\"drill-due-{e(key)}\">{e(text)}</p>", overdue


def _drills(drills: Sequence[StoredDrill], total: int, link: Callable[[str], str]) -> str:
    if not drills:
        return ""
    shown = f"the newest {len(drills)} of {total}" if total > len(drills) else f"{len(drills)}"
    items = []
    for i, stored in enumerate(drills):
        anchor = f"<a class=\"record\" href=\"{e(link(stored.record))}\">{e(stored.record)}</a>"
        drill = stored.drill
        if drill is None:
            items.append(f"<details class=\"drill-record\"><summary><span class=\"verdict none\">UNREADABLE</span>"
                         f"not a drill record this page reads: {anchor}</summary></details>")
            continue
        word = DRILL_WORDS.get(drill.result.value, "amber")
        passed = sum(1 for c in drill.checks if c.ok)
        rows = "".join(f"<tr><td>{e(c.name)}</td><td class=\"{'ok' if c.ok else 'bad'}\">{'ok' if c.ok else 'FAILED'}"
                       f"</td><td>{e(c.detail)}</td></tr>" for c in drill.checks)
        checks = (f"<table class=\"checks\"><thead><tr><th>Check</th><th>OK</th><th>Detail</th></tr></thead>"
                  f"<tbody>{rows}</tbody></table>" if drill.checks else "<p>No check ran.</p>")
        cleanup = ("done: " if drill.cleanup.ok else "NOT DONE: ") + drill.cleanup.detail
        items.append(f"<details class=\"drill-record {word}\"{' open' if i == 0 else ''}><summary>"
                     f"<span class=\"verdict {word}\">{e(drill.result.value.upper())}</span>{e(_when(drill.ended))} · "
                     f"{passed} of {len(drill.checks)} checks passed · {e(drill.reason)} · {anchor}</summary>"
                     f"{checks}<p>Cleanup {e(cleanup)} · trigger {e(drill.trigger or '-')} · drill "
                     f"{e(drill.drill_id)}</p></details>")
    return f"<h3>Drills ({e(shown)}, newest first)</h3><div class=\"drills\">{''.join(items)}</div>"


# -- the page -----------------------------------------------------------------------------------------------------

def _cluster(cluster: Mapping[str, Any], settings: Mapping[str, Any], stored: Stored, *, moment: datetime,
             link: Callable[[str], str]) -> tuple[str, bool]:
    """A cluster's section, and whether its drill is overdue."""
    key = str(cluster.get("key"))
    status = cluster.get("status") if cluster.get("status") in VERDICTS else "amber"
    repair = cluster.get("repair") or None
    repair_html = ""
    if isinstance(repair, dict):
        repair_html = f"<p><strong>Repair:</strong> {e(repair.get('outcome'))}: {e(repair.get('reason'))}</p>"
    reassign = cluster.get("reassign") or None
    if isinstance(reassign, dict):
        repair_html += f"<p><strong>IP step:</strong> {e(reassign.get('outcome'))}: {e(reassign.get('reason'))}</p>"
    note = stored.last_drills.get(key)
    drills = stored.drills.get(key, ())
    max_days = _seconds(settings.get("test_failover_max_age_days")) or 180
    due, overdue = _due(_last_passed(note, drills), max_days, moment, key)
    section = (f"<section class=\"cluster {status}\" id=\"cluster-{e(key)}\">"
               f"<h2><span class=\"verdict {status}\">{VERDICTS[str(status)]}</span>{e(cluster.get('name'))}</h2>"
               f"<p class=\"status-text\"><strong>{e(cluster.get('status_text'))}</strong></p>"
               f"{_facts(cluster, settings)}{_nodes(cluster.get('nodes') or [])}"
               f"{_history(key, stored.history, link)}"
               f"{_trend(key, stored.history, _seconds(settings.get('rpo_threshold_seconds')))}"
               f"{_drill(note, due=due)}{_drills(drills, stored.drill_counts.get(key, len(drills)), link)}"
               f"<h3>Drift</h3>{_findings(list(cluster.get('findings') or []))}{repair_html}</section>")
    return section, overdue


def _stale(report: Mapping[str, Any], settings: Mapping[str, Any], moment: datetime) -> str:
    """A banner when the last complete report is older than STALE_PERIODS audit periods (or has no time)."""
    period = _seconds(settings.get("audit_period_minutes")) or DEFAULT_PERIOD_MINUTES
    finished = report.get("finished") or report.get("started")
    parsed = _parse(finished)
    if parsed is not None and moment - parsed <= timedelta(minutes=STALE_PERIODS * period):
        return ""
    since = f"finished {_when(finished)}, {_age(moment - parsed)} ago" if parsed else "has no readable finish time"
    return (f"<div class=\"banner\" id=\"stale\" role=\"alert\"><strong>CRITICAL: this page is stale.</strong> The "
            f"last complete audit {e(since)}; the audit runs every {period} min (AUDIT_PERIOD_MINUTES), so "
            f"{STALE_PERIODS} should have completed since. What follows may no longer be true: check that the "
            "drift-audit timer runs and that the audit can read Azure.</div>")


def render(report: Mapping[str, Any] | None, *, now: datetime | None = None,
           drills: Mapping[str, Any] | None = None, stored: Stored | None = None,
           link: Callable[[str], str] = record_href) -> str:
    """The page for one report (None: no complete audit yet), with each cluster's last drill record from ``drills``
    (cluster key -> record) and the rest of what ``read_stored`` found in ``stored`` (history, drills, the last
    audit attempt); ``link`` makes a stored record's address. Pure: no I/O."""
    found = stored or Stored(report)
    if drills is not None:
        found = replace(found, last_drills=drills)
    if report is None:
        return render_empty(found.attempt)
    title = "asr-s2d: disaster-recovery status"
    if report.get("schema_version") != SUPPORTED_SCHEMA:
        return _page(title, _failed_attempt(found.attempt, report) + (
            f"<p class=\"notice\">The latest report uses schema version {e(report.get('schema_version'))}; this "
            f"page reads version {SUPPORTED_SCHEMA}.</p>"))
    finished = report.get("finished") or report.get("started")
    moment = now or datetime.now(UTC)
    settings = report.get("settings") or {}
    stale = _stale(report, settings, moment)
    body: list[str] = [_failed_attempt(found.attempt, report), stale]
    clusters = [c for c in report.get("clusters") or [] if isinstance(c, Mapping)]
    order = {"red": 0, "amber": 1, "green": 2}
    clusters.sort(key=lambda c: (order.get(str(c.get("status")), 1), str(c.get("name"))))
    sections = [_cluster(c, settings, found, moment=moment, link=link) for c in clusters]
    statuses = [str(c.get("status")) for c in clusters]
    at_risk = sum(1 for s in statuses if s != "green")  # anything not green: red, amber, or a verdict unknown here
    overdue = sum(1 for _, late in sections if late)
    counts = (report.get("summary") or {}).get("findings") or {}
    items = [("", f"{len(clusters)} cluster(s)"), ("risk" if at_risk else "", f"{at_risk} at risk (not green)"),
             ("", f"{statuses.count('red')} red · {statuses.count('amber')} amber · {statuses.count('green')} green"),
             ("", f"{counts.get('critical', 0)} critical / {counts.get('warning', 0)} warning finding(s)"),
             ("risk" if overdue else "", f"{overdue} drill(s) overdue")]
    work_summary = report.get("work")
    if isinstance(work_summary, Mapping):
        failed = _seconds(work_summary.get("failed")) or 0
        items += [("", f"{_seconds(work_summary.get('active')) or 0} work item(s) in flight"),
                  ("risk" if failed else "", f"{failed} work item(s) failed")]
    body.append("<ul class=\"summary\" id=\"summary\">" + "".join(
        f"<li class=\"{cls}\">{e(label)}</li>" for cls, label in items) + "</ul>")
    if not clusters:
        body.append("<p>No tagged cluster was found in the allowed subscriptions.</p>")
    body += [section for section, _ in sections]
    general = list(report.get("findings") or [])
    if general:
        body.append(f"<section class=\"cluster amber\" id=\"general\"><h2>Outside any cluster</h2>"
                    f"{_findings(general)}</section>")
    networks = [n for n in report.get("networks") or [] if isinstance(n, Mapping)]
    if networks:
        body.append(_networks(networks))
    work = report.get("work")
    if isinstance(work, Mapping):
        body.append(_work(work))
    errors = list(report.get("errors") or [])
    if errors:
        body.append("<section class=\"cluster amber\" id=\"errors\"><h2>Not audited</h2><ul>" + "".join(
            f"<li>{e(x)}</li>" for x in errors) + "</ul></section>")
    mode = "repairs on" if report.get("repair") else "report only"
    subtitle = (f"Last complete audit: {_when(finished)}{' · STALE' if stale else ''} · {mode}"
                f"{' · dry run' if report.get('dry_run') else ''} · audit {report.get('audit_id', '-')}")
    return _page(title, "".join(body), subtitle=subtitle)


def _networks(networks: Sequence[Mapping[str, Any]]) -> str:
    """Where the DR and drill test networks resolve names (the report's ``networks``): a failed-over cluster and SQL
    Server need their Active Directory domain's DNS there."""
    rows = []
    for n in networks:
        dns = str(n.get("dns") or "")
        servers = ", ".join(str(x) for x in n.get("dns_servers") or []) or "-"
        outside = ", ".join(str(x) for x in n.get("outside") or [])
        where = ("Azure-provided DNS" if dns == "azure-provided" else "not readable" if dns == "unreadable"
                 else f"{servers}" + (f" (outside the network: {outside})" if outside else ""))
        rows.append(f"<tr><td>{e(n.get('role'))}</td><td>{e(str(n.get('id') or '').rsplit('/', 1)[-1])}</td>"
                    f"<td>{e(where)}</td></tr>")
    return ("<section class=\"cluster\" id=\"networks\"><h2>Name resolution</h2><table class=\"networks\">"
            "<tr><th>network</th><th>virtual network</th><th>DNS</th></tr>" + "".join(rows) + "</table>"
            "<p class=\"legend\">The cluster, its roles and SQL Server need their Active Directory domain's DNS and a "
            "domain controller in the DR region, and in the isolated test network during drills.</p></section>")


def _work(work: Mapping[str, Any]) -> str:
    """The durable work as the audit found it (the report's ``work``): what runs and what it waits for, and what
    failed, a message that went to the poison queue included, with the step and the error."""
    active = _seconds(work.get("active")) or 0
    failed = _seconds(work.get("failed")) or 0
    resent = _seconds(work.get("resent")) or 0
    in_flight = [w for w in work.get("in_flight") or [] if isinstance(w, Mapping)]
    failures = [w for w in work.get("failures") or [] if isinstance(w, Mapping)]
    head = "".join(f"<th>{h}</th>" for h in ("Kind", "Cluster", "Status", "Step", "Waits for", "Work"))
    rows = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in (
        w.get("kind"), w.get("cluster") or "-", w.get("status"), w.get("step"),
        w.get("waits_for") or w.get("reason") or "-", w.get("work"))) + "</tr>" for w in in_flight)
    running = (f"<table class=\"work\" id=\"work-in-flight\"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
               if in_flight else "<p>No work in flight.</p>")
    if active > len(in_flight):
        running += f"<p class=\"legend\">The oldest {len(in_flight)} of {active} shown.</p>"
    failed_html = ""
    if failures:
        items = "".join(
            f"<li><span class=\"sev\">{'Poisoned' if w.get('poisoned') else 'Failed'}</span><strong>{e(w.get('kind'))}"
            f"</strong> of {e(w.get('cluster') or '-')} (<code>{e(w.get('work'))}</code>, step {e(w.get('step'))}, "
            f"{e(_when(w.get('updated')))}): {e(w.get('reason') or 'no reason recorded')}</li>" for w in failures)
        more = f" (the newest {len(failures)} of {failed})" if failed > len(failures) else ""
        failed_html = (f"<h3 class=\"critical\">Failed work{e(more)}</h3><ul class=\"findings critical\" "
                       f"id=\"work-failed\">{items}</ul>")
    note = (f"<p class=\"legend\">{resent} lost message(s) re-sent by this audit.</p>" if resent else "")
    status = "red" if failed else "green" if not active else "amber"
    return (f"<section class=\"cluster {status}\" id=\"work\"><h2>Work</h2><p>{active} in flight · {failed} failed "
            f"(as the last audit found them)</p>{running}{failed_html}{note}</section>")


# -- reading what the page shows, and the record route -------------------------------------------------------------

def read_stored(rt: Runtime) -> Stored:
    """Everything the page shows, from the state container only (never Azure): the last complete report, the last
    audit attempt, and for the report's clusters the newest HISTORY_AUDITS audit reports (each read once for every
    cluster), their newest DRILLS_SHOWN drill records and their last-drill notes. One listing of ``audits/`` and
    one of ``drills/``, then every blob read once, READERS at a time."""
    report = rt.records.json(state.LATEST_AUDIT)
    attempt = rt.records.json(state.LAST_AUDIT_ATTEMPT)
    keys = sorted({str(c["key"]) for c in (report or {}).get("clusters") or [] if isinstance(c, dict) and c.get("key")})
    audits = sorted((n for n in rt.blobs.list_names(state.AUDITS) if state.is_audit_record(n)), reverse=True)
    audits = audits[:HISTORY_AUDITS]
    # The last complete attempt names the report latest.json copies: that one is not read twice.
    latest = (str(attempt.get("report")) if report and attempt and attempt.get("complete") is True
              and attempt.get("report") and attempt.get("audit_id") == report.get("audit_id") else None)
    folders: dict[str, list[str]] = {}
    for name in rt.blobs.list_names(state.DRILLS):
        if state.is_drill_record(name):
            folders.setdefault(name[:name.rindex("/") + 1], []).append(name)
    drill_names = {key: sorted(folders.get(state.drill_prefix(key), []), reverse=True) for key in keys}
    notes = {key: state.note_blob(key, state.LAST_DRILL) for key in keys}
    wanted = list(dict.fromkeys([*(n for n in audits if n != latest), *notes.values(),
                                 *(n for names in drill_names.values() for n in names[:DRILLS_SHOWN])]))
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        bodies = dict(zip(wanted, pool.map(rt.records.json, wanted), strict=True))
    if latest is not None:
        bodies[latest] = report
    return Stored(
        report=report, attempt=attempt, last_drills={key: bodies.get(name) for key, name in notes.items()},
        history=tuple(AuditPoint.of(name, bodies.get(name)) for name in audits),
        drills={key: tuple(StoredDrill(n, DrillRecord.from_json(bodies.get(n))) for n in names[:DRILLS_SHOWN])
                for key, names in drill_names.items()},
        drill_counts={key: len(names) for key, names in drill_names.items()})


def render_latest(rt: Runtime | None = None, *, code: str | None = None, now: datetime | None = None) -> str:
    """The status page from the state container (the HTTP trigger's entry point); ``code``: the function key the
    page was opened with, carried into its record links."""
    stored = read_stored(rt or default_runtime())
    return render(stored.report, now=now, stored=stored, link=lambda name: record_href(name, code=code))


def stored_record(name: str, rt: Runtime | None = None) -> dict[str, Any] | None:
    """One audit report or drill record by its blob name, scrubbed (``/api/status?record=<name>``); None when no
    such record is stored. Any other name, whatever it points at, is ``RejectedInput``: the route serves evidence,
    never the state container's other blobs (locks, enrollments, events, notes)."""
    if not state.is_record(name):
        raise RejectedInput("not a record name: a record is audits/<UTC time>.json or "
                            "drills/<cluster key>/<UTC time>.json")
    body = (rt or default_runtime()).records.record(name)
    return None if body is None else scrub(body)
