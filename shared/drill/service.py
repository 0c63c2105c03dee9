"""Drills: prove, every month, that a cluster really comes back, in the isolated test network, and clean up.

Owns the drill service (``run_drill``, the timer's ``run_scheduled``) and the backstop that cleans up after
a drill that died (``cleanup_stale``, called by the timer and by the drift audit through ``audit_backstop``);
the record is ``shared.drill.record``, the checks ``shared.drill.checks``. A drill of one cluster:

1. preconditions (``shared.drill.checks.preconditions``): the recovery plan exists and may test-fail over,
   every node is Protected with Normal replication health, nothing runs on the plan or its items, and no
   other drill runs in the vault (a renewed blob lease on ``locks/drills_vault``); otherwise it is skipped;
2. test failover of the recovery plan into ``TEST_FAILOVER_VNET_ID`` from the latest processed recovery point;
3. the failover service's IP step in the test network (``shared.failover.service.reassign_cluster(test=True)``);
4. ``shared/scripts/cluster_health.ps1`` through Run Command on one test node, judged check by check. The test
   nodes have just booted: while their guest is not ready (VM agent not Ready, another Run Command, cluster
   service starting, storage resyncing) steps 3 and 4 try again every ``GUEST_RECHECK_SECONDS``, within one budget
   of ``DRILL_GUEST_WAIT_MINUTES`` (``_GuestWait``); then the checks stand as they are, and say they waited;
5. test-failover cleanup, always attempted (also after a failed or crashed step), then verified: every
   item's ``testFailoverState`` back to None, the test VMs and asr-s2d's test load balancer gone;
6. the drill record, in ``drills/<cluster key>/<UTC>.json`` and ``clusters/<key>/last-drill.json`` (the
   drift audit's "last successful drill"), published to the custom topic when one is configured.

While a drill runs, ``drills/active.json`` (the marker) says which drill holds the lock and how far it got,
so whoever takes the lock next (the next drill, the timer or the hourly audit) can clean up after a drill
whose process died between two steps. A drill writes nothing but the test failover, its cleanup and what
the IP step writes in the test network; it never fails over, commits or deletes anything else.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from shared import ids, scripts, state, tags
from shared.actions import Purpose
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
from shared.outcomes import Outcome
from shared.ownership import Enrollment, owns_load_balancer, owns_plan
from shared.runtime import Runtime, default_runtime
from shared.state import ClusterLock
from shared.times import Clock, iso, now_iso, parse_time, utc_stamp

log = logging.getLogger(__name__)

VAULT_LOCK = "drills/vault"  # one drill at a time in the vault: the lease on locks/drills_vault
STALE = ("running", "cleanup-pending")  # marker states that, with the lock free, leave work behind
RECOVERY_POINT = "LatestProcessed"
DRILL_EVENT = "AsrS2d.DrillCompleted"
GUEST_RECHECK_SECONDS = 60  # between two tries of a test node whose guest is not ready (a Run Command takes >= 20 s)

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    log.info("%s", message)


def last_drill(rt: Runtime, cluster_key: str) -> DrillRecord | None:
    """The cluster's last drill (``clusters/<key>/last-drill.json``), or None."""
    return DrillRecord.from_json(rt.records.cluster_note(cluster_key, state.LAST_DRILL))


# -- the service ---------------------------------------------------------------------------------------

@dataclass
class _Run:
    """What one drill has found so far (mutable while it runs; the record is built from it)."""

    rt: Runtime
    cluster: str
    trigger: str
    report: Progress
    drill_id: str
    started: str = field(default_factory=now_iso)
    clock: float = field(default_factory=time.monotonic)
    key: str | None = None
    checks: list[DrillCheck] = field(default_factory=list)
    test_vm_ids: list[str] = field(default_factory=list)
    test_ip: str | None = None
    ip_status: str | None = None
    node: str | None = None
    point_time: str | None = None
    point_age: int | None = None
    network: DrillNetwork | None = None
    marker: dict[str, Any] = field(default_factory=dict)
    enrollment: Enrollment | None = None
    witness_id: str | None = None  # production's cloud witness (asr-s2d-witness), which the test clone must not reach
    role_ips: tuple[str, ...] = ()  # the roles' access points' test addresses (the IP step's)

    def step(self, name: str, message: str) -> None:
        self.report(message)
        self.marker.update(step=name, checks=[c.to_json() for c in self.checks], test_vms=self.test_vm_ids)
        self.rt.blobs.put_json(state.DRILL_MARKER, self.marker)

    def record(self, result: Result, reason: str, cleanup: CleanupReport = NOT_STARTED) -> DrillRecord:
        return DrillRecord(
            drill_id=self.drill_id, cluster=self.cluster, cluster_key=self.key, trigger=self.trigger,
            started=self.started, ended=now_iso(), drill_seconds=round(time.monotonic() - self.clock, 3),
            result=result, reason=reason, checks=tuple(self.checks), cleanup=cleanup,
            recovery_point_age_seconds=self.point_age, recovery_point_time=self.point_time, test_ip=self.test_ip,
            node=self.node, direction=self.network.direction if self.network else None,
            test_network=self.network.vnet_id or None if self.network else None)


