"""Which Azure RBAC actions an ARM request needs: the map behind ``infra/role-actions.json``'s tests.

A request is reduced to its method, its path with every name replaced (``{subscriptionId}``,
``{resourceGroupName}``, ``{name}``) and the linked-access actions its body implies; the action is then:

* ``GET``/``HEAD`` -> ``<provider>/<types>/read`` (a list and a single GET need the same action);
* ``PUT``/``PATCH`` -> ``/write``; ``DELETE`` -> ``/delete``;
* ``POST .../{name}/{verb}`` -> ``/<verb>/action`` (``runCommand``, ``remove``, ``unplannedFailover``, ...).

Long-running-operation polls are NOT exempt: ARM authorizes a status URL like any GET (its async-operations
article: tracking a status needs read permission at the resource group or subscription), so a poll maps to
the provider's status action: ``Microsoft.Network/locations/operations/read``,
``Microsoft.Compute/locations/operations/read``, ``Microsoft.RecoveryServices/vaults/replicationOperationStatus/read``.
A few poll URLs name no documented action of their own; ``POLL_ALIASES`` maps them to the documented one.

Linked access: ARM (and Site Recovery, on the caller's behalf) also checks the resources a write *refers to*.
``links_of`` derives those from the body: a subnet reference needs ``subnets/join/action``, a load-balancer
pool reference ``backendAddressPools/join/action``, and enabling A2A replication needs the permissions Site
Recovery validates for the recovery VM, network and cache account (``ASR_ENABLE_LINKS``; for a reprotect too,
which enables replication the other way).

Pure: no I/O except ``load_role_actions`` / ``load_notes``; used by the role test, the session hook in
``tests/conftest.py`` and their unit tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INFRA = Path(__file__).resolve().parents[1] / "infra"
ROLE_ACTIONS_FILE = INFRA / "role-actions.json"
NOTES_FILE = INFRA / "role-actions.notes.json"
APP_USER_AGENT = "asr-s2d/"  # shared.azure.clients.USER_AGENT: the app's client factory, and nothing else

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Poll URLs that name no documented action: the documented action that authorizes them.
POLL_ALIASES = {
    # Compute's status URL is locations/{location}/operations/{id} (its Location header too, with monitor=true);
    # the emulator's Location header uses operationResults, which Compute documents no action for.
    "microsoft.compute/locations/operationresults/read": "Microsoft.Compute/locations/operations/read",
    # The emulator's Site Recovery ``Location`` header; Site Recovery's own status URL is replicationOperationStatus.
    "microsoft.recoveryservices/vaults/replicationoperationresults/read":
        "Microsoft.RecoveryServices/vaults/replicationOperationStatus/read",
}

# What Site Recovery checks, with the caller's identity, before it enables A2A replication of a VM ("Manage
# Site Recovery access with Azure RBAC": permission to create the recovery VM in the recovery resource group
# and network, and to write to the cache storage account). Keyed by the field of the enable request's
# ``providerSpecificDetails`` that names the resource.
ASR_ENABLE_LINKS: dict[str, tuple[str, ...]] = {
    "fabricObjectId": ("Microsoft.Compute/availabilitySets/read", "Microsoft.Compute/virtualMachines/read",
                       "Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/delete"),
    "recoveryAzureNetworkId": ("Microsoft.Network/networkInterfaces/read", "Microsoft.Network/networkInterfaces/write",
                               "Microsoft.Network/networkInterfaces/delete",
                               "Microsoft.Network/networkInterfaces/join/action",
                               "Microsoft.Network/virtualNetworks/read", "Microsoft.Network/virtualNetworks/subnets/read",
                               "Microsoft.Network/virtualNetworks/subnets/join/action"),
    "primaryStagingAzureStorageAccountId": ("Microsoft.Storage/storageAccounts/read",
                                            "Microsoft.Storage/storageAccounts/listkeys/action"),
    "recoveryResourceGroupId": ("Microsoft.Resources/deployments/*",
                                "Microsoft.Resources/subscriptions/resourceGroups/read"),
}

# A reference (``{"id": ...}``) in a write's body to a resource of this type (the ID's type chain, lower case,
# after the provider) -> the linked-access action ARM checks on it.
JOIN_ACTIONS = {
    "microsoft.network/virtualnetworks/subnets": "Microsoft.Network/virtualNetworks/subnets/join/action",
    "microsoft.network/loadbalancers/backendaddresspools": "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
    "microsoft.network/loadbalancers/inboundnatrules": "Microsoft.Network/loadBalancers/inboundNatRules/join/action",
    "microsoft.network/loadbalancers/frontendipconfigurations":
        "Microsoft.Network/loadBalancers/frontendIPConfigurations/join/action",
    "microsoft.network/networksecuritygroups": "Microsoft.Network/networkSecurityGroups/join/action",
    "microsoft.network/publicipaddresses": "Microsoft.Network/publicIPAddresses/join/action",
    "microsoft.network/applicationsecuritygroups": "Microsoft.Network/applicationSecurityGroups/joinIpConfiguration/action",
    "microsoft.network/networkinterfaces": "Microsoft.Network/networkInterfaces/join/action",
}
# Site Recovery's names for load-balancer pools a failed-over NIC joins (ReplicationProtectedItems_Update).
_ASR_POOL_FIELDS = ("recoveryLBBackendAddressPoolIds", "tfoLBBackendAddressPoolIds")


class UnmappedRequest(ValueError):
    """A request this map cannot name an action for (a new kind of call: extend the map)."""


@dataclass(frozen=True, order=True)
class Request:
    """One ARM request as the role needs it: method, templated path and the linked actions of its body."""

    method: str
    template: str
    links: tuple[str, ...] = ()

    def actions(self) -> tuple[str, ...]:
        return (action_of(self.method, self.template), *self.links)

    def to_json(self) -> list[Any]:
        return [self.method, self.template, list(self.links)]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Request:
        return cls(str(raw[0]), str(raw[1]), tuple(str(x) for x in raw[2]))


def _segments(path: str) -> list[str]:
    return [s for s in path.split("?")[0].split("/") if s]


def template_path(path: str) -> str:
    """``/subscriptions/6f1d.../resourceGroups/rg-x/providers/Microsoft.Compute/virtualMachines/n1/runCommand``
    -> ``/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/
    virtualMachines/{name}/runCommand``: names go, types and verbs stay."""
    seg = _segments(path)
    out: list[str] = []
    i = 0
    while i < len(seg):
        low = seg[i].lower()
        if low == "subscriptions" and i + 1 < len(seg):
            out += [seg[i], "{subscriptionId}"]
            i += 2
        elif low == "resourcegroups" and i + 1 < len(seg):
            out += [seg[i], "{resourceGroupName}"]
            i += 2
        elif low == "providers" and i + 1 < len(seg):
            out += [seg[i], seg[i + 1]]
            rest = seg[i + 2:]
            end = next((k for k, s in enumerate(rest) if s.lower() == "providers" and k % 2 == 0), len(rest))
            for k, part in enumerate(rest[:end]):
                out.append(part if k % 2 == 0 else "{name}")
            i += 2 + end
        else:
            out.append(seg[i])
            i += 1
    return "/" + "/".join(out)


def _type_chain(path: str) -> tuple[str, list[str]]:
    """(provider namespace, segments after it) of the innermost provider in the path; ARM resource groups
    and subscriptions themselves belong to Microsoft.Resources."""
    seg = _segments(path)
    low = [s.lower() for s in seg]
    if "providers" in low:
        at = len(low) - 1 - low[::-1].index("providers")
        if at + 1 >= len(seg):
            raise UnmappedRequest(f"no provider namespace in {path}")
        return seg[at + 1], seg[at + 2:]
    if low[:1] != ["subscriptions"]:
        raise UnmappedRequest(f"not an ARM resource path: {path}")
    # /subscriptions/{id}[/resourcegroups[/{rg}]]: Microsoft.Resources/subscriptions[/resourceGroups]
    chain = ["subscriptions", seg[1] if len(seg) > 1 else "{subscriptionId}"]
    if len(seg) > 2:
        chain += ["resourceGroups", *seg[3:4]]
        chain += seg[4:]
    return "Microsoft.Resources", chain


def action_of(method: str, path: str) -> str:
    """The RBAC action an ARM request needs (see the module docstring for the rules)."""
    method = method.upper()
    namespace, rest = _type_chain(path)
    if method == "POST":
        if len(rest) % 2 == 0:
            raise UnmappedRequest(f"POST {path} names no action verb")
        action = f"{namespace}/{'/'.join(rest[0:-1:2])}/{rest[-1]}/action".replace("//", "/")
        return action
    verb = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(method)
    if verb is None:
        raise UnmappedRequest(f"{method} {path}: no RBAC verb for this method")
    types = rest[0::2]
    if not types:
        raise UnmappedRequest(f"{method} {path} names no resource type")
    action = f"{namespace}/{'/'.join(types)}/{verb}"
    return POLL_ALIASES.get(action.lower(), action)


def _references(body: Any) -> Iterator[str]:
    """Every ``{"id": "/subscriptions/..."}`` reference in a JSON body, and ID lists of Site Recovery's pool fields."""
    if isinstance(body, Mapping):
        ref = body.get("id")
        if isinstance(ref, str) and ref.lower().startswith("/subscriptions/"):
            yield ref
        for key, value in body.items():
            if key in _ASR_POOL_FIELDS and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
            elif key != "id":
                yield from _references(value)
    elif isinstance(body, list):
        for value in body:
            yield from _references(value)


