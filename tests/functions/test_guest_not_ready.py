"""A recovered node's guest is not ready the moment its VM boots: the failover IP step, the drill's in-guest checks
and membership confirmation meet it on the emulator, and say "not yet" (retried), never "failed".

What Azure does (DESIGN.md rules 13 and 19; learn.microsoft.com/azure/virtual-machines/windows/run-command,
"Restrictions"): Run Command fails while the VM agent is NOT READY, refuses a second script while one runs (409),
keeps the last 4,096 bytes of output; a failed-over cluster needs minutes before ClusSvc runs and its storage has
resynced. The emulator plays each through its control API (``vm-agent``, ``guest/run-commands``,
``guest/settle``); the drill waits on a clock of the test's own, so waiting is counted, never timed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from emulator import Emulator
from emulator.clients import control
from shared.cli import main as cli
from shared.cli.output import EXIT_RETRY
from shared.drill import service as drill
from shared.drill.record import Result
from shared.enrollment import service as enrollment
from shared.errors import GuestNotReady
from shared.failover import service as failover
from shared.runtime import Runtime
from tests.functions.conftest import deliver, tag
from tests.functions.drift_world import CLUSTER as DRIFT_CLUSTER
from tests.functions.drift_world import DR_IP, add_node, node_tags
from tests.functions.drill_world import CLUSTER
from tests.functions.test_failover import World, failover_events, guest, last_record, records_of, run_commands
from tests.work import runbook

SET_IP = "# asr-s2d:set-cluster-ip v3"
HEALTH = "# asr-s2d:cluster-health v2"


class StepClock:
    """The drill's clock in these tests: a sleep moves it on at once, and is counted (the drill's steps that follow
    each other at once, ``Later(0)``, wait for nothing: not counted)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if seconds:
            self.sleeps.append(seconds)
        self.now += seconds

    def real_seconds(self, seconds: float) -> float:
        return seconds


@pytest.fixture
def world(emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
          event_queue: Callable[[], list[dict[str, Any]]]) -> World:
    return World(emu, demo, runtime, operator_sdk, event_queue)


def scripts_run(emu: Emulator, marker: str) -> list[str]:
    """The status of every run of one shipped script, in order."""
    return [r["status"] for r in run_commands(emu) if r["script"][0] == marker]


def failed_over(world: World) -> tuple[dict[str, Any], list[str]]:
    """The cluster enrolled and failed over: its failover event and the recovered VMs."""
    world.enroll()
    world.unplanned_failover()
    [event] = failover_events(world.queue())
    return event, world.recovered_vm_ids()


def assert_readdressed_on_retry(world: World, event: dict[str, Any]) -> None:
    """The same event, delivered again once the guest is ready: the IP step completes, recorded after the not-yet."""
    assert failover.handle(event, world.rt).kind == "reassigned"
    assert [r["outcome"] for r in records_of(world.rt, event["id"])] == ["not-yet", "reassigned"]
    recovered = world.recovered_vm_ids()
    lb = world.rt.network.get_load_balancer(world.lb_id)
    assert lb is not None and guest(world.emu, recovered[0])["ip_resources"][0]["address"] == lb.frontend_ip


# -- the failover IP step ----------------------------------------------------------------------------------

def test_the_ip_step_waits_for_a_vm_agent_that_is_not_ready(world: World) -> None:
    event, recovered = failed_over(world)
    for vm_id in recovered:
        control(world.emu, "PUT", "vm-agent", {"status": "NotReady"}, id=vm_id)

    with pytest.raises(GuestNotReady):  # Event Grid redelivers
        failover.handle(event, world.rt)
    record = last_record(world.rt)
    assert record["outcome"] == "not-yet" and "VMAgentStatusCommunicationError" in record["reason"]
    assert scripts_run(world.emu, SET_IP) == ["Failed"]  # the agent never ran it
    status, body = runbook(world.context(), world.rt, max_seconds=1.5)
    assert (status, body["outcome"]) == (202, "running") and "not yet" in body["reason"], body  # it looks again

    for vm_id in recovered:
        control(world.emu, "DELETE", "vm-agent", id=vm_id)  # the agent is Ready now
    assert_readdressed_on_retry(world, event)
    runs = scripts_run(world.emu, SET_IP)  # the agent never ran the script until it was Ready, then once
    assert runs[-1] == "Succeeded" and set(runs[:-1]) == {"Failed"} and len(runs) >= 3


def test_the_ip_step_waits_while_another_run_command_runs(world: World) -> None:
    event, recovered = failed_over(world)
    for vm_id in recovered:  # an operator's own script, still running on every node
        control(world.emu, "POST", "guest/run-commands", {}, id=vm_id)
    seq = world.emu.journal.last_seq

    with pytest.raises(GuestNotReady):
        failover.handle(event, world.rt)
    assert [(e.method, e.status) for e in world.emu.journal.entries(since=seq) if e.is_write] == [("POST", 409)]
    assert last_record(world.rt)["outcome"] == "not-yet"

    for vm_id in recovered:
        control(world.emu, "DELETE", "guest/run-commands", id=vm_id)
    assert_readdressed_on_retry(world, event)