def run_drill(cluster_name: str, rt: Runtime, *, trigger: str = "cli", report: Progress = _quiet) -> DrillRecord:
    """Drill one cluster end to end (see the module docstring) and store its record. Never leaves a test
    failover behind on purpose: cleanup runs after every step that started one, whatever happened.
    Raises ``RejectedInput`` for a name no cluster can have; everything else ends in a record."""
    name = tags.cluster_name(cluster_name, "drill")
    if rt.records.enrollment(name) is None:  # no record for a cluster asr-s2d does not have: bad input
        raise RejectedInput(f"asr-s2d never enrolled a cluster {name}: nothing to drill")
    run = _Run(rt, name, trigger, report, drill_id=f"{trigger}-{uuid.uuid4().hex[:12]}")
    s = rt.settings
    if not s.test_vnet_id and not s.failback_test_vnet_id:
        return _store(rt, run.record(Result.SKIPPED, "drills are off: TEST_FAILOVER_VNET_ID is empty"))
    if s.dry_run:
        return _store(rt, run.record(Result.SKIPPED, "dry run: a drill writes (a test failover), so none was started"))
    with contextlib.ExitStack() as held:
        try:
            lock = held.enter_context(_vault_lock(rt))
        except TransientError:
            holder = _marker(rt) or {}
            run.key = rt.asr.observe_cluster(name).cluster_key(name)
            run.checks.append(DrillCheck("no-other-drill", False, f"drill {holder.get('drill_id', '?')} of cluster "
                                         f"{holder.get('cluster', '?')} holds the vault's drill lock (since "
                                         f"{holder.get('started', '?')})"))
            return _store(rt, run.record(Result.SKIPPED, f"another drill is running in the vault: "
                                                         f"{run.checks[-1].detail}"))
        return _drill_locked(run, lock)


def _vault_lock(rt: Runtime) -> ClusterLock:
    """One drill at a time in the vault; whoever cannot take it at once does not wait."""
    return ClusterLock(rt.blobs, VAULT_LOCK, seconds=rt.settings.lease_seconds, wait_seconds=0)


