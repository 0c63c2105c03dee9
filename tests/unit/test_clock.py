"""Azure's clock (``emulator.core.clock``): every figure names its source and how it follows from it, the table in
docs/testing.md is the code's table, and a clock scales Azure's figures (or, instant, takes no time at all).
Time is an injected source, never the wall clock."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulator.core.clock import AZURE, BASES, DEFAULT_TIME_SCALE, DURATIONS, INSTANT, Clock, markdown_table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
START, END = "<!-- clock:start -->", "<!-- clock:end -->"
# A source is a Microsoft docs URL or a repository path of Microsoft's docs, specs or tooling.
SOURCE = re.compile(r"^(https://learn\.microsoft\.com/\S+|MicrosoftDocs/[\w.-]+ \S+\.md)")


class FakeTime:
    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_docs_table_is_the_codes_table() -> None:
    text = DOCS.read_text()
    assert START in text and END in text, "docs/testing.md lost its clock markers"
    stated = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert stated == markdown_table(), "docs/testing.md's clock table is stale: run `make clock-table` and paste it"


@pytest.mark.parametrize("kind", sorted(DURATIONS))
def test_every_figure_names_its_source_and_basis(kind: str) -> None:
    duration = DURATIONS[kind]
    assert duration.kind == kind and duration.azure_seconds > 0
    assert duration.basis in BASES and duration.note.strip()
    assert all(SOURCE.match(part.strip()) for part in duration.source.split(";")), duration.source


def test_the_figures_the_issue_lists_are_all_there() -> None:
    assert {"enable_replication", "initial_replication", "failover", "test_failover", "test_failover_cleanup",
            "commit", "switch_protection", "vm_agent_ready", "cluster_service", "storage_resync", "run_command",
            "run_command_limit"} <= set(DURATIONS)
    assert DURATIONS["run_command"].azure_seconds >= 20  # "about 20 seconds" at least


def test_the_instant_clock_takes_no_time() -> None:
    fake = FakeTime()
    clock = Clock(source=fake)
    assert (clock.mode, clock.time_scale, clock.instant) == (INSTANT, DEFAULT_TIME_SCALE, True)
    assert clock.seconds("failover") == 0 and clock.due("failover") == fake.now
    assert clock.is_due(fake.now + 3600) and clock.polling_interval(10) == 0
    assert clock.azure_seconds("failover") == 9 * 60  # Azure's figure whatever the clock


def test_azures_clock_scales_azures_figures() -> None:
    fake = FakeTime()
    clock = Clock(AZURE, source=fake)
    assert clock.seconds("failover") == 9.0  # 9 minutes at one minute per second
    assert clock.due("run_command") == fake.now + 20 / 60
    at = clock.due("test_failover_cleanup")
    assert not clock.is_due(at)
    fake.now = at
    assert clock.is_due(at)
    clock.set(time_scale=3600)
    assert (clock.mode, clock.seconds("failover"), clock.polling_interval(10)) == (AZURE, 0.15, 10 / 3600)
    clock.set(INSTANT)
    assert clock.seconds("failover") == 0 and clock.time_scale == 3600


def test_initial_replication_takes_its_size() -> None:
    clock = Clock(AZURE, time_scale=1, source=FakeTime())
    assert clock.seconds("initial_replication", gib=1024) == 32 * 1024  # 9.1 hours for 1 TiB
    assert clock.seconds("initial_replication", gib=0) == 0
    with pytest.raises(ValueError, match="gib="):
        clock.seconds("initial_replication")
    with pytest.raises(ValueError, match="takes no size"):
        clock.seconds("failover", gib=1)


@pytest.mark.parametrize(("mode", "scale", "message"), [
    ("sundial", 60, "clock must be one of instant, azure"),
    (AZURE, 0, "time_scale must be a finite number >= 1"),
    (AZURE, 0.5, "time_scale must be a finite number >= 1"),
    (AZURE, float("inf"), "time_scale must be a finite number >= 1"),
    (AZURE, float("nan"), "time_scale must be a finite number >= 1"),
])
def test_a_clock_refuses_what_it_cannot_keep(mode: str, scale: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Clock(mode, time_scale=scale)
    clock = Clock(AZURE, time_scale=120)
    with pytest.raises(ValueError, match=message):
        clock.set(mode, time_scale=scale)
    assert (clock.mode, clock.time_scale) == (AZURE, 120)  # a refused change changes nothing


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(KeyError, match="unknown duration 'reboot'"):
        Clock(AZURE).due("reboot")


def test_every_timed_job_scenario_is_one_the_emulator_runs() -> None:
    """A scenario named in DURATION_OF but never run would leave the real one on the one-minute default."""
    from emulator.providers.recoveryservices.jobs import DURATION_OF, SCENARIOS
    from emulator.providers.recoveryservices.protection import SWITCH_PROTECTION

    assert set(DURATION_OF) <= set(SCENARIOS)
    assert set(DURATION_OF.values()) <= set(DURATIONS)
    assert DURATION_OF[SWITCH_PROTECTION] == "switch_protection"
