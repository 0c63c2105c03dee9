"""Replication protected items (Azure-to-Azure): the rules for enabling replication, the A2A details
ASR reports, the item's states and allowed operations, and updates of its failover settings.
(Initial replication over time, health, RPO and recovery points are in ``replication.py``.)

States, as the real service reports them (``protectionState`` / ``protectionStateDescription``):

- ``EnablingProtection`` while the EnableDr job runs;
- ``UnprotectedStatesBegin`` during initial replication, with ``monitoringJobType``
  ``InitialReplication`` and ``monitoringPercentageCompletion`` in the A2A details;
- ``Protected`` with ``replicationHealth`` ``Normal`` once the first recovery point exists;
- the failover states live in ``failover.py``.

Rules enforced when enabling (each a distinct ASR error code, see ``errors.py``): the vault is not in
the VM's region; the policy and a container mapping to the recovery container bound to it exist; the
VM is not already protected (by any vault, in any group); the VM is running; a multi-VM group holds
at most 16 VMs, and a ``multiVmGroupId`` given with a group's name is that group's; every cache storage
account is in the VM's region and subscription and allows shared-key access; the recovery placement
(availability set, availability zone, proximity placement group) is one the recovered VM can have
(``_recovery_placement``).
"""

from __future__ import annotations

from typing import Any

from emulator.core.world import World
from emulator.providers.recoveryservices import errors, infra
from emulator.providers.recoveryservices.state import (
    ITEM_TYPE,
    NO_JOB_TIME,
    ItemMeta,
    asr_prefix,
    asr_state,
    container_of,
    fabric_location,
    fabric_of,
    mapped_recovery_network,
    mapping_between,
    name_of,
    now_iso,
    refresh_container_counts,
    require,
    same_id,
    stable_guid,
    subscription_of,
    vault_for,
)

MAX_GROUP_SIZE = 16
DISK_ACCOUNT_TYPES = frozenset({"Standard_LRS", "Premium_LRS", "StandardSSD_LRS", "PremiumV2_LRS", "UltraSSD_LRS",
                                "StandardSSD_ZRS", "Premium_ZRS"})


class State:
    """``protectionState`` values."""

    ENABLING = "EnablingProtection"
    INITIAL_REPLICATION = "UnprotectedStatesBegin"
    PROTECTED = "Protected"
    DISABLING = "DisablingProtection"
    UNPLANNED_COMMIT_PENDING = "UnplannedFailoverCommitPendingStatesBegin"
    PLANNED_COMMIT_PENDING = "PlannedFailoverCommitPendingStatesBegin"
    UNPLANNED_COMMITTED = "UnplannedFailoverCommitted"
    PLANNED_COMMITTED = "PlannedFailoverCommitted"


class TestState:
    """``testFailoverState`` values."""

    NONE = "None"
    WAITING = "WaitingForCompletion"
    CLEANING = "MarkedForDeletion"


DESCRIPTIONS = {
    State.ENABLING: "Enabling protection",
    State.INITIAL_REPLICATION: "Initial replication in progress",
    State.PROTECTED: "Protected",
    State.DISABLING: "Disabling protection",
    State.UNPLANNED_COMMIT_PENDING: "Failover completed",
    State.PLANNED_COMMIT_PENDING: "Failover completed",
    State.UNPLANNED_COMMITTED: "Failover committed",
    State.PLANNED_COMMITTED: "Failover committed",
}
TEST_DESCRIPTIONS = {TestState.NONE: "None", TestState.WAITING: "Waiting for user input",
                     TestState.CLEANING: "Cleaning up test environment"}

# allowedOperations per state, as in the REST examples (ASR lists only what the state permits).
ALLOWED = {
    State.ENABLING: ["DisableProtection"],
    State.INITIAL_REPLICATION: ["DisableProtection"],
    State.PROTECTED: ["UnplannedFailover", "DisableProtection", "TestFailover"],
    State.DISABLING: [],
    State.UNPLANNED_COMMIT_PENDING: ["Commit", "DisableProtection", "ChangePit"],
    State.PLANNED_COMMIT_PENDING: ["Commit", "DisableProtection", "ChangePit"],
    State.UNPLANNED_COMMITTED: ["ReverseReplicate", "DisableProtection"],
    State.PLANNED_COMMITTED: ["ReverseReplicate", "DisableProtection"],
}
COMMIT_PENDING = frozenset({State.UNPLANNED_COMMIT_PENDING, State.PLANNED_COMMIT_PENDING})
COMMITTED = frozenset({State.UNPLANNED_COMMITTED, State.PLANNED_COMMITTED})


# -- reading ----------------------------------------------------------------------------------------

def props(item: dict[str, Any]) -> dict[str, Any]:
    return item["properties"]  # type: ignore[no-any-return]


def a2a(item: dict[str, Any]) -> dict[str, Any]:
    return item["properties"]["providerSpecificDetails"]  # type: ignore[no-any-return]


def meta(world: World, item: dict[str, Any]) -> ItemMeta:
    state = asr_state(world)
    found = state.items.get(item["id"].lower())
    if found is None:
        found = state.items[item["id"].lower()] = ItemMeta(vm_id=a2a(item)["fabricObjectId"])
    return found


