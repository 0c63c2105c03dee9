"""The way back: after a committed failover the cluster runs in the DR region with nothing protecting it.
Reprotect it (replicate every node back to the region it came from) and pre-stage the load balancer it
needs there for the failback. After the failback is committed too, the same step reprotects it to the DR
region again, staging through the source region's cache (``CACHE_STORAGE_ACCOUNT_ID``).

``plan_way_back`` is side-effect free: what the service observed (the cluster's items and the vault's
containers and mappings, the failed-over VMs, the original nodes, their NICs, subnet and load balancers)
in, a ``WayBack`` (a stage, actions, findings) out. ``reprotect_cluster`` observes, plans and, when
``ALLOW_REPROTECT`` is set and ``DR_CACHE_STORAGE_ACCOUNT_ID`` names the cache, applies; otherwise it only
reports, with the exact portal and PowerShell steps as the finding's fix. The drift audit calls
``audit_findings`` for a failed-over cluster.

Reprotect goes item by item (``ReplicationProtectedItems_Reprotect`` with ``A2AReprotectInput``) for every
node of the group in one run, not through the recovery plan: a plan-level reprotect takes no input, so
ASR would pick the cache storage account itself, and the cache must be the one the settings name (in the
DR region, the failed-over VMs' subscription, shared-key access allowed). The items keep their multi-VM
group, and ASR renames them in the recovery plan. The failback load balancer has the DR one's shape
(frontend, pool, TCP probe, HA-ports floating-IP rule) in the original nodes' subnet; it is staged only
when no load balancer there fronts the nodes already (the original one usually still does).

It never fails over, commits, disables or deletes anything.
"""

from __future__ import annotations

import argparse
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from shared import ids, tags
from shared.cli import EXIT_FAILED, EXIT_OK, command, progress, table
from shared.drill_checks import node_name
from shared.errors import AsrS2dError, PermanentError, TransientError
from shared.findings import Finding, Severity
from shared.inventory import AsrState, LoadBalancer, Nic, ProtectedItem, Subnet, Vm
from shared.outcomes import Outcome
from shared.replication import LB_FRONTEND, LB_POOL, LB_PROBE, LB_RULE, ReplicationSpec, failback_lb_name, plan_name
from shared.runtime import Runtime, default_runtime

log = logging.getLogger(__name__)

COMMITTED = frozenset({"unplannedfailovercommitted", "plannedfailovercommitted"})
COMMIT_PENDING = frozenset({"unplannedfailovercommitpendingstatesbegin", "plannedfailovercommitpendingstatesbegin"})
MANAGED_BY, OWNER = "managed-by", "asr-s2d"
EXIT_REPORTED = 3


class Stage(str, Enum):
    NOT_FAILED_OVER = "not-failed-over"  # the cluster runs where it was protected from: nothing to do
    COMMIT_PENDING = "commit-pending"  # failed over, not committed yet: an operator decides first
    READY = "ready"  # committed: reprotect the committed nodes
    REPLICATING_BACK = "replicating-back"  # every node is reprotected: it replicates back


# -- observed state -------------------------------------------------------------------------------

@dataclass(frozen=True)
class WayBackView:
    cluster: str
    items: tuple[ProtectedItem, ...]
    asr: AsrState  # containers, fabrics and mappings (the reverse mapping, each item's direction)
    failed_over_vms: Mapping[str, Vm]  # item ID key -> the VM it failed over to (with its disks)
    source_vms: tuple[Vm, ...]  # the original nodes
    source_nics: tuple[Nic, ...]  # their primary NICs
    source_subnet: Subnet | None
    source_lbs: tuple[LoadBalancer, ...]  # load balancers whose pools hold an original node's NIC
    failback_lb: LoadBalancer | None  # asr-s2d's own failback load balancer, when it exists
    failback_lb_id: str
    probe_port: int


