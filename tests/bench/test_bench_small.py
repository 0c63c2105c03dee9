"""``make bench`` in small: the same figure functions on the test session's emulator (ARM's throttling on) and
Azurite, at sizes that run in seconds. Counts only — never wall times."""

from __future__ import annotations

from typing import Any

import pytest

from bench import audit_scale, enrollment_economy, event_storm, post_failover, quiet_events
from bench.lab import Lab, tally
from emulator import Emulator

SHARED_PLUMBING = {"replication fabric": 2, "protection container": 2, "replication policy": 1,
                   "container mapping": 2, "network mapping": 2}


@pytest.fixture
def lab(emu: Emulator, azurite_server: Any) -> Lab:
    return Lab(emu, azurite_server.connection_string)


def test_p2_enrollment_writes_the_plumbing_and_one_put_per_node_and_a_rerun_writes_nothing(lab: Lab) -> None:
    figure = enrollment_economy.run(lab)
    data = figure.data
    assert data["enroll"]["writes_by_kind"] == {
        **SHARED_PLUMBING, "enable replication (protected item PUT)": 2, "DR pool mapping (protected item PATCH)": 2,
        "recovery plan": 1, "load balancer": 1, "recovery availability set": 1}
    assert data["enroll"]["writes"] == 16 and data["resources_written_twice"] == []
    assert data["enroll"]["throttled_429"] == 0 and data["enroll"]["lro_polls"] > 0
    # The second node's event re-plans the converged cluster; the two duplicates are answered from their record.
    assert data["rerun"]["writes"] == 0 and data["rerun_outcomes"] == {"unchanged": 1, "ignored": 2}
    assert figure.met, figure.goals


def test_p3_the_audit_reads_a_constant_plus_pages_and_the_naive_baseline_one_get_per_vm_and_item(lab: Lab) -> None:
    figure = audit_scale.run(lab, sizes=(5, 10))
    small, large = figure.data["sizes"]
    assert small["audited"] == 5 and large["audited"] == 10
    assert small["statuses"] == {"green": 5} and large["statuses"] == {"green": 10}
    assert small["audit_writes"] == large["audit_writes"] == 0
    # Under a page (100) per list: the same requests whatever the number of clusters.
    assert small["audit_reads"] == large["audit_reads"]
    # fabrics + containers + one page of VMs, then one GET per VM and one per item (two nodes per cluster).
    assert small["baseline_reads"] == 3 + 2 * 2 * 5 and large["baseline_reads"] == 3 + 2 * 2 * 10
    assert large["baseline_seen"] == {"vms": 20, "protected": 20, "unprotected": 0}
    # At 10 clusters the audit's constant (every list once, the DR and test networks' GETs) is already half the
    # baseline's reads; it stays the same at 1,000 clusters, where make bench asks for 20x fewer.
    assert large["fewer_reads_factor"] >= 2 and small["audit_reads"] < large["baseline_reads"] / 2


def test_p4_a_small_storm_enables_each_node_once_and_loses_no_event(lab: Lab) -> None:
    figure = event_storm.run(lab, clusters=5, duplicate=3, workers=8)
    data = figure.data
    assert data["events"] == 5 * 2 * 3
    assert data["enable_puts"] == 10
    assert data["lost"] == 0 and sum(data["outcomes"].values()) == 30
    assert data["all_nodes_protected_in_their_group"] is True
    assert data["writes_by_kind"]["recovery plan"] == 5 and data["writes_by_kind"]["load balancer"] == 5
    # The shared plumbing is written once, under the vault's lock, however many clusters enroll at once.
    assert data["shared_plumbing_writes"] == sum(SHARED_PLUMBING.values())
    assert data["written_twice"] == []


def test_p5_a_prestaged_cluster_fails_over_with_one_run_command_and_no_other_write(lab: Lab) -> None:
    figure = post_failover.run(lab)
    data = figure.data
    assert data["lb_prestaged"] is True
    assert data["run_commands"] == 1 and data["other_writes"] == 0
    assert data["guest_status"] == "changed" and data["outcomes"].get("reassigned") == 1
    assert data["duplicate_writes"] == 0 and data["duplicate_outcomes"] == {"unchanged": 1}
    assert figure.met


def test_the_journal_tally_counts_lro_polls_and_final_gets_apart_from_reads() -> None:
    from emulator.core.journal import Journal

    journal = Journal()
    item = "/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/" \
           "replicationProtectionContainers/c/replicationProtectedItems/i"
    status = "/Subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v/replicationOperationStatus/j"
    for method, path, code in (("GET", item, 404), ("PUT", item, 202), ("GET", status, 200), ("GET", item, 200),
                               ("GET", item, 200), ("PATCH", item, 429), ("POST", item + "/x", 500)):
        journal.record(method=method, path=path, query={}, status=code, principal="app", body=None)
    calls = tally(journal.entries())
    assert (calls.reads, calls.writes, calls.lro, calls.throttled, calls.failed) == (2, 1, 2, 1, 1)
    assert calls.by_kind == {"enable replication (protected item PUT)": 1}


def test_p6_an_unrelated_tag_write_costs_at_most_three_reads_and_no_write(lab: Lab) -> None:
    figure = quiet_events.run(lab, vms=300, events=5)
    assert figure.data["events"] == 5 and figure.data["writes"] == 0 and figure.data["outcomes"] == ["ignored"]
    assert figure.data["reads_per_event"] <= 3, figure.data
    assert figure.met, figure.goals


def test_p1_finds_each_triggers_service_module() -> None:
    """The triggers import their service lazily, and other names from ``shared`` too (``from shared.errors import
    RejectedInput``): P1 times each trigger's service module, never a class taken for one."""
    import importlib

    from bench.cold_start import lazy_imports

    found = lazy_imports()
    assert found["on_vm_tags_changed"] == "shared.enrollment.service"
    assert found["status_page"] == "shared.audit.status_page"
    assert not any(name.startswith("_") for name in found)
    for module in set(found.values()):
        importlib.import_module(module)
