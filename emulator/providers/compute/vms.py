"""Virtual machines: create and update rules (NICs, OS and data disks, availability set, immutable
properties), power state changes, deletion by ``deleteOption``, and the instance view.

Validation runs to the end before anything is written, so a refused PUT leaves the world as it was.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.lro import utcnow_iso
from emulator.core.world import World
from emulator.providers.compute import guest, timing
from emulator.providers.compute.availability_sets import sync_avset, upper_id
from emulator.providers.compute.disks import checked_size, disk_json, set_disk_owner
from emulator.providers.compute.power import POWER_DISPLAY, POWER_STATES, RUNTIME, bump_etag, computer_name, power_state, runtime
from emulator.providers.compute.proximity_placement_groups import sync_ppg
from emulator.providers.compute.schema import DEFAULT_IMAGE, DISK, DISK_SKUS, VM, VM_SHAPE, VM_SIZE, enum, invalid
from emulator.providers.conventions import (
    check_name,
    check_same_location,
    check_shape,
    field,
    items,
    location_of,
    obj,
    parse_id,
    ref,
    reference,
    resource_id,
    same_id,
    tags_of,
)
from emulator.providers.network import state as network


def set_power_state(world: World, vm_id: str, state: str) -> None:
    """Set a VM's power state (no ARM event); disks and the in-guest cluster node follow."""
    if state not in POWER_STATES:
        raise ValueError(f"power state must be one of {POWER_STATES}")
    vm = world.get(vm_id)
    if vm is None:
        raise ArmError(404, "ResourceNotFound", f"The Resource '{VM}/{vm_id.rsplit('/', 1)[-1]}' was not found.")
    counters = runtime(world, vm["id"])
    if state == "running" and counters["power"] != "running":
        counters["booted"] = timing.now(world)  # the guest boots: its agent and cluster start over (``timing``)
    counters["power"] = state
    for disk_id in _disk_ids(vm):
        set_disk_owner(world, disk_id, vm["id"], power=state)
    if state in ("running", "stopped", "deallocated"):
        guest.on_power_change(world, vm["id"], running=state == "running")


def _disk_ids(vm: dict[str, Any]) -> list[str]:
    storage = vm["properties"]["storageProfile"]
    disks = [storage["osDisk"], *storage.get("dataDisks", [])]
    return [d["managedDisk"]["id"] for d in disks if d.get("managedDisk", {}).get("id")]


def _nic_ids(vm: dict[str, Any]) -> list[str]:
    return [n["id"] for n in vm["properties"]["networkProfile"]["networkInterfaces"]]


