"""The status page as a person sees it: rendered by headless Chromium (Debian's), read back as text.

The page comes from a real audit of the emulated world (the HTTP trigger serves it from
``audits/latest.json`` in Azurite). A hostile value in the report must render as text, never as markup.
Without Chromium the browser tests skip locally and FAIL when CI=true (``make browser`` installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from emulator import Emulator
from emulator.clients import control
from emulator.core.faults import FaultRule
from shared.audit import service as audit
from shared.audit import status_page as status
from shared.audit.report import Report
from shared.drill import service as drill
from shared.drill.record import DrillRecord, Result
from shared.runtime import Runtime
from shared.state import Records
from shared.times import parse_time
from tests.functions.drift_world import CLUSTER, DR_IP, item_of, mark_tested

HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail("CI=true but Debian's chromium is not installed: `make browser` (part of `make test`) installs it")
        pytest.skip("chromium is not installed; `make browser` installs it")
    return path


def browse(chromium: str, page: str, tmp_path: Path) -> str:
    """Chromium's DOM after loading the page from a file (no network, no extensions, a throwaway profile)."""
    target = tmp_path / "status.html"
    target.write_text(page, encoding="utf-8")
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", target.as_uri()],
        capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "<html" in out.stdout, out.stderr[-2000:]
    return out.stdout


class _Visible(HTMLParser):
    """The text a person sees (no <style>, <script>, <title>), and every element the browser built."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.elements: list[str] = []
        self._hidden = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(tag)
        if tag in ("style", "script", "title", "head"):
            self._hidden += 1
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title", "head"):
            self._hidden -= 1
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self._hidden:
            self.text.append(data)


def seen(dom: str) -> _Visible:
    parser = _Visible()
    parser.feed(dom)
    parser.close()
    return parser


def visible_text(dom: str) -> str:
    return " ".join(" ".join(seen(dom).text).split())


@pytest.fixture
def audited(emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> Report:
    """A real audit: the converged demo cluster, never tested, with node 2's replication critical."""
    mark_tested(emu, None)
    control(emu, "POST", "asr/health", {"item": item_of(emu, converged["vm_ids"][1])["id"],
                                        "replicationHealth": "Critical", "rpoInSeconds": 5400})
    return audit.run_audit(runtime)


def _status_request() -> func.HttpRequest:
    return func.HttpRequest(method="GET", url="/api/status", body=b"", headers={})


# -- through the browser ---------------------------------------------------------------------------------

@pytest.mark.browser
def test_the_page_shows_each_cluster_its_nodes_health_rpo_drift_by_severity_and_the_audit_time(
        chromium: str, audited: Report, app_settings: dict[str, str], tmp_path: Path) -> None:
    from functions.drift_audit import status_page

    response = status_page(_status_request())
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    dom = browse(chromium, response.get_body().decode(), tmp_path)
    text = visible_text(dom)
    assert CLUSTER in text and "s2d-node1" in text and "s2d-node2" in text
    assert "RED" in text and "At risk" in text  # the verdict in words, not only in colour
    assert "Critical (1)" in text and "Warning (2)" in text  # drift grouped by severity
    assert "replication health of s2d-node2 is Critical" in text
    assert "RPO of s2d-node2 is 5400 s" in text and "5400 s" in text
    assert "never passed a test failover" in text
    assert DR_IP in text and f"asr-s2d-{CLUSTER}" in text
    assert "Name resolution" in text and "vnet-dr Azure-provided DNS" in " ".join(text.split())  # the DR network's DNS
    finished = status._when(audited.finished)
    assert f"Last complete audit: {finished}" in text
    assert "http" not in " ".join(a for a in seen(dom).elements if a in ("link", "script", "img", "iframe"))
    assert not {"script", "img", "link", "iframe"} & set(seen(dom).elements)  # self-contained, no assets


@pytest.mark.browser
def test_a_hostile_value_renders_as_text_not_markup(chromium: str, audited: Report, tmp_path: Path) -> None:
    report = audited.to_json()
    cluster = report["clusters"][0]
    cluster["name"] = HOSTILE
    cluster["nodes"][0]["name"] = HOSTILE
    cluster["findings"][0]["message"] = HOSTILE
    cluster["findings"][0]["subject"] = HOSTILE
    cluster["dr_ip"] = HOSTILE
    report["errors"] = [HOSTILE]
    dom = browse(chromium, status.render(report), tmp_path)
    page = seen(dom)
    assert "img" not in page.elements and "script" not in page.elements
    assert page.title.strip() == "asr-s2d: disaster-recovery status"  # no injected script ran
    assert visible_text(dom).count(HOSTILE) >= 5


