"""Network gateway: NICs, subnets, the cluster's internal load balancers, and the network security groups that
filter the nodes' traffic (read by the pre-flight check, and listed by the audit).

NICs have no per-IP-configuration update: a pool change GETs the whole NIC, edits it and PUTs it
back with ``If-Match`` so a concurrent writer is never overwritten (412 -> transient, retried).
"""

from __future__ import annotations

from typing import Any

from shared import ids
from shared.azure.clients import Clients
from shared.azure.errors import error_code, is_not_found, read, read_all, read_or_none, translate, wire
from shared.errors import AddressTaken
from shared.inventory import (
    Frontend,
    LoadBalancer,
    NetworkSecurityGroup,
    Nic,
    NicFilters,
    RoleFrontend,
    SecurityRule,
    Subnet,
    VirtualNetwork,
    frozen_tags,
    role_frontend_name,
)
from shared.names import LB_FRONTEND, LB_POOL, LB_PROBE, LB_RULE


def _primary_ip_config(raw: dict[str, Any]) -> dict[str, Any]:
    configs = (raw.get("properties") or {}).get("ipConfigurations") or []
    return next((c for c in configs if (c.get("properties") or {}).get("primary")), configs[0] if configs else {})


def nic_from_wire(raw: dict[str, Any]) -> Nic:
    config = _primary_ip_config(raw)
    props = config.get("properties") or {}
    return Nic(id=raw["id"], location=(raw.get("location") or "").lower(), ip_config_name=config.get("name") or "",
               subnet_id=(props.get("subnet") or {}).get("id") or "", private_ip=props.get("privateIPAddress"),
               pool_ids=tuple(p["id"] for p in props.get("loadBalancerBackendAddressPools") or [] if p.get("id")),
               vm_id=((raw.get("properties") or {}).get("virtualMachine") or {}).get("id"), etag=raw.get("etag"))


def lb_from_wire(raw: dict[str, Any]) -> LoadBalancer:
    props = raw.get("properties") or {}
    fronts = props.get("frontendIPConfigurations") or []
    front = (fronts[0].get("properties") or {}) if fronts else {}
    pools = props.get("backendAddressPools") or []
    pool = pools[0] if pools else {}
    members = []
    for ref in (pool.get("properties") or {}).get("backendIPConfigurations") or []:
        ref_id = ref.get("id") or ""
        if "/ipConfigurations/" in ref_id:
            members.append(ref_id.split("/ipConfigurations/")[0])
    probes = props.get("probes") or []
    rules = props.get("loadBalancingRules") or []
    ha = any((r.get("properties") or {}).get("protocol") == "All" and (r.get("properties") or {}).get("frontendPort") == 0
             and (r.get("properties") or {}).get("enableFloatingIP") for r in rules)
    return LoadBalancer(id=raw["id"], location=(raw.get("location") or "").lower(),
                        frontend_ip=front.get("privateIPAddress"), frontend_subnet_id=(front.get("subnet") or {}).get("id"),
                        pool_id=pool.get("id"), pool_nic_ids=tuple(members),
                        probe_port=((probes[0].get("properties") or {}).get("port") if probes else None),
                        has_ha_ports_rule=ha, tags=frozen_tags(raw.get("tags")),
                        frontends=_frontends(fronts, probes, rules))


def _frontends(fronts: list[dict[str, Any]], probes: list[dict[str, Any]],
               rules: list[dict[str, Any]]) -> tuple[Frontend, ...]:
    """Each frontend with the probe port of an HA-ports floating-IP rule on it (a cluster access point: Microsoft's
    "Configure an Azure load balancer for an FCI VNN" gives each IP its own frontend, rule and probe)."""
    ports = {ids.key(p.get("id") or ""): (p.get("properties") or {}).get("port") for p in probes}
    probe_of: dict[str, int | None] = {}
    for rule in rules:
        r = rule.get("properties") or {}
        if r.get("protocol") == "All" and r.get("frontendPort") == 0 and r.get("enableFloatingIP"):
            front_id = ids.key((r.get("frontendIPConfiguration") or {}).get("id") or "")
            probe_of.setdefault(front_id, ports.get(ids.key((r.get("probe") or {}).get("id") or "")))
    out = []
    for f in fronts:
        props = f.get("properties") or {}
        out.append(Frontend(name=f.get("name") or "", ip=props.get("privateIPAddress"),
                            subnet_id=(props.get("subnet") or {}).get("id"),
                            probe_port=probe_of.get(ids.key(f.get("id") or ""))))
    return tuple(out)


