"""What the gateways observe, as small frozen values. No SDK model crosses into the domain.

Site Recovery's own vocabulary is kept (fabric, container, mapping, protected item, recovery plan)
so that a reader who knows ASR finds their way; every ID is kept as ARM returned it and compared
with ``shared.ids.same``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from shared import ids
from shared.names import cluster_key, plan_name


def frozen_tags(tags: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(tags or {}))


@dataclass(frozen=True)
class Disk:
    id: str
    account_type: str  # Premium_LRS, StandardSSD_LRS, ...
    is_os: bool
    lun: int | None = None


@dataclass(frozen=True)
class Vm:
    id: str
    name: str
    location: str
    tags: Mapping[str, str]
    nic_ids: tuple[str, ...]
    disks: tuple[Disk, ...]
    availability_set_id: str | None = None
    vm_uuid: str = ""
    power_state: str | None = None  # "running", "deallocated", ... (None: not read)
    computer_name: str = ""  # the guest's host name (osProfile.computerName); "" when ARM does not say
    zones: tuple[str, ...] = ()  # the availability zone a zonal VM is in ("1", "2", "3"); () for a regional VM
    proximity_placement_group_id: str | None = None

    @property
    def subscription_id(self) -> str:
        return ids.subscription_of(self.id)

    @property
    def resource_group(self) -> str:
        return ids.resource_group_of(self.id)

    @property
    def primary_nic_id(self) -> str | None:
        return self.nic_ids[0] if self.nic_ids else None

    @property
    def zone(self) -> str | None:
        return self.zones[0] if self.zones else None

    @property
    def host_name(self) -> str:
        """The name the guest's cluster knows the node by (Azure's default computer name is the VM's name)."""
        return self.computer_name or self.name


@dataclass(frozen=True)
class TaggedScope:
    """A cluster-level resource (availability set or resource group) and its tags."""

    id: str
    name: str
    kind: str  # "availability_set" | "resource_group"
    tags: Mapping[str, str]
    member_vm_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AvailabilitySet(TaggedScope):
    """An availability set: a cluster-level scope like any other, and where its VMs are spread."""

    location: str = ""
    fault_domains: int | None = None  # platformFaultDomainCount
    update_domains: int | None = None  # platformUpdateDomainCount


@dataclass(frozen=True)
class Nic:
    id: str
    location: str
    ip_config_name: str
    subnet_id: str
    private_ip: str | None
    pool_ids: tuple[str, ...]
    vm_id: str | None
    etag: str | None = None


@dataclass(frozen=True)
class VirtualNetwork:
    id: str
    address_prefixes: tuple[str, ...]
    dns_servers: tuple[str, ...]  # dhcpOptions.dnsServers; () is Azure-provided DNS

    def holds(self, address: str) -> bool:
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.IPv4Network(p, strict=False) for p in self.address_prefixes)


@dataclass(frozen=True)
class Subnet:
    id: str
    prefix: str  # CIDR


def usable_ip(address: ipaddress.IPv4Address, prefix: str) -> bool:
    """Inside the subnet and not one of the five addresses Azure reserves in every subnet."""
    net = ipaddress.IPv4Network(prefix, strict=False)
    if address not in net:
        return False
    reserved = {net.network_address + i for i in range(4)} | {net.broadcast_address}
    return address not in reserved


@dataclass(frozen=True)
class LoadBalancer:
    id: str
    location: str
    frontend_ip: str | None  # the first frontend (the core cluster IP's, on asr-s2d's load balancers)
    frontend_subnet_id: str | None
    pool_id: str | None
    pool_nic_ids: tuple[str, ...]
    probe_port: int | None  # the first frontend's probe
    has_ha_ports_rule: bool
    tags: Mapping[str, str] = field(default_factory=lambda: frozen_tags({}))
    frontends: tuple[Frontend, ...] = ()  # every frontend with its HA-ports rule's probe (access points)

    def role_frontends(self) -> tuple[RoleFrontend, ...]:
        """The role access points asr-s2d mirrored onto this load balancer (its ``fe-role-<source IP>`` frontends)."""
        found = []
        for front in self.frontends:
            source = role_source_ip(front.name)
            if source is not None and front.probe_port is not None:
                found.append(RoleFrontend(source, front.ip, front.probe_port))
        return tuple(sorted(found, key=lambda r: ipaddress.IPv4Address(r.source_ip)))

    def holds_roles(self, roles: Sequence[RoleFrontend]) -> bool:
        """It mirrors exactly these role access points, each with its probe port and an address (the one asked for,
        or any when a role leaves it to the write)."""
        held = {r.source_ip: r for r in self.role_frontends()}
        return set(held) == {r.source_ip for r in roles} and all(
            held[r.source_ip].probe_port == r.probe_port and bool(held[r.source_ip].ip)
            and r.ip in (None, held[r.source_ip].ip) for r in roles)


