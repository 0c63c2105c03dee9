"""The way back, as a service: observe the cluster after a committed failover, plan with
``shared.way_back.plan`` and, when ``ALLOW_REPROTECT`` is set and the cache setting names the cache, apply
through the one executor; otherwise only report, with the exact portal and PowerShell steps as the
finding's fix. Entry points: ``reprotect_cluster`` (the CLI's ``reprotect``) and ``audit_findings`` (the
drift audit, for a failed-over cluster).

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
from dataclasses import replace

from shared import ids, tags
from shared.actions import EnsureLoadBalancer, ReprotectItem
from shared.enrollment.plan import ReplicationSpec
from shared.errors import AsrS2dError, PermanentError, RejectedInput, TransientError
from shared.executor import Executor
from shared.findings import Finding, Severity
from shared.inventory import ProtectedItem, Vm
from shared.names import failback_how, failback_lb_id
from shared.outcomes import Outcome
from shared.ownership import owns_plan
from shared.runtime import Runtime
from shared.way_back.plan import COMMITTED, WayBackSpec, WayBackView, committed_failover, plan_way_back

log = logging.getLogger(__name__)


# -- the service ----------------------------------------------------------------------------------

def reprotect_cluster(cluster_name: str, rt: Runtime, *, trigger: str = "cli") -> Outcome:
    """After a committed failover: reprotect every node of the cluster and stage the failback load balancer
    when ``ALLOW_REPROTECT`` (and ``DR_CACHE_STORAGE_ACCOUNT_ID``) allow it, else report the exact steps.
    Safe to repeat: a reprotected cluster gets no write. Always ends in a recorded outcome."""
    name = tags.cluster_name(cluster_name, "reprotect")
    event_id = f"{trigger}-reprotect-{uuid.uuid4().hex[:12]}"
    base = Outcome(event_id, "unchanged", "", cluster=name, trigger=trigger, dry_run=rt.settings.dry_run)
    record = rt.records.enrollment(name)
    if record is None:  # bad input, and no record of it
        raise RejectedInput(f"asr-s2d never enrolled a cluster {name}: it reprotects only its own clusters")
    base = replace(base, cluster=record.cluster, cluster_key=record.key)
    with rt.lock(record.key) as lock:
        try:
            view = observe(rt, record.cluster)
            foreign = owns_plan(record, view.asr.plan_named(record.plan), view.items,
                                ReplicationSpec.from_settings(rt.settings).policy_id())
            if foreign:
                return rt.record(replace(base, kind="ignored", reason=f"cluster {name} is not asr-s2d's to reprotect: "
                                                                      f"{foreign}"))
            plan = plan_way_back(view, _spec(rt))
        except TransientError as err:
            rt.record(replace(base, kind="failed", reason=f"will retry: {err}"))
            raise
        except PermanentError as err:
            return rt.record(replace(base, kind="failed", reason=str(err)))
        log.info("cluster %s way back: %s %s", name, plan.stage.value, plan.describe())
        out = replace(base, findings=plan.findings, plan=tuple(plan.describe()),
                      details={"stage": plan.stage.value, "allowed": plan.allowed})
        if not plan.actions:
            return rt.record(replace(out, reason=plan.reason))
        if not plan.allowed:
            why = "ALLOW_REPROTECT is off" if not rt.settings.allow_reprotect else "DR_CACHE_STORAGE_ACCOUNT_ID is empty"
            return rt.record(replace(out, reason=f"{plan.reason}; reported only ({why}): {len(plan.actions)} "
                                                 "action(s) for an operator"))
        if rt.settings.dry_run:
            return rt.record(replace(out, kind="waiting", reason=f"dry run: {len(plan.actions)} action(s) planned, "
                                                                 "none written"))
        try:
            writes = Executor(rt, lock=lock, dry_run=False).apply(name, plan.actions).writes
        except TransientError as err:
            rt.record(replace(out, kind="failed", reason=f"will retry: {err}"))
            raise
        except AsrS2dError as err:
            return rt.record(replace(out, kind="failed", reason=str(err)))
    done = sum(1 for a in plan.actions if isinstance(a, ReprotectItem))
    staged = [a for a in plan.actions if isinstance(a, EnsureLoadBalancer)]
    if plan.home:
        reason = (f"{done} node(s) of {name} reprotected after the failback: replicating to {rt.settings.target_region} "
                  "again" if done else f"{name} already replicates to {rt.settings.target_region}")
    else:
        reason = (f"{done} node(s) of {name} reprotected: replicating back from {rt.settings.target_region}"
                  if done else f"{name} already replicates back")
    if staged:
        reason += f"; failback load balancer {ids.name_of(staged[0].id)} staged"
    return rt.record(replace(out, kind="changed", writes=writes, reason=reason))


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


def audit_findings(rt: Runtime, cluster: str, items: list[ProtectedItem], *, audit_id: str) -> tuple[Finding, ...]:
    """The drift audit's hook for a failed-over cluster: after a committed failover, the way back's findings
    (reprotected when the settings allow it, else the steps); nothing before the commit (the audit's own
    failover findings say what to do then). Never raises: the audit goes on."""
    if not committed_failover(items):
        return ()
    try:
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
