"""A world for the Site Recovery emulator tests, and the real SDK client that talks to it.

The world is the demo seed (a two-node S2D cluster in westeurope, the vault, the recovery and
test-failover networks in northeurope, a cache storage account in each region) plus, built with the
providers' state functions, the nodes' tags, a lone VM, the DR and test load balancers and a second
subscription. ``plumbing`` then creates the ASR objects
through the SDK, as the app does: one Azure fabric and container per region, an A2A policy, forward
and reverse container mappings and a network mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.recoveryservicessiterecovery import models as m

from emulator import Emulator
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from emulator.providers.recoveryservices import state as asr_state
from emulator.providers.resources.state import add_group, add_subscription

OTHER_SUBSCRIPTION = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SOURCE, TARGET = "westeurope", "northeurope"
RG, DR_RG = "rg-s2d-prod", "rg-s2d-dr"
VAULT_RG, VAULT = DR_RG, "rsv-s2d-dr"
CLUSTER = "s2dclu01"
NODES = ("s2d-node1", "s2d-node2")
CLUSTER_TAGS = {"asr-s2d": "true", "asr-s2d-cluster": CLUSTER, "owner": "platform"}


@dataclass
class World:
    subscription_id: str
    vault_id: str
    vms: dict[str, str] = field(default_factory=dict)  # name -> VM ID
    nics: dict[str, str] = field(default_factory=dict)  # VM name -> NIC ID
    disks: dict[str, list[str]] = field(default_factory=dict)  # VM name -> [OS disk, data disk]
    source_vnet_id: str = ""
    recovery_vnet_id: str = ""
    test_vnet_id: str = ""
    recovery_subnet_id: str = ""
    test_subnet_id: str = ""
    recovery_rg_id: str = ""
    cache_id: str = ""
    dr_cache_id: str = ""
    recovery_pool_id: str = ""
    test_pool_id: str = ""

    def rg_id(self, name: str, subscription_id: str | None = None) -> str:
        return f"/subscriptions/{subscription_id or self.subscription_id}/resourceGroups/{name}"


def add_node(emu: Emulator, w: World, name: str, *, ip: str | None = None, tags: dict[str, str] | None = None,
             power: str = "running", rg: str = RG, location: str = SOURCE, subnet_id: str | None = None) -> str:
    """A VM with one NIC (static ``ip``), an OS disk and a data disk."""
    sub = w.subscription_id
    with emu.world.lock:
        nic = network.create_nic(emu.world, subscription_id=sub, resource_group=rg, name=f"nic-{name}",
                                 location=location, subnet_id=subnet_id or f"{w.source_vnet_id}/subnets/snet-s2d",
                                 static_ip=ip)
        vm = compute.create_vm(emu.world, subscription_id=sub, resource_group=rg, name=name, location=location,
                               nic_ids=[nic["id"]], os_disk={"name": f"{name}-osdisk", "size_gb": 128},
                               data_disks=[{"name": f"{name}-data01", "size_gb": 256}], tags=dict(tags or {}),
                               power_state=power)
    w.vms[name], w.nics[name] = vm["id"], nic["id"]
    storage_profile = vm["properties"]["storageProfile"]
    w.disks[name] = [storage_profile["osDisk"]["managedDisk"]["id"],
                     *[d["managedDisk"]["id"] for d in storage_profile["dataDisks"]]]
    return str(vm["id"])


def build_world(emu: Emulator, demo: dict[str, Any]) -> World:
    """The demo world, plus what these tests need beyond it: the nodes tagged, a lone VM, a second
    subscription, and the DR and test-failover load balancers (the app creates those in real runs)."""
    world = emu.world
    w = World(subscription_id=demo["subscription_id"], vault_id=demo["vault_id"],
              source_vnet_id=demo["source_vnet_id"], recovery_vnet_id=demo["recovery_vnet_id"],
              test_vnet_id=demo["test_vnet_id"], recovery_subnet_id=demo["recovery_subnet_id"],
              test_subnet_id=demo["test_subnet_id"], recovery_rg_id=demo["recovery_resource_group_id"],
              cache_id=demo["cache_storage_account_id"], dr_cache_id=demo["dr_cache_storage_account_id"])
    with world.lock:
        for name, vm_id, nic_id in zip(NODES, demo["vm_ids"], demo["nic_ids"], strict=True):
            vm = world.get(vm_id)
            assert vm is not None
            vm["tags"] = dict(CLUSTER_TAGS)
            storage_profile = vm["properties"]["storageProfile"]
            w.vms[name], w.nics[name] = vm["id"], nic_id
            w.disks[name] = [storage_profile["osDisk"]["managedDisk"]["id"],
                             *[d["managedDisk"]["id"] for d in storage_profile["dataDisks"]]]
        add_subscription(world, OTHER_SUBSCRIPTION, "other")
        add_group(world, OTHER_SUBSCRIPTION, RG, SOURCE)
        lb = network.create_internal_load_balancer(world, subscription_id=w.subscription_id, resource_group=DR_RG,
                                                   name="lb-s2d-dr", location=TARGET, subnet_id=w.recovery_subnet_id,
                                                   frontend_ip="10.20.1.100")
        w.recovery_pool_id = lb["properties"]["backendAddressPools"][0]["id"]
        test_lb = network.create_internal_load_balancer(world, subscription_id=w.subscription_id, resource_group=DR_RG,
                                                        name="lb-s2d-test", location=TARGET,
                                                        subnet_id=w.test_subnet_id, frontend_ip="10.30.1.100")
        w.test_pool_id = test_lb["properties"]["backendAddressPools"][0]["id"]
    add_node(emu, w, "solo", ip="10.10.1.9", tags={"asr-s2d": "true"})
    return w


@pytest.fixture
def world(emu: Emulator, demo: dict[str, Any]) -> World:
    return build_world(emu, demo)


@pytest.fixture
def asr(sdk: Callable[..., Any]) -> SiteRecoveryManagementClient:
    client: SiteRecoveryManagementClient = sdk(SiteRecoveryManagementClient)
    return client


@dataclass
class Plumbing:
    source_fabric: str = "asr-a2a-westeurope"
    target_fabric: str = "asr-a2a-northeurope"
    source_container: str = "asr-a2a-westeurope-container"
    target_container: str = "asr-a2a-northeurope-container"
    policy: str = "s2d-crash-consistent"
    forward_mapping: str = "westeurope-to-northeurope"
    reverse_mapping: str = "northeurope-to-westeurope"
    policy_id: str = ""
    source_container_id: str = ""
    target_container_id: str = ""
    source_fabric_id: str = ""
    target_fabric_id: str = ""


def a2a_policy(*, app_minutes: int = 0, sync: str = "Enable") -> m.Policy:
    return m.CreatePolicyInput(properties=m.CreatePolicyInputProperties(
        provider_specific_input=m.A2APolicyCreationInput(
            recovery_point_history=1440, crash_consistent_frequency_in_minutes=5,
            app_consistent_frequency_in_minutes=app_minutes, multi_vm_sync_status=sync)))


def create_plumbing(asr: SiteRecoveryManagementClient, *, network_mapping: bool = True,
                    reverse: bool = True) -> Plumbing:
    p = Plumbing()
    rg, vault = VAULT_RG, VAULT
    for fabric, location in ((p.source_fabric, SOURCE), (p.target_fabric, TARGET)):
        asr.replication_fabrics.begin_create(rg, vault, fabric, m.FabricCreationInput(
            properties=m.FabricCreationInputProperties(custom_details=m.AzureFabricCreationInput(location=location)))
        ).result()
    for fabric, container in ((p.source_fabric, p.source_container), (p.target_fabric, p.target_container)):
        asr.replication_protection_containers.begin_create(rg, vault, fabric, container, m.CreateProtectionContainerInput(
            properties=m.CreateProtectionContainerInputProperties(
                provider_specific_input=[m.A2AContainerCreationInput()]))).result()
    p.policy_id = asr.replication_policies.begin_create(rg, vault, p.policy, a2a_policy()).result().id
    source = asr.replication_protection_containers.get(rg, vault, p.source_fabric, p.source_container)
    target = asr.replication_protection_containers.get(rg, vault, p.target_fabric, p.target_container)
    p.source_container_id, p.target_container_id = source.id, target.id
    p.source_fabric_id = asr.replication_fabrics.get(rg, vault, p.source_fabric).id
    p.target_fabric_id = asr.replication_fabrics.get(rg, vault, p.target_fabric).id
    pairs = [(p.source_fabric, p.source_container, p.forward_mapping, target.id)]
    if reverse:
        pairs.append((p.target_fabric, p.target_container, p.reverse_mapping, source.id))
    for fabric, container, name, target_id in pairs:
        asr.replication_protection_container_mappings.begin_create(
            rg, vault, fabric, container, name, m.CreateProtectionContainerMappingInput(
                properties=m.CreateProtectionContainerMappingInputProperties(
                    target_protection_container_id=target_id, policy_id=p.policy_id,
                    provider_specific_input=m.A2AContainerMappingInput(agent_auto_update_status="Disabled")))
        ).result()
    return p


def map_networks(asr: SiteRecoveryManagementClient, p: Plumbing, w: World) -> None:
    asr.replication_network_mappings.begin_create(
        VAULT_RG, VAULT, p.source_fabric, "azureNetwork", "vnet-s2d-to-dr", m.CreateNetworkMappingInput(
            properties=m.CreateNetworkMappingInputProperties(
                recovery_fabric_name=p.target_fabric, recovery_network_id=w.recovery_vnet_id,
                fabric_specific_details=m.AzureToAzureCreateNetworkMappingInput(primary_network_id=w.source_vnet_id)))
    ).result()


@pytest.fixture
def plumbing(asr: SiteRecoveryManagementClient, world: World) -> Plumbing:
    p = create_plumbing(asr)
    map_networks(asr, p, world)
    return p


def enable_input(w: World, p: Plumbing, vm: str, *, group: str | None = CLUSTER, cache_id: str | None = None,
                 policy_id: str | None = None) -> m.EnableProtectionInput:
    return m.EnableProtectionInput(properties=m.EnableProtectionInputProperties(
        policy_id=policy_id or p.policy_id,
        provider_specific_details=m.A2AEnableProtectionInput(
            fabric_object_id=w.vms[vm], recovery_container_id=p.target_container_id,
            recovery_resource_group_id=w.recovery_rg_id, recovery_azure_network_id=w.recovery_vnet_id,
            recovery_subnet_name="snet-s2d", multi_vm_group_name=group,
            vm_managed_disks=[m.A2AVmManagedDiskInputDetails(
                disk_id=disk, primary_staging_azure_storage_account_id=cache_id or w.cache_id,
                recovery_resource_group_id=w.recovery_rg_id, recovery_replica_disk_account_type="Premium_LRS",
                recovery_target_disk_account_type="Premium_LRS") for disk in w.disks[vm]])))


def enable(asr: SiteRecoveryManagementClient, w: World, p: Plumbing, vm: str, **kwargs: Any) -> Any:
    return asr.replication_protected_items.begin_create(VAULT_RG, VAULT, p.source_fabric, p.source_container, vm,
                                                        enable_input(w, p, vm, **kwargs)).result()


def set_pools(asr: SiteRecoveryManagementClient, w: World, p: Plumbing, vm: str) -> Any:
    """Name the DR load balancer pool (and the test one) on the item's primary IP configuration."""
    return asr.replication_protected_items.begin_update(
        VAULT_RG, VAULT, p.source_fabric, p.source_container, vm, m.UpdateReplicationProtectedItemInput(
            properties=m.UpdateReplicationProtectedItemInputProperties(vm_nics=[m.VMNicInputDetails(
                nic_id=w.nics[vm], ip_configs=[m.IPConfigInputDetails(
                    ip_config_name="ipconfig1", is_primary=True, recovery_subnet_name="snet-s2d",
                    recovery_lb_backend_address_pool_ids=[w.recovery_pool_id],
                    tfo_lb_backend_address_pool_ids=[w.test_pool_id])])]))).result()


