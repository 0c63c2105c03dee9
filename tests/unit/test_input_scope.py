"""Input scope: every validator matches the whole value (a trailing newline is not part of a name, an address or
an ID), and no resource ID from an event or a RecoveryPlanContext may hold an empty, ``.`` or ``..`` segment.
The same inputs, played end to end, are in the hostile corpus (tests/data/hostile)."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from shared import events, ids, tags
from shared.config import Settings
from shared.errors import RejectedInput, SettingsError
from shared.failover import plan as rd
from shared.failover import signals
from tests.unit.builders import SUB, VAULT
from tests.unit.test_config import VALID
from tests.unit.test_events import DATA, VM, cloud, grid
from tests.unit.test_failover_signals import PLAN_OP, PLAN_URI, VM_GUID, arm_event, context, parse

ROOT = Path(__file__).resolve().parents[2]


def test_no_validator_in_shared_matches_only_a_prefix() -> None:
    """``re.match`` / ``pattern.match`` with ``$`` accepts a trailing newline: shared/ uses ``fullmatch``."""
    calls = []
    for path in sorted((ROOT / "shared").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "match":
                calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert calls == [], "use fullmatch"


@pytest.mark.parametrize(("pattern", "good"), [
    (tags.CLUSTER_NAME, "s2dclu01"), (signals.PLAN_NAME, "asr-s2d-s2dclu01"),
    (rd._IPV4, "10.20.1.10"), (rd._PREFIX, "10.20.1.0/24"), (rd._ROLES, "10.10.1.11=10.20.1.11:59998"),
])
def test_a_trailing_newline_is_not_part_of_a_valid_value(pattern: Any, good: str) -> None:
    assert pattern.fullmatch(good) and pattern.match(good + "\n"), "re.match with $ takes the newline"
    assert pattern.fullmatch(good + "\n") is None


@pytest.mark.parametrize("changes", [{"ip": "10.20.1.10\n"}, {"subnet_prefix": "10.20.1.0/24\n"},
                                     {"roles": (rd.RoleMove("10.10.1.11", "10.20.1.11\n", 59998),)},
                                     {"roles": (rd.RoleMove("10.10.1.11\n", "10.20.1.11", 59998),)}])
def test_a_script_parameter_with_a_trailing_newline_never_reaches_the_guest(changes: dict[str, Any]) -> None:
    values: dict[str, Any] = {"ip": "10.20.1.10", "probe_port": 59999, "subnet_prefix": "10.20.1.0/24", **changes}
    with pytest.raises(RejectedInput):
        rd.script_parameters(**values)


@pytest.mark.parametrize(("attr", "value", "env"), [
    ("target_region", "northeurope\n", "TARGET_REGION"),
    ("allowed_subscriptions", (f"{SUB}\n",), "ALLOWED_SUBSCRIPTION_IDS"),
    ("vault_id", VALID["VAULT_ID"] + "\n", "VAULT_ID"),
    ("recovery_resource_group_id", VALID["RECOVERY_RESOURCE_GROUP_ID"] + "\n", "RECOVERY_RESOURCE_GROUP_ID"),
    ("app_principal_id", "9e1d3c5a-7b2f-4e8d-a6c1-0f9b8a7d6c5e\n", "APP_PRINCIPAL_ID"),
])
def test_settings_with_a_trailing_newline_are_refused(attr: str, value: Any, env: str) -> None:
    # The environment's values are stripped; the object's own check must hold without that help.
    changed = dataclasses.replace(Settings.from_env(VALID), **{attr: value})
    with pytest.raises(SettingsError, match=env):
        changed._validate()


@pytest.mark.parametrize(("resource_id", "problem"), [
    (f"{VM}/../s2d-node2", "a '..' segment"), (f"{VM}/./x", "a '.' segment"), (f"{VM}/", "an empty segment"),
    (VM.replace("/resourcegroups/", "//resourcegroups/"), "an empty segment"), (f"{VM}/.", "a '.' segment"),
    (VM, None), (f"{VM}.", None), (f"{VM}/providers/Microsoft.Resources/tags/default", None),
])
def test_odd_segments(resource_id: str, problem: str | None) -> None:
    assert ids.odd_segment(resource_id) == problem


def test_ids_parse_refuses_odd_segments() -> None:
    assert ids.parse(VM).name == "s2d-node1"
    for bad in (VM.replace("s2d-node1", ".."), VM.replace("rg-s2d-prod", "."), f"{VM}/"):
        with pytest.raises(RejectedInput, match="not a resource ID"):
            ids.parse(bad)


@pytest.mark.parametrize("make", [grid, cloud])
@pytest.mark.parametrize(("uri", "problem"), [
    (VM.replace("virtualMachines/", "virtualMachines/../virtualMachines/"), "data.resourceUri has a '..' segment"),
    (VM.replace("/providers/", "/./providers/"), "data.resourceUri has a '.' segment"),
    (VM.replace("/resourcegroups/", "//resourcegroups/"), "data.resourceUri has an empty segment"),
    (VM + "/", "data.resourceUri has an empty segment"),
    (VM + "\n", "data.resourceUri holds characters no Azure resource ID has"),
])
def test_events_with_odd_resource_uris_are_refused_with_the_reason(make: Any, uri: str, problem: str) -> None:
    with pytest.raises(RejectedInput, match=problem):
        events.from_dict(make(subject=VM, data={**DATA, "resourceUri": uri}))


@pytest.mark.parametrize("make", [grid, cloud])
def test_an_event_whose_subject_walks_elsewhere_is_refused(make: Any) -> None:
    with pytest.raises(RejectedInput, match=r"event.subject has a '\.\.' segment"):
        events.from_dict(make(subject=VM + "/../../virtualMachines/s2d-node2"))
    assert events.from_dict(make(subject="")).resource_uri == DATA["resourceUri"]  # no subject: nothing to check


def test_a_failover_event_with_odd_segments_announces_nothing() -> None:
    event = dataclasses.replace(arm_event(PLAN_OP.format("unplannedFailover"), PLAN_URI),
                                resource_uri=PLAN_URI.replace("/replicationRecoveryPlans/", "/x/../replicationRecoveryPlans/"))
    result = signals.from_event(event, vault_id=VAULT)
    assert isinstance(result, str) and "a '..' segment" in result
    newline = dataclasses.replace(arm_event(PLAN_OP.format("unplannedFailover"), PLAN_URI), resource_uri=PLAN_URI + "\n")
    assert signals.from_event(newline, vault_id=VAULT) == f"{PLAN_URI}\n is not a recovery plan ID"


@pytest.mark.parametrize(("body", "message"), [
    (context(RecoveryPlanName="asr-s2d-s2dclu01\n"), "RecoveryPlanName must be"),
    (context(GroupId="1\n"), "GroupId must be"),
    (context(VmMap={VM_GUID + "\n": {"RoleName": "s2d-node1"}}), "keys must be VM GUIDs"),
    (context(VmMap={VM_GUID: {"ResourceGroupName": ".."}}), f"VmMap[{VM_GUID}].ResourceGroupName has a '..' segment"),
    (context(VmMap={VM_GUID: {"RoleName": "."}}), "RoleName has a '.' segment"),
    (context(VmMap={VM_GUID: {"RoleName": "s2d-node1/../s2d-node2"}}), "RoleName has a '..' segment"),
    (context(VmMap={VM_GUID: {"SubscriptionId": f"{SUB}/"}}), "SubscriptionId has an empty segment"),
    (context(VmMap={VM_GUID: {"RecoveryPointId": f"{VAULT}//recoveryPoints/rp1"}}), "RecoveryPointId has an empty"),
])
def test_recovery_plan_contexts_with_newlines_or_odd_segments_are_refused(body: Any, message: str) -> None:
    with pytest.raises(RejectedInput) as caught:
        parse(body)
    assert message in str(caught.value)


def test_a_recovery_plan_context_with_sound_ids_and_asr_times_is_accepted() -> None:
    body = context(VmMap={VM_GUID: {"SubscriptionId": SUB, "ResourceGroupName": "rg-s2d-dr", "CloudServiceName": "",
                                    "RoleName": "s2d-node1", "RecoveryPointId": f"{VAULT}/recoveryPoints/rp1",
                                    "RecoveryPointTime": "/Date(1476224779000)/"}})
    assert parse(json.dumps(body).encode()).vm_names == ("s2d-node1",)
