"""Virtual networks and their subnets: CIDR rules, subnets inside the address space and not overlapping,
and a subnet in use that can neither disappear nor shrink away from its addresses."""

from __future__ import annotations

import uuid
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.world import World
from emulator.providers.conventions import (
    check_name,
    check_same_location,
    check_shape,
    field,
    items,
    location_of,
    new_etag,
    obj,
    resource_id,
    tags_of,
)
from emulator.providers.network import addressing
from emulator.providers.network.addressing import Net
from emulator.providers.network.nsgs import require_nsg
from emulator.providers.network.schema import BAD, SUBNET, SUBNET_SHAPE, VNET, VNET_SHAPE
from emulator.providers.network.subnets import addresses_in_use, network_of, sync_subnets


def _subnet_json(vnet_id: str, name: str, prefix: str, etag: str, given: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {"provisioningState": "Succeeded", "addressPrefix": prefix, "delegations": [],
                             "privateEndpointNetworkPolicies": "Disabled",
                             "privateLinkServiceNetworkPolicies": "Enabled"}
    for key in ("networkSecurityGroup", "routeTable", "natGateway"):
        if given.get(key):
            props[key] = given[key]
    return {"id": f"{vnet_id}/subnets/{name}", "name": name, "type": SUBNET, "etag": etag, "properties": props}


def put_virtual_network(world: World, *, vnet_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a virtual network (with its subnets) from an ARM request body."""
    check_shape(body, VNET_SHAPE)
    existing = world.get(vnet_id)
    name = vnet_id.rsplit("/", 1)[-1]
    check_name(name, kind="a virtual network", max_length=64)
    location = location_of(body)
    assert location is not None
    tags = tags_of(body)
    check_same_location(existing, location)
    props = obj(body, "properties", path="", required=True, missing_code=BAD)
    space = obj(props, "addressSpace", path="properties", required=True, missing_code=BAD)
    prefixes = field(space, "addressPrefixes", list, path="properties.addressSpace", required=True, missing_code=BAD)
    if not prefixes:
        raise ArmError(400, BAD, "The virtual network needs at least one address prefix.")
    networks: list[Net] = []
    for text in prefixes:
        net, problem = addressing.parse_prefix(text)
        if net is None:
            raise ArmError(400, "InvalidCIDRNotation", f"The address prefix {text} in resource {vnet_id} {problem}.")
        if any(net.overlaps(other) for other in networks):
            raise ArmError(400, "VnetAddressSpacesOverlap", f"Address prefixes of {name} overlap: {prefixes}.")
        networks.append(net)
    etag = new_etag()
    subnets: list[dict[str, Any]] = []
    seen: dict[str, Net] = {}
    for index, item in enumerate(items(props, "subnets", path="properties")):
        where = f"properties.subnets[{index}]"
        sub_name = field(item, "name", str, path=where, required=True, missing_code=BAD)
        check_name(sub_name, kind="a subnet")
        sub_props = obj(item, "properties", path=where)
        text = field(sub_props, "addressPrefix", str, path=f"{where}.properties")
        if text is None:
            listed = field(sub_props, "addressPrefixes", list, path=f"{where}.properties")
            text = listed[0] if listed else None
        if text is None:
            raise ArmError(400, BAD, f"Subnet {sub_name} needs an addressPrefix.")
        net, problem = addressing.parse_prefix(text)
        if net is None:
            raise ArmError(400, "InvalidCIDRNotation", f"The address prefix {text} of subnet {sub_name} {problem}.")
        if not any(net.subnet_of(space_net) for space_net in networks):
            raise ArmError(400, "NetcfgSubnetRangeOutsideVnet",
                           f"Subnet '{sub_name}' is not valid because its IP address range is outside the IP address "
                           f"range of virtual network '{name}'.")
        if net.prefixlen > 29:
            raise ArmError(400, "NetcfgInvalidSubnet", f"Subnet '{sub_name}' ({net}) is smaller than /29, which Azure "
                                                       "does not allow.")
        if sub_name.lower() in seen:
            raise ArmError(400, "DuplicateResourceName", f"Subnet '{sub_name}' is listed twice.")
        clash = next((other for other, other_net in seen.items() if other_net.overlaps(net)), None)
        if clash is not None:
            raise ArmError(400, "NetcfgSubnetRangesOverlap",
                           f"Subnet '{sub_name}' is not valid because its IP address range overlaps with that of an "
                           f"existing subnet in virtual network '{name}'.")
        seen[sub_name.lower()] = net
        nsg = require_nsg(world, sub_props, "networkSecurityGroup", path=f"{where}.properties", location=location,
                          referrer=f"{vnet_id}/subnets/{sub_name}")
        given = {**sub_props, "networkSecurityGroup": {"id": nsg} if nsg else None}
        subnets.append(_subnet_json(vnet_id, sub_name, str(net), etag, given))
    if existing is not None:
        _check_subnets_still_fit(world, existing, {s["name"].lower(): network_of(s) for s in subnets})
    vnet_props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "resourceGuid": existing["properties"]["resourceGuid"] if existing else str(uuid.uuid4()),
        "addressSpace": {"addressPrefixes": [str(n) for n in networks]},
        "subnets": subnets, "virtualNetworkPeerings": [], "enableDdosProtection": False,
        "privateEndpointVNetPolicies": "Disabled",
    }
    dhcp = obj(props, "dhcpOptions", path="properties")
    if dhcp:
        servers = field(dhcp, "dnsServers", list, path="properties.dhcpOptions", default=[])
        vnet_props["dhcpOptions"] = {"dnsServers": [str(s) for s in servers]}
    vnet = {"id": existing["id"] if existing else vnet_id, "name": existing["name"] if existing else name,
            "type": VNET, "location": location, "tags": tags, "etag": etag, "properties": vnet_props}
    world.put(vnet)
    sync_subnets(world, [s["id"] for s in subnets])
    return vnet


def _check_subnets_still_fit(world: World, existing: dict[str, Any], new: dict[str, Net]) -> None:
    for subnet in existing["properties"]["subnets"]:
        held = addresses_in_use(world, subnet["id"])
        if not held:
            continue
        net = new.get(subnet["name"].lower())
        if net is None:
            raise ArmError(400, "InUseSubnetCannotBeDeleted",
                           f"Subnet {subnet['name']} is in use by {sorted(set(held.values()))[0]} and cannot be deleted. "
                           "In order to delete the subnet, delete all the resources within the subnet.")
        outside = [a for a in held if a not in net]
        if outside:
            raise ArmError(400, "InUseSubnetCannotBeUpdated",
                           f"Subnet {subnet['name']} is in use and its new prefix {net} would exclude {outside[0]}.")


def put_subnet(world: World, *, vnet: dict[str, Any], name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or replace one subnet of an existing virtual network (the ``/subnets/{name}`` child route)."""
    check_shape(body, SUBNET_SHAPE)
    subnets = [_subnet_body(s) for s in vnet["properties"]["subnets"] if s["name"].lower() != name.lower()]
    subnets.append({"name": name, "properties": obj(body, "properties", path="")})
    updated = put_virtual_network(world, vnet_id=vnet["id"], body=_vnet_body(vnet, subnets))
    return next(s for s in updated["properties"]["subnets"] if s["name"].lower() == name.lower())


def delete_subnet(world: World, *, vnet: dict[str, Any], name: str) -> None:
    subnets = [_subnet_body(s) for s in vnet["properties"]["subnets"] if s["name"].lower() != name.lower()]
    put_virtual_network(world, vnet_id=vnet["id"], body=_vnet_body(vnet, subnets))


def _subnet_body(subnet: dict[str, Any]) -> dict[str, Any]:
    return {"name": subnet["name"], "properties": {k: v for k, v in subnet["properties"].items()
                                                   if k not in ("ipConfigurations", "provisioningState")}}


def _vnet_body(vnet: dict[str, Any], subnets: list[dict[str, Any]]) -> dict[str, Any]:
    props = {"addressSpace": vnet["properties"]["addressSpace"], "subnets": subnets}
    if "dhcpOptions" in vnet["properties"]:
        props["dhcpOptions"] = vnet["properties"]["dhcpOptions"]
    return {"location": vnet["location"], "tags": vnet.get("tags") or {}, "properties": props}


def delete_virtual_network(world: World, vnet_id: str) -> dict[str, Any] | None:
    vnet = world.get(vnet_id)
    if vnet is None:
        return None
    _check_subnets_still_fit(world, vnet, {})
    return world.delete(vnet_id)


def add_virtual_network(world: World, *, subscription_id: str, resource_group: str, name: str, location: str,
                        address_prefixes: list[str], subnets: dict[str, str],
                        tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Create a virtual network with ``subnets`` ({name: prefix}); the same rules as a PUT apply.

    ``add_virtual_network(world, subscription_id=s, resource_group="rg-s2d-dr", name="vnet-dr",
    location="northeurope", address_prefixes=["10.20.0.0/16"], subnets={"snet-s2d": "10.20.1.0/24"})``
    """
    body = {"location": location, "tags": tags or {}, "properties": {
        "addressSpace": {"addressPrefixes": address_prefixes},
        "subnets": [{"name": n, "properties": {"addressPrefix": p}} for n, p in subnets.items()]}}
    return put_virtual_network(world, vnet_id=resource_id(subscription_id, resource_group, VNET, name), body=body)
