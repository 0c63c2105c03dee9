"""Fault injection by method + path pattern, by count or by seeded probability.

``skip`` lets the first N matching requests through untouched, so ``skip=N-1, count=1`` fails
exactly the Nth matching request (a crash at one step of a longer sequence).

Actions: ``status`` (an ARM error with that status; 429 carries ``Retry-After``), ``reset`` (the
connection is dropped with no answer), ``latency`` (the answer is delayed, then served) and
``lro_fail`` (the long-running operation this request starts ends ``Failed``).
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

ACTIONS = frozenset({"status", "reset", "latency", "lro_fail"})
_DEFAULT_CODES = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
                  503: "ServiceUnavailable", 504: "GatewayTimeout", 409: "Conflict"}


@dataclass
class FaultRule:
    action: str
    method: str = "*"
    path: str = ".*"
    status: int = 500
    code: str | None = None
    message: str = "Injected fault."
    retry_after: int = 0
    latency_ms: int = 0
    count: int | None = None
    skip: int = 0
    probability: float | None = None
    seed: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    hits: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"fault action must be one of {sorted(ACTIONS)}, got {self.action!r}")
        if self.probability is not None and not 0 <= self.probability <= 1:
            raise ValueError("fault probability must be between 0 and 1")
        if self.count is not None and self.count < 1:
            raise ValueError("fault count must be at least 1")
        if self.skip < 0:
            raise ValueError("fault skip must not be negative")
        self._pattern = re.compile(self.path, re.IGNORECASE)
        self._rng = random.Random(self.seed)
        self.method = self.method.upper()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and not k.startswith("_")}
        fields.pop("hits", None)
        return cls(**fields)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if not k.startswith("_")}

    @property
    def error_code(self) -> str:
        return self.code or _DEFAULT_CODES.get(self.status, "InjectedFault")

    def applies(self, method: str, path: str) -> bool:
        if self.method not in ("*", method) or not self._pattern.search(path):
            return False
        return self.probability is None or self._rng.random() < self.probability


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self.injected: dict[str, int] = {}

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.injected.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def _take(self, method: str, path: str, actions: frozenset[str]) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.action in actions and rule.applies(method, path):
                    if rule.skip > 0:
                        rule.skip -= 1
                        continue
                    rule.hits += 1
                    self.injected[rule.action] = self.injected.get(rule.action, 0) + 1
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count == 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def on_request(self, method: str, path: str) -> FaultRule | None:
        """The fault to apply before serving this request (status, reset or latency), if any."""
        return self._take(method, path, frozenset({"status", "reset", "latency"}))

    def lro_failure(self, method: str, path: str) -> dict[str, Any] | None:
        rule = self._take(method, path, frozenset({"lro_fail"}))
        if rule is None:
            return None
        return {"code": rule.code or "OperationFailed", "message": rule.message}
