"""Planning the way back, as a pure function: after a committed failover the cluster runs in the DR region with
nothing protecting it; what must be written so it is protected again and can fail back (and, after the
failback is committed too, so it replicates to the DR region again).

``plan_way_back`` is side-effect free: what the service observed (the cluster's items and the vault's
containers and mappings, the failed-over VMs, the original nodes, their NICs, subnet and load balancers)
in, a ``WayBack`` (a stage, actions, findings) out. ``steps`` writes the exact portal and PowerShell steps
for an operator when asr-s2d may not apply the actions itself.

Reprotect goes item by item for every node of the group in one run, not through the recovery plan: an
Azure-to-Azure item is reprotected by switch protection on its container, with the failed-over VM's managed
disks and the cache the settings name (Microsoft's own tooling refuses a plan-level reprotect for A2A).

The failback load balancer has the DR one's shape (frontend, pool, TCP probe, HA-ports floating-IP rule) in
the original nodes' subnet; it is planned only when no load balancer there fronts the nodes already (the
original one usually still does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from shared import ids
from shared.actions import EnsureLoadBalancer, JoinPool, Purpose, ReprotectItem
from shared.findings import Finding, Severity
from shared.inventory import AsrState, LoadBalancer, Nic, ProtectedItem, Subnet, Vm
from shared.names import failback_how, plan_name, pool_id
from shared.ownership import owns_load_balancer

COMMITTED = frozenset({"unplannedfailovercommitted", "plannedfailovercommitted"})
COMMIT_PENDING = frozenset({"unplannedfailovercommitpendingstatesbegin", "plannedfailovercommitpendingstatesbegin"})


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


WayBackAction = ReprotectItem | EnsureLoadBalancer | JoinPool


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
    items = sorted(view.items, key=lambda i: i.node_name.lower())
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
        nodes = ", ".join(i.node_name for i in pending)
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
                                    f"no container mapping from {here} to {source_region}: {item.node_name} cannot "
                                    "be reprotected",
                                    "re-tag a node or run the audit with AUDIT_REPAIR=true (enrollment creates the "
                                    "mappings both ways), then reprotect"))
            continue
        if vm is None:
            findings.append(Finding("failed-over-vm-missing", Severity.CRITICAL, item.node_name,
                                    f"the VM {item.node_name} failed over to ({ids.name_of(item.recovery_vm_id or '?')}) "
                                    "does not exist: nothing to replicate back",
                                    "disable replication of the item and enable it again from the VM that runs now"))
            continue
        actions.append(ReprotectItem(item.id, item.node_name, item.container_id, cache, vm.disks,
                                     ids.group_id(item.vm_id), reverse.policy_id))

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
                                f"when it is Protected, {failback_how(name)}"))
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
    if lb is not None and not owns_load_balancer(lb, view.cluster, Purpose.FAILBACK):
        findings.append(Finding("failback-lb-not-ours", Severity.WARNING, ids.name_of(lb_id),
                                f"a load balancer named {ids.name_of(lb_id)} exists but is not asr-s2d's failback load "
                                f"balancer of {view.cluster}: asr-s2d neither rewrites it nor joins the nodes to it",
                                "remove or rename it, or front the original nodes with the cluster's own internal load "
                                "balancer before failing back"))
        return out
    if lb is None or not lb.has_ha_ports_rule or lb.probe_port != view.probe_port or \
            not ids.same(lb.frontend_subnet_id, subnet.id):
        location = next((vm.location for vm in view.source_vms), "")
        out.append(EnsureLoadBalancer(lb_id, location, subnet.id, None, view.probe_port, view.cluster, Purpose.FAILBACK))
    pool = pool_id(lb_id)
    names = {ids.key(n): vm.name for vm in view.source_vms for n in vm.nic_ids}
    members = {ids.key(n) for n in (lb.pool_nic_ids if lb is not None else ())}
    for nic in sorted(view.source_nics, key=lambda n: n.id.lower()):
        if ids.key(nic.id) not in members:
            out.append(JoinPool(nic.id, names.get(ids.key(nic.id), ids.name_of(nic.id)), pool, Purpose.FAILBACK))
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
