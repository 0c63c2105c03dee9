"""The bench's worlds, on top of the emulator's ``demo`` seed.

- ``enroll_demo``: the operator tags the demo cluster's two nodes through the ARM Tags API; the app handles
  the events ARM publishes (the real enrollment: plumbing, group, plan, DR load balancer).
- ``add_enrolled_clusters``: more two-node clusters, already enrolled and protected, written straight into the
  world (VMs, NICs, disks, protected items, recovery plans, DR load balancers): no ARM call, no journal entry.
  The first is built with the emulator providers' state functions, the rest are copies of it.
- ``add_untagged_clusters`` + ``tag_nodes``: two-node clusters to enroll, then the operator's tag writes
  through the Tags API (the events of an event storm).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.delivery import Delivery, deliver

if TYPE_CHECKING:
    from bench.lab import Lab
    from shared.runtime import Runtime

TAG_WRITE = "Microsoft.Resources/tags/write"
ITEM_TYPE = "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems"
SOURCE_GROUP = "rg-s2d-prod"
DR_GROUP = "rg-s2d-dr"


@dataclass(frozen=True)
class SeededCluster:
    name: str
    vm_ids: tuple[str, ...]


def cluster_tags(name: str) -> dict[str, str]:
    return {"asr-s2d": "true", "asr-s2d-cluster": name}


def tag_nodes(lab: Lab, world: dict[str, Any], nodes: Sequence[tuple[str, dict[str, str]]], *,
              workers: int = 8) -> None:
    """The operator merges tags on each VM through the ARM Tags API (each write publishes one event).

    Runs unthrottled so the figure that follows starts with ARM's full token buckets."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    client = lab.operator_client(ResourceManagementClient, world["subscription_id"])

    def merge(node: tuple[str, dict[str, str]]) -> None:
        vm_id, tags = node
        client.tags.begin_update_at_scope(vm_id, {"operation": "Merge", "properties": {"tags": tags}}).result()

    with lab.unthrottled(), ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(merge, nodes))


def subscribe(lab: Lab, *, duplicate: int = 1, reorder: bool = False, seed: int = 7) -> Any:
    """A pull subscription on the subscription's system topic, filtered to tag writes (Event Grid schema)."""
    from emulator.core.events import Subscriber

    return lab.emu.events.subscribe(Subscriber(mode="pull", operation_names=(TAG_WRITE,), duplicate=duplicate,
                                               reorder=reorder, seed=seed))


def tag_demo(lab: Lab, world: dict[str, Any]) -> list[dict[str, Any]]:
    """The operator tags both demo nodes ``asr-s2d=true`` + the cluster name; the two events ARM publishes."""
    sub = subscribe(lab)
    tag_nodes(lab, world, [(vm_id, cluster_tags(world["cluster_name"])) for vm_id in world["vm_ids"]])
    events: list[dict[str, Any]] = lab.emu.events.drain(sub.id)
    assert len(events) == len(world["vm_ids"]), events
    return events


def enroll_demo(lab: Lab, world: dict[str, Any], rt: Runtime) -> Delivery:
    """The demo cluster enrolled by the app from the operator's two tag events."""
    from shared.enrollment import service as enrollment

    delivery = deliver(tag_demo(lab, world), enrollment.handle, rt)
    assert not delivery.lost and "enabled" in delivery.kinds, delivery
    return delivery


def mark_tested(lab: Lab, *, days_ago: int = 7) -> None:
    """What a successful test failover and its cleanup leave on every protected item."""
    from datetime import UTC, datetime, timedelta

    when = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
    with lab.emu.world.lock:
        for item in lab.emu.world.by_type(ITEM_TYPE):
            item["properties"]["lastSuccessfulTestFailoverTime"] = when


# -- clusters written straight into the world ---------------------------------------------------------------

def _vnet(lab: Lab, world: dict[str, Any], name: str, prefix: str) -> dict[str, Any]:
    """A source VNet with one big ``snet-s2d`` subnet (created once per world)."""
    from emulator.providers.network import state as network

    sub = world["subscription_id"]
    vnet_id = f"/subscriptions/{sub}/resourceGroups/{SOURCE_GROUP}/providers/Microsoft.Network/virtualNetworks/{name}"
    found = lab.emu.world.get(vnet_id)
    if found is not None:
        return found
    return network.add_virtual_network(lab.emu.world, subscription_id=sub, resource_group=SOURCE_GROUP, name=name,
                                       location=world["source_region"], address_prefixes=[f"{prefix}.0.0/16"],
                                       subnets={"snet-s2d": f"{prefix}.0.0/18"})


def _node(lab: Lab, world: dict[str, Any], name: str, subnet_id: str, tags: dict[str, str] | None) -> dict[str, Any]:
    from emulator.providers.compute import state as compute
    from emulator.providers.network import state as network

    sub, region = world["subscription_id"], world["source_region"]
    nic = network.create_nic(lab.emu.world, subscription_id=sub, resource_group=SOURCE_GROUP, name=f"{name}-nic",
                             location=region, subnet_id=subnet_id)
    return compute.create_vm(lab.emu.world, subscription_id=sub, resource_group=SOURCE_GROUP, name=name,
                             location=region, nic_ids=[nic["id"]], tags=tags, power_state="running",
                             os_disk={"name": f"{name}-osdisk", "size_gb": 128, "sku": "Premium_LRS"})


def add_untagged_vms(lab: Lab, world: dict[str, Any], count: int, *, prefix: str = "fleet") -> list[str]:
    """``count`` running VMs, one NIC each, in VNet ``vnet-<prefix>``, no asr-s2d tag: the rest of a subscription."""
    with lab.emu.world.lock:
        subnet_id = _vnet(lab, world, f"vnet-{prefix}", "10.60")["properties"]["subnets"][0]["id"]
        return [str(_node(lab, world, f"{prefix}{index:04d}", subnet_id, None)["id"]) for index in range(count)]


def add_untagged_clusters(lab: Lab, world: dict[str, Any], count: int, *, prefix: str = "storm") -> list[SeededCluster]:
    """``count`` two-node clusters of running VMs (one NIC, one OS disk each) in VNet ``vnet-<prefix>``, not yet
    tagged: the operator's tag writes (``tag_nodes``) are what enrolls them."""
    clusters = []
    with lab.emu.world.lock:
        subnet_id = _vnet(lab, world, f"vnet-{prefix}", "10.50")["properties"]["subnets"][0]["id"]
        for index in range(count):
            name = f"{prefix}{index:03d}"
            vms = [_node(lab, world, f"{name}-n{n}", subnet_id, None) for n in (1, 2)]
            clusters.append(SeededCluster(name, tuple(vm["id"] for vm in vms)))
    return clusters


def add_enrolled_clusters(lab: Lab, world: dict[str, Any], start: int, count: int, *,
                          prefix: str = "scale") -> list[SeededCluster]:
    """Clusters ``<prefix>{start:04d}`` .. ``<prefix>{start + count - 1:04d}``, converged the way the app enrolls one:
    both nodes protected in one multi-VM group named after the cluster (the app's policy and containers), the
    NICs' DR pool mapping set, a recovery plan ``asr-s2d-<name>`` with both nodes, a staged DR load balancer,
    tested a week ago. The demo cluster must be enrolled first: its plumbing is the template.

    Cluster 0 is built with the providers' state functions (every rule applies); the others are copies of its
    resources with their own names, VM IDs, multi-VM group and addresses, then each subnet's back-references are
    recomputed once. The state functions scan the whole world on every create, so building 1,000 clusters with
    them takes minutes; copying takes seconds."""
    seeded = []
    with lab.emu.world.lock:
        for index in range(start, start + count):
            name = f"{prefix}{index:04d}"
            if index == 0:
                seeded.append(_build_cluster(lab, world, name, prefix))
        clones = [f"{prefix}{index:04d}" for index in range(max(start, 1), start + count)]
        if clones:
            seeded += _copy_cluster(lab, world, f"{prefix}0000", clones)
    return seeded


