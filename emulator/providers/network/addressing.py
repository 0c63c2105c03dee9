"""Azure's private IPv4 addressing rules inside a subnet, as pure functions (no world, no ARM).

Azure reserves five addresses in every subnet: the network address, the next three (default
gateway and the two addresses mapped to Azure DNS) and the broadcast address. Dynamic allocation
hands out the lowest free address; a prefix allocation (``privateIPAddressPrefixLength``) the lowest
aligned free block.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from enum import Enum

IPv4 = ipaddress.IPv4Address
Net = ipaddress.IPv4Network


class Placement(Enum):
    USABLE = "usable"
    OUTSIDE = "outside"
    RESERVED = "reserved"


def parse_address(text: object) -> IPv4 | None:
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.IPv4Address(text.strip())
    except ValueError:
        return None


def parse_prefix(text: object) -> tuple[Net | None, str | None]:
    """(network, None) for a proper CIDR; (None, reason) otherwise. Host bits set is an error, as in ARM."""
    if not isinstance(text, str) or "/" not in text:
        return None, "is not in CIDR notation"
    try:
        loose = ipaddress.IPv4Network(text.strip(), strict=False)
    except ValueError:
        return None, "is not a valid IPv4 CIDR"
    if str(loose) != text.strip():
        return None, f"has an invalid CIDR notation; for the given prefix length it should be {loose}"
    return loose, None


def reserved(net: Net) -> set[IPv4]:
    base = int(net.network_address)
    return {IPv4(base), IPv4(base + 1), IPv4(base + 2), IPv4(base + 3), net.broadcast_address}


def placement(address: IPv4, net: Net) -> Placement:
    if address not in net:
        return Placement.OUTSIDE
    if address in reserved(net):
        return Placement.RESERVED
    return Placement.USABLE


def first_free(net: Net, used: Iterable[IPv4]) -> IPv4 | None:
    taken = set(used) | reserved(net)
    for candidate in net:
        if candidate not in taken:
            return candidate
    return None


def first_free_block(net: Net, prefix_length: int, used: Iterable[IPv4]) -> Net | None:
    """The lowest aligned block of ``prefix_length`` that holds no used or reserved address."""
    if prefix_length < net.prefixlen or prefix_length > 32:
        return None
    taken = set(used) | reserved(net)
    for block in net.subnets(new_prefix=prefix_length):
        if not any(address in block for address in taken):
            return block
    return None


def overlaps(a: Net, b: Net) -> bool:
    return a.overlaps(b)
