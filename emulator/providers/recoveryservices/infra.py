"""What Site Recovery reads from and writes to the rest of the emulated Azure: VMs, disks, NICs,
subnets, load balancer pools, storage accounts and the guest model.

ASR reads the ARM JSON of those resources (the shapes every ARM client sees) and creates recovery
VMs and NICs through the compute and network providers' state functions, so their rules (address
allocation, pool membership, guest state) apply to failed-over resources too. This is the only
module of this package that touches another provider: when their signatures change, this changes.
"""

from __future__ import annotations

from typing import Any

from emulator.core.world import World
from emulator.providers.recoveryservices.state import name_of, same_id, segment, subscription_of

# -- reads ----------------------------------------------------------------------------------------


def get(world: World, resource_id: str | None) -> dict[str, Any] | None:
    return world.get(resource_id) if resource_id else None


def location(resource: dict[str, Any]) -> str:
    return str(resource.get("location", "")).lower().replace(" ", "")


def vm_is_running(world: World, vm: dict[str, Any]) -> bool:
    """ASR needs the VM running to install its extension and start replication."""
    from emulator.providers.compute import state as compute

    return compute.power_state(world, vm["id"]) == "running"


def vm_nic_ids(vm: dict[str, Any]) -> list[str]:
    """The VM's NIC IDs, primary first (ASR fails the primary NIC over as the primary NIC)."""
    nics = vm.get("properties", {}).get("networkProfile", {}).get("networkInterfaces", []) or []
    ordered = sorted(nics, key=lambda n: not (n.get("properties") or {}).get("primary", len(nics) == 1))
    return [n["id"] for n in ordered if n.get("id")]


def vm_disks(world: World, vm: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"id", "name", "kind" (OS|Data), "sku", "sizeGb"}]``: the VM's managed disks, OS disk first."""
    profile = vm.get("properties", {}).get("storageProfile", {}) or {}
    found: list[dict[str, Any]] = []
    for kind, given in [("OS", profile.get("osDisk"))] + [("Data", d) for d in profile.get("dataDisks") or []]:
        disk: dict[str, Any] = given or {}
        managed = disk.get("managedDisk") or {}
        disk_id = managed.get("id")
        if not disk_id:
            continue
        resource = get(world, disk_id) or {}
        found.append({"id": resource.get("id", disk_id), "name": resource.get("name") or disk.get("name") or name_of(disk_id),
                      "kind": kind,
                      "sku": (resource.get("sku") or {}).get("name") or managed.get("storageAccountType") or "Premium_LRS",
                      "sizeGb": int((resource.get("properties") or {}).get("diskSizeGB") or disk.get("diskSizeGB") or 128)})
    return found


def vm_os_type(vm: dict[str, Any]) -> str:
    profile = vm.get("properties", {}).get("storageProfile", {}) or {}
    return str((profile.get("osDisk") or {}).get("osType") or "Windows")


def vm_zone(vm: dict[str, Any]) -> str | None:
    """The VM's availability zone, None for a regional VM."""
    zones = vm.get("zones") or []
    return str(zones[0]) if zones else None


def vm_placement(vm: dict[str, Any]) -> dict[str, Any]:
    """Where a VM is placed: its availability set, zone and proximity placement group (None when it has none)."""
    props = vm.get("properties") or {}
    return {"availability_set_id": (props.get("availabilitySet") or {}).get("id"), "zone": vm_zone(vm),
            "proximity_placement_group_id": (props.get("proximityPlacementGroup") or {}).get("id")}


def vm_size(vm: dict[str, Any]) -> str:
    return str(vm.get("properties", {}).get("hardwareProfile", {}).get("vmSize") or "Standard_D2s_v3")


def primary_ip_config(nic: dict[str, Any]) -> dict[str, Any]:
    """The NIC's primary IP configuration: the only one ASR replicates."""
    configs = nic.get("properties", {}).get("ipConfigurations", []) or []
    for config in configs:
        if (config.get("properties") or {}).get("primary"):
            return dict(config)
    return dict(configs[0]) if configs else {"name": "ipconfig1", "properties": {}}


def ip_config_summary(config: dict[str, Any]) -> dict[str, Any]:
    props = config.get("properties") or {}
    subnet_id = (props.get("subnet") or {}).get("id") or ""
    return {"name": config.get("name", "ipconfig1"), "subnet_id": subnet_id,
            "vnet_id": subnet_id.rsplit("/subnets/", 1)[0] if "/subnets/" in subnet_id.lower() else "",
            "subnet_name": name_of(subnet_id) if subnet_id else None,
            "address": props.get("privateIPAddress"),
            "allocation": props.get("privateIPAllocationMethod") or "Dynamic"}


def vnet_location(world: World, vnet_id: str) -> str | None:
    vnet = get(world, vnet_id)
    return location(vnet) if vnet is not None else None


def subnets(vnet: dict[str, Any]) -> list[dict[str, Any]]:
    return list(vnet.get("properties", {}).get("subnets", []) or [])


