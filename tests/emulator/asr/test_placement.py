"""Where a recovered node lands, through the real SDK: enable replication takes a recovery availability set, zone or
proximity placement group only where the VM ASR creates at failover could have it, failover and test failover place
the VM there, and a ``multiVmGroupId`` sent with a group's name must be that group's."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.recoveryservicessiterecovery import models as m

from emulator.providers.compute import state as compute
from tests.emulator.asr.conftest import (
    CLUSTER,
    DR_RG,
    NODES,
    RG,
    SOURCE,
    TARGET,
    VAULT,
    VAULT_RG,
    cluster_plan,
    enable,
    enable_input,
    item_of,
)

RP = "rp-s2dclu01"


def code_of(call) -> str:
    with pytest.raises(HttpResponseError) as err:
        call()
    return str(err.value.error.code)


def placed_input(world, plumbing, vm, **placement):
    given = enable_input(world, plumbing, vm)
    details = given.properties.provider_specific_details
    for key, value in placement.items():
        setattr(details, key, value)
    return given


def begin(asr, plumbing, vm, given):
    return lambda: asr.replication_protected_items.begin_create(VAULT_RG, VAULT, plumbing.source_fabric,
                                                               plumbing.source_container, vm, given).result()


def add_avset(emu, world, name, *, rg=DR_RG, location=TARGET):
    with emu.world.lock:
        return compute.add_availability_set(emu.world, subscription_id=world.subscription_id, resource_group=rg,
                                            name=name, location=location, fault_domains=3, update_domains=5)["id"]


def add_ppg(emu, world, name, *, location=TARGET):
    with emu.world.lock:
        return compute.add_proximity_placement_group(emu.world, subscription_id=world.subscription_id,
                                                     resource_group=DR_RG, name=name, location=location)["id"]


def test_an_item_keeps_the_recovery_availability_set_it_was_enabled_with(emu, world, asr, plumbing):
    avset = add_avset(emu, world, "avset-dr")
    ppg = add_ppg(emu, world, "ppg-dr")
    item = asr.replication_protected_items.begin_create(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, NODES[0],
        placed_input(world, plumbing, NODES[0], recovery_availability_set_id=avset,
                     recovery_proximity_placement_group_id=ppg)).result()
    details = item.properties.provider_specific_details
    assert details.recovery_availability_set.lower() == avset.lower()
    assert details.recovery_proximity_placement_group_id.lower() == ppg.lower()
    assert details.recovery_availability_zone is None


def test_a_zone_and_an_availability_set_together_are_refused(emu, world, asr, plumbing):
    avset = add_avset(emu, world, "avset-dr")
    given = placed_input(world, plumbing, NODES[0], recovery_availability_set_id=avset, recovery_availability_zone="1")
    assert code_of(begin(asr, plumbing, NODES[0], given)) == "RecoveryAvailabilitySetAndZoneConflict"
    given = placed_input(world, plumbing, NODES[0], recovery_availability_zone="4")
    assert code_of(begin(asr, plumbing, NODES[0], given)) == "InvalidRecoveryAvailabilityZone"


def test_the_recovery_availability_set_must_exist_in_the_recovery_region_and_resource_group(emu, world, asr, plumbing):
    missing = f"{world.recovery_rg_id}/providers/Microsoft.Compute/availabilitySets/avset-nope"
    assert code_of(begin(asr, plumbing, NODES[0], placed_input(
        world, plumbing, NODES[0], recovery_availability_set_id=missing))) == "InvalidRecoveryAvailabilitySet"
    source_side = add_avset(emu, world, "avset-west", rg=RG, location=SOURCE)
    assert code_of(begin(asr, plumbing, NODES[0], placed_input(
        world, plumbing, NODES[0], recovery_availability_set_id=source_side))) == "InvalidRecoveryAvailabilitySet"
    other_group = add_avset(emu, world, "avset-north-prod", rg=RG, location=TARGET)
    with pytest.raises(HttpResponseError) as err:
        begin(asr, plumbing, NODES[0], placed_input(world, plumbing, NODES[0],
                                                    recovery_availability_set_id=other_group))()
    assert err.value.error.code == "InvalidRecoveryAvailabilitySet"
    assert "recovery resource group" in str(err.value.error.message)
    assert item_of_or_none(asr, plumbing, NODES[0]) is None  # nothing was enabled


def test_the_recovery_proximity_placement_group_must_exist_in_the_recovery_region(emu, world, asr, plumbing):
    missing = f"{world.recovery_rg_id}/providers/Microsoft.Compute/proximityPlacementGroups/ppg-nope"
    assert code_of(begin(asr, plumbing, NODES[0], placed_input(
        world, plumbing, NODES[0], recovery_proximity_placement_group_id=missing))) == \
        "InvalidRecoveryProximityPlacementGroup"
    west = add_ppg(emu, world, "ppg-west", location=SOURCE)
    assert code_of(begin(asr, plumbing, NODES[0], placed_input(
        world, plumbing, NODES[0], recovery_proximity_placement_group_id=west))) == \
        "InvalidRecoveryProximityPlacementGroup"


def item_of_or_none(asr, plumbing, vm):
    try:
        return item_of(asr, plumbing, vm)
    except HttpResponseError:
        return None


def protect_placed(world, asr, plumbing, **placement):
    ids = []
    for vm in NODES:
        ids.append(asr.replication_protected_items.begin_create(
            VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, vm,
            placed_input(world, plumbing, vm, **placement)).result().id)
    return cluster_plan(asr, plumbing, ids, RP)


def recovered_vms(emu, asr, plumbing, *, test=False):
    out = []
    for vm in NODES:
        details = item_of(asr, plumbing, vm).properties.provider_specific_details
        out.append(emu.world.get(details.test_failover_recovery_fabric_object_id if test
                                 else details.recovery_fabric_object_id))
    return out


def test_failover_places_the_recovered_nodes_in_the_recovery_availability_set(emu, world, asr, plumbing):
    avset = add_avset(emu, world, "avset-asr-s2d-s2dclu01")
    protect_placed(world, asr, plumbing, recovery_availability_set_id=avset)
    asr.replication_recovery_plans.begin_unplanned_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanUnplannedFailoverInput(
        properties=m.RecoveryPlanUnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery", source_site_operations="NotRequired",
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="Latest")]))).result()
    vms = recovered_vms(emu, asr, plumbing)
    assert [v["properties"]["availabilitySet"]["id"].lower() for v in vms] == [avset.lower()] * 2
    members = emu.world.get(avset)["properties"]["virtualMachines"]
    assert sorted(x["id"].lower() for x in members) == sorted(v["id"].lower() for v in vms)
    domains = {compute.instance_view(emu.world, v)["platformFaultDomain"] for v in vms}
    assert len(domains) == 2  # two fault domains: one host failure takes one node


def test_test_failover_places_the_test_vms_in_their_zones_and_group(emu, world, asr, plumbing):
    ppg = add_ppg(emu, world, "ppg-dr")
    ids = []
    for vm, zone in zip(NODES, ("1", "2"), strict=True):
        ids.append(asr.replication_protected_items.begin_create(
            VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, vm,
            placed_input(world, plumbing, vm, recovery_availability_zone=zone,
                         recovery_proximity_placement_group_id=ppg)).result().id)
    cluster_plan(asr, plumbing, ids, RP)
    asr.replication_recovery_plans.begin_test_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanTestFailoverInput(
        properties=m.RecoveryPlanTestFailoverInputProperties(
            failover_direction="PrimaryToRecovery", network_type="VmNetworkAsInput", network_id=world.test_vnet_id,
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="Latest")]))).result()
    vms = recovered_vms(emu, asr, plumbing, test=True)
    assert [v.get("zones") for v in vms] == [["1"], ["2"]]
    assert all("availabilitySet" not in v["properties"] for v in vms)
    assert {v["properties"]["proximityPlacementGroup"]["id"].lower() for v in vms} == {ppg.lower()}
    os_disk = emu.world.get(vms[1]["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"])
    assert os_disk["zones"] == ["2"]  # the replica disks are in the VM's zone


def test_a_proximity_placement_group_deleted_since_the_enable_is_left_out_at_failover(emu, world, asr, plumbing):
    ppg = add_ppg(emu, world, "ppg-dr")
    protect_placed(world, asr, plumbing, recovery_proximity_placement_group_id=ppg)
    with emu.world.lock:
        emu.world.delete(ppg)
    asr.replication_recovery_plans.begin_unplanned_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanUnplannedFailoverInput(
        properties=m.RecoveryPlanUnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery", source_site_operations="NotRequired",
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="Latest")]))).result()
    assert all("proximityPlacementGroup" not in v["properties"] for v in recovered_vms(emu, asr, plumbing))


def test_a_group_id_sent_with_a_groups_name_must_be_that_groups(emu, world, asr, plumbing):
    first = enable(asr, world, plumbing, NODES[0], group=CLUSTER)
    group_id = first.properties.provider_specific_details.multi_vm_group_id
    wrong = placed_input(world, plumbing, NODES[1], multi_vm_group_id="00000000-0000-4000-8000-000000000001")
    with pytest.raises(HttpResponseError) as err:
        begin(asr, plumbing, NODES[1], wrong)()
    assert (err.value.status_code, err.value.error.code) == (400, "MultiVmGroupIdMismatch")
    joined = asr.replication_protected_items.begin_create(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, NODES[1],
        placed_input(world, plumbing, NODES[1], multi_vm_group_id=group_id)).result()
    details = joined.properties.provider_specific_details
    assert (details.multi_vm_group_name, details.multi_vm_group_id) == (CLUSTER, group_id)


def test_a_group_id_of_another_group_is_refused_for_a_new_group_name(emu, world, asr, plumbing):
    first = enable(asr, world, plumbing, NODES[0], group=CLUSTER)
    taken = first.properties.provider_specific_details.multi_vm_group_id
    given = enable_input(world, plumbing, NODES[1], group="other-cluster")
    given.properties.provider_specific_details.multi_vm_group_id = taken
    assert code_of(begin(asr, plumbing, NODES[1], given)) == "MultiVmGroupIdMismatch"
