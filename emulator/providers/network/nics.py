"""Network interfaces: IP configurations (addresses, the primary one, one subnet per NIC), backend pool
membership (where NIC <-> pool consistency is decided: a pool's ``backendIPConfigurations`` is derived
from the NICs that name it), and the attachment to a VM that the compute provider records."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.world import World, parent_of
from emulator.providers.conventions import begin_put, field, items, new_etag, obj, parse_id, ref, reference, resource_id, same_id
from emulator.providers.network.addressing import IPv4
from emulator.providers.network.nsgs import require_nsg
from emulator.providers.network.schema import BAD, LB, NIC, NIC_SHAPE, PUBLIC_IP, enum, unverified_reference
from emulator.providers.network.subnets import addresses_of, allocate, check_static, require_subnet, subnets_of, sync_subnets


def put_network_interface(world: World, *, nic_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a NIC from an ARM request body; allocates and validates its private IPs."""
    target = begin_put(world, nic_id, body, NIC_SHAPE, kind="a network interface")
    existing, nic_id, name, location, tags = target.existing, target.id, target.name, target.location, target.tags
    props = obj(body, "properties", path="", required=True, missing_code=BAD)
    configs_in = items(props, "ipConfigurations", path="properties")
    if not configs_in:
        raise ArmError(400, BAD, f"Network interface {name} must have at least one IP configuration.")
    configs = _ip_configurations(world, nic_id=nic_id, location=location, configs_in=configs_in, existing=existing)
    etag = new_etag()
    for config in configs:
        config["etag"] = etag
    nic_props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "resourceGuid": existing["properties"]["resourceGuid"] if existing else str(uuid.uuid4()),
        "ipConfigurations": configs,
        "dnsSettings": _dns_settings(props, existing),
        "enableAcceleratedNetworking": field(props, "enableAcceleratedNetworking", bool, path="properties", default=False),
        "disableTcpStateTracking": field(props, "disableTcpStateTracking", bool, path="properties", default=False),
        "enableIPForwarding": field(props, "enableIPForwarding", bool, path="properties", default=False),
        "vnetEncryptionSupported": False,
        "hostedWorkloads": [], "tapConfigurations": [], "nicType": "Standard",
        "auxiliaryMode": "None", "auxiliarySku": "None",
    }
    nsg = require_nsg(world, props, "networkSecurityGroup", path="properties", location=location, referrer=nic_id)
    if nsg:
        nic_props["networkSecurityGroup"] = ref(nsg)
    dscp = unverified_reference(props, "dscpConfiguration", path="properties",
                                 rtype="Microsoft.Network/dscpConfigurations")
    if dscp:
        nic_props["dscpConfiguration"] = ref(dscp)
    if existing is not None:
        # Attachment is the compute provider's to change (attach_nic / detach_nic), never a NIC PUT's.
        for key in ("virtualMachine", "macAddress", "primary"):
            if key in existing["properties"]:
                nic_props[key] = existing["properties"][key]
    nic = {"id": nic_id, "name": name, "type": NIC, "location": location, "tags": tags, "etag": etag,
           "properties": nic_props}
    touched_subnets = subnets_of(existing) | subnets_of(nic)
    touched_lbs = lbs_of(existing) | lbs_of(nic)
    world.put(nic)
    sync_subnets(world, touched_subnets)
    sync_pools(world, touched_lbs)
    return nic


