"""The tag contract: every value is validated, and bad ones are refused with the tag's name."""

from __future__ import annotations

import ipaddress

import pytest

from shared import tags
from shared.errors import RejectedInput


@pytest.mark.parametrize("value,enrolled", [("true", True), (" TRUE ", True), ("True", True), ("false", False),
                                            ("yes", False), ("", False), ("true;", False)])
def test_enroll_value_is_case_and_space_insensitive(value: str, enrolled: bool) -> None:
    assert tags.is_enrolled({"asr-s2d": value}) is enrolled


def test_tag_names_are_case_insensitive() -> None:
    assert tags.is_enrolled({"ASR-S2D": "true"})
    assert tags.parse_intent({"Asr-S2d-Cluster": "clu1"}, "VM a").cluster == "clu1"


def test_defaults() -> None:
    intent = tags.parse_intent({}, "VM a")
    assert intent == tags.ClusterIntent(cluster=None, expected_nodes=None, dr_ip=None, probe_port=59999,
                                        witness_id=None, drill=False)


def test_valid_values() -> None:
    intent = tags.parse_intent({"asr-s2d-cluster": "s2dclu01", "asr-s2d-nodes": "2", "asr-s2d-dr-ip": "10.20.1.10",
                                "asr-s2d-probe-port": "60000", "asr-s2d-drill": "monthly",
                                "asr-s2d-witness": "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/"
                                                   "rg/providers/Microsoft.Storage/storageAccounts/stwitness01"}, "VM a")
    assert intent.cluster == "s2dclu01" and intent.expected_nodes == 2 and intent.probe_port == 60000
    assert intent.dr_ip == ipaddress.IPv4Address("10.20.1.10") and intent.drill


@pytest.mark.parametrize("tag,value", [
    ("asr-s2d-dr-ip", "10.0.0.5; Remove-Item C:\\ -Recurse"),
    ("asr-s2d-dr-ip", "$(Invoke-WebRequest evil)"),
    ("asr-s2d-dr-ip", "`whoami`"),
    ("asr-s2d-dr-ip", "fe80::1"),
    ("asr-s2d-dr-ip", "10.0.0.256"),
    ("asr-s2d-dr-ip", "010.0.0.1"),
    ("asr-s2d-dr-ip", "\uff110.0.0.1"),
    ("asr-s2d-probe-port", "0"),
    ("asr-s2d-probe-port", "65536"),
    ("asr-s2d-probe-port", "59999; calc"),
    ("asr-s2d-probe-port", "-1"),
    ("asr-s2d-nodes", "17"),
    ("asr-s2d-nodes", "0"),
    ("asr-s2d-nodes", "two"),
    ("asr-s2d-cluster", "clu'; Stop-Computer"),
    ("asr-s2d-cluster", "-leadingdash"),
    ("asr-s2d-cluster", "x" * 64),
    ("asr-s2d-cluster", "clüster"),
    ("asr-s2d-witness", "not-an-id"),
    ("asr-s2d-drill", "weekly"),
])
def test_hostile_or_malformed_values_are_rejected_naming_the_tag(tag: str, value: str) -> None:
    with pytest.raises(RejectedInput) as err:
        tags.parse_intent({tag: value}, "VM node1")
    assert tag in str(err.value) and "VM node1" in str(err.value)


def test_effective_tags_vm_wins_over_availability_set_over_group() -> None:
    merged = tags.effective({"asr-s2d-probe-port": "1"}, {"asr-s2d-probe-port": "2", "asr-s2d": "true"},
                            {"asr-s2d-probe-port": "3", "asr-s2d-cluster": "rgclu", "asr-s2d": "false"})
    assert merged == {"asr-s2d-probe-port": "1", "asr-s2d": "true", "asr-s2d-cluster": "rgclu"}
