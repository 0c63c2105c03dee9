"""The request journal: every ARM request the emulator served, in order, for tests and benches."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Entry:
    seq: int
    time: float
    method: str
    path: str
    query: dict[str, str]
    status: int
    principal: str | None
    body: Any
    poll: bool
    fault: str | None
    user_agent: str = ""  # which client sent it: the app's factory sends ``asr-s2d/<version> ...``

    @property
    def is_write(self) -> bool:
        return self.method in ("PUT", "PATCH", "POST", "DELETE")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = "write" if self.is_write else "read"
        return data


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._seq = 0

    def record(self, *, method: str, path: str, query: dict[str, str], status: int, principal: str | None,
               body: Any, poll: bool = False, fault: str | None = None, user_agent: str = "") -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(Entry(self._seq, time.time(), method, path, dict(query), status, principal,
                                       body, poll, fault, user_agent))

    def entries(self, since: int = 0) -> list[Entry]:
        with self._lock:
            return [e for e in self._entries if e.seq > since]

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
