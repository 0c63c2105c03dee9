"""A Site Recovery action's ARM events and its job's cancel, through the real SDK.

``ResourceActionSuccess`` of an asynchronous action comes when its job completes, when it is accepted, or both
(``action_events``: Event Grid's schema page, learn.microsoft.com/azure/event-grid/event-schema-resource-groups, does
not say which); an action that fails or is cancelled comes as ``ResourceActionFailure`` / ``ResourceActionCancel``.
``POST replicationJobs/{job}/cancel`` (the REST specs' ReplicationJobs_Cancel; az ``site-recovery job cancel``) ends
a running job ``Cancelled`` without its work, and refuses a job that has ended.
"""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.recoveryservicessiterecovery import models as m

from emulator.clients import control
from emulator.core.faults import FaultRule
from tests.emulator.asr.conftest import RP, VAULT, VAULT_RG, item_of, subscribe

ACTION = "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/unplannedFailover/action"


def start_failover(asr):
    return asr.replication_recovery_plans.begin_unplanned_failover(VAULT_RG, VAULT, RP, m.RecoveryPlanUnplannedFailoverInput(
        properties=m.RecoveryPlanUnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery", source_site_operations="NotRequired",
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="Latest")])), polling=False)


def plan_events(emu, subscriber):
    return [(e["eventType"].rsplit(".", 1)[-1], e["data"]["status"]) for e in emu.events.drain(subscriber)
            if e["data"]["operationName"] == ACTION]


def failover_job_name(emu):
    [job] = [j for j in control(emu, "GET", "asr/jobs") if j["properties"]["scenarioName"] == "UnplannedFailover"]
    return job["name"]


@pytest.mark.parametrize(("timing", "at_acceptance", "at_completion"), [
    ("completed", [], [("ResourceActionSuccess", "Succeeded")]),
    ("accepted", [("ResourceActionSuccess", "Succeeded")], []),
    ("both", [("ResourceActionSuccess", "Succeeded")], [("ResourceActionSuccess", "Succeeded")]),
])
def test_a_successful_action_is_announced_when_the_setting_says(emu, asr, cluster, timing, at_acceptance,
                                                                 at_completion):
    subscriber = subscribe(emu)
    control(emu, "PUT", "config", {"action_events": timing, "lro_polls": 1000})
    start_failover(asr)
    assert plan_events(emu, subscriber) == at_acceptance
    control(emu, "POST", "asr/settle")
    assert plan_events(emu, subscriber) == at_completion


@pytest.mark.parametrize("timing", ["completed", "accepted", "both"])
def test_a_failed_action_is_announced_as_a_failure_whatever_the_timing(emu, asr, cluster, timing):
    subscriber = subscribe(emu)
    control(emu, "PUT", "config", {"action_events": timing})
    emu.faults.add(FaultRule(action="lro_fail", method="POST", path=r"/unplannedFailover$", count=1,
                             code="A2AFailoverFailed", message="The failover failed."))
    start_failover(asr)
    control(emu, "POST", "asr/settle")
    events = plan_events(emu, subscriber)
    assert events[-1] == ("ResourceActionFailure", "Failed")
    assert events[:-1] == ([] if timing == "completed" else [("ResourceActionSuccess", "Succeeded")])


def test_a_running_job_is_cancelled_without_its_work_and_announced(emu, asr, plumbing, cluster):
    subscriber = subscribe(emu)
    control(emu, "PUT", "config", {"lro_polls": 1000})
    poller = start_failover(asr)
    name = failover_job_name(emu)
    running = asr.replication_jobs.get(VAULT_RG, VAULT, name)
    assert running.properties.allowed_actions == ["Cancel"]

    job = asr.replication_jobs.begin_cancel(VAULT_RG, VAULT, name).result()
    assert (job.properties.state, job.properties.allowed_actions) == ("Cancelled", [])
    assert plan_events(emu, subscriber) == [("ResourceActionCancel", "Canceled")]
    control(emu, "PUT", "config", {"lro_polls": 0})
    status_url = poller.polling_method()._initial_response.http_response.headers["Azure-AsyncOperation"]
    status = asr._client.send_request(HttpRequest("GET", status_url)).json()
    assert (status["status"], status["error"]["code"]) == ("Canceled", "OperationCanceled")
    assert {item_of(asr, plumbing, vm).properties.protection_state for vm in ("s2d-node1", "s2d-node2")} == {
        "Protected"}, "a cancelled failover never ran"

    with pytest.raises(HttpResponseError) as again:
        asr.replication_jobs.begin_cancel(VAULT_RG, VAULT, name).result()
    assert (again.value.status_code, again.value.error.code) == (400, "JobNotCancellable")
    with pytest.raises(HttpResponseError) as missing:
        asr.replication_jobs.begin_cancel(VAULT_RG, VAULT, "no-such-job").result()
    assert missing.value.status_code == 404


def test_the_setting_is_reset_with_the_world(emu):
    control(emu, "PUT", "config", {"action_events": "both"})
    emu.reset()
    assert control(emu, "GET", "config")["action_events"] == "completed"
