"""A converged drift-audit world and the ways to make it drift, shared by the audit and status-page tests.

Everything here acts the way the real thing happens: tags written on the VM, resources created with the
emulator providers' state functions (what a deployment leaves behind), replication by the app's own
gateways, and the emulator's control API for what only time or the service changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from emulator import Emulator
from emulator.clients import control
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from shared import ids
from shared.enrollment import service as enrollment
from shared.runtime import Runtime

CLUSTER = "s2dclu01"
DR_IP = "10.20.1.10"
NOW = datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


RECENT = iso(NOW - timedelta(days=7))


# -- world helpers -------------------------------------------------------------------------------------

def set_tags(emu: Emulator, resource_id: str, **tags: str | None) -> None:
    """A tag change on the VM (what the portal's Tags blade does), straight into the emulated world."""
    with emu.world.lock:
        resource = emu.world.get(resource_id)
        assert resource is not None, resource_id
        for name, value in tags.items():
            if value is None:
                resource["tags"].pop(name, None)
            else:
                resource["tags"][name] = value


def node_tags(cluster: str, *, witness: str | None, dr_ip: str | None = None) -> dict[str, str]:
    found = {"asr-s2d": "true", "asr-s2d-cluster": cluster}
    if witness:
        found["asr-s2d-witness"] = witness
    if dr_ip:
        found["asr-s2d-dr-ip"] = dr_ip
    return found


def asr_items(emu: Emulator) -> list[dict[str, Any]]:
    return sorted((r for r in emu.world.all() if r.get("type", "").endswith("/replicationProtectedItems")),
                  key=lambda r: r["id"].lower())


def item_of(emu: Emulator, vm_id: str) -> dict[str, Any]:
    return next(i for i in asr_items(emu) if ids.same(i["properties"]["providerSpecificDetails"]["fabricObjectId"],
                                                       vm_id))


def mark_tested(emu: Emulator, when: str | None = RECENT) -> None:
    """What a successful test failover + cleanup leaves on every item (ASR's lastSuccessfulTestFailoverTime)."""
    with emu.world.lock:
        for item in asr_items(emu):
            item["properties"]["lastSuccessfulTestFailoverTime"] = when


def add_node(emu: Emulator, demo: dict[str, Any], name: str, tags: dict[str, str], *, address: str | None = None,
             subnet_id: str | None = None) -> str:
    """A new VM in the source region, running, with one NIC: what a deployment pipeline creates."""
    sub, group = demo["subscription_id"], demo["source_resource_group"]
    with emu.world.lock:
        nic = network.create_nic(emu.world, subscription_id=sub, resource_group=group, name=f"{name}-nic",
                                 location=demo["source_region"], subnet_id=subnet_id or demo["source_subnet_id"],
                                 static_ip=address)
        vm = compute.create_vm(emu.world, subscription_id=sub, resource_group=group, name=name,
                               location=demo["source_region"], nic_ids=[nic["id"]],
                               os_disk={"name": f"{name}-osdisk", "size_gb": 128, "sku": "Premium_LRS"},
                               tags=tags, power_state="running")
    return str(vm["id"])


def protect_in_group(rt: Runtime, emu: Emulator, vm_id: str, group: str) -> None:
    """Someone enables replication of ``vm_id`` by hand, in multi-VM group ``group`` (through the real API)."""
    state = rt.asr.observe()
    source = next(f for f in state.fabrics if f.location == "westeurope")
    target = next(f for f in state.fabrics if f.location == "northeurope")
    container = state.container_in(source.id)
    recovery = state.container_in(target.id)
    policy = state.policy_named(rt.settings.policy_name)
    assert container and recovery and policy
    vm = rt.compute.get_vm(vm_id)
    assert vm is not None
    rt.asr.enable(fabric=source.name, container=container.name, item=vm.vm_uuid or vm.name, vm_id=vm.id, group=group,
                  policy_id=policy.id, recovery_container_id=recovery.id, disks=vm.disks,
                  cache_account_id=rt.settings.cache_storage_account_id,
                  recovery_resource_group_id=rt.settings.recovery_resource_group_id,
                  recovery_vnet_id=rt.settings.recovery_vnet_id, recovery_subnet="snet-s2d")
    control(emu, "POST", "asr/settle")


def enroll(rt: Runtime, name: str = CLUSTER) -> None:
    outcome = enrollment.enroll_cluster(enrollment.find_cluster(rt, name), rt, event_id=f"seed-{name}")
    assert outcome.kind in ("enabled", "changed", "unchanged"), outcome


def converge(emu: Emulator, demo: dict[str, Any], runtime: Runtime) -> dict[str, Any]:
    """The demo cluster tagged (DR IP and witness too), enrolled, protected and tested a week ago."""
    for vm_id in demo["vm_ids"]:
        set_tags(emu, vm_id, **node_tags(CLUSTER, witness=demo["witness_storage_account_id"], dr_ip=DR_IP))
    enroll(runtime)
    control(emu, "POST", "asr/settle")
    mark_tested(emu)
    return demo
