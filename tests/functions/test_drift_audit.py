"""The drift audit end to end: real SDK clients against the emulator (HTTPS) and Azurite.

A converged world is the demo cluster enrolled through the real enrollment service. Each drift is then
made the way it happens in Azure: a REST write by an operator (policy edited, plan or load balancer
deleted, a failover nobody announced), a tag change, or the emulator's control API for what only time
or the service changes (replication health, RPO, initial replication). Every check has a positive test
(it passes on a converged cluster, and at its boundary) and a negative one (its drift, and only it, is
reported).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.mgmt.network import NetworkManagementClient
from jsonschema import Draft202012Validator

from emulator import Emulator
from emulator.clients import control
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from emulator.providers.storage.state import add_storage_account
from shared import ids, state
from shared.audit import checks, service
from shared.audit import report as audit_report
from shared.cli.output import EXIT_CRITICAL
from shared.drill.record import DrillRecord, Result
from shared.enrollment import service as enrollment
from shared.findings import Severity
from shared.runtime import Runtime
from tests.functions.conftest import writes_since
from tests.functions.drift_world import (
    CLUSTER,
    DR_IP,
    NOW,
    RECENT,
    add_node,
    asr_items,
    enroll,
    iso,
    item_of,
    mark_tested,
    node_tags,
    protect_in_group,
    set_tags,
)

SCHEMA = json.loads(audit_report.SCHEMA_PATH.read_text())


def audit(rt: Runtime, **kwargs: Any) -> audit_report.Report:
    report = service.run_audit(rt, **kwargs)
    Draft202012Validator(SCHEMA).validate(report.to_json())
    return report


def cluster_of(report: audit_report.Report, cluster: str = CLUSTER) -> audit_report.ClusterReport:
    return next(c for c in report.clusters if c.name == cluster)


def codes(report: audit_report.Report, cluster: str = CLUSTER) -> list[str]:
    return sorted(f.code for f in cluster_of(report, cluster).findings)


def severity_of(report: audit_report.Report, code: str, cluster: str = CLUSTER) -> Severity:
    return next(f.severity for f in cluster_of(report, cluster).findings if f.code == code)


# -- a converged world ----------------------------------------------------------------------------------

def test_a_converged_cluster_is_green_and_an_audit_with_repair_on_writes_nothing_to_azure(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    seq = emu.journal.last_seq
    report = audit(runtime, repair=True)
    assert writes_since(emu, seq) == []
    assert [c.name for c in report.clusters] == [CLUSTER]
    cluster = cluster_of(report)
    assert cluster.findings == () and cluster.status == "green" and cluster.plan == () and cluster.repair is None
    assert [n.protected for n in cluster.nodes] == [True, True]
    assert cluster.recovery_plan == f"asr-s2d-{CLUSTER}" and cluster.dr_ip == DR_IP
    assert cluster.last_test_failover is not None and not report.critical


ALL_CHECKS = (*checks.CHECKS, *checks.FAILED_OVER_CHECKS[:1])


@pytest.mark.parametrize("title,check", ALL_CHECKS, ids=[t for t, _ in ALL_CHECKS])
def test_every_check_passes_on_a_converged_cluster(title: str, check: Callable[..., Any], emu: Emulator,
                                                   converged: dict[str, Any], runtime: Runtime) -> None:
    observed = service.observe(runtime)
    [cluster] = observed.clusters
    view = service.audit_cluster(runtime, cluster, observed, now=NOW).view
    assert check(view) == [], title


def test_the_report_is_stored_as_latest_and_by_time_and_validates_against_its_schema(
        converged: dict[str, Any], runtime: Runtime) -> None:
    report = audit(runtime)
    stored = runtime.blobs.get_json(state.LATEST_AUDIT)
    assert stored is not None and stored.body["audit_id"] == report.audit_id
    by_time = runtime.blobs.get_json(report.blob_name)
    assert by_time is not None and by_time.body == stored.body
    assert report.blob_name.startswith("audits/") and report.blob_name.endswith("Z.json")
    Draft202012Validator(SCHEMA).validate(stored.body)
    assert stored.body["schema_version"] == 1 and stored.body["summary"]["status"] == {"red": 0, "amber": 0,
                                                                                        "green": 1}


def test_the_schema_documents_every_field() -> None:
    def undocumented(node: Any, path: str) -> list[str]:
        missing = []
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                if isinstance(sub, dict) and "description" not in sub and "$ref" not in sub:
                    missing.append(f"{path}.{name}")
            for key, sub in node.items():
                missing += undocumented(sub, f"{path}.{key}")
        return missing

    Draft202012Validator.check_schema(SCHEMA)
    assert undocumented(SCHEMA, "$") == []


# -- every node protected, in one group --------------------------------------------------------------------

def test_a_tagged_node_that_does_not_replicate_is_critical(emu: Emulator, converged: dict[str, Any],
                                                          runtime: Runtime) -> None:
    add_node(emu, converged, "s2d-node3", node_tags(CLUSTER, witness=converged["witness_storage_account_id"],
                                                    dr_ip=DR_IP))
    enrollment.confirm_node(runtime, CLUSTER, "s2d-node3")  # an operator confirms the new node
    report = audit(runtime)
    assert codes(report) == ["node-unprotected"]
    assert severity_of(report, "node-unprotected") is Severity.CRITICAL and report.critical
    cluster = cluster_of(report)
    assert cluster.status == "red"
    assert [k for k, _text, applies in cluster.plan if applies] == ["EnableNode", "UpsertRecoveryPlan", "SetPoolMapping"]


def test_a_cluster_whose_tag_event_was_missed_is_enrolled_by_the_audit_as_a_backstop(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime) -> None:
    for vm_id in demo["vm_ids"]:
        set_tags(emu, vm_id, **node_tags(CLUSTER, witness=demo["witness_storage_account_id"], dr_ip=DR_IP))
    report = audit(runtime)
    found = codes(report)
    assert found.count("node-unprotected") == 2 and {"dr-lb-missing", "policy-missing", "plan-pending"} <= set(found)
    assert all(applies for _kind, _text, applies in cluster_of(report).plan)
    repaired = audit(runtime, repair=True)
    assert cluster_of(repaired).repair is not None and cluster_of(repaired).repair.outcome == "changed"  # type: ignore[union-attr]
    control(emu, "POST", "asr/settle")
    mark_tested(emu)
    assert codes(audit(runtime)) == []


def test_a_node_in_initial_replication_is_a_warning(emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    control(emu, "POST", "asr/advance", {"to": "InitialReplication", "item": item_of(emu, converged["vm_ids"][1])["id"],
                                         "percent": 40})
    report = audit(runtime)
    assert codes(report) == ["node-not-protected-yet"]
    assert cluster_of(report).status == "amber"


def test_a_node_protected_in_another_group_is_critical_and_the_audit_never_disables_it(
        emu: Emulator, converged: dict[str, Any], make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(ALLOW_DISABLE_REPLICATION="true")
    vm_id = add_node(emu, converged, "s2d-node3", node_tags(CLUSTER, witness=converged["witness_storage_account_id"],
                                                            dr_ip=DR_IP))
    protect_in_group(rt, emu, vm_id, "adhoc")
    enrollment.confirm_node(rt, CLUSTER, "s2d-node3")
    mark_tested(emu)
    seq = emu.journal.last_seq
    report = audit(rt, repair=True)
    assert codes(report) == ["node-outside-group"]
    assert [(kind, applies) for kind, _text, applies in cluster_of(report).plan] == [("DisableNode", False)]
    assert writes_since(emu, seq) == []  # the plan's only action is a disable: the audit leaves it to an operator
    assert item_of(emu, vm_id)["properties"]["providerSpecificDetails"]["multiVmGroupName"] == "adhoc"


def test_a_converged_cluster_has_no_foreign_vm_in_its_group(converged: dict[str, Any], runtime: Runtime) -> None:
    assert "foreign-vm-in-group" not in codes(audit(runtime))


def test_a_node_of_another_cluster_replicating_in_the_group_is_critical(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    vm_id = add_node(emu, converged, "other-node1", node_tags("s2dclu02", witness=None))
    protect_in_group(runtime, emu, vm_id, CLUSTER)
    mark_tested(emu)
    report = audit(runtime)
    assert codes(report) == ["foreign-vm-in-group"]
    assert severity_of(report, "foreign-vm-in-group") is Severity.CRITICAL
    assert "node-outside-group" in codes(report, "s2dclu02")


def test_a_node_that_lost_its_tag_is_reported_and_the_plan_keeps_the_whole_group(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    set_tags(emu, converged["vm_ids"][1], **{"asr-s2d": None})
    seq = emu.journal.last_seq
    report = audit(runtime, repair=True)
    assert codes(report) == ["tag-removed"]
    assert severity_of(report, "tag-removed") is Severity.WARNING
    # The plan keeps the whole group (ASR refuses to fail over part of one): nothing to write.
    assert list(cluster_of(report).plan) == []
    assert writes_since(emu, seq) == []


def test_a_vm_replicating_with_asr_s2ds_policy_outside_every_cluster_is_reported(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    for vm_id in converged["vm_ids"]:
        set_tags(emu, vm_id, **{"asr-s2d": None})
    report = audit(runtime)
    # The vault is the second witness: the enrolled cluster is not silently gone, it is lost (red).
    assert [(c.name, c.status, [f.code for f in c.findings]) for c in report.clusters] == [
        (CLUSTER, "red", ["cluster-lost"])]
    assert sorted((f.code, f.subject) for f in report.findings) == [
        ("tag-near-miss", "s2d-node1"), ("tag-near-miss", "s2d-node2"),  # asr-s2d-cluster without asr-s2d=true
        ("tag-removed", "s2d-node1"), ("tag-removed", "s2d-node2")]


# -- the replication policy ----------------------------------------------------------------------------

def _edit_policy(asr_sdk: Any, rt: Runtime, **changes: Any) -> None:
    vault = ids.parse(rt.settings.vault_id)
    settings = {"instanceType": "A2A", "recoveryPointHistory": 1440, "crashConsistentFrequencyInMinutes": 5,
                "appConsistentFrequencyInMinutes": 0, "multiVmSyncStatus": "Enable", **changes}
    asr_sdk.replication_policies.begin_update(vault.resource_group, vault.name, rt.settings.policy_name,
                                              {"properties": {"replicationProviderSettings": settings}}).result()


def test_a_policy_edited_to_take_app_consistent_snapshots_is_critical(
        converged: dict[str, Any], runtime: Runtime, asr_sdk: Any) -> None:
    _edit_policy(asr_sdk, runtime, appConsistentFrequencyInMinutes=60)
    report = audit(runtime)
    assert codes(report) == ["policy-app-consistent"]
    assert severity_of(report, "policy-app-consistent") is Severity.CRITICAL


def test_a_policy_with_multi_vm_sync_off_is_critical(converged: dict[str, Any], runtime: Runtime, asr_sdk: Any) -> None:
    _edit_policy(asr_sdk, runtime, multiVmSyncStatus="Disable")
    assert codes(audit(runtime)) == ["policy-multi-vm-sync-off"]


def test_the_audit_repair_restores_the_policy_with_the_same_plan_enrollment_uses(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime, asr_sdk: Any) -> None:
    _edit_policy(asr_sdk, runtime, appConsistentFrequencyInMinutes=60)
    report = audit(runtime, repair=True)
    assert cluster_of(report).repair is not None and cluster_of(report).repair.outcome == "changed"  # type: ignore[union-attr]
    assert cluster_of(report).status == "amber"  # repaired in this run; the next audit confirms it
    again = audit(runtime, repair=True)
    assert codes(again) == [] and cluster_of(again).status == "green"


def test_a_policy_whose_retention_differs_from_the_setting_is_only_an_info(
        converged: dict[str, Any], make_runtime: Callable[..., Runtime]) -> None:
    report = audit(make_runtime(RECOVERY_POINT_RETENTION_MINUTES="720"))
    assert codes(report) == ["policy-retention"] and cluster_of(report).status == "green"


# -- tags the planner cannot act on ------------------------------------------------------------------------

def test_fewer_nodes_tagged_than_asr_s2d_nodes_says_so(emu: Emulator, converged: dict[str, Any],
                                                      runtime: Runtime) -> None:
    for vm_id in converged["vm_ids"]:
        set_tags(emu, vm_id, **{"asr-s2d-nodes": "3"})
    report = audit(runtime)
    assert codes(report) == ["nodes-missing"] and "2 of 3" in cluster_of(report).findings[0].message


def test_a_dr_ip_outside_the_dr_subnet_is_refused_by_the_planner_and_reported(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    for vm_id in converged["vm_ids"]:
        set_tags(emu, vm_id, **{"asr-s2d-dr-ip": "10.99.0.5"})
    report = audit(runtime)
    assert codes(report) == ["cluster-rejected", "dr-lb-wrong-ip"]
    assert "10.99.0.5" in next(f.message for f in cluster_of(report).findings if f.code == "cluster-rejected")


def test_a_node_whose_tags_are_refused_is_reported_in_its_clusters_group(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    set_tags(emu, converged["vm_ids"][0], **{"asr-s2d-probe-port": "not-a-port"})
    report = audit(runtime)
    assert codes(report) == ["tags-rejected"] and cluster_of(report).findings[0].subject == "s2d-node1"
    assert list(cluster_of(report).plan) == []  # the refused node stays in the group's recovery plan
    assert report.findings == []  # shown once, under its cluster


def test_a_vm_with_refused_tags_outside_every_group_is_a_report_level_finding(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    add_node(emu, converged, "stray", {"asr-s2d": "true", "asr-s2d-cluster": "stray", "asr-s2d-nodes": "99"})
    report = audit(runtime)
    assert [(f.code, f.subject) for f in report.findings] == [("tags-rejected", "stray")]
    assert codes(report) == []


# -- health and RPO -------------------------------------------------------------------------------------

@pytest.mark.parametrize("health,severity", [("Warning", Severity.WARNING), ("Critical", Severity.CRITICAL)])
def test_replication_health_other_than_normal_is_reported_with_its_severity(
        health: str, severity: Severity, emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    control(emu, "POST", "asr/health", {"item": item_of(emu, converged["vm_ids"][0])["id"], "replicationHealth": health})
    report = audit(runtime)
    assert codes(report) == ["replication-unhealthy"]
    assert severity_of(report, "replication-unhealthy") is severity


def test_an_rpo_at_the_threshold_passes(emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    control(emu, "POST", "asr/health", {"item": item_of(emu, converged["vm_ids"][0])["id"],
                                        "rpoInSeconds": runtime.settings.rpo_threshold_seconds})
    assert codes(audit(runtime)) == []


def test_an_rpo_above_the_threshold_is_a_warning(emu: Emulator, converged: dict[str, Any],
                                                 make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(RPO_THRESHOLD_SECONDS="600")
    control(emu, "POST", "asr/health", {"item": item_of(emu, converged["vm_ids"][1])["id"], "rpoInSeconds": 601})
    report = audit(rt)
    assert codes(report) == ["rpo-exceeded"]
    assert cluster_of(report).rpo_seconds == 601 and "601 s" in cluster_of(report).findings[0].message


# -- test failover age -------------------------------------------------------------------------------------

def test_a_test_failover_just_inside_the_age_limit_passes(emu: Emulator, converged: dict[str, Any],
                                                         runtime: Runtime) -> None:
    mark_tested(emu, iso(NOW - timedelta(days=179)))
    assert codes(audit(runtime)) == []


def test_a_stale_test_failover_is_a_warning(emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    mark_tested(emu, iso(NOW - timedelta(days=200)))
    report = audit(runtime)
    assert codes(report) == ["test-failover-stale"]
    assert "200 days" in cluster_of(report).findings[0].message


def test_a_cluster_never_tested_is_a_warning(emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    mark_tested(emu, None)
    assert codes(audit(runtime)) == ["test-failover-never"]


def drill_record(key: str, result: Result) -> DrillRecord:
    """A drill record as the drill service stores it, ended now."""
    return DrillRecord(drill_id="cli-1", cluster=CLUSTER, cluster_key=key, trigger="cli", started=iso(NOW),
                       ended=iso(NOW), drill_seconds=1.0, result=result, reason=result.value)


def test_a_recent_successful_drill_record_counts_as_a_test_failover(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    mark_tested(emu, iso(NOW - timedelta(days=400)))
    key = cluster_of(audit(runtime)).key
    runtime.records.set_cluster_note(key, state.LAST_DRILL, drill_record(key, Result.PASSED).to_json())
    report = audit(runtime)
    assert codes(report) == [] and cluster_of(report).last_test_failover is not None


def test_a_failed_drill_record_does_not_count(emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    mark_tested(emu, None)
    key = cluster_of(audit(runtime)).key
    runtime.records.set_cluster_note(key, state.LAST_DRILL, drill_record(key, Result.FAILED).to_json())
    assert codes(audit(runtime)) == ["test-failover-never"]


# -- recovery plan ---------------------------------------------------------------------------------------

def test_a_deleted_recovery_plan_is_critical_and_the_repair_recreates_it(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime, asr_sdk: Any) -> None:
    vault = ids.parse(runtime.settings.vault_id)
    asr_sdk.replication_recovery_plans.begin_delete(vault.resource_group, vault.name, f"asr-s2d-{CLUSTER}").result()
    report = audit(runtime)
    assert codes(report) == ["recovery-plan-missing"] and cluster_of(report).recovery_plan is None
    assert severity_of(report, "recovery-plan-missing") is Severity.CRITICAL
    seq = emu.journal.last_seq
    repaired = audit(runtime, repair=True)
    assert cluster_of(repaired).repair.writes == 1  # type: ignore[union-attr]
    assert [e.method for e in writes_since(emu, seq)] == ["PUT"]
    assert codes(audit(runtime)) == []


def test_a_recovery_plan_that_lacks_a_member_of_the_group_is_critical(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    vm_id = add_node(emu, converged, "s2d-node3", node_tags(CLUSTER, witness=converged["witness_storage_account_id"],
                                                            dr_ip=DR_IP))
    protect_in_group(runtime, emu, vm_id, CLUSTER)  # enabled by hand: the plan was not updated
    enrollment.confirm_node(runtime, CLUSTER, "s2d-node3")
    mark_tested(emu)
    report = audit(runtime)
    assert codes(report) == ["pool-mapping-missing", "recovery-plan-incomplete"]
    assert "s2d-node3" in next(f.message for f in cluster_of(report).findings if f.code == "recovery-plan-incomplete")


RUNBOOK = {"actionName": "asr-s2d-ip-step", "failoverTypes": ["UnplannedFailover", "TestFailover"],
           "failoverDirections": ["PrimaryToRecovery"],
           "customDetails": {"instanceType": "AutomationRunbookActionDetails", "fabricLocation": "Recovery",
                             "runbookId": "/subscriptions/x/resourceGroups/rg-dr/providers/Microsoft.Automation/"
                                          "automationAccounts/aa-dr/runbooks/Invoke-AsrS2dPostFailover"}}


def plan_groups(rt: Runtime, asr_sdk: Any) -> list[dict[str, Any]]:
    vault = ids.parse(rt.settings.vault_id)
    plan = asr_sdk.replication_recovery_plans.get(vault.resource_group, vault.name, f"asr-s2d-{CLUSTER}").as_dict()
    return plan["properties"]["groups"]


def operator_edits_plan(rt: Runtime, asr_sdk: Any, edit: Callable[[list[dict[str, Any]]], None]) -> None:
    """The operator customizes the plan in the portal: the update resends every group (what the portal does)."""
    vault = ids.parse(rt.settings.vault_id)
    groups = plan_groups(rt, asr_sdk)
    edit(groups)
    asr_sdk.replication_recovery_plans.begin_update(vault.resource_group, vault.name, f"asr-s2d-{CLUSTER}",
                                                    {"properties": {"groups": groups}}).result()


def boot_group(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return next(g for g in groups if g["groupType"] == "Boot")


def test_repairing_the_plan_keeps_the_operators_runbook_and_required_runbooks_are_audited(
        emu: Emulator, converged: dict[str, Any], make_runtime: Callable[..., Runtime], asr_sdk: Any) -> None:
    """An update replaces each group's actions with what it sends (azure-powershell issues 8629, 12837): asr-s2d's
    own plan writes resend the plan's groups and actions as read, so the failover runbook survives a repair."""
    rt = make_runtime(RUNBOOK_REQUIRED="true")
    assert codes(audit(rt)) == ["recovery-plan-runbook-missing"]
    assert severity_of(audit(rt), "recovery-plan-runbook-missing") is Severity.CRITICAL

    def add_runbook_drop_a_node(groups: list[dict[str, Any]]) -> None:
        boot_group(groups)["endGroupActions"] = [RUNBOOK]
        boot_group(groups)["replicationProtectedItems"] = boot_group(groups)["replicationProtectedItems"][:1]

    operator_edits_plan(rt, asr_sdk, add_runbook_drop_a_node)
    assert codes(audit(rt)) == ["recovery-plan-incomplete"]
    audit(rt, repair=True)
    groups = plan_groups(rt, asr_sdk)
    assert [g["groupType"] for g in groups] == ["Shutdown", "Failover", "Boot"]
    assert len(boot_group(groups)["replicationProtectedItems"]) == 2
    assert [a["actionName"] for a in boot_group(groups)["endGroupActions"]] == ["asr-s2d-ip-step"]
    assert boot_group(groups)["endGroupActions"][0]["customDetails"]["runbookId"].endswith("/Invoke-AsrS2dPostFailover")
    assert codes(audit(rt)) == []
    assert codes(audit(make_runtime())) == []  # without RUNBOOK_REQUIRED a plan without a runbook is fine


