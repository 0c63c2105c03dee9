"""Decoding ARM events from Event Grid (Event Grid schema or CloudEvents 1.0) into one frozen value.

The data block never carries tags, so an event is only ever a prompt to re-read the resource.
Anything that does not look like an ARM event raises ``RejectedInput`` with a one-line reason;
callers record it. Nothing here touches Azure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from shared import ids
from shared.config import Settings
from shared.errors import RejectedInput

MAX_EVENT_BYTES = 1_048_576  # Event Grid's own limit for one event
WRITE_EVENT = "Microsoft.Resources.ResourceWriteSuccess"
ACTION_EVENT = "Microsoft.Resources.ResourceActionSuccess"
# An action that ended badly (learn.microsoft.com/azure/event-grid/event-schema-resource-groups: ResourceActionFailure,
# ResourceActionCancel): a failover job that failed or was cancelled.
ACTION_FAILURE_EVENT = "Microsoft.Resources.ResourceActionFailure"
ACTION_CANCEL_EVENT = "Microsoft.Resources.ResourceActionCancel"
ACTION_EVENTS = (ACTION_EVENT, ACTION_FAILURE_EVENT, ACTION_CANCEL_EVENT)
_KINDS = {WRITE_EVENT: "a resource write", ACTION_EVENT: "a resource action",
          ACTION_EVENTS: "a resource action (succeeded, failed or cancelled)"}
_OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
_SUBSCRIPTION_URI = re.compile(r"/subscriptions/[0-9a-fA-F-]{36}(/.*)?", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ArmEvent:
    id: str
    event_type: str
    subject: str
    operation_name: str
    resource_uri: str
    subscription_id: str
    correlation_id: str
    caller_object_id: str
    status: str
    schema: str

    @property
    def target_uri(self) -> str:
        """The resource the event is about (a tags write names ``<resource>/providers/Microsoft.Resources/tags/default``)."""
        uri = self.resource_uri
        suffix = "/providers/microsoft.resources/tags/default"
        if uri.lower().endswith(suffix):
            uri = uri[: -len(suffix)]
        return uri


def _text(obj: dict[str, Any], key: str, where: str, *, required: bool = True, limit: int = 4096) -> str:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise RejectedInput(f"{where}.{key} is missing")
        return ""
    if not isinstance(value, str):
        raise RejectedInput(f"{where}.{key} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise RejectedInput(f"{where}.{key} is longer than {limit} characters")
    return value


def _resource_uri(value: str, where: str) -> str:
    # Resource IDs are printable ASCII; lookalike letters or control characters mean a forged ID.
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise RejectedInput(f"{where} holds characters no Azure resource ID has")
    if not _SUBSCRIPTION_URI.fullmatch(value):
        raise RejectedInput(f"{where} is not a subscription-scoped resource ID: {value[:120]}")
    _segments(value, where)
    return value


def _segments(value: str, where: str) -> None:
    # ARM never names a resource '.', '..' or '': such a path would walk to another resource once normalised.
    odd = ids.odd_segment(value)
    if odd is not None:
        raise RejectedInput(f"{where} has {odd}, which no Azure resource ID has: {value[:120]}")


def from_dict(body: Any) -> ArmEvent:
    """One event in either schema, as a JSON object."""
    if not isinstance(body, dict):
        raise RejectedInput(f"an event must be a JSON object, got {type(body).__name__}")
    if "specversion" in body:
        if body.get("specversion") != "1.0":
            raise RejectedInput(f"unsupported CloudEvents specversion {body.get('specversion')!r}")
        return _build(body, schema="CloudEvents", event_type_key="type", where="event")
    return _build(body, schema="EventGridSchema", event_type_key="eventType", where="event")


def _build(body: dict[str, Any], *, schema: str, event_type_key: str, where: str) -> ArmEvent:
    event_id = _text(body, "id", where, limit=256)
    event_type = _text(body, event_type_key, where, limit=256)
    subject = _text(body, "subject", where, required=False)
    if subject.startswith("/"):  # an ARM event's subject is its resource ID
        _segments(subject, f"{where}.subject")
    data = body.get("data")
    if not isinstance(data, dict):
        raise RejectedInput(f"event {event_id}: data must be an object, got {type(data).__name__}")
    operation = _text(data, "operationName", "data", limit=512)
    resource_uri = _resource_uri(_text(data, "resourceUri", "data"), "data.resourceUri")
    subscription = _text(data, "subscriptionId", "data", required=False, limit=64) or resource_uri.split("/")[2]
    if subscription.lower() != resource_uri.split("/")[2].lower():
        raise RejectedInput(f"event {event_id}: data.subscriptionId does not match data.resourceUri")
    return ArmEvent(id=event_id, event_type=event_type, subject=subject, operation_name=operation,
                    resource_uri=resource_uri, subscription_id=subscription,
                    correlation_id=_text(data, "correlationId", "data", required=False, limit=256),
                    caller_object_id=_caller(data), status=_text(data, "status", "data", required=False, limit=64),
                    schema=schema)


def _caller(data: dict[str, Any]) -> str:
    claims = data.get("claims")
    if isinstance(claims, dict) and isinstance(claims.get(_OID_CLAIM), str):
        return str(claims[_OID_CLAIM])
    auth = data.get("authorization")
    evidence = auth.get("evidence") if isinstance(auth, dict) else None
    if isinstance(evidence, dict) and isinstance(evidence.get("principalId"), str):
        return str(evidence["principalId"])
    return ""


def decode(raw: Any) -> ArmEvent:
    """One event as a trigger or the CLI hands it over: an ``azure.functions`` event, or a JSON object."""
    return from_dict(raw) if isinstance(raw, dict) else from_trigger(raw)


def screen(event: ArmEvent, event_type: str | tuple[str, ...], settings: Settings) -> str | None:
    """Why an event is none of asr-s2d's business before anything is read (another event type, a subscription
    outside ``ALLOWED_SUBSCRIPTION_IDS``, a write by asr-s2d's own identity), or None when it may be."""
    wanted = event_type if isinstance(event_type, tuple) else (event_type,)
    if event.event_type not in wanted:
        return f"event type {event.event_type} is not {_KINDS.get(event_type, event_type)}"
    if not settings.allows_subscription(event.subscription_id):
        return f"subscription {event.subscription_id} is not in ALLOWED_SUBSCRIPTION_IDS"
    if settings.app_principal_id and event.caller_object_id.lower() == settings.app_principal_id.lower():
        return "caused by asr-s2d's own identity"
    return None


