"""After failover, the cluster answers on its DR IP: the failover trigger end to end on the emulator + Azurite.

The demo cluster is enrolled first (the enrollment service, as its trigger would run it), then an
operator fails its recovery plan over with the real Site Recovery SDK. The emulator publishes the
ResourceActionSuccess event ARM would; it reaches ``shared.failover.handle`` through the azure-functions
converter, like the host delivers it. What changed is read back from the emulator: the load balancers,
the in-guest cluster model, the Run Command history and the request journal; and the outcome records
from Azurite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from emulator import Emulator, delivery
from emulator.clients import control
from emulator.core.events import Subscriber
from emulator.core.faults import FaultRule
from functions import failover_completed
from shared.cli import main as cli
from shared.errors import TransientError
from shared.failover import service as failover
from shared.outcomes import Outcome
from shared.runtime import Runtime
from shared.state import blob_key
from shared.work import item as items
from shared.work import worker
from tests.functions import drill_world
from tests.functions.conftest import deliver, tag, writes_since
from tests.functions.drill_world import CLUSTER, PLAN, TAGS
from tests.work import runbook

pytestmark = pytest.mark.azure_clock  # failover, drills and the way back: also on Azure's clock

SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "scripts" / "set_cluster_ip.ps1"
ACTION = "Microsoft.Resources.ResourceActionSuccess"


# -- helpers ----------------------------------------------------------------------------------------

def failover_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["eventType"] == ACTION and "replicationrecoveryplans" in
            e["data"]["operationName"].lower()]


def readdressed(outcomes: list[Outcome]) -> list[Outcome]:
    """The outcomes of the failover-action events (the rest are ASR's own VM/NIC writes: ignored)."""
    return [o for o in outcomes if o.kind != "ignored"]


def run_commands(emu: Emulator) -> list[dict[str, Any]]:
    return list(control(emu, "GET", "guest/run-commands"))


def guest(emu: Emulator, vm_id: str) -> dict[str, Any]:
    return dict(control(emu, "GET", "guest", id=vm_id))


def last_record(rt: Runtime, trigger: str = "event") -> dict[str, Any]:
    """The outcome record the service stored in Azurite for the cluster."""
    key = f"{rt.settings.allowed_subscriptions[0].lower()}/{CLUSTER}"
    doc = rt.blobs.get_json(f"clusters/{blob_key(key)}/last-{trigger}.json")
    assert doc is not None
    return dict(doc.body)


def records_of(rt: Runtime, event_id: str | None = None) -> list[dict[str, Any]]:
    """Every outcome record of one event (of every event: None), oldest first (names start with a UTC timestamp)."""
    names = sorted(n for n in rt.blobs.list_names("outcomes/")
                   if event_id is None or n.endswith(f"-{blob_key(event_id)}.json"))
    docs = [rt.blobs.get_json(n) for n in names]
    return [dict(d.body) for d in docs if d is not None]


class World(drill_world.World):
    """The demo world, enrolled and Protected, with the operator's Site Recovery client and the event queue."""

    def __init__(self, emu: Emulator, demo: dict[str, Any], rt: Runtime, operator_sdk: Callable[..., Any],
                 queue: Callable[[], list[dict[str, Any]]]) -> None:
        super().__init__(emu, demo, rt, operator_sdk)
        self.queue = queue
        self.lb_id = f"{demo['recovery_resource_group_id']}/providers/Microsoft.Network/loadBalancers/lb-asr-s2d-{CLUSTER}"

    def enroll(self, **extra_tags: str) -> None:
        super().enroll(**extra_tags)
        assert {i.protection_state for i in self.rt.asr.list_items()} == {"Protected"}
        self.queue()  # the tag and enrollment events are not this test's business

    def test_failover_cleanup(self) -> None:
        self.asr.replication_recovery_plans.begin_test_failover_cleanup(
            self.rg, self.vault, PLAN, {"properties": {"comments": "drill done"}}).result()

    def recovered_vm_ids(self, *, test: bool = False) -> list[str]:
        items = sorted(self.rt.asr.list_items(), key=lambda i: i.vm_id.lower())
        found = [i.test_vm_id if test else i.recovery_vm_id for i in items]
        assert all(found), found
        return [str(v) for v in found]

    def nic_ids(self, vm_ids: list[str]) -> list[str]:
        nics = []
        for vm_id in vm_ids:
            vm = self.rt.compute.get_vm(vm_id)
            assert vm is not None and vm.primary_nic_id
            nics.append(vm.primary_nic_id)
        return nics

    def resource(self, resource_id: str) -> dict[str, Any]:
        return dict(control(self.emu, "GET", "resource", id=resource_id))

    def context(self, failover_type: str = "Unplanned") -> bytes:
        vm_map = {f"00000000-0000-0000-0000-00000000000{n}": {"SubscriptionId": self.demo["subscription_id"],
                                                              "ResourceGroupName": "rg-s2d-dr",
                                                              "CloudServiceName": None, "RoleName": f"s2d-node{n}",
                                                              "RecoveryPointId": None, "RecoveryPointTime": None}
                  for n in (1, 2)}
        return json.dumps({"RecoveryPlanName": PLAN, "FailoverType": failover_type,
                           "FailoverDirection": "PrimaryToSecondary", "GroupId": "1", "VmMap": vm_map}).encode()


@pytest.fixture
def world(emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
          event_queue: Callable[[], list[dict[str, Any]]]) -> World:
    return World(emu, demo, runtime, operator_sdk, event_queue)


def assert_dr_state(world: World, dr_ip: str, *, probe_port: int = 59999) -> None:
    """The DR load balancer holds the DR IP with both recovery NICs in its pool; the guest agrees."""
    recovered = world.recovered_vm_ids()
    lb = world.rt.network.get_load_balancer(world.lb_id)
    assert lb is not None and lb.frontend_ip == dr_ip and lb.probe_port == probe_port and lb.has_ha_ports_rule
    assert sorted(n.lower() for n in lb.pool_nic_ids) == sorted(n.lower() for n in world.nic_ids(recovered))
    cluster = guest(world.emu, recovered[0])
    assert [(r["address"], r["probe_port"], r["subnet_mask"], r["enable_dhcp"], r["state"])
            for r in cluster["ip_resources"]] == [(dr_ip, probe_port, "255.255.255.255", 0, "Online")]
    network = next(n for n in cluster["networks"] if n["name"] == cluster["ip_resources"][0]["network"])
    assert (network["address"], network["prefix_length"]) == ("10.20.1.0", 24)


# -- the recovery-plan failover -----------------------------------------------------------------------

def test_recovery_plan_failover_moves_the_cluster_ip_to_the_dr_address(world: World) -> None:
    world.enroll()
    dr_lb = world.rt.network.get_load_balancer(world.lb_id)
    assert dr_lb is not None and dr_lb.frontend_ip
    dr_ip = dr_lb.frontend_ip
    source = guest(world.emu, world.demo["vm_ids"][0])
    assert source["ip_resources"][0]["address"] == world.demo["cluster_ip"]

    world.unplanned_failover()
    events = world.queue()
    assert len(failover_events(events)) == 1
    seq = world.emu.journal.last_seq
    outcomes = readdressed(deliver(events, failover.handle, world.rt))

    assert [o.kind for o in outcomes] == ["reassigned"], [o.reason for o in outcomes]
    assert_dr_state(world, dr_ip)
    # ASR attached the NICs itself (the items name the DR pool): the only write is the one Run Command.
    writes = writes_since(world.emu, seq)
    assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in writes] == [("POST", "runCommand")]
    runs = run_commands(world.emu)
    assert len(runs) == 1 and runs[0]["vm_id"].lower() in {v.lower() for v in world.recovered_vm_ids()}
    assert runs[0]["script"] == SCRIPT.read_text().splitlines()  # the shipped script, unchanged
    assert {p["name"]: p["value"] for p in runs[0]["parameters"]} == {
        "IPAddress": dr_ip, "ProbePort": "59999", "SubnetPrefix": "10.20.1.0/24"}
    assert not any(dr_ip in line for line in runs[0]["script"])  # values only as parameters
    assert json.loads(runs[0]["stdout"].strip().splitlines()[-1])["status"] == "changed"
    # The source cluster is as it was (the source region keeps its own address).
    assert guest(world.emu, world.demo["vm_ids"][0])["ip_resources"][0]["address"] == world.demo["cluster_ip"]

    record = last_record(world.rt)
    assert record["outcome"] == "reassigned" and record["details"]["ip"] == dr_ip
    assert record["details"]["guest"]["resources"][0]["address_before"] == world.demo["cluster_ip"]


