"""The demo and empty worlds: every ID the demo seed returns names a real resource, seen through the SDKs."""

from __future__ import annotations

from typing import Any

from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator import Emulator
from emulator.seed import SEEDS

ID_KEYS = ("availability_set_id", "source_lb_id", "source_vnet_id", "source_subnet_id", "vault_id",
           "recovery_resource_group_id", "recovery_vnet_id", "recovery_subnet_id", "test_vnet_id", "test_subnet_id",
           "cache_storage_account_id", "witness_storage_account_id", "dr_cache_storage_account_id")


def test_demo_returns_every_id_and_each_resolves(emu: Emulator, demo: dict[str, Any]) -> None:
    assert (demo["source_region"], demo["target_region"]) == ("westeurope", "northeurope")
    assert (demo["cluster_name"], demo["cluster_ip"]) == ("s2dclu01", "10.10.1.10")
    assert (demo["source_resource_group"], demo["dr_resource_group"]) == ("rg-s2d-prod", "rg-s2d-dr")
    assert (len(demo["vm_ids"]), len(demo["nic_ids"]), len(demo["disk_ids"])) == (2, 2, 6)
    for key in ID_KEYS:
        reply = emu.handle_control("GET", "/_emulator/resource", {"id": demo[key]}, b"")
        if key.endswith("subnet_id"):
            continue  # subnets live inside their virtual network
        assert reply[0] == 200, (key, reply)
    for resource_id in (*demo["vm_ids"], *demo["nic_ids"], *demo["disk_ids"]):
        assert emu.world.exists(resource_id), resource_id
    assert emu.world.get(demo["vault_id"])["location"] == "northeurope", "the vault lives in the DR region"


def test_demo_through_the_sdk(demo: dict[str, Any], sdk: Any) -> None:
    compute = sdk(ComputeManagementClient)
    assert [vm.name for vm in compute.virtual_machines.list_all()] == ["s2d-node1", "s2d-node2"]
    groups = {g.name: g.location for g in sdk(ResourceManagementClient).resource_groups.list()}
    assert groups == {"rg-s2d-prod": "westeurope", "rg-s2d-dr": "northeurope"}
    assert [vm.tags for vm in compute.virtual_machines.list("rg-s2d-prod")] == [{}, {}], "nothing is tagged yet"


def test_empty_world_has_only_the_subscription(emu: Emulator, sdk: Any) -> None:
    world = SEEDS["empty"](emu)
    assert world == {"subscription_id": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"}
    assert list(sdk(ComputeManagementClient).virtual_machines.list_all()) == []
    assert list(sdk(ResourceManagementClient).resource_groups.list()) == []
