"""Drills: prove, every month, that a cluster really comes back, in the isolated test network, and clean up.

Owns the drill service: the worker's step function ``work_step``, the in-process ``run_drill`` (the CLI, the demo,
the tests), ``enqueue_drill`` (``asr-s2d drill --no-wait``), the timer's ``run_scheduled`` and the backstop that
cleans up after a drill that died (``cleanup_stale``, called by the timer and by the drift audit through
``audit_backstop``); the record is ``shared.drill.record``, the checks ``shared.drill.checks``.

A drill is a ``drill`` work item (``shared.work``) whose state between steps is its ``carry`` (JSON: the phase, the
drill's id and start, its checks so far, the test VMs, the test IP, the recovery point's age, the test network, the
witness, the roles' test addresses, the guest wait spent, the cleanup). Each step runs one bounded piece of the chain
and never sleeps: a Site Recovery job that still runs ends the step (``OperationPending`` -> ``started``, the worker
looks at the job again later), a guest that is not ready ends it too (``Later(GUEST_RECHECK_SECONDS)``). The phases:

1. ``admit``: under a short lease on ``locks/drills_vault``, read the drill markers (``drills/active/<cluster>.json``):
   another live drill of the same cluster skips this one (``no-other-drill``); ``DRILL_CONCURRENCY`` live drills in
   the vault make it wait for a slot (``Later(ADMIT_RETRY_SECONDS)``, started nothing); else it writes its marker
   (started, deadline = start + ``DRILL_MAX_MINUTES``) and goes on, in the same step;
2. ``preconditions`` (``shared.drill.checks.preconditions``): the recovery plan exists and may test-fail over, every
   node is Protected with Normal replication health, nothing runs on the plan or its items, the test network is set
   and cut off from production's witness; otherwise the drill is skipped (recorded, its marker released);
3. ``test-failover``: the recovery plan's test failover into ``TEST_FAILOVER_VNET_ID`` (or, replicating back,
   ``FAILBACK_TEST_VNET_ID``) from the latest processed recovery point; the marker says so before the request;
4. ``failed-over``: the test failover's result: every node has a test VM (the job failed: the check fails);
5. ``ip-step``: the failover service's IP step in the test network (``reassign_cluster(test=True)``: load balancer
   writes and one Run Command);
6. ``guest-report``: ``shared/scripts/cluster_health.ps1`` through Run Command on a confirmed node's test VM, judged
   check by check. While the test nodes' guest is not ready (VM agent not Ready, another Run Command, cluster service
   starting, storage resyncing) steps 5 and 6 are tried again every ``GUEST_RECHECK_SECONDS``, within one budget of
   ``DRILL_GUEST_WAIT_MINUTES`` counted from the end of the test failover in the Azure seconds the drill asked to
   wait (a slow worker never eats the guest's time); then the checks stand as they are, and say they waited;
7. ``cleanup`` and ``cleaned``: the test-failover cleanup, always (after a failed or raised step too, and straight
   away once the drill runs longer than ``DRILL_MAX_MINUTES``), then verified: every item's ``testFailoverState``
   back to None, the test VMs and asr-s2d's test load balancer gone; a failed cleanup job is recorded;
8. ``store``: the drill record, in ``drills/<cluster key>/<UTC>.json`` and ``clusters/<key>/last-drill.json`` (the
   drift audit's "last successful drill"), published to the custom topic when one is configured; the marker says
   ``idle`` (or ``cleanup-pending`` when the cleanup did not finish) and the work item ends.

A worker that dies between two steps is resumed by the item's next message (the step runs again from the carry it
saved). A drill whose work failed (poison) or overran leaves its marker ``running``: the backstop starts its cleanup
(one bounded step of a ``drill`` work item in its cleanup phase, enqueued for the worker when the cleanup job runs
on) and records it. A drill writes nothing but the test failover, its cleanup and what the IP step writes in the
test network; it never fails over, commits or deletes anything else.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import ids, scripts, state, tags
from shared.actions import Purpose
from shared.azure.blobs import EtagMismatch
from shared.azure.operations import LOOK_SECONDS, OperationPending
from shared.drill.checks import (
    DrillCheck,
    DrillNetwork,
    HealthReport,
    MalformedReport,
    checks_from_json,
    drill_network,
    first_failure,
    health_checks,
    parse_health,
    preconditions,
    settling,
    summary,
    witness_isolation,
)
from shared.drill.record import NOT_STARTED, CleanupReport, DrillRecord, Result
from shared.enrollment.plan import ReplicationSpec
from shared.enrollment.service import observe_inventory
from shared.errors import AsrS2dError, GuestNotReady, RejectedInput, TransientError
from shared.failover import service as failover
from shared.failover.plan import DONE
from shared.failover.signals import FailoverSignal, Scenario
from shared.inventory import AsrState, ProtectedItem, RecoveryPlan, Vm
from shared.names import plan_name
from shared.ownership import owns_load_balancer, owns_plan
from shared.runtime import Runtime, default_runtime
from shared.state import ClusterLock
from shared.times import iso, now_iso, parse_time, utc_stamp
from shared.work import item as items
from shared.work import worker
from shared.work.item import Work
from shared.work.worker import Done, Later, started

log = logging.getLogger(__name__)

VAULT_LOCK = "drills/vault"  # the admission lease (locks/drills_vault): held while a drill takes its slot, no longer
ADMIT_RETRY_SECONDS = 60  # a drill waiting for a slot looks again this often (Azure seconds: a few blob reads, so a
# freed slot is taken within a minute of a 20-minute drill, not five)
ADMIT_LEASE_WAIT_SECONDS = 15.0  # how long a step waits for the admission lease (another drill's admission: seconds)
ADMIT_LEASE_RETRY_SECONDS = 30  # ... and when it could not have it, when it tries again
ADMIT_GIVE_UP_HOURS = 24  # a drill that found no slot for this long is recorded skipped (the timer drills monthly)
OVERRUN_GRACE_MINUTES = 60  # the backstop takes over a drill whose work is still active this long past its deadline
RECOVERY_POINT = "LatestProcessed"
DRILL_EVENT = "AsrS2d.DrillCompleted"
GUEST_RECHECK_SECONDS = 60  # between two tries of a test node whose guest is not ready (a Run Command takes >= 20 s)
STALE = ("running", "cleanup-pending", "recovering")  # marker states that may leave a test failover behind

# The phases of a drill's step chain (the carry's "phase"), in order.
ADMIT, PRECONDITIONS, TEST_FAILOVER, FAILED_OVER = "admit", "preconditions", "test-failover", "failed-over"
IP_STEP, GUEST_REPORT, CLEANUP, CLEANED, STORE = "ip-step", "guest-report", "cleanup", "cleaned", "store"
# A test failover may exist from here on: a failed or raised step goes on to the cleanup.
RUNNING = (TEST_FAILOVER, FAILED_OVER, IP_STEP, GUEST_REPORT)

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    log.info("%s", message)


# run_drill's progress display (the CLI's stderr), for the steps it runs in this process; the worker's steps log.
_PROGRESS: ContextVar[Progress] = ContextVar("drill_progress", default=_quiet)


def last_drill(rt: Runtime, cluster_key: str) -> DrillRecord | None:
    """The cluster's last drill (``clusters/<key>/last-drill.json``), or None."""
    return DrillRecord.from_json(rt.records.cluster_note(cluster_key, state.LAST_DRILL))


