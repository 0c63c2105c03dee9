"""The Windows failover cluster inside S2D node VMs: the guest state Azure cannot see.

The emulator keeps one cluster object per cluster (the nodes of a cluster point to the same object):
nodes and their state, cluster networks (with their role), IP Address resources (and the cluster group
each belongs to: "Cluster Group" is the core group), the client access point (``Singleton`` = a network
name with an IP resource, ``Distributed`` = a distributed network name with none), the roles (cluster
groups: the core group, a SQL Server failover cluster instance, a Scale-Out File Server, ...) with their
resources, dependencies and services, quorum and cloud witness, the S2D pool, virtual disks, CSVs, and
``warnings`` the scripts print before their result.

One home per fact: an IP Address resource's address, probe port and state live in ``ip_resources``; a role lists
it among its resources (by name, with its dependencies) and ``_sync_roles`` copies the state over, derives each
role's state from its resources (Online only when every one is Online) and its services' status from the role.

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
from emulator.providers.storage import state as storage

GUEST = "compute.guest"  # world.extras key: {"clusters": {key: cluster}, "vm_cluster": {vm: key}, "recovery": {..}}
HOST_MASK = "255.255.255.255"  # the mask an ILB-fronted cluster IP uses (Microsoft's S2D/ILB guidance)

NODE_STATES = ("Up", "Down", "Paused", "Joining")
HEALTH = ("Healthy", "Warning", "Degraded", "Unhealthy", "Unknown")
RESOURCE_STATES = ("Online", "Offline", "Failed", "Pending")
ROLE_TYPES = ("Cluster", "SqlServer", "ScaleoutFileServer", "Generic")
ROLE_STATES = ("Online", "Offline", "Failed", "PartialOnline")
ROLE_RESOURCE_TYPES = ("IP Address", "Network Name", "Distributed Network Name", "SQL Server", "Scale Out File Server")
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
                ip_resource_name: str = "Cluster IP Address", sql_ip: str | None = None, sql_probe_port: int = 59998,
                sofs_name: str | None = None) -> dict[str, Any]:
    """Form a healthy cluster on ``vm_ids`` (node names are the VMs' computer names).

    ``network_prefix`` is the nodes' subnet (``10.10.1.0/24``); ``ip_address`` the cluster IP held by an IP
    Address resource on that network (none when ``access_point="Distributed"``). ``sql_ip`` adds a SQL Server
    failover cluster instance role (``sql_fci_role``) whose IP Address resource holds it with ``sql_probe_port``;
    ``sofs_name`` a Scale-Out File Server role (``sofs_role``: a distributed network name, no IP). Returns the cluster.
    """
    net = ipaddress.IPv4Network(network_prefix, strict=False)
    nodes = [{"name": computer_name(world, vm_id),
              "state": "Up" if power_state(world, vm_id) == "running" else "Down",
              "vm_id": (world.get(vm_id) or {"id": vm_id})["id"]} for vm_id in vm_ids]
    owner = nodes[0]["name"] if nodes else None
    ip_resources = [] if access_point == "Distributed" else [ip_resource(ip_resource_name, ip_address, probe_port,
                                                                         network=network_name, group=CORE_GROUP)]
    roles: list[dict[str, Any]] = []
    if sql_ip is not None:
        sql_ip_resource, sql_role = sql_fci_role(sql_ip, sql_probe_port, network=network_name, owner=owner)
        ip_resources.append(sql_ip_resource)
        roles.append(sql_role)
    if sofs_name is not None:
        roles.append(sofs_role(sofs_name, owner=owner))
    cluster: dict[str, Any] = {
        "id": uuid.uuid4().hex, "name": name, "cluster_service": "Running", "nodes": nodes,
        "networks": [{"name": network_name, "address": str(net.network_address), "prefix_length": net.prefixlen,
                      "role": "ClusterAndClient"}],
        "ip_resources": ip_resources,
        "access_point": access_point,
        "roles": roles,
        "quorum": {"state": "Normal", "witness": {"type": "Cloud", "state": "Online",
                                                   "account": witness_account}},
        "pool": {"name": f"S2D on {name}", "health": "Healthy"},
        "virtual_disks": [{"name": vd, "health": "Healthy"} for vd in virtual_disks],
        "csvs": [{"name": f"Cluster Virtual Disk ({vd})", "state": "Online"} for vd in virtual_disks],
        "warnings": [], "origin": None,
    }
    _sync_roles(cluster)
    validate(cluster)
    _recompute_quorum(cluster)
    store = _store(world)
    store["clusters"][cluster["id"]] = cluster
    for node in cluster["nodes"]:
        store["vm_cluster"][node["vm_id"].lower()] = cluster["id"]
    return cluster


# -- roles (cluster groups) ---------------------------------------------------------------------------
# A SQL Server FCI: its IP Address resource, the virtual network name depending on it, SQL Server depending on the
# name ("Configure an Azure load balancer for an FCI VNN": learn.microsoft.com/azure/azure-sql/virtual-machines/
# windows/failover-cluster-instance-vnn-azure-load-balancer-configure: the IP resource gets the load balancer's
# frontend address and its own probe port). A SOFS or a DNN has no IP Address resource: nothing to move
# (learn.microsoft.com/azure/azure-sql/virtual-machines/windows/failover-cluster-instance-distributed-network-name-dnn-configure).
SQL_ROLE = "SQL Server (MSSQLSERVER)"
SQL_IP_RESOURCE = "SQL IP Address 1 (sqlvnn)"
SQL_NETWORK_NAME = "SQL Network Name (sqlvnn)"


def ip_resource(name: str, address: str, probe_port: int, *, network: str, group: str,
                state: str = "Online") -> dict[str, Any]:
    """An IP Address resource as an ILB-fronted access point configures it (host mask, no DHCP)."""
    return {"name": name, "address": address, "subnet_mask": HOST_MASK, "probe_port": probe_port, "network": network,
            "enable_dhcp": 0, "state": state, "group": group}


def sql_fci_role(address: str, probe_port: int, *, network: str, owner: str | None,
                 name: str = SQL_ROLE) -> tuple[dict[str, Any], dict[str, Any]]:
    """(its IP Address resource for ``ip_resources``, the role for ``roles``) of a SQL Server FCI."""
    role = {"name": name, "type": "SqlServer", "state": "Online", "owner": owner, "resources": [
        {"name": SQL_IP_RESOURCE, "type": "IP Address", "state": "Online", "depends_on": []},
        {"name": SQL_NETWORK_NAME, "type": "Network Name", "state": "Online", "depends_on": [SQL_IP_RESOURCE]},
        {"name": "SQL Server", "type": "SQL Server", "state": "Online", "depends_on": [SQL_NETWORK_NAME]}],
        "services": [{"name": "MSSQLSERVER", "status": "Running"}]}
    return ip_resource(SQL_IP_RESOURCE, address, probe_port, network=network, group=name), role


def sofs_role(name: str, *, owner: str | None) -> dict[str, Any]:
    """A Scale-Out File Server role: a distributed network name and no IP Address resource."""
    return {"name": name, "type": "ScaleoutFileServer", "state": "Online", "owner": owner, "resources": [
        {"name": name, "type": "Distributed Network Name", "state": "Online", "depends_on": []},
        {"name": f"Scale-Out File Server ({name})", "type": "Scale Out File Server", "state": "Online",
         "depends_on": [name]}], "services": []}


def _core_role(cluster: dict[str, Any]) -> dict[str, Any]:
    """The core group as today's data describes it: its IP Address resources and the cluster name."""
    ips = [r["name"] for r in cluster["ip_resources"] if r.get("group", CORE_GROUP) == CORE_GROUP]
    distributed = cluster.get("access_point") == "Distributed"
    up = next((n["name"] for n in cluster.get("nodes", []) if n.get("state") == "Up"), None)
    return {"name": CORE_GROUP, "type": "Cluster", "state": "Online", "owner": up, "services": [], "resources": [
        {"name": "Cluster Name", "type": "Distributed Network Name" if distributed else "Network Name",
         "state": "Online", "depends_on": [] if distributed else ips}]}


def _sync_roles(cluster: dict[str, Any]) -> None:
    """Roles agree with ``ip_resources``: the core role exists, every IP Address resource is listed in the role of
    its group (a group without a role becomes a Generic one) with the state it has there, each role's state follows
    from its resources and its services run only while it is Online."""
    roles = cluster.setdefault("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, dict) and isinstance(r.get("name"), str) and
                                              isinstance(r.get("resources", []), list) for r in roles) \
            or not isinstance(cluster.get("ip_resources"), list):
        return  # validate() says what is wrong
    if not any(r["name"].lower() == CORE_GROUP.lower() for r in roles):
        roles.insert(0, _core_role(cluster))
    by_name = {r["name"].lower(): r for r in roles}
    ip_names = {r["name"].lower() for r in cluster.get("ip_resources", []) if isinstance(r, dict) and
                isinstance(r.get("name"), str)}
    for role in roles:  # an IP Address resource gone from ip_resources is gone from its role
        members = [m for m in role.get("resources", []) if not (isinstance(m, dict) and m.get("type") == "IP Address"
                                                                  and str(m.get("name", "")).lower() not in ip_names)]
        gone = {str(m.get("name", "")).lower() for m in role.get("resources", []) if m not in members}
        for member in members:
            if isinstance(member, dict) and isinstance(member.get("depends_on"), list):
                member["depends_on"] = [d for d in member["depends_on"] if not isinstance(d, str) or d.lower() not in gone]
        role["resources"] = members
    core = by_name[CORE_GROUP.lower()]
    distributed = cluster.get("access_point") == "Distributed"
    for member in core.get("resources", []):
        if isinstance(member, dict) and member.get("name") == "Cluster Name":
            member["type"] = "Distributed Network Name" if distributed else "Network Name"
    for res in cluster.get("ip_resources", []):
        if not isinstance(res, dict) or not isinstance(res.get("name"), str):
            continue
        group = res.setdefault("group", CORE_GROUP)
        role = by_name.get(str(group).lower())
        if role is None:
            role = {"name": group, "type": "Generic", "state": "Online", "owner": None, "services": [], "resources": []}
            roles.append(role)
            by_name[str(group).lower()] = role
        members = role.setdefault("resources", [])
        listed = next((m for m in members if isinstance(m, dict) and m.get("name", "").lower() == res["name"].lower()),
                      None)
        if listed is None:
            listed = {"name": res["name"], "type": "IP Address", "depends_on": []}
            members.insert(0, listed)
        listed["state"] = res.get("state")
    for role in roles:
        states = [m.get("state") for m in role.get("resources", []) if isinstance(m, dict)]
        if all(s == "Online" for s in states):
            role["state"] = "Online"
        elif "Failed" in states:
            role["state"] = "Failed"
        elif "Online" in states:
            role["state"] = "PartialOnline"
        else:
            role["state"] = "Offline"
        for service in role.get("services", []):
            if isinstance(service, dict):
                service["status"] = "Running" if role["state"] == "Online" else "Stopped"


def _role(cluster: dict[str, Any], name: str) -> dict[str, Any]:
    found = next((r for r in cluster["roles"] if r["name"].lower() == name.lower()), None)
    if found is None:
        raise KeyError(f"no role {name!r}")
    return found


def _set_resource_state(cluster: dict[str, Any], resource: dict[str, Any], state: str) -> None:
    resource["state"] = state
    if resource.get("type") == "IP Address":
        for res in cluster["ip_resources"]:
            if res["name"].lower() == resource["name"].lower():
                res["state"] = state


def dependents(role: dict[str, Any], name: str) -> list[str]:
    """The resources of ``role`` that depend on ``name``, directly or through others (dependency order)."""
    found: list[str] = []
    frontier = [name.lower()]
    while frontier:
        current = frontier.pop(0)
        for member in role["resources"]:
            if current in (d.lower() for d in member.get("depends_on", [])) and member["name"] not in found:
                found.append(member["name"])
                frontier.append(member["name"].lower())
    return found


def stop_resource(cluster: dict[str, Any], name: str) -> None:
    """Stop-ClusterResource: the resource and every resource depending on it go Offline."""
    role = next(r for r in cluster["roles"] if any(m["name"].lower() == name.lower() for m in r["resources"]))
    stopping = {name.lower(), *(d.lower() for d in dependents(role, name))}
    for member in role["resources"]:
        if member["name"].lower() in stopping:
            _set_resource_state(cluster, member, "Offline")
    _sync_roles(cluster)


def stop_group(cluster: dict[str, Any], name: str) -> None:
    """Stop-ClusterGroup: every resource of the role goes Offline."""
    role = _role(cluster, name)
    for member in role["resources"]:
        _set_resource_state(cluster, member, "Offline")
    _sync_roles(cluster)


def start_group(cluster: dict[str, Any], name: str) -> None:
    """Start-ClusterGroup: every resource comes online in dependency order. An IP Address resource comes online only
    on a cluster network that allows clients and holds its address (else Failed); a resource whose dependencies are
    not all Online stays Offline."""
    role = _role(cluster, name)
    members = {m["name"].lower(): m for m in role["resources"]}
    done: set[str] = set()
    while len(done) < len(members):
        ready = [m for key, m in members.items() if key not in done and
                 all(d.lower() in done or d.lower() not in members for d in m.get("depends_on", []))]
        if not ready:  # a dependency cycle: what is left cannot start
            break
        for member in ready:
            deps_online = all(members[d.lower()]["state"] == "Online" for d in member.get("depends_on", [])
                              if d.lower() in members)
            state = "Online" if deps_online else "Offline"
            if member.get("faulted"):
                state = "Failed"
            elif deps_online and member.get("type") == "IP Address":
                state = "Online" if _ip_can_come_online(cluster, member["name"]) else "Failed"
            _set_resource_state(cluster, member, state)
            done.add(member["name"].lower())
    _sync_roles(cluster)


def _ip_can_come_online(cluster: dict[str, Any], name: str) -> bool:
    res = next((r for r in cluster["ip_resources"] if r["name"].lower() == name.lower()), None)
    net = next((n for n in cluster["networks"] if res is not None and n["name"] == res["network"]), None)
    if res is None or net is None or "Client" not in net.get("role", "ClusterAndClient"):
        return False
    subnet = ipaddress.IPv4Network(f"{net['address']}/{net['prefix_length']}", strict=False)
    return ipaddress.IPv4Address(res["address"]) in subnet


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


_NAMED_LISTS = ("nodes", "networks", "ip_resources", "virtual_disks", "csvs", "roles")


def update_cluster(world: World, vm_id: str, change: dict[str, Any], *, replace: bool = False) -> dict[str, Any]:
    """Change the VM's cluster: ``replace`` swaps the whole object (PUT); otherwise a patch where objects merge
    and the named lists (nodes, networks, ip_resources, virtual_disks, csvs, roles) merge item by item on ``name``.
    A patched role ``state`` without ``resources`` is what the cluster cmdlets would do: ``Offline`` stops the group
    (every resource Offline), ``Online`` starts it (``start_group``), ``Failed`` fails every resource of it.
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
    _sync_roles(updated)
    validate(updated)
    if not replace:
        _apply_role_states(updated, change.get("roles") or [])
    # Which VM a node runs on is fixed by seeding and failover, never by a state change.
    members = {n["name"].lower(): n.get("vm_id") for n in cluster["nodes"]}
    for node in updated["nodes"]:
        node["vm_id"] = members.get(node["name"].lower())
    cluster.clear()
    cluster.update(updated)
    return describe(world, vm_id)


def _apply_role_states(cluster: dict[str, Any], patch: list[dict[str, Any]]) -> None:
    for item in patch:
        if "state" not in item or "resources" in item:
            continue
        state = item["state"]
        if state == "Offline":
            stop_group(cluster, item["name"])
        elif state == "Online":
            for member in _role(cluster, item["name"])["resources"]:
                member.pop("faulted", None)
            start_group(cluster, item["name"])
        elif state == "Failed":
            # The workload itself is broken (SQL Server's service cannot start): its resources fail, and the ones that
            # are not IP addresses stay Failed when the group is started again, until a PATCH sets the role Online.
            role = _role(cluster, item["name"])
            for member in role["resources"]:
                _set_resource_state(cluster, member, "Failed")
                if member.get("type") != "IP Address":
                    member["faulted"] = True
            _sync_roles(cluster)
        else:
            raise ValueError(f"roles[{item['name']}].state can be set to Online, Offline or Failed, got {state!r} "
                             "(a role's state follows from its resources)")


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
    groups = {r["name"].lower() for r in cluster["roles"]}
    ip_names = {r["name"].lower() for r in cluster["ip_resources"]}
    for res in cluster["ip_resources"]:
        need(str(res.get("group", CORE_GROUP)).lower() in groups, f"ip_resources[{res['name']}].group names no role")
    for role in cluster["roles"]:
        where = f"roles[{role['name']}]"
        enum(role.get("type"), ROLE_TYPES, f"{where}.type")
        enum(role.get("state"), ROLE_STATES, f"{where}.state")
        need(role.get("owner") is None or isinstance(role["owner"], str), f"{where}.owner must be a node name or null")
        members = role.get("resources")
        need(isinstance(members, list) and all(isinstance(m, dict) and isinstance(m.get("name"), str) for m in members),
             f"{where}.resources must be a list of objects with a 'name'")
        names = {m["name"].lower() for m in members}
        for member in members:
            at = f"{where}.resources[{member['name']}]"
            enum(member.get("type"), ROLE_RESOURCE_TYPES, f"{at}.type")
            enum(member.get("state"), RESOURCE_STATES, f"{at}.state")
            need(member["type"] != "IP Address" or member["name"].lower() in ip_names,
                 f"{at} is an IP Address resource missing from ip_resources")
            depends = member.get("depends_on", [])
            need(isinstance(depends, list) and all(isinstance(d, str) and d.lower() in names for d in depends),
                 f"{at}.depends_on must name resources of the same role")
        services = role.get("services", [])
        need(isinstance(services, list) and all(isinstance(v, dict) and isinstance(v.get("name"), str) and
                                                v.get("status") in SERVICE_STATES for v in services),
             f"{where}.services must be a list of {{name, status: Running|Stopped}}")
    quorum = cluster.get("quorum")
    need(isinstance(quorum, dict) and isinstance(quorum.get("witness"), dict), "quorum needs a witness object")
    enum(quorum.get("state"), QUORUM_STATES, "quorum.state")
    enum(quorum["witness"].get("type"), WITNESS_TYPES, "quorum.witness.type")
    enum(quorum["witness"].get("state"), WITNESS_STATES, "quorum.witness.state")
    account = quorum["witness"].get("account")
    need(account is None or isinstance(account, str), "quorum.witness.account must be a storage account name or null")
    need(isinstance(quorum["witness"].get("shared_with_production", False), bool),
         "quorum.witness.shared_with_production must be true or false")
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


def clone_for_recovery(world: World, source_vm_id: str, recovery_vm_id: str, *,
                       test: bool = False) -> dict[str, Any] | None:
    """Make ``recovery_vm_id`` (a failed-over copy of ``source_vm_id``) a node of the recovery-side cluster.

    Recovery VMs failed over into the same subnet share one copy of the source cluster (crash-consistent:
    pool, disks and witness as they were). In the copy, the cluster network the source node used now has
    the recovery subnet's address and prefix, and each IP Address resource keeps its old address and is
    Offline unless that address fits a network (and so are the resources depending on it: the role is not Online).
    Nodes whose VM has not failed over yet are Down. The copy's cloud witness is Online only if the nodes' subnet
    reaches its storage account; ``test`` (a test failover) marks a reached witness as shared with production.
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
        cluster = _recovery_copy(world, source, source_vm_id, ipaddress.IPv4Network(prefix), subnet_id, test=test)
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


def _recovery_copy(world: World, source: dict[str, Any], source_vm_id: str, recovery_net: ipaddress.IPv4Network,
                   subnet_id: str, *, test: bool) -> dict[str, Any]:
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
            # Its address belongs to no network here: it cannot come online, nor can what depends on it (the
            # network name, SQL Server): the role is not Online until the address is moved.
            stop_resource(cluster, res["name"])
    _reach_witness(world, cluster, subnet_id, test=test)
    return cluster


def _reach_witness(world: World, cluster: dict[str, Any], subnet_id: str, *, test: bool) -> None:
    """Can the copy's nodes, in ``subnet_id``, reach the cloud witness? "The cluster nodes ... must be able to reach
    the storage account ... blob endpoint over HTTPS" (learn.microsoft.com/windows-server/failover-clustering/
    deploy-cloud-witness); the account's network rules decide whether that subnet gets through
    (``storage.reachable_from``). Unreachable: the witness is Failed and node majority alone holds quorum; reachable,
    it keeps the state the source's had (a witness broken in production is broken in the copy too). A test
    failover copy whose witness is Online shares production's (``shared_with_production``): the harm a drill
    must never do."""
    witness = cluster["quorum"]["witness"]
    if witness.get("type") != "Cloud":
        return
    if not (witness.get("account") and storage.reachable_from(world, witness["account"], subnet_id)):
        witness["state"] = "Failed"
    witness["shared_with_production"] = bool(test and witness["state"] == "Online")


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
