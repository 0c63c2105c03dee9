"""The story ``make demo`` tells and ``make chaos`` tells twice: tag, enroll, protect, audit, (drill,) fail
over, re-address, redeliver, audit, (the way back, failback, drill again), and the end state it leaves.

The chapters it calls are ``demo.failover`` and ``demo.drill``; what they all stand on is ``demo.stage``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from demo.drill import drill_story, failback_story, way_back_story
from demo.failover import failover_story
from demo.stage import EventGrid, Out, StoryRun, operator, replication_passes
from emulator.clients import AzureTime, OperatorCredential, sdk_client, time_passes

CLUSTER_TAGS = {"asr-s2d": "true", "asr-s2d-cluster": "s2dclu01"}
# The chaos mix: the request-level kinds share the fault rate equally; the rate also fails operations (``chaos_rules``).
CHAOS_KINDS = (("status", 429), ("status", 500), ("status", 503), ("reset", 0), ("lro_fail", 0))
MAX_AUDITS = 12


def chaos_rules(rate: float, seed: int) -> list[Any]:
    """Seeded fault rules: ``rate`` of ARM requests fail (429, 500, 503 or a dropped connection, in equal
    shares), and ``rate`` of the long-running operations they start end ``Failed``."""
    from emulator.core.faults import FaultRule

    request_kinds = [k for k in CHAOS_KINDS if k[0] != "lro_fail"]
    share = 1 - (1 - rate) ** (1 / len(request_kinds))  # P(any request-level kind) == rate
    rules = []
    for index, (action, status) in enumerate(CHAOS_KINDS):
        rules.append(FaultRule(action=action, status=status or 500, retry_after=0,
                               probability=rate if action == "lro_fail" else share, seed=seed * 100 + index,
                               path=r"^/subscriptions/", message=f"Injected chaos: {action} {status or ''}".strip()))
    return rules


def run_story(emu: Any, *, azurite_connection_string: str, chaos: float = 0.0, seed: int = 7,
              out: Out | None = None, drill: bool = False) -> StoryRun:
    """Reset the emulator to the demo world and run the story: tag, enroll, protect, audit, fail over,
    re-address, redeliver, audit. Returns what it did and the normalized end state.

    The process environment must hold the emulator's managed-identity endpoint (``emu.identity_env()``)."""
    out = out or Out()
    throttle = emu.throttle.config
    try:
        return _story(emu, azurite_connection_string, chaos, seed, out, drill=drill)
    finally:
        emu.throttle.reset(throttle)
        emu.faults.clear()


