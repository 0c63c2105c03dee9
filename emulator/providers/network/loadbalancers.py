"""Load balancers: internal frontends (addresses under the same rules as NICs), NIC-based backend pools,
probes, load-balancing rules (HA ports: protocol All on ports 0/0, Standard SKU, internal frontend) and
inbound NAT rules, with the back-references ARM derives; a pool in use by NICs cannot be removed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.world import World
from emulator.providers.conventions import begin_put, field, items, new_etag, obj, ref, reference, resource_id, same_id
from emulator.providers.network.addressing import IPv4
from emulator.providers.network.nics import join_backend_pool, sync_pools
from emulator.providers.network.schema import BAD, LB, LB_SHAPE, PUBLIC_IP, enum, int_in, unverified_reference
from emulator.providers.network.subnets import allocate, check_static, require_subnet, subnets_of, sync_subnets

_PROBE_PROTOCOLS = ("Tcp", "Http", "Https")
_RULE_PROTOCOLS = ("Tcp", "Udp", "All")
_RULE = "InvalidLoadBalancingRule"  # one code for rule-shape errors; ARM's messages vary by case


def put_load_balancer(world: World, *, lb_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a load balancer from an ARM request body (internal frontends, NIC-based pools)."""
    target = begin_put(world, lb_id, body, LB_SHAPE, kind="a load balancer")
    existing, lb_id, name, location, tags = target.existing, target.id, target.name, target.location, target.tags
    sku_in = obj(body, "sku", path="")
    sku = {"name": enum(sku_in.get("name"), ("Basic", "Standard", "Gateway"), where="sku.name", default="Basic"),
           "tier": enum(sku_in.get("tier"), ("Regional", "Global"), where="sku.tier", default="Regional")}
    if existing is not None and existing["sku"]["name"] != sku["name"]:
        raise ArmError(400, "CannotChangeSkuOfLoadBalancer", f"The SKU of load balancer {name} cannot be changed.")
    props = obj(body, "properties", path="")
    etag = new_etag()

    def child(kind: str, child_name: str) -> dict[str, Any]:
        return {"id": f"{lb_id}/{kind}/{child_name}", "name": child_name, "type": f"{LB}/{kind}", "etag": etag}

    def named(collection: str) -> list[tuple[str, dict[str, Any], str]]:
        out, seen = [], set()
        for index, item in enumerate(items(props, collection, path="properties")):
            where = f"properties.{collection}[{index}]"
            child_name = field(item, "name", str, path=where, required=True, missing_code=BAD)
            if child_name.lower() in seen:
                raise ArmError(400, "DuplicateResourceName", f"'{child_name}' is listed twice in {collection}.")
            seen.add(child_name.lower())
            out.append((child_name, obj(item, "properties", path=where), where))
        return out

    frontends = _frontends(world, lb_id=lb_id, location=location, existing=existing, given=named("frontendIPConfigurations"),
                           child=child)
    pools = []
    for pool_name, pool_props, where in named("backendAddressPools"):
        if items(pool_props, "loadBalancerBackendAddresses", path=f"{where}.properties"):
            raise ArmError(400, BAD, "IP-based backend pools (loadBalancerBackendAddresses) are not modelled by the "
                                      "emulator; join NICs to the pool through their IP configurations.")
        pools.append({**child("backendAddressPools", pool_name), "properties": {"provisioningState": "Succeeded"}})
    probes = []
    for probe_name, probe_props, where in named("probes"):
        path = f"{where}.properties"
        protocol = enum(probe_props.get("protocol"), _PROBE_PROTOCOLS, where=f"{path}.protocol")
        out: dict[str, Any] = {"provisioningState": "Succeeded", "protocol": protocol,
                               "port": int_in(probe_props, "port", path=path, low=1, high=65535),
                               "intervalInSeconds": int_in(probe_props, "intervalInSeconds", path=path, low=5,
                                                            high=2147483646, default=15),
                               "numberOfProbes": int_in(probe_props, "numberOfProbes", path=path, low=1, high=2147483646,
                                                         default=2),
                               "probeThreshold": int_in(probe_props, "probeThreshold", path=path, low=1, high=100,
                                                         default=1)}
        request_path = field(probe_props, "requestPath", str, path=path)
        if protocol == "Tcp" and request_path:
            raise ArmError(400, "InvalidProbeRequestPath", f"Probe {probe_name} uses Tcp and cannot have a requestPath.")
        if protocol != "Tcp" and not request_path:
            raise ArmError(400, "InvalidProbeRequestPath", f"Probe {probe_name} uses {protocol} and needs a requestPath.")
        if request_path:
            out["requestPath"] = request_path
        probes.append({**child("probes", probe_name), "properties": out})
    children = {"frontendIPConfigurations": frontends, "backendAddressPools": pools, "probes": probes}
    rules = _rules(named("loadBalancingRules"), lb_id=lb_id, sku=sku["name"], children=children, child=child)
    nat_rules = _nat_rules(named("inboundNatRules"), lb_id=lb_id, children=children, child=child)
    for collection in ("inboundNatPools", "outboundRules"):
        if items(props, collection, path="properties"):
            raise ArmError(400, BAD, f"{collection} are not modelled by the emulator (internal load balancers only).")
    if existing is not None:
        kept = {p["name"].lower() for p in pools}
        for pool in existing["properties"]["backendAddressPools"]:
            members = pool["properties"].get("backendIPConfigurations")
            if pool["name"].lower() not in kept and members:
                raise ArmError(400, "InUseBackendAddressPoolCannotBeDeleted",
                               f"Backend address pool {pool['id']} is in use by {members[0]['id']} and cannot be "
                               "deleted. Remove it from the IP configurations first.")
    lb_props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "resourceGuid": existing["properties"]["resourceGuid"] if existing else str(uuid.uuid4()),
        "frontendIPConfigurations": frontends, "backendAddressPools": pools, "loadBalancingRules": rules,
        "probes": probes, "inboundNatRules": nat_rules, "inboundNatPools": [], "outboundRules": [],
    }
    lb = {"id": lb_id, "name": name, "type": LB, "location": location, "tags": tags, "etag": etag,
          "sku": sku, "properties": lb_props}
    _link_rules(lb)
    touched = subnets_of(existing) | subnets_of(lb)
    world.put(lb)
    sync_subnets(world, touched)
    sync_pools(world, [lb_id])
    return lb


