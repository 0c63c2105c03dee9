"""Microsoft.Compute through the real azure-mgmt-compute client: VMs (shape, instance view, power,
create/update/delete rules), managed disks, availability sets and Run Command rules."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient

from emulator import Emulator
from emulator.providers.compute import guest, runcommand
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from tests.emulator import armhttp

PROD, DR = "rg-s2d-prod", "rg-s2d-dr"


@pytest.fixture
def cc(sdk: Any) -> ComputeManagementClient:
    return sdk(ComputeManagementClient)


def _power(vm: Any) -> str:
    return next(s.code for s in vm.properties.instance_view.statuses if s.code.startswith("PowerState/"))


def _new_nic(emu: Emulator, demo: dict[str, Any], name: str, *, group: str = DR, location: str = "northeurope",
             subnet: str = "recovery_subnet_id") -> str:
    return str(network.create_nic(emu.world, subscription_id=demo["subscription_id"], resource_group=group, name=name,
                                  location=location, subnet_id=demo[subnet])["id"])


def _vm_body(nic_id: str, *, location: str = "northeurope", data_disks: list[dict[str, Any]] | None = None,
             **props: Any) -> dict[str, Any]:
    return {"location": location, "tags": {"env": "test"}, "properties": {
        "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
        "storageProfile": {
            "imageReference": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                               "sku": "2022-datacenter-azure-edition", "version": "latest"},
            "osDisk": {"createOption": "FromImage", "name": "vm-new-osdisk",
                       "managedDisk": {"storageAccountType": "StandardSSD_LRS"}},
            "dataDisks": data_disks or [{"lun": 0, "createOption": "Empty", "diskSizeGB": 256, "name": "vm-new-data0"}]},
        "osProfile": {"computerName": "vm-new", "adminUsername": "azureadmin", "adminPassword": "N0t-a-real-one!"},
        "networkProfile": {"networkInterfaces": [{"id": nic_id}]}, **props}}


def _error(err: HttpResponseError) -> tuple[int, str]:
    assert err.error is not None, err
    return err.status_code or 0, str(err.error.code)


# -- the shape of a VM -------------------------------------------------------------------------------

def test_demo_vm_looks_like_a_real_vm(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    vm = cc.virtual_machines.get(PROD, "s2d-node1")
    props = vm.properties
    assert vm.id == demo["vm_ids"][0] and vm.location == "westeurope" and vm.type == "Microsoft.Compute/virtualMachines"
    assert len(props.vm_id) == 36 and props.provisioning_state == "Succeeded"
    assert props.hardware_profile.vm_size == "Standard_D4s_v5"
    os_disk = props.storage_profile.os_disk
    assert (os_disk.name, os_disk.os_type, os_disk.disk_size_gb) == ("s2d-node1-osdisk", "Windows", 128)
    assert os_disk.managed_disk.id == demo["disk_ids"][0]
    assert os_disk.managed_disk.storage_account_type == "Premium_LRS"
    data = props.storage_profile.data_disks
    assert [(d.lun, d.name, d.disk_size_gb, d.managed_disk.storage_account_type) for d in data] == \
        [(0, "s2d-node1-data0", 1024, "Premium_LRS"), (1, "s2d-node1-data1", 1024, "Premium_LRS")]
    assert [d.managed_disk.id for d in data] == demo["disk_ids"][1:3]
    nics = props.network_profile.network_interfaces
    assert [(n.id, n.properties.primary) for n in nics] == [(demo["nic_ids"][0], True)]
    assert props.os_profile.computer_name == "s2d-node1" and props.os_profile.admin_password is None
    assert props.availability_set.id == demo["availability_set_id"]
    assert props.instance_view is None, "the instance view comes only with $expand=instanceView"


def test_instance_view_reports_power_state(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    vm = cc.virtual_machines.get(PROD, "s2d-node1", expand="instanceView")
    assert _power(vm) == "PowerState/running"
    view = vm.properties.instance_view
    assert view.computer_name == "s2d-node1" and view.vm_agent.statuses[0].display_status == "Ready"
    assert [d.name for d in view.disks] == ["s2d-node1-osdisk", "s2d-node1-data0", "s2d-node1-data1"]
    assert {view.platform_fault_domain for view in (cc.virtual_machines.instance_view(PROD, n)
                                                    for n in ("s2d-node1", "s2d-node2"))} == {0, 1}



def test_the_control_api_makes_a_vm_agent_not_ready_and_ready_again(emu: Emulator, demo: dict[str, Any],
                                                                    cc: ComputeManagementClient) -> None:
    reply = armhttp.control(emu, "PUT", "vm-agent", body={"status": "NotReady"}, query={"id": demo["vm_ids"][1]})
    assert reply.status == 200, reply.text
    agent = cc.virtual_machines.instance_view(PROD, "s2d-node2").vm_agent
    status = agent.statuses[0]
    assert (agent.vm_agent_version, status.code, status.level, status.display_status) == (
        "Unknown", "ProvisioningState/Unavailable", "Warning", "Not Ready")
    assert cc.virtual_machines.instance_view(PROD, "s2d-node1").vm_agent.statuses[0].display_status == "Ready"
    armhttp.control(emu, "PUT", "vm-agent", body={"status": "Ready"}, query={"id": demo["vm_ids"][1]})
    view = cc.virtual_machines.get(PROD, "s2d-node2", expand="instanceView").properties.instance_view
    assert view.vm_agent.statuses[0].display_status == "Ready"
    assert armhttp.control(emu, "PUT", "vm-agent", body={"status": "Sleepy"}, query={"id": demo["vm_ids"][1]}).status == 400

def test_power_actions_change_the_power_state(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    cc.virtual_machines.begin_deallocate(PROD, "s2d-node2").result()
    assert _power(cc.virtual_machines.get(PROD, "s2d-node2", expand="instanceView")) == "PowerState/deallocated"
    assert cc.disks.get(PROD, "s2d-node2-data0").properties.disk_state == "Reserved"
    assert guest.describe(emu.world, demo["vm_ids"][0])["nodes"][1]["state"] == "Down"

    with pytest.raises(ResourceExistsError) as caught:  # 409: restart needs a running VM
        cc.virtual_machines.begin_restart(PROD, "s2d-node2").result()
    assert caught.value.error.code == "OperationNotAllowed"

    cc.virtual_machines.begin_start(PROD, "s2d-node2").result()
    assert _power(cc.virtual_machines.get(PROD, "s2d-node2", expand="instanceView")) == "PowerState/running"
    assert cc.disks.get(PROD, "s2d-node2-data0").properties.disk_state == "Attached"
    assert guest.describe(emu.world, demo["vm_ids"][0])["nodes"][1]["state"] == "Up"

    cc.virtual_machines.begin_power_off(PROD, "s2d-node2").result()
    assert _power(cc.virtual_machines.get(PROD, "s2d-node2", expand="instanceView")) == "PowerState/stopped"


def test_power_action_shows_a_transitional_state_until_it_completes(emu: Emulator, demo: dict[str, Any],
                                                                    cc: ComputeManagementClient) -> None:
    cc.virtual_machines.begin_deallocate(PROD, "s2d-node1", polling=False)
    assert _power(cc.virtual_machines.get(PROD, "s2d-node1", expand="instanceView")) == "PowerState/deallocating"
    armhttp.drive_operations(emu)
    assert _power(cc.virtual_machines.get(PROD, "s2d-node1", expand="instanceView")) == "PowerState/deallocated"


def test_list_per_group_and_subscription(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    assert [vm.name for vm in cc.virtual_machines.list(PROD)] == ["s2d-node1", "s2d-node2"]
    assert [vm.name for vm in cc.virtual_machines.list(DR)] == []
    listed = list(cc.virtual_machines.list_all(expand="instanceView"))
    assert [_power(vm) for vm in listed] == ["PowerState/running", "PowerState/running"]


# -- create, update, delete --------------------------------------------------------------------------

def test_create_vm_creates_disks_attaches_nic_and_starts(emu: Emulator, demo: dict[str, Any],
                                                         cc: ComputeManagementClient, sdk: Any) -> None:
    nic_id = _new_nic(emu, demo, "vm-new-nic")
    since = emu.journal.last_seq
    vm = cc.virtual_machines.begin_create_or_update(DR, "vm-new", _vm_body(nic_id)).result()
    assert vm.properties.provisioning_state == "Succeeded"
    put = next(e for e in emu.journal.entries(since) if e.method == "PUT")
    assert put.status == 201
    assert any(e.poll for e in emu.journal.entries(since)), "the SDK polled the Azure-AsyncOperation URL"
    assert _power(cc.virtual_machines.get(DR, "vm-new", expand="instanceView")) == "PowerState/running"

    os_disk = cc.disks.get(DR, "vm-new-osdisk")
    assert (os_disk.sku.name, os_disk.properties.disk_size_gb, os_disk.properties.os_type) == ("StandardSSD_LRS", 127,
                                                                                                "Windows")
    assert os_disk.managed_by == vm.id
    data = cc.disks.get(DR, "vm-new-data0")
    assert (data.sku.name, data.properties.disk_size_gb, data.properties.tier) == ("Premium_LRS", 256, "P15")
    nic = sdk(NetworkManagementClient).network_interfaces.get(DR, "vm-new-nic")
    assert nic.properties.virtual_machine.id == vm.id


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"hardwareProfile": {"vmSize": "Huge"}}, 400, "InvalidParameter"),
    ({"osProfile": {"computerName": "a-name-that-is-too-long", "adminUsername": "x", "adminPassword": "y"}}, 400,
     "InvalidParameter"),
    ({"networkProfile": {"networkInterfaces": []}}, 400, "InvalidParameter"),
])
def test_create_vm_validation(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient,
                              change: dict[str, Any], status: int, code: str) -> None:
    body = _vm_body(_new_nic(emu, demo, "vm-new-nic"))
    body["properties"].update(change)
    with pytest.raises(HttpResponseError) as caught:
        cc.virtual_machines.begin_create_or_update(DR, "vm-new", body).result()
    assert _error(caught.value) == (status, code)
    assert emu.world.get(demo["recovery_resource_group_id"] + "/providers/Microsoft.Compute/disks/vm-new-osdisk") is None, \
        "a refused VM creates nothing"


def test_create_vm_refuses_a_nic_in_use_or_in_another_region(emu: Emulator, demo: dict[str, Any],
                                                             cc: ComputeManagementClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        cc.virtual_machines.begin_create_or_update(PROD, "vm-thief", _vm_body(demo["nic_ids"][0],
                                                                              location="westeurope")).result()
    assert _error(caught.value) == (400, "NicInUse")
    with pytest.raises(HttpResponseError) as caught:
        cc.virtual_machines.begin_create_or_update(DR, "vm-far", _vm_body(_new_nic(emu, demo, "nic-we", group=PROD,
                                                                                   location="westeurope",
                                                                                   subnet="source_subnet_id"))).result()
    assert _error(caught.value) == (400, "InvalidParameter")


def test_a_disk_serves_one_vm(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    body = _vm_body(_new_nic(emu, demo, "nic-1", group=PROD, location="westeurope", subnet="source_subnet_id"),
                    location="westeurope",
                    data_disks=[{"lun": 0, "createOption": "Attach", "managedDisk": {"id": demo["disk_ids"][1]}}])
    with pytest.raises(ResourceExistsError) as caught:
        cc.virtual_machines.begin_create_or_update(PROD, "vm-new", body).result()
    assert caught.value.error.code == "OperationNotAllowed"
    with pytest.raises(ResourceExistsError):
        cc.disks.begin_delete(PROD, "s2d-node1-data0").result()


def test_availability_set_and_zones_exclude_each_other(emu: Emulator, demo: dict[str, Any],
                                                       cc: ComputeManagementClient) -> None:
    body = _vm_body(_new_nic(emu, demo, "nic-1", group=PROD, location="westeurope", subnet="source_subnet_id"),
                    location="westeurope", availabilitySet={"id": demo["availability_set_id"]})
    body["zones"] = ["1"]
    with pytest.raises(HttpResponseError) as caught:
        cc.virtual_machines.begin_create_or_update(PROD, "vm-new", body).result()
    assert _error(caught.value) == (400, "InvalidParameter")


def test_update_tags_with_patch_replaces_the_tag_set(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    cc.virtual_machines.begin_update(PROD, "s2d-node1", {"tags": {"asr-s2d": "true", "owner": "x"}}).result()
    vm = cc.virtual_machines.begin_update(PROD, "s2d-node1", {"tags": {"asr-s2d": "true"}}).result()
    assert vm.tags == {"asr-s2d": "true"}
    assert vm.properties.storage_profile.data_disks[1].name == "s2d-node1-data1", "a tags PATCH leaves the VM alone"


def test_patch_can_attach_a_data_disk(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    disk = compute.add_disk(emu.world, subscription_id=demo["subscription_id"], resource_group=PROD, name="extra",
                            location="westeurope", size_gb=64)
    current = cc.virtual_machines.get(PROD, "s2d-node1").properties.storage_profile.data_disks
    disks = [{"lun": d.lun, "createOption": "Attach", "managedDisk": {"id": d.managed_disk.id}} for d in current]
    vm = cc.virtual_machines.begin_update(PROD, "s2d-node1", {"properties": {"storageProfile": {
        "dataDisks": [*disks, {"lun": 5, "createOption": "Attach", "managedDisk": {"id": disk["id"]}}]}}}).result()
    assert [d.lun for d in vm.properties.storage_profile.data_disks] == [0, 1, 5]
    assert cc.disks.get(PROD, "extra").managed_by == vm.id


def test_immutable_properties(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    vm = cc.virtual_machines.get(PROD, "s2d-node1")
    vm.properties.availability_set = None
    with pytest.raises(ResourceExistsError) as caught:
        cc.virtual_machines.begin_create_or_update(PROD, "s2d-node1", vm).result()
    assert caught.value.error.code == "PropertyChangeNotAllowed"
    moved = cc.virtual_machines.get(PROD, "s2d-node1")
    moved.location = "northeurope"
    with pytest.raises(HttpResponseError) as caught:
        cc.virtual_machines.begin_create_or_update(PROD, "s2d-node1", moved).result()
    assert _error(caught.value) == (400, "InvalidResourceLocation")


def test_nics_change_only_while_deallocated(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    second = _new_nic(emu, demo, "s2d-node1-nic2", group=PROD, location="westeurope", subnet="source_subnet_id")
    nics = [{"id": demo["nic_ids"][0], "properties": {"primary": True}}, {"id": second, "properties": {"primary": False}}]
    patch = {"properties": {"networkProfile": {"networkInterfaces": nics}}}
    with pytest.raises(ResourceExistsError) as caught:
        cc.virtual_machines.begin_update(PROD, "s2d-node1", patch).result()
    assert caught.value.error.code == "OperationNotAllowed"
    cc.virtual_machines.begin_deallocate(PROD, "s2d-node1").result()
    vm = cc.virtual_machines.begin_update(PROD, "s2d-node1", patch).result()
    assert len(vm.properties.network_profile.network_interfaces) == 2


def test_delete_vm_detaches_or_deletes_by_delete_option(emu: Emulator, demo: dict[str, Any],
                                                        cc: ComputeManagementClient, sdk: Any) -> None:
    net = sdk(NetworkManagementClient)
    cc.virtual_machines.begin_delete(PROD, "s2d-node2").result()
    with pytest.raises(ResourceNotFoundError):
        cc.virtual_machines.get(PROD, "s2d-node2")
    assert net.network_interfaces.get(PROD, "s2d-node2-nic").properties.virtual_machine is None
    disk = cc.disks.get(PROD, "s2d-node2-data0")
    assert disk.managed_by is None and disk.properties.disk_state == "Unattached"
    assert [v.id.lower() for v in cc.availability_sets.get(PROD, "avset-s2d").properties.virtual_machines] == \
        [demo["vm_ids"][0].lower()]

    nic_id = _new_nic(emu, demo, "vm-new-nic")
    body = _vm_body(nic_id)
    body["properties"]["storageProfile"]["osDisk"]["deleteOption"] = "Delete"
    body["properties"]["networkProfile"]["networkInterfaces"][0]["properties"] = {"deleteOption": "Delete"}
    cc.virtual_machines.begin_create_or_update(DR, "vm-new", body).result()
    cc.virtual_machines.begin_delete(DR, "vm-new").result()
    with pytest.raises(ResourceNotFoundError):
        cc.disks.get(DR, "vm-new-osdisk")
    with pytest.raises(ResourceNotFoundError):
        net.network_interfaces.get(DR, "vm-new-nic")
    assert cc.disks.get(DR, "vm-new-data0").managed_by is None, "the data disk's deleteOption was Detach"


def test_create_vm_helper_attaches_replica_disks(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    sub = demo["subscription_id"]
    os_disk = compute.add_disk(emu.world, subscription_id=sub, resource_group=DR, name="rep-os", location="northeurope",
                               size_gb=128, os_type="Windows", create_option="Copy")
    data = compute.add_disk(emu.world, subscription_id=sub, resource_group=DR, name="rep-d0", location="northeurope",
                            size_gb=1024)
    nic = network.create_nic(emu.world, subscription_id=sub, resource_group=DR, name="rep-nic", location="northeurope",
                             subnet_id=demo["recovery_subnet_id"], static_ip="10.20.1.4")
    vm = compute.create_vm(emu.world, subscription_id=sub, resource_group=DR, name="s2d-node1-dr", location="northeurope",
                           nic_ids=[nic["id"]], os_disk={"id": os_disk["id"]}, data_disks=[{"id": data["id"]}],
                           computer_name="s2d-node1", tags={"asr-s2d": "true"})
    got = cc.virtual_machines.get(DR, "s2d-node1-dr", expand="instanceView")
    assert got.properties.os_profile is None, "a specialized disk brings its own identity"
    assert got.properties.instance_view.computer_name == "s2d-node1"
    assert got.properties.storage_profile.os_disk.create_option == "Attach"
    assert got.tags == {"asr-s2d": "true"} and _power(got) == "PowerState/running"
    assert cc.disks.get(DR, "rep-d0").managed_by == vm["id"]
    compute.delete_vm(emu.world, vm["id"], delete_attached=True)
    assert emu.world.get(os_disk["id"]) is None and emu.world.get(nic["id"]) is None


# -- disks and availability sets ---------------------------------------------------------------------

def test_disks_get_list_and_create(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    disk = cc.disks.get(PROD, "s2d-node1-data0")
    assert (disk.sku.name, disk.properties.disk_size_gb, disk.properties.tier) == ("Premium_LRS", 1024, "P30")
    assert disk.managed_by == demo["vm_ids"][0] and disk.properties.disk_state == "Attached"
    assert len(list(cc.disks.list_by_resource_group(PROD))) == 6
    created = cc.disks.begin_create_or_update(DR, "d-new", {
        "location": "northeurope", "sku": {"name": "StandardSSD_LRS"},
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 32}}).result()
    assert (created.properties.provisioning_state, created.properties.disk_state) == ("Succeeded", "Unattached")
    with pytest.raises(HttpResponseError) as caught:
        cc.disks.begin_create_or_update(DR, "d-new", {"location": "northeurope",
                                                      "properties": {"diskSizeGB": 16}}).result()
    assert _error(caught.value) == (400, "InvalidParameter")
    assert [d.name for d in cc.disks.list()].count("d-new") == 1


def test_availability_set_lists_members_and_takes_tags(emu: Emulator, demo: dict[str, Any],
                                                       cc: ComputeManagementClient) -> None:
    avset = cc.availability_sets.get(PROD, "avset-s2d")
    members = [m.id for m in avset.properties.virtual_machines]
    assert [m.lower() for m in members] == [v.lower() for v in demo["vm_ids"]]
    assert members[0].endswith("/resourceGroups/RG-S2D-PROD/providers/Microsoft.Compute/virtualMachines/S2D-NODE1"), \
        "Azure upper-cases member IDs; callers must compare IDs case-insensitively"
    assert (avset.properties.platform_fault_domain_count, avset.sku.name) == (2, "Aligned")
    updated = cc.availability_sets.update(PROD, "avset-s2d", {"tags": {"asr-s2d": "true", "asr-s2d-cluster": "c1"}})
    assert updated.tags == {"asr-s2d": "true", "asr-s2d-cluster": "c1"}
    assert [(e.operation_name, e.resource_uri) for e in emu.events.published] == \
        [("Microsoft.Compute/availabilitySets/write", demo["availability_set_id"])]
    assert len(updated.properties.virtual_machines) == 2
    created = cc.availability_sets.create_or_update(DR, "avset-dr", {"location": "northeurope",
                                                                     "sku": {"name": "Aligned"},
                                                                     "properties": {"platformFaultDomainCount": 2}})
    assert created.properties.virtual_machines == []
    assert [a.name for a in cc.availability_sets.list_by_subscription()] == ["avset-dr", "avset-s2d"]


# -- run command rules ------------------------------------------------------------------------------------

def test_run_command_needs_a_running_vm(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    cc.virtual_machines.begin_deallocate(PROD, "s2d-node2").result()
    with pytest.raises(ResourceExistsError) as caught:
        cc.virtual_machines.begin_run_command(PROD, "s2d-node2", {"commandId": "RunPowerShellScript",
                                                                  "script": ["hostname"]}).result()
    assert caught.value.error.code == "Conflict"
    assert "running" in caught.value.error.message


def test_one_run_command_at_a_time(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    command = {"commandId": "RunPowerShellScript", "script": ["Start-Sleep 1"]}
    cc.virtual_machines.begin_run_command(PROD, "s2d-node1", command, polling=False)  # left in progress
    with pytest.raises(ResourceExistsError) as caught:
        cc.virtual_machines.begin_run_command(PROD, "s2d-node1", command).result()
    assert caught.value.error.code == "Conflict"
    cc.virtual_machines.begin_run_command(PROD, "s2d-node2", command).result()  # another VM is not blocked
    armhttp.drive_operations(emu)
    result = cc.virtual_machines.begin_run_command(PROD, "s2d-node1", command).result()
    assert result.value[0].code == "ComponentStatus/StdOut/succeeded"
    statuses = [r["status"] for r in runcommand.history(emu.world, demo["vm_ids"][0])]
    assert statuses == ["Succeeded", "Succeeded"]


def test_unknown_script_is_recorded_and_prints_nothing(emu: Emulator, demo: dict[str, Any],
                                                       cc: ComputeManagementClient) -> None:
    result = cc.virtual_machines.begin_run_command(PROD, "s2d-node1", {
        "commandId": "RunPowerShellScript", "script": ["param([string]$Name)", "Write-Output $Name"],
        "parameters": [{"name": "Name", "value": "x"}]}).result()
    assert [(s.code, s.message) for s in result.value] == [("ComponentStatus/StdOut/succeeded", ""),
                                                          ("ComponentStatus/StdErr/succeeded", "")]
    [run] = armhttp.control(emu, "GET", "guest/run-commands", query={"id": demo["vm_ids"][0]}).body
    assert run["script"] == ["param([string]$Name)", "Write-Output $Name"]
    assert run["parameters"] == [{"name": "Name", "value": "x"}] and run["command"] is None


def test_run_command_validates_the_command(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        cc.virtual_machines.begin_run_command(PROD, "s2d-node1", {"commandId": "RunShellScript",
                                                                  "script": ["ls"]}).result()
    assert _error(caught.value) == (400, "InvalidParameter")


def test_run_command_output_is_trimmed_to_the_last_4096_bytes() -> None:
    """Through the SDK in test_guest_model (warnings before the result); here the byte arithmetic."""
    assert runcommand.trim("x" * 5000) == "x" * 4096
    assert runcommand.trim("é" * 3000).encode() == ("é" * 2048).encode(), "never a split character"
    assert runcommand.trim("short") == "short"
