"""Handlers for the vault and the A2A plumbing: fabrics, protection containers, container mappings,
replication policies and network mappings.

Every create is long-running, as in ASR: the object is validated and written when the request
arrives (a broken rule is a synchronous 400/409), the answer is ``202`` with the job's operation
URLs, and the SDK's final GET reads the object once the job has completed.
"""

from __future__ import annotations

from typing import Any

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse, Handler, ok
from emulator.core.paging import paged
from emulator.providers.recoveryservices import errors, infra, jobs, scope, state
from emulator.providers.recoveryservices.state import MAPPING_TYPE, NETWORK_MAPPING_TYPE, POLICY_TYPE, VAULT_TYPE, stable_guid
from emulator.providers.resources.state import require_group, validate_tags

# -- vaults (Microsoft.RecoveryServices/vaults) ------------------------------------------------------


def get_vault(req: ArmRequest) -> ArmResponse:
    return ok(scope.vault(req))


def put_vault(req: ArmRequest) -> ArmResponse:
    body = req.json_object()
    location = body.get("location")
    if not isinstance(location, str) or not location.strip():
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    p = req.params
    world = req.ctx.world
    require_group(world, p["subscriptionId"], p["resourceGroupName"])
    with world.lock:
        existing = world.get(state.vault_id(p["subscriptionId"], p["resourceGroupName"], p["resourceName"]))
        normalised = location.replace(" ", "").lower()
        if existing is not None and existing["location"] != normalised:
            raise ArmError(400, "InvalidResourceLocation",
                           f"The resource '{p['resourceName']}' already exists in location '{existing['location']}'.")
        vault = state.add_vault(world, p["subscriptionId"], p["resourceGroupName"], p["resourceName"], normalised,
                                validate_tags(body.get("tags")))
    req.ctx.emit(req, operation_name=f"{VAULT_TYPE}/write", resource_uri=vault["id"])
    return ArmResponse(200 if existing else 201, vault)


def list_vaults(req: ArmRequest) -> ArmResponse:
    p = req.params
    require_group(req.ctx.world, p["subscriptionId"], p["resourceGroupName"])
    scope_id = f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}"
    return paged(req, req.ctx.world.by_type(VAULT_TYPE, scope=scope_id), page_size=req.ctx.page_size)


def list_in_vault(rtype: str) -> Handler:
    """The vault's objects of ``rtype`` (containers, mappings, policies, network mappings), paged."""
    def handler(req: ArmRequest) -> ArmResponse:
        return paged(req, req.ctx.world.by_type(rtype, scope=scope.vault(req)["id"]), page_size=req.ctx.page_size)
    return handler


# -- the job every create runs -------------------------------------------------------------------------

def _created(req: ArmRequest, vault: dict[str, Any], resource: dict[str, Any], scenario: str,
             target_type: str) -> ArmResponse:
    world = req.ctx.world
    job = jobs.new_job(world, vault, scenario=scenario, target_id=stable_guid(resource["id"]),
                       target_name=resource["name"], target_type=target_type)
    return jobs.run_as_job(req, vault, job, lambda: world.get(resource["id"]),
                           event=scope.write_event(req, resource["type"]))


# -- fabrics -------------------------------------------------------------------------------------------

def put_fabric(req: ArmRequest) -> ArmResponse:
    vault = scope.vault(req)
    custom = scope.properties(req).get("customDetails") or {}
    if not isinstance(custom, dict):
        raise errors.invalid_input("'customDetails' must be an object.")
    with req.ctx.world.lock:
        fabric = state.create_fabric(req.ctx.world, vault, req.params["fabricName"], custom)
    return _created(req, vault, fabric, "CreateFabric", "Fabric")


def get_fabric(req: ArmRequest) -> ArmResponse:
    return ok(scope.fabric(req))


def list_fabrics(req: ArmRequest) -> ArmResponse:
    return paged(req, state.fabrics(req.ctx.world, scope.vault(req)), page_size=req.ctx.page_size)


# -- protection containers ---------------------------------------------------------------------------

def put_container(req: ArmRequest) -> ArmResponse:
    vault = scope.vault(req)
    fabric = scope.fabric(req)
    inputs = scope.provider_list(scope.properties(req).get("providerSpecificInput"))
    with req.ctx.world.lock:
        container = state.create_container(req.ctx.world, fabric, req.params["protectionContainerName"], inputs)
    return _created(req, vault, container, "CreateProtectionContainer", "ProtectionContainer")