def put_virtual_machine(world: World, *, vm_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or update a VM from an ARM request body: validates everything first, then creates/attaches
    disks, attaches NICs, stores the VM and refreshes its availability set. Returns the stored VM."""
    check_shape(body, VM_SHAPE)
    existing = world.get(vm_id)
    vm_id = existing["id"] if existing else vm_id
    name = vm_id.rsplit("/", 1)[-1]
    check_name(name, kind="a virtual machine", max_length=64)
    location = location_of(body)
    assert location is not None
    tags = tags_of(body)
    check_same_location(existing, location)
    props = obj(body, "properties", path="", required=True)
    hardware = obj(props, "hardwareProfile", path="properties", required=True)
    vm_size = field(hardware, "vmSize", str, path="properties.hardwareProfile", required=True)
    if not VM_SIZE.match(vm_size):
        raise invalid(f"The value {vm_size} provided for the VM size is not valid.", "properties.hardwareProfile.vmSize")
    zones = [str(z) for z in field(body, "zones", list, path="", default=[])]
    if any(z not in ("1", "2", "3") for z in zones):
        raise invalid(f"Zones {zones} are not valid; use '1', '2' or '3'.", "zones")
    avset_id = reference(props, "availabilitySet", path="properties")
    avset = _check_avset(world, avset_id, location=location, zones=zones, existing=existing)
    ppg = _check_ppg(world, reference(props, "proximityPlacementGroup", path="properties"), location=location)
    storage = obj(props, "storageProfile", path="properties", required=True)
    plan = _DiskPlan(world, vm_id=vm_id, location=location, existing=existing)
    os_disk = plan.os_disk(obj(storage, "osDisk", path="properties.storageProfile", required=True),
                           image=obj(storage, "imageReference", path="properties.storageProfile"),
                           has_os_profile=bool(props.get("osProfile")))
    data_disks = plan.data_disks(items(storage, "dataDisks", path="properties.storageProfile"))
    os_profile = _os_profile(props, name=name, os_type=os_disk["osType"], existing=existing,
                             attached=os_disk["createOption"] == "Attach")
    nics = _network_interfaces(world, props, vm_id=vm_id, location=location, existing=existing)

    # Everything is valid: apply.
    for disk in plan.new_disks:
        world.put(disk)
    storage_out: dict[str, Any] = {"osDisk": os_disk, "dataDisks": data_disks, "diskControllerType": "SCSI"}
    if existing and "imageReference" in existing["properties"]["storageProfile"]:
        storage_out["imageReference"] = existing["properties"]["storageProfile"]["imageReference"]
    elif os_disk["createOption"] == "FromImage":
        storage_out["imageReference"] = {**(plan.image or DEFAULT_IMAGE), "exactVersion": "20348.2849.241106"}
    vm_props: dict[str, Any] = {
        "vmId": existing["properties"]["vmId"] if existing else str(uuid.uuid4()),
        "timeCreated": existing["properties"]["timeCreated"] if existing else utcnow_iso(),
        "hardwareProfile": {"vmSize": vm_size},
        "storageProfile": storage_out,
        "networkProfile": {"networkInterfaces": nics},
        "provisioningState": "Succeeded",
    }
    if os_profile:
        vm_props["osProfile"] = os_profile
    if avset:
        vm_props["availabilitySet"] = ref(avset["id"])
    if ppg:
        vm_props["proximityPlacementGroup"] = ref(ppg["id"])
    for key in ("diagnosticsProfile", "securityProfile", "additionalCapabilities"):
        value = field(props, key, dict, path="properties")
        if value:
            vm_props[key] = value
    license_type = field(props, "licenseType", str, path="properties")
    if license_type:
        vm_props["licenseType"] = license_type
    vm: dict[str, Any] = {"id": vm_id, "name": name, "type": VM, "location": location, "tags": tags,
                          "properties": vm_props}
    if zones:
        vm["zones"] = zones
    power = power_state(world, vm_id) if existing else "starting"
    for disk_id in _disk_ids(existing) if existing else []:
        if not any(same_id(disk_id, d) for d in _disk_ids(vm)):
            set_disk_owner(world, disk_id, None)
    for disk_id in _disk_ids(vm):
        set_disk_owner(world, disk_id, vm_id, power=power)
    old_nics = _nic_ids(existing) if existing else []
    for nic_id in old_nics:
        if not any(same_id(nic_id, n) for n in _nic_ids(vm)):
            network.detach_nic(world, nic_id)
    for nic in nics:
        network.attach_nic(world, nic["id"], vm_id, primary=nic["properties"]["primary"])
    if existing is None:
        runtime(world, vm_id)["power"] = power
    bump_etag(world, vm)
    world.put(vm)
    sync_avset(world, avset["id"] if avset else None)
    before_ppg = ((existing or {"properties": {}})["properties"].get("proximityPlacementGroup") or {}).get("id")
    for ppg_id in {before_ppg, ppg["id"] if ppg else None}:
        sync_ppg(world, ppg_id)
    return vm


def _check_avset(world: World, avset_id: str | None, *, location: str, zones: list[str],
                 existing: dict[str, Any] | None) -> dict[str, Any] | None:
    before = (existing or {"properties": {}})["properties"].get("availabilitySet", {}).get("id")
    if existing is not None and not (before is None and avset_id is None) and not same_id(before, avset_id):
        raise ArmError(409, "PropertyChangeNotAllowed", "Changing property 'availabilitySet.id' is not allowed.",
                       details=[{"code": "PropertyChangeNotAllowed", "target": "availabilitySet.id",
                                 "message": "Changing property 'availabilitySet.id' is not allowed."}])
    if existing is not None and sorted(existing.get("zones", [])) != sorted(zones):
        raise ArmError(409, "PropertyChangeNotAllowed", "Changing property 'zones' is not allowed.")
    if avset_id is None:
        return None
    if zones:
        raise invalid("A virtual machine in an availability set cannot be placed in availability zones.", "zones")
    avset = world.get(avset_id)
    if avset is None or avset["location"] != location:
        raise invalid(f"Availability set {avset_id} was not found in location {location}.",
                       "properties.availabilitySet.id")
    return avset


def _check_ppg(world: World, ppg_id: str | None, *, location: str) -> dict[str, Any] | None:
    """A proximity placement group is a regional resource the VM must find in its own region
    (``proximity_placement_groups``' sources)."""
    if ppg_id is None:
        return None
    ppg = world.get(ppg_id)
    if ppg is None or ppg["location"] != location:
        raise invalid(f"Proximity placement group {ppg_id} was not found in location {location}.",
                      "properties.proximityPlacementGroup.id")
    return ppg


class _DiskPlan:
    """Works out the VM's disks (new, attached, kept) without touching the world until the VM is valid."""

    def __init__(self, world: World, *, vm_id: str, location: str, existing: dict[str, Any] | None) -> None:
        self.world, self.vm_id, self.location, self.existing = world, vm_id, location, existing
        parsed = parse_id(vm_id)
        assert parsed is not None and parsed.resource_group is not None
        self.subscription, self.group = parsed.subscription, parsed.resource_group
        self.vm_name = parsed.name
        self.new_disks: list[dict[str, Any]] = []
        self.image: dict[str, Any] | None = None
        self._claimed: set[str] = set()

    def _attachable(self, disk_id: str, *, where: str) -> dict[str, Any]:
        disk = self.world.get(disk_id)
        if disk is None:
            raise ArmError(404, "NotFound", f"Disk {disk_id} was not found.",
                           details=[{"code": "NotFound", "target": where, "message": f"Disk {disk_id} was not found."}])
        owner = disk.get("managedBy")
        if owner and not same_id(owner, self.vm_id):
            raise ArmError(409, "OperationNotAllowed",
                           f"Cannot attach disk {disk['name']} since it is already attached to VM {owner}.")
        if disk["location"] != self.location:
            raise invalid(f"Disk {disk['name']} is in {disk['location']}; the VM is in {self.location}.", where)
        if disk["id"].lower() in self._claimed:
            raise invalid(f"Disk {disk['name']} is used twice by this VM.", where)
        self._claimed.add(disk["id"].lower())
        return disk

    def _new_disk(self, name: str, *, sku: str, size_gb: int, option: str, os_type: str | None) -> dict[str, Any]:
        check_name(name, kind="a managed disk")
        disk_id = resource_id(self.subscription, self.group, DISK, name)
        if self.world.exists(disk_id) or any(same_id(d["id"], disk_id) for d in self.new_disks):
            raise ArmError(409, "Conflict", f"Disk {name} already exists in resource group {self.group}; attach it "
                                            "with createOption 'Attach' instead.")
        disk = disk_json(disk_id, location=self.location, sku=sku, size_gb=size_gb, create_option=option, tags={},
                          os_type=os_type, image=self.image)
        self.new_disks.append(disk)
        self._claimed.add(disk_id.lower())
        return disk

    def os_disk(self, given: dict[str, Any], *, image: dict[str, Any], has_os_profile: bool) -> dict[str, Any]:
        path = "properties.storageProfile.osDisk"
        managed = obj(given, "managedDisk", path=path)
        if self.existing is not None:
            current = copy.deepcopy(self.existing["properties"]["storageProfile"]["osDisk"])
            wanted = field(managed, "id", str, path=f"{path}.managedDisk")
            if wanted and not same_id(wanted, current["managedDisk"]["id"]):
                raise ArmError(409, "PropertyChangeNotAllowed", "Changing property 'osDisk.managedDisk.id' is not allowed.")
            self._claimed.add(current["managedDisk"]["id"].lower())
            return current
        option = enum(given.get("createOption"), ("FromImage", "Attach"), where=f"{path}.createOption")
        delete_option = enum(given.get("deleteOption"), ("Delete", "Detach"), where=f"{path}.deleteOption",
                              default="Detach")
        caching = enum(given.get("caching"), ("None", "ReadOnly", "ReadWrite"), where=f"{path}.caching",
                        default="ReadWrite")
        if option == "Attach":
            if has_os_profile:
                raise invalid("Parameter 'osProfile' is not allowed.", "properties.osProfile")
            disk_id = field(managed, "id", str, path=f"{path}.managedDisk", required=True)
            disk = self._attachable(disk_id, where=f"{path}.managedDisk.id")
            os_type = enum(given.get("osType") or disk["properties"].get("osType"), ("Windows", "Linux"),
                            where=f"{path}.osType")
            disk["properties"]["osType"] = os_type
        else:
            if not image:
                raise invalid("Required parameter 'imageReference' is missing (null).",
                               "properties.storageProfile.imageReference")
            self.image = dict(image)
            inferred = "Windows" if "windows" in str(image.get("publisher", "")).lower() else "Linux"
            os_type = enum(given.get("osType"), ("Windows", "Linux"), where=f"{path}.osType", default=inferred)
            name = field(given, "name", str, path=path) or f"{self.vm_name}_OsDisk_1_{uuid.uuid4().hex}"
            sku = enum(managed.get("storageAccountType"), DISK_SKUS, where=f"{path}.managedDisk.storageAccountType",
                        default="Premium_LRS")
            size = given.get("diskSizeGB")
            disk = self._new_disk(name, sku=sku, size_gb=checked_size(size, where=f"{path}.diskSizeGB") if size is not None
                                  else (127 if os_type == "Windows" else 30), option="FromImage", os_type=os_type)
        return {"osType": os_type, "name": disk["name"], "createOption": option, "caching": caching,
                "managedDisk": {"id": disk["id"], "storageAccountType": disk["sku"]["name"]},
                "deleteOption": delete_option, "diskSizeGB": disk["properties"]["diskSizeGB"]}

    def data_disks(self, given: list[dict[str, Any]]) -> list[dict[str, Any]]:
        current = {d["lun"]: d for d in (self.existing or {"properties": {"storageProfile": {}}})
                   ["properties"]["storageProfile"].get("dataDisks", [])}
        out: list[dict[str, Any]] = []
        luns: set[int] = set()
        for index, item in enumerate(given):
            path = f"properties.storageProfile.dataDisks[{index}]"
            lun = field(item, "lun", int, path=path, required=True)
            if not 0 <= lun <= 63:
                raise invalid(f"LUN {lun} is out of range (0-63).", f"{path}.lun")
            if lun in luns:
                raise invalid(f"LUN {lun} is used by more than one data disk.", f"{path}.lun")
            luns.add(lun)
            if field(item, "toBeDetached", bool, path=path, default=False):
                continue  # ARM detaches a disk flagged toBeDetached
            managed = obj(item, "managedDisk", path=path)
            wanted = field(managed, "id", str, path=f"{path}.managedDisk")
            kept = current.get(lun)
            if kept is not None and (wanted is None or same_id(wanted, kept["managedDisk"]["id"])):
                entry = copy.deepcopy(kept)
                entry["caching"] = enum(item.get("caching"), ("None", "ReadOnly", "ReadWrite"), where=f"{path}.caching",
                                         default=kept["caching"])
                self._claimed.add(kept["managedDisk"]["id"].lower())
                out.append(entry)
                continue
            option = enum(item.get("createOption"), ("Empty", "Attach"), where=f"{path}.createOption")
            if option == "Attach":
                disk = self._attachable(field(managed, "id", str, path=f"{path}.managedDisk", required=True),
                                        where=f"{path}.managedDisk.id")
            else:
                size = item.get("diskSizeGB")
                if size is None:
                    raise invalid("Required parameter 'diskSizeGB' is missing (null).", f"{path}.diskSizeGB")
                sku = enum(managed.get("storageAccountType"), DISK_SKUS,
                            where=f"{path}.managedDisk.storageAccountType", default="Premium_LRS")
                name = field(item, "name", str, path=path) or f"{self.vm_name}_disk{lun + 2}_{uuid.uuid4().hex}"
                disk = self._new_disk(name, sku=sku, size_gb=checked_size(size, where=f"{path}.diskSizeGB"), option="Empty",
                                      os_type=None)
            out.append({"lun": lun, "name": disk["name"], "createOption": option,
                        "caching": enum(item.get("caching"), ("None", "ReadOnly", "ReadWrite"), where=f"{path}.caching",
                                         default="None"),
                        "writeAcceleratorEnabled": False,
                        "managedDisk": {"id": disk["id"], "storageAccountType": disk["sku"]["name"]},
                        "deleteOption": enum(item.get("deleteOption"), ("Delete", "Detach"),
                                              where=f"{path}.deleteOption", default="Detach"),
                        "diskSizeGB": disk["properties"]["diskSizeGB"], "toBeDetached": False})
        return sorted(out, key=lambda d: d["lun"])


def _os_profile(props: dict[str, Any], *, name: str, os_type: str, existing: dict[str, Any] | None,
                attached: bool) -> dict[str, Any] | None:
    if existing is not None:
        return copy.deepcopy(existing["properties"].get("osProfile"))
    if attached:
        return None  # a specialized (attached) OS disk brings its own identity
    given = obj(props, "osProfile", path="properties", required=True)
    computer = field(given, "computerName", str, path="properties.osProfile") or name[:15]
    if os_type == "Windows" and len(computer) > 15:
        raise invalid("Windows computer name cannot be more than 15 characters long.", "properties.osProfile.computerName")
    user = field(given, "adminUsername", str, path="properties.osProfile", required=True)
    password = field(given, "adminPassword", str, path="properties.osProfile")
    if os_type == "Windows" and not password:
        raise invalid("Required parameter 'adminPassword' is missing (null).", "properties.osProfile.adminPassword")
    profile: dict[str, Any] = {"computerName": computer, "adminUsername": user, "secrets": [],
                               "allowExtensionOperations": True, "requireGuestProvisionSignal": True}
    if os_type == "Windows":
        profile["windowsConfiguration"] = {"provisionVMAgent": True, "enableAutomaticUpdates": True,
                                           "patchSettings": {"patchMode": "AutomaticByOS", "assessmentMode": "ImageDefault"}}
    else:
        profile["linuxConfiguration"] = {"disablePasswordAuthentication": not password, "provisionVMAgent": True,
                                         "patchSettings": {"patchMode": "ImageDefault", "assessmentMode": "ImageDefault"}}
    return profile


def _network_interfaces(world: World, props: dict[str, Any], *, vm_id: str, location: str,
                        existing: dict[str, Any] | None) -> list[dict[str, Any]]:
    profile = obj(props, "networkProfile", path="properties", required=True)
    given = items(profile, "networkInterfaces", path="properties.networkProfile")
    if not given:
        raise invalid("At least one network interface is required.", "properties.networkProfile.networkInterfaces")
    out: list[dict[str, Any]] = []
    for index, item in enumerate(given):
        path = f"properties.networkProfile.networkInterfaces[{index}]"
        nic_id = field(item, "id", str, path=path, required=True)
        nic = world.get(nic_id)
        if nic is None:
            raise invalid(f"Network interface {nic_id} was not found.", f"{path}.id")
        if nic["location"] != location:
            raise invalid(f"Network interface {nic['id']} is in {nic['location']}; the VM is in {location}. A VM and "
                           "its network interfaces must be in the same region.", f"{path}.id")
        owner = nic["properties"].get("virtualMachine", {}).get("id")
        if owner and not same_id(owner, vm_id):
            raise ArmError(400, "NicInUse", f"Network Interface {nic['id']} is used by existing resource {owner}. In "
                                            "order to delete the network interface, it must be dissociated from the "
                                            "resource. To learn more, see aka.ms/deletenic.")
        if any(same_id(nic["id"], o["id"]) for o in out):
            raise invalid(f"Network interface {nic['id']} is listed twice.", f"{path}.id")
        nic_props = obj(item, "properties", path=path)
        out.append({"id": nic["id"], "properties": {
            "primary": field(nic_props, "primary", bool, path=f"{path}.properties", default=False),
            "deleteOption": enum(nic_props.get("deleteOption"), ("Delete", "Detach"),
                                  where=f"{path}.properties.deleteOption", default="Detach")}})
    if len(out) == 1:
        out[0]["properties"]["primary"] = True
    elif sum(1 for n in out if n["properties"]["primary"]) != 1:
        raise invalid("Virtual machine must have exactly one network interface set as the primary.",
                       "properties.networkProfile.networkInterfaces")
    if existing is not None:
        before = sorted(n.lower() for n in _nic_ids(existing))
        after = sorted(n["id"].lower() for n in out)
        if before != after and power_state(world, existing["id"]) != "deallocated":
            raise ArmError(409, "OperationNotAllowed",
                           "Network interfaces can be added to or removed from a virtual machine only while it is "
                           "stopped (deallocated).")
    return out


def create_vm(world: World, *, subscription_id: str, resource_group: str, name: str, location: str,
              nic_ids: Sequence[str], vm_size: str = "Standard_D4s_v5", os_disk: dict[str, Any] | None = None,
              data_disks: Sequence[dict[str, Any]] = (), tags: dict[str, str] | None = None,
              availability_set_id: str | None = None, zones: Sequence[str] | None = None,
              proximity_placement_group_id: str | None = None, power_state: str = "running",
              computer_name: str | None = None, os_type: str = "Windows",
              delete_option: str = "Detach") -> dict[str, Any]:
    """Create a VM under the same rules as a PUT, already provisioned (no LRO, no ARM event).

    ``nic_ids``: existing NICs in ``location``; the first is primary.
    ``os_disk``: ``{"id": disk_id}`` attaches an existing managed disk (a specialized disk, as ASR's
    failover does: no osProfile); otherwise ``{"name", "size_gb" (128), "sku" ("Premium_LRS")}`` creates
    one from the default Windows Server image (``computer_name`` defaults to ``name``).
    ``data_disks``: each ``{"id": disk_id}`` (attach) or ``{"name", "size_gb", "sku"}`` (new, empty);
    optional ``"lun"`` (default: the position). ``delete_option`` ("Detach"/"Delete") applies to disks and
    NICs when the VM is deleted. Returns the stored VM.
    """
    spec = dict(os_disk or {})
    if "id" in spec:
        storage: dict[str, Any] = {"osDisk": {"createOption": "Attach", "osType": os_type, "deleteOption": delete_option,
                                              "managedDisk": {"id": spec["id"]}}}
        os_profile = None
    else:
        storage = {"imageReference": dict(DEFAULT_IMAGE), "osDisk": {
            "createOption": "FromImage", "osType": os_type, "name": spec.get("name", f"{name}-osdisk"),
            "diskSizeGB": spec.get("size_gb", 128), "deleteOption": delete_option,
            "managedDisk": {"storageAccountType": spec.get("sku", "Premium_LRS")}}}
        os_profile = {"computerName": computer_name or name[:15], "adminUsername": "azureadmin",
                      "adminPassword": uuid.uuid4().hex + "Aa1!"}
    storage["dataDisks"] = []
    for position, disk in enumerate(data_disks):
        lun = disk.get("lun", position)
        if "id" in disk:
            storage["dataDisks"].append({"lun": lun, "createOption": "Attach", "deleteOption": delete_option,
                                         "managedDisk": {"id": disk["id"]}})
        else:
            storage["dataDisks"].append({"lun": lun, "createOption": "Empty", "name": disk["name"],
                                         "diskSizeGB": disk.get("size_gb", 1024), "deleteOption": delete_option,
                                         "managedDisk": {"storageAccountType": disk.get("sku", "Premium_LRS")}})
    props: dict[str, Any] = {
        "hardwareProfile": {"vmSize": vm_size}, "storageProfile": storage,
        "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": index == 0,
                                                                               "deleteOption": delete_option}}
                                                 for index, nic_id in enumerate(nic_ids)]}}
    if os_profile:
        props["osProfile"] = os_profile
    if availability_set_id:
        props["availabilitySet"] = {"id": availability_set_id}
    if proximity_placement_group_id:
        props["proximityPlacementGroup"] = {"id": proximity_placement_group_id}
    body: dict[str, Any] = {"location": location, "tags": dict(tags or {}), "properties": props}
    if zones:
        body["zones"] = list(zones)
    vm = put_virtual_machine(world, vm_id=resource_id(subscription_id, resource_group, VM, name), body=body)
    if computer_name and "osProfile" not in vm["properties"]:
        runtime(world, vm["id"])["computer_name"] = computer_name
    set_power_state(world, vm["id"], power_state)
    return vm


