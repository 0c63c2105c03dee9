"""Resolving what an ASR request addresses (vault, fabric, container, item, plan, policy, mappings) and reading
its body.

Route templates name the path parameters as the SDK does (``resourceName`` is the vault,
``fabricName``, ``protectionContainerName``, ``replicatedProtectedItemName``, ...). Missing objects
are ASR's 404s; a vault that does not exist is ARM's ``ResourceNotFound``.
"""

from __future__ import annotations

from typing import Any

from emulator.core.http import ArmRequest
from emulator.providers.recoveryservices import errors
from emulator.providers.recoveryservices.events import ACTION, DELETE, WRITE, Notice
from emulator.providers.recoveryservices.state import asr_prefix, require_vault

VAULT_PATH = ("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/"
              "Microsoft.RecoveryServices/vaults/{resourceName}")
FABRIC_PATH = VAULT_PATH + "/replicationFabrics/{fabricName}"
CONTAINER_PATH = FABRIC_PATH + "/replicationProtectionContainers/{protectionContainerName}"
ITEM_PATH = CONTAINER_PATH + "/replicationProtectedItems/{replicatedProtectedItemName}"
PLAN_PATH = VAULT_PATH + "/replicationRecoveryPlans/{recoveryPlanName}"


def vault(req: ArmRequest) -> dict[str, Any]:
    p = req.params
    return require_vault(req.ctx.world, p["subscriptionId"], p["resourceGroupName"], p["resourceName"])


def _child(req: ArmRequest, parent_id: str, collection: str, param: str, kind: str) -> dict[str, Any]:
    """``{parent_id}/{collection}/{the request's param}``, or ASR's 404 for a ``kind``."""
    name = req.params[param]
    found = req.ctx.world.get(f"{parent_id}/{collection}/{name}")
    if found is None:
        raise errors.not_found(kind, name)
    return found


def fabric(req: ArmRequest) -> dict[str, Any]:
    return _child(req, asr_prefix(vault(req)), "replicationFabrics", "fabricName", "fabric")


def container(req: ArmRequest) -> dict[str, Any]:
    return _child(req, fabric(req)["id"], "replicationProtectionContainers", "protectionContainerName", "protection container")


def item(req: ArmRequest) -> dict[str, Any]:
    return _child(req, container(req)["id"], "replicationProtectedItems", "replicatedProtectedItemName", "replicated item")


def plan(req: ArmRequest) -> dict[str, Any]:
    return _child(req, asr_prefix(vault(req)), "replicationRecoveryPlans", "recoveryPlanName", "recovery plan")


def policy(req: ArmRequest) -> dict[str, Any]:
    return _child(req, asr_prefix(vault(req)), "replicationPolicies", "policyName", "replication policy")


def mapping(req: ArmRequest) -> dict[str, Any]:
    return _child(req, container(req)["id"], "replicationProtectionContainerMappings", "mappingName",
                  "protection container mapping")


def network_mapping(req: ArmRequest) -> dict[str, Any]:
    network = f"{fabric(req)['id']}/replicationNetworks/{req.params['networkName']}"
    return _child(req, network, "replicationNetworkMappings", "networkMappingName", "network mapping")


def properties(req: ArmRequest, *, required: bool = True) -> dict[str, Any]:
    """The ``properties`` object of the body (``{}`` for actions that take no input)."""
    body = req.json(required=required)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise errors.invalid_input("The request body must be a JSON object.")
    props = body.get("properties")
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise errors.invalid_input("'properties' must be an object.")
    return props


def provider_list(value: Any) -> list[dict[str, Any]]:
    """A provider-specific input that may be one object or a list of them (plans and containers use lists)."""
    if value is None:
        return []
    entries = value if isinstance(value, list) else [value]
    if not all(isinstance(e, dict) for e in entries):
        raise errors.invalid_input("Provider-specific inputs must be objects with an 'instanceType'.")
    return entries


# ARM events of the caller's request: ``resourceUri`` is the resource as the caller addressed it.

def write_event(req: ArmRequest, resource_type: str) -> Notice:
    return Notice(WRITE, f"{resource_type}/write", req.path.rstrip("/"), req.method)


def delete_event(req: ArmRequest, resource_type: str) -> Notice:
    return Notice(DELETE, f"{resource_type}/delete", req.path.rstrip("/"), req.method)


def action_event(req: ArmRequest, resource_type: str) -> Notice:
    resource_uri, action = req.path.rstrip("/").rsplit("/", 1)
    return Notice(ACTION, f"{resource_type}/{action}/action", resource_uri, req.method)
