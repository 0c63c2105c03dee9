"""Microsoft.Network through the real azure-mgmt-network client: virtual networks and subnets, NIC
addressing rules, etags, internal load balancers and the NIC <-> backend pool relationship."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient

from emulator import Emulator
from emulator.providers.network import state as network
from tests.emulator import armhttp

PROD, DR = "rg-s2d-prod", "rg-s2d-dr"


@pytest.fixture
def net(sdk: Any) -> NetworkManagementClient:
    return sdk(NetworkManagementClient)


def _nic_body(subnet_id: str, *, location: str = "westeurope", address: str | None = None,
              pools: tuple[str, ...] = ()) -> dict[str, Any]:
    config: dict[str, Any] = {"subnet": {"id": subnet_id}}
    if address:
        config.update(privateIPAllocationMethod="Static", privateIPAddress=address)
    if pools:
        config["loadBalancerBackendAddressPools"] = [{"id": p} for p in pools]
    return {"location": location, "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": config}]}}


def _error(err: HttpResponseError) -> tuple[int, str]:
    assert err.error is not None, err
    return err.status_code or 0, str(err.error.code)


# -- virtual networks ------------------------------------------------------------------------------

def test_virtual_network_create_get_and_list(emu: Emulator, demo: dict[str, Any], net: NetworkManagementClient) -> None:
    created = net.virtual_networks.begin_create_or_update(DR, "vnet-extra", {
        "location": "northeurope",
        "properties": {"addressSpace": {"addressPrefixes": ["10.40.0.0/16"]},
                       "subnets": [{"name": "a", "properties": {"addressPrefix": "10.40.1.0/24"}},
                                   {"name": "b", "properties": {"addressPrefix": "10.40.2.0/28"}}]}}).result()
    assert created.properties.provisioning_state == "Succeeded"
    assert [s.name for s in created.properties.subnets] == ["a", "b"]
    assert created.etag.startswith('W/"')

    subnet = net.subnets.get(DR, "vnet-extra", "b")
    assert subnet.properties.address_prefix == "10.40.2.0/28"
    names = {v.name for v in net.virtual_networks.list(DR)}
    assert names == {"vnet-dr", "vnet-dr-test", "vnet-extra"}
    assert {v.name for v in net.virtual_networks.list_all()} == names | {"vnet-prod", "vnet-prod-test"}


@pytest.mark.parametrize(("subnets", "code"), [
    ([{"name": "a", "properties": {"addressPrefix": "10.99.1.0/24"}}], "NetcfgSubnetRangeOutsideVnet"),
    ([{"name": "a", "properties": {"addressPrefix": "10.40.1.0/24"}},
      {"name": "b", "properties": {"addressPrefix": "10.40.1.128/25"}}], "NetcfgSubnetRangesOverlap"),
    ([{"name": "a", "properties": {"addressPrefix": "10.40.1.7/24"}}], "InvalidCIDRNotation"),
])
def test_virtual_network_prefix_rules(demo: dict[str, Any], net: NetworkManagementClient, subnets: list[Any],
                                      code: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        net.virtual_networks.begin_create_or_update(DR, "vnet-bad", {
            "location": "northeurope",
            "properties": {"addressSpace": {"addressPrefixes": ["10.40.0.0/16"]}, "subnets": subnets}}).result()
    assert _error(caught.value) == (400, code)


def test_subnet_child_route_adds_a_subnet_and_refuses_to_drop_one_in_use(demo: dict[str, Any],
                                                                          net: NetworkManagementClient) -> None:
    added = net.subnets.begin_create_or_update(PROD, "vnet-prod", "snet-app", {
        "properties": {"addressPrefix": "10.10.2.0/24"}}).result()
    assert added.id.endswith("/virtualNetworks/vnet-prod/subnets/snet-app")
    vnet = net.virtual_networks.get(PROD, "vnet-prod")
    assert sorted(s.name for s in vnet.properties.subnets) == ["snet-app", "snet-s2d"]

    with pytest.raises(HttpResponseError) as caught:
        net.subnets.begin_delete(PROD, "vnet-prod", "snet-s2d").result()
    assert _error(caught.value) == (400, "InUseSubnetCannotBeDeleted")
    net.subnets.begin_delete(PROD, "vnet-prod", "snet-app").result()
    assert [s.name for s in net.virtual_networks.get(PROD, "vnet-prod").properties.subnets] == ["snet-s2d"]


def test_subnet_lists_the_ip_configurations_using_it(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    subnet = net.subnets.get(PROD, "vnet-prod", "snet-s2d")
    users = sorted(c.id.lower() for c in subnet.properties.ip_configurations)
    assert users == sorted([f"{demo['nic_ids'][0]}/ipConfigurations/ipconfig1".lower(),
                            f"{demo['nic_ids'][1]}/ipConfigurations/ipconfig1".lower(),
                            f"{demo['source_lb_id']}/frontendIPConfigurations/fe-cluster".lower()])


def test_check_ip_address_availability(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    taken = net.virtual_networks.check_ip_address_availability(PROD, "vnet-prod", ip_address="10.10.1.10")
    assert taken.available is False
    assert taken.available_ip_addresses[0] == "10.10.1.6"
    assert net.virtual_networks.check_ip_address_availability(PROD, "vnet-prod", ip_address="10.10.1.30").available
    reserved = net.virtual_networks.check_ip_address_availability(PROD, "vnet-prod", ip_address="10.10.1.255")
    assert reserved.available is False and reserved.is_platform_reserved is True


# -- network interfaces: addressing ------------------------------------------------------------------

def test_dynamic_addresses_are_the_next_free_ones(emu: Emulator, demo: dict[str, Any],
                                                  net: NetworkManagementClient) -> None:
    assert network.next_free_ip(emu.world, demo["source_subnet_id"]) == "10.10.1.6"
    first = net.network_interfaces.begin_create_or_update(PROD, "nic-a", _nic_body(demo["source_subnet_id"])).result()
    second = net.network_interfaces.begin_create_or_update(PROD, "nic-b", _nic_body(demo["source_subnet_id"])).result()
    assert [n.properties.ip_configurations[0].properties.private_ip_address for n in (first, second)] == \
        ["10.10.1.6", "10.10.1.7"]
    assert first.properties.ip_configurations[0].properties.private_ip_allocation_method == "Dynamic"
    again = net.network_interfaces.begin_create_or_update(PROD, "nic-a", _nic_body(demo["source_subnet_id"])).result()
    assert again.properties.ip_configurations[0].properties.private_ip_address == "10.10.1.6", "dynamic IPs are sticky"


@pytest.mark.parametrize(("address", "code"), [
    ("10.10.1.4", "PrivateIPAddressInUse"),       # node1's NIC
    ("10.10.1.10", "PrivateIPAddressInUse"),      # the load balancer frontend
    ("10.10.1.0", "PrivateIPAddressInReservedRange"),
    ("10.10.1.1", "PrivateIPAddressInReservedRange"),
    ("10.10.1.3", "PrivateIPAddressInReservedRange"),
    ("10.10.1.255", "PrivateIPAddressInReservedRange"),
    ("10.10.2.4", "PrivateIPAddressNotInSubnet"),
])
def test_static_address_rules(demo: dict[str, Any], net: NetworkManagementClient, address: str, code: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        net.network_interfaces.begin_create_or_update(PROD, "nic-static",
                                                      _nic_body(demo["source_subnet_id"], address=address)).result()
    assert _error(caught.value) == (400, code)
    assert address in caught.value.error.message


def test_static_address_accepted_and_kept_on_rewrite(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    nic = net.network_interfaces.begin_create_or_update(PROD, "nic-static",
                                                        _nic_body(demo["source_subnet_id"], address="10.10.1.200")).result()
    config = nic.properties.ip_configurations[0].properties
    assert (config.private_ip_address, config.private_ip_allocation_method) == ("10.10.1.200", "Static")
    # Re-PUT of the same NIC with its own address is not a conflict with itself.
    net.network_interfaces.begin_create_or_update(PROD, "nic-static",
                                                  _nic_body(demo["source_subnet_id"], address="10.10.1.200")).result()


def test_a_nic_has_one_primary_ip_configuration(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    body = _nic_body(demo["source_subnet_id"])
    body["properties"]["ipConfigurations"] = [
        {"name": "a", "properties": {"subnet": {"id": demo["source_subnet_id"]}, "primary": True}},
        {"name": "b", "properties": {"primary": True}}]
    with pytest.raises(HttpResponseError) as caught:
        net.network_interfaces.begin_create_or_update(PROD, "nic-two", body).result()
    assert _error(caught.value) == (400, "MultiplePrimaryIpConfigurations")
    body["properties"]["ipConfigurations"][1]["properties"] = {"subnet": {"id": demo["recovery_subnet_id"]}}
    with pytest.raises(HttpResponseError) as caught:
        net.network_interfaces.begin_create_or_update(PROD, "nic-two", body).result()
    assert _error(caught.value) == (400, "InvalidResourceReference")


def test_nic_references_must_exist_in_the_same_region(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    with pytest.raises(HttpResponseError) as caught:  # a westeurope NIC on a northeurope subnet
        net.network_interfaces.begin_create_or_update(PROD, "nic-x", _nic_body(demo["recovery_subnet_id"])).result()
    assert _error(caught.value) == (400, "InvalidResourceReference")
    with pytest.raises(HttpResponseError) as caught:
        net.network_interfaces.begin_create_or_update(PROD, "nic-x", _nic_body(demo["source_subnet_id"] + "-nope")).result()
    assert _error(caught.value) == (400, "InvalidResourceReference")


def test_nic_shows_its_virtual_machine_and_cannot_be_deleted_while_attached(
        demo: dict[str, Any], net: NetworkManagementClient) -> None:
    nic = net.network_interfaces.get(PROD, "s2d-node1-nic")
    assert nic.properties.virtual_machine.id.lower() == demo["vm_ids"][0].lower()
    assert nic.properties.primary is True and nic.properties.mac_address
    with pytest.raises(HttpResponseError) as caught:
        net.network_interfaces.begin_delete(PROD, "s2d-node1-nic").result()
    assert _error(caught.value) == (400, "NicInUse")
    net.network_interfaces.begin_delete(PROD, "no-such-nic").result()  # ARM answers 204 for a missing resource


def test_get_missing_nic_is_resource_not_found(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        net.network_interfaces.get(PROD, "no-such-nic")
    assert caught.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as caught:
        net.network_interfaces.get("rg-missing", "no-such-nic")
    assert caught.value.error.code == "ResourceGroupNotFound"


# -- etags ------------------------------------------------------------------------------------------

def test_nic_update_is_get_modify_put_with_if_match(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    nic = net.network_interfaces.get(PROD, "s2d-node2-nic")
    stale = nic.etag
    nic.tags = {"touched": "yes"}
    updated = net.network_interfaces.begin_create_or_update(PROD, "s2d-node2-nic", nic,
                                                            headers={"If-Match": stale}).result()
    assert updated.etag != stale, "every write gets a fresh etag"
    assert updated.tags == {"touched": "yes"}
    assert updated.properties.ip_configurations[0].properties.private_ip_address == "10.10.1.5"

    with pytest.raises(HttpResponseError) as caught:  # a second writer still holding the old etag
        net.network_interfaces.begin_create_or_update(PROD, "s2d-node2-nic", nic, headers={"If-Match": stale}).result()
    assert _error(caught.value) == (412, "PreconditionFailed")
    assert net.network_interfaces.get(PROD, "s2d-node2-nic").etag == updated.etag


def test_if_none_match_star_refuses_to_overwrite(emu: Emulator, demo: dict[str, Any]) -> None:
    path = f"{demo['nic_ids'][0]}"
    reply = armhttp.arm(emu, "PUT", path, api_version="2026-03-01", headers={"If-None-Match": "*"},
                        body=_nic_body(demo["source_subnet_id"], address="10.10.1.4"))
    assert (reply.status, reply.error_code) == (412, "PreconditionFailed")


def test_load_balancer_delete_honours_if_match(emu: Emulator, demo: dict[str, Any], net: NetworkManagementClient) -> None:
    lb = network.create_internal_load_balancer(emu.world, subscription_id=demo["subscription_id"], resource_group=DR,
                                               name="lb-empty", location="northeurope",
                                               subnet_id=demo["recovery_subnet_id"], frontend_ip="10.20.1.10")
    with pytest.raises(HttpResponseError) as caught:
        net.load_balancers.begin_delete(DR, "lb-empty", headers={"If-Match": 'W/"stale"'}).result()
    assert _error(caught.value) == (412, "PreconditionFailed")
    net.load_balancers.begin_delete(DR, "lb-empty", headers={"If-Match": lb["etag"]}).result()
    with pytest.raises(ResourceNotFoundError):
        net.load_balancers.get(DR, "lb-empty")


# -- load balancers ------------------------------------------------------------------------------------

def _ilb_body(lb_id: str, subnet_id: str, *, address: str | None = "10.20.1.10", sku: str = "Standard",
              protocol: str = "All", ports: int = 0) -> dict[str, Any]:
    frontend: dict[str, Any] = {"subnet": {"id": subnet_id}}
    if address:
        frontend.update(privateIPAllocationMethod="Static", privateIPAddress=address)
    return {"location": "northeurope", "sku": {"name": sku}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": frontend}],
        "backendAddressPools": [{"name": "pool"}],
        "probes": [{"name": "probe", "properties": {"protocol": "Tcp", "port": 59999}}],
        "loadBalancingRules": [{"name": "ha", "properties": {
            "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/fe"},
            "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/pool"},
            "probe": {"id": f"{lb_id}/probes/probe"},
            "protocol": protocol, "frontendPort": ports, "backendPort": ports, "enableFloatingIP": True}}]}}


def _lb_id(demo: dict[str, Any], name: str) -> str:
    return f"/subscriptions/{demo['subscription_id']}/resourceGroups/{DR}/providers/Microsoft.Network/loadBalancers/{name}"


def test_internal_ha_ports_load_balancer(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    lb_id = _lb_id(demo, "lb-dr")
    lb = net.load_balancers.begin_create_or_update(DR, "lb-dr", _ilb_body(lb_id, demo["recovery_subnet_id"])).result()
    assert lb.sku.name == "Standard"
    frontend = lb.properties.frontend_ip_configurations[0]
    assert (frontend.properties.private_ip_address, frontend.properties.private_ip_allocation_method) == \
        ("10.20.1.10", "Static")
    rule = lb.properties.load_balancing_rules[0].properties
    assert (rule.protocol, rule.frontend_port, rule.backend_port, rule.enable_floating_ip) == ("All", 0, 0, True)
    assert lb.properties.probes[0].properties.port == 59999
    assert [r.id for r in frontend.properties.load_balancing_rules] == [f"{lb_id}/loadBalancingRules/ha"]
    assert [r.id for r in lb.properties.probes[0].properties.load_balancing_rules] == [f"{lb_id}/loadBalancingRules/ha"]
    # The frontend now holds its address: a NIC cannot take it.
    with pytest.raises(HttpResponseError) as caught:
        net.network_interfaces.begin_create_or_update(DR, "nic-dr", _nic_body(demo["recovery_subnet_id"],
                                                                              location="northeurope",
                                                                              address="10.20.1.10")).result()
    assert _error(caught.value) == (400, "PrivateIPAddressInUse")


def test_dynamic_frontend_takes_the_next_free_address(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    lb_id = _lb_id(demo, "lb-dyn")
    lb = net.load_balancers.begin_create_or_update(DR, "lb-dyn", _ilb_body(lb_id, demo["recovery_subnet_id"],
                                                                           address=None)).result()
    props = lb.properties.frontend_ip_configurations[0].properties
    assert (props.private_ip_address, props.private_ip_allocation_method) == ("10.20.1.4", "Dynamic")


@pytest.mark.parametrize(("changes", "code"), [
    ({"ports": 443}, "InvalidLoadBalancingRule"),                 # protocol All needs ports 0
    ({"protocol": "Tcp"}, "InvalidLoadBalancingRule"),            # port 0 only for HA ports
    ({"sku": "Basic"}, "InvalidLoadBalancingRule"),               # HA ports need Standard
    ({"address": "10.20.1.2"}, "PrivateIPAddressInReservedRange"),
    ({"address": "10.10.1.50"}, "PrivateIPAddressNotInSubnet"),
])
def test_load_balancer_rules(demo: dict[str, Any], net: NetworkManagementClient, changes: dict[str, Any],
                             code: str) -> None:
    lb_id = _lb_id(demo, "lb-bad")
    with pytest.raises(HttpResponseError) as caught:
        net.load_balancers.begin_create_or_update(DR, "lb-bad", _ilb_body(lb_id, demo["recovery_subnet_id"],
                                                                          **changes)).result()
    assert _error(caught.value) == (400, code)


def test_rule_reference_outside_the_load_balancer_is_refused(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    lb_id = _lb_id(demo, "lb-ref")
    body = _ilb_body(lb_id, demo["recovery_subnet_id"])
    body["properties"]["loadBalancingRules"][0]["properties"]["probe"] = {"id": f"{lb_id}/probes/missing"}
    with pytest.raises(HttpResponseError) as caught:
        net.load_balancers.begin_create_or_update(DR, "lb-ref", body).result()
    assert _error(caught.value) == (400, "InvalidResourceReference")


def test_nic_and_backend_pool_stay_consistent_both_ways(emu: Emulator, demo: dict[str, Any],
                                                        net: NetworkManagementClient) -> None:
    lb_id = _lb_id(demo, "lb-dr")
    pool_id = f"{lb_id}/backendAddressPools/pool"
    net.load_balancers.begin_create_or_update(DR, "lb-dr", _ilb_body(lb_id, demo["recovery_subnet_id"])).result()
    nics = [network.create_nic(emu.world, subscription_id=demo["subscription_id"], resource_group=DR, name=f"dr-{i}",
                               location="northeurope", subnet_id=demo["recovery_subnet_id"]) for i in (1, 2)]

    # Join through the NIC, as ASR and the app do: GET, add the pool, PUT back with If-Match.
    for nic_id in (n["id"] for n in nics):
        nic = net.network_interfaces.get(DR, nic_id.rsplit("/", 1)[-1])
        nic.properties.ip_configurations[0].properties.load_balancer_backend_address_pools = [{"id": pool_id}]
        net.network_interfaces.begin_create_or_update(DR, nic.name, nic, headers={"If-Match": nic.etag}).result()
    pool = net.load_balancers.get(DR, "lb-dr").properties.backend_address_pools[0]
    members = sorted(c.id.lower() for c in pool.properties.backend_ip_configurations)
    assert members == sorted(f"{n['id']}/ipConfigurations/ipconfig1".lower() for n in nics)

    with pytest.raises(HttpResponseError) as caught:  # a pool in use cannot disappear from under its NICs
        body = _ilb_body(lb_id, demo["recovery_subnet_id"])
        body["properties"]["backendAddressPools"] = [{"name": "other"}]
        body["properties"]["loadBalancingRules"][0]["properties"].pop("backendAddressPool")
        net.load_balancers.begin_create_or_update(DR, "lb-dr", body).result()
    assert _error(caught.value) == (400, "InUseBackendAddressPoolCannotBeDeleted")

    leaving = net.network_interfaces.get(DR, "dr-1")
    leaving.properties.ip_configurations[0].properties.load_balancer_backend_address_pools = []
    net.network_interfaces.begin_create_or_update(DR, "dr-1", leaving).result()
    pool = net.load_balancers.get(DR, "lb-dr").properties.backend_address_pools[0]
    assert [c.id.lower() for c in pool.properties.backend_ip_configurations] == \
        [f"{nics[1]['id']}/ipConfigurations/ipconfig1".lower()]

    net.network_interfaces.begin_delete(DR, "dr-2").result()
    pool = net.load_balancers.get(DR, "lb-dr").properties.backend_address_pools[0]
    assert not pool.properties.backend_ip_configurations


def test_nic_cannot_join_an_internal_pool_of_another_vnet(emu: Emulator, demo: dict[str, Any],
                                                          net: NetworkManagementClient) -> None:
    lb_id = _lb_id(demo, "lb-dr")
    net.load_balancers.begin_create_or_update(DR, "lb-dr", _ilb_body(lb_id, demo["recovery_subnet_id"])).result()
    with pytest.raises(HttpResponseError) as caught:  # the test-failover VNet is isolated from vnet-dr
        net.network_interfaces.begin_create_or_update(DR, "nic-test", _nic_body(
            demo["test_subnet_id"], location="northeurope", pools=(f"{lb_id}/backendAddressPools/pool",))).result()
    assert _error(caught.value) == (400, "NetworkInterfaceAndInternalLoadBalancerMustUseSameVnet")
    with pytest.raises(HttpResponseError) as caught:
        net.network_interfaces.begin_create_or_update(DR, "nic-test", _nic_body(
            demo["recovery_subnet_id"], location="northeurope", pools=(f"{lb_id}/backendAddressPools/nope",))).result()
    assert _error(caught.value) == (400, "InvalidResourceReference")


def test_demo_load_balancer_holds_the_cluster_ip_and_both_nodes(demo: dict[str, Any], net: NetworkManagementClient) -> None:
    lb = net.load_balancers.get(PROD, "lb-s2d-cluster")
    assert lb.properties.frontend_ip_configurations[0].properties.private_ip_address == demo["cluster_ip"]
    members = {c.id.lower() for c in lb.properties.backend_address_pools[0].properties.backend_ip_configurations}
    assert members == {f"{n}/ipConfigurations/ipconfig1".lower() for n in demo["nic_ids"]}
    nic = net.network_interfaces.get(PROD, "s2d-node1-nic")
    pools = nic.properties.ip_configurations[0].properties.load_balancer_backend_address_pools
    assert [p.id for p in pools] == [lb.properties.backend_address_pools[0].id]
    assert [lb.name for lb in net.load_balancers.list(PROD)] == ["lb-s2d-cluster"]


def test_resource_ids_are_case_insensitive(emu: Emulator, demo: dict[str, Any]) -> None:
    shouted = demo["nic_ids"][0].replace("resourceGroups", "resourcegroups").upper().replace("/SUBSCRIPTIONS/",
                                                                                              "/subscriptions/")
    reply = armhttp.arm(emu, "GET", shouted, api_version="2026-03-01")
    assert reply.status == 200
    assert reply.body["id"] == demo["nic_ids"][0], "ARM answers with the ID as the resource was created"
