"""Associating a network security group with a NIC or a subnet, as a GET-modify-PUT of the NIC (or of the subnet)
does it: what a deployment or an operator does, under the same reference checks as the REST API."""

from __future__ import annotations

import copy

from emulator.core.errors import ArmError
from emulator.core.world import World, parent_of
from emulator.providers.conventions import ref
from emulator.providers.network.nics import put_network_interface
from emulator.providers.network.vnets import put_subnet


def associate_nsg(world: World, *, nsg_id: str | None, nic_id: str | None = None, subnet_id: str | None = None) -> None:
    """Associate (with ``nsg_id=None``: dissociate) a group with a NIC and/or a subnet."""
    if nic_id is not None:
        nic = world.get(nic_id)
        if nic is None:
            raise ArmError(404, "NotFound", f"Network interface {nic_id} was not found.")
        body = copy.deepcopy(nic)
        if nsg_id:
            body["properties"]["networkSecurityGroup"] = ref(nsg_id)
        else:
            body["properties"].pop("networkSecurityGroup", None)
        put_network_interface(world, nic_id=nic["id"], body=body)
    if subnet_id is not None:
        vnet = world.get(parent_of(subnet_id))
        name = subnet_id.rstrip("/").rsplit("/", 1)[-1]
        subnet = next((s for s in (vnet or {"properties": {"subnets": []}})["properties"]["subnets"]
                       if s["name"].lower() == name.lower()), None)
        if vnet is None or subnet is None:
            raise ArmError(404, "NotFound", f"Subnet {subnet_id} was not found.")
        props = {k: v for k, v in subnet["properties"].items() if k not in ("ipConfigurations", "provisioningState")}
        if nsg_id:
            props["networkSecurityGroup"] = ref(nsg_id)
        else:
            props.pop("networkSecurityGroup", None)
        put_subnet(world, vnet=vnet, name=subnet["name"], body={"name": subnet["name"], "properties": props})
