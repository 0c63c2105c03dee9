"""Failover signals as a table: ARM action events and RecoveryPlanContext bodies in, a signal (or a reason) out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import events
from shared.errors import RejectedInput
from shared.failover import signals
from shared.failover.signals import Scenario
from tests.unit.builders import SUB, VAULT

PLAN_URI = f"{VAULT}/replicationRecoveryPlans/asr-s2d-s2dclu01"
ITEM_URI = f"{VAULT}/replicationFabrics/asr-s2d-westeurope/replicationProtectionContainers/c1/replicationProtectedItems/i1"
PLAN_OP = "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/{}/action"
ITEM_OP = ("Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/"
           "replicationProtectedItems/{}/action")


def arm_event(operation: str, uri: str, *, event_type: str = "Microsoft.Resources.ResourceActionSuccess") -> events.ArmEvent:
    return events.from_dict({"id": "e1", "eventType": event_type, "subject": uri, "data": {
        "operationName": operation, "resourceUri": uri, "subscriptionId": SUB, "correlationId": "c1"}})


@pytest.mark.parametrize(("action", "scenario"), [
    ("unplannedFailover", Scenario.FAILOVER), ("plannedFailover", Scenario.FAILOVER), ("testFailover", Scenario.TEST),
    ("testFailoverCleanup", Scenario.CLEANUP), ("failoverCommit", Scenario.COMMIT),
])
def test_failover_actions_on_a_plan_or_an_item(action: str, scenario: Scenario) -> None:
    plan = signals.from_event(arm_event(PLAN_OP.format(action), PLAN_URI), vault_id=VAULT)
    assert isinstance(plan, signals.FailoverSignal)
    assert (plan.scenario, plan.plan_name, plan.item_id, plan.correlation_id) == (scenario, "asr-s2d-s2dclu01", None, "c1")
    item = signals.from_event(arm_event(ITEM_OP.format(action), ITEM_URI), vault_id=VAULT)
    assert isinstance(item, signals.FailoverSignal) and (item.scenario, item.item_id) == (scenario, ITEM_URI)


def test_ids_compare_case_insensitively_and_may_name_the_action() -> None:
    uri = PLAN_URI.replace("/resourceGroups/", "/resourcegroups/") + "/unplannedFailover"
    signal = signals.from_event(arm_event(PLAN_OP.format("unplannedFailover").lower(), uri), vault_id=VAULT)
    assert isinstance(signal, signals.FailoverSignal) and signal.plan_name == "asr-s2d-s2dclu01"


@pytest.mark.parametrize(("operation", "uri", "event_type", "reason"), [
    (PLAN_OP.format("reProtect"), PLAN_URI, None, "not a failover action"),
    ("Microsoft.Compute/virtualMachines/runCommand/action", PLAN_URI, None, "not a failover action"),
    ("Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/write", PLAN_URI, None, "not an action"),
    (PLAN_OP.format("unplannedFailover"), PLAN_URI, "Microsoft.Resources.ResourceWriteSuccess", "not a resource action"),
    (PLAN_OP.format("unplannedFailover"), PLAN_URI.replace("rsv-s2d-dr", "other-vault"), None, "not in the configured"),
    (PLAN_OP.format("unplannedFailover"), f"{PLAN_URI}/extra/segments", None, "not a recovery plan ID"),
    (ITEM_OP.format("testFailover"), PLAN_URI, None, "not a protected item ID"),
])
def test_everything_else_is_ignored_with_a_reason(operation: str, uri: str, event_type: str | None, reason: str) -> None:
    kwargs = {"event_type": event_type} if event_type else {}
    result = signals.from_event(arm_event(operation, uri, **kwargs), vault_id=VAULT)
    assert isinstance(result, str) and reason in result


# -- RecoveryPlanContext --------------------------------------------------------------------------

VM_GUID = "7a1069c6-c1d6-49c5-8c5d-33bfce8dd183"


def context(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "RecoveryPlanName": "asr-s2d-s2dclu01", "FailoverType": "Unplanned", "FailoverDirection": "PrimaryToSecondary",
        "GroupId": "1", "VmMap": {VM_GUID: {"SubscriptionId": SUB, "ResourceGroupName": "rg-s2d-dr",
                                            "CloudServiceName": None, "RoleName": "s2d-node1",
                                            "RecoveryPointId": "rp1", "RecoveryPointTime": "/Date(1476224779000)/"}}}
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


def parse(body: Any) -> signals.FailoverSignal:
    return signals.parse_recovery_plan_context(body if isinstance(body, bytes) else json.dumps(body).encode())


@pytest.mark.parametrize(("failover_type", "scenario"), [("Unplanned", Scenario.FAILOVER), ("Planned", Scenario.FAILOVER),
                                                         ("Test", Scenario.TEST)])
def test_context_becomes_a_signal(failover_type: str, scenario: Scenario) -> None:
    signal = parse(context(FailoverType=failover_type))
    assert (signal.source, signal.scenario, signal.plan_name, signal.direction, signal.vm_names) == (
        "runbook", scenario, "asr-s2d-s2dclu01", "PrimaryToSecondary", ("s2d-node1",))
    assert signal.id.startswith("runbook-") and parse(context(FailoverType=failover_type)).id == signal.id


def test_context_accepts_a_numeric_group_the_array_form_and_failback() -> None:
    assert parse(context(GroupId=1, VmMapAsArray=[])).plan_name == "asr-s2d-s2dclu01"
    assert parse(context(GroupId=..., FailoverDirection="SecondaryToPrimary")).direction == "SecondaryToPrimary"


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not UTF-8 JSON"),
    (b"\xff\xfe{}", "not UTF-8 JSON"),
    (b"[]", "must be a JSON object"),
    (b"{" + b" " * 70_000 + b"}", "larger than"),
    (context(Extra="x"), "unknown field(s) Extra"),
    (context(RecoveryPlanName=...), "RecoveryPlanName is missing"),
    (context(RecoveryPlanName=""), "RecoveryPlanName must be a non-empty string"),
    (context(RecoveryPlanName="asr-s2d-x; Remove-Item C:\\"), "RecoveryPlanName must be"),
    (context(RecoveryPlanName="$(whoami)"), "RecoveryPlanName must be"),
    (context(RecoveryPlanName=7), "RecoveryPlanName must be a non-empty string"),
    (context(FailoverType=...), "FailoverType is missing"),
    (context(FailoverDirection="PrimaryToRecovery"), "FailoverDirection must be one of"),
    (context(GroupId=True), "GroupId must be"),
    (context(GroupId={"a": 1}), "GroupId must be"),
    (context(VmMap=...), "VmMap is missing"),
    (context(VmMap=[]), "VmMap must be an object"),
    (context(VmMap={"node1": {}}), "keys must be VM GUIDs"),
    (context(VmMap={VM_GUID: "x"}), "must be an object"),
    (context(VmMap={VM_GUID: {"RoleName": 5}}), "RoleName must be a printable string"),
    (context(VmMap={VM_GUID: {"RoleName": "node\u00e9"}}), "RoleName must be a printable string"),
    (context(VmMapAsArray="x"), "VmMapAsArray must be an array"),
])
def test_bad_contexts_are_rejected_with_a_clear_message(body: Any, message: str) -> None:
    with pytest.raises(RejectedInput) as caught:
        parse(body)
    assert message in str(caught.value)


@pytest.mark.parametrize(("value", "scenario"), [
    ("Test", Scenario.TEST), ("TestFailover", Scenario.TEST), ("test", Scenario.TEST),
    ("Unplanned", Scenario.FAILOVER), ("Planned", Scenario.FAILOVER), ("UnplannedFailover", Scenario.FAILOVER),
    ("unplanned", Scenario.FAILOVER),
])
def test_any_failover_type_but_test_is_a_failover(value: str, scenario: Scenario) -> None:
    assert signals.parse_recovery_plan_context(json.dumps(context(FailoverType=value)).encode()).scenario is scenario
