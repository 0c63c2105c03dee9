"""The drift checks' pure parts as tables: times, verdicts, plan explanations, group-splitting plans (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared import actions
from shared.audit import checks
from shared.audit.report import status_of
from shared.enrollment import plan as r
from shared.findings import Finding, Severity
from shared.inventory import ItemNic, ProtectedItem
from tests.unit.builders import cluster, dr_subnet, empty_vault, facts, spec
from tests.unit.test_replication_plan import NODE1, NODE2
from tests.unit.test_replication_plan import converged as converged_vault

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text,expected", [
    ("2026-05-01T10:00:00Z", datetime(2026, 5, 1, 10, 0, tzinfo=UTC)),
    ("2026-05-01T10:00:00.1234567Z", datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),  # ASR's 7 digits
    ("2026-05-01T12:00:00+02:00", datetime(2026, 5, 1, 10, 0, tzinfo=UTC)),
    ("1753-01-01T01:01:01Z", None),  # ASR's "never"
    ("2026-05-01T10:00:00", None),  # no zone: not trusted
    ("yesterday", None), ("", None), (None, None),
])
def test_parse_time(text: str | None, expected: datetime | None) -> None:
    assert checks.parse_time(text) == expected


def finding(severity: Severity, code: str = "x") -> Finding:
    return Finding(code, severity, "s", "m")


@pytest.mark.parametrize("findings,repaired,status", [
    ([], frozenset(), "green"),
    ([finding(Severity.INFO)], frozenset(), "green"),
    ([finding(Severity.WARNING)], frozenset(), "amber"),
    ([finding(Severity.WARNING), finding(Severity.CRITICAL, "y")], frozenset(), "red"),
    ([finding(Severity.CRITICAL, "y")], frozenset({"y"}), "amber"),  # repaired now, confirmed next audit
])
def test_status_of(findings: list[Finding], repaired: frozenset[str], status: str) -> None:
    assert status_of(findings, repaired) == status


def view(asr: object = None, **changes: object) -> checks.ClusterView:
    state, lb = converged_vault()
    base = checks.ClusterView(
        cluster=cluster(NODE1, NODE2), nodes=facts(NODE1, NODE2), asr=state if asr is None else asr,  # type: ignore[arg-type]
        spec=spec(), dr_subnet=dr_subnet(), load_balancer=lb, accounts={}, inventory={}, membership={},
        thresholds=checks.Thresholds(1800, timedelta(days=180)), now=NOW)
    return replace(base, **changes)  # type: ignore[arg-type]


def with_items(**changes: object) -> object:
    state, _lb = converged_vault()
    return replace(state, items=tuple(replace(i, **changes) for i in state.items))  # type: ignore[arg-type]


def test_the_oldest_node_decides_the_clusters_last_test_failover_and_a_later_drill_wins() -> None:
    state, _ = converged_vault()
    times = ("2026-05-20T00:00:00Z", "2025-01-01T00:00:00Z")
    asr = replace(state, items=tuple(replace(i, last_test_failover=t) for i, t in zip(state.items, times, strict=True)))
    assert checks.last_test_failover(view(asr)) == datetime(2025, 1, 1, tzinfo=UTC)
    assert [f.code for f in checks.check_test_failover(view(asr))] == ["test-failover-stale"]
    drilled = view(asr, last_drill=NOW - timedelta(days=3))
    assert checks.last_test_failover(drilled) == NOW - timedelta(days=3)
    assert checks.check_test_failover(drilled) == []


def test_one_untested_node_means_the_cluster_was_never_tested_as_a_whole() -> None:
    state, _ = converged_vault()
    asr = replace(state, items=(replace(state.items[0], last_test_failover="2026-05-20T00:00:00Z"), state.items[1]))
    assert [f.code for f in checks.check_test_failover(view(asr))] == ["test-failover-never"]


def test_a_failover_recorded_before_the_latest_failover_does_not_announce_it() -> None:
    asr = with_items(active_location="Recovery", protection_state="UnplannedFailoverCommitPendingStatesBegin",
                     last_failover="2026-06-01T11:00:00Z")
    assert [f.code for f in checks.run_checks(view(asr))] == ["failover-unannounced", "witness-undeclared"]
    earlier = view(asr, failover_recorded=datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
    assert [f.code for f in checks.check_failover(earlier)] == ["failover-unannounced"]
    later = view(asr, failover_recorded=datetime(2026, 6, 1, 11, 5, tzinfo=UTC))
    assert [(f.code, f.severity) for f in checks.check_failover(later)] == [("failed-over", Severity.CRITICAL)]


def test_every_planned_action_is_explained_by_a_finding_or_becomes_plan_pending() -> None:
    plan = r.plan_enrollment(cluster(NODE1, NODE2), facts(NODE1, NODE2), empty_vault(), spec(),
                             r.DrNetwork(subnet=dr_subnet(), load_balancer=None))
    unexplained = checks.explain(plan, [])
    assert len(unexplained) == len(plan.actions) and {f.code for f in unexplained} == {"plan-pending"}
    node_findings = [finding(Severity.CRITICAL, "node-unprotected"), finding(Severity.CRITICAL, "dr-lb-missing"),
                     finding(Severity.WARNING, "policy-missing")]
    left = {f.message for f in checks.explain(plan, node_findings)}
    assert all(("fabric" in m or "container" in m or "map" in m) for m in left)  # only the plumbing is unexplained


def test_a_plan_that_would_leave_a_group_member_out_is_refused() -> None:
    state, _ = converged_vault()
    keep = state.items[0]
    upsert = actions.UpsertRecoveryPlan("asr-s2d-s2dclu01", "pf", "rf", ((keep.id, keep.vm_id),), exists=True)
    reason = checks.splits_a_group(upsert, state)
    assert reason is not None and "s2d-node2" in reason
    whole = replace(upsert, items=tuple((i.id, i.vm_id) for i in state.items))
    assert checks.splits_a_group(whole, state) is None


def test_a_pool_mapping_on_the_nodes_nic_counts_even_when_the_item_lists_other_nics() -> None:
    state, _ = converged_vault()
    pool = spec().pool_id("s2dclu01")
    extra = ItemNic("/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/networkInterfaces/second",
                    "ipconfig1", (), (), None)
    items = tuple(replace(i, nics=(extra, *i.nics)) for i in state.items)
    assert checks.check_pool_mappings(view(replace(state, items=items))) == []
    cleared: tuple[ProtectedItem, ...] = tuple(
        replace(i, nics=(ItemNic(i.nics[0].nic_id, "ipconfig1", (), (), None),)) for i in state.items)
    assert [f.subject for f in checks.check_pool_mappings(view(replace(state, items=cleared)))] == [
        "s2d-node1", "s2d-node2"]
    assert all(pool in n.recovery_pool_ids for i in items for n in i.nics[1:])
