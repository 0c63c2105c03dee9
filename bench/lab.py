"""The bench's laboratory: the emulator (ARM's throttling on) and Azurite, the app's real Runtime pointed at
them, and ARM call accounting from the emulator's request journal.

Counting rules (every figure uses them):
- only requests made by the app's principal count (the operator's writes that cause events do not);
- ``lro`` = long-running-operation traffic: status polls (``Azure-AsyncOperation``) and the final-state GET
  of a resource the app just wrote; ``reads`` = every other GET; ``writes`` = PUT/PATCH/POST/DELETE that
  succeeded; ``throttled`` = 429s (each is retried by the SDK, or redelivered); ``failed`` = other errors.
"""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator import Emulator
    from emulator.core.clock import Clock
    from emulator.core.journal import Entry
    from shared.runtime import Runtime

STARTED = time.monotonic()


def progress(text: str) -> None:
    """One progress line on stderr, stamped with the time since the bench started."""
    print(f"[{time.monotonic() - STARTED:6.1f}s] {text}", file=sys.stderr, flush=True)


# -- what a write was --------------------------------------------------------------------------------------

_KINDS: tuple[tuple[str, str, str], ...] = (
    # (method or *, path fragment, kind); first match wins, so the more specific come first
    ("POST", "/runcommand", "Run Command"),
    ("PUT", "/replicationprotecteditems/", "enable replication (protected item PUT)"),
    ("PATCH", "/replicationprotecteditems/", "DR pool mapping (protected item PATCH)"),
    ("POST", "/replicationrecoveryplans/", "recovery plan action"),
    ("*", "/replicationrecoveryplans/", "recovery plan"),
    ("*", "/replicationprotectioncontainermappings/", "container mapping"),
    ("*", "/replicationnetworkmappings/", "network mapping"),
    ("*", "/replicationprotecteditems/", "protected item action"),
    ("*", "/replicationprotectioncontainers/", "protection container"),
    ("*", "/replicationpolicies/", "replication policy"),
    ("*", "/replicationfabrics/", "replication fabric"),
    ("*", "/loadbalancers/", "load balancer"),
    ("*", "/availabilitysets/", "recovery availability set"),
    ("*", "/networkinterfaces/", "network interface"),
    ("*", "/virtualmachines/", "virtual machine"),
)
SHARED_PLUMBING = frozenset({"replication fabric", "protection container", "replication policy", "container mapping",
                             "network mapping"})


def write_kind(method: str, path: str) -> str:
    lowered = path.lower()
    for kind_method, fragment, kind in _KINDS:
        if kind_method in ("*", method) and fragment in lowered:
            return kind
    return f"{method} {'/'.join(path.split('/')[-2:])}"


def write_label(method: str, path: str) -> str:
    """``enable replication (protected item PUT) 7a81db2a-...`` — the kind and the resource's name."""
    parts = [p for p in path.split("/") if p]
    name = parts[-1]
    if method == "POST" and len(parts) >= 2:  # an action: name the resource it acts on
        name = f"{parts[-2]}/{parts[-1]}"
    return f"{write_kind(method, path)} {name}"


# -- counting ----------------------------------------------------------------------------------------------

@dataclass
class Calls:
    reads: int = 0
    writes: int = 0
    lro: int = 0
    throttled: int = 0
    failed: int = 0
    write_labels: list[str] = field(default_factory=list)

    @property
    def by_kind(self) -> dict[str, int]:
        kinds = Counter(label.rsplit(" ", 1)[0] for label in self.write_labels)
        return dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))

    def count(self, kind: str) -> int:
        return self.by_kind.get(kind, 0)

    def to_json(self) -> dict[str, Any]:
        return {"reads": self.reads, "writes": self.writes, "lro_polls": self.lro, "throttled_429": self.throttled,
                "failed": self.failed, "writes_by_kind": self.by_kind}


def tally(entries: Iterable[Entry]) -> Calls:
    """Classify journal entries (already filtered to one principal) by the counting rules above."""
    calls = Calls()
    awaiting_final: Counter[str] = Counter()
    for entry in entries:
        path = entry.path.lower()
        if entry.status == 429:
            calls.throttled += 1
        elif entry.is_write:
            if 0 < entry.status < 400:
                calls.writes += 1
                calls.write_labels.append(write_label(entry.method, entry.path))
                if entry.method in ("PUT", "PATCH"):
                    awaiting_final[path] += 1
            else:
                calls.failed += 1
        elif entry.poll or "/replicationoperationstatus/" in path:
            calls.lro += 1
        elif awaiting_final[path] and entry.status < 400:
            awaiting_final[path] -= 1
            calls.lro += 1
        elif entry.status == 0 or entry.status >= 500:
            calls.failed += 1
        else:
            calls.reads += 1  # a 404 is an answer too ("not there yet"), and ARM charges it
    return calls


