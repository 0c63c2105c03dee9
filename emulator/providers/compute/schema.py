"""What Microsoft.Compute request bodies look like: resource type names, disk SKUs, the request shapes
checked before any rule runs, and the compute provider's ``InvalidParameter`` errors. No rules, no world."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from emulator.core.errors import ArmError
from emulator.providers.conventions import (
    REF,
    TRACKED,
)

VM = "Microsoft.Compute/virtualMachines"
DISK = "Microsoft.Compute/disks"
AVSET = "Microsoft.Compute/availabilitySets"
PPG = "Microsoft.Compute/proximityPlacementGroups"
DISK_SKUS = {"Premium_LRS": "Premium", "StandardSSD_LRS": "Standard", "Standard_LRS": "Standard",
             "UltraSSD_LRS": "Ultra", "Premium_ZRS": "Premium", "StandardSSD_ZRS": "Standard",
             "PremiumV2_LRS": "Premium"}
VM_SIZE = re.compile(r"^(Standard|Basic)_[A-Za-z0-9_]+$")
DEFAULT_IMAGE = {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter-azure-edition",
                 "version": "latest"}
MANAGED_DISK = {"id": str, "storageAccountType": str}
VM_SHAPE = {**TRACKED, "properties": {
    "hardwareProfile": {"vmSize": str},
    "storageProfile": {
        "imageReference": {"id": str, "publisher": str, "offer": str, "sku": str, "version": str},
        "osDisk": {"createOption": str, "osType": str, "name": str, "caching": str, "diskSizeGB": int,
                   "deleteOption": str, "managedDisk": MANAGED_DISK},
        "dataDisks": [{"lun": int, "name": str, "createOption": str, "caching": str, "diskSizeGB": int,
                       "deleteOption": str, "toBeDetached": bool, "managedDisk": MANAGED_DISK}]},
    "osProfile": {"computerName": str, "adminUsername": str, "adminPassword": str},
    "networkProfile": {"networkInterfaces": [{"id": str, "properties": {"primary": bool, "deleteOption": str}}]},
    "availabilitySet": REF, "proximityPlacementGroup": REF, "licenseType": str, "diagnosticsProfile": dict,
    "securityProfile": dict, "additionalCapabilities": dict}}
DISK_SHAPE = {**TRACKED, "sku": {"name": str}, "properties": {
    "creationData": {"createOption": str}, "diskSizeGB": int, "osType": str}}
AVSET_SHAPE = {**TRACKED, "sku": {"name": str}, "properties": {
    "platformFaultDomainCount": int, "platformUpdateDomainCount": int}}
PPG_SHAPE = {**TRACKED, "properties": {"proximityPlacementGroupType": str}}


def invalid(message: str, target: str | None = None) -> ArmError:
    details = [{"code": "InvalidParameter", "target": target, "message": message}] if target else None
    return ArmError(400, "InvalidParameter", message, details=details)


def enum(value: Any, allowed: Iterable[str], *, where: str, default: str | None = None) -> str:
    if value is None:
        if default is None:
            raise invalid(f"Required parameter '{where}' is missing (null).", where)
        return default
    if isinstance(value, str):
        for option in allowed:
            if option.lower() == value.lower():
                return option
    raise invalid(f"The value '{value}' of parameter '{where}' is not allowed. Allowed values are "
                   f"{', '.join(allowed)}.", where)
