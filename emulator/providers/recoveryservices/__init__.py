"""Microsoft.RecoveryServices: Recovery Services vaults and Azure Site Recovery, Azure-to-Azure.

Owns the routes of the vault and of ASR's replication objects at the api-versions the pinned SDK
(azure-mgmt-recoveryservicessiterecovery 2.x, ``2025-08-01``) and recent ones use, and the control
endpoints under ``/_emulator/asr/``. The model and its rules live in ``state.py`` (vault and
plumbing), ``items.py`` (protected items), ``replication.py`` (progress over time, health, recovery
points), ``failover.py`` (failover actions) and ``plans.py`` (recovery plans); ``jobs.py`` turns
every write into an ASR job backing a long-running operation; ``infra.py`` is the only door to the
compute, network and storage providers.

Seeds call ``state.add_vault(world, subscription_id, resource_group, name, location)``.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from emulator.core.http import ArmRequest, ArmResponse, Handler
from emulator.providers.conventions import route_resource
from emulator.providers.recoveryservices import control, errors, fabrics, jobs, plans, protection
from emulator.providers.recoveryservices.scope import CONTAINER_PATH, FABRIC_PATH, ITEM_PATH, PLAN_PATH, VAULT_PATH
from emulator.providers.recoveryservices.state import CONTAINER_TYPE, MAPPING_TYPE, NETWORK_MAPPING_TYPE, POLICY_TYPE, add_vault

if TYPE_CHECKING:
    from emulator.core.http import Host

__all__ = ["add_vault", "register"]

# Versions Azure serves: azure-rest-api-specs specification/recoveryservicessiterecovery/.../stable/<version>, and
# the official examples of 2026-02-01 and 2026-05-01 (tests/api_examples, from ../shared/api-examples).
ASR_API_VERSIONS = frozenset({"2026-05-01", "2026-02-01", "2025-08-01", "2025-01-01", "2024-10-01", "2024-04-01",
                              "2024-02-01", "2024-01-01", "2023-08-01"})
VAULT_API_VERSIONS = frozenset({"2025-08-01", "2025-02-01", "2024-10-01", "2024-04-01", "2023-04-01"})


def _planned_failover(req: ArmRequest) -> ArmResponse:
    raise errors.planned_failover_not_supported()


def _failover_actions(handlers: ModuleType) -> dict[str, Handler]:
    """The actions a replicated item and a recovery plan both take (``protection`` and ``plans`` name their
    handlers alike)."""
    return {
        "unplannedFailover": handlers.fail_over,
        "plannedFailover": _planned_failover,
        "testFailover": handlers.test_failover,
        "testFailoverCleanup": handlers.test_failover_cleanup,
        "failoverCommit": handlers.failover_commit,
        "reProtect": handlers.reprotect,
    }


_ITEM_ACTIONS: dict[str, Handler] = {"remove": protection.remove_item, **_failover_actions(protection)}
_PLAN_ACTIONS: dict[str, Handler] = _failover_actions(plans)


def register(emu: Host) -> None:
    def asr(method: str, path: str, handler: Handler) -> None:
        emu.route(method, path, handler, api_versions=ASR_API_VERSIONS)

    def resource(path: str, *, get: Handler, put: Handler, patch: Handler | None = None, delete: Handler | None = None,
                 actions: dict[str, Handler] | None = None) -> None:
        route_resource(emu, path, api_versions=ASR_API_VERSIONS, get=get, put=put, patch=patch, delete=delete,
                       actions=actions)

    vaults = VAULT_PATH.rsplit("/", 1)[0]
    emu.route("GET", vaults, fabrics.list_vaults, api_versions=VAULT_API_VERSIONS)
    route_resource(emu, VAULT_PATH, api_versions=VAULT_API_VERSIONS, get=fabrics.get_vault, put=fabrics.put_vault)

    asr("GET", VAULT_PATH + "/replicationOperationStatus/{jobName}", jobs.operation_status)
    asr("GET", VAULT_PATH + "/replicationOperationResults/{jobName}", jobs.operation_result)
    asr("GET", VAULT_PATH + "/replicationJobs", jobs.list_jobs)
    asr("GET", VAULT_PATH + "/replicationJobs/{jobName}", jobs.get_job)
    asr("POST", VAULT_PATH + "/replicationJobs/{jobName}/cancel", jobs.cancel_job)

    asr("GET", VAULT_PATH + "/replicationFabrics", fabrics.list_fabrics)
    resource(FABRIC_PATH, get=fabrics.get_fabric, put=fabrics.put_fabric)

    asr("GET", VAULT_PATH + "/replicationProtectionContainers", fabrics.list_in_vault(CONTAINER_TYPE))
    asr("GET", FABRIC_PATH + "/replicationProtectionContainers", fabrics.list_containers)
    resource(CONTAINER_PATH, get=fabrics.get_container, put=fabrics.put_container,
             actions={"switchprotection": protection.switch_protection})

    mapping = CONTAINER_PATH + "/replicationProtectionContainerMappings"
    asr("GET", VAULT_PATH + "/replicationProtectionContainerMappings", fabrics.list_in_vault(MAPPING_TYPE))
    asr("GET", mapping, fabrics.list_mappings)
    resource(mapping + "/{mappingName}", get=fabrics.get_mapping, put=fabrics.put_mapping)

    policy = VAULT_PATH + "/replicationPolicies"
    asr("GET", policy, fabrics.list_in_vault(POLICY_TYPE))
    resource(policy + "/{policyName}", get=fabrics.get_policy, put=fabrics.put_policy, patch=fabrics.patch_policy,
             delete=fabrics.delete_policy)

    network = FABRIC_PATH + "/replicationNetworks/{networkName}/replicationNetworkMappings"
    asr("GET", VAULT_PATH + "/replicationNetworkMappings", fabrics.list_in_vault(NETWORK_MAPPING_TYPE))
    asr("GET", network, fabrics.list_network_mappings)
    resource(network + "/{networkMappingName}", get=fabrics.get_network_mapping, put=fabrics.put_network_mapping)

    asr("GET", VAULT_PATH + "/replicationProtectedItems", protection.list_all_items)
    asr("GET", CONTAINER_PATH + "/replicationProtectedItems", protection.list_items)
    resource(ITEM_PATH, get=protection.get_item, put=protection.create_item, patch=protection.update_item,
             delete=protection.purge_item, actions=_ITEM_ACTIONS)
    asr("GET", ITEM_PATH + "/recoveryPoints", protection.list_recovery_points)
    asr("GET", ITEM_PATH + "/recoveryPoints/{recoveryPointName}", protection.get_recovery_point)

    asr("GET", VAULT_PATH + "/replicationRecoveryPlans", plans.list_plans)
    resource(PLAN_PATH, get=plans.get_plan, put=plans.put_plan, patch=plans.patch_plan, delete=plans.delete_plan,
             actions=_PLAN_ACTIONS)

    control.register(emu)
