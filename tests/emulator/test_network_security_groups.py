"""Network security groups through the real azure-mgmt-network client: rules and Azure's rules about them, the
default rules, the association with NICs and subnets (and what it forbids), and the back-references."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.network import NetworkManagementClient

from emulator import Emulator
from emulator.providers.network import state as network

PROD = "rg-s2d-prod"


@pytest.fixture
def net(sdk: Any) -> NetworkManagementClient:
    return sdk(NetworkManagementClient)


def rule(name: str, priority: int, *, direction: str = "Inbound", access: str = "Deny", port: str = "20004",
         **extra: Any) -> dict[str, Any]:
    props = {"priority": priority, "direction": direction, "access": access, "protocol": "Tcp",
             "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*",
             "destinationPortRange": port, **extra}
    return {"name": name, "properties": props}


def _code(err: HttpResponseError) -> tuple[int, str]:
    assert err.error is not None
    return err.status_code or 0, str(err.error.code)


def test_a_group_is_created_with_its_rules_and_the_six_default_rules(emu: Emulator, demo: dict[str, Any],
                                                                     net: NetworkManagementClient) -> None:
    created = net.network_security_groups.begin_create_or_update(PROD, "nsg-s2d", {
        "location": "westeurope", "properties": {"securityRules": [rule("deny-20004", 200)]}}).result()
    assert [r.name for r in created.security_rules] == ["deny-20004"]
    got = net.network_security_groups.get(PROD, "nsg-s2d")
    assert (got.security_rules[0].priority, got.security_rules[0].access, got.security_rules[0].destination_port_range) \
        == (200, "Deny", "20004")
    assert {(r.name, r.priority, r.direction) for r in got.default_security_rules} == {
        ("AllowVnetInBound", 65000, "Inbound"), ("AllowAzureLoadBalancerInBound", 65001, "Inbound"),
        ("DenyAllInBound", 65500, "Inbound"), ("AllowVnetOutBound", 65000, "Outbound"),
        ("AllowInternetOutBound", 65001, "Outbound"), ("DenyAllOutBound", 65500, "Outbound")}
    assert [g.name for g in net.network_security_groups.list(PROD)] == ["nsg-s2d"]


@pytest.mark.parametrize(("rules", "code"), [
    ([rule("low", 99)], "InvalidRequestFormat"),  # priority is 100-4096
    ([rule("high", 4097)], "InvalidRequestFormat"),
    ([rule("a", 200), rule("b", 200)], "SecurityRuleConflict"),  # same priority and direction
    ([rule("a", 200, protocol="Sctp")], "InvalidRequestFormat"),
    ([rule("a", 200, destinationPortRange="70000")], "InvalidRequestFormat"),
    ([rule("a", 200, destinationPortRanges=["1", "2"])], "InvalidRequestFormat"),  # both forms at once
])
def test_rules_azure_refuses_are_refused(emu: Emulator, demo: dict[str, Any], net: NetworkManagementClient,
                                         rules: list[dict[str, Any]], code: str) -> None:
    with pytest.raises(HttpResponseError) as err:
        net.network_security_groups.begin_create_or_update(PROD, "nsg-bad", {
            "location": "westeurope", "properties": {"securityRules": rules}}).result()
    assert _code(err.value) == (400, code)


def test_one_priority_may_serve_both_directions(emu: Emulator, demo: dict[str, Any],
                                                net: NetworkManagementClient) -> None:
    created = net.network_security_groups.begin_create_or_update(PROD, "nsg-two", {
        "location": "westeurope", "properties": {"securityRules": [
            rule("in", 200), rule("out", 200, direction="Outbound")]}}).result()
    assert len(created.security_rules) == 2


def test_nics_and_subnets_reference_a_group_of_their_region_and_it_lists_them(
        emu: Emulator, demo: dict[str, Any], net: NetworkManagementClient) -> None:
    with emu.world.lock:
        local = network.add_network_security_group(emu.world, subscription_id=demo["subscription_id"],
                                                   resource_group=PROD, name="nsg-we", location="westeurope")
        far = network.add_network_security_group(emu.world, subscription_id=demo["subscription_id"],
                                                 resource_group=PROD, name="nsg-ne", location="northeurope")
    nic = net.network_interfaces.get(PROD, "s2d-node1-nic").as_dict()
    nic["properties"]["networkSecurityGroup"] = {"id": far["id"]}
    with pytest.raises(HttpResponseError) as err:
        net.network_interfaces.begin_create_or_update(PROD, "s2d-node1-nic", nic).result()
    assert _code(err.value) == (400, "InvalidResourceReference")
    nic["properties"]["networkSecurityGroup"] = {"id": local["id"]}
    net.network_interfaces.begin_create_or_update(PROD, "s2d-node1-nic", nic).result()
    subnet = net.subnets.get(PROD, "vnet-prod", "snet-s2d").as_dict()
    subnet["properties"]["networkSecurityGroup"] = {"id": local["id"]}
    net.subnets.begin_create_or_update(PROD, "vnet-prod", "snet-s2d", subnet).result()

    got = net.network_security_groups.get(PROD, "nsg-we")
    assert [n.id for n in got.network_interfaces] == [demo["nic_ids"][0]]
    assert [s.id for s in got.subnets] == [demo["source_subnet_id"]]
    assert net.subnets.get(PROD, "vnet-prod", "snet-s2d").network_security_group.id == local["id"]


def test_a_group_in_use_cannot_be_deleted(emu: Emulator, demo: dict[str, Any], net: NetworkManagementClient) -> None:
    with emu.world.lock:
        nsg = network.add_network_security_group(emu.world, subscription_id=demo["subscription_id"],
                                                 resource_group=PROD, name="nsg-s2d", location="westeurope")
        network.associate_nsg(emu.world, nsg_id=nsg["id"], subnet_id=demo["source_subnet_id"])
    with pytest.raises(HttpResponseError) as err:
        net.network_security_groups.begin_delete(PROD, "nsg-s2d").result()
    assert _code(err.value) == (400, "InUseNetworkSecurityGroupCannotBeDeleted")
    with emu.world.lock:
        network.associate_nsg(emu.world, nsg_id=None, subnet_id=demo["source_subnet_id"])
    net.network_security_groups.begin_delete(PROD, "nsg-s2d").result()
    assert [g.name for g in net.network_security_groups.list(PROD)] == []