def delete_vm(world: World, vm_id: str, *, delete_attached: bool | None = None) -> dict[str, Any] | None:
    """Delete a VM. Its NICs and disks are deleted when their ``deleteOption`` is Delete (or all of them with
    ``delete_attached=True``; none with ``False``), otherwise detached. Returns the deleted VM, or None."""
    vm = world.get(vm_id)
    if vm is None:
        return None
    storage = vm["properties"]["storageProfile"]
    world.delete(vm["id"])
    for disk in [storage["osDisk"], *storage.get("dataDisks", [])]:
        disk_id = disk["managedDisk"]["id"]
        set_disk_owner(world, disk_id, None)
        if delete_attached or (delete_attached is None and disk.get("deleteOption") == "Delete"):
            world.delete(disk_id)
    for nic in vm["properties"]["networkProfile"]["networkInterfaces"]:
        network.detach_nic(world, nic["id"])
        if delete_attached or (delete_attached is None and nic["properties"].get("deleteOption") == "Delete"):
            network.delete_nic(world, nic["id"])
    sync_avset(world, (vm["properties"].get("availabilitySet") or {}).get("id"))
    sync_ppg(world, (vm["properties"].get("proximityPlacementGroup") or {}).get("id"))
    guest.forget_vm(world, vm["id"])
    world.extras.get(RUNTIME, {}).pop(vm["id"].lower(), None)
    return vm


