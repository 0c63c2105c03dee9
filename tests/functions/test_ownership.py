"""Act only on what it owns: the attacks of issue 15, each played on the emulator by someone with nothing but
tag-write rights, a foreign recovery plan or the runbook's key. Each ends with zero writes and zero Run Commands
on anything asr-s2d does not own, and a recorded reason (the redaction attack is ``test_redaction.py``, the
validators' ``tests/unit/test_input_scope.py``, the role's ``test_role_actions.py`` and ``tests/unit/test_infra.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from azure.mgmt.recoveryservicessiterecovery import models as m

from emulator import Emulator
from emulator.clients import control
from emulator.core.identity import APP_PRINCIPAL_ID
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from emulator.providers.resources.state import add_group
from shared.audit import service as audit
from shared.drill import service as drill
from shared.enrollment import service as enrollment
from shared.runtime import Runtime
from tests.functions.conftest import deliver, tag, writes_since
from tests.functions.drift_world import CLUSTER, DR_IP, add_node, mark_tested, node_tags, protect_in_group
from tests.work import runbook

A2A_LATEST = [{"instanceType": "A2A", "recoveryPointType": "Latest"}]


def run_commands(emu: Emulator) -> list[dict[str, Any]]:
    return list(control(emu, "GET", "guest/run-commands"))


def app_writes(emu: Emulator, seq: int, *, asking: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    """The app's ARM writes since ``seq``, but for the read-only node-list query on the cluster's own ``asking`` nodes."""
    own = {f"{v.lower()}/runcommand" for v in asking}
    return [f"{e.method} {e.path}" for e in writes_since(emu, seq) if e.principal == APP_PRINCIPAL_ID
            and e.path.lower() not in own]


def vm_in_group(emu: Emulator, demo: dict[str, Any], group: str, name: str, *, location: str | None = None,
                power: str = "running", subnet_id: str | None = None) -> str:
    """A VM in another resource group (created there by whoever owns that group), its NIC in ``subnet_id`` (default:
    the nodes' subnet)."""
    sub = demo["subscription_id"]
    region = location or demo["source_region"]
    with emu.world.lock:
        if emu.world.get(f"/subscriptions/{sub}/resourceGroups/{group}") is None:
            add_group(emu.world, sub, group, region)
        nic = network.create_nic(emu.world, subscription_id=sub, resource_group=group, name=f"{name}-nic",
                                 location=region, subnet_id=subnet_id or demo["source_subnet_id"])
        vm = compute.create_vm(emu.world, subscription_id=sub, resource_group=group, name=name, location=region,
                               nic_ids=[nic["id"]], os_disk={"name": f"{name}-osdisk", "size_gb": 128,
                                                             "sku": "Premium_LRS"}, tags={}, power_state=power)
    return str(vm["id"])


def subnet_in(emu: Emulator, demo: dict[str, Any], group: str, region: str, prefix: str) -> str:
    """Another team's VNet with one subnet ``prefix`` in ``region``; returns the subnet's ID."""
    sub = demo["subscription_id"]
    with emu.world.lock:
        if emu.world.get(f"/subscriptions/{sub}/resourceGroups/{group}") is None:
            add_group(emu.world, sub, group, region)
        vnet = network.add_virtual_network(emu.world, subscription_id=sub, resource_group=group, name=f"vnet-{group}",
                                           location=region, address_prefixes=[prefix], subnets={"default": prefix})
    return f"{vnet['id']}/subnets/default"


def plan_of(asr_sdk: Any, rt: Runtime, name: str, items: list[Any]) -> None:
    """Another team's recovery plan over their items (the real Site Recovery API)."""
    vault = rt.settings.vault_id
    state = rt.asr.observe()
    source, target = state.fabric_for("westeurope"), state.fabric_for("northeurope")
    assert source and target
    body = m.CreateRecoveryPlanInput(properties=m.CreateRecoveryPlanInputProperties(
        primary_fabric_id=source.id, recovery_fabric_id=target.id,
        groups=[m.RecoveryPlanGroup(group_type="Boot", replication_protected_items=[
            m.RecoveryPlanProtectedItem(id=i.id, virtual_machine_id=i.vm_id) for i in items])]))
    asr_sdk.replication_recovery_plans.begin_create(vault.split("/")[4], vault.split("/")[-1], name, body).result()


# -- 1. the runbook endpoint and a group asr-s2d never enrolled ---------------------------------------------

def test_the_runbook_never_readdresses_a_group_asr_s2d_never_enrolled(
        emu: Emulator, demo: dict[str, Any], converged: dict[str, Any], runtime: Runtime, asr_sdk: Any) -> None:
    sql = [add_node(emu, demo, f"sql-node{n}", {}) for n in (1, 2)]  # untagged: another team's
    for vm_id in sql:
        protect_in_group(runtime, emu, vm_id, "sqlgroup")
    control(emu, "POST", "asr/advance", {"to": "Protected"})
    items = [i for i in runtime.asr.list_items() if i.group_name == "sqlgroup"]
    plan_of(asr_sdk, runtime, "sql-plan", items)
    rg, vault = demo["vault_id"].split("/")[4], demo["vault_id"].split("/")[-1]
    asr_sdk.replication_recovery_plans.begin_unplanned_failover(rg, vault, "sql-plan", {"properties": {
        "failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired",
        "providerSpecificDetails": A2A_LATEST}}).result()
    seq, commands = emu.journal.last_seq, len(run_commands(emu))

    status, body = runbook(json.dumps({
        "RecoveryPlanName": "asr-s2d-sqlgroup", "FailoverType": "Unplanned", "FailoverDirection": "PrimaryToSecondary",
        "VmMap": {}}).encode(), runtime)

    assert status == 200 and body["outcome"] == "ignored" and "never enrolled" in body["reason"], body
    assert app_writes(emu, seq) == [] and len(run_commands(emu)) == commands
    lb = f"{demo['recovery_resource_group_id']}/providers/Microsoft.Network/loadBalancers/lb-asr-s2d-sqlgroup"
    assert runtime.network.get_load_balancer(lb) is None


# -- 2. a VM tagged into a production cluster ---------------------------------------------------------------

def test_a_vm_tagged_into_an_enrolled_cluster_is_reported_never_enabled_nor_run_on(
        emu: Emulator, demo: dict[str, Any], converged: dict[str, Any], runtime: Runtime,
        operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    intruder = vm_in_group(emu, demo, "rg-other", "intruder")
    event_queue()
    seq = emu.journal.last_seq
    tag(operator_sdk, intruder, node_tags(CLUSTER, witness=converged["witness_storage_account_id"], dr_ip=DR_IP))
    outcomes = deliver(event_queue(), enrollment.handle, runtime)

    assert [o.kind for o in outcomes] == ["unchanged"], [o.reason for o in outcomes]
    finding = next(f for f in outcomes[0].findings if f.code == "node-unconfirmed")
    assert finding.subject == "intruder" and "nothing is written" in finding.message
    # Not enabled, not added to the recovery plan; the only write is the read-only node-list query on node1.
    assert app_writes(emu, seq, asking=demo["vm_ids"]) == []
    assert not any(i.vm_id.lower() == intruder.lower() for i in runtime.asr.list_items())
    assert all(c["vm_id"].lower() != intruder.lower() for c in run_commands(emu))
    # The audit says so: never silence.
    report = audit.run_audit(runtime)
    assert "node-unconfirmed" in [f.code for c in report.clusters for f in c.findings]


def test_a_new_node_the_cluster_itself_lists_joins_through_the_guests_node_list(
        emu: Emulator, demo: dict[str, Any], converged: dict[str, Any], runtime: Runtime,
        operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    node3 = add_node(emu, demo, "s2d-node3", {})
    control(emu, "PATCH", "guest", {"nodes": [{"name": "s2d-node3", "state": "Up"}]}, id=demo["vm_ids"][0])
    event_queue()
    tag(operator_sdk, node3, node_tags(CLUSTER, witness=converged["witness_storage_account_id"], dr_ip=DR_IP))
    outcomes = deliver(event_queue(), enrollment.handle, runtime)

    assert [o.kind for o in outcomes] == ["enabled"], [o.reason for o in outcomes]
    asked = [c for c in run_commands(emu) if c["vm_id"].lower() in {v.lower() for v in demo["vm_ids"]}]
    assert asked and asked[-1]["script"][0].startswith("# asr-s2d:cluster-health")  # read-only, on a confirmed node
    record = runtime.records.enrollment(CLUSTER)
    assert record is not None and record.has_node(node3)
    assert next(n for n in record.nodes if n.name == "s2d-node3").confirmed_by == "guest"


# -- 3. one stray tag ---------------------------------------------------------------------------------------

def test_a_stray_dissenting_vm_never_hides_the_enrolled_cluster(
        emu: Emulator, demo: dict[str, Any], converged: dict[str, Any], runtime: Runtime) -> None:
    elsewhere = subnet_in(emu, demo, "rg-elsewhere", "francecentral", "10.90.0.0/24")
    stray = vm_in_group(emu, demo, "rg-elsewhere", "stray", location="francecentral", power="deallocated",
                        subnet_id=elsewhere)
    with emu.world.lock:
        vm = emu.world.get(stray)
        assert vm is not None
        vm["tags"].update({"asr-s2d": "true", "asr-s2d-cluster": CLUSTER.upper(), "asr-s2d-dr-ip": "10.20.1.99"})
    mark_tested(emu)
    report = audit.run_audit(runtime)

    assert [c.name for c in report.clusters] == [CLUSTER] and report.clusters[0].status == "green"
    assert [f.subject for f in report.findings if f.code == "tags-rejected"] == ["stray"]
    again = enrollment.enroll_cluster(enrollment.find_cluster(runtime, CLUSTER), runtime, event_id="again")
    assert again.kind == "unchanged", again.reason


# -- 4. names that collide ----------------------------------------------------------------------------------

def test_drilling_a_cluster_leaves_the_dr_load_balancer_of_a_cluster_named_like_its_test_one(
        emu: Emulator, demo: dict[str, Any], converged: dict[str, Any], runtime: Runtime) -> None:
    other = [add_node(emu, demo, f"t-node{n}", node_tags(f"{CLUSTER}-test", witness=None)) for n in (1, 2)]
    enrolled = enrollment.enroll_cluster(enrollment.find_cluster(runtime, f"{CLUSTER}-test"), runtime, event_id="t")
    assert enrolled.kind == "enabled", enrolled.reason
    control(emu, "POST", "asr/advance", {"to": "Protected"})
    lb_id = f"{demo['recovery_resource_group_id']}/providers/Microsoft.Network/loadBalancers/lb-asr-s2d-{CLUSTER}-test"
    before = runtime.network.get_load_balancer(lb_id)
    assert before is not None and other

    record = drill.run_drill(CLUSTER, runtime)

    assert record.passed, record.reason
    assert runtime.network.get_load_balancer(lb_id) == before  # neither rewritten nor deleted


# -- 5. ALLOW_DISABLE_REPLICATION and another team's replication ---------------------------------------------

def test_allow_disable_never_disables_a_vm_another_policy_protects(
        emu: Emulator, demo: dict[str, Any], converged: dict[str, Any], make_runtime: Callable[..., Runtime],
        asr_sdk: Any) -> None:
    rt = make_runtime(ALLOW_DISABLE_REPLICATION="true")
    theirs = add_node(emu, demo, "team-node1", {})
    rg, vault = demo["vault_id"].split("/")[4], demo["vault_id"].split("/")[-1]
    asr_sdk.replication_policies.begin_create(rg, vault, "team-policy", {"properties": {"providerSpecificInput": {
        "instanceType": "A2A", "recoveryPointHistory": 1440, "crashConsistentFrequencyInMinutes": 5,
        "appConsistentFrequencyInMinutes": 60, "multiVmSyncStatus": "Enable"}}}).result()
    state = rt.asr.observe()
    source = next(f for f in state.fabrics if f.location == "westeurope")
    target = next(f for f in state.fabrics if f.location == "northeurope")
    container, recovery = state.container_in(source.id), state.container_in(target.id)
    assert container and recovery
    policy = f"{demo['vault_id']}/replicationPolicies/team-policy"
    asr_sdk.replication_protection_container_mappings.begin_create(rg, vault, source.name, container.name, "team-map", {
        "properties": {"targetProtectionContainerId": recovery.id, "policyId": policy,
                       "providerSpecificInput": {"instanceType": "A2A"}}}).result()
    vm = rt.compute.get_vm(theirs)
    assert vm is not None
    rt.asr.enable(fabric=source.name, container=container.name, item=vm.vm_uuid, vm_id=vm.id, group="teamgroup",
                  policy_id=policy, recovery_container_id=recovery.id, disks=vm.disks,
                  cache_account_id=rt.settings.cache_storage_account_id,
                  recovery_resource_group_id=rt.settings.recovery_resource_group_id,
                  recovery_vnet_id=rt.settings.recovery_vnet_id, recovery_subnet="snet-s2d")
    with emu.world.lock:
        tagged = emu.world.get(theirs)
        assert tagged is not None
        tagged["tags"].update(node_tags(CLUSTER, witness=converged["witness_storage_account_id"], dr_ip=DR_IP))
    enrollment.confirm_node(rt, CLUSTER, "team-node1")  # even an operator's confirmation does not make it asr-s2d's
    seq = emu.journal.last_seq

    outcome = enrollment.enroll_cluster(enrollment.find_cluster(rt, CLUSTER), rt, event_id="tagged-theirs")

    assert app_writes(emu, seq, asking=demo["vm_ids"]) == [], outcome.plan
    finding = next(f for f in outcome.findings if f.code == "node-outside-group")
    assert "disables only what it enabled" in finding.fix
    item = next(i for i in rt.asr.list_items() if i.vm_id.lower() == theirs.lower())
    assert item.group_name == "teamgroup"


# -- 7. an unrelated tag write costs almost nothing ----------------------------------------------------------

def test_an_unrelated_tag_write_costs_at_most_three_reads_however_many_vms(
        emu: Emulator, demo: dict[str, Any], converged: dict[str, Any], runtime: Runtime,
        operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    fleet = subnet_in(emu, demo, "rg-fleet", demo["source_region"], "10.80.0.0/22")
    for n in range(250):  # three list pages of VMs, and as many of NICs
        vm_in_group(emu, demo, "rg-fleet", f"fleet-{n:03d}", subnet_id=fleet)
    event_queue()
    tag(operator_sdk, f"/subscriptions/{demo['subscription_id']}/resourceGroups/rg-fleet/providers/"
                      "Microsoft.Compute/virtualMachines/fleet-007", {"costcenter": "42"})
    events = event_queue()
    seq = emu.journal.last_seq
    outcomes = deliver(events, enrollment.handle, runtime)

    assert [o.kind for o in outcomes] == ["ignored"] and "not tagged asr-s2d=true" in outcomes[0].reason
    reads = [e for e in emu.journal.entries(since=seq) if e.method == "GET" and e.principal == APP_PRINCIPAL_ID]
    assert len(reads) <= 3, [e.path for e in reads]
