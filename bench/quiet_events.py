"""P8 an unrelated tag write: what the app spends on an event that concerns no cluster, in a subscription of many VMs.

A subscription-wide tag remediation (``costcenter`` on every VM) sends one event per VM; each must cost the app
almost nothing, or the remediation throttles its identity, the failover IP step included. The demo world gets
``vms`` untagged VMs (one NIC each, in a VNet of their own: three list pages per hundred), then the operator
writes an unrelated tag on ``events`` of them through the ARM Tags API; every event is delivered to the
VM-tags trigger's work (``shared.enrollment.service.accept`` + ``enqueue``: it screens without calling Azure, and
answers at once), then the worker takes each item's first step: the quick look at the VM's tags, its availability
set's and its resource group's. Counted from the journal (app principal), trigger and worker together: reads per
event, and writes (none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.delivery import Enqueued, deliver, trigger
from bench.lab import progress
from bench.report import Figure, Goal
from bench.world import add_untagged_vms, subscribe, tag_nodes

if TYPE_CHECKING:
    from bench.lab import Lab

VMS = 3000
EVENTS = 20
GOAL_READS = 3  # the VM, its availability set, its resource group


def run(lab: Lab, *, vms: int = VMS, events: int = EVENTS) -> Figure:
    from shared.enrollment import service as enrollment
    from shared.work import item as items
    from shared.work.worker import run_queue

    world = lab.fresh()
    rt = lab.runtime(world)
    fleet = add_untagged_vms(lab, world, vms)
    progress(f"P8: {vms} untagged VMs seeded; the operator tags {events} of them costcenter=42")
    sub = subscribe(lab)
    tag_nodes(lab, world, [(vm_id, {"costcenter": "42"}) for vm_id in fleet[:: max(1, len(fleet) // events)][:events]])
    pending = lab.emu.events.drain(sub.id)
    mark = lab.mark()
    delivery = deliver(pending, trigger(enrollment.accept), rt)
    run_queue(rt, until_idle=True, max_seconds=600)  # the worker's first step: the quick look at the VM's tags
    calls = lab.app_calls(mark)
    works = [items.load(rt.records, o.work) for o in delivery.outcomes if isinstance(o, Enqueued)]
    kinds = sorted({str((w.outcome or {}).get("outcome") or w.status) for w in works if w is not None}
                   | {o.kind for o in delivery.outcomes if not isinstance(o, Enqueued)})
    per_event = calls.reads / max(1, len(pending))
    measured = (f"{per_event:.1f} ARM reads per event ({calls.reads} for {len(pending)} events) at {vms:,} VMs; "
                f"{calls.writes} writes; outcomes {', '.join(kinds)}")
    goals = [Goal(f"at most {GOAL_READS} ARM reads per unrelated tag event at {vms:,} VMs, no write",
                  measured, per_event <= GOAL_READS and calls.writes == 0 and kinds == ["ignored"])]
    return Figure("P8", "an unrelated tag write", measured=measured, goals=goals,
                  data={"vms": vms, "events": len(pending), "reads": calls.reads, "writes": calls.writes,
                        "reads_per_event": round(per_event, 2), "outcomes": kinds})