def cluster_plan(asr: SiteRecoveryManagementClient, p: Plumbing, item_ids: list[str], name: str = "rp-s2dclu01") -> Any:
    return asr.replication_recovery_plans.begin_create(VAULT_RG, VAULT, name, m.CreateRecoveryPlanInput(
        properties=m.CreateRecoveryPlanInputProperties(
            primary_fabric_id=p.source_fabric_id, recovery_fabric_id=p.target_fabric_id,
            failover_deployment_model="ResourceManager",
            groups=[m.RecoveryPlanGroup(group_type="Boot", replication_protected_items=[
                m.RecoveryPlanProtectedItem(id=i, virtual_machine_id=i.rsplit("/", 1)[-1]) for i in item_ids],
                start_group_actions=[], end_group_actions=[])],
            provider_specific_input=[m.RecoveryPlanA2AInput(primary_zone=None, recovery_zone=None)]))).result()


def failed_over_disks(emu: Emulator, item: Any) -> list[dict[str, str]]:
    """The managed disks of the VM a committed item failed over to (OS disk first), as the emulator holds them."""
    vm = emu.world.get(item.properties.provider_specific_details.recovery_fabric_object_id)
    assert vm is not None
    profile = vm["properties"]["storageProfile"]
    return [{"id": d["managedDisk"]["id"], "type": d["managedDisk"].get("storageAccountType") or "Premium_LRS"}
            for d in (profile["osDisk"], *profile.get("dataDisks", []))]