def _dns_settings(props: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    given = obj(props, "dnsSettings", path="properties")
    servers = [str(s) for s in field(given, "dnsServers", list, path="properties.dnsSettings", default=[])]
    suffix = (existing["properties"]["dnsSettings"]["internalDomainNameSuffix"] if existing
              else f"{uuid.uuid4().hex[:26]}.ax.internal.cloudapp.net")
    return {"dnsServers": servers, "appliedDnsServers": servers, "internalDomainNameSuffix": suffix}


def _ip_configurations(world: World, *, nic_id: str, location: str, configs_in: list[dict[str, Any]],
                       existing: dict[str, Any] | None) -> list[dict[str, Any]]:
    names: set[str] = set()
    parsed: list[dict[str, Any]] = []
    for index, item in enumerate(configs_in):
        where = f"properties.ipConfigurations[{index}]"
        name = field(item, "name", str, path=where, required=True, missing_code=BAD)
        if name.lower() in names:
            raise ArmError(400, "DuplicateResourceName", f"IP configuration '{name}' is listed twice.")
        names.add(name.lower())
        props = obj(item, "properties", path=where)
        ppath = f"{where}.properties"
        version = enum(props.get("privateIPAddressVersion"), ("IPv4", "IPv6"), where=f"{ppath}.privateIPAddressVersion",
                        default="IPv4")
        if version != "IPv4":
            raise ArmError(400, BAD, "The emulator models IPv4 private addresses only.")
        address = field(props, "privateIPAddress", str, path=ppath)
        method = enum(props.get("privateIPAllocationMethod"), ("Static", "Dynamic"),
                       where=f"{ppath}.privateIPAllocationMethod", default="Static" if address else "Dynamic")
        prefix_length = field(props, "privateIPAddressPrefixLength", int, path=ppath)
        if prefix_length is not None and not 1 <= prefix_length <= 32:
            raise ArmError(400, BAD, f"'{ppath}.privateIPAddressPrefixLength' must be between 1 and 32.")
        if method == "Static" and not address:
            raise ArmError(400, "PrivateIPAddressRequired",
                           f"IP configuration {name} uses the Static allocation method but has no privateIPAddress.")
        pools = [field(p, "id", str, path=f"{ppath}.loadBalancerBackendAddressPools", required=True, missing_code=BAD)
                 for p in items(props, "loadBalancerBackendAddressPools", path=ppath)]
        parsed.append({
            "name": name, "index": index, "method": method, "address": address, "prefix_length": prefix_length,
            "primary": field(props, "primary", bool, path=ppath),
            "subnet": reference(props, "subnet", path=ppath, missing_code=BAD),
            "public_ip": unverified_reference(props, "publicIPAddress", path=ppath, rtype=PUBLIC_IP),
            "pools": pools,
        })
    flagged = [p for p in parsed if p["primary"]]
    if len(flagged) > 1:
        raise ArmError(400, "MultiplePrimaryIpConfigurations",
                       "A network interface can have only one primary IP configuration.")
    if not flagged:
        parsed[0]["primary"] = True  # ARM makes the first configuration primary (see the official NIC example)
    for item in parsed:
        item["primary"] = bool(item["primary"])
    primary = next(p for p in parsed if p["primary"])
    if primary["subnet"] is None:
        raise ArmError(400, BAD, f"The primary IP configuration {primary['name']} needs a subnet.")
    vnet, subnet = require_subnet(world, primary["subnet"], location=location,
                                   referrer=f"{nic_id}/ipConfigurations/{primary['name']}")
    subnet_id = subnet["id"]
    for item in parsed:
        # ARM fills a secondary configuration's subnet from the primary's.
        if item["subnet"] is not None and not same_id(item["subnet"], subnet_id):
            require_subnet(world, item["subnet"], location=location, referrer=f"{nic_id}/ipConfigurations/{item['name']}")
            raise ArmError(400, "IpConfigurationsOnSameNicCannotUseDifferentSubnets",
                           f"IP configurations on network interface {nic_id} must all use subnet {subnet_id}.")
    previous = {c["name"].lower(): c["properties"].get("privateIPAddress")
                for c in (existing or {"properties": {"ipConfigurations": []}})["properties"]["ipConfigurations"]
                if same_id(c["properties"].get("subnet", {}).get("id"), subnet_id)}
    taken_here: dict[IPv4, str] = {}
    for item in parsed:
        if item["method"] == "Static":
            holder = f"{nic_id}/ipConfigurations/{item['name']}"
            address = check_static(world, item["address"], subnet_id=subnet_id, subnet=subnet, owner=nic_id,
                                    holder=holder, taken_here=taken_here)
            item["address"] = str(address)
            taken_here[address] = holder
    for item in parsed:
        if item["method"] == "Dynamic":
            item["address"] = allocate(world, subnet_id=subnet_id, subnet=subnet, owner=nic_id, taken_here=taken_here,
                                        keep=previous.get(item["name"].lower()), prefix_length=item["prefix_length"])
            for address in addresses_of(item["address"]):
                taken_here[address] = f"{nic_id}/ipConfigurations/{item['name']}"
    configs = []
    for item in sorted(parsed, key=lambda p: p["index"]):
        pools = _resolve_pools(world, item["pools"], nic_id=nic_id, location=location, vnet=vnet)
        props: dict[str, Any] = {"provisioningState": "Succeeded", "privateIPAddress": item["address"],
                                 "privateIPAllocationMethod": item["method"], "subnet": ref(subnet_id),
                                 "primary": item["primary"], "privateIPAddressVersion": "IPv4"}
        if item["prefix_length"] is not None:
            props["privateIPAddressPrefixLength"] = item["prefix_length"]
        if item["public_ip"]:
            props["publicIPAddress"] = ref(item["public_ip"])
        if pools:
            props["loadBalancerBackendAddressPools"] = [ref(p) for p in pools]
        configs.append({"id": f"{nic_id}/ipConfigurations/{item['name']}", "name": item["name"],
                        "type": f"{NIC}/ipConfigurations", "properties": props})
    return configs


def _resolve_pools(world: World, pool_ids: list[str], *, nic_id: str, location: str, vnet: dict[str, Any]) -> list[str]:
    """Canonical IDs of the backend pools a NIC joins; each must exist, in the region and (internal) VNet."""
    resolved: list[str] = []
    for pool_id in pool_ids:
        parsed = parse_id(pool_id)
        lb = world.get(parent_of(pool_id)) if parsed and parsed.is_type(f"{LB}/backendAddressPools") else None
        pool = next((p for p in (lb or {"properties": {"backendAddressPools": []}})["properties"]["backendAddressPools"]
                     if parsed and p["name"].lower() == parsed.name.lower()), None)
        if lb is None or pool is None or lb["location"] != location:
            raise ArmError(400, "InvalidResourceReference",
                           f"Resource {pool_id} referenced by resource {nic_id} was not found. Please make sure that "
                           "the referenced resource exists, and that both resources are in the same region.")
        lb_vnets = {parent_of(f["properties"]["subnet"]["id"]).lower()
                    for f in lb["properties"]["frontendIPConfigurations"] if f["properties"].get("subnet")}
        if lb_vnets and vnet["id"].lower() not in lb_vnets:
            raise ArmError(400, "NetworkInterfaceAndInternalLoadBalancerMustUseSameVnet",
                           f"Network interface {nic_id} uses internal load balancer {lb['id']} but does not use the "
                           f"same VNET ({vnet['id']}) as the load balancer.")
        if not any(same_id(pool["id"], r) for r in resolved):
            resolved.append(pool["id"])
    return resolved


def lbs_of(nic: dict[str, Any] | None) -> set[str]:
    if nic is None:
        return set()
    return {parent_of(p["id"]) for c in nic["properties"]["ipConfigurations"]
            for p in c["properties"].get("loadBalancerBackendAddressPools", [])}


def create_nic(world: World, *, subscription_id: str, resource_group: str, name: str, location: str, subnet_id: str,
               static_ip: str | None = None, pool_ids: Iterable[str] = (), tags: dict[str, str] | None = None,
               accelerated_networking: bool = True, ip_config_name: str = "ipconfig1") -> dict[str, Any]:
    """Create (or replace) a NIC with one IPv4 configuration, under the same rules as a PUT.

    ``static_ip=None`` allocates the subnet's next free address dynamically; ``pool_ids`` are backend pool IDs
    of load balancers in the NIC's virtual network. Returns the stored NIC. Raises ``ArmError`` (e.g.
    ``PrivateIPAddressInUse``, ``InvalidResourceReference``) exactly as the REST API would.
    """
    config: dict[str, Any] = {"subnet": {"id": subnet_id}, "primary": True}
    if static_ip:
        config.update(privateIPAllocationMethod="Static", privateIPAddress=static_ip)
    else:
        config["privateIPAllocationMethod"] = "Dynamic"
    pools = list(pool_ids)
    if pools:
        config["loadBalancerBackendAddressPools"] = [{"id": p} for p in pools]
    body = {"location": location, "tags": tags or {}, "properties": {
        "enableAcceleratedNetworking": accelerated_networking,
        "ipConfigurations": [{"name": ip_config_name, "properties": config}]}}
    return put_network_interface(world, nic_id=resource_id(subscription_id, resource_group, NIC, name), body=body)


def delete_nic(world: World, nic_id: str) -> dict[str, Any] | None:
    """Delete a NIC; refused with ``NicInUse`` while a VM uses it. Returns the deleted NIC, or None."""
    nic = world.get(nic_id)
    if nic is None:
        return None
    vm = nic["properties"].get("virtualMachine")
    if vm:
        raise ArmError(400, "NicInUse",
                       f"Network Interface {nic['id']} is used by existing resource {vm['id']}. In order to delete "
                       "the network interface, it must be dissociated from the resource. To learn more, see "
                       "aka.ms/deletenic.")
    world.delete(nic_id)
    sync_subnets(world, subnets_of(nic))
    sync_pools(world, lbs_of(nic))
    return nic


def attach_nic(world: World, nic_id: str, vm_id: str, *, primary: bool) -> dict[str, Any]:
    """Record that a VM uses the NIC (ARM sets ``virtualMachine``, ``primary`` and a MAC address)."""
    nic = world.get(nic_id)
    if nic is None:
        raise ArmError(400, "InvalidParameter", f"Network interface {nic_id} was not found.")
    props = nic["properties"]
    props["virtualMachine"] = ref(vm_id)
    props["primary"] = primary
    props.setdefault("macAddress", "00-0D-3A-" + "-".join(f"{b:02X}" for b in uuid.uuid4().bytes[:3]))
    nic["etag"] = new_etag()
    return nic


def detach_nic(world: World, nic_id: str) -> None:
    nic = world.get(nic_id)
    if nic is None:
        return
    for key in ("virtualMachine", "primary", "macAddress"):
        nic["properties"].pop(key, None)
    nic["etag"] = new_etag()


def nic_primary_subnet(world: World, nic_id: str) -> str | None:
    """The subnet ID of the NIC's primary IP configuration, or None for an unknown NIC."""
    nic = world.get(nic_id)
    if nic is None:
        return None
    primary = next(c for c in nic["properties"]["ipConfigurations"] if c["properties"]["primary"])
    return str(primary["properties"]["subnet"]["id"])


def join_backend_pool(world: World, nic_id: str, pool_id: str) -> dict[str, Any]:
    """Add a backend pool to the NIC's primary IP configuration (as a GET-modify-PUT of the NIC would)."""
    nic = world.get(nic_id)
    if nic is None:
        raise ArmError(404, "NotFound", f"Network interface {nic_id} was not found.")
    body = copy.deepcopy(nic)
    config = next(c for c in body["properties"]["ipConfigurations"] if c["properties"]["primary"])
    pools = config["properties"].setdefault("loadBalancerBackendAddressPools", [])
    if not any(same_id(p["id"], pool_id) for p in pools):
        pools.append({"id": pool_id})
    return put_network_interface(world, nic_id=nic["id"], body=body)


def sync_pools(world: World, lb_ids: Iterable[str]) -> None:
    """Recompute each pool's ``backendIPConfigurations`` from the NICs that reference it."""
    for lb_id in {i.lower(): i for i in lb_ids}.values():
        lb = world.get(lb_id)
        if lb is None:
            continue
        members: dict[str, list[dict[str, str]]] = {}
        for nic in world.by_type(NIC):
            for config in nic["properties"]["ipConfigurations"]:
                for pool in config["properties"].get("loadBalancerBackendAddressPools", []):
                    members.setdefault(pool["id"].lower(), []).append(ref(config["id"]))
        for pool in lb["properties"]["backendAddressPools"]:
            found = members.get(pool["id"].lower())
            if found:
                pool["properties"]["backendIPConfigurations"] = found
            else:
                pool["properties"].pop("backendIPConfigurations", None)
