"""``make chaos`` in the suite: the whole demo story with 10% of ARM calls failing (seeded: 429, 500, 503, dropped
connections, operations ending Failed) and every event delivered twice in a shuffled order ends exactly where
the clean story ends (``demo.story.chaos_compare``)."""

from __future__ import annotations

from typing import Any

from demo.stage import Out
from demo.story import chaos_compare
from emulator import Emulator
from tests.reliability import figures
from tests.reliability.guarantees import CHAOS_KEYS, docs_figures

RATE, SEED = 0.10, 7  # the Makefile's: python -m demo --chaos 0.10 --seed 7
MEASURED: dict[str, Any] = {}


def test_the_chaotic_story_ends_where_the_clean_story_ends(emu: Emulator, azurite_server: Any) -> None:
    result = chaos_compare(emu, azurite_connection_string=azurite_server.connection_string, rate=RATE, seed=SEED,
                           out=Out(quiet=True))
    assert result.differences == []
    clean, chaotic = result.clean, result.chaotic
    assert clean.faults_injected == 0 and clean.redeliveries == 0
    assert {"status 429", "status 500", "status 503", "reset", "lro_fail"} <= set(chaotic.faults), chaotic.faults
    assert chaotic.deliveries >= 2 * len(chaotic.events), "every event is delivered (at least) twice"
    assert chaotic.redeliveries > 0, "faults must reach the app (its worker's steps retried), not only azure-core"
    assert chaotic.throttled == 0
    MEASURED.update(chaos_rate_percent=round(RATE * 100), chaos_seed=SEED,
                    chaos_faults_injected=chaotic.faults_injected, chaos_faults_by_kind=chaotic.faults,
                    chaos_event_deliveries=chaotic.deliveries, chaos_redeliveries=chaotic.redeliveries,
                    chaos_audits=chaotic.audits)
    for key, value in MEASURED.items():
        if isinstance(value, int):
            figures.count(key, value)
    for kind, value in chaotic.faults.items():
        figures.count(f"chaos_faults_by_kind.{kind}", value)


def test_the_docs_state_the_chaos_figures_this_run_measured() -> None:
    """The seed makes the chaos run reproducible: the figures in ``docs/testing.md`` are this run's, or need
    regenerating (``make test``, then ``python -m tests.reliability.guarantees --write-docs``)."""
    assert MEASURED, "the chaos test did not run first"
    stated = docs_figures()
    assert {k: stated.get(k) for k in CHAOS_KEYS} == MEASURED, (
        "docs/testing.md's Guarantees differ from this run: make test, then python -m tests.reliability.guarantees "
        "--write-docs")