# -- entry points ----------------------------------------------------------------------------------------

def run_drill(cluster_name: str, rt: Runtime, *, trigger: str = "cli", report: Progress = _quiet) -> DrillRecord:
    """Drill one cluster end to end in this process (the CLI's ``asr-s2d drill``, the demo): the worker's step chain
    (the module docstring) run by ``shared.work.worker.run_inline``, waiting (``rt.clock``) between steps; returns the
    stored record. Never leaves a test failover behind on purpose: cleanup runs after every step that started one,
    whatever happened. Raises ``RejectedInput`` for a name no cluster can have; everything else ends in a record."""
    name = _enrolled(cluster_name, rt)
    work = _new_work(name, trigger, f"{trigger}-{name}-{uuid.uuid4().hex[:12]}")
    token = _PROGRESS.set(report)
    try:
        done = worker.run_inline(rt, work, report=report)
    finally:
        _PROGRESS.reset(token)
    record = DrillRecord.from_json(done.outcome)
    if record is None:  # the chain always ends in a record; a work item marked failed from outside has none
        raise TransientError(f"drill work {done.id} ended without a drill record: {done.reason}")
    return record


def enqueue_drill(cluster_name: str, rt: Runtime, *, trigger: str = "cli") -> Work:
    """One drill as a work item for the worker (``asr-s2d drill --no-wait``); ``RejectedInput`` as ``run_drill``."""
    name = _enrolled(cluster_name, rt)
    work = _new_work(name, trigger, f"{trigger}-{name}-{uuid.uuid4().hex[:12]}")
    worker.enqueue(rt, work)
    return work


def _enrolled(cluster_name: str, rt: Runtime) -> str:
    name = tags.cluster_name(cluster_name, "drill")
    if rt.records.enrollment(name) is None:  # no record for a cluster asr-s2d does not have: bad input
        raise RejectedInput(f"asr-s2d never enrolled a cluster {name}: nothing to drill")
    return name


def _new_work(name: str, trigger: str, key: str, **payload: Any) -> Work:
    # Work keys take no '_' (a cluster name may): '.' stands for it, which no cluster name holds.
    return Work.new("drill", key.replace("_", "."), {"cluster": name, "trigger": trigger,
                                                     "drill_id": f"{trigger}-{uuid.uuid4().hex[:12]}",
                                                     "enqueued": now_iso(), **payload}, cluster=name)


def work_step(rt: Runtime, work: Work, failure: str | None) -> Later | Done:
    """The worker's step of a drill: one bounded piece of the chain (the module docstring), from ``work.carry``.
    ``failure`` is why the Site Recovery job the previous step started failed (the test failover or its cleanup)."""
    return _Drill(rt, work).step(failure)


# -- the step chain ----------------------------------------------------------------------------------------

