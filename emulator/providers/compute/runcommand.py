"""VM Run Command (the action API, ``POST .../virtualMachines/{vm}/runCommand``) as Azure runs it.

Rules Azure applies, enforced here (source: learn.microsoft.com/azure/virtual-machines/windows/run-command,
"Restrictions", unless another is named):

- the VM must be running (409 Conflict otherwise); the command ID must exist for the VM's OS;
- "One script at a time can run": another run command while one is in progress gets 409 Conflict, "Run command
  extension execution is in progress. Please wait for completion before invoking a run command." (the answer
  Invoke-AzVMRunCommand shows: microsoft/OMS-Agent-for-Linux issue 1496);
- "The Run Command feature doesn't work if the VM agent status is NOT READY": the request is accepted and its
  operation ends Failed with ``VMAgentStatusCommunicationError`` (the operation body azure-xplat-cli issue 2794
  quotes; MicrosoftDocs/azure-docs issue 11596 shows Run Command ending with that message);
- "The minimum time to run a script is about 20 seconds": the operation reads InProgress until then
  (its operation's kind is ``run_command`` on the emulator's clock; no time at all on the instant clock);
- "The maximum time a script can run is 90 minutes. After that, it will time out.";
- "Output is limited to the last 4,096 bytes": stdout and stderr each.

The script runs on the guest model (``guest_scripts.execute``) when the long-running operation completes. Every
run, recognised script or not, is recorded with its script lines and ``parameters`` in a per-VM history that the
control API serves, so tests can prove what the app sent (and that values travelled as parameters, not inside
the script). The control API can also start a run "someone else" started (``start_outside``): it holds the VM
until it ends or is ended, so the app meets the 409 a real operator's script would cause.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse, accepted, result_response, status_response
from emulator.core.lro import utcnow_iso
from emulator.core.world import World
from emulator.providers.compute import guest, guest_scripts, timing
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
        if earlier["status"] == "Running" and earlier["operation_id"] and not _in_progress(req, earlier["operation_id"]):
            earlier.update(status="Failed", ended=utcnow_iso())  # its operation was failed by an injected fault
    _end_outside_runs(world, runs)
    if any(run["status"] == "Running" for run in runs):
        raise ArmError(409, "Conflict", IN_PROGRESS)
    run = _new_run(world, vm["id"], command_id=command_id, script=script, parameters=parameters,
                   caller=req.principal.object_id if req.principal else None, correlation_id=req.correlation_id)
    runs.append(run)
    vm_id, vm_name = vm["id"], vm["name"]

    def complete() -> dict[str, Any]:
        run["ended"] = utcnow_iso()
        if world.get(vm_id) is None or compute.power_state(world, vm_id) != "running":
            run["status"] = "Failed"
            raise ArmError(409, "Conflict", "The VM stopped before the run command finished.")
        if not compute.agent_ready(world, vm_id):
            run["status"] = "Failed"
            guest.count_run(world, vm_id)  # the run reached the node: its cluster settles on (``guest.pin_stage``)
            raise ArmError(409, "VMAgentStatusCommunicationError",
                           f"VM '{vm_name}' has not reported status for VM agent or extensions. Verify that the OS is "
                           "up and healthy, the VM has a running VM agent, and that it can establish outbound "
                           "connections to Azure storage.")
        outcome = (guest_scripts.execute(world, vm_id, script, {p["name"]: p["value"] for p in parameters})
                   if command_id == "RunPowerShellScript" else guest_scripts.ScriptResult(None, "", ""))
        guest.count_run(world, vm_id)
        run.update(command=outcome.command, stdout=trim(outcome.stdout), stderr=trim(outcome.stderr),
                   status="Succeeded")
        req.ctx.emit(req, operation_name="Microsoft.Compute/virtualMachines/runCommand/action", resource_uri=vm_id,
                     event_type="Microsoft.Resources.ResourceActionSuccess")
        return result_body(run["stdout"], run["stderr"])

    # At least ~20 s on Azure's clock ("run_command"); on the instant clock it ends on its first poll.
    op = req.ctx.lro.start(req, complete, namespace="Microsoft.Compute", location=vm["location"], kind="run_command")
    run["operation_id"] = op.id
    return accepted(op, status=202)


IN_PROGRESS = ("Run command extension execution is in progress. Please wait for completion before invoking a run "
               "command.")


def _new_run(world: World, vm_id: str, *, command_id: str, script: list[str], parameters: list[dict[str, str]],
             caller: str | None, correlation_id: str | None) -> dict[str, Any]:
    seq = sum(len(v) for v in world.extras[HISTORY].values()) + 1
    return {"id": str(uuid.uuid4()), "seq": seq, "vm_id": vm_id, "command_id": command_id, "script": script,
            "parameters": parameters, "command": None, "status": "Running", "started": utcnow_iso(), "ended": None,
            "stdout": "", "stderr": "", "caller": caller, "correlation_id": correlation_id, "operation_id": None}


def operation_status(req: ArmRequest, *, result: bool = False) -> ArmResponse:
    """A Microsoft.Compute operation's status (or result) URL, polled as the core polls any operation (a run command
    is due after its minimum time on Azure's clock)."""
    op_id = req.params["operationId"]
    with req.ctx.world.lock:
        op = req.ctx.lro.poll(op_id)
    return result_response(op) if result else status_response(op)


