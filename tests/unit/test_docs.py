"""The README stays a short front page and its links hold: README.md has at most 150 lines; every relative
link in README.md and ``docs/*.md`` reaches a file that exists and, for ``file.md#anchor``, a heading of that
file (GitHub's anchor rules); every ``docs/*.md`` file is linked from the README."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
MAX_README_LINES = 150

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def _without_code(text: str) -> str:
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading's text: the rendered text (no code ticks, link targets or emphasis
    markers), lower-cased, every character but letters, digits, ``_``, ``-`` and spaces dropped, each space
    a hyphen. (Repeats get ``-1``, ``-2``, ... : see ``anchors``.)"""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"(\*+|(?<!\w)_+|_+(?!\w)|`+)", "", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: Counter[str] = Counter()
    out: set[str] = set()
    for m in _HEADING.finditer(_FENCE.sub("", path.read_text())):
        slug = github_anchor(m.group(2))
        out.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
        seen[slug] += 1
    return out


def relative_links(path: Path) -> list[str]:
    return [t for t in _LINK.findall(_without_code(path.read_text())) if not _EXTERNAL.match(t)]


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Quick start: two commands", "quick-start-two-commands"),
    ("Tags: the operator's interface", "tags-the-operators-interface"),
    ("The report and the status page", "the-report-and-the-status-page"),
    ("shared/scripts — what runs outside the function app", "sharedscripts--what-runs-outside-the-function-app"),
    ("set_cluster_ip.ps1", "set_cluster_ipps1"),
    ("The HTTP contract (function `on_recovery_plan_runbook`)", "the-http-contract-function-on_recovery_plan_runbook"),
    ("Deploy with **azd**", "deploy-with-azd"),
])
def test_anchors_follow_githubs_rules(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_repeated_headings_get_numbered_anchors(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Notes\n\n```sh\n# not a heading\n```\n\n## Notes\n")
    assert anchors(page) == {"title", "notes", "notes-1"}


def test_the_readme_is_a_short_front_page() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines (at most {MAX_README_LINES}): move detail to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_a_heading(page: Path) -> None:
    broken = []
    for link in relative_links(page):
        target, _, anchor = link.partition("#")
        file = (page.parent / target).resolve() if target else page
        if not file.exists():
            broken.append(f"{link}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{link}: no heading with that anchor in {file.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    assert DOCS, "no docs/*.md"
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in relative_links(README) if link.partition("#")[0]}
    assert not [str(p.relative_to(ROOT)) for p in DOCS if p.resolve() not in linked]
