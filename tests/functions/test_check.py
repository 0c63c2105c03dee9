"""``asr-s2d check`` end to end on the emulator: before the cluster is tagged, every prerequisite of enrollment is
read and judged, and nothing is written (zero ARM writes in the journal, by anyone). The demo world meets them all;
a broken world (cache account in the wrong region, no DR subnet, a network security group denying TCP 20004
between the nodes, a VM agent that is not ready) names each failure and exits 3; bad input exits 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from emulator import Emulator
from emulator.clients import control
from emulator.providers.network import state as network
from emulator.providers.storage.state import add_storage_account
from shared.cli import main as cli
from shared.config import get_settings
from shared.runtime import default_runtime

PROD = "rg-s2d-prod"


@pytest.fixture
def app(app_settings: dict[str, str], emu: Emulator) -> Iterator[dict[str, str]]:
    yield app_settings


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def nodes(demo: dict[str, Any]) -> list[str]:
    return [arg for vm_id in demo["vm_ids"] for arg in ("--vm", vm_id)]


def group_id(demo: dict[str, Any]) -> str:
    return f"/subscriptions/{demo['subscription_id']}/resourceGroups/{PROD}"


def no_writes_since(emu: Emulator, seq: int) -> None:
    writes = [f"{e.method} {e.path}" for e in emu.journal.entries(since=seq) if e.is_write]
    assert writes == [], writes


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["check"]: c["status"] for c in report["checks"]}


def test_the_demo_nodes_meet_every_prerequisite_and_nothing_is_written(
        emu: Emulator, demo: dict[str, Any], app: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    seq = emu.journal.last_seq
    code, out, err = run(["check", *nodes(demo), "--cluster", "s2dclu01", "--witness",
                          demo["witness_storage_account_id"], "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert set(statuses(report).values()) == {"met"}, report["checks"]
    assert len(report["checks"]) == 15 and report["met"] is True and report["not_met"] == []
    assert report["nodes"] == ["s2d-node1", "s2d-node2"]
    actions = report["plan"]["actions"]
    assert ("enable replication of s2d-node1 in multi-VM group s2dclu01 (3 disks, recovered into availability set "
            "avset-asr-s2d-s2dclu01)") in actions
    avset = next(n for n, a in enumerate(actions) if a.startswith("create recovery availability set"))
    assert avset < min(n for n, a in enumerate(actions) if a.startswith("enable replication"))
    no_writes_since(emu, seq)

    # The same nodes named by their resource group, as a table: the same verdicts.
    code, out, err = run(["check", "--resource-group", group_id(demo), "--cluster", "s2dclu01", "--witness",
                          demo["witness_storage_account_id"]], capsys)
    assert code == 0, err
    assert "every prerequisite is met" in out and "not met" not in out
    for name in ("regions", "vm-agent", "cache-account", "nsg-20004", "permissions", "plan"):
        assert any(line.startswith(name) and " met " in line for line in out.splitlines()), (name, out)
    no_writes_since(emu, seq)


def test_a_subnet_group_that_allows_20004_above_a_deny_all_is_met(
        emu: Emulator, demo: dict[str, Any], app: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    allow = {"name": "allow-asr-20004", "properties": {
        "priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
        "sourceAddressPrefix": "10.10.1.0/24", "sourcePortRange": "*", "destinationAddressPrefix": "10.10.1.0/24",
        "destinationPortRange": "20004"}}
    deny_all = {"name": "deny-all-in", "properties": {
        "priority": 4000, "direction": "Inbound", "access": "Deny", "protocol": "*", "sourceAddressPrefix": "*",
        "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}
    with emu.world.lock:
        nsg = network.add_network_security_group(emu.world, subscription_id=demo["subscription_id"],
                                                 resource_group=PROD, name="nsg-s2d", location="westeurope",
                                                 rules=[allow, deny_all])
        network.associate_nsg(emu.world, nsg_id=nsg["id"], subnet_id=demo["source_subnet_id"])
    seq = emu.journal.last_seq
    code, out, err = run(["check", *nodes(demo), "--json"], capsys)
    assert code == 0, err
    check = next(c for c in json.loads(out)["checks"] if c["check"] == "nsg-20004")
    assert check["status"] == "met" and "nsg-s2d" in check["reason"]
    no_writes_since(emu, seq)


def test_a_broken_world_names_each_failure_and_writes_nothing(
        emu: Emulator, demo: dict[str, Any], app: dict[str, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    sub = demo["subscription_id"]
    with emu.world.lock:
        # The cache account was moved to a new account, created in the DR region by mistake; the deployment was
        # re-run for it (so the app holds its role there).
        wrong = add_storage_account(emu.world, subscription_id=sub, resource_group=PROD, name="stasrcachene99",
                                    location="northeurope", kind="StorageV2", sku="Standard_LRS",
                                    allow_shared_key_access=True)
        # The recovery VNet lost the subnet the nodes fail over into.
        vnet = emu.world.get(demo["recovery_vnet_id"])
        assert vnet is not None
        network.delete_subnet(emu.world, vnet=vnet, name="snet-s2d")
        # A network security group on the nodes' subnet denies TCP 20004.
        nsg = network.add_network_security_group(emu.world, subscription_id=sub, resource_group=PROD, name="nsg-s2d",
                                                 location="westeurope", rules=[{"name": "deny-20004", "properties": {
                                                     "priority": 200, "direction": "Inbound", "access": "Deny",
                                                     "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*",
                                                     "destinationAddressPrefix": "*", "destinationPortRange": "20004"}}])
        network.associate_nsg(emu.world, nsg_id=nsg["id"], subnet_id=demo["source_subnet_id"])
    control(emu, "POST", "authorization/assignments", {"principalId": "app", "scope": wrong["id"],
                                                       "role": "asr-s2d recovery", "actions": ["*"]})
    # The second node's VM agent stopped reporting.
    control(emu, "PUT", "vm-agent", {"status": "NotReady"}, id=demo["vm_ids"][1])
    monkeypatch.setenv("CACHE_STORAGE_ACCOUNT_ID", wrong["id"])
    get_settings.cache_clear()
    default_runtime.cache_clear()

    seq = emu.journal.last_seq
    code, out, err = run(["check", *nodes(demo), "--json"], capsys)
    assert code == 3, err
    report = json.loads(out)
    failed = {c["check"]: c for c in report["checks"] if c["status"] == "not met"}
    assert set(failed) == {"cache-account", "dr-subnet", "nsg-20004", "vm-agent", "plan"}, report["checks"]
    assert report["not_met"] == [c["check"] for c in report["checks"] if c["status"] == "not met"]
    assert "stasrcachene99 is in northeurope, not in the nodes' region westeurope" in failed["cache-account"]["reason"]
    assert "vnet-dr has no subnet snet-s2d" in failed["dr-subnet"]["reason"]
    assert ("s2d-node1 -> s2d-node2: denied by rule deny-20004 (priority 200, inbound) of network security group "
            "nsg-s2d on subnet snet-s2d") in failed["nsg-20004"]["reason"]
    assert "s2d-node2 Not Ready" in failed["vm-agent"]["reason"] and "s2d-node1" not in failed["vm-agent"]["reason"]
    assert "has no subnet" in failed["plan"]["reason"]
    assert all(c["fix"] for c in failed.values())
    no_writes_since(emu, seq)

    code, out, _err = run(["check", *nodes(demo)], capsys)
    assert code == 3
    assert out.rstrip().splitlines()[-1] == "not met: vm-agent, cache-account, dr-subnet, nsg-20004, plan"
    no_writes_since(emu, seq)


def test_permissions_the_identity_lacks_are_named_with_their_scope(
        emu: Emulator, demo: dict[str, Any], app: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    control(emu, "DELETE", "authorization/assignments", principal="app", scope=demo["recovery_vnet_id"])
    control(emu, "DELETE", "authorization/assignments", principal="app", scope=demo["recovery_resource_group_id"])
    code, out, err = run(["check", *nodes(demo), "--json"], capsys)
    assert code == 3, err
    failed = {c["check"]: c for c in json.loads(out)["checks"] if c["status"] == "not met"}
    assert set(failed) == {"permissions"}
    assert "rg-s2d-dr (recovery role): lacks" in failed["permissions"]["reason"]
    assert "vnet-dr (recovery role): lacks" in failed["permissions"]["reason"]


@pytest.mark.parametrize("args", [
    ["--vm", "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/rg-s2d-prod/providers/"
             "Microsoft.Compute/virtualMachines/no-such-vm"],
    ["--vm", "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/rg-s2d-prod/providers/"
             "Microsoft.Network/networkInterfaces/s2d-node1-nic"],
    ["--vm", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
             "Microsoft.Compute/virtualMachines/vm1"],
    ["--vm", "not-an-id"],
    ["--resource-group", "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/rg-s2d-dr"],
    ["--resource-group", "rg-s2d-prod"],
    ["--resource-group", "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/rg-s2d-prod",
     "--cluster", "not a name"],
])
def test_bad_input_exits_2_and_writes_nothing(emu: Emulator, demo: dict[str, Any], app: dict[str, str],
                                              capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    seq = emu.journal.last_seq
    code, out, err = run(["check", *args], capsys)
    assert code == 2 and out == "" and err.strip().splitlines()[-1].startswith("asr-s2d: "), (code, out, err)
    no_writes_since(emu, seq)


def test_the_nodes_must_be_named_one_way(emu: Emulator, demo: dict[str, Any], app: dict[str, str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["check"], ["check", "--vm", demo["vm_ids"][0], "--resource-group", group_id(demo)]):
        with pytest.raises(SystemExit) as exited:
            cli.main(args)
        assert exited.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["check", "--help"])
    shown = capsys.readouterr().out
    assert "examples:" in shown and "exit codes (every command):" in shown and "--resource-group" in shown