def _resource_type(resource_id: str) -> str:
    namespace, rest = _type_chain(resource_id)
    return f"{namespace}/{'/'.join(rest[0::2])}".lower()


def _within(ref: str, resource: str) -> bool:
    ref, resource = ref.lower().rstrip("/"), resource.lower().rstrip("/")
    return ref == resource or ref.startswith(resource + "/")


def links_of(method: str, path: str, body: Any) -> tuple[str, ...]:
    """The linked-access actions a write's body implies (sorted, unique); none for reads and deletes."""
    if method.upper() not in ("PUT", "PATCH", "POST") or not body:
        return ()
    found: set[str] = set()
    resource = path.split("?")[0]
    for ref in _references(body):
        if _within(ref, resource):
            continue  # the resource's own children (a load balancer's rule naming its own pool)
        try:
            join = JOIN_ACTIONS.get(_resource_type(ref))
        except UnmappedRequest:
            continue
        if join:
            found.add(join)
    details = (body.get("properties") or {}).get("providerSpecificDetails") if isinstance(body, Mapping) else None
    if isinstance(details, Mapping) and details.get("instanceType") == "A2A" and _enables_replication(method, resource):
        disks = [d for d in (*(details.get("vmManagedDisks") or []), *(details.get("vmDisks") or []))
                 if isinstance(d, Mapping)]
        for field, actions in ASR_ENABLE_LINKS.items():
            if details.get(field) or any(d.get(field) for d in disks):
                found.update(actions)
    return tuple(sorted(found))


