"""One negative test per Site Recovery rule: the SDK raises HttpResponseError with ASR's error code."""

from __future__ import annotations

import copy

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.recoveryservicessiterecovery import models as m

from emulator.providers.compute import state as compute
from emulator.providers.recoveryservices import state as asr_state
from emulator.providers.storage import state as storage
from tests.emulator.asr.conftest import (
    DR_RG,
    NODES,
    OTHER_SUBSCRIPTION,
    RG,
    SOURCE,
    TARGET,
    VAULT,
    VAULT_RG,
    a2a_policy,
    add_node,
    cluster_plan,
    enable,
    enable_input,
    failed_over_disks,
    item_of,
    switch_input,
    switch_protection,
)


def code_of(call) -> str:
    with pytest.raises(HttpResponseError) as err:
        call()
    return str(err.value.error.code)


def begin_enable(asr, world, plumbing, vm, **kwargs):
    return lambda: asr.replication_protected_items.begin_create(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, vm,
        enable_input(world, plumbing, vm, **kwargs)).result()


def item_call(asr, plumbing, vm, operation, *args):
    method = getattr(asr.replication_protected_items, operation)
    return lambda: method(VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, vm, *args).result()


UNPLANNED = m.UnplannedFailoverInput(properties=m.UnplannedFailoverInputProperties(
    failover_direction="PrimaryToRecovery", source_site_operations="NotRequired",
    provider_specific_details=m.A2AUnplannedFailoverInput()))


def test_a_vm_in_the_vaults_region_cannot_be_protected(emu, world, asr, plumbing):
    # A northeurope VM (the vault's region) enabled from the northeurope fabric towards westeurope.
    add_node(emu, world, "ne-vm", ip="10.20.1.60", rg=DR_RG, location=TARGET, subnet_id=world.recovery_subnet_id)
    with emu.world.lock:
        cache = storage.add_storage_account(emu.world, subscription_id=world.subscription_id, resource_group=DR_RG,
                                            name="necache2", location=TARGET)
    given = enable_input(world, plumbing, "ne-vm", cache_id=cache["id"])
    given.properties.provider_specific_details.recovery_container_id = plumbing.source_container_id
    given.properties.provider_specific_details.recovery_azure_network_id = world.source_vnet_id
    given.properties.provider_specific_details.recovery_resource_group_id = world.rg_id(RG)
    assert code_of(lambda: asr.replication_protected_items.begin_create(
        VAULT_RG, VAULT, plumbing.target_fabric, plumbing.target_container, "ne-vm", given)) == "VaultInSourceRegion"


def test_enabling_needs_a_policy_and_a_container_mapping_bound_to_it(emu, world, asr, plumbing):
    missing_policy = asr_state.asr_prefix(emu.world.get(world.vault_id)) + "/replicationPolicies/nope"
    assert code_of(begin_enable(asr, world, plumbing, "s2d-node1", policy_id=missing_policy)) == "PolicyNotFound"
    asr.replication_protection_containers.begin_create(
        VAULT_RG, VAULT, plumbing.target_fabric, "unmapped", m.CreateProtectionContainerInput(
            properties=m.CreateProtectionContainerInputProperties(provider_specific_input=[m.A2AContainerCreationInput()]))
    ).result()
    given = enable_input(world, plumbing, "s2d-node1")
    given.properties.provider_specific_details.recovery_container_id = asr.replication_protection_containers.get(
        VAULT_RG, VAULT, plumbing.target_fabric, "unmapped").id
    assert code_of(lambda: asr.replication_protected_items.begin_create(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "s2d-node1", given)
    ) == "ProtectionContainerMappingNotFound"


def test_a_multi_vm_group_holds_at_most_16_vms(emu, world, asr, plumbing):
    for n in range(17):
        add_node(emu, world, f"big{n:02}", ip=f"10.10.1.{100 + n}")
    for n in range(16):
        enable(asr, world, plumbing, f"big{n:02}", group="big")
    assert code_of(begin_enable(asr, world, plumbing, "big16", group="big")) == "MultiVmGroupVmCountLimitExceeded"


def test_a_protected_vm_cannot_be_enabled_again_or_moved_to_another_group(world, asr, plumbing):
    enable(asr, world, plumbing, "s2d-node1", group="s2dclu01")
    again = enable_input(world, plumbing, "s2d-node1", group="elsewhere")
    assert code_of(lambda: asr.replication_protected_items.begin_create(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "s2d-node1-moved", again)
    ) == "VmAlreadyProtected"


def test_a_vm_that_is_not_running_cannot_be_protected(emu, world, asr, plumbing):
    with emu.world.lock:
        compute.set_power_state(emu.world, world.vms["solo"], "deallocated")
    assert code_of(begin_enable(asr, world, plumbing, "solo", group=None)) == "VmNotRunning"