@dataclass(frozen=True)
class WayBackSpec:
    target_region: str
    allow_reprotect: bool
    dr_cache_account_id: str
    vault_name: str
    cache_account_id: str = ""  # the source region's cache: reprotecting after a failback stages through it


# -- actions --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReprotectItem:
    item_id: str
    vm_name: str
    recovery_container_id: str
    cache_account_id: str
    disk_ids: tuple[str, ...]
    recovery_resource_group_id: str
    policy_id: str

    def describe(self) -> str:
        return (f"reprotect {self.vm_name}: replicate it back into {ids.name_of(self.recovery_container_id)} "
                f"(resource group {ids.name_of(self.recovery_resource_group_id)}), {len(self.disk_ids)} disk(s) "
                f"staged through cache {ids.name_of(self.cache_account_id)}")


@dataclass(frozen=True)
class StageFailbackLoadBalancer:
    id: str
    location: str
    subnet_id: str
    probe_port: int
    cluster: str

    def tags(self) -> dict[str, str]:
        return {"asr-s2d-cluster": self.cluster, MANAGED_BY: OWNER, "asr-s2d-purpose": "failback"}

    def describe(self) -> str:
        return (f"stage failback internal load balancer {ids.name_of(self.id)} in {self.location} subnet "
                f"{ids.name_of(self.subnet_id)}: probe {self.probe_port}, HA-ports floating-IP rule")


@dataclass(frozen=True)
class JoinFailbackPool:
    nic_id: str
    vm_name: str
    pool_id: str

    def describe(self) -> str:
        return f"put {self.vm_name}'s NIC {ids.name_of(self.nic_id)} into failback pool {ids.name_of(self.pool_id)}"


WayBackAction = ReprotectItem | StageFailbackLoadBalancer | JoinFailbackPool


@dataclass(frozen=True)
class WayBack:
    cluster: str
    stage: Stage
    reason: str
    actions: tuple[WayBackAction, ...] = ()
    findings: tuple[Finding, ...] = ()
    allowed: bool = False  # the settings let asr-s2d apply the actions
    home: bool = False  # the committed failover was the failback: reprotecting makes it replicate to the DR region again

    def describe(self) -> list[str]:
        return [a.describe() for a in self.actions]


# -- planning -------------------------------------------------------------------------------------

def _state(item: ProtectedItem) -> str:
    return item.protection_state.lower()


def committed_failover(items: tuple[ProtectedItem, ...] | list[ProtectedItem]) -> bool:
    """Some node's failover is committed: it runs in the DR region for good, and nothing protects it."""
    return any(_state(i) in COMMITTED for i in items)


