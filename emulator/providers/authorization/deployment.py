"""What ``infra/main.bicep`` grants the app's identity for a seeded world, as role assignments of the emulated tenant:
the default the permissions endpoint answers from (the control API replaces it).

The roles are ``infra/role-actions.json`` (the template loads that file as it is: ``loadJsonContent``), assigned
where the template assigns them (its ``subscriptionScopes``, ``recoveryGroupScopes``, ``recoveryVnetScopes``,
``recoveryAccountScopes`` and ``sourceGroupScopes``): the reader at each allowed subscription; the recovery role at
the vault's resource group, the recovery resource group, the recovery, test and failback-test VNets and the cache
accounts; the source role at the nodes' resource group. The switch parameters (``allowDisableReplication``,
``allowReprotect``) are off, as the template's defaults are. ``tests/emulator/test_authorization.py`` holds this
to the role check's model of the same template (``tests/arm_actions.py`` ``Deployment``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emulator.core.identity import APP_PRINCIPAL_ID
from emulator.core.world import World
from emulator.providers.authorization.state import assign

ROLE_ACTIONS = Path(__file__).resolve().parents[3] / "infra" / "role-actions.json"


def role_actions() -> dict[str, list[str]]:
    """Role key -> the actions it holds with every switch off; empty when the file is not beside the emulator."""
    if not ROLE_ACTIONS.is_file():
        return {}
    raw = json.loads(ROLE_ACTIONS.read_text())
    return {str(key): [str(a) for a in spec["actions"]] for key, spec in raw.items()}


def scopes_of(ids: dict[str, Any]) -> dict[str, list[str]]:
    """Role key -> where main.bicep assigns it, for a seed's IDs."""
    sub = ids["subscription_id"]
    vault_group = "/".join(str(ids["vault_id"]).split("/")[:5])
    recovery = [vault_group, ids["recovery_resource_group_id"], ids["recovery_vnet_id"], ids.get("test_vnet_id"),
                ids.get("failback_test_vnet_id"), ids["cache_storage_account_id"], ids.get("dr_cache_storage_account_id")]
    source = ids.get("source_resource_group")
    return {"reader": [f"/subscriptions/{sub}"],
            "recovery": list(dict.fromkeys(s for s in recovery if s)),
            "source": [f"/subscriptions/{sub}/resourceGroups/{source}"] if source else []}


def grant_deployment(world: World, ids: dict[str, Any], *, principal_id: str = APP_PRINCIPAL_ID) -> None:
    """Assign the app's identity its three roles where the template would, for a world with a vault."""
    actions = role_actions()
    for role, scopes in scopes_of(ids).items():
        for scope in scopes:
            if role in actions:
                assign(world, {"principalId": principal_id, "scope": scope, "role": f"asr-s2d {role}",
                               "actions": actions[role], "notActions": []})