def test_duplicate_and_out_of_order_signals_add_zero_writes_and_no_second_run_command(world: World) -> None:
    world.enroll()
    cloud = world.emu.events.subscribe(Subscriber(mode="pull", schema="CloudEventSchemaV1_0"))
    world.unplanned_failover()
    first = world.queue()
    deliver(first, failover.handle, world.rt)
    runs = len(run_commands(world.emu))
    as_cloud_events = [e for e in world.emu.events.drain(cloud.id) if e["type"] == ACTION]
    cloud_outcomes = [failover.handle(e, world.rt) for e in as_cloud_events]  # the other delivery schema, as JSON
    assert [o.kind for o in cloud_outcomes if o.kind != "ignored"] == ["unchanged"]
    world.commit()
    commit_events = world.queue()
    seq = world.emu.journal.last_seq
    # Event Grid delivers at least once and in any order: the commit before the failover, everything twice.
    replay = list(reversed(commit_events + first)) * 2
    outcomes = readdressed(deliver(replay, failover.handle, world.rt))
    assert outcomes and {o.kind for o in outcomes} == {"unchanged"}, [o.reason for o in outcomes]
    assert writes_since(world.emu, seq) == []
    assert len(run_commands(world.emu)) == runs == 1
    status, body = runbook(world.context(), world.rt)
    assert (status, body["outcome"]) == (200, "unchanged") and writes_since(world.emu, seq) == []


