"""Microsoft.Compute in the world: the functions handlers, the seed and other providers call.

The rules ARM's compute provider enforces, each in the module that owns it:

- ``vms``: a VM's NICs exist in its region and are not used by another VM (``NicInUse``); with several
  NICs exactly one is primary, and NICs change only while the VM is deallocated; the OS disk is created
  from an image (with an ``osProfile``) or attached from a managed disk (without one); data disks are
  created empty or attached on unique LUNs; location, availability set, zones and the OS disk are fixed;
  ``deleteOption`` decides what deleting the VM takes with it;
- ``disks``: a disk serves one VM at a time (``managedBy``), reads ``Reserved`` while its VM is
  deallocated, only grows, and changes SKU only while its VM is deallocated;
- ``availability_sets``: members listed as Azure lists them (upper-cased IDs), no zones with a set, at most the
  region's fault domains (``skus`` lists them);
- ``proximity_placement_groups``: a VM's group exists in its region; members listed as for availability sets;
- ``power``: the power state lives beside the VM JSON, and the instance view is built from it.

Nothing else writes compute resources into the world. All functions assume the caller holds
``world.lock``. Writes made here publish no event: the handlers (REST) do, when their operation completes.
"""

from __future__ import annotations

from emulator.providers.compute.availability_sets import add_availability_set, max_fault_domains, put_availability_set
from emulator.providers.compute.disks import add_disk, delete_disk, put_disk
from emulator.providers.compute.power import POWER_STATES, computer_name, power_state
from emulator.providers.compute.proximity_placement_groups import (
    add_proximity_placement_group,
    put_proximity_placement_group,
)
from emulator.providers.compute.schema import AVSET, DISK, DISK_SKUS, PPG, VM
from emulator.providers.compute.vms import (
    agent_ready,
    create_vm,
    delete_vm,
    instance_view,
    put_virtual_machine,
    render_vm,
    set_power_state,
    set_vm_agent,
)

__all__ = [
    "AVSET",
    "DISK",
    "DISK_SKUS",
    "POWER_STATES",
    "PPG",
    "VM",
    "add_availability_set",
    "add_disk",
    "add_proximity_placement_group",
    "agent_ready",
    "computer_name",
    "create_vm",
    "delete_disk",
    "delete_vm",
    "instance_view",
    "max_fault_domains",
    "power_state",
    "put_availability_set",
    "put_disk",
    "put_proximity_placement_group",
    "put_virtual_machine",
    "render_vm",
    "set_power_state",
    "set_vm_agent",
]
