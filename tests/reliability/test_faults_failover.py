"""503 with Retry-After at every ARM call site of re-addressing after a test failover, its cleanup and a
real failover: redelivery converges to the clean run's end state; the records say what failed, then what worked."""

from __future__ import annotations

import pytest

from tests.reliability.matrix import EVERY_SITE, Case, on_clocks, run_case
from tests.reliability.story import Story


@pytest.mark.parametrize(("case", "emulator_clock"), on_clocks([c for c in EVERY_SITE if c.site.phase != "enroll"]),
                         indirect=["emulator_clock"])
def test_a_fault_at_any_readdressing_call_site_is_redelivered_to_the_clean_end_state(story: Story, case: Case) -> None:
    run_case(story, case)
