"""Network security groups: security rules, the default rules Azure adds to every group, the association to NICs
and subnets (a reference must resolve, in the same region), and the back-references ARM derives.

Rules enforced, each with its source:

- a rule's priority is 100-4096; its protocol is Tcp, Udp, Icmp, Esp, Ah or ``*``; its access Allow or Deny; its
  direction Inbound or Outbound; no two rules share a priority and a direction (``SecurityRuleConflict``).
  Sources: "Azure network security groups overview", section "Security rules"
  (learn.microsoft.com/azure/virtual-network/network-security-groups-overview; MicrosoftDocs/azure-docs
  articles/virtual-network/network-security-groups-overview.md) — "Priority: A number between 100 and 4096",
  "You can't create two security rules with the same priority and direction"; the error ARM answers, as
  reported in Azure/aks-engine#2106 and hashicorp/terraform-provider-azurerm#11137: ``SecurityRuleConflict``,
  "Security rule X conflicts with rule Y. Rules cannot have the same Priority and Direction."
- every group carries the six default rules (AllowVNetInBound 65000, AllowAzureLoadBalancerInBound 65001,
  DenyAllInbound 65500, AllowVnetOutBound 65000, AllowInternetOutBound 65001, DenyAllOutBound 65500), which
  cannot be removed: same article, section "Default security rules". ARM returns them as
  ``defaultSecurityRules``.
- a source or destination is one prefix (``*``, an address, a CIDR or a service tag) or a list of them, never
  both forms; the same for ports (``80``, ``10000-10005``, ``*``): same article, "Augmented security rules".
- a group associated with a NIC or a subnet cannot be deleted: ``InUseNetworkSecurityGroupCannotBeDeleted``
  (an ARM error code of Microsoft.Network, listed with the others in azure-sdk-for-go's armnetwork errors).
- a NIC or subnet may reference only a group that exists in its own region (``InvalidResourceReference``, the
  answer Microsoft.Network gives every cross-region reference, as for subnets and pools here).

Which traffic the rules let through is not decided here: the emulator stores and serves the rules, and whoever
reads them (asr-s2d's ``check``) evaluates them.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.world import World
from emulator.providers.conventions import begin_put, field, items, new_etag, obj, ref, reference, resource_id, same_id
from emulator.providers.network.schema import BAD, NIC, NSG, NSG_SHAPE, VNET, enum, int_in

PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "Ah", "*")
ACCESS = ("Allow", "Deny")
DIRECTIONS = ("Inbound", "Outbound")
# (name, priority, direction, access, source, destination, description): the article's "Default security rules".
DEFAULT_RULES = (
    ("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork",
     "Allow inbound traffic from all VMs in VNET"),
    ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*",
     "Allow inbound traffic from azure load balancer"),
    ("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*", "Deny all inbound traffic"),
    ("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork",
     "Allow outbound traffic from all VMs to all VMs in VNET"),
    ("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet",
     "Allow outbound traffic from all VMs to Internet"),
    ("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*", "Deny all outbound traffic"),
)


def _one_or_many(props: dict[str, Any], single: str, plural: str, *, path: str, default: str | None) -> dict[str, Any]:
    """``sourceAddressPrefix`` or ``sourceAddressPrefixes`` (never both), as ARM stores the one given."""
    one = field(props, single, str, path=path)
    many = field(props, plural, list, path=path)
    if one is not None and many:
        raise ArmError(400, BAD, f"Security rule property '{path}.{single}' and '{path}.{plural}' cannot both be set.")
    if many:
        if not all(isinstance(v, str) and v.strip() for v in many):
            raise ArmError(400, BAD, f"'{path}.{plural}' must be a list of non-empty strings.")
        return {single: "", plural: [str(v) for v in many]}
    if one is None and default is None:
        raise ArmError(400, BAD, f"Required property '{path}.{single}' is missing.")
    return {single: one if one is not None else default, plural: []}


def _check_ports(values: list[str], *, path: str) -> None:
    for value in values:
        low, _, high = value.partition("-")
        if value == "*":
            continue
        if not (low.isdigit() and (not high or high.isdigit())):
            raise ArmError(400, BAD, f"The port range '{value}' of '{path}' is invalid: use a port, a range like "
                                     "10000-10005, or '*'.")
        start, end = int(low), int(high or low)
        if not 0 <= start <= end <= 65535:
            raise ArmError(400, BAD, f"The port range '{value}' of '{path}' is outside 0-65535.")


def _rule(nsg_id: str, name: str, props: dict[str, Any], *, path: str, etag: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "priority": int_in(props, "priority", path=path, low=100, high=4096),
        "direction": enum(props.get("direction"), DIRECTIONS, where=f"{path}.direction"),
        "access": enum(props.get("access"), ACCESS, where=f"{path}.access"),
        "protocol": enum(props.get("protocol"), PROTOCOLS, where=f"{path}.protocol"),
    }
    description = field(props, "description", str, path=path)
    if description:
        out["description"] = description
    for side in ("source", "destination"):
        groups = [field(g, "id", str, path=f"{path}.{side}ApplicationSecurityGroups", required=True, missing_code=BAD)
                  for g in items(props, f"{side}ApplicationSecurityGroups", path=path)]
        if groups:  # an application security group stands instead of addresses
            out[f"{side}ApplicationSecurityGroups"] = [ref(g) for g in groups]
        else:
            out.update(_one_or_many(props, f"{side}AddressPrefix", f"{side}AddressPrefixes", path=path, default=None))
    for single, plural in (("sourcePortRange", "sourcePortRanges"), ("destinationPortRange", "destinationPortRanges")):
        ports = _one_or_many(props, single, plural, path=path, default=None)
        _check_ports([ports[single]] if ports[single] else ports[plural], path=f"{path}.{single}")
        out.update(ports)
    return {"id": f"{nsg_id}/securityRules/{name}", "name": name, "type": f"{NSG}/securityRules", "etag": etag,
            "properties": out}


def _default_rules(nsg_id: str, etag: str) -> list[dict[str, Any]]:
    return [{"id": f"{nsg_id}/defaultSecurityRules/{name}", "name": name, "type": f"{NSG}/defaultSecurityRules",
             "etag": etag, "properties": {
                 "provisioningState": "Succeeded", "description": description, "protocol": "*",
                 "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": source,
                 "sourceAddressPrefixes": [], "destinationAddressPrefix": destination, "destinationAddressPrefixes": [],
                 "sourcePortRanges": [], "destinationPortRanges": [], "access": access, "priority": priority,
                 "direction": direction}}
            for name, priority, direction, access, source, destination, description in DEFAULT_RULES]


def put_network_security_group(world: World, *, nsg_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a network security group (with its rules) from an ARM request body."""
    target = begin_put(world, nsg_id, body, NSG_SHAPE, kind="a network security group")
    existing, nsg_id = target.existing, target.id
    props = obj(body, "properties", path="")
    etag = new_etag()
    rules: list[dict[str, Any]] = []
    seen: dict[tuple[int, str], str] = {}
    for index, item in enumerate(items(props, "securityRules", path="properties")):
        where = f"properties.securityRules[{index}]"
        name = field(item, "name", str, path=where, required=True, missing_code=BAD)
        if any(r["name"].lower() == name.lower() for r in rules):
            raise ArmError(400, "DuplicateResourceName", f"Security rule '{name}' is listed twice.")
        rule = _rule(nsg_id, name, obj(item, "properties", path=where, required=True, missing_code=BAD),
                     path=f"{where}.properties", etag=etag)
        key = (rule["properties"]["priority"], rule["properties"]["direction"])
        if key in seen:
            raise ArmError(400, "SecurityRuleConflict",
                           f"Security rule {seen[key]} conflicts with rule {name}. Rules cannot have the same Priority "
                           "and Direction. To learn more, see aka.ms/nsgrules.")
        seen[key] = name
        rules.append(rule)
    nsg = {"id": nsg_id, "name": target.name, "type": NSG, "location": target.location, "tags": target.tags,
           "etag": etag, "properties": {
               "provisioningState": "Succeeded",
               "resourceGuid": existing["properties"]["resourceGuid"] if existing else str(uuid.uuid4()),
               "securityRules": rules, "defaultSecurityRules": _default_rules(nsg_id, etag)}}
    return world.put(nsg)


