"""Where Compute places VMs, through the real azure-mgmt-compute client: an availability set's fault domains are
capped at its region's (as the Resource SKUs API reports them), and proximity placement groups are regional resources
a VM joins in its own region."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient

from emulator import Emulator
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network

PROD, DR = "rg-s2d-prod", "rg-s2d-dr"


@pytest.fixture
def cc(sdk: Any) -> ComputeManagementClient:
    return sdk(ComputeManagementClient)


def _max_fault_domains(cc: ComputeManagementClient, location: str) -> dict[str, str]:
    """``az vm list-skus --resource-type availabilitySets``: the Aligned SKU's fault-domain limit per location."""
    return {sku.locations[0]: next(c.value for c in sku.capabilities if c.name == "MaximumPlatformFaultDomainCount")
            for sku in cc.resource_skus.list(filter=f"location eq '{location}'")
            if sku.resource_type == "availabilitySets" and sku.name == "Aligned"}


def test_the_resource_skus_list_says_how_many_fault_domains_a_region_has(demo: dict[str, Any],
                                                                         cc: ComputeManagementClient) -> None:
    assert _max_fault_domains(cc, "northeurope") == {"northeurope": "3"}
    assert _max_fault_domains(cc, "uksouth") == {"uksouth": "2"}
    everywhere = {sku.locations[0] for sku in cc.resource_skus.list() if sku.name == "Aligned"}
    assert {"westeurope", "northeurope"} <= everywhere


def test_only_a_location_filter_is_supported(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    with pytest.raises(HttpResponseError) as err:
        list(cc.resource_skus.list(filter="resourceType eq 'availabilitySets'"))
    assert err.value.status_code == 400


def test_an_availability_set_has_at_most_its_regions_fault_domains(demo: dict[str, Any],
                                                                   cc: ComputeManagementClient) -> None:
    three = cc.availability_sets.create_or_update(DR, "avset-three", {
        "location": "northeurope", "sku": {"name": "Aligned"},
        "properties": {"platformFaultDomainCount": 3, "platformUpdateDomainCount": 20}})
    assert (three.platform_fault_domain_count, three.platform_update_domain_count) == (3, 20)
    with pytest.raises(HttpResponseError) as err:
        cc.availability_sets.create_or_update(DR, "avset-uk", {
            "location": "uksouth", "sku": {"name": "Aligned"},
            "properties": {"platformFaultDomainCount": 3, "platformUpdateDomainCount": 5}})
    assert (err.value.status_code, err.value.error.code) == (400, "InvalidParameter")
    assert "must fall in the range 1 to 2" in str(err.value.error.message)
    with pytest.raises(HttpResponseError) as err:
        cc.availability_sets.create_or_update(DR, "avset-many", {
            "location": "northeurope", "properties": {"platformFaultDomainCount": 2, "platformUpdateDomainCount": 21}})
    assert (err.value.status_code, err.value.error.code) == (400, "InvalidParameter")


def test_a_vm_joins_a_proximity_placement_group_of_its_own_region(emu: Emulator, demo: dict[str, Any],
                                                                  cc: ComputeManagementClient) -> None:
    ppg = cc.proximity_placement_groups.create_or_update(DR, "ppg-dr", {"location": "northeurope"})
    assert (ppg.location, ppg.proximity_placement_group_type) == ("northeurope", "Standard")
    sub = demo["subscription_id"]
    with emu.world.lock:
        nic = network.create_nic(emu.world, subscription_id=sub, resource_group=DR, name="ppg-vm-nic",
                                 location="northeurope", subnet_id=demo["recovery_subnet_id"])
        vm = compute.create_vm(emu.world, subscription_id=sub, resource_group=DR, name="ppg-vm", location="northeurope",
                               nic_ids=[nic["id"]], proximity_placement_group_id=ppg.id)
    assert cc.virtual_machines.get(DR, "ppg-vm").proximity_placement_group.id == ppg.id
    assert [m.id.lower() for m in cc.proximity_placement_groups.get(DR, "ppg-dr").virtual_machines] == [
        vm["id"].lower()]

    with emu.world.lock:
        nic = network.create_nic(emu.world, subscription_id=sub, resource_group=PROD, name="far-vm-nic",
                                 location="westeurope", subnet_id=demo["source_subnet_id"])
    with pytest.raises(HttpResponseError) as err:
        cc.virtual_machines.begin_create_or_update(PROD, "far-vm", {
            "location": "westeurope", "properties": {
                "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                "storageProfile": {"imageReference": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                                                      "sku": "2022-datacenter-azure-edition", "version": "latest"},
                                   "osDisk": {"createOption": "FromImage"}},
                "osProfile": {"computerName": "far-vm", "adminUsername": "azureadmin",
                              "adminPassword": "N0t-a-real-one!"},
                "networkProfile": {"networkInterfaces": [{"id": nic["id"]}]},
                "proximityPlacementGroup": {"id": ppg.id}}}).result()
    assert (err.value.status_code, err.value.error.code) == (400, "InvalidParameter")
    assert "was not found in location westeurope" in str(err.value.error.message)
