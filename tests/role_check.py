"""Session hooks: the whole suite's emulator journal against the roles of ``infra/role-actions.json``, where
``infra/main.bicep`` assigns them.

At the end of every test that used the emulator, each request the app's own client factory sent with the app's
identity is reduced to its checks (``tests/arm_actions.py``: an action on a resource, linked access included)
and checked against the deployment an operator would make for the test's world (``Deployment.of_world``, every
switch parameter on: the switches' off state is ``tests/functions/test_role_actions.py``'s). A check passes only
when a role holding its action is assigned at a scope that holds its resource. Each xdist worker writes what it
found to a file in a directory the controller chose; at session end the controller (or the only process,
without xdist) merges them and fails the session with a report when a request was refused, or — only when the
whole suite ran — a role holds an action that no request needed where that role is assigned.
``tests/conftest.py`` imports these hooks; nothing else uses this module.
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
_DIR_KEY = "asr_s2d_role_dir"  # key in xdist's workerinput: where workers write what they found
_FILTER_OPTIONS = ("keyword", "markexpr", "deselect", "lf", "failedfirst")


class _State:
    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.refused: dict[str, list[str]] = {}  # need key -> report lines (the first test that made it)
        self.where: list[str] = []  # where the roles are assigned, for the report (the first world's deployment)
        self.credit: set[tuple[str, str]] = set()  # (role key, lower-cased action) needed where the role is assigned
        self.used: set[str] = set()  # lower-cased actions the app needed
        self.unmapped: set[str] = set()
        self.seen: dict[int, int] = {}  # id(emulator) -> last journal seq collected

    def collect(self, emulator: Any, test: str) -> None:
        from emulator.core.identity import APP_PRINCIPAL_ID

        since = self.seen.get(id(emulator), 0)
        entries = emulator.journal.entries(since=since)
        if entries:
            self.seen[id(emulator)] = entries[-1].seq
        needs: set[arm_actions.Need] = set()
        for entry in entries:
            if not arm_actions.is_app_request(entry, APP_PRINCIPAL_ID):
                continue
            try:
                needs.update(arm_actions.needs_of(entry.method, entry.path, entry.body))
            except arm_actions.UnmappedRequest as err:
                self.unmapped.add(str(err))
        if not needs:
            return
        self.used.update(n.action.lower() for n in needs)
        deployment = arm_actions.Deployment.of_world(emulator.seeded, allow_disable_replication=True,
                                                     allow_reprotect=True)
        if deployment is None:
            for need in needs:
                self.refused.setdefault(f"{need.action.lower()} {need.resource.lower()} {need.via}", [
                    need.line(), "    the test's world (emulator.seeded) names no vault: no deployment to check against",
                    f"    first in {test}"])
            return
        grants = deployment.grants()
        self.where = self.where or arm_actions.where(grants)
        verdict = arm_actions.check(needs, grants)
        self.credit |= verdict.credit
        for need in verdict.refused:
            key = f"{need.action.lower()} {need.resource.lower()} {need.via}"
            self.refused.setdefault(key, [*arm_actions.explain(need, grants), f"    first in {test}"])

    def write(self) -> None:
        body = {"refused": self.refused, "where": self.where, "credit": sorted(self.credit), "used": sorted(self.used),
                "unmapped": sorted(self.unmapped)}
        (self.directory / f"found-{self.name}.json").write_text(json.dumps(body))

    def merge(self) -> None:
        for path in sorted(self.directory.glob("found-*.json")):
            if path.name == f"found-{self.name}.json":
                continue
            body = json.loads(path.read_text())
            for key, lines in body["refused"].items():
                self.refused.setdefault(key, lines)
            self.where = self.where or body["where"]
            self.credit |= {(role, action) for role, action in body["credit"]}
            self.used |= set(body["used"])
            self.unmapped |= set(body["unmapped"])


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
    """xdist (controller): tell each worker where to write what it found."""
    state = _state(node.config)
    if state is not None:
        node.workerinput[_DIR_KEY] = str(state.directory)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Before the test's fixtures are finalized: what the app sent during the test (the next test's reset
    clears the journal and the world)."""
    state = _state(item.config)
    emulator = getattr(item, "funcargs", {}).get("emulator_server")
    if state is not None and emulator is not None:
        state.collect(emulator, item.nodeid)


def _whole_suite(config: pytest.Config) -> bool:
    """True when nothing narrowed the run: no -k/-m/--deselect/--lf, and the arguments are the test paths."""
    option = config.option
    if any(getattr(option, name, None) for name in _FILTER_OPTIONS):
        return False
    root = config.rootpath
    testpaths = {(root / p).resolve() for p in (config.getini("testpaths") or ["."])} | {root.resolve()}
    args = [a for a in config.args if a]
    return all("::" not in a and Path(os.path.abspath(a)).resolve() in testpaths for a in args)


def _report(state: _State, *, whole: bool, failed: int) -> list[str]:
    problems: list[str] = []
    if state.unmapped:
        problems.append("requests the action map cannot name (extend tests/arm_actions.py):")
        problems += [f"  {u}" for u in sorted(state.unmapped)]
    if state.refused:
        problems.append("the app sent requests that no role of infra/role-actions.json allows where main.bicep assigns "
                        "it (grant the action to the role assigned there, or keep the app out of that resource):")
        for key in sorted(state.refused):
            problems += [f"  {line}" for line in state.refused[key]]
        if state.where:
            problems.append("where main.bicep assigns the roles, for the tests' world (tests/arm_actions.py Deployment):")
            problems += [f"  {line}" for line in state.where]
    if whole:
        roles = arm_actions.load_roles()
        idle = arm_actions.unneeded(state.credit, roles)
        if idle:
            caveat = f" ({failed} test(s) failed: their code paths may not have run)" if failed else ""
            problems.append("roles hold actions no request of the suite needed where the role is assigned (remove "
                            f"them, or cover the code path that needs them there){caveat}:")
            for key, actions in sorted(idle.items()):
                problems += [f"  {roles[key].name}: {a}" for a in actions]
    return problems


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = _state(config)
    if state is None:
        return
    if hasattr(config, "workerinput"):
        state.write()  # before the worker reports itself finished
        return
    state.merge()
    shutil.rmtree(state.directory, ignore_errors=True)
    if not state.used and not state.unmapped:
        return  # no test used the emulator (a unit-only run)
    whole = _whole_suite(config) and not session.shouldstop and not session.shouldfail
    problems = _report(state, whole=whole, failed=session.testsfailed)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
    if not problems:
        if reporter is not None:
            scope = "the whole suite" if whole else "this run (subset: only refusals checked)"
            reporter.write_line(f"role check: {len(state.used)} ARM actions used by the app in {scope}, each allowed by "
                                "the role main.bicep assigns at a scope holding the resource")
        return
    if reporter is not None:
        reporter.write_sep("=", "role check failed: infra/role-actions.json and infra/main.bicep", red=True)
        for line in problems:
            reporter.write_line(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
