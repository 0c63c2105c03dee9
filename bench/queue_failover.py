"""P6 after a failover, through the queue: from the failover job's completion to the cluster answering on its DR IP.

The demo cluster is enrolled by the app (in-process, at the bench's time scale) and Protected. Then the emulator's
Azure clock runs at ``TIME_SCALE`` (60x: one Azure minute per real second), so the queue's whole-second delays and
the worker's polling are small against the 60 Azure seconds the goal allows. The operator starts an unplanned
failover of the cluster's recovery plan; when its job completes, ARM publishes the plan's ``ResourceActionSuccess``,
which the bench hands at once to the failover trigger's work (the azure-functions converter, then
``shared.failover.service.accept`` + ``enqueue``: what ``handle_trigger`` does); the worker
(``shared.work.worker.run_queue``) takes the queued step and any delayed look after it.

Measured in Azure time (the emulator's clock: real seconds x the time scale): from the job's ``endTime`` to the moment
the worker let go of the message whose step re-addressed the cluster (its Run Command had ended: the cluster answers on
its DR IP). Goal: at most the Run Command's own duration (``emulator.core.clock.DURATIONS["run_command"]``) + 60 s,
counted from the job's end or, when later, from when the recovered guest can take the IP step: the job ends when
Site Recovery has started the recovered VMs, and their cluster service runs ``DURATIONS["cluster_service"]`` after
boot; no IP step can run in a guest before that (DESIGN.md rules 13 and 19), whatever the app does. Both figures are
reported.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bench.lab import progress
from bench.report import Figure, Goal
from bench.worker import timed
from bench.world import enroll_demo
from emulator.clients import control, time_passes
from emulator.core.clock import DURATIONS
from emulator.providers.compute.power import RUNTIME
from shared.events import ACTION_EVENT

if TYPE_CHECKING:
    from bench.lab import Lab

TIME_SCALE = 60.0
SLACK_SECONDS = 60.0  # Azure seconds allowed beyond the Run Command's own duration
RUN_COMMAND = "Run Command"


def goal_seconds() -> float:
    return DURATIONS["run_command"].azure_seconds + SLACK_SECONDS


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run(lab: Lab, *, time_scale: float = TIME_SCALE, patience: float = 120.0) -> Figure:
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

    from emulator.core.events import Subscriber
    from emulator.delivery import as_trigger_event
    from shared import ids
    from shared.failover import service as failover
    from shared.work import item as items
    from shared.work.worker import enqueue, run_queue

    world = lab.fresh()
    rt = lab.runtime(world)
    enroll_demo(lab, world, rt)
    time_passes(lab.emu)
    lb = rt.network.get_load_balancer(f"{world['recovery_resource_group_id']}/providers/Microsoft.Network/"
                                      f"loadBalancers/lb-asr-s2d-{world['cluster_name']}")
    assert lb is not None and lb.frontend_ip, "enrollment staged no DR load balancer"
    plan = f"asr-s2d-{world['cluster_name']}"
    vault = ids.parse(world["vault_id"])
    client = lab.operator_client(SiteRecoveryManagementClient, world["subscription_id"])
    sub = lab.emu.events.subscribe(Subscriber(mode="pull"))
    worker_rt, held = timed(rt)

    with lab.time_scale(time_scale):
        progress(f"P6: unplanned failover of {plan} on Azure's clock at {time_scale:g}x; its event goes to the "
                 "trigger's work the moment ARM publishes it, then the worker")
        mark = lab.mark()
        with lab.unthrottled():
            client.replication_recovery_plans.begin_unplanned_failover(
                vault.resource_group, vault.name, plan,
                {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired",
                                "providerSpecificDetails": [{"instanceType": "A2A", "recoveryPointType": "Latest",
                                                             "multiVmSyncPointOption": "UseMultiVmSyncRecoveryPoint"}]}},
                polling=False)
        signal: dict[str, Any] | None = None
        deadline = time.monotonic() + patience
        while signal is None and time.monotonic() < deadline:
            for event in lab.emu.events.drain(sub.id):
                if (event.get("eventType") == ACTION_EVENT and "/replicationrecoveryplans/" in
                        str(event["data"].get("operationName", "")).lower()):
                    signal = event
            if signal is None:
                time.sleep(0.01)
        assert signal is not None, f"no failover event within {patience:.0f} s"
        seen = time.time()
        started = time.monotonic()
        accepted = failover.accept(as_trigger_event(signal), rt)
        assert isinstance(accepted, items.Work), accepted
        enqueue(rt, accepted)
        trigger_seconds = time.monotonic() - started
        # The host polls an idle queue at most every 2 real seconds (host.json maxPollingInterval): 2 Azure seconds,
        # 1/30 of a second here.
        counts = run_queue(worker_rt, until_idle=True, max_seconds=patience, parallel=4, retry_seconds=1,
                           poll_seconds=2.0 / time_scale)
        let_go = time.time()

    calls = lab.app_calls(mark)
    [job] = [j for j in control(lab.emu, "GET", "asr/jobs") if j["properties"]["scenarioName"] == "UnplannedFailover"]
    ended = _epoch(str(job["properties"]["endTime"]))
    work = items.load(rt.records, accepted.id)
    assert work is not None
    outcome = (work.outcome or {}).get("outcome")
    runs = [r for r in control(lab.emu, "GET", "guest/run-commands") if r.get("ended")]
    # The cluster answers on its DR IP when the Run Command that moved it ended (the worker let go of its message
    # right after); the recovered node's cluster service runs DURATIONS["cluster_service"] after the node booted.
    answered = _epoch(str(runs[-1]["ended"])) if runs else let_go
    booted = lab.emu.world.extras[RUNTIME][str(runs[-1]["vm_id"]).lower()]["booted"] if runs else ended
    ready = float(booted) + DURATIONS["cluster_service"].azure_seconds / time_scale
    azure_seconds = (answered - ended) * time_scale
    after_ready = (answered - max(ended, ready)) * time_scale
    goal = goal_seconds()
    run_commands = calls.count(RUN_COMMAND)
    data: dict[str, Any] = {
        "time_scale": time_scale, "azure_seconds": round(azure_seconds, 1), "goal_azure_seconds": goal,
        "after_guest_ready_azure_seconds": round(after_ready, 1),
        "guest_ready_after_job_azure_seconds": round((ready - ended) * time_scale, 1),
        "run_command_azure_seconds": DURATIONS["run_command"].azure_seconds,
        "event_after_job_azure_seconds": round((seen - ended) * time_scale, 1),
        "trigger_seconds": round(trigger_seconds, 3), "worker_steps": work.step, "worker_counts": counts,
        "invocations": held.to_json(), "outcome": outcome, "run_commands": run_commands,
        "writes": calls.writes, "reads": calls.reads, "lro_polls": calls.lro, "work_reason": work.reason,
    }
    progress(f"P6: the cluster answered on its DR IP {azure_seconds:.0f} Azure s after the failover job ended, "
             f"{after_ready:.0f} s after its guest could take the IP step ({work.step} worker step(s), "
             f"{run_commands} Run Command(s), outcome {outcome})")
    how = (f"event {data['event_after_job_azure_seconds']:.0f} s after the job, trigger {trigger_seconds * 1000:.0f} ms, "
           f"{work.step} worker step(s) ({counts.get('waiting', 0)} looked again later), {run_commands} Run "
           f"Command(s), outcome {outcome}; Azure's clock at {time_scale:g}x")
    measured = f"{azure_seconds:.0f} Azure s from the failover job's end to the cluster answering on its DR IP ({how})"
    goals = [
        Goal(f"from the failover job's completion, or later when the recovered guest can only take the IP step then "
             f"(its cluster service runs {DURATIONS['cluster_service'].azure_seconds / 60:.0f} min after the node "
             f"boots), to the cluster answering on its DR IP, through trigger -> queue -> worker: at most the Run "
             f"Command's own duration + {SLACK_SECONDS:.0f} s ({goal:.0f} Azure s)",
             f"{after_ready:.0f} Azure s after the guest was ready ({data['guest_ready_after_job_azure_seconds']:.0f} s "
             f"after the job ended); {measured}", after_ready <= goal and outcome == "reassigned"),
    ]
    gaps = []
    if after_ready > goal:
        gaps.append(f"a look that finds the guest not ready costs its own Run Command ({run_commands} ran), so the "
                    f"worker's looks come every {failover.RECHECK_SECONDS:.0f} s + one Run Command + the step's reads; "
                    "a guest that gets ready just after a look waits that whole cycle")
    return Figure("P6", "after a failover, through the queue", measured=measured, goals=goals, data=data, gaps=gaps)