def switch_input(emu: Emulator, item: Any, *, cache_id: str, recovery_rg_id: str, policy_id: str,
                 disks: list[dict[str, str]] | None = None) -> m.SwitchProtectionInput:
    """Switch protection of a committed item as Microsoft's tooling sends it (azure-powershell
    UpdateAzureRmRecoveryServicesAsrProtectionDirection.cs ``A2ARPIReprotect``): back into the container the item
    is in, every managed disk of the failed-over VM staged through ``cache_id`` into ``recovery_rg_id``."""
    container_id = item.id.split("/replicationProtectedItems/")[0]
    return m.SwitchProtectionInput(properties=m.SwitchProtectionInputProperties(
        replication_protected_item_name=item.name, provider_specific_details=m.A2ASwitchProtectionInput(
            recovery_container_id=container_id, policy_id=policy_id, recovery_resource_group_id=recovery_rg_id,
            vm_managed_disks=[m.A2AVmManagedDiskInputDetails(
                disk_id=d["id"], primary_staging_azure_storage_account_id=cache_id,
                recovery_resource_group_id=recovery_rg_id, recovery_replica_disk_account_type=d["type"],
                recovery_target_disk_account_type=d["type"])
                for d in (disks if disks is not None else failed_over_disks(emu, item))])))


