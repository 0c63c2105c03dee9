"""Input scope: every validator matches the whole value (a trailing newline is not part of a name, an address or
an ID). The same inputs, played end to end, are in the hostile corpus (tests/data/hostile)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from shared import tags
from shared.config import Settings
from shared.errors import RejectedInput, SettingsError
from shared.failover import plan as rd
from shared.failover import signals
from tests.unit.builders import SUB, VAULT
from tests.unit.test_config import VALID
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
    (rd._IPV4, "10.20.1.10"), (rd._PREFIX, "10.20.1.0/24"), (rd._RESOURCE_NAME, "Cluster IP Address"),
])
def test_a_trailing_newline_is_not_part_of_a_valid_value(pattern: Any, good: str) -> None:
    assert pattern.fullmatch(good) and pattern.match(good + "\n"), "re.match with $ takes the newline"
    assert pattern.fullmatch(good + "\n") is None


@pytest.mark.parametrize("changes", [{"ip": "10.20.1.10\n"}, {"subnet_prefix": "10.20.1.0/24\n"},
                                     {"resource_name": "Cluster IP Address\n"}])
def test_a_script_parameter_with_a_trailing_newline_never_reaches_the_guest(changes: dict[str, str]) -> None:
    values: dict[str, Any] = {"ip": "10.20.1.10", "probe_port": 59999, "subnet_prefix": "10.20.1.0/24",
                              "resource_name": None, **changes}
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


def test_a_failover_event_whose_plan_id_ends_in_a_newline_announces_nothing() -> None:
    newline = dataclasses.replace(arm_event(PLAN_OP.format("unplannedFailover"), PLAN_URI), resource_uri=PLAN_URI + "\n")
    assert signals.from_event(newline, vault_id=VAULT) == f"{PLAN_URI}\n is not a recovery plan ID"


@pytest.mark.parametrize(("body", "message"), [
    (context(RecoveryPlanName="asr-s2d-s2dclu01\n"), "RecoveryPlanName must be"),
    (context(GroupId="1\n"), "GroupId must be"),
    (context(VmMap={VM_GUID + "\n": {"RoleName": "s2d-node1"}}), "keys must be VM GUIDs"),
])
def test_recovery_plan_contexts_with_trailing_newlines_are_refused(body: Any, message: str) -> None:
    with pytest.raises(RejectedInput) as caught:
        parse(body)
    assert message in str(caught.value)
