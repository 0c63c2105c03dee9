"""The way back, as a service: observe the cluster after a committed failover, plan with
``shared.way_back.plan`` and, when ``ALLOW_REPROTECT`` is set and the cache setting names the cache, apply
through the one executor; otherwise only report, with the exact portal and PowerShell steps as the
finding's fix. Entry points: ``reprotect_cluster`` (the CLI's ``reprotect``, in this process), ``enqueue_reprotect``
and ``work_step`` (the ``reprotect`` work item: ``--no-wait`` and the timer's audit, run by the queue worker in steps,
one per switch protection job) and ``audit_findings`` (the drift audit, for a failed-over cluster).

Reprotect goes item by item (``ReplicationProtectionContainers_SwitchProtection`` with
``A2ASwitchProtectionInput``: A2A's reprotect, ``reProtect`` takes no managed disks) for every node of the group
in one run; the cache is the one the settings name (in the DR region, the failed-over VMs' subscription,
shared-key access allowed; after a failback, the source region's ``CACHE_STORAGE_ACCOUNT_ID``). ASR re-creates
each item under the other container: the items keep their multi-VM group, and ASR renames them in the recovery plan.

It never fails over, commits, disables or deletes anything.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from shared import ids, tags
from shared.azure.operations import OperationPending
from shared.enrollment.plan import ReplicationSpec
from shared.errors import AsrS2dError, PermanentError, RejectedInput, TransientError
from shared.executor import Applied, Executor
from shared.findings import Finding, Severity
from shared.inventory import ProtectedItem, Vm
from shared.names import failback_how, failback_lb_id
from shared.outcomes import Outcome
from shared.ownership import Enrollment, owns_plan
from shared.runtime import Runtime
from shared.way_back.plan import (
    COMMITTED,
    Stage,
    WayBack,
    WayBackSpec,
    WayBackView,
    committed_failover,
    plan_way_back,
)
from shared.work.item import Work
from shared.work.worker import Done, Later, enqueue, started, until_done

log = logging.getLogger(__name__)


# -- the service ----------------------------------------------------------------------------------

def _quiet(message: str) -> None:
    log.debug("%s", message)


def reprotect_cluster(cluster_name: str, rt: Runtime, *, trigger: str = "cli", carry: dict[str, Any] | None = None,
                      report: Callable[[str], None] = _quiet) -> Outcome:
    """After a committed failover: reprotect every node of the cluster and stage the failback load balancer
    when ``ALLOW_REPROTECT`` (and ``DR_CACHE_STORAGE_ACCOUNT_ID``) allow it, else report the exact steps.
    Safe to repeat: a reprotected cluster gets no write. Always ends in a recorded outcome.

    Each node's switch protection is a Site Recovery job of minutes. With ``carry`` None it runs in this process,
    waiting for each job (the CLI); with a ``carry`` dict (the worker's step) a job that still runs ends the step:
    ``OperationPending`` propagates (its ``cluster`` set), ``carry`` keeps what was written so far, and the next
    step, once the job ended, re-plans and goes on. The outcome counts every node reprotected across the steps.
    ``report`` hears what the in-process run waits for (the CLI's progress)."""
    name = tags.cluster_name(cluster_name, "reprotect")
    if carry is None:  # in this process: wait for each job here
        kept: dict[str, Any] = {}
        return until_done(rt, lambda failure: _reprotect(name, rt, trigger=trigger, carry=kept, failure=failure),
                          report=report)
    return _reprotect(name, rt, trigger=trigger, carry=carry, failure=None)


def enqueue_reprotect(cluster_name: str, rt: Runtime, *, trigger: str = "cli") -> Work:
    """The way back as a work item (``reprotect --no-wait``, the audit's timer): enqueued for the worker."""
    name = tags.cluster_name(cluster_name, "reprotect")
    work = Work.new("reprotect", f"{trigger}-{name}-{uuid.uuid4().hex[:12]}", {"cluster": name, "trigger": trigger},
                    cluster=name)
    enqueue(rt, work)
    return work


def work_step(rt: Runtime, work: Work, failure: str | None) -> Later | Done:
    """The worker's step of a reprotect (payload ``{"cluster", "trigger"}``): re-read, plan and apply until a switch
    protection job must be waited for, then say so. ``failure``: why that job failed (recorded; the step ends)."""
    carry = dict(work.carry)
    carry.setdefault("event_id", f"work-{work.id.replace('/', '-')}")
    trigger = str(work.payload.get("trigger") or "worker")
    try:
        name = tags.cluster_name(str(work.payload.get("cluster") or ""), "reprotect")
        outcome = _reprotect(name, rt, trigger=trigger, carry=carry, failure=failure)
    except OperationPending as err:
        return started(err, f"reprotecting {err.cluster or work.cluster}", carry=carry, cluster=err.cluster)
    except RejectedInput as err:  # nothing to retry: a bad name, or a cluster asr-s2d never enrolled
        outcome = rt.record(Outcome(str(carry["event_id"]), "rejected", str(err), cluster=work.cluster,
                                    trigger=trigger))
    return Done(outcome.to_json(), failed=outcome.kind in ("failed", "rejected"))


def _reprotect(name: str, rt: Runtime, *, trigger: str, carry: dict[str, Any], failure: str | None) -> Outcome:
    """One step of the way back (see ``reprotect_cluster``); ``carry`` holds the event ID and what was written."""
    event_id = str(carry.setdefault("event_id", f"{trigger}-reprotect-{uuid.uuid4().hex[:12]}"))
    carried = Applied.from_json(carry.get("applied"))
    base = Outcome(event_id, "unchanged", "", cluster=name, trigger=trigger, dry_run=rt.settings.dry_run)
    record = rt.records.enrollment(name)
    if record is None:  # bad input, and no record of it
        raise RejectedInput(f"asr-s2d never enrolled a cluster {name}: it reprotects only its own clusters")
    base = replace(base, cluster=record.cluster, cluster_key=record.key)
    if failure is not None:  # a switch protection this reprotect started failed: recorded; the next run retries
        return rt.record(replace(base, kind="failed", reason=f"a reprotect job failed: {failure}"[:1000],
                                 writes=carried.writes, plan=tuple(carried.done)))
    with rt.lock(record.key) as lock:
        try:
            assessed = _assess(rt, record)
        except TransientError as err:
            rt.record(replace(base, kind="failed", reason=f"will retry: {err}"))
            raise
        except PermanentError as err:
            return rt.record(replace(base, kind="failed", reason=str(err)))
        if isinstance(assessed, str):
            return rt.record(replace(base, kind="ignored", reason=assessed))
        view, plan = assessed
        log.info("cluster %s way back: %s %s", name, plan.stage.value, plan.describe())
        out = replace(base, findings=plan.findings, plan=tuple(plan.describe()),
                      details={"stage": plan.stage.value, "allowed": plan.allowed})
        if plan.actions and not plan.allowed:
            why = "ALLOW_REPROTECT is off" if not rt.settings.allow_reprotect else "DR_CACHE_STORAGE_ACCOUNT_ID is empty"
            return rt.record(replace(out, reason=f"{plan.reason}; reported only ({why}): {len(plan.actions)} "
                                                 "action(s) for an operator"))
        if plan.actions and rt.settings.dry_run:
            return rt.record(replace(out, kind="waiting", reason=f"dry run: {len(plan.actions)} action(s) planned, "
                                                                 "none written"))
        if plan.stage is Stage.READY:  # where the committed failover brought it; once all are reprotected, unknown
            carry["home"] = plan.home
        applied = carried
        if plan.actions:
            try:
                applied = Executor(rt, lock=lock, dry_run=False, correlation_id=event_id).apply(
                    name, plan.actions, carried=carried)
            except OperationPending as err:  # a switch protection job runs on: the next step goes on after it
                carry["applied"] = err.applied.to_json() if err.applied is not None else carry.get("applied")
                carry["cluster"] = record.cluster
                err.cluster = record.cluster
                raise
            except TransientError as err:
                rt.record(replace(out, kind="failed", reason=f"will retry: {err}"))
                raise
            except AsrS2dError as err:
                return rt.record(replace(out, kind="failed", reason=str(err)))
    if not applied.writes:
        return rt.record(replace(out, reason=plan.reason))
    # Counted from what every step wrote: a node reprotected in an earlier step is no longer in this step's plan.
    done = sum(1 for line in applied.done if line.startswith(REPROTECTED))
    staged = any(line.startswith(STAGED) for line in applied.done)
    if carry.get("home", plan.home):
        reason = (f"{done} node(s) of {name} reprotected after the failback: replicating to {rt.settings.target_region} "
                  "again" if done else f"{name} already replicates to {rt.settings.target_region}")
    else:
        reason = (f"{done} node(s) of {name} reprotected: replicating back from {rt.settings.target_region}"
                  if done else f"{name} already replicates back")
    if staged:
        reason += f"; failback load balancer {ids.name_of(view.failback_lb_id)} staged"
    return rt.record(replace(out, kind="changed", writes=applied.writes, plan=tuple(applied.done), reason=reason))


# The executor's lines (``Action.describe``) of a switch protection and of staging the failback load balancer.
REPROTECTED = "reprotect "
STAGED = "stage failback internal load balancer "


def _assess(rt: Runtime, record: Enrollment) -> tuple[WayBackView, WayBack] | str:
    """Observe the cluster and plan its way back; a string when the cluster's plan or items are not asr-s2d's."""
    view = observe(rt, record.cluster)
    foreign = owns_plan(record, view.asr.plan_named(record.plan), view.items,
                        ReplicationSpec.from_settings(rt.settings).policy_id())
    if foreign:
        return f"cluster {record.cluster} is not asr-s2d's to reprotect: {foreign}"
    return view, plan_way_back(view, _spec(rt))


def _spec(rt: Runtime) -> WayBackSpec:
    s = rt.settings
    return WayBackSpec(target_region=s.target_region, allow_reprotect=s.allow_reprotect,
                       dr_cache_account_id=s.dr_cache_storage_account_id, vault_name=ids.name_of(s.vault_id),
                       cache_account_id=s.cache_storage_account_id)


def observe(rt: Runtime, cluster: str) -> WayBackView:
    """The vault (one list per kind), then per node: the failed-over VM, the original VM and its NIC, the
    original subnet and the load balancers fronting the original NICs."""
    s = rt.settings
    asr = rt.asr.observe(location=s.target_region)
    items = asr.cluster_items(cluster)
    failed_over: dict[str, Vm] = {}
    sources: list[Vm] = []
    for item in items:
        back = asr.replicates_back(item, s.target_region)
        if item.protection_state.lower() in COMMITTED and item.recovery_vm_id:
            vm = rt.compute.get_vm(item.recovery_vm_id)
            if vm is not None:
                failed_over[ids.key(item.id)] = vm
        source_id = item.recovery_vm_id if back else item.vm_id
        source = rt.compute.get_vm(source_id) if source_id else None
        if source is not None:
            sources.append(source)
    nics = [n for n in (rt.network.get_nic(vm.primary_nic_id) for vm in sources if vm.primary_nic_id) if n is not None]
    subnet = rt.network.get_subnet_of(nics[0].subnet_id) if nics else None
    lb_ids = sorted({ids.key(ids.load_balancer_of(p)): ids.load_balancer_of(p) for n in nics for p in n.pool_ids}.values())
    lbs = tuple(lb for lb in (rt.network.get_load_balancer(i) for i in lb_ids) if lb is not None)
    anchor = sources[0].id if sources else (items[0].vm_id if items else "")
    failback_id = failback_lb_id(anchor, cluster)
    failback = next((lb for lb in lbs if ids.same(lb.id, failback_id)), None) or (
        rt.network.get_load_balancer(failback_id) if anchor else None)
    dr_lb = rt.network.get_load_balancer(ReplicationSpec.from_settings(s).load_balancer_id(cluster))
    port = dr_lb.probe_port if dr_lb is not None and dr_lb.probe_port else (
        tags.parse_intent(sources[0].tags, f"VM {sources[0].name}").probe_port if sources else tags.DEFAULT_PROBE_PORT)
    return WayBackView(cluster=cluster, items=items, asr=asr, failed_over_vms=failed_over, source_vms=tuple(sources),
                       source_nics=tuple(nics), source_subnet=subnet, source_lbs=lbs, failback_lb=failback,
                       failback_lb_id=failback_id, probe_port=port)


def audit_findings(rt: Runtime, cluster: str, items: list[ProtectedItem], *, audit_id: str, queue: bool = False,
                   running: Work | None = None) -> tuple[Finding, ...]:
    """The drift audit's hook for a failed-over cluster: after a committed failover, the way back's findings
    (reprotected when the settings allow it, else the steps); nothing before the commit (the audit's own
    failover findings say what to do then). Never raises: the audit goes on.

    ``queue`` (the timer's audit): nothing is written here; when the way back has actions the settings allow, a
    ``reprotect`` work item is enqueued for the worker, unless ``running``: the cluster's reprotect that runs already."""
    if not committed_failover(items):
        return ()
    try:
        if queue:
            return _queue_way_back(rt, cluster, audit_id=audit_id, running=running)
        outcome = reprotect_cluster(cluster, rt, trigger="audit")
    except AsrS2dError as err:
        log.warning("audit %s: the way back of %s failed: %s", audit_id, cluster, err)
        return (Finding("reprotect-failed", Severity.WARNING, cluster, f"reprotecting {cluster} failed: {err}"[:500],
                        "the next audit retries; check the vault's jobs for the cause"),)
    found = list(outcome.findings)
    if outcome.kind == "changed":
        found.append(Finding("reprotected", Severity.INFO, cluster, outcome.reason,
                             f"when it is Protected, {failback_how(cluster)}"))
    elif outcome.kind == "failed":
        found.append(Finding("reprotect-failed", Severity.WARNING, cluster, outcome.reason,
                             "the next audit retries; check the vault's jobs for the cause"))
    return tuple(found)


REPROTECT_QUEUED = "reprotect-queued"


def _queue_way_back(rt: Runtime, cluster: str, *, audit_id: str, running: Work | None) -> tuple[Finding, ...]:
    """The timer's way back: observe and plan (reads only, no lock: the work item's step re-plans under it), and
    enqueue the reprotect when the settings allow its actions; the same findings as in-process otherwise."""
    name = tags.cluster_name(cluster, "reprotect")
    record = rt.records.enrollment(name)
    if record is None:
        raise RejectedInput(f"asr-s2d never enrolled a cluster {name}: it reprotects only its own clusters")
    assessed = _assess(rt, record)
    if isinstance(assessed, str):
        return ()
    _view, plan = assessed
    if not plan.actions or not plan.allowed or rt.settings.dry_run:
        return plan.findings
    work = running or enqueue_reprotect(name, rt, trigger="audit")
    log.info("audit %s: the way back of %s %s as work %s", audit_id, name,
             "runs already" if running else "is enqueued", work.id)
    what = (f"the reprotect of {name} runs already as work {work.id} ({work.status}: {work.reason or 'queued'})"
            if running else f"the reprotect of {name} is queued as work {work.id}: {len(plan.actions)} action(s)")
    return (*plan.findings, Finding(REPROTECT_QUEUED, Severity.INFO, name, what[:500],
                                    f"`asr-s2d status {name}` shows its progress; when it is Protected, "
                                    f"{failback_how(name)}"))