def test_the_runbook_path_gives_the_same_result(world: World) -> None:
    world.enroll()
    dr_lb = world.rt.network.get_load_balancer(world.lb_id)
    assert dr_lb is not None and dr_lb.frontend_ip
    world.unplanned_failover()
    world.queue()  # no event is delivered: only the runbook calls

    status, body = runbook(world.context(), world.rt)

    assert (status, body["outcome"], body["cluster"]) == (200, "reassigned", CLUSTER), body
    assert body["details"]["ip"] == dr_lb.frontend_ip
    assert_dr_state(world, dr_lb.frontend_ip)
    assert last_record(world.rt, "runbook")["outcome"] == "reassigned"
    seq = world.emu.journal.last_seq
    again = runbook(world.context(), world.rt)
    assert (again[0], again[1]["outcome"]) == (200, "unchanged")
    assert writes_since(world.emu, seq) == [] and len(run_commands(world.emu)) == 1


def test_transient_errors_are_retried_by_event_grid_and_by_the_queue(world: World) -> None:
    world.enroll()
    world.unplanned_failover()
    events = failover_events(world.queue())
    conflict = {"action": "status", "status": 409, "method": "GET", "path": "replicationProtectedItems$", "count": 1}

    control(world.emu, "POST", "faults", conflict)
    with pytest.raises(TransientError):  # Event Grid redelivers
        failover.handle(events[0], world.rt)
    assert [r["outcome"] for r in records_of(world.rt, events[0]["id"])] == ["failed"]
    assert run_commands(world.emu) == []

    control(world.emu, "POST", "faults", conflict)
    status, body = runbook(world.context(), world.rt)  # the worker's first try fails; the queue's redelivery converges
    assert (status, body["outcome"]) == (200, "reassigned"), body
    tries = [r for r in records_of(world.rt) if r.get("trigger") == "runbook"]
    assert [r["outcome"] for r in tries] == ["failed", "reassigned"] and "will retry" in tries[0]["reason"]
    assert len(run_commands(world.emu)) == 1


