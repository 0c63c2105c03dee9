"""The emulator's answers have the shape of the official REST examples (tests/api_examples): the example's
request is sent to the emulator as is (IDs moved into the emulated subscription), and every key of the
example's response is in the emulator's response, recursively. Every key the emulator sends must also
be a field the pinned SDK's model knows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.mgmt.compute import models as compute_models
from azure.mgmt.network import models as network_models
from azure.mgmt.resource.resources import models as resource_models

from emulator import Emulator
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from emulator.providers.resources.state import add_group
from tests.emulator import armhttp
from tests.emulator.shapes import example, missing_keys, unknown_keys


def _localised(name: str, subscription_id: str) -> dict[str, Any]:
    """The example with its placeholder subscription replaced by the emulated one."""
    text = json.dumps(example(name)).replace("/subscriptions/subid/", f"/subscriptions/{subscription_id}/")
    return json.loads(text)  # type: ignore[no-any-return]


def _put_example(emu: Emulator, name: str, subscription_id: str, resource_id: str) -> tuple[Any, Any]:
    """The example's PUT sent as is: (the example's 201 body, the emulator's 201 body)."""
    created = _localised(name, subscription_id)
    params = created["parameters"]
    reply = armhttp.arm(emu, "PUT", resource_id, api_version=params["api-version"], body=params["parameters"])
    assert reply.status == 201, reply.text
    return created["responses"]["201"]["body"], reply.body


def _assert_shape(model: type, expected: Any, got: Any) -> None:
    """Every key of Azure's example is in the emulator's answer; every key of the answer is a field of the SDK model."""
    assert missing_keys(expected, got) == []
    assert unknown_keys(model, got) == []


@pytest.fixture
def rg1(emu: Emulator, demo: dict[str, Any]) -> str:
    """The examples' resource group ``rg1`` (eastus) with their virtual networks."""
    sub = demo["subscription_id"]
    with emu.world.lock:
        add_group(emu.world, sub, "rg1", "eastus")
        network.add_virtual_network(emu.world, subscription_id=sub, resource_group="rg1", name="vnetlb",
                                    location="eastus", address_prefixes=["10.0.0.0/16"], subnets={"subnetlb": "10.0.1.0/24"})
        network.add_virtual_network(emu.world, subscription_id=sub, resource_group="rg1", name="rg1-vnet",
                                    location="eastus", address_prefixes=["172.20.0.0/16"], subnets={"default": "172.20.2.0/24"})
    return sub


def test_load_balancer_create_and_get_match_the_examples(emu: Emulator, rg1: str) -> None:
    lb_id = f"/subscriptions/{rg1}/resourceGroups/rg1/providers/Microsoft.Network/loadBalancers/lb"
    _assert_shape(network_models.LoadBalancer, *_put_example(
        emu, "network_2025-07-01_LoadBalancers_CreateOrUpdate_LoadBalancerCreate.json", rg1, lb_id))
    emu.lro.settle()

    got = armhttp.arm(emu, "GET", lb_id, api_version="2025-07-01").body
    expected = _localised("network_2025-07-01_LoadBalancers_Get_LoadBalancerGet.json", rg1)["responses"]["200"]["body"]
    _assert_shape(network_models.LoadBalancer, expected, got)
    # Beyond keys: the same dynamic address and the same cross-references as Azure's answer.
    frontend = got["properties"]["frontendIPConfigurations"][0]["properties"]
    assert frontend["privateIPAddress"] == expected["properties"]["frontendIPConfigurations"][0]["properties"][
        "privateIPAddress"] == "10.0.1.4"
    for collection in ("frontendIPConfigurations", "backendAddressPools", "probes"):
        assert got["properties"][collection][0]["properties"]["loadBalancingRules"] == \
            expected["properties"][collection][0]["properties"]["loadBalancingRules"]
    assert frontend["inboundNatRules"] == expected["properties"]["frontendIPConfigurations"][0]["properties"][
        "inboundNatRules"]


def test_network_interface_create_matches_the_example(emu: Emulator, rg1: str) -> None:
    nic_id = f"/subscriptions/{rg1}/resourceGroups/rg1/providers/Microsoft.Network/networkInterfaces/test-nic"
    expected, got = _put_example(
        emu, "network_2025-03-01_NetworkInterfaces_CreateOrUpdate_NetworkInterfaceCreate.json", rg1, nic_id)
    _assert_shape(network_models.NetworkInterface, expected, got)
    addresses = [c["properties"]["privateIPAddress"] for c in got["properties"]["ipConfigurations"]]
    assert addresses == [c["properties"]["privateIPAddress"] for c in expected["properties"]["ipConfigurations"]] == \
        ["172.20.2.4", "172.20.2.16/28"], "Azure's allocation, including the aligned /28 block"
    assert [c["properties"]["primary"] for c in got["properties"]["ipConfigurations"]] == [True, False]


