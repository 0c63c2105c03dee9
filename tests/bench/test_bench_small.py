"""``make bench`` in small: the same figure functions on the test session's emulator (ARM's throttling on) and
Azurite, at sizes that run in seconds. Counts only — never wall times (P6 and P7 run on Azure's clock, which they set
themselves, and their durations are reported, not asserted here)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import audit_scale, drills, enrollment_economy, event_storm, post_failover, queue_failover, quiet_events
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


def test_p4_a_small_storm_through_the_queue_enables_each_node_once_and_gives_every_event_an_outcome(lab: Lab) -> None:
    figure = event_storm.run(lab, clusters=5, duplicate=3, workers=8)
    data = figure.data
    assert data["events"] == 5 * 2 * 3
    assert data["enable_puts"] == 10
    # The trigger enqueued one enrollment per tag write and answered its duplicates; the worker ended every one.
    assert data["lost"] == 0 and sum(data["outcomes"].values()) == 30
    assert data["outcomes"].get("enqueued") == 10 and data["work_items"] == 10
    assert set(data["work_outcomes"]) <= {"enabled", "changed", "unchanged"}, data["work_outcomes"]
    assert data["trigger_seconds"]["invocations"] == 30 and data["worker_invocations"]["invocations"] >= 10
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


def test_p6_a_failover_event_through_the_queue_moves_the_ip_and_the_figure_is_measured_in_azure_seconds(
        lab: Lab) -> None:
    figure = queue_failover.run(lab, time_scale=600.0)  # one Azure minute in 0.1 s: the small one is quick
    data = figure.data
    assert data["outcome"] == "reassigned" and data["run_commands"] >= 1
    assert data["worker_counts"].get("done") == 1 and data["worker_steps"] >= 1
    assert data["goal_azure_seconds"] == 80 and data["azure_seconds"] > 0
    assert data["invocations"]["invocations"] == data["worker_steps"]
    assert len(figure.goals) == 1 and data["after_guest_ready_azure_seconds"] <= data["azure_seconds"]


def test_p7_drills_side_by_side_through_the_queue_and_a_killed_worker_leaves_no_test_failover(lab: Lab) -> None:
    figure = drills.run(lab, clusters=2, concurrency=2, single=False)
    data = figure.data
    assert data["enqueued"] == data["drills"] == 2  # the timer enqueued one drill per opted-in cluster
    assert sum(data["results"].values()) == 2 and data["test_failover_left"] == []
    killed = data["killed"]
    assert killed["test_failover_at_stop"] > 0 and killed["ended"] and killed["left"] == []
    assert killed["cleanups"] and all(killed["cleanups"])
    assert figure.goals[-1].met


def test_p8_an_unrelated_tag_write_costs_at_most_three_reads_and_no_write(lab: Lab) -> None:
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