def test_a_signal_before_the_failover_job_finished_changes_nothing(world: World) -> None:
    world.enroll()
    control(world.emu, "PUT", "config", {"lro_polls": 1000})  # the failover job stays InProgress
    world.unplanned_failover(wait=False)
    assert failover_events(world.queue()) == []  # ARM announces the action only when the job succeeded
    vault = world.demo["vault_id"]
    early = {"id": "early-1", "eventType": ACTION, "subject": f"{vault}/replicationRecoveryPlans/{PLAN}",
             "eventTime": "2025-01-01T00:00:00Z", "dataVersion": "", "metadataVersion": "1",
             "data": {"operationName": "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/unplannedFailover/action",
                      "resourceUri": f"{vault}/replicationRecoveryPlans/{PLAN}", "status": "Succeeded",
                      "subscriptionId": world.demo["subscription_id"], "correlationId": "c-early"}}
    seq = world.emu.journal.last_seq

    outcomes = deliver([early], failover.handle, world.rt)
    status, body = runbook(world.context(), world.rt, max_seconds=3)

    assert [o.kind for o in outcomes] == ["not-yet"] and "InProgress" in outcomes[0].reason
    assert (status, body["outcome"]) == (202, "running") and "not yet" in body["reason"]  # it looks again later
    assert writes_since(world.emu, seq) == [] and run_commands(world.emu) == []
    assert last_record(world.rt)["outcome"] == "not-yet"
    lb = world.rt.network.get_load_balancer(world.lb_id)
    assert lb is not None and lb.pool_nic_ids == ()

    control(world.emu, "PUT", "config", {"lro_polls": 0})
    control(world.emu, "POST", "asr/settle")  # time passes: the job completes and ARM publishes the event
    late = failover_events(world.queue())
    assert len(late) == 1
    assert [o.kind for o in readdressed(deliver(late, failover.handle, world.rt))] == ["reassigned"]


def test_an_item_level_signal_maps_to_its_cluster_through_the_multi_vm_group(world: World) -> None:
    world.enroll()
    world.unplanned_failover()
    deliver(world.queue(), failover.handle, world.rt)
    item = world.rt.asr.list_items()[0]
    parts = item.id.split("/")
    world.asr.replication_protected_items.begin_failover_commit(world.rg, world.vault, parts[-5], parts[-3],
                                                                parts[-1]).result()
    events = [e for e in world.queue() if e["eventType"] == ACTION and "runcommand" not in e["data"]["operationName"].lower()]
    assert len(events) == 1 and "replicationprotecteditems" in events[0]["data"]["operationName"].lower()
    seq = world.emu.journal.last_seq

    outcomes = deliver(events, failover.handle, world.rt)

    assert [(o.kind, o.cluster) for o in outcomes] == [("unchanged", CLUSTER)], [o.reason for o in outcomes]
    assert writes_since(world.emu, seq) == [] and len(run_commands(world.emu)) == 1


# -- test failover and cleanup --------------------------------------------------------------------

