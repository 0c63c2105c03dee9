"""Recovery plans through the real SDK: create, read, update, delete, and the plan-level actions."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.recoveryservicessiterecovery import models as m

from emulator.providers.compute import state as compute
from tests.emulator.asr.conftest import (
    RG,
    RP,
    TARGET,
    VAULT,
    VAULT_RG,
    cluster_plan,
    enable,
    item_of,
    set_pools,
    switch_input,
    switch_protection,
)


def unplanned(asr, point_type="Latest"):
    return asr.replication_recovery_plans.begin_unplanned_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanUnplannedFailoverInput(
        properties=m.RecoveryPlanUnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery", source_site_operations="NotRequired",
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type=point_type)]))).result()


def test_a_plan_comes_back_with_asr_groups_and_a2a_provider(world, asr, plumbing, cluster):
    plan = asr.replication_recovery_plans.get(VAULT_RG, VAULT, RP)
    p = plan.properties
    assert [g.group_type for g in p.groups] == ["Shutdown", "Failover", "Boot"]
    assert [i.id for i in p.groups[2].replication_protected_items] == cluster
    assert p.replication_providers == ["A2A"]
    assert p.allowed_operations == ["UnplannedFailover", "TestFailover"]
    assert (p.primary_fabric_id, p.recovery_fabric_id) == (plumbing.source_fabric_id, plumbing.target_fabric_id)
    assert p.failover_deployment_model == "ResourceManager"
    assert [x.name for x in asr.replication_recovery_plans.list(VAULT_RG, VAULT)] == [RP]
    jobs = {j.properties.scenario_name for j in asr.replication_jobs.list(VAULT_RG, VAULT)}
    assert "CreateRecoveryPlan" in jobs


def test_update_replaces_the_groups_and_keeps_actions(world, asr, plumbing, cluster):
    runbook = m.RecoveryPlanAction(
        action_name="set-cluster-ip", failover_types=["UnplannedFailover", "TestFailover"],
        failover_directions=["PrimaryToRecovery"], custom_details=m.RecoveryPlanAutomationRunbookActionDetails(
            runbook_id="/subscriptions/x/resourceGroups/rg/providers/Microsoft.Automation/automationAccounts/a/runbooks/r",
            fabric_location="Recovery"))
    updated = asr.replication_recovery_plans.begin_update(VAULT_RG, VAULT, RP, m.UpdateRecoveryPlanInput(
        properties=m.UpdateRecoveryPlanInputProperties(groups=[
            m.RecoveryPlanGroup(group_type="Boot", replication_protected_items=[m.RecoveryPlanProtectedItem(id=cluster[0])]),
            m.RecoveryPlanGroup(group_type="Boot", replication_protected_items=[m.RecoveryPlanProtectedItem(id=cluster[1])],
                                end_group_actions=[runbook])]))).result()
    groups = updated.properties.groups
    assert [g.group_type for g in groups] == ["Shutdown", "Failover", "Boot", "Boot"]
    assert groups[3].end_group_actions[0].action_name == "set-cluster-ip"
    assert groups[3].end_group_actions[0].custom_details.instance_type == "AutomationRunbookActionDetails"


def test_plan_unplanned_failover_fails_the_whole_group_over(emu, world, asr, plumbing, cluster):
    plan = unplanned(asr, "LatestProcessed")
    p = plan.properties
    assert p.current_scenario.scenario_name == "UnplannedFailover"
    assert (p.current_scenario_status, p.last_unplanned_failover_time is not None) == ("Succeeded", True)
    assert p.allowed_operations == ["Commit", "ChangePit"]
    for vm in ("s2d-node1", "s2d-node2"):
        item = item_of(asr, plumbing, vm)
        assert item.properties.protection_state == "UnplannedFailoverCommitPendingStatesBegin"
        recovered = emu.world.get(item.properties.provider_specific_details.recovery_fabric_object_id)
        assert recovered["location"] == TARGET

    committed = asr.replication_recovery_plans.begin_failover_commit(VAULT_RG, VAULT, RP).result()
    assert committed.properties.allowed_operations == ["ReverseReplicate"]
    assert {item_of(asr, plumbing, vm).properties.protection_state for vm in ("s2d-node1", "s2d-node2")} == {
        "UnplannedFailoverCommitted"}


def test_a_plan_has_no_planned_failover_and_its_failover_can_shut_the_sources_down(emu, world, asr, plumbing, cluster):
    """No planned failover for Azure-to-Azure (errors.planned_failover_not_supported's sources)."""
    with pytest.raises(HttpResponseError) as refused:
        asr.replication_recovery_plans.begin_planned_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanPlannedFailoverInput(
            properties=m.RecoveryPlanPlannedFailoverInputProperties(failover_direction="PrimaryToRecovery")))
    assert refused.value.error.code == "PlannedFailoverNotSupportedForAzureToAzure"
    assert {compute.power_state(emu.world, world.vms[vm]) for vm in ("s2d-node1", "s2d-node2")} == {"running"}
    plan = asr.replication_recovery_plans.begin_unplanned_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanUnplannedFailoverInput(
        properties=m.RecoveryPlanUnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery", source_site_operations="Required",
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="Latest")]))).result()
    assert plan.properties.last_unplanned_failover_time is not None
    assert "PlannedFailover" not in plan.properties.allowed_operations
    assert {compute.power_state(emu.world, world.vms[vm]) for vm in ("s2d-node1", "s2d-node2")} == {"deallocated"}
    assert item_of(asr, plumbing, "s2d-node1").properties.protection_state == "UnplannedFailoverCommitPendingStatesBegin"