@pytest.mark.browser
def test_before_any_audit_the_page_says_so(chromium: str, runtime: Runtime, tmp_path: Path) -> None:
    text = visible_text(browse(chromium, status.render_latest(runtime), tmp_path))
    assert "No audit has run yet" in text and "Last complete audit: never" in text


# -- without a browser ---------------------------------------------------------------------------------

def test_every_value_is_escaped_in_the_html(audited: Report) -> None:
    report = audited.to_json()
    report["clusters"][0]["name"] = HOSTILE
    report["clusters"][0]["findings"][0]["fix"] = HOSTILE
    report["networks"] = [{"role": HOSTILE, "id": HOSTILE, "dns": "custom", "dns_servers": [HOSTILE],
                           "inside": [], "outside": [HOSTILE]}]
    html = status.render(report)
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=&quot;" in html


def test_the_work_section_shows_work_in_flight_and_failed_work_escaped(audited: Report) -> None:
    report = audited.to_json()
    hostile = {"work": f"repair/{HOSTILE}", "kind": "repair", "cluster": HOSTILE, "status": "waiting", "step": 3,
               "reason": HOSTILE, "updated": "2026-11-24T16:45:00Z", "due": None, "waits_for": HOSTILE,
               "poisoned": False}
    report["work"] = {"active": 1, "failed": 2, "resent": 1, "resent_ids": ["enroll/x"], "in_flight": [hostile],
                      "failures": [{**hostile, "status": "failed", "poisoned": True,
                                    "reason": f"work repair/x failed at step 3 after 5 deliveries and goes to the "
                                              f"poison queue: TransientError: {HOSTILE}"},
                                   {**hostile, "kind": "drill", "status": "failed", "reason": "cleanup failed"}]}
    html = status.render(report)
    assert "<img" not in html and "<script" not in html
    section = html.split('id="work"', 1)[1]
    assert "1 in flight · 2 failed" in section and "1 lost message(s) re-sent" in section
    assert 'id="work-in-flight"' in section and "<td>waiting</td><td>3</td>" in section
    assert "&lt;img src=x onerror=&quot;" in section
    assert section.count("Poisoned") == 1 and section.count("Failed</span>") == 1
    assert "failed at step 3 after 5 deliveries and goes to the poison queue" in section
    assert "2 work item(s) failed" in html
    # A report written before the section existed has no Work section.
    assert 'id="work"' not in status.render(audited.to_json() | {"work": None})


def test_an_old_report_says_it_is_old(audited: Report) -> None:
    from datetime import timedelta

    from shared.times import parse_time

    finished = parse_time(audited.finished)
    assert finished is not None
    assert 'id="stale"' in status.render(audited.to_json(), now=finished + timedelta(hours=4))
    assert 'id="stale"' not in status.render(audited.to_json(), now=finished + timedelta(minutes=5))


def test_a_report_of_another_schema_version_is_not_misread() -> None:
    assert "schema version 2" in status.render({"schema_version": 2})


def test_the_trigger_serves_the_no_audit_page_before_the_first_audit(
        runtime: Runtime, app_settings: dict[str, str], make_runtime: Callable[..., Runtime]) -> None:
    from functions.drift_audit import status_page

    response = status_page(_status_request())
    assert response.status_code == 200 and "No audit has run yet" in response.get_body().decode()
    assert response.headers["Cache-Control"] == "no-store"


def test_in_ci_the_browser_tests_fail_rather_than_skip_without_chromium(tmp_path: Path) -> None:
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "CI": "true", "PATH": str(tmp_path)}  # a PATH with no chromium on it
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                          f"{Path(__file__).relative_to(root)}::test_before_any_audit_the_page_says_so"],
                         cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode != 0, out.stdout[-2000:]
    assert "chromium is not installed" in out.stdout and "skipped" not in out.stdout.splitlines()[-1]


# -- history, drills, a failed audit, staleness: the page an auditor reads ----------------------------------------

