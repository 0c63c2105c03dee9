"""A crash between any two steps: the n-th write of a phase fails permanently (a 400), so the writes before it
are done and the ones after it are not. What follows in production converges to the clean end state."""

from __future__ import annotations

import pytest

from tests.reliability.matrix import CRASHES, Case, on_clocks, run_case
from tests.reliability.story import Story


@pytest.mark.parametrize(("case", "emulator_clock"), on_clocks(CRASHES), indirect=["emulator_clock"])
def test_a_crash_at_any_write_converges_without_writing_anything_twice(story: Story, case: Case) -> None:
    run_case(story, case)
