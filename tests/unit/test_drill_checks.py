"""The drill's pure verdicts as tables: may a drill start, and what the guest's health report says (no I/O)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from shared.drill.checks import (
    GUEST,
    PRECONDITIONS,
    DrillCheck,
    MalformedReport,
    drill_network,
    health_checks,
    parse_health,
    preconditions,
    settling,
)
from shared.inventory import ProtectedItem, RecoveryPlan
from tests.unit.builders import SUB, VAULT, health_report

PLAN = RecoveryPlan(f"{VAULT}/replicationRecoveryPlans/asr-s2d-s2dclu01", "asr-s2d-s2dclu01", ("i1", "i2"), "f1", "f2",
                    allowed_operations=("UnplannedFailover", "TestFailover"))


def item(n: int, **changes: Any) -> ProtectedItem:
    base = ProtectedItem(
        id=f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/i{n}",
        name=f"0000000{n}-guid", vm_id=f"/subscriptions/{SUB}/resourceGroups/rg-s2d-prod/providers/Microsoft.Compute/"
        f"virtualMachines/s2d-node{n}", group_name="s2dclu01", group_id="g", protection_state="Protected",
        replication_health="Normal", active_location="Primary", policy_id="p", rpo_seconds=30,
        test_failover_state="None", last_test_failover=None, nics=(), cache_account_ids=(), recovery_vm_name=None,
        current_scenario="None")
    return replace(base, **changes)


def verdict(plan: RecoveryPlan | None, *items: ProtectedItem) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.ok, c.detail) for c in preconditions("s2dclu01", plan, list(items))}


# -- preconditions ---------------------------------------------------------------------------------------

def test_a_protected_healthy_idle_cluster_may_drill() -> None:
    checks = verdict(PLAN, item(1), item(2))
    assert list(checks) == list(PRECONDITIONS[:-3]) and all(ok for ok, _ in checks.values())


@pytest.mark.parametrize(("changes", "check", "detail"), [
    ({"protection_state": "UnprotectedStatesBegin"}, "nodes-protected", "s2d-node2 is UnprotectedStatesBegin"),
    ({"protection_state": "UnplannedFailoverCommitted"}, "nodes-protected", "s2d-node2 is UnplannedFailoverCommitted"),
    ({"replication_health": "Critical"}, "replication-healthy", "s2d-node2 is Critical"),
    ({"replication_health": "Warning"}, "replication-healthy", "s2d-node2 is Warning"),
    ({"test_failover_state": "WaitingForCompletion"}, "no-operation-in-progress",
     "s2d-node2 test failover WaitingForCompletion"),
    ({"test_failover_state": "MarkedForDeletion"}, "no-operation-in-progress", "MarkedForDeletion"),
    ({"current_scenario": "UnplannedFailover", "current_job_id": "j"}, "no-operation-in-progress",
     "s2d-node2 runs UnplannedFailover"),
    ({"current_scenario": "TestFailover", "current_job_id": "j"}, "no-operation-in-progress", "runs TestFailover"),
    ({"current_scenario": "Reprotect", "current_job_id": "j"}, "no-operation-in-progress", "runs Reprotect"),
])
def test_a_drill_never_starts_on_an_unhealthy_or_busy_node(changes: dict[str, Any], check: str, detail: str) -> None:
    checks = verdict(PLAN, item(1), item(2, **changes))
    failed = {name: text for name, (ok, text) in checks.items() if not ok}
    assert list(failed) == [check] and detail in failed[check]


def test_a_plan_that_does_not_allow_a_test_failover_blocks_the_drill() -> None:
    checks = verdict(replace(PLAN, allowed_operations=("TestFailoverCleanup",)), item(1), item(2))
    assert checks["no-operation-in-progress"] == (False, "recovery plan asr-s2d-s2dclu01 does not allow a test "
                                                         "failover now (allowed: TestFailoverCleanup)")


def test_no_plan_or_no_items_is_reported_as_not_enrolled() -> None:
    assert verdict(None) == {"recovery-plan": (False, "cluster s2dclu01 has no recovery plan asr-s2d-s2dclu01: it is "
                                                      "not enrolled (or the plan was deleted)")}
    assert verdict(PLAN)["recovery-plan"][0] is False
    assert verdict(None, item(1))["recovery-plan"][0] is False


# -- the health report ---------------------------------------------------------------------------------------

def judge(body: dict[str, Any] | str, *, test_ip: str | None = "10.30.1.50", ip_status: str | None = "changed",
          expected: int = 2) -> dict[str, tuple[bool, str]]:
    stdout = body if isinstance(body, str) else "WARNING: noise first\n" + json.dumps(body) + "\n"
    parsed = parse_health(stdout)
    return {c.name: (c.ok, c.detail) for c in health_checks(parsed, test_ip=test_ip, ip_status=ip_status,
                                                              expected_nodes=expected)}


def failures(checks: dict[str, tuple[bool, str]]) -> dict[str, str]:
    return {name: detail for name, (ok, detail) in checks.items() if not ok}


def test_a_healthy_report_passes_every_in_guest_check() -> None:
    checks = judge(health_report())
    assert list(checks) == list(GUEST) and failures(checks) == {}
    assert checks["cluster-ip"] == (True, "'Cluster IP Address' Online at 10.30.1.50")


@pytest.mark.parametrize(("changes", "check", "detail"), [
    ({"cluster_service": "Stopped"}, "cluster-service", "cluster service (ClusSvc) Stopped"),
    ({"cluster_service": None}, "cluster-service", "not found"),
    ({"nodes": [{"name": "s2d-node1", "state": "Down"}, {"name": "s2d-node2", "state": "Up"}]}, "nodes-up",
     "1 of 2 node(s) Up; s2d-node1 Down"),
    ({"nodes": [{"name": "s2d-node1", "state": "Up"}]}, "nodes-up", "1 node(s) Up, the recovery plan holds 2"),
    ({"nodes": []}, "nodes-up", "no cluster node reported"),
    ({"quorum": {"state": "Majority", "has_quorum": False, "votes_up": 0, "votes_total": 2,
                 "witness": {"type": "Cloud", "state": "Failed"}}}, "quorum", "NO quorum (Majority, 0/2 node votes)"),
    ({"quorum": {"state": "Majority", "has_quorum": True, "votes_up": 2, "votes_total": 2,
                 "witness": {"type": "Cloud", "state": "Online", "account": "stwitnessne01"}}}, "witness",
     "CRITICAL: the test clone reached cloud witness stwitnessne01"),
    ({"quorum": {"state": "Majority", "has_quorum": True, "votes_up": 2, "votes_total": 2,
                 "witness": {"type": "Cloud", "state": "Online"}}}, "witness",
     "CRITICAL: the test clone reached cloud witness an undeclared account"),
    ({"roles": [{"name": "Cluster Group", "state": "Online", "owner": "s2d-node1"},
                {"name": "SQL Server (MSSQLSERVER)", "state": "Offline", "owner": "s2d-node2"}]}, "roles",
     "not Online: 'SQL Server (MSSQLSERVER)' Offline on s2d-node2"),
    ({"roles": []}, "roles", "no clustered role reported"),
    ({"quorum": {"state": "NodeMajority", "has_quorum": True, "votes_up": 2, "votes_total": 2,
                 "witness": {"type": "None", "state": None}}}, "witness", "no witness configured (2 node vote(s))"),
    ({"pool": {"name": "S2D on s2dclu01", "health": "Warning"}}, "storage-pool", "pool 'S2D on s2dclu01' Warning"),
    ({"pool": None}, "storage-pool", "no S2D storage pool reported"),
    ({"virtual_disks": [{"name": "vd01", "health": "Degraded"}, {"name": "vd02", "health": "Healthy"}]},
     "virtual-disks", "not Healthy: vd01 Degraded"),
    ({"virtual_disks": []}, "virtual-disks", "no virtual disk reported"),
    ({"csv": [{"name": "Cluster Virtual Disk (vd01)", "state": "Failed"}]}, "csvs", "Cluster Virtual Disk (vd01) Failed"),
    ({"ip_resources": [{"name": "Cluster IP Address", "address": "10.30.1.50", "state": "Failed"}]}, "cluster-ip",
     "holds 10.30.1.50 but is Failed"),
    ({"ip_resources": [{"name": "Cluster IP Address", "address": "10.10.1.10", "state": "Offline"}]}, "cluster-ip",
     "no IP Address resource holds the test IP 10.30.1.50"),
    ({"errors": ["storage: Access denied."]}, "guest-report", "1 error(s): storage: Access denied."),
])
def test_each_problem_the_guest_reports_fails_its_own_check(changes: dict[str, Any], check: str, detail: str) -> None:
    failed = failures(judge(health_report(**changes)))
    assert list(failed) == [check] and detail in failed[check], failed


@pytest.mark.parametrize(("changes", "why"), [
    ({}, None),
    ({"cluster_service": "StartPending", "cluster": None, "nodes": [], "pool": None, "virtual_disks": [], "csv": [],
      "ip_resources": [], "errors": ["cluster: The cluster service is not running on this node."]},
     "cluster service (ClusSvc) StartPending"),
    ({"nodes": [{"name": "s2d-node1", "state": "Joining"}, {"name": "s2d-node2", "state": "Up"}]},
     "node s2d-node1 Joining"),
    ({"csv": [{"name": "Cluster Virtual Disk (vd01)", "state": "OnlinePending"}]},
     "Cluster Virtual Disk (vd01) OnlinePending"),
    ({"virtual_disks": [{"name": "vd01", "health": "Warning"}]}, "storage resyncing (vd01 Warning)"),
    # What stays wrong once booted is a failure, not a wait: the drill judges it at once.
    ({"cluster_service": "Stopped"}, None),
    ({"nodes": [{"name": "s2d-node1", "state": "Down"}, {"name": "s2d-node2", "state": "Up"}]}, None),
    ({"pool": {"name": "S2D on s2dclu01", "health": "Warning"}}, None),
    ({"virtual_disks": [{"name": "vd01", "health": "Unhealthy"}]}, None),
    ({"quorum": {"state": "Majority", "has_quorum": True, "votes_up": 2, "votes_total": 2,
                 "witness": {"type": "Cloud", "state": "Offline"}}}, None),
])
def test_a_guest_still_settling_since_boot_is_told_from_one_that_is_broken(changes: dict[str, Any],
                                                                          why: str | None) -> None:
    assert settling(parse_health(json.dumps(health_report(**changes)))) == why


def test_a_report_that_never_settled_fails_the_guest_report_and_says_so() -> None:
    report = parse_health(json.dumps(health_report(virtual_disks=[{"name": "vd01", "health": "Warning"}])))
    checks = {c.name: (c.ok, c.detail) for c in health_checks(
        report, test_ip="10.30.1.50", ip_status="changed", expected_nodes=2,
        unsettled="not settled after waiting 900 s: storage resyncing (vd01 Warning)")}
    assert failures(checks) == {
        "guest-report": "cluster s2dclu01 reported: not settled after waiting 900 s: storage resyncing (vd01 Warning)",
        "virtual-disks": "not Healthy: vd01 Warning"}


def test_three_nodes_without_a_witness_keep_quorum_through_a_node_loss() -> None:
    three = health_report(nodes=[{"name": f"n{i}", "state": "Up"} for i in range(3)],
                          quorum={"state": "NodeMajority", "has_quorum": True, "votes_up": 3, "votes_total": 3,
                                  "witness": {"type": "None", "state": None}})
    assert failures(judge(three, expected=3)) == {}


def test_a_truncated_report_is_judged_on_what_it_lists() -> None:
    checks = judge(health_report(truncated=True, nodes=[{"name": "s2d-node1", "state": "Up"}]), expected=16)
    assert failures(checks) == {} and "cut to fit" in checks["guest-report"][1]


def test_a_distributed_network_name_has_no_ip_resource_to_check() -> None:
    checks = judge(health_report(ip_resources=[]), test_ip=None, ip_status="no-ip-resource")
    assert failures(checks) == {} and "distributed network name" in checks["cluster-ip"][1]
    assert failures(judge(health_report(ip_resources=[]), test_ip=None, ip_status="failed")) == {
        "cluster-ip": "the IP step gave the cluster no test IP"}


@pytest.mark.parametrize(("stdout", "problem"), [
    ("", "printed nothing"),
    ("\n  \n", "printed nothing"),
    ("Get-Cluster : The cluster service is not running", "not JSON"),
    ('{"cluster": "s2dclu01", "nodes": [', "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"nodes": "s2d-node1"}', "nodes is not a list"),
    ('{"nodes": [{"name": "n1"}]}', "nodes[0].state is not a string"),
    ('{"nodes": ["n1"]}', "nodes[0] is not an object"),
    ('{"quorum": {"has_quorum": "yes"}}', "has_quorum is not true or false"),
    ('{"quorum": {"votes_up": "2"}}', "votes_up is not a whole number"),
    ('{"quorum": {"votes_up": true}}', "votes_up is not a whole number"),
    ('{"quorum": "Majority"}', "quorum is not an object"),
    ('{"pool": {"name": "p"}}', "pool.health is not a string"),
    ('{"virtual_disks": [{"name": "vd01", "health": 0}]}', "virtual_disks[0].health is not a string"),
    ('{"ip_resources": "none"}', "ip_resources is not a list"),
    ('{"errors": "boom"}', "errors is not a list"),
    ('{"cluster_service": 4}', "cluster_service is not a string"),
    ("[" * 4000 + "]" * 4000, "nested too deeply"),  # Run Command's 4 KB of output, all brackets
])
def test_malformed_output_is_a_reason_never_an_exception_from_the_checks(stdout: str, problem: str) -> None:
    with pytest.raises(MalformedReport, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_health(stdout)
    checks = {c.name: (c.ok, c.detail) for c in health_checks(f"no usable health report: {problem}", test_ip="10.30.1.50",
                                                                ip_status="changed", expected_nodes=2)}
    assert list(checks) == list(GUEST) and not any(ok for ok, _ in checks.values())
    assert problem in checks["guest-report"][1]


def test_only_the_last_line_counts_and_long_details_are_cut() -> None:
    first = json.dumps(health_report(cluster_service="Stopped"))
    assert failures(judge(first + "\n" + json.dumps(health_report()))) == {}
    many = health_report(virtual_disks=[{"name": f"vd{i:03d}-" + "x" * 40, "health": "Degraded"} for i in range(20)])
    detail = failures(judge(many))["virtual-disks"]
    assert len(detail) == 300 and detail.endswith("…")


# -- which test network: the DR one, or the original region's for the way back ----------------------------

FORWARD_ITEM = f"{VAULT}/replicationFabrics/f1/replicationProtectionContainers/c1/replicationProtectedItems/i"
BACK_ITEM = f"{VAULT}/replicationFabrics/f2/replicationProtectionContainers/c2/replicationProtectedItems/i"
DR_TEST, FAILBACK_TEST = "/subscriptions/s/resourceGroups/dr/providers/Microsoft.Network/virtualNetworks/vnet-dr-test", \
    "/subscriptions/s/resourceGroups/prod/providers/Microsoft.Network/virtualNetworks/vnet-prod-test"
PLAN_F = replace(PLAN, primary_fabric_id=f"{VAULT}/replicationFabrics/F1", recovery_fabric_id=f"{VAULT}/replicationFabrics/f2")


@pytest.mark.parametrize(("prefix", "failback", "ok", "direction", "detail"), [
    (FORWARD_ITEM, FAILBACK_TEST, True, "PrimaryToRecovery",
     "PrimaryToRecovery into vnet-dr-test (northeurope, TEST_FAILOVER_VNET_ID)"),
    (BACK_ITEM, FAILBACK_TEST, True, "RecoveryToPrimary",
     "the way back, RecoveryToPrimary into vnet-prod-test (westeurope, FAILBACK_TEST_VNET_ID)"),
    (BACK_ITEM, "", False, "RecoveryToPrimary",
     "the cluster replicates back to westeurope since its reprotect, so a drill tests the way back there, in "
     "FAILBACK_TEST_VNET_ID, which is empty: set it to an isolated VNet in westeurope"),
])
def test_the_drill_network_follows_the_way_the_items_replicate(prefix: str, failback: str, ok: bool, direction: str,
                                                                detail: str) -> None:
    region = "westeurope" if prefix == BACK_ITEM else "northeurope"
    items = [item(n, id=f"{prefix}{n}", recovery_region=region) for n in (1, 2)]
    network = drill_network(DR_TEST, failback, "NorthEurope", PLAN_F, items)
    check = network.check()
    assert (network.direction, check.ok, check.detail) == (direction, ok, detail)
    assert network.way_back is (direction == "RecoveryToPrimary")


def test_nodes_replicating_both_ways_never_drill() -> None:
    items = [item(1, id=f"{FORWARD_ITEM}1"), item(2, id=f"{BACK_ITEM}2", recovery_region="westeurope")]
    check = drill_network(DR_TEST, FAILBACK_TEST, "northeurope", PLAN_F, items).check()
    assert not check.ok and "a reprotect is unfinished" in check.detail


def test_the_guests_node_list_must_be_the_confirmed_nodes_never_believed_alone() -> None:
    report = parse_health(json.dumps(health_report()))
    confirmed = frozenset({"s2d-node1", "s2d-node2"})

    def nodes_up(names: frozenset[str]) -> DrillCheck:
        return next(c for c in health_checks(report, test_ip="10.30.1.50", ip_status="changed", expected_nodes=2,
                                             expected_names=names) if c.name == "nodes-up")

    assert nodes_up(confirmed).ok
    assert nodes_up(frozenset({"S2D-NODE1", "s2d-node2"})).ok  # computer names compare case-insensitively
    wrong = nodes_up(frozenset({"s2d-node1", "intruder"}))
    assert not wrong.ok and "confirmed nodes are intruder, s2d-node1" in wrong.detail
