"""The drill and way-back chapters of ``make demo``.

``drill_story`` runs once the cluster is Protected (a drill needs a protected, healthy cluster): the app's
real ``shared.drill.run_drill`` test-fails the recovery plan over into the test network, moves the cluster
IP there, checks the cluster from inside a test node and cleans up; every check is printed.
``way_back_story`` runs after the failover chapter: the operator commits, the app reports the way back
without ALLOW_REPROTECT (the exact steps), then reprotects with it and shows the nodes replicating back.
The demo then audits (the cluster replicates back: amber, with the failback steps) and drills the way back
(``drill_story(way_back=True)``, into the test network in the original region). ``failback_story`` takes
it: the operator fails back, the failover function moves the cluster IP home, the operator commits; the
demo's audit then reprotects the cluster to the DR region again and ends with a drill of the normal kind.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from demo.stage import EventGrid, Out, cluster_ip, replication_passes


def drill_story(emu: Any, world: dict[str, Any], rt: Any, *, out: Out, way_back: bool = False,
                again: bool = False) -> None:
    from shared.drill import service as drill

    cluster = world["cluster_name"]
    if again:
        out.say(f"Home and protected again: the monthly drill of {cluster} proves it, test-failing over into "
                f"{rt.settings.test_vnet_id.split('/')[-1]} in {world['target_region']} as before the disaster")
    elif way_back:
        out.say(f"The monthly drill now tests the way back: {cluster} test-fails over from {world['target_region']} "
                f"into {rt.settings.failback_test_vnet_id.split('/')[-1]} in {world['source_region']} "
                "(FAILBACK_TEST_VNET_ID), the IP step there, checks from inside a node, cleanup")
    else:
        out.say(f"A monthly drill of {cluster} (asr-s2d drill, or the DRILL_SCHEDULE timer): test failover into "
                f"{rt.settings.test_vnet_id.split('/')[-1]}, the IP step, checks from inside a node, cleanup")
    record = drill.run_drill(cluster, rt, trigger="demo", report=lambda message: out.detail(f"… {message}"))
    for check in record.checks:
        out.detail(f"{'ok    ' if check.ok else 'FAILED'} {check.name:<25} {check.detail}")
    out.detail(f"drill {record.result.value.upper()} in {record.drill_seconds:.1f}s (recovery point "
               f"{record.recovery_point_age_seconds} s old, test IP {record.test_ip}); cleanup: {record.cleanup.detail}")
    out.detail(f"record: {record.blob} and clusters/.../last-drill.json (the audit's \"last successful drill\")")
    if not record.passed:
        raise SystemExit(f"the demo drill did not pass: {record.reason}")


def way_back_story(emu: Any, world: dict[str, Any], rt: Any, *, client: Any, out: Out, grid: EventGrid,
                   subscriber_id: str) -> None:
    from shared.runtime import Runtime
    from shared.way_back import service as reprotect

    cluster = world["cluster_name"]
    plan = f"asr-s2d-{cluster}"
    vault_rg, vault = world["vault_id"].split("/")[4], world["vault_id"].split("/")[-1]
    out.say(f"The cluster works in {world['target_region']}: the operator commits the failover of {plan}")
    client.replication_recovery_plans.begin_failover_commit(vault_rg, vault, plan).result()
    grid.deliver(emu.events.drain(subscriber_id))
    for item in rt.asr.list_items():
        out.detail(f"{item.vm_id.split('/')[-1]}: {item.protection_state}: nothing protects it now")

    out.say("The way back, reported (ALLOW_REPROTECT is off): what the audit and `asr-s2d reprotect` say")
    reported = reprotect.reprotect_cluster(cluster, rt, trigger="demo")
    out.detail(f"{reported.kind}: {reported.reason}")
    for finding in reported.findings:
        out.detail(f"{finding.severity.value} {finding.code}: {finding.message}")
        out.detail(f"fix: {finding.fix[:400]}…")

    out.say("The way back, taken (ALLOW_REPROTECT=true, DR_CACHE_STORAGE_ACCOUNT_ID set)")
    allowed = Runtime.build(replace(rt.settings, allow_reprotect=True), clients=rt.clients)
    done = reprotect.reprotect_cluster(cluster, allowed, trigger="demo")
    out.detail(f"{done.kind} ({done.writes} write(s)): {done.reason}")
    for line in done.plan:
        out.detail(f"  - {line}")
    replication_passes(emu, out)  # the reprotect jobs end, the resync completes
    grid.deliver(emu.events.drain(subscriber_id))
    for item in rt.asr.list_items():
        out.detail(f"{item.vm_id.split('/')[-1]} replicates back to {world['source_region']}: {item.protection_state}, "
                   f"active location {item.active_location}")


def failback_story(emu: Any, world: dict[str, Any], rt: Any, *, client: Any, out: Out, grid: EventGrid,
                   subscriber_id: str) -> None:
    cluster, home = world["cluster_name"], world["source_region"]
    plan = f"asr-s2d-{cluster}"
    vault_rg, vault = world["vault_id"].split("/")[4], world["vault_id"].split("/")[-1]
    node = world["vm_ids"][0]
    grid.deliver(emu.events.drain(subscriber_id))  # the chapter before's last events
    out.say(f"The way home: the operator fails {cluster} back to {home} (failover of {plan}, RecoveryToPrimary, "
            "the DR nodes shut down first: Azure-to-Azure has no planned failover)")
    client.replication_recovery_plans.begin_unplanned_failover(
        vault_rg, vault, plan, {"properties": {"failoverDirection": "RecoveryToPrimary", "sourceSiteOperations": "Required",
                                               "providerSpecificDetails": [{"instanceType": "A2A"}]}}).result()
    for item in rt.asr.list_items():
        out.detail(f"{(item.recovery_vm_id or '?').split('/')[-1]} runs in {item.recovery_region}: "
                   f"{item.protection_state}")
    out.detail(f"the original node boots the replicated disks: its cluster IP resource holds {cluster_ip(emu, node)}")

    events = emu.events.drain(subscriber_id)
    out.say(f"Event Grid delivered {len(events)} event(s); the failover-completed function sees the failback and "
            "moves the cluster IP back to the address the original load balancer holds")
    out.outcomes(grid.deliver(events), ignored=False)
    out.detail(f"after: {cluster_ip(emu, node)}")

    out.say(f"The cluster works in {home}: the operator commits the failback")
    client.replication_recovery_plans.begin_failover_commit(vault_rg, vault, plan).result()
    grid.deliver(emu.events.drain(subscriber_id))
    for item in rt.asr.list_items():
        out.detail(f"{(item.recovery_vm_id or '?').split('/')[-1]}: {item.protection_state}: nothing protects it now")
