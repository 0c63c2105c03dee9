"""The fault matrix's call sites are the app's: re-derived from a clean run's request journal, they must equal
the committed ``call_sites.json`` (the parametrization is read when tests are collected), and cover reads,
status polls, long-running writes, the NIC and load balancer writes and Run Command."""

from __future__ import annotations

import json

from tests.reliability.matrix import CASES, SITES, WRITES
from tests.reliability.story import CALL_SITES_FILE, PHASES, Story, record_clean_run


def test_the_committed_call_sites_are_those_of_a_clean_run(story: Story) -> None:
    derived = record_clean_run(story)
    assert derived == json.loads(CALL_SITES_FILE.read_text()), (
        "the app's ARM calls changed: python -m tests.reliability.guarantees --write-call-sites, then make test and "
        "python -m tests.reliability.guarantees --write-docs")


def test_the_call_sites_cover_every_kind_of_call_the_app_makes() -> None:
    assert SITES and WRITES
    assert {s.phase for s in SITES} == set(PHASES)
    assert {s.kind for s in SITES} == {"read", "poll", "write", "lro-write"}
    calls = {(s.method, s.template.rsplit("/", 2)[-2] if s.template.endswith("}") else s.template.rsplit("/", 1)[-1])
             for s in SITES if s.kind in ("write", "lro-write")}
    for expected in (("PUT", "networkInterfaces"), ("PUT", "loadBalancers"), ("DELETE", "loadBalancers"),
                     ("POST", "runCommand"), ("PUT", "replicationProtectedItems"), ("PATCH", "replicationProtectedItems")):
        assert expected in calls, f"{expected} is not among the derived writes: {sorted(calls)}"
    assert any("replicationOperationStatus" in s.template for s in SITES if s.kind == "poll")
    every_site = {c.site for c in CASES if c.kind == "503"}
    assert every_site == set(SITES), "every call site gets at least one fault"
    assert {(c.site, c.skip) for c in CASES if c.kind == "crash"} == {(w.site, w.occurrence) for w in WRITES}
