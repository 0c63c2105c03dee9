"""Replication protected items through the real SDK: enabling, initial replication, the A2A details,
updates, listing, disabling, recovery points, health, and failover of a VM that is in no group."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.recoveryservicessiterecovery import models as m

from emulator.providers.network import state as network
from tests.emulator.armhttp import control_json
from tests.emulator.asr.conftest import (
    DR_RG,
    RG,
    SOURCE,
    TARGET,
    VAULT,
    VAULT_RG,
    enable,
    enable_input,
    item_of,
    set_pools,
    subscribe,
    switch_input,
    switch_protection,
)

CONTAINER_ACTION = "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers"
ITEM_ACTION = f"{CONTAINER_ACTION}/replicationProtectedItems"


def test_enabling_goes_from_enabling_protection_to_protected_through_an_enable_dr_job(world, asr, plumbing):
    poller = asr.replication_protected_items.begin_create(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "s2d-node1",
        enable_input(world, plumbing, "s2d-node1"), polling=False)
    assert poller.done()
    item = item_of(asr, plumbing, "s2d-node1")
    assert item.properties.protection_state == "EnablingProtection"
    assert item.properties.allowed_operations == ["DisableProtection"]
    assert item.properties.current_scenario.scenario_name == "EnableDr"

    (job,) = [j for j in asr.replication_jobs.list(VAULT_RG, VAULT) if j.properties.scenario_name == "EnableDr"]
    assert job.properties.target_object_id == "s2d-node1"
    assert job.properties.target_instance_type == "ProtectionEntity"
    assert asr.replication_jobs.get(VAULT_RG, VAULT, job.name).properties.state == "Succeeded"

    item = item_of(asr, plumbing, "s2d-node1")
    assert (item.properties.protection_state, item.properties.replication_health) == ("Protected", "Normal")
    assert item.properties.allowed_operations == ["UnplannedFailover", "DisableProtection",
                                                  "TestFailover"]
    assert item.properties.current_scenario.scenario_name == "None"


def test_initial_replication_progresses_with_time(emu, world, asr, plumbing, clock):
    control_json(emu, "PUT", "asr/config", {"initial_replication_seconds": 100})
    enable(asr, world, plumbing, "s2d-node1")
    item = item_of(asr, plumbing, "s2d-node1")
    details = item.properties.provider_specific_details
    assert item.properties.protection_state == "UnprotectedStatesBegin"
    assert (details.monitoring_job_type, details.monitoring_percentage_completion) == ("InitialReplication", 0)

    clock.advance(40)
    assert item_of(asr, plumbing, "s2d-node1").properties.provider_specific_details.monitoring_percentage_completion == 40
    clock.advance(60)
    item = item_of(asr, plumbing, "s2d-node1")
    assert item.properties.protection_state == "Protected"
    assert item.properties.provider_specific_details.monitoring_percentage_completion is None


def test_initial_replication_can_be_held_and_advanced_through_the_control_api(emu, world, asr, plumbing):
    assert control_json(emu, "PUT", "asr/config", {"auto_progress": False})["auto_progress"] is False
    for vm in ("s2d-node1", "s2d-node2"):
        enable(asr, world, plumbing, vm)
    n1 = item_of(asr, plumbing, "s2d-node1")
    assert n1.properties.protection_state == "UnprotectedStatesBegin"

    moved = control_json(emu, "POST", "asr/advance", {"to": "InitialReplication", "item": n1.id, "percent": 55})
    assert moved["items"][0]["monitoringPercentageCompletion"] == 55
    assert item_of(asr, plumbing, "s2d-node1").properties.provider_specific_details.monitoring_percentage_completion == 55

    everything = control_json(emu, "POST", "asr/advance", {"to": "Protected"})
    assert {i["protectionState"] for i in everything["items"]} == {"Protected"}
    assert {i.properties.protection_state for i in asr.replication_protected_items.list(VAULT_RG, VAULT)} == {"Protected"}


def test_a2a_details_describe_the_replication(world, asr, plumbing):
    item = enable(asr, world, plumbing, "s2d-node1")
    props = item.properties
    assert (props.friendly_name, props.active_location, props.test_failover_state) == ("s2d-node1", "Primary", "None")
    assert props.policy_id == plumbing.policy_id and props.policy_friendly_name == plumbing.policy
    assert props.recovery_container_id == plumbing.target_container_id
    assert props.primary_fabric_friendly_name == plumbing.source_fabric
    assert props.recovery_fabric_friendly_name == plumbing.target_fabric
    d = props.provider_specific_details
    assert d.instance_type == "A2A"
    assert d.fabric_object_id == world.vms["s2d-node1"]
    assert (d.primary_fabric_location, d.recovery_fabric_location) == (SOURCE, TARGET)
    assert (d.multi_vm_group_name, d.multi_vm_group_create_option) == ("s2dclu01", "UserSpecified")
    assert d.multi_vm_group_id
    assert d.recovery_azure_resource_group_id == world.recovery_rg_id
    assert d.selected_recovery_azure_network_id == world.recovery_vnet_id
    assert d.recovery_azure_vm_name == "s2d-node1"
    assert d.recovery_fabric_object_id is None and d.test_failover_recovery_fabric_object_id is None
    assert d.rpo_in_seconds is not None and d.last_rpo_calculated_time is not None
    assert [disk.disk_id for disk in d.protected_managed_disks] == world.disks["s2d-node1"]
    disk = d.protected_managed_disks[0]
    assert disk.primary_staging_azure_storage_account_id == world.cache_id
    assert (disk.recovery_replica_disk_account_type, disk.recovery_target_disk_account_type) == ("Premium_LRS",
                                                                                                 "Premium_LRS")
    (nic,) = d.vm_nics
    assert nic.nic_id == world.nics["s2d-node1"] and nic.recovery_vm_network_id == world.recovery_vnet_id
    (config,) = nic.ip_configs
    assert (config.is_primary, config.static_ip_address, config.recovery_subnet_name) == (True, "10.10.1.4", "snet-s2d")
    assert config.recovery_lb_backend_address_pool_ids == [] and config.tfo_lb_backend_address_pool_ids == []

    n2 = enable(asr, world, plumbing, "s2d-node2")
    assert n2.properties.provider_specific_details.multi_vm_group_id == d.multi_vm_group_id  # joined the group
    solo = enable(asr, world, plumbing, "solo", group=None)
    assert solo.properties.provider_specific_details.multi_vm_group_create_option == "AutoCreated"


def test_an_update_replaces_the_nic_settings_an_omitted_field_is_reset(world, asr, plumbing):
    """vmNics replaces the item's NIC settings field by field (Set-AzRecoveryServicesAsrReplicationProtectedItem resends
    every field: the service does not merge); a caller that sends only the pool loses the static IP it set before."""
    enable(asr, world, plumbing, "s2d-node1")

    def update(**config):
        return asr.replication_protected_items.begin_update(
            VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "s2d-node1",
            m.UpdateReplicationProtectedItemInput(properties=m.UpdateReplicationProtectedItemInputProperties(
                vm_nics=[m.VMNicInputDetails(nic_id=world.nics["s2d-node1"], recovery_nic_name="nic-dr",
                                             ip_configs=[m.IPConfigInputDetails(ip_config_name="ipconfig1",
                                                                                is_primary=True, **config)])]))).result()

    first = update(recovery_subnet_name="snet-s2d", recovery_static_ip_address="10.20.1.40")
    (config,) = first.properties.provider_specific_details.vm_nics[0].ip_configs
    assert (config.recovery_static_ip_address, config.recovery_ip_address_type) == ("10.20.1.40", "Static")
    second = update(recovery_lb_backend_address_pool_ids=[world.recovery_pool_id])
    nic = second.properties.provider_specific_details.vm_nics[0]
    (config,) = nic.ip_configs
    assert config.recovery_lb_backend_address_pool_ids == [world.recovery_pool_id]
    assert config.recovery_static_ip_address is None and config.recovery_subnet_name is None  # reset: not resent
    assert nic.recovery_nic_name == "nic-dr"
    third = asr.replication_protected_items.begin_update(  # the NIC left out of vmNics: its settings reset
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "s2d-node1",
        m.UpdateReplicationProtectedItemInput(properties=m.UpdateReplicationProtectedItemInputProperties(
            vm_nics=[]))).result()
    nic = third.properties.provider_specific_details.vm_nics[0]
    assert nic.ip_configs[0].recovery_lb_backend_address_pool_ids == [] and nic.recovery_nic_name is None
    with pytest.raises(HttpResponseError) as foreign:
        asr.replication_protected_items.begin_update(
            VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "s2d-node1",
            m.UpdateReplicationProtectedItemInput(properties=m.UpdateReplicationProtectedItemInputProperties(
                vm_nics=[m.VMNicInputDetails(nic_id=world.nics["s2d-node2"])])))
    assert foreign.value.status_code == 400 and "is not a NIC of the protected virtual machine" in str(foreign.value)


def test_update_names_the_pools_and_keeps_only_the_primary_ip_configuration(world, asr, plumbing):
    enable(asr, world, plumbing, "s2d-node1")
    updated = asr.replication_protected_items.begin_update(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "s2d-node1",
        m.UpdateReplicationProtectedItemInput(properties=m.UpdateReplicationProtectedItemInputProperties(
            recovery_azure_vm_name="s2d-node1-dr",
            vm_nics=[m.VMNicInputDetails(nic_id=world.nics["s2d-node1"], ip_configs=[
                m.IPConfigInputDetails(ip_config_name="ipconfig1", is_primary=True, recovery_subnet_name="snet-s2d",
                                       recovery_static_ip_address="10.20.1.40",
                                       recovery_lb_backend_address_pool_ids=[world.recovery_pool_id],
                                       tfo_lb_backend_address_pool_ids=[world.test_pool_id]),
                m.IPConfigInputDetails(ip_config_name="ipconfig2", is_primary=False, recovery_subnet_name="snet-s2d",
                                       recovery_static_ip_address="10.20.1.41",
                                       recovery_lb_backend_address_pool_ids=[world.recovery_pool_id])])]))).result()
    d = updated.properties.provider_specific_details
    assert d.recovery_azure_vm_name == "s2d-node1-dr"
    (config,) = d.vm_nics[0].ip_configs
    assert config.name == "ipconfig1"
    assert config.recovery_static_ip_address == "10.20.1.40"
    assert config.recovery_lb_backend_address_pool_ids == [world.recovery_pool_id]
    assert config.tfo_lb_backend_address_pool_ids == [world.test_pool_id]
    scenarios = [j.properties.scenario_name for j in asr.replication_jobs.list(VAULT_RG, VAULT)]
    assert scenarios[0] == "UpdateVmProperties"  # newest first


def test_items_list_per_container_and_vault_wide_with_paging(emu, world, asr, plumbing):
    for vm in ("s2d-node1", "s2d-node2"):
        enable(asr, world, plumbing, vm)
    enable(asr, world, plumbing, "solo", group=None)
    emu.page_size = 1
    pages = list(asr.replication_protected_items.list(VAULT_RG, VAULT).by_page())
    assert len(pages) == 3
    in_container = asr.replication_protected_items.list_by_replication_protection_containers(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container)
    assert sorted(i.name for i in in_container) == ["s2d-node1", "s2d-node2", "solo"]
    container = asr.replication_protection_containers.get(VAULT_RG, VAULT, plumbing.source_fabric,
                                                          plumbing.source_container)
    assert container.properties.protected_item_count == 3


def test_disable_removes_the_item_so_the_vm_can_join_another_group(world, asr, plumbing):
    enable(asr, world, plumbing, "solo", group=None)
    asr.replication_protected_items.begin_delete(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "solo",
        m.DisableProtectionInput(properties=m.DisableProtectionInputProperties(disable_protection_reason="NotSpecified"))
    ).result()
    assert list(asr.replication_protected_items.list(VAULT_RG, VAULT)) == []
    assert "DisableDr" in {j.properties.scenario_name for j in asr.replication_jobs.list(VAULT_RG, VAULT)}

    enable(asr, world, plumbing, "solo", group="another")  # a full re-enable is the only way into a group
    asr.replication_protected_items.begin_purge(VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container,
                                                "solo").result()
    assert list(asr.replication_protected_items.list(VAULT_RG, VAULT)) == []


def test_recovery_points_are_crash_consistent_every_five_minutes(world, asr, plumbing, clock):
    item = enable(asr, world, plumbing, "s2d-node1")
    clock.advance(12 * 60)
    points = list(asr.recovery_points.list_by_replication_protected_items(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "s2d-node1"))
    assert len(points) == 3
    assert {p.properties.recovery_point_type for p in points} == {"CrashConsistent"}
    assert points[0].properties.recovery_point_time > points[-1].properties.recovery_point_time  # newest first
    details = points[0].properties.provider_specific_details
    assert details.instance_type == "A2A"
    assert details.recovery_point_sync_type == "PerVmRecoveryPoint"  # a group of one: no common points
    one = asr.recovery_points.get(VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "s2d-node1",
                                  points[1].name)
    assert one.id == points[1].id and one.id.startswith(item.id + "/recoveryPoints/")


def test_replication_health_and_rpo_can_be_degraded_through_the_control_api(emu, world, asr, plumbing):
    item = enable(asr, world, plumbing, "s2d-node1")
    control_json(emu, "POST", "asr/health", {"item": item.id, "replicationHealth": "Critical", "rpoInSeconds": 7200,
                                        "healthErrors": [{"errorCode": "153006", "errorMessage": "RPO exceeded"}]})
    degraded = item_of(asr, plumbing, "s2d-node1")
    assert degraded.properties.replication_health == "Critical"
    assert degraded.properties.provider_specific_details.rpo_in_seconds == 7200
    assert degraded.properties.health_errors[0].error_code == "153006"
    control_json(emu, "POST", "asr/health", {"item": item.id, "reset": True})
    healed = item_of(asr, plumbing, "s2d-node1")
    assert healed.properties.replication_health == "Normal" and healed.properties.health_errors == []


def _lone_vm(asr, world, plumbing):
    """The lone VM protected in no group, with its DR pools; returns the item's address for the SDK's operations."""
    enable(asr, world, plumbing, "solo", group=None)
    set_pools(asr, world, plumbing, "solo")
    return VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "solo"


def test_a_vm_in_no_group_fails_over_commits_and_reprotects_on_its_own(emu, world, asr, plumbing):
    events = subscribe(emu)
    solo = _lone_vm(asr, world, plumbing)
    ops = asr.replication_protected_items
    failed_over = ops.begin_unplanned_failover(
        *solo,
        m.UnplannedFailoverInput(properties=m.UnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery", source_site_operations="NotRequired",
            provider_specific_details=m.A2AUnplannedFailoverInput()))).result()
    p = failed_over.properties
    assert p.protection_state == "UnplannedFailoverCommitPendingStatesBegin"
    assert (p.protection_state_description, p.active_location) == ("Failover completed", "Recovery")
    assert p.allowed_operations == ["Commit", "DisableProtection", "ChangePit"]
    assert p.last_successful_failover_time and p.failover_recovery_point_id
    recovered = emu.world.get(p.provider_specific_details.recovery_fabric_object_id)
    assert recovered["location"] == TARGET and recovered["name"] == "solo"

    committed = ops.begin_failover_commit(*solo).result()
    assert committed.properties.protection_state == "UnplannedFailoverCommitted"
    assert committed.properties.allowed_operations == ["ReverseReplicate", "DisableProtection"]

    # A2A reprotect is a switch protection on the item's container (reProtect is refused for managed disks).
    container = switch_protection(asr, committed, switch_input(
        emu, committed, cache_id=world.dr_cache_id, recovery_rg_id=world.rg_id(RG),
        policy_id=plumbing.policy_id)).result()
    # The operation's result is the container the item now replicates from.
    assert container.id.lower() == plumbing.target_container_id.lower()
    # ASR re-creates the item under the recovery region's container: it now replicates the other way.
    (reprotected,) = asr.replication_protected_items.list_by_replication_protection_containers(
        VAULT_RG, VAULT, plumbing.target_fabric, plumbing.target_container)
    assert reprotected.id.lower() == f"{plumbing.target_container_id}/replicationProtectedItems/solo".lower()
    assert reprotected.properties.protection_state == "Protected"
    assert reprotected.properties.active_location == "Primary"
    d = reprotected.properties.provider_specific_details
    assert d.fabric_object_id == recovered["id"] and d.recovery_fabric_object_id == world.vms["solo"]
    assert (d.primary_fabric_location, d.recovery_fabric_location) == (TARGET, SOURCE)
    assert list(asr.replication_protected_items.list_by_replication_protection_containers(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container)) == []

    actions = [e["data"]["operationName"] for e in emu.events.drain(events)
               if e["eventType"] == "Microsoft.Resources.ResourceActionSuccess"]
    assert actions == [f"{ITEM_ACTION}/unplannedFailover/action", f"{ITEM_ACTION}/failoverCommit/action",
                       f"{CONTAINER_ACTION}/switchprotection/action"]
    (job,) = [j for j in asr.replication_jobs.list(VAULT_RG, VAULT)
              if j.properties.scenario_name == "SwitchReplicationGroupProtection"]
    assert (job.properties.friendly_name, job.properties.state) == ("Reprotect", "Succeeded")
    assert job.properties.custom_details.new_replication_protected_item_id == reprotected.id

    # The original VM is now the failback target, written by Site Recovery: it cannot be enabled as a source.
    with pytest.raises(HttpResponseError) as refused:
        enable(asr, world, plumbing, "solo", group=None)
    assert refused.value.status_code == 409 and refused.value.error.code == "VmAlreadyProtected"
    assert "failback target" in refused.value.error.message


def test_a2a_has_no_planned_failover_and_a_failover_can_shut_the_source_down_first(emu, world, asr, plumbing):
    """PlannedFailoverProviderSpecificFailoverInput has no A2A member (azure-rest-api-specs); Microsoft's A2A failback
    tutorial fails over with the source machines shut down (sourceSiteOperations Required)."""
    from emulator.providers.compute import state as compute

    enable(asr, world, plumbing, "solo", group=None)
    assert "PlannedFailover" not in item_of(asr, plumbing, "solo").properties.allowed_operations
    with pytest.raises(HttpResponseError) as refused:
        asr.replication_protected_items.begin_planned_failover(
            VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "solo",
            m.PlannedFailoverInput(properties=m.PlannedFailoverInputProperties(failover_direction="PrimaryToRecovery")))
    assert refused.value.status_code == 400
    assert refused.value.error.code == "PlannedFailoverNotSupportedForAzureToAzure"
    assert compute.power_state(emu.world, world.vms["solo"]) == "running"
    done = asr.replication_protected_items.begin_unplanned_failover(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "solo",
        m.UnplannedFailoverInput(properties=m.UnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery", source_site_operations="Required"))).result()
    assert done.properties.protection_state == "UnplannedFailoverCommitPendingStatesBegin"
    assert compute.power_state(emu.world, world.vms["solo"]) == "deallocated"
    recovered = done.properties.provider_specific_details.recovery_fabric_object_id
    assert compute.power_state(emu.world, recovered) == "running"


def test_test_failover_of_a_lone_vm_and_its_cleanup(emu, world, asr, plumbing):
    solo = _lone_vm(asr, world, plumbing)
    ops = asr.replication_protected_items
    tested = ops.begin_test_failover(
        *solo,
        m.TestFailoverInput(properties=m.TestFailoverInputProperties(
            failover_direction="PrimaryToRecovery", network_type="VmNetworkAsInput", network_id=world.test_vnet_id,
            provider_specific_details=m.A2ATestFailoverInput()))).result()
    p = tested.properties
    assert (p.protection_state, p.test_failover_state) == ("Protected", "WaitingForCompletion")
    assert p.allowed_operations == ["TestFailoverCleanup"]
    assert p.current_scenario.scenario_name == "TestFailover"
    test_vm = emu.world.get(p.provider_specific_details.test_failover_recovery_fabric_object_id)
    assert test_vm["name"] == "solo-test" and test_vm["tags"]["asr-s2d"] == "true"
    nic = emu.world.get(test_vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"])
    config = nic["properties"]["ipConfigurations"][0]["properties"]
    assert config["subnet"]["id"].lower() == world.test_subnet_id.lower()
    assert [pool["id"] for pool in config["loadBalancerBackendAddressPools"]] == [world.test_pool_id]

    cleaned = ops.begin_test_failover_cleanup(
        *solo,
        m.TestFailoverCleanupInput(properties=m.TestFailoverCleanupInputProperties(comments="drill ok"))).result()
    assert cleaned.properties.test_failover_state == "None"
    assert cleaned.properties.last_successful_test_failover_time is not None
    assert emu.world.get(test_vm["id"]) is None and emu.world.get(nic["id"]) is None


@pytest.mark.parametrize(("wanted", "squatter", "expected"), [
    (None, None, "10.10.1.9"),  # the source address fits the recovery subnet and is free: kept
    ("10.10.1.77", None, "10.10.1.77"),  # the item's recoveryStaticIPAddress wins
    (None, "10.10.1.9", "10.10.1.4"),  # the source address is taken: the next free one
])
def test_failed_over_nic_address(emu, world, asr, plumbing, wanted, squatter, expected):
    with emu.world.lock:
        same_space = network.add_virtual_network(
            emu.world, subscription_id=world.subscription_id, resource_group=DR_RG, name="vnet-dr-same",
            location=TARGET, address_prefixes=["10.10.0.0/16"], subnets={"snet-s2d": "10.10.1.0/24"})
        if squatter:
            network.create_nic(emu.world, subscription_id=world.subscription_id, resource_group=DR_RG,
                               name="squatter", location=TARGET, subnet_id=f"{same_space['id']}/subnets/snet-s2d",
                               static_ip=squatter)
    given = enable_input(world, plumbing, "solo", group=None)
    given.properties.provider_specific_details.recovery_azure_network_id = same_space["id"]
    asr.replication_protected_items.begin_create(VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container,
                                                 "solo", given).result()
    if wanted:
        asr.replication_protected_items.begin_update(
            VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "solo",
            m.UpdateReplicationProtectedItemInput(properties=m.UpdateReplicationProtectedItemInputProperties(
                vm_nics=[m.VMNicInputDetails(nic_id=world.nics["solo"], ip_configs=[m.IPConfigInputDetails(
                    ip_config_name="ipconfig1", is_primary=True, recovery_static_ip_address=wanted)])]))).result()
    done = asr.replication_protected_items.begin_unplanned_failover(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "solo",
        m.UnplannedFailoverInput(properties=m.UnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery", provider_specific_details=m.A2AUnplannedFailoverInput()))).result()
    vm = emu.world.get(done.properties.provider_specific_details.recovery_fabric_object_id)
    nic = emu.world.get(vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"])
    config = nic["properties"]["ipConfigurations"][0]["properties"]
    assert config["subnet"]["id"].lower() == f"{same_space['id']}/subnets/snet-s2d".lower()
    assert config["privateIPAddress"] == expected
