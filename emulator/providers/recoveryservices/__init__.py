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

from typing import TYPE_CHECKING

from emulator.core.http import Handler
from emulator.providers.recoveryservices import control, fabrics, jobs, plans, protection
from emulator.providers.recoveryservices.scope import CONTAINER_PATH, FABRIC_PATH, ITEM_PATH, PLAN_PATH, VAULT_PATH
from emulator.providers.recoveryservices.state import add_vault

if TYPE_CHECKING:
    from emulator.core.http import Host

__all__ = ["add_vault", "register"]

ASR_API_VERSIONS = frozenset({"2025-08-01", "2025-01-01", "2024-10-01", "2024-04-01", "2024-02-01", "2023-08-01"})
VAULT_API_VERSIONS = frozenset({"2025-08-01", "2025-02-01", "2024-10-01", "2024-04-01", "2023-04-01"})

_ITEM_ACTIONS = {
    "remove": protection.remove_item,
    "unplannedFailover": protection.unplanned_failover,
    "plannedFailover": protection.planned_failover,
    "testFailover": protection.test_failover,
    "testFailoverCleanup": protection.test_failover_cleanup,
    "failoverCommit": protection.failover_commit,
    "reProtect": protection.reprotect,
}
_PLAN_ACTIONS = {
    "unplannedFailover": plans.unplanned_failover,
    "plannedFailover": plans.planned_failover,
    "testFailover": plans.test_failover,
    "testFailoverCleanup": plans.test_failover_cleanup,
    "failoverCommit": plans.failover_commit,
    "reProtect": plans.reprotect,
}


def register(emu: Host) -> None:
    def asr(method: str, path: str, handler: Handler) -> None:
        emu.route(method, path, handler, api_versions=ASR_API_VERSIONS)

    vaults = VAULT_PATH.rsplit("/", 1)[0]
    emu.route("GET", vaults, fabrics.list_vaults, api_versions=VAULT_API_VERSIONS)
    emu.route("GET", VAULT_PATH, fabrics.get_vault, api_versions=VAULT_API_VERSIONS)
    emu.route("PUT", VAULT_PATH, fabrics.put_vault, api_versions=VAULT_API_VERSIONS)

    asr("GET", VAULT_PATH + "/replicationOperationStatus/{jobName}", jobs.operation_status)
    asr("GET", VAULT_PATH + "/replicationOperationResults/{jobName}", jobs.operation_result)
    asr("GET", VAULT_PATH + "/replicationJobs", jobs.list_jobs)
    asr("GET", VAULT_PATH + "/replicationJobs/{jobName}", jobs.get_job)

    asr("GET", VAULT_PATH + "/replicationFabrics", fabrics.list_fabrics)
    asr("GET", FABRIC_PATH, fabrics.get_fabric)
    asr("PUT", FABRIC_PATH, fabrics.put_fabric)

    asr("GET", VAULT_PATH + "/replicationProtectionContainers", fabrics.list_all_containers)
    asr("GET", FABRIC_PATH + "/replicationProtectionContainers", fabrics.list_containers)
    asr("GET", CONTAINER_PATH, fabrics.get_container)
    asr("PUT", CONTAINER_PATH, fabrics.put_container)

    mapping = CONTAINER_PATH + "/replicationProtectionContainerMappings"
    asr("GET", VAULT_PATH + "/replicationProtectionContainerMappings", fabrics.list_all_mappings)
    asr("GET", mapping, fabrics.list_mappings)
    asr("GET", mapping + "/{mappingName}", fabrics.get_mapping)
    asr("PUT", mapping + "/{mappingName}", fabrics.put_mapping)

    policy = VAULT_PATH + "/replicationPolicies"
    asr("GET", policy, fabrics.list_policies)
    asr("GET", policy + "/{policyName}", fabrics.get_policy)
    asr("PUT", policy + "/{policyName}", fabrics.put_policy)
    asr("PATCH", policy + "/{policyName}", fabrics.patch_policy)
    asr("DELETE", policy + "/{policyName}", fabrics.delete_policy)

    network = FABRIC_PATH + "/replicationNetworks/{networkName}/replicationNetworkMappings"
    asr("GET", VAULT_PATH + "/replicationNetworkMappings", fabrics.list_all_network_mappings)
    asr("GET", network, fabrics.list_network_mappings)
    asr("GET", network + "/{networkMappingName}", fabrics.get_network_mapping)
    asr("PUT", network + "/{networkMappingName}", fabrics.put_network_mapping)

    asr("GET", VAULT_PATH + "/replicationProtectedItems", protection.list_all_items)
    asr("GET", CONTAINER_PATH + "/replicationProtectedItems", protection.list_items)
    asr("GET", ITEM_PATH, protection.get_item)
    asr("PUT", ITEM_PATH, protection.create_item)
    asr("PATCH", ITEM_PATH, protection.update_item)
    asr("DELETE", ITEM_PATH, protection.purge_item)
    for action, handler in _ITEM_ACTIONS.items():
        asr("POST", f"{ITEM_PATH}/{action}", handler)
    asr("GET", ITEM_PATH + "/recoveryPoints", protection.list_recovery_points)
    asr("GET", ITEM_PATH + "/recoveryPoints/{recoveryPointName}", protection.get_recovery_point)

    asr("GET", VAULT_PATH + "/replicationRecoveryPlans", plans.list_plans)
    asr("GET", PLAN_PATH, plans.get_plan)
    asr("PUT", PLAN_PATH, plans.put_plan)
    asr("PATCH", PLAN_PATH, plans.patch_plan)
    asr("DELETE", PLAN_PATH, plans.delete_plan)
    for action, handler in _PLAN_ACTIONS.items():
        asr("POST", f"{PLAN_PATH}/{action}", handler)

    control.register(emu)
