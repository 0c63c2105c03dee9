"""The reliability suite's world: the demo story cut into phases, the ARM call sites the app makes in each,
and the protocol that proves a faulted run converges to the clean run's end state.

Phases, in story order (each one's events come from what the operator or Site Recovery really did):

- ``enroll``: the operator tags both nodes; the two tag events reach the VM-tags function;
- ``test-failover``: the enrolled, Protected cluster's recovery plan is test-failed over; the action event
  reaches the failover function (test load balancer, NICs into its pool, the in-guest step);
- ``cleanup``: the test failover is cleaned up; the failover function removes its test load balancer;
- ``failover``: an unplanned failover of the recovery plan; the failover function re-addresses the cluster.

A phase starts from a checkpoint of the emulated world taken once per process (enrolled and Protected,
or after the drill), so a case costs only its own phase. The app runs with ``ARM_RETRY_TOTAL=0``: every
injected fault reaches the app's own error handling instead of being absorbed by azure-core's retries.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator import Emulator, clients, endstate
from emulator.core.events import Subscriber
from emulator.core.faults import FaultRule
from emulator.core.identity import APP_PRINCIPAL_ID
from emulator.core.throttle import ThrottleConfig
from emulator.settings import app_env
from shared.audit import service as audit
from shared.azure.clients import Clients
from shared.config import Settings
from shared.enrollment import service as enrollment
from shared.errors import TransientError
from shared.failover import service as failover
from shared.outcomes import Outcome
from shared.runtime import Runtime
from shared.state import ENROLLMENTS, blob_key
from tests.work import runbook

PHASES = ("enroll", "test-failover", "cleanup", "failover")
CLUSTER = "s2dclu01"
PLAN = f"asr-s2d-{CLUSTER}"
CLUSTER_TAGS = {"asr-s2d": "true", "asr-s2d-cluster": CLUSTER}
ACTION = "Microsoft.Resources.ResourceActionSuccess"
# The operator fails the group over from its common point (the portal's multi-VM consistent choice).
A2A_LATEST = [{"instanceType": "A2A", "recoveryPointType": "Latest", "multiVmSyncPointOption": "UseMultiVmSyncRecoveryPoint"}]
CALL_SITES_FILE = Path(__file__).with_name("call_sites.json")
SUCCESS = ("enabled", "unchanged", "changed", "reassigned")
# What a case's app settings change: faults reach the app; the audit may repair and re-address (the backstop);
# the shortest lease (renewed every 5 s) for the lease-loss cases.
CASE_SETTINGS = {"ARM_RETRY_TOTAL": "0", "AUDIT_REPAIR": "true", "AUDIT_REASSIGN_IP": "true", "LOCK_LEASE_SECONDS": "15"}


# -- call sites ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CallSite:
    """One distinct (method, path template) the app's identity calls in one phase."""

    phase: str
    method: str
    template: str
    kind: str  # read | poll | write | lro-write

    @property
    def id(self) -> str:
        short = re.sub(r"^/subscriptions/\{subscriptionId\}(/resourceGroups/\{resourceGroupName\})?(/providers)?", "",
                       self.template)
        short = short.replace("/Microsoft.RecoveryServices/vaults/{resourceName}", "/vault")
        return f"{self.phase}:{self.method}:{short}"

    @property
    def pattern(self) -> str:
        """A fault rule's path regex matching exactly this template (names become one segment each)."""
        parts, pos = [], 0
        for match in re.finditer(r"\{[^}]+\}", self.template):
            parts.append(re.escape(self.template[pos:match.start()]))
            parts.append("[^/]+")
            pos = match.end()
        parts.append(re.escape(self.template[pos:]))
        return "^" + "".join(parts) + "/?$"

    @property
    def is_write(self) -> bool:
        return self.kind in ("write", "lro-write")

    @property
    def is_asr(self) -> bool:
        return "Microsoft.RecoveryServices" in self.template

    def to_json(self) -> dict[str, str]:
        return {"phase": self.phase, "method": self.method, "template": self.template, "kind": self.kind}


@dataclass(frozen=True)
class WriteStep:
    """The n-th write the app makes in a phase of the clean run: its call site and which occurrence of it."""

    site: CallSite
    occurrence: int  # 0 = the first write to this (method, template) in the phase
    step: int  # 1-based position among the phase's writes

    @property
    def id(self) -> str:
        return f"{self.site.phase}:write-{self.step}:{self.site.method}:{self.site.template.rsplit('/', 2)[-2]}"