@dataclass(frozen=True)
class Frontend:
    """One frontend of a load balancer, with the probe of the HA-ports floating-IP rule that uses it (None: no such
    rule): a cluster access point as Azure shows it."""

    name: str
    ip: str | None
    subnet_id: str | None
    probe_port: int | None


@dataclass(frozen=True)
class RoleFrontend:
    """A role's access point (a SQL Server FCI's virtual network name, say) on one of asr-s2d's load balancers:
    ``source_ip`` is its address in the source region (the IP Address resource holds it there), ``ip`` its address
    on this load balancer (None: the first free one, chosen by the write) and its probe port."""

    source_ip: str
    ip: str | None
    probe_port: int


def source_roles(load_balancers: Sequence[LoadBalancer], core_probe_port: int) -> tuple[tuple[str, int], ...]:
    """(source address, probe port) of each role access point of a cluster, from the load balancers whose pools hold
    its nodes: every frontend with an HA-ports floating-IP rule and a probe, but the core cluster IP's. The core one
    is the frontend probed on the cluster's probe port (``asr-s2d-probe-port``, 59999 by default), else the first:
    Microsoft's FCI guidance gives the cluster IP and each SQL VNN IP a frontend and a probe port of their own."""
    fronts = [f for lb in load_balancers for f in lb.frontends if f.ip and f.probe_port is not None]
    if not fronts:
        return ()
    core = next((f for f in fronts if f.probe_port == core_probe_port), fronts[0])
    roles = {str(f.ip): int(f.probe_port or 0) for f in fronts if f is not core and f.ip != core.ip}
    return tuple(sorted(roles.items(), key=lambda r: ipaddress.IPv4Address(r[0])))


ROLE_FRONTEND_PREFIX = "fe-role-"


def role_frontend_name(source_ip: str) -> str:
    return ROLE_FRONTEND_PREFIX + source_ip.replace(".", "-")


def role_source_ip(frontend_name: str) -> str | None:
    """The source address a ``fe-role-<a-b-c-d>`` frontend mirrors (None for any other name)."""
    if not frontend_name.lower().startswith(ROLE_FRONTEND_PREFIX):
        return None
    try:
        return str(ipaddress.IPv4Address(frontend_name[len(ROLE_FRONTEND_PREFIX):].replace("-", ".")))
    except ValueError:
        return None


@dataclass(frozen=True)
class StorageAccount:
    id: str
    location: str
    allow_shared_key_access: bool
    # Who may reach it (Microsoft.Storage ``publicNetworkAccess`` and ``networkAcls``): the drill proves a test
    # network cannot reach production's cloud witness before it starts a test failover.
    public_network_access: str | None = None  # "Enabled", "Disabled" (None: not said, Enabled)
    default_action: str | None = None  # networkAcls.defaultAction: "Allow" or "Deny" (None: Allow)
    allowed_subnet_ids: tuple[str, ...] = ()  # networkAcls.virtualNetworkRules[].id
    ip_rules: int = 0  # networkAcls.ipRules: public addresses let through


# -- Site Recovery --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fabric:
    id: str
    name: str
    location: str


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    fabric_id: str


@dataclass(frozen=True)
class ContainerMapping:
    id: str
    name: str
    source_container_id: str
    target_container_id: str
    policy_id: str


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    app_consistent_minutes: int | None
    crash_consistent_minutes: int | None
    recovery_point_history: int | None
    multi_vm_sync: str | None  # "Enable" / "Disable"


@dataclass(frozen=True)
class NetworkMapping:
    id: str
    name: str
    primary_network_id: str
    recovery_network_id: str


@dataclass(frozen=True)
class ItemNic:
    nic_id: str
    ip_config_name: str
    recovery_pool_ids: tuple[str, ...]
    tfo_pool_ids: tuple[str, ...]
    recovery_static_ip: str | None