def plan_way_back(view: WayBackView, spec: WayBackSpec) -> WayBack:
    """What must be written so the cluster is protected again and can fail back; see the module docstring."""
    name, target = view.cluster, spec.target_region.lower()
    items = sorted(view.items, key=lambda i: node_name(i).lower())
    if not items:
        return WayBack(name, Stage.NOT_FAILED_OVER, f"cluster {name} has no protected items")
    pending = [i for i in items if _state(i) in COMMIT_PENDING]
    committed = [i for i in items if _state(i) in COMMITTED]
    back = [i for i in items if view.asr.replicates_back(i, target)]
    source_region = next((loc for loc in (view.asr.region_of(i.container_id) for i in committed + pending)
                          if loc), "") or (view.source_vms[0].location if view.source_vms else "the source region")
    # Where the committed (or pending) failover brought the cluster: the DR region, or home after a failback.
    here = next((i.recovery_region for i in committed + pending if i.recovery_region), None) or target
    home = here != target
    if pending:
        nodes = ", ".join(node_name(i) for i in pending)
        what = "failed back" if home else "failed over"
        finding = Finding("failover-commit-pending", Severity.WARNING, name,
                          f"{nodes} {what} to {here} and the failover is not committed: the cluster cannot be "
                          "reprotected yet",
                          f"commit the failover of recovery plan {plan_name(name)} (Recovery Services vault "
                          f"{spec.vault_name} > Recovery Plans > {plan_name(name)} > Commit) once the cluster works in "
                          f"{here}; asr-s2d then reprotects it")
        return WayBack(name, Stage.COMMIT_PENDING, f"failover of {nodes} not committed yet", findings=(finding,),
                       home=home)
    if not committed and not back:
        return WayBack(name, Stage.NOT_FAILED_OVER, f"cluster {name} runs where it is protected from: nothing to do")

    findings: list[Finding] = []
    actions: list[WayBackAction] = []
    here_fabric = view.asr.fabric_for(here)
    here_container = view.asr.container_in(here_fabric.id) if here_fabric is not None else None
    cache = spec.cache_account_id if home else spec.dr_cache_account_id
    for item in committed:
        reverse = (view.asr.mapping_between(here_container.id, item.container_id) if here_container is not None
                   else None)
        vm = view.failed_over_vms.get(ids.key(item.id))
        if reverse is None:
            findings.append(Finding("reverse-mapping-missing", Severity.CRITICAL, name,
                                    f"no container mapping from {here} to {source_region}: {node_name(item)} cannot "
                                    "be reprotected",
                                    "re-tag a node or run the audit with AUDIT_REPAIR=true (enrollment creates the "
                                    "mappings both ways), then reprotect"))
            continue
        if vm is None:
            findings.append(Finding("failed-over-vm-missing", Severity.CRITICAL, node_name(item),
                                    f"the VM {node_name(item)} failed over to ({ids.name_of(item.recovery_vm_id or '?')}) "
                                    "does not exist: nothing to replicate back",
                                    "disable replication of the item and enable it again from the VM that runs now"))
            continue
        actions.append(ReprotectItem(item.id, node_name(item), item.container_id, cache,
                                     tuple(d.id for d in vm.disks), ids.group_id(item.vm_id), reverse.policy_id))

    if not home:  # after the failback the DR load balancer, pre-staged at enrollment, serves the next failover
        actions += _failback_lb(view, findings)
    allowed = spec.allow_reprotect and bool(cache)
    reprotects = [a for a in actions if isinstance(a, ReprotectItem)]
    if reprotects and not allowed:
        after = "a committed failback" if home else "a committed failover"
        findings.append(Finding("reprotect-needed", Severity.WARNING, name,
                                f"{name} runs in {here} after {after} and nothing replicates it "
                                f"{'to' if home else 'back to'} {source_region}: "
                                "it is not protected",
                                steps(view, spec, reprotects, here=here, there=source_region, cache_id=cache)))
    if committed:
        stage, reason = Stage.READY, (f"{len(committed)} node(s) committed in {here}: reprotect them "
                                      f"{'to' if home else 'back to'} {source_region}")
    else:
        states = sorted({i.protection_state for i in back})
        stage, reason = Stage.REPLICATING_BACK, (f"every node replicates back to {source_region} "
                                                 f"({', '.join(states)})")
        findings.append(Finding("replicating-back", Severity.INFO, name, f"{name} runs in {target} and replicates "
                                f"back to {source_region} ({', '.join(states)})",
                                f"when it is Protected, fail back with a planned failover of recovery plan "
                                f"{plan_name(name)}"))
    return WayBack(name, stage, reason, tuple(actions), tuple(findings), allowed, home)


