"""Observed-state builders for pure tests (no I/O): a two-node cluster and an ASR vault around it, and what
its guest reports."""

from __future__ import annotations

from typing import Any

from shared.cluster import Cluster
from shared.enrollment.plan import NodeFacts, ReplicationSpec
from shared.inventory import AsrState, Disk, Nic, Subnet, Vm, frozen_tags
from shared.tags import ClusterIntent

SUB = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-s2d-prod"
DR_RG = f"/subscriptions/{SUB}/resourceGroups/rg-s2d-dr"
VAULT = f"{DR_RG}/providers/Microsoft.RecoveryServices/vaults/rsv-s2d-dr"
SUBNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet-prod/subnets/snet-s2d"
DR_VNET = f"{DR_RG}/providers/Microsoft.Network/virtualNetworks/vnet-dr"
CACHE = f"{RG}/providers/Microsoft.Storage/storageAccounts/stasrcachewe01"


def vm(name: str, *, region: str = "westeurope", power: str = "running", cluster: str = "s2dclu01",
       extra_tags: dict[str, str] | None = None) -> Vm:
    vm_id = f"{RG}/providers/Microsoft.Compute/virtualMachines/{name}"
    disks = (Disk(f"{RG}/providers/Microsoft.Compute/disks/{name}-osdisk", "Premium_LRS", True),
             Disk(f"{RG}/providers/Microsoft.Compute/disks/{name}-data0", "Premium_LRS", False, 0))
    return Vm(id=vm_id, name=name, location=region,
              tags=frozen_tags({"asr-s2d": "true", "asr-s2d-cluster": cluster, **(extra_tags or {})}),
              nic_ids=(f"{RG}/providers/Microsoft.Network/networkInterfaces/{name}-nic",), disks=disks,
              vm_uuid=f"00000000-0000-0000-0000-{abs(hash(name)) % 10**12:012d}", power_state=power)


def nic(node: Vm) -> Nic:
    return Nic(id=node.nic_ids[0], location=node.location, ip_config_name="ipconfig1", subnet_id=SUBNET,
               private_ip="10.10.1.4", pool_ids=(), vm_id=node.id)


def cluster(*nodes: Vm, name: str = "s2dclu01", intent: ClusterIntent | None = None) -> Cluster:
    return Cluster(name=name, nodes=nodes, enrolled_by="vm tags",
                   intent=intent or ClusterIntent(None, None, None, 59999, None, False))


def facts(*nodes: Vm) -> dict[str, NodeFacts]:
    return {n.id.lower(): NodeFacts(vm=n, nic=nic(n)) for n in nodes}


def spec(**changes: object) -> ReplicationSpec:
    base: dict[str, object] = {
        "vault_id": VAULT, "target_region": "northeurope", "recovery_resource_group_id": DR_RG,
        "recovery_vnet_id": DR_VNET, "recovery_subnet_name": "", "cache_account_id": CACHE,
        "policy_name": "asr-s2d-crash-consistent", "retention_minutes": 1440, "allow_disable": False}
    base.update(changes)
    return ReplicationSpec(**base)  # type: ignore[arg-type]


def empty_vault() -> AsrState:
    return AsrState(vault_id=VAULT, vault_location="northeurope")


def dr_subnet() -> Subnet:
    return Subnet(id=f"{DR_VNET}/subnets/snet-s2d", prefix="10.20.1.0/24")


def health_report(**changes: Any) -> dict[str, Any]:
    """What cluster_health.ps1 prints for a healthy two-node cluster in a drill, as its README documents it (the test
    IP of a drill: ``10.30.1.50``; production's cloud witness out of the test network's reach)."""
    base: dict[str, Any] = {
        "cluster": "s2dclu01", "cluster_service": "Running",
        "nodes": [{"name": "s2d-node1", "state": "Up"}, {"name": "s2d-node2", "state": "Up"}],
        "quorum": {"state": "Majority", "has_quorum": True, "votes_up": 2, "votes_total": 2,
                   "witness": {"type": "Cloud", "state": "Failed", "account": "stwitnessne01"}},
        "pool": {"name": "S2D on s2dclu01", "health": "Healthy"},
        "virtual_disks": [{"name": "vd01", "health": "Healthy"}],
        "csv": [{"name": "Cluster Virtual Disk (vd01)", "state": "Online"}],
        "ip_resources": [{"name": "Cluster IP Address", "group": "Cluster Group", "address": "10.30.1.50",
                          "probe_port": 59999, "state": "Online"}],
        "roles": [{"name": "Cluster Group", "type": "Cluster", "state": "Online", "owner": "s2d-node1", "resources": [
            {"name": "Cluster IP Address", "type": "IP Address", "state": "Online"},
            {"name": "Cluster Name", "type": "Network Name", "state": "Online"}]}],
        "truncated": False, "errors": []}
    base.update(changes)
    return base
