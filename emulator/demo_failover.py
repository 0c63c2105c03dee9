"""The failover chapter of ``make demo``: a recovery-plan failover on the emulator, the event ARM
publishes, and the cluster IP moving to its DR address (before/after printed).

Called by ``emulator.demo`` once the cluster is Protected. The operator's failover goes through the
real Site Recovery SDK; the app's real ``shared.failover.handle`` re-addresses the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACTION = "Microsoft.Resources.ResourceActionSuccess"


def _control(emu: Any, method: str, path: str, **query: str) -> Any:
    status, payload = emu.handle_control(method, f"/_emulator/{path}", query, b"")
    if status != 200:
        raise SystemExit(f"emulator control {method} {path}: {payload}")
    return payload


def _cluster_ip(emu: Any, vm_id: str) -> str:
    cluster = _control(emu, "GET", "guest", id=vm_id)
    resources = cluster.get("ip_resources") or []
    if not resources:
        return f"none ({cluster.get('access_point')} access point)"
    r = resources[0]
    return f"{r['address']} (probe {r['probe_port']}, network '{r['network']}', {r['state']})"


def failover_story(emu: Any, world: dict[str, Any], rt: Any, subscriber_id: str, *, credential: Any,
                   say: Callable[[str], None], detail: Callable[[str], None],
                   deliver: Callable[[list[dict[str, Any]], Callable[[Any, Any], Any], Any], list[Any]]) -> None:
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

    from shared import failover
    from shared.replication import ReplicationSpec

    plan = f"asr-s2d-{world['cluster_name']}"
    vault_rg, vault = world["vault_id"].split("/")[4], world["vault_id"].split("/")[-1]
    client = SiteRecoveryManagementClient(credential, world["subscription_id"], base_url=emu.endpoint,
                                          credential_scopes=[emu.endpoint + "/.default"],
                                          connection_verify=emu.ca_bundle, polling_interval=0)
    before = _cluster_ip(emu, world["vm_ids"][0])
    emu.events.drain(subscriber_id)  # what came before is not this chapter's business

    say(f"Disaster in {world['source_region']}: the operator runs an unplanned failover of recovery plan {plan}")
    client.replication_recovery_plans.begin_unplanned_failover(
        vault_rg, vault, plan, {"properties": {"failoverDirection": "PrimaryToRecovery",
                                               "sourceSiteOperations": "NotRequired",
                                               "providerSpecificDetails": [{"instanceType": "A2A",
                                                                            "recoveryPointType": "Latest"}]}}).result()
    items = rt.asr.list_items()
    for item in items:
        detail(f"{item.vm_id.split('/')[-1]} -> {(item.recovery_vm_id or '?').split('/')[-1]} in "
               f"{world['target_region']}: {item.protection_state}")
    recovered = next((i.recovery_vm_id for i in sorted(items, key=lambda i: i.vm_id.lower()) if i.recovery_vm_id), None)
    if recovered:
        detail(f"the recovered cluster's IP resource still holds {_cluster_ip(emu, recovered)}: ASR cannot change it")

    events = emu.events.drain(subscriber_id)
    actions = [e for e in events if (e.get("eventType") or e.get("type")) == ACTION
               and "replicationrecoveryplans" in str(e["data"].get("operationName", "")).lower()]
    say(f"ARM published {len(events)} event(s), {len(actions)} of them the plan's failover action; the "
        "failover-completed function handles them all")
    for outcome in deliver(events, failover.handle, rt):
        if outcome.kind != "ignored":
            detail(f"event {outcome.event_id[:8]} -> {outcome.kind}: {outcome.reason}")
            for line in outcome.plan:
                detail(f"  - {line}")

    lb = rt.network.get_load_balancer(ReplicationSpec.from_settings(rt.settings).load_balancer_id(world["cluster_name"]))
    say("The cluster answers on its DR IP")
    detail(f"before: {before} on {world['source_region']}'s load balancer")
    if recovered:
        detail(f"after:  {_cluster_ip(emu, recovered)}")
    if lb is not None:
        detail(f"DR load balancer {lb.id.split('/')[-1]}: frontend {lb.frontend_ip}, probe {lb.probe_port}, "
               f"{len(lb.pool_nic_ids)} recovered NIC(s) in its pool")
    runs = _control(emu, "GET", "guest/run-commands")
    for run in runs:
        params = ", ".join(f"{p['name']}={p['value']}" for p in run["parameters"])
        detail(f"Run Command on {run['vm_id'].split('/')[-1]}: {run['script'][0]} with parameters {params}")

    say("Event Grid delivers at least once: the same event again changes nothing")
    for outcome in deliver(actions, failover.handle, rt):
        detail(f"event {outcome.event_id[:8]} -> {outcome.kind} ({outcome.writes} write(s)): {outcome.reason}")
    detail(f"{len(_control(emu, 'GET', 'guest/run-commands'))} Run Command(s) in total")
