"""VM Run Command (the action API, ``POST .../virtualMachines/{vm}/runCommand``) as Azure runs it.

Rules Azure applies, enforced here: the VM must be running; one run command at a time per VM (another
one while the first is in progress gets 409 Conflict); the command ID must exist for the VM's OS;
stdout and stderr are each trimmed to their last 4,096 bytes. The script runs on the guest model
(``guest_scripts.execute``) when the long-running operation completes. Every run, recognised script or
not, is recorded with its script lines and ``parameters`` in a per-VM history that the control API serves,
so tests can prove what the app sent (and that values travelled as parameters, not inside the script).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse, accepted
from emulator.core.lro import utcnow_iso
from emulator.core.world import World
from emulator.providers.compute import guest_scripts
from emulator.providers.compute import state as compute
from emulator.providers.conventions import check_shape, field, items

HISTORY = "compute.run_commands"  # world.extras key: {vm id lower: [run, ...]}
OUTPUT_LIMIT = 4096
WINDOWS_COMMANDS = ("RunPowerShellScript", "DisableNLA", "DisableWindowsUpdate", "EnableAdminAccount",
                    "EnableEMS", "EnableRemotePS", "EnableWindowsUpdate", "IPConfig", "RDPSettings",
                    "ResetAccountPassword", "ResetRDPCert", "SetRDPPort")
LINUX_COMMANDS = ("RunShellScript", "ifconfig")


def history(world: World, vm_id: str | None = None) -> list[dict[str, Any]]:
    """Run commands in the order they started: one VM's, or every VM's when ``vm_id`` is None."""
    runs = world.extras.get(HISTORY, {})
    if vm_id is not None:
        return copy.deepcopy(runs.get(vm_id.lower(), []))
    return copy.deepcopy(sorted((run for per_vm in runs.values() for run in per_vm), key=lambda r: r["seq"]))


def trim(text: str) -> str:
    """The last 4,096 bytes of the output, as Run Command returns it (never a split character)."""
    data = text.encode("utf-8")
    if len(data) <= OUTPUT_LIMIT:
        return text
    return data[-OUTPUT_LIMIT:].decode("utf-8", errors="ignore")


def result_body(stdout: str, stderr: str) -> dict[str, Any]:
    return {"value": [
        {"code": "ComponentStatus/StdOut/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
         "message": stdout},
        {"code": "ComponentStatus/StdErr/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
         "message": stderr},
    ]}


RUN_COMMAND_SHAPE = {"commandId": str, "script": [str], "parameters": [{"name": str, "value": str}]}


def _parse(body: dict[str, Any], os_type: str) -> tuple[str, list[str], list[dict[str, str]]]:
    check_shape(body, RUN_COMMAND_SHAPE)
    command_id = field(body, "commandId", str, path="", required=True)
    allowed = WINDOWS_COMMANDS if os_type == "Windows" else LINUX_COMMANDS
    canonical = next((c for c in allowed if c.lower() == command_id.lower()), None)
    if canonical is None:
        raise ArmError(400, "InvalidParameter",
                       f"The command '{command_id}' is not available for a {os_type} virtual machine.",
                       details=[{"code": "InvalidParameter", "target": "commandId",
                                 "message": f"Known commands: {', '.join(allowed)}."}])
    script = field(body, "script", list, path="", default=[])
    if not all(isinstance(line, str) for line in script):
        raise ArmError(400, "InvalidRequestContent",
                       "The request content was invalid and could not be deserialized: 'script' must be an array of strings.")
    parameters = []
    for index, item in enumerate(items(body, "parameters", path="")):
        name = field(item, "name", str, path=f"parameters[{index}]", required=True)
        value = field(item, "value", str, path=f"parameters[{index}]", required=True)
        parameters.append({"name": name, "value": value})
    return canonical, list(script), parameters


def begin(req: ArmRequest, vm: dict[str, Any]) -> ArmResponse:
    """Validate and start a run command on ``vm`` (the caller holds the world lock)."""
    world = req.ctx.world
    os_type = vm["properties"]["storageProfile"]["osDisk"].get("osType", "Windows")
    command_id, script, parameters = _parse(req.json_object(), os_type)
    if compute.power_state(world, vm["id"]) != "running":
        raise ArmError(409, "Conflict", "The operation requires the VM to be running (or set to run).")
    runs = world.extras.setdefault(HISTORY, {}).setdefault(vm["id"].lower(), [])
    for earlier in runs:
        if earlier["status"] == "Running" and not _in_progress(req, earlier["operation_id"]):
            earlier.update(status="Failed", ended=utcnow_iso())  # its operation was failed by an injected fault
    if any(run["status"] == "Running" for run in runs):
        raise ArmError(409, "Conflict", "Run command extension execution is in progress. Please wait for completion "
                                        "before invoking a run command.")
    seq = sum(len(v) for v in world.extras[HISTORY].values()) + 1
    run: dict[str, Any] = {
        "id": str(uuid.uuid4()), "seq": seq, "vm_id": vm["id"], "command_id": command_id, "script": script,
        "parameters": parameters, "command": None, "status": "Running", "started": utcnow_iso(), "ended": None,
        "stdout": "", "stderr": "", "caller": req.principal.object_id if req.principal else None,
        "correlation_id": req.correlation_id, "operation_id": None,
    }
    runs.append(run)
    vm_id = vm["id"]

    def complete() -> dict[str, Any]:
        run["ended"] = utcnow_iso()
        if world.get(vm_id) is None or compute.power_state(world, vm_id) != "running":
            run["status"] = "Failed"
            raise ArmError(409, "Conflict", "The VM stopped before the run command finished.")
        outcome = (guest_scripts.execute(world, vm_id, script, {p["name"]: p["value"] for p in parameters})
                   if command_id == "RunPowerShellScript" else guest_scripts.ScriptResult(None, "", ""))
        run.update(command=outcome.command, stdout=trim(outcome.stdout), stderr=trim(outcome.stderr),
                   status="Succeeded")
        req.ctx.emit(req, operation_name="Microsoft.Compute/virtualMachines/runCommand/action", resource_uri=vm_id,
                     event_type="Microsoft.Resources.ResourceActionSuccess")
        return result_body(run["stdout"], run["stderr"])

    op = req.ctx.lro.start(req, complete, namespace="Microsoft.Compute", location=vm["location"])
    run["operation_id"] = op.id
    return accepted(op, status=202)


def _in_progress(req: ArmRequest, operation_id: str) -> bool:
    try:
        return req.ctx.lro.get(operation_id).status == "InProgress"
    except ArmError:
        return False
