"""The recovered nodes keep their fault domains, and the group holds together (DESIGN rule 20): enrollment,
failover and the audit on the emulator + Azurite, through the real SDK.

The demo's nodes run in availability set ``avset-s2d``. Enrollment creates the cluster's recovery availability set
(``avset-asr-s2d-<cluster>`` in the recovery resource group) before the first enable that names it, and every enable
names it; a node that joins a group that exists names the group by its ``multiVmGroupId`` too. After a failover the
recovered nodes are in that set. The audit reports an item enabled without a recovery
placement, a recovery set that is gone, and TCP 20004 denied between the nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator import Emulator
from emulator.clients import control
from emulator.providers.network import state as network
from shared import ids
from shared.audit import checks
from shared.enrollment import service as enrollment
from shared.findings import Severity
from shared.runtime import Runtime
from tests.functions import drill_world
from tests.functions.conftest import deliver, tag
from tests.functions.drift_world import CLUSTER
from tests.functions.test_drift_audit import audit, cluster_of, codes, severity_of

CLUSTER_TAGS = {"asr-s2d": "true", "asr-s2d-cluster": CLUSTER}


def avset_id(demo: dict[str, Any]) -> str:
    return f"{demo['recovery_resource_group_id']}/providers/Microsoft.Compute/availabilitySets/avset-asr-s2d-{CLUSTER}"


def enable_bodies(emu: Emulator, since: int) -> list[dict[str, Any]]:
    """The providerSpecificDetails of each enable-replication PUT the app sent since ``since``."""
    return [e.body["properties"]["providerSpecificDetails"] for e in emu.journal.entries(since=since)
            if e.method == "PUT" and "/replicationProtectedItems/" in e.path and e.status < 400]


def test_enrollment_names_the_recovery_set_and_a_joining_node_the_groups_id(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
        event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    seq = emu.journal.last_seq
    tag(operator_sdk, demo["vm_ids"][0], CLUSTER_TAGS)
    assert [o.kind for o in deliver(event_queue(), enrollment.handle, runtime) if o.kind != "ignored"] == ["enabled"]
    [first] = enable_bodies(emu, seq)
    assert ids.same(first["recoveryAvailabilitySetId"], avset_id(demo)) and "multiVmGroupId" not in first
    assert first["multiVmGroupName"] == CLUSTER
    made = control(emu, "GET", "resource", id=avset_id(demo))
    assert made["location"] == "northeurope" and made["tags"]["asr-s2d-cluster"] == CLUSTER
    assert made["properties"]["platformFaultDomainCount"] >= 2
    control(emu, "POST", "asr/settle")

    seq = emu.journal.last_seq
    tag(operator_sdk, demo["vm_ids"][1], CLUSTER_TAGS)
    assert "enabled" in [o.kind for o in deliver(event_queue(), enrollment.handle, runtime)]
    [second] = enable_bodies(emu, seq)
    group_id = next(i.group_id for i in runtime.asr.list_items() if ids.same(i.vm_id, demo["vm_ids"][0]))
    assert group_id and second["multiVmGroupId"] == group_id and second["multiVmGroupName"] == CLUSTER
    assert ids.same(second["recoveryAvailabilitySetId"], avset_id(demo))
    writes = [e for e in emu.journal.entries(since=seq) if e.is_write and "availabilitySets" in e.path]
    assert writes == [], "the set exists: not written again"


def test_the_recovered_nodes_come_back_in_the_recovery_set(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any]) -> None:
    world = drill_world.World(emu, demo, runtime, operator_sdk)
    world.enroll()
    world.unplanned_failover()
    recovered = [i.recovery_vm_id for i in runtime.asr.list_items()]
    assert len(recovered) == 2 and all(recovered)
    for vm_id in recovered:
        vm = runtime.compute.get_vm(str(vm_id))
        assert vm is not None and vm.location == "northeurope" and ids.same(vm.availability_set_id, avset_id(demo))


def test_the_audit_reports_a_recovery_set_that_is_gone_and_repairs_it(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    assert not {checks.RECOVERY_PLACEMENT_MISSING, checks.DR_AVAILABILITY_SET_MISSING} & set(codes(audit(runtime)))
    with emu.world.lock:
        emu.world.delete(avset_id(converged))
    report = audit(runtime)
    assert severity_of(report, checks.DR_AVAILABILITY_SET_MISSING) is Severity.CRITICAL
    audit(runtime, repair=True)
    assert control(emu, "GET", "resource", id=avset_id(converged))["name"] == f"avset-asr-s2d-{CLUSTER}"
    assert checks.DR_AVAILABILITY_SET_MISSING not in codes(audit(runtime))


def test_an_item_enabled_without_placement_is_a_warning_and_never_disabled(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    """An item another tool (or an older asr-s2d) enabled without a recovery set: Site Recovery cannot change its
    availability type, so the audit warns and names the fix; it never disables replication for it."""
    item = next(i for i in runtime.asr.list_items() if ids.same(i.vm_id, converged["vm_ids"][0]))
    with emu.world.lock:
        emu.world.get(item.id)["properties"]["providerSpecificDetails"].pop("recoveryAvailabilitySet")
    seq = emu.journal.last_seq
    report = audit(runtime, repair=True)
    [found] = [f for f in cluster_of(report).findings if f.code == checks.RECOVERY_PLACEMENT_MISSING]
    assert found.severity is Severity.WARNING and found.subject == "s2d-node1" and "avset-s2d" in found.message
    assert "disable its replication" in found.fix
    assert [e for e in emu.journal.entries(since=seq) if e.is_write] == []


def test_the_audit_reports_tcp_20004_denied_between_the_nodes(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    deny = {"name": "deny-20004", "properties": {
        "priority": 100, "direction": "Inbound", "access": "Deny", "protocol": "Tcp", "sourceAddressPrefix": "*",
        "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "20004"}}
    with emu.world.lock:
        nsg = network.add_network_security_group(emu.world, subscription_id=converged["subscription_id"],
                                                 resource_group="rg-s2d-prod", name="nsg-s2d", location="westeurope",
                                                 rules=[deny])
        network.associate_nsg(emu.world, nsg_id=nsg["id"], subnet_id=converged["source_subnet_id"])
    report = audit(runtime)
    blocked = [f for f in cluster_of(report).findings if f.code == checks.MULTI_VM_PORT_BLOCKED]
    assert {f.subject for f in blocked} == {"s2d-node1 -> s2d-node2", "s2d-node2 -> s2d-node1"}
    assert all(f.severity is Severity.CRITICAL and "deny-20004" in f.message for f in blocked)
    assert cluster_of(report).status == "red"