class _Dom(HTMLParser):
    """Every element with its attributes and its text (SVG titles too), in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.nodes.append((tag, {k: v or "" for k, v in attrs}, []))
        self._open.append(len(self.nodes) - 1)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self.nodes[self._open.pop()][0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for index in self._open:
            self.nodes[index][2].append(data)

    def find(self, tag: str, **attrs: str) -> list[tuple[dict[str, str], str]]:
        """Each matching element's attributes and its text (``class_`` matches one class of the element)."""
        found = []
        for name, got, text in self.nodes:
            if name != tag:
                continue
            if "class_" in attrs and attrs["class_"] not in got.get("class", "").split():
                continue
            if any(got.get(k) != v for k, v in attrs.items() if k != "class_"):
                continue
            found.append((got, " ".join(" ".join(text).split())))
        return found


def dom_of(page: str) -> _Dom:
    parser = _Dom()
    parser.feed(page)
    parser.close()
    return parser


def screenshot(chromium: str, page: str, folder: Path) -> Path:
    """A PNG of the page as headless Chromium draws it (full width, tall enough for a cluster's history)."""
    folder.mkdir(parents=True, exist_ok=True)
    source, png = folder / "status.html", folder / "status-page.png"
    source.write_text(page, encoding="utf-8")
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions", "--hide-scrollbars",
         f"--user-data-dir={folder / 'profile'}", "--window-size=1280,3200", f"--screenshot={png}", source.as_uri()],
        capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return png


@dataclass
class History:
    """The demo cluster through five audits (green, red, amber, green, amber) and two drills (passed, then failed
    in the guest), then an audit that could not read the VMs; every record written by the services themselves."""

    rt: Runtime
    key: str
    reports: list[Report]
    passed: DrillRecord
    failed: DrillRecord
    error: str