def _failback_lb(view: WayBackView, findings: list[Finding]) -> list[WayBackAction]:
    """The load balancer the cluster IP needs in the original region after failback: one already fronting the
    nodes there (usually the original one), or asr-s2d's own failback load balancer with every node's NIC."""
    subnet = view.source_subnet
    if subnet is None or not view.source_nics:
        findings.append(Finding("failback-subnet-unknown", Severity.WARNING, view.cluster,
                                "the original nodes' NICs or subnet cannot be read: no failback load balancer staged",
                                "create an internal Standard load balancer (HA-ports floating-IP rule, TCP probe "
                                f"{view.probe_port}) in the original subnet before failing back"))
        return []
    nic_ids = {ids.key(n.id) for n in view.source_nics}
    for fronting in view.source_lbs:
        if fronting.has_ha_ports_rule and ids.same(fronting.frontend_subnet_id, subnet.id) and \
                nic_ids <= {ids.key(n) for n in fronting.pool_nic_ids}:
            return []  # the original load balancer still fronts every node: failback uses it
    lb_id = view.failback_lb_id
    out: list[WayBackAction] = []
    lb = view.failback_lb
    if lb is None or not lb.has_ha_ports_rule or lb.probe_port != view.probe_port or \
            not ids.same(lb.frontend_subnet_id, subnet.id):
        location = next((vm.location for vm in view.source_vms), "")
        out.append(StageFailbackLoadBalancer(lb_id, location, subnet.id, view.probe_port, view.cluster))
    pool_id = f"{lb_id}/backendAddressPools/{LB_POOL}"
    names = {ids.key(n): vm.name for vm in view.source_vms for n in vm.nic_ids}
    members = {ids.key(n) for n in (lb.pool_nic_ids if lb is not None else ())}
    for nic in sorted(view.source_nics, key=lambda n: n.id.lower()):
        if ids.key(nic.id) not in members:
            out.append(JoinFailbackPool(nic.id, names.get(ids.key(nic.id), ids.name_of(nic.id)), pool_id))
    return out


def steps(view: WayBackView, spec: WayBackSpec, reprotects: list[ReprotectItem], *, here: str, there: str,
          cache_id: str) -> str:
    """The exact steps an operator takes when asr-s2d may not (the finding's fix): reprotect from ``here``
    (where the committed failover brought the cluster: the DR region, or home after a failback) to ``there``,
    staging through ``cache_id``."""
    home = here != spec.target_region.lower()
    nodes = ", ".join(a.vm_name for a in reprotects)
    group = ids.name_of(reprotects[0].recovery_resource_group_id)
    cache = ids.name_of(cache_id) if cache_id else f"<a storage account in {here}, shared-key access allowed>"
    portal = (f"Portal: Recovery Services vault {spec.vault_name} > Replicated items > for each of {nodes}: "
              f"Re-protect, direction {here} to {there}, target resource group {group}, cache "
              f"storage account {cache} (in {here}, the failed-over VMs' subscription).")
    powershell = (f"PowerShell: $map = Get-AzRecoveryServicesAsrProtectionContainerMapping -ProtectionContainer "
                  f"<the {here} container> | Where-Object TargetProtectionContainerId -eq "
                  f"'{reprotects[0].recovery_container_id}'; for each node: Update-AzRecoveryServicesAsrProtection"
                  f"Direction -AzureToAzure -ReplicationProtectedItem $rpi -ProtectionContainerMapping $map "
                  f"-LogStorageAccountId <cache account ID> -RecoveryResourceGroupId "
                  f"'{reprotects[0].recovery_resource_group_id}'.")
    failback = "" if home else (f"Before failing back, make sure an internal Standard load balancer in {there} "
                                f"(HA-ports floating-IP rule, TCP probe {view.probe_port}) fronts the nodes' NICs.")
    automatic = (f"Or let asr-s2d do it: set ALLOW_REPROTECT=true{'' if home else ' and DR_CACHE_STORAGE_ACCOUNT_ID'}, "
                 f"then run `asr-s2d reprotect {view.cluster}` (the hourly audit does it too).")
    return " ".join(part for part in (portal, powershell, failback, automatic) if part)


# -- the service ----------------------------------------------------------------------------------

