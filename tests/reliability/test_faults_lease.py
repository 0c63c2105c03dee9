"""The cluster lease lost mid-way: while the app waits on one ARM call (held by an injected latency), a second
instance breaks the lease on the cluster's lock blob with the Storage SDK. The lock's renewal fails, the app
writes nothing more, records the loss and raises; Event Grid's redelivery converges to the clean end state."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from azure.storage.blob import BlobClient, BlobLeaseClient

from emulator.core.faults import FaultRule
from shared.outcomes import Outcome
from tests.reliability import figures
from tests.reliability.matrix import LEASE, Case, check_outcome
from tests.reliability.story import Story

HOLD_MS = 6500  # longer than the lease's renewal period (LOCK_LEASE_SECONDS=15 -> a renewal every 5 s)


def break_lease(story: Story) -> None:
    """What another instance can do to a lock it believes stale (``az storage blob lease break``)."""
    blob = BlobClient.from_connection_string(story.azurite, story.runtime.settings.state_container, story.lock_blob())
    BlobLeaseClient(blob).break_lease(lease_break_period=0)


@pytest.mark.parametrize("case", LEASE, ids=lambda c: c.id)
def test_a_lost_lease_stops_the_writes_and_redelivery_converges(story: Story, case: Case) -> None:
    phase = case.site.phase
    clean = story.clean(phase)
    events = story.begin(phase)
    since = story.emu.journal.last_seq
    hold = story.emu.faults.add(FaultRule(action="latency", latency_ms=HOLD_MS, method=case.site.method,
                                          path=case.site.pattern, count=1))
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(outcome=story.deliver(events[0])), daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while hold.hits == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hold.hits == 1, f"{case.site.id} was never called"
    break_lease(story)
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert result["outcome"] is None, f"the delivery did not raise: {result['outcome']}"

    held = next(e for e in story.emu.journal.entries(since=since) if e.fault == "latency")
    after = [e for e in story.app_writes(held.seq) if e.status < 400]
    assert after == [], f"writes after the lease was lost: {[(e.method, e.path) for e in after]}"

    mechanism = story.converge(phase, events, clean)
    check_outcome(story, case, clean, mechanism, since)
    figures.count("lease_losses")


def test_a_held_lock_is_waited_for_then_redelivered(story: Story) -> None:
    """Another instance holds the cluster's lease for longer than the app waits: a transient failure that names
    the lock; once released, the redelivered event converges."""
    clean = story.clean("enroll")
    events = story.begin("enroll")
    story.runtime.lock_wait_seconds = 0.5
    blob = BlobClient.from_connection_string(story.azurite, story.runtime.settings.state_container, story.lock_blob())
    story.runtime.blobs.acquire_lease(story.lock_blob(), 15)  # creates the blob; the runtime's own lease
    BlobLeaseClient(blob).break_lease(lease_break_period=0)
    other = BlobLeaseClient(blob)
    other.acquire(lease_duration=15)
    outcomes: list[Outcome | None] = [story.deliver(e) for e in events]
    assert outcomes == [None, None]
    reasons = [r["reason"] for r in story.records() if r["outcome"] == "failed"]
    assert reasons and all("held by another instance" in r for r in reasons), reasons
    other.release()
    assert story.converge("enroll", events, clean) == "first delivery"
