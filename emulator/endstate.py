"""The emulated world's end state, normalized: what a run of asr-s2d left, comparable between two runs.

Two runs of the same story (a clean one and a chaotic one, or a clean one and one with an injected
fault that was redelivered or repaired) must leave the same end state. Generated names (VM GUIDs,
item names, job and etag GUIDs) differ between runs, so everything here is keyed by the names people
gave: VM, NIC, load balancer, recovery plan and Site Recovery object names. Read in-process from the
world under its lock (never through ARM, so injected faults cannot touch it); no ARM call, no event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.providers.recoveryservices.state import (
    CONTAINER_TYPE,
    FABRIC_TYPE,
    ITEM_TYPE,
    MAPPING_TYPE,
    NETWORK_MAPPING_TYPE,
    PLAN_TYPE,
    POLICY_TYPE,
)

if TYPE_CHECKING:
    from emulator.core.http import Host

VM_TYPE = "Microsoft.Compute/virtualMachines"
LB_TYPE = "Microsoft.Network/loadBalancers"


def _name(resource_id: str | None) -> str:
    return (resource_id or "").rstrip("/").split("/")[-1]


def _nic_name(ip_config_id: str) -> str:
    """``.../networkInterfaces/<nic>/ipConfigurations/<config>`` -> ``<nic>``."""
    parts = ip_config_id.split("/")
    low = [p.lower() for p in parts]
    return parts[low.index("networkinterfaces") + 1] if "networkinterfaces" in low else ip_config_id


def _pools(ids: list[str] | None) -> list[str]:
    """Backend pool IDs as ``<load balancer>/<pool>``."""
    out = []
    for pool_id in ids or []:
        parts = pool_id.split("/")
        out.append(f"{parts[-3]}/{parts[-1]}" if len(parts) >= 3 else pool_id)
    return sorted(out)


def snapshot(emu: Host) -> dict[str, Any]:
    """Protected items by source VM (group, state, policy, pool mappings), the Site Recovery plumbing by name,
    recovery plans by their VMs, every load balancer (frontend, probe, pool members), the VMs of the target
    region, and each guest cluster's IP resources as the recovered (or source) nodes see them."""
    world = emu.world
    with world.lock:
        vm_names = {vm["id"].lower(): vm["name"] for vm in world.by_type(VM_TYPE)}
        items: dict[str, Any] = {}
        item_vm: dict[str, str] = {}
        for item in world.by_type(ITEM_TYPE):
            props = item["properties"]
            details = props.get("providerSpecificDetails") or {}
            source = details.get("fabricObjectId") or ""
            vm = vm_names.get(source.lower(), _name(source))
            item_vm[item["id"].lower()] = vm
            configs = [c for nic in details.get("vmNics") or [] for c in nic.get("ipConfigs") or []]
            items[vm] = {
                "group": details.get("multiVmGroupName"),
                "protection_state": props.get("protectionState"),
                "policy": _name(props.get("policyId")),
                "recovery_pools": sorted(p for c in configs for p in _pools(c.get("recoveryLBBackendAddressPoolIds"))),
                "test_pools": sorted(p for c in configs for p in _pools(c.get("tfoLBBackendAddressPoolIds"))),
                "recovery_vm": _name(details.get("recoveryFabricObjectId")) or None,
            }
        plans = {
            plan["name"]: sorted(item_vm.get((i.get("id") or "").lower(), _name(i.get("id")))
                                 for g in plan["properties"].get("groups") or []
                                 for i in g.get("replicationProtectedItems") or [])
            for plan in world.by_type(PLAN_TYPE)}
        plumbing = {kind: sorted(r["name"] for r in world.by_type(rtype)) for kind, rtype in (
            ("fabrics", FABRIC_TYPE), ("containers", CONTAINER_TYPE), ("container_mappings", MAPPING_TYPE),
            ("network_mappings", NETWORK_MAPPING_TYPE), ("policies", POLICY_TYPE))}
        policies = {}
        for policy in world.by_type(POLICY_TYPE):
            details = policy["properties"].get("providerSpecificDetails") or {}
            policies[policy["name"]] = {k: details.get(k) for k in (
                "appConsistentFrequencyInMinutes", "crashConsistentFrequencyInMinutes", "multiVmSyncStatus",
                "recoveryPointHistory")}
        balancers = {}
        for lb in world.by_type(LB_TYPE):
            props = lb["properties"]
            frontends = props.get("frontendIPConfigurations") or []
            balancers[lb["name"]] = {
                "location": lb.get("location"),
                "frontends": sorted(f"{_name((f['properties'].get('subnet') or {}).get('id'))}:"
                                    f"{f['properties'].get('privateIPAddress')}" for f in frontends),
                "probes": sorted(p["properties"].get("port") for p in props.get("probes") or []),
                "rules": sorted(r["name"] for r in props.get("loadBalancingRules") or []),
                "pools": {p["name"]: sorted(_nic_name(c["id"]) for c in (p.get("properties") or {}).get(
                    "backendIPConfigurations") or []) for p in props.get("backendAddressPools") or []},
                "tags": dict(sorted((lb.get("tags") or {}).items())),
            }
        target = str(emu.seeded.get("target_region") or "").lower()
        vms = world.by_type(VM_TYPE)
    recovered = sorted(vm["name"] for vm in vms if target and (vm.get("location") or "").lower() == target)
    guests = {}
    for vm in vms:
        status, cluster = emu.handle_control("GET", "/_emulator/guest", {"id": vm["id"]}, b"")
        if status != 200:
            continue
        guests[f"{vm['name']}@{vm.get('location')}"] = sorted(
            (r.get("name"), r.get("address"), r.get("probe_port"), r.get("subnet_mask"), r.get("state"))
            for r in cluster.get("ip_resources") or [])
    return {"protected_items": items, "recovery_plans": plans, "plumbing": plumbing, "policies": policies,
            "load_balancers": balancers, "target_region_vms": recovered, "guest_ip_resources": guests}


def diff(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where two snapshots differ, one line per difference (empty: the same end state)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[str] = []
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{where}: missing (expected {expected[key]!r})")
            elif key not in expected:
                out.append(f"{where}: unexpected {actual[key]!r}")
            else:
                out += diff(expected[key], actual[key], where)
        return out
    if expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []
