"""The Windows failover cluster inside S2D node VMs: the guest state Azure cannot see.

The emulator keeps one cluster object per cluster (the nodes of a cluster point to the same object):
nodes and their state, cluster networks (with their role), IP Address resources (and the cluster group
each belongs to: "Cluster Group" is the core group), the client access point (``Singleton`` = a network
name with an IP resource, ``Distributed`` = a distributed network name with none), quorum and cloud
witness, the S2D pool, virtual disks, CSVs, and ``warnings`` the scripts print before their result.

``guest_scripts`` emulates the Run Command scripts that read and change this state. Failover (the
recovery services provider) calls ``clone_for_recovery`` so recovery VMs share a recovery-side copy of
the cluster whose networks are the recovery subnet's while its IP resources keep the old address until
the app moves them. Tests and drills change the state through the control API (``describe`` /
``update_cluster``); power changes of node VMs move nodes Up/Down and recompute quorum.

A cluster is not healthy the moment its nodes boot (a failover boots all of them): the *settle stage* says how far
it got. ``booting``: the VM agent is not Ready yet (no Run Command runs); ``starting``: ClusSvc is StartPending and
the node has not joined its cluster; ``repairing``: the cluster runs but Storage Spaces Direct resyncs, virtual
disks read Warning ("Incomplete or Degraded Operational Status is normal when nodes are ... starting/stopping the
cluster service"; "your volumes will continue to show as Warning, which is normal":
learn.microsoft.com/windows-server/storage/storage-spaces/maintain-servers); then ``settled``. The stage follows
the time since each node booted (``timing``: at once on the instant clock), unless the control API pins it for
the next N Run Commands on the cluster's nodes (``pin_stage``), for one cluster or for every cluster a failover
or test failover copies from then on.
"""

from __future__ import annotations

import copy
import ipaddress
import uuid
from typing import Any

from emulator.core.world import World
from emulator.providers.compute import timing
from emulator.providers.compute.power import RUNTIME, computer_name, power_state
from emulator.providers.network import state as network

GUEST = "compute.guest"  # world.extras key: {"clusters": {key: cluster}, "vm_cluster": {vm: key}, "recovery": {..}}
HOST_MASK = "255.255.255.255"  # the mask an ILB-fronted cluster IP uses (Microsoft's S2D/ILB guidance)

NODE_STATES = ("Up", "Down", "Paused", "Joining")
HEALTH = ("Healthy", "Warning", "Degraded", "Unhealthy", "Unknown")
RESOURCE_STATES = ("Online", "Offline", "Failed", "Pending")
CSV_STATES = ("Online", "Offline", "Failed")
QUORUM_STATES = ("Normal", "Lost")
WITNESS_TYPES = ("Cloud", "Disk", "FileShare", "None")
WITNESS_STATES = ("Online", "Offline", "Failed")
ACCESS_POINTS = ("Singleton", "Distributed")
SERVICE_STATES = ("Running", "Stopped")
NETWORK_ROLES = ("ClusterAndClient", "Cluster", "None")
CORE_GROUP = "Cluster Group"
SETTLE_STAGES = ("booting", "starting", "repairing", "settled")


def _store(world: World) -> dict[str, Any]:
    store: dict[str, Any] = world.extras.setdefault(GUEST, {"clusters": {}, "vm_cluster": {}, "recovery": {}})
    store.setdefault("settle", {})  # cluster id -> {"stage", "runs"}: pinned stages (``pin_stage``)
    return store


# -- building and reading clusters --------------------------------------------------------------------

def add_cluster(world: World, vm_ids: list[str], *, name: str, ip_address: str, network_prefix: str,
                access_point: str = "Singleton", probe_port: int = 59999, witness_account: str | None = None,
                virtual_disks: tuple[str, ...] = ("vd01",), network_name: str = "Cluster Network 1",
                ip_resource_name: str = "Cluster IP Address") -> dict[str, Any]:
    """Form a healthy cluster on ``vm_ids`` (node names are the VMs' computer names).

    ``network_prefix`` is the nodes' subnet (``10.10.1.0/24``); ``ip_address`` the cluster IP held by an IP
    Address resource on that network (none when ``access_point="Distributed"``). Returns the cluster.
    """
    net = ipaddress.IPv4Network(network_prefix, strict=False)
    nodes = [{"name": computer_name(world, vm_id),
              "state": "Up" if power_state(world, vm_id) == "running" else "Down",
              "vm_id": (world.get(vm_id) or {"id": vm_id})["id"]} for vm_id in vm_ids]
    cluster: dict[str, Any] = {
        "id": uuid.uuid4().hex, "name": name, "cluster_service": "Running", "nodes": nodes,
        "networks": [{"name": network_name, "address": str(net.network_address), "prefix_length": net.prefixlen,
                      "role": "ClusterAndClient"}],
        "ip_resources": [] if access_point == "Distributed" else [{
            "name": ip_resource_name, "address": ip_address, "subnet_mask": HOST_MASK, "probe_port": probe_port,
            "network": network_name, "enable_dhcp": 0, "state": "Online", "group": CORE_GROUP}],
        "access_point": access_point,
        "quorum": {"state": "Normal", "witness": {"type": "Cloud", "state": "Online",
                                                   **({"account_name": witness_account} if witness_account else {})}},
        "pool": {"name": f"S2D on {name}", "health": "Healthy"},
        "virtual_disks": [{"name": vd, "health": "Healthy"} for vd in virtual_disks],
        "csvs": [{"name": f"Cluster Virtual Disk ({vd})", "state": "Online"} for vd in virtual_disks],
        "warnings": [], "origin": None,
    }
    validate(cluster)
    _recompute_quorum(cluster)
    store = _store(world)
    store["clusters"][cluster["id"]] = cluster
    for node in cluster["nodes"]:
        store["vm_cluster"][node["vm_id"].lower()] = cluster["id"]
    return cluster


def cluster_of(world: World, vm_id: str) -> dict[str, Any] | None:
    """The (live) cluster object the VM is a node of, or None."""
    store = _store(world)
    key = store["vm_cluster"].get(vm_id.lower())
    return store["clusters"].get(key) if key else None


def describe(world: World, vm_id: str) -> dict[str, Any]:
    """A copy of the VM's cluster with ``node`` = this VM's node name. KeyError when the VM has no cluster."""
    cluster = cluster_of(world, vm_id)
    if cluster is None:
        raise KeyError(f"no guest cluster on VM {vm_id}")
    out = copy.deepcopy(cluster)
    out["node"] = next((n["name"] for n in cluster["nodes"] if (n["vm_id"] or "").lower() == vm_id.lower()), None)
    return out


_NAMED_LISTS = ("nodes", "networks", "ip_resources", "virtual_disks", "csvs")


def update_cluster(world: World, vm_id: str, change: dict[str, Any], *, replace: bool = False) -> dict[str, Any]:
    """Change the VM's cluster: ``replace`` swaps the whole object (PUT); otherwise a patch where objects merge
    and the named lists (nodes, networks, ip_resources, virtual_disks, csvs) merge item by item on ``name``.
    Raises ValueError for an invalid result (nothing is changed then), KeyError for a VM without a cluster."""
    cluster = cluster_of(world, vm_id)
    if cluster is None:
        raise KeyError(f"no guest cluster on VM {vm_id}")
    if not isinstance(change, dict):
        raise ValueError("the guest state must be a JSON object")
    if replace:
        updated = {**copy.deepcopy(change), "id": cluster["id"], "origin": cluster.get("origin")}
        updated.pop("node", None)
    else:
        updated = copy.deepcopy(cluster)
        for key, value in change.items():
            if key in ("id", "origin", "node"):
                continue
            if key in _NAMED_LISTS:
                updated[key] = _merge_named(updated.get(key, []), value, key)
            elif isinstance(value, dict) and isinstance(updated.get(key), dict):
                updated[key] = _deep_merge(updated[key], value)
            else:
                updated[key] = value
    validate(updated)
    # Which VM a node runs on is fixed by seeding and failover, never by a state change.
    members = {n["name"].lower(): n.get("vm_id") for n in cluster["nodes"]}
    for node in updated["nodes"]:
        node["vm_id"] = members.get(node["name"].lower())
    cluster.clear()
    cluster.update(updated)
    return describe(world, vm_id)


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _merge_named(current: list[dict[str, Any]], patch: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(patch, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in patch):
        raise ValueError(f"'{key}' must be a list of objects with a 'name'")
    out = [dict(item) for item in current]
    for item in patch:
        found = next((o for o in out if o["name"].lower() == item["name"].lower()), None)
        if found is None:
            out.append(dict(item))
        else:
            found.update(item)
    return out


def validate(cluster: dict[str, Any]) -> None:
    """ValueError unless the cluster object has every part, with allowed values."""
    def need(cond: bool, message: str) -> None:
        if not cond:
            raise ValueError(message)

    def enum(value: Any, allowed: tuple[str, ...], where: str) -> None:
        need(value in allowed, f"{where} must be one of {list(allowed)}, got {value!r}")

    def ipv4(value: Any, where: str) -> None:
        try:
            ipaddress.IPv4Address(value)
        except (ValueError, TypeError):
            raise ValueError(f"{where} must be an IPv4 address, got {value!r}") from None

    need(isinstance(cluster.get("name"), str) and bool(cluster["name"]), "name must be a non-empty string")
    enum(cluster.get("cluster_service"), SERVICE_STATES, "cluster_service")
    enum(cluster.get("access_point"), ACCESS_POINTS, "access_point")
    for key in _NAMED_LISTS:
        need(isinstance(cluster.get(key), list), f"{key} must be a list")
        for item in cluster[key]:
            need(isinstance(item, dict) and isinstance(item.get("name"), str), f"every item of {key} needs a name")
    for node in cluster["nodes"]:
        enum(node.get("state"), NODE_STATES, f"nodes[{node['name']}].state")
        need(node.get("vm_id") is None or isinstance(node["vm_id"], str), "node vm_id must be a string or null")
    for net in cluster["networks"]:
        ipv4(net.get("address"), f"networks[{net['name']}].address")
        enum(net.get("role", "ClusterAndClient"), NETWORK_ROLES, f"networks[{net['name']}].role")
        need(isinstance(net.get("prefix_length"), int) and 0 <= net["prefix_length"] <= 32,
             f"networks[{net['name']}].prefix_length must be 0-32")
    for res in cluster["ip_resources"]:
        where = f"ip_resources[{res['name']}]"
        ipv4(res.get("address"), f"{where}.address")
        ipv4(res.get("subnet_mask"), f"{where}.subnet_mask")
        need(isinstance(res.get("probe_port"), int) and 0 <= res["probe_port"] <= 65535, f"{where}.probe_port must be 0-65535")
        need(isinstance(res.get("network"), str), f"{where}.network must be a string")
        need(res.get("enable_dhcp") in (0, 1), f"{where}.enable_dhcp must be 0 or 1")
        enum(res.get("state"), RESOURCE_STATES, f"{where}.state")
        need(isinstance(res.get("group", CORE_GROUP), str), f"{where}.group must be a string")
    quorum = cluster.get("quorum")
    need(isinstance(quorum, dict) and isinstance(quorum.get("witness"), dict), "quorum needs a witness object")
    enum(quorum.get("state"), QUORUM_STATES, "quorum.state")
    enum(quorum["witness"].get("type"), WITNESS_TYPES, "quorum.witness.type")
    enum(quorum["witness"].get("state"), WITNESS_STATES, "quorum.witness.state")
    pool = cluster.get("pool")
    need(isinstance(pool, dict) and isinstance(pool.get("name"), str), "pool needs a name")
    enum(pool.get("health"), HEALTH, "pool.health")
    for vd in cluster["virtual_disks"]:
        enum(vd.get("health"), HEALTH, f"virtual_disks[{vd['name']}].health")
    for csv in cluster["csvs"]:
        enum(csv.get("state"), CSV_STATES, f"csvs[{csv['name']}].state")
    warnings = cluster.get("warnings", [])
    need(isinstance(warnings, list) and all(isinstance(w, str) for w in warnings), "warnings must be a list of strings")


def _recompute_quorum(cluster: dict[str, Any]) -> None:
    """Node majority plus witness: the cluster runs while more than half of the votes are present."""
    witness = cluster["quorum"]["witness"]
    votes = len(cluster["nodes"]) + (0 if witness["type"] == "None" else 1)
    present = sum(1 for n in cluster["nodes"] if n["state"] == "Up") + (1 if witness["state"] == "Online" and
                                                                          witness["type"] != "None" else 0)
    healthy = present * 2 > votes
    cluster["quorum"]["state"] = "Normal" if healthy else "Lost"
    cluster["cluster_service"] = "Running" if healthy else "Stopped"


def on_power_change(world: World, vm_id: str, *, running: bool) -> None:
    """A node goes Down when its VM stops and comes back Up when it runs; quorum follows."""
    cluster = cluster_of(world, vm_id)
    if cluster is None:
        return
    for node in cluster["nodes"]:
        if (node["vm_id"] or "").lower() == vm_id.lower():
            node["state"] = "Up" if running else "Down"
    _recompute_quorum(cluster)


def forget_vm(world: World, vm_id: str) -> None:
    """The VM is gone: its node goes Down; a cluster with no VM left is dropped (a later failover copies anew)."""
    store = _store(world)
    key = store["vm_cluster"].pop(vm_id.lower(), None)
    cluster = store["clusters"].get(key) if key else None
    if cluster is None:
        return
    for node in cluster["nodes"]:
        if (node["vm_id"] or "").lower() == vm_id.lower():
            node.update(vm_id=None, state="Down")
    if any(node["vm_id"] for node in cluster["nodes"]):
        _recompute_quorum(cluster)
        return
    del store["clusters"][key]
    store["settle"].pop(key, None)
    store["recovery"] = {k: v for k, v in store["recovery"].items() if v != key}


def _vm_subnet(world: World, vm_id: str) -> str | None:
    vm = world.get(vm_id)
    if vm is None:
        return None
    nics = vm["properties"]["networkProfile"]["networkInterfaces"]
    primary = next((n for n in nics if n["properties"].get("primary")), nics[0] if nics else None)
    return network.nic_primary_subnet(world, primary["id"]) if primary else None


def clone_for_recovery(world: World, source_vm_id: str, recovery_vm_id: str) -> dict[str, Any] | None:
    """Make ``recovery_vm_id`` (a failed-over copy of ``source_vm_id``) a node of the recovery-side cluster.

    Recovery VMs failed over into the same subnet share one copy of the source cluster (crash-consistent:
    pool, disks and witness as they were). In the copy, the cluster network the source node used now has
    the recovery subnet's address and prefix, and each IP Address resource keeps its old address and is
    Offline unless that address fits a network. Nodes whose VM has not failed over yet are Down.
    Returns the recovery cluster, or None when the source VM is not a cluster node.
    Raises LookupError when the recovery VM or its primary NIC's subnet cannot be found.
    """
    source = cluster_of(world, source_vm_id)
    if source is None:
        return None
    subnet_id = _vm_subnet(world, recovery_vm_id)
    prefix = network.subnet_prefix(world, subnet_id) if subnet_id else None
    if subnet_id is None or prefix is None:
        raise LookupError(f"recovery VM {recovery_vm_id} has no NIC in an existing subnet")
    store = _store(world)
    index_key = f"{source['id']}|{subnet_id.lower()}"
    cluster = store["clusters"].get(store["recovery"].get(index_key, ""))
    if cluster is None:
        cluster = _recovery_copy(world, source, source_vm_id, ipaddress.IPv4Network(prefix))
        store["clusters"][cluster["id"]] = cluster
        store["recovery"][index_key] = cluster["id"]
        if store.get("settle_after_failover"):  # the copy's nodes boot now: they settle as the control API said
            store["settle"][cluster["id"]] = dict(store["settle_after_failover"])
    node_name = next((n["name"] for n in source["nodes"] if (n["vm_id"] or "").lower() == source_vm_id.lower()),
                     computer_name(world, source_vm_id))
    node = next((n for n in cluster["nodes"] if n["name"].lower() == node_name.lower()), None)
    if node is None:
        node = {"name": node_name}
        cluster["nodes"].append(node)
    recovery_vm = world.get(recovery_vm_id) or {"id": recovery_vm_id}
    node.update(vm_id=recovery_vm["id"],
                state="Up" if power_state(world, recovery_vm["id"]) == "running" else "Down")
    previous = store["vm_cluster"].get(recovery_vm["id"].lower())
    store["vm_cluster"][recovery_vm["id"].lower()] = cluster["id"]
    if previous and previous != cluster["id"] and previous in store["clusters"]:
        for other in store["clusters"][previous]["nodes"]:
            if (other["vm_id"] or "").lower() == recovery_vm["id"].lower():
                other.update(vm_id=None, state="Down")
    _recompute_quorum(cluster)
    return cluster


def _recovery_copy(world: World, source: dict[str, Any], source_vm_id: str,
                   recovery_net: ipaddress.IPv4Network) -> dict[str, Any]:
    cluster = copy.deepcopy(source)
    cluster["id"] = uuid.uuid4().hex
    cluster["origin"] = {"cluster_id": source["id"], "source_vm_id": source_vm_id}
    for node in cluster["nodes"]:
        node.update(vm_id=None, state="Down")
    source_subnet = _vm_subnet(world, source_vm_id)
    source_prefix = network.subnet_prefix(world, source_subnet) if source_subnet else None
    moved = None
    if source_prefix:
        src = ipaddress.IPv4Network(source_prefix)
        moved = next((n for n in cluster["networks"]
                      if n["address"] == str(src.network_address) and n["prefix_length"] == src.prefixlen), None)
    moved = moved or (cluster["networks"][0] if cluster["networks"] else None)
    if moved is not None:
        moved.update(address=str(recovery_net.network_address), prefix_length=recovery_net.prefixlen)
    networks = [ipaddress.IPv4Network(f"{n['address']}/{n['prefix_length']}", strict=False) for n in cluster["networks"]]
    for res in cluster["ip_resources"]:
        if not any(ipaddress.IPv4Address(res["address"]) in net for net in networks):
            res["state"] = "Offline"  # its address belongs to no network here: it cannot come online
    return cluster


# -- settling after boot ------------------------------------------------------------------------------------

def pin_stage(world: World, vm_id: str | None, stage: str, runs: int | None = None) -> dict[str, Any]:
    """Pin the settle stage of the VM's cluster for the next ``runs`` Run Commands on its nodes (``None``: until pinned
    again); ``settled`` drops the pin. With ``vm_id`` None: the stage every cluster copy a failover or test failover
    makes from now on starts in. ValueError for a bad stage or count, KeyError for a VM without a cluster."""
    if stage not in SETTLE_STAGES:
        raise ValueError(f"stage must be one of {list(SETTLE_STAGES)}, got {stage!r}")
    if runs is not None and (isinstance(runs, bool) or not isinstance(runs, int) or runs < 1):
        raise ValueError("runs must be a whole number of Run Commands, 1 or more")
    store = _store(world)
    pin = None if stage == "settled" else {"stage": stage, "runs": runs}
    if vm_id is None:
        store["settle_after_failover"] = pin
        return {"after_failover": pin}
    cluster = cluster_of(world, vm_id)
    if cluster is None:
        raise KeyError(f"no guest cluster on VM {vm_id}")
    if pin is None:
        store["settle"].pop(cluster["id"], None)
    else:
        store["settle"][cluster["id"]] = pin
    return settle_state(world, vm_id)


def pinned_after_failover(world: World) -> dict[str, Any] | None:
    """The stage every cluster copy a failover or test failover makes starts in (``pin_stage`` without a VM)."""
    return copy.deepcopy(_store(world).get("settle_after_failover"))


def pinned_stage(world: World, vm_id: str) -> str | None:
    """The stage the control API pinned the VM's cluster at, or None."""
    cluster = cluster_of(world, vm_id)
    pin = _store(world)["settle"].get(cluster["id"]) if cluster is not None else None
    return str(pin["stage"]) if pin else None


def settle_stage(world: World, vm_id: str) -> str:
    """How far the VM's cluster has settled, as a script running on this node sees it (see the module docstring):
    the pin, else the time since this node booted (its cluster service) and since the last of its cluster's
    running nodes booted (the resync)."""
    cluster = cluster_of(world, vm_id)
    if cluster is None:
        return "settled"
    pinned = pinned_stage(world, vm_id)
    if pinned is not None:
        return pinned
    service = timing.seconds(world, "cluster-service")
    if _since_boot(world, vm_id) < service:
        return "starting"
    booted = [_since_boot(world, n["vm_id"]) for n in cluster["nodes"]
              if n["vm_id"] and power_state(world, n["vm_id"]) == "running"]
    if min(booted, default=service) < service + timing.seconds(world, "storage-resync"):
        return "repairing"
    return "settled"


def count_run(world: World, vm_id: str) -> None:
    """A Run Command reached a node of the VM's cluster: one fewer run of its pinned stage."""
    cluster = cluster_of(world, vm_id)
    pins = _store(world)["settle"]
    pin = pins.get(cluster["id"]) if cluster is not None else None
    if pin is None or pin["runs"] is None:
        return
    pin["runs"] -= 1
    if pin["runs"] <= 0:
        del pins[cluster["id"]]  # settled


def settle_state(world: World, vm_id: str) -> dict[str, Any]:
    """The control API's view: the stage a script on this node sees now, and the pin if any."""
    cluster = cluster_of(world, vm_id)
    if cluster is None:
        raise KeyError(f"no guest cluster on VM {vm_id}")
    return {"stage": settle_stage(world, vm_id), "pin": copy.deepcopy(_store(world)["settle"].get(cluster["id"]))}


def _since_boot(world: World, vm_id: str) -> float:
    found = world.extras.get(RUNTIME, {}).get(vm_id.lower()) or {}
    return timing.now(world) - float(found.get("booted", 0.0))
