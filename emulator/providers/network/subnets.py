"""Who holds which private address in a subnet, and the addressing rules every IP holder obeys.

Owns: finding subnets by ID, the addresses held by NIC IP configurations and load-balancer frontends,
static-address checks (inside the subnet, not reserved, not held elsewhere), dynamic allocation (the
current address while still valid, else the lowest free one), the ``CheckIPAddressAvailability`` answer,
and a subnet's derived ``ipConfigurations``. Pure address arithmetic lives in ``addressing``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.world import World, parent_of
from emulator.providers.conventions import (
    parse_id,
    ref,
    same_id,
)
from emulator.providers.network import addressing
from emulator.providers.network.addressing import IPv4, Net, Placement
from emulator.providers.network.schema import (
    BAD,
    LB,
    NIC,
    SUBNET,
)


def find_subnet(world: World, subnet_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(virtual network, subnet) for a subnet ID in any case, or None."""
    parsed = parse_id(subnet_id)
    if parsed is None or not parsed.is_type(SUBNET):
        return None
    vnet = world.get(parent_of(subnet_id))
    if vnet is None:
        return None
    for subnet in vnet["properties"]["subnets"]:
        if subnet["name"].lower() == parsed.name.lower():
            return vnet, subnet
    return None


def subnet_prefix(world: World, subnet_id: str) -> str | None:
    """The subnet's address prefix (``10.20.1.0/24``), or None when the subnet does not exist."""
    found = find_subnet(world, subnet_id)
    return found[1]["properties"]["addressPrefix"] if found else None