def _build_cluster(lab: Lab, world: dict[str, Any], name: str, prefix: str) -> SeededCluster:
    """One converged cluster from the providers' state functions (and the network mapping of its VNet)."""
    from datetime import UTC, datetime, timedelta

    from emulator.providers.network import state as network
    from emulator.providers.recoveryservices import infra, replication
    from emulator.providers.recoveryservices.plans import add_plan
    from emulator.providers.recoveryservices.state import container_of, create_network_mapping, fabric_of

    emu_world = lab.emu.world
    tested = (datetime.now(UTC) - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    template = next(r for r in emu_world.by_type(ITEM_TYPE))
    container = container_of(emu_world, template)
    recovery_fabric = emu_world.get(template["properties"]["recoveryFabricId"])
    vault = emu_world.get(world["vault_id"])
    dr_vnet = emu_world.get(world["recovery_vnet_id"])
    assert recovery_fabric is not None and vault is not None and dr_vnet is not None
    vnet = _vnet(lab, world, f"vnet-{prefix}", "10.40")
    subnet_id = vnet["properties"]["subnets"][0]["id"]
    # One DR load balancer frontend per cluster: a /24 holds 251, so the DR subnet grows to a /20 (4,091).
    network.put_subnet(emu_world, vnet=dr_vnet, name="snet-s2d", body={"properties": {"addressPrefix": "10.20.0.0/20"}})
    create_network_mapping(emu_world, fabric_of(emu_world, container), "azureNetwork",
                           f"asr-s2d-vnet-{prefix}-to-vnet-dr",
                           {"recoveryFabricName": recovery_fabric["name"], "recoveryNetworkId": world["recovery_vnet_id"],
                            "fabricSpecificDetails": {"instanceType": "AzureToAzure", "primaryNetworkId": vnet["id"]}},
                           vnet_location=lambda vnet_id: infra.vnet_location(emu_world, vnet_id))
    lb = network.create_internal_load_balancer(
        emu_world, subscription_id=world["subscription_id"], resource_group=DR_GROUP, name=f"lb-asr-s2d-{name}",
        location=world["target_region"], subnet_id=world["recovery_subnet_id"], frontend_ip=None,
        pool_name="be-nodes", tags={"asr-s2d-cluster": name, "managed-by": "asr-s2d"})
    pool_id = f"{lb['id']}/backendAddressPools/be-nodes"
    members = []
    for n in (1, 2):
        vm = _node(lab, world, f"{name}-n{n}", subnet_id, cluster_tags(name))
        item = replication.protect_like(
            emu_world, template, vm, group=name, recovery_resource_group_id=world["recovery_resource_group_id"],
            recovery_network_id=world["recovery_vnet_id"], recovery_subnet_name="snet-s2d",
            cache_account_id=world["cache_storage_account_id"])
        replication.mark_protected(emu_world, item)
        item["properties"]["providerSpecificDetails"]["vmNics"][0]["ipConfigs"][0][
            "recoveryLBBackendAddressPoolIds"] = [pool_id]
        item["properties"]["lastSuccessfulTestFailoverTime"] = tested
        members.append(item)
    add_plan(emu_world, vault, f"asr-s2d-{name}", members)
    return SeededCluster(name, tuple(m["properties"]["providerSpecificDetails"]["fabricObjectId"] for m in members))


def _copy_cluster(lab: Lab, world: dict[str, Any], template: str, names: list[str]) -> list[SeededCluster]:
    """Copies of cluster ``template``'s resources (and the emulator's extra state for its VMs and items)."""
    import copy
    import json
    import uuid

    from emulator.providers.compute.power import RUNTIME
    from emulator.providers.network.addressing import first_free
    from emulator.providers.network.subnets import addresses_in_use, find_subnet, network_of, sync_subnets
    from emulator.providers.recoveryservices.state import asr_state, stable_guid

    emu_world = lab.emu.world
    mine = [r for r in emu_world.all() if template in r["id"].lower()
            or (r["type"] == ITEM_TYPE and r["properties"]["providerSpecificDetails"].get("multiVmGroupName") == template)]
    items = [r for r in mine if r["type"] == ITEM_TYPE]
    nics = [r for r in mine if r["type"] == "Microsoft.Network/networkInterfaces"]
    lb = next(r for r in mine if r["type"] == "Microsoft.Network/loadBalancers")
    assert len(items) == 2 and len(nics) == 2, [r["id"] for r in mine]
    vm_ids = [i["properties"]["providerSpecificDetails"]["fabricObjectId"] for i in items]
    uuids = [i["name"] for i in items]
    group = items[0]["properties"]["providerSpecificDetails"]["multiVmGroupId"]
    vault_id = world["vault_id"]
    source_subnet = nics[0]["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
    dr_subnet = lb["properties"]["frontendIPConfigurations"][0]["properties"]["subnet"]["id"]
    text = json.dumps(mine)
    # JSON strings, quotes included, so 10.40.0.4 never matches inside 10.40.0.40
    old_ips = {json.dumps(nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]): source_subnet
               for nic in nics}
    old_ips[json.dumps(lb["properties"]["frontendIPConfigurations"][0]["properties"]["privateIPAddress"])] = dr_subnet
    held = {subnet: set(addresses_in_use(emu_world, subnet)) for subnet in (source_subnet, dr_subnet)}
    nets = {}
    for subnet in held:
        found = find_subnet(emu_world, subnet)
        assert found is not None
        nets[subnet] = network_of(found[1])
    runtime = emu_world.extras[RUNTIME]
    metas = asr_state(emu_world).items
    seeded = []
    for name in names:
        fresh = {old: str(uuid.uuid5(uuid.NAMESPACE_URL, f"asr-s2d-bench/{name}/{old}")) for old in uuids}
        body = text.replace(template, name).replace(group, stable_guid(vault_id, "group", name))
        for old, new in fresh.items():
            body = body.replace(old, new)
        for old_ip, subnet in old_ips.items():
            address = first_free(nets[subnet], held[subnet])
            assert address is not None, f"{subnet} is full"
            held[subnet].add(address)
            body = body.replace(old_ip, json.dumps(str(address)))
        for resource in json.loads(body):
            emu_world.put(resource)
        for vm_id in vm_ids:
            runtime[vm_id.replace(template, name).lower()] = copy.deepcopy(runtime[vm_id.lower()])
        for item in items:
            new_id = item["id"].replace(item["name"], fresh[item["name"]]).lower()
            meta = copy.deepcopy(metas[item["id"].lower()])
            meta.vm_id = meta.vm_id.replace(template, name)
            metas[new_id] = meta
        seeded.append(SeededCluster(name, tuple(v.replace(template, name) for v in vm_ids)))
    sync_subnets(emu_world, [source_subnet, dr_subnet])
    return seeded