def _story(emu: Any, azurite_connection_string: str, chaos: float, seed: int, out: Out, *,
           drill: bool = False) -> StoryRun:
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    from emulator import endstate
    from emulator.core.events import Subscriber
    from emulator.settings import app_env
    from shared.azure.clients import Clients
    from shared.config import Settings
    from shared.runtime import Runtime

    run = StoryRun()
    emu.reset()
    world = emu.seed("demo-sql")  # the cluster runs a SQL Server FCI: its VNN has an IP and probe of its own
    env = app_env(emu, world, azurite_connection_string=azurite_connection_string)
    env.update(STATE_CONTAINER=f"demo{uuid.uuid4().hex[:8]}", WORK_QUEUE=f"demo{uuid.uuid4().hex[:8]}", AUDIT_REPAIR="true",
               AUDIT_REASSIGN_IP="true")
    if chaos:
        # One azure-core retry instead of six: faults must reach the app (and Event Grid's redelivery), not
        # only the SDK's retry loop. The operator's clients are set up the same way.
        env["ARM_RETRY_TOTAL"] = "1"
    settings = Settings.from_env(env)
    # The app's own waits (a drill's between two tries of a guest not ready yet) on the emulator's clock too.
    rt = dataclasses.replace(Runtime.build(settings, clients=Clients(settings)), clock=AzureTime(emu))
    out.detail(f"ARM endpoint {emu.endpoint}; state container {settings.state_container}")
    out.detail(f"source: {world['source_region']} ({', '.join(v.split('/')[-1] for v in world['vm_ids'])}), "
               f"target: {world['target_region']} (vault {world['vault_id'].split('/')[-1]})")
    sub = emu.events.subscribe(Subscriber(mode="pull", duplicate=2 if chaos else 1, reorder=bool(chaos), seed=seed))
    tags_client = sdk_client(emu, ResourceManagementClient, OperatorCredential(), world["subscription_id"],
                             retry_total=settings.arm_retry_total)
    asr_client = sdk_client(emu, SiteRecoveryManagementClient, OperatorCredential(), world["subscription_id"],
                            retry_total=settings.arm_retry_total)
    if chaos:
        # ARM's token-bucket throttle depends on the wall clock; a chaos run must replay from its seed alone,
        # so the throttle is off and the seeded rules inject the 429s.
        from emulator.core.throttle import ThrottleConfig

        emu.throttle.reset(ThrottleConfig(enabled=False))
        out.say(f"Chaos: {chaos:.0%} of ARM calls fail (429, 500, 503, dropped connections) and {chaos:.0%} of "
                f"long-running operations end Failed (seed {seed}); every event is delivered twice, shuffled")
        for rule in chaos_rules(chaos, seed):
            emu.faults.add(rule)

    grid = EventGrid(rt, out, run, emu=emu)

    out.say("Operator tags both nodes asr-s2d=true, asr-s2d-cluster=s2dclu01 through the ARM Tags API")
    for vm_id in world["vm_ids"]:
        def write(vm_id: str = vm_id) -> None:
            tags_client.tags.begin_update_at_scope(
                vm_id, {"operation": "Merge", "properties": {"tags": CLUSTER_TAGS}}).result()

        def tagged(vm_id: str = vm_id) -> bool:
            return CLUSTER_TAGS.items() <= (emu.world.get(vm_id).get("tags") or {}).items()

        operator(write, tagged, what=f"tag write on {vm_id.split('/')[-1]}", detail=out.detail, run=run)
        out.detail(f"tagged {vm_id.split('/')[-1]}")

    events = emu.events.drain(sub.id)
    out.say(f"Event Grid delivered {len(events)} Microsoft.Resources.ResourceWriteSuccess event(s); the "
            "VM-tags-changed function handles them")
    out.outcomes(grid.deliver(events))
    _own_events(emu, sub.id, grid)

    out.say("Site Recovery replicates: initial replication, then Protected")
    replication_passes(emu, out)
    for item in _items(emu):
        out.detail(f"{item['vm']}: {item['state']}, group {item['group']}")
    _retry_pending(emu, grid)

    out.say("The hourly drift audit (AUDIT_REPAIR=true): the backstop for anything an event left undone")
    _audit(emu, rt, out, run)
    if drill:  # the drill and way-back chapters (demo.drill): `make demo` only, not the chaos runs
        drill_story(emu, world, rt, out=out)

    failover_story(emu, world, rt, sub.id, client=asr_client, out=out, grid=grid)
    _own_events(emu, sub.id, grid)
    _retry_pending(emu, grid)

    out.say("The next drift audit (AUDIT_REASSIGN_IP=true) would re-address a failover no signal announced")
    _audit(emu, rt, out, run)
    if grid.pending:
        raise SystemExit(f"{len(grid.pending)} event(s) still fail after Event Grid's retries")
    if drill:
        way_back_story(emu, world, rt, client=asr_client, out=out, grid=grid, subscriber_id=sub.id)
        out.say("The hourly drift audit after the reprotect: the cluster replicates back, and says how to fail back")
        _audit(emu, rt, out, run)
        drill_story(emu, world, rt, out=out, way_back=True)
        failback_story(emu, world, rt, client=asr_client, out=out, grid=grid, subscriber_id=sub.id)
        out.say("The hourly drift audit (ALLOW_REPROTECT=true): reprotects the cluster to the DR region again, "
                "then repairs what the reprotect reset")
        _audit(emu, Runtime.build(replace(rt.settings, allow_reprotect=True), clients=rt.clients), out, run)
        drill_story(emu, world, rt, out=out, again=True)

    out.say(f"Every delivery was answered at once: {run.deliveries} deliveries to the functions made "
            f"{grid.azure_calls} Azure call(s); the worker did the work, in bounded steps")
    if grid.azure_calls:
        raise SystemExit(f"the triggers called Azure {grid.azure_calls} time(s): they must only enqueue")
    injected = dict(emu.faults.injected)
    emu.faults.clear()
    run.throttled = emu.throttle.rejected
    run.end_state = endstate.snapshot(emu)
    run.faults = _fault_kinds(emu, injected)
    return run


