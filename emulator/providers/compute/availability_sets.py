"""Availability sets: fault and update domains fixed once VMs are in, the region's fault-domain limit, and the
member list ARM derives (upper-cased VM IDs, as Azure returns them).

Rules, each with its source:

- "Each availability set can be configured with up to three fault domains and twenty update domains"
  ("Availability sets overview", learn.microsoft.com/azure/virtual-machines/availability-set-overview;
  MicrosoftDocs/azure-docs articles/virtual-machines/availability-set-overview.md);
- "The number of managed disk fault domains varies by region - either two or three managed disk fault domains per
  region" (same article); how many each region has is what the Resource SKUs API answers for
  ``availabilitySets``/``Aligned`` (capability ``MaximumPlatformFaultDomainCount``: the docs' own way to find it,
  ``az vm list-skus --resource-type availabilitySets``, articles/virtual-machines/disks-deploy-premium-v2.md). The
  per-region figures are the docs' table (MicrosoftDocs/azure-docs
  includes/managed-disks-common-fault-domain-region-list.md); a region it does not list keeps the general limit
  of three. A count above the region's limit is refused as Azure refuses it: ``InvalidParameter``, "The specified
  fault domain count 3 must fall in the range 1 to 2." (the answer quoted in coreos/tectonic-docs issue 69).
"""

from __future__ import annotations

from typing import Any

from emulator.core.errors import ArmError
from emulator.core.world import World
from emulator.providers.compute.schema import AVSET, AVSET_SHAPE, VM, enum, invalid
from emulator.providers.conventions import begin_put, field, obj, ref, resource_id, same_id

MAX_FAULT_DOMAINS = 3
MAX_UPDATE_DOMAINS = 20
# Regions with two managed-disk fault domains (the docs' table); every other region has three.
TWO_FAULT_DOMAIN_REGIONS = frozenset({
    "westus2", "westcentralus", "canadacentral", "canadaeast", "uksouth", "ukwest", "southeastasia", "japaneast",
    "japanwest", "southindia", "centralindia", "australiaeast", "australiasoutheast", "brazilsouth"})


def max_fault_domains(location: str) -> int:
    """The most fault domains an (Aligned) availability set can have in ``location``."""
    return 2 if location.lower().replace(" ", "") in TWO_FAULT_DOMAIN_REGIONS else MAX_FAULT_DOMAINS


def put_availability_set(world: World, *, avset_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or update an availability set; fault/update domain counts are fixed once it has members."""
    target = begin_put(world, avset_id, body, AVSET_SHAPE, kind="an availability set")
    existing, avset_id, name, location, tags = target.existing, target.id, target.name, target.location, target.tags
    props = obj(body, "properties", path="")
    faults = field(props, "platformFaultDomainCount", int, path="properties", default=2)
    updates = field(props, "platformUpdateDomainCount", int, path="properties", default=5)
    limit = max_fault_domains(location)
    if not 1 <= faults <= limit:
        raise invalid(f"The specified fault domain count {faults} must fall in the range 1 to {limit}.",
                      "properties.platformFaultDomainCount")
    if not 1 <= updates <= MAX_UPDATE_DOMAINS:
        raise invalid(f"The specified update domain count {updates} must fall in the range 1 to {MAX_UPDATE_DOMAINS}.",
                      "properties.platformUpdateDomainCount")
    sku = enum(obj(body, "sku", path="").get("name"), ("Aligned", "Classic"), where="sku.name", default="Aligned")
    members = existing["properties"]["virtualMachines"] if existing else []
    if existing and members and (faults, updates) != (existing["properties"]["platformFaultDomainCount"],
                                                       existing["properties"]["platformUpdateDomainCount"]):
        raise ArmError(409, "OperationNotAllowed",
                       f"The domain counts (platformFaultDomainCount, platformUpdateDomainCount) of {name} are fixed "
                       "while it has virtual machines.")
    avset = {"id": avset_id, "name": name, "type": AVSET, "location": location, "tags": tags,
             "sku": {"name": sku},
             "properties": {"platformUpdateDomainCount": updates, "platformFaultDomainCount": faults,
                            "virtualMachines": members}}
    return world.put(avset)


def add_availability_set(world: World, *, subscription_id: str, resource_group: str, name: str, location: str,
                         fault_domains: int = 2, update_domains: int = 5,
                         tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Create an (empty, Aligned) availability set. VMs join it through ``create_vm(availability_set_id=...)``."""
    body = {"location": location, "tags": tags or {}, "sku": {"name": "Aligned"},
            "properties": {"platformFaultDomainCount": fault_domains, "platformUpdateDomainCount": update_domains}}
    return put_availability_set(world, avset_id=resource_id(subscription_id, resource_group, AVSET, name), body=body)


def upper_id(vm_id: str) -> str:
    """Azure lists availability-set members with the resource group and VM name upper-cased."""
    parts = vm_id.split("/")
    parts[4] = parts[4].upper()
    parts[-1] = parts[-1].upper()
    return "/".join(parts)


def sync_avset(world: World, avset_id: str | None) -> None:
    if not avset_id:
        return
    avset = world.get(avset_id)
    if avset is None:
        return
    members = [vm for vm in world.by_type(VM)
               if same_id((vm["properties"].get("availabilitySet") or {}).get("id"), avset["id"])]
    avset["properties"]["virtualMachines"] = [ref(upper_id(vm["id"])) for vm in members]
