"""Failover of protected items: the checks ASR makes before each action, and what each action leaves.

Actions and the states they leave (``protectionState`` / ``testFailoverState``):

- unplanned failover -> ``UnplannedFailoverCommitPendingStatesBegin`` ("Failover completed"), active
  location ``Recovery``; with ``sourceSiteOperations: Required`` the source VM is shut down first (how
  Azure-to-Azure fails back: it has no planned failover, which is refused);
- commit -> ``UnplannedFailoverCommitted`` / ``PlannedFailoverCommitted`` ("Failover committed");
- reprotect (A2A: switch protection, on the item's container) -> the item moves under the recovery
  region's container (ASR re-creates the replicated item there, so its ID changes), replicates the
  other way, and goes through initial replication back to ``Protected``; recovery plans that named the
  old ID name the new one;
- test failover -> ``testFailoverState`` ``WaitingForCompletion`` ("Waiting for user input"),
  ``allowedOperations`` only ``TestFailoverCleanup``; cleanup -> ``None`` and
  ``lastSuccessfulTestFailoverTime`` set.

Failover creates the recovered VM in the recovery resource group and region (named
``recoveryAzureVMName``; a test VM ``tfoAzureVMName`` or ``<name>-test``) with the source VM's user
tags, and one NIC per protected NIC in the mapped subnet (test failover: in the test network), with
the item's ``recoveryStaticIPAddress`` when set, else the source address when it is free and inside
the subnet, else the next free address; NICs join the backend pools named on the item
(``recoveryLBBackendAddressPoolIds``, ``tfoLBBackendAddressPoolIds`` for a test). The recovered VM (and
a test VM) is placed as the item says (``_placement``): in its recovery availability set or zone, and
in its proximity placement group when that still exists. The guest model is cloned onto the recovered VM.

Rules: no single-VM failover (or test failover) inside a multi-VM group: the group fails over as a
unit through a recovery plan; one test failover at a time; commit only after a failover; reprotect
only after commit, with a reverse container mapping and every managed disk of the failed-over VM
staged through a cache storage account in the DR region.

An action on an item (``protection``) or on each item of a plan (``plans``) is a ``Check``, run when it
is asked for and again when its job runs, and a ``Transition`` given what the check prepared.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from emulator.core.world import World
from emulator.providers.recoveryservices import errors, infra, items, replication
from emulator.providers.recoveryservices.events import Changes
from emulator.providers.recoveryservices.items import COMMIT_PENDING, COMMITTED, State, TestState, a2a, props
from emulator.providers.recoveryservices.state import (
    PLAN_TYPE,
    ItemMeta,
    asr_state,
    container_of,
    fabric_of,
    mapping_between,
    name_of,
    now_iso,
    refresh_container_counts,
    require,
    same_id,
    segment,
    subscription_of,
    vault_for,
)

VM_TYPE = "Microsoft.Compute/virtualMachines"
NIC_TYPE = "Microsoft.Network/networkInterfaces"
DISK_TYPE = "Microsoft.Compute/disks"
DIRECTIONS = ("PrimaryToRecovery", "RecoveryToPrimary")
RECOVERY_POINT_TYPES = ("Latest", "LatestApplicationConsistent", "LatestCrashConsistent", "LatestProcessed")

Prepared = dict[str, Any]
Check = Callable[[World, dict[str, Any]], Prepared]
Transition = Callable[[World, dict[str, Any], Prepared, Changes], dict[str, Any] | None]


# -- checks (run before the job starts: a broken rule is the caller's synchronous error) -----------------

def check_direction(direction: Any) -> None:
    if direction is not None and direction not in DIRECTIONS:
        raise errors.invalid_input(f"failoverDirection must be one of {', '.join(DIRECTIONS)}; got {direction!r}.")


def check_failover(world: World, item: dict[str, Any], *, via_plan: bool) -> None:
    state = props(item)["protectionState"]
    if not via_plan:
        _check_not_in_group(world, item)
    if state in COMMIT_PENDING or state in COMMITTED:
        raise errors.conflict(errors.OPERATION_NOT_ALLOWED,
                              f"The item '{item['name']}' has already failed over ({state}).",
                              action="Commit the failover, then reprotect before failing over again.")
    if state != State.PROTECTED:
        raise errors.conflict(errors.OPERATION_NOT_ALLOWED,
                              f"The item '{item['name']}' is {state}; failover needs a protected item.",
                              action="Wait for initial replication to complete.")


def check_test_failover(world: World, item: dict[str, Any], *, via_plan: bool) -> None:
    if not via_plan:
        _check_not_in_group(world, item)
    if props(item)["testFailoverState"] != TestState.NONE:
        raise errors.conflict(errors.TEST_FAILOVER_IN_PROGRESS,
                              f"A test failover of '{item['name']}' is already in progress.",
                              causes="A previous test failover has not been cleaned up.",
                              action="Run test failover cleanup, then start a new test failover.")
    state = props(item)["protectionState"]
    if state != State.PROTECTED:
        raise errors.conflict(errors.OPERATION_NOT_ALLOWED,
                              f"The item '{item['name']}' is {state}; test failover needs a protected item.")


def check_cleanup(item: dict[str, Any]) -> None:
    if props(item)["testFailoverState"] != TestState.WAITING:
        raise errors.bad_request(errors.NO_TEST_FAILOVER, f"The item '{item['name']}' has no test failover to clean up.")


def check_commit(world: World, item: dict[str, Any]) -> Prepared:
    """The commit's ``Check``."""
    state = props(item)["protectionState"]
    if state not in COMMIT_PENDING:
        raise errors.bad_request(errors.COMMIT_BEFORE_FAILOVER,
                                 f"The item '{item['name']}' is {state}; only a failed-over item can be committed.",
                                 action="Fail the item over first.")
    return {}