def switch_protection(asr: SiteRecoveryManagementClient, item: Any, given: m.SwitchProtectionInput,
                      **kwargs: Any) -> Any:
    """``POST .../replicationFabrics/{f}/replicationProtectionContainers/{c}/switchprotection`` on the item's
    container; returns the poller."""
    parts = item.id.split("/")
    low = [x.lower() for x in parts]
    fabric = parts[low.index("replicationfabrics") + 1]
    container = parts[low.index("replicationprotectioncontainers") + 1]
    return asr.replication_protection_containers.begin_switch_protection(VAULT_RG, VAULT, fabric, container, given,
                                                                         **kwargs)


def subscribe(emu: Emulator) -> str:
    """A pull subscriber for every ARM event (Event Grid schema)."""
    from emulator.core.events import Subscriber

    return emu.events.subscribe(Subscriber(mode="pull")).id


def item_of(asr: SiteRecoveryManagementClient, p: Plumbing, vm: str, *, fabric: str | None = None,
            container: str | None = None) -> Any:
    return asr.replication_protected_items.get(VAULT_RG, VAULT, fabric or p.source_fabric,
                                               container or p.source_container, vm)


class FakeClock:
    """The clock ASR reads for replication progress and recovery points (injected, never patched)."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(emu: Emulator) -> FakeClock:
    fake = FakeClock()
    asr_state.asr_state(emu.world).clock = fake
    return fake


RP = "rp-s2dclu01"


@pytest.fixture
def cluster(world: World, asr: SiteRecoveryManagementClient, plumbing: Plumbing) -> list[str]:
    """Both nodes protected in one group, pools named, and a plan (``RP``) holding both: the item IDs."""
    ids = []
    for vm in ("s2d-node1", "s2d-node2"):
        ids.append(enable(asr, world, plumbing, vm).id)
        set_pools(asr, world, plumbing, vm)
    cluster_plan(asr, plumbing, ids, RP)
    return ids