class _Drill:
    """One step of one drill: its carry (``self.c``, saved by the worker after the step) and the phases."""

    def __init__(self, rt: Runtime, work: Work) -> None:
        self.rt, self.work = rt, work
        payload = work.payload
        self.c: dict[str, Any] = dict(work.carry) if work.carry else {
            "phase": ADMIT, "drill_id": str(payload.get("drill_id") or f"drill-{uuid.uuid4().hex[:12]}"),
            "cluster": str(payload.get("cluster") or work.cluster or ""), "trigger": str(payload.get("trigger") or ""),
            "checks": [], "test_vms": []}
        self.cluster = str(self.c["cluster"])
        self.report = _PROGRESS.get()
        self._admitted_now = False

    # -- the carry ---------------------------------------------------------------------------------------
    @property
    def phase(self) -> str:
        return str(self.c.get("phase") or ADMIT)

    @phase.setter
    def phase(self, value: str) -> None:
        self.c["phase"] = value

    @property
    def checks(self) -> list[DrillCheck]:
        return list(checks_from_json(self.c.get("checks")))

    def add_check(self, check: DrillCheck) -> None:
        self.c["checks"] = [*self.c.get("checks", []), check.to_json()]

    def network(self) -> DrillNetwork | None:
        body = self.c.get("network")
        return DrillNetwork(**body) if isinstance(body, dict) else None

    def later(self, delay: float, reason: str) -> Later:
        return Later(delay, f"drill {self.c['drill_id']} of {self.cluster}: {reason}", carry=self.c,
                     cluster=self.cluster)

    def progress(self, step: str, message: str) -> None:
        """Say what the drill does now, and put it in the marker (so whoever cleans up after it knows)."""
        self.report(message)
        self.put_marker("running", step=step)

    # -- the marker --------------------------------------------------------------------------------------
    def marker_blob(self) -> str:
        return str(self.c.get("marker") or state.drill_marker_blob(self.cluster))

    def put_marker(self, marker_state: str, **extra: Any) -> None:
        c = self.c
        if c.get("recover"):  # a recovery updates the marker of the drill it cleans up after, as it found it
            body = {**dict(c["recover"].get("marker") or {}), **extra, "state": marker_state}
        else:
            body = {"state": marker_state, "drill_id": c["drill_id"], "cluster": self.cluster,
                    "cluster_key": c.get("key"), "plan": c.get("plan"), "started": c.get("started"),
                    "deadline": c.get("deadline"), "trigger": c.get("trigger"), "work": self.work.id,
                    "step": c.get("step"), "checks": c.get("checks", []), "test_vms": c.get("test_vms", []),
                    "requested": c.get("requested"), "carry": {k: v for k, v in c.items() if k != "marker"}, **extra}
            c["step"] = body["step"]
        self.rt.blobs.put_json(self.marker_blob(), body)

    # -- the driver --------------------------------------------------------------------------------------
    def step(self, failure: str | None) -> Later | Done:
        if self.phase in RUNNING and failure is None and self.overran():
            minutes = self.rt.settings.drill_max_minutes
            self.fail(DrillCheck("drill-time", False, f"the drill ran longer than DRILL_MAX_MINUTES ({minutes} min, "
                                                      f"since {self.c.get('started')}): cleaned up at step {self.phase}"))
            log.warning("drill %s of %s overran DRILL_MAX_MINUTES at %s", self.c["drill_id"], self.cluster, self.phase)
            self.phase = CLEANUP
        while True:
            phase = self.phase
            try:
                result = PHASES[phase](self, failure)
            except OperationPending as err:  # a job started by a step that did not expect one: look again, same phase
                return started(err, f"drill {self.c['drill_id']} of {self.cluster}: {phase}", carry=self.c,
                               cluster=self.cluster)
            except Exception as err:  # a failed or broken phase: the drill fails and still cleans up (``raised``)
                if not isinstance(err, AsrS2dError):
                    log.exception("drill %s of %s: step %s raised", self.c["drill_id"], self.cluster, phase)
                self.raised(phase, err)
                result = None
            failure = None
            if result is not None:
                return result

    def raised(self, phase: str, err: Exception) -> None:
        """A phase raised: a running drill fails and still cleans up; a cleanup that raised is recorded; before the
        test failover, or while storing, the step raises (the worker tries it again: nothing was started)."""
        detail = str(err) if isinstance(err, AsrS2dError) else f"{type(err).__name__}: {err}"
        if phase in RUNNING:
            step = str(self.c.get("step") or phase)
            self.c["error"] = f"{step} failed: {detail}"[:500]
            if not any(c.name == step for c in self.checks):
                self.add_check(DrillCheck(step, False, detail[:300]))
            self.phase = CLEANUP
            return
        if phase in (CLEANUP, CLEANED):
            self.c["cleanup"] = CleanupReport(True, False, f"cleanup failed: {err}"[:300]).to_json()
            self.phase = STORE
            return
        if self._admitted_now:  # release the slot this step took: the retry takes it again
            with contextlib.suppress(Exception):
                self.put_marker("idle", ended=now_iso(), reason=f"{phase} raised: {detail}"[:300])
        raise err

    def fail(self, check: DrillCheck) -> None:
        self.add_check(check)
        self.c.setdefault("error", f"{check.name}: {check.detail}"[:500])

    def overran(self, *, grace: bool = False) -> bool:
        """Past the drill's deadline (``DRILL_MAX_MINUTES`` from its start), or ``OVERRUN_GRACE_MINUTES`` past it."""
        deadline = parse_time(self.c.get("deadline"))
        if deadline is None:
            return False
        return datetime.now(UTC) >= deadline + (_wall(self.rt, OVERRUN_GRACE_MINUTES * 60) if grace else timedelta())

    # -- 1. admission ------------------------------------------------------------------------------------
    def admit(self, _failure: str | None) -> Later | Done | None:
        s = self.rt.settings
        if not s.test_vnet_id and not s.failback_test_vnet_id:
            return self.end_early(Result.SKIPPED, "drills are off: TEST_FAILOVER_VNET_ID is empty")
        if s.dry_run:
            return self.end_early(Result.SKIPPED, "dry run: a drill writes (a test failover), so none was started")
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(ClusterLock(self.rt.blobs, VAULT_LOCK, seconds=s.lease_seconds,
                                               wait_seconds=ADMIT_LEASE_WAIT_SECONDS))
            except TransientError:
                return self.later(ADMIT_LEASE_RETRY_SECONDS, "waiting for the vault's drill admission lease")
            return self.admit_leased()
        return None  # pragma: no cover - ExitStack re-raises; mypy wants a return

    def admit_leased(self) -> Later | Done | None:
        rt, s, name = self.rt, self.rt.settings, self.cluster
        markers = _markers(rt)
        mine = state.drill_marker_blob(name)
        own = markers.get(mine)
        if own is not None and own.get("work") == self.work.id and own.get("state") == "running":
            if own.get("requested") and isinstance(own.get("carry"), dict):
                # This step ran before and requested the test failover, then its worker died: go on from there.
                self.c = {**own["carry"], "phase": FAILED_OVER}
                self.report(f"drill {self.c['drill_id']} resumes after its test failover was requested")
                return None
            self.c.update(started=own.get("started"), deadline=own.get("deadline"))
        elif own is not None and own.get("state") in STALE:
            alive = _alive(rt, own, grace=OVERRUN_GRACE_MINUTES * 60)
            if alive and own.get("state") == "running":
                self.c["key"] = rt.asr.observe_cluster(name).cluster_key(name)
                self.add_check(DrillCheck("no-other-drill", False, f"drill {own.get('drill_id', '?')} of cluster "
                                          f"{own.get('cluster', name)} is running (since {own.get('started', '?')})"))
                return self.end_early(Result.SKIPPED, f"another drill of cluster {name} is running: "
                                                      f"{self.checks[-1].detail}")
            taken = None if alive else _take_over(rt, own)
            if not alive and taken is not False:  # the drill before this one died: clean up after it first
                self.report(f"cleaning up after drill {own.get('drill_id')} of cluster {name}, which did not finish")
                _recover(rt, mine, own, trigger=f"drill {self.c['drill_id']}", overran=taken is None)
            after = rt.records.json(mine) or {}
            if after.get("state") in STALE:
                return self.later(ADMIT_RETRY_SECONDS, f"waiting for the cleanup after drill "
                                                       f"{after.get('drill_id', '?')} of this cluster")
        if not self.c.get("started"):
            running = [m for blob, m in markers.items() if blob != mine and _holds_slot(m)]
            if len(running) >= s.drill_concurrency:
                enqueued, give_up = parse_time(self.work.payload.get("enqueued")), _wall(rt, ADMIT_GIVE_UP_HOURS * 3600)
                if enqueued is not None and give_up and datetime.now(UTC) >= enqueued + give_up:
                    return self.end_early(Result.SKIPPED, f"no drill slot within {ADMIT_GIVE_UP_HOURS} h: "
                                                          f"{len(running)} of {s.drill_concurrency} running")
                return self.later(ADMIT_RETRY_SECONDS, f"waiting for a drill slot: {len(running)} of "
                                                       f"{s.drill_concurrency} running")
            now, most = datetime.now(UTC), _wall(rt, s.drill_max_minutes * 60)
            self.c.update(started=iso(now), deadline=iso(now + most) if most else None)
            self.c["slot"] = f"{len(running) + 1} of {s.drill_concurrency} drill slot(s) in the vault taken"
        self.c.setdefault("slot", "its drill slot was taken before")
        self.put_marker("running", step=ADMIT)
        self._admitted_now = True
        self.phase = PRECONDITIONS
        return None

    # -- 2. preconditions --------------------------------------------------------------------------------
    def preconditions(self, _failure: str | None) -> Done | None:
        rt, name = self.rt, self.cluster
        self.report(f"reading recovery plan {plan_name(name)} and its protected items")
        plan, found, key = _observe(rt, name)
        self.c.update(key=key, plan=plan.name if plan else None, nodes=len(found))
        enrollment = rt.records.enrollment(name)
        foreign = owns_plan(enrollment, plan, found, ReplicationSpec.from_settings(rt.settings).policy_id())
        self.add_check(DrillCheck("owned", foreign is None, foreign or f"asr-s2d enrolled cluster {name}; "
                                  f"{len(enrollment.nodes) if enrollment else 0} confirmed node(s)"))
        for check in preconditions(name, plan, found):
            self.add_check(check)
        if plan is not None and found:
            s = rt.settings
            network = drill_network(s.test_vnet_id, s.failback_test_vnet_id, s.target_region, plan, found)
            self.c["network"] = asdict(network)
            self.add_check(network.check())
            if network.vnet_id:
                witness = _witness_of(rt, found)
                self.c["witness"] = witness
                account = rt.resources.get_storage_account(witness) if witness else None
                self.add_check(witness_isolation(witness, account, network.vnet_id))
        self.add_check(DrillCheck("no-other-drill", True, f"no other drill of cluster {name} runs; "
                                                          f"{self.c.get('slot')}"))
        failed = first_failure(self.checks)
        if failed is not None or plan is None:
            reason = f"{failed.name}: {failed.detail}" if failed else "no recovery plan"
            # A test network that reaches production's witness is a failure of the DR set-up, not a reason to wait.
            result = Result.FAILED if failed is not None and failed.name == "witness-isolated" else Result.SKIPPED
            if result is Result.SKIPPED:
                log.info("drill %s of %s skipped: %s", self.c["drill_id"], name, reason)
            else:
                log.warning("drill %s of %s failed before its test failover: %s", self.c["drill_id"], name, reason)
            return self.end_early(result, reason)
        self.phase = TEST_FAILOVER
        return None

    # -- 3. the test failover ------------------------------------------------------------------------------
    def test_failover(self, _failure: str | None) -> Later:
        network = self.network()
        plan = str(self.c.get("plan"))
        assert network is not None and network.vnet_id  # the test-network precondition passed
        vnet = ids.name_of(network.vnet_id)
        self.c["requested"] = now_iso()  # before the request: a worker dying in it resumes at its result
        self.progress(TEST_FAILOVER, f"test failover of recovery plan {plan} ({network.direction}) into {vnet} "
                                     f"({network.region}) from the latest processed recovery point")
        self.phase = FAILED_OVER
        try:
            self.rt.asr.test_failover_plan(plan, network_id=network.vnet_id, recovery_point_type=RECOVERY_POINT,
                                           direction=network.direction)
        except OperationPending as err:
            return started(err, f"drill {self.c['drill_id']} of {self.cluster}: test failover", carry=self.c,
                           cluster=self.cluster)
        return self.later(0, "the test failover ended; next: its result and the IP step")

    # -- 4. its result -------------------------------------------------------------------------------------
    def failed_over(self, failure: str | None) -> Later | None:
        if failure is not None:
            self.fail(DrillCheck(TEST_FAILOVER, False, f"the test failover job failed: {failure}"[:300]))
            self.phase = CLEANUP
            return None
        _plan, after, _key = _observe(self.rt, self.cluster)
        self.c["test_vms"] = sorted({i.test_vm_id for i in after if i.test_vm_id}, key=str.lower)
        expected = int(self.c.get("nodes") or len(after))
        waiting = [i for i in after if (i.test_failover_state or "").lower() == "waitingforcompletion"
                   and i.test_vm_id]
        if len(waiting) < expected:
            if _test_failover_running(after):  # resumed after a dead worker: the job it started still runs
                return self.later(LOOK_SECONDS, "waiting for the test failover job")
            self.fail(DrillCheck(TEST_FAILOVER, False, f"the test failover job ended but only {len(waiting)} of "
                                                       f"{expected} node(s) have a test VM"))
            self.phase = CLEANUP
            return None
        _point_age(self.rt, self.c, after)
        network = self.network()
        vnet = ids.name_of(network.vnet_id) if network else "?"
        age = f", {self.c['point_age']} s old" if self.c.get("point_age") is not None else ""
        self.add_check(DrillCheck(TEST_FAILOVER, True, f"{len(waiting)} node(s) test-failed over into {vnet} "
                                                       f"({RECOVERY_POINT} recovery point{age})"))
        # The test nodes have just booted: one budget for the IP step and the health report together.
        self.c.update(guest_waited=0, guest_budget=self.rt.settings.drill_guest_wait_minutes * 60)
        self.phase = IP_STEP
        return None

    def guest_again(self, why: str) -> Later | None:
        """The next try of a guest that is not ready, or None when the budget has no room for one."""
        waited = int(self.c.get("guest_waited") or 0)
        if waited + GUEST_RECHECK_SECONDS > int(self.c.get("guest_budget") or 0):
            return None
        self.c["guest_waited"] = waited + GUEST_RECHECK_SECONDS
        self.report(f"the test nodes' guest is not ready yet ({why[:200]}): trying again in {GUEST_RECHECK_SECONDS} s")
        return self.later(GUEST_RECHECK_SECONDS, f"the test nodes' guest is not ready yet: {why[:200]}")

    def waited(self) -> str:
        return f"waiting {int(self.c.get('guest_waited') or 0)} s"

    # -- 5. the IP step ------------------------------------------------------------------------------------
    def ip_step(self, _failure: str | None) -> Later:
        if not self.c.get("ip_tries"):
            self.progress(IP_STEP, "moving the cluster IP onto the test load balancer and into the guest (the "
                                   "failover service's IP step)")
        self.c["ip_tries"] = int(self.c.get("ip_tries") or 0) + 1
        try:
            outcome = failover.reassign_cluster(self.cluster, self.rt, test=True, trigger="drill-ip")
        except GuestNotReady as err:  # recorded by the service as not-yet
            again = self.guest_again(str(err))
            if again is not None:
                return again
            self.add_check(DrillCheck(IP_STEP, False, f"not-yet: the guest was still not ready after "
                                                      f"{self.waited()}: {err}"[:300]))
        else:
            details = outcome.details
            test_ip = details.get("ip") if isinstance(details.get("ip"), str) else None
            ip_status = str(details.get("status")) if details.get("status") else None
            roles = details.get("roles")
            self.c.update(test_ip=test_ip, ip_status=ip_status,
                          node=details.get("node") if isinstance(details.get("node"), str) else None,
                          role_ips=[str(r["ip"]) for r in roles if isinstance(r, dict) and isinstance(r.get("ip"), str)]
                          if isinstance(roles, list) else [])
            ok = outcome.kind in ("reassigned", "changed", "unchanged") and ip_status in DONE
            self.add_check(DrillCheck(IP_STEP, ok, (f"cluster IP {test_ip} on {details.get('load_balancer')}, guest "
                                                    f"{ip_status}") if ok else f"{outcome.kind}: {outcome.reason}"[:300]))
        self.phase = GUEST_REPORT
        return self.later(0, "the IP step ran; next: the in-guest health check")

    # -- 6. the in-guest health check ------------------------------------------------------------------------
    def guest_report(self, _failure: str | None) -> Later:
        rt = self.rt
        if not self.c.get("health_tries"):
            self.progress(GUEST_REPORT, "checking the cluster from inside a test node (cluster_health.ps1 through "
                                        "Run Command)")
        self.c["health_tries"] = int(self.c.get("health_tries") or 0) + 1
        record = rt.records.enrollment(self.cluster)
        assert record is not None  # the ownership precondition passed
        _plan, after, _key = _observe(rt, self.cluster)
        nodes = [n for n in record.nodes if any(ids.same(n.vm_id, i.vm_id) or ids.same(n.vm_id, i.recovery_vm_id)
                                                for i in after)]
        # Only a confirmed member's test VM runs the health script, and its node list must be the confirmed members'.
        trusted = [i.test_vm_id for i in after
                   if i.test_vm_id and (record.has_node(i.vm_id) or record.has_node(i.recovery_vm_id))]
        vms = [vm for vm in (rt.compute.get_vm(v) for v in trusted) if vm is not None]
        runner = next((vm for vm in sorted(vms, key=lambda v: v.name.lower())
                       if (vm.power_state or "") == "running"), None)
        report: HealthReport | str
        unsettled: str | None = None
        if runner is None:
            report = f"no test VM is running ({len(vms)} found)"
        else:
            self.c["node"] = runner.name
            report, why = _health_report(rt, runner)
            if why is not None:
                again = self.guest_again(why)
                if again is not None:
                    return again
                # The budget ran out first: the checks stand as they are, and say so.
                unsettled = f"not settled after {self.waited()}: {why}"
                if isinstance(report, str):
                    report = f"the guest of {runner.name} was still not ready after {self.waited()}: {why}"
        witness = self.c.get("witness")
        for check in health_checks(report, test_ip=self.c.get("test_ip"), ip_status=self.c.get("ip_status"),
                                   expected_nodes=int(self.c.get("nodes") or len(after)),
                                   expected_names=frozenset(n.computer_name for n in nodes), unsettled=unsettled,
                                   role_ips=tuple(self.c.get("role_ips") or ()),
                                   production_witness=ids.name_of(witness) if witness else None):
            self.add_check(check)
        self.phase = CLEANUP
        return self.later(0, "the in-guest checks ran; next: the test-failover cleanup")

    # -- 7. the cleanup ------------------------------------------------------------------------------------
    def cleanup(self, _failure: str | None) -> Later | None:
        rt, plan = self.rt, str(self.c.get("plan") or plan_name(self.cluster))
        if not self.c.get("cleanup_announced"):
            self.c["cleanup_announced"] = True
            try:
                self.progress(CLEANUP, "cleaning up the test failover (always, whatever happened before)")
            except Exception as err:  # the marker is bookkeeping: the cleanup must run regardless
                log.warning("drill %s: marker not updated before the cleanup: %s", self.c["drill_id"], err,
                            exc_info=True)
        found = _cluster_items(rt.asr.observe_cluster(self.cluster), self.cluster)
        self.c["test_vms"] = sorted({*self.c.get("test_vms", []), *(i.test_vm_id for i in found if i.test_vm_id)},
                                    key=str.lower)
        if _test_failover_running(found) and not self.c.get("recover") and not self.overran(grace=True):
            # A test failover job still runs (a worker died while it ran): it is cleaned up once it ended.
            return self.later(LOOK_SECONDS, "waiting for the test failover job to end before its cleanup")
        self.phase = CLEANED
        if any((i.test_failover_state or "none").lower() != "none" for i in found):
            self.report(f"test failover cleanup of recovery plan {plan}")
            self.c["cleanup_started"] = True
            try:
                rt.asr.test_failover_cleanup_plan(plan, comments=f"asr-s2d drill {self.c['drill_id']}")
            except OperationPending as err:
                return started(err, f"drill {self.c['drill_id']} of {self.cluster}: test-failover cleanup",
                               carry=self.c, cluster=self.cluster)
        return None

    def cleaned(self, failure: str | None) -> None:
        """Verify the cleanup: the test VMs and asr-s2d's test load balancer gone, every item's state None."""
        rt, plan = self.rt, str(self.c.get("plan") or plan_name(self.cluster))
        self.phase = STORE
        if failure is not None:
            self.c["cleanup"] = CleanupReport(True, False, f"the test-failover cleanup job failed: {failure}"[:300]
                                              ).to_json()
            return
        done = ["test failover cleaned up"] if self.c.get("cleanup_started") else []
        vm_ids = [str(v) for v in self.c.get("test_vms", [])]
        signal = FailoverSignal(id=f"{self.c['drill_id']}-cleanup", source="drill-cleanup", scenario=Scenario.CLEANUP,
                                plan_name=plan)
        outcome = failover.readdress_for(signal, rt)
        if outcome.kind == "changed":
            done.append("test load balancer removed")
        after = _cluster_items(rt.asr.observe_cluster(self.cluster, with_plan=False), self.cluster)
        left = [f"{i.node_name} test failover {i.test_failover_state}" for i in after
                if (i.test_failover_state or "none").lower() != "none"]
        # A test failover job still running (its requester died while waiting) leaves VMs later: not clean yet.
        left += [f"{i.node_name} test failover still running" for i in after
                 if (i.test_failover_state or "none").lower() == "none" and i.current_job_id
                 and (i.current_scenario or "").lower() == "testfailover"]
        left += [f"test VM {ids.name_of(v)} still exists" for v in vm_ids if rt.compute.get_vm(v) is not None]
        lb_id = ReplicationSpec.from_settings(rt.settings).load_balancer_id(self.cluster, test=True)
        lb = rt.network.get_load_balancer(lb_id)
        if lb is not None and owns_load_balancer(lb, self.cluster, Purpose.TEST):
            left.append(f"test load balancer {ids.name_of(lb_id)} still exists ({outcome.kind}: {outcome.reason})")
        if left:
            report = CleanupReport(True, False, "; ".join(left)[:300])
        else:
            gone = f"{len(vm_ids)} test VM(s) gone" if vm_ids else "no test VM was created"
            report = CleanupReport(True, True, ", ".join([*done, gone, "testFailoverState None on every node"]))
        self.c["cleanup"] = report.to_json()

    # -- 8. the record ---------------------------------------------------------------------------------------
    def store(self, _failure: str | None) -> Done:
        body = self.c.get("cleanup") or {}
        cleanup = CleanupReport(bool(body.get("attempted", True)), bool(body.get("ok")), str(body.get("detail", "")))
        if self.c.get("recover"):
            stored = self.store_recovery(cleanup)
        else:
            checks = self.checks
            bad, error = first_failure(checks), self.c.get("error")
            if error is None and bad is None and cleanup.ok:
                record = self.record(Result.PASSED, f"cluster {self.cluster} came back in the test network: "
                                                    f"{summary(checks)}", cleanup)
            else:
                why = error or (f"{bad.name}: {bad.detail}" if bad else f"cleanup: {cleanup.detail}")
                record = self.record(Result.FAILED, str(why), cleanup)
            stored = _store(self.rt, record)
            self.put_marker("idle" if cleanup.ok else "cleanup-pending", record=stored.blob, ended=stored.ended,
                            checks=[c.to_json() for c in stored.checks])
        log.info("drill %s of %s: %s (%s); cleanup %s", stored.drill_id, stored.cluster, stored.result.value,
                 stored.reason, "ok" if cleanup.ok else cleanup.detail)
        return Done(stored.to_json(), failed=stored.result is Result.FAILED)

    def record(self, result: Result, reason: str, cleanup: CleanupReport = NOT_STARTED) -> DrillRecord:
        c, network = self.c, self.network()
        began = str(c.get("started") or now_iso())
        start = parse_time(began)
        return DrillRecord(
            drill_id=str(c["drill_id"]), cluster=self.cluster, cluster_key=c.get("key"), trigger=str(c.get("trigger")),
            started=began, ended=now_iso(),
            drill_seconds=round((datetime.now(UTC) - start).total_seconds(), 3) if start else 0.0,
            result=result, reason=reason, checks=tuple(self.checks), cleanup=cleanup,
            recovery_point_age_seconds=c.get("point_age"), recovery_point_time=c.get("point_time"),
            test_ip=c.get("test_ip"), node=c.get("node"), direction=network.direction if network else None,
            test_network=network.vnet_id or None if network else None)

    def end_early(self, result: Result, reason: str) -> Done:
        """A drill that started no test failover: its record, and its marker released (when it took one)."""
        if not self.c.get("started"):
            self.c["started"] = now_iso()
        stored = _store(self.rt, self.record(result, reason))
        if self.phase != ADMIT or self._admitted_now:
            self.put_marker("idle", record=stored.blob, ended=stored.ended)
        return Done(stored.to_json(), failed=result is Result.FAILED)

    def store_recovery(self, cleanup: CleanupReport) -> DrillRecord:
        """The record of a drill that did not finish, cleaned up by ``trigger``: its own record updated with the late
        cleanup when it has one, else a failed record saying where it stopped; then its marker."""
        rt, recover = self.rt, dict(self.c["recover"])
        marker, trigger = dict(recover.get("marker") or {}), str(recover.get("trigger"))
        cleanup = replace(cleanup, detail=f"{cleanup.detail} (by {trigger} at {now_iso()})"[:300])
        existing = DrillRecord.from_json(rt.records.json(str(marker["record"]))) if marker.get("record") else None
        if marker.get("state") == "cleanup-pending" and existing is not None:
            stored = replace(existing, cleanup=cleanup)
            rt.blobs.put_json(str(existing.blob), stored.to_json())
            # The evidence is never rewritten: the late cleanup is kept beside the record it completes.
            rt.records.keep_evidence(str(existing.blob).removesuffix(".json") + f"-cleanup-{utc_stamp()}.json",
                                     stored.to_json())
            current = last_drill(rt, existing.cluster_key) if existing.cluster_key else None
            if current is not None and current.drill_id == existing.drill_id and existing.cluster_key:
                rt.records.set_cluster_note(existing.cluster_key, state.LAST_DRILL, stored.to_json())
        else:
            began = str(marker.get("started") or now_iso())
            start = parse_time(began)
            why = " (it ran longer than DRILL_MAX_MINUTES)" if recover.get("overran") else ""
            stored = _store(rt, DrillRecord(
                drill_id=str(self.c["drill_id"]), cluster=self.cluster, cluster_key=marker.get("cluster_key"),
                trigger=str(marker.get("trigger", "")), started=began, ended=now_iso(),
                drill_seconds=round((datetime.now(UTC) - start).total_seconds(), 3) if start else 0.0,
                result=Result.FAILED, reason=f"the drill stopped during step {marker.get('step')} and never "
                                             f"finished{why}; {trigger} cleaned up after it",
                checks=checks_from_json(marker.get("checks")), cleanup=cleanup))
        self.put_marker("idle" if cleanup.ok else "cleanup-pending", record=stored.blob, recovered_by=trigger,
                        recovered_at=now_iso())
        return stored


