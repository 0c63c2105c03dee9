"""Failover signals: what an ARM ``ResourceActionSuccess`` event or a recovery plan's RecoveryPlanContext
says happened, as one frozen value. Pure: no I/O, no clock, no environment.

A signal is a hint, never proof (DESIGN.md, Events): it names a recovery plan or a protected item and
a kind of failover; the service re-reads Site Recovery before it changes anything. Everything here
treats its input as untrusted: a value that does not fit raises ``RejectedInput`` with a one-line
reason that names the field, and nothing from the input is ever used as more than a name to look up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shared import ids
from shared.errors import RejectedInput
from shared.events import ACTION_CANCEL_EVENT, ACTION_EVENTS, ACTION_FAILURE_EVENT, ArmEvent

log = logging.getLogger(__name__)

MAX_CONTEXT_BYTES = 65_536
MAX_VMS = 100
# Validators match whole values (``fullmatch``): ``re.match`` with ``$`` would take a trailing newline.
PLAN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


class Scenario(str, Enum):
    FAILOVER = "failover"  # unplanned or planned: the cluster now runs in the DR region
    TEST = "test-failover"  # a drill in the isolated test network
    CLEANUP = "test-failover-cleanup"  # the drill's VMs are gone: remove what the drill added
    COMMIT = "commit"  # the failover is final; the network is as the failover left it

    @property
    def is_test(self) -> bool:
        return self in (Scenario.TEST, Scenario.CLEANUP)

    @property
    def job_scenarios(self) -> tuple[str, ...]:
        """The ASR job scenarios whose success makes this signal true. A commit proves nothing new about
        the network: it is checked against the failover job it commits."""
        return {Scenario.FAILOVER: ("UnplannedFailover", "PlannedFailover"),
                Scenario.COMMIT: ("UnplannedFailover", "PlannedFailover"),
                Scenario.TEST: ("TestFailover",),
                Scenario.CLEANUP: ("TestFailoverCleanup",)}[self]


# The ARM action (last path segment before ``/action``, lower-cased) -> what it signals.
ACTIONS: dict[str, Scenario] = {
    "unplannedfailover": Scenario.FAILOVER,
    "plannedfailover": Scenario.FAILOVER,
    "testfailover": Scenario.TEST,
    "testfailovercleanup": Scenario.CLEANUP,
    "failovercommit": Scenario.COMMIT,
}
_PLAN_OPERATION = "microsoft.recoveryservices/vaults/replicationrecoveryplans"
_ITEM_OPERATION = ("microsoft.recoveryservices/vaults/replicationfabrics/replicationprotectioncontainers/"
                   "replicationprotecteditems")

# Microsoft's tables describe FailoverType's values; its samples show only "Test". Anything that is not a test is a
# failover (the IP step re-reads Site Recovery anyway): "Unplanned", "Planned", "UnplannedFailover", ...
TEST_TYPES = frozenset({"test", "testfailover"})
DIRECTIONS = ("PrimaryToSecondary", "SecondaryToPrimary")
CONTEXT_FIELDS = ("RecoveryPlanName", "FailoverType", "FailoverDirection", "GroupId", "VmMap", "VmMapAsArray")
_VM_FIELDS = ("SubscriptionId", "ResourceGroupName", "CloudServiceName", "RoleName", "RecoveryPointId",
              "RecoveryPointTime")
_VM_ID_FIELDS = frozenset(_VM_FIELDS) - {"RecoveryPointTime"}  # names or IDs of resources (the time is /Date(..)/)


@dataclass(frozen=True)
class FailoverSignal:
    id: str  # event ID, or a digest of the runbook's body, or a CLI run ID
    source: str  # "event" | "runbook" | "cli"
    scenario: Scenario
    plan_name: str | None = None  # the recovery plan named by the signal
    item_id: str | None = None  # or the protected item named by the signal
    direction: str = "PrimaryToSecondary"
    correlation_id: str = ""
    vm_names: tuple[str, ...] = ()  # RoleName of each VmMap entry (informational only)
    ended: str = "Succeeded"  # how the announced action ended: Succeeded, Failed or Cancelled (an ARM event's type)

    def describe(self) -> str:
        what = f"recovery plan {self.plan_name}" if self.plan_name else f"protected item {ids.name_of(self.item_id or '')}"
        return f"{self.scenario.value} of {what} ({self.source} {self.id})"


ENDED = {ACTION_FAILURE_EVENT: "Failed", ACTION_CANCEL_EVENT: "Cancelled"}


def from_event(event: ArmEvent, *, vault_id: str) -> FailoverSignal | str:
    """The failover an ARM event announces, or the reason it announces none (a string, to be recorded)."""
    if event.event_type not in ACTION_EVENTS:
        return f"event type {event.event_type} is not a resource action"
    ended = ENDED.get(event.event_type, "Succeeded")
    operation = event.operation_name.lower()
    parts = operation.split("/")
    if len(parts) < 4 or parts[-1] != "action":
        return f"operation {event.operation_name} is not an action"
    action, resource_type = parts[-2], "/".join(parts[:-2])
    scenario = ACTIONS.get(action)
    if scenario is None or resource_type not in (_PLAN_OPERATION, _ITEM_OPERATION):
        return (f"operation {event.operation_name} is not a failover action on a recovery plan or a protected item")
    odd = ids.odd_segment(event.resource_uri)
    if odd is not None:
        return f"{event.resource_uri[:200]} has {odd}: not a resource ID"
    uri = event.resource_uri
    if uri.lower().endswith("/" + action):  # some callers' resourceUri names the action too
        uri = uri[: -len(action) - 1]
    if not uri.lower().startswith(ids.key(vault_id) + "/"):
        return f"{uri[:200]} is not in the configured vault {ids.name_of(vault_id)}"
    segments = uri.split("/")
    lowered = [s.lower() for s in segments]
    if resource_type == _PLAN_OPERATION:
        if len(segments) != 11 or lowered[9] != "replicationrecoveryplans" or not PLAN_NAME.fullmatch(segments[10]):
            return f"{uri[:200]} is not a recovery plan ID"
        return FailoverSignal(id=event.id, source="event", scenario=scenario, plan_name=segments[10],
                              correlation_id=event.correlation_id, ended=ended)
    if len(segments) != 15 or lowered[13] != "replicationprotecteditems":
        return f"{uri[:200]} is not a protected item ID"
    return FailoverSignal(id=event.id, source="event", scenario=scenario, item_id=uri,
                          correlation_id=event.correlation_id, ended=ended)


def _fail(field: str, problem: str) -> RejectedInput:
    return RejectedInput(f"RecoveryPlanContext.{field} {problem}")


def _string(body: dict[str, Any], field: str, *, limit: int = 256) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise _fail(field, "is missing" if value is None else "must be a non-empty string")
    if len(value) > limit or not _PRINTABLE.fullmatch(value):
        raise _fail(field, f"must be at most {limit} printable ASCII characters")
    return value


def parse_recovery_plan_context(body: bytes) -> FailoverSignal:
    """The runbook's POST body -> a signal. Strict: unknown fields, wrong types, values outside ASR's
    enumerations and oversized bodies raise ``RejectedInput`` (the HTTP trigger answers 400)."""
    if len(body) > MAX_CONTEXT_BYTES:
        raise RejectedInput(f"RecoveryPlanContext is larger than {MAX_CONTEXT_BYTES} bytes")
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise RejectedInput(f"RecoveryPlanContext is not UTF-8 JSON: {str(err)[:120]}") from None
    except RecursionError:  # 64 KB of brackets nest deeper than the parser's recursion limit
        raise RejectedInput("RecoveryPlanContext is not UTF-8 JSON: nested too deeply") from None
    if not isinstance(parsed, dict):
        raise RejectedInput(f"RecoveryPlanContext must be a JSON object, got {type(parsed).__name__}")
    unknown = sorted(str(k)[:40] for k in parsed if k not in CONTEXT_FIELDS)
    if unknown:
        raise RejectedInput(f"RecoveryPlanContext has unknown field(s) {', '.join(unknown)}; "
                            f"expected {', '.join(CONTEXT_FIELDS[:5])}")
    plan = _string(parsed, "RecoveryPlanName", limit=100)
    if not PLAN_NAME.fullmatch(plan):
        raise _fail("RecoveryPlanName", "must be 1-100 letters, digits, '.', '-' or '_', starting with a letter or digit")
    failover_type = _string(parsed, "FailoverType", limit=32)
    scenario = Scenario.TEST if failover_type.strip().lower() in TEST_TYPES else Scenario.FAILOVER
    log.info("RecoveryPlanContext.FailoverType %r read as %s", failover_type, scenario.value)
    direction = _string(parsed, "FailoverDirection", limit=32)
    if direction not in DIRECTIONS:
        raise _fail("FailoverDirection", f"must be one of {', '.join(DIRECTIONS)}")
    group = parsed.get("GroupId")
    if group is not None and not (isinstance(group, int) and not isinstance(group, bool)) and not (
            isinstance(group, str) and len(group) <= 64 and _PRINTABLE.fullmatch(group)):
        raise _fail("GroupId", "must be a group number or a short name")
    if "VmMapAsArray" in parsed and not isinstance(parsed["VmMapAsArray"], (list, type(None))):
        raise _fail("VmMapAsArray", "must be an array")
    vm_names = _vm_map(parsed.get("VmMap"))
    digest = hashlib.sha256(body).hexdigest()[:24]
    return FailoverSignal(id=f"runbook-{digest}", source="runbook", scenario=scenario, plan_name=plan,
                          direction=direction, vm_names=vm_names)


def _vm_map(value: Any) -> tuple[str, ...]:
    if value is None:
        raise _fail("VmMap", "is missing")
    if not isinstance(value, dict):
        raise _fail("VmMap", "must be an object keyed by VM GUID")
    if len(value) > MAX_VMS:
        raise _fail("VmMap", f"lists more than {MAX_VMS} VMs")
    names: list[str] = []
    for key, entry in value.items():
        if not _GUID.fullmatch(str(key)):
            raise _fail("VmMap", "keys must be VM GUIDs")
        if not isinstance(entry, dict):
            raise _fail(f"VmMap[{key}]", "must be an object")
        for field, item in entry.items():
            if field in _VM_FIELDS and item is not None and not (
                    isinstance(item, str) and len(item) <= 1024 and _PRINTABLE.fullmatch(item)):
                raise _fail(f"VmMap[{key}].{field}", "must be a printable string")
            odd = ids.odd_segment(item if item.startswith("/") else f"/{item}") if field in _VM_ID_FIELDS and item else None
            if odd is not None:
                raise _fail(f"VmMap[{key}].{field}", f"has {odd}: a resource name or ID has none")
        role = entry.get("RoleName")
        if isinstance(role, str) and role:
            names.append(role)
    return tuple(names)