def _drill_locked(run: _Run, lock: ClusterLock) -> DrillRecord:
    rt, name = run.rt, run.cluster
    stale = _marker(rt)
    if stale is not None and stale.get("state") in STALE:
        run.report(f"cleaning up after drill {stale.get('drill_id')} of cluster {stale.get('cluster')}, which did "
                   "not finish")
        _recover(rt, stale, trigger=run.trigger, report=run.report)
    run.report(f"reading recovery plan {plan_name(name)} and its protected items")
    plan, items, run.key = _observe(rt, name)
    run.enrollment = rt.records.enrollment(name)
    foreign = owns_plan(run.enrollment, plan, items, ReplicationSpec.from_settings(rt.settings).policy_id())
    run.checks.append(DrillCheck("owned", foreign is None, foreign or f"asr-s2d enrolled cluster {name}; "
                                 f"{len(run.enrollment.nodes) if run.enrollment else 0} confirmed node(s)"))
    run.checks += preconditions(name, plan, items)
    if plan is not None and items:
        s = rt.settings
        run.network = drill_network(s.test_vnet_id, s.failback_test_vnet_id, s.target_region, plan, items)
        run.checks.append(run.network.check())
        if run.network.vnet_id:
            run.witness_id = _witness_of(rt, items)
            account = rt.resources.get_storage_account(run.witness_id) if run.witness_id else None
            run.checks.append(witness_isolation(run.witness_id, account, run.network.vnet_id))
    run.checks.append(DrillCheck("no-other-drill", True, "this drill holds the vault's drill lock"))
    failed = first_failure(run.checks)
    if failed is not None or plan is None:
        reason = f"{failed.name}: {failed.detail}" if failed else "no recovery plan"
        # A test network that reaches production's witness is a failure of the DR set-up, not a reason to wait.
        result = Result.FAILED if failed is not None and failed.name == "witness-isolated" else Result.SKIPPED
        if result is Result.SKIPPED:
            log.info("drill %s of %s skipped: %s", run.drill_id, name, reason)
        else:
            log.warning("drill %s of %s failed before its test failover: %s", run.drill_id, name, reason)
        return _store(rt, run.record(result, reason))
    run.marker = {"state": "running", "drill_id": run.drill_id, "cluster": name, "cluster_key": run.key,
                  "plan": plan.name, "started": run.started, "trigger": run.trigger}
    error: str | None = None
    try:
        _steps(run, lock, plan, items)
    except Exception as err:  # a failed (or broken) step: the drill fails, and still cleans up below
        if not isinstance(err, AsrS2dError):
            log.exception("drill %s of %s: step %s raised", run.drill_id, name, run.marker.get("step"))
        step = str(run.marker.get("step", "drill"))
        detail = str(err) if isinstance(err, AsrS2dError) else f"{type(err).__name__}: {err}"
        error = f"{step} failed: {detail}"[:500]
        if not any(c.name == step for c in run.checks):
            run.checks.append(DrillCheck(step, False, detail[:300]))
    finally:
        try:
            run.step("cleanup", "cleaning up the test failover (always, whatever happened before)")
        except Exception as err:  # the marker is bookkeeping: the cleanup must run regardless
            log.warning("drill %s: marker not updated before the cleanup: %s", run.drill_id, err, exc_info=True)
        cleanup = _clean_up(rt, name, plan.name, run.test_vm_ids, drill_id=run.drill_id, report=run.report)
    bad = first_failure(run.checks)
    if error is None and bad is None and cleanup.ok:
        record = run.record(Result.PASSED, f"cluster {name} came back in the test network: {summary(run.checks)}",
                            cleanup)
    else:
        why = error or (f"{bad.name}: {bad.detail}" if bad else f"cleanup: {cleanup.detail}")
        record = run.record(Result.FAILED, why, cleanup)
    stored = _store(rt, record)
    run.marker.update(state="idle" if cleanup.ok else "cleanup-pending", record=stored.blob, ended=stored.ended,
                      checks=[c.to_json() for c in stored.checks])
    rt.blobs.put_json(state.DRILL_MARKER, run.marker)
    log.info("drill %s of %s: %s (%s); cleanup %s", run.drill_id, name, stored.result.value, stored.reason,
             "ok" if cleanup.ok else cleanup.detail)
    return stored


