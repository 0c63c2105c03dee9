"""The Event Grid events ARM publishes to a subscription's system topic, as Azure shapes them.

Subscribers are registered through the control API: ``pull`` subscribers queue their events until
drained (tests and the demo feed them to the function), ``webhook`` subscribers get them POSTed to a
loopback URL, ``sink`` subscribers are in-process callables. Each subscriber picks the schema
(``EventGridSchema`` or ``CloudEventSchemaV1_0``), an optional filter on operation names, and
optional duplication and (seeded) reordering, as Event Grid's at-least-once, unordered delivery does.
"""

from __future__ import annotations

import ipaddress
import json
import random
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.core.identity import Principal
from emulator.core.lro import utcnow_iso

SCHEMAS = frozenset({"EventGridSchema", "CloudEventSchemaV1_0"})

# When ARM publishes ``ResourceActionSuccess`` for an asynchronous action (a Site Recovery failover, say): Event Grid's
# schema page (learn.microsoft.com/azure/event-grid/event-schema-resource-groups) lists the event without saying
# whether it is raised when the action is accepted or when its job completes, so the emulator can do either, or both
# (the app must be right under every timing). ``completed``, the default, is what the emulator always did. An action
# whose job fails or is cancelled is announced as ``ResourceActionFailure`` / ``ResourceActionCancel`` (same page)
# when it ends, whatever the timing.
COMPLETED, ACCEPTED, BOTH = "completed", "accepted", "both"
ACTION_EVENT_TIMINGS = (COMPLETED, ACCEPTED, BOTH)


def checked_timing(value: object) -> str:
    if value not in ACTION_EVENT_TIMINGS:
        raise ValueError(f"action_events must be one of {', '.join(ACTION_EVENT_TIMINGS)}; got {value!r}")
    return str(value)
_OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


@dataclass(frozen=True)
class ArmEvent:
    """One ARM event before it is rendered in a delivery schema."""

    event_type: str
    operation_name: str
    resource_uri: str
    subscription_id: str
    principal: Principal | None
    correlation_id: str
    http_method: str
    url: str
    status: str = "Succeeded"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(default_factory=utcnow_iso)

    def data(self) -> dict[str, Any]:
        provider = self.operation_name.split("/")[0]
        principal = self.principal
        oid = principal.object_id if principal else ""
        claims: dict[str, Any] = {
            "aud": "https://management.core.windows.net/",
            "iss": f"https://sts.windows.net/{principal.tenant_id if principal else ''}/",
            "iat": "1700000000", "nbf": "1700000000", "exp": "1700003600",
            "appid": principal.app_id if principal else "",
            "appidacr": "2",
            _OID_CLAIM: oid,
            "http://schemas.microsoft.com/identity/claims/tenantid": principal.tenant_id if principal else "",
            "ver": "1.0",
        }
        return {
            "authorization": {
                "scope": self.resource_uri,
                "action": self.operation_name,
                "evidence": {
                    "role": "asr-s2d operator" if principal and principal.kind == "ServicePrincipal" else "Owner",
                    "roleAssignmentScope": f"/subscriptions/{self.subscription_id}",
                    "roleAssignmentId": "0f3b3e4a9d2c4b7a8e1f6c5d4b3a2918",
                    "roleDefinitionId": "8e3af657a8ff443ca75c2fe8c4bcb635",
                    "principalId": oid,
                    "principalType": principal.kind if principal else "ServicePrincipal",
                },
            },
            "claims": claims,
            "correlationId": self.correlation_id,
            "httpRequest": {
                "clientRequestId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.id)),
                "clientIpAddress": "127.0.0.1",
                "method": self.http_method,
                "url": self.url,
            },
            "resourceProvider": provider,
            "resourceUri": self.resource_uri,
            "operationName": self.operation_name,
            "status": self.status,
            "subscriptionId": self.subscription_id,
            "tenantId": principal.tenant_id if principal else "",
        }

    def render(self, schema: str) -> dict[str, Any]:
        topic = f"/subscriptions/{self.subscription_id}"
        if schema == "CloudEventSchemaV1_0":
            return {"specversion": "1.0", "type": self.event_type, "source": topic, "subject": self.resource_uri,
                    "id": self.id, "time": self.time, "datacontenttype": "application/json", "data": self.data()}
        return {"id": self.id, "topic": topic, "subject": self.resource_uri, "eventType": self.event_type,
                "eventTime": self.time, "data": self.data(), "dataVersion": "", "metadataVersion": "1"}