def _frontends(world: World, *, lb_id: str, location: str, existing: dict[str, Any] | None,
               given: list[tuple[str, dict[str, Any], str]], child: Any) -> list[dict[str, Any]]:
    previous = {f["name"].lower(): f["properties"] for f in (existing or {"properties": {"frontendIPConfigurations": []}})
                ["properties"]["frontendIPConfigurations"]}
    if not given:
        raise ArmError(400, BAD, "A load balancer needs at least one frontend IP configuration.")
    taken_here: dict[IPv4, str] = {}
    pending: list[tuple[dict[str, Any], dict[str, Any], str, dict[str, Any] | None]] = []
    out: dict[str, dict[str, Any]] = {}
    for fe_name, fe_props, where in given:
        path = f"{where}.properties"
        subnet_ref = reference(fe_props, "subnet", path=path, missing_code=BAD)
        public_ip = unverified_reference(fe_props, "publicIPAddress", path=path, rtype=PUBLIC_IP)
        holder = f"{lb_id}/frontendIPConfigurations/{fe_name}"
        props: dict[str, Any] = {"provisioningState": "Succeeded"}
        if subnet_ref is None:
            if public_ip is None:
                raise ArmError(400, BAD, f"Frontend {fe_name} needs a subnet (internal) or a publicIPAddress.")
            props["publicIPAddress"] = ref(public_ip)
            out[fe_name] = {**child("frontendIPConfigurations", fe_name), "properties": props}
            continue
        _vnet, subnet = require_subnet(world, subnet_ref, location=location, referrer=holder)
        address = field(fe_props, "privateIPAddress", str, path=path)
        method = enum(fe_props.get("privateIPAllocationMethod"), ("Static", "Dynamic"),
                       where=f"{path}.privateIPAllocationMethod", default="Static" if address else "Dynamic")
        enum(fe_props.get("privateIPAddressVersion"), ("IPv4",), where=f"{path}.privateIPAddressVersion", default="IPv4")
        props.update(privateIPAllocationMethod=method, privateIPAddressVersion="IPv4", subnet=ref(subnet["id"]))
        if method == "Static":
            if not address:
                raise ArmError(400, "PrivateIPAddressRequired", f"Frontend {fe_name} is Static but has no privateIPAddress.")
            ip = check_static(world, address, subnet_id=subnet["id"], subnet=subnet, owner=lb_id, holder=holder,
                               taken_here=taken_here)
            taken_here[ip] = holder
            props["privateIPAddress"] = str(ip)
        else:
            pending.append((subnet, props, holder, previous.get(fe_name.lower())))
        zones = field(fe_props, "zones", list, path=path)
        entry = {**child("frontendIPConfigurations", fe_name), "properties": props}
        if zones:
            entry["zones"] = [str(z) for z in zones]
        out[fe_name] = entry
    for subnet, props, holder, before in pending:
        same_subnet = before is not None and same_id((before.get("subnet") or {}).get("id"), subnet["id"])
        keep = before.get("privateIPAddress") if before and same_subnet else None
        props["privateIPAddress"] = allocate(world, subnet_id=subnet["id"], subnet=subnet, owner=lb_id,
                                              taken_here=taken_here, keep=keep, prefix_length=None)
        taken_here[IPv4(props["privateIPAddress"])] = holder
    return [out[fe_name] for fe_name, _, _ in given]