# -- the lab -----------------------------------------------------------------------------------------------

class Lab:
    """One emulator and one Azurite; ``fresh()`` resets the world between figures."""

    def __init__(self, emu: Emulator, azurite_connection_string: str) -> None:
        self.emu = emu
        self.azurite_connection_string = azurite_connection_string

    @classmethod
    @contextlib.contextmanager
    def started(cls, clock: Clock | None = None) -> Iterator[Lab]:
        """The lab on ``clock`` (``emulator.core.clock``; the instant one when None)."""
        from emulator import Emulator
        from emulator.azurite import Azurite
        from emulator.clients import managed_identity
        from emulator.core.throttle import ThrottleConfig

        emu = Emulator(throttle=ThrottleConfig(), clock=clock)
        emu.start()
        azurite = Azurite.start()
        try:
            with managed_identity(emu):
                yield cls(emu, azurite.connection_string)
        finally:
            emu.stop()
            azurite.stop()

    def fresh(self, seed: str = "demo") -> dict[str, Any]:
        """An empty emulator seeded with ``seed``; ARM's throttling, paging (100), no extra LRO reads (on the instant
        clock an operation ends on its first poll; on Azure's, when its time has come)."""
        from emulator.core.throttle import ThrottleConfig

        emu = self.emu
        emu.reset()
        emu.page_size = 100
        emu.lro.default_polls = 0
        emu.throttle.reset(ThrottleConfig())
        return emu.seed(seed)

    def env(self, world: dict[str, Any], **changes: str) -> dict[str, str]:
        from emulator.settings import app_env

        values = app_env(self.emu, world, azurite_connection_string=self.azurite_connection_string)
        values["STATE_CONTAINER"] = f"bench{uuid.uuid4().hex[:16]}"
        values["WORK_QUEUE"] = f"bench{uuid.uuid4().hex[:16]}"
        return {**values, **changes}

    def runtime(self, world: dict[str, Any], **changes: str) -> Runtime:
        """The app's real Runtime (own clients, own state container, own work queue, created as Bicep creates it in
        Azure) for this world; its waits and queue delays are Azure time on the emulator's clock (``AzureTime``)."""
        import dataclasses

        from emulator.clients import AzureTime
        from shared.azure.clients import Clients
        from shared.config import Settings
        from shared.runtime import Runtime

        settings = Settings.from_env(self.env(world, **changes))
        rt = dataclasses.replace(Runtime.build(settings, clients=Clients(settings)), clock=AzureTime(self.emu))
        rt.queue.ensure()
        return rt

    @contextlib.contextmanager
    def time_scale(self, scale: float) -> Iterator[None]:
        """The emulator's Azure clock at ``scale`` for a while (the queue's whole-second delays against Azure's
        minutes: a figure measured in Azure seconds picks its scale), then as it was."""
        clock = self.emu.world.clock
        mode, before = clock.mode, clock.time_scale
        self.emu.set_clock("azure", time_scale=scale)
        try:
            yield
        finally:
            self.emu.set_clock(mode, time_scale=before)

    def operator_client(self, client_cls: type, subscription_id: str) -> Any:
        """A management SDK client acting as a person (their writes cause the events the app handles)."""
        from emulator.clients import OperatorCredential, sdk_client

        return sdk_client(self.emu, client_cls, OperatorCredential(), subscription_id)

    @contextlib.contextmanager
    def unthrottled(self) -> Iterator[None]:
        """Setup traffic (the operator's tag writes) spends no token: the figure starts with full buckets."""
        from emulator.core.throttle import ThrottleConfig

        self.emu.throttle.reset(ThrottleConfig(enabled=False))
        try:
            yield
        finally:
            self.emu.throttle.reset(ThrottleConfig())

    def mark(self) -> int:
        return self.emu.journal.last_seq

    def app_calls(self, since: int) -> Calls:
        from emulator.core.identity import APP_PRINCIPAL_ID

        return tally(e for e in self.emu.journal.entries(since=since) if e.principal == APP_PRINCIPAL_ID)