def test_a_plan_holding_part_of_a_group_cannot_fail_it_over(world, asr, plumbing, cluster):
    cluster_plan(asr, plumbing, [cluster[0]], "rp-half")
    with pytest.raises(HttpResponseError) as err:
        asr.replication_recovery_plans.begin_unplanned_failover(VAULT_RG, VAULT, "rp-half", m.RecoveryPlanUnplannedFailoverInput(
            properties=m.RecoveryPlanUnplannedFailoverInputProperties(
                failover_direction="PrimaryToRecovery", source_site_operations="NotRequired",
                provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="Latest")])))
    assert err.value.error.code == "MultiVmGroupFailoverRequiresRecoveryPlan"


def test_app_consistent_points_do_not_exist_with_a_crash_only_policy(world, asr, plumbing, cluster):
    assert asr.replication_policies.get(VAULT_RG, VAULT, plumbing.policy).properties.provider_specific_details \
        .app_consistent_frequency_in_minutes == 0
    with pytest.raises(HttpResponseError) as err:
        unplanned(asr, "LatestApplicationConsistent")
    assert err.value.error.code == "NoRecoveryPointAvailable"
    assert item_of(asr, plumbing, "s2d-node1").properties.protection_state == "Protected"


def test_plan_test_failover_goes_to_the_test_network_and_cleanup_removes_it(emu, world, asr, plumbing, cluster):
    tested = asr.replication_recovery_plans.begin_test_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanTestFailoverInput(
        properties=m.RecoveryPlanTestFailoverInputProperties(
            failover_direction="PrimaryToRecovery", network_type="VmNetworkAsInput", network_id=world.test_vnet_id,
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="LatestCrashConsistent")])))
    plan = tested.result()
    assert plan.properties.allowed_operations == ["TestFailoverCleanup"]
    assert plan.properties.last_test_failover_time is not None
    test_vms = []
    for vm in ("s2d-node1", "s2d-node2"):
        item = item_of(asr, plumbing, vm)
        assert item.properties.test_failover_state == "WaitingForCompletion"
        test_vm = emu.world.get(item.properties.provider_specific_details.test_failover_recovery_fabric_object_id)
        assert test_vm["name"] == f"{vm}-test"
        nic = emu.world.get(test_vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"])
        config = nic["properties"]["ipConfigurations"][0]["properties"]
        assert config["subnet"]["id"].lower() == world.test_subnet_id.lower()
        assert [pool["id"] for pool in config["loadBalancerBackendAddressPools"]] == [world.test_pool_id]
        test_vms.append(test_vm["id"])

    cleaned = asr.replication_recovery_plans.begin_test_failover_cleanup(
        VAULT_RG, VAULT, RP, m.RecoveryPlanTestFailoverCleanupInput(
            properties=m.RecoveryPlanTestFailoverCleanupInputProperties(comments="drill passed"))).result()
    assert cleaned.properties.allowed_operations == ["UnplannedFailover", "TestFailover"]
    assert all(emu.world.get(vm_id) is None for vm_id in test_vms)
    item = item_of(asr, plumbing, "s2d-node1")
    assert item.properties.test_failover_state == "None"
    assert item.properties.last_successful_test_failover_time is not None


def reprotect_items(emu, asr, world, plumbing):
    """After the plan's committed failover, each node's item switched back (A2A's reprotect: the plan's own
    reProtect is refused); returns the containers the switches answered with."""
    containers = []
    for vm in ("s2d-node1", "s2d-node2"):
        item = item_of(asr, plumbing, vm)
        containers.append(switch_protection(asr, item, switch_input(
            emu, item, cache_id=world.dr_cache_id, recovery_rg_id=world.rg_id(RG),
            policy_id=plumbing.policy_id)).result())
    return containers


def test_switching_each_item_reverses_replication_and_renames_the_plan_items(emu, world, asr, plumbing, cluster):
    unplanned(asr)
    asr.replication_recovery_plans.begin_failover_commit(VAULT_RG, VAULT, RP).result()
    assert asr.replication_recovery_plans.get(VAULT_RG, VAULT, RP).properties.allowed_operations == [
        "ReverseReplicate"]
    containers = reprotect_items(emu, asr, world, plumbing)
    assert {c.id.lower() for c in containers} == {plumbing.target_container_id.lower()}
    plan = asr.replication_recovery_plans.get(VAULT_RG, VAULT, RP)
    ids = [i.id for i in plan.properties.groups[2].replication_protected_items]
    assert [i.lower() for i in ids] == [f"{plumbing.target_container_id}/replicationProtectedItems/{vm}".lower()
                                        for vm in ("s2d-node1", "s2d-node2")]
    assert plan.properties.allowed_operations == ["UnplannedFailover", "TestFailover"]
    item = item_of(asr, plumbing, "s2d-node1", fabric=plumbing.target_fabric, container=plumbing.target_container)
    assert item.properties.protection_state == "Protected"
    assert item.properties.provider_specific_details.multi_vm_group_name == "s2dclu01"
    disk = item.properties.provider_specific_details.protected_managed_disks[0]
    assert disk.primary_staging_azure_storage_account_id == world.dr_cache_id  # the cache in the DR region
    assert disk.recovery_resource_group_id.lower() == world.rg_id(RG).lower()


def test_after_a_reprotect_the_plan_fails_over_recovery_to_primary_only(emu, world, asr, plumbing, cluster):
    unplanned(asr)
    asr.replication_recovery_plans.begin_failover_commit(VAULT_RG, VAULT, RP).result()
    reprotect_items(emu, asr, world, plumbing)

    def test_failover(direction):
        body = {"properties": {"networkType": "VmNetworkAsInput", "networkId": world.test_vnet_id,
                               "providerSpecificDetails": [{"instanceType": "A2A", "recoveryPointType": "Latest"}]}}
        if direction:
            body["properties"]["failoverDirection"] = direction
        return asr.replication_recovery_plans.begin_test_failover(VAULT_RG, VAULT, RP, body).result()

    with pytest.raises(HttpResponseError) as wrong_way:
        test_failover("PrimaryToRecovery")
    assert wrong_way.value.status_code == 400
    assert wrong_way.value.error.code == "OperationNotAllowedInCurrentState"
    assert "cannot fail over PrimaryToRecovery" in str(wrong_way.value) and "replicates RecoveryToPrimary" in str(
        wrong_way.value)
    with pytest.raises(HttpResponseError) as no_direction:
        test_failover(None)
    assert no_direction.value.status_code == 400 and "failoverDirection is required" in str(no_direction.value)
    # The right direction passes that rule; the test network must then be in the region it replicates back to.
    with pytest.raises(HttpResponseError) as wrong_region:
        test_failover("RecoveryToPrimary")
    assert "is not in the recovery region" in str(wrong_region.value)
    item = item_of(asr, plumbing, "s2d-node1", fabric=plumbing.target_fabric, container=plumbing.target_container)
    assert item.properties.test_failover_state == "None"  # nothing started


def test_a_deleted_plan_is_gone(world, asr, plumbing, cluster):
    asr.replication_recovery_plans.begin_delete(VAULT_RG, VAULT, RP).result()
    with pytest.raises(ResourceNotFoundError):
        asr.replication_recovery_plans.get(VAULT_RG, VAULT, RP)


@pytest.mark.parametrize(("option", "sync", "same_time"), [
    ("UseMultiVmSyncRecoveryPoint", "MultiVmSyncRecoveryPoint", True),
    ("UsePerVmRecoveryPoint", "PerVmRecoveryPoint", False),
    (None, "PerVmRecoveryPoint", False),
])
def test_a_plan_fails_a_group_over_to_its_common_point_only_when_asked(emu, world, asr, plumbing, clock, option, sync,
                                                                       same_time):
    """Each node has its own points (on a grid from its own protection) and the group has common ones from the last
    member's protection (multiVmSyncPointOption, RecoveryPlanA2AFailoverInput in the REST spec): without
    UseMultiVmSyncRecoveryPoint a plan may bring the nodes back from points minutes apart."""
    ids = []
    for vm in ("s2d-node1", "s2d-node2"):
        ids.append(enable(asr, world, plumbing, vm).id)
        set_pools(asr, world, plumbing, vm)
        clock.advance(60)
    cluster_plan(asr, plumbing, ids, RP)
    clock.advance(10 * 60)
    asr.replication_recovery_plans.begin_test_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanTestFailoverInput(
        properties=m.RecoveryPlanTestFailoverInputProperties(
            failover_direction="PrimaryToRecovery", network_type="VmNetworkAsInput", network_id=world.test_vnet_id,
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(
                recovery_point_type="LatestProcessed", multi_vm_sync_point_option=option)]))).result()
    chosen = []
    for vm in ("s2d-node1", "s2d-node2"):
        point_id = emu.world.get(item_of(asr, plumbing, vm).id)["properties"]["failoverRecoveryPointId"]
        point = asr.recovery_points.get(VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, vm,
                                        point_id.rsplit("/", 1)[-1])
        assert point.properties.provider_specific_details.recovery_point_sync_type == sync
        chosen.append(point.properties.recovery_point_time)
    assert (chosen[0] == chosen[1]) is same_time


def test_a_common_point_is_refused_while_the_group_has_none(world, asr, plumbing):
    """A group of one node has no common points: asking for one is NoRecoveryPointAvailable, not a silent per-VM point."""
    node = enable(asr, world, plumbing, "s2d-node1")
    set_pools(asr, world, plumbing, "s2d-node1")
    cluster_plan(asr, plumbing, [node.id], RP)
    with pytest.raises(HttpResponseError) as refused:
        asr.replication_recovery_plans.begin_test_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanTestFailoverInput(
            properties=m.RecoveryPlanTestFailoverInputProperties(
                failover_direction="PrimaryToRecovery", network_type="VmNetworkAsInput", network_id=world.test_vnet_id,
                provider_specific_details=[m.RecoveryPlanA2AFailoverInput(
                    recovery_point_type="LatestProcessed", multi_vm_sync_point_option="UseMultiVmSyncRecoveryPoint")])))
    assert refused.value.error.code == "NoRecoveryPointAvailable" and "multi-VM" in refused.value.error.message
