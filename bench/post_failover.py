"""P5 post-failover: what the app writes after a recovery-plan failover when enrollment pre-staged the DR load
balancer (and ASR attached the failed-over NICs to its pool itself, from the items' pool mapping).

The demo cluster is enrolled by the app and protected; the operator runs an unplanned failover of the
cluster's recovery plan through the real Site Recovery SDK; every event ARM publishes is delivered to the
failover function (``shared.failover.handle``), then the plan's failover event again (a duplicate). Counted
from the journal (app principal): the Run Command POST apart from every other write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.delivery import deliver
from bench.lab import progress
from bench.report import Figure, Goal
from bench.world import enroll_demo
from emulator.clients import time_passes
from shared.events import ACTION_EVENT

if TYPE_CHECKING:
    from bench.lab import Lab

RUN_COMMAND = "Run Command"


def run(lab: Lab) -> Figure:
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

    from emulator.core.events import Subscriber
    from shared import ids
    from shared.failover import service as failover

    world = lab.fresh()
    rt = lab.runtime(world)
    enroll_demo(lab, world, rt)
    time_passes(lab.emu)
    lb_before = rt.network.get_load_balancer(
        f"{world['recovery_resource_group_id']}/providers/Microsoft.Network/loadBalancers/"
        f"lb-asr-s2d-{world['cluster_name']}")
    sub = lab.emu.events.subscribe(Subscriber(mode="pull"))
    plan = f"asr-s2d-{world['cluster_name']}"
    vault = ids.parse(world["vault_id"])
    client = lab.operator_client(SiteRecoveryManagementClient, world["subscription_id"])
    progress(f"P5: unplanned failover of recovery plan {plan} (DR load balancer pre-staged: "
             f"{'yes' if lb_before is not None else 'no'}); the failover function handles ARM's events")
    with lab.unthrottled():
        client.replication_recovery_plans.begin_unplanned_failover(
            vault.resource_group, vault.name, plan,
            {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired",
                            "providerSpecificDetails": [{"instanceType": "A2A", "recoveryPointType": "Latest"}]}},
        ).result()
    events = lab.emu.events.drain(sub.id)
    plan_actions = [e for e in events if e.get("eventType") == ACTION_EVENT
                    and "/replicationrecoveryplans/" in str(e["data"].get("operationName", "")).lower()]

    mark = lab.mark()
    first = deliver(events, failover.handle, rt)
    calls = lab.app_calls(mark)
    mark = lab.mark()
    again = deliver(plan_actions, failover.handle, rt)
    repeat = lab.app_calls(mark)

    run_commands = calls.count(RUN_COMMAND)
    other = calls.writes - run_commands
    reassigned = [o for o in first.outcomes if o.kind == "reassigned"]
    guest = reassigned[0].details.get("status") if reassigned else None
    data: dict[str, Any] = {
        "events": len(events), "plan_failover_events": len(plan_actions), "outcomes": first.kinds,
        "run_commands": run_commands, "other_writes": other, "writes": calls.to_json(),
        "write_labels": calls.write_labels, "guest_status": guest, "lb_prestaged": lb_before is not None,
        "duplicate_outcomes": again.kinds, "duplicate_writes": repeat.writes,
    }
    progress(f"P5: {other} writes + {run_commands} Run Command; duplicate: {repeat.writes} writes")
    goals = [
        Goal("at most 1 write + 1 Run Command (the Run Command POST counted apart)",
             f"{other} writes other than Run Command + {run_commands} Run Command POST "
             f"({', '.join(calls.write_labels) or 'none'}); guest {guest}; {calls.reads} reads, {calls.lro} LRO polls; "
             f"{len(events)} events handled, the plan's failover event again: {repeat.writes} writes",
             other <= 1 and run_commands == 1 and guest == "changed" and repeat.writes == 0 and not first.lost),
    ]
    return Figure("P5", "after a recovery-plan failover", measured=goals[0].measured, goals=goals, data=data)