def check_reprotect(world: World, item: dict[str, Any], *, disks: list[dict[str, Any]],
                    recovery_container_id: str | None = None, policy_id: str | None = None) -> dict[str, Any]:
    """Switch protection's ``Check``: the reverse mapping it will use, once ``disks`` (its ``vmManagedDisks``) are
    checked against the failed-over VM."""
    state = props(item)["protectionState"]
    if state not in COMMITTED:
        raise errors.bad_request(errors.REPROTECT_BEFORE_COMMIT,
                                 f"The item '{item['name']}' is {state}; reprotect needs a committed failover.",
                                 action="Commit the failover, then reprotect.")
    source_container = container_of(world, item)
    target_container = require(world, props(item)["recoveryContainerId"], "protection container")
    if recovery_container_id and not same_id(recovery_container_id, source_container["id"]):
        raise errors.invalid_input("recoveryContainerId must be the container the item was protected from.")
    reverse = mapping_between(world, target_container, source_container["id"], policy_id or None)
    if reverse is None:
        bound = f" with policy '{name_of(policy_id)}'" if policy_id else ""
        raise errors.bad_request(
            errors.CONTAINER_MAPPING_NOT_FOUND,
            f"No reverse protection container mapping from '{target_container['name']}' to "
            f"'{source_container['name']}'{bound} exists.", action="Create the reverse container mapping, then reprotect.")
    failed_over = infra.get(world, a2a(item).get("recoveryFabricObjectId"))
    if failed_over is None:
        raise errors.invalid_input("The failed-over virtual machine no longer exists.")
    _check_reprotect_disks(world, failed_over, disks)
    return reverse


def _check_reprotect_disks(world: World, vm: dict[str, Any], disks: list[dict[str, Any]]) -> None:
    """Every managed disk of the failed-over VM, and only those, each staged through a cache in the VM's region
    and subscription (``items._validate_cache``) into a resource group that exists: Microsoft's tooling lists the
    failed-over VM's OS disk and each data disk (azure-powershell UpdateAzureRmRecoveryServicesAsrProtectionDirection.cs,
    ``populateManagedDiskInputDetails``)."""
    attached = {d["id"].lower(): d for d in infra.vm_disks(world, vm)}
    for disk in disks:
        found = attached.get(str(disk.get("diskId")).lower())
        if found is None:
            raise errors.invalid_input(f"The disk '{disk.get('diskId')}' is not a managed disk of the failed-over "
                                       f"virtual machine '{vm['name']}'.")
        items._validate_cache(world, disk.get("primaryStagingAzureStorageAccountId"), vm,
                              what=f"disk '{found['name']}'")
        if not infra.group_exists(world, disk.get("recoveryResourceGroupId")):
            raise errors.invalid_input(f"The recovery resource group '{disk.get('recoveryResourceGroupId')}' of disk "
                                       f"'{found['name']}' was not found.")
        for key in ("recoveryReplicaDiskAccountType", "recoveryTargetDiskAccountType"):
            if disk.get(key) is not None and disk[key] not in items.DISK_ACCOUNT_TYPES:
                raise errors.invalid_input(f"'{disk[key]}' is not a disk account type ({key}).")
    listed = {str(d.get("diskId")).lower() for d in disks}
    missing = [d["name"] for key, d in attached.items() if key not in listed]
    if missing:
        raise errors.bad_request(errors.VM_DISKS_MISSING,
                                 f"vmManagedDisks must list every managed disk of the failed-over virtual machine "
                                 f"'{vm['name']}'; missing: {', '.join(missing)}.",
                                 action="List the OS disk and every data disk, each with its cache storage account.")