def test_test_failover_gets_the_test_load_balancer_and_cleanup_removes_it(world: World) -> None:
    world.enroll(**{"asr-s2d-dr-ip": "10.20.1.50"})
    dr_before = world.resource(world.lb_id)
    dr_ip = dr_before["properties"]["frontendIPConfigurations"][0]["properties"]["privateIPAddress"]
    assert dr_ip == "10.20.1.50"

    world.test_failover()
    drill_events = world.queue()
    outcomes = readdressed(deliver(drill_events, failover.handle, world.rt))

    assert [o.kind for o in outcomes] == ["reassigned"], [o.reason for o in outcomes]
    test_ip = "10.30.1.50"  # the DR address's host part in the test subnet
    test_lb = world.rt.network.get_load_balancer(world.test_lb_id)
    test_vms = world.recovered_vm_ids(test=True)
    assert test_lb is not None and test_lb.frontend_ip == test_ip
    assert test_lb.frontend_subnet_id is not None and test_lb.frontend_subnet_id.lower() == \
        world.demo["test_subnet_id"].lower()
    assert sorted(n.lower() for n in test_lb.pool_nic_ids) == sorted(n.lower() for n in world.nic_ids(test_vms))
    assert dict(test_lb.tags) == {"asr-s2d-cluster": CLUSTER, "managed-by": "asr-s2d", "asr-s2d-purpose": "test-failover"}
    drill = guest(world.emu, test_vms[0])
    assert [(r["address"], r["probe_port"], r["state"]) for r in drill["ip_resources"]] == [(test_ip, 59999, "Online")]
    assert world.resource(world.lb_id) == dr_before  # the DR load balancer is untouched, etag and all
    assert guest(world.emu, world.demo["vm_ids"][0])["ip_resources"][0]["address"] == world.demo["cluster_ip"]

    world.test_failover_cleanup()
    cleanup_events = world.queue()
    cleaned = readdressed(deliver(cleanup_events, failover.handle, world.rt))
    assert [o.kind for o in cleaned] == ["changed"] and "removed test load balancer" in cleaned[0].reason
    assert world.rt.network.get_load_balancer(world.test_lb_id) is None
    assert world.resource(world.lb_id) == dr_before

    seq = world.emu.journal.last_seq
    late = readdressed(deliver(list(reversed(drill_events + cleanup_events)), failover.handle, world.rt))  # late and duplicated
    assert {o.kind for o in late} == {"unchanged"}, [o.reason for o in late]
    assert writes_since(world.emu, seq) == [] and len(run_commands(world.emu)) == 1


# -- untrusted input --------------------------------------------------------------------------------

HOSTILE = [
    ("asr-s2d-dr-ip", "10.0.0.5; Remove-Item C:\\ -Recurse"),
    ("asr-s2d-dr-ip", "$(Remove-Item C:\\ -Recurse)"),
    ("asr-s2d-dr-ip", "10.20.1.50`; shutdown /s"),
    ("asr-s2d-dr-ip", "10.99.0.5"),
    ("asr-s2d-dr-ip", "fd00:20:1::50"),
    ("asr-s2d-probe-port", "70000"),
]


def test_hostile_tag_values_are_rejected_before_any_run_command_and_recorded(world: World) -> None:
    world.enroll()
    world.unplanned_failover()
    events = failover_events(world.queue())
    recovered = world.recovered_vm_ids()
    for name, value in HOSTILE:
        for vm_id in recovered:  # ASR copied the source's tags; anyone allowed to tag may change them
            tag(world.operator_sdk, vm_id, {**TAGS, "asr-s2d-dr-ip": "10.20.1.50", "asr-s2d-probe-port": "59999",
                                            name: value})
        world.queue()
        seq = world.emu.journal.last_seq

        outcomes = deliver(events, failover.handle, world.rt)

        assert [o.kind for o in outcomes] == ["rejected"], (value, [o.reason for o in outcomes])
        assert name in outcomes[0].reason
        assert writes_since(world.emu, seq) == [] and run_commands(world.emu) == []
        record = last_record(world.rt)
        assert (record["outcome"], record["event_id"]) == ("rejected", events[0]["id"]) and name in record["reason"]
    lb = world.rt.network.get_load_balancer(world.lb_id)
    assert lb is not None and lb.frontend_ip != "10.20.1.50"