# -- DR load balancer and pool mappings --------------------------------------------------------------------------

def test_a_deleted_dr_load_balancer_is_critical_and_the_repair_recreates_it_with_the_dr_ip(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any]) -> None:
    lb_id = runtime.settings.recovery_resource_group_id + f"/providers/Microsoft.Network/loadBalancers/lb-asr-s2d-{CLUSTER}"
    operator_sdk(NetworkManagementClient).load_balancers.begin_delete("rg-s2d-dr", ids.name_of(lb_id)).result()
    report = audit(runtime)
    assert codes(report) == ["dr-lb-missing"] and cluster_of(report).dr_load_balancer is None
    audit(runtime, repair=True)
    lb = runtime.network.get_load_balancer(lb_id)
    assert lb is not None and lb.frontend_ip == DR_IP
    assert codes(audit(runtime)) == []


def test_a_dr_ip_tag_that_differs_from_the_load_balancer_is_critical(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    for vm_id in converged["vm_ids"]:
        set_tags(emu, vm_id, **{"asr-s2d-dr-ip": "10.20.1.20"})
    report = audit(runtime)
    assert codes(report) == ["dr-lb-wrong-ip"]
    assert severity_of(report, "dr-lb-wrong-ip") is Severity.CRITICAL


def test_a_dr_load_balancer_with_another_probe_port_is_a_warning(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    lb_id = runtime.settings.recovery_resource_group_id + f"/providers/Microsoft.Network/loadBalancers/lb-asr-s2d-{CLUSTER}"
    lb = runtime.network.get_load_balancer(lb_id)
    assert lb is not None and lb.frontend_subnet_id is not None
    runtime.network.put_internal_load_balancer(lb_id, location="northeurope", subnet_id=lb.frontend_subnet_id,
                                               frontend_ip=DR_IP, probe_port=1234,
                                               tags={"managed-by": "asr-s2d", "asr-s2d-cluster": CLUSTER})
    report = audit(runtime)
    assert codes(report) == ["dr-lb-misconfigured"] and "1234" in cluster_of(report).findings[0].message


def test_a_cleared_pool_mapping_is_a_warning_and_the_repair_restores_it(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    item = runtime.asr.get_item(item_of(emu, converged["vm_ids"][0])["id"])
    assert item is not None
    nic = item.nics[0]
    runtime.asr.set_pool_mapping(item.id, nic_id=nic.nic_id, ip_config_name=nic.ip_config_name, pool_ids=(),
                                 test=False)
    report = audit(runtime)
    assert codes(report) == ["pool-mapping-missing"]
    assert [f.subject for f in cluster_of(report).findings] == ["s2d-node1"]
    audit(runtime, repair=True)
    assert codes(audit(runtime)) == []


def test_restoring_a_pool_mapping_keeps_every_other_nic_setting_the_operator_made(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime, asr_sdk: Any) -> None:
    """An update replaces the item's NIC settings (the emulator resets what it leaves out, as the service does): the
    repair resends every NIC field as read, so the operator's recovery static IP and NSG survive it."""
    raw = item_of(emu, converged["vm_ids"][0])
    fabric, container = raw["id"].split("/")[10], raw["id"].split("/")[12]
    vault = ids.parse(runtime.settings.vault_id)
    [nic] = raw["properties"]["providerSpecificDetails"]["vmNics"]
    nsg = runtime.settings.recovery_resource_group_id + "/providers/Microsoft.Network/networkSecurityGroups/nsg-dr"
    operator_sdk_nic = {"nicId": nic["nicId"], "recoveryNetworkSecurityGroupId": nsg, "ipConfigs": [{
        "ipConfigName": nic["ipConfigs"][0]["name"], "isPrimary": True, "recoverySubnetName": "snet-s2d",
        "recoveryStaticIPAddress": "10.20.1.44", "recoveryLBBackendAddressPoolIds": []}]}  # the pool left out: cleared
    asr_sdk.replication_protected_items.begin_update(vault.resource_group, vault.name, fabric, container, raw["name"], {
        "properties": {"vmNics": [operator_sdk_nic], "providerSpecificDetails": {"instanceType": "A2A"}}}).result()
    assert codes(audit(runtime)) == ["pool-mapping-missing"]
    audit(runtime, repair=True)
    assert codes(audit(runtime)) == []
    [after] = item_of(emu, converged["vm_ids"][0])["properties"]["providerSpecificDetails"]["vmNics"]
    assert after["recoveryNetworkSecurityGroupId"] == nsg
    assert after["ipConfigs"][0]["recoveryStaticIPAddress"] == "10.20.1.44"
    assert after["ipConfigs"][0]["recoverySubnetName"] == "snet-s2d"
    assert after["ipConfigs"][0]["recoveryLBBackendAddressPoolIds"]  # the repair's own change


# -- witness and cache accounts --------------------------------------------------------------------------------

def test_a_witness_in_the_source_region_is_critical(emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    for vm_id in converged["vm_ids"]:
        set_tags(emu, vm_id, **{"asr-s2d-witness": converged["cache_storage_account_id"]})
    report = audit(runtime)
    assert codes(report) == ["witness-wrong-region"]
    assert "westeurope" in cluster_of(report).findings[0].message


def test_a_witness_that_does_not_exist_is_critical(emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    missing = converged["witness_storage_account_id"].rsplit("/", 1)[0] + "/stnosuchwitness01"
    for vm_id in converged["vm_ids"]:
        set_tags(emu, vm_id, **{"asr-s2d-witness": missing})
    assert codes(audit(runtime)) == ["witness-missing"]


def test_a_cluster_without_a_witness_tag_gets_an_info_and_stays_green(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    for vm_id in converged["vm_ids"]:
        set_tags(emu, vm_id, **{"asr-s2d-witness": None})
    report = audit(runtime)
    assert codes(report) == ["witness-undeclared"] and cluster_of(report).status == "green"


def test_a_cache_account_in_the_target_region_is_critical(converged: dict[str, Any],
                                                        make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(CACHE_STORAGE_ACCOUNT_ID=converged["dr_cache_storage_account_id"])
    report = audit(rt)
    assert codes(report) == ["cache-wrong-region"]
    assert cluster_of(report).findings[0].subject == "stasrcachene01"


def test_a_cache_account_that_refuses_shared_keys_is_critical(emu: Emulator, converged: dict[str, Any],
                                                             runtime: Runtime) -> None:
    with emu.world.lock:
        emu.world.get(converged["cache_storage_account_id"])["properties"]["allowSharedKeyAccess"] = False  # type: ignore[index]
    assert codes(audit(runtime)) == ["cache-shared-key-disabled"]


def test_a_cache_account_that_does_not_exist_is_critical(emu: Emulator, converged: dict[str, Any],
                                                        make_runtime: Callable[..., Runtime]) -> None:
    with emu.world.lock:
        add_storage_account(emu.world, subscription_id=converged["subscription_id"], resource_group="rg-s2d-prod",
                            name="stunused01", location="westeurope")
    rt = make_runtime(CACHE_STORAGE_ACCOUNT_ID=converged["cache_storage_account_id"].rsplit("/", 1)[0] + "/stgone01")
    assert codes(audit(rt)) == ["cache-missing"]


# -- a failover nobody announced ---------------------------------------------------------------------------------

def _fail_over(asr_sdk: Any, rt: Runtime, emu: Emulator) -> None:
    vault = ids.parse(rt.settings.vault_id)
    asr_sdk.replication_recovery_plans.begin_unplanned_failover(
        vault.resource_group, vault.name, f"asr-s2d-{CLUSTER}",
        {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired",
                        "providerSpecificDetails": [{"instanceType": "A2A", "recoveryPointType": "Latest"}]}}).result()
    control(emu, "POST", "asr/settle")


def test_a_failover_no_signal_announced_is_critical_and_the_audit_only_reports_it_by_default(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime, asr_sdk: Any) -> None:
    _fail_over(asr_sdk, runtime, emu)
    seq = emu.journal.last_seq
    report = audit(runtime, repair=True)
    assert codes(report) == ["failover-unannounced"]
    cluster = cluster_of(report)
    assert cluster.status == "red" and cluster.plan == () and cluster.reassign is None and cluster.repair is None
    assert [n.active_location for n in cluster.nodes] == ["Recovery", "Recovery"]
    assert writes_since(emu, seq) == []


def test_test_failover_vms_carrying_the_nodes_tags_are_not_taken_for_nodes(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime, asr_sdk: Any) -> None:
    vault = ids.parse(runtime.settings.vault_id)
    asr_sdk.replication_recovery_plans.begin_test_failover(
        vault.resource_group, vault.name, f"asr-s2d-{CLUSTER}",
        {"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "VmNetworkAsInput",
                        "networkId": runtime.settings.test_vnet_id,
                        "providerSpecificDetails": [{"instanceType": "A2A", "recoveryPointType": "Latest"}]}}).result()
    control(emu, "POST", "asr/settle")
    report = audit(runtime)
    assert [n.name for n in cluster_of(report).nodes] == ["s2d-node1", "s2d-node2"]
    assert codes(report) == [] and report.findings == []


def test_a_failover_asr_s2d_recorded_is_reported_as_failed_over_not_unannounced(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime, asr_sdk: Any) -> None:
    _fail_over(asr_sdk, runtime, emu)
    key = cluster_of(audit(runtime)).key
    runtime.records.set_cluster_note(key, state.READDRESS, {"status": "changed", "ip": DR_IP, "at": iso(
        datetime.now(UTC) + timedelta(seconds=1))})
    report = audit(runtime)
    # Running in the DR region and not reprotected: not protected, so red (a handled failover is no longer
    # "unannounced", but it is still a cluster that would not survive the next disaster).
    assert codes(report) == ["failed-over"] and cluster_of(report).status == "red"


def test_with_audit_reassign_ip_the_audit_hands_an_unannounced_failover_to_the_failover_service(
        emu: Emulator, converged: dict[str, Any], make_runtime: Callable[..., Runtime], asr_sdk: Any) -> None:
    rt = make_runtime(AUDIT_REASSIGN_IP="true")
    _fail_over(asr_sdk, rt, emu)
    report = audit(rt)
    reassign = cluster_of(report).reassign
    assert codes(report) == ["failover-unannounced"]
    assert reassign is not None and reassign["outcome"] == "reassigned", reassign
    # Recorded as the audit's (the alert on failed post-failover steps tells the backstop from an operator's reassign-ip).
    recorded = rt.records.cluster_note(cluster_of(report).key, "last-audit")
    assert recorded is not None and recorded["trigger"] == "audit" and recorded["outcome"] == "reassigned"
    # The failover service recorded the re-addressing: the next audit sees a handled failover.
    assert codes(audit(rt)) == ["failed-over"]


# -- the whole world at once ---------------------------------------------------------------------------------

ONE_OF_EACH = {
    "c-unprot": ["node-unprotected"],
    "c-init": ["node-not-protected-yet"],
    "c-tag": ["tag-removed"],
    "c-health": ["replication-unhealthy"],
    "c-rpo": ["rpo-exceeded"],
    "c-stale": ["test-failover-stale"],
    "c-noplan": ["recovery-plan-missing"],
    "c-nolb": ["dr-lb-missing"],
    "c-ip": ["dr-lb-wrong-ip"],
    "c-pool": ["pool-mapping-missing"],
    "c-witness": ["witness-wrong-region"],
    "c-fo": ["failover-unannounced"],
}


def test_a_world_with_one_of_each_drift_reports_exactly_those(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime, asr_sdk: Any) -> None:
    """Twelve clusters beside the converged one, each with a different drift: one audit reports each exactly."""
    witness = converged["witness_storage_account_id"]
    for name in ONE_OF_EACH:
        for n in (1, 2):
            add_node(emu, converged, f"{name}-n{n}", node_tags(name, witness=witness))
        enroll(runtime, name)
    control(emu, "POST", "asr/settle")
    mark_tested(emu)
    vault = ids.parse(runtime.settings.vault_id)
    lb_prefix = runtime.settings.recovery_resource_group_id + "/providers/Microsoft.Network/loadBalancers/lb-asr-s2d-"

    add_node(emu, converged, "c-unprot-n3", node_tags("c-unprot", witness=witness))
    enrollment.confirm_node(runtime, "c-unprot", "c-unprot-n3")
    control(emu, "POST", "asr/advance", {"to": "InitialReplication", "item": item_of(emu, _vm(emu, "c-init-n1"))["id"],
                                         "percent": 10})
    set_tags(emu, _vm(emu, "c-tag-n2"), **{"asr-s2d": "false"})
    control(emu, "POST", "asr/health", {"item": item_of(emu, _vm(emu, "c-health-n1"))["id"],
                                        "replicationHealth": "Critical"})
    control(emu, "POST", "asr/health", {"item": item_of(emu, _vm(emu, "c-rpo-n2"))["id"], "rpoInSeconds": 99999})
    with emu.world.lock:
        for n in (1, 2):
            item_of(emu, _vm(emu, f"c-stale-n{n}"))["properties"]["lastSuccessfulTestFailoverTime"] = iso(
                NOW - timedelta(days=365))
        network.delete_load_balancer(emu.world, lb_prefix + "c-nolb")
    asr_sdk.replication_recovery_plans.begin_delete(vault.resource_group, vault.name, "asr-s2d-c-noplan").result()
    for n in (1, 2):
        set_tags(emu, _vm(emu, f"c-ip-n{n}"), **{"asr-s2d-dr-ip": "10.20.1.200"})
        set_tags(emu, _vm(emu, f"c-witness-n{n}"), **{"asr-s2d-witness": converged["cache_storage_account_id"]})
    item = runtime.asr.get_item(item_of(emu, _vm(emu, "c-pool-n1"))["id"])
    assert item is not None
    runtime.asr.set_pool_mapping(item.id, nic_id=item.nics[0].nic_id, ip_config_name=item.nics[0].ip_config_name,
                                 pool_ids=(), test=False)
    asr_sdk.replication_recovery_plans.begin_unplanned_failover(
        vault.resource_group, vault.name, "asr-s2d-c-fo",
        {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired",
                        "providerSpecificDetails": [{"instanceType": "A2A", "recoveryPointType": "Latest"}]}}).result()
    control(emu, "POST", "asr/settle")

    seq = emu.journal.last_seq
    report = audit(runtime)
    assert writes_since(emu, seq) == []
    found = {c.name: sorted(f.code for f in c.findings) for c in report.clusters}
    assert found == {CLUSTER: [], **ONE_OF_EACH}
    assert report.findings == []
    statuses = {c.name: c.status for c in report.clusters}
    assert statuses[CLUSTER] == "green" and statuses["c-fo"] == "red" and statuses["c-stale"] == "amber"


def _vm(emu: Emulator, name: str) -> str:
    with emu.world.lock:
        return next(r["id"] for r in emu.world.all() if r.get("type") == "Microsoft.Compute/virtualMachines"
                    and r["name"] == name)


# -- drift events -----------------------------------------------------------------------------------------



def test_a_drifted_cluster_is_published_as_a_drift_event_when_a_topic_is_configured(
        emu: Emulator, converged: dict[str, Any], make_runtime: Callable[..., Runtime], topic: dict[str, Any]) -> None:
    rt = make_runtime(EVENT_GRID_TOPIC_ENDPOINT=topic["endpoint"], EVENT_GRID_TOPIC_KEY="topic-key",
                      ARM_CA_BUNDLE=topic["ca_bundle"])
    assert audit(rt).clusters[0].status == "green"
    assert topic["events"] == []  # a green cluster is no drift
    mark_tested(emu, None)
    report = audit(rt)
    [event] = topic["events"]
    assert event["eventType"] == service.DRIFT_EVENT and event["subject"] == f"asr-s2d/{CLUSTER}"
    assert event["data"]["status"] == "amber" and event["data"]["audit_id"] == report.audit_id
    assert [f["code"] for f in event["data"]["findings"]] == ["test-failover-never"]


# -- bulk reads: a constant number of calls plus list pages -------------------------------------------------

def seed_clusters(emu: Emulator, demo: dict[str, Any], count: int) -> None:
    """``count`` more converged two-node clusters, written straight into the world with the providers' state
    functions (VMs, NICs, protected items, recovery plans, DR load balancers): no API calls, no journal."""
    from emulator.providers.recoveryservices import infra, replication
    from emulator.providers.recoveryservices.plans import add_plan
    from emulator.providers.recoveryservices.state import container_of, create_network_mapping, fabric_of

    world, sub, region = emu.world, demo["subscription_id"], demo["source_region"]
    with world.lock:
        vnet = network.add_virtual_network(world, subscription_id=sub, resource_group="rg-s2d-prod", name="vnet-scale",
                                           location=region, address_prefixes=["10.40.0.0/16"],
                                           subnets={"snet-s2d": "10.40.0.0/20"})
        subnet_id = vnet["properties"]["subnets"][0]["id"]
        template = asr_items(emu)[0]
        container = container_of(world, template)
        vault = world.get(demo["vault_id"])
        assert vault is not None
        recovery_fabric = world.get(template["properties"]["recoveryFabricId"])
        assert recovery_fabric is not None
        create_network_mapping(world, fabric_of(world, container), "azureNetwork", "asr-s2d-vnet-scale-to-vnet-dr",
                               {"recoveryFabricName": recovery_fabric["name"], "recoveryNetworkId": demo["recovery_vnet_id"],
                                "fabricSpecificDetails": {"instanceType": "AzureToAzure", "primaryNetworkId": vnet["id"]}},
                               vnet_location=lambda vnet_id: infra.vnet_location(world, vnet_id))
        for index in range(count):
            name = f"scale{index:03d}"
            lb = network.create_internal_load_balancer(
                world, subscription_id=sub, resource_group="rg-s2d-dr", name=f"lb-asr-s2d-{name}",
                location="northeurope", subnet_id=demo["recovery_subnet_id"], frontend_ip=None, pool_name="be-nodes",
                tags={"asr-s2d-cluster": name, "managed-by": "asr-s2d"})
            pool_id = f"{lb['id']}/backendAddressPools/be-nodes"
            members = []
            for n in (1, 2):
                nic = network.create_nic(world, subscription_id=sub, resource_group="rg-s2d-prod",
                                         name=f"{name}-n{n}-nic", location=region, subnet_id=subnet_id)
                vm = compute.create_vm(world, subscription_id=sub, resource_group="rg-s2d-prod", name=f"{name}-n{n}",
                                       location=region, nic_ids=[nic["id"]],
                                       os_disk={"name": f"{name}-n{n}-osdisk", "size_gb": 128, "sku": "Premium_LRS"},
                                       tags=node_tags(name, witness=demo["witness_storage_account_id"]))
                item = replication.protect_like(
                    world, template, vm, group=name, recovery_resource_group_id=demo["recovery_resource_group_id"],
                    recovery_network_id=demo["recovery_vnet_id"], recovery_subnet_name="snet-s2d",
                    cache_account_id=demo["cache_storage_account_id"])
                item["properties"]["providerSpecificDetails"]["vmNics"][0]["ipConfigs"][0][
                    "recoveryLBBackendAddressPoolIds"] = [pool_id]
                item["properties"]["lastSuccessfulTestFailoverTime"] = RECENT
                members.append(item)
            add_plan(world, vault, f"asr-s2d-{name}", members)


def audit_reads(emu: Emulator, runtime: Runtime) -> tuple[list[str], int, audit_report.Report]:
    """(the audit's first-page requests as paths, its continuation pages, the report)."""
    seq = emu.journal.last_seq
    report = audit(runtime)
    entries = emu.journal.entries(since=seq)
    assert [e for e in entries if e.is_write] == []
    reads = [e for e in entries if e.method == "GET"]
    pages = [e for e in reads if "$skiptoken" in e.query]
    first = sorted(e.path.lower() for e in reads if "$skiptoken" not in e.query)
    return first, len(pages), report


def test_the_audits_arm_reads_are_a_constant_plus_list_pages_for_1_and_200_clusters(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    one_first, one_pages, one = audit_reads(emu, runtime)
    assert [c.name for c in one.clusters] == [CLUSTER]
    # Lists only, plus the vault's own GET (its region) and the DR and test networks' (their DNS): no GET of a VM,
    # NIC, item, plan or load balancer.
    singles = [p for p in one_first if not p.endswith(("/virtualmachines", "/availabilitysets", "/resourcegroups",
                                                       "/networkinterfaces", "/networksecuritygroups",
                                                       "/loadbalancers", "/subnets",
                                                       "/storageaccounts", "/replicationfabrics",
                                                       "/replicationprotectioncontainers",
                                                       "/replicationprotectioncontainermappings",
                                                       "/replicationpolicies", "/replicationnetworkmappings",
                                                       "/replicationprotecteditems", "/replicationrecoveryplans"))]
    assert sorted(singles) == sorted([converged["vault_id"].lower(), converged["recovery_vnet_id"].lower(),
                                      converged["test_vnet_id"].lower()])

    seed_clusters(emu, converged, 199)
    many_first, many_pages, many = audit_reads(emu, runtime)
    assert len(many.clusters) == 200
    assert {c.status for c in many.clusters} == {"green"}, [
        (c.name, [f.code for f in c.findings]) for c in many.clusters if c.status != "green"][:3]
    assert many_first == one_first  # the same requests, whatever the number of clusters...
    assert many_pages > one_pages  # ...and the lists simply have more pages (100 per page)
    assert len(many_first) + many_pages == len(one_first) + many_pages


# -- the timer trigger and the CLI ------------------------------------------------------------------------------

def test_the_timer_trigger_audits_and_stores_the_report(converged: dict[str, Any], app_settings: dict[str, str],
                                                        runtime: Runtime) -> None:
    from azure.functions.timer import TimerRequest

    from functions.drift_audit import on_drift_audit

    on_drift_audit(TimerRequest(past_due=True))
    stored = runtime.blobs.get_json(state.LATEST_AUDIT)
    assert stored is not None and stored.body["trigger"] == "timer" and stored.body["past_due"] is True
    assert [c["status"] for c in stored.body["clusters"]] == ["green"]


def test_cli_audit_prints_a_table_progress_on_stderr_and_exits_0_when_nothing_is_critical(
        emu: Emulator, converged: dict[str, Any], app_settings: dict[str, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.cli.main import main

    mark_tested(emu, None)
    monkeypatch.setenv("COLUMNS", "400")  # wide enough that no cell wraps: the sentences read whole
    assert main(["audit"]) == 0
    out, err = capsys.readouterr()
    assert "CLUSTER" in out and CLUSTER in out and "AMBER" in out and "test-failover" not in err
    assert "never passed a test failover" in out and "report: audits/" in out
    assert "reading the vault" in err  # progress goes to stderr


def test_cli_audit_json_prints_the_report_and_exits_3_on_a_critical_finding(
        emu: Emulator, converged: dict[str, Any], app_settings: dict[str, str], capsys: pytest.CaptureFixture[str],
        asr_sdk: Any) -> None:
    from shared.cli.main import main

    vault = ids.parse(app_settings["VAULT_ID"])
    asr_sdk.replication_recovery_plans.begin_delete(vault.resource_group, vault.name, f"asr-s2d-{CLUSTER}").result()
    seq = emu.journal.last_seq
    assert main(["audit", "--json"]) == EXIT_CRITICAL
    report = json.loads(capsys.readouterr().out)
    Draft202012Validator(SCHEMA).validate(report)
    assert [f["code"] for f in report["clusters"][0]["findings"]] == ["recovery-plan-missing"]
    assert writes_since(emu, seq) == []  # AUDIT_REPAIR is off: report only
    assert main(["audit", "--json", "--repair"]) == 0  # repaired in this run: no critical finding stands
    repaired = json.loads(capsys.readouterr().out)["clusters"][0]
    assert repaired["status"] == "amber" and repaired["findings"][0]["repaired"] is True
    assert main(["audit", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clusters"][0]["status"] == "green"


def test_cli_audit_help_documents_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    from shared.cli.main import main

    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    out = capsys.readouterr().out
    assert "exit codes (every command):" in out and "3  done, but look: a critical finding stands" in out
    assert "--repair" in out and "examples:" in out