def _subnet_from_wire(raw: dict[str, Any]) -> Subnet:
    props = raw.get("properties") or {}
    prefix = props.get("addressPrefix") or (props.get("addressPrefixes") or [""])[0]
    return Subnet(id=raw["id"], prefix=prefix)


def _merged(props: dict[str, Any], single: str, plural: str) -> tuple[str, ...]:
    one = props.get(single)
    return tuple(str(v) for v in (props.get(plural) or ([one] if one else [])))


def rule_from_wire(raw: dict[str, Any]) -> SecurityRule:
    props = raw.get("properties") or {}
    return SecurityRule(
        name=raw.get("name") or "", priority=int(props.get("priority") or 0), direction=props.get("direction") or "",
        access=props.get("access") or "", protocol=props.get("protocol") or "",
        sources=_merged(props, "sourceAddressPrefix", "sourceAddressPrefixes"),
        source_ports=_merged(props, "sourcePortRange", "sourcePortRanges"),
        destinations=_merged(props, "destinationAddressPrefix", "destinationAddressPrefixes"),
        destination_ports=_merged(props, "destinationPortRange", "destinationPortRanges"),
        application_groups=bool(props.get("sourceApplicationSecurityGroups")
                                or props.get("destinationApplicationSecurityGroups")))


def nsg_from_wire(raw: dict[str, Any]) -> NetworkSecurityGroup:
    props = raw.get("properties") or {}
    rules = props.get("securityRules") or []
    return NetworkSecurityGroup(id=raw["id"], name=raw["name"], location=(raw.get("location") or "").lower(),
                                rules=tuple(rule_from_wire(r) for r in rules),
                                nic_ids=tuple(n["id"] for n in props.get("networkInterfaces") or [] if n.get("id")),
                                subnet_ids=tuple(n["id"] for n in props.get("subnets") or [] if n.get("id")))


def _nsg_of(raw: dict[str, Any]) -> str | None:
    return ((raw.get("properties") or {}).get("networkSecurityGroup") or {}).get("id") or None