def _check_not_in_group(world: World, item: dict[str, Any]) -> None:
    others = items.in_user_group(world, item)
    if others:
        group = a2a(item)["multiVmGroupName"]
        raise errors.bad_request(
            errors.GROUP_FAILOVER_REQUIRED,
            f"The virtual machine '{props(item)['friendlyName']}' is part of the multi-VM consistency group '{group}' "
            f"with {len(others)} other virtual machine(s); it cannot fail over alone.",
            causes="Virtual machines of a multi-VM group fail over together.",
            action="Fail over the whole group through a recovery plan that holds all its virtual machines.")


def pick_recovery_point(world: World, item: dict[str, Any], *, point_type: str | None = None,
                        point_id: str | None = None, sync_option: str | None = None) -> dict[str, Any]:
    if point_type is not None and point_type not in RECOVERY_POINT_TYPES:
        raise errors.invalid_input(f"recoveryPointType must be one of {', '.join(RECOVERY_POINT_TYPES)}.")
    if sync_option not in (None, replication.USE_MULTI_VM, replication.USE_PER_VM):
        raise errors.invalid_input(f"multiVmSyncPointOption must be {replication.USE_MULTI_VM} or "
                                   f"{replication.USE_PER_VM}.")
    if point_id:
        found = next((p for p in replication.recovery_points(world, item) if same_id(p["id"], point_id)), None)
        if found is None:
            raise errors.invalid_input(f"The recovery point '{point_id}' does not exist for '{item['name']}'.")
        return found
    found = replication.latest_point(world, item, point_type, sync_option)
    if found is None:
        what = "application-consistent " if point_type == "LatestApplicationConsistent" else ""
        if sync_option == replication.USE_MULTI_VM:
            raise errors.bad_request("NoRecoveryPointAvailable",
                                     f"No multi-VM consistent recovery point is available for "
                                     f"'{props(item)['friendlyName']}'.",
                                     causes="The item is in no multi-VM group, or a member of its group is not "
                                            "protected yet.", action="Use multiVmSyncPointOption UsePerVmRecoveryPoint.")
        raise errors.bad_request("NoRecoveryPointAvailable",
                                 f"No {what}recovery point is available for '{props(item)['friendlyName']}'.",
                                 causes="The policy takes no application-consistent snapshots."
                                 if what else "Initial replication has not completed.")
    return found


# -- what failover builds ------------------------------------------------------------------------------

