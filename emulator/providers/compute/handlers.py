"""HTTP handlers for Microsoft.Compute: virtual machines (with power actions and Run Command), managed
disks and availability sets.

Writes to VMs and disks are long-running as in Azure: the resource reads ``Creating`` / ``Updating`` /
``Deleting`` until the operation is polled to completion, which is when a new VM starts running and
when the ARM event (``ResourceWriteSuccess`` / ``ResourceDeleteSuccess`` / ``ResourceActionSuccess``) is
published. Availability sets answer synchronously. Rules live in ``state``, ``runcommand`` and ``guest``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse, no_content, ok
from emulator.providers.compute import runcommand
from emulator.providers.compute import state as compute
from emulator.providers.conventions import (
    check_preconditions,
    list_tracked,
    long_running,
    merge_patch,
    not_found,
    require,
    snapshot,
    tags_of,
    target,
    write_target,
)

_NS = "Microsoft.Compute"
_EXPANDS = ("instanceView", "userData", "resiliencyView")


def _expand_instance_view(req: ArmRequest) -> bool:
    expand = req.query.get("$expand")
    if expand and expand not in _EXPANDS:
        raise ArmError(400, "InvalidParameter", f"The value '{expand}' of parameter '$expand' is not allowed. "
                                                f"Allowed values are {', '.join(_EXPANDS)}.")
    return expand == "instanceView" or req.query.get("statusOnly", "").lower() == "true"


# -- virtual machines ---------------------------------------------------------------------------------

def get_vm(req: ArmRequest) -> ArmResponse:
    with req.ctx.world.lock:
        vm = require(req, compute.VM, "vmName")
        return ok(compute.render_vm(req.ctx.world, vm, expand_instance_view=_expand_instance_view(req)))


def get_instance_view(req: ArmRequest) -> ArmResponse:
    with req.ctx.world.lock:
        return ok(compute.instance_view(req.ctx.world, require(req, compute.VM, "vmName")))


def vm_lister(*, in_group: bool) -> Callable[[ArmRequest], ArmResponse]:
    def handler(req: ArmRequest) -> ArmResponse:
        expand = _expand_instance_view(req)
        return list_tracked(req, compute.VM, in_group=in_group,
                            render=lambda vm: compute.render_vm(req.ctx.world, vm, expand_instance_view=expand))
    return handler


def _write_vm(req: ArmRequest, body: dict[str, Any], existing: dict[str, Any] | None, rid: str) -> ArmResponse:
    world = req.ctx.world
    if existing is not None and existing["properties"]["provisioningState"] == "Deleting":
        raise ArmError(409, "OperationNotAllowed", f"VM {existing['name']} is being deleted.")
    vm = compute.put_virtual_machine(world, vm_id=rid, body=body)
    created = existing is None
    vm["properties"]["provisioningState"] = "Creating" if created else "Updating"
    vm_id, etag = vm["id"], vm["etag"]

    def complete() -> None:
        current = world.get(vm_id)
        if current is not None:
            if current["etag"] == etag:  # a later write owns the provisioning state otherwise
                current["properties"]["provisioningState"] = "Succeeded"
            if created and compute.power_state(world, vm_id) == "starting":
                compute.set_power_state(world, vm_id, "running")
        req.ctx.emit(req, operation_name="Microsoft.Compute/virtualMachines/write", resource_uri=vm_id)

    return long_running(req, complete, namespace=_NS, location=vm["location"], status=201 if created else 200,
                        body=compute.render_vm(world, vm))


def put_vm(req: ArmRequest) -> ArmResponse:
    with req.ctx.world.lock:
        rid, existing = write_target(req, compute.VM, "vmName", what="virtual machine")
        return _write_vm(req, req.json_object(), existing, rid)


_READ_ONLY = ("vmId", "timeCreated", "provisioningState", "instanceView")


def patch_vm(req: ArmRequest) -> ArmResponse:
    """``VirtualMachineUpdate``: tags replace the tag set; properties merge into the VM, then it is re-validated."""
    with req.ctx.world.lock:
        rid, existing, group = target(req, compute.VM, "vmName")
        if existing is None:
            raise not_found(compute.VM, req.params["vmName"], group)
        check_preconditions(req, existing, what=f"virtual machine '{req.params['vmName']}'")
        patch = req.json_object()
        base: dict[str, Any] = {"location": existing["location"], "tags": existing.get("tags") or {},
                                "properties": {k: copy.deepcopy(v) for k, v in existing["properties"].items()
                                               if k not in _READ_ONLY}}
        if "zones" in existing:
            base["zones"] = existing["zones"]
        if "tags" in patch:
            base["tags"] = tags_of(patch)
        if "zones" in patch:
            base["zones"] = patch["zones"]
        if "properties" in patch:
            if not isinstance(patch["properties"], dict):
                raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                             "deserialized: 'properties' must be an object.")
            base["properties"] = merge_patch(base["properties"], patch["properties"])
        return _write_vm(req, base, existing, rid)


def delete_vm(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        _rid, existing = write_target(req, compute.VM, "vmName", what="virtual machine")
        if existing is None:
            return no_content()
        existing["properties"]["provisioningState"] = "Deleting"
        vm_id = existing["id"]

    def complete() -> None:
        compute.delete_vm(world, vm_id)
        req.ctx.emit(req, operation_name="Microsoft.Compute/virtualMachines/delete", resource_uri=vm_id,
                     event_type="Microsoft.Resources.ResourceDeleteSuccess")

    return long_running(req, complete, namespace=_NS, location=existing["location"], status=202)


_TRANSITIONS = {"start": ("starting", "running"), "powerOff": ("stopping", "stopped"),
                "deallocate": ("deallocating", "deallocated"), "restart": ("starting", "running")}


def power_action(action: str) -> Callable[[ArmRequest], ArmResponse]:
    """start / powerOff / deallocate / restart: transitional power state now, final state on completion."""
    transitional, final = _TRANSITIONS[action]

    def handler(req: ArmRequest) -> ArmResponse:
        world = req.ctx.world
        with world.lock:
            vm = require(req, compute.VM, "vmName")
            if vm["properties"]["provisioningState"] == "Deleting":
                raise ArmError(409, "OperationNotAllowed", f"VM {vm['name']} is being deleted.")
            if action == "restart" and compute.power_state(world, vm["id"]) != "running":
                raise ArmError(409, "OperationNotAllowed",
                               f"Operation 'restart' is not allowed on VM '{vm['name']}' since the VM is "
                               f"{compute.power_state(world, vm['id'])}.")
            compute.set_power_state(world, vm["id"], transitional)
            vm_id = vm["id"]

        def complete() -> None:
            if world.get(vm_id) is None:
                raise ArmError(404, "ResourceNotFound", f"VM {vm_id} no longer exists.")
            compute.set_power_state(world, vm_id, final)
            req.ctx.emit(req, operation_name=f"Microsoft.Compute/virtualMachines/{action}/action", resource_uri=vm_id,
                         event_type="Microsoft.Resources.ResourceActionSuccess")

        return long_running(req, complete, namespace=_NS, location=vm["location"], status=202)

    return handler


def run_command(req: ArmRequest) -> ArmResponse:
    with req.ctx.world.lock:
        return runcommand.begin(req, require(req, compute.VM, "vmName"))


# -- managed disks ------------------------------------------------------------------------------------

def put_disk(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        rid, _existing = write_target(req, compute.DISK, "diskName", what="disk")
        disk = compute.put_disk(world, disk_id=rid, body=req.json_object())
        disk["properties"]["provisioningState"] = "Updating"
        disk_id = disk["id"]

    def complete() -> None:
        current = world.get(disk_id)
        if current is not None:
            current["properties"]["provisioningState"] = "Succeeded"
        req.ctx.emit(req, operation_name="Microsoft.Compute/disks/write", resource_uri=disk_id)

    # Microsoft.Compute answers a disk PUT 202 (the SDK accepts 200/202), then GETs the disk.
    return long_running(req, complete, namespace=_NS, location=disk["location"], status=202,
                        body=copy.deepcopy(disk))


def delete_disk(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        _rid, existing, _group = target(req, compute.DISK, "diskName")
        if existing is None:
            return no_content()
        compute.delete_disk(world, existing["id"])

    def complete() -> None:
        req.ctx.emit(req, operation_name="Microsoft.Compute/disks/delete", resource_uri=existing["id"],
                     event_type="Microsoft.Resources.ResourceDeleteSuccess")

    return long_running(req, complete, namespace=_NS, location=existing["location"], status=202)


# -- availability sets ----------------------------------------------------------------------------------

def put_avset(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        rid, _existing, _group = target(req, compute.AVSET, "availabilitySetName")
        avset = snapshot(world, compute.put_availability_set(world, avset_id=rid, body=req.json_object()))
    req.ctx.emit(req, operation_name="Microsoft.Compute/availabilitySets/write", resource_uri=avset["id"])
    return ok(avset)


def patch_avset(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        avset = require(req, compute.AVSET, "availabilitySetName")
        patch = req.json_object()
        body: dict[str, Any] = {"location": avset["location"], "sku": avset["sku"], "tags": avset.get("tags") or {},
                                "properties": {k: v for k, v in avset["properties"].items() if k != "virtualMachines"}}
        if "tags" in patch:
            body["tags"] = tags_of(patch)
        if "properties" in patch:
            body["properties"] = merge_patch(body["properties"], patch["properties"])
        if "sku" in patch:
            body["sku"] = patch["sku"]
        avset = snapshot(world, compute.put_availability_set(world, avset_id=avset["id"], body=body))
    req.ctx.emit(req, operation_name="Microsoft.Compute/availabilitySets/write", resource_uri=avset["id"])
    return ok(avset)


def put_ppg(req: ArmRequest) -> ArmResponse:
    """Proximity placement groups answer synchronously (200/201), like availability sets."""
    world = req.ctx.world
    with world.lock:
        rid, existing, _group = target(req, compute.PPG, "proximityPlacementGroupName")
        ppg = snapshot(world, compute.put_proximity_placement_group(world, ppg_id=rid, body=req.json_object()))
    req.ctx.emit(req, operation_name="Microsoft.Compute/proximityPlacementGroups/write", resource_uri=ppg["id"])
    return ArmResponse(200 if existing else 201, ppg)


def delete_avset(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        _rid, existing, _group = target(req, compute.AVSET, "availabilitySetName")
        if existing is None:
            return no_content()
        if existing["properties"]["virtualMachines"]:
            raise ArmError(409, "OperationNotAllowed",
                           f"Availability set {existing['name']} still has virtual machines and cannot be deleted.")
        world.delete(existing["id"])
    req.ctx.emit(req, operation_name="Microsoft.Compute/availabilitySets/delete", resource_uri=existing["id"],
                 event_type="Microsoft.Resources.ResourceDeleteSuccess")
    return ok(None)