def test_the_ip_step_waits_for_a_cluster_that_has_not_settled(world: World, app_settings: None,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    event, recovered = failed_over(world)
    control(world.emu, "PUT", "guest/settle", {"stage": "starting", "runs": 2}, id=recovered[0])

    with pytest.raises(GuestNotReady):
        failover.handle(event, world.rt)
    record = last_record(world.rt)
    assert record["outcome"] == "not-yet" and "StartPending" in record["reason"], record
    assert world.rt.records.cluster_note(world.key, "readdress") is None, "nothing noted as done"
    assert cli.main(["reassign-ip", CLUSTER]) == EXIT_RETRY  # the operator is told to run it again later
    assert "not yet" in capsys.readouterr().err

    assert_readdressed_on_retry(world, event)
    assert [json.loads(r["stdout"].splitlines()[-1])["status"] for r in run_commands(world.emu)] == [
        "not-ready", "not-ready", "changed"]


def test_the_result_line_survives_run_commands_4096_byte_tail(world: World) -> None:
    event, recovered = failed_over(world)
    for vm_id in recovered:  # PowerShell warnings before the result, far more than Run Command keeps
        control(world.emu, "PATCH", "guest", {"warnings": [f"{i:03} " + "w" * 120 for i in range(60)]}, id=vm_id)

    assert failover.handle(event, world.rt).kind == "reassigned"
    [run] = run_commands(world.emu)
    assert len(run["stdout"].encode()) == 4096 and not run["stdout"].startswith("WARNING: 000")
    assert last_record(world.rt)["details"]["guest"]["status"] == "changed"


# -- the drill's in-guest checks -------------------------------------------------------------------------------

@pytest.mark.parametrize(("stage", "runs", "ip_runs", "health_runs", "sleeps"), [
    ("booting", 1, ["Failed", "Succeeded"], ["Succeeded"], 1),  # the VM agent is not Ready at first
    ("starting", 2, ["Succeeded"] * 3, ["Succeeded"], 2),  # ClusSvc StartPending: set_cluster_ip says not-ready
    ("repairing", 2, ["Succeeded"], ["Succeeded"] * 2, 1),  # the IP moves; virtual disks Warning while resyncing
])
def test_a_drill_waits_within_its_budget_for_a_guest_that_settles(world: World, stage: str, runs: int,
                                                                   ip_runs: list[str], health_runs: list[str],
                                                                   sleeps: int) -> None:
    world.enroll()
    control(world.emu, "PUT", "guest/settle", {"stage": stage, "runs": runs})  # what the test failover boots
    world.rt.clock = clock = StepClock()

    record = drill.run_drill(CLUSTER, world.rt)

    assert record.result is Result.PASSED, {c.name: c.detail for c in record.checks if not c.ok}
    assert clock.sleeps == [drill.GUEST_RECHECK_SECONDS] * sleeps
    assert (scripts_run(world.emu, SET_IP), scripts_run(world.emu, HEALTH)) == (ip_runs, health_runs)
    world.assert_clean()


def test_a_drill_whose_guest_never_settles_fails_clearly_after_its_budget(world: World) -> None:
    world.enroll()
    control(world.emu, "PUT", "guest/settle", {"stage": "starting"})  # ClusSvc never starts
    world.rt.clock = clock = StepClock()

    record = drill.run_drill(CLUSTER, world.rt)

    budget = world.rt.settings.drill_guest_wait_minutes * 60
    assert record.result is Result.FAILED and record.cleanup.ok
    assert clock.sleeps == [drill.GUEST_RECHECK_SECONDS] * (budget // drill.GUEST_RECHECK_SECONDS)
    failed = {c.name: c.detail for c in record.checks if not c.ok}
    assert failed["ip-step"].startswith(f"not-yet: the guest was still not ready after waiting {budget} s")
    assert f"not settled after waiting {budget} s: cluster service (ClusSvc) StartPending" in failed["guest-report"]
    assert failed["cluster-service"] == "cluster service (ClusSvc) StartPending"
    assert len(scripts_run(world.emu, SET_IP)) == budget // drill.GUEST_RECHECK_SECONDS + 1
    assert scripts_run(world.emu, HEALTH) == ["Succeeded"]  # the budget was spent: read once, as it stands
    world.assert_clean()


# -- membership confirmation -------------------------------------------------------------------------------

@pytest.mark.parametrize("busy", ["settling", "another run command"])
def test_a_guest_that_cannot_answer_yet_confirms_nobody_and_is_asked_again(
        emu: Emulator, demo: dict[str, Any], converged: dict[str, Any], runtime: Runtime,
        operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]], busy: str) -> None:
    node3 = add_node(emu, demo, "s2d-node3", {})
    control(emu, "PATCH", "guest", {"nodes": [{"name": "s2d-node3", "state": "Up"}]}, id=demo["vm_ids"][0])
    if busy == "settling":
        control(emu, "PUT", "guest/settle", {"stage": "starting", "runs": 1}, id=demo["vm_ids"][0])
    else:
        control(emu, "POST", "guest/run-commands", {}, id=demo["vm_ids"][0])
    tags = node_tags(DRIFT_CLUSTER, witness=converged["witness_storage_account_id"], dr_ip=DR_IP)
    event_queue()
    tag(operator_sdk, node3, tags)

    first = deliver(event_queue(), enrollment.handle, runtime)
    assert [o.kind for o in first] == ["unchanged"], [o.reason for o in first]
    finding = next(f for f in first[0].findings if f.code == "node-unconfirmed")
    assert "was not read" in finding.message
    record = runtime.records.enrollment(DRIFT_CLUSTER)
    assert record is not None and not record.has_node(node3) and record.guest_checked is None

    control(emu, "DELETE", "guest/run-commands", id=demo["vm_ids"][0])
    event_queue()  # the node-list queries' own action events
    tag(operator_sdk, node3, tags)  # any later event (or the hourly audit's repair) asks the guest again
    again = deliver(event_queue(), enrollment.handle, runtime)
    assert [o.kind for o in again] == ["enabled"], [o.reason for o in again]
    record = runtime.records.enrollment(DRIFT_CLUSTER)
    assert record is not None and record.has_node(node3)