def items_in_vault(world: World, vault: dict[str, Any]) -> list[dict[str, Any]]:
    return world.by_type(ITEM_TYPE, scope=vault["id"])


def all_items(world: World) -> list[dict[str, Any]]:
    return [r for r in world.all() if r.get("type") == ITEM_TYPE]


def item_protecting(world: World, vm_id: str) -> dict[str, Any] | None:
    """The item (in any vault) that replicates ``vm_id``, if any: a VM is protected at most once."""
    return next((i for i in all_items(world) if same_id(a2a(i).get("fabricObjectId"), vm_id)), None)


def item_replicating_into(world: World, vm_id: str) -> dict[str, Any] | None:
    """The reprotected item (in any vault) replicating back into ``vm_id``, if any: after a committed failover
    and a reprotect, the original VM is the failback target, written by Site Recovery, not a source."""
    return next((i for i in all_items(world) if same_id(a2a(i).get("recoveryFabricObjectId"), vm_id)
                 and i["properties"].get("activeLocation") == "Primary"
                 and i["properties"].get("protectionState") in ("Protected", "InitialReplicationInProgress")), None)


def group_members(world: World, vault: dict[str, Any], group_id: str) -> list[dict[str, Any]]:
    return [i for i in items_in_vault(world, vault) if same_id(a2a(i).get("multiVmGroupId"), group_id)]


