"""Which Azure RBAC actions an ARM request needs, on which resource, and which of asr-s2d's roles grants them there:
the model behind ``infra/role-actions.json``'s tests.

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
A2A's switch protection, which enables replication the other way).

Scope: every check is made on a resource (``Need``): the request's own resource, or for a linked action the
resource the body names. ``Deployment`` mirrors ``infra/main.bicep``'s roles and the scopes it assigns each one
at; ``check`` says which needs no role grants at a scope holding their resource, and which role each granted
action was needed in (the narrowest assignment holding the resource gets the credit, so an action added to a
wider role than the one already covering it shows up as never needed there).

Pure: no I/O except ``load_roles`` / ``load_role_actions`` / ``load_notes`` / ``load_role_notes``; used by the
role test, the session hook in ``tests/conftest.py``, ``tests/unit/test_infra.py`` and the unit tests.
"""

from __future__ import annotations

import fnmatch
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

# What Site Recovery checks, with the caller's identity, before it enables A2A replication of a VM. Microsoft's
# "Manage Site Recovery access with Azure RBAC" (learn.microsoft.com/azure/site-recovery/
# site-recovery-role-based-linked-access-control; MicrosoftDocs/azure-docs
# articles/site-recovery/site-recovery-role-based-linked-access-control.md): "To enable replication for a new
# virtual machine, a user must have: permission to create a virtual machine in the selected resource group,
# permission to create a virtual machine in the selected virtual network, permission to write to the selected
# Storage account", then one flat list of Compute, Network, Storage and Resource Group actions. Each action of that
# list is checked here on the resource of the sentence it belongs to, named by a field of the request's
# ``providerSpecificDetails`` (or of one of its disks): the VM and its NICs are created in the recovery resource
# group (after a reprotect, the original nodes' group: A2A reprotect deletes the original VMs and NICs and
# fails back by creating them again, azure-to-azure-how-to-reprotect.md), the NICs join the recovery network, the
# cache account is written to with its keys; the protected VM itself is only read.
ASR_ENABLE_LINKS: dict[str, tuple[str, ...]] = {
    "fabricObjectId": ("Microsoft.Compute/virtualMachines/read",),
    "recoveryResourceGroupId": ("Microsoft.Compute/availabilitySets/read", "Microsoft.Compute/virtualMachines/read",
                                "Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/delete",
                                "Microsoft.Network/networkInterfaces/read", "Microsoft.Network/networkInterfaces/write",
                                "Microsoft.Network/networkInterfaces/delete",
                                "Microsoft.Network/networkInterfaces/join/action",
                                "Microsoft.Resources/deployments/*",
                                "Microsoft.Resources/subscriptions/resourceGroups/read"),
    "recoveryAzureNetworkId": ("Microsoft.Network/virtualNetworks/read", "Microsoft.Network/virtualNetworks/subnets/read",
                               "Microsoft.Network/virtualNetworks/subnets/join/action"),
    "primaryStagingAzureStorageAccountId": ("Microsoft.Storage/storageAccounts/read",
                                            "Microsoft.Storage/storageAccounts/listkeys/action"),
    # The recovered VM is created in the recovery availability set an enable names (the article's list holds
    # availabilitySets/read): checked on that set.
    "recoveryAvailabilitySetId": ("Microsoft.Compute/availabilitySets/read",),
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


def linked_access(method: str, path: str, body: Any) -> tuple[tuple[str, str], ...]:
    """(action, resource ID it is checked on) for every linked access a write's body implies, sorted and unique;
    none for reads and deletes."""
    if method.upper() not in ("PUT", "PATCH", "POST") or not body:
        return ()
    found: set[tuple[str, str]] = set()
    resource = path.split("?")[0]
    for ref in _references(body):
        if _within(ref, resource):
            continue  # the resource's own children (a load balancer's rule naming its own pool)
        try:
            join = JOIN_ACTIONS.get(_resource_type(ref))
        except UnmappedRequest:
            continue
        if join:
            found.add((join, ref))
    details = (body.get("properties") or {}).get("providerSpecificDetails") if isinstance(body, Mapping) else None
    if isinstance(details, Mapping) and details.get("instanceType") == "A2A" and _enables_replication(method, resource):
        disks = [d for d in (*(details.get("vmManagedDisks") or []), *(details.get("vmDisks") or []))
                 if isinstance(d, Mapping)]
        for field, actions in ASR_ENABLE_LINKS.items():
            named = {v for v in (details.get(field), *(d.get(field) for d in disks)) if isinstance(v, str) and v}
            found.update((action, ref) for action in actions for ref in named)
    return tuple(sorted(found))


def links_of(method: str, path: str, body: Any) -> tuple[str, ...]:
    """The linked-access actions a write's body implies (sorted, unique); none for reads and deletes."""
    return tuple(sorted({action for action, _ref in linked_access(method, path, body)}))


def _enables_replication(method: str, path: str) -> bool:
    """Enable replication (PUT of a protected item) or reprotect (replication enabled the other way: A2A's switch
    protection, POST .../replicationProtectionContainers/{c}/switchprotection, or an item's POST .../reProtect): the
    requests Site Recovery validates the caller's access to the recovery resources for."""
    low = path.lower().rstrip("/")
    if method.upper() == "PUT":
        return _resource_type(path).endswith("/replicationprotecteditems") and not low.endswith("/replicationprotecteditems")
    if method.upper() != "POST":
        return False
    return (low.endswith("/reprotect") and "/replicationprotecteditems/" in low) or (
        low.endswith("/switchprotection") and "/replicationprotectioncontainers/" in low)


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


# -- where: the resource each check is made on ----------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Need:
    """One check ARM makes for a request: ``action`` on ``resource`` (the request's own resource or, for linked
    access, the one its body names), cut to its top-level resource: no role is assigned deeper than that."""

    action: str
    resource: str
    via: str  # the request that needs it, templated: "POST /subscriptions/{subscriptionId}/..."

    def line(self) -> str:
        return f"{self.action} on {self.resource}    <- {self.via}"


def _top_level(resource_id: str) -> str:
    seg = _segments(resource_id)
    low = [s.lower() for s in seg]
    if "providers" in low:
        at = low.index("providers")
        seg = seg[:at + 4]  # providers/<namespace>/<type>/<name>
    return "/" + "/".join(seg)


def needs_of(method: str, path: str, body: Any = None) -> tuple[Need, ...]:
    """Every check of one request: its own action on its resource (a POST's verb is not part of the resource),
    then each linked action on the resource the body names."""
    via = f"{method.upper()} {template_path(path)}"
    own = "/".join(path.split("?")[0].rstrip("/").split("/")[:-1]) if method.upper() == "POST" else path.split("?")[0]
    needs = {Need(action_of(method, path), _top_level(own), via)}
    needs.update(Need(action, _top_level(ref), via) for action, ref in linked_access(method, path, body))
    return tuple(sorted(needs))


def within(resource: str, scope: str) -> bool:
    """A role assigned at ``scope`` covers ``resource`` (IDs compare case-insensitively)."""
    resource, scope = resource.lower().rstrip("/"), scope.lower().rstrip("/")
    return resource == scope or resource.startswith(scope + "/")


def group_of(resource_id: str) -> str:
    """``/subscriptions/<id>/resourceGroups/<name>`` of a resource ID (main.bicep: ``join(take(split(id, '/'), 5), '/')``)."""
    return "/".join(resource_id.split("/")[:5])


# -- who: the roles and where main.bicep assigns them ----------------------------------------------------------

SWITCHES = ("allowDisableReplication", "allowReprotect")  # main.bicep's bool parameters that add actions to a role


@dataclass(frozen=True)
class RoleSpec:
    """One role of ``infra/role-actions.json``: its actions, and the ones each switch parameter adds."""

    key: str
    name: str
    actions: tuple[str, ...]
    switched: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def granted(self, switches: Mapping[str, bool]) -> tuple[str, ...]:
        return (*self.actions, *(a for switch, actions in self.switched if switches.get(switch) for a in actions))

    def every_action(self) -> tuple[str, ...]:
        return self.granted(dict.fromkeys(SWITCHES, True))


def load_roles() -> dict[str, RoleSpec]:
    """``infra/role-actions.json``: role key -> its spec (``reader``, ``recovery``, ``source``)."""
    raw = json.loads(ROLE_ACTIONS_FILE.read_text())
    return {key: RoleSpec(key, str(spec["name"]), tuple(str(a) for a in spec["actions"]),
                          tuple((s, tuple(str(a) for a in spec[s])) for s in SWITCHES if s in spec))
            for key, spec in raw.items()}


def load_role_actions() -> list[str]:
    """Every action any role may hold (switches on), once each, in file order."""
    out: dict[str, str] = {}
    for role in load_roles().values():
        for action in role.every_action():
            out.setdefault(action.lower(), action)
    return list(out.values())


def load_role_notes() -> dict[str, dict[str, str]]:
    """``infra/role-actions.notes.json``: role key -> action -> the code path that needs it (for actions the
    journey of ``tests/functions/test_role_actions.py`` does not reach)."""
    roles = json.loads(NOTES_FILE.read_text()).get("roles", {})
    return {str(role): {str(k): str(v) for k, v in notes.items()} for role, notes in roles.items()}


def load_notes() -> dict[str, str]:
    """The notes of every role in one map: action -> the code path that needs it."""
    return {action: note for notes in load_role_notes().values() for action, note in notes.items()}


@dataclass(frozen=True)
class Grant:
    """A role as deployed: the actions it holds and every scope it is assigned at."""

    role: str
    name: str
    actions: tuple[str, ...]
    scopes: tuple[str, ...]

    def matching(self, action: str) -> str | None:
        """The granted entry that allows ``action`` (RBAC: case-insensitive, ``*`` matches anything)."""
        return next((g for g in self.actions if fnmatch.fnmatchcase(action.lower(), g.lower())), None)

    def scope_holding(self, resource: str) -> str | None:
        """The narrowest of this role's scopes that covers ``resource``."""
        holding = [s for s in self.scopes if within(resource, s)]
        return max(holding, key=lambda s: len(_segments(s)), default=None)


@dataclass(frozen=True)
class Deployment:
    """The parameters of ``infra/main.bicep`` that decide each role's actions and scopes. ``grants`` is main.bicep
    step 3 in Python; ``tests/unit/test_infra.py`` checks that the template says the same."""

    allowed_subscription_ids: tuple[str, ...]
    vault_id: str
    recovery_resource_group_id: str
    recovery_vnet_id: str
    cache_storage_account_id: str
    test_failover_vnet_id: str = ""
    failback_test_vnet_id: str = ""
    dr_cache_storage_account_id: str = ""
    source_resource_group_ids: tuple[str, ...] = ()
    additional_role_scopes: tuple[str, ...] = ()
    allow_disable_replication: bool = False
    allow_reprotect: bool = False

    @classmethod
    def of_world(cls, world: Mapping[str, Any], *, allow_disable_replication: bool = False,
                 allow_reprotect: bool = False) -> Deployment | None:
        """What an operator deploys for an emulated world (``emulator/seed.py``'s IDs): its IDs as the parameters and
        the nodes' resource group as the one source group; None for a world without a vault (nothing to deploy)."""
        if not world.get("vault_id"):
            return None
        sub = str(world["subscription_id"])
        source = world.get("source_resource_group")
        return cls(allowed_subscription_ids=(sub,), vault_id=world["vault_id"],
                   recovery_resource_group_id=world["recovery_resource_group_id"],
                   recovery_vnet_id=world["recovery_vnet_id"], cache_storage_account_id=world["cache_storage_account_id"],
                   test_failover_vnet_id=world.get("test_vnet_id") or "",
                   failback_test_vnet_id=world.get("failback_test_vnet_id") or "",
                   dr_cache_storage_account_id=world.get("dr_cache_storage_account_id") or "",
                   source_resource_group_ids=(f"/subscriptions/{sub}/resourceGroups/{source}",) if source else (),
                   allow_disable_replication=allow_disable_replication, allow_reprotect=allow_reprotect)

    def scopes(self) -> dict[str, tuple[str, ...]]:
        """Role key -> where main.bicep assigns it (its ``subscriptionScopes``, ``recoveryGroupScopes`` +
        ``recoveryVnetScopes`` + ``recoveryAccountScopes``, ``sourceResourceGroupIds``)."""
        recovery = [group_of(self.vault_id), self.recovery_resource_group_id, *self.additional_role_scopes,
                    self.recovery_vnet_id, self.test_failover_vnet_id, self.failback_test_vnet_id,
                    self.cache_storage_account_id, self.dr_cache_storage_account_id]
        return {"reader": tuple(f"/subscriptions/{s}" for s in self.allowed_subscription_ids),
                "recovery": tuple(dict.fromkeys(s for s in recovery if s)),
                "source": tuple(dict.fromkeys(self.source_resource_group_ids))}

    def grants(self, roles: Mapping[str, RoleSpec] | None = None) -> tuple[Grant, ...]:
        switches = {"allowDisableReplication": self.allow_disable_replication, "allowReprotect": self.allow_reprotect}
        specs = roles if roles is not None else load_roles()
        scopes = self.scopes()
        return tuple(Grant(key, spec.name, spec.granted(switches), scopes.get(key, ())) for key, spec in specs.items()
                     if scopes.get(key))


# -- the check ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    refused: tuple[Need, ...]  # no role grants the action at a scope that holds the resource
    credit: frozenset[tuple[str, str]]  # (role key, lower-cased granted action) some need was granted by


def check(needs: Iterable[Need], grants: Iterable[Grant]) -> Verdict:
    """Each need against the roles that grant its action at a scope holding its resource. The credit goes to the
    role(s) whose holding scope is the narrowest: an action that a wider role also holds is needed only where the
    narrower role is assigned, so the wider role's copy is reported as never needed."""
    grants = tuple(grants)
    refused: list[Need] = []
    credit: set[tuple[str, str]] = set()
    for need in needs:
        holding = []
        for grant in grants:
            entry = grant.matching(need.action)
            scope = grant.scope_holding(need.resource) if entry else None
            if entry and scope:
                holding.append((len(_segments(scope)), grant.role, entry.lower()))
        if not holding:
            refused.append(need)
            continue
        deepest = max(depth for depth, _role, _entry in holding)
        credit.update((role, entry) for depth, role, entry in holding if depth == deepest)
    return Verdict(tuple(sorted(set(refused))), frozenset(credit))


def explain(need: Need, grants: Iterable[Grant]) -> list[str]:
    """Why ``need`` is refused, for the report: which roles hold the action (``where`` says where they are)."""
    holders = [g.name for g in grants if g.matching(need.action)]
    if not holders:
        return [need.line(), "    no role holds this action"]
    return [need.line(), f"    held by {', '.join(holders)}: none is assigned at a scope holding the resource"]


def where(grants: Iterable[Grant]) -> list[str]:
    """Where each role is assigned, one scope a line, for the report."""
    return [line for g in grants for line in (f"{g.name}:", *(f"    {scope}" for scope in g.scopes))]


def unneeded(credit: Iterable[tuple[str, str]], roles: Mapping[str, RoleSpec] | None = None) -> dict[str, list[str]]:
    """Role key -> the actions it may hold (every switch on) that no need was credited to it for (sorted)."""
    got = set(credit)
    specs = roles if roles is not None else load_roles()
    out = {key: sorted(a for a in spec.every_action() if (key, a.lower()) not in got) for key, spec in specs.items()}
    return {key: actions for key, actions in out.items() if actions}


def compare(used: Mapping[str, str], granted: Iterable[str]) -> tuple[list[str], list[str]]:
    """(used but not granted, granted but never used), each sorted."""
    grant = {g.lower(): g for g in granted}
    missing = sorted(spelled for low, spelled in used.items() if low not in grant)
    unused = sorted(spelled for low, spelled in grant.items() if low not in used)
    return missing, unused


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))
