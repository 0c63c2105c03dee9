"""ARM's per-subscription token buckets: reads 250 burst + 25/s, writes 200 burst + 10/s by default."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class ThrottleConfig:
    enabled: bool = True
    reads_capacity: float = 250.0
    reads_per_second: float = 25.0
    writes_capacity: float = 200.0
    writes_per_second: float = 10.0

    def updated(self, changes: dict[str, Any]) -> ThrottleConfig:
        allowed = set(self.__dataclass_fields__)
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown throttle settings: {sorted(unknown)}")
        return replace(self, **changes)


class Throttle:
    def __init__(self, config: ThrottleConfig | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or ThrottleConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self.rejected = 0

    def reset(self, config: ThrottleConfig | None = None) -> None:
        with self._lock:
            if config is not None:
                self.config = config
            self._buckets.clear()
            self.rejected = 0

    def take(self, subscription: str, kind: str) -> tuple[int | None, int]:
        """Spend one token. Returns (retry_after_seconds or None, tokens remaining)."""
        cfg = self.config
        capacity, rate = ((cfg.writes_capacity, cfg.writes_per_second) if kind == "writes"
                          else (cfg.reads_capacity, cfg.reads_per_second))
        if not cfg.enabled:
            return None, int(capacity)
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.get((subscription.lower(), kind), (capacity, now))
            tokens = min(capacity, tokens + (now - stamp) * rate)
            if tokens < 1:
                self._buckets[(subscription.lower(), kind)] = (tokens, now)
                self.rejected += 1
                return max(1, math.ceil((1 - tokens) / rate)), 0
            tokens -= 1
            self._buckets[(subscription.lower(), kind)] = (tokens, now)
            return None, int(tokens)
