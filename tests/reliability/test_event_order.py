"""Any sequence of tag events for up to four clusters — duplicated, reordered, deferred, interleaved across
threads, with tags added and removed — ends with each cluster's protected nodes exactly the model's (see
``properties.py``) in one group, and no node enabled twice; with injected faults too (then Event Grid
redelivers, and a PUT refused by a fault does not count)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from emulator import Emulator
from tests.reliability import figures
from tests.reliability.properties import EXAMPLES, Scenario, World, check, play, scenarios

# Derandomized (CI runs the same worlds every time), no deadline (an example is a whole story), no shrinking (a
# failure prints its example at once and CI's time stays bounded).
SETTINGS = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large))


def test_tag_events_in_any_order_protect_exactly_the_tagged_nodes_in_one_group(
        emu: Emulator, azurite_server: Any, operator_sdk: Callable[..., Any]) -> None:
    runs = []

    @settings(SETTINGS, max_examples=EXAMPLES["any_order"])
    @given(scenario=scenarios(), data=st.data())
    def prop(scenario: Scenario, data: st.DataObject) -> None:
        world = World(emu, azurite_server.connection_string, operator_sdk, scenario)
        check(world, play(world, scenario, data))
        runs.append(scenario)  # a completed example (one whose draws overran its buffer is not one)

    prop()
    assert len(runs) == EXAMPLES["any_order"]
    figures.count("property_examples", len(runs))


def test_with_injected_faults_redelivery_still_protects_exactly_the_tagged_nodes(
        emu: Emulator, azurite_server: Any, operator_sdk: Callable[..., Any]) -> None:
    runs = []

    @settings(SETTINGS, max_examples=EXAMPLES["any_order_with_faults"])
    @given(scenario=scenarios(), data=st.data(), rate=st.sampled_from((0.02, 0.04)), seed=st.integers(0, 999))
    def prop(scenario: Scenario, data: st.DataObject, rate: float, seed: int) -> None:
        world = World(emu, azurite_server.connection_string, operator_sdk, scenario, fault_rate=rate, seed=seed)
        check(world, play(world, scenario, data))
        runs.append(scenario)

    prop()
    assert len(runs) == EXAMPLES["any_order_with_faults"]
    figures.count("property_examples", len(runs))
