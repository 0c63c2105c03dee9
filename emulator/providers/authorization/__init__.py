"""Microsoft.Authorization: the permissions a caller has at a resource group or a resource, from the role
assignments the emulated tenant holds (``state``; ``deployment`` assigns what ``infra/main.bicep`` would).

Control API: ``GET /_emulator/authorization/assignments[?principal=<object id>|app]`` lists them,
``PUT`` replaces them all (``{"assignments": [...]}``), ``POST`` adds one, ``DELETE [?principal=&scope=&role=]``
removes those that match (``principal=app`` names the app's identity).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.core.identity import APP_PRINCIPAL_ID
from emulator.providers.authorization import handlers, state

if TYPE_CHECKING:
    from emulator.core.http import Host

# What Microsoft.Authorization's Permissions operations accept (the REST specs' stable and preview versions).
API_VERSIONS = frozenset({"2022-04-01", "2018-01-01-preview", "2015-07-01"})


def _principal(params: dict[str, str]) -> str | None:
    who = params.get("principal")
    return APP_PRINCIPAL_ID if who == "app" else who


def register(emu: Host) -> None:
    rg = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}"
    emu.route("GET", f"{rg}/providers/Microsoft.Authorization/permissions", handlers.permissions_for_group,
              api_versions=API_VERSIONS)
    emu.route("GET", f"{rg}/providers/{{namespace}}{{resourcePath:path}}/providers/Microsoft.Authorization/permissions",
              handlers.permissions_for_resource, api_versions=API_VERSIONS)

    def listed(params: dict[str, str], body: Any) -> Any:
        with emu.world.lock:
            return state.assignments(emu.world, _principal(params))

    def replaced(params: dict[str, str], body: Any) -> Any:
        raws = (body or {}).get("assignments") if isinstance(body, dict) else None
        if not isinstance(raws, list):
            raise ValueError('expected {"assignments": [...]}')
        with emu.world.lock:
            return state.replace_all(emu.world, raws)

    def added(params: dict[str, str], body: Any) -> Any:
        if not isinstance(body, dict):
            raise ValueError("expected one assignment as a JSON object")
        principal = body.get("principalId")
        with emu.world.lock:
            return state.assign(emu.world, {**body, "principalId": APP_PRINCIPAL_ID if principal == "app" else principal})

    def removed(params: dict[str, str], body: Any) -> Any:
        with emu.world.lock:
            return {"removed": state.remove(emu.world, principal_id=_principal(params), scope=params.get("scope"),
                                            role=params.get("role"))}

    emu.control("GET", "authorization/assignments", listed)
    emu.control("PUT", "authorization/assignments", replaced)
    emu.control("POST", "authorization/assignments", added)
    emu.control("DELETE", "authorization/assignments", removed)