def _steps(run: _Run, lock: ClusterLock, plan: RecoveryPlan, items: list[ProtectedItem]) -> None:
    rt, name, network = run.rt, run.cluster, run.network
    assert network is not None and network.vnet_id  # the test-network precondition passed
    vnet = ids.name_of(network.vnet_id)
    run.step("test-failover", f"test failover of recovery plan {plan.name} ({network.direction}) into {vnet} "
                              f"({network.region}) from the latest processed recovery point")
    requested = datetime.now(UTC)
    rt.asr.test_failover_plan(plan.name, network_id=network.vnet_id, recovery_point_type=RECOVERY_POINT,
                              direction=network.direction)
    lock.check()
    _plan, after, _key = _observe(rt, name)
    run.test_vm_ids = sorted({i.test_vm_id for i in after if i.test_vm_id}, key=str.lower)
    waiting = [i for i in after if (i.test_failover_state or "").lower() == "waitingforcompletion" and i.test_vm_id]
    _point_age(run, after, requested)
    if len(waiting) < len(items):
        run.checks.append(DrillCheck("test-failover", False, f"the test failover job ended but only {len(waiting)} of "
                                                             f"{len(items)} node(s) have a test VM"))
        raise AsrS2dError(run.checks[-1].detail)
    age = f", {run.point_age} s old" if run.point_age is not None else ""
    run.checks.append(DrillCheck("test-failover", True, f"{len(waiting)} node(s) test-failed over into {vnet} "
                                                        f"({RECOVERY_POINT} recovery point{age})"))

    wait = _GuestWait.start(rt, lock, run.report)  # the test nodes have just booted
    run.step("ip-step", "moving the cluster IP onto the test load balancer and into the guest (the failover "
                        "service's IP step)")
    outcome = _ip_step(run, wait)
    lock.check()
    if isinstance(outcome, str):
        run.checks.append(DrillCheck("ip-step", False, f"not-yet: {outcome}"[:300]))
    else:
        details = outcome.details
        run.test_ip = details.get("ip") if isinstance(details.get("ip"), str) else None
        run.ip_status = str(details.get("status")) if details.get("status") else None
        run.node = details.get("node") if isinstance(details.get("node"), str) else None
        roles = details.get("roles")
        run.role_ips = tuple(str(r["ip"]) for r in roles if isinstance(r, dict) and isinstance(r.get("ip"), str)) \
            if isinstance(roles, list) else ()
        ok = outcome.kind in ("reassigned", "changed", "unchanged") and run.ip_status in DONE
        run.checks.append(DrillCheck("ip-step", ok, (f"cluster IP {run.test_ip} on {details.get('load_balancer')}, "
                                                     f"guest {run.ip_status}") if ok else
                                     f"{outcome.kind}: {outcome.reason}"[:300]))

    run.step("guest-report", "checking the cluster from inside a test node (cluster_health.ps1 through Run Command)")
    record = run.enrollment
    assert record is not None  # the ownership precondition passed
    nodes = [n for n in record.nodes if any(ids.same(n.vm_id, i.vm_id) or ids.same(n.vm_id, i.recovery_vm_id)
                                            for i in after)]
    # Only a confirmed member's test VM runs the health script, and its node list must be the confirmed members'.
    trusted = [i.test_vm_id for i in after if i.test_vm_id and (record.has_node(i.vm_id) or record.has_node(i.recovery_vm_id))]
    vms = [vm for vm in (rt.compute.get_vm(v) for v in trusted) if vm is not None]
    runner = next((vm for vm in sorted(vms, key=lambda v: v.name.lower()) if (vm.power_state or "") == "running"), None)
    report: HealthReport | str
    unsettled: str | None = None
    if runner is None:
        report = f"no test VM is running ({len(vms)} found)"
    else:
        run.node = runner.name
        while True:
            report, why = _health_report(rt, runner)
            if why is None or not wait.again(why):
                break
        lock.check()
        if why is not None:  # the budget ran out first: the checks stand as they are, and say so
            unsettled = f"not settled after {wait.waited()}: {why}"
            if isinstance(report, str):
                report = f"the guest of {runner.name} was still not ready after {wait.waited()}: {why}"
    run.checks += health_checks(report, test_ip=run.test_ip, ip_status=run.ip_status, expected_nodes=len(items),
                                expected_names=frozenset(n.computer_name for n in nodes), unsettled=unsettled,
                                role_ips=run.role_ips,
                                production_witness=ids.name_of(run.witness_id) if run.witness_id else None)


@dataclass
class _GuestWait:
    """A drill's bounded wait for its test nodes' guest, booting since the test failover: one budget
    (``DRILL_GUEST_WAIT_MINUTES`` from the end of the test failover) for the IP step and the health report together,
    one try every ``GUEST_RECHECK_SECONDS``. The drill's own time: it holds the vault's drill lock meanwhile."""

    clock: Clock
    lock: ClusterLock
    report: Progress
    started: float
    deadline: float

    @classmethod
    def start(cls, rt: Runtime, lock: ClusterLock, report: Progress) -> _GuestWait:
        now = rt.clock.monotonic()
        return cls(rt.clock, lock, report, now, now + rt.settings.drill_guest_wait_minutes * 60)

    def again(self, why: str) -> bool:
        """Sleep until the next try and say True, or say False when the budget has no room for one."""
        if self.clock.monotonic() + GUEST_RECHECK_SECONDS > self.deadline:
            return False
        self.report(f"the test nodes' guest is not ready yet ({why[:200]}): trying again in {GUEST_RECHECK_SECONDS} s")
        self.clock.sleep(GUEST_RECHECK_SECONDS)
        self.lock.check()
        return True

    def waited(self) -> str:
        return f"waiting {self.clock.monotonic() - self.started:.0f} s"


