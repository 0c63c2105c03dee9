"""Whether network security groups let a flow through (``shared.enrollment.nsg``), table-driven, against what
Microsoft's NSG articles say: priority order, first match wins, the default rules, subnet then NIC inbound and NIC
then subnet outbound, and the uncertain rules read so that the answer is never a false "allowed"."""

from __future__ import annotations

import pytest

from shared.enrollment import nsg
from shared.inventory import NetworkSecurityGroup, NicFilters, SecurityRule

RG = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network"
FLOW = nsg.Flow("10.10.1.4", "10.10.1.5", 20004)


def rule(access: str, priority: int = 200, *, direction: str = "Inbound", protocol: str = "Tcp",
         sources: tuple[str, ...] = ("*",), destinations: tuple[str, ...] = ("*",), ports: tuple[str, ...] = ("20004",),
         source_ports: tuple[str, ...] = ("*",), groups: bool = False) -> SecurityRule:
    return SecurityRule(f"{access.lower()}-{priority}", priority, direction, access, protocol, sources, source_ports,
                        destinations, ports, groups)


def group(*rules: SecurityRule, name: str = "nsg") -> NetworkSecurityGroup:
    return NetworkSecurityGroup(f"{RG}/networkSecurityGroups/{name}", name, "westeurope", rules)


@pytest.mark.parametrize(("rules", "allowed", "deciding"), [
    ((), True, "AllowVnetInBound"),  # the default rules: VirtualNetwork to VirtualNetwork
    ((rule("Deny"),), False, "deny-200"),
    ((rule("Allow", 100), rule("Deny", 200)), True, "allow-100"),  # lower number first, first match wins
    ((rule("Deny", 100), rule("Allow", 200)), False, "deny-100"),
    ((rule("Deny", protocol="Udp"),), True, "AllowVnetInBound"),
    ((rule("Deny", protocol="*"),), False, "deny-200"),
    ((rule("Deny", ports=("20000-20010",)),), False, "deny-200"),
    ((rule("Deny", ports=("80", "443")),), True, "AllowVnetInBound"),
    ((rule("Deny", sources=("10.10.1.5/32",)),), True, "AllowVnetInBound"),  # another sender
    ((rule("Deny", sources=("10.10.1.0/24",)),), False, "deny-200"),
    ((rule("Deny", sources=("Internet",)),), True, "AllowVnetInBound"),  # a service tag without node addresses
    ((rule("Deny", sources=("VirtualNetwork",)),), False, "deny-200"),
    ((rule("Deny", direction="Outbound"),), True, "AllowVnetInBound"),  # seen inbound here
    ((rule("Deny", 4096, ports=("*",)),), False, "deny-4096"),  # a custom deny-all beats the default allow
    ((rule("Deny", source_ports=("49152-65535",)),), False, "deny-200"),  # may match: a deny counts
    ((rule("Allow", 100, source_ports=("1024",)), rule("Deny", 300)), False, "deny-300"),  # may match: an allow does not
    ((rule("Deny", groups=True, sources=()),), False, "deny-200"),  # application security groups: a deny counts
])
def test_one_group_inbound(rules: tuple[SecurityRule, ...], allowed: bool, deciding: str) -> None:
    got, decided_by, _uncertain = nsg.decide(group(*rules), FLOW, "Inbound")
    assert (got, decided_by.name) == (allowed, deciding)


def test_the_way_is_nic_then_subnet_out_and_subnet_then_nic_in() -> None:
    sender = NicFilters(f"{RG}/networkInterfaces/a-nic", "10.10.1.4", f"{RG}/virtualNetworks/v/subnets/s1",
                        f"{RG}/networkSecurityGroups/nic-a", f"{RG}/networkSecurityGroups/sub-1")
    receiver = NicFilters(f"{RG}/networkInterfaces/b-nic", "10.10.1.5", f"{RG}/virtualNetworks/v/subnets/s2",
                          f"{RG}/networkSecurityGroups/nic-b", None)
    groups = {g.id.lower(): g for g in (group(name="nic-a"), group(name="sub-1"), group(name="nic-b"))}
    way = nsg.hops(sender, receiver, groups)
    assert [(h.where, h.direction, h.nsg.name) for h in way] == [
        ("NIC a-nic", "Outbound", "nic-a"), ("subnet s1", "Outbound", "sub-1"), ("NIC b-nic", "Inbound", "nic-b")]
    assert nsg.verdict(FLOW, way).allowed
    groups[f"{RG}/networkSecurityGroups/nic-b".lower()] = group(rule("Deny"), name="nic-b")
    found = nsg.verdict(FLOW, nsg.hops(sender, receiver, groups))
    assert not found.allowed and found.describe().startswith(
        "denied by rule deny-200 (priority 200, inbound) of network security group nic-b on NIC b-nic")


def test_no_group_on_the_way_lets_everything_through() -> None:
    assert nsg.verdict(FLOW, ()).allowed
