"""Session hooks: the whole suite's emulator journal against ``infra/role-actions.json``.

At the end of every test that used the emulator, the requests the app's own client factory sent with the
app's identity are reduced to (method, templated path, linked actions) and kept in a per-process set; each
xdist worker writes its set to a file in a directory the controller chose. At session end the controller (or
the only process, without xdist) merges them, maps them to RBAC actions (``tests/arm_actions.py``) and fails
the session with a report when the role misses an action the app used, or — only when the whole suite ran —
grants one nothing used. ``tests/conftest.py`` imports these hooks; nothing else uses this module.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests import arm_actions

_STATE = "_asr_s2d_role"  # attribute on the pytest config: the per-process state below
_DIR_KEY = "asr_s2d_role_dir"  # key in xdist's workerinput: where workers write their requests
_FILTER_OPTIONS = ("keyword", "markexpr", "deselect", "lf", "failedfirst")


class _State:
    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.requests: set[arm_actions.Request] = set()
        self.unmapped: set[str] = set()
        self.seen: dict[int, int] = {}  # id(emulator) -> last journal seq collected

    def collect(self, emulator: Any) -> None:
        from emulator.core.identity import APP_PRINCIPAL_ID

        since = self.seen.get(id(emulator), 0)
        entries = emulator.journal.entries(since=since)
        if entries:
            self.seen[id(emulator)] = entries[-1].seq
        for entry in entries:
            if not arm_actions.is_app_request(entry, APP_PRINCIPAL_ID):
                continue
            try:
                request = arm_actions.request_of(entry.method, entry.path, entry.body)
                request.actions()
            except arm_actions.UnmappedRequest as err:
                self.unmapped.add(str(err))
                continue
            self.requests.add(request)

    def write(self) -> None:
        body = {"requests": sorted(r.to_json() for r in self.requests), "unmapped": sorted(self.unmapped)}
        (self.directory / f"requests-{self.name}.json").write_text(json.dumps(body))


def _state(config: pytest.Config) -> _State | None:
    return getattr(config, _STATE, None)


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and _DIR_KEY in workerinput:
        setattr(config, _STATE, _State(Path(workerinput[_DIR_KEY]), str(workerinput.get("workerid", "worker"))))
    else:
        setattr(config, _STATE, _State(Path(tempfile.mkdtemp(prefix="asr-s2d-role-")), "controller"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist (controller): tell each worker where to write its requests."""
    state = _state(node.config)
    if state is not None:
        node.workerinput[_DIR_KEY] = str(state.directory)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Before the test's fixtures are finalized: what the app sent during the test (the next test's reset
    clears the journal)."""
    state = _state(item.config)
    emulator = getattr(item, "funcargs", {}).get("emulator_server")
    if state is not None and emulator is not None:
        state.collect(emulator)


def _whole_suite(config: pytest.Config) -> bool:
    """True when nothing narrowed the run: no -k/-m/--deselect/--lf, and the arguments are the test paths."""
    option = config.option
    if any(getattr(option, name, None) for name in _FILTER_OPTIONS):
        return False
    root = config.rootpath
    testpaths = {(root / p).resolve() for p in (config.getini("testpaths") or ["."])} | {root.resolve()}
    args = [a for a in config.args if a]
    return all("::" not in a and Path(os.path.abspath(a)).resolve() in testpaths for a in args)


def _merged(state: _State) -> tuple[set[arm_actions.Request], set[str], int]:
    requests, unmapped, files = set(state.requests), set(state.unmapped), 0
    for path in sorted(state.directory.glob("requests-*.json")):
        if path.name == f"requests-{state.name}.json":
            continue
        body = json.loads(path.read_text())
        requests |= {arm_actions.Request.from_json(r) for r in body["requests"]}
        unmapped |= set(body["unmapped"])
        files += 1
    return requests, unmapped, files


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = _state(config)
    if state is None:
        return
    if hasattr(config, "workerinput"):
        state.write()  # before the worker reports itself finished
        return
    requests, unmapped, _files = _merged(state)
    shutil.rmtree(state.directory, ignore_errors=True)
    if not requests and not unmapped:
        return  # no test used the emulator (a unit-only run)
    used = arm_actions.actions_of(requests)
    missing, unused = arm_actions.compare(used, arm_actions.load_role_actions())
    whole = _whole_suite(config) and not session.shouldstop and not session.shouldfail
    problems: list[str] = []
    if unmapped:
        problems.append("requests the action map cannot name (extend tests/arm_actions.py):")
        problems += [f"  {u}" for u in sorted(unmapped)]
    if missing:
        problems.append("infra/role-actions.json misses actions the app used:")
        for action in missing:
            sources = sorted({f"{r.method} {r.template}" for r in requests if action.lower() in
                              {a.lower() for a in r.actions()}})
            problems.append(f"  {action}    <- {sources[0]}" + (f" (+{len(sources) - 1} more)" if len(sources) > 1 else ""))
    if whole and unused:
        caveat = f" ({session.testsfailed} test(s) failed: their code paths may not have run)" if session.testsfailed else ""
        problems.append("infra/role-actions.json grants actions no test of the suite used (remove them, or cover "
                        f"the code path that needs them){caveat}:")
        problems += [f"  {a}" for a in unused]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
    if not problems:
        if reporter is not None:
            scope = "the whole suite" if whole else "this run (subset: only 'misses' checked)"
            reporter.write_line(f"role check: {len(used)} ARM actions used by the app in {scope}, all granted by "
                                "infra/role-actions.json")
        return
    if reporter is not None:
        reporter.write_sep("=", "role check failed: infra/role-actions.json", red=True)
        for line in problems:
            reporter.write_line(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