def add_network_security_group(world: World, *, subscription_id: str, resource_group: str, name: str, location: str,
                               rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Create a network security group under the same rules as a PUT; ``rules`` are ARM ``securityRules`` entries
    (``{"name": ..., "properties": {"priority": ..., ...}}``)."""
    body = {"location": location, "properties": {"securityRules": rules or []}}
    return put_network_security_group(world, nsg_id=resource_id(subscription_id, resource_group, NSG, name), body=body)


def require_nsg(world: World, container: dict[str, Any], key: str, *, path: str, location: str,
                referrer: str) -> str | None:
    """The canonical ID of the group ``container[key]`` references (None when it references none); the group
    must exist in ``location``."""
    target = reference(container, key, path=path, missing_code=BAD)
    if target is None:
        return None
    nsg = world.get(target)
    if nsg is None or nsg.get("type") != NSG or nsg["location"] != location:
        raise ArmError(400, "InvalidResourceReference",
                       f"Resource {target} referenced by resource {referrer} was not found. Please make sure that the "
                       "referenced resource exists, and that both resources are in the same region.")
    return str(nsg["id"])


def users_of(world: World, nsg_id: str) -> tuple[list[str], list[str]]:
    """(NIC IDs, subnet IDs) associated with the group: the back-references ARM derives on the group."""
    nics = [n["id"] for n in world.by_type(NIC)
            if same_id((n["properties"].get("networkSecurityGroup") or {}).get("id"), nsg_id)]
    subnets = [s["id"] for v in world.by_type(VNET) for s in v["properties"]["subnets"]
               if same_id((s["properties"].get("networkSecurityGroup") or {}).get("id"), nsg_id)]
    return nics, subnets


def render_nsg(world: World, nsg: dict[str, Any]) -> dict[str, Any]:
    """The group as ARM answers a GET: with the NICs and subnets associated with it."""
    out = copy.deepcopy(nsg)
    nics, subnets = users_of(world, nsg["id"])
    if nics:
        out["properties"]["networkInterfaces"] = [ref(n) for n in nics]
    if subnets:
        out["properties"]["subnets"] = [ref(s) for s in subnets]
    return out


def delete_network_security_group(world: World, nsg_id: str) -> dict[str, Any] | None:
    """Delete a group; refused while a NIC or subnet uses it. Returns the deleted group, or None."""
    nsg = world.get(nsg_id)
    if nsg is None:
        return None
    nics, subnets = users_of(world, nsg["id"])
    if nics or subnets:
        raise ArmError(400, "InUseNetworkSecurityGroupCannotBeDeleted",
                       f"Network security group {nsg['id']} cannot be deleted because it is in use by the following "
                       f"resources: {', '.join([*nics, *subnets])}. In order to delete the Network security group, "
                       "remove the association with the resource(s).")
    return world.delete(nsg_id)
