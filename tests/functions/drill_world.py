"""The demo cluster, enrolled and Protected, for the drill and way-back tests: the operator's Site Recovery
client, and the ways to read back what a drill or a reprotect left (items, VMs, load balancers, records).

Everything acts the way the real thing happens: tags through the ARM Tags API, enrollment through the
enrollment service, failovers through the operator's Site Recovery SDK client, and the emulator's control
API for what only time, the guest or Site Recovery itself changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

from emulator import Emulator
from emulator.clients import control
from shared import state
from shared.enrollment import service as enrollment
from shared.runtime import Runtime
from shared.state import blob_key
from tests.functions.conftest import tag

CLUSTER = "s2dclu01"
PLAN = f"asr-s2d-{CLUSTER}"
TAGS = {"asr-s2d": "true", "asr-s2d-cluster": CLUSTER}
# The operator fails the group over from its common point (the portal's multi-VM consistent choice).
A2A_LATEST = [{"instanceType": "A2A", "recoveryPointType": "Latest", "multiVmSyncPointOption": "UseMultiVmSyncRecoveryPoint"}]
HEALTH_SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "scripts" / "cluster_health.ps1"
EVERY_CHECK = ["owned", "recovery-plan", "nodes-protected", "replication-healthy", "no-operation-in-progress", "test-network",
               "witness-isolated", "no-other-drill",
               "test-failover", "ip-step", "guest-report", "cluster-service", "nodes-up", "quorum", "witness",
               "storage-pool", "virtual-disks", "csvs", "cluster-ip", "roles", "role-ips"]


class World:
    """The demo world, enrolled and Protected by ``enroll``, with the operator's Site Recovery client."""

    def __init__(self, emu: Emulator, demo: dict[str, Any], rt: Runtime, operator_sdk: Callable[..., Any]) -> None:
        self.emu, self.demo, self.rt = emu, demo, rt
        self.operator_sdk = operator_sdk
        self.asr = operator_sdk(SiteRecoveryManagementClient)
        self.rg, self.vault = demo["vault_id"].split("/")[4], demo["vault_id"].split("/")[-1]
        self.key = f"{demo['subscription_id']}/{CLUSTER}"
        self.test_lb_id = (f"{demo['recovery_resource_group_id']}/providers/Microsoft.Network/loadBalancers/"
                           f"lb-asr-s2d-{CLUSTER}.test")

    def tag(self, **extra: str) -> None:
        for vm_id in self.demo["vm_ids"]:
            tag(self.operator_sdk, vm_id, {**TAGS, **extra})

    def enroll(self, **extra: str) -> None:
        self.tag(**extra)
        outcome = enrollment.enroll_cluster(enrollment.find_cluster(self.rt, CLUSTER), self.rt, event_id="setup")
        assert outcome.kind == "enabled", outcome.reason
        control(self.emu, "POST", "asr/advance", {"to": "Protected"})

    def items(self) -> list[Any]:
        return sorted(self.rt.asr.list_items(), key=lambda i: i.name)

    def vm_ids(self, kind: str = "Microsoft.Compute/virtualMachines") -> list[str]:
        return sorted(r["id"] for r in self.emu.world.all() if r.get("type") == kind)

    def test_vms(self) -> list[str]:
        return [v for v in self.vm_ids() if v.lower().endswith("-test")]

    def assert_clean(self) -> None:
        """No test failover left: every item's testFailoverState None, no test VM, no test load balancer."""
        assert {i.test_failover_state for i in self.items()} == {"None"}
        assert self.test_vms() == []
        assert self.rt.network.get_load_balancer(self.test_lb_id) is None

    def degrade(self, change: dict[str, Any]) -> None:
        """What the nodes' guest reports (the test failover copies it: crash-consistent, as it was)."""
        for vm_id in self.demo["vm_ids"]:
            control(self.emu, "PATCH", "guest", change, id=vm_id)

    def stored(self) -> dict[str, Any]:
        doc = self.rt.blobs.get_json(f"clusters/{blob_key(self.key)}/last-drill.json")
        assert doc is not None
        return dict(doc.body)


    # -- what operators do -------------------------------------------------------------------------
    def unplanned_failover(self, *, wait: bool = True) -> None:
        poller = self.asr.replication_recovery_plans.begin_unplanned_failover(
            self.rg, self.vault, PLAN, {"properties": {"failoverDirection": "PrimaryToRecovery",
                                                       "sourceSiteOperations": "NotRequired",
                                                       "providerSpecificDetails": A2A_LATEST}},
            **({} if wait else {"polling": False}))
        if wait:
            poller.result()

    def commit(self) -> None:
        self.asr.replication_recovery_plans.begin_failover_commit(self.rg, self.vault, PLAN).result()

    def failback(self) -> None:
        """The reprotected plan fails back home (``RecoveryToPrimary``, the DR side shut down first), as an operator runs
        it: Azure-to-Azure has no planned failover."""
        self.asr.replication_recovery_plans.begin_unplanned_failover(
            self.rg, self.vault, PLAN, {"properties": {"failoverDirection": "RecoveryToPrimary",
                                                       "sourceSiteOperations": "Required",
                                                       "providerSpecificDetails": A2A_LATEST}}).result()

    def test_failover(self, *, wait: bool = True) -> None:
        """A test failover of the plan through the Site Recovery API (an operator's, or a drill's whose
        process then died)."""
        poller = self.asr.replication_recovery_plans.begin_test_failover(
            self.rg, self.vault, PLAN, {"properties": {"failoverDirection": "PrimaryToRecovery",
                                                       "networkType": "VmNetworkAsInput",
                                                       "networkId": self.demo["test_vnet_id"],
                                                       "providerSpecificDetails": A2A_LATEST}},
            **({} if wait else {"polling": False}))
        if wait:
            poller.result()

    def dead_drill(self, *, step: str, **marker: Any) -> None:
        """The marker a drill process leaves when it is killed during ``step`` (its lock lease then expires)."""

        self.rt.blobs.put_json(state.DRILL_MARKER, {
            "state": "running", "drill_id": "timer-dead", "cluster": CLUSTER, "cluster_key": self.key.lower(),
            "plan": PLAN, "started": "2026-01-01T03:00:00Z", "trigger": "timer", "step": step, "checks": [],
            "test_vms": self.test_vms(), **marker})

    def detach_source_load_balancer(self) -> None:
        """The original region's cluster load balancer is gone (removed while the cluster ran in the DR region)."""
        client = self.operator_sdk(NetworkManagementClient)
        for nic_id in self.demo["nic_ids"]:
            parts = nic_id.split("/")
            nic = client.network_interfaces.get(parts[4], parts[-1])
            for config in nic.ip_configurations:
                config.load_balancer_backend_address_pools = []
            client.network_interfaces.begin_create_or_update(parts[4], parts[-1], nic).result()
        lb = self.demo["source_lb_id"].split("/")
        client.load_balancers.begin_delete(lb[4], lb[-1]).result()
