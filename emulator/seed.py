"""Worlds the emulator can start with: ``demo`` (a two-node S2D cluster to protect), ``demo-sql`` (the same with a
SQL Server failover cluster instance: a second access point on the cluster and its load balancer) and ``empty``.

Seeds build state through the providers' state functions, so every rule a REST call would meet
applies to seeded resources too, and publish no events (nothing "happened": the world just is).
Each seed returns the IDs tests, the demo and ``python -m emulator`` print and use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from emulator.providers.authorization.deployment import grant_deployment
from emulator.providers.compute import guest
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from emulator.providers.recoveryservices.state import add_vault
from emulator.providers.resources.state import add_group, add_subscription, group_id
from emulator.providers.storage.state import add_storage_account

if TYPE_CHECKING:
    from emulator.core.http import Host

SUBSCRIPTION_ID = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
SOURCE_REGION = "westeurope"
TARGET_REGION = "northeurope"
CLUSTER_NAME = "s2dclu01"
CLUSTER_IP = "10.10.1.10"
SQL_IP = "10.10.1.11"  # the SQL Server FCI's virtual network name's address (demo-sql)
SQL_PROBE_PORT = 59998


def seed_empty(emu: Host) -> dict[str, Any]:
    """Only the subscription: every resource is for the test to create."""
    with emu.world.lock:
        add_subscription(emu.world, SUBSCRIPTION_ID)
    return {"subscription_id": SUBSCRIPTION_ID}


def seed_demo(emu: Host, *, sql: bool = False) -> dict[str, Any]:
    """The demo world: S2D cluster ``s2dclu01`` (two nodes) in westeurope, the DR side in northeurope. ``sql`` adds a
    SQL Server FCI role to the cluster (``SQL_IP``, probe ``SQL_PROBE_PORT``) and its frontend ``fe-sqlvnn``, probe
    ``probe-sqlvnn`` and HA-ports rule ``ha-ports-sqlvnn`` to the cluster's load balancer."""
    world, sub = emu.world, SUBSCRIPTION_ID
    prod, dr = "rg-s2d-prod", "rg-s2d-dr"
    with world.lock:
        add_subscription(world, sub)
        add_group(world, sub, prod, SOURCE_REGION)
        add_group(world, sub, dr, TARGET_REGION)

        vnet = network.add_virtual_network(world, subscription_id=sub, resource_group=prod, name="vnet-prod",
                                           location=SOURCE_REGION, address_prefixes=["10.10.0.0/16"],
                                           subnets={"snet-s2d": "10.10.1.0/24"})
        subnet_id = vnet["properties"]["subnets"][0]["id"]
        # Isolated, like the DR test network: drills of the way back (after a reprotect) come up here.
        vnet_failback_test = network.add_virtual_network(
            world, subscription_id=sub, resource_group=prod, name="vnet-prod-test", location=SOURCE_REGION,
            address_prefixes=["10.40.0.0/16"], subnets={"snet-s2d": "10.40.1.0/24"})
        avset = compute.add_availability_set(world, subscription_id=sub, resource_group=prod, name="avset-s2d",
                                             location=SOURCE_REGION)
        vm_ids, nic_ids, disk_ids = [], [], []
        for name, address in (("s2d-node1", "10.10.1.4"), ("s2d-node2", "10.10.1.5")):
            nic = network.create_nic(world, subscription_id=sub, resource_group=prod, name=f"{name}-nic",
                                     location=SOURCE_REGION, subnet_id=subnet_id, static_ip=address)
            vm = compute.create_vm(world, subscription_id=sub, resource_group=prod, name=name, location=SOURCE_REGION,
                                   nic_ids=[nic["id"]], vm_size="Standard_D4s_v5",
                                   os_disk={"name": f"{name}-osdisk", "size_gb": 128, "sku": "Premium_LRS"},
                                   data_disks=[{"name": f"{name}-data{lun}", "size_gb": 1024, "sku": "Premium_LRS"}
                                               for lun in (0, 1)],
                                   availability_set_id=avset["id"], power_state="running")
            storage = vm["properties"]["storageProfile"]
            disk_ids += [d["managedDisk"]["id"] for d in (storage["osDisk"], *storage["dataDisks"])]
            vm_ids.append(vm["id"])
            nic_ids.append(nic["id"])
        lb = network.create_internal_load_balancer(world, subscription_id=sub, resource_group=prod,
                                                   name="lb-s2d-cluster", location=SOURCE_REGION, subnet_id=subnet_id,
                                                   frontend_ip=CLUSTER_IP, probe_port=59999, nic_ids=nic_ids,
                                                   extra_frontends=[network.AccessPointFrontend(
                                                       "fe-sqlvnn", SQL_IP, "probe-sqlvnn", SQL_PROBE_PORT,
                                                       "ha-ports-sqlvnn")] if sql else [])

        cache = add_storage_account(world, subscription_id=sub, resource_group=prod, name="stasrcachewe01",
                                    location=SOURCE_REGION, kind="StorageV2", sku="Standard_LRS",
                                    allow_shared_key_access=True)
        # The cloud witness takes traffic from the cluster's production and DR subnets only, never from a test network:
        # a test failover's clone must not arbitrate on production's witness (docs/workflows.md, drills).
        dr_subnet_id = f"{group_id(sub, dr)}/providers/Microsoft.Network/virtualNetworks/vnet-dr/subnets/snet-s2d"
        witness = add_storage_account(world, subscription_id=sub, resource_group=dr, name="stwitnessne01",
                                      location=TARGET_REGION, network_acls={
                                          "defaultAction": "Deny", "bypass": "AzureServices",
                                          "virtualNetworkRules": [{"id": subnet_id}, {"id": dr_subnet_id}]})
        dr_cache = add_storage_account(world, subscription_id=sub, resource_group=dr, name="stasrcachene01",
                                       location=TARGET_REGION)
        guest.add_cluster(world, vm_ids, name=CLUSTER_NAME, ip_address=CLUSTER_IP, network_prefix="10.10.1.0/24",
                          access_point="Singleton", probe_port=59999, witness_account=witness["name"],
                          sql_ip=SQL_IP if sql else None, sql_probe_port=SQL_PROBE_PORT)

        vnet_dr = network.add_virtual_network(world, subscription_id=sub, resource_group=dr, name="vnet-dr",
                                              location=TARGET_REGION, address_prefixes=["10.20.0.0/16"],
                                              subnets={"snet-s2d": "10.20.1.0/24"})
        vnet_test = network.add_virtual_network(world, subscription_id=sub, resource_group=dr, name="vnet-dr-test",
                                                location=TARGET_REGION, address_prefixes=["10.30.0.0/16"],
                                                subnets={"snet-s2d": "10.30.1.0/24"})
        vault = add_vault(world, sub, dr, "rsv-s2d-dr", TARGET_REGION)

    ids = {
        "subscription_id": sub, "source_region": SOURCE_REGION, "target_region": TARGET_REGION,
        "source_resource_group": prod, "dr_resource_group": dr,
        "vm_ids": vm_ids, "nic_ids": nic_ids, "disk_ids": disk_ids, "availability_set_id": avset["id"],
        "source_lb_id": lb["id"], "source_vnet_id": vnet["id"], "source_subnet_id": subnet_id,
        "vault_id": vault["id"], "recovery_resource_group_id": group_id(sub, dr),
        "recovery_vnet_id": vnet_dr["id"], "recovery_subnet_id": vnet_dr["properties"]["subnets"][0]["id"],
        "test_vnet_id": vnet_test["id"], "test_subnet_id": vnet_test["properties"]["subnets"][0]["id"],
        "failback_test_vnet_id": vnet_failback_test["id"],
        "failback_test_subnet_id": vnet_failback_test["properties"]["subnets"][0]["id"],
        "cache_storage_account_id": cache["id"], "witness_storage_account_id": witness["id"],
        "dr_cache_storage_account_id": dr_cache["id"],
        "cluster_name": CLUSTER_NAME, "cluster_ip": CLUSTER_IP,
        **({"sql_ip": SQL_IP, "sql_probe_port": SQL_PROBE_PORT} if sql else {}),
    }
    with world.lock:
        grant_deployment(world, ids)  # the app's identity holds what infra/main.bicep grants it
    return ids


SEEDS: dict[str, Callable[[Host], dict[str, Any]]] = {"demo": seed_demo, "demo-sql": functools.partial(seed_demo, sql=True),
                                                      "empty": seed_empty}