def from_trigger(event: Any) -> ArmEvent:
    """An ``azure.functions`` EventGridEvent or CloudEvent, as the trigger's converter built it."""
    return from_dict(as_json(event))


def as_json(event: Any) -> Any:
    """An event as JSON (what a work item stores, and ``decode`` reads back): a JSON object as it is, an
    ``azure.functions`` event in its schema's shape (anything else unchanged, for ``decode`` to refuse)."""
    if isinstance(event, dict) or not hasattr(event, "get_json"):
        return event
    if hasattr(event, "specversion") or (hasattr(event, "source") and not hasattr(event, "event_type")):
        return {"specversion": getattr(event, "specversion", "1.0"), "id": event.id, "type": event.type,
                "subject": getattr(event, "subject", None), "data": event.get_json()}
    return {"id": event.id, "eventType": event.event_type, "subject": event.subject, "data": event.get_json()}


def parse_payload(text: str | bytes) -> list[Any]:
    """A file or request body: one event or an array of events. Malformed JSON raises ``RejectedInput``."""
    if len(text) > MAX_EVENT_BYTES * 64:
        raise RejectedInput("payload is larger than 64 MB")
    try:
        payload = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise RejectedInput(f"payload is not JSON: {err}") from None
    except RecursionError:  # nesting deeper than the parser's recursion limit: not an event anyway
        raise RejectedInput("payload is not JSON: nested too deeply") from None
    if isinstance(payload, list):
        return payload
    return [payload]


def event_id_of(raw: Any) -> str:
    """A best-effort ID for recording a rejected event."""
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return str(raw["id"])[:128]
    return "unknown"
