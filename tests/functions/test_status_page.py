"""The status page as a person sees it: rendered by headless Chromium (Debian's), read back as text.

The page comes from a real audit of the emulated world (the HTTP trigger serves it from
``audits/latest.json`` in Azurite). A hostile value in the report must render as text, never as markup.
Without Chromium the browser tests skip locally and FAIL when CI=true (``make browser`` installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from emulator import Emulator
from emulator.clients import control
from shared.audit import service as audit
from shared.audit import status_page as status
from shared.audit.report import Report
from shared.runtime import Runtime
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
    finished = status._when(audited.finished)
    assert f"Last audit: {finished}" in text
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
    assert "No audit has run yet" in text and "Last audit: never" in text


# -- without a browser ---------------------------------------------------------------------------------

def test_every_value_is_escaped_in_the_html(audited: Report) -> None:
    report = audited.to_json()
    report["clusters"][0]["name"] = HOSTILE
    report["clusters"][0]["findings"][0]["fix"] = HOSTILE
    html = status.render(report)
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=&quot;" in html


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
