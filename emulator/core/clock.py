"""Azure's clock: how long each operation takes in Azure, and when an operation started now is due.

Two clocks. ``instant`` (the default of ``python -m emulator`` and of ``Emulator()``): nothing takes time, and an
operation ends when it is first polled (or after ``lro_polls`` reads), as it always has. ``azure``: an operation
named in ``DURATIONS`` takes its Azure time divided by the time scale (``DEFAULT_TIME_SCALE`` = 60: one Azure
minute per real second), and ends once it is due, whether or not anyone polls it (``emulator.core.lro``'s ticker).

What a provider asks of it (``world.clock``, also ``req.ctx.world.clock``)::

    clock.now()                               # seconds since the epoch: the emulator's "now" (wall time)
    clock.due("run_command")                  # now() + the scaled duration: a timestamp to compare with now()
    clock.due("initial_replication", gib=1024)   # a duration per unit takes the size by the unit's name
    clock.is_due(at)                          # True on the instant clock; else now() >= at
    clock.seconds("failover")                 # real seconds on this clock (0 on the instant clock)
    clock.azure_seconds("failover")           # Azure's figure, never scaled

Timestamps stay wall time (a job that takes 9 Azure minutes shows 9 seconds between startTime and endTime at
60x), so nothing the app compares with its own clock lands in the future.

``DURATIONS`` is the one table of figures and their sources; docs/testing.md shows it between its ``clock``
markers (``make clock-table`` prints it, and a unit test holds the two equal). A figure
is ``documented`` (the source states it), an ``example`` (the source shows one run) or an ``estimate`` (derived,
or no source states one; the basis says from what).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

INSTANT = "instant"
AZURE = "azure"
MODES = (INSTANT, AZURE)
DEFAULT_TIME_SCALE = 60.0  # one Azure minute per real second
BASES = ("documented", "example", "estimate")
UNITS = {"gib": "GiB"}  # the size keyword a duration per unit takes -> how the table names the unit

_RUN_COMMAND = "https://learn.microsoft.com/azure/virtual-machines/windows/run-command"
_A2A_FAQ = "https://learn.microsoft.com/azure/site-recovery/azure-to-azure-common-questions"
_LEARN_ASR = "https://learn.microsoft.com/training/modules/protect-infrastructure-with-site-recovery/"
_REPROTECT = "https://learn.microsoft.com/azure/site-recovery/azure-to-azure-how-to-reprotect"
_S2D_MAINTAIN = "https://learn.microsoft.com/windows-server/storage/storage-spaces/maintain-servers"


@dataclass(frozen=True)
class Duration:
    """How long one kind of operation takes in Azure (per ``unit`` of size when it has one)."""

    kind: str
    what: str
    azure_seconds: float
    basis: str
    source: str
    note: str
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise ValueError(f"{self.kind}: basis must be one of {BASES}")
        if self.unit is not None and self.unit not in UNITS:
            raise ValueError(f"{self.kind}: unit must be one of {sorted(UNITS)}")

    def total(self, size: dict[str, float]) -> float:
        if self.unit is None:
            if size:
                raise ValueError(f"{self.kind} takes no size, got {sorted(size)}")
            return self.azure_seconds
        if set(size) != {self.unit}:
            raise ValueError(f"{self.kind} takes its size as {self.unit}=..., got {sorted(size) or 'none'}")
        return self.azure_seconds * max(0.0, float(size[self.unit]))


DURATIONS: dict[str, Duration] = {d.kind: d for d in (
    Duration("enable_replication", "Site Recovery job EnableDr (enable replication of one VM)", 10 * 60, "documented",
             f"{_LEARN_ASR} (MicrosoftDocs/learn learn-pr/azure/protect-infrastructure-with-site-recovery/includes/"
             "4-exercise-site-recovery-setup.md)",
             "\"can take up to 15 minutes\"; its step \"Installing Mobility Service and preparing target\" \"between "
             "five to 10 minutes\""),
    Duration("initial_replication", "initial replication (and the resync after switch protection), by the VM's "
             "largest disk: disks replicate side by side, ASR reports progress per disk", 32.0, "estimate",
             f"{_REPROTECT}; https://learn.microsoft.com/azure/virtual-machines/disks-types",
             "a disk attached to its VM is read at \"only 16% bandwidth\"; a 1 TiB Premium SSD (P30) gives 200 MB/s: "
             "32 MB/s, 32 s per GiB (9.1 h for 1 TiB). The resync after reprotect takes \"at least as long as the "
             "initial replication\"", unit="gib"),
    Duration("failover", "Site Recovery job UnplannedFailover of a recovery plan (the VMs started)", 9 * 60, "example",
             _A2A_FAQ, "a plan's RTO is its test failover's duration: \"the SAPTestRecoveryPlan test failover job took "
             "8 minutes and 59 seconds\"; failback \"about the same amount of time\""),
    Duration("test_failover", "Site Recovery job TestFailover of a recovery plan (the test VMs started)", 9 * 60,
             "example", _A2A_FAQ, "\"the SAPTestRecoveryPlan test failover job took 8 minutes and 59 seconds\""),
    Duration("test_failover_cleanup", "Site Recovery job TestFailoverCleanup (the test VMs deleted)", 3 * 60,
             "documented", f"{_LEARN_ASR} (MicrosoftDocs/learn learn-pr/azure/protect-infrastructure-with-site-recovery/"
             "includes/6-exercise-run-disaster-recovery-drill.md)", "cleanup \"can take up to three minutes\""),
    Duration("commit", "Site Recovery job CommitFailover", 60, "estimate",
             f"{_LEARN_ASR} (includes/8-exercise-failover-and-failback.md)",
             "no published figure; the exercise starts the commit job right after the failover and reads it once"),
    Duration("switch_protection", "Site Recovery job Reprotect / switch protection (SwitchReplicationGroupProtection); "
             "the resync follows as initial replication", 9 * 60 + 18, "example",
             f"{_LEARN_ASR} (MicrosoftDocs/learn learn-pr/azure/protect-infrastructure-with-site-recovery/includes/"
             "8-exercise-failover-and-failback.md)",
             "\"can take approximately 10 minutes\"; its sample job ran 10:25:49 to 10:35:07"),
    Duration("asr_job", "any other Site Recovery job (fabric, container, mapping, policy, network mapping, recovery "
             "plan, item update, disable replication)", 60, "estimate", _A2A_FAQ,
             "no published figure; these jobs create or change metadata only, no VM and no data"),
    Duration("vm_agent_ready", "the VM agent reports Ready after its VM starts (a start, restart or failover); until "
             "then Run Command is refused", 60, "estimate",
             "https://learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/windows-azure-guest-agent",
             "no published figure: the agent is a Windows service started at boot; until it reports, the instance "
             "view says Not Ready, and \"the Run Command feature doesn't work if the VM agent status is NOT READY\" "
             f"({_RUN_COMMAND})"),
    Duration("cluster_service", "the node's cluster service (ClusSvc) runs and the node joins its failover cluster, "
             "after its VM starts", 2 * 60, "estimate", _S2D_MAINTAIN,
             "no published figure: \"Start the cluster ... Give it a few minutes\"; a test failover of two VMs, "
             "their start included, \"will take less than three minutes\" "
             f"({_LEARN_ASR}, includes/6-exercise-run-disaster-recovery-drill.md)"),
    Duration("storage_resync", "Storage Spaces Direct resyncs what changed while a node was down, after the cluster "
             "service runs (virtual disks read Warning meanwhile)", 3 * 60, "estimate",
             f"{_S2D_MAINTAIN}; MicrosoftDocs/windowsserverdocs WindowsServerDocs/storage/storage-spaces/"
             "understand-storage-resync.md",
             "\"it may take many minutes to complete\"; the Get-StorageJob sample shows a Regeneration job 50% done "
             "after 00:01:19"),
    Duration("run_command", "one Run Command script (action Run Command)", 20, "documented", _RUN_COMMAND,
             "\"The minimum time to run a script is about 20 seconds\""),
    Duration("run_command_limit", "the longest a Run Command script runs: then it times out", 90 * 60, "documented",
             _RUN_COMMAND, "\"The maximum time a script can run is 90 minutes, after which it will time out\""),
)}


class Clock:
    """The emulator's clock: ``instant`` or ``azure`` at a time scale. Settings change at run time (the control
    API); readers see either the old or the new setting, never half of one. ``source`` is where ``now()`` reads
    the time: the wall clock, or a test's injected clock."""

    def __init__(self, mode: str = INSTANT, *, time_scale: float = DEFAULT_TIME_SCALE,
                 source: Callable[[], float] = time.time) -> None:
        self.source = source
        self._settings = _checked(mode, time_scale)
        self._lock = threading.Lock()

    @property
    def mode(self) -> str:
        return self._settings[0]

    @property
    def time_scale(self) -> float:
        return self._settings[1]

    @property
    def instant(self) -> bool:
        return self._settings[0] == INSTANT

    def set(self, mode: str | None = None, *, time_scale: float | None = None) -> None:
        with self._lock:
            self._settings = _checked(mode or self.mode, self.time_scale if time_scale is None else time_scale)

    def now(self) -> float:
        return self.source()

    def azure_seconds(self, kind: str, **size: float) -> float:
        """Azure's figure for ``kind`` (``size`` for a duration per unit), unscaled."""
        found = DURATIONS.get(kind)
        if found is None:
            raise KeyError(f"unknown duration {kind!r}; known: {sorted(DURATIONS)}")
        return found.total(size)

    def seconds(self, kind: str, **size: float) -> float:
        """Real seconds ``kind`` takes on this clock: 0 when instant, else Azure's figure over the time scale."""
        mode, scale = self._settings
        azure = self.azure_seconds(kind, **size)
        return 0.0 if mode == INSTANT else azure / scale

    def due(self, kind: str, **size: float) -> float:
        """When an operation of ``kind`` started now is due (a ``now()`` timestamp)."""
        return self.now() + self.seconds(kind, **size)

    def is_due(self, at: float) -> bool:
        return self.instant or self.now() >= at

    def polling_interval(self, azure_seconds: float) -> float:
        """What a client that polls every ``azure_seconds`` in Azure waits between polls here (0 when instant)."""
        mode, scale = self._settings
        return 0.0 if mode == INSTANT else azure_seconds / scale

    def to_json(self) -> dict[str, Any]:
        return {"clock": self.mode, "time_scale": self.time_scale}


def _checked(mode: str, time_scale: float) -> tuple[str, float]:
    if mode not in MODES:
        raise ValueError(f"clock must be one of {', '.join(MODES)}; got {mode!r}")
    scale = float(time_scale)
    if not math.isfinite(scale) or scale < 1:
        raise ValueError(f"time_scale must be a finite number >= 1 (Azure seconds per real second); got {time_scale!r}")
    return mode, scale


# -- the table in docs/testing.md -------------------------------------------------------------------------

def _human(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def markdown_table() -> str:
    """``DURATIONS`` as the Markdown table docs/testing.md shows between its ``clock`` markers."""
    rows = ["| kind | what | in Azure | basis | source |", "|---|---|---|---|---|"]
    for d in DURATIONS.values():
        took = f"{d.azure_seconds:g} s per {UNITS[d.unit]}" if d.unit else _human(d.azure_seconds)
        rows.append(f"| `{d.kind}` | {d.what} | {took} | {d.basis}: {d.note} | {d.source} |")
    return "\n".join(rows)
