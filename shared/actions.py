"""The writes asr-s2d may make, as data: what every planner returns and the one executor applies.

Each action is a frozen value with ``describe()`` (the line logged before it is written, kept in the
outcome record and shown by the CLI). Planners build them; only ``shared.executor`` turns them into
gateway calls. Where two workflows write the same kind of thing (a load balancer, a pool membership),
one action type serves both and ``purpose`` says which. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from shared import ids
from shared.inventory import Disk, RoleFrontend
from shared.names import MANAGED_BY, OWNER, PURPOSE_TAG


class Purpose(str, Enum):
    """What a load balancer asr-s2d stages is for."""

    DR = "dr"  # the cluster IP in the DR region: pre-staged at enrollment, completed after a failover
    TEST = "test-failover"  # a drill's cluster IP in the isolated test network
    FAILBACK = "failback"  # the cluster IP at home, when no load balancer there fronts the nodes any more


# -- Site Recovery plumbing and protection (enrollment) ------------------------------------------

@dataclass(frozen=True)
class CreateFabric:
    name: str
    region: str

    def describe(self) -> str:
        return f"create replication fabric {self.name} ({self.region})"


@dataclass(frozen=True)
class CreateContainer:
    fabric: str
    name: str

    def describe(self) -> str:
        return f"create protection container {self.name} in fabric {self.fabric}"


@dataclass(frozen=True)
class EnsurePolicy:
    name: str
    retention_minutes: int
    exists: bool

    def describe(self) -> str:
        verb = "correct" if self.exists else "create"
        return (f"{verb} policy {self.name}: crash-consistent only (app-consistent 0), multi-VM sync Enable, "
                f"retention {self.retention_minutes} min")


@dataclass(frozen=True)
class CreateContainerMapping:
    fabric: str
    container: str
    name: str
    target_container_id: str
    policy_id: str

    def describe(self) -> str:
        return f"map container {self.container} -> {ids.name_of(self.target_container_id)} ({self.name})"


@dataclass(frozen=True)
class CreateNetworkMapping:
    fabric: str
    name: str
    primary_network_id: str
    recovery_fabric: str
    recovery_network_id: str

    def describe(self) -> str:
        return (f"map network {ids.name_of(self.primary_network_id)} -> {ids.name_of(self.recovery_network_id)} "
                f"({self.name})")


@dataclass(frozen=True)
class EnableNode:
    fabric: str
    container: str
    item: str
    vm_id: str
    vm_name: str
    group: str
    recovery_container_id: str
    policy_id: str
    disks: tuple[Disk, ...]
    cache_account_id: str
    recovery_resource_group_id: str
    recovery_vnet_id: str
    recovery_subnet: str
    group_id: str | None = None  # the existing group's multiVmGroupId, sent with its name (None: a new group)
    recovery_availability_set_id: str | None = None  # where the recovered VM is placed: a set, a zone, or neither
    recovery_zone: str | None = None

    def describe(self) -> str:
        where = (f", recovered into availability set {ids.name_of(self.recovery_availability_set_id)}"
                 if self.recovery_availability_set_id else
                 f", recovered into zone {self.recovery_zone}" if self.recovery_zone else "")
        return (f"enable replication of {self.vm_name} in multi-VM group {self.group} ({len(self.disks)} disks"
                f"{where})")


@dataclass(frozen=True)
class DisableNode:
    item_id: str
    vm_name: str
    reason: str

    def describe(self) -> str:
        return f"disable replication of {self.vm_name}: {self.reason}"


@dataclass(frozen=True)
class UpsertRecoveryPlan:
    name: str
    primary_fabric_id: str
    recovery_fabric_id: str
    items: tuple[tuple[str, str], ...]  # (protected item id, VM id)
    exists: bool

    def describe(self) -> str:
        verb = "update" if self.exists else "create"
        return f"{verb} recovery plan {self.name} with {len(self.items)} nodes in one boot group"


@dataclass(frozen=True)
class SetPoolMapping:
    item_id: str
    vm_name: str
    nic_id: str
    ip_config_name: str
    pool_ids: tuple[str, ...]
    test: bool = False

    def describe(self) -> str:
        kind = "test-failover" if self.test else "failover"
        return f"attach {self.vm_name}'s NIC to {kind} pool {ids.name_of(self.pool_ids[0]) if self.pool_ids else '-'}"


@dataclass(frozen=True)
class ReprotectItem:
    """The way back: replicate a failed-over node back to the region it came from (A2A's switch protection)."""

    item_id: str
    vm_name: str
    recovery_container_id: str
    cache_account_id: str
    disks: tuple[Disk, ...]  # the failed-over VM's managed disks
    recovery_resource_group_id: str
    policy_id: str

    def describe(self) -> str:
        return (f"reprotect {self.vm_name}: replicate it back into {ids.name_of(self.recovery_container_id)} "
                f"(resource group {ids.name_of(self.recovery_resource_group_id)}), {len(self.disks)} disk(s) "
                f"staged through cache {ids.name_of(self.cache_account_id)}")


@dataclass(frozen=True)
class EnsureAvailabilitySet:
    """Create the cluster's recovery availability set, so its recovered nodes keep separate fault domains. The
    executor caps ``fault_domains`` at what the recovery region allows (Compute's Resource SKUs) when it writes."""

    id: str
    location: str
    fault_domains: int
    update_domains: int
    cluster: str

    def tags(self) -> dict[str, str]:
        return {"asr-s2d-cluster": self.cluster, MANAGED_BY: OWNER}

    def describe(self) -> str:
        return (f"create recovery availability set {ids.name_of(self.id)} in {self.location}: {self.fault_domains} "
                f"fault domains (at most the region's), {self.update_domains} update domains")


# -- the network ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnsureLoadBalancer:
    """Create or replace one of asr-s2d's internal load balancers: frontend, pool, TCP probe, HA-ports rule."""

    id: str
    location: str
    subnet_id: str
    frontend_ip: str | None  # None: the first free address, read back after the write
    probe_port: int
    cluster: str
    purpose: Purpose = Purpose.DR
    roles: tuple[RoleFrontend, ...] = ()  # each role's access point (a SQL FCI's VNN): its own frontend, probe, rule

    def tags(self) -> dict[str, str]:
        out = {"asr-s2d-cluster": self.cluster, MANAGED_BY: OWNER}
        if self.purpose is not Purpose.DR:
            out[PURPOSE_TAG] = self.purpose.value
        return out

    def describe(self) -> str:
        name = ids.name_of(self.id)
        if self.purpose is Purpose.FAILBACK:
            return (f"stage failback internal load balancer {name} in {self.location} subnet "
                    f"{ids.name_of(self.subnet_id)}: probe {self.probe_port}, HA-ports floating-IP rule")
        kind = "test internal load balancer" if self.purpose is Purpose.TEST else "internal load balancer"
        roles = "".join(f"; role access point {r.source_ip}: frontend {r.ip or 'first free address'}, probe "
                        f"{r.probe_port}" for r in self.roles)
        return (f"stage {kind} {name}: frontend {self.frontend_ip or 'first free address'}, probe {self.probe_port}, "
                f"HA-ports floating-IP rule{roles}")


@dataclass(frozen=True)
class JoinPool:
    """Put a NIC's primary IP configuration into a load balancer's pool (no write when it is there)."""

    nic_id: str
    vm_name: str
    pool_id: str
    purpose: Purpose = Purpose.DR

    def describe(self) -> str:
        pool = "failback pool" if self.purpose is Purpose.FAILBACK else "pool"
        return f"put {self.vm_name}'s NIC {ids.name_of(self.nic_id)} into {pool} {ids.name_of(self.pool_id)}"


@dataclass(frozen=True)
class RemoveTestLoadBalancer:
    id: str

    def describe(self) -> str:
        return f"delete test load balancer {ids.name_of(self.id)} (created by asr-s2d for the drill)"


# -- the guest ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SetClusterIp:
    """Run the shipped ``set_cluster_ip.ps1`` on one node; every value travels as a Run Command parameter."""

    vm_id: str
    vm_name: str
    ip: str | None  # None: the frontend the load balancer write returned
    probe_port: int
    subnet_prefix: str
    roles: tuple[RoleFrontend, ...] = ()  # role IP resources to move (ip None: the frontend the write returned)

    def describe(self) -> str:
        roles = "".join(f"; role IP {r.source_ip} -> {r.ip or 'its frontend'} (probe {r.probe_port})"
                        for r in self.roles)
        return (f"run set_cluster_ip.ps1 on {self.vm_name}: cluster IP {self.ip or 'the load balancer frontend'}, "
                f"probe {self.probe_port}, network {self.subnet_prefix}{roles}")


Action = (CreateFabric | CreateContainer | EnsurePolicy | CreateContainerMapping | CreateNetworkMapping | EnableNode
          | DisableNode | UpsertRecoveryPlan | SetPoolMapping | ReprotectItem | EnsureAvailabilitySet
          | EnsureLoadBalancer | JoinPool | RemoveTestLoadBalancer | SetClusterIp)
# The writes to Site Recovery's shared plumbing: they serve every cluster of the vault (one writer at a time).
PLUMBING = (CreateFabric, CreateContainer, EnsurePolicy, CreateContainerMapping, CreateNetworkMapping)
