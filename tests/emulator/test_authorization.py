"""Microsoft.Authorization's permissions endpoint: what the caller may do at a resource group or a resource, from
the emulated tenant's role assignments; by default, what infra/main.bicep grants the app for the seeded world."""

from __future__ import annotations

from typing import Any

from azure.core.rest import HttpRequest
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator import Emulator
from emulator.clients import control
from tests import arm_actions
from tests.emulator import armhttp

API = "2022-04-01"


def permissions(client: Any, scope: str) -> list[dict[str, Any]]:
    response = client.send_request(HttpRequest("GET", f"{scope}/providers/Microsoft.Authorization/permissions"
                                                      f"?api-version={API}"))
    assert response.status_code == 200, response.text()
    return list(response.json()["value"])


def test_the_default_assignments_are_what_the_template_assigns_for_the_world(emu: Emulator,
                                                                            demo: dict[str, Any]) -> None:
    deployment = arm_actions.Deployment.of_world(demo)
    assert deployment is not None
    expected = {(g.role, scope.lower(), tuple(g.actions)) for g in deployment.grants() for scope in g.scopes}
    got = {(a["role"].removeprefix("asr-s2d "), a["scope"].lower(), tuple(a["actions"]))
           for a in control(emu, "GET", "authorization/assignments", principal="app")}
    assert got == expected


def test_the_caller_gets_every_assignment_at_or_above_the_scope(emu: Emulator, demo: dict[str, Any],
                                                                sdk: Any) -> None:
    client = sdk(ResourceManagementClient)
    roles = arm_actions.load_roles()
    reader, recovery = list(roles["reader"].actions), list(roles["recovery"].actions)
    at_vnet = permissions(client, demo["recovery_vnet_id"])  # subscription, recovery group and the VNet itself
    assert [p["actions"] for p in at_vnet] == [reader, recovery, recovery]
    assert all(p["notActions"] == [] and p["dataActions"] == [] for p in at_vnet)
    prod = f"/subscriptions/{demo['subscription_id']}/resourceGroups/{demo['source_resource_group']}"
    assert [p["actions"] for p in permissions(client, prod)] == [reader, list(roles["source"].actions)]


def test_the_control_api_changes_what_the_app_holds(emu: Emulator, demo: dict[str, Any], sdk: Any) -> None:
    client = sdk(ResourceManagementClient)
    group = demo["recovery_resource_group_id"]
    assert control(emu, "DELETE", "authorization/assignments", principal="app", scope=group) == {"removed": 1}
    assert len(permissions(client, group)) == 1  # the reader at the subscription is left
    control(emu, "POST", "authorization/assignments", {"principalId": "app", "scope": group, "role": "custom",
                                                       "actions": ["*/read"], "notActions": ["Microsoft.Storage/*"]})
    assert permissions(client, group)[-1]["notActions"] == ["Microsoft.Storage/*"]
    control(emu, "PUT", "authorization/assignments", {"assignments": []})
    assert permissions(client, group) == []


def test_another_caller_has_no_permissions_and_an_unknown_group_is_404(emu: Emulator, demo: dict[str, Any],
                                                                       operator_sdk: Any) -> None:
    assert permissions(operator_sdk(ResourceManagementClient), demo["recovery_resource_group_id"]) == []
    missing = f"/subscriptions/{demo['subscription_id']}/resourceGroups/rg-nope/providers/Microsoft.Authorization/permissions"
    reply = armhttp.arm(emu, "GET", missing, api_version=API)
    assert (reply.status, reply.error_code) == (404, "ResourceGroupNotFound")