@dataclass(frozen=True)
class ProtectedItem:
    id: str
    name: str
    vm_id: str
    group_name: str | None
    group_id: str | None
    protection_state: str
    replication_health: str
    active_location: str
    policy_id: str
    rpo_seconds: int | None
    test_failover_state: str
    last_test_failover: str | None  # ISO time of the last successful test failover
    nics: tuple[ItemNic, ...]
    cache_account_ids: tuple[str, ...]
    recovery_vm_name: str | None
    allowed_operations: tuple[str, ...] = ()
    current_scenario: str | None = None
    # After a failover: the recovered VM (A2A recoveryFabricObjectId), the test-failover VM
    # (testFailoverRecoveryFabricObjectId), the job of the current scenario and the last failover time.
    recovery_vm_id: str | None = None
    test_vm_id: str | None = None
    current_job_id: str | None = None
    last_failover: str | None = None
    # A2A primaryFabricLocation / recoveryFabricLocation: where the item replicates from and to now (a reprotect
    # after a committed failover swaps them: the cluster then replicates back to its original region).
    primary_region: str | None = None
    recovery_region: str | None = None
    # A2A recoveryAvailabilitySet / recoveryAvailabilityZone / recoveryProximityPlacementGroupId: where the recovered
    # VM is placed (fixed at enable: Site Recovery cannot change an item's availability type afterwards).
    recovery_availability_set_id: str | None = None
    recovery_zone: str | None = None
    recovery_ppg_id: str | None = None

    @property
    def container_id(self) -> str:
        return ids.container_of(self.id)

    @property
    def node_name(self) -> str:
        """The node's VM name (an A2A item is named by the VM's GUID, which tells an operator nothing)."""
        return ids.name_of(self.vm_id) if self.vm_id else self.name

    @property
    def is_protected(self) -> bool:
        return self.protection_state.lower() == "protected"

    @property
    def failed_over(self) -> bool:
        """The item runs in its recovery region (failed over, committed or not)."""
        return self.active_location.lower() == "recovery" or "failover" in self.protection_state.lower()


@dataclass(frozen=True)
class RecoveryPlan:
    id: str
    name: str
    item_ids: tuple[str, ...]
    primary_fabric_id: str
    recovery_fabric_id: str
    allowed_operations: tuple[str, ...] = ()
    current_scenario: str | None = None
    current_job_id: str | None = None
    runbook_actions: tuple[str, ...] = ()  # the Boot groups' post-actions that run an Automation runbook, by name


@dataclass(frozen=True)
class AsrJob:
    """One Site Recovery job (``replicationJobs``): what ran, on what, and how it ended."""

    id: str
    name: str
    scenario: str  # UnplannedFailover, PlannedFailover, TestFailover, TestFailoverCleanup, CommitFailover, ...
    state: str  # NotStarted, InProgress, Succeeded, Failed, Cancelled, Suspended, ...
    target_id: str
    target_name: str
    target_type: str  # RecoveryPlan | ProtectionEntity | ...
    affected: Mapping[str, str] = field(default_factory=lambda: frozen_tags({}))
    start_time: str | None = None
    end_time: str | None = None
    errors: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.state.lower() in ("succeeded", "failed", "cancelled", "completedwithinformation", "skipped")

    @property
    def succeeded(self) -> bool:
        return self.state.lower() in ("succeeded", "completedwithinformation")