@pytest.fixture
def history(emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> History:
    node2 = item_of(emu, converged["vm_ids"][1])["id"]

    def replication(health: str, rpo: int) -> None:
        control(emu, "POST", "asr/health", {"item": node2, "replicationHealth": health, "rpoInSeconds": rpo})

    start = datetime.now(UTC) - timedelta(hours=5)
    reports = [audit.run_audit(runtime, now=start)]
    for hour, (health, rpo) in enumerate([("Critical", 5400), ("Normal", 3600), ("Normal", 30)], start=1):
        replication(health, rpo)
        reports.append(audit.run_audit(runtime, now=start + timedelta(hours=hour)))
    passed = drill.run_drill(CLUSTER, runtime)
    for vm_id in converged["vm_ids"]:  # the guest reports a degraded virtual disk: the next drill fails
        control(emu, "PATCH", "guest", {"virtual_disks": [{"name": "vd01", "health": "Degraded"}]}, id=vm_id)
    failed = drill.run_drill(CLUSTER, runtime)
    replication("Normal", 2400)
    reports.append(audit.run_audit(runtime, now=start + timedelta(hours=4)))
    emu.faults.add(FaultRule(action="status", status=403, code="AuthorizationFailed", method="GET",
                             message="The client does not have authorization to list virtual machines",
                             path=r"/providers/Microsoft\.Compute/virtualMachines$"))
    with pytest.raises(audit.AuditIncomplete) as incomplete:
        audit.run_audit(runtime, now=start + timedelta(hours=5))
    emu.faults.clear()
    return History(runtime, reports[-1].clusters[0].key, reports, passed, failed, str(incomplete.value))


@pytest.mark.browser
def test_the_page_shows_the_history_the_rpo_trend_every_drill_with_its_checks_and_a_stale_failed_audit(
        chromium: str, history: History, tmp_path: Path) -> None:
    reports, key = history.reports, history.key
    assert [r.clusters[0].status for r in reports] == ["green", "red", "amber", "green", "amber"]
    assert history.passed.result is Result.PASSED and history.failed.result is Result.FAILED
    latest = parse_time(reports[-1].finished)
    assert latest is not None
    later = latest + timedelta(hours=3)  # three hourly periods without a complete audit
    page = status.render_latest(history.rt, code="k3y", now=later)

    dom_text = browse(chromium, page, tmp_path)
    text, dom = visible_text(dom_text), dom_of(dom_text)
    png = screenshot(chromium, page, tmp_path / "screenshots")
    print(f"status page screenshot: {png}")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    assert int.from_bytes(data[16:20], "big") == 1280 and int.from_bytes(data[20:24], "big") >= 1000

    # Loudly: the failed attempt with its error, and the stale report as critical with the last good audit's time.
    [(_, failed)] = dom.find("div", id="audit-failed")
    assert "CRITICAL: the last audit failed" in failed and "AuthorizationFailed" in failed
    assert "authorization to list virtual machines" in failed and "asr-s2d audit" in failed
    assert f"the last complete audit, which finished {status._when(reports[-1].finished)}" in failed
    [(_, stale)] = dom.find("div", id="stale")
    assert "CRITICAL: this page is stale" in stale
    assert f"last complete audit finished {status._when(reports[-1].finished)}, 3 h ago" in stale
    assert f"Last complete audit: {status._when(reports[-1].finished)} · STALE" in text
    # "At risk" counts every cluster that is not green: the amber one too.
    summary = [t for _, t in dom.find("li") if "at risk" in t]
    assert summary == ["1 at risk (not green)"] and "0 red · 1 amber · 0 green" in text

    # History: one cell per audit, oldest left, and a table of every audit with a link to its record.
    strip = dom_text.split(f'id="history-{key}"', 1)[1].split("</div>", 1)[0]
    assert re.findall(r'<span class="(\w+)"', strip) == ["green", "red", "amber", "green", "amber"]
    assert "5 audit(s)" in text and "oldest left: 1 red, 2 amber, 2 green" in text
    links = [a["href"] for a, _ in dom.find("a") if a["href"].startswith("?record=audits/")]
    assert links == [f"?record={r.blob_name}&code=k3y" for r in reversed(reports)]

    # The RPO trend: the worst node RPO per audit, red above RPO_THRESHOLD_SECONDS.
    bars = [(a, t) for a, t in dom.find("rect", class_="rpo")]
    rpos = [r.clusters[0].rpo_seconds for r in reports]
    assert [t.rsplit(": ", 1)[1] for _, t in bars] == [f"{v} s" for v in rpos]
    threshold = reports[-1].rpo_threshold_seconds
    assert [a["fill"] == "#cf222e" for a, _ in bars] == [v is not None and v > threshold for v in rpos]
    heights = [int(a["height"]) for a, _ in bars]
    assert heights[1] == max(heights) and heights[3] < heights[2]  # 5400 s the tallest, 30 s below 3600 s
    assert f"RPO_THRESHOLD_SECONDS ({threshold} s)" in text

    # Every drill, newest first, with its result, each check (name, ok, detail) and a link to its record.
    drills = dom.find("details", class_="drill-record")
    assert len(drills) == 2
    assert drills[0][1].startswith("FAILED") and drills[1][1].startswith("PASSED")
    assert "open" in drills[0][0] and "open" not in drills[1][0]
    assert "virtual-disks not Healthy: vd01 Degraded" not in drills[0][1]  # cells, not run together
    assert f"{len(history.failed.checks) - 1} of {len(history.failed.checks)} checks passed" in drills[0][1]
    check_rows = [t for _, t in dom.find("tr") if t.startswith("virtual-disks ")]
    assert check_rows == ["virtual-disks FAILED not Healthy: vd01 Degraded",
                          next(f"virtual-disks ok {c.detail}".strip() for c in history.passed.checks
                               if c.name == "virtual-disks")]
    drill_links = [a["href"] for a, _ in dom.find("a", class_="record")]
    assert drill_links == [f"?record={history.failed.blob}&code=k3y", f"?record={history.passed.blob}&code=k3y"]
    # The time since the last passed drill, against TEST_FAILOVER_MAX_AGE_DAYS: not overdue (it passed today).
    [(due_attrs, due)] = dom.find("p", id=f"drill-due-{key}")
    assert "overdue" not in due_attrs["class"] and due.startswith("The last passed drill ended 3 h ago")
    assert f"TEST_FAILOVER_MAX_AGE_DAYS is {reports[-1].test_failover_max_age_days} days" in due
    assert not {"script", "img", "link", "iframe"} & set(seen(dom_text).elements)  # still self-contained


class CountingRecords(Records):
    """The state store, counting what is read (the real one underneath: Azurite)."""

    def __init__(self, blobs: Any) -> None:
        super().__init__(blobs)
        self.reads: list[str] = []

    def json(self, name: str) -> dict[str, Any] | None:
        self.reads.append(name)
        return super().json(name)


def test_the_page_reads_only_blobs_and_each_report_once(emu: Emulator, history: History) -> None:
    counting = CountingRecords(history.rt.blobs)
    seq = emu.journal.last_seq
    stored = status.read_stored(replace(history.rt, records=counting))
    assert emu.journal.entries(since=seq) == []  # ARM-free: the page never reads Azure
    assert sorted(counting.reads) == sorted(set(counting.reads))  # every blob read once
    assert len(counting.reads) == 2 + len(history.reports) + 1 + 2  # latest, attempt, the history, note, drills
    # After a complete audit the last attempt names the report latest.json holds: that one is not read again.
    again = audit.run_audit(history.rt)
    counting.reads.clear()
    stored = status.read_stored(replace(history.rt, records=counting))
    assert again.blob_name not in counting.reads and stored.history[0].record == again.blob_name
    assert len(counting.reads) == 2 + len(history.reports) + 1 + 2
    assert [p.record for p in stored.history] == [again.blob_name, *(r.blob_name for r in reversed(history.reports))]
    assert [d.record for d in stored.drills[history.key]] == [history.failed.blob, history.passed.blob]
    assert [d.drill for d in stored.drills[history.key]] == [history.failed, history.passed]


def test_history_and_drills_are_bounded_newest_first(audited: Report, runtime: Runtime) -> None:
    from shared import state

    body, key = audited.to_json(), audited.clusters[0].key
    start = datetime.now(UTC) - timedelta(days=3)
    for hour in range(status.HISTORY_AUDITS + 5):  # older audit reports, as the audit stores them
        runtime.blobs.put_json(state.audit_blob(start + timedelta(hours=hour)), body)
    record = DrillRecord(drill_id="d", cluster=CLUSTER, cluster_key=key, trigger="timer", started=audited.started,
                         ended=audited.started, drill_seconds=1.0, result=Result.PASSED, reason="came back")
    names = [state.drill_blob(key, start + timedelta(days=day)) for day in range(status.DRILLS_SHOWN + 2)]
    for name in names:
        runtime.blobs.put_json(name, {**record.to_json(), "record": name})
    page = status.render_latest(runtime)
    stored = status.read_stored(runtime)
    assert len(stored.history) == status.HISTORY_AUDITS and stored.history[0].record == audited.blob_name
    assert [d.record for d in stored.drills[key]] == sorted(names, reverse=True)[:status.DRILLS_SHOWN]
    assert f"History: the last {status.HISTORY_AUDITS} audit(s)" in page
    assert f"Drills (the newest {status.DRILLS_SHOWN} of {status.DRILLS_SHOWN + 2}, newest first)" in page


def test_at_risk_counts_every_cluster_that_is_not_green(audited: Report) -> None:
    report = audited.to_json()
    red = report["clusters"][0]
    report["clusters"] = [{**red, "key": f"k-{status_}", "name": f"c-{status_}", "status": status_}
                          for status_ in ("red", "amber", "amber", "green", "unknown")]
    text = " ".join(" ".join(seen(status.render(report)).text).split())
    assert "5 cluster(s)" in text and "4 at risk (not green)" in text
    assert "1 red · 2 amber · 1 green" in text


def test_a_drill_older_than_the_limit_is_overdue(history: History) -> None:
    latest = parse_time(history.reports[-1].finished)
    assert latest is not None
    limit = history.reports[-1].test_failover_max_age_days
    page = dom_of(status.render_latest(history.rt, now=latest + timedelta(days=limit + 1)))
    [(attrs, due)] = page.find("p", id=f"drill-due-{history.key}")
    assert "overdue" in attrs["class"].split()
    assert due.startswith(f"OVERDUE: the last passed drill ended {status._when(history.passed.ended)}, "
                          f"{limit + 1} days ago; TEST_FAILOVER_MAX_AGE_DAYS is {limit} days")
    assert [t for _, t in page.find("li") if "overdue" in t] == ["1 drill(s) overdue"]


def test_a_cluster_never_drilled_is_overdue(audited: Report, runtime: Runtime) -> None:
    page = dom_of(status.render_latest(runtime))
    [(attrs, due)] = page.find("p", id=f"drill-due-{audited.clusters[0].key}")
    assert "overdue" in attrs["class"].split() and due.startswith("OVERDUE: no drill of this cluster has passed yet")


def test_a_report_is_stale_after_two_audit_periods(audited: Report) -> None:
    report = audited.to_json()
    finished = parse_time(audited.finished)
    assert finished is not None
    report["settings"]["audit_period_minutes"] = 15
    assert 'id="stale"' in status.render(report, now=finished + timedelta(minutes=31))
    assert 'id="stale"' not in status.render(report, now=finished + timedelta(minutes=29))
    del report["settings"]["audit_period_minutes"]  # a report from before the setting: hourly
    assert 'id="stale"' not in status.render(report, now=finished + timedelta(minutes=119))
    assert 'id="stale"' in status.render(report, now=finished + timedelta(minutes=121))


def test_a_failed_first_audit_is_shown_with_its_error(converged: dict[str, Any], emu: Emulator,
                                                      runtime: Runtime) -> None:
    emu.faults.add(FaultRule(action="status", status=403, code="AuthorizationFailed", method="GET",
                             message="no access", path=r"/providers/Microsoft\.Compute/virtualMachines$"))
    with pytest.raises(audit.AuditIncomplete):
        audit.run_audit(runtime)
    page = dom_of(status.render_latest(runtime))
    [(_, failed)] = page.find("div", id="audit-failed")
    assert "CRITICAL: the last audit failed" in failed and "AuthorizationFailed" in failed
    assert "No audit has completed yet." in failed and page.find("p", id="no-audit")


# -- the page's records: /api/status?record=<name> ----------------------------------------------------------------

def _record_request(name: str) -> func.HttpRequest:
    return func.HttpRequest(method="GET", url="/api/status", body=b"", headers={}, params={"record": name})


def test_a_record_link_serves_a_stored_audit_report_or_drill_record_as_json(
        history: History, app_settings: dict[str, str]) -> None:
    from functions.drift_audit import status_page

    for name in (history.reports[0].blob_name, str(history.failed.blob)):
        response = status_page(_record_request(name))
        assert response.status_code == 200 and response.mimetype == "application/json", name
        assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Content-Type-Options"] == "nosniff"
        doc = history.rt.blobs.get_json(name)
        assert doc is not None and json.loads(response.get_body()) == doc.body
    assert json.loads(status_page(_record_request(str(history.failed.blob))).get_body())["result"] == "failed"


def test_a_record_link_scrubs_what_it_serves(audited: Report, runtime: Runtime, blob_service: Any,
                                                app_settings: dict[str, str]) -> None:
    from functions.drift_audit import status_page

    body = {**audited.to_json(), "errors": ["denied: AccountKey=c2VjcmV0a2V5MTIz;EndpointSuffix=core.windows.net"]}
    name = audited.blob_name
    blob_service.get_blob_client(runtime.settings.state_container, name).upload_blob(
        json.dumps(body).encode(), overwrite=True)  # written by something other than the app's scrubbing gateway
    response = status_page(_record_request(name))
    assert response.status_code == 200
    assert "c2VjcmV0a2V5MTIz" not in response.get_body().decode()
    assert json.loads(response.get_body())["errors"] == ["denied: AccountKey=***;EndpointSuffix=core.windows.net"]


@pytest.mark.parametrize("name", [
    "", "audits/latest.json", "audits/last-attempt.json", "drills/active.json", "enrollments/s2dclu01.json",
    "locks/drills_vault", "clusters/k/last-drill.json", "../audits/2026-01-01T00-00-00.000000Z.json",
    "audits/../enrollments/s2dclu01.json", "drills/../2026-01-01T00-00-00.000000Z.json",
    "drills/./2026-01-01T00-00-00.000000Z.json", "drills/a/b/2026-01-01T00-00-00.000000Z.json",
    "audits/2026-01-01T00-00-00.000000Z.json/../../enrollments/s2dclu01.json",
    "/audits/2026-01-01T00-00-00.000000Z.json", "audits\\2026-01-01T00-00-00.000000Z.json",
    "audits/2026-01-01T00-00-00.000000Z.json\n", "AUDITS/2026-01-01T00-00-00.000000Z.json",
    "outcomes/2026/01/01/2026-01-01T00-00-00.000000Z-e.json", "drills/k/2026-01-01T00-00-00.000000Z-cleanup.json",
])
def test_a_record_link_refuses_every_other_name(name: str, runtime: Runtime, app_settings: dict[str, str]) -> None:
    from functions.drift_audit import status_page

    response = status_page(_record_request(name))
    assert response.status_code == 400 and response.mimetype == "application/json"
    assert "not a record name" in json.loads(response.get_body())["error"]


def test_a_record_link_answers_404_for_a_record_that_is_not_stored(runtime: Runtime,
                                                                      app_settings: dict[str, str]) -> None:
    from functions.drift_audit import status_page

    for name in ("audits/2001-01-01T00-00-00.000000Z.json", "drills/s_s2dclu01/2001-01-01T00-00-00.000000Z.json"):
        response = status_page(_record_request(name))
        assert response.status_code == 404 and json.loads(response.get_body()) == {"error": "no such record"}


def test_the_page_links_its_records_with_the_key_it_was_opened_with(history: History,
                                                                    app_settings: dict[str, str]) -> None:
    from functions.drift_audit import status_page

    response = status_page(func.HttpRequest(method="GET", url="/api/status", body=b"", headers={},
                                            params={"code": "a+b/c=="}))
    hrefs = [a["href"] for a, _ in dom_of(response.get_body().decode()).find("a")]
    assert hrefs and all(h.startswith("?record=") and h.endswith("&code=a%2Bb%2Fc%3D%3D") for h in hrefs)
    plain = [a["href"] for a, _ in dom_of(status.render_latest(history.rt)).find("a")]
    assert f"?record={history.failed.blob}" in plain  # no key (Entra ID sign-in): the links carry none


def test_audit_reports_are_kept_write_once_in_the_evidence_container_and_served_from_it(
        emu: Emulator, converged: dict[str, Any], make_runtime: Callable[..., Runtime], blob_service: Any) -> None:
    """EVIDENCE_CONTAINER gets a write-once copy of every audit report (the Bicep puts it under a time-based retention
    policy); once the state container's copy is gone (its lifecycle rule), the record link serves the evidence."""
    blob_service.create_container("evidence")
    rt = make_runtime(EVIDENCE_CONTAINER="evidence")
    report = audit.run_audit(rt)
    evidence = blob_service.get_container_client("evidence")
    kept = json.loads(evidence.get_blob_client(report.blob_name).download_blob().readall())
    assert kept == rt.records.json(report.blob_name) and kept["audit_id"] == report.to_json()["audit_id"]
    rt.records.keep_evidence(report.blob_name, {"tampered": True})  # the first copy stays the evidence
    assert json.loads(evidence.get_blob_client(report.blob_name).download_blob().readall()) == kept
    blob_service.get_container_client(rt.settings.state_container).delete_blob(report.blob_name)
    assert status.stored_record(report.blob_name, rt) == kept
    assert status.stored_record(report.blob_name, make_runtime()) is None  # no evidence container: not stored


SIGNED_IN = {"X-MS-CLIENT-PRINCIPAL-ID": "00000000-0000-0000-0000-00000000000a",
             "X-MS-CLIENT-PRINCIPAL-NAME": "oncall@contoso.example"}


def _host(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter, as a Functions host that indexes the app with ``env`` set."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return out.stdout.strip()


def test_with_entra_sign_in_the_page_takes_no_key_and_refuses_what_app_service_did_not_sign_in(
        audited: Report, app_settings: dict[str, str]) -> None:
    """STATUS_PAGE_AUTH=entra (the Bicep's, with statusPageEntraClientId): the route is anonymous, the sign-in is the
    gate; a request without App Service's principal header (App Service strips it from clients) gets 401."""
    levels = "import json, function_app\nprint(json.dumps({f.get_function_name(): json.loads(f.get_function_json())" \
             "['bindings'][0].get('authLevel') for f in function_app.app.get_functions()}))"
    assert json.loads(_host(levels, STATUS_PAGE_AUTH="entra"))["status_page"] == "ANONYMOUS"
    assert json.loads(_host(levels))["status_page"] == "FUNCTION"
    assert json.loads(_host(levels, STATUS_PAGE_AUTH="entra"))["on_recovery_plan_runbook"] == "FUNCTION"
    serve = ("import json, sys, azure.functions as func\nfrom functions.drift_audit import status_page\n"
             "for headers in json.loads(sys.argv[1]):\n"
             "    r = status_page(func.HttpRequest(method='GET', url='/api/status', body=b'', headers=headers))\n"
             "    print(r.status_code, r.mimetype)\n")
    answers = subprocess.run([sys.executable, "-c", serve, json.dumps([{}, SIGNED_IN])], capture_output=True,
                             text=True, check=True, cwd=Path(__file__).resolve().parents[2],
                             env={**os.environ, "STATUS_PAGE_AUTH": "entra"}).stdout.split("\n")
    assert answers[:2] == ["401 application/json", "200 text/html"]