PHASES: dict[str, Callable[[_Drill, str | None], Later | Done | None]] = {
    ADMIT: _Drill.admit, PRECONDITIONS: _Drill.preconditions, TEST_FAILOVER: _Drill.test_failover,
    FAILED_OVER: _Drill.failed_over, IP_STEP: _Drill.ip_step, GUEST_REPORT: _Drill.guest_report,
    CLEANUP: _Drill.cleanup, CLEANED: _Drill.cleaned, STORE: _Drill.store,
}


def _health_report(rt: Runtime, runner: Vm) -> tuple[HealthReport | str, str | None]:
    """cluster_health.ps1's report from ``runner`` (or why there is none), and why its guest may still be settling
    since boot (None: it is not, and the report stands)."""
    try:
        result = rt.compute.run_command(runner.id, list(scripts.lines(scripts.CLUSTER_HEALTH)), {})
    except GuestNotReady as err:
        return f"{runner.name} could not run the health script yet: {err}", str(err)
    try:
        report = parse_health(result.stdout)
    except MalformedReport as err:
        tail = f"; stderr: {result.stderr.strip()[-200:]}" if result.stderr.strip() else ""
        return f"no usable health report from {runner.name}: {err}{tail}", None
    if not result.succeeded:
        return f"Run Command on {runner.name} failed: {result.stderr.strip()[-200:]}", None
    return report, settling(report)