def test_a_distributed_network_name_cluster_is_reported_and_left_alone(world: World) -> None:
    world.enroll()
    for vm_id in world.demo["vm_ids"]:  # Scale-Out File Server style: no IP Address resource at all
        current = guest(world.emu, vm_id)
        control(world.emu, "PUT", "guest", {**current, "access_point": "Distributed", "ip_resources": []}, id=vm_id)
    world.unplanned_failover()
    events = world.queue()
    seq = world.emu.journal.last_seq

    outcomes = readdressed(deliver(events, failover.handle, world.rt))

    assert [o.kind for o in outcomes] == ["unchanged"] and outcomes[0].details["status"] == "no-ip-resource"
    assert [f.code for f in outcomes[0].findings] == ["no-ip-resource"]
    writes = writes_since(world.emu, seq)
    assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in writes] == [("POST", "runCommand")]
    recovered = guest(world.emu, world.recovered_vm_ids()[0])
    assert (recovered["access_point"], recovered["ip_resources"]) == ("Distributed", [])
    assert last_record(world.rt)["details"]["status"] == "no-ip-resource"


# -- the triggers and the CLI, with the app's settings from the environment --------------------------

def test_the_triggers_as_the_host_calls_them(world: World, app_settings: None) -> None:
    """The event and the runbook's call are answered at once (enqueued, no Azure call made); the worker moves the IP;
    the runbook polls its status URL (the ``Location`` of its ``202 Accepted``) until the IP step ended."""
    runbook_route = failover_completed.on_recovery_plan_runbook._function.get_user_function()
    on_event = failover_completed.on_failover_completed._function.get_user_function()
    world.enroll()
    world.unplanned_failover()
    event = failover_events(world.queue())[0]
    seq = world.emu.journal.last_seq

    bad = runbook_route(func.HttpRequest("POST", "https://app/api/failover/runbook", body=b'{"RecoveryPlanName": 1}'))
    assert bad.status_code == 400 and "RecoveryPlanName" in json.loads(bad.get_body())["reason"]
    on_event(delivery.as_trigger_event(event))
    accepted = runbook_route(func.HttpRequest("POST", "https://app/api/failover/runbook?code=k", body=world.context()))
    assert accepted.status_code == 202 and accepted.headers["Retry-After"]
    location = accepted.headers["Location"]
    assert location.startswith("https://app/api/failover/runbook?status=") and "code=" not in location
    assert list(world.emu.journal.entries(since=seq)) == []  # neither trigger called Azure: both only enqueued

    poll = func.HttpRequest("GET", location, body=b"", params={"status": location.rsplit("=", 1)[1]})
    assert runbook_route(poll).status_code == 202  # queued: the runbook polls again after Retry-After
    worker.run_queue(world.rt, until_idle=True, max_seconds=60)
    done = runbook_route(poll)
    answers = sorted([json.loads(done.get_body())["outcome"], last_record(world.rt, "event")["outcome"]])
    assert done.status_code == 200 and answers == ["reassigned", "unchanged"]  # whichever came first moved the IP
    assert len(run_commands(world.emu)) == 1


def plan_action_event(world: World, event_id: str, event_type: str = ACTION) -> dict[str, Any]:
    """The ARM event of the recovery plan's unplanned failover action, as Event Grid delivers it."""
    vault = world.demo["vault_id"]
    return {"id": event_id, "eventType": event_type, "subject": f"{vault}/replicationRecoveryPlans/{PLAN}",
            "eventTime": "2025-01-01T00:00:00Z", "dataVersion": "", "metadataVersion": "1",
            "data": {"operationName": "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans/unplannedFailover/"
                                      "action", "resourceUri": f"{vault}/replicationRecoveryPlans/{PLAN}",
                     "status": event_type.rsplit("Action", 1)[-1], "subscriptionId": world.demo["subscription_id"],
                     "correlationId": f"c-{event_id}"}}