def _unique_name(world: World, subscription_id: str, resource_group: str, provider_type: str, name: str) -> str:
    candidate, n = name, 1
    while world.get(f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{provider_type}/"
                    f"{candidate}") is not None:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def _recovered_nics(world: World, item: dict[str, Any], *, test: bool, network_id: str | None,
                    changes: Changes) -> list[str]:
    details = a2a(item)
    rg_id = details["recoveryAzureResourceGroupId"]
    subscription = subscription_of(rg_id)
    region = details["recoveryFabricLocation"]
    tags = dict((infra.get(world, details["fabricObjectId"]) or {}).get("tags") or {})
    created: list[str] = []
    for nic in details["vmNics"]:
        config = nic["ipConfigs"][0]
        if test:
            vnet_id = network_id
            wanted_subnet = config.get("tfoSubnetName") or config.get("recoverySubnetName")
            wanted_ip = config.get("tfoStaticIPAddress") or config.get("staticIPAddress")
            pools = list(config.get("tfoLBBackendAddressPoolIds") or [])
            name = nic.get("tfoRecoveryNicName") or f"{nic['targetNicName']}-test"
            group = nic.get("tfoRecoveryNicResourceGroupName") or segment(rg_id, "resourceGroups")
        else:
            vnet_id = nic.get("recoveryVMNetworkId") or details.get("selectedRecoveryAzureNetworkId")
            wanted_subnet = config.get("recoverySubnetName")
            wanted_ip = config.get("recoveryStaticIPAddress") or config.get("staticIPAddress")
            pools = list(config.get("recoveryLBBackendAddressPoolIds") or [])
            name = nic.get("recoveryNicName") or nic["targetNicName"]
            group = nic.get("recoveryNicResourceGroupName") or segment(rg_id, "resourceGroups")
        vnet = infra.get(world, vnet_id)
        if vnet is None:
            raise errors.bad_request("RecoveryNetworkNotConfigured",
                                     f"No recovery network is configured for '{props(item)['friendlyName']}'.",
                                     action="Set a network mapping or the item's recovery network.")
        subnet = (infra.subnet_named(vnet, wanted_subnet) or infra.subnet_named(vnet, config.get("subnetName"))
                  or next(iter(infra.subnets(vnet)), None))
        if subnet is None:
            raise errors.bad_request("RecoveryNetworkNotConfigured", f"The network '{vnet['name']}' has no subnet.")
        subnet_id = subnet.get("id") or f"{vnet['id']}/subnets/{subnet['name']}"
        # Keep the wanted address when it fits the recovery subnet and is free, else take the next free one.
        static_ip = wanted_ip if infra.address_is_usable(world, subnet_id, wanted_ip) \
            else infra.next_free_ip(world, subnet_id)
        group = group or ""
        nic_name = _unique_name(world, subscription, group, NIC_TYPE, name)
        created_nic = infra.create_nic(world, subscription_id=subscription, resource_group=group, name=nic_name,
                                       location_=region, subnet_id=subnet_id, static_ip=static_ip, pool_ids=pools,
                                       tags=tags)
        changes.wrote(created_nic["id"], NIC_TYPE)
        created.append(created_nic["id"])
    return created


def _placement(world: World, details: dict[str, Any]) -> dict[str, Any]:
    """The recovered VM's placement, from the item (checked at enable, ``items._recovery_placement``): its recovery
    availability set or zone, and its proximity placement group. The group is best effort: "If you can't bring up the
    VMs inside a proximity placement group, the failover and failback will still happen, but VMs will be created
    outside the proximity placement group" (articles/site-recovery/how-to-enable-replication-proximity-placement-
    groups.md, "Considerations"), so a group deleted since the enable is left out. A deleted availability set is not:
    the VM's create then fails as Compute fails it, and so does the failover job."""
    ppg_id = details.get("recoveryProximityPlacementGroupId")
    return {"availability_set_id": details.get("recoveryAvailabilitySet") or None,
            "zone": details.get("recoveryAvailabilityZone") or None,
            "proximity_placement_group_id": ppg_id if ppg_id and infra.get(world, ppg_id) is not None else None}