def _enables_replication(method: str, path: str) -> bool:
    """Enable replication (PUT of a protected item) or reprotect (POST .../reProtect: replication enabled the
    other way): the two requests Site Recovery validates the caller's access to the recovery resources for."""
    low = path.lower().rstrip("/")
    if method.upper() == "PUT":
        return _resource_type(path).endswith("/replicationprotecteditems") and not low.endswith("/replicationprotecteditems")
    return method.upper() == "POST" and low.endswith("/reprotect") and "/replicationprotecteditems/" in low


def request_of(method: str, path: str, body: Any = None) -> Request:
    return Request(method.upper(), template_path(path), links_of(method, path, body))


def actions_of(requests: Iterable[Request]) -> dict[str, str]:
    """Lower-cased action -> its spelling, over every request (RBAC compares actions case-insensitively)."""
    out: dict[str, str] = {}
    for request in requests:
        for action in request.actions():
            out.setdefault(action.lower(), action)
    return out


def is_app_request(entry: Any, app_principal_id: str) -> bool:
    """A journal entry the app's own code sent: its identity, through its client factory (the ``sdk`` test
    fixture also holds the app's identity, but it is the test harness, not the app)."""
    return entry.principal == app_principal_id and str(getattr(entry, "user_agent", "")).startswith(APP_USER_AGENT)


def load_role_actions() -> list[str]:
    return [str(a) for a in json.loads(ROLE_ACTIONS_FILE.read_text())]


def load_notes() -> dict[str, str]:
    """``infra/role-actions.notes.json``: action -> the code path that needs it (for actions a single journey
    does not reach)."""
    return {str(k): str(v) for k, v in json.loads(NOTES_FILE.read_text()).get("actions", {}).items()}


def compare(used: Mapping[str, str], granted: Iterable[str]) -> tuple[list[str], list[str]]:
    """(used but not granted, granted but never used), each sorted."""
    grant = {g.lower(): g for g in granted}
    missing = sorted(spelled for low, spelled in used.items() if low not in grant)
    unused = sorted(spelled for low, spelled in grant.items() if low not in used)
    return missing, unused


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))
