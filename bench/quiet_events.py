"""P6 an unrelated tag write: what the app spends on an event that concerns no cluster, in a subscription of many VMs.

A subscription-wide tag remediation (``costcenter`` on every VM) sends one event per VM; each must cost the app
almost nothing, or the remediation throttles its identity, the failover IP step included. The demo world gets
``vms`` untagged VMs (one NIC each, in a VNet of their own: three list pages per hundred), then the operator
writes an unrelated tag on ``events`` of them through the ARM Tags API; every event is delivered to the
VM-tags function. Counted from the journal (app principal): reads per event, and writes (none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.delivery import deliver
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

    world = lab.fresh()
    rt = lab.runtime(world)
    fleet = add_untagged_vms(lab, world, vms)
    progress(f"P6: {vms} untagged VMs seeded; the operator tags {events} of them costcenter=42")
    sub = subscribe(lab)
    tag_nodes(lab, world, [(vm_id, {"costcenter": "42"}) for vm_id in fleet[:: max(1, len(fleet) // events)][:events]])
    pending = lab.emu.events.drain(sub.id)
    mark = lab.mark()
    delivery = deliver(pending, enrollment.handle, rt)
    calls = lab.app_calls(mark)
    kinds = sorted({o.kind for o in delivery.outcomes})
    per_event = calls.reads / max(1, len(pending))
    measured = (f"{per_event:.1f} ARM reads per event ({calls.reads} for {len(pending)} events) at {vms:,} VMs; "
                f"{calls.writes} writes; outcomes {', '.join(kinds)}")
    goals = [Goal(f"at most {GOAL_READS} ARM reads per unrelated tag event at {vms:,} VMs, no write",
                  measured, per_event <= GOAL_READS and calls.writes == 0 and kinds == ["ignored"])]
    return Figure("P6", "an unrelated tag write", measured=measured, goals=goals,
                  data={"vms": vms, "events": len(pending), "reads": calls.reads, "writes": calls.writes,
                        "reads_per_event": round(per_event, 2), "outcomes": kinds})