def subnet_named(vnet: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    return next((s for s in subnets(vnet) if str(s.get("name", "")).lower() == name.lower()), None)


def pool_exists(world: World, pool_id: str) -> bool:
    """A load balancer backend pool, addressed as ``.../loadBalancers/{lb}/backendAddressPools/{pool}``."""
    if "/backendaddresspools/" not in pool_id.lower():
        return False
    lb = get(world, pool_id.rsplit("/", 2)[0])
    if lb is None:
        return False
    return any(same_id(p.get("id"), pool_id) or str(p.get("name", "")).lower() == name_of(pool_id).lower()
               for p in lb.get("properties", {}).get("backendAddressPools", []) or [])


def pool_location(world: World, pool_id: str) -> str | None:
    lb = get(world, pool_id.rsplit("/", 2)[0])
    return location(lb) if lb is not None else None


def storage_account(world: World, account_id: str | None) -> dict[str, Any] | None:
    found = get(world, account_id)
    if found is None or str(found.get("type", "")).lower() != "microsoft.storage/storageaccounts":
        return None
    return found


def shared_key_allowed(account: dict[str, Any]) -> bool:
    return (account.get("properties") or {}).get("allowSharedKeyAccess") is not False


def storage_accounts_in(world: World, subscription_id: str, region: str) -> list[dict[str, Any]]:
    return [a for a in world.by_type("Microsoft.Storage/storageAccounts", scope=f"/subscriptions/{subscription_id}")
            if location(a) == region]


def group_exists(world: World, group_id: str | None) -> bool:
    if not group_id:
        return False
    found = get(world, group_id)
    return found is not None and str(found.get("type", "")).lower() == "microsoft.resources/resourcegroups"


# -- writes ---------------------------------------------------------------------------------------


def address_is_usable(world: World, subnet_id: str, address: str | None) -> bool:
    """Whether ``address`` lies inside the subnet, is not one of Azure's reserved five and is not held."""
    from emulator.providers.network import addressing
    from emulator.providers.network import state as network

    parsed = addressing.parse_address(address)
    prefix = network.subnet_prefix(world, subnet_id)
    if parsed is None or prefix is None:
        return False
    net, _ = addressing.parse_prefix(prefix)
    return (net is not None and addressing.placement(parsed, net) is addressing.Placement.USABLE
            and parsed not in network.addresses_in_use(world, subnet_id))


def next_free_ip(world: World, subnet_id: str) -> str:
    """The subnet's next free address (the network provider raises ``SubnetIsFull`` when none is left)."""
    from emulator.providers.network import state as network

    return network.next_free_ip(world, subnet_id)


def create_nic(world: World, *, subscription_id: str, resource_group: str, name: str, location_: str,
               subnet_id: str, static_ip: str | None, pool_ids: list[str], tags: dict[str, str]) -> dict[str, Any]:
    from emulator.providers.network import state as network

    return network.create_nic(world, subscription_id=subscription_id, resource_group=resource_group, name=name,
                              location=location_, subnet_id=subnet_id, static_ip=static_ip,
                              pool_ids=tuple(pool_ids), tags=tags)


def delete_nic(world: World, nic_id: str) -> None:
    from emulator.providers.network import state as network

    network.delete_nic(world, nic_id)


def create_vm(world: World, *, source: dict[str, Any], resource_group_id: str, name: str, location_: str,
              nic_ids: list[str], disks: list[dict[str, Any]], availability_set_id: str | None = None,
              zone: str | None = None, proximity_placement_group_id: str | None = None) -> dict[str, Any]:
    """The recovered VM, as ASR builds it: the replica managed disks attached (a specialized OS disk, so
    no osProfile; the guest keeps its computer name), same size and OS, the source VM's user tags, and the
    item's recovery placement (availability set, zone with its disks in it, proximity placement group).

    ``disks``: ``[{"name", "size_gb", "sku", "resource_group_id"}]``, OS disk first.
    """
    from emulator.providers.compute import state as compute

    os_type = vm_os_type(source)
    attached = []
    for index, disk in enumerate(disks):
        group_id = disk.get("resource_group_id") or resource_group_id
        created = compute.add_disk(world, subscription_id=subscription_of(group_id),
                                   resource_group=segment(group_id, "resourceGroups") or "", name=disk["name"],
                                   location=location_, size_gb=int(disk["size_gb"]), sku=disk["sku"],
                                   os_type=os_type if index == 0 else None, create_option="Copy",
                                   zones=[zone] if zone else None)
        attached.append({"id": created["id"]})
    os_disk = attached[0] if attached else None
    data_disks = attached[1:]
    return compute.create_vm(world, subscription_id=subscription_of(resource_group_id),
                             resource_group=segment(resource_group_id, "resourceGroups") or "",
                             name=name, location=location_, nic_ids=list(nic_ids), vm_size=vm_size(source),
                             os_disk=os_disk, data_disks=data_disks, os_type=os_type,
                             tags=dict(source.get("tags") or {}), power_state="running",
                             computer_name=compute.computer_name(world, source["id"]), delete_option="Delete",
                             availability_set_id=availability_set_id, zones=[zone] if zone else None,
                             proximity_placement_group_id=proximity_placement_group_id)


def delete_vm(world: World, vm_id: str) -> None:
    """Delete a VM ASR created, with its disks and NICs (test-failover cleanup)."""
    from emulator.providers.compute import state as compute

    compute.delete_vm(world, vm_id, delete_attached=True)


def set_power(world: World, vm_id: str, power_state: str) -> None:
    from emulator.providers.compute import state as compute

    compute.set_power_state(world, vm_id, power_state)


def clone_guest(world: World, source_vm_id: str, recovery_vm_id: str, *, test: bool = False) -> None:
    """The failed-over VM boots the source's disks: its guest (cluster config) comes along; ``test`` for a test
    failover's VM (its cluster copy runs beside production)."""
    from emulator.providers.compute import guest

    guest.clone_for_recovery(world, source_vm_id, recovery_vm_id, test=test)
