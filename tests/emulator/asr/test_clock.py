"""Site Recovery on the emulator's Azure clock (``emulator.core.clock``), through the real SDK: a job lasts as long
as its scenario takes in Azure, scaled; a job nobody reads still ends when it is due, runs its work and publishes
its ARM event; ``lro_polls`` still holds an operation; initial replication lasts by the largest disk. And the
negative cases: the instant clock ends nothing that is not read, an early read sees the job running, and the
control API and the command line refuse a clock they cannot keep, changing nothing.

Time is injected (``azure_time``: the emulator clock's source, frozen until a test advances it), and the ticker's
pass (``emu.lro.tick()``) is called directly, so each test knows when a job fell due; one test waits for the ticker
thread itself, bounded, and asserts what it did by counts."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator
from emulator.core.clock import AZURE, INSTANT
from emulator.core.events import Subscriber
from emulator.settings import app_env
from tests.emulator.armhttp import control, control_json
from tests.emulator.asr.conftest import VAULT, VAULT_RG, enable_input, item_of

ITEM_WRITE = ("Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/"
              "replicationProtectedItems/write")
ROOT = Path(__file__).resolve().parents[3]
FAST = 1e6  # every job is due within a millisecond


class FakeTime:
    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def azure_time(emu: Emulator) -> Iterator[FakeTime]:
    """Azure's clock at 60x, reading an injected time that stands still until the test advances it."""
    fake = FakeTime()
    emu.clock.source = fake
    emu.set_clock(AZURE, time_scale=60)
    yield fake
    emu.clock.source = time.time


def start_enable(asr: Any, world: Any, plumbing: Any, vm: str = "s2d-node1") -> None:
    """Enable replication of ``vm`` without waiting for its job (``polling=False``)."""
    poller = asr.replication_protected_items.begin_create(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, vm,
        enable_input(world, plumbing, vm), polling=False)
    assert poller.done()


def enable_job(asr: Any) -> Any:
    (job,) = [j for j in asr.replication_jobs.list(VAULT_RG, VAULT) if j.properties.scenario_name == "EnableDr"]
    return job


def status_reads(emu: Emulator, since: int) -> int:
    return sum(1 for e in emu.journal.entries(since) if "/replicationOperationStatus/" in e.path
               or ("/replicationJobs/" in e.path and e.method == "GET"))


def test_a_job_runs_until_its_scenario_is_due_and_an_early_read_sees_it_running(emu, world, asr, plumbing, azure_time):
    start_enable(asr, world, plumbing)  # EnableDr: 10 Azure minutes, 10 s at 60x
    job = enable_job(asr)
    azure_time.now += 9.9
    for _ in range(3):
        assert asr.replication_jobs.get(VAULT_RG, VAULT, job.name).properties.state == "InProgress"
    assert emu.lro.tick() == pytest.approx(0.1)  # the ticker has it waiting, not due
    assert item_of(asr, plumbing, "s2d-node1").properties.protection_state == "EnablingProtection"

    azure_time.now += 0.1
    assert asr.replication_jobs.get(VAULT_RG, VAULT, job.name).properties.state == "Succeeded"


def test_a_due_job_ends_on_the_tickers_pass_without_a_read_and_its_event_is_published(emu, world, asr, plumbing,
                                                                                      azure_time):
    sub = emu.events.subscribe(Subscriber(mode="pull", operation_names=(ITEM_WRITE,)))
    seq = emu.journal.last_seq
    start_enable(asr, world, plumbing)
    assert emu.events.drain(sub.id) == []
    azure_time.now += 10
    emu.lro.tick()  # this pass, or the ticker thread's after the clock moved: either ends the job
    assert status_reads(emu, seq) == 0
    assert len(emu.events.drain(sub.id)) == 1
    assert [j["properties"]["state"] for j in control_json(emu, "GET", "asr/jobs", vault=world.vault_id)
            if j["properties"]["scenarioName"] == "EnableDr"] == ["Succeeded"]


def test_the_ticker_thread_ends_a_job_nobody_reads(emu, world, asr, plumbing):
    emu.set_clock(AZURE, time_scale=FAST)
    arrived = threading.Event()
    emu.events.subscribe(Subscriber(mode="sink", sink=lambda event: arrived.set(), operation_names=(ITEM_WRITE,)))
    seq = emu.journal.last_seq
    start_enable(asr, world, plumbing)
    assert arrived.wait(timeout=30), "the ticker did not end the job"
    assert status_reads(emu, seq) == 0
    item = emu.world.get(item_of(asr, plumbing, "s2d-node1").id)
    assert item is not None and item["properties"]["currentScenario"]["scenarioName"] == "None"