def _resolve_child(children: dict[str, list[dict[str, Any]]], collection: str, target: str | None, *, lb_id: str,
                   referrer: str, required: bool) -> str | None:
    if target is None:
        if required:
            raise ArmError(400, BAD, f"{referrer} needs a reference to one of the load balancer's {collection}.")
        return None
    found = next((c for c in children[collection] if same_id(c["id"], target)), None)
    if found is None:
        raise ArmError(400, "InvalidResourceReference",
                       f"Resource {target} referenced by resource {referrer} was not found. Please make sure that the "
                       f"referenced resource exists in load balancer {lb_id}.")
    return str(found["id"])


def _rules(given: list[tuple[str, dict[str, Any], str]], *, lb_id: str, sku: str,
           children: dict[str, list[dict[str, Any]]], child: Any) -> list[dict[str, Any]]:
    rules = []
    listeners: dict[tuple[str, str, int], str] = {}
    for rule_name, rule_props, where in given:
        path = f"{where}.properties"
        referrer = f"{lb_id}/loadBalancingRules/{rule_name}"
        frontend = _resolve_child(children, "frontendIPConfigurations",
                                  reference(rule_props, "frontendIPConfiguration", path=path, missing_code=BAD),
                                  lb_id=lb_id, referrer=referrer, required=True)
        pool = _resolve_child(children, "backendAddressPools",
                              reference(rule_props, "backendAddressPool", path=path, missing_code=BAD),
                              lb_id=lb_id, referrer=referrer, required=False)
        probe = _resolve_child(children, "probes", reference(rule_props, "probe", path=path, missing_code=BAD),
                               lb_id=lb_id, referrer=referrer, required=False)
        protocol = enum(rule_props.get("protocol"), _RULE_PROTOCOLS, where=f"{path}.protocol")
        frontend_port = int_in(rule_props, "frontendPort", path=path, low=0, high=65534)
        backend_port = int_in(rule_props, "backendPort", path=path, low=0, high=65535, default=frontend_port)
        if protocol == "All":
            # HA ports: protocol All on ports 0/0, Standard SKU, internal frontend only.
            if frontend_port or backend_port:
                raise ArmError(400, _RULE, f"Rule {rule_name} uses protocol All (HA ports), so frontendPort and "
                                           "backendPort must both be 0.")
            if sku != "Standard":
                raise ArmError(400, _RULE, f"Rule {rule_name}: HA ports rules need a Standard load balancer.")
            fe = next(c for c in children["frontendIPConfigurations"] if c["id"] == frontend)
            if "subnet" not in fe["properties"]:
                raise ArmError(400, _RULE, f"Rule {rule_name}: HA ports rules need an internal frontend.")
        elif frontend_port == 0 or backend_port == 0:
            raise ArmError(400, _RULE, f"Rule {rule_name}: port 0 is valid only for HA ports rules (protocol All).")
        listener = (frontend.lower(), protocol, frontend_port)
        if listener in listeners:
            raise ArmError(400, _RULE, f"Rules {listeners[listener]} and {rule_name} use the same frontend, protocol "
                                       f"and port ({protocol}/{frontend_port}).")
        listeners[listener] = rule_name
        out: dict[str, Any] = {
            "provisioningState": "Succeeded", "frontendIPConfiguration": ref(frontend), "frontendPort": frontend_port,
            "backendPort": backend_port,
            "enableFloatingIP": field(rule_props, "enableFloatingIP", bool, path=path, default=False),
            "idleTimeoutInMinutes": int_in(rule_props, "idleTimeoutInMinutes", path=path, low=4, high=100, default=4),
            "protocol": protocol,
            "enableTcpReset": field(rule_props, "enableTcpReset", bool, path=path, default=False),
            "loadDistribution": enum(rule_props.get("loadDistribution"), ("Default", "SourceIP", "SourceIPProtocol"),
                                      where=f"{path}.loadDistribution", default="Default"),
            "disableOutboundSnat": field(rule_props, "disableOutboundSnat", bool, path=path, default=False),
            "enableConnectionTracking": field(rule_props, "enableConnectionTracking", bool, path=path, default=False),
        }
        if pool:
            out["backendAddressPool"] = ref(pool)
            out["backendAddressPools"] = [ref(pool)]
        if probe:
            out["probe"] = ref(probe)
        rules.append({**child("loadBalancingRules", rule_name), "properties": out})
    return rules