def _point_age(rt: Runtime, carry: dict[str, Any], found: list[ProtectedItem]) -> None:
    """How old the recovery point was that the test failover used (the oldest node's, if they differ)."""
    requested = parse_time(carry.get("requested")) or datetime.now(UTC)
    times = [parse_time(rt.asr.failover_point_time(i.id)) for i in found]
    known = [t for t in times if t is not None]
    if known:
        oldest = min(known)
        carry.update(point_time=iso(oldest), point_age=max(0, int((requested - oldest).total_seconds())))


def _test_failover_running(found: list[ProtectedItem]) -> bool:
    """A test failover job runs on an item (it has no test-failover state yet)."""
    return any((i.test_failover_state or "none").lower() == "none" and i.current_job_id
               and (i.current_scenario or "").lower() == "testfailover" for i in found)


def _observe(rt: Runtime, cluster: str) -> tuple[RecoveryPlan | None, list[ProtectedItem], str | None]:
    """The cluster's recovery plan, its items (by node name) and its key."""
    asr = rt.asr.observe_cluster(cluster)
    return asr.plan_named(plan_name(cluster)), _cluster_items(asr, cluster), asr.cluster_key(cluster)


def _cluster_items(asr: AsrState, cluster: str) -> list[ProtectedItem]:
    return sorted(asr.cluster_items(cluster), key=lambda i: i.node_name.lower())


