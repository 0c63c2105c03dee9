"""Site Recovery jobs, and the long-running operations they back.

Every ASR write answers ``202`` with ``Azure-AsyncOperation`` (``.../replicationOperationStatus/{job}``)
and ``Location`` (``.../replicationOperationResults/{job}``) and creates a ``replicationJobs/{job}``
object: the operation's status *is* the job's state. Reading the job (or the operation status) counts as
one poll of the operation (see ``emulator.core.lro``), so ``lro_polls`` in ``PUT /_emulator/config`` holds
jobs ``InProgress`` for that many reads. On Azure's clock a job also lasts as long as its scenario takes in
Azure (``DURATION_OF``, figures and sources in ``emulator.core.clock``), and ends then even if nobody reads it:
its work runs and its ARM event is published.

A job whose work raises ``AsrError`` ends ``Failed`` with the error in ``errors[]`` and in the
operation status; a fault rule with action ``lro_fail`` fails the job the same way. ``POST
replicationJobs/{job}/cancel`` (the REST specs' ReplicationJobs_Cancel; az ``site-recovery job cancel``) ends a
job that is still ``InProgress`` ``Cancelled`` without its work: its operation reads ``Canceled``.

The caller's action is announced as ARM would (``emulator.core.events``): ``ResourceActionSuccess`` when the job
succeeds, or when it is accepted, or both (the ``action_events`` setting); ``ResourceActionFailure`` /
``ResourceActionCancel`` when it fails or is cancelled.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.events import ACCEPTED, BOTH, COMPLETED
from emulator.core.http import ArmRequest, ArmResponse, accepted, ok, result_response, status_response
from emulator.core.lro import Operation
from emulator.core.paging import paged
from emulator.core.world import World
from emulator.providers.recoveryservices import errors
from emulator.providers.recoveryservices.events import ACTION, Notice, caller_event
from emulator.providers.recoveryservices.state import (
    JOB_TYPE,
    NAMESPACE,
    asr_prefix,
    asr_state,
    now_iso,
    require_vault,
)

log = logging.getLogger(__name__)

# scenarioName -> (friendlyName, tasks). Names follow what ASR shows in its jobs blade.
SCENARIOS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CreateFabric": ("Create fabric", ("Creating fabric",)),
    "CreateProtectionContainer": ("Create protection container", ("Creating protection container",)),
    "PairProtectionContainers": ("Create protection container mapping",
                                 ("Prerequisites check", "Pairing protection containers")),
    "CreateProtectionProfile": ("Create replication policy", ("Creating replication policy",)),
    "UpdateProtectionProfile": ("Update replication policy", ("Updating replication policy",)),
    "DeleteProtectionProfile": ("Delete replication policy", ("Deleting replication policy",)),
    "MapNetwork": ("Map networks", ("Mapping networks",)),
    "EnableDr": ("Enable replication", ("Prerequisites check for enabling protection", "Identifying replication target",
                                        "Enable replication", "Starting initial replication",
                                        "Updating the provider states")),
    "UpdateVmProperties": ("Update the virtual machine", ("Updating the virtual machine properties",)),
    "DisableDr": ("Disable replication", ("Disable replication", "Updating the provider states")),
    "PurgeProtection": ("Remove replicated item", ("Removing replicated item",)),
    "UnplannedFailover": ("Failover", ("Prerequisites check for failover", "Starting failover",
                                       "Start the replica virtual machine")),
    "PlannedFailover": ("Planned failover", ("Prerequisites check for planned failover", "Shut down the virtual machine",
                                             "Starting failover", "Start the replica virtual machine")),
    "TestFailover": ("Test failover", ("Prerequisites check for test failover", "Create test environment",
                                       "Start the replica virtual machine")),
    "TestFailoverCleanup": ("Cleanup test failover", ("Cleaning up the test virtual machine",
                                                      "Cleaning up the test environment")),
    "CommitFailover": ("Commit", ("Prerequisites check for commit", "Commit")),
    # A2A reprotect is a switch protection; its job as ASR reports it (azure-powershell's recorded session
    # src/RecoveryServices/RecoveryServices.SiteRecovery.Test/SessionRecords/
    # RecoveryServices.SiteRecovery.Test.AsrA2ATests/A2AReprotectTest.json).
    "SwitchReplicationGroupProtection": ("Reprotect", ("Prerequisite check", "Committing failover",
                                                       "Discovering replica virtual machine",
                                                       "Getting reprotection requirements",
                                                       "Reprotecting virtual machine")),
    "CreateRecoveryPlan": ("Create a recovery plan", ("Create a recovery plan task",)),
    "UpdateRecoveryPlan": ("Update a recovery plan", ("Update a recovery plan task",)),
    "DeleteRecoveryPlan": ("Delete a recovery plan", ("Delete a recovery plan task",)),
}

# scenarioName -> the kind of duration (``emulator.core.clock.DURATIONS``) its job takes on Azure's clock; every
# other scenario takes ``asr_job``. ``SwitchReplicationGroupProtection`` is switch protection's (A2A reprotect).
DURATION_OF: dict[str, str] = {
    "EnableDr": "enable_replication",
    "UnplannedFailover": "failover",
    "PlannedFailover": "failover",
    "TestFailover": "test_failover",
    "TestFailoverCleanup": "test_failover_cleanup",
    "CommitFailover": "commit",
    "SwitchReplicationGroupProtection": "switch_protection",
}

Work = Callable[[], Any]


def _task(job_id: str, job_props: dict[str, Any], friendly: str, index: int, start: str) -> dict[str, Any]:
    return {
        "taskId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job_id}/{index}")),
        "name": "".join(w.capitalize() for w in friendly.split()) + "Task",
        "startTime": start, "endTime": None, "allowedActions": [], "friendlyName": friendly,
        "state": "InProgress", "stateDescription": "InProgress", "taskType": "TaskDetails",
        "customDetails": {"instanceType": "JobTaskDetails", "jobTask": {
            "jobId": job_id, "jobFriendlyName": job_props["friendlyName"],
            "targetObjectId": job_props["targetObjectId"], "targetObjectName": job_props["targetObjectName"],
            "targetInstanceType": job_props["targetInstanceType"], "jobScenarioName": job_props["scenarioName"]}},
        "groupTaskCustomDetails": None, "errors": [],
    }


def new_job(world: World, vault: dict[str, Any], *, scenario: str, target_id: str, target_name: str,
            target_type: str, affected: dict[str, str] | None = None) -> dict[str, Any]:
    """An ``InProgress`` job in the vault (ASR shows it in replicationJobs at once)."""
    friendly, task_names = SCENARIOS[scenario]
    name = str(uuid.uuid4())
    rid = f"{asr_prefix(vault)}/replicationJobs/{name}"
    start = now_iso(world)
    props: dict[str, Any] = {
        "activityId": f"{uuid.uuid4()} ActivityId: {uuid.uuid4()}",
        "scenarioName": scenario, "friendlyName": friendly,
        "state": "InProgress", "stateDescription": "InProgress",
        "tasks": [], "errors": [], "startTime": start, "endTime": None, "allowedActions": ["Cancel"],
        "targetObjectId": target_id, "targetObjectName": target_name, "targetInstanceType": target_type,
        "customDetails": {"instanceType": "AsrJobDetails", "affectedObjectDetails": dict(affected or {})},
    }
    props["tasks"] = [_task(rid, props, t, i, start) for i, t in enumerate(task_names)]
    job = {"id": rid, "name": name, "type": JOB_TYPE, "properties": props}
    state = asr_state(world)
    with world.lock:
        world.put(job)
        state.job_sequence[rid.lower()] = len(state.job_sequence)
    return job


def succeed(world: World, job: dict[str, Any]) -> None:
    _end(world, job, "Succeeded", "Completed")


def fail(world: World, job: dict[str, Any], error: dict[str, Any]) -> None:
    """End a job ``Failed`` with an ASR ``ServiceError`` object (``code``, ``message``, ...)."""
    _end(world, job, "Failed", "Failed")
    props = job["properties"]
    failed_task = props["tasks"][0]["taskId"] if props["tasks"] else None
    props["errors"] = [{"serviceErrorDetails": {"code": error.get("code"), "message": error.get("message"),
                                                "possibleCauses": error.get("possibleCauses", ""),
                                                "recommendedAction": error.get("recommendedAction", ""),
                                                "activityId": error.get("activityId", props["activityId"])},
                        "providerErrorDetails": None, "errorLevel": "Error",
                        "creationTime": props["endTime"], "taskId": failed_task}]


def _end(world: World, job: dict[str, Any], state_name: str, description: str) -> None:
    end = now_iso(world)
    with world.lock:
        props = job["properties"]
        props.update(state=state_name, stateDescription=description, endTime=end, allowedActions=[])
        if state_name == "Failed":
            props["allowedActions"] = ["Restart"]
        for task in props["tasks"]:
            task.update(state=state_name, stateDescription=description, endTime=end)


ACTION_FAILURE = "Microsoft.Resources.ResourceActionFailure"
ACTION_CANCEL = "Microsoft.Resources.ResourceActionCancel"
# The job state a cancel leaves (ASR's JobProperties.state: "Cancelled"), its ARM event and the event's data.status.
ENDINGS = {"Failed": (ACTION_FAILURE, "Failed"), "Cancelled": (ACTION_CANCEL, "Canceled")}


def run_as_job(req: ArmRequest, vault: dict[str, Any], job: dict[str, Any], work: Work, *,
               event: Notice | None = None) -> ArmResponse:
    """Answer ``202`` and run ``work`` when the job's operation completes (its result is the LRO result).

    ``event`` is the ARM event of the caller's request: a write's is published when (and only if) the job succeeds;
    an action's when the ``action_events`` setting says (at acceptance, at success, or both), and as a failure or
    cancel event when the job ends so.
    """
    world = req.ctx.world
    action = event is not None and event.event_type == ACTION
    timing = req.ctx.events.action_events if action else COMPLETED

    def announce(event_type: str | None = None, status: str = "Succeeded") -> None:
        if event_type is not None:  # the action ended badly: announced once
            with world.lock:
                asr_state(world).job_events.pop(job["id"].lower(), None)
        if event is not None:
            caller_event(req, operation_name=event.operation_name, resource_uri=event.resource_uri,
                         event_type=event_type or event.event_type, status=status)

    def ended(error: dict[str, Any]) -> None:
        fail(world, job, error)
        if action:
            announce(*ENDINGS["Failed"])

    def complete() -> Any:
        try:
            result = work()
        except ArmError as err:
            ended(err.envelope()["error"] if isinstance(err, errors.AsrError) else {"code": err.code, "message": err.message})
            raise
        except Exception as err:  # a bug in the work must end the job, not leave it running
            log.exception("ASR job %s (%s) failed", job["name"], job["properties"]["scenarioName"])
            internal = ArmError(500, "InternalServerError", f"The job failed with an internal error: {type(err).__name__}.")
            ended({"code": internal.code, "message": internal.message})
            raise internal from err
        succeed(world, job)
        if timing in (COMPLETED, BOTH):
            announce()
        return result

    base = f"{req.base_url}{asr_prefix(vault)}"
    op = req.ctx.lro.start(req, complete, namespace=NAMESPACE, location=vault["location"],
                           status_path=f"{base}/replicationOperationStatus/{job['name']}",
                           result_path=f"{base}/replicationOperationResults/{job['name']}",
                           kind=DURATION_OF.get(job["properties"]["scenarioName"], "asr_job"), on_fault=ended)
    with world.lock:
        asr_state(world).job_operations[job["id"].lower()] = op.id
        if action:
            asr_state(world).job_events[job["id"].lower()] = announce
    if timing in (ACCEPTED, BOTH):
        announce()
    return accepted(op)


def operation_of(req: ArmRequest, job_id: str, *, poll: bool) -> Operation | None:
    op_id = asr_state(req.ctx.world).job_operations.get(job_id.lower())
    if op_id is None:
        return None
    op = req.ctx.lro.poll(op_id) if poll else req.ctx.lro.get(op_id)
    _sync(req.ctx.world, job_id, op)
    return op


def _sync(world: World, job_id: str, op: Operation) -> None:
    """A fault-injected failure ends the operation without running the work: end the job too."""
    job = world.get(job_id)
    if job is not None and job["properties"]["state"] == "InProgress" and op.status == "Failed":
        fail(world, job, op.error or {"code": "OperationFailed", "message": "The operation failed."})


# -- handlers --------------------------------------------------------------------------------------

def _vault(req: ArmRequest) -> dict[str, Any]:
    p = req.params
    return require_vault(req.ctx.world, p["subscriptionId"], p["resourceGroupName"], p["resourceName"])


def _job_id(req: ArmRequest, name: str) -> str:
    return f"{asr_prefix(_vault(req))}/replicationJobs/{name}"


def operation_status(req: ArmRequest) -> ArmResponse:
    op = operation_of(req, _job_id(req, req.params["jobName"]), poll=True)
    if op is None:
        raise errors.not_found("operation", req.params["jobName"])
    return status_response(op)


def operation_result(req: ArmRequest) -> ArmResponse:
    op = operation_of(req, _job_id(req, req.params["jobName"]), poll=True)
    if op is None:
        raise errors.not_found("operation", req.params["jobName"])
    return result_response(op)


def get_job(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    job = world.get(_job_id(req, req.params["jobName"]))
    if job is None:
        raise errors.not_found("job", req.params["jobName"])
    if job["properties"]["state"] == "InProgress":
        operation_of(req, job["id"], poll=True)
    return ok(job)


def cancel_job(req: ArmRequest) -> ArmResponse:
    """``POST replicationJobs/{job}/cancel``: a job still running (its ``allowedActions`` hold ``Cancel``) ends
    ``Cancelled`` without its work, its operation ``Canceled``, and its action is announced as cancelled. Answered
    200 with the job (the spec's ReplicationJobs_Cancel allows 200 or 202). A job that has ended cannot be: 400."""
    world = req.ctx.world
    job_id = _job_id(req, req.params["jobName"])
    job = world.get(job_id)
    if job is None:
        raise errors.not_found("job", req.params["jobName"])
    operation_of(req, job_id, poll=False)
    with world.lock:
        props = job["properties"]
        if props["state"] != "InProgress" or "Cancel" not in props.get("allowedActions", []):
            # The code is the emulator's: the service's own for this case is not documented.
            raise errors.AsrError(400, "JobNotCancellable", f"The job {job['name']} is {props['state']} and cannot be "
                                  "cancelled.", recommended_action="Cancel only a job that is in progress.")
        _end(world, job, "Cancelled", "Cancelled")
        state = asr_state(world)
        op_id = state.job_operations.get(job_id.lower())
        announce = state.job_events.pop(job_id.lower(), None)
    if op_id is not None:
        req.ctx.lro.cancel(op_id)
    if announce is not None:
        announce(*ENDINGS["Cancelled"])
    return ok(job)


def jobs_in(world: World, vault: dict[str, Any]) -> list[dict[str, Any]]:
    """The vault's jobs, newest first (as ASR lists them)."""
    order = asr_state(world).job_sequence
    found = world.by_type(JOB_TYPE, scope=vault["id"])
    return sorted(found, key=lambda j: -order.get(j["id"].lower(), -1))


def list_jobs(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    vault = _vault(req)
    for job in jobs_in(world, vault):
        if job["properties"]["state"] == "InProgress":
            operation_of(req, job["id"], poll=False)
    return paged(req, jobs_in(world, vault), page_size=req.ctx.page_size)