def _fault_kinds(emu: Any, injected: dict[str, int]) -> dict[str, int]:
    """Injected faults by kind: statuses from the journal, resets from the journal, failed operations."""
    kinds: Counter[str] = Counter()
    for entry in emu.journal.entries():
        if entry.fault == "reset":
            kinds["reset"] += 1
        elif entry.fault == "status":
            kinds[f"status {entry.status}"] += 1
    if injected.get("lro_fail"):
        kinds["lro_fail"] = injected["lro_fail"]
    return dict(sorted(kinds.items()))


def _items(emu: Any) -> list[dict[str, Any]]:
    from emulator.endstate import snapshot

    return [{"vm": vm, "state": i["protection_state"], "group": i["group"]}
            for vm, i in sorted(snapshot(emu)["protected_items"].items())]


def _own_events(emu: Any, subscriber_id: str, grid: EventGrid) -> None:
    """The app's own writes come back as events too: each is ignored as the app's own (no loop)."""
    events = emu.events.drain(subscriber_id)
    outcomes = grid.deliver(events)
    own = sum(1 for o in outcomes if o.kind == "ignored")
    grid.out.detail(f"{len(events)} event(s) of the app's own writes and Site Recovery's: {own} ignored")


def _retry_pending(emu: Any, grid: EventGrid) -> None:
    """Event Grid retries what still fails, with time passing in between (for up to 24 hours)."""
    for _round in range(MAX_AUDITS):
        if not grid.pending:
            return
        time_passes(emu)
        grid.retry_pending()


def _audit(emu: Any, rt: Any, out: Out, run: StoryRun) -> None:
    """Run the audit until one finds nothing to repair and reads everything (the timer runs it every hour)."""
    from shared.audit import service as drift
    from shared.errors import AsrS2dError

    for attempt in range(MAX_AUDITS):
        if attempt:
            time_passes(emu)
        run.audits += 1
        try:
            report = drift.run_audit(rt, trigger="demo")
        except AsrS2dError as err:
            out.detail(f"the audit stopped ({err}); the timer runs it again")
            continue
        busy = [c for c in report.clusters
                if (c.repair is not None and c.repair.outcome in ("changed", "failed"))
                or any(f.code in ("reprotected", "reprotect-failed") for f in c.findings)
                or (c.reassign is not None and c.reassign.get("outcome") not in ("unchanged", "ignored", "skipped"))]
        for cluster in report.clusters:
            out.detail(f"cluster {cluster.name}: {cluster.status}, {len(cluster.findings)} finding(s)"
                       + (f"; repair {cluster.repair.outcome}: {cluster.repair.reason}" if cluster.repair else "")
                       + (f"; IP step {cluster.reassign.get('outcome')}" if cluster.reassign else ""))
            for finding in cluster.findings:
                out.detail(f"  {finding.severity.value} {finding.code}: {finding.message[:220]}")
        if not busy and not report.errors:
            return
        out.detail("the next audit checks again")
    raise SystemExit(f"the drift audit did not settle in {MAX_AUDITS} runs")


@dataclass
class ChaosResult:
    clean: StoryRun
    chaotic: StoryRun
    differences: list[str]


def chaos_compare(emu: Any, *, azurite_connection_string: str, rate: float, seed: int,
                  out: Out | None = None) -> ChaosResult:
    """The clean story on a fresh world, then the chaotic one on another; their end states compared."""
    from emulator import endstate

    out = out or Out()
    out.say("The clean story first, quietly, on a fresh world: the reference end state")
    clean = run_story(emu, azurite_connection_string=azurite_connection_string, out=Out(quiet=True))
    out.detail(f"{clean.deliveries} deliveries, {clean.audits} audit(s), outcomes {dict(clean.outcomes)}")
    chaotic = run_story(emu, azurite_connection_string=azurite_connection_string, chaos=rate, seed=seed, out=out)
    return ChaosResult(clean, chaotic, endstate.diff(clean.end_state, chaotic.end_state))