def instance_view(world: World, vm: dict[str, Any]) -> dict[str, Any]:
    """``VirtualMachineInstanceView`` as ARM builds it from the VM's provisioning and power state."""
    now = utcnow_iso()
    power = power_state(world, vm["id"])
    provisioning = vm["properties"]["provisioningState"]
    statuses = [{"code": f"ProvisioningState/{provisioning.lower()}", "level": "Info",
                 "displayStatus": f"Provisioning {provisioning.lower()}", "time": now},
                {"code": f"PowerState/{power}", "level": "Info", "displayStatus": POWER_DISPLAY[power]}]
    view: dict[str, Any] = {
        "osName": "Windows Server 2022 Datacenter Azure Edition", "osVersion": "10.0.20348.2849",
        "hyperVGeneration": "V2",
        "disks": [{"name": d["name"], "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                                                      "displayStatus": "Provisioning succeeded", "time": now}]}
                  for d in [vm["properties"]["storageProfile"]["osDisk"], *vm["properties"]["storageProfile"]["dataDisks"]]],
        "statuses": statuses,
    }
    if power == "running":
        view["computerName"] = computer_name(world, vm["id"])
        view["vmAgent"] = _vm_agent(world, vm["id"], now)
    avset_id = (vm["properties"].get("availabilitySet") or {}).get("id")
    avset = world.get(avset_id) if avset_id else None
    if avset is not None:
        members = [m["id"].lower() for m in avset["properties"]["virtualMachines"]]
        position = members.index(upper_id(vm["id"]).lower()) if upper_id(vm["id"]).lower() in members else 0
        view["platformFaultDomain"] = position % avset["properties"]["platformFaultDomainCount"]
        view["platformUpdateDomain"] = position % avset["properties"]["platformUpdateDomainCount"]
    return view


AGENT_STATES = ("Ready", "NotReady")


def set_vm_agent(world: World, vm_id: str, status: str | None) -> None:
    """Pin what the VM's guest agent reports (no ARM event): ``Ready``, or ``NotReady`` (an agent that stopped, hung
    or was never installed; a recovered VM's agent before it has started); ``None`` drops the pin, and the agent
    follows the VM's boot again (``agent_ready``)."""
    if status is not None and status not in AGENT_STATES:
        raise ValueError(f"agent status must be one of {AGENT_STATES}")
    vm = world.get(vm_id)
    if vm is None:
        raise KeyError(vm_id)
    counters = runtime(world, vm["id"])
    if status is None:
        counters.pop("agent", None)
    else:
        counters["agent"] = status


def agent_ready(world: World, vm_id: str) -> bool:
    """Whether the VM's agent reports Ready: a pin (``set_vm_agent``) wins; a node of a cluster pinned ``booting``
    (``guest.pin_stage``) is not Ready; otherwise the agent is Ready once the VM has run ``agent-ready`` since it
    booted (``timing``: at once on the instant clock). A VM that is not running has no agent answering."""
    if power_state(world, vm_id) != "running":
        return False
    counters = runtime(world, vm_id)
    if "agent" in counters:
        return bool(counters["agent"] == "Ready")
    if guest.pinned_stage(world, vm_id) == "booting":
        return False
    return timing.now(world) - float(counters.get("booted", 0.0)) >= timing.seconds(world, "agent-ready")


def _vm_agent(world: World, vm_id: str, now: str) -> dict[str, Any]:
    """``VirtualMachineAgentInstanceView`` of a running VM. Ready is what a healthy agent reports; Not Ready is the
    answer of the REST reference's instance-view example (learn.microsoft.com/rest/api/compute/
    virtual-machine-scale-set-vms/get-instance-view: version ``Unknown``, ``ProvisioningState/Unavailable``,
    level Warning, "Not Ready", "VM status blob is found but not yet populated.")."""
    if not agent_ready(world, vm_id):
        return {"vmAgentVersion": "Unknown", "extensionHandlers": [], "statuses": [
            {"code": "ProvisioningState/Unavailable", "level": "Warning", "displayStatus": "Not Ready",
             "message": "VM status blob is found but not yet populated.", "time": now}]}
    return {"vmAgentVersion": "2.7.41491.1102", "extensionHandlers": [], "statuses": [
        {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Ready",
         "message": "GuestAgent is running and processing the extensions.", "time": now}]}


def render_vm(world: World, vm: dict[str, Any], *, expand_instance_view: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(vm)
    if expand_instance_view:
        out["properties"]["instanceView"] = instance_view(world, vm)
    return out
