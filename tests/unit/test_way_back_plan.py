"""plan_way_back as a table: what the service observed after a failover in, stage, actions and findings out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared.actions import EnsureLoadBalancer, JoinPool, Purpose, ReprotectItem
from shared.inventory import (
    AsrState,
    Container,
    ContainerMapping,
    Disk,
    Fabric,
    LoadBalancer,
    Nic,
    ProtectedItem,
    Subnet,
    frozen_tags,
)
from shared.way_back.plan import Stage, WayBackSpec, WayBackView, plan_way_back
from tests.unit.builders import DR_RG, RG, SUB, SUBNET, VAULT, vm

WE_FABRIC = Fabric(f"{VAULT}/replicationFabrics/asr-s2d-westeurope", "asr-s2d-westeurope", "westeurope")
NE_FABRIC = Fabric(f"{VAULT}/replicationFabrics/asr-s2d-northeurope", "asr-s2d-northeurope", "northeurope")
WE = Container(f"{WE_FABRIC.id}/replicationProtectionContainers/we", "we", WE_FABRIC.id)
NE = Container(f"{NE_FABRIC.id}/replicationProtectionContainers/ne", "ne", NE_FABRIC.id)
POLICY = f"{VAULT}/replicationPolicies/asr-s2d-crash-consistent"
FORWARD = ContainerMapping(f"{WE.id}/replicationProtectionContainerMappings/fwd", "fwd", WE.id, NE.id, POLICY)
REVERSE = ContainerMapping(f"{NE.id}/replicationProtectionContainerMappings/rev", "rev", NE.id, WE.id, POLICY)
ASR = AsrState(vault_id=VAULT, vault_location="northeurope", fabrics=(WE_FABRIC, NE_FABRIC), containers=(WE, NE),
               mappings=(FORWARD, REVERSE))
DR_CACHE = f"{DR_RG}/providers/Microsoft.Storage/storageAccounts/stasrcachene01"
SPEC = WayBackSpec(target_region="northeurope", allow_reprotect=True, dr_cache_account_id=DR_CACHE,
                   vault_name="rsv-s2d-dr")
FAILBACK_ID = f"{RG}/providers/Microsoft.Network/loadBalancers/lb-asr-s2d-s2dclu01.failback"
SOURCE_LB = f"{RG}/providers/Microsoft.Network/loadBalancers/lb-s2d-cluster"
NODES = (vm("s2d-node1"), vm("s2d-node2"))
NODE_NICS = tuple(node.nic_ids[0] for node in NODES)


def recovered(n: int) -> Any:
    node = vm(f"s2d-node{n}", region="northeurope")
    dr_id = f"{DR_RG}/providers/Microsoft.Compute/virtualMachines/s2d-node{n}"
    return replace(node, id=dr_id, disks=(Disk(f"{DR_RG}/providers/Microsoft.Compute/disks/s2d-node{n}-osdisk-asr",
                                               "Premium_LRS", True),))


def item(n: int, state: str = "UnplannedFailoverCommitted", *, container: Container = WE) -> ProtectedItem:
    return ProtectedItem(
        id=f"{container.id}/replicationProtectedItems/guid-{n}", name=f"guid-{n}", vm_id=NODES[n - 1].id,
        group_name="s2dclu01", group_id="g", protection_state=state, replication_health="Normal",
        active_location="Recovery", policy_id=POLICY, rpo_seconds=None, test_failover_state="None",
        last_test_failover=None, nics=(), cache_account_ids=(), recovery_vm_name=f"s2d-node{n}",
        recovery_vm_id=recovered(n).id)


def nic(node: Any, pools: tuple[str, ...] = (f"{SOURCE_LB}/backendAddressPools/be",)) -> Nic:
    return Nic(id=node.nic_ids[0], location="westeurope", ip_config_name="ipconfig1", subnet_id=SUBNET,
               private_ip="10.10.1.4", pool_ids=pools, vm_id=node.id)


def lb(lb_id: str = SOURCE_LB, *, members: tuple[str, ...] = NODE_NICS,
       ha: bool = True, port: int = 59999) -> LoadBalancer:
    """The original load balancer, or (at ``FAILBACK_ID``) asr-s2d's own failback one, tagged as asr-s2d tags it."""
    tags = ({"managed-by": "asr-s2d", "asr-s2d-cluster": "s2dclu01", "asr-s2d-purpose": "failback"}
            if lb_id == FAILBACK_ID else {})
    return LoadBalancer(id=lb_id, location="westeurope", frontend_ip="10.10.1.10", frontend_subnet_id=SUBNET,
                        pool_id=f"{lb_id}/backendAddressPools/be", pool_nic_ids=members, probe_port=port,
                        has_ha_ports_rule=ha, tags=frozen_tags(tags))


def view(*items: ProtectedItem, **changes: Any) -> WayBackView:
    base = WayBackView(
        cluster="s2dclu01", items=items, asr=ASR,
        failed_over_vms={i.id.lower(): recovered(int(i.name[-1])) for i in items},
        source_vms=NODES, source_nics=tuple(nic(n) for n in NODES), source_subnet=Subnet(SUBNET, "10.10.1.0/24"),
        source_lbs=(lb(),), failback_lb=None, failback_lb_id=FAILBACK_ID, probe_port=59999)
    return replace(base, **changes)


def test_a_committed_cluster_reprotects_every_node_through_the_dr_cache() -> None:
    plan = plan_way_back(view(item(1), item(2)), SPEC)
    assert plan.stage is Stage.READY and plan.allowed and plan.findings == ()
    assert plan.actions == (
        ReprotectItem(item(1).id, "s2d-node1", WE.id, DR_CACHE, recovered(1).disks, RG, POLICY),
        ReprotectItem(item(2).id, "s2d-node2", WE.id, DR_CACHE, recovered(2).disks, RG, POLICY))
    assert "cache stasrcachene01" in plan.describe()[0]