def test_network_interface_get_matches_the_example(emu: Emulator, rg1: str) -> None:
    """The example's NIC is attached to a VM and has an NSG and a DSCP configuration: build the same."""
    request = _localised("network_2025-03-01_NetworkInterfaces_CreateOrUpdate_NetworkInterfaceCreate.json",
                         rg1)["parameters"]["parameters"]
    base = f"/subscriptions/{rg1}/resourceGroups/rg1/providers/Microsoft.Network"
    with emu.world.lock:
        network.add_network_security_group(emu.world, subscription_id=rg1, resource_group="rg1", name="nsg",
                                           location="eastus")
    request["properties"]["networkSecurityGroup"] = {"id": f"{base}/networkSecurityGroups/nsg"}
    request["properties"]["dscpConfiguration"] = {"id": f"{base}/dscpConfigurations/mydscpconfiguration"}
    nic_id = f"{base}/networkInterfaces/test-nic"
    assert armhttp.arm(emu, "PUT", nic_id, api_version="2025-07-01", body=request).status == 201
    emu.lro.settle()
    with emu.world.lock:
        compute.create_vm(emu.world, subscription_id=rg1, resource_group="rg1", name="vm1", location="eastus",
                          nic_ids=[nic_id])
    got = armhttp.arm(emu, "GET", nic_id, api_version="2025-07-01").body
    expected = _localised("network_2025-07-01_NetworkInterfaces_Get_NetworkInterfaceGet.json", rg1)["responses"]["200"]["body"]
    _assert_shape(network_models.NetworkInterface, expected, got)
    assert got["properties"]["virtualMachine"]["id"].endswith("/resourceGroups/rg1/providers/Microsoft.Compute/"
                                                              "virtualMachines/vm1")


def test_tags_patch_at_scope_matches_the_example(emu: Emulator, demo: dict[str, Any]) -> None:
    patch = example("resources_2024-11-01_Tags_UpdateAtScope_PatchTagsResource.json")
    scope = demo["vm_ids"][0]
    reply = armhttp.arm(emu, "PATCH", f"{scope}/providers/Microsoft.Resources/tags/default",
                        api_version=patch["parameters"]["api-version"], body=patch["parameters"]["parameters"])
    assert reply.status == 200, reply.text
    expected = patch["responses"]["200"]["body"]
    _assert_shape(resource_models.TagsResource, expected, reply.body)
    assert reply.body["properties"] == expected["properties"]


def _vm(emu: Emulator, demo: dict[str, Any]) -> Any:
    return armhttp.arm(emu, "GET", demo["vm_ids"][0], api_version="2026-04-01", query={"$expand": "instanceView"}).body


@pytest.mark.parametrize(("model", "read"), [
    (compute_models.VirtualMachine, _vm),
    (compute_models.VirtualMachineInstanceView,
     lambda emu, demo: armhttp.arm(emu, "GET", demo["vm_ids"][0] + "/instanceView", api_version="2026-04-01").body),
    (compute_models.Disk, lambda emu, demo: armhttp.arm(emu, "GET", demo["disk_ids"][0], api_version="2026-03-02").body),
    (compute_models.AvailabilitySet,
     lambda emu, demo: armhttp.arm(emu, "GET", demo["availability_set_id"], api_version="2026-04-01").body),
    (network_models.VirtualNetwork,
     lambda emu, demo: armhttp.arm(emu, "GET", demo["source_vnet_id"], api_version="2026-03-01").body),
    (network_models.Subnet,
     lambda emu, demo: armhttp.arm(emu, "GET", demo["source_subnet_id"], api_version="2026-03-01").body),
    (network_models.LoadBalancer,
     lambda emu, demo: armhttp.arm(emu, "GET", demo["source_lb_id"], api_version="2026-03-01").body),
    (network_models.NetworkInterface,
     lambda emu, demo: armhttp.arm(emu, "GET", demo["nic_ids"][0], api_version="2026-03-01").body),
    (compute_models.RunCommandResult, lambda emu, demo: _run_result(emu, demo)),
])
def test_every_key_is_a_field_of_the_sdk_model(emu: Emulator, demo: dict[str, Any], model: type, read: Any) -> None:
    body = read(emu, demo)
    assert body and "error" not in body, body
    assert unknown_keys(model, body) == []


def _run_result(emu: Emulator, demo: dict[str, Any]) -> Any:
    started = armhttp.arm(emu, "POST", demo["vm_ids"][0] + "/runCommand", api_version="2026-04-01",
                          body={"commandId": "RunPowerShellScript", "script": ["# asr-s2d:cluster-health v2"]})
    assert started.status == 202 and started.headers["azure-asyncoperation"]
    location = started.headers["location"].replace(emu.endpoint, "")
    path, _, query = location.partition("?")
    return armhttp.arm(emu, "GET", path, api_version=query.split("=", 1)[1]).body


def test_shape_checker_catches_a_missing_and_an_unknown_key() -> None:
    """The two checks above can fail: they see a dropped key and an invented one."""
    assert missing_keys({"a": {"b": [{"c": 1}]}}, {"a": {"b": [{}]}}) == ["$.a.b[0].c"]
    assert unknown_keys(network_models.LoadBalancer, {"properties": {"probes": [{"properties": {"portt": 1}}]}}) == \
        ["$.properties.probes[0].properties.portt"]