# -- runs someone else started ----------------------------------------------------------------------

def start_outside(world: World, vm_id: str, *, minutes: float | None = None,
                  script: list[str] | None = None) -> dict[str, Any]:
    """A run command started outside the app (an operator in the portal), in progress on the VM: it ends after
    ``minutes`` (Azure minutes, ``timing``), times out at 90, or ends when ``end_outside`` ends it (without
    ``minutes``, on the instant clock, only then). KeyError for an unknown VM, ValueError for a VM that is not
    running or already runs one, or a bad ``minutes``."""
    vm = world.get(vm_id)
    if vm is None:
        raise KeyError(vm_id)
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes < 0):
        raise ValueError("minutes must be a number, 0 or more")
    if compute.power_state(world, vm["id"]) != "running":
        raise ValueError(f"VM {vm['name']} is not running")
    runs = world.extras.setdefault(HISTORY, {}).setdefault(vm["id"].lower(), [])
    _end_outside_runs(world, runs)
    if any(run["status"] == "Running" for run in runs):
        raise ValueError(f"VM {vm['name']} already runs a run command")
    run = _new_run(world, vm["id"], command_id="RunPowerShellScript", script=list(script or ["Start-Sleep 3600"]),
                   parameters=[], caller="outside", correlation_id=None)
    run.update(minutes=minutes, started_at=timing.now(world))
    runs.append(run)
    return copy.deepcopy(run)


def end_outside(world: World, vm_id: str) -> list[dict[str, Any]]:
    """End the runs started outside the app on the VM (their script finished); returns them."""
    ended = []
    for run in world.extras.get(HISTORY, {}).get(vm_id.lower(), []):
        if run["status"] == "Running" and run["operation_id"] is None:
            run.update(status="Succeeded", ended=utcnow_iso())
            ended.append(copy.deepcopy(run))
    return ended


def _end_outside_runs(world: World, runs: list[dict[str, Any]]) -> None:
    """Runs started outside the app whose time has come end: done, or timed out at the 90-minute limit."""
    limit = timing.azure_seconds("run-command-limit")
    for run in runs:
        if run["status"] != "Running" or run["operation_id"] is not None:
            continue
        if run.get("minutes") is None and timing.instant(world):
            continue  # held until ended: on the instant clock its 90 minutes would be none at all
        wanted = float(run["minutes"]) * 60 if run.get("minutes") is not None else float("inf")
        if timing.now(world) - run["started_at"] >= timing.scaled(world, min(wanted, limit)):
            run.update(status="TimedOut" if wanted > limit else "Succeeded", ended=utcnow_iso())
            if wanted > limit:
                run["stderr"] = "The script timed out after 90 minutes."


def _in_progress(req: ArmRequest, operation_id: str) -> bool:
    try:
        return req.ctx.lro.get(operation_id).status == "InProgress"
    except ArmError:
        return False
