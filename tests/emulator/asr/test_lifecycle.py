"""The S2D cluster's disaster-recovery life, end to end through the real SDK: protect both nodes in one
group, fail the cluster over with its recovery plan, commit; drill with a test failover and clean up;
reprotect and fail back."""

from __future__ import annotations

from azure.mgmt.recoveryservicessiterecovery import models as m

from emulator.providers.compute import guest
from emulator.providers.compute import state as compute
from emulator.providers.recoveryservices.events import SITE_RECOVERY
from tests.emulator.asr.conftest import (
    CLUSTER,
    NODES,
    RG,
    TARGET,
    VAULT,
    VAULT_RG,
    cluster_plan,
    enable,
    item_of,
    set_pools,
    subscribe,
    switch_input,
    switch_protection,
)

RP = "rp-s2dclu01"

PLAN_ACTIONS = "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans"

def protect_cluster(world, asr, plumbing):
    ids = [enable(asr, world, plumbing, vm, group=CLUSTER).id for vm in NODES]
    for vm in NODES:
        set_pools(asr, world, plumbing, vm)
    plan = cluster_plan(asr, plumbing, ids, RP)
    return plan


def unplanned(asr):
    return asr.replication_recovery_plans.begin_unplanned_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanUnplannedFailoverInput(
        properties=m.RecoveryPlanUnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery", source_site_operations="NotRequired",
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="LatestProcessed")]))).result()


def nic_config(emu, vm):
    nic = emu.world.get(vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"])
    return nic, nic["properties"]["ipConfigurations"][0]["properties"]


def test_the_cluster_fails_over_with_its_plan_into_the_recovery_network_and_pool(emu, world, asr, plumbing):
    events = subscribe(emu)
    protect_cluster(world, asr, plumbing)
    assert {item_of(asr, plumbing, vm).properties.protection_state for vm in NODES} == {"Protected"}
    emu.events.drain(events)

    plan = unplanned(asr)
    assert plan.properties.current_scenario_status == "Succeeded"

    recovered = {}
    for vm in NODES:
        item = item_of(asr, plumbing, vm)
        assert item.properties.protection_state == "UnplannedFailoverCommitPendingStatesBegin"
        assert item.properties.active_location == "Recovery"
        dr_vm = emu.world.get(item.properties.provider_specific_details.recovery_fabric_object_id)
        recovered[vm] = dr_vm
        assert (dr_vm["name"], dr_vm["location"]) == (vm, TARGET)
        assert dr_vm["id"].lower().startswith(world.recovery_rg_id.lower() + "/")
        assert dr_vm["tags"]["asr-s2d"] == "true" and dr_vm["tags"]["asr-s2d-cluster"] == CLUSTER
        assert compute.power_state(emu.world, dr_vm["id"]) == "running"
        _nic, config = nic_config(emu, dr_vm)
        assert config["subnet"]["id"].lower() == world.recovery_subnet_id.lower()
        assert config["privateIPAddress"].startswith("10.20.1.")
        assert [p["id"] for p in config["loadBalancerBackendAddressPools"]] == [world.recovery_pool_id]
        assert guest.cluster_of(emu.world, dr_vm["id"]) is not None  # the guest came along
    pool = emu.world.get(world.recovery_pool_id.rsplit("/backendAddressPools/", 1)[0])["properties"][
        "backendAddressPools"][0]
    assert len(pool["properties"]["backendIPConfigurations"]) == 2

    published = emu.events.drain(events)
    actions = [e for e in published if e["eventType"] == "Microsoft.Resources.ResourceActionSuccess"]
    assert [e["data"]["operationName"] for e in actions] == [f"{PLAN_ACTIONS}/unplannedFailover/action"]
    assert actions[0]["data"]["resourceUri"].lower() == plan.id.lower()
    vm_writes = [e for e in published if e["data"]["operationName"] == "Microsoft.Compute/virtualMachines/write"]
    assert sorted(e["subject"].lower() for e in vm_writes) == sorted(v["id"].lower() for v in recovered.values())
    assert {e["data"]["authorization"]["evidence"]["principalId"] for e in vm_writes} == {SITE_RECOVERY.object_id}
    assert all("tags" not in e["data"] for e in published)

    asr.replication_recovery_plans.begin_failover_commit(VAULT_RG, VAULT, RP).result()
    assert {item_of(asr, plumbing, vm).properties.protection_state for vm in NODES} == {"UnplannedFailoverCommitted"}
    committed = [e["data"]["operationName"] for e in emu.events.drain(events)]
    assert committed == [f"{PLAN_ACTIONS}/failoverCommit/action"]


def test_a_drill_runs_in_the_test_network_and_cleanup_removes_it(emu, world, asr, plumbing):
    events = subscribe(emu)
    protect_cluster(world, asr, plumbing)
    emu.events.drain(events)

    asr.replication_recovery_plans.begin_test_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanTestFailoverInput(
        properties=m.RecoveryPlanTestFailoverInputProperties(
            failover_direction="PrimaryToRecovery", network_type="VmNetworkAsInput", network_id=world.test_vnet_id,
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="LatestCrashConsistent")]))
    ).result()
    test_vms = []
    for vm in NODES:
        item = item_of(asr, plumbing, vm)
        assert (item.properties.protection_state, item.properties.test_failover_state) == (
            "Protected", "WaitingForCompletion")
        test_vm = emu.world.get(item.properties.provider_specific_details.test_failover_recovery_fabric_object_id)
        assert test_vm["name"] == f"{vm}-test" and test_vm["tags"]["asr-s2d"] == "true"
        _nic, config = nic_config(emu, test_vm)
        assert config["subnet"]["id"].lower() == world.test_subnet_id.lower()
        assert [p["id"] for p in config["loadBalancerBackendAddressPools"]] == [world.test_pool_id]
        test_vms.append(test_vm["id"])
    drill = [e["data"]["operationName"] for e in emu.events.drain(events)
             if e["eventType"] == "Microsoft.Resources.ResourceActionSuccess"]
    assert drill == [f"{PLAN_ACTIONS}/testFailover/action"]

    asr.replication_recovery_plans.begin_test_failover_cleanup(VAULT_RG, VAULT, RP, m.RecoveryPlanTestFailoverCleanupInput(
        properties=m.RecoveryPlanTestFailoverCleanupInputProperties(comments="drill passed"))).result()
    assert all(emu.world.get(vm_id) is None for vm_id in test_vms)
    for vm in NODES:
        item = item_of(asr, plumbing, vm)
        assert item.properties.test_failover_state == "None"
        assert item.properties.last_successful_test_failover_time is not None
        assert "TestFailover" in item.properties.allowed_operations
    published = emu.events.drain(events)
    deleted = sorted(e["subject"].lower() for e in published
                     if e["data"]["operationName"] == "Microsoft.Compute/virtualMachines/delete")
    assert deleted == sorted(v.lower() for v in test_vms)
    assert [e["data"]["operationName"] for e in published if e["eventType"].endswith("ActionSuccess")] == [
        f"{PLAN_ACTIONS}/testFailoverCleanup/action"]