def require_subnet(world: World, subnet_id: str, *, location: str, referrer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    found = find_subnet(world, subnet_id)
    if found is None or found[0]["location"] != location:
        raise ArmError(400, "InvalidResourceReference",
                       f"Resource {subnet_id} referenced by resource {referrer} was not found. Please make sure that "
                       "the referenced resource exists, and that both resources are in the same region.")
    return found


def network_of(subnet: dict[str, Any]) -> Net:
    net, _ = addressing.parse_prefix(subnet["properties"]["addressPrefix"])
    assert net is not None, "stored subnets always hold a valid prefix"
    return net


def addresses_of(text: str | None) -> list[IPv4]:
    """The addresses an IP configuration holds: one, or a whole block for a prefix allocation."""
    if not text:
        return []
    if "/" in text:
        block, _ = addressing.parse_prefix(text)
        return list(block) if block else []
    address = addressing.parse_address(text)
    return [address] if address else []


def subnets_of(resource: dict[str, Any] | None) -> set[str]:
    if resource is None:
        return set()
    if resource["type"] == NIC:
        configs = resource["properties"]["ipConfigurations"]
    else:
        configs = resource["properties"]["frontendIPConfigurations"]
    return {c["properties"]["subnet"]["id"] for c in configs if c["properties"].get("subnet")}


def addresses_in_use(world: World, subnet_id: str, *, excluding: str | None = None) -> dict[IPv4, str]:
    """Every address held in the subnet -> the ID of the IP configuration or frontend holding it.
    ``excluding`` skips the holders under one resource (the one being rewritten)."""
    skip = excluding.lower().rstrip("/") + "/" if excluding else None
    held: dict[IPv4, str] = {}
    for nic in world.by_type(NIC):
        for config in nic["properties"]["ipConfigurations"]:
            props = config["properties"]
            mine = skip is not None and config["id"].lower().startswith(skip)
            if same_id(props.get("subnet", {}).get("id"), subnet_id) and not mine:
                for address in addresses_of(props.get("privateIPAddress")):
                    held[address] = config["id"]
    for lb in world.by_type(LB):
        for frontend in lb["properties"]["frontendIPConfigurations"]:
            props = frontend["properties"]
            mine = skip is not None and frontend["id"].lower().startswith(skip)
            if same_id((props.get("subnet") or {}).get("id"), subnet_id) and not mine:
                for address in addresses_of(props.get("privateIPAddress")):
                    held[address] = frontend["id"]
    return held


def next_free_ip(world: World, subnet_id: str) -> str:
    """The lowest address Azure would hand out next in the subnet (skips reserved and held addresses).

    Raises ``ArmError`` 400 ``InvalidResourceReference`` for an unknown subnet, ``SubnetIsFull`` when none is left.
    """
    found = find_subnet(world, subnet_id)
    if found is None:
        raise ArmError(400, "InvalidResourceReference", f"Subnet {subnet_id} was not found.")
    free = addressing.first_free(network_of(found[1]), addresses_in_use(world, subnet_id))
    if free is None:
        raise ArmError(400, "SubnetIsFull", f"Subnet {found[1]['name']} has no free private IP address left.")
    return str(free)


def check_ip_availability(world: World, vnet: dict[str, Any], address_text: str) -> dict[str, Any]:
    """The ``CheckIPAddressAvailability`` answer: available, or up to five free neighbours."""
    address = addressing.parse_address(address_text)
    if address is None:
        raise ArmError(400, BAD, f"'{address_text}' is not a valid IPv4 address.")
    for subnet in vnet["properties"]["subnets"]:
        net = network_of(subnet)
        if address not in net:
            continue
        held = addresses_in_use(world, subnet["id"])
        place = addressing.placement(address, net)
        if place is Placement.USABLE and address not in held:
            return {"available": True}
        taken = set(held) | addressing.reserved(net)
        free = [str(a) for a in net if a not in taken][:5]
        return {"available": False, "availableIPAddresses": free, "isPlatformReserved": place is Placement.RESERVED}
    raise ArmError(400, "PrivateIPAddressNotInSubnet",
                   f"IP address {address_text} does not belong to any subnet of virtual network {vnet['name']}.")


def check_static(world: World, text: Any, *, subnet_id: str, subnet: dict[str, Any], owner: str, holder: str,
                  taken_here: dict[IPv4, str]) -> IPv4:
    """A static private IP is inside the subnet, not reserved, and not held by anything else."""
    address = addressing.parse_address(text)
    if address is None:
        raise ArmError(400, "PrivateIPAddressFormatIsInvalid",
                       f"Private IP address '{text}' of {holder} is not a valid IPv4 address.")
    net = network_of(subnet)
    place = addressing.placement(address, net)
    if place is Placement.OUTSIDE:
        raise ArmError(400, "PrivateIPAddressNotInSubnet",
                       f"Private static IP address {address} does not belong to the range of subnet prefix {net}.")
    if place is Placement.RESERVED:
        raise ArmError(400, "PrivateIPAddressInReservedRange",
                       f"Private static IP address {address} falls within reserved IP range of subnet prefix {net}.")
    other = taken_here.get(address) or addresses_in_use(world, subnet_id, excluding=owner).get(address)
    if other is not None:
        raise ArmError(400, "PrivateIPAddressInUse",
                       f"IP configuration {holder} is using the private IP address {address} which is already "
                       f"allocated to resource {other}.")
    return address


def allocate(world: World, *, subnet_id: str, subnet: dict[str, Any], owner: str, taken_here: dict[IPv4, str],
              keep: str | None, prefix_length: int | None) -> str:
    """A dynamic address (or block): the current one if still valid, else the lowest free one."""
    net = network_of(subnet)
    held = {**addresses_in_use(world, subnet_id, excluding=owner), **taken_here}
    current = addresses_of(keep)
    still_valid = current and all(addressing.placement(a, net) is Placement.USABLE and a not in held for a in current)
    if still_valid and (prefix_length is None) == ("/" not in (keep or "")):
        return keep or ""
    if prefix_length is not None:
        block = addressing.first_free_block(net, prefix_length, held)
        if block is None:
            raise ArmError(400, "SubnetIsFull", f"Subnet {subnet['name']} has no free /{prefix_length} block left.")
        return str(block)
    free = addressing.first_free(net, held)
    if free is None:
        raise ArmError(400, "SubnetIsFull", f"Subnet {subnet['name']} has no free private IP address left.")
    return str(free)


def sync_subnets(world: World, subnet_ids: Iterable[str]) -> None:
    """Recompute ``ipConfigurations`` (NIC IP configurations and LB frontends) of each subnet."""
    for subnet_id in {s.lower(): s for s in subnet_ids}.values():
        found = find_subnet(world, subnet_id)
        if found is None:
            continue
        _vnet, subnet = found
        holders: list[str] = []
        for nic in world.by_type(NIC):
            holders += [c["id"] for c in nic["properties"]["ipConfigurations"]
                        if same_id(c["properties"]["subnet"]["id"], subnet["id"])]
        for lb in world.by_type(LB):
            holders += [f["id"] for f in lb["properties"]["frontendIPConfigurations"]
                        if same_id((f["properties"].get("subnet") or {}).get("id"), subnet["id"])]
        if holders:
            subnet["properties"]["ipConfigurations"] = [ref(h) for h in holders]
        else:
            subnet["properties"].pop("ipConfigurations", None)