def load_call_sites() -> tuple[list[CallSite], list[WriteStep]]:
    """The committed list (``call_sites.json``): the parametrization must be known when tests are collected.
    ``test_call_sites.py`` re-derives it from a clean run and fails when they differ."""
    data = json.loads(CALL_SITES_FILE.read_text())
    sites = [CallSite(**s) for s in data["sites"]]
    by_key = {(s.phase, s.method, s.template): s for s in sites}
    writes = [WriteStep(by_key[(w["phase"], w["method"], w["template"])], w["occurrence"], w["step"])
              for w in data["writes"]]
    return sites, writes


def derive_call_sites(emu: Emulator, phases: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """From the journal of a clean run: every (phase, method, route template) the app's identity called, and
    each phase's writes in order. ``phases`` maps a phase to its (first, last) journal sequence numbers."""
    sites: dict[tuple[str, str, str], dict[str, str]] = {}
    writes: list[dict[str, Any]] = []
    for phase, (first, last) in phases.items():
        seen: dict[tuple[str, str], int] = {}
        for entry in emu.journal.entries(since=first - 1):
            if entry.seq > last:
                break
            if entry.principal != APP_PRINCIPAL_ID:
                continue
            template = emu.router.match(entry.method, entry.path)[0].template
            if entry.is_write:
                kind = "lro-write" if entry.status in (201, 202) else "write"
            else:
                kind = "poll" if entry.poll or "/replicationOperationStatus/" in template else "read"
            sites.setdefault((phase, entry.method, template), {"phase": phase, "method": entry.method,
                                                                "template": template, "kind": kind})
            if entry.is_write:
                occurrence = seen.get((entry.method, template), 0)
                seen[(entry.method, template)] = occurrence + 1
                writes.append({"phase": phase, "method": entry.method, "template": template,
                               "occurrence": occurrence, "step": sum(1 for w in writes if w["phase"] == phase) + 1})
    return {"sites": list(sites.values()), "writes": writes}


# -- faults --------------------------------------------------------------------------------------------

# Each kind: the fault rule's settings, and what the failed outcome's reason names.
FAULT_KINDS: dict[str, tuple[dict[str, Any], str]] = {
    "429": ({"action": "status", "status": 429, "retry_after": 1}, "TooManyRequests"),
    "500": ({"action": "status", "status": 500}, "InternalServerError"),
    "503": ({"action": "status", "status": 503, "retry_after": 1}, "ServiceUnavailable"),
    "reset": ({"action": "reset"}, "connection failed"),
    "lro_fail": ({"action": "lro_fail", "code": "OperationFailed", "message": "Injected: the operation failed."},
                 "OperationFailed"),
    "crash": ({"action": "status", "status": 400, "code": "InjectedCrash", "message": "Injected: a permanent failure."},
              "InjectedCrash"),
}
TRANSIENT_KINDS = ("429", "500", "503", "reset", "lease")


def fault_rule(kind: str, site: CallSite, *, skip: int = 0) -> FaultRule:
    settings, _ = FAULT_KINDS[kind]
    return FaultRule(method=site.method, path=site.pattern, count=1, skip=skip, **settings)


def signature(kind: str) -> str:
    return "lost the lease" if kind == "lease" else FAULT_KINDS[kind][1]


# -- the story -----------------------------------------------------------------------------------------

_CHECKPOINTS: dict[tuple[int, str], Any] = {}
_CLEAN: dict[tuple[int, str], dict[str, Any]] = {}


class Story:
    """One case's world, the operator's clients, a pull subscriber on the events, and the app's runtime on a
    fresh state container. ``begin(phase)`` brings the world to the phase and does the phase's operator
    action; ``converge`` delivers its events and applies the backstops until the end state settles."""

    def __init__(self, emu: Emulator, azurite_connection_string: str, operator_sdk: Callable[..., Any],
                 **settings: str) -> None:
        self.emu, self.azurite = emu, azurite_connection_string
        self.operator_sdk = operator_sdk
        self.settings_changes = {**CASE_SETTINGS, **settings}
        self.rt: Runtime | None = None
        self.world: dict[str, Any] = {}
        self.subscriber = ""
        self.others: list[dict[str, Any]] = []

    # -- setup ---------------------------------------------------------------------------------------
    def _runtime(self) -> Runtime:
        env = app_env(self.emu, self.world, azurite_connection_string=self.azurite)
        env.update(self.settings_changes)
        env["STATE_CONTAINER"] = f"r{uuid.uuid4().hex[:20]}"
        env["WORK_QUEUE"] = f"r{uuid.uuid4().hex[:20]}"  # its own work queue, as its own state container
        settings = Settings.from_env(env)
        return Runtime.build(settings, clients=Clients(settings))

    def _fresh(self, world: dict[str, Any] | None = None) -> None:
        """A new runtime (fresh state container) and subscriber on the world as it is now."""
        self.emu.throttle.reset(ThrottleConfig(enabled=False))  # wall-clock throttling is not under test here
        self.world = world or self.emu.seeded
        self.rt = self._runtime()
        self.subscriber = self.emu.events.subscribe(Subscriber(mode="pull")).id

    @property
    def runtime(self) -> Runtime:
        assert self.rt is not None
        return self.rt

    def begin_world(self) -> dict[str, Any]:
        """The demo world as seeded (nothing tagged), with a fresh runtime."""
        self.emu.reset()
        self._fresh(self.emu.seed("demo"))
        return self.world

    def restore(self, checkpoint: str) -> None:
        """The world of a checkpoint (``protected``: enrolled and Protected; ``cleanup``: after a drill's test
        failover), with a fresh runtime and subscriber. The app's enrollment records are part of that world: they
        are copied into the fresh state container."""
        world, records = self._checkpoint(checkpoint)
        self.emu.restore(world)
        self._fresh()
        for name, body in records.items():
            self.runtime.blobs.put_json(name, body)

    def begin(self, phase: str) -> list[dict[str, Any]]:
        """The world just before the phase's events are delivered; returns those events."""
        if phase == "enroll":
            self.begin_world()
            return self.tag_nodes()
        self.restore("cleanup" if phase == "cleanup" else "protected")
        if phase == "test-failover":
            return self.test_failover()
        if phase == "cleanup":
            return self.cleanup()
        return self.failover()

    def _checkpoint(self, name: str) -> Any:
        key = (id(self.emu), name)
        if key not in _CHECKPOINTS:
            if name == "protected":
                self.deliver_all(self.begin("enroll"))
                self.time_passes()
            else:
                self.restore("protected")
                self.deliver_all(self.test_failover())
                self.time_passes()
            self.emu.events.clear()
            blobs = self.runtime.blobs
            records = {name: doc.body for name in blobs.list_names(ENROLLMENTS) if (doc := blobs.get_json(name))}
            _CHECKPOINTS[key] = (self.emu.checkpoint(), records)
        return _CHECKPOINTS[key]

    # -- operator actions ------------------------------------------------------------------------------
    def drain(self) -> list[dict[str, Any]]:
        return self.emu.events.drain(self.subscriber)

    def tag_nodes(self, tags: dict[str, str] | None = None, vm_ids: list[str] | None = None) -> list[dict[str, Any]]:
        client = self.operator_sdk(ResourceManagementClient)
        for vm_id in vm_ids or self.world["vm_ids"]:
            client.tags.begin_update_at_scope(
                vm_id, {"operation": "Merge", "properties": {"tags": tags or CLUSTER_TAGS}}).result()
        return [e for e in self.drain() if e["data"]["operationName"] == "Microsoft.Resources/tags/write"]

    def _asr(self) -> tuple[Any, str, str]:
        client = self.operator_sdk(SiteRecoveryManagementClient)
        return client, self.world["vault_id"].split("/")[4], self.world["vault_id"].split("/")[-1]

    def _actions(self) -> list[dict[str, Any]]:
        """The recovery plan's action events; the rest (Site Recovery's writes of VMs and NICs) in ``others``."""
        events = self.drain()
        actions = [e for e in events if e["eventType"] == ACTION
                   and "replicationrecoveryplans" in e["data"]["operationName"].lower()]
        self.others = [e for e in events if e not in actions]
        return actions

    def test_failover(self) -> list[dict[str, Any]]:
        client, rg, vault = self._asr()
        client.replication_recovery_plans.begin_test_failover(rg, vault, PLAN, {"properties": {
            "failoverDirection": "PrimaryToRecovery", "networkType": "VmNetworkAsInput",
            "networkId": self.world["test_vnet_id"], "providerSpecificDetails": A2A_LATEST}}).result()
        return self._actions()

    def cleanup(self) -> list[dict[str, Any]]:
        client, rg, vault = self._asr()
        client.replication_recovery_plans.begin_test_failover_cleanup(
            rg, vault, PLAN, {"properties": {"comments": "drill done"}}).result()
        return self._actions()

    def failover(self) -> list[dict[str, Any]]:
        client, rg, vault = self._asr()
        client.replication_recovery_plans.begin_unplanned_failover(rg, vault, PLAN, {"properties": {
            "failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired",
            "providerSpecificDetails": A2A_LATEST}}).result()
        return self._actions()

    def runbook_context(self, phase: str) -> bytes:
        """The RecoveryPlanContext the plan's post-action runbook POSTs (it retries while asr-s2d answers 5xx)."""
        return json.dumps({"RecoveryPlanName": PLAN, "FailoverType": "Test" if phase == "test-failover" else "Unplanned",
                           "FailoverDirection": "PrimaryToSecondary", "GroupId": "1",
                           "VmMap": {str(uuid.uuid5(uuid.NAMESPACE_URL, v)): {"RoleName": v.split("/")[-1]}
                                     for v in self.world["vm_ids"]}}).encode()

    # -- delivery and convergence ----------------------------------------------------------------------
    @staticmethod
    def handler(event: dict[str, Any]) -> Callable[[Any, Runtime], Outcome]:
        return failover.handle if event.get("eventType") == ACTION else enrollment.handle

    def deliver(self, event: dict[str, Any]) -> Outcome | None:
        """One delivery; None when the function raised a transient error (Event Grid will redeliver)."""
        try:
            return self.handler(event)(event, self.runtime)
        except TransientError:
            return None

    def deliver_all(self, events: list[dict[str, Any]]) -> list[Outcome]:
        outcomes = [self.deliver(e) for e in events]
        assert all(o is not None for o in outcomes), "a clean delivery raised"
        return [o for o in outcomes if o is not None]

    def time_passes(self) -> None:
        """Minutes pass: operations and Site Recovery jobs finish, initial replication completes."""
        clients.time_passes(self.emu)

    def snapshot(self) -> dict[str, Any]:
        return endstate.snapshot(self.emu)

    def clean(self, phase: str) -> dict[str, Any]:
        """The end state a clean run of the phase leaves (computed once per process)."""
        key = (id(self.emu), phase)
        if key not in _CLEAN:
            events = self.begin(phase)
            self.deliver_all(events)
            self.time_passes()
            _CLEAN[key] = self.snapshot()
        return _CLEAN[key]

    def converge(self, phase: str, events: list[dict[str, Any]], clean: dict[str, Any]) -> str:
        """Deliver the phase's events once, then what would follow in production, in order, until the end state
        is the clean one; returns the mechanism that got there:

        ``first delivery``; ``redelivery`` (Event Grid retries events whose function raised); ``audit`` (the
        hourly drift audit with repair and re-addressing on); ``runbook`` (the recovery plan's runbook retries
        while asr-s2d answers 5xx); ``re-run`` (an operator handles the event again)."""
        raised = [e for e in events if self.deliver(e) is None]
        self.time_passes()
        mechanism = "first delivery"
        for _round in range(5):
            if not raised:
                break
            mechanism = "redelivery"
            raised = [e for e in raised if self.deliver(e) is None]
            self.time_passes()
        assert not raised, f"{len(raised)} event(s) still raise after five redeliveries"
        if endstate.diff(clean, self.snapshot()):
            mechanism = "audit"
            for _run in range(3):
                audit.run_audit(self.runtime, repair=True, trigger="test")
                self.time_passes()
                if not endstate.diff(clean, self.snapshot()):
                    break
        if endstate.diff(clean, self.snapshot()) and phase in ("test-failover", "failover"):
            mechanism = "runbook"
            for _call in range(3):
                status, _body = runbook(self.runbook_context(phase), self.runtime)
                self.time_passes()
                if status < 500:
                    break
        if endstate.diff(clean, self.snapshot()):
            mechanism = "re-run"
            for event in events:
                self.deliver(event)
            self.time_passes()
        return mechanism

    # -- records -------------------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """Every outcome record in the state container, oldest first (blob names start with a UTC time)."""
        blobs = self.runtime.blobs
        docs = [blobs.get_json(n) for n in sorted(blobs.list_names("outcomes/"))]
        return [dict(d.body) for d in docs if d is not None]

    def lock_blob(self) -> str:
        key = self.world["subscription_id"].lower() + "/" + CLUSTER
        return f"locks/{blob_key(key)}"

    def app_writes(self, since: int) -> list[Any]:
        return [e for e in self.emu.journal.entries(since=since) if e.is_write and e.principal == APP_PRINCIPAL_ID]

    def failed_jobs(self) -> list[dict[str, Any]]:
        status, jobs = self.emu.handle_control("GET", "/_emulator/asr/jobs", {"state": "Failed"}, b"")
        assert status == 200
        return list(jobs)


def record_clean_run(story: Story) -> dict[str, Any]:
    """Run every phase cleanly and derive the call sites from the journal (``call_sites.json``'s content)."""
    merged: dict[str, Any] = {"sites": [], "writes": []}
    for phase in PHASES:
        events = story.begin(phase)
        first = story.emu.journal.last_seq + 1
        story.deliver_all(events)
        derived = derive_call_sites(story.emu, {phase: (first, story.emu.journal.last_seq)})
        merged["sites"] += derived["sites"]
        merged["writes"] += derived["writes"]
    return merged
