"""Proximity placement groups: a regional resource VMs are placed in, and the member list ARM derives.

"A proximity placement group is a resource in Azure. You need to create one before using it with other resources"
and it co-locates VMs "in the same data center" ("Proximity placement groups", learn.microsoft.com/azure/
virtual-machines/co-location; MicrosoftDocs/azure-docs articles/virtual-machines/co-location.md): a VM may reference
only a group that exists in its own region (checked in ``vms``). ``proximityPlacementGroupType`` is ``Standard``
or ``Ultra`` (``ProximityPlacementGroupType`` of the Compute REST spec); a group that still has VMs cannot be
deleted (the same rule as an availability set's).
"""

from __future__ import annotations

from typing import Any

from emulator.core.world import World
from emulator.providers.compute.availability_sets import upper_id
from emulator.providers.compute.schema import PPG, PPG_SHAPE, VM, enum
from emulator.providers.conventions import begin_put, obj, ref, resource_id, same_id


def put_proximity_placement_group(world: World, *, ppg_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or update a proximity placement group (its members come from the VMs that reference it)."""
    target = begin_put(world, ppg_id, body, PPG_SHAPE, kind="a proximity placement group")
    props = obj(body, "properties", path="")
    kind = enum(props.get("proximityPlacementGroupType"), ("Standard", "Ultra"),
                where="properties.proximityPlacementGroupType", default="Standard")
    members = target.existing["properties"]["virtualMachines"] if target.existing else []
    ppg = {"id": target.id, "name": target.name, "type": PPG, "location": target.location, "tags": target.tags,
           "properties": {"proximityPlacementGroupType": kind, "virtualMachines": members,
                          "virtualMachineScaleSets": [], "availabilitySets": []}}
    return world.put(ppg)


def add_proximity_placement_group(world: World, *, subscription_id: str, resource_group: str, name: str,
                                  location: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Create an empty Standard proximity placement group. VMs join it through ``create_vm(proximity_placement_group_id=...)``."""
    body = {"location": location, "tags": tags or {}, "properties": {"proximityPlacementGroupType": "Standard"}}
    return put_proximity_placement_group(world, ppg_id=resource_id(subscription_id, resource_group, PPG, name),
                                         body=body)


def sync_ppg(world: World, ppg_id: str | None) -> None:
    """The group's ``virtualMachines``: every VM that references it (upper-cased, as Azure lists members)."""
    ppg = world.get(ppg_id) if ppg_id else None
    if ppg is None:
        return
    members = [vm for vm in world.by_type(VM)
               if same_id((vm["properties"].get("proximityPlacementGroup") or {}).get("id"), ppg["id"])]
    ppg["properties"]["virtualMachines"] = [ref(upper_id(vm["id"])) for vm in members]