def _store(rt: Runtime, record: DrillRecord) -> DrillRecord:
    """Write the record (by time and as the cluster's last drill) and publish it."""
    previous = last_drill(rt, record.cluster_key) if record.cluster_key else None
    last_passed = record.ended if record.passed else (previous.last_passed if previous else None)
    blob = state.drill_blob(record.cluster_key or record.cluster)
    stored = replace(record, last_passed=last_passed, blob=blob)
    body = stored.to_json()
    rt.blobs.put_json(blob, body)
    rt.records.keep_evidence(blob, body)
    if stored.cluster_key:
        rt.records.set_cluster_note(stored.cluster_key, state.LAST_DRILL, body)
    if rt.topic.enabled:
        try:
            rt.topic.publish(DRILL_EVENT, f"asr-s2d/{stored.cluster}", body)
        except AsrS2dError as err:  # the record is stored; a lost event must not lose it
            log.warning("drill %s: event not published: %s", stored.drill_id, err)
    return stored


# -- the markers -------------------------------------------------------------------------------------------

def _markers(rt: Runtime) -> dict[str, dict[str, Any]]:
    """Every cluster's drill marker, by blob (one list, then one read each)."""
    found: dict[str, dict[str, Any]] = {}
    for name in rt.blobs.list_names(state.DRILL_MARKERS):
        if name.endswith(".json") and not state.is_drill_record(name):  # a cluster named "active" keeps records there
            body = rt.records.json(name)
            if body is not None:
                found[name] = body
    return found


