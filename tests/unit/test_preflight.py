"""The pre-flight check's judging (``shared.enrollment.preflight``), table-driven: a world where every
prerequisite is met, then one change per row and the verdict it must give. Pure: no I/O."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any

import pytest

from shared.enrollment import preflight
from shared.enrollment.plan import Plan
from shared.enrollment.preflight import Account, NodeReading, Observed, ScopePermissions, Status
from shared.inventory import (
    Disk,
    NetworkMapping,
    NetworkSecurityGroup,
    NicFilters,
    Permission,
    SecurityRule,
    StorageAccount,
    VmAgent,
)
from tests.unit.builders import CACHE, DR_RG, DR_VNET, RG, SUB, SUBNET, VAULT, dr_subnet, vm

NSG = f"{RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-s2d"
WITNESS = f"{DR_RG}/providers/Microsoft.Storage/storageAccounts/stwitnessne01"
READER = ("Microsoft.Compute/virtualMachines/read", "Microsoft.Network/networkSecurityGroups/read")
RECOVERY = ("Microsoft.RecoveryServices/vaults/read", "Microsoft.Network/loadBalancers/write")


def node(name: str, address: str, **changes: Any) -> NodeReading:
    machine = vm(name, **changes)
    return NodeReading(machine, VmAgent("Ready"), NicFilters(machine.nic_ids[0], address, SUBNET, None, NSG))


def deny(port: str = "20004", *, priority: int = 200, direction: str = "Inbound", sources: tuple[str, ...] = ("*",),
         source_ports: tuple[str, ...] = ("*",)) -> SecurityRule:
    return SecurityRule("deny-it", priority, direction, "Deny", "Tcp", sources, source_ports, ("*",), (port,))


def world(**changes: Any) -> Observed:
    base = Observed(
        cluster="s2dclu01", nodes=(node("s2d-node1", "10.10.1.4"), node("s2d-node2", "10.10.1.5")),
        target_region="northeurope", vault_id=VAULT, vault_location="northeurope",
        cache=Account(CACHE, StorageAccount(CACHE, "westeurope", True)), recovery_vnet_id=DR_VNET,
        recovery_subnet_name="snet-s2d", dr_subnet=dr_subnet(),
        witness=Account(WITNESS, StorageAccount(WITNESS, "northeurope", True)), allowed_subscriptions=(SUB,),
        groups={NSG.lower(): NetworkSecurityGroup(NSG, "nsg-s2d", "westeurope", ())},
        permissions=(ScopePermissions(RG, "reader", READER, (Permission(READER),)),
                     ScopePermissions(DR_RG, "recovery", RECOVERY, (Permission(("*",), ("Microsoft.Storage/*",)),))),
        plan=Plan("s2dclu01"))
    return replace(base, **changes)


def verdicts(seen: Observed) -> dict[str, preflight.Check]:
    return {c.name: c for c in preflight.judge(seen)}


def test_every_prerequisite_is_met_in_the_green_world() -> None:
    checks = verdicts(world())
    assert [c.name for c in preflight.judge(world())] == [
        "nodes", "tags", "regions", "power", "vm-agent", "disks", "cache-account", "vault", "dr-subnet", "dr-ip",
        "network-mappings", "witness", "nsg-20004", "permissions", "plan"]
    assert {name: c.status for name, c in checks.items() if c.status is not Status.MET} == {}
    assert all(c.reason and not c.fix for c in checks.values())


def _two(first: dict[str, Any], second: dict[str, Any]) -> tuple[NodeReading, NodeReading]:
    return node("s2d-node1", "10.10.1.4", **first), node("s2d-node2", "10.10.1.5", **second)


def _agent(status: str | None) -> tuple[NodeReading, ...]:
    one, two = _two({}, {})
    return one, replace(two, agent=VmAgent(status))


def _disk(kind: str) -> tuple[NodeReading, ...]:
    one, two = _two({}, {})
    ultra = Disk(f"{RG}/providers/Microsoft.Compute/disks/s2d-node2-data1", kind, False, 1)
    return one, replace(two, vm=replace(two.vm, disks=(*two.vm.disks, ultra)))


def _groups(*rules: SecurityRule) -> dict[str, NetworkSecurityGroup]:
    return {NSG.lower(): NetworkSecurityGroup(NSG, "nsg-s2d", "westeurope", rules)}


OTHER_SUB = "00000000-0000-0000-0000-000000000009"
ROWS: list[tuple[str, dict[str, Any], str, Status, str]] = [
    # (what, change, check, status, words in the reason)
    ("17 nodes", {"nodes": tuple(node(f"n{i}", f"10.10.1.{i + 4}") for i in range(17))}, "nodes", Status.NOT_MET,
     "at most 16"),
    ("a bad tag", {"tag_problem": "VM s2d-node1: tag asr-s2d-dr-ip must be one IPv4 address"}, "tags", Status.NOT_MET,
     "asr-s2d-dr-ip"),
    ("two regions", {"nodes": _two({}, {"region": "northeurope"})}, "regions", Status.NOT_MET, "2 regions"),
    ("nodes in the target region", {"nodes": _two({"region": "northeurope"}, {"region": "northeurope"})}, "regions",
     Status.NOT_MET, "target region northeurope"),
    ("a deallocated node", {"nodes": _two({}, {"power": "deallocated"})}, "power", Status.NOT_MET,
     "s2d-node2 deallocated"),
    ("agent Not Ready", {"nodes": _agent("Not Ready")}, "vm-agent", Status.NOT_MET, "s2d-node2 Not Ready"),
    ("no agent status", {"nodes": _agent(None)}, "vm-agent", Status.NOT_MET, "s2d-node2 no agent status"),
    ("an Ultra disk", {"nodes": _disk("UltraSSD_LRS")}, "disks", Status.NOT_MET, "Ultra Disks are not supported"),
    ("an unknown disk type", {"nodes": _disk("Fancy_LRS")}, "disks", Status.NOT_MET, "not in the support matrix"),
    ("Premium SSD v2", {"nodes": _disk("PremiumV2_LRS")}, "disks", Status.MET, "PremiumV2_LRS"),
    ("ZRS disks", {"nodes": _disk("StandardSSD_ZRS")}, "disks", Status.MET, "StandardSSD_ZRS"),
    ("cache in the wrong region", {"cache": Account(CACHE, StorageAccount(CACHE, "northeurope", True))},
     "cache-account", Status.NOT_MET, "not in the nodes' region westeurope"),
    ("cache without shared key", {"cache": Account(CACHE, StorageAccount(CACHE, "westeurope", False))},
     "cache-account", Status.NOT_MET, "shared-key"),
    ("no cache account", {"cache": Account(CACHE)}, "cache-account", Status.NOT_MET, "does not exist"),
    ("cache in another subscription",
     {"cache": Account(CACHE.replace(SUB, OTHER_SUB), StorageAccount(CACHE.replace(SUB, OTHER_SUB), "westeurope", True))},
     "cache-account", Status.NOT_MET, f"subscription {OTHER_SUB}"),
    ("vault in the source region", {"vault_location": "westeurope"}, "vault", Status.NOT_MET, "not in the target"),
    ("vault unreadable", {"vault_location": None, "vault_error": "read vault: ResourceNotFound"}, "vault", Status.NOT_MET,
     "ResourceNotFound"),
    ("no DR subnet", {"dr_subnet": None}, "dr-subnet", Status.NOT_MET, "has no subnet snet-s2d"),
    ("a DR IP outside the subnet", {"dr_ip": ipaddress.IPv4Address("10.99.0.10")}, "dr-ip", Status.NOT_MET,
     "not a usable address"),
    ("a reserved DR IP", {"dr_ip": ipaddress.IPv4Address("10.20.1.1")}, "dr-ip", Status.NOT_MET, "not a usable"),
    ("a good DR IP", {"dr_ip": ipaddress.IPv4Address("10.20.1.10")}, "dr-ip", Status.MET, "10.20.1.10 is a usable"),
    ("a mapping to the recovery VNet",
     {"network_mappings": (NetworkMapping("m", "m1", SUBNET.split("/subnets/")[0], DR_VNET),)}, "network-mappings",
     Status.MET, "vnet-prod -> vnet-dr"),
    ("a mapping elsewhere",
     {"network_mappings": (NetworkMapping("m", "m1", SUBNET.split("/subnets/")[0], DR_VNET + "-other"),)},
     "network-mappings", Status.NOT_MET, "not to the recovery VNet"),
    ("no witness named", {"witness": None}, "witness", Status.NOT_CHECKED, "not checked"),
    ("witness in the source region", {"witness": Account(WITNESS, StorageAccount(WITNESS, "westeurope", True))},
     "witness", Status.NOT_MET, "not in the DR region"),
    ("witness outside the allowed subscriptions",
     {"witness": Account(WITNESS.replace(SUB, OTHER_SUB))}, "witness", Status.NOT_MET, "ALLOWED_SUBSCRIPTION_IDS"),
    ("a deny of 20004 inbound", {"groups": _groups(deny())}, "nsg-20004", Status.NOT_MET,
     "s2d-node1 -> s2d-node2: denied by rule deny-it (priority 200, inbound)"),
    ("a deny of 20004 outbound", {"groups": _groups(deny(direction="Outbound"))}, "nsg-20004", Status.NOT_MET,
     "outbound"),
    ("a deny of another port", {"groups": _groups(deny("3389"))}, "nsg-20004", Status.MET, "allowed"),
    ("a deny from elsewhere", {"groups": _groups(deny(sources=("192.168.0.0/16",)))}, "nsg-20004", Status.MET,
     "allowed"),
    ("a deny naming source ports may match", {"groups": _groups(deny(source_ports=("50000-60000",)))}, "nsg-20004",
     Status.NOT_MET, "it may match"),
    ("a group that cannot be read", {"missing_groups": (NSG,)}, "nsg-20004", Status.NOT_MET, "cannot be read"),
    ("a missing action", {"permissions": (ScopePermissions(RG, "reader", READER, (Permission(READER[:1]),)),)},
     "permissions", Status.NOT_MET, "lacks Microsoft.Network/networkSecurityGroups/read"),
    ("an action taken away by notActions",
     {"permissions": (ScopePermissions(DR_RG, "recovery", RECOVERY, (Permission(("*",), ("Microsoft.Network/*",)),)),)},
     "permissions", Status.NOT_MET, "lacks Microsoft.Network/loadBalancers/write"),
    ("permissions unreadable", {"permissions": (ScopePermissions(RG, "reader", READER, error="AuthorizationFailed"),)},
     "permissions", Status.NOT_MET, "cannot read the permissions"),
    ("no roles file", {"permissions": None}, "permissions", Status.NOT_CHECKED, "role-actions.json"),
    ("a refused plan", {"plan": None, "plan_error": "cluster s2dclu01: nodes are in 2 regions"}, "plan",
     Status.NOT_MET, "enrollment would refuse"),
    ("a waiting plan", {"plan": Plan("s2dclu01", waiting="2 of 3 nodes tagged")}, "plan", Status.NOT_MET,
     "would wait: 2 of 3 nodes tagged"),
    ("a failed-over cluster", {"plan": Plan("s2dclu01", away="cluster s2dclu01 runs in northeurope")}, "plan",
     Status.NOT_MET, "runs in northeurope"),
]


@pytest.mark.parametrize(("change", "name", "status", "words"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_each_prerequisite(change: dict[str, Any], name: str, status: Status, words: str) -> None:
    checks = verdicts(world(**change))
    assert checks[name].status is status, checks[name]
    assert words in checks[name].reason, checks[name].reason
    if status is not Status.MET:
        assert checks[name].fix, "a prerequisite that is not met says how to fix it"


def test_a_subnet_group_that_allows_20004_above_a_deny_all_lets_the_nodes_talk() -> None:
    allow = SecurityRule("allow-20004", 100, "Inbound", "Allow", "Tcp", ("10.10.1.0/24",), ("*",), ("10.10.1.0/24",),
                         ("20004",))
    checks = verdicts(world(groups=_groups(allow, deny("*", priority=4000))))
    assert checks["nsg-20004"].status is Status.MET and "nsg-s2d" in checks["nsg-20004"].reason


def test_the_scopes_enrollment_works_in_and_the_actions_the_roles_file_gives() -> None:
    scopes = preflight.enrollment_scopes([RG, RG.upper()], vault_id=VAULT, recovery_resource_group_id=DR_RG,
                                         recovery_vnet_id=DR_VNET, cache_account_id=CACHE)
    assert scopes == ((RG, "reader"), (DR_RG, "recovery"), (DR_VNET, "recovery"), (CACHE, "recovery"))
    roles = preflight.role_actions({"reader": {"actions": ["a/read"]},
                                    "recovery": {"actions": ["b/write"], "allowReprotect": ["c/action"]}})
    assert roles == {"reader": ("a/read",), "recovery": ("b/write",)}
    assert preflight.allows((Permission(("Microsoft.Network/*/read",)),), "microsoft.network/virtualNetworks/read")
