"""Tag a node, get a protected cluster: the enrollment trigger end to end on the emulator + Azurite.

Events are the emulator's own (it publishes what ARM would after the operator's tag writes); they
are fed to the same entry point the Event Grid trigger calls, decoded by the azure-functions converter.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest

from emulator import Emulator, delivery
from shared.enrollment import service as enrollment
from shared.errors import TransientError
from shared.runtime import Runtime
from tests.functions.conftest import deliver, tag, writes_since

ENABLE_PUT = "/replicationprotecteditems/"


def deliver_afresh(events: list[dict[str, Any]], rt: Runtime) -> list[Any]:
    """The same events handled again as new (``asr-s2d handle-event``), not as duplicate deliveries."""
    return delivery.deliver(events, lambda event: enrollment.handle(event, rt, fresh=True), retry_on=(TransientError,))


def acted(outcomes: list[Any]) -> list[str]:
    """Outcome kinds of the operator's events; the app's own writes come back as events too, and must be
    ignored as its own (that is asserted here, so a loop cannot hide)."""
    return [o.kind for o in acted_outcomes(outcomes)]


def acted_outcomes(outcomes: list[Any]) -> list[Any]:
    return [o for o in outcomes if not (o.kind == "ignored" and "own identity" in o.reason)]


def enable_puts(emu: Emulator, since: int = 0) -> list[Any]:
    return [e for e in emu.journal.entries(since=since)
            if e.method == "PUT" and ENABLE_PUT in e.path.lower() and e.status < 400]


def protected_items(rt: Runtime) -> list[Any]:
    return rt.asr.list_items()


CLUSTER_TAGS = {"asr-s2d": "true", "asr-s2d-cluster": "s2dclu01"}


def assert_one_group_with_both_nodes(rt: Runtime, demo: dict[str, Any]) -> None:
    items = protected_items(rt)
    assert sorted(i.vm_id.lower() for i in items) == sorted(v.lower() for v in demo["vm_ids"])
    assert {i.group_name for i in items} == {"s2dclu01"}
    assert len({i.group_id for i in items}) == 1


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_tagging_both_nodes_in_either_order_protects_them_in_one_group(
        order: tuple[int, int], emu: Emulator, demo: dict[str, Any], runtime: Runtime,
        operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    for index in order:
        tag(operator_sdk, demo["vm_ids"][index], CLUSTER_TAGS)
        outcomes = deliver(event_queue(), enrollment.handle, runtime)
        assert acted(outcomes) == ["enabled"]
    assert_one_group_with_both_nodes(runtime, demo)
    puts = enable_puts(emu)
    assert len(puts) == 2 and len({p.path.lower() for p in puts}) == 2
    bodies = [p.body["properties"]["providerSpecificDetails"] for p in puts]
    assert {b["multiVmGroupName"] for b in bodies} == {"s2dclu01"}
    policy_puts = [e for e in emu.journal.entries() if e.method == "PUT" and "/replicationpolicies/" in e.path.lower()]
    assert len(policy_puts) == 1
    policy = policy_puts[0].body["properties"]["providerSpecificInput"]
    assert policy["appConsistentFrequencyInMinutes"] == 0 and policy["multiVmSyncStatus"] == "Enable"


def test_rerun_on_converged_state_makes_zero_writes(emu: Emulator, demo: dict[str, Any], runtime: Runtime,
                                                    operator_sdk: Callable[..., Any],
                                                    event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    for vm_id in demo["vm_ids"]:
        tag(operator_sdk, vm_id, CLUSTER_TAGS)
    first = event_queue()
    deliver(first, enrollment.handle, runtime)
    seq = emu.journal.last_seq
    # Event Grid delivers again: each duplicate is answered from the event's record, without one ARM call.
    duplicates = deliver(first, enrollment.handle, runtime)
    assert set(acted(duplicates)) == {"ignored"} and all("a duplicate delivery" in o.reason for o in acted_outcomes(
        duplicates))
    assert emu.journal.entries(since=seq) == []
    # The same events handled afresh (as `asr-s2d handle-event` does) re-plan the converged cluster: no write.
    outcomes = deliver_afresh(first, runtime)
    assert set(acted(outcomes)) == {"unchanged"}
    assert writes_since(emu, seq) == []


def test_duplicated_shuffled_events_from_eight_threads_enable_each_node_once(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
        event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    for vm_id in demo["vm_ids"]:
        tag(operator_sdk, vm_id, CLUSTER_TAGS)
    events = event_queue() * 4
    random.Random(7).shuffle(events)
    errors: list[BaseException] = []

    def worker(batch: list[dict[str, Any]]) -> None:
        try:
            deliver(batch, enrollment.handle, runtime)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(events[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert_one_group_with_both_nodes(runtime, demo)
    puts = enable_puts(emu)
    assert len(puts) == 2 and len({p.path.lower() for p in puts}) == 2


def test_tagging_the_availability_set_gives_the_same_result(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
        event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    tag(operator_sdk, demo["availability_set_id"], {"asr-s2d": "true", "asr-s2d-cluster": "s2dclu01"})
    outcomes = deliver(event_queue(), enrollment.handle, runtime)
    assert acted(outcomes) == ["enabled"]
    assert_one_group_with_both_nodes(runtime, demo)
    assert len(enable_puts(emu)) == 2


def test_tagging_the_resource_group_enrolls_its_vms_named_after_the_group(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
        event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    rg_id = f"/subscriptions/{demo['subscription_id']}/resourceGroups/{demo['source_resource_group']}"
    tag(operator_sdk, rg_id, {"asr-s2d": "true"})
    outcomes = deliver(event_queue(), enrollment.handle, runtime)
    assert acted(outcomes) == ["enabled"]
    assert {i.group_name for i in protected_items(runtime)} == {demo["source_resource_group"]}


def test_waits_until_the_expected_number_of_nodes_is_tagged(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
        event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    tag(operator_sdk, demo["vm_ids"][0], {**CLUSTER_TAGS, "asr-s2d-nodes": "2"})
    outcomes = deliver(event_queue(), enrollment.handle, runtime)
    assert acted(outcomes) == ["waiting"] and "1 of 2" in outcomes[0].reason
    assert enable_puts(emu) == []
    tag(operator_sdk, demo["vm_ids"][1], {**CLUSTER_TAGS, "asr-s2d-nodes": "2"})
    assert acted(deliver(event_queue(), enrollment.handle, runtime)) == ["enabled"]
    assert len(enable_puts(emu)) == 2


def test_dry_run_records_the_plan_and_writes_nothing(
        emu: Emulator, demo: dict[str, Any], make_runtime: Callable[..., Runtime], operator_sdk: Callable[..., Any],
        event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    for vm_id in demo["vm_ids"]:
        tag(operator_sdk, vm_id, CLUSTER_TAGS)
    seq = emu.journal.last_seq
    rt = make_runtime(DRY_RUN="true")
    outcomes = deliver(event_queue(), enrollment.handle, rt)
    assert writes_since(emu, seq) == []
    assert outcomes[0].plan and "dry run" in outcomes[0].reason


def test_the_pre_staged_dr_load_balancer_and_pool_mappings(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
        event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    for vm_id in demo["vm_ids"]:
        tag(operator_sdk, vm_id, {**CLUSTER_TAGS, "asr-s2d-dr-ip": "10.20.1.10", "asr-s2d-probe-port": "59998"})
    deliver(event_queue(), enrollment.handle, runtime)
    from shared.enrollment.plan import ReplicationSpec

    spec = ReplicationSpec.from_settings(runtime.settings)
    lb = runtime.network.get_load_balancer(spec.load_balancer_id("s2dclu01"))
    assert lb is not None and lb.frontend_ip == "10.20.1.10" and lb.probe_port == 59998 and lb.has_ha_ports_rule
    assert lb.location == "northeurope"
    for item in protected_items(runtime):
        assert [n.recovery_pool_ids for n in item.nics] == [(spec.pool_id("s2dclu01"),)]
    plan = runtime.asr.get_plan("asr-s2d-s2dclu01")
    assert plan is not None and len(plan.item_ids) == 2


def test_recovered_copies_in_the_target_region_do_not_split_the_cluster(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, sdk: Callable[..., Any],
        operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    """A test failover creates copies of the nodes, with their tags, in the target region: the next tag
    event must still see one cluster of two source nodes, not four nodes in two regions."""
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

    for vm_id in demo["vm_ids"]:
        tag(operator_sdk, vm_id, CLUSTER_TAGS)
    first = event_queue()
    deliver(first, enrollment.handle, runtime)
    asr = sdk(SiteRecoveryManagementClient)
    asr.replication_recovery_plans.begin_test_failover(
        "rg-s2d-dr", "rsv-s2d-dr", "asr-s2d-s2dclu01",
        {"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "VmNetworkAsInput",
                        "networkId": demo["test_vnet_id"],
                        "providerSpecificDetails": [{"instanceType": "A2A", "recoveryPointType": "Latest"}]}}).result()
    copies = [v for v in runtime.compute.list_vms(demo["subscription_id"]) if v.location == "northeurope"]
    assert len(copies) == 2 and all(v.tags.get("asr-s2d") == "true" for v in copies)
    seq = emu.journal.last_seq
    outcomes = deliver_afresh(first[:1], runtime)
    assert acted(outcomes) == ["unchanged"]
    assert writes_since(emu, seq) == []


def test_a_node_joining_later_keeps_the_plans_groups_and_the_operators_runbook(
        demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any], asr_sdk: Any,
        event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    """The post-failover runbook the docs ask operators to add is a Boot group post-action; when the second node joins,
    the plan update resends the groups as read (an update replaces each group's actions with what it sends)."""
    from tests.functions.test_drift_audit import RUNBOOK, boot_group, operator_edits_plan, plan_groups

    tag(operator_sdk, demo["vm_ids"][0], CLUSTER_TAGS)
    assert acted(deliver(event_queue(), enrollment.handle, runtime)) == ["enabled"]
    operator_edits_plan(runtime, asr_sdk, lambda groups: boot_group(groups).update(endGroupActions=[RUNBOOK]))
    tag(operator_sdk, demo["vm_ids"][1], CLUSTER_TAGS)
    assert acted(deliver(event_queue(), enrollment.handle, runtime)) == ["ignored", "enabled"]  # the plan edit, the tag
    boot = boot_group(plan_groups(runtime, asr_sdk))
    assert sorted(i["virtualMachineId"].rsplit("/", 1)[-1].lower() for i in boot["replicationProtectedItems"]) == \
        sorted(vm_id.rsplit("/", 1)[-1].lower() for vm_id in demo["vm_ids"])
    assert [a["actionName"] for a in boot["endGroupActions"]] == ["asr-s2d-ip-step"]


def test_an_outcome_the_topic_refuses_is_recorded_and_the_work_stands(
        demo: dict[str, Any], make_runtime: Callable[..., Runtime], operator_sdk: Callable[..., Any],
        event_queue: Callable[[], list[dict[str, Any]]], topic: dict[str, Any],
        caplog: pytest.LogCaptureFixture) -> None:
    """Publishing is a notification: a topic that refuses it (a rotated key here) neither fails the delivery, which
    Event Grid would redeliver for work already done, nor loses the outcome (its record is stored first)."""
    rt = make_runtime(EVENT_GRID_TOPIC_ENDPOINT=topic["endpoint"], EVENT_GRID_TOPIC_KEY="rotated-key",
                      ARM_CA_BUNDLE=topic["ca_bundle"])
    tag(operator_sdk, demo["vm_ids"][0], CLUSTER_TAGS)
    with caplog.at_level("WARNING", logger="shared.runtime"):
        [outcome] = acted_outcomes(deliver(event_queue(), enrollment.handle, rt))
    assert outcome.kind == "enabled" and topic["events"] == []
    assert any("event not published" in r.getMessage() and outcome.event_id in r.getMessage() for r in caplog.records)
    assert rt.records.cluster_note(outcome.to_json()["cluster_key"], "last-event")["event_id"] == outcome.event_id
