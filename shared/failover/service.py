"""Failover: after Site Recovery fails a cluster over, make it answer on its DR IP without a human (and,
after a failback of a reprotected cluster, on its original IP again).

One service, four entry points: ``handle_trigger`` (the Event Grid trigger: ``ResourceActionSuccess``
for a failover action on a recovery plan or a protected item), ``handle`` (one decoded or raw event;
the CLI's ``handle-event`` routes action events here), ``handle_runbook`` (the recovery plan's
post-action runbook POSTing its RecoveryPlanContext) and ``reassign_cluster`` (the CLI's ``reassign-ip``).

Every signal is a hint, never proof. The service maps it to a cluster (the recovery plan
``asr-s2d-<cluster>``, or the item's multi-VM group), locks the cluster, re-reads Site Recovery (plan,
items, job), then the recovered VMs, NICs, subnet and load balancer and its own per-cluster record,
plans with ``shared.failover.plan`` and applies: load balancer writes through the network gateway, then the
shipped ``set_cluster_ip.ps1`` through Run Command on one recovered node, values only in ``parameters``.
Every run ends in an outcome record (and a topic event when one is configured). A recovered node whose guest
is not ready yet (its VM agent, another Run Command, a cluster that has not settled since boot) makes the run
``not-yet`` and raises ``GuestNotReady``: the signal comes again, never recorded as a failure.

It must not enroll, disable or fail anything over, and it deletes nothing but its own test-failover
load balancer (tagged ``managed-by=asr-s2d``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import events, ids, state, tags
from shared.enrollment.plan import ReplicationSpec
from shared.errors import AddressTaken, GuestNotReady, PermanentError, RejectedInput, TransientError
from shared.executor import Applied, Executor
from shared.failover import plan as rd
from shared.failover import signals
from shared.failover.signals import FailoverSignal, Scenario
from shared.findings import Finding, Severity
from shared.inventory import AsrJob, ProtectedItem, RecoveryPlan
from shared.names import PLAN_PREFIX, failback_lb_id, plan_name
from shared.observability import log_context, scrub
from shared.outcomes import Outcome
from shared.ownership import Enrollment, owns_plan
from shared.runtime import Runtime, default_runtime
from shared.state import ClusterLock
from shared.times import iso, now_iso, parse_time
from shared.work.item import Work
from shared.work.item import load as load_work
from shared.work.worker import Done, Later, enqueue

log = logging.getLogger(__name__)

NOTES = {False: state.READDRESS, True: state.READDRESS_TEST}  # per-cluster record of the last re-addressing, by kind
# HTTP status of the runbook's status URL once the work ended: 400 rejected, 500 failed (the runbook fails its step).
RUNBOOK_STATUS = {"rejected": 400, "failed": 500}
# While a failover has not ended, or its recovered guest is not ready, the worker looks again this often (Azure
# seconds). A look at a guest that is not ready costs a Run Command (~20 s) itself, so the IP step's Run Command
# starts at most ~50 s after the guest can take it: bench P6, at most the Run Command's own duration plus 60 s.
RECHECK_SECONDS = 30.0
# How long a signal is re-checked before it is given up: Event Grid's own retry window (24 hours), which an event
# that failed here would have had.
GIVE_UP_HOURS = 24
# Tries of the IP step's writes when an address it chose was taken by what it cannot see (drills side by side share
# the test subnet): then it re-plans at addresses Azure allocates (the first free), which no one else can hold.
ADDRESS_TRIES = 3
STATUS_KEY = re.compile(r"[0-9a-f]{24}(-[0-9a-f]{8})?")  # what ``handle_runbook`` answers as a work's status key


# -- entry points ---------------------------------------------------------------------------------

def handle_trigger(event: Any) -> Outcome | Work:
    """The Event Grid trigger's entry point: screen the event (no Azure call), enqueue the re-addressing for the
    worker and answer at once. The worker re-reads Site Recovery and, while the failover has not ended (a signal
    raised when ARM accepted the action), looks again every ``RECHECK_SECONDS`` until it ends: a signal that came
    early is re-checked, never dropped (DESIGN.md rule 14). Transient errors propagate so Event Grid redelivers."""
    rt = default_runtime()
    accepted = accept(event, rt)
    if isinstance(accepted, Work):
        enqueue(rt, accepted)
    return accepted


def accept(raw: Any, rt: Runtime) -> Outcome | Work:
    """The recorded outcome of an event that is malformed or about nothing asr-s2d re-addresses, else the work item
    that re-addresses for it (not yet enqueued)."""
    signal = _signal_of_event(raw, rt)
    if isinstance(signal, Outcome):
        return signal
    return Work.new("failover", signal.id, {"event": events.as_json(raw), "deadline": _deadline()})


def _signal_of_event(raw: Any, rt: Runtime) -> FailoverSignal | Outcome:
    try:
        event = events.decode(raw)
    except RejectedInput as err:
        return rt.record(Outcome(events.event_id_of(raw), "rejected", f"malformed event: {err}"))
    reason = events.screen(event, events.ACTION_EVENTS, rt.settings)
    signal = signals.from_event(event, vault_id=rt.settings.vault_id) if reason is None else reason
    if isinstance(signal, str):
        return rt.record(Outcome(event.id, "ignored", signal, correlation_id=event.correlation_id))
    return signal


def handle(raw: Any, rt: Runtime) -> Outcome:
    """One event (an ``azure.functions`` event or a JSON object) -> one recorded outcome, in this process (the CLI's
    ``handle-event``): ``not-yet`` when the failover it announces has not ended."""
    signal = _signal_of_event(raw, rt)
    if isinstance(signal, Outcome):
        return signal
    with log_context(event_id=signal.id, correlation_id=signal.correlation_id):
        return readdress_for(signal, rt)


def handle_runbook(body: bytes, *, rt: Runtime | None = None) -> tuple[int, dict[str, Any]]:
    """The HTTP trigger's entry point (the asynchronous request-reply pattern): RecoveryPlanContext JSON in; 400 when
    it is rejected (do not retry), else ``202 Accepted`` with the work item's ``status`` key, which
    ``runbook_status`` answers (the runbook polls it, so the recovery plan still waits for the IP step). A context
    posted again (the runbook retried) answers with the same work item."""
    runtime = rt or default_runtime()
    digest = hashlib.sha256(body[: signals.MAX_CONTEXT_BYTES * 2]).hexdigest()[:24]
    try:
        signal = signals.parse_recovery_plan_context(body)
    except RejectedInput as err:
        outcome = runtime.record(Outcome(f"runbook-{digest}", "rejected", f"bad RecoveryPlanContext: {err}",
                                         trigger="runbook"))
        return 400, _response(outcome)
    # Both directions: a failback (SecondaryToPrimary) moves the cluster IP home; the worker tells which from what
    # Site Recovery says, not from the context.
    payload = {"context": body.decode("utf-8", errors="replace"), "deadline": _deadline()}
    cluster = signal.plan_name[len(PLAN_PREFIX):] if signal.plan_name else None
    work = Work.new("runbook", digest, payload, cluster=cluster)
    if not enqueue(runtime, work):
        earlier = load_work(runtime.records, work.id)
        if earlier is not None and not earlier.ended:  # the runbook retried its call: the same work answers
            work = earlier
        else:  # the same context again after that work ended (a later failover): the IP step runs again
            work = Work.new("runbook", f"{digest}-{uuid.uuid4().hex[:8]}", payload, cluster=cluster)
            enqueue(runtime, work)
    key = work.id.partition("/")[2]
    return 202, {"outcome": "accepted", "reason": f"the IP step is queued as work {work.id}", "status": key,
                 "work": work.id}


def runbook_status(key: str, *, rt: Runtime | None = None) -> tuple[int, dict[str, Any]]:
    """What the runbook's status URL answers: 202 while the work runs (with what it waits for), then the outcome:
    200 done, unchanged or ignored; 400 rejected; 500 failed (the runbook fails the plan's step); 404 no such work."""
    runtime = rt or default_runtime()
    if not STATUS_KEY.fullmatch(key or ""):
        return 400, {"outcome": "rejected", "reason": "status: not a runbook work key"}
    work = load_work(runtime.records, f"runbook/{key}")
    if work is None:
        return 404, {"outcome": "missing", "reason": f"no runbook work {key}"}
    if not work.ended:
        return 202, scrub({"outcome": "running", "reason": work.reason or "queued", "work": work.id,
                           "step": work.step})
    line = dict(work.outcome or {"outcome": "failed", "reason": work.reason})
    return RUNBOOK_STATUS.get(str(line.get("outcome")), 200), scrub(line)


def work_step(rt: Runtime, work: Work, failure: str | None) -> Later | Done:
    """The worker's step of a re-addressing (``failover``: an ARM event; ``runbook``: a RecoveryPlanContext;
    ``reassign``: the CLI or the audit): re-read Site Recovery and apply the IP step in one bounded step (load
    balancer and NIC writes end in seconds, the Run Command in its own ~20 s); while the failover has not ended or
    the recovered guest is not ready, look again in ``RECHECK_SECONDS``, until the item's deadline."""
    signal = _signal_of_work(work, rt)
    if isinstance(signal, Outcome):
        return Done(signal.to_json(), failed=signal.kind == "failed")
    try:
        outcome = readdress_for(signal, rt)
        why = outcome.reason if outcome.kind == "not-yet" else None
    except GuestNotReady as err:
        outcome, why = None, str(err)
    if why is None and outcome is not None:
        return Done(_response(outcome), failed=outcome.kind == "failed")
    deadline = parse_time(str(work.payload.get("deadline") or ""))
    if deadline is not None and datetime.now(UTC) >= deadline:
        ended = rt.record(Outcome(signal.id, "failed", f"gave up at {iso(deadline)}: still not re-addressed: {why}",
                                  cluster=work.cluster, trigger=signal.source, correlation_id=signal.correlation_id))
        return Done(_response(ended), failed=True)
    return Later(RECHECK_SECONDS, f"not yet: {why}"[:500])


def _signal_of_work(work: Work, rt: Runtime) -> FailoverSignal | Outcome:
    payload = work.payload
    if work.kind == "failover":
        return _signal_of_event(payload.get("event"), rt)
    if work.kind == "runbook":
        try:
            return signals.parse_recovery_plan_context(str(payload.get("context") or "").encode())
        except RejectedInput as err:
            return rt.record(Outcome(work.id, "rejected", f"bad RecoveryPlanContext: {err}", trigger="runbook"))
    name = str(payload.get("cluster") or "")
    trigger = str(payload.get("trigger") or "cli")
    return FailoverSignal(id=f"{trigger}-{work.id.rpartition('/')[2]}", source=trigger,
                          scenario=Scenario.TEST if payload.get("test") else Scenario.FAILOVER,
                          plan_name=plan_name(tags.cluster_name(name, "reassign-ip")))


def _deadline() -> str:
    return iso(datetime.now(UTC) + timedelta(hours=GIVE_UP_HOURS))


def enqueue_reassign(cluster_name: str, rt: Runtime, *, test: bool = False, trigger: str = "cli") -> Work:
    """The IP step as a work item (``reassign-ip --no-wait``, the audit's timer): enqueued for the worker."""
    name = tags.cluster_name(cluster_name, "reassign-ip")
    work = Work.new("reassign", f"{trigger}-{name}-{uuid.uuid4().hex[:12]}",
                    {"cluster": name, "test": test, "trigger": trigger, "deadline": _deadline()}, cluster=name)
    enqueue(rt, work)
    return work


def reassign_cluster(cluster_name: str, rt: Runtime, *, test: bool = False, trigger: str = "cli") -> Outcome:
    """The CLI's ``reassign-ip`` (and the audit's backstop, ``trigger="audit"``): the same checks and steps
    as a signal for the cluster's recovery plan. Safe to repeat: a re-addressed cluster gets no write."""
    name = tags.cluster_name(cluster_name, "reassign-ip")
    signal = FailoverSignal(id=f"{trigger}-{uuid.uuid4().hex[:12]}", source=trigger,
                            scenario=Scenario.TEST if test else Scenario.FAILOVER, plan_name=plan_name(name))
    return readdress_for(signal, rt)


def _response(outcome: Outcome) -> dict[str, Any]:
    body = outcome.line()
    body["details"] = {k: v for k, v in outcome.details.items() if k in ("ip", "probe_port", "load_balancer", "status",
                                                                         "scenario", "node")}
    return scrub(body)  # the HTTP answer is an output like any other


# -- the service ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Target:
    cluster: str
    plan_name: str
    key: str  # the cluster's lock and record key, as enrollment names it: <source subscription>/<name>
    record: Enrollment  # the proof that the cluster is asr-s2d's


def readdress_for(signal: FailoverSignal, rt: Runtime) -> Outcome:
    """Map the signal to its cluster, lock it, re-read, plan, apply, record."""
    base = Outcome(event_id=signal.id, kind="unchanged", reason="", trigger=signal.source,
                   correlation_id=signal.correlation_id, dry_run=rt.settings.dry_run,
                   details={"scenario": signal.scenario.value, "signal": signal.describe()})
    try:
        target = _resolve(signal, rt)
    except TransientError as err:
        rt.record(replace(base, kind="failed", reason=f"will retry: {err}"))
        raise
    except PermanentError as err:
        return rt.record(replace(base, kind="failed", reason=str(err)))
    if isinstance(target, str):
        return rt.record(replace(base, kind="ignored", reason=target))
    base = replace(base, cluster=target.cluster, cluster_key=target.key)
    log.info("%s -> cluster %s (plan %s) correlation=%s", signal.describe(), target.cluster, target.plan_name,
             signal.correlation_id)
    with (log_context(event_id=signal.id, correlation_id=signal.correlation_id, cluster=target.cluster),
          rt.lock(target.key) as lock):
        try:
            return _run(signal, target, rt, lock, base)
        except RejectedInput as err:
            return rt.record(replace(base, kind="rejected", reason=str(err)))
        except TransientError as err:
            if not err.recorded:
                kind = "not-yet" if isinstance(err, GuestNotReady) else "failed"
                rt.record(replace(base, kind=kind, reason=f"will retry: {err}"))
            raise
        except PermanentError as err:
            return rt.record(replace(base, kind="failed", reason=str(err)))


def _resolve(signal: FailoverSignal, rt: Runtime) -> _Target | str:
    """The cluster a signal is about, or why it is none of asr-s2d's business: a plan or group only *named* like
    asr-s2d's is not enough; the cluster must have asr-s2d's enrollment record (``shared.ownership``)."""
    if signal.plan_name is not None:
        name = signal.plan_name
        if not name.lower().startswith(PLAN_PREFIX):
            return f"recovery plan {name} is not one asr-s2d manages (its plans are named {PLAN_PREFIX}<cluster>)"
        cluster = name[len(PLAN_PREFIX):]
        if not tags.CLUSTER_NAME.fullmatch(cluster):
            return f"recovery plan {name} does not name a cluster asr-s2d could have enrolled"
    else:
        item = rt.asr.get_item(signal.item_id or "")
        if item is None:
            return f"protected item {ids.name_of(signal.item_id or '')} no longer exists"
        if not item.group_name or not tags.CLUSTER_NAME.fullmatch(item.group_name):
            return f"protected item {item.name} is in no multi-VM group asr-s2d could have named after a cluster"
        cluster, name = item.group_name, plan_name(item.group_name)
    record = rt.records.enrollment(cluster)
    if record is None:
        return (f"recovery plan {name} is not asr-s2d's: asr-s2d never enrolled a cluster {cluster} (no enrollment "
                "record), so it touches neither that plan nor its VMs")
    return _Target(cluster=record.cluster, plan_name=record.plan, key=record.key, record=record)


def _spec(rt: Runtime, cluster: str, *, test: bool, items: tuple[ProtectedItem, ...]) -> rd.ReaddressSpec:
    """Where the recovered (or test) nodes must be. A cluster that was reprotected replicates back to its
    original region: a test failover goes into ``FAILBACK_TEST_VNET_ID`` there (a drill of the way back), a
    failover is the failback (the load balancer at home is found from the nodes' NICs: ``_home``)."""
    s = rt.settings
    lb_id = ReplicationSpec.from_settings(s).load_balancer_id(cluster, test=test)
    back = next((i.recovery_region for i in items
                 if i.recovery_region and i.recovery_region != s.target_region.lower()), None)
    if back is not None:
        return rd.ReaddressSpec(target_region=back, vnet_id=s.failback_test_vnet_id if test else "",
                                lb_id=lb_id if test else "", way_back=True)
    return rd.ReaddressSpec(target_region=s.target_region, vnet_id=s.test_vnet_id if test else s.recovery_vnet_id,
                            lb_id=lb_id)


def _run(signal: FailoverSignal, target: _Target, rt: Runtime, lock: ClusterLock, base: Outcome) -> Outcome:
    test = signal.scenario.is_test
    view = _observe_asr(signal, target, rt)
    policy_id = ReplicationSpec.from_settings(rt.settings).policy_id()
    foreign = owns_plan(target.record, view.plan, view.items, policy_id)
    if foreign:
        return rt.record(replace(base, kind="ignored", reason=f"recovery plan {target.plan_name} is not asr-s2d's to "
                                                               f"act on: {foreign}"))
    spec = _spec(rt, target.cluster, test=test, items=view.items)
    early = rd.asr_verdict(view)
    if early is None:
        spec, view = _network_view(view, target, rt, spec, test=test)
    plan = early or rd.plan_readdress(view, spec)
    details = {**base.details, "identity": plan.identity, "plan": target.plan_name,
               "job": view.job.name if view.job else None, "load_balancer": ids.name_of(spec.lb_id)}
    base = replace(base, findings=plan.findings, plan=tuple(plan.describe()), details=details)
    log.info("cluster %s %s: %s %s", target.cluster, signal.scenario.value, plan.verdict.value,
             plan.reason or plan.describe())
    ended = signal.ended
    if ended == "Succeeded" and view.job is not None and view.job.finished and not view.job.succeeded:
        ended = view.job.state  # a signal raised when the action was accepted; its job failed or was cancelled since
    if plan.verdict is rd.Verdict.NOT_YET and ended != "Succeeded":
        # ARM (or the plan's job) says the action ended badly and Site Recovery's items agree (otherwise the IP step
        # would go ahead): nothing to re-address until a failover succeeds, and no retry would change that.
        kind = "failed" if ended == "Failed" else "ignored"
        return rt.record(replace(base, kind=kind, reason=f"Site Recovery's {signal.scenario.value} of "
                                 f"{target.plan_name} ended {ended}: {plan.reason}; the IP step runs when a "
                                 "failover of the plan succeeds"))
    if plan.verdict is rd.Verdict.NOT_YET:
        return rt.record(replace(base, kind="not-yet", reason=plan.reason))
    if plan.verdict is rd.Verdict.IGNORED:
        return rt.record(replace(base, kind="ignored", reason=plan.reason))
    if plan.verdict is rd.Verdict.OVER:
        return rt.record(replace(base, kind="unchanged", reason=plan.reason))
    for attempt in range(ADDRESS_TRIES):
        try:
            applied = Executor(rt, lock=lock, dry_run=rt.settings.dry_run,
                               correlation_id=signal.correlation_id).apply(plan.cluster, plan.actions)
            break
        except AddressTaken as err:  # a test VM of another drill took the address since the subnet was read
            if attempt + 1 == ADDRESS_TRIES:
                raise
            log.info("cluster %s: %s; re-planning from a fresh read, at addresses Azure allocates", target.cluster,
                     err)
            fresh = replace(_spec(rt, target.cluster, test=test, items=view.items), mirror=False)
            spec, view = _network_view(view, target, rt, fresh, test=test)
            plan = rd.plan_readdress(view, spec)
            base = replace(base, findings=plan.findings, plan=tuple(plan.describe()))
    if signal.scenario is Scenario.CLEANUP:
        return _cleanup_outcome(plan, applied, rt, target, base, spec)
    return _readdress_outcome(plan, applied, rt, target, base, test=test, note=view.note,
                              where="test IP" if test else "original IP" if spec.way_back else "DR IP")


def _network_view(view: rd.FailoverView, target: _Target, rt: Runtime, spec: rd.ReaddressSpec, *,
                  test: bool) -> tuple[rd.ReaddressSpec, rd.FailoverView]:
    """The network side of the view (and, for a failback, where home is)."""
    view = _observe_network(view, target, rt, spec)
    if spec.way_back and not test:
        spec, view = _home(view, target, rt, spec)
    return spec, view


def _observe_asr(signal: FailoverSignal, target: _Target, rt: Runtime) -> rd.FailoverView:
    """Site Recovery's side: the plan and the cluster's items, then the job. The items are read before the job, so
    a job that ended in between looks like one whose failover is over (no node failed over): that verdict alone is
    read again, once, before it is believed (a signal raised at the action's acceptance meets exactly that)."""
    note = rd.ReaddressNote.from_json(rt.records.cluster_note(target.key, NOTES[signal.scenario.is_test]))
    view = None
    for _read in range(2):
        asr = rt.asr.observe_cluster(target.cluster)
        plan = asr.plan_named(target.plan_name)
        items = asr.cluster_items(target.cluster)
        job = _find_job(rt, signal.scenario, plan, items)
        trusted = frozenset(ids.key(i.id) for i in items
                            if target.record.has_node(i.vm_id) or target.record.has_node(i.recovery_vm_id))
        view = rd.FailoverView(cluster=target.cluster, scenario=signal.scenario, source=signal.source, plan=plan,
                               items=items, job=job, note=note, trusted=trusted)
        verdict = rd.asr_verdict(view)
        if verdict is None or verdict.verdict is not rd.Verdict.OVER:
            break
    assert view is not None
    return view


def _find_job(rt: Runtime, scenario: Scenario, plan: RecoveryPlan | None,
              items: tuple[ProtectedItem, ...]) -> AsrJob | None:
    """The newest job of the scenario on the plan or its items. The plan (or, during a test failover, an
    item) names its current job: one GET; otherwise one paged list of the vault's jobs."""
    wanted = scenario.job_scenarios
    named = [j for j in dict.fromkeys([plan.current_job_id if plan else None, *(i.current_job_id for i in items)]) if j]
    for job_id in named:
        job = rt.asr.get_job(job_id)
        if job is not None and job.scenario in wanted:
            return job
    item_ids = {ids.key(i.id) for i in items}
    item_names = {i.name.lower() for i in items}

    def about(job: AsrJob) -> bool:
        if plan is not None and (ids.same(job.affected.get("RecoveryPlanId"), plan.id) or (
                job.target_type == "RecoveryPlan" and job.target_name.lower() == plan.name.lower())):
            return True
        return ids.key(job.affected.get("ProtectedItemId") or "") in item_ids or job.target_id.lower() in item_names

    found = [j for j in rt.asr.list_jobs() if j.scenario in wanted and about(j)]
    return max(found, key=lambda j: j.start_time or "", default=None)


def _home(view: rd.FailoverView, target: _Target, rt: Runtime,
          spec: rd.ReaddressSpec) -> tuple[rd.ReaddressSpec, rd.FailoverView]:
    """After a failback: the load balancer that fronts the nodes at home, found from the pools their NICs are
    in (the original one, usually), else asr-s2d's failback load balancer beside the first node."""
    nics = [n.nic for n in view.nodes if n.nic is not None]
    subnet_id = nics[0].subnet_id if nics else ""
    candidates = list(dict.fromkeys(ids.load_balancer_of(p) for n in nics for p in n.pool_ids))
    vm = next((n.vm for n in view.nodes if n.vm is not None), None)
    if vm is not None:
        candidates.append(failback_lb_id(vm.id, target.cluster))
    for lb_id in dict.fromkeys(candidates):
        lb = rt.network.get_load_balancer(lb_id)
        if lb is not None and lb.frontend_ip and ids.same(lb.frontend_subnet_id, subnet_id):
            return replace(spec, lb_id=lb.id), replace(view, load_balancer=lb)
    return spec, replace(view, load_balancer=None)


def _observe_network(view: rd.FailoverView, target: _Target, rt: Runtime, spec: rd.ReaddressSpec) -> rd.FailoverView:
    lb = rt.network.get_load_balancer(spec.lb_id) if spec.lb_id else None
    if view.scenario is Scenario.CLEANUP:
        return replace(view, load_balancer=lb)
    test = view.scenario is Scenario.TEST
    nodes = []
    for item in view.items:
        vm_id = item.test_vm_id if test else item.recovery_vm_id
        vm = rt.compute.get_vm(vm_id) if vm_id else None
        nic = rt.network.get_nic(vm.primary_nic_id) if vm is not None and vm.primary_nic_id else None
        nodes.append(rd.RecoveredNode(item=item, vm=vm, nic=nic))
    first = next((n.nic for n in nodes if n.nic is not None), None)
    subnet = rt.network.get_subnet_of(first.subnet_id) if first is not None else None
    dr_lb = dr_subnet = None
    if test and first is not None and not spec.way_back:
        s = rt.settings
        dr_lb = rt.network.get_load_balancer(ReplicationSpec.from_settings(s).load_balancer_id(target.cluster))
        dr_subnet = rt.network.get_subnet(s.recovery_vnet_id, s.recovery_subnet_name or ids.name_of(first.subnet_id))
    elif spec.way_back and first is not None:  # its role frontends pair each role's DR and home addresses
        dr_lb = rt.network.get_load_balancer(ReplicationSpec.from_settings(rt.settings).load_balancer_id(target.cluster))
    return replace(view, nodes=tuple(nodes), subnet=subnet, load_balancer=lb, dr_load_balancer=dr_lb,
                   dr_subnet=dr_subnet)


def _readdress_outcome(plan: rd.Readdress, applied: Applied, rt: Runtime, target: _Target, base: Outcome, *,
                       test: bool, note: rd.ReaddressNote | None, where: str) -> Outcome:
    guest = applied.guest
    status = guest.get("status") if guest else None
    ip = applied.guest_ip or applied.frontend_ip or plan.ip
    absent = ([] if rd.guest_reports_ip(guest, ip) else [ip or "?"]) + [
        m.ip for m in applied.role_moves if not rd.guest_reports_ip(guest, m.ip)]
    if status in ("changed", "unchanged") and absent:
        # The guest's word alone is never proof: its report must name each address ARM's load balancer answers on.
        guest = {**(guest or {}), "status": "failed", "reason": f"the guest reported {status} but no IP Address "
                 f"resource on {', '.join(absent)}: its report is not believed"}
        status = "failed"
    recorded = str(note.status) if plan.guest_done and note is not None else None
    port = plan.probe_port
    lb_writes = applied.network_writes
    details = {**base.details, "ip": ip, "probe_port": port, "subnet_prefix": plan.subnet_prefix,
               "node": applied.node or (note.node if note is not None else None), "status": status or recorded,
               "guest": guest, "lb_writes": lb_writes,
               "roles": [{"source": m.source, "ip": m.ip, "probe_port": m.probe_port} for m in applied.role_moves]}
    out = replace(base, writes=applied.writes, details=details)
    if rt.settings.dry_run:
        return rt.record(replace(out, kind="unchanged" if not plan.actions else "waiting",
                                 reason=f"dry run: {len(plan.actions)} action(s) planned, none written"))
    if status == rd.NOT_READY:
        # Booting (the agent not Ready, ClusSvc starting) or busy (another Run Command): not a failure, and nothing is
        # noted as done. Raised so the signal comes again (Event Grid redelivers, the runbook gets 503); the load
        # balancer writes stay made, and the retry finds them in place.
        reason = f"the guest of {applied.node} is not ready yet, will retry: {str((guest or {}).get('reason'))[:400]}"
        rt.record(replace(out, kind="not-yet", reason=reason))
        err = GuestNotReady(f"cluster {target.cluster}: {reason}")
        err.recorded = True
        raise err
    if guest is not None:
        rt.records.set_cluster_note(target.key, NOTES[test], rd.ReaddressNote(
            identity=plan.identity, status=status, at=now_iso(), event_id=base.event_id, ip=ip, probe_port=port,
            node=applied.node, load_balancer=details["load_balancer"]).to_json())
    if status == "failed":
        return rt.record(replace(out, kind="failed", reason=f"in-guest change on {applied.node} failed: "
                                 f"{str((guest or {}).get('reason'))[:500]}"))
    if status == "no-ip-resource":
        finding = Finding("no-ip-resource", Severity.INFO, target.cluster,
                          f"cluster {target.cluster} has no IP Address resource to move: its access points are "
                          "distributed network names", "nothing to do: clients reach it through the node addresses")
        return rt.record(replace(out, kind="changed" if lb_writes else "unchanged",
                                 reason=f"cluster {target.cluster}: no IP resource (distributed network name); the "
                                        "guest was left as it is", findings=(*out.findings, finding)))
    roles = "".join(f" and role IP {m.source} on {m.ip} (probe {m.probe_port})" for m in applied.role_moves)
    dnn = [str(n) for n in (guest or {}).get("roles_without_ip") or [] if isinstance(n, str)]
    roles += f"; role(s) {', '.join(dnn)} use a distributed network name: no IP to move" if dnn else ""
    if status == "changed" or lb_writes:
        return rt.record(replace(out, kind="reassigned", reason=f"cluster {target.cluster} answers on its {where} {ip} "
                                 f"(probe {port}){roles}: {lb_writes} load balancer write(s), guest "
                                 f"{status or 'already done'}"))
    if status == "unchanged":
        return rt.record(replace(out, kind="unchanged", reason=f"cluster {target.cluster} already answers on its "
                                 f"{where} {ip} (probe {port}){roles}"))
    return rt.record(replace(out, kind="unchanged", reason=f"cluster {target.cluster} was already re-addressed for "
                             f"this failover ({plan.identity}): {where} {ip}, probe {port}, guest {recorded}"))


def _cleanup_outcome(plan: rd.Readdress, applied: Applied, rt: Runtime, target: _Target, base: Outcome,
                     spec: rd.ReaddressSpec) -> Outcome:
    out = replace(base, writes=applied.writes)
    if rt.settings.dry_run:
        return rt.record(replace(out, kind="unchanged" if not plan.actions else "waiting",
                                 reason=f"dry run: {len(plan.actions)} action(s) planned, none written"))
    if applied.writes:
        rt.records.set_cluster_note(target.key, NOTES[True], rd.ReaddressNote(
            identity=plan.identity, status="cleaned", at=now_iso(), event_id=base.event_id).to_json())
        return rt.record(replace(out, kind="changed", reason=f"test failover of {target.cluster} cleaned up: removed "
                                 f"test load balancer {ids.name_of(spec.lb_id)}"))
    return rt.record(replace(out, kind="unchanged", reason=f"test failover of {target.cluster} cleaned up: no test "
                             "load balancer of asr-s2d's to remove"))