def _nat_rules(given: list[tuple[str, dict[str, Any], str]], *, lb_id: str,
               children: dict[str, list[dict[str, Any]]], child: Any) -> list[dict[str, Any]]:
    out_rules = []
    for rule_name, rule_props, where in given:
        path = f"{where}.properties"
        frontend = _resolve_child(children, "frontendIPConfigurations",
                                  reference(rule_props, "frontendIPConfiguration", path=path, missing_code=BAD),
                                  lb_id=lb_id, referrer=f"{lb_id}/inboundNatRules/{rule_name}", required=True)
        out_rules.append({**child("inboundNatRules", rule_name), "properties": {
            "provisioningState": "Succeeded", "frontendIPConfiguration": ref(frontend or ""),
            "frontendPort": int_in(rule_props, "frontendPort", path=path, low=1, high=65534),
            "backendPort": int_in(rule_props, "backendPort", path=path, low=1, high=65535),
            "enableFloatingIP": field(rule_props, "enableFloatingIP", bool, path=path, default=False),
            "idleTimeoutInMinutes": int_in(rule_props, "idleTimeoutInMinutes", path=path, low=4, high=100, default=4),
            "protocol": enum(rule_props.get("protocol"), _RULE_PROTOCOLS, where=f"{path}.protocol"),
            "enableTcpReset": field(rule_props, "enableTcpReset", bool, path=path, default=False),
        }})
    return out_rules


def _link_rules(lb: dict[str, Any]) -> None:
    """ARM's back-references: which rules use each frontend, pool and probe."""
    props = lb["properties"]
    users: dict[str, dict[str, list[dict[str, str]]]] = {}
    for rule in props["loadBalancingRules"]:
        rp = rule["properties"]
        for key in ("frontendIPConfiguration", "backendAddressPool", "probe"):
            if key in rp:
                users.setdefault(rp[key]["id"].lower(), {}).setdefault("loadBalancingRules", []).append(ref(rule["id"]))
    for rule in props["inboundNatRules"]:
        target = rule["properties"]["frontendIPConfiguration"]["id"].lower()
        users.setdefault(target, {}).setdefault("inboundNatRules", []).append(ref(rule["id"]))
    for collection in ("frontendIPConfigurations", "backendAddressPools", "probes"):
        for item in props[collection]:
            item["properties"].update(users.get(item["id"].lower(), {}))


