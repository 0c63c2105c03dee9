"""Managed disks: SKU tiers and their performance, sizes that only grow, a SKU that changes only while the
VM is deallocated, and the one VM a disk serves (``managedBy``, ``diskState``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.lro import utcnow_iso
from emulator.core.world import World
from emulator.providers.compute.power import power_state
from emulator.providers.compute.schema import DISK, DISK_SHAPE, DISK_SKUS, enum, invalid
from emulator.providers.conventions import (
    check_name,
    check_same_location,
    check_shape,
    field,
    location_of,
    obj,
    resource_id,
    tags_of,
)

# Premium SSD performance tiers: (largest size in GiB, tier, IOPS, MBps).
_PREMIUM_TIERS = ((4, "P1", 120, 25), (8, "P2", 120, 25), (16, "P3", 120, 25), (32, "P4", 120, 25),
                  (64, "P6", 240, 50), (128, "P10", 500, 100), (256, "P15", 1100, 125), (512, "P20", 2300, 150),
                  (1024, "P30", 5000, 200), (2048, "P40", 7500, 250), (4096, "P50", 7500, 250),
                  (8192, "P60", 16000, 500), (16384, "P70", 18000, 750), (32767, "P80", 20000, 900))


def _performance(sku: str, size_gb: int) -> tuple[str | None, int, int]:
    if sku.startswith("Premium") and sku != "PremiumV2_LRS":
        for limit, tier, iops, mbps in _PREMIUM_TIERS:
            if size_gb <= limit:
                return tier, iops, mbps
    if sku.startswith("StandardSSD"):
        return None, 500 if size_gb <= 4096 else 2000, 60 if size_gb <= 4096 else 400
    return None, 500, 60


def disk_json(disk_id: str, *, location: str, sku: str, size_gb: int, create_option: str, tags: dict[str, str],
               os_type: str | None = None, zones: Sequence[str] | None = None,
               image: dict[str, Any] | None = None, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    tier, iops, mbps = _performance(sku, size_gb)
    creation: dict[str, Any] = {"createOption": create_option}
    if image:
        creation["imageReference"] = {"id": (
            f"/Subscriptions/{disk_id.split('/')[2]}/Providers/Microsoft.Compute/Locations/{location}/Publishers/"
            f"{image.get('publisher')}/ArtifactTypes/VMImage/Offers/{image.get('offer')}/Skus/{image.get('sku')}/"
            f"Versions/{image.get('version')}")}
    props: dict[str, Any] = {
        "creationData": existing["properties"]["creationData"] if existing else creation,
        "diskSizeGB": size_gb, "diskSizeBytes": size_gb * 1024 ** 3,
        "uniqueId": existing["properties"]["uniqueId"] if existing else str(uuid.uuid4()),
        "provisioningState": "Succeeded", "diskIOPSReadWrite": iops, "diskMBpsReadWrite": mbps,
        "diskState": existing["properties"]["diskState"] if existing else "Unattached",
        "encryption": {"type": "EncryptionAtRestWithPlatformKey"}, "networkAccessPolicy": "AllowAll",
        "publicNetworkAccess": "Enabled", "timeCreated": existing["properties"]["timeCreated"] if existing else utcnow_iso(),
    }
    if tier:
        props["tier"] = tier
    if os_type:
        props["osType"] = os_type
        props["hyperVGeneration"] = "V2"
    disk: dict[str, Any] = {"id": disk_id, "name": disk_id.rsplit("/", 1)[-1], "type": DISK, "location": location,
                            "tags": tags, "sku": {"name": sku, "tier": DISK_SKUS[sku]}, "properties": props}
    if existing and existing.get("managedBy"):
        disk["managedBy"] = existing["managedBy"]
    if zones:
        disk["zones"] = list(zones)
    return disk


def checked_size(value: Any, *, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArmError(400, "InvalidRequestContent",
                       f"The request content was invalid and could not be deserialized: '{where}' must be an integer.")
    if not 1 <= value <= 32767:
        raise invalid(f"The value {value} of '{where}' must be between 1 and 32767 GB.", where)
    return value


def put_disk(world: World, *, disk_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or update a managed disk from an ARM request body (empty disks; sizes only grow)."""
    check_shape(body, DISK_SHAPE)
    existing = world.get(disk_id)
    disk_id = existing["id"] if existing else disk_id
    check_name(disk_id.rsplit("/", 1)[-1], kind="a managed disk")
    location = location_of(body)
    assert location is not None
    tags = tags_of(body)
    check_same_location(existing, location)
    props = obj(body, "properties", path="", required=True)
    sku = enum(obj(body, "sku", path="").get("name"), DISK_SKUS, where="sku.name",
                default=existing["sku"]["name"] if existing else "Standard_LRS")
    size_raw = props.get("diskSizeGB", existing["properties"]["diskSizeGB"] if existing else None)
    if size_raw is None:
        raise invalid("Required parameter 'diskSizeGB' is missing (null).", "properties.diskSizeGB")
    size = checked_size(size_raw, where="properties.diskSizeGB")
    if existing is None:
        creation = obj(props, "creationData", path="properties", required=True)
        option = enum(creation.get("createOption"), ("Empty",), where="properties.creationData.createOption")
    else:
        option = existing["properties"]["creationData"]["createOption"]
        if size < existing["properties"]["diskSizeGB"]:
            raise invalid(f"Disk size can only be increased: {existing['properties']['diskSizeGB']} GB -> {size} GB.",
                           "properties.diskSizeGB")
        vm_id = existing.get("managedBy")
        if vm_id and sku != existing["sku"]["name"] and power_state(world, vm_id) != "deallocated":
            raise ArmError(409, "OperationNotAllowed",
                           f"The SKU of disk {existing['name']} can be changed only while VM {vm_id} is deallocated.")
    os_type = field(props, "osType", str, path="properties") or (existing or {"properties": {}})["properties"].get("osType")
    zones = field(body, "zones", list, path="")
    disk = disk_json(disk_id, location=location, sku=sku, size_gb=size, create_option=option, tags=tags,
                      os_type=os_type, zones=zones, existing=existing)
    return world.put(disk)