def _ip_step(run: _Run, wait: _GuestWait) -> Outcome | str:
    """The failover service's IP step in the test network, tried again while the test nodes' guest is not ready;
    the outcome, or why the guest was still not ready when the budget ran out."""
    while True:
        try:
            return failover.reassign_cluster(run.cluster, run.rt, test=True, trigger="drill-ip")
        except GuestNotReady as err:  # recorded by the service as not-yet
            if not wait.again(str(err)):
                return f"the guest was still not ready after {wait.waited()}: {err}"


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


def _point_age(run: _Run, items: list[ProtectedItem], requested: datetime) -> None:
    """How old the recovery point was that the test failover used (the oldest node's, if they differ)."""
    times = [parse_time(run.rt.asr.failover_point_time(i.id)) for i in items]
    known = [t for t in times if t is not None]
    if known:
        oldest = min(known)
        run.point_time = iso(oldest)
        run.point_age = max(0, int((requested - oldest).total_seconds()))


def _clean_up(rt: Runtime, cluster: str, plan: str, known_vm_ids: list[str], *, drill_id: str,
              report: Progress) -> CleanupReport:
    """Clean up the plan's test failover and asr-s2d's test load balancer, then verify. Never raises: a
    failure is the report (and the marker keeps the work for the next run)."""
    try:
        items = _cluster_items(rt.asr.observe_cluster(cluster), cluster)
        vm_ids = sorted({*known_vm_ids, *(i.test_vm_id for i in items if i.test_vm_id)}, key=str.lower)
        done: list[str] = []
        if any((i.test_failover_state or "none").lower() != "none" for i in items):
            report(f"test failover cleanup of recovery plan {plan}")
            rt.asr.test_failover_cleanup_plan(plan, comments=f"asr-s2d drill {drill_id}")
            done.append("test failover cleaned up")
        signal = FailoverSignal(id=f"{drill_id}-cleanup", source="drill-cleanup", scenario=Scenario.CLEANUP,
                                plan_name=plan)
        outcome = failover.readdress_for(signal, rt)
        if outcome.kind == "changed":
            done.append("test load balancer removed")
        after = _cluster_items(rt.asr.observe_cluster(cluster, with_plan=False), cluster)
        left = [f"{i.node_name} test failover {i.test_failover_state}" for i in after
                if (i.test_failover_state or "none").lower() != "none"]
        # A test failover job still running (its requester died while waiting) leaves VMs later: not clean yet.
        left += [f"{i.node_name} test failover still running" for i in after
                 if (i.test_failover_state or "none").lower() == "none" and i.current_job_id
                 and (i.current_scenario or "").lower() == "testfailover"]
        left += [f"test VM {ids.name_of(v)} still exists" for v in vm_ids if rt.compute.get_vm(v) is not None]
        lb_id = ReplicationSpec.from_settings(rt.settings).load_balancer_id(cluster, test=True)
        lb = rt.network.get_load_balancer(lb_id)
        if lb is not None and owns_load_balancer(lb, cluster, Purpose.TEST):
            left.append(f"test load balancer {ids.name_of(lb_id)} still exists ({outcome.kind}: {outcome.reason})")
    except Exception as err:  # the cleanup itself failed: say so, the next run or audit retries
        if not isinstance(err, AsrS2dError):
            log.exception("drill %s: cleanup of %s raised", drill_id, plan)
        return CleanupReport(True, False, f"cleanup failed: {err}"[:300])
    if left:
        return CleanupReport(True, False, "; ".join(left)[:300])
    gone = f"{len(vm_ids)} test VM(s) gone" if vm_ids else "no test VM was created"
    return CleanupReport(True, True, ", ".join([*done, gone, "testFailoverState None on every node"]))


def _observe(rt: Runtime, cluster: str) -> tuple[RecoveryPlan | None, list[ProtectedItem], str | None]:
    """The cluster's recovery plan, its items (by node name) and its key."""
    asr = rt.asr.observe_cluster(cluster)
    return asr.plan_named(plan_name(cluster)), _cluster_items(asr, cluster), asr.cluster_key(cluster)


