"""Who may do what where: the role assignments of the emulated tenant, and the permissions a caller has at a scope.

The emulator does not refuse requests by role (the test suite's role check does that, from the journal); it
keeps the assignments so that ``Microsoft.Authorization/permissions`` can answer what Azure answers: "Gets all
permissions the caller has for a resource group" / "for a resource" (REST reference, Authorization
``Permissions - List For Resource Group`` / ``List For Resource``, api-version 2022-04-01): one ``Permission``
(``actions``, ``notActions``, ``dataActions``, ``notDataActions``) per role assignment of the caller at the scope
or above it, since an assignment is inherited by every scope below it ("Understand scope for Azure RBAC",
learn.microsoft.com/azure/role-based-access-control/scope-overview).

An assignment is ``{"principalId", "scope", "role", "actions", "notActions"}``; a seed or the control API sets
them (``deployment.grant_deployment`` assigns what ``infra/main.bicep`` assigns for a seeded world).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.core.world import World

ASSIGNMENTS = "authorization.assignments"  # world.extras key: a list of assignments


def _normal(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("an assignment is a JSON object")
    principal, scope = raw.get("principalId"), raw.get("scope")
    if not isinstance(principal, str) or not principal or not isinstance(scope, str) or not scope.startswith("/"):
        raise ValueError("an assignment needs principalId and scope (a resource ID, a resource group or a subscription)")
    actions, not_actions = raw.get("actions", []), raw.get("notActions", [])
    if not all(isinstance(a, str) for a in [*actions, *not_actions]):
        raise ValueError("actions and notActions are lists of strings")
    return {"principalId": principal.lower(), "scope": scope.rstrip("/"), "role": str(raw.get("role", "")),
            "actions": list(actions), "notActions": list(not_actions)}


def assignments(world: World, principal_id: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = world.extras.get(ASSIGNMENTS, [])
    return [dict(a) for a in found if principal_id is None or a["principalId"] == principal_id.lower()]


def assign(world: World, raw: dict[str, Any]) -> dict[str, Any]:
    """Add one role assignment (``principalId``, ``scope``, ``role``, ``actions``, ``notActions``)."""
    entry = _normal(raw)
    world.extras.setdefault(ASSIGNMENTS, []).append(entry)
    return dict(entry)


def replace_all(world: World, raws: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = [_normal(r) for r in raws]
    world.extras[ASSIGNMENTS] = entries
    return [dict(e) for e in entries]


def remove(world: World, *, principal_id: str | None = None, scope: str | None = None, role: str | None = None) -> int:
    """Remove the assignments that match every given filter; how many went."""
    def matches(a: dict[str, Any]) -> bool:
        return ((principal_id is None or a["principalId"] == principal_id.lower())
                and (scope is None or a["scope"].lower() == scope.rstrip("/").lower())
                and (role is None or a["role"].lower() == role.lower()))

    kept = [a for a in world.extras.get(ASSIGNMENTS, []) if not matches(a)]
    gone = len(world.extras.get(ASSIGNMENTS, [])) - len(kept)
    world.extras[ASSIGNMENTS] = kept
    return gone


def holds(scope: str, target: str) -> bool:
    """An assignment at ``scope`` applies at ``target`` (the same scope or one below it)."""
    scope, target = scope.lower().rstrip("/"), target.lower().rstrip("/")
    return target == scope or target.startswith(scope + "/")


def permissions_at(world: World, principal_id: str, target: str) -> list[dict[str, Any]]:
    """What ``Microsoft.Authorization/permissions`` answers the caller for ``target``: one Permission per assignment
    of the caller that applies there."""
    return [{"actions": list(a["actions"]), "notActions": list(a["notActions"]), "dataActions": [],
             "notDataActions": []}
            for a in assignments(world, principal_id) if holds(a["scope"], target)]
