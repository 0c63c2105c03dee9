"""Microsoft.Compute: virtual machines (power actions, Run Command), managed disks, availability sets,
and the in-guest failover cluster model that Run Command scripts act on.

``state`` holds the rules and the functions other code calls (``create_vm``, ``delete_vm``,
``set_power_state``, ``add_disk``, ``add_availability_set``...), ``guest`` the cluster model
(``add_cluster``, ``clone_for_recovery``), ``guest_scripts`` what the in-guest scripts do to it,
``runcommand`` the Run Command rules and history,
``handlers`` the REST surface. Control API: ``GET/PUT/PATCH /_emulator/guest?id=<vm id>`` and
``GET /_emulator/guest/run-commands[?id=<vm id>]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.providers.compute import guest, handlers, runcommand

if TYPE_CHECKING:
    from emulator.core.http import Host

# What azure-mgmt-compute 39.x sends (virtualMachines, availabilitySets, runCommand / disks), plus earlier GA ones.
VM_API_VERSIONS = frozenset({"2026-04-01", "2025-04-01", "2024-11-01", "2024-07-01"})
DISK_API_VERSIONS = frozenset({"2026-03-02", "2025-01-02", "2024-03-02"})


def register(emu: Host) -> None:
    rg = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute"
    sub = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute"
    vm = rg + "/virtualMachines/{vmName}"
    v = VM_API_VERSIONS
    emu.route("GET", vm, handlers.get_vm, api_versions=v)
    emu.route("PUT", vm, handlers.put_vm, api_versions=v)
    emu.route("PATCH", vm, handlers.patch_vm, api_versions=v)
    emu.route("DELETE", vm, handlers.delete_vm, api_versions=v)
    emu.route("GET", vm + "/instanceView", handlers.get_instance_view, api_versions=v)
    emu.route("GET", rg + "/virtualMachines", handlers.list_vms, api_versions=v)
    emu.route("GET", sub + "/virtualMachines", handlers.list_all_vms, api_versions=v)
    for action in ("start", "powerOff", "deallocate", "restart"):
        emu.route("POST", f"{vm}/{action}", handlers.power_action(action), api_versions=v)
    emu.route("POST", vm + "/runCommand", handlers.run_command, api_versions=v)

    avset = rg + "/availabilitySets/{availabilitySetName}"
    emu.route("GET", avset, handlers.get_avset, api_versions=v)
    emu.route("PUT", avset, handlers.put_avset, api_versions=v)
    emu.route("PATCH", avset, handlers.patch_avset, api_versions=v)
    emu.route("DELETE", avset, handlers.delete_avset, api_versions=v)
    emu.route("GET", rg + "/availabilitySets", handlers.list_avsets, api_versions=v)
    emu.route("GET", sub + "/availabilitySets", handlers.list_all_avsets, api_versions=v)

    disk = rg + "/disks/{diskName}"
    d = DISK_API_VERSIONS
    emu.route("GET", disk, handlers.get_disk, api_versions=d)
    emu.route("PUT", disk, handlers.put_disk, api_versions=d)
    emu.route("DELETE", disk, handlers.delete_disk, api_versions=d)
    emu.route("GET", rg + "/disks", handlers.list_disks, api_versions=d)
    emu.route("GET", sub + "/disks", handlers.list_all_disks, api_versions=d)

    def _vm_id(params: dict[str, str]) -> str:
        vm_id = params.get("id")
        if not vm_id:
            raise ValueError("pass the VM's resource ID as ?id=")
        return vm_id

    def get_guest(params: dict[str, str], body: Any) -> Any:
        with emu.world.lock:
            return guest.describe(emu.world, _vm_id(params))

    def put_guest(params: dict[str, str], body: Any) -> Any:
        with emu.world.lock:
            return guest.update_cluster(emu.world, _vm_id(params), body, replace=True)

    def patch_guest(params: dict[str, str], body: Any) -> Any:
        with emu.world.lock:
            return guest.update_cluster(emu.world, _vm_id(params), body)

    def run_history(params: dict[str, str], body: Any) -> Any:
        with emu.world.lock:
            return runcommand.history(emu.world, params.get("id"))

    emu.control("GET", "guest", get_guest)
    emu.control("PUT", "guest", put_guest)
    emu.control("PATCH", "guest", patch_guest)
    emu.control("GET", "guest/run-commands", run_history)
