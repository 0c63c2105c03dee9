"""Whether Azure's network security groups let one flow from a node to another through: pure, no I/O.

ASR's multi-VM consistency needs the nodes of a group to reach each other on port 20004 (DESIGN rule 2; "If you
enable multi-VM consistency, machines in the replication group communicate with each other over port 20004.
Ensure there's no firewall appliance blocking the internal communication between the VMs over port 20004.",
Microsoft's "Tutorial: Set up disaster recovery for Azure VMs", MicrosoftDocs/azure-docs
articles/site-recovery/azure-to-azure-tutorial-enable-replication.md). Azure evaluates the groups this way
("How network security groups filter network traffic", articles/virtual-network/network-security-group-how-it-works.md,
and "Azure network security groups overview", articles/virtual-network/network-security-groups-overview.md):

- outbound, the group on the sender's NIC first, then the one on its subnet; inbound, the group on the receiver's
  subnet first, then the one on its NIC; "This includes intra-subnet traffic as well". A flow needs every group on
  its way to allow it; a place without a group lets everything through;
- inside a group, rules in priority order (lower number first), and "Once traffic matches a rule, processing
  stops"; after the custom rules come the default rules every group has and nobody can remove (AllowVnetInBound
  65000, AllowAzureLoadBalancerInBound 65001, DenyAllInBound 65500; AllowVnetOutBound 65000, AllowInternetOutBound
  65001, DenyAllOutBound 65500).

What cannot be known from the rules alone is read so that the answer is never a false "allowed": a TCP source port
is ephemeral, so a rule that names source ports may or may not match; an application security group's members are
not read. Such a rule counts as matching when it denies and as not matching when it allows. The ``VirtualNetwork``
service tag is taken to hold the nodes' addresses (the nodes of one cluster share a virtual network); other service
tags (``Internet``, ``AzureLoadBalancer``, ...) never hold a node's private address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from shared import ids
from shared.inventory import NetworkSecurityGroup, Nic, NicFilters, SecurityRule

MULTI_VM_PORT = 20004

_ANY = ("*",)
DEFAULT_RULES = (
    SecurityRule("AllowVnetInBound", 65000, "Inbound", "Allow", "*", ("VirtualNetwork",), _ANY, ("VirtualNetwork",), _ANY),
    SecurityRule("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "*", ("AzureLoadBalancer",), _ANY, _ANY,
                 _ANY),
    SecurityRule("DenyAllInBound", 65500, "Inbound", "Deny", "*", _ANY, _ANY, _ANY, _ANY),
    SecurityRule("AllowVnetOutBound", 65000, "Outbound", "Allow", "*", ("VirtualNetwork",), _ANY, ("VirtualNetwork",),
                 _ANY),
    SecurityRule("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", _ANY, _ANY, ("Internet",), _ANY),
    SecurityRule("DenyAllOutBound", 65500, "Outbound", "Deny", "*", _ANY, _ANY, _ANY, _ANY),
)


class Match(Enum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"  # cannot be told from the rule alone


@dataclass(frozen=True)
class Flow:
    source: str  # the sender's private address
    destination: str
    port: int
    protocol: str = "Tcp"


@dataclass(frozen=True)
class Hop:
    """One group on a flow's way: where it is associated and in which direction it sees the flow."""

    where: str  # "NIC s2d-node1-nic", "subnet snet-s2d"
    direction: str  # Inbound | Outbound
    nsg: NetworkSecurityGroup


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    hop: Hop | None = None  # the group that denied the flow (None: allowed, or no group on its way)
    rule: SecurityRule | None = None
    uncertain: bool = False  # the deciding deny may not match (source ports, application security groups)

    def describe(self) -> str:
        if self.allowed:
            return "allowed"
        assert self.hop is not None and self.rule is not None
        maybe = " (it may match: it names source ports or application security groups)" if self.uncertain else ""
        return (f"denied by rule {self.rule.name} (priority {self.rule.priority}, {self.hop.direction.lower()}) of "
                f"network security group {self.hop.nsg.name} on {self.hop.where}{maybe}")


def _address(prefix: str, address: str) -> Match:
    text = prefix.strip()
    low = text.lower()
    if low in ("*", "any", "0.0.0.0/0"):
        return Match.YES
    if low == "virtualnetwork":
        return Match.YES
    if not any(c.isdigit() for c in text):
        return Match.NO  # a service tag other than VirtualNetwork: no node's private address is in it
    try:
        return Match.YES if ipaddress.ip_address(address) in ipaddress.ip_network(text, strict=False) else Match.NO
    except ValueError:
        return Match.MAYBE


def _port(spec: str, port: int) -> Match:
    text = spec.strip()
    if text == "*":
        return Match.YES
    low, _, high = text.partition("-")
    try:
        start, end = int(low), int(high or low)
    except ValueError:
        return Match.MAYBE
    return Match.YES if start <= port <= end else Match.NO


def _any_of(matches: Sequence[Match]) -> Match:
    if Match.YES in matches:
        return Match.YES
    return Match.MAYBE if Match.MAYBE in matches else Match.NO


def _all_of(matches: Sequence[Match]) -> Match:
    if Match.NO in matches:
        return Match.NO
    return Match.MAYBE if Match.MAYBE in matches else Match.YES