@pytest.mark.parametrize("where", ["other-region", "other-subscription"])
def test_the_cache_storage_account_must_be_in_the_vms_region_and_subscription(emu, world, asr, plumbing, where):
    if where == "other-region":
        cache_id = world.dr_cache_id
    else:
        with emu.world.lock:
            cache_id = storage.add_storage_account(emu.world, subscription_id=OTHER_SUBSCRIPTION, resource_group=RG,
                                                   name="othersubcache", location=SOURCE)["id"]
    assert code_of(begin_enable(asr, world, plumbing, "solo", group=None, cache_id=cache_id)) == "InvalidCacheStorageAccount"


def test_a_single_vm_of_a_multi_vm_group_cannot_fail_over_alone(world, asr, plumbing):
    for vm in ("s2d-node1", "s2d-node2"):
        enable(asr, world, plumbing, vm)
    assert code_of(item_call(asr, plumbing, "s2d-node1", "begin_unplanned_failover", UNPLANNED)) == \
        "MultiVmGroupFailoverRequiresRecoveryPlan"


def test_only_one_test_failover_at_a_time(world, asr, plumbing):
    enable(asr, world, plumbing, "solo", group=None)
    test = m.TestFailoverInput(properties=m.TestFailoverInputProperties(
        failover_direction="PrimaryToRecovery", network_type="VmNetworkAsInput", network_id=world.test_vnet_id,
        provider_specific_details=m.A2ATestFailoverInput()))
    item_call(asr, plumbing, "solo", "begin_test_failover", test)()
    assert code_of(item_call(asr, plumbing, "solo", "begin_test_failover", test)) == "TestFailoverAlreadyInProgress"


def test_commit_needs_a_failover_first(world, asr, plumbing):
    enable(asr, world, plumbing, "solo", group=None)
    assert code_of(item_call(asr, plumbing, "solo", "begin_failover_commit")) == "FailoverNotCompleted"


def _failed_over_solo(asr, world, plumbing, *, commit=True):
    """The lone VM (no group) failed over, and committed unless ``commit`` is off; returns its item."""
    enable(asr, world, plumbing, "solo", group=None)
    item_call(asr, plumbing, "solo", "begin_unplanned_failover", UNPLANNED)()
    if commit:
        item_call(asr, plumbing, "solo", "begin_failover_commit")()
    return item_of(asr, plumbing, "solo")


def _switch(emu, asr, world, plumbing, item, **kwargs):
    given = {"cache_id": world.dr_cache_id, "recovery_rg_id": world.rg_id(RG), "policy_id": plumbing.policy_id,
             **kwargs}
    return lambda: switch_protection(asr, item, switch_input(emu, item, **given)).result()


def test_reprotect_needs_a_committed_failover(emu, world, asr, plumbing):
    item = _failed_over_solo(asr, world, plumbing, commit=False)
    assert code_of(_switch(emu, asr, world, plumbing, item)) == "FailoverNotCommitted"


def _reprotect_input(world, plumbing, disks):
    return m.ReverseReplicationInput(properties=m.ReverseReplicationInputProperties(
        failover_direction="RecoveryToPrimary", provider_specific_details=m.A2AReprotectInput(
            recovery_container_id=plumbing.source_container_id, policy_id=plumbing.policy_id,
            recovery_resource_group_id=world.rg_id(RG),
            vm_disks=[m.A2AVmDiskInputDetails(disk_uri=d, recovery_azure_storage_account_id=world.cache_id,
                                              primary_staging_azure_storage_account_id=world.dr_cache_id)
                      for d in disks])))


@pytest.mark.parametrize("given", ["managed-disk-ids", "no-disks"])
def test_reprotect_of_managed_disks_is_refused_for_switch_protection(emu, world, asr, plumbing, given):
    """A2AReprotectInput has no managed-disk member: reProtect with managed disk IDs in vmDisks[].diskUri, or of
    an item whose disks are managed, is refused (errors.switch_protection_required cites the sources)."""
    item = _failed_over_solo(asr, world, plumbing)
    disks = [d["id"] for d in failed_over_disks(emu, item)] if given == "managed-disk-ids" else []
    seq = emu.journal.last_seq
    with pytest.raises(HttpResponseError) as refused:
        item_call(asr, plumbing, "solo", "begin_reprotect", _reprotect_input(world, plumbing, disks))()
    assert (refused.value.status_code, refused.value.error.code) == (400, "ManagedDiskReprotectRequiresSwitchProtection")
    assert "switchprotection" in refused.value.response.json()["error"]["recommendedAction"]
    assert [(e.method, e.status) for e in emu.journal.entries(since=seq)] == [("POST", 400)]  # no job, no poll
    assert item_of(asr, plumbing, "solo").properties.protection_state == "UnplannedFailoverCommitted"
    assert not [j for j in asr.replication_jobs.list(VAULT_RG, VAULT) if j.properties.scenario_name == "Reprotect"]


