"""Every fault kind at six representative call sites: 429 with Retry-After, 500, a dropped connection, and a
long-running operation ending Failed (for Site Recovery writes: the ASR job ending Failed). Transient faults
converge by Event Grid's redelivery; a failed operation by the backstop of its phase (``matrix.py``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from emulator import endstate
from emulator.core.faults import FaultRule
from tests.reliability.matrix import KINDS, SITES, Case, on_clocks, run_case
from tests.reliability.story import Story


@pytest.mark.parametrize(("case", "emulator_clock"), on_clocks(KINDS), indirect=["emulator_clock"])
def test_every_fault_kind_at_a_representative_call_site_converges(story: Story, case: Case) -> None:
    run_case(story, case)


def test_a_429_retry_after_is_honoured_by_the_clients_retry_before_the_app_sees_it(
        emu: Any, azurite_server: Any, operator_sdk: Callable[..., Any]) -> None:
    """With the default ARM_RETRY_TOTAL, one throttled write is retried by azure-core after ARM's Retry-After
    (pacing against ARM's throttling is the app's job): the event succeeds at once and nothing fails."""
    story = Story(emu, azurite_server.connection_string, operator_sdk, ARM_RETRY_TOTAL="6")
    clean = story.clean("enroll")
    events = story.begin("enroll")
    enable = next(s for s in SITES if s.phase == "enroll" and s.method == "PUT"
                  and s.template.endswith("/replicationProtectedItems/{replicatedProtectedItemName}"))
    story.emu.faults.add(FaultRule(action="status", status=429, retry_after=1, method="PUT", path=enable.pattern, count=1))
    outcomes = [story.deliver(e) for e in events]
    assert [o.kind if o else None for o in outcomes] == ["enabled", "unchanged"]
    puts = [e for e in story.emu.journal.entries() if e.method == "PUT" and re.match(enable.pattern, e.path, re.I)]
    throttled = next(i for i, e in enumerate(puts) if e.status == 429)
    assert puts[throttled + 1].path == puts[throttled].path
    assert puts[throttled + 1].time - puts[throttled].time >= 1.0, "the retry did not wait for Retry-After"
    assert not [r for r in story.records() if r["outcome"] == "failed"]
    story.time_passes()
    assert endstate.diff(clean, story.snapshot()) == []
