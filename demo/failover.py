"""The failover chapter of ``make demo``: a recovery-plan failover on the emulator, the event ARM
publishes, and the cluster IP moving to its DR address (before/after printed).

Called by ``demo.story`` once the cluster is Protected. The operator's failover goes through the
real Site Recovery SDK; the app's failover-completed function enqueues the re-addressing and its worker does it.
"""

from __future__ import annotations

from typing import Any

from demo.stage import ACTION, EventGrid, Out, cluster_ip, operator
from emulator.clients import control

FAILED_OVER = ("unplannedfailovercommitpendingstatesbegin", "unplannedfailovercommitted")


def _failed_over(emu: Any) -> bool:
    from emulator.endstate import snapshot

    items = snapshot(emu)["protected_items"].values()
    return bool(items) and all((i["protection_state"] or "").lower() in FAILED_OVER for i in items)


def failover_story(emu: Any, world: dict[str, Any], rt: Any, subscriber_id: str, *, client: Any, out: Out,
                   grid: EventGrid) -> None:
    from shared.enrollment.plan import ReplicationSpec

    plan = f"asr-s2d-{world['cluster_name']}"
    vault_rg, vault = world["vault_id"].split("/")[4], world["vault_id"].split("/")[-1]
    before = cluster_ip(emu, world["vm_ids"][0])
    grid.deliver(emu.events.drain(subscriber_id))  # the chapter before's last events

    out.say(f"Disaster in {world['source_region']}: the operator runs an unplanned failover of recovery plan {plan}")
    operator(lambda: client.replication_recovery_plans.begin_unplanned_failover(
                 vault_rg, vault, plan, {"properties": {"failoverDirection": "PrimaryToRecovery",
                                                        "sourceSiteOperations": "NotRequired",
                                                        "providerSpecificDetails": [{
                                                            "instanceType": "A2A", "recoveryPointType": "Latest",
                                                            "multiVmSyncPointOption": "UseMultiVmSyncRecoveryPoint"}]}}
             ).result(), lambda: _failed_over(emu), what=f"failover of {plan}", detail=out.detail, run=grid.run)
    from emulator.endstate import snapshot

    state = snapshot(emu)
    for vm, item in sorted(state["protected_items"].items()):
        out.detail(f"{vm} -> {item['recovery_vm'] or '?'} in {world['target_region']}: {item['protection_state']}")
    recovered = sorted(v["id"] for v in emu.world.by_type("Microsoft.Compute/virtualMachines")
                       if v.get("location") == world["target_region"])
    if recovered:
        out.detail(f"the recovered cluster's IP resource still holds {cluster_ip(emu, recovered[0])}: ASR cannot "
                   "change it")

    events = emu.events.drain(subscriber_id)
    actions = [e for e in events if (e.get("eventType") or e.get("type")) == ACTION
               and "replicationrecoveryplans" in str(e["data"].get("operationName", "")).lower()]
    out.say(f"Event Grid delivered {len(events)} event(s), {len(actions)} of them the plan's failover action; "
            "the failover-completed function handles the actions, the VM-tags function the rest (ignored: "
            "recovered VMs carry the source's tags but live in the target region)")
    out.outcomes(grid.deliver(events), ignored=False)

    lb = rt.network.get_load_balancer(ReplicationSpec.from_settings(rt.settings).load_balancer_id(world["cluster_name"]))
    out.say("The cluster answers on its DR IP")
    out.detail(f"before: {before} on {world['source_region']}'s load balancer")
    if recovered:
        out.detail(f"after:  {cluster_ip(emu, recovered[0])}")
    if lb is not None:
        out.detail(f"DR load balancer {lb.id.split('/')[-1]}: frontend {lb.frontend_ip}, probe {lb.probe_port}, "
                   f"{len(lb.pool_nic_ids)} recovered NIC(s) in its pool")
    for entry in control(emu, "GET", "guest/run-commands"):
        params = ", ".join(f"{p['name']}={p['value']}" for p in entry["parameters"])
        out.detail(f"Run Command on {entry['vm_id'].split('/')[-1]}: {entry['script'][0]} with parameters {params}")

    out.say("Event Grid delivers at least once: the same event again changes nothing")
    for outcome in grid.deliver(actions):
        out.detail(f"event {outcome.event_id[:8]} -> {outcome.kind} ({outcome.writes} write(s)): {outcome.reason}")
    out.detail(f"{len(control(emu, 'GET', 'guest/run-commands'))} Run Command(s) in total")