def add_disk(world: World, *, subscription_id: str, resource_group: str, name: str, location: str, size_gb: int,
             sku: str = "Premium_LRS", os_type: str | None = None, zones: Sequence[str] | None = None,
             tags: dict[str, str] | None = None, create_option: str = "Empty") -> dict[str, Any]:
    """Create an unattached managed disk (``create_option`` is recorded in ``creationData``, e.g. "Copy" for a
    replica). Attach it by passing ``{"id": disk["id"]}`` to ``create_vm``. Returns the stored disk."""
    disk_id = resource_id(subscription_id, resource_group, DISK, name)
    if world.exists(disk_id):
        raise ArmError(409, "Conflict", f"Disk {name} already exists in resource group {resource_group}.")
    check_name(name, kind="a managed disk")
    if sku not in DISK_SKUS:
        raise invalid(f"Unknown disk SKU '{sku}'.", "sku.name")
    return world.put(disk_json(disk_id, location=location, sku=sku, size_gb=checked_size(size_gb, where="size_gb"),
                                create_option=create_option, tags=dict(tags or {}), os_type=os_type, zones=zones))


def delete_disk(world: World, disk_id: str) -> dict[str, Any] | None:
    disk = world.get(disk_id)
    if disk is None:
        return None
    if disk.get("managedBy"):
        raise ArmError(409, "OperationNotAllowed",
                       f"Disk {disk['name']} is attached to VM {disk['managedBy']}.")
    return world.delete(disk_id)


def set_disk_owner(world: World, disk_id: str, vm_id: str | None, *, power: str = "running") -> None:
    disk = world.get(disk_id)
    if disk is None:
        return
    if vm_id is None:
        disk.pop("managedBy", None)
        disk["properties"]["diskState"] = "Unattached"
    else:
        disk["managedBy"] = vm_id
        disk["properties"]["diskState"] = "Reserved" if power == "deallocated" else "Attached"
