"""A VM's power state, etag counter and recorded computer name, kept beside its ARM JSON (world.extras),
never inside it."""

from __future__ import annotations

from typing import Any

from emulator.core.world import World

RUNTIME = "compute.runtime"  # world.extras key: {vm id lower: {"power": ..., "etag": n[, "computer_name": ...]}}
POWER_STATES = ("running", "starting", "stopping", "stopped", "deallocating", "deallocated")
POWER_DISPLAY = {"running": "VM running", "starting": "VM starting", "stopping": "VM stopping",
                 "stopped": "VM stopped", "deallocating": "VM deallocating", "deallocated": "VM deallocated"}


def runtime(world: World, vm_id: str) -> dict[str, Any]:
    """The VM's entry beside its JSON (created on first use)."""
    return world.extras.setdefault(RUNTIME, {}).setdefault(vm_id.lower(), {"power": "deallocated", "etag": 0})


def bump_etag(world: World, vm: dict[str, Any]) -> None:
    """Compute etags are a quoted counter that grows with every write of the VM."""
    counters = runtime(world, vm["id"])
    counters["etag"] += 1
    vm["etag"] = f'"{counters["etag"]}"'


def power_state(world: World, vm_id: str) -> str:
    """``running``, ``deallocated``, ... of a VM (``deallocated`` for an unknown one)."""
    found = world.extras.get(RUNTIME, {}).get(vm_id.lower())
    return found["power"] if found else "deallocated"


def computer_name(world: World, vm_id: str) -> str:
    """The guest's host name: osProfile.computerName, else what create_vm recorded, else the VM name."""
    vm = world.get(vm_id)
    if vm is None:
        return vm_id.rsplit("/", 1)[-1]
    profile = vm["properties"].get("osProfile") or {}
    return str(profile.get("computerName") or runtime(world, vm["id"]).get("computer_name") or vm["name"])
