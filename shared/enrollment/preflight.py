"""The pre-flight check, judged: what enrollment would need, observed before the cluster is tagged, in; one verdict
per prerequisite out (met / not met / not checked, a one-line reason and the fix). Pure: no I/O, no clock; the
reads are ``shared.enrollment.preflight_service``'s, the table and the exit code the CLI's (``asr-s2d check``).

Each prerequisite names its source:

- nodes: at most 16 VMs in one multi-VM group (DESIGN rule 2; ``shared.tags.MAX_GROUP_SIZE``);
- regions: one source region, not the target region (rule 5: the vault and the recovery side are the target);
- power: "The VM must be running to enable replication" (rule 7);
- VM agent: "The Mobility service extension is installed on each Azure VM replicated by Site Recovery"
  (MicrosoftDocs/azure-docs articles/site-recovery/site-recovery-whats-new.md) and a VM extension is installed and
  run by the Azure VM agent (articles/virtual-machines/extensions/overview.md); its status is the instance view's
  ``vmAgent.statuses``;
- disks: the support matrix, "Replicated machines - storage" (MicrosoftDocs/azure-docs
  articles/site-recovery/azure-to-azure-support-matrix.md): Standard HDD, Standard SSD and Premium SSD managed
  disks, LRS and ZRS, are supported; Premium SSD v2 is supported in public preview; Ultra Disks are not;
- cache account: same region and subscription as the nodes, shared-key access allowed (rule 6);
- vault: exists, in the target region (rule 5);
- DR subnet and DR IP: the recovery VNet has the subnet the nodes fail over into, and a DR IP tag is a usable
  address of it (``shared.inventory.usable_ip``, the planner's own test);
- network mappings: a mapping of the nodes' VNet goes to the recovery VNet, or enrollment creates it;
- witness: the cloud witness lives in the DR region (the S2D article; DESIGN's summary);
- TCP 20004 between every two nodes (rule 2), through the network security groups (``shared.enrollment.nsg``);
- permissions: what the identity asr-s2d runs as holds at the scopes enrollment works in, against the roles of
  ``infra/role-actions.json`` (the reader where it reads the nodes, the recovery role on the recovery side);
- the plan: what enrollment would write, from enrollment's own planner.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from shared import ids, tags
from shared.enrollment import nsg
from shared.enrollment.plan import Plan
from shared.inventory import (
    NetworkMapping,
    NetworkSecurityGroup,
    NicFilters,
    Permission,
    StorageAccount,
    Subnet,
    Vm,
    VmAgent,
    usable_ip,
)


class Status(str, Enum):
    MET = "met"
    NOT_MET = "not met"
    NOT_CHECKED = "not checked"  # nothing to check (no witness named), or it cannot be checked from here


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    reason: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status.value, "reason": self.reason, "fix": self.fix}


# Managed disk types (storageAccountType) and what the support matrix says of each.
SUPPORTED_DISKS = {
    "Standard_LRS": "Standard HDD", "StandardSSD_LRS": "Standard SSD", "StandardSSD_ZRS": "Standard SSD (ZRS)",
    "Premium_LRS": "Premium SSD", "Premium_ZRS": "Premium SSD (ZRS)",
    "PremiumV2_LRS": "Premium SSD v2 (supported in public preview)",
}
UNSUPPORTED_DISKS = {"UltraSSD_LRS": "Ultra Disks are not supported"}
READY = "ready"


@dataclass(frozen=True)
class NodeReading:
    """One node as read: the VM (with its power state), its VM agent, and where its NIC's traffic is filtered."""

    vm: Vm
    agent: VmAgent | None
    filters: NicFilters | None


@dataclass(frozen=True)
class Account:
    """A storage account the check needs (cache, witness): its ID, what was read, or why it could not be read."""

    id: str
    found: StorageAccount | None = None
    error: str | None = None