def in_user_group(world: World, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The other members of the item's user-specified multi-VM group (empty for auto-created groups)."""
    details = a2a(item)
    if details.get("multiVmGroupCreateOption") != "UserSpecified":
        return []
    vault = vault_for(world, item["id"])
    return [m for m in group_members(world, vault, details["multiVmGroupId"]) if not same_id(m["id"], item["id"])]


def _group_by_name(world: World, vault: dict[str, Any], name: str) -> str | None:
    for item in items_in_vault(world, vault):
        details = a2a(item)
        if details.get("multiVmGroupCreateOption") == "UserSpecified" and \
                str(details.get("multiVmGroupName", "")).lower() == name.lower():
            return str(details["multiVmGroupId"])
    return None


def _group_named_by_id(world: World, vault: dict[str, Any], group_id: str) -> str | None:
    """The name of the user-specified group with ``group_id``, if any item of the vault is in it."""
    for item in items_in_vault(world, vault):
        details = a2a(item)
        if details.get("multiVmGroupCreateOption") == "UserSpecified" and same_id(details.get("multiVmGroupId"),
                                                                                  group_id):
            return str(details.get("multiVmGroupName") or "")
    return None


def _group_id(world: World, vault: dict[str, Any], name: str, given_id: Any) -> str:
    """The ID of the group a VM joins or starts: the named group's own, a new group with the given ID, or a new one.

    ``A2AEnableProtectionInput`` carries ``multiVmGroupName`` and ``multiVmGroupId`` side by side (azure-rest-api-specs,
    specification/recoveryservicessiterecovery/resource-manager/Microsoft.RecoveryServices/stable/2025-01-01/
    service.json), and Microsoft's tooling treats the two as one group's: azure-powershell's
    New-AzRecoveryServicesAsrReplicationProtectedItem looks the group up by name among the protected items and sends
    that group's ID with its name, or a new GUID for a new group (src/RecoveryServices/RecoveryServices.SiteRecovery/
    ReplicationProtectedItem/NewAzureRmRecoveryServicesAsrReplicationProtectedItem.cs, ``VMwareToAzureReplication``).
    What the service does with a name and an ID of two different groups is not documented: the emulator refuses the
    pair (400 ``MultiVmGroupIdMismatch``) rather than guess which group the caller meant."""
    existing = _group_by_name(world, vault, name)
    wanted = str(given_id) if given_id else None
    if wanted is not None:
        other = _group_named_by_id(world, vault, wanted)
        if (existing is not None and not same_id(existing, wanted)) or (
                other is not None and other.lower() != name.lower()):
            raise errors.bad_request(
                errors.MULTI_VM_GROUP_ID_MISMATCH,
                f"The multi-VM group ID '{wanted}' does not identify the multi-VM group '{name}'"
                + (f" (its ID is '{existing}')" if existing else "") + (f"; it is the ID of group '{other}'" if other
                                                                          and other.lower() != name.lower() else "")
                + ".", causes="multiVmGroupName and multiVmGroupId name different groups.",
                action="Send the ID read from the group's protected items with its name, or the name alone.")
    return existing or wanted or ""


def _in_recovery_region(world: World, resource_id: Any, resource_type: str, what: str, code: str,
                        recovery_region: str) -> dict[str, Any] | None:
    """The placement resource an enable names (None when it names none): it must exist, be of its type, and be in
    the recovery region; 400 with ``code`` otherwise."""
    if not resource_id:
        return None
    found = infra.get(world, str(resource_id))
    if found is None or str(found.get("type", "")).lower() != resource_type:
        raise errors.bad_request(code, f"The recovery {what} '{resource_id}' was not found.",
                                 action=f"Create the {what} in the recovery region.")
    if infra.location(found) != recovery_region:
        raise errors.bad_request(code, f"The recovery {what} '{found['name']}' is in '{infra.location(found)}'; it "
                                 f"must be in the recovery region '{recovery_region}'.",
                                 action=f"Use a {what} of the recovery region.")
    return found


def _recovery_placement(world: World, given: dict[str, Any], recovery_region: str,
                        recovery_rg: str) -> dict[str, Any]:
    """Where the recovered VM will be placed, validated as the VM ASR creates at failover must be:

    - an availability zone, an availability set or neither, never both: Site Recovery's availability types are
      "single instance, availability set or availability zone" (learn.microsoft.com/azure/site-recovery/
      azure-to-azure-how-to-enable-replication, "Availability options"; MicrosoftDocs/azure-docs
      articles/site-recovery/azure-to-azure-how-to-enable-replication.md), and a VM in an availability set cannot be
      placed in availability zones (Compute's rule, ``compute.vms._check_avset``);
    - a zone is one of the region's zones, '1', '2' or '3' (Compute's ``zones`` values, ``compute.vms``);
    - the availability set exists in the recovery region ("Site Recovery creates a new availability set in the
      target region", same article) and in the recovery resource group, where the recovered VM is created: "The
      availability set to which the VM is being added should be under the same resource group as the availability
      set resource" (the Compute REST spec, ``VirtualMachineProperties.availabilitySet``, azure-rest-api-specs
      specification/compute/resource-manager/Microsoft.Compute);
    - the proximity placement group exists in the recovery region ("select a proximity placement group in the DR
      region", articles/site-recovery/how-to-enable-replication-proximity-placement-groups.md).
    """
    zone = given.get("recoveryAvailabilityZone")
    avset_id = given.get("recoveryAvailabilitySetId")
    ppg_id = given.get("recoveryProximityPlacementGroupId")
    if zone and avset_id:
        raise errors.bad_request(
            errors.AVAILABILITY_SET_AND_ZONE,
            f"The recovery availability zone '{zone}' and the recovery availability set '{name_of(str(avset_id))}' "
            "cannot both be set.", causes="A virtual machine in an availability set cannot be placed in an "
                                          "availability zone.",
            action="Set recoveryAvailabilityZone or recoveryAvailabilitySetId, not both.")
    if zone is not None and str(zone) not in ("1", "2", "3"):
        raise errors.bad_request(errors.INVALID_RECOVERY_ZONE,
                                 f"The recovery availability zone '{zone}' is not a zone of '{recovery_region}'.",
                                 action="Use an availability zone of the recovery region: '1', '2' or '3'.")
    avset = _in_recovery_region(world, avset_id, "microsoft.compute/availabilitysets", "availability set",
                                errors.INVALID_RECOVERY_AVAILABILITY_SET, recovery_region)
    if avset is not None and not same_id(avset["id"].split("/providers/")[0], recovery_rg):
        raise errors.bad_request(
            errors.INVALID_RECOVERY_AVAILABILITY_SET,
            f"The recovery availability set '{avset['name']}' is not in the recovery resource group "
            f"'{name_of(recovery_rg)}' (subscription '{subscription_of(recovery_rg)}').",
            causes="The recovered virtual machine is created in the recovery resource group, with its "
                   "availability set.",
            action="Use an availability set of the recovery resource group.")
    ppg = _in_recovery_region(world, ppg_id, "microsoft.compute/proximityplacementgroups",
                              "proximity placement group", errors.INVALID_RECOVERY_PPG, recovery_region)
    return {"recoveryAvailabilitySet": avset["id"] if avset else None,
            "recoveryAvailabilityZone": str(zone) if zone else None,
            "recoveryProximityPlacementGroupId": ppg["id"] if ppg else None}


# -- enabling ---------------------------------------------------------------------------------------

def _validate_cache(world: World, account_id: str | None, vm: dict[str, Any], *, what: str) -> dict[str, Any]:
    """The cache (primary staging) account: same region and subscription as the source VM, shared key allowed."""
    account = infra.storage_account(world, account_id)
    if account is None:
        raise errors.bad_request(errors.INVALID_CACHE_STORAGE, f"The cache storage account '{account_id}' for {what} "
                                 "was not found.", action="Specify an existing storage account in the source region.")
    vm_region, vm_sub = infra.location(vm), subscription_of(vm["id"])
    if infra.location(account) != vm_region:
        raise errors.bad_request(
            errors.INVALID_CACHE_STORAGE,
            f"The cache storage account '{account['name']}' is in '{infra.location(account)}'; it must be in the "
            f"source region '{vm_region}'.",
            causes="The cache storage account is not in the region of the virtual machine.",
            action="Use a storage account in the same region and subscription as the virtual machine.")
    if subscription_of(account["id"]).lower() != vm_sub.lower():
        raise errors.bad_request(
            errors.INVALID_CACHE_STORAGE,
            f"The cache storage account '{account['name']}' is in subscription '{subscription_of(account['id'])}'; "
            f"it must be in the virtual machine's subscription '{vm_sub}'.",
            action="Use a storage account in the same region and subscription as the virtual machine.")
    if not infra.shared_key_allowed(account):
        raise errors.bad_request(
            errors.INVALID_CACHE_STORAGE,
            f"The cache storage account '{account['name']}' does not allow shared key access.",
            action="Allow shared key access on the cache storage account.")
    return account


def enable(world: World, container: dict[str, Any], name: str, body_props: dict[str, Any]) -> dict[str, Any]:
    """Validate ``EnableProtectionInput`` and create the item in ``EnablingProtection``."""
    vault = vault_for(world, container["id"])
    fabric = fabric_of(world, container)
    given = body_props.get("providerSpecificDetails") or {}
    if given.get("instanceType") != "A2A":
        raise errors.invalid_input("providerSpecificDetails.instanceType must be 'A2A' for Azure-to-Azure replication.")
    vm_id = given.get("fabricObjectId")
    vm = infra.get(world, vm_id)
    if vm is None or str(vm.get("type", "")).lower() != "microsoft.compute/virtualmachines":
        raise errors.invalid_input(f"The virtual machine '{vm_id}' (fabricObjectId) was not found.")
    vm_region = infra.location(vm)
    if vm_region == vault["location"]:
        raise errors.bad_request(
            errors.VAULT_IN_SOURCE_REGION,
            f"The virtual machine '{vm['name']}' is in '{vm_region}', the region of the vault '{vault['name']}'. "
            "A vault in the source region cannot protect the virtual machine.",
            causes="The Recovery Services vault must be in the target (disaster recovery) region.",
            action="Use a vault in the target region.")
    if vm_region != fabric_location(fabric):
        raise errors.invalid_input(f"The virtual machine is in '{vm_region}' but the fabric '{fabric['name']}' is for "
                                   f"'{fabric_location(fabric)}'.")

    policy = infra.get(world, body_props.get("policyId"))
    if policy is None:
        raise errors.bad_request(errors.POLICY_NOT_FOUND,
                                 f"The replication policy '{body_props.get('policyId')}' was not found.",
                                 action="Create a replication policy and map the containers with it first.")
    recovery_container_id = given.get("recoveryContainerId") or ""
    mapping = mapping_between(world, container, recovery_container_id, policy["id"])
    if mapping is None:
        raise errors.bad_request(
            errors.CONTAINER_MAPPING_NOT_FOUND,
            f"No protection container mapping from '{container['name']}' to '{name_of(recovery_container_id)}' "
            f"with policy '{policy['name']}' exists.",
            causes="The source and target protection containers are not paired with this policy.",
            action="Create the container mapping, then enable replication.")
    recovery_container = require(world, recovery_container_id, "protection container")
    recovery_fabric = fabric_of(world, recovery_container)

    group_name = given.get("multiVmGroupName")
    existing = item_protecting(world, vm["id"])
    if existing is not None:
        current = a2a(existing)
        where = (f" in multi-VM group '{current.get('multiVmGroupName')}'"
                 if current.get("multiVmGroupCreateOption") == "UserSpecified" else "")
        move = (f" It cannot be moved into group '{group_name}': disable replication and enable it again."
                if group_name and str(group_name).lower() != str(current.get("multiVmGroupName", "")).lower() else "")
        raise errors.conflict(errors.VM_ALREADY_PROTECTED,
                              f"The virtual machine '{vm['name']}' is already protected{where} "
                              f"(item '{existing['name']}').{move}",
                              action="Disable replication of the virtual machine before enabling it again.")
    target_of = item_replicating_into(world, vm["id"])
    if target_of is not None:
        raise errors.conflict(errors.VM_ALREADY_PROTECTED,
                              f"The virtual machine '{vm['name']}' is the failback target of the replicated item "
                              f"'{target_of['name']}', which replicates back into it.",
                              action="Fail back (failover RecoveryToPrimary) and commit, then reprotect; or disable replication "
                                     "of that item first.")
    rid = f"{container['id']}/replicationProtectedItems/{name}"
    if world.get(rid) is not None:
        raise errors.conflict(errors.VM_ALREADY_PROTECTED, f"The replicated item '{name}' already exists.")
    if not infra.vm_is_running(world, vm):
        raise errors.bad_request(errors.VM_NOT_RUNNING, f"The virtual machine '{vm['name']}' is not running.",
                                 causes="Site Recovery installs its extension in the running virtual machine.",
                                 action="Start the virtual machine and retry.")

    if group_name:
        group_id = _group_id(world, vault, str(group_name), given.get("multiVmGroupId")) or \
            stable_guid(vault["id"], "group", str(group_name))
        members = group_members(world, vault, group_id)
        if len(members) + 1 > MAX_GROUP_SIZE:
            raise errors.bad_request(
                errors.MULTI_VM_GROUP_LIMIT,
                f"The multi-VM group '{group_name}' already holds {len(members)} virtual machines; a group holds at "
                f"most {MAX_GROUP_SIZE}.", action="Split the virtual machines across groups.")
        group = {"multiVmGroupId": group_id, "multiVmGroupName": group_name, "multiVmGroupCreateOption": "UserSpecified"}
    else:
        # Without a group name ASR puts the VM alone in an auto-created group named after it.
        group = {"multiVmGroupId": stable_guid(rid, "group"), "multiVmGroupName": vm["name"],
                 "multiVmGroupCreateOption": "AutoCreated"}

    recovery_rg = str(given.get("recoveryResourceGroupId") or "")
    if not infra.group_exists(world, recovery_rg):
        raise errors.invalid_input(f"The recovery resource group '{recovery_rg}' was not found.")
    placement = _recovery_placement(world, given, fabric_location(recovery_fabric), recovery_rg)
    disks = _protected_disks(world, vm, given, recovery_rg)
    network_id, vm_nics = _vm_nics(world, vault, vm, given, recovery_fabric)
    primary_zone = infra.vm_zone(vm)

    item_props = {
        "friendlyName": vm["name"],
        "protectedItemType": "AzureVirtualMachine",
        "protectableItemId": None,
        "recoveryServicesProviderId": "",
        "primaryFabricFriendlyName": fabric["properties"]["friendlyName"],
        "primaryFabricProvider": "Azure",
        "recoveryFabricFriendlyName": recovery_fabric["properties"]["friendlyName"],
        "recoveryFabricId": recovery_fabric["id"],
        "primaryProtectionContainerFriendlyName": container["properties"]["friendlyName"],
        "recoveryProtectionContainerFriendlyName": recovery_container["properties"]["friendlyName"],
        "protectionState": State.ENABLING,
        "protectionStateDescription": DESCRIPTIONS[State.ENABLING],
        "activeLocation": "Primary",
        "testFailoverState": TestState.NONE,
        "testFailoverStateDescription": TEST_DESCRIPTIONS[TestState.NONE],
        "allowedOperations": list(ALLOWED[State.ENABLING]),
        "replicationHealth": "None",
        "failoverHealth": "Normal",
        "healthErrors": [],
        "policyId": policy["id"],
        "policyFriendlyName": policy["properties"]["friendlyName"],
        "lastSuccessfulFailoverTime": None,
        "lastSuccessfulTestFailoverTime": None,
        "currentScenario": no_scenario(vault),
        "failoverRecoveryPointId": None,
        "providerSpecificDetails": {
            "instanceType": "A2A",
            "fabricObjectId": vm["id"],
            "initialPrimaryZone": primary_zone, "initialPrimaryFabricLocation": fabric_location(fabric),
            "initialRecoveryZone": placement["recoveryAvailabilityZone"],
            "initialRecoveryFabricLocation": fabric_location(recovery_fabric),
            **group,
            "managementId": stable_guid(rid, "management"),
            "protectionClusterId": None,
            "protectedDisks": [],
            "unprotectedDisks": [],
            "protectedManagedDisks": disks,
            "recoveryBootDiagStorageAccountId": given.get("recoveryBootDiagStorageAccountId"),
            "primaryFabricLocation": fabric_location(fabric),
            "recoveryFabricLocation": fabric_location(recovery_fabric),
            "osType": infra.vm_os_type(vm),
            "recoveryAzureVMSize": infra.vm_size(vm),
            "recoveryAzureVMName": vm["name"],
            "recoveryAzureResourceGroupId": recovery_rg,
            "recoveryCloudService": None,
            "recoveryAvailabilitySet": placement["recoveryAvailabilitySet"],
            "selectedRecoveryAzureNetworkId": network_id,
            "selectedTfoAzureNetworkId": None,
            "vmNics": vm_nics,
            "vmSyncedConfigDetails": {"tags": dict(vm.get("tags") or {}), "inputEndpoints": []},
            "monitoringPercentageCompletion": None,
            "monitoringJobType": None,
            "lastHeartbeat": now_iso(world),
            "agentVersion": "9.62.7096.1",
            "isReplicationAgentUpdateRequired": False,
            "recoveryFabricObjectId": None,
            "vmProtectionState": State.ENABLING,
            "vmProtectionStateDescription": DESCRIPTIONS[State.ENABLING],
            "lifecycleId": stable_guid(rid, "lifecycle"),
            "testFailoverRecoveryFabricObjectId": None,
            "rpoInSeconds": None,
            "lastRpoCalculatedTime": None,
            "primaryAvailabilityZone": primary_zone,
            "recoveryAvailabilityZone": placement["recoveryAvailabilityZone"],
            "vmEncryptionType": "NotEncrypted",
            "tfoAzureVMName": None,
            "recoveryProximityPlacementGroupId": placement["recoveryProximityPlacementGroupId"],
            "autoProtectionOfDataDisk": given.get("autoProtectionOfDataDisk") or "Disabled",
            "recoveryVirtualMachineScaleSetId": given.get("recoveryVirtualMachineScaleSetId"),
            "recoveryCapacityReservationGroupId": given.get("recoveryCapacityReservationGroupId"),
            "churnOptionSelected": "Normal",
        },
        "recoveryContainerId": recovery_container["id"],
        "eventCorrelationId": None,
    }
    with world.lock:
        item = world.put({"id": rid, "name": name, "type": ITEM_TYPE, "properties": item_props})
        asr_state(world).items[rid.lower()] = ItemMeta(vm_id=vm["id"])
        refresh_container_counts(world, container)
    return item


def _protected_disks(world: World, vm: dict[str, Any], given: dict[str, Any], recovery_rg: str) -> list[dict[str, Any]]:
    managed = given.get("vmManagedDisks") or []
    if not managed:
        raise errors.bad_request(errors.VM_DISKS_MISSING, "vmManagedDisks must list the managed disks to replicate "
                                 "(at least the OS disk), each with its cache storage account.")
    order = [d["id"].lower() for d in infra.vm_disks(world, vm)]
    source_disks = {d["id"].lower(): d for d in infra.vm_disks(world, vm)}
    # OS disk first, then data disks in LUN order, whatever order the input lists them in.
    managed = sorted(managed, key=lambda d: order.index(str(d.get("diskId", "")).lower())
                     if str(d.get("diskId", "")).lower() in order else len(order))
    result = []
    for disk in managed:
        source = source_disks.get(str(disk.get("diskId", "")).lower())
        if source is None:
            raise errors.invalid_input(f"The disk '{disk.get('diskId')}' is not attached to '{vm['name']}'.")
        _validate_cache(world, disk.get("primaryStagingAzureStorageAccountId"), vm, what=f"disk '{source['name']}'")
        replica = disk.get("recoveryReplicaDiskAccountType") or source["sku"]
        target = disk.get("recoveryTargetDiskAccountType") or source["sku"]
        for value in (replica, target):
            if value not in DISK_ACCOUNT_TYPES:
                raise errors.invalid_input(f"'{value}' is not a disk account type.")
        disk_rg = disk.get("recoveryResourceGroupId") or recovery_rg
        if not infra.group_exists(world, disk_rg):
            raise errors.invalid_input(f"The recovery resource group '{disk_rg}' was not found.")
        result.append({
            "diskId": source["id"], "recoveryResourceGroupId": disk_rg,
            "recoveryTargetDiskId": None, "recoveryReplicaDiskId": None, "recoveryOrignalTargetDiskId": None,
            "recoveryReplicaDiskAccountType": replica, "recoveryTargetDiskAccountType": target,
            "recoveryDiskEncryptionSetId": disk.get("recoveryDiskEncryptionSetId"), "primaryDiskEncryptionSetId": None,
            "diskName": source["name"], "diskCapacityInBytes": source["sizeGb"] * 1024 ** 3,
            "primaryStagingAzureStorageAccountId": disk["primaryStagingAzureStorageAccountId"],
            "diskType": source["sku"], "resyncRequired": False,
            "monitoringPercentageCompletion": None, "monitoringJobType": None,
            "dataPendingInStagingStorageAccountInMB": 0.0, "dataPendingAtSourceAgentInMB": 0.0,
            "diskState": "InitialReplicationPending", "allowedDiskLevelOperation": [],
            "isDiskEncrypted": False, "secretIdentifier": None, "dekKeyVaultArmId": None,
            "isDiskKeyEncrypted": False, "keyIdentifier": None, "kekKeyVaultArmId": None,
            "failoverDiskName": f"{source['name']}-ASRReplica", "tfoDiskName": f"{source['name']}-test",
        })
    return result


def _vm_nics(world: World, vault: dict[str, Any], vm: dict[str, Any], given: dict[str, Any],
             recovery_fabric: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """``VMNicDetails`` for each NIC, with only the primary IP configuration (all ASR replicates)."""
    nics = [n for n in (infra.get(world, nid) for nid in infra.vm_nic_ids(vm)) if n is not None]
    primaries = [infra.ip_config_summary(infra.primary_ip_config(n)) for n in nics]
    source_vnet = primaries[0]["vnet_id"] if primaries else ""
    network_id = given.get("recoveryAzureNetworkId") or mapped_recovery_network(world, vault, source_vnet)
    recovery_vnet = infra.get(world, network_id)
    if network_id and recovery_vnet is None:
        raise errors.invalid_input(f"The recovery virtual network '{network_id}' was not found.")
    if recovery_vnet is not None and infra.location(recovery_vnet) != fabric_location(recovery_fabric):
        raise errors.invalid_input(f"The recovery virtual network '{recovery_vnet['name']}' is not in the recovery "
                                   f"region '{fabric_location(recovery_fabric)}'.")
    requested_subnet = given.get("recoverySubnetName")
    if requested_subnet and recovery_vnet is not None and infra.subnet_named(recovery_vnet, requested_subnet) is None:
        raise errors.invalid_input(f"The subnet '{requested_subnet}' does not exist in '{recovery_vnet['name']}'.")
    result = []
    for nic, primary in zip(nics, primaries, strict=True):
        subnet = requested_subnet
        if not subnet and recovery_vnet is not None:
            # ASR's default: the subnet of the same name in the recovery network, else its first subnet.
            same = infra.subnet_named(recovery_vnet, primary["subnet_name"])
            first = infra.subnets(recovery_vnet)[:1]
            subnet = same["name"] if same else (first[0]["name"] if first else None)
        result.append({
            "nicId": nic["id"], "replicaNicId": None, "sourceNicArmId": nic["id"],
            "vMNetworkName": primary["vnet_id"], "recoveryVMNetworkId": network_id,
            "ipConfigs": [{
                "name": primary["name"], "isPrimary": True, "subnetName": primary["subnet_name"],
                "staticIPAddress": primary["address"], "ipAddressType": primary["allocation"],
                "isSeletedForFailover": True, "recoverySubnetName": subnet, "recoveryStaticIPAddress": None,
                "recoveryIPAddressType": primary["allocation"], "recoveryPublicIPAddressId": None,
                "recoveryLBBackendAddressPoolIds": [], "tfoSubnetName": None, "tfoStaticIPAddress": None,
                "tfoPublicIPAddressId": None, "tfoLBBackendAddressPoolIds": [],
            }],
            "selectionType": "SelectedByDefault", "recoveryNetworkSecurityGroupId": None,
            "enableAcceleratedNetworkingOnRecovery": False, "tfoVMNetworkId": None, "tfoNetworkSecurityGroupId": None,
            "enableAcceleratedNetworkingOnTfo": False, "recoveryNicName": None, "recoveryNicResourceGroupName": None,
            "reuseExistingNic": False, "tfoRecoveryNicName": None, "tfoRecoveryNicResourceGroupName": None,
            "tfoReuseExistingNic": False, "targetNicName": nic["name"],
        })
    return network_id, result


# -- scenario bookkeeping ---------------------------------------------------------------------------

def no_scenario(vault: dict[str, Any]) -> dict[str, Any]:
    return {"scenarioName": "None", "jobId": f"{asr_prefix(vault)}/replicationJobs/None", "startTime": NO_JOB_TIME}


def begin_scenario(item: dict[str, Any], job: dict[str, Any]) -> None:
    props(item)["currentScenario"] = {"scenarioName": job["properties"]["scenarioName"], "jobId": job["id"],
                                      "startTime": job["properties"]["startTime"]}


def end_scenario(world: World, item: dict[str, Any]) -> None:
    props(item)["currentScenario"] = no_scenario(vault_for(world, item["id"]))


def set_state(item: dict[str, Any], state: str) -> None:
    p = props(item)
    p["protectionState"] = state
    p["protectionStateDescription"] = DESCRIPTIONS[state]
    details = a2a(item)
    details["vmProtectionState"] = state
    details["vmProtectionStateDescription"] = DESCRIPTIONS[state]
    _refresh_allowed(item)


def set_test_state(item: dict[str, Any], state: str) -> None:
    p = props(item)
    p["testFailoverState"] = state
    p["testFailoverStateDescription"] = TEST_DESCRIPTIONS[state]
    if state == TestState.WAITING:
        p["protectionStateDescription"] = "Cleanup test failover pending"
    elif p["protectionState"] in DESCRIPTIONS:
        p["protectionStateDescription"] = DESCRIPTIONS[p["protectionState"]]
    _refresh_allowed(item)


def _refresh_allowed(item: dict[str, Any]) -> None:
    p = props(item)
    if p["testFailoverState"] == TestState.WAITING:
        p["allowedOperations"] = ["TestFailoverCleanup"]
    elif p["testFailoverState"] == TestState.CLEANING:
        p["allowedOperations"] = []
    else:
        p["allowedOperations"] = list(ALLOWED.get(p["protectionState"], []))


# -- updates ------------------------------------------------------------------------------------------

def update(world: World, item: dict[str, Any], given: dict[str, Any]) -> None:
    """``UpdateReplicationProtectedItemInput``: recovery VM name/size/network and per-NIC failover settings.

    ASR keeps only a NIC's primary IP configuration: ip configs that are not primary are dropped.
    """
    details, p = a2a(item), props(item)
    if p["protectionState"] in (State.ENABLING, State.DISABLING):
        raise errors.conflict(errors.OPERATION_NOT_ALLOWED,
                              f"The item '{item['name']}' is {p['protectionState']}; it cannot be updated now.")
    for key in ("recoveryAzureVMName", "recoveryAzureVMSize"):
        if given.get(key):
            details[key] = given[key]
    recovery_region = details["recoveryFabricLocation"]
    for key in ("selectedRecoveryAzureNetworkId", "selectedTfoAzureNetworkId"):
        if given.get(key):
            vnet = infra.get(world, given[key])
            if vnet is None:
                raise errors.invalid_input(f"The virtual network '{given[key]}' was not found.")
            if infra.location(vnet) != recovery_region:
                raise errors.invalid_input(f"The virtual network '{vnet['name']}' is not in the recovery region "
                                           f"'{recovery_region}'.")
            details[key] = vnet["id"]
            # The NICs fail over into the network selected for the item.
            for nic in details["vmNics"]:
                nic["recoveryVMNetworkId" if key == "selectedRecoveryAzureNetworkId" else "tfoVMNetworkId"] = vnet["id"]
    provider = given.get("providerSpecificDetails") or {}
    if provider:
        if provider.get("instanceType") != "A2A":
            raise errors.invalid_input("providerSpecificDetails.instanceType must be 'A2A'.")
        if provider.get("recoveryResourceGroupId"):
            if not infra.group_exists(world, provider["recoveryResourceGroupId"]):
                raise errors.invalid_input(f"The resource group '{provider['recoveryResourceGroupId']}' was not found.")
            details["recoveryAzureResourceGroupId"] = provider["recoveryResourceGroupId"]
        if provider.get("tfoAzureVMName"):
            details["tfoAzureVMName"] = provider["tfoAzureVMName"]
        for disk_update in provider.get("managedDiskUpdateDetails") or []:
            disk = next((d for d in details["protectedManagedDisks"] if same_id(d["diskId"], disk_update.get("diskId"))),
                        None)
            if disk is None:
                raise errors.invalid_input(f"The disk '{disk_update.get('diskId')}' is not protected by this item.")
            for key in ("recoveryTargetDiskAccountType", "recoveryReplicaDiskAccountType", "failoverDiskName",
                        "tfoDiskName"):
                if disk_update.get(key):
                    disk[key] = disk_update[key]
    if given.get("vmNics") is not None:
        _replace_nics(world, item, given["vmNics"])


# What an update's ``vmNics`` sets, and what each becomes when the update leaves it out: the list replaces the item's
# NIC settings, NIC by NIC and field by field. Microsoft's own Set-AzRecoveryServicesAsrReplicationProtectedItem
# always resends every NIC with every field (azure-powershell src/RecoveryServices/RecoveryServices.SiteRecovery/
# ReplicationProtectedItem/SetAzureRmRecoveryServicesAsrReplicationProtectedItem.cs, its vmNics built from the item's
# VMNicDetails), which says the service does not merge; so a NIC or a field a caller omits is reset here.
_NIC_FIELDS = {"recoveryNetworkSecurityGroupId": None, "tfoNetworkSecurityGroupId": None, "recoveryNicName": None,
               "recoveryNicResourceGroupName": None, "enableAcceleratedNetworkingOnRecovery": False,
               "enableAcceleratedNetworkingOnTfo": False, "reuseExistingNic": False, "tfoReuseExistingNic": False,
               "tfoRecoveryNicName": None, "tfoRecoveryNicResourceGroupName": None}
_NIC_INPUT_NAMES = {"tfoRecoveryNicName": "tfoNicName", "tfoRecoveryNicResourceGroupName": "tfoNicResourceGroupName"}
_IP_CONFIG_FIELDS = {"recoverySubnetName": None, "recoveryStaticIPAddress": None, "recoveryPublicIPAddressId": None,
                     "tfoSubnetName": None, "tfoStaticIPAddress": None, "tfoPublicIPAddressId": None,
                     "recoveryLBBackendAddressPoolIds": [], "tfoLBBackendAddressPoolIds": []}


def _replace_nics(world: World, item: dict[str, Any], given: Any) -> None:
    if not isinstance(given, list) or not all(isinstance(n, dict) for n in given):
        raise errors.invalid_input("'vmNics' must be a list of NIC inputs.")
    details = a2a(item)
    for nic_input in given:
        if not any(same_id(n["nicId"], nic_input.get("nicId")) for n in details["vmNics"]):
            raise errors.invalid_input(f"The NIC '{nic_input.get('nicId')}' is not a NIC of the protected virtual "
                                       "machine.")
    for nic in details["vmNics"]:
        nic_input = next((n for n in given if same_id(n.get("nicId"), nic["nicId"])), {})
        _update_nic(world, item, nic, nic_input)


def _update_nic(world: World, item: dict[str, Any], nic: dict[str, Any], nic_input: dict[str, Any]) -> None:
    details = a2a(item)
    for key, default in _NIC_FIELDS.items():
        value = nic_input.get(_NIC_INPUT_NAMES.get(key, key))
        nic[key] = (bool(value) if isinstance(default, bool) else value) if value is not None else default
    nic["targetNicName"] = nic_input.get("targetNicName") or name_of(nic["nicId"])
    primary = nic["ipConfigs"][0]
    # ASR keeps only the primary IP configuration; settings for the others are ignored.
    config = next((c for c in nic_input.get("ipConfigs") or [] if isinstance(c, dict) and c.get("isPrimary") is not False
                   and str(c.get("ipConfigName") or primary["name"]).lower() == str(primary["name"]).lower()), {})
    for key, default in _IP_CONFIG_FIELDS.items():
        primary[key] = list(default) if isinstance(default, list) else default
    primary["recoveryIPAddressType"] = "Static" if config.get("recoveryStaticIPAddress") else primary.get("ipAddressType")
    if config:
        for key in ("recoverySubnetName", "recoveryStaticIPAddress", "recoveryPublicIPAddressId", "tfoSubnetName",
                    "tfoStaticIPAddress", "tfoPublicIPAddressId"):
            primary[key] = config.get(key) or None
        for key, region in (("recoveryLBBackendAddressPoolIds", details["recoveryFabricLocation"]),
                            ("tfoLBBackendAddressPoolIds", details["recoveryFabricLocation"])):
            pools = list(config.get(key) or [])
            for pool_id in pools:
                if not infra.pool_exists(world, pool_id):
                    raise errors.invalid_input(f"The load balancer backend pool '{pool_id}' was not found.")
                if infra.pool_location(world, pool_id) != region:
                    raise errors.invalid_input(f"The load balancer of pool '{pool_id}' is not in the recovery region "
                                               f"'{region}'.")
            primary[key] = pools
        if config.get("isSeletedForFailover") is not None:
            primary["isSeletedForFailover"] = bool(config["isSeletedForFailover"])


def remove(world: World, item: dict[str, Any]) -> None:
    with world.lock:
        container = container_of(world, item)
        world.delete(item["id"])
        asr_state(world).items.pop(item["id"].lower(), None)
        refresh_container_counts(world, container)