@pytest.mark.parametrize("spec", [replace(SPEC, allow_reprotect=False), replace(SPEC, dr_cache_account_id="")])
def test_without_the_setting_the_same_plan_is_only_reported_with_the_steps(spec: WayBackSpec) -> None:
    plan = plan_way_back(view(item(1), item(2)), spec)
    assert not plan.allowed and [type(a) for a in plan.actions] == [ReprotectItem, ReprotectItem]
    [finding] = plan.findings
    assert finding.code == "reprotect-needed" and finding.severity.value == "warning"
    fix = finding.fix
    assert "Portal: Recovery Services vault rsv-s2d-dr > Replicated items > for each of s2d-node1, s2d-node2" in fix
    assert "Update-AzRecoveryServicesAsrProtectionDirection -AzureToAzure" in fix and f"'{RG}'" in fix
    assert "direction northeurope to westeurope" in fix and "ALLOW_REPROTECT=true" in fix


def test_nothing_to_do_before_a_failover_and_nothing_but_a_report_before_the_commit() -> None:
    assert plan_way_back(view(item(1, "Protected"), item(2, "Protected")), SPEC).stage is Stage.NOT_FAILED_OVER
    assert plan_way_back(view(), SPEC).stage is Stage.NOT_FAILED_OVER
    pending = plan_way_back(view(item(1, "UnplannedFailoverCommitPendingStatesBegin"), item(2)), SPEC)
    assert pending.stage is Stage.COMMIT_PENDING and pending.actions == ()
    assert [f.code for f in pending.findings] == ["failover-commit-pending"] and "s2d-node1" in pending.findings[0].message


def test_a_reprotected_cluster_replicates_back_and_gets_no_write() -> None:
    back = [replace(item(n, "UnprotectedStatesBegin", container=NE), vm_id=recovered(n).id, recovery_vm_id=NODES[n - 1].id)
            for n in (1, 2)]
    plan = plan_way_back(view(*back, failed_over_vms={}), SPEC)
    assert plan.stage is Stage.REPLICATING_BACK and plan.actions == ()
    assert [f.code for f in plan.findings] == ["replicating-back"]


def test_half_reprotected_goes_on_with_the_rest() -> None:
    back = replace(item(1, "Protected", container=NE), vm_id=recovered(1).id, recovery_vm_id=NODES[0].id)
    plan = plan_way_back(view(back, item(2)), SPEC)
    assert plan.stage is Stage.READY and [a.vm_name for a in plan.actions if isinstance(a, ReprotectItem)] == ["s2d-node2"]


def test_a_missing_reverse_mapping_or_failed_over_vm_is_critical_and_not_attempted() -> None:
    no_reverse = plan_way_back(view(item(1), item(2), asr=replace(ASR, mappings=(FORWARD,))), SPEC)
    assert no_reverse.actions == () and {f.code for f in no_reverse.findings} == {"reverse-mapping-missing"}
    gone = plan_way_back(view(item(1), item(2), failed_over_vms={item(2).id.lower(): recovered(2)}), SPEC)
    assert [f.code for f in gone.findings] == ["failed-over-vm-missing"]
    assert [a.vm_name for a in gone.actions if isinstance(a, ReprotectItem)] == ["s2d-node2"]


def test_the_failback_load_balancer_is_staged_only_when_none_fronts_the_nodes() -> None:
    nics = tuple(nic(n, ()) for n in NODES)
    staged = plan_way_back(view(item(1), item(2), source_nics=nics, source_lbs=()), SPEC)
    lb_actions = [a for a in staged.actions if not isinstance(a, ReprotectItem)]
    pool = f"{FAILBACK_ID}/backendAddressPools/be-nodes"
    assert lb_actions == [EnsureLoadBalancer(FAILBACK_ID, "westeurope", SUBNET, None, 59999, "s2dclu01", Purpose.FAILBACK),
                          JoinPool(NODES[0].nic_ids[0], "s2d-node1", pool, Purpose.FAILBACK),
                          JoinPool(NODES[1].nic_ids[0], "s2d-node2", pool, Purpose.FAILBACK)]
    # An original load balancer without the HA-ports rule, or fronting one node only, does not count.
    for partial in (lb(ha=False), lb(members=(NODES[0].nic_ids[0],))):
        assert any(isinstance(a, EnsureLoadBalancer)
                   for a in plan_way_back(view(item(1), item(2), source_lbs=(partial,)), SPEC).actions)
    # Our own failback load balancer, already right, with one node missing: only that node joins.
    ours = lb(FAILBACK_ID, members=(NODES[0].nic_ids[0],))
    again = plan_way_back(view(item(1), item(2), source_nics=nics, source_lbs=(), failback_lb=ours), SPEC)
    assert [a for a in again.actions if not isinstance(a, ReprotectItem)] == [
        JoinPool(NODES[1].nic_ids[0], "s2d-node2", pool, Purpose.FAILBACK)]


def test_unknown_original_nics_are_reported_not_guessed() -> None:
    plan = plan_way_back(view(item(1), item(2), source_nics=(), source_subnet=None), SPEC)
    assert "failback-subnet-unknown" in [f.code for f in plan.findings]
    assert all(isinstance(a, ReprotectItem) for a in plan.actions)


def test_the_source_region_comes_from_the_vault_not_the_vm() -> None:
    plan = plan_way_back(view(item(1), item(2), source_vms=()), replace(SPEC, allow_reprotect=False))
    first = plan.actions[0]
    assert "back to westeurope" in plan.findings[0].message
    assert isinstance(first, ReprotectItem) and SUB in first.recovery_resource_group_id
