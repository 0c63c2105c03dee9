"""How long a VM and its guest take in Azure, and the one place the compute provider reads it.

``FIGURES`` holds each duration in Azure seconds with its source; ``seconds(world, name)`` is the only reader
and ``now()`` the only clock. The emulator runs on the ``instant`` clock (the default of ``python -m emulator``):
every figure reads as zero, so a VM's agent is Ready the moment the VM boots, a Run Command ends on its first
poll and a failed-over cluster has settled at once. ``PUT /_emulator/guest/timing {"scale": s}`` makes each
figure take ``s`` real seconds per Azure second, for the tests of the rules that need time to pass. When Azure's
clock (``emulator/core/clock.py``, ``--clock azure``) lands, ``seconds`` and ``now`` read it instead and that
control goes: nothing else here changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from emulator.core.world import World

TIMING = "compute.timing"  # world.extras key: {"scale": real seconds per Azure second}
RUN_COMMAND_DOC = "learn.microsoft.com/azure/virtual-machines/windows/run-command (Restrictions)"
S2D_MAINTENANCE_DOC = "learn.microsoft.com/windows-server/storage/storage-spaces/maintain-servers"


@dataclass(frozen=True)
class Figure:
    seconds: float  # in Azure
    source: str


FIGURES: dict[str, Figure] = {
    # From boot. Not a documented figure: typical. Until then the instance view's vmAgent reads Not Ready
    # (REST reference, virtual-machine-scale-set-vms/get-instance-view example) and Run Command cannot run: "The Run
    # Command feature doesn't work if the VM agent status is NOT READY" (RUN_COMMAND_DOC).
    "agent-ready": Figure(120, f"typical (DESIGN.md rule 13); agent Not Ready until then: {RUN_COMMAND_DOC}"),
    # From boot: ClusSvc starts (StartPending) and the node joins its cluster. Typical, not documented as a figure.
    "cluster-service": Figure(180, f"typical; 'Start the cluster ... Give it a few minutes': {S2D_MAINTENANCE_DOC}"),
    # After the cluster service runs: Storage Spaces Direct resyncs what changed; virtual disks read Warning
    # meanwhile ("it may take many minutes to complete ... your volumes will continue to show as Warning").
    "storage-resync": Figure(300, f"typical; 'may take many minutes', volumes Warning meanwhile: {S2D_MAINTENANCE_DOC}"),
    "run-command": Figure(20, f"'The minimum time to run a script is about 20 seconds': {RUN_COMMAND_DOC}"),
    "run-command-limit": Figure(90 * 60, f"'The maximum time a script can run is 90 minutes': {RUN_COMMAND_DOC}"),
}


def scale(world: World) -> float:
    """Real seconds per Azure second: 0 on the instant clock (the default)."""
    return float(world.extras.get(TIMING, {}).get("scale", 0.0))


def set_scale(world: World, value: Any) -> dict[str, Any]:
    """The control API's ``PUT guest/timing``: ValueError unless ``value`` is a number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError("scale must be a number of real seconds per Azure second, 0 or more")
    world.extras[TIMING] = {"scale": float(value)}
    return describe(world)


def seconds(world: World, name: str) -> float:
    """How long ``name`` takes here, in real seconds (0 on the instant clock)."""
    return scaled(world, FIGURES[name].seconds)


def scaled(world: World, azure_seconds: float) -> float:
    """``azure_seconds`` in real seconds (0 on the instant clock)."""
    return azure_seconds * scale(world)


def now() -> float:
    """The emulator's time, in real seconds (monotonic: only differences mean anything)."""
    return time.monotonic()


def describe(world: World) -> dict[str, Any]:
    return {"scale": scale(world), "figures": {name: {"azure_seconds": f.seconds, "seconds": seconds(world, name),
                                                      "source": f.source} for name, f in FIGURES.items()}}