def test_reprotect_then_fail_back_to_the_original_vms(emu, world, asr, plumbing):
    protect_cluster(world, asr, plumbing)
    unplanned(asr)
    asr.replication_recovery_plans.begin_failover_commit(VAULT_RG, VAULT, RP).result()
    dr_vms = {vm: item_of(asr, plumbing, vm).properties.provider_specific_details.recovery_fabric_object_id
              for vm in NODES}

    # A2A reprotect: each item switched back on its container, the failed-over disks staged through the DR cache.
    for vm in NODES:
        item = item_of(asr, plumbing, vm)
        switch_protection(asr, item, switch_input(emu, item, cache_id=world.dr_cache_id, recovery_rg_id=world.rg_id(RG),
                                                  policy_id=plumbing.policy_id)).result()
    for vm in NODES:
        item = item_of(asr, plumbing, vm, fabric=plumbing.target_fabric, container=plumbing.target_container)
        assert item.properties.protection_state == "Protected"
        assert item.properties.provider_specific_details.fabric_object_id == dr_vms[vm]
        assert item.properties.provider_specific_details.recovery_fabric_object_id == world.vms[vm]

    # Azure-to-Azure fails back with a failover that shuts the DR side down first (no planned failover).
    back = asr.replication_recovery_plans.begin_unplanned_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanUnplannedFailoverInput(
        properties=m.RecoveryPlanUnplannedFailoverInputProperties(
            failover_direction="RecoveryToPrimary", source_site_operations="Required",
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="Latest")]))).result()
    assert back.properties.allowed_operations == ["Commit", "ChangePit"]
    for vm in NODES:
        assert compute.power_state(emu.world, world.vms[vm]) == "running"  # the original VM is the target again
        assert compute.power_state(emu.world, dr_vms[vm]) == "deallocated"
    asr.replication_recovery_plans.begin_failover_commit(VAULT_RG, VAULT, RP).result()
    # Reprotected to the DR region again: the original VMs' disks staged through the source region's cache.
    for vm in NODES:
        item = item_of(asr, plumbing, vm, fabric=plumbing.target_fabric, container=plumbing.target_container)
        switch_protection(asr, item, switch_input(emu, item, cache_id=world.cache_id, recovery_rg_id=world.recovery_rg_id,
                                                  policy_id=plumbing.policy_id)).result()
    for vm in NODES:
        item = item_of(asr, plumbing, vm)  # back under the source container
        assert item.properties.protection_state == "Protected"
        assert item.properties.provider_specific_details.fabric_object_id == world.vms[vm]
