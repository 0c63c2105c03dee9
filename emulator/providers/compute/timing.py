"""How long a VM and its guest take, as the compute provider reads it from the emulator's clock.

The figures and their sources are rows of ``emulator.core.clock.DURATIONS`` (``vm_agent_ready``,
``cluster_service``, ``storage_resync``, ``run_command``, ``run_command_limit``); this module only names what the
guest model asks for and reads ``world.clock``. On the instant clock (the default of ``python -m emulator``) every
figure reads as zero: a VM's agent is Ready the moment the VM boots, a Run Command ends on its first poll and a
failed-over cluster has settled at once. On Azure's clock (``--clock azure``, ``PUT /_emulator/config``) each takes
Azure's time over the time scale.
"""

from __future__ import annotations

from emulator.core.clock import DURATIONS
from emulator.core.world import World

# What the guest model waits for -> the clock's duration kind. Each counts from the VM's start, but the resync,
# which counts from the cluster service running.
KINDS = {
    "agent-ready": "vm_agent_ready",
    "cluster-service": "cluster_service",
    "storage-resync": "storage_resync",
    "run-command": "run_command",
    "run-command-limit": "run_command_limit",
}


def instant(world: World) -> bool:
    return bool(world.clock.instant)


def seconds(world: World, name: str) -> float:
    """How long ``name`` takes here, in real seconds (0 on the instant clock)."""
    return float(world.clock.seconds(KINDS[name]))


def azure_seconds(name: str) -> float:
    """Azure's figure for ``name``, unscaled."""
    return float(DURATIONS[KINDS[name]].azure_seconds)


def scaled(world: World, azure: float) -> float:
    """``azure`` seconds of Azure time in real seconds on this clock (0 on the instant clock)."""
    return float(world.clock.polling_interval(azure))


def now(world: World) -> float:
    """The emulator's time (``world.clock.now()``: wall time, or a test's injected clock)."""
    return float(world.clock.now())