def reprotect_cluster(cluster_name: str, rt: Runtime, *, trigger: str = "cli") -> Outcome:
    """After a committed failover: reprotect every node of the cluster and stage the failback load balancer
    when ``ALLOW_REPROTECT`` (and ``DR_CACHE_STORAGE_ACCOUNT_ID``) allow it, else report the exact steps.
    Safe to repeat: a reprotected cluster gets no write. Always ends in a recorded outcome."""
    name = tags.cluster_name(cluster_name, "reprotect")
    event_id = f"{trigger}-reprotect-{uuid.uuid4().hex[:12]}"
    base = Outcome(event_id, "unchanged", "", cluster=name, trigger=trigger, dry_run=rt.settings.dry_run)
    items = _items(rt, name)
    if not items:
        return rt.record(replace(base, kind="ignored", reason=f"cluster {name} has no protected items in vault "
                                                              f"{ids.name_of(rt.settings.vault_id)}"))
    key = f"{ids.subscription_of(items[0].vm_id).lower()}/{name.lower()}"
    base = replace(base, cluster_key=key)
    with rt.lock(key) as lock:
        try:
            view = observe(rt, name)
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
        writes = 0
        try:
            for action in plan.actions:
                log.info("cluster %s: %s", name, action.describe())
                lock.check()
                writes += _apply(rt, action)
        except TransientError as err:
            rt.record(replace(out, kind="failed", writes=writes, reason=f"will retry: {err}"))
            raise
        except AsrS2dError as err:
            return rt.record(replace(out, kind="failed", writes=writes, reason=str(err)))
    done = sum(1 for a in plan.actions if isinstance(a, ReprotectItem))
    staged = [a for a in plan.actions if isinstance(a, StageFailbackLoadBalancer)]
    if plan.home:
        reason = (f"{done} node(s) of {name} reprotected after the failback: replicating to {rt.settings.target_region} "
                  "again" if done else f"{name} already replicates to {rt.settings.target_region}")
    else:
        reason = (f"{done} node(s) of {name} reprotected: replicating back from {rt.settings.target_region}"
                  if done else f"{name} already replicates back")
    if staged:
        reason += f"; failback load balancer {ids.name_of(staged[0].id)} staged"
    return rt.record(replace(out, kind="changed", writes=writes, reason=reason))


def _apply(rt: Runtime, action: WayBackAction) -> int:
    if isinstance(action, ReprotectItem):
        rt.asr.reprotect_item(action.item_id, recovery_container_id=action.recovery_container_id,
                              cache_account_id=action.cache_account_id, disk_ids=action.disk_ids,
                              recovery_resource_group_id=action.recovery_resource_group_id, policy_id=action.policy_id)
        return 1
    if isinstance(action, StageFailbackLoadBalancer):
        rt.network.put_internal_load_balancer(action.id, location=action.location, subnet_id=action.subnet_id,
                                              frontend_ip=None, probe_port=action.probe_port, tags=action.tags(),
                                              names=(LB_FRONTEND, LB_POOL, LB_PROBE, LB_RULE))
        return 1
    return 1 if rt.network.add_nic_to_pool(action.nic_id, action.pool_id) else 0


def _spec(rt: Runtime) -> WayBackSpec:
    s = rt.settings
    return WayBackSpec(target_region=s.target_region, allow_reprotect=s.allow_reprotect,
                       dr_cache_account_id=s.dr_cache_storage_account_id, vault_name=ids.name_of(s.vault_id),
                       cache_account_id=s.cache_storage_account_id)


def _items(rt: Runtime, cluster: str, asr: AsrState | None = None) -> tuple[ProtectedItem, ...]:
    plan = (asr.plan_named(plan_name(cluster)) if asr is not None else rt.asr.get_plan(plan_name(cluster)))
    wanted = {ids.key(i) for i in plan.item_ids} if plan is not None else set()
    found = asr.items if asr is not None else tuple(rt.asr.list_items())
    return tuple(i for i in found if ids.key(i.id) in wanted or (i.group_name or "").lower() == cluster.lower())