def _holds_slot(marker: dict[str, Any]) -> bool:
    """A drill running within its deadline holds one of the vault's ``DRILL_CONCURRENCY`` slots (a dead one's work
    is resumed or failed; at its deadline it frees the slot, and the backstop cleans up after it)."""
    deadline = parse_time(marker.get("deadline"))
    return marker.get("state") == "running" and (deadline is None or datetime.now(UTC) < deadline)


def _work_active(rt: Runtime, work_id: Any) -> bool:
    work = items.load(rt.records, str(work_id)) if isinstance(work_id, str) and work_id else None
    return work is not None and not work.ended


def _alive(rt: Runtime, marker: dict[str, Any], *, grace: float = 0.0) -> bool:
    """Whether the marker's drill is still being worked on: its work item is active and within its deadline
    (``grace`` seconds of Azure time past it, for the backstop, which must not race a worker finishing its cleanup)."""
    if marker.get("state") == "recovering":
        return _work_active(rt, marker.get("recovery"))
    if marker.get("state") != "running" or not _work_active(rt, marker.get("work")):
        return False
    deadline = parse_time(marker.get("deadline"))
    return deadline is None or datetime.now(UTC) < deadline + _wall(rt, grace)


def _wall(rt: Runtime, azure_seconds: float) -> timedelta:
    """How long ``azure_seconds`` of Azure time last on the wall (``rt.clock``): a drill's deadlines are wall times
    (any instance compares them). Zero on a clock where Azure's work takes no time (the emulator's instant clock):
    there, a drill has no deadline (a falsy delta: the callers set or check none)."""
    return timedelta(seconds=max(0.0, rt.clock.real_seconds(azure_seconds)))


# -- after a drill that died -----------------------------------------------------------------------------

def cleanup_stale(rt: Runtime, *, trigger: str = "audit", report: Progress = _quiet) -> list[DrillRecord]:
    """Clean up after the drills that did not finish: a marker still ``running`` whose work item failed (poison) or
    is gone, or ran ``OVERRUN_GRACE_MINUTES`` past its deadline (taken over: its work item is marked failed first),
    or ``cleanup-pending`` (its cleanup did not finish). A drill whose work is active within its deadline is left
    to its worker. For each: one bounded step that starts the cleanup; when the cleanup job runs on, a ``drill``
    work item in its cleanup phase is enqueued for the worker (nothing waits here). Returns the records written
    or updated (empty when nothing was left: one list, one read per marker)."""
    records: list[DrillRecord] = []
    for blob, marker in _markers(rt).items():
        if marker.get("state") not in STALE or _alive(rt, marker, grace=OVERRUN_GRACE_MINUTES * 60):
            continue
        ended = _take_over(rt, marker)
        if ended is False:
            continue
        report(f"drill {marker.get('drill_id')} of cluster {marker.get('cluster')} stopped at step "
               f"{marker.get('step')}: cleaning up its test failover")
        records += _recover(rt, blob, marker, trigger=trigger, overran=ended is None)
    legacy = rt.records.json(state.DRILL_MARKER)
    if legacy is not None and legacy.get("state") in STALE and not _alive(rt, legacy):
        with contextlib.ExitStack() as held:
            try:  # an older version's drill holds this lease for its whole run
                held.enter_context(ClusterLock(rt.blobs, VAULT_LOCK, seconds=rt.settings.lease_seconds,
                                               wait_seconds=0))
            except TransientError:
                return records
            records += _recover(rt, state.DRILL_MARKER, legacy, trigger=trigger)
    return records