@dataclass(frozen=True)
class ScopePermissions:
    """The caller's permissions at one scope enrollment works in, and the role it needs there."""

    scope: str
    role: str  # role key of infra/role-actions.json: reader | recovery
    needed: tuple[str, ...]
    granted: tuple[Permission, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Observed:
    """Everything the check read, as values."""

    cluster: str
    nodes: tuple[NodeReading, ...]
    target_region: str
    vault_id: str
    vault_location: str | None  # None: not read (``vault_error`` says why)
    cache: Account
    recovery_vnet_id: str
    recovery_subnet_name: str
    dr_subnet: Subnet | None
    dr_ip: ipaddress.IPv4Address | None = None
    tag_problem: str | None = None
    vault_error: str | None = None
    network_mappings: tuple[NetworkMapping, ...] = ()
    mappings_error: str | None = None
    witness: Account | None = None
    allowed_subscriptions: tuple[str, ...] = ()
    groups: Mapping[str, NetworkSecurityGroup] = field(default_factory=dict)  # by ids.key
    missing_groups: tuple[str, ...] = ()  # group IDs a NIC or subnet names that could not be read
    permissions: tuple[ScopePermissions, ...] | None = None  # None: the roles file is not at hand
    plan: Plan | None = None
    plan_error: str | None = None

    @property
    def vms(self) -> tuple[Vm, ...]:
        return tuple(n.vm for n in self.nodes)

    @property
    def source_region(self) -> str:
        return self.nodes[0].vm.location.lower() if self.nodes else ""


def _met(name: str, reason: str) -> Check:
    return Check(name, Status.MET, reason)


def _not_met(name: str, reason: str, fix: str) -> Check:
    return Check(name, Status.NOT_MET, reason, fix)


def _names(vms: Sequence[Vm]) -> str:
    return ", ".join(v.name for v in vms)


def check_nodes(seen: Observed) -> Check:
    count = len(seen.nodes)
    if count > tags.MAX_GROUP_SIZE:
        return _not_met("nodes", f"{count} nodes; a multi-VM consistency group holds at most {tags.MAX_GROUP_SIZE}",
                        "split the VMs into clusters of at most 16 nodes")
    return _met("nodes", f"{count} node(s): {_names(seen.vms)}")


def check_tags(seen: Observed) -> Check:
    if seen.tag_problem:
        return _not_met("tags", seen.tag_problem, "correct the asr-s2d tags on the nodes (docs/operations.md, the tags)")
    return _met("tags", "the nodes' asr-s2d tags (if any) are valid and agree on the cluster-wide ones")


def check_regions(seen: Observed) -> Check:
    regions = sorted({v.location.lower() for v in seen.vms})
    if len(regions) > 1:
        by_region = "; ".join(f"{r}: {_names([v for v in seen.vms if v.location.lower() == r])}" for r in regions)
        return _not_met("regions", f"the nodes are in {len(regions)} regions ({by_region}); one multi-VM group "
                        "replicates from one region", "check only the nodes of one cluster, all in one region")
    if regions and regions[0] == seen.target_region.lower():
        return _not_met("regions", f"the nodes are in the target region {regions[0]}: nothing to replicate to",
                        "check the source nodes, or set TARGET_REGION to the DR region")
    return _met("regions", f"all in {regions[0] if regions else '-'}; the target region is {seen.target_region}")


def check_power(seen: Observed) -> Check:
    stopped = [v for v in seen.vms if (v.power_state or "") != "running"]
    if stopped:
        states = ", ".join(f"{v.name} {v.power_state or 'unknown'}" for v in stopped)
        return _not_met("power", f"not running: {states}; replication is enabled only on a running VM",
                        "start the VMs (az vm start) before tagging them")
    return _met("power", "every node is running")


def check_vm_agent(seen: Observed) -> Check:
    bad = [n for n in seen.nodes if n.agent is None or (n.agent.status or "").lower() != READY]
    if bad:
        states = ", ".join(f"{n.vm.name} {(n.agent.status if n.agent else None) or 'no agent status'}" for n in bad)
        return _not_met("vm-agent", f"VM agent not Ready: {states}; Site Recovery installs its extension through it",
                        "start (or reinstall) the Azure VM agent in the guest and wait until the instance view says Ready")
    return _met("vm-agent", "every node's VM agent is Ready")


def check_disks(seen: Observed) -> Check:
    problems: list[str] = []
    for vm in seen.vms:
        for disk in vm.disks:
            if disk.account_type in SUPPORTED_DISKS:
                continue
            why = UNSUPPORTED_DISKS.get(disk.account_type, "not in the support matrix")
            problems.append(f"{vm.name} {ids.name_of(disk.id)} is {disk.account_type} ({why})")
    if problems:
        return _not_met("disks", "; ".join(problems),
                        "move the data to a supported disk type (Standard HDD/SSD, Premium SSD; see the A2A support matrix)")
    types = sorted({d.account_type for v in seen.vms for d in v.disks})
    return _met("disks", f"managed disks of supported types only ({', '.join(types) or 'none'})")


def check_cache(seen: Observed) -> Check:
    cache = seen.cache
    name = ids.name_of(cache.id) if cache.id else "-"
    if not cache.id:
        return _not_met("cache-account", "CACHE_STORAGE_ACCOUNT_ID is not set", "set CACHE_STORAGE_ACCOUNT_ID")
    subscriptions = sorted({v.subscription_id.lower() for v in seen.vms})
    if ids.subscription_of(cache.id).lower() not in subscriptions:
        return _not_met("cache-account", f"{name} is in subscription {ids.subscription_of(cache.id)}, not the nodes' "
                        f"({', '.join(subscriptions)})", "use a cache storage account in the nodes' subscription and region")
    if cache.found is None:
        return _not_met("cache-account", f"{name} does not exist" + (f" or cannot be read: {cache.error}" if cache.error
                                                                       else ""),
                        f"create a StorageV2 account in {seen.source_region} in the nodes' subscription and set "
                        "CACHE_STORAGE_ACCOUNT_ID to it")
    if cache.found.location.lower() != seen.source_region:
        return _not_met("cache-account", f"{name} is in {cache.found.location}, not in the nodes' region "
                        f"{seen.source_region}", f"use a cache storage account in {seen.source_region}")
    if not cache.found.allow_shared_key_access:
        return _not_met("cache-account", f"{name} does not allow shared-key access: replication would stall",
                        f"allow shared-key access on {name} (az storage account update --allow-shared-key-access true)")
    return _met("cache-account", f"{name}: in {cache.found.location}, in the nodes' subscription, shared-key access "
                "allowed")


def check_vault(seen: Observed) -> Check:
    name = ids.name_of(seen.vault_id)
    if seen.vault_location is None:
        return _not_met("vault", f"vault {name} cannot be read: {seen.vault_error or 'unknown'}",
                        "check VAULT_ID, and that the app's identity holds the recovery role on the vault's group")
    if seen.vault_location.lower() != seen.target_region.lower():
        return _not_met("vault", f"vault {name} is in {seen.vault_location}, not in the target region "
                        f"{seen.target_region}", "use a Recovery Services vault in the DR region (VAULT_ID)")
    return _met("vault", f"vault {name} is in the target region {seen.vault_location}")


def check_dr_subnet(seen: Observed) -> Check:
    vnet = ids.name_of(seen.recovery_vnet_id)
    if seen.dr_subnet is None:
        wanted = seen.recovery_subnet_name or "(named like the nodes' subnet)"
        return _not_met("dr-subnet", f"the recovery VNet {vnet} has no subnet {wanted}",
                        f"create subnet {wanted} in {vnet}, or set RECOVERY_SUBNET_NAME to one it has")
    return _met("dr-subnet", f"{vnet}/{ids.name_of(seen.dr_subnet.id)} ({seen.dr_subnet.prefix})")


def check_dr_ip(seen: Observed) -> Check:
    if seen.dr_ip is None:
        return _met("dr-ip", f"no {tags.DR_IP} tag: enrollment takes the first free address of the DR subnet")
    if seen.dr_subnet is None:
        return _not_met("dr-ip", f"{tags.DR_IP} {seen.dr_ip} cannot be placed: there is no DR subnet",
                        "create the DR subnet first")
    if not usable_ip(seen.dr_ip, seen.dr_subnet.prefix):
        return _not_met("dr-ip", f"{tags.DR_IP} {seen.dr_ip} is not a usable address of the DR subnet "
                        f"{seen.dr_subnet.prefix} (outside it, or one of the five Azure reserves)",
                        f"tag an address inside {seen.dr_subnet.prefix} (not its first four or its last)")
    return _met("dr-ip", f"{seen.dr_ip} is a usable address of the DR subnet {seen.dr_subnet.prefix}")


def check_network_mappings(seen: Observed) -> Check:
    if seen.mappings_error:
        return _not_met("network-mappings", f"the vault's network mappings cannot be read: {seen.mappings_error}",
                        "fix the vault first (see the vault check)")
    vnets = sorted({ids.key(ids.vnet_of(n.filters.subnet_id)): ids.vnet_of(n.filters.subnet_id)
                    for n in seen.nodes if n.filters is not None}.items())
    if not vnets:
        return _not_met("network-mappings", "no node has a NIC with a subnet", "attach each node's NIC to a subnet")
    parts: list[str] = []
    for _key, vnet_id in vnets:
        mapping = next((m for m in seen.network_mappings if ids.same(m.primary_network_id, vnet_id)), None)
        if mapping is None:
            parts.append(f"{ids.name_of(vnet_id)}: none yet, enrollment creates it")
        elif not ids.same(mapping.recovery_network_id, seen.recovery_vnet_id):
            return _not_met("network-mappings", f"{ids.name_of(vnet_id)} is mapped to "
                            f"{ids.name_of(mapping.recovery_network_id)}, not to the recovery VNet "
                            f"{ids.name_of(seen.recovery_vnet_id)}",
                            f"change mapping {mapping.name} to the recovery VNet, or RECOVERY_VNET_ID to its network")
        else:
            parts.append(f"{ids.name_of(vnet_id)} -> {ids.name_of(mapping.recovery_network_id)} ({mapping.name})")
    return _met("network-mappings", "; ".join(parts))


def check_witness(seen: Observed) -> Check:
    witness = seen.witness
    if witness is None:
        return Check("witness", Status.NOT_CHECKED, f"no {tags.WITNESS} tag (or --witness): the cloud witness's region "
                     "is not checked", f"tag the nodes {tags.WITNESS}=<storage account ID> (the audit checks it too)")
    name = ids.name_of(witness.id)
    allowed = {s.lower() for s in seen.allowed_subscriptions}
    if ids.subscription_of(witness.id).lower() not in allowed:
        return _not_met("witness", f"witness {name} is in subscription {ids.subscription_of(witness.id)}, outside "
                        "ALLOWED_SUBSCRIPTION_IDS: asr-s2d neither reads nor trusts anything there",
                        "use a witness account in an allowed subscription, in the DR region")
    if witness.found is None:
        return _not_met("witness", f"witness {name} does not exist" + (f" or cannot be read: {witness.error}"
                                                                        if witness.error else ""),
                        f"create the cloud witness in {seen.target_region} and point the tag at it")
    if witness.found.location.lower() != seen.target_region.lower():
        return _not_met("witness", f"witness {name} is in {witness.found.location}, not in the DR region "
                        f"{seen.target_region}: the cluster would lose quorum there",
                        f"move the cloud witness to a storage account in {seen.target_region} (Set-ClusterQuorum -CloudWitness)")
    return _met("witness", f"witness {name} is in the DR region {witness.found.location}")


def check_multi_vm_port(seen: Observed) -> Check:
    name = f"nsg-{nsg.MULTI_VM_PORT}"
    if len(seen.nodes) < 2:
        return _met(name, "one node: no traffic between nodes to check")
    if seen.missing_groups:
        return _not_met(name, "network security group(s) named by a NIC or subnet cannot be read: "
                        + ", ".join(ids.name_of(g) for g in seen.missing_groups),
                        "let the app's identity read network security groups (Microsoft.Network/networkSecurityGroups/read)")
    unplaced = [n.vm.name for n in seen.nodes if n.filters is None or not n.filters.private_ip]
    if unplaced:
        return _not_met(name, f"no primary NIC address for {', '.join(unplaced)}", "give each node a NIC with an address")
    named = [(n.vm.name, n.filters) for n in seen.nodes if n.filters is not None]
    denied = [f"{sender} -> {receiver}: {found.describe()}"
              for sender, receiver, found in nsg.blocked(named, seen.groups)]
    if denied:
        return _not_met(name, "; ".join(denied),
                        f"allow TCP {nsg.MULTI_VM_PORT} between the nodes' addresses in that group with a priority below "
                        "the denying rule (ASR's multi-VM consistency)")
    places = sorted({h.nsg.name for a in seen.nodes for b in seen.nodes if a is not b and a.filters and b.filters
                     for h in nsg.hops(a.filters, b.filters, seen.groups)})
    through = f"through {', '.join(places)}" if places else "no network security group on the way"
    return _met(name, f"TCP {nsg.MULTI_VM_PORT} allowed between every two nodes ({through})")


def allows(granted: Sequence[Permission], action: str) -> bool:
    """RBAC: some permission's ``actions`` match (``*`` wildcards, any case) and its own ``notActions`` do not."""
    low = action.lower()
    return any(any(fnmatch.fnmatchcase(low, a.lower()) for a in p.actions)
               and not any(fnmatch.fnmatchcase(low, n.lower()) for n in p.not_actions) for p in granted)


def check_permissions(seen: Observed) -> Check:
    if seen.permissions is None:
        return Check("permissions", Status.NOT_CHECKED, "infra/role-actions.json is not beside the code: the needed "
                     "actions are unknown here", "run the check from a checkout of asr-s2d, or pass --roles FILE")
    problems: list[str] = []
    for scope in seen.permissions:
        where = f"{ids.name_of(scope.scope)} ({scope.role} role)"
        if scope.error:
            problems.append(f"{where}: cannot read the permissions: {scope.error}")
            continue
        missing = [a for a in scope.needed if not allows(scope.granted, a)]
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            problems.append(f"{where}: lacks {', '.join(missing[:3])}{more}")
    if problems:
        return _not_met("permissions", "; ".join(problems),
                        "redeploy infra/main.bicep (it assigns the roles of infra/role-actions.json), with these scopes in "
                        "its parameters")
    return _met("permissions", f"every action of the roles at {len(seen.permissions)} scope(s) "
                f"({', '.join(ids.name_of(s.scope) for s in seen.permissions)}), for the identity asr-s2d runs as")


def check_plan(seen: Observed) -> Check:
    if seen.plan_error:
        return _not_met("plan", f"enrollment would refuse: {seen.plan_error}", "fix the prerequisites above")
    plan = seen.plan
    if plan is None:
        return Check("plan", Status.NOT_CHECKED, "not planned: the vault cannot be read", "fix the vault first")
    if plan.away:
        return _not_met("plan", plan.away, "see the way back (docs/operations.md)")
    if plan.waiting:
        return _not_met("plan", f"enrollment would wait: {plan.waiting}",
                        "start every node, and check all the nodes the asr-s2d-nodes tag expects")
    enables = sum(1 for d in plan.describe() if d.startswith("enable replication"))
    return _met("plan", f"{len(plan.actions)} write(s), {enables} node(s) enabled in group {plan.cluster}")


CHECKS = (check_nodes, check_tags, check_regions, check_power, check_vm_agent, check_disks, check_cache, check_vault,
          check_dr_subnet, check_dr_ip, check_network_mappings, check_witness, check_multi_vm_port, check_permissions,
          check_plan)


def judge(seen: Observed) -> tuple[Check, ...]:
    """Every prerequisite, in the order an operator fixes them."""
    return tuple(check(seen) for check in CHECKS)


def enrollment_scopes(node_groups: Sequence[str], *, vault_id: str, recovery_resource_group_id: str,
                      recovery_vnet_id: str, cache_account_id: str) -> tuple[tuple[str, str], ...]:
    """(scope, role key) where enrollment works: the reader where it reads the nodes (their resource groups; ARM
    answers permissions for groups and resources, never a whole subscription), the recovery role on the vault's
    group, the recovery group, the recovery VNet and the cache account (where infra/main.bicep assigns it)."""
    wanted = [*((g, "reader") for g in node_groups), (ids.group_id(vault_id), "recovery"),
              (recovery_resource_group_id, "recovery"), (recovery_vnet_id, "recovery"), (cache_account_id, "recovery")]
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for scope, role in wanted:
        if scope:
            seen.setdefault((ids.key(scope), role), (scope, role))
    return tuple(seen.values())


def role_actions(raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """``infra/role-actions.json`` -> role key -> the actions it always holds (the switches' extras are not
    enrollment's: disabling and reprotecting are not part of it)."""
    return {str(key): tuple(str(a) for a in spec.get("actions") or ()) for key, spec in raw.items()
            if isinstance(spec, Mapping)}