@dataclass
class Subscriber:
    mode: str  # pull | webhook | sink
    schema: str = "EventGridSchema"
    endpoint: str | None = None
    sink: Callable[[dict[str, Any]], None] | None = None
    operation_names: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    duplicate: int = 1
    reorder: bool = False
    seed: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    queue: list[dict[str, Any]] = field(default_factory=list)
    delivered: int = 0
    failed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("pull", "webhook", "sink"):
            raise ValueError("subscriber mode must be pull, webhook or sink")
        if self.schema not in SCHEMAS:
            raise ValueError(f"schema must be one of {sorted(SCHEMAS)}")
        if self.mode == "webhook":
            host = urllib.parse.urlsplit(self.endpoint or "").hostname or ""
            if host != "localhost" and not _is_loopback(host):
                raise ValueError("webhook endpoints must be on the loopback interface")
        if self.mode == "sink" and self.sink is None:
            raise ValueError("a sink subscriber needs a callable")
        if not 1 <= self.duplicate <= 10:
            raise ValueError("duplicate must be between 1 and 10")
        self._rng = random.Random(self.seed)

    def wants(self, event: ArmEvent) -> bool:
        if self.event_types and event.event_type not in self.event_types:
            return False
        return not self.operation_names or event.operation_name.lower() in {n.lower() for n in self.operation_names}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "mode": self.mode, "schema": self.schema, "endpoint": self.endpoint,
                "operation_names": list(self.operation_names), "event_types": list(self.event_types),
                "duplicate": self.duplicate, "reorder": self.reorder, "queued": len(self.queue),
                "delivered": self.delivered, "failed": self.failed}


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EventBus:
    def __init__(self, ca_bundle: Callable[[], str | None], *, action_events: str = COMPLETED) -> None:
        self.action_events = checked_timing(action_events)  # when an asynchronous action's success is announced
        self._lock = threading.Lock()
        self._subscribers: dict[str, Subscriber] = {}
        self._ca_bundle = ca_bundle
        self.published: list[ArmEvent] = []

    def subscribe(self, subscriber: Subscriber) -> Subscriber:
        with self._lock:
            self._subscribers[subscriber.id] = subscriber
        return subscriber

    def clear(self) -> None:
        with self._lock:
            self._subscribers.clear()
            self.published.clear()

    def subscribers(self) -> list[Subscriber]:
        with self._lock:
            return list(self._subscribers.values())

    def publish(self, event: ArmEvent) -> None:
        with self._lock:
            self.published.append(event)
            targets = [s for s in self._subscribers.values() if s.wants(event)]
            for sub in targets:
                rendered = [event.render(sub.schema) for _ in range(sub.duplicate)]
                if sub.mode == "pull":
                    sub.queue.extend(rendered)
                else:
                    for item in rendered:
                        threading.Thread(target=self._push, args=(sub, item), daemon=True).start()

    def drain(self, subscriber_id: str) -> list[dict[str, Any]]:
        with self._lock:
            sub = self._subscribers.get(subscriber_id)
            if sub is None:
                raise KeyError(subscriber_id)
            events, sub.queue = sub.queue, []
            if sub.reorder:
                sub._rng.shuffle(events)
            sub.delivered += len(events)
            return events

    def _push(self, sub: Subscriber, item: dict[str, Any]) -> None:
        try:
            if sub.mode == "sink":
                assert sub.sink is not None
                sub.sink(item)
            else:
                _post_json(sub.endpoint or "", [item] if sub.schema == "EventGridSchema" else item, self._ca_bundle())
            with self._lock:
                sub.delivered += 1
        except Exception:  # noqa: BLE001 - a failing subscriber must not break the emulator
            with self._lock:
                sub.failed += 1


def _post_json(url: str, payload: Any, ca_bundle: str | None) -> None:
    import ssl
    import urllib.request

    context = ssl.create_default_context(cafile=ca_bundle) if url.startswith("https") and ca_bundle else None
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "aeg-event-type": "Notification"})
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        response.read()
