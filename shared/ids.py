"""Azure resource IDs: parsing through ``azure.mgmt.core.tools``, compared case-insensitively.

ARM treats IDs case-insensitively and real events mix ``resourcegroups`` and ``resourceGroups``;
everything here normalises so that comparisons never depend on case.
"""

from __future__ import annotations

from dataclasses import dataclass

from azure.mgmt.core.tools import is_valid_resource_id, parse_resource_id

from shared.errors import RejectedInput


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    namespace: str
    type: str
    name: str
    raw: str

    @property
    def key(self) -> str:
        return key(self.raw)

    @property
    def resource_type(self) -> str:
        """``Microsoft.Compute/virtualMachines`` (lower-cased)."""
        return f"{self.namespace}/{self.type}".lower()


def key(resource_id: str) -> str:
    """The comparison key of an ID: lower-cased, no trailing slash."""
    return resource_id.rstrip("/").lower()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and key(a) == key(b)


def odd_segment(resource_id: str) -> str | None:
    """Why an ID's path cannot be taken at its word: an empty segment (a doubled or trailing slash) or a ``.`` or
    ``..`` segment (a walk to another resource, once something normalises the path); None when every segment after
    the leading slash is a name. No ARM resource ID has one."""
    for segment in resource_id.split("/")[1:]:
        if segment in ("", ".", ".."):
            return f"a {segment!r} segment" if segment else "an empty segment"
    return None


def parse(resource_id: str) -> ResourceId:
    """A top-level resource (or resource group) ID; anything else raises ``RejectedInput``."""
    if not is_valid_resource_id(resource_id):
        raise RejectedInput(f"not a resource ID: {resource_id[:200]!r}")
    odd = odd_segment(resource_id)
    if odd is not None:
        raise RejectedInput(f"not a resource ID ({odd}): {resource_id[:200]!r}")
    parts = parse_resource_id(resource_id)
    if parts.get("children"):
        raise RejectedInput(f"not a top-level resource ID: {resource_id[:200]!r}")
    return ResourceId(subscription=str(parts["subscription"]), resource_group=str(parts.get("resource_group", "")),
                      namespace=str(parts.get("namespace", "")), type=str(parts.get("type", "")),
                      name=str(parts.get("name", "")), raw=resource_id)


def scope_kind(resource_id: str) -> str:
    """``vm``, ``availability_set``, ``resource_group`` or ``other`` for an event's target."""
    parts = [p for p in resource_id.split("/") if p]
    low = [p.lower() for p in parts]
    if len(parts) == 4 and low[0] == "subscriptions" and low[2] == "resourcegroups":
        return "resource_group"
    if len(parts) == 8 and low[0] == "subscriptions" and low[2] == "resourcegroups" and low[4] == "providers":
        kind = f"{low[5]}/{low[6]}"
        if kind == "microsoft.compute/virtualmachines":
            return "vm"
        if kind == "microsoft.compute/availabilitysets":
            return "availability_set"
    return "other"


def name_of(resource_id: str) -> str:
    return resource_id.rstrip("/").split("/")[-1]


def resource_group_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    return parts[4] if len(parts) > 4 else ""


def subscription_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    return parts[2] if len(parts) > 2 else ""


def group_id(resource_id: str) -> str:
    """The resource group ID that holds a resource."""
    return "/".join(resource_id.split("/")[:5])


def _parent(resource_id: str, child: str) -> str:
    """The ID before ``/<child>/`` (case-insensitive, as ARM compares), or the ID itself when it has no such child."""
    at = resource_id.lower().find(f"/{child.lower()}/")
    return resource_id if at < 0 else resource_id[:at]


def vnet_of(subnet_id: str) -> str:
    """The VNet of a subnet ID."""
    return _parent(subnet_id, "subnets")


def load_balancer_of(pool_id: str) -> str:
    """The load balancer of a backend pool ID."""
    return _parent(pool_id, "backendAddressPools")


def container_of(item_id: str) -> str:
    """The protection container of a protected item ID."""
    return _parent(item_id, "replicationProtectedItems")


def fabric_of(container_id: str) -> str:
    """The replication fabric of a protection container ID."""
    return _parent(container_id, "replicationProtectionContainers")