def test_on_the_instant_clock_nothing_ends_without_a_read(emu, world, asr, plumbing):
    assert emu.clock.mode == INSTANT
    start_enable(asr, world, plumbing)
    assert emu.lro.tick() is None
    (job,) = [j for j in control_json(emu, "GET", "asr/jobs", vault=world.vault_id)
              if j["properties"]["scenarioName"] == "EnableDr"]
    assert job["properties"]["state"] == "InProgress"
    assert asr.replication_jobs.get(VAULT_RG, VAULT, job["name"]).properties.state == "Succeeded"  # the first read


def test_lro_polls_still_hold_a_due_operation_on_azures_clock(emu, world, asr, plumbing, azure_time):
    control_json(emu, "PUT", "config", {"lro_polls": 2})
    start_enable(asr, world, plumbing)
    azure_time.now += 10
    assert emu.lro.tick() is None  # due, but it owes two reads: the ticker leaves it
    job = enable_job(asr)
    states = [asr.replication_jobs.get(VAULT_RG, VAULT, job.name).properties.state for _ in range(3)]
    assert states == ["InProgress", "InProgress", "Succeeded"]


def test_a_failed_operation_fails_its_job_on_the_tickers_pass(emu, world, asr, plumbing, azure_time):
    control_json(emu, "POST", "faults", {"action": "lro_fail", "method": "PUT", "path": "replicationProtectedItems",
                                         "count": 1, "message": "Injected failure of the job."})
    start_enable(asr, world, plumbing)
    azure_time.now += 10
    emu.lro.tick()
    (job,) = [j for j in control_json(emu, "GET", "asr/jobs", vault=world.vault_id)
              if j["properties"]["scenarioName"] == "EnableDr"]
    assert job["properties"]["state"] == "Failed"  # read from the world: nobody polled it


def test_initial_replication_lasts_by_the_largest_disk(emu, world, asr, plumbing, clock):
    emu.set_clock(AZURE, time_scale=64)
    start_enable(asr, world, plumbing)
    control_json(emu, "POST", "asr/settle")  # the EnableDr job ends; initial replication starts
    item = item_of(asr, plumbing, "s2d-node1")
    assert item.properties.protection_state == "UnprotectedStatesBegin"
    largest = max(d.disk_capacity_in_bytes for d in item.properties.provider_specific_details.protected_managed_disks)
    assert largest == 1024 ** 4  # the demo nodes' 1 TiB data disks: 9.1 Azure hours
    total = emu.clock.seconds("initial_replication", gib=largest / 1024 ** 3)
    assert total == 32 * 1024 / 64
    clock.advance(total / 2)
    assert item_of(asr, plumbing, "s2d-node1").properties.provider_specific_details.monitoring_percentage_completion == 50
    clock.advance(total / 2)
    assert item_of(asr, plumbing, "s2d-node1").properties.protection_state == "Protected"


def test_the_clock_through_the_control_api(emu):
    assert control_json(emu, "GET", "config")["clock"] == INSTANT
    assert control_json(emu, "PUT", "config", {"clock": AZURE, "time_scale": 120}) == {
        "page_size": 100, "lro_polls": 0, "clock": AZURE, "time_scale": 120.0,
        "action_events": "completed"}
    assert app_env(emu, {})["ARM_POLLING_INTERVAL"] == f"{10 / 120:g}"  # the app's 10 s, scaled
    for refused in ({"clock": "sundial"}, {"time_scale": 0}, {"time_scale": "fast"}, {"time_scale": True},
                    {"clock": AZURE, "time_scale": 0.5, "page_size": 7}, {"tick": 1}):
        reply = control(emu, "PUT", "config", body=refused)
        assert reply.status == 400 and reply.body["error"]["code"] == "InvalidControlRequest", refused
    assert control_json(emu, "GET", "config") == {"page_size": 100, "lro_polls": 0, "clock": AZURE, "time_scale": 120.0,
                                                  "action_events": "completed"}
    assert control_json(emu, "PUT", "config", {"clock": INSTANT})["clock"] == INSTANT
    assert app_env(emu, {})["ARM_POLLING_INTERVAL"] == "0"


@pytest.mark.parametrize(("args", "message"), [
    (["--clock", "sundial"], "invalid choice: 'sundial'"),
    (["--clock", "azure", "--time-scale", "0"], "time_scale must be a finite number >= 1"),
])
def test_the_command_line_refuses_a_clock_it_cannot_keep(args: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "emulator", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""