def matches(rule: SecurityRule, flow: Flow, direction: str) -> Match:
    """Whether ``rule`` applies to ``flow`` seen in ``direction``."""
    if rule.direction.lower() != direction.lower():
        return Match.NO
    protocol = Match.YES if rule.protocol.lower() in ("*", flow.protocol.lower()) else Match.NO
    any_source_port = all(p.strip() in ("*", "0-65535") for p in rule.source_ports) and bool(rule.source_ports)
    parts = [
        protocol,
        _any_of([_port(p, flow.port) for p in rule.destination_ports]),
        Match.YES if any_source_port else Match.MAYBE,
        Match.MAYBE if rule.application_groups else Match.YES,
    ]
    if rule.sources:
        parts.append(_any_of([_address(p, flow.source) for p in rule.sources]))
    if rule.destinations:
        parts.append(_any_of([_address(p, flow.destination) for p in rule.destinations]))
    return _all_of(parts)


def decide(nsg: NetworkSecurityGroup, flow: Flow, direction: str) -> tuple[bool, SecurityRule, bool]:
    """(allowed, the deciding rule, whether that rule only may match) for one group: the first matching rule in
    priority order, the default rules last. A deny that may match decides; an allow that may match is passed over."""
    for rule in sorted((*nsg.rules, *DEFAULT_RULES), key=lambda r: (r.priority, r.name)):
        found = matches(rule, flow, direction)
        if found is Match.YES:
            return rule.access.lower() == "allow", rule, False
        if found is Match.MAYBE and rule.access.lower() == "deny":
            return False, rule, True
    raise AssertionError("the default rules deny everything in the end")


def hops(sender: NicFilters, receiver: NicFilters, groups: Mapping[str, NetworkSecurityGroup]) -> tuple[Hop, ...]:
    """The groups a flow from ``sender`` to ``receiver`` meets, in Azure's order (``groups`` by ``ids.key``)."""
    way = ((f"NIC {ids.name_of(sender.nic_id)}", "Outbound", sender.nic_nsg_id),
           (f"subnet {ids.name_of(sender.subnet_id)}", "Outbound", sender.subnet_nsg_id),
           (f"subnet {ids.name_of(receiver.subnet_id)}", "Inbound", receiver.subnet_nsg_id),
           (f"NIC {ids.name_of(receiver.nic_id)}", "Inbound", receiver.nic_nsg_id))
    return tuple(Hop(where, direction, groups[ids.key(nsg_id)]) for where, direction, nsg_id in way
                 if nsg_id and ids.key(nsg_id) in groups)


def verdict(flow: Flow, way: Sequence[Hop]) -> Verdict:
    """The flow through every group on its way: allowed only when each one allows it; the first denial answers."""
    for hop in way:
        allowed, rule, uncertain = decide(hop.nsg, flow, hop.direction)
        if not allowed:
            return Verdict(False, hop, rule, uncertain)
    return Verdict(True)


def blocked(nodes: Sequence[tuple[str, NicFilters]], groups: Mapping[str, NetworkSecurityGroup],
            port: int = MULTI_VM_PORT) -> list[tuple[str, str, Verdict]]:
    """(sender, receiver, the denial) for every ordered pair of nodes (named, with their filters) whose TCP ``port``
    flow a group on its way denies; nodes without a private address are left out (their callers say so)."""
    placed = [(name, f) for name, f in nodes if f.private_ip]
    out = []
    for i, (sender, out_filters) in enumerate(placed):
        for j, (receiver, in_filters) in enumerate(placed):
            if i == j:
                continue
            assert out_filters.private_ip is not None and in_filters.private_ip is not None
            found = verdict(Flow(out_filters.private_ip, in_filters.private_ip, port),
                            hops(out_filters, in_filters, groups))
            if not found.allowed:
                out.append((sender, receiver, found))
    return out


@dataclass(frozen=True)
class Associations:
    """Network security groups as a subscription's list returns them, indexed by what they filter: each group lists
    the NICs and subnets it is associated with (ARM's read-only ``networkInterfaces`` / ``subnets``), so one list tells
    where every NIC's traffic is filtered, without a GET per NIC or subnet."""

    groups: Mapping[str, NetworkSecurityGroup] = field(default_factory=dict)  # by ids.key
    by_nic: Mapping[str, str] = field(default_factory=dict)  # NIC key -> group key
    by_subnet: Mapping[str, str] = field(default_factory=dict)  # subnet key -> group key

    @classmethod
    def of(cls, groups: Iterable[NetworkSecurityGroup]) -> Associations:
        listed = {ids.key(g.id): g for g in groups}
        return cls(groups=listed, by_nic={ids.key(n): k for k, g in listed.items() for n in g.nic_ids},
                   by_subnet={ids.key(s): k for k, g in listed.items() for s in g.subnet_ids})

    def filters(self, nic: Nic) -> NicFilters:
        """Where the NIC's traffic is filtered: the group on the NIC and the one on its subnet (None: no group)."""
        on_nic, on_subnet = self.by_nic.get(ids.key(nic.id)), self.by_subnet.get(ids.key(nic.subnet_id))
        return NicFilters(nic_id=nic.id, private_ip=nic.private_ip, subnet_id=nic.subnet_id,
                          nic_nsg_id=self.groups[on_nic].id if on_nic else None,
                          subnet_nsg_id=self.groups[on_subnet].id if on_subnet else None)
