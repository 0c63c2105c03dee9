"""P7 drills side by side: ``clusters`` clusters drilled through the queue at ``DRILL_CONCURRENCY``, against one drill.

The demo cluster is enrolled by the app (the template); then ``clusters`` more two-node clusters are written into the
world converged (``bench.world.add_enrolled_clusters``), each with its in-guest failover cluster (the emulator's guest
model: what the IP step and the health report run against), tagged ``asr-s2d-drill=monthly``, and with the
enrollment record the app would have written. The emulator's Azure clock runs at ``TIME_SCALE`` (60x) so the queue's
whole-second delays stay small against the drill's minutes.

1. One drill alone: ``shared.drill.service.enqueue_drill`` for one cluster, then the worker until the queue is idle.
2. The monthly timer: ``run_scheduled`` enqueues one drill per opted-in cluster; the worker (``run_queue``,
   ``parallel`` messages at once: one Functions instance's batch) runs them, at most ``DRILL_CONCURRENCY`` at a
   time. Goal: all done within 4.5x one drill's Azure duration (not ``clusters`` x); no invocation longer than 5 real
   minutes (the time each message was held, ``bench.worker``).
3. A worker killed in the middle of a drill: the worker stops between two steps once the drill's test failover
   exists; a new worker (a fresh runtime: another process) takes the queue, and the drill ends with its test failover
   cleaned up (no test VM, every item's ``testFailoverState`` None).

Durations are Azure time: real seconds x the time scale.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from bench.lab import progress
from bench.report import Figure, Goal
from bench.worker import timed
from bench.world import ITEM_TYPE, SeededCluster, add_enrolled_clusters, enroll_demo, mark_tested
from emulator.clients import time_passes

if TYPE_CHECKING:
    from bench.lab import Lab
    from shared.runtime import Runtime

TIME_SCALE = 60.0
CLUSTERS = 20
CONCURRENCY = 5
FACTOR = 4.5  # the bound: all drills within 4.5x one drill's duration
INVOCATION_LIMIT_SECONDS = 300.0  # no invocation longer than 5 real minutes
PREFIX = "drill"
SOURCE_PREFIX = "10.40.0.0/18"  # bench.world's VNet of seeded clusters (vnet-<prefix>, 10.40.0.0/16, one /18 subnet)


def _guest_and_records(lab: Lab, world: dict[str, Any], rt: Runtime, seeded: list[SeededCluster]) -> None:
    """Each seeded cluster's in-guest cluster (a healthy S2D cluster on its two nodes, its cluster IP in the nodes'
    subnet), the drill tag on its nodes, and the enrollment record the app would have written."""
    from emulator.providers.compute import guest
    from shared.ownership import Enrollment, Node
    from shared.times import now_iso

    with lab.emu.world.lock:
        for index, cluster in enumerate(seeded):
            guest.add_cluster(lab.emu.world, list(cluster.vm_ids), name=cluster.name,
                              ip_address=f"10.40.63.{10 + index}", network_prefix=SOURCE_PREFIX)
            for vm_id in cluster.vm_ids:
                vm = lab.emu.world.get(vm_id)
                assert vm is not None, vm_id
                vm.setdefault("tags", {})["asr-s2d-drill"] = "monthly"
    by_group: dict[str, list[str]] = {}
    for item in rt.asr.list_items():
        by_group.setdefault(str(item.group_name).lower(), []).append(item.id)
    now = now_iso()
    for cluster in seeded:
        nodes = []
        for vm_id in cluster.vm_ids:
            found = rt.compute.get_vm(vm_id)
            assert found is not None, vm_id
            nodes.append(Node(found.id, found.name, found.host_name, "enrollment"))
        rt.records.save_enrollment(Enrollment(
            cluster=cluster.name, key=f"{world['subscription_id']}/{cluster.name}".lower(), nodes=tuple(nodes),
            items=tuple(by_group.get(cluster.name.lower(), ())), enrolled_by="bench", created=now, updated=now))


def _test_failover_left(lab: Lab) -> list[str]:
    """Items whose test failover is not cleaned up, and test VMs left."""
    with lab.emu.world.lock:
        items = [i["name"] for i in lab.emu.world.by_type(ITEM_TYPE)
                 if (i["properties"].get("testFailoverState") or "None") != "None"]
        vms = [v["name"] for v in lab.emu.world.by_type("Microsoft.Compute/virtualMachines")
               if v["name"].lower().endswith("-test")]
    return items + vms


def _drills(rt: Runtime, ids: set[str] | None = None) -> list[Any]:
    from shared.work import item as items

    return [w for w in items.listed(rt.records, kind="drill") if ids is None or w.id in ids]


def _seconds(work: list[Any]) -> float:
    """From the first drill's creation to the last one's end (the items' own timestamps: wall time)."""
    from shared.times import parse_time

    starts = [parse_time(w.created) for w in work]
    ends = [parse_time(w.updated) for w in work]
    if not work or None in starts or None in ends:
        return 0.0
    return (max(e for e in ends if e is not None) - min(s for s in starts if s is not None)).total_seconds()


def _failures(work: list[Any]) -> list[str]:
    """The first failed check of each drill that did not pass."""
    found = []
    for w in work:
        outcome = w.outcome or {}
        if outcome.get("result") == "passed":
            continue
        failed = [c for c in outcome.get("checks") or [] if isinstance(c, dict) and not c.get("ok")]
        first = f"{failed[0].get('name')}: {failed[0].get('detail')}" if failed else str(outcome.get("reason") or w.reason)
        found.append(f"{w.cluster}: {first}"[:300])
    return found


def _results(work: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for w in work:
        result = str((w.outcome or {}).get("result") or w.status)
        found[result] = found.get(result, 0) + 1
    return found


def run(lab: Lab, *, clusters: int = CLUSTERS, concurrency: int = CONCURRENCY, time_scale: float = TIME_SCALE,
        parallel: int = 8, patience: float = 900.0, single: bool = True, kill: bool = True) -> Figure:
    from emulator.clients import AzureTime
    from shared.azure.clients import Clients
    from shared.drill import service as drill
    from shared.runtime import Runtime
    from shared.work.worker import run_queue

    world = lab.fresh()
    setup = lab.runtime(world)
    enroll_demo(lab, world, setup)
    time_passes(lab.emu)
    mark_tested(lab)
    seeded = add_enrolled_clusters(lab, world, 0, clusters, prefix=PREFIX)
    rt = lab.runtime(world, DRILL_CONCURRENCY=str(concurrency))
    _guest_and_records(lab, world, rt, seeded)
    worker_rt, held = timed(rt)
    progress(f"P7: {clusters} clusters seeded (and the demo cluster); Azure's clock at {time_scale:g}x, "
             f"DRILL_CONCURRENCY={concurrency}")

    alone, alone_real, single_work = 0.0, 0.0, None
    with lab.time_scale(time_scale):
        # 1. one drill alone
        if single:
            one = drill.enqueue_drill(seeded[0].name, rt, trigger="bench")
            started = time.monotonic()
            run_queue(worker_rt, until_idle=True, max_seconds=patience, parallel=parallel, retry_seconds=1)
            alone_real = time.monotonic() - started
            [single_work] = _drills(rt, {one.id})
            alone = _seconds([single_work]) * time_scale
            progress(f"P7: one drill alone: {alone / 60:.1f} Azure min ({single_work.step} steps, "
                     f"{_results([single_work])}); now {clusters} through the timer")

        # 2. the timer's drills, side by side; 3. the worker killed between two steps once a test failover exists,
        # and a new one (a fresh runtime: another process, the same settings) takes the queue from there
        mark = lab.mark()
        enqueued = drill.run_scheduled(rt=rt)
        timer_ids = {w.id for w in enqueued}
        started = time.monotonic()
        counts: dict[str, int] = {}
        killed: dict[str, Any] = {}
        if kill:
            deadline = time.monotonic() + patience
            while time.monotonic() < deadline and not killed:
                for what, n in run_queue(worker_rt, until_idle=False, max_seconds=0.05, parallel=parallel,
                                         retry_seconds=1).items():
                    counts[what] = counts.get(what, 0) + n
                running = [w for w in _drills(rt, timer_ids)
                           if not w.ended and str(w.carry.get("phase") or "") in drill.RUNNING]
                left = _test_failover_left(lab)
                if running and left:
                    killed = {"stopped_in_phases": sorted(str(w.carry.get("phase")) for w in running),
                              "drills_running": sorted(w.id for w in running), "test_failover_at_stop": len(left)}
            progress(f"P7: the worker stopped between two steps with {len(killed.get('drills_running', []))} drill(s) "
                     f"in {killed.get('stopped_in_phases')} and {killed.get('test_failover_at_stop', 0)} test "
                     "failover resources; a new worker takes over")
            worker_rt, _ = timed(dataclasses.replace(Runtime.build(rt.settings, clients=Clients(rt.settings)),
                                                     clock=AzureTime(lab.emu)), held)
        for what, n in run_queue(worker_rt, until_idle=True, max_seconds=patience, parallel=parallel,
                                 retry_seconds=1).items():
            counts[what] = counts.get(what, 0) + n
        side_real = time.monotonic() - started
        side = _drills(rt, timer_ids)
        together = _seconds(side) * time_scale
        calls = lab.app_calls(mark)
        left_after = _test_failover_left(lab)
        if kill:
            resumed = _drills(rt, set(killed.get("drills_running", [])))
            killed.update(ended=all(w.ended for w in resumed) and bool(resumed), results=_results(resumed),
                          cleanups=[(w.outcome or {}).get("cleanup", {}).get("ok") for w in resumed], left=left_after)
        progress(f"P7: {len(side)} drills in {together / 60:.1f} Azure min ({together / max(alone, 1):.2f}x one "
                 f"drill; {_results(side)}); longest invocation {held.longest:.2f} s; left {left_after or 'nothing'}")

    data: dict[str, Any] = {
        "clusters": clusters, "concurrency": concurrency, "time_scale": time_scale, "parallel": parallel,
        "one_drill_azure_seconds": round(alone, 1), "one_drill_real_seconds": round(alone_real, 1),
        "one_drill_steps": single_work.step if single_work else None,
        "one_drill_result": _results([single_work]) if single_work else None,
        "drills": len(side), "enqueued": len(enqueued), "all_azure_seconds": round(together, 1),
        "all_real_seconds": round(side_real, 1), "ratio": round(together / max(alone, 1.0), 2),
        "results": _results(side), "failures": _failures(side), "worker_counts": counts, "invocations": held.to_json(),
        "writes": calls.writes, "reads": calls.reads, "throttled_429": calls.throttled,
        "test_failover_left": left_after, "killed": killed,
    }
    ratio = data["ratio"]
    all_passed = data["results"] == {"passed": clusters}
    alone_words = (f"{ratio:.2f}x one drill ({alone / 60:.1f} Azure min, {data['one_drill_steps']} steps)" if single
           else "one drill not measured")
    goals = [
        Goal(f"{clusters} clusters drilled at DRILL_CONCURRENCY={concurrency} through the queue finish within "
             f"{FACTOR:g}x one drill's Azure duration",
             f"{together / 60:.1f} Azure min for {len(side)} drills = {alone_words}; results {data['results']}; "
             f"{calls.writes} writes, {calls.throttled} x 429; Azure's clock at {time_scale:g}x",
             single and ratio <= FACTOR and len(side) == clusters and all_passed and not left_after),
        Goal(f"no invocation runs longer than {INVOCATION_LIMIT_SECONDS / 60:.0f} real minutes",
             f"longest {held.longest:.2f} s, p95 {data['invocations']['p95_seconds']:.2f} s over {held.count} worker "
             "invocations", held.longest < INVOCATION_LIMIT_SECONDS),
    ]
    if kill:
        goals.append(Goal("a worker killed in the middle of a drill: the next worker resumes it and the test failover "
                          "is cleaned up",
                          f"the worker stopped between two steps with {len(killed.get('drills_running', []))} "
                          f"drill(s) in {', '.join(killed.get('stopped_in_phases', [])) or '-'} and "
                          f"{killed.get('test_failover_at_stop', 0)} test-failover resources; a new worker (a fresh "
                          f"runtime) ended them {killed.get('results')}, cleanups ok {killed.get('cleanups')}, left "
                          f"{', '.join(killed.get('left') or []) or 'nothing'}",
                          bool(killed.get("ended")) and not killed.get("left")
                          and killed.get("test_failover_at_stop", 0) > 0 and all(killed.get("cleanups") or [False])))
    gaps = [f"drills that did not pass: {'; '.join(data['failures'])}"] if data["failures"] else []
    return Figure("P7", f"{clusters} drills side by side", measured=goals[0].measured, goals=goals, data=data,
                  gaps=gaps)
