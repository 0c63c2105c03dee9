"""plan_enrollment as a table: observed state in, actions and findings out (no I/O)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from shared import actions, names
from shared.enrollment import plan as r
from shared.errors import RejectedInput
from shared.inventory import (
    AsrState,
    Container,
    ContainerMapping,
    Fabric,
    ItemNic,
    LoadBalancer,
    NetworkMapping,
    Policy,
    ProtectedItem,
    RecoveryPlan,
    Vm,
    frozen_tags,
)
from shared.tags import ClusterIntent
from tests.unit.builders import SUBNET, VAULT, cluster, dr_subnet, empty_vault, facts, spec, vm

NODE1, NODE2 = vm("s2d-node1"), vm("s2d-node2")


def kinds(plan: r.Plan) -> list[str]:
    return [type(a).__name__ for a in plan.actions]


def plan_for(nodes: tuple = (NODE1, NODE2), asr: AsrState | None = None, *, lb: LoadBalancer | None = None,
             intent: ClusterIntent | None = None, **spec_changes: object) -> r.Plan:
    return r.plan_enrollment(cluster(*nodes, intent=intent), facts(*nodes), asr or empty_vault(), spec(**spec_changes),
                             r.DrNetwork(subnet=dr_subnet(), load_balancer=lb))


def item_of(node: Vm) -> str:
    return names.item_name(node.vm_uuid, node.name)


def converged() -> tuple[AsrState, LoadBalancer]:
    s = spec()
    src_f, tgt_f = names.fabric_name("westeurope"), names.fabric_name("northeurope")
    src_c = s.container_id(src_f, names.container_name("westeurope"))
    tgt_c = s.container_id(tgt_f, names.container_name("northeurope"))
    pool = s.pool_id("s2dclu01")
    items = tuple(ProtectedItem(
        id=f"{src_c}/replicationProtectedItems/{item_of(n)}", name=item_of(n), vm_id=n.id,
        group_name="s2dclu01", group_id="g1", protection_state="Protected", replication_health="Normal",
        active_location="Primary", policy_id=s.policy_id(), rpo_seconds=30, test_failover_state="None",
        last_test_failover=None, nics=(ItemNic(n.nic_ids[0], "ipconfig1", (pool,), (), None),), cache_account_ids=(),
        recovery_vm_name=n.name) for n in (NODE1, NODE2))
    asr = AsrState(
        vault_id=VAULT, vault_location="northeurope",
        fabrics=(Fabric(s.fabric_id(src_f), src_f, "westeurope"), Fabric(s.fabric_id(tgt_f), tgt_f, "northeurope")),
        containers=(Container(src_c, "c1", s.fabric_id(src_f)), Container(tgt_c, "c2", s.fabric_id(tgt_f))),
        mappings=(ContainerMapping(f"{src_c}/m/a", "a", src_c, tgt_c, s.policy_id()),
                  ContainerMapping(f"{tgt_c}/m/b", "b", tgt_c, src_c, s.policy_id())),
        policies=(Policy(s.policy_id(), s.policy_name, 0, 5, 1440, "Enable"),),
        network_mappings=(NetworkMapping("nm1", "nm1", SUBNET.split("/subnets/")[0], s.recovery_vnet_id),
                          NetworkMapping("nm2", "nm2", s.recovery_vnet_id, SUBNET.split("/subnets/")[0])),
        items=items,
        plans=(RecoveryPlan(f"{VAULT}/replicationRecoveryPlans/asr-s2d-s2dclu01", names.plan_name("s2dclu01"),
                            tuple(i.id for i in items), "", ""),))
    lb = LoadBalancer(id=s.load_balancer_id("s2dclu01"), location="northeurope", frontend_ip="10.20.1.4",
                      frontend_subnet_id=dr_subnet().id, pool_id=pool, pool_nic_ids=(), probe_port=59999,
                      has_ha_ports_rule=True, tags=frozen_tags({"managed-by": "asr-s2d", "asr-s2d-cluster": "s2dclu01"}))
    return asr, lb


def test_fresh_vault_gets_plumbing_then_one_enable_per_node_in_one_group() -> None:
    plan = plan_for()
    assert kinds(plan) == ["CreateFabric", "CreateFabric", "CreateContainer", "CreateContainer", "EnsurePolicy",
                           "CreateContainerMapping", "CreateContainerMapping", "CreateNetworkMapping",
                           "CreateNetworkMapping", "EnableNode", "EnableNode", "UpsertRecoveryPlan",
                           "EnsureLoadBalancer", "SetPoolMapping", "SetPoolMapping"]
    enables = [a for a in plan.actions if isinstance(a, actions.EnableNode)]
    assert {a.group for a in enables} == {"s2dclu01"}
    assert {a.recovery_subnet for a in enables} == {"snet-s2d"}
    policy = next(a for a in plan.actions if isinstance(a, actions.EnsurePolicy))
    assert policy.exists is False and policy.retention_minutes == 1440
    upsert = next(a for a in plan.actions if isinstance(a, actions.UpsertRecoveryPlan))
    assert len(upsert.items) == 2 and not upsert.exists
    assert not plan.findings and plan.waiting is None


def test_converged_state_plans_nothing() -> None:
    asr, lb = converged()
    plan = plan_for(asr=asr, lb=lb)
    assert plan.actions == () and plan.findings == ()


def test_existing_fabric_for_a_region_is_reused_whatever_its_name() -> None:
    portal = Fabric(f"{VAULT}/replicationFabrics/asr-a2a-default-westeurope", "asr-a2a-default-westeurope", "westeurope")
    plan = plan_for(asr=replace(empty_vault(), fabrics=(portal,)))
    assert [a.region for a in plan.actions if isinstance(a, actions.CreateFabric)] == ["northeurope"]
    container = next(a for a in plan.actions if isinstance(a, actions.CreateContainer))
    assert container.fabric == "asr-a2a-default-westeurope"


def test_edited_policy_is_corrected_to_crash_consistent_only() -> None:
    asr, lb = converged()
    edited = replace(asr, policies=(replace(asr.policies[0], app_consistent_minutes=60),))
    assert kinds(plan_for(asr=edited, lb=lb)) == ["EnsurePolicy"]
    sync_off = replace(asr, policies=(replace(asr.policies[0], multi_vm_sync="Disable"),))
    assert [a.exists for a in plan_for(asr=sync_off, lb=lb).actions] == [True]


def test_node_protected_in_another_group_is_reported_never_disabled_by_default() -> None:
    asr, lb = converged()
    moved = replace(asr, items=(replace(asr.items[0], group_name="othergroup"), asr.items[1]))
    plan = plan_for(asr=moved, lb=lb)
    assert not any(isinstance(a, (actions.DisableNode, actions.EnableNode)) for a in plan.actions)
    assert [f.code for f in plan.findings] == ["node-outside-group"]


def test_node_protected_in_another_group_is_disabled_only_when_allowed() -> None:
    asr, lb = converged()
    moved = replace(asr, items=(replace(asr.items[0], group_name="othergroup"), asr.items[1]))
    plan = plan_for(asr=moved, lb=lb, allow_disable=True)
    assert [type(a).__name__ for a in plan.actions if isinstance(a, actions.DisableNode)] == ["DisableNode"]


def test_waits_for_the_expected_node_count() -> None:
    plan = plan_for(intent=ClusterIntent(None, 3, None, 59999, None, False))
    assert plan.actions == () and plan.waiting == "2 of 3 nodes tagged"


def test_a_stopped_node_is_not_enabled_and_reported() -> None:
    stopped = replace(NODE2, power_state="deallocated")
    plan = plan_for(nodes=(NODE1, stopped))
    enables = [a.vm_name for a in plan.actions if isinstance(a, actions.EnableNode)]
    assert enables == ["s2d-node1"]
    assert [f.code for f in plan.findings] == ["node-not-running"]


def test_only_stopped_nodes_means_waiting() -> None:
    plan = plan_for(nodes=(replace(NODE1, power_state="deallocated"), replace(NODE2, power_state="stopped")))
    assert plan.waiting and "not running" in plan.waiting
    assert not any(isinstance(a, actions.EnableNode) for a in plan.actions)


@pytest.mark.parametrize("nodes,message", [
    (tuple(vm(f"n{i}") for i in range(17)), "at most 16"),
    ((NODE1, vm("s2d-node9", region="eastus")), "2 regions"),
    ((vm("dr1", region="northeurope"), vm("dr2", region="northeurope")), "target region"),
])
def test_impossible_topologies_are_rejected(nodes: tuple, message: str) -> None:
    with pytest.raises(RejectedInput, match=message):
        plan_for(nodes=nodes)


@pytest.mark.parametrize("ip", ["10.30.1.10", "10.20.1.0", "10.20.1.1", "10.20.1.3", "10.20.1.255"])
def test_dr_ip_outside_the_dr_subnet_or_reserved_is_rejected(ip: str) -> None:
    with pytest.raises(RejectedInput, match="asr-s2d-dr-ip"):
        plan_for(intent=ClusterIntent(None, None, ipaddress.IPv4Address(ip), 59999, None, False))


def test_dr_ip_tag_drives_the_staged_frontend_and_a_change_restages_it() -> None:
    intent = ClusterIntent(None, None, ipaddress.IPv4Address("10.20.1.50"), 59999, None, False)
    staged = next(a for a in plan_for(intent=intent).actions if isinstance(a, actions.EnsureLoadBalancer))
    assert staged.frontend_ip == "10.20.1.50"
    asr, lb = converged()
    assert kinds(plan_for(asr=asr, lb=lb, intent=intent)) == ["EnsureLoadBalancer"]


def test_vault_outside_the_target_region_is_rejected() -> None:
    with pytest.raises(RejectedInput, match="not in the target region"):
        plan_for(asr=replace(empty_vault(), vault_location="westeurope"))


def test_missing_pool_mapping_is_restored_alone() -> None:
    asr, lb = converged()
    lost = replace(asr, items=(replace(asr.items[0], nics=()), asr.items[1]))
    assert kinds(plan_for(asr=lost, lb=lb)) == ["SetPoolMapping"]


def test_a_group_member_that_lost_its_tag_stays_in_the_recovery_plan() -> None:
    asr, lb = converged()
    plan = r.plan_enrollment(cluster(NODE1), facts(NODE1), asr, spec(), r.DrNetwork(subnet=dr_subnet(), load_balancer=lb))
    assert not any(isinstance(a, actions.UpsertRecoveryPlan) for a in plan.actions)
    assert [f.code for f in plan.findings] == ["untagged-protected-node"]
