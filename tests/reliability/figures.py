"""The reliability suite's figures, counted by the tests as they run and written to ``guarantees.json``.

Tests call ``count(name, n)``. A pytest plugin (registered by ``tests/conftest.py``) gathers the counts of
every xdist worker on the controller and, at the end of a session in which every reliability test ran and
passed, writes them to ``tests/reliability/guarantees.json`` (sorted, no timestamps: a rerun rewrites the
same bytes). ``python -m tests.reliability.guarantees --write-docs`` turns that file into the "Guarantees" section of
``docs/testing.md``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "guarantees.json"
_WORKER_KEY = "asr_s2d_reliability_figures"
_TALLY: Counter[str] = Counter()


def count(name: str, n: int = 1) -> None:
    """Add ``n`` to a figure of this process (merged over workers at the end of the session)."""
    _TALLY[name] += n


def _is_reliability(nodeid: str) -> bool:
    return nodeid.replace("\\", "/").startswith("tests/reliability/")


def _is_docs_check(nodeid: str) -> bool:
    return "docs" in nodeid.split("::")[-1]


def _test_files() -> set[str]:
    return {f"tests/reliability/{p.name}" for p in HERE.glob("test_*.py")}


class FiguresPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tally: Counter[str] = Counter()
        self.collected: set[str] = set()
        self.passed: set[str] = set()
        self.failed = False

    # -- collection: on a worker (or without xdist) the items; on the controller the workers' IDs -------
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.collected.update(i.nodeid for i in items if _is_reliability(i.nodeid))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.collected.update(i for i in ids if _is_reliability(i))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # The docs checks compare docs/testing.md with these figures: they must not stop the figures being written.
        if not _is_reliability(report.nodeid) or _is_docs_check(report.nodeid):
            return
        if report.failed or report.skipped:
            self.failed = True
        elif report.when == "call" and report.passed:
            self.passed.add(report.nodeid)

    # -- merging --------------------------------------------------------------------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        raw = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
        if raw:
            self.tally.update(json.loads(raw))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: hand the counts to the controller
            workeroutput[_WORKER_KEY] = json.dumps(dict(_TALLY))
            return
        self.tally.update(_TALLY)
        if self.complete():
            OUTPUT.write_text(json.dumps(dict(sorted(self.tally.items())), indent=1) + "\n")

    def complete(self) -> bool:
        """Every reliability test file collected, nothing deselected, every reliability test passed."""
        options = self.config.option
        if self.failed or getattr(options, "keyword", None) or getattr(options, "markexpr", None):
            return False
        if any("::" in str(arg) for arg in self.config.args):
            return False
        files = {nodeid.split("::")[0] for nodeid in self.collected}
        needed = {nodeid for nodeid in self.collected if not _is_docs_check(nodeid)}
        return bool(self.collected) and files == _test_files() and self.passed == needed
