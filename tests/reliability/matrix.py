"""The fault matrix: which fault is injected where, and what every case must prove.

- one fault kind (503 with ``Retry-After``) at every call site of every phase;
- every other kind (429 with ``Retry-After``, 500, a dropped connection, and for long-running writes an
  operation ending ``Failed`` — for Site Recovery writes, the ASR job ending ``Failed``) at six
  representative sites: the first read, an ASR job's status poll, the enable PUT, the DR load balancer PUT,
  the NIC PUT of a drill and the Run Command of a failover;
- a crash (a permanent 400) at every write of every phase, in the clean run's order: the writes before it
  are done, the ones after it are not;
- the cluster lease lost mid-way (``test_faults_lease.py``).

Each case then runs what production would run next (``Story.converge``) and must end in the clean run's end
state, with an outcome record that names the fault as ``failed`` followed by a success, without any write
done twice. The cases of the test-failover, cleanup and failover phases run on the emulator's Azure clock too
(``on_clocks``); the figures count each case once, on the instant clock.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from emulator import endstate
from emulator.core.clock import AZURE, INSTANT
from tests.reliability import figures
from tests.reliability.story import (
    PHASES,
    SUCCESS,
    TRANSIENT_KINDS,
    CallSite,
    Story,
    WriteStep,
    fault_rule,
    load_call_sites,
    signature,
)

SITES, WRITES = load_call_sites()

REPRESENTATIVE = (
    ("enroll", "GET", "/providers/Microsoft.Compute/virtualMachines"),  # the first read of an enrollment
    ("enroll", "GET", "/replicationOperationStatus/{jobName}"),  # an ASR job's status poll
    ("enroll", "PUT", "/replicationProtectedItems/{replicatedProtectedItemName}"),  # enable: an ASR job
    ("enroll", "PUT", "/Microsoft.Network/loadBalancers/{name}"),  # an ARM long-running write
    ("test-failover", "PUT", "/networkInterfaces/{name}"),  # the NIC write (GET, edit, PUT with If-Match)
    ("failover", "POST", "/runCommand"),  # the in-guest step
)
# What may end the story after a permanent failure, by phase (a transient one is always Event Grid's redelivery).
PERMANENT_BACKSTOP = {
    # the other node's tag event (redelivered when it met the failed operation's leftovers), or the audit's repair
    "enroll": ("first delivery", "redelivery", "audit"),
    "test-failover": ("runbook",),  # the recovery plan's runbook retries while asr-s2d answers 5xx
    "cleanup": ("re-run",),  # nothing retries a cleanup: the record says what failed, an operator re-runs it
    "failover": ("audit",),  # the audit re-addresses a failover whose IP step did not finish
}


@dataclass(frozen=True)
class Case:
    kind: str  # a FAULT_KINDS key, or "lease"
    site: CallSite
    skip: int = 0  # the fault hits the (skip + 1)-th matching request
    step: WriteStep | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}@{self.step.id if self.step else self.site.id}"

    @property
    def faults(self) -> int:
        return 1


def representative() -> list[CallSite]:
    found = []
    for phase, method, suffix in REPRESENTATIVE:
        site = next((s for s in SITES if s.phase == phase and s.method == method and s.template.endswith(suffix)), None)
        assert site is not None, f"no {method} ...{suffix} call site in phase {phase}: re-derive call_sites.json"
        found.append(site)
    return found


EVERY_SITE = [Case("503", s) for s in SITES]
KINDS = [Case(kind, s) for s in representative()
         for kind in ("429", "500", "reset", *(("lro_fail",) if s.kind == "lro-write" else ()))]
CRASHES = [Case("crash", w.site, skip=w.occurrence, step=w) for w in WRITES]
LEASE = [Case("lease", next(s for s in SITES if s.phase == "enroll" and s.template.endswith("/replicationPolicies/{policyName}")
                            and s.method == "PUT")),
         Case("lease", next(s for s in SITES if s.phase == "failover" and s.template.endswith("/subnets/{subnetName}")))]
CASES = [*EVERY_SITE, *KINDS, *CRASHES, *LEASE]


def on_clocks(cases: list[Case]) -> list[Any]:
    """``(case, emulator_clock)`` parameters: every case on the instant clock, and the cases of the phases after
    enrollment (a drill's test failover, its cleanup, a failover) on Azure's clock as well."""
    return [pytest.param(case, clock, id=f"{case.id}-{clock}") for case in cases
            for clock in ((INSTANT,) if case.site.phase == "enroll" else (INSTANT, AZURE))]


def run_case(story: Story, case: Case) -> str:
    """Inject the case's fault into its phase, converge, and check the end state, the records and the journal."""
    phase = case.site.phase
    clean = story.clean(phase)
    events = story.begin(phase)
    since = story.emu.journal.last_seq
    rule = story.emu.faults.add(fault_rule(case.kind, case.site, skip=case.skip))
    mechanism = story.converge(phase, events, clean)
    assert rule.hits == 1, f"the fault never fired: the app no longer calls {case.site.id} (re-derive call_sites.json)"
    if case.step is not None:  # the crash came at the same step of the same sequence as in the clean run
        crash = next(e for e in story.emu.journal.entries(since=since) if e.fault == "status")
        done = [e for e in story.app_writes(since) if e.seq < crash.seq and e.status < 400]
        assert len(done) == case.step.step - 1, f"{case.id}: {len(done)} write(s) before the crash"
    check_outcome(story, case, clean, mechanism, since)
    if case.kind == "lro_fail" and case.site.is_asr:
        assert story.failed_jobs(), "the ASR job of the failed operation is not Failed"
    return mechanism


def check_outcome(story: Story, case: Case, clean: dict[str, object], mechanism: str, since: int) -> None:
    assert endstate.diff(clean, story.snapshot()) == [], f"{case.id}: not the clean run's end state"
    records = story.records()
    named = [i for i, r in enumerate(records) if r["outcome"] == "failed" and signature(case.kind) in r["reason"]]
    assert named, (f"{case.id}: no failed outcome names {signature(case.kind)!r}: "
                   f"{[(r['outcome'], r['reason'][:100]) for r in records]}")
    assert len(named) == 1, f"{case.id}: the one failure was recorded {len(named)} times"
    later = [r for r in records[named[0] + 1:] if r.get("cluster") and r["outcome"] != "ignored"]
    assert later and later[-1]["outcome"] in SUCCESS, f"{case.id}: no success recorded after the failure: {later}"
    allowed = ("first delivery", "redelivery") if case.kind in TRANSIENT_KINDS else PERMANENT_BACKSTOP[case.site.phase]
    assert mechanism in allowed, f"{case.id}: converged by {mechanism}, expected {allowed}"
    twice = duplicated_writes(story, since, case)
    assert not twice, f"{case.id}: writes done twice: {twice}"
    if story.emu.clock.instant:  # a case run again on Azure's clock is the same case
        figures.count("fault_cases")
        figures.count("faults_injected", case.faults)
        figures.count(f"converged_by_{mechanism.replace(' ', '_')}")


def duplicated_writes(story: Story, since: int, case: Case) -> dict[str, int]:
    """Successful app writes to the same resource more than once. Two exceptions, each bounded to one repeat:
    a write whose operation was failed on purpose (``lro_fail``: it did not happen), and the in-guest step when
    the status of its Run Command could not be read (it may or may not have run; the script is idempotent and
    a second run reports ``unchanged``)."""
    done = Counter(f"{e.method} {e.path.lower()}" for e in story.app_writes(since) if e.status < 400 and not e.fault)
    twice = {k: n for k, n in done.items() if n > 1}
    if case.site.kind == "poll" and case.site.phase != "enroll":
        for key, n in list(twice.items()):
            if key.startswith("POST ") and key.endswith("/runcommand") and n == 2:
                del twice[key]
    if case.kind == "lro_fail":
        hit = [e for e in story.app_writes(since)
               if e.method == case.site.method and re.match(case.site.pattern, e.path, re.IGNORECASE)]
        if len(hit) > case.skip:
            twice.pop(f"{hit[case.skip].method} {hit[case.skip].path.lower()}", None)
    return twice


__all__ = ["CASES", "CRASHES", "EVERY_SITE", "KINDS", "LEASE", "PHASES", "SITES", "WRITES", "Case", "run_case"]