def _cluster_items(asr: AsrState, cluster: str) -> list[ProtectedItem]:
    return sorted(asr.cluster_items(cluster), key=lambda i: i.node_name.lower())


def _marker(rt: Runtime) -> dict[str, Any] | None:
    return rt.records.json(state.DRILL_MARKER)


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


# -- after a drill that died -----------------------------------------------------------------------------

def cleanup_stale(rt: Runtime, *, trigger: str = "audit", report: Progress = _quiet) -> list[DrillRecord]:
    """Clean up after a drill that did not finish (its process died between two steps, or its cleanup
    failed): the marker names it, and its lock is free. Returns the records written or updated; empty when
    nothing was left (one blob read) or when the drill is still alive (its lock is held)."""
    marker = _marker(rt)
    if marker is None or marker.get("state") not in STALE:
        return []
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(_vault_lock(rt))
        except TransientError:
            return []  # a drill holds the lock: it is alive and cleans up after itself
        marker = _marker(rt)
        if marker is None or marker.get("state") not in STALE:
            return []
        return [_recover(rt, marker, trigger=trigger, report=report)]


def _recover(rt: Runtime, marker: dict[str, Any], *, trigger: str, report: Progress) -> DrillRecord:
    """Under the vault's drill lock: clean up what the marker's drill left, and make its record say so."""
    cluster, plan = str(marker.get("cluster", "")), str(marker.get("plan", ""))
    drill_id = str(marker.get("drill_id", "unknown"))
    log.warning("drill %s of %s did not finish (state %s, step %s): %s cleans up", drill_id, cluster,
                marker.get("state"), marker.get("step"), trigger)
    report(f"drill {drill_id} of cluster {cluster} stopped at step {marker.get('step')}: cleaning up its test failover")
    cleanup = _clean_up(rt, cluster, plan, [str(v) for v in marker.get("test_vms") or []], drill_id=drill_id,
                        report=report)
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
        checks = checks_from_json(marker.get("checks"))
        started = str(marker.get("started") or now_iso())
        began = parse_time(started)
        seconds = round((datetime.now(UTC) - began).total_seconds(), 3) if began else 0.0
        stored = _store(rt, DrillRecord(
            drill_id=drill_id, cluster=cluster, cluster_key=marker.get("cluster_key"),
            trigger=str(marker.get("trigger", "")), started=started, ended=now_iso(), drill_seconds=seconds,
            result=Result.FAILED, reason=f"the drill stopped during step {marker.get('step')} and never finished; "
                                         f"{trigger} cleaned up after it", checks=checks, cleanup=cleanup))
    marker.update(state="idle" if cleanup.ok else "cleanup-pending", record=stored.blob,
                  recovered_by=trigger, recovered_at=now_iso())
    rt.blobs.put_json(state.DRILL_MARKER, marker)
    return stored


def audit_backstop(rt: Runtime) -> list[str]:
    """The drift audit's hook: clean up after a drill that died. Returns problems for the report's errors
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


def run_scheduled(*, rt: Runtime | None = None, past_due: bool = False) -> list[DrillRecord]:
    """The timer trigger's entry point (``%DRILL_SCHEDULE%``): clean up after a drill that died, then drill
    each opted-in cluster in turn. A cluster whose drill cannot run is logged; the others still drill."""
    runtime = rt or default_runtime()
    if past_due:
        log.warning("drill timer is running late (the timer was past due)")
    cleanup_stale(runtime, trigger="timer")
    records = []
    for name in drill_candidates(runtime):
        try:
            records.append(run_drill(name, runtime, trigger="timer"))
        except AsrS2dError as err:
            log.error("drill of %s could not run: %s", name, err)
    return records


def _witness_of(rt: Runtime, items: list[ProtectedItem]) -> str | None:
    """Production's cloud witness as the cluster's tags declare it (``asr-s2d-witness``), read from a node (one GET)."""
    for item in items:
        vm = rt.compute.get_vm(item.vm_id)
        if vm is not None:
            try:
                return tags.parse_intent(vm.tags, f"VM {vm.name}").witness_id
            except RejectedInput:
                return None
    return None