def _take_over(rt: Runtime, marker: dict[str, Any]) -> bool | None:
    """A running marker's work item, still active past its deadline and the grace: mark it failed so its worker
    stops (its next message finds it ended). True: the work had ended or is gone; None: taken over (it overran);
    False: its worker saved a step meanwhile (leave it to the next run)."""
    if marker.get("state") != "running" or not isinstance(marker.get("work"), str):
        return True
    work = items.load(rt.records, str(marker["work"]))
    if work is None or work.ended:
        return True
    try:
        items.save(rt.records, replace(work, status="failed", reason=f"ran longer than DRILL_MAX_MINUTES "
                                                                     f"({rt.settings.drill_max_minutes} min): taken "
                                                                     "over by the backstop, which cleans up"))
    except EtagMismatch:
        return False
    return None


def _recover(rt: Runtime, blob: str, marker: dict[str, Any], *, trigger: str,
             overran: bool = False) -> list[DrillRecord]:
    """Start cleaning up after the marker's drill: one step of a ``drill`` work item in its cleanup phase, run here;
    its record when that ended the cleanup, else the item is enqueued for the worker (which records it)."""
    cluster, drill_id = str(marker.get("cluster", "")), str(marker.get("drill_id", "unknown"))
    attempt = int(marker.get("recoveries") or 0) + 1
    log.warning("drill %s of %s did not finish (state %s, step %s): %s cleans up", drill_id, cluster,
                marker.get("state"), marker.get("step"), trigger)
    recovery = Work.new("drill", f"recover-{drill_id}-{attempt}".replace("_", "."),
                        {"cluster": cluster, "trigger": trigger, "drill_id": drill_id, "enqueued": now_iso()},
                        cluster=cluster)
    found = {**marker, "recoveries": attempt}  # kept in the marker: the next recovery's work item gets a new key
    if found.get("state") == "recovering":  # the recovery before this one died: clean up as it would have
        found["state"] = found.get("recovering_from") or "running"
    recovery = replace(recovery, carry={
        "phase": CLEANUP, "drill_id": drill_id, "cluster": cluster, "trigger": str(marker.get("trigger") or ""),
        "plan": marker.get("plan"), "key": marker.get("cluster_key"), "started": marker.get("started"),
        "checks": marker.get("checks") or [], "test_vms": [str(v) for v in marker.get("test_vms") or []],
        "marker": blob, "cleanup_announced": True,
        "recover": {"trigger": trigger, "marker": found, "overran": overran}})
    rt.blobs.put_json(blob, {**marker, "state": "recovering", "recovering_from": found.get("state"),
                             "recovery": recovery.id, "recoveries": attempt})
    after, _delay = worker.advance(rt, recovery)
    if after.ended:
        items.create(rt.records, after)  # kept for ``asr-s2d status``, like every work item
        record = DrillRecord.from_json(after.outcome)
        return [record] if record is not None else []
    worker.enqueue(rt, after)
    log.info("drill %s of %s: cleanup started by %s; the worker finishes it (work %s)", drill_id, cluster, trigger,
             after.id)
    return []


def audit_backstop(rt: Runtime) -> list[str]:
    """The drift audit's hook: clean up after the drills that died. Returns problems for the report's errors
    (never raises: the audit must go on)."""
    try:
        records = cleanup_stale(rt, trigger="audit")
    except Exception as err:
        log.warning("drill backstop failed; the next audit retries: %s", err, exc_info=True)
        return [f"drill cleanup: {err}"[:300]]
    return [f"drill {r.drill_id} of {r.cluster}: test failover not cleaned up: {r.cleanup.detail}"
            for r in records if not r.cleanup.ok]


# -- the timer -----------------------------------------------------------------------------------------

def drill_candidates(rt: Runtime) -> list[str]:
    """The clusters the timer drills: tagged ``asr-s2d-drill=monthly``, or every cluster with
    ``DRILL_ALL_CLUSTERS``. VMs in the target region (recovered or test VMs carry the tags too) are not nodes."""
    names: dict[str, str] = {}
    for subscription in rt.settings.allowed_subscriptions:
        inventory = observe_inventory(rt, subscription)
        found, _rejected = inventory.clusters(rt.settings.target_region, rt.records.enrollment)
        for key, cluster in found.items():
            if rt.settings.drill_all_clusters or cluster.intent.drill:
                names[key] = cluster.name
    return [names[k] for k in sorted(names)]


def run_scheduled(*, rt: Runtime | None = None, past_due: bool = False) -> list[Work]:
    """The timer trigger's entry point (``%DRILL_SCHEDULE%``): start cleaning up after drills that died (nothing
    waits), then enqueue one drill per opted-in cluster, keyed ``<cluster>-<YYYY-MM>`` (a second run in the same
    month enqueues nothing new); the worker runs them, ``DRILL_CONCURRENCY`` at a time. Returns what it enqueued. A
    cluster asr-s2d never enrolled is logged; the others are still enqueued."""
    runtime = rt or default_runtime()
    if past_due:
        log.warning("drill timer is running late (the timer was past due)")
    cleanup_stale(runtime, trigger="timer")
    month = datetime.now(UTC).strftime("%Y-%m")
    enqueued = []
    for name in drill_candidates(runtime):
        if runtime.records.enrollment(name) is None:
            log.error("drill of %s could not run: asr-s2d never enrolled it", name)
            continue
        work = _new_work(name, "timer", f"{name}-{month}")
        if worker.enqueue(runtime, work):
            enqueued.append(work)
    return enqueued


def _witness_of(rt: Runtime, found: list[ProtectedItem]) -> str | None:
    """Production's cloud witness as the cluster's tags declare it (``asr-s2d-witness``), read from a node (one GET)."""
    for item in found:
        vm = rt.compute.get_vm(item.vm_id)
        if vm is not None:
            try:
                return tags.parse_intent(vm.tags, f"VM {vm.name}").witness_id
            except RejectedInput:
                return None
    return None