def observe(rt: Runtime, cluster: str) -> WayBackView:
    """The vault (one list per kind), then per node: the failed-over VM, the original VM and its NIC, the
    original subnet and the load balancers fronting the original NICs."""
    s = rt.settings
    asr = rt.asr.observe(location=s.target_region)
    items = _items(rt, cluster, asr)
    failed_over: dict[str, Vm] = {}
    sources: list[Vm] = []
    for item in items:
        back = asr.replicates_back(item, s.target_region)
        if _state(item) in COMMITTED and item.recovery_vm_id:
            vm = rt.compute.get_vm(item.recovery_vm_id)
            if vm is not None:
                failed_over[ids.key(item.id)] = vm
        source_id = item.recovery_vm_id if back else item.vm_id
        source = rt.compute.get_vm(source_id) if source_id else None
        if source is not None:
            sources.append(source)
    nics = [n for n in (rt.network.get_nic(vm.primary_nic_id) for vm in sources if vm.primary_nic_id) if n is not None]
    subnet = None
    if nics and "/subnets/" in nics[0].subnet_id:
        subnet = rt.network.get_subnet(nics[0].subnet_id.split("/subnets/")[0], ids.name_of(nics[0].subnet_id))
    lb_ids = sorted({p.split("/backendAddressPools/")[0].lower(): p.split("/backendAddressPools/")[0]
                     for n in nics for p in n.pool_ids}.values())
    lbs = tuple(lb for lb in (rt.network.get_load_balancer(i) for i in lb_ids) if lb is not None)
    anchor = sources[0].id if sources else (items[0].vm_id if items else "")
    failback_id = f"{ids.group_id(anchor)}/providers/Microsoft.Network/loadBalancers/{failback_lb_name(cluster)}"
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
                             f"when it is Protected, fail back with a planned failover of recovery plan "
                             f"{plan_name(cluster)}"))
    elif outcome.kind == "failed":
        found.append(Finding("reprotect-failed", Severity.WARNING, cluster, outcome.reason,
                             "the next audit retries; check the vault's jobs for the cause"))
    return tuple(found)


# -- CLI ------------------------------------------------------------------------------------------

_EPILOG = f"""\
exit status:
  0  done: the cluster was reprotected (and the failback load balancer staged), or nothing was needed
  1  the reprotect failed
  2  bad input or settings
  {EXIT_REPORTED}  reported only: ALLOW_REPROTECT is off (or DR_CACHE_STORAGE_ACCOUNT_ID is empty), or the
     failover is not committed yet; the findings say exactly what to do
"""


@command
def _register_cli(sub: Any) -> None:
    p = sub.add_parser("reprotect", help="after a committed failover of CLUSTER, replicate it back and stage the "
                                         "failback load balancer; after a committed failback, replicate it to the DR "
                                         "region again (without ALLOW_REPROTECT, print the steps)",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cluster")
    p.add_argument("--json", action="store_true", help="one JSON object (the outcome record) on stdout")
    p.set_defaults(func=cmd_reprotect)


def cmd_reprotect(args: argparse.Namespace) -> int:
    rt = default_runtime()
    progress(f"reading the vault, the failed-over VMs and the original nodes of cluster {args.cluster}")
    outcome = reprotect_cluster(args.cluster, rt, trigger="cli")
    if args.json:
        print(json.dumps(outcome.to_json(), indent=1, sort_keys=True))
    else:
        rows: list[dict[str, Any]] = [
            {"field": "cluster", "value": outcome.cluster}, {"field": "outcome", "value": outcome.kind},
            {"field": "stage", "value": outcome.details.get("stage")}, {"field": "reason", "value": outcome.reason},
            {"field": "writes", "value": outcome.writes}]
        print(table(rows, ["field", "value"]))
        if outcome.plan:
            print(table([{"#": i + 1, "action": a} for i, a in enumerate(outcome.plan)], ["#", "action"]))
        for finding in outcome.findings:
            print(f"\n{finding.severity.value.upper()} {finding.code}: {finding.message}\nfix: {finding.fix}")
    if outcome.kind == "failed":
        return EXIT_FAILED
    reported = outcome.details.get("stage") == Stage.COMMIT_PENDING.value or (
        outcome.plan and outcome.kind == "unchanged")
    return EXIT_REPORTED if reported else EXIT_OK