def delete_load_balancer(world: World, lb_id: str) -> dict[str, Any] | None:
    lb = world.get(lb_id)
    if lb is None:
        return None
    for pool in lb["properties"]["backendAddressPools"]:
        members = pool["properties"].get("backendIPConfigurations")
        if members:
            raise ArmError(400, "InUseBackendAddressPoolCannotBeDeleted",
                           f"Load balancer {lb['id']} cannot be deleted: backend pool {pool['name']} is in use by "
                           f"{members[0]['id']}.")
    world.delete(lb_id)
    sync_subnets(world, subnets_of(lb))
    return lb


@dataclass(frozen=True)
class AccessPointFrontend:
    """One more client access point on a cluster's load balancer: "Configure an Azure load balancer for an FCI VNN"
    (learn.microsoft.com/azure/azure-sql/virtual-machines/windows/failover-cluster-instance-vnn-azure-load-balancer-
    configure) gives each its own frontend IP, health probe port and HA-ports rule with floating IP."""
    name: str
    ip: str
    probe_name: str
    probe_port: int
    rule_name: str


def create_internal_load_balancer(world: World, *, subscription_id: str, resource_group: str, name: str, location: str,
                                  subnet_id: str, frontend_ip: str | None, probe_port: int = 59999,
                                  frontend_name: str = "fe-cluster", pool_name: str = "be-cluster",
                                  probe_name: str = "probe-cluster", rule_name: str = "ha-ports",
                                  nic_ids: Iterable[str] = (), tags: dict[str, str] | None = None,
                                  extra_frontends: Iterable[AccessPointFrontend] = ()) -> dict[str, Any]:
    """A Standard internal load balancer as a guest cluster needs it: one frontend (static ``frontend_ip``, or
    the next free address when None), one backend pool, a TCP probe on ``probe_port`` and one HA-ports rule
    with floating IP. ``extra_frontends`` add one more access point each (a SQL Server FCI's virtual network name):
    its own static frontend, probe and HA-ports floating-IP rule on the same pool. ``nic_ids`` join the pool through
    their primary IP configuration. Returns the LB."""
    lb_id = resource_id(subscription_id, resource_group, LB, name)
    fe: dict[str, Any] = {"subnet": {"id": subnet_id}}
    if frontend_ip:
        fe.update(privateIPAllocationMethod="Static", privateIPAddress=frontend_ip)
    points = [(frontend_name, fe, probe_name, probe_port, rule_name)] + [
        (x.name, {"subnet": {"id": subnet_id}, "privateIPAllocationMethod": "Static", "privateIPAddress": x.ip},
         x.probe_name, x.probe_port, x.rule_name) for x in extra_frontends]
    body = {"location": location, "tags": tags or {}, "sku": {"name": "Standard", "tier": "Regional"}, "properties": {
        "frontendIPConfigurations": [{"name": fe_name, "properties": props} for fe_name, props, *_ in points],
        "backendAddressPools": [{"name": pool_name}],
        "probes": [{"name": probe, "properties": {"protocol": "Tcp", "port": port, "intervalInSeconds": 5,
                                                  "numberOfProbes": 2, "probeThreshold": 1}}
                   for _fe, _props, probe, port, _rule in points],
        "loadBalancingRules": [{"name": rule, "properties": {
            "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/{fe_name}"},
            "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/{pool_name}"},
            "probe": {"id": f"{lb_id}/probes/{probe}"},
            "protocol": "All", "frontendPort": 0, "backendPort": 0, "enableFloatingIP": True,
            "idleTimeoutInMinutes": 4, "loadDistribution": "Default"}} for fe_name, _props, probe, _port, rule in points]}}
    lb = put_load_balancer(world, lb_id=lb_id, body=body)
    pool_id = f"{lb['id']}/backendAddressPools/{pool_name}"
    for nic_id in nic_ids:
        join_backend_pool(world, nic_id, pool_id)
    return world.get(lb["id"]) or lb
