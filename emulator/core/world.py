"""The emulated world: every ARM resource as its JSON, keyed by lower-cased resource ID.

One re-entrant lock guards the whole world; handlers hold it while they read-modify-write so
concurrent requests see ARM's serialized view of a resource. An index by type keeps a list page's cost
proportional to the resources of that type, not to the whole world (ARM serves a page in constant time).
Providers keep extra state (ASR jobs, guest models) in ``extras`` under their own key, and ask ``clock`` how
long an operation takes (``emulator.core.clock``).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from emulator.core.clock import Clock


def parent_of(resource_id: str) -> str:
    parts = resource_id.rstrip("/").split("/")
    return "/".join(parts[:-2])


class World:
    def __init__(self, *, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self._resources: dict[str, dict[str, Any]] = {}
        self._by_type: dict[str, dict[str, dict[str, Any]]] = {}  # lower-cased type -> key -> resource
        self.extras: dict[str, Any] = {}

    def clear(self) -> None:
        with self.lock:
            self._resources.clear()
            self._by_type.clear()
            self.extras.clear()

    def _index(self, key: str, resource: dict[str, Any] | None) -> None:
        old = self._resources.get(key)
        if old is not None:
            self._by_type.get(str(old.get("type", "")).lower(), {}).pop(key, None)
        if resource is not None:
            self._by_type.setdefault(str(resource.get("type", "")).lower(), {})[key] = resource

    def get(self, resource_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self._resources.get(resource_id.lower().rstrip("/"))

    def copy_of(self, resource_id: str) -> dict[str, Any] | None:
        found = self.get(resource_id)
        return copy.deepcopy(found) if found is not None else None

    def put(self, resource: dict[str, Any]) -> dict[str, Any]:
        key = resource["id"].lower().rstrip("/")
        with self.lock:
            self._index(key, resource)
            self._resources[key] = resource
        return resource

    def delete(self, resource_id: str) -> dict[str, Any] | None:
        key = resource_id.lower().rstrip("/")
        with self.lock:
            self._index(key, None)
            return self._resources.pop(key, None)

    def exists(self, resource_id: str) -> bool:
        return self.get(resource_id) is not None

    def by_type(self, resource_type: str, *, scope: str = "") -> list[dict[str, Any]]:
        """Resources of one type under a scope (subscription, resource group or parent), in ID order."""
        prefix = scope.lower().rstrip("/") + "/" if scope else ""
        rtype = resource_type.lower()
        with self.lock:
            found = [r for key, r in self._by_type.get(rtype, {}).items()
                     if r.get("type", "").lower() == rtype and key.startswith(prefix)]
        return sorted(found, key=lambda r: r["id"].lower())

    def all(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._resources.values())

    def snapshot(self) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """A deep copy of every resource and every provider's extra state (see ``Emulator.checkpoint``)."""
        with self.lock:
            return copy.deepcopy((self._resources, self.extras))

    def restore(self, snapshot: tuple[dict[str, dict[str, Any]], dict[str, Any]]) -> None:
        resources, extras = copy.deepcopy(snapshot)
        with self.lock:
            self._resources.clear()
            self._resources.update(resources)
            self._by_type.clear()
            for key, resource in resources.items():
                self._by_type.setdefault(str(resource.get("type", "")).lower(), {})[key] = resource
            self.extras.clear()
            self.extras.update(extras)