def test_an_event_before_the_failover_finished_is_looked_at_again_until_the_failover_completes(
        world: World, app_settings: None) -> None:
    """Event Grid does not say whether an asynchronous action's event comes at acceptance or completion: the trigger
    takes it either way, and the worker, finding the failover still running, looks again later (a delayed message)
    until it completed; then it moves the IP. Nothing is dropped and the delivery never fails."""
    on_event = failover_completed.on_failover_completed._function.get_user_function()
    world.enroll()
    control(world.emu, "PUT", "config", {"lro_polls": 1000})  # the failover job stays InProgress
    world.unplanned_failover(wait=False)
    on_event(delivery.as_trigger_event(plan_action_event(world, "accepted-1")))
    worker.run_queue(world.rt, until_idle=False, max_seconds=1)  # the worker's looks while the job runs
    [work] = items.listed(world.rt.records, kind="failover")
    assert work.status == "waiting" and "not yet" in work.reason and run_commands(world.emu) == []
    assert last_record(world.rt)["outcome"] == "not-yet"
    control(world.emu, "PUT", "config", {"lro_polls": 0})
    control(world.emu, "POST", "asr/settle")
    worker.run_queue(world.rt, until_idle=True, max_seconds=60)  # the next look
    assert last_record(world.rt)["outcome"] == "reassigned" and len(run_commands(world.emu)) == 1


@pytest.mark.parametrize(("event_type", "kind"), [("Microsoft.Resources.ResourceActionFailure", "failed"),
                                                  ("Microsoft.Resources.ResourceActionCancel", "ignored")])
def test_a_failover_that_failed_or_was_cancelled_is_recorded_as_such_and_the_next_one_moves_the_ip(
        world: World, app_settings: None, event_type: str, kind: str) -> None:
    on_event = failover_completed.on_failover_completed._function.get_user_function()
    world.enroll()
    failing = world.emu.faults.add(FaultRule(action="lro_fail", method="POST", path=r"/unplannedFailover$", count=1,
                                             code="A2AFailoverFailed", message="The failover failed."))
    world.unplanned_failover(wait=False)
    control(world.emu, "POST", "asr/settle")
    assert failing.hits == 1
    on_event(delivery.as_trigger_event(plan_action_event(world, "ended-1", event_type)))
    worker.run_queue(world.rt, until_idle=True, max_seconds=60)
    record = last_record(world.rt)
    assert record["outcome"] == kind and f"ended {'Failed' if kind == 'failed' else 'Cancelled'}" in record["reason"]
    assert run_commands(world.emu) == []  # answered: a retry would change nothing
    world.unplanned_failover()  # the operator tries again, and it works
    for event in failover_events(world.queue()):
        on_event(delivery.as_trigger_event(event))
    worker.run_queue(world.rt, until_idle=True, max_seconds=60)
    assert last_record(world.rt)["outcome"] == "reassigned" and len(run_commands(world.emu)) == 1


def test_a_plan_job_that_failed_on_a_step_after_the_failover_does_not_block_the_ip_step(world: World) -> None:
    """Every item is *CommitPending, the plan's job ended Failed on a later step (a post-action runbook, say): the
    failover happened, so the runbook's retry (or reassign-ip, or the audit) moves the IP instead of not-yet forever."""
    world.enroll()
    world.unplanned_failover()
    [job] = [j for j in control(world.emu, "GET", "asr/jobs") if j["properties"]["scenarioName"] == "UnplannedFailover"]
    ended = control(world.emu, "POST", "asr/jobs/fail", {"job": job["name"], "message": "The runbook failed."})
    assert ended["state"] == "Failed"
    status, body = runbook(world.context(), world.rt)
    assert (status, body["outcome"]) == (200, "reassigned"), body
    assert len(run_commands(world.emu)) == 1


def test_cli_reassign_ip(world: World, app_settings: None, capsys: pytest.CaptureFixture[str]) -> None:
    world.enroll()
    world.unplanned_failover()
    world.queue()
    assert cli.main(["reassign-ip", CLUSTER, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["outcome"], record["trigger"]) == ("reassigned", "cli")
    assert cli.main(["reassign-ip", CLUSTER]) == 0
    out = capsys.readouterr()
    assert "unchanged" in out.out and "CLUSTER IP" in out.out.upper() and "…" in out.err
    assert cli.main(["reassign-ip", CLUSTER, "--test"]) == 0  # no drill is running: nothing to do
    assert "no test failover" in capsys.readouterr().out
    assert cli.main(["reassign-ip", "bad name; rm"]) == 2
    assert len(run_commands(world.emu)) == 1