def _recover_vm(world: World, item: dict[str, Any], *, test: bool, network_id: str | None,
                changes: Changes) -> tuple[str, list[str]]:
    details = a2a(item)
    source = infra.get(world, details["fabricObjectId"])
    if source is None:
        raise errors.invalid_input(f"The protected virtual machine '{details['fabricObjectId']}' no longer exists.")
    name = (details.get("tfoAzureVMName") or f"{details['recoveryAzureVMName']}-test") if test \
        else details["recoveryAzureVMName"]
    rg_id = details["recoveryAzureResourceGroupId"]
    vm_id = f"{rg_id}/providers/{VM_TYPE}/{name}"
    if world.get(vm_id) is not None:
        raise errors.conflict(errors.RECOVERY_RESOURCE_CONFLICT,
                              f"A virtual machine named '{name}' already exists in '{name_of(rg_id)}'.",
                              action="Change the recovery virtual machine name or remove the existing one.")
    nic_ids = _recovered_nics(world, item, test=test, network_id=network_id, changes=changes)
    disks = []
    for disk in details["protectedManagedDisks"]:
        group_id = disk.get("recoveryResourceGroupId") or rg_id
        wanted = disk["tfoDiskName"] if test else disk["failoverDiskName"]
        disks.append({"name": _unique_name(world, subscription_of(group_id), segment(group_id, "resourceGroups") or "",
                                           DISK_TYPE, wanted),
                      "size_gb": max(1, int(disk["diskCapacityInBytes"]) // 1024 ** 3),
                      "sku": disk["recoveryTargetDiskAccountType"], "resource_group_id": group_id})
    vm = infra.create_vm(world, source=source, resource_group_id=rg_id, name=name,
                         location_=details["recoveryFabricLocation"], nic_ids=nic_ids, disks=disks,
                         **_placement(world, details))
    infra.clone_guest(world, source["id"], vm["id"], test=test)
    for disk_id in _disk_ids(vm):
        changes.wrote(disk_id, DISK_TYPE)
    changes.wrote(vm["id"], VM_TYPE)
    return vm["id"], nic_ids


def _disk_ids(vm: dict[str, Any]) -> list[str]:
    profile = vm["properties"]["storageProfile"]
    return [d["managedDisk"]["id"] for d in [profile["osDisk"], *profile.get("dataDisks", [])]
            if (d.get("managedDisk") or {}).get("id")]


def _remove(world: World, vm_id: str | None, nic_ids: list[str], changes: Changes) -> None:
    """Delete a VM ASR created and its NICs (deleting the VM takes its disks and NICs with it)."""
    remaining = [n for n in nic_ids if world.get(n) is not None]
    vm = world.get(vm_id) if vm_id else None
    if vm is not None:
        disks = _disk_ids(vm)
        infra.delete_vm(world, vm["id"])
        changes.deleted(vm["id"], VM_TYPE)
        for disk_id in disks:
            changes.deleted(disk_id, DISK_TYPE)
    for nic_id in remaining:
        if world.get(nic_id) is not None:
            infra.delete_nic(world, nic_id)
        changes.deleted(nic_id, NIC_TYPE)


# -- transitions (run when the job completes) ------------------------------------------------------------

def fail_over(world: World, item: dict[str, Any], *, point: dict[str, Any], shut_down_source: bool,
              changes: Changes) -> None:
    details, p = a2a(item), props(item)
    info = items.meta(world, item)
    if p["testFailoverState"] != TestState.NONE:
        # A real failover cleans up a test failover still running (ASR marks it for deletion).
        _remove(world, info.test_vm_id, info.test_nic_ids, changes)
        info.test_vm_id, info.test_nic_ids = None, []
        details["testFailoverRecoveryFabricObjectId"] = None
        items.set_test_state(item, TestState.NONE)
    if shut_down_source and world.get(details["fabricObjectId"]) is not None:
        infra.set_power(world, details["fabricObjectId"], "deallocated")
    existing = infra.get(world, details.get("recoveryFabricObjectId"))
    if existing is not None:
        # Failback: the VM on the other side is the one replication targets; ASR starts it again, on the disks
        # replication wrote: its guest is the failed-over node's (the cluster IP as the DR side left it).
        infra.set_power(world, existing["id"], "running")
        infra.clone_guest(world, details["fabricObjectId"], existing["id"])
        changes.wrote(existing["id"], VM_TYPE)
    else:
        vm_id, nic_ids = _recover_vm(world, item, test=False, network_id=None, changes=changes)
        details["recoveryFabricObjectId"] = vm_id
        info.recovery_nic_ids = nic_ids
    info.failover_kind = "Unplanned"
    items.set_state(item, State.UNPLANNED_COMMIT_PENDING)
    p["activeLocation"] = "Recovery"
    p["lastSuccessfulFailoverTime"] = now_iso(world)
    p["failoverRecoveryPointId"] = point["id"]


def test_fail_over(world: World, item: dict[str, Any], *, network_id: str, point: dict[str, Any],
                   changes: Changes) -> None:
    details, p = a2a(item), props(item)
    info = items.meta(world, item)
    vm_id, nic_ids = _recover_vm(world, item, test=True, network_id=network_id, changes=changes)
    info.test_vm_id, info.test_nic_ids = vm_id, nic_ids
    details["testFailoverRecoveryFabricObjectId"] = vm_id
    details["selectedTfoAzureNetworkId"] = network_id
    for nic in details["vmNics"]:
        nic["tfoVMNetworkId"] = network_id
    p["failoverRecoveryPointId"] = point["id"]
    items.set_test_state(item, TestState.WAITING)


def check_test_network(world: World, item: dict[str, Any], network_type: Any, network_id: Any) -> str:
    """Test failover goes to the isolated network given as input (``networkType`` ``VmNetworkAsInput``)."""
    if network_type not in (None, "VmNetworkAsInput"):
        raise errors.invalid_input("Azure-to-Azure test failover needs networkType 'VmNetworkAsInput' and a networkId.")
    vnet = infra.get(world, network_id)
    if vnet is None:
        raise errors.invalid_input(f"The test failover network '{network_id}' was not found.")
    if infra.location(vnet) != a2a(item)["recoveryFabricLocation"]:
        raise errors.invalid_input(f"The test failover network '{vnet['name']}' is not in the recovery region "
                                   f"'{a2a(item)['recoveryFabricLocation']}'.")
    return str(vnet["id"])


def clean_up_test(world: World, item: dict[str, Any], *, changes: Changes) -> None:
    info = items.meta(world, item)
    _remove(world, info.test_vm_id, info.test_nic_ids, changes)
    info.test_vm_id, info.test_nic_ids = None, []
    a2a(item)["testFailoverRecoveryFabricObjectId"] = None
    props(item)["lastSuccessfulTestFailoverTime"] = now_iso(world)
    items.set_test_state(item, TestState.NONE)


def mark_cleaning(item: dict[str, Any]) -> None:
    items.set_test_state(item, TestState.CLEANING)


def commit(world: World, item: dict[str, Any], prepared: Prepared, changes: Changes) -> None:
    """The commit's ``Transition``."""
    planned = props(item)["protectionState"] == State.PLANNED_COMMIT_PENDING
    items.set_state(item, State.PLANNED_COMMITTED if planned else State.UNPLANNED_COMMITTED)


def reprotect(world: World, item: dict[str, Any], *, reverse_mapping: dict[str, Any], disks: list[dict[str, Any]],
              recovery_resource_group_id: str | None = None, policy_id: str | None = None) -> dict[str, Any]:
    """Switch protection's transition: re-create the item under the recovery container, replicating the failed-over
    VM back, each of its disks (``disks``, checked by ``check_reprotect``) staged through the cache it names."""
    old_container = container_of(world, item)
    new_container = container_of(world, reverse_mapping)
    old_fabric, new_fabric = fabric_of(world, old_container), fabric_of(world, new_container)
    details = a2a(item)
    source_vm = infra.get(world, details["fabricObjectId"])
    failed_over = require(world, details["recoveryFabricObjectId"], "virtual machine")
    policy = require(world, policy_id or reverse_mapping["properties"]["policyId"], "policy")
    new_id = f"{new_container['id']}/replicationProtectedItems/{item['name']}"
    if world.get(new_id) is not None:
        raise errors.conflict(errors.VM_ALREADY_PROTECTED, f"The item '{item['name']}' already exists in "
                                                          f"'{new_container['name']}'.")
    back_rg = recovery_resource_group_id or (
        source_vm["id"].split("/providers/")[0] if source_vm is not None else details["recoveryAzureResourceGroupId"])
    if not infra.group_exists(world, back_rg):
        raise errors.invalid_input(f"The recovery resource group '{back_rg}' was not found.")

    reversed_item = copy.deepcopy(item)
    reversed_item["id"] = new_id
    rp, ra = props(reversed_item), a2a(reversed_item)
    rp.update(
        primaryFabricFriendlyName=new_fabric["properties"]["friendlyName"],
        recoveryFabricFriendlyName=old_fabric["properties"]["friendlyName"], recoveryFabricId=old_fabric["id"],
        primaryProtectionContainerFriendlyName=new_container["properties"]["friendlyName"],
        recoveryProtectionContainerFriendlyName=old_container["properties"]["friendlyName"],
        recoveryContainerId=old_container["id"], policyId=policy["id"],
        policyFriendlyName=policy["properties"]["friendlyName"], activeLocation="Primary",
        failoverRecoveryPointId=None, healthErrors=[])
    ra.update(
        fabricObjectId=failed_over["id"], recoveryFabricObjectId=source_vm["id"] if source_vm else None,
        primaryFabricLocation=details["recoveryFabricLocation"], recoveryFabricLocation=details["primaryFabricLocation"],
        recoveryAzureResourceGroupId=back_rg,
        recoveryAzureVMName=source_vm["name"] if source_vm else props(item)["friendlyName"],
        selectedTfoAzureNetworkId=None, testFailoverRecoveryFabricObjectId=None, tfoAzureVMName=None)
    # Replicating back, the recovery side is the original VM: its placement is the one a failback keeps.
    original = infra.vm_placement(source_vm) if source_vm is not None else {}
    back_zone = original.get("zone")
    ra.update(recoveryAvailabilitySet=original.get("availability_set_id"), recoveryAvailabilityZone=back_zone,
              recoveryProximityPlacementGroupId=original.get("proximity_placement_group_id"),
              primaryAvailabilityZone=infra.vm_zone(failed_over), initialPrimaryZone=infra.vm_zone(failed_over),
              initialRecoveryZone=back_zone)
    source_nics = {nic["nicId"].lower(): nic for nic in details["vmNics"]}
    new_nics = []
    for index, nic_id in enumerate(infra.vm_nic_ids(failed_over)):
        nic = infra.get(world, nic_id)
        if nic is None:
            continue
        primary = infra.ip_config_summary(infra.primary_ip_config(nic))
        original = list(source_nics.values())[index] if index < len(source_nics) else None
        back_network = original["vMNetworkName"] if original else None
        back_config = original["ipConfigs"][0] if original else {}
        new_nics.append({
            **(original or {}), "nicId": nic_id, "sourceNicArmId": nic_id, "replicaNicId": None,
            "vMNetworkName": primary["vnet_id"], "recoveryVMNetworkId": back_network, "targetNicName": nic["name"],
            "recoveryNicName": original["targetNicName"] if original else None, "tfoVMNetworkId": None,
            "ipConfigs": [{**back_config, "name": primary["name"], "isPrimary": True,
                           "subnetName": primary["subnet_name"], "staticIPAddress": primary["address"],
                           "ipAddressType": primary["allocation"], "recoverySubnetName": back_config.get("subnetName"),
                           "recoveryStaticIPAddress": back_config.get("staticIPAddress"),
                           "recoveryLBBackendAddressPoolIds": [], "tfoSubnetName": None, "tfoStaticIPAddress": None,
                           "tfoLBBackendAddressPoolIds": []}],
        })
    ra["vmNics"] = new_nics
    ra["selectedRecoveryAzureNetworkId"] = new_nics[0]["recoveryVMNetworkId"] if new_nics else None
    back_disks = infra.vm_disks(world, failed_over)
    given = {str(d.get("diskId")).lower(): d for d in disks}
    for index, disk in enumerate(ra["protectedManagedDisks"]):
        if index < len(back_disks):
            # The failed-over VM's disks now replicate back to the original VM's disks.
            disk.update(diskId=back_disks[index]["id"], diskName=back_disks[index]["name"])
        wanted = given.get(str(disk["diskId"]).lower(), {})
        disk.update(primaryStagingAzureStorageAccountId=wanted.get("primaryStagingAzureStorageAccountId")
                    or disk["primaryStagingAzureStorageAccountId"],
                    recoveryResourceGroupId=wanted.get("recoveryResourceGroupId") or back_rg,
                    recoveryReplicaDiskAccountType=wanted.get("recoveryReplicaDiskAccountType")
                    or disk["recoveryReplicaDiskAccountType"],
                    recoveryTargetDiskAccountType=wanted.get("recoveryTargetDiskAccountType")
                    or disk["recoveryTargetDiskAccountType"])

    with world.lock:
        world.delete(item["id"])
        old_meta = asr_state(world).items.pop(item["id"].lower(), None)
        world.put(reversed_item)
        asr_state(world).items[new_id.lower()] = ItemMeta(vm_id=failed_over["id"],
                                                          failover_kind=old_meta.failover_kind if old_meta else None)
        refresh_container_counts(world, old_container)
        refresh_container_counts(world, new_container)
        _renamed_in_plans(world, item["id"], reversed_item)
        replication.start_initial_replication(world, reversed_item)
    return reversed_item


def _renamed_in_plans(world: World, old_id: str, new_item: dict[str, Any]) -> None:
    vault = vault_for(world, new_item["id"])
    for plan in world.by_type(PLAN_TYPE, scope=vault["id"]):
        for group in plan["properties"]["groups"]:
            for entry in group["replicationProtectedItems"]:
                if same_id(entry.get("id"), old_id):
                    entry["id"] = new_item["id"]