class NetworkGateway:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def _client(self, resource_id: str) -> Any:
        return self._clients.network(ids.subscription_of(resource_id))

    def get_nic(self, nic_id: str) -> Nic | None:
        rid = ids.parse(nic_id)
        raw = read_or_none(f"read NIC {rid.name}",
                           lambda: self._client(nic_id).network_interfaces.get(rid.resource_group, rid.name))
        return nic_from_wire(raw) if raw is not None else None

    def get_subnet(self, vnet_id: str, subnet_name: str) -> Subnet | None:
        rid = ids.parse(vnet_id)
        raw = read_or_none(f"read subnet {rid.name}/{subnet_name}",
                           lambda: self._client(vnet_id).subnets.get(rid.resource_group, rid.name, subnet_name))
        return _subnet_from_wire(raw) if raw is not None else None

    def get_subnet_of(self, subnet_id: str) -> Subnet | None:
        """The subnet a NIC names (``.../virtualNetworks/<vnet>/subnets/<name>``); None for anything else."""
        vnet_id = ids.vnet_of(subnet_id)
        return self.get_subnet(vnet_id, ids.name_of(subnet_id)) if vnet_id != subnet_id else None

    def get_nic_filters(self, nic_id: str) -> NicFilters | None:
        """The NIC's primary address and subnet, and the network security groups on the NIC and on that subnet (a
        NIC GET and a subnet GET); None when the NIC does not exist."""
        rid = ids.parse(nic_id)
        raw = read_or_none(f"read NIC {rid.name}",
                           lambda: self._client(nic_id).network_interfaces.get(rid.resource_group, rid.name))
        if raw is None:
            return None
        nic = nic_from_wire(raw)
        subnet_nsg = None
        vnet_id = ids.vnet_of(nic.subnet_id)
        if nic.subnet_id and vnet_id != nic.subnet_id:
            vnet = ids.parse(vnet_id)
            subnet = read_or_none(f"read subnet {vnet.name}/{ids.name_of(nic.subnet_id)}", lambda: self._client(
                vnet_id).subnets.get(vnet.resource_group, vnet.name, ids.name_of(nic.subnet_id)))
            subnet_nsg = _nsg_of(subnet) if subnet is not None else None
        return NicFilters(nic_id=nic.id, private_ip=nic.private_ip, subnet_id=nic.subnet_id, nic_nsg_id=_nsg_of(raw),
                          subnet_nsg_id=subnet_nsg)

    def get_network_security_group(self, nsg_id: str) -> NetworkSecurityGroup | None:
        rid = ids.parse(nsg_id)
        raw = read_or_none(f"read network security group {rid.name}",
                           lambda: self._client(nsg_id).network_security_groups.get(rid.resource_group, rid.name))
        return nsg_from_wire(raw) if raw is not None else None

    def get_load_balancer(self, lb_id: str) -> LoadBalancer | None:
        rid = ids.parse(lb_id)
        raw = read_or_none(f"read load balancer {rid.name}",
                           lambda: self._client(lb_id).load_balancers.get(rid.resource_group, rid.name))
        return lb_from_wire(raw) if raw is not None else None

    def list_nics(self, subscription_id: str) -> list[Nic]:
        """Every NIC of a subscription in one paged list (the audit's bulk read; never a GET per VM)."""
        return [nic_from_wire(n) for n in read_all(f"list NICs of subscription {subscription_id}",
                                                   self._clients.network(subscription_id).network_interfaces.list_all)]

    def list_network_security_groups(self, subscription_id: str) -> list[NetworkSecurityGroup]:
        """Every network security group of a subscription, with the NICs and subnets it is associated with (ARM lists
        them on the group), in one paged list: the audit's bulk read for TCP 20004 between the nodes."""
        return [nsg_from_wire(g) for g in read_all(
            f"list network security groups of subscription {subscription_id}",
            self._clients.network(subscription_id).network_security_groups.list_all)]

    def list_load_balancers(self, resource_group_id: str) -> list[LoadBalancer]:
        """Every load balancer of one resource group (the DR load balancers) in one paged list."""
        sub, group = ids.subscription_of(resource_group_id), ids.resource_group_of(resource_group_id)
        return [lb_from_wire(lb) for lb in read_all(f"list load balancers of resource group {group}",
                                                    lambda: self._clients.network(sub).load_balancers.list(group),
                                                    missing_is_empty=True)]

    def get_virtual_network(self, vnet_id: str) -> VirtualNetwork | None:
        """One virtual network: its address space and DNS servers (the audit's DR and test networks)."""
        rid = ids.parse(vnet_id)
        raw = read_or_none(f"read virtual network {rid.name}",
                           lambda: self._client(vnet_id).virtual_networks.get(rid.resource_group, rid.name))
        if raw is None:
            return None
        props = raw.get("properties") or {}
        return VirtualNetwork(id=raw["id"], address_prefixes=tuple((props.get("addressSpace") or {}).get(
            "addressPrefixes") or ()), dns_servers=tuple((props.get("dhcpOptions") or {}).get("dnsServers") or ()))

    def list_subscription_load_balancers(self, subscription_id: str) -> list[LoadBalancer]:
        """Every load balancer of a subscription in one paged list (the audit: those fronting the nodes)."""
        return [lb_from_wire(lb) for lb in read_all(f"list load balancers of subscription {subscription_id}",
                                                    self._clients.network(subscription_id).load_balancers.list_all)]

    def list_subnets(self, vnet_id: str) -> list[Subnet]:
        """The subnets of one virtual network in one paged list; empty when the network does not exist."""
        rid = ids.parse(vnet_id)
        return [_subnet_from_wire(s) for s in read_all(
            f"list subnets of {rid.name}", lambda: self._client(vnet_id).subnets.list(rid.resource_group, rid.name),
            missing_is_empty=True)]

    def put_internal_load_balancer(self, lb_id: str, *, location: str, subnet_id: str, frontend_ip: str | None,
                                   probe_port: int, tags: dict[str, str],
                                   roles: tuple[RoleFrontend, ...] = ()) -> LoadBalancer:
        """Create or replace a Standard internal LB: one pool, and per access point (the cluster IP, then each role's
        in ``roles``) a frontend, a TCP probe and an HA-ports floating-IP rule (what a Windows cluster IP needs;
        Microsoft's "Configure an Azure load balancer for an FCI VNN"). Pool members come from the NICs."""
        rid = ids.parse(lb_id)
        points = [(LB_FRONTEND, LB_PROBE, LB_RULE, frontend_ip, probe_port)] + [
            (role_frontend_name(r.source_ip), "probe-" + role_frontend_name(r.source_ip)[3:],
             "ha-ports-" + role_frontend_name(r.source_ip)[3:], r.ip, r.probe_port) for r in roles]
        fronts, probes, rules = [], [], []
        for frontend, probe, rule, ip, port in points:
            ip_config: dict[str, Any] = {"subnet": {"id": subnet_id}, "privateIPAllocationMethod": "Dynamic"}
            if ip:
                ip_config = {**ip_config, "privateIPAllocationMethod": "Static", "privateIPAddress": ip}
            fronts.append({"name": frontend, "properties": ip_config})
            probes.append({"name": probe, "properties": {"protocol": "Tcp", "port": port, "intervalInSeconds": 5,
                                                         "numberOfProbes": 2, "probeThreshold": 1}})
            rules.append({"name": rule, "properties": {
                "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/{frontend}"},
                "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/{LB_POOL}"},
                "probe": {"id": f"{lb_id}/probes/{probe}"},
                "protocol": "All", "frontendPort": 0, "backendPort": 0, "enableFloatingIP": True,
                "idleTimeoutInMinutes": 4, "loadDistribution": "Default", "disableOutboundSnat": True}})
        body = {
            "location": location, "tags": tags, "sku": {"name": "Standard", "tier": "Regional"},
            "properties": {"frontendIPConfigurations": fronts, "backendAddressPools": [{"name": LB_POOL}],
                           "probes": probes, "loadBalancingRules": rules},
        }
        try:
            poller = self._client(lb_id).load_balancers.begin_create_or_update(rid.resource_group, rid.name, body)
            return lb_from_wire(wire(poller.result()))
        except Exception as err:
            if error_code(err) == "PrivateIPAddressInUse":  # taken since the subnet was read: a re-plan picks another
                raise AddressTaken(f"write load balancer {rid.name}: {translate(err, 'its frontend')}") from err
            raise translate(err, f"write load balancer {rid.name}") from err

    def delete_load_balancer(self, lb_id: str) -> bool:
        """Delete a load balancer (asr-s2d deletes only its own test-failover one); False when it was gone."""
        rid = ids.parse(lb_id)
        try:
            self._client(lb_id).load_balancers.begin_delete(rid.resource_group, rid.name).result()
        except Exception as err:
            if is_not_found(err):
                return False
            raise translate(err, f"delete load balancer {rid.name}") from err
        return True

    def add_nic_to_pool(self, nic_id: str, pool_id: str) -> bool:
        """Put the NIC's primary IP configuration into the pool; False when it already was (no write)."""
        rid = ids.parse(nic_id)
        client = self._client(nic_id)
        raw = read(f"read NIC {rid.name}", lambda: client.network_interfaces.get(rid.resource_group, rid.name))
        config = _primary_ip_config(raw)
        props = config.setdefault("properties", {})
        pools = props.setdefault("loadBalancerBackendAddressPools", [])
        if any(ids.same(p.get("id"), pool_id) for p in pools):
            return False
        pools.append({"id": pool_id})
        headers = {"If-Match": raw["etag"]} if raw.get("etag") else {}
        try:
            client.network_interfaces.begin_create_or_update(rid.resource_group, rid.name, raw, headers=headers).result()
        except Exception as err:
            raise translate(err, f"attach NIC {rid.name} to pool {ids.name_of(pool_id)}") from err
        return True