def test_a_recovery_plan_of_a2a_items_is_not_reprotected_as_a_plan(emu, world, asr, plumbing):
    ids = [enable(asr, world, plumbing, vm).id for vm in NODES]
    cluster_plan(asr, plumbing, ids, "rp-s2dclu01")
    with pytest.raises(HttpResponseError) as refused:
        asr.replication_recovery_plans.begin_reprotect(VAULT_RG, VAULT, "rp-s2dclu01").result()
    assert (refused.value.status_code, refused.value.error.code) == (
        400, "RecoveryPlanReprotectNotSupportedForAzureToAzure")
    with pytest.raises(HttpResponseError) as missing:
        asr.replication_recovery_plans.begin_reprotect(VAULT_RG, VAULT, "rp-nosuch").result()
    assert missing.value.status_code == 404


def test_switch_protection_lists_every_managed_disk_of_the_failed_over_vm(emu, world, asr, plumbing):
    item = _failed_over_solo(asr, world, plumbing)
    os_disk, data_disk = failed_over_disks(emu, item)
    assert code_of(_switch(emu, asr, world, plumbing, item, disks=[os_disk])) == "VMDisksMissing"
    assert code_of(_switch(emu, asr, world, plumbing, item, disks=[])) == "VMDisksMissing"
    # A disk of the original VM is not one of the failed-over VM's.
    original = {"id": world.disks["solo"][1], "type": "Premium_LRS"}
    assert code_of(_switch(emu, asr, world, plumbing, item, disks=[os_disk, original])) == "InvalidProviderSpecificInput"
    assert item_of(asr, plumbing, "solo").properties.protection_state == "UnplannedFailoverCommitted"
    assert data_disk  # both disks listed: the switch goes through
    _switch(emu, asr, world, plumbing, item)()


@pytest.mark.parametrize("where", ["source-region", "other-subscription"])
def test_switch_protection_stages_through_a_cache_in_the_failed_over_vms_region(emu, world, asr, plumbing, where):
    item = _failed_over_solo(asr, world, plumbing)
    if where == "source-region":
        cache_id = world.cache_id
    else:
        with emu.world.lock:
            cache_id = storage.add_storage_account(emu.world, subscription_id=OTHER_SUBSCRIPTION, resource_group=RG,
                                                   name="othersubdrcache", location=TARGET)["id"]
    assert code_of(_switch(emu, asr, world, plumbing, item, cache_id=cache_id)) == "InvalidCacheStorageAccount"


def test_switch_protection_input_is_checked_as_the_rest_spec_requires(emu, world, asr, plumbing):
    item = _failed_over_solo(asr, world, plumbing)
    good = switch_input(emu, item, cache_id=world.dr_cache_id, recovery_rg_id=world.rg_id(RG),
                        policy_id=plumbing.policy_id).as_dict()

    def post(change, container=None):
        body = copy.deepcopy(good)
        change(body["properties"])
        parts = item.id.split("/")
        fabric, name = (plumbing.target_fabric, plumbing.target_container) if container == "other" else (
            parts[-5], parts[-3])
        return lambda: asr.replication_protection_containers.begin_switch_protection(
            VAULT_RG, VAULT, fabric, name, body).result()

    a2a = "providerSpecificDetails"
    assert code_of(post(lambda p: p.pop("replicationProtectedItemName"))) == "InvalidProviderSpecificInput"
    assert code_of(post(lambda p: p[a2a].update(instanceType="InMageRcm"))) == "InvalidProviderSpecificInput"
    assert code_of(post(lambda p: p[a2a]["vmManagedDisks"][0].pop("recoveryResourceGroupId"))) == \
        "InvalidProviderSpecificInput"
    assert code_of(post(lambda p: p[a2a]["vmManagedDisks"][1].pop("primaryStagingAzureStorageAccountId"))) == \
        "InvalidProviderSpecificInput"
    assert code_of(post(lambda p: p[a2a].update(vmDisks=[{"diskUri": "https://x.blob.core.windows.net/v/d.vhd"}]))) == \
        "InvalidProviderSpecificInput"
    assert code_of(post(lambda p: p[a2a].update(recoveryContainerId=plumbing.target_container_id))) == \
        "InvalidProviderSpecificInput"
    # The item is in the container it was protected from: another container does not hold it.
    assert code_of(post(lambda p: None, container="other")) == "ResourceNotFound"
    other_policy = asr.replication_policies.begin_create(VAULT_RG, VAULT, "other-policy", a2a_policy()).result().id
    assert code_of(post(lambda p: p[a2a].update(policyId=other_policy))) == "ProtectionContainerMappingNotFound"
    assert item_of(asr, plumbing, "solo").properties.protection_state == "UnplannedFailoverCommitted"
