"""The two emulator tools the reliability suite stands on: a fault rule that fails exactly the n-th matching
request (``skip``), and checkpoints of a whole world."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import Emulator, endstate
from emulator.core.faults import FaultRule, Faults
from emulator.core.http import ArmRequest


def test_skip_lets_the_first_matches_through_and_fails_exactly_the_next() -> None:
    faults = Faults()
    rule = faults.add(FaultRule(action="status", status=400, method="PUT", path="^/x/[^/]+$", skip=2, count=1))
    hits = [faults.on_request("PUT", f"/x/{n}") is not None for n in range(5)]
    assert hits == [False, False, True, False, False]
    assert faults.on_request("GET", "/x/1") is None and rule.hits == 1
    with pytest.raises(ValueError, match="skip"):
        FaultRule(action="status", skip=-1)


def test_a_checkpoint_restores_the_world_and_refuses_while_an_operation_runs(
        emu: Emulator, demo: dict[str, Any]) -> None:
    before = endstate.snapshot(emu)
    saved = emu.checkpoint()
    with emu.world.lock:
        emu.world.delete(demo["source_lb_id"])
    emu.faults.add(FaultRule(action="status", status=500))
    assert endstate.diff(before, endstate.snapshot(emu))
    emu.restore(saved)
    assert endstate.diff(before, endstate.snapshot(emu)) == []
    assert emu.faults.rules() == [] and emu.seeded == demo
    emu.lro.default_polls = 5
    request = ArmRequest(method="PUT", path="/x", query={}, headers={}, raw_body=b"", base_url=emu.endpoint)
    emu.lro.start(request, lambda: None, namespace="Microsoft.Network", location="westeurope")
    with pytest.raises(ValueError, match="still running"):
        emu.checkpoint()
    emu.lro.settle()
    emu.checkpoint()
