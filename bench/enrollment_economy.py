"""P2 enrollment economy: the ARM calls to enroll the demo two-node cluster in a fresh vault, and on a re-run.

The operator tags both nodes (two ARM events). The first event enrolls the cluster; the re-run is the second
node's event plus both events delivered again (Event Grid's duplicates, answered from the record of the event
without an ARM read). Counted from the journal, the app's
principal only, long-running-operation polls apart. Goal: the writes are the plumbing plus one enable PUT per
node, each resource written once (nothing redundant), and the re-run writes nothing.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from bench.delivery import deliver
from bench.lab import SHARED_PLUMBING, progress
from bench.report import Figure, Goal
from bench.world import tag_demo

if TYPE_CHECKING:
    from bench.lab import Lab

ENABLE = "enable replication (protected item PUT)"
PER_CLUSTER = frozenset({"recovery plan", "load balancer", "recovery availability set"})
PER_NODE = frozenset({ENABLE, "DR pool mapping (protected item PATCH)"})


def run(lab: Lab) -> Figure:
    from shared.enrollment import service as enrollment

    world = lab.fresh()
    rt = lab.runtime(world)
    events = tag_demo(lab, world)
    nodes = len(world["vm_ids"])
    progress(f"P2: enrolling the demo cluster ({nodes} nodes) in a fresh vault from the first tag event")

    mark = lab.mark()
    first = deliver(events[:1], enrollment.handle, rt)
    enroll = lab.app_calls(mark)
    mark = lab.mark()
    again = deliver([*events[1:], *events], enrollment.handle, rt)
    rerun = lab.app_calls(mark)

    written = Counter(enroll.write_labels)
    repeated = sorted(label for label, n in written.items() if n > 1)
    kinds = enroll.by_kind
    shared = sum(n for k, n in kinds.items() if k in SHARED_PLUMBING)
    cluster = sum(n for k, n in kinds.items() if k in PER_CLUSTER)
    per_node = sum(n for k, n in kinds.items() if k in PER_NODE)
    unexpected = sorted(k for k in kinds if k not in SHARED_PLUMBING | PER_CLUSTER | PER_NODE)
    enables = kinds.get(ENABLE, 0)
    data: dict[str, Any] = {
        "nodes": nodes, "first_event_outcome": first.kinds, "rerun_outcomes": again.kinds,
        "enroll": enroll.to_json(), "enroll_writes": enroll.write_labels, "rerun": rerun.to_json(),
        "shared_plumbing_writes": shared, "per_cluster_writes": cluster, "per_node_writes": per_node,
        "resources_written_twice": repeated, "unexpected_write_kinds": unexpected,
    }
    progress(f"P2: enroll {enroll.reads} reads + {enroll.lro} LRO polls, {enroll.writes} writes; re-run "
             f"{rerun.reads} reads, {rerun.writes} writes")
    listing = ", ".join(f"{n} {k}" for k, n in kinds.items())
    goals = [
        Goal("writes = plumbing + one enable PUT per node, nothing redundant",
             f"{enroll.writes} writes: {shared} shared plumbing (once per vault, region pair and VNet) + {cluster} for "
             f"the cluster (recovery plan, DR load balancer, recovery availability set) + {per_node} per node "
             f"({enables} enable PUTs, {per_node - enables} DR pool-mapping PATCHes); no resource written twice — "
             f"{listing}; "
             f"{enroll.reads} reads, {enroll.lro} LRO polls",
             enables == nodes and not repeated and not unexpected and first.kinds == {"enabled": 1}),
        Goal("re-run (the other node's event, then both again) makes 0 writes",
             f"{rerun.writes} writes, {rerun.reads} reads for {len(events) + 1} events "
             f"({rerun.reads // max(1, len(events) + 1)} per event)",
             rerun.writes == 0 and rerun.failed == 0),
    ]
    notes = ["the enrollment's writes, in order: " + "; ".join(enroll.write_labels)]
    if per_node > enables:
        notes.append("the DR pool mapping is one PATCH per node (ReplicationProtectedItems_Update): ASR's enable "
                     "input (A2AEnableProtectionInput) cannot carry the NICs' recovery load-balancer pool")
    return Figure("P2", "enrollment economy (demo cluster, fresh vault)", measured=listing, goals=goals, data=data,
                  notes=notes)
