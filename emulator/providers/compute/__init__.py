"""Microsoft.Compute: virtual machines (power actions, Run Command), managed disks, availability sets, proximity
placement groups, the Resource SKUs list (availability sets' fault-domain limits), and the in-guest failover
cluster model that Run Command scripts act on.

``state`` holds the rules and the functions other code calls (``create_vm``, ``delete_vm``,
``set_power_state``, ``add_disk``, ``add_availability_set``...), ``guest`` the cluster model
(``add_cluster``, ``clone_for_recovery``), ``guest_scripts`` what the in-guest scripts do to it,
``runcommand`` the Run Command rules and history,
``handlers`` the REST surface, ``timing`` how long a VM and its guest take (read from the emulator's clock).

Control API:

- ``GET/PUT/PATCH /_emulator/guest?id=<vm id>``: the VM's cluster model;
- ``GET /_emulator/guest/run-commands[?id=<vm id>]``: the Run Command history; ``POST .../run-commands?id=<vm id>``
  with ``{"minutes": m}`` (optional): a run command someone else started, in progress on the VM (its Run
  Commands get 409) until it ends or ``DELETE .../run-commands?id=<vm id>`` ends it;
- ``PUT /_emulator/vm-agent?id=<vm id>`` with ``{"status": "Ready" | "NotReady"}`` pins what the VM's guest agent
  reports in its instance view, ``DELETE`` drops the pin (the agent follows the VM's boot again);
- ``GET/PUT /_emulator/guest/settle[?id=<vm id>]`` with ``{"stage": "booting" | "starting" | "repairing" |
  "settled", "runs": n}``: pin how far the VM's cluster has settled since boot, for its next ``n`` Run Commands
  (or until pinned again); without ``id``, the stage every cluster a failover or test failover copies starts in;
- how long a guest takes (agent Ready, cluster service, storage resync, Run Command) follows the emulator's
  clock (``timing``; ``PUT /_emulator/config {"clock": "azure", "time_scale": n}``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.providers.compute import guest, handlers, runcommand, skus
from emulator.providers.compute import state as compute
from emulator.providers.conventions import route_tracked

if TYPE_CHECKING:
    from emulator.core.http import Host

# What azure-mgmt-compute 39.x sends (virtualMachines, availabilitySets, runCommand / disks), plus earlier GA ones.
VM_API_VERSIONS = frozenset({"2026-04-01", "2025-04-01", "2024-11-01", "2024-07-01"})
DISK_API_VERSIONS = frozenset({"2026-03-02", "2025-01-02", "2024-03-02"})


def register(emu: Host) -> None:
    actions = {action: handlers.power_action(action) for action in ("start", "powerOff", "deallocate", "restart")}
    vm = route_tracked(emu, compute.VM, "vmName", api_versions=VM_API_VERSIONS, get=handlers.get_vm,
                       put=handlers.put_vm, patch=handlers.patch_vm, delete=handlers.delete_vm,
                       actions={**actions, "runCommand": handlers.run_command},
                       list_in_group=handlers.vm_lister(in_group=True),
                       list_in_subscription=handlers.vm_lister(in_group=False))
    emu.route("GET", vm + "/instanceView", handlers.get_instance_view, api_versions=VM_API_VERSIONS)
    # Compute's own operation URLs: a run command reads InProgress for its minimum time (``runcommand``).
    locations = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}"
    emu.route("GET", locations + "/operations/{operationId}", runcommand.operation_status, api_versions=frozenset())
    emu.route("GET", locations + "/operationResults/{operationId}",
              lambda req: runcommand.operation_status(req, result=True), api_versions=frozenset())
    route_tracked(emu, compute.AVSET, "availabilitySetName", api_versions=VM_API_VERSIONS, put=handlers.put_avset,
                  patch=handlers.patch_avset, delete=handlers.delete_avset)
    route_tracked(emu, compute.PPG, "proximityPlacementGroupName", api_versions=VM_API_VERSIONS, put=handlers.put_ppg)
    emu.route("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/skus", skus.list_skus,
              api_versions=skus.SKU_API_VERSIONS)
    route_tracked(emu, compute.DISK, "diskName", api_versions=DISK_API_VERSIONS, put=handlers.put_disk,
                  delete=handlers.delete_disk)

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

    def start_run(params: dict[str, str], body: Any) -> Any:
        with emu.world.lock:
            return runcommand.start_outside(emu.world, _vm_id(params), minutes=(body or {}).get("minutes"))

    def end_runs(params: dict[str, str], body: Any) -> Any:
        with emu.world.lock:
            return runcommand.end_outside(emu.world, _vm_id(params))

    emu.control("POST", "guest/run-commands", start_run)
    emu.control("DELETE", "guest/run-commands", end_runs)

    def put_agent(params: dict[str, str], body: Any) -> Any:
        status = str((body or {}).get("status", ""))
        with emu.world.lock:
            compute.set_vm_agent(emu.world, _vm_id(params), status)
        return {"id": _vm_id(params), "status": status}

    def drop_agent_pin(params: dict[str, str], body: Any) -> Any:
        with emu.world.lock:
            compute.set_vm_agent(emu.world, _vm_id(params), None)
            return {"id": _vm_id(params), "ready": compute.agent_ready(emu.world, _vm_id(params))}

    emu.control("PUT", "vm-agent", put_agent)
    emu.control("DELETE", "vm-agent", drop_agent_pin)

    def get_settle(params: dict[str, str], body: Any) -> Any:
        with emu.world.lock:
            if params.get("id"):
                return guest.settle_state(emu.world, params["id"])
            return {"after_failover": guest.pinned_after_failover(emu.world)}

    def put_settle(params: dict[str, str], body: Any) -> Any:
        data = body if isinstance(body, dict) else {}
        with emu.world.lock:
            return guest.pin_stage(emu.world, params.get("id") or None, str(data.get("stage", "")), data.get("runs"))

    emu.control("GET", "guest/settle", get_settle)
    emu.control("PUT", "guest/settle", put_settle)