@dataclass(frozen=True)
class AsrState:
    """Everything the vault holds that asr-s2d reads: one vault-wide list per kind."""

    vault_id: str
    vault_location: str
    fabrics: tuple[Fabric, ...] = ()
    containers: tuple[Container, ...] = ()
    mappings: tuple[ContainerMapping, ...] = ()
    policies: tuple[Policy, ...] = ()
    network_mappings: tuple[NetworkMapping, ...] = ()
    items: tuple[ProtectedItem, ...] = ()
    plans: tuple[RecoveryPlan, ...] = ()

    def fabric_for(self, region: str) -> Fabric | None:
        return next((f for f in self.fabrics if f.location.lower() == region.lower()), None)

    def container_in(self, fabric_id: str) -> Container | None:
        return next((c for c in self.containers if ids.same(c.fabric_id, fabric_id)), None)

    def policy_named(self, name: str) -> Policy | None:
        return next((p for p in self.policies if p.name.lower() == name.lower()), None)

    # Indexes, built once per observation on first use: the audit asks per cluster, so a scan per question
    # would make it O(clusters x items). The first match wins, as a scan would have it.
    @cached_property
    def _items_by_id(self) -> dict[str, ProtectedItem]:
        return {ids.key(item.id): item for item in self.items}

    @cached_property
    def _items_by_vm(self) -> dict[str, ProtectedItem]:
        index: dict[str, ProtectedItem] = {}
        for item in self.items:
            index.setdefault(ids.key(item.vm_id), item)
        return index

    @cached_property
    def _items_by_recovery_vm(self) -> dict[str, tuple[ProtectedItem, ...]]:
        index: dict[str, list[ProtectedItem]] = {}
        for item in self.items:
            if item.recovery_vm_id:
                index.setdefault(ids.key(item.recovery_vm_id), []).append(item)
        return {k: tuple(v) for k, v in index.items()}

    @cached_property
    def _items_by_group(self) -> dict[str, tuple[ProtectedItem, ...]]:
        index: dict[str, list[ProtectedItem]] = {}
        for item in self.items:
            index.setdefault((item.group_name or "").lower(), []).append(item)
        return {k: tuple(v) for k, v in index.items()}

    @cached_property
    def _plans_by_name(self) -> dict[str, RecoveryPlan]:
        index: dict[str, RecoveryPlan] = {}
        for plan in self.plans:
            index.setdefault(plan.name.lower(), plan)
        return index

    @cached_property
    def _container_regions(self) -> dict[str, str]:
        fabrics = {ids.key(f.id): f.location.lower() for f in self.fabrics}
        return {ids.key(c.id): fabrics.get(ids.key(c.fabric_id), "") for c in self.containers}

    def mapping_between(self, source_container_id: str, target_container_id: str) -> ContainerMapping | None:
        return next((m for m in self.mappings if ids.same(m.source_container_id, source_container_id)
                     and ids.same(m.target_container_id, target_container_id)), None)

    def item(self, item_id: str) -> ProtectedItem | None:
        return self._items_by_id.get(ids.key(item_id))

    def item_for_vm(self, vm_id: str) -> ProtectedItem | None:
        return self._items_by_vm.get(ids.key(vm_id))

    def region_of(self, container_id: str) -> str:
        """The location of the fabric a protection container belongs to ("" when unknown)."""
        return self._container_regions.get(ids.key(container_id), "")

    def replicates_back(self, item: ProtectedItem, target_region: str) -> bool:
        """Reprotected after a committed failover: the item replicates from the DR region back to the region its
        cluster came from (A2A ``primaryFabricLocation``, or its container's fabric)."""
        return (item.primary_region or self.region_of(item.container_id)) == target_region.lower()

    def item_for_node(self, vm_id: str, target_region: str) -> ProtectedItem | None:
        """The item of a source node: the one replicating it, or, once the cluster was reprotected, the one
        replicating back into it (the original VM is then the failback target)."""
        return self.item_for_vm(vm_id) or next(
            (i for i in self._items_by_recovery_vm.get(ids.key(vm_id), ()) if self.replicates_back(i, target_region)),
            None)

    def items_in_group(self, group_name: str) -> tuple[ProtectedItem, ...]:
        return self._items_by_group.get(group_name.lower(), ())

    def plan_named(self, name: str) -> RecoveryPlan | None:
        return self._plans_by_name.get(name.lower())

    def cluster_items(self, cluster: str) -> tuple[ProtectedItem, ...]:
        """The cluster's items: its multi-VM group's members and whatever its recovery plan holds (a node that
        left the group stays in the plan until the plan is rewritten), in the vault's order."""
        plan = self.plan_named(plan_name(cluster))
        wanted = {ids.key(i) for i in plan.item_ids} if plan is not None else set()
        return tuple(i for i in self.items if ids.key(i.id) in wanted or (i.group_name or "").lower() == cluster.lower())

    def cluster_key(self, cluster: str) -> str | None:
        """The cluster's lock and record key, as enrollment names it (the nodes' subscription), from its items."""
        anchor = next((i.vm_id for i in self.cluster_items(cluster) if i.vm_id), None)
        return cluster_key(ids.subscription_of(anchor), cluster) if anchor else None

    def network_mapping_for(self, primary_network_id: str) -> NetworkMapping | None:
        return next((m for m in self.network_mappings if ids.same(m.primary_network_id, primary_network_id)), None)


# -- What the pre-flight check reads before a cluster is tagged (``asr-s2d check``) ------------------------------

@dataclass(frozen=True)
class VmAgent:
    """The VM agent's status in the VM's instance view (``instanceView.vmAgent.statuses``)."""

    status: str | None  # its displayStatus: "Ready", "Not Ready"; None when the instance view reports no agent
    message: str = ""
    version: str = ""


@dataclass(frozen=True)
class NicFilters:
    """Where a NIC's traffic is filtered: the network security group on the NIC and the one on its subnet."""

    nic_id: str
    private_ip: str | None
    subnet_id: str
    nic_nsg_id: str | None
    subnet_nsg_id: str | None


@dataclass(frozen=True)
class SecurityRule:
    """One rule of a network security group; single and list forms of prefixes and ports are merged."""

    name: str
    priority: int
    direction: str  # Inbound | Outbound
    access: str  # Allow | Deny
    protocol: str  # Tcp, Udp, Icmp, Esp, Ah or *
    sources: tuple[str, ...]  # addresses, CIDRs, service tags or "*"; () when application security groups stand instead
    source_ports: tuple[str, ...]
    destinations: tuple[str, ...]
    destination_ports: tuple[str, ...]
    application_groups: bool = False  # the rule names application security groups (their members are not read)


@dataclass(frozen=True)
class NetworkSecurityGroup:
    id: str
    name: str
    location: str
    rules: tuple[SecurityRule, ...]  # the custom rules; Azure adds its default rules to every group
    nic_ids: tuple[str, ...] = ()  # the NICs it is associated with (ARM's read-only back-references)
    subnet_ids: tuple[str, ...] = ()  # the subnets it is associated with


@dataclass(frozen=True)
class Permission:
    """One entry of ``Microsoft.Authorization/permissions``: a role assignment's actions at the scope asked about."""

    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()