def get_container(req: ArmRequest) -> ArmResponse:
    return ok(scope.container(req))


def list_containers(req: ArmRequest) -> ArmResponse:
    return paged(req, state.containers(req.ctx.world, scope.fabric(req)), page_size=req.ctx.page_size)


# -- container mappings ------------------------------------------------------------------------------

def put_mapping(req: ArmRequest) -> ArmResponse:
    vault = scope.vault(req)
    container = scope.container(req)
    with req.ctx.world.lock:
        mapping = state.create_mapping(req.ctx.world, container, req.params["mappingName"], scope.properties(req))
    return _created(req, vault, mapping, "PairProtectionContainers", "ProtectionContainerMapping")


def get_mapping(req: ArmRequest) -> ArmResponse:
    return ok(scope.mapping(req))


def list_mappings(req: ArmRequest) -> ArmResponse:
    return paged(req, state.mappings_from(req.ctx.world, scope.container(req)), page_size=req.ctx.page_size)


# -- policies ----------------------------------------------------------------------------------------

def put_policy(req: ArmRequest) -> ArmResponse:
    vault = scope.vault(req)
    provider = scope.properties(req).get("providerSpecificInput")
    if not isinstance(provider, dict):
        raise errors.invalid_input("'providerSpecificInput' (an A2APolicyCreationInput) is required.")
    with req.ctx.world.lock:
        policy = state.create_policy(req.ctx.world, vault, req.params["policyName"], provider)
    return _created(req, vault, policy, "CreateProtectionProfile", "ProtectionProfile")


def patch_policy(req: ArmRequest) -> ArmResponse:
    vault = scope.vault(req)
    world = req.ctx.world
    policy = scope.policy(req)
    provider = scope.properties(req).get("replicationProviderSettings")
    if not isinstance(provider, dict):
        raise errors.invalid_input("'replicationProviderSettings' (an A2APolicyCreationInput) is required.")
    with world.lock:
        state.update_policy(world, policy, provider)
    job = jobs.new_job(world, vault, scenario="UpdateProtectionProfile", target_id=stable_guid(policy["id"]),
                       target_name=policy["name"], target_type="ProtectionProfile")
    return jobs.run_as_job(req, vault, job, lambda: world.get(policy["id"]), event=scope.write_event(req, POLICY_TYPE))


def delete_policy(req: ArmRequest) -> ArmResponse:
    vault = scope.vault(req)
    world = req.ctx.world
    policy = scope.policy(req)
    in_use = [m for m in world.by_type(MAPPING_TYPE, scope=vault["id"])
              if state.same_id(m["properties"]["policyId"], policy["id"])]
    if in_use:
        raise errors.conflict(errors.OPERATION_NOT_ALLOWED,
                              f"The policy '{policy['name']}' is used by container mapping '{in_use[0]['name']}'.",
                              action="Remove the container mappings that use the policy first.")
    job = jobs.new_job(world, vault, scenario="DeleteProtectionProfile", target_id=stable_guid(policy["id"]),
                       target_name=policy["name"], target_type="ProtectionProfile")

    def work() -> None:
        world.delete(policy["id"])

    return jobs.run_as_job(req, vault, job, work, event=scope.delete_event(req, POLICY_TYPE))


def get_policy(req: ArmRequest) -> ArmResponse:
    return ok(scope.policy(req))


# -- network mappings --------------------------------------------------------------------------------

def put_network_mapping(req: ArmRequest) -> ArmResponse:
    vault = scope.vault(req)
    fabric = scope.fabric(req)
    world = req.ctx.world
    with world.lock:
        mapping = state.create_network_mapping(
            world, fabric, req.params["networkName"], req.params["networkMappingName"], scope.properties(req),
            vnet_location=lambda vnet_id: infra.vnet_location(world, vnet_id))
    return _created(req, vault, mapping, "MapNetwork", "NetworkMapping")


def get_network_mapping(req: ArmRequest) -> ArmResponse:
    return ok(scope.network_mapping(req))


def list_network_mappings(req: ArmRequest) -> ArmResponse:
    rid = f"{scope.fabric(req)['id']}/replicationNetworks/{req.params['networkName']}"
    return paged(req, req.ctx.world.by_type(NETWORK_MAPPING_TYPE, scope=rid), page_size=req.ctx.page_size)

