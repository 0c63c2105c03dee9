"""Time as asr-s2d writes and reads it: ISO strings in records, sortable stamps in blob names, and ARM/ASR
timestamps parsed tolerantly. Pure: the clock is read only where a caller does not pass ``now``. ``Clock`` is the
one seam for waiting (a drill waiting for its test nodes' guest): ``SystemClock`` in the app, a test's own in tests.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Protocol

_FRACTION = re.compile(r"(\.\d{6})\d+")


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def utc_stamp(now: datetime | None = None) -> str:
    """A time as one blob-name segment that sorts in time order."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H-%M-%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    """An ARM/ASR timestamp (``...Z``, offsets, up to 7 fractional digits) as an aware datetime; None if unreadable."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip()).replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None or value.year < 1900:  # ASR writes 1753-01-01 for "never"
        return None
    return value


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def real_seconds(self, seconds: float) -> float:
        """How long ``seconds`` of this clock's time last on the wall (a queue message's visibility delay)."""
        ...


class SystemClock:
    """The process's clock: ``time.monotonic`` and ``time.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def real_seconds(self, seconds: float) -> float:
        return seconds
