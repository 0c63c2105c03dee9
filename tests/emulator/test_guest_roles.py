"""Access points beyond the core cluster IP (issue 18), through the real SDK's ``begin_run_command``: a SQL Server
FCI role with its own IP Address resource moved by ``set-cluster-ip`` v3's ``RoleAddresses``, a SOFS role with a
distributed network name and nothing to move, ``cluster-health`` v2's roles, and whether a failover copy of the
cluster reaches the cloud witness through the storage account's network rules."""

from __future__ import annotations

from typing import Any

import pytest
from azure.mgmt.compute import ComputeManagementClient

from emulator import Emulator
from emulator.providers.compute import guest
from emulator.providers.storage.state import add_storage_account
from tests.emulator.test_guest_model import HEALTH, SET_IP, fail_over, patch_guest, run, run_raw

PROD, DR = "rg-s2d-prod", "rg-s2d-dr"
SQL = guest.SQL_ROLE
BOTH = {"IPAddress": "10.20.1.10", "ProbePort": 59999, "SubnetPrefix": "10.20.1.0/24",
        "RoleAddresses": "10.10.1.11=10.20.1.11:59998"}


@pytest.fixture
def cc(sdk: Any) -> ComputeManagementClient:
    return sdk(ComputeManagementClient)


@pytest.fixture
def demo_sql(emu: Emulator) -> dict[str, Any]:
    return emu.seed("demo-sql")


def copy_cluster(emu: Emulator, demo: dict[str, Any], *, subnet: str, suffix: str, test: bool) -> list[str]:
    """Both nodes failed over (or test-failed over) into ``demo[subnet]``, as the recovery services provider does."""
    return fail_over(emu, demo, subnet=subnet, suffix=suffix, test=test)


def role(state: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in state["roles"] if r["name"] == name)


# -- set-cluster-ip v3 ----------------------------------------------------------------------------------

def test_the_sql_role_is_down_after_failover_until_v3_moves_both_access_points(emu: Emulator, demo_sql: dict[str, Any],
                                                                             cc: ComputeManagementClient) -> None:
    node1, _node2 = copy_cluster(emu, demo_sql, subnet="recovery_subnet_id", suffix="-dr", test=False)
    sql = role(guest.describe(emu.world, node1), SQL)
    assert sql["state"] == "Offline" and sql["services"] == [{"name": "MSSQLSERVER", "status": "Stopped"}]
    assert [m["state"] for m in sql["resources"]] == ["Offline"] * 3, "the IP cannot come online, nor its dependents"

    result = run(cc, DR, "s2d-node1-dr", SET_IP, **BOTH)
    assert (result["status"], result["roles_without_ip"], result["reason"]) == ("changed", [], None)
    assert result["resources"] == [
        {"name": "Cluster IP Address", "group": "Cluster Group", "address_before": "10.10.1.10", "address": "10.20.1.10",
         "probe_port": 59999, "network": "Cluster Network 1", "state": "Online", "role_state": "Online"},
        {"name": "SQL IP Address 1 (sqlvnn)", "group": SQL, "address_before": "10.10.1.11", "address": "10.20.1.11",
         "probe_port": 59998, "network": "Cluster Network 1", "state": "Online", "role_state": "Online"}]
    sql = role(guest.describe(emu.world, node1), SQL)
    assert [(m["name"], m["state"]) for m in sql["resources"]] == [
        ("SQL IP Address 1 (sqlvnn)", "Online"), ("SQL Network Name (sqlvnn)", "Online"), ("SQL Server", "Online")]
    assert sql["services"] == [{"name": "MSSQLSERVER", "status": "Running"}]

    again = run(cc, DR, "s2d-node2-dr", SET_IP, **BOTH)
    assert again["status"] == "unchanged"
    assert [r["address_before"] for r in again["resources"]] == ["10.20.1.10", "10.20.1.11"], "TO already held"


def test_moving_a_role_ip_takes_its_dependents_down_and_back(emu: Emulator, demo_sql: dict[str, Any],
                                                             cc: ComputeManagementClient) -> None:
    result = run(cc, PROD, "s2d-node1", SET_IP, SubnetPrefix="10.10.1.0/24", RoleAddresses="10.10.1.11=10.10.1.12:59997")
    assert result["status"] == "changed" and [r["name"] for r in result["resources"]] == ["SQL IP Address 1 (sqlvnn)"]
    assert guest.describe(emu.world, demo_sql["vm_ids"][0])["ip_resources"][0]["address"] == "10.10.1.10", \
        "RoleAddresses alone leaves the core IP"
    history = [h["command"] for h in guest_history(emu, demo_sql)]
    assert history == ["set-cluster-ip"]
    # Outside the network: the IP fails on Start-ClusterGroup and what depends on it stays down.
    failed = run(cc, PROD, "s2d-node1", SET_IP, SubnetPrefix="10.10.1.0/24", RoleAddresses="10.10.1.12=10.10.2.12:59997")
    assert failed["status"] == "failed" and failed["resources"][0]["role_state"] == "Failed"
    sql = role(guest.describe(emu.world, demo_sql["vm_ids"][0]), SQL)
    assert [m["state"] for m in sql["resources"]] == ["Failed", "Offline", "Offline"]


def guest_history(emu: Emulator, demo: dict[str, Any]) -> list[dict[str, Any]]:
    from tests.emulator import armhttp

    return armhttp.control(emu, "GET", "guest/run-commands", query={"id": demo["vm_ids"][0]}).body  # type: ignore[no-any-return]


def test_a_from_matching_nothing_fails_naming_it_and_changes_nothing(emu: Emulator, demo_sql: dict[str, Any],
                                                                    cc: ComputeManagementClient) -> None:
    before = guest.describe(emu.world, demo_sql["vm_ids"][0])
    result = run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.1.20", ProbePort=59999, SubnetPrefix="10.10.1.0/24",
                 RoleAddresses="10.10.1.11=10.10.1.21:59998,10.10.1.99=10.10.1.22:59998")
    assert result["status"] == "failed" and "10.10.1.99" in result["reason"] and result["resources"] == []
    assert guest.describe(emu.world, demo_sql["vm_ids"][0]) == before


@pytest.mark.parametrize(("params", "stderr"), [
    ({"SubnetPrefix": "10.10.1.0/24", "RoleAddresses": "10.10.1.11=10.10.1.12"},
     "Cannot validate argument on parameter 'RoleAddresses'"),
    ({"SubnetPrefix": "10.10.1.0/24", "RoleAddresses": "10.10.1.11=10.10.1.12:59998;Remove-Item C:\\"},
     "Cannot validate argument on parameter 'RoleAddresses'"),
    ({"SubnetPrefix": "10.10.1.0/24", "RoleAddresses": "10.10.1.11=10.10.1.12:65536"},
     "Cannot validate argument on parameter 'RoleAddresses'"),
    ({"SubnetPrefix": "10.10.1.0/24", "IPAddress": "10.10.1.10"}, "missing mandatory parameters: ProbePort."),
    ({"SubnetPrefix": "10.10.1.0/24", "ProbePort": 59999, "RoleAddresses": "10.10.1.11=10.10.1.12:59998"},
     "missing mandatory parameters: IPAddress."),
    ({"SubnetPrefix": "10.10.1.0/24"}, "missing mandatory parameters: RoleAddresses."),
    ({"RoleAddresses": "10.10.1.11=10.10.1.12:59998"}, "missing mandatory parameters: SubnetPrefix."),
    ({"IPAddress": "10.10.1.10", "ProbePort": 59999, "SubnetPrefix": "10.10.1.0/24", "IPResourceName": "SQL"},
     "A parameter cannot be found that matches parameter name 'IPResourceName'."),
])
def test_v3_refuses_bad_parameters_before_it_runs(emu: Emulator, demo_sql: dict[str, Any], cc: ComputeManagementClient,
                                                  params: dict[str, Any], stderr: str) -> None:
    before = guest.describe(emu.world, demo_sql["vm_ids"][0])
    out, err = run_raw(cc, PROD, "s2d-node1", SET_IP, **params)
    assert out == "" and stderr in err
    assert guest.describe(emu.world, demo_sql["vm_ids"][0]) == before


def test_a_sofs_role_has_nothing_to_move(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    patch_guest(emu, demo["vm_ids"][0], {"roles": [guest.sofs_role("SOFS", owner="s2d-node2")]})
    before = guest.describe(emu.world, demo["vm_ids"][0])
    result = run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.1.10", ProbePort=59999, SubnetPrefix="10.10.1.0/24")
    assert (result["status"], result["roles_without_ip"]) == ("unchanged", ["SOFS"])
    assert [r["name"] for r in result["resources"]] == ["Cluster IP Address"]
    assert guest.describe(emu.world, demo["vm_ids"][0]) == before

    # A cluster whose every access point is a distributed network name: nothing at all to move.
    state = patch_guest(emu, demo["vm_ids"][0], {"access_point": "Distributed"})
    state.update(ip_resources=[])
    guest.update_cluster(emu.world, demo["vm_ids"][0], state, replace=True)
    result = run(cc, PROD, "s2d-node1", SET_IP, SubnetPrefix="10.10.1.0/24", RoleAddresses="10.10.1.11=10.10.1.12:59998")
    assert (result["status"], result["roles_without_ip"]) == ("no-ip-resource", ["Cluster Group", "SOFS"])


# -- cluster-health v2 ------------------------------------------------------------------------------------

def test_cluster_health_reports_roles_and_an_offline_sql_role(emu: Emulator, demo_sql: dict[str, Any],
                                                              cc: ComputeManagementClient) -> None:
    report = run(cc, PROD, "s2d-node2", HEALTH)
    assert [(r["name"], r["type"], r["state"], r["owner"]) for r in report["roles"]] == [
        ("Cluster Group", "Cluster", "Online", "s2d-node1"), (SQL, "SqlServer", "Online", "s2d-node1")]
    assert report["ip_resources"][1] == {"name": "SQL IP Address 1 (sqlvnn)", "group": SQL, "address": "10.10.1.11",
                                         "probe_port": 59998, "state": "Online"}
    assert report["quorum"]["witness"]["account"] == "stwitnessne01"

    patch_guest(emu, demo_sql["vm_ids"][0], {"roles": [{"name": SQL, "state": "Offline"}]})
    report = run(cc, PROD, "s2d-node2", HEALTH)
    assert report["roles"][0] == {"name": SQL, "type": "SqlServer", "state": "Offline", "owner": "s2d-node1", "resources": [
        {"name": "SQL IP Address 1 (sqlvnn)", "type": "IP Address", "state": "Offline"},
        {"name": "SQL Network Name (sqlvnn)", "type": "Network Name", "state": "Offline"},
        {"name": "SQL Server", "type": "SQL Server", "state": "Offline"}]}, "problems sort first"
    assert report["ip_resources"][0]["state"] == "Offline", "one home: the IP resource follows its role"

    patch_guest(emu, demo_sql["vm_ids"][0], {"roles": [{"name": SQL, "state": "Online"}]})
    assert all(r["state"] == "Online" for r in run(cc, PROD, "s2d-node2", HEALTH)["roles"])


def test_the_guest_model_refuses_a_bad_role(emu: Emulator, demo_sql: dict[str, Any]) -> None:
    from tests.emulator import armhttp

    for change, where in (({"roles": [{"name": SQL, "type": "Oracle"}]}, f"roles[{SQL}].type"),
                          ({"roles": [{"name": SQL, "state": "PartialOnline"}]}, f"roles[{SQL}].state"),
                          ({"roles": [{"name": "X", "type": "Generic", "state": "Online", "owner": None, "services": [],
                                       "resources": [{"name": "n", "type": "Network Name", "state": "Online",
                                                      "depends_on": ["ghost"]}]}]}, "roles[X].resources[n].depends_on")):
        reply = armhttp.control(emu, "PATCH", "guest", query={"id": demo_sql["vm_ids"][0]}, body=change)
        assert reply.status == 400 and where in reply.body["error"]["message"], reply.body


# -- the cloud witness from a copy ------------------------------------------------------------------------

def witness_account(emu: Emulator, demo: dict[str, Any], name: str, **rules: Any) -> None:
    with emu.world.lock:
        add_storage_account(emu.world, subscription_id=demo["subscription_id"], resource_group=DR, name=name,
                            location="northeurope", **rules)
    patch_guest(emu, demo["vm_ids"][0], {"quorum": {"witness": {"account": name}}})


def test_a_test_copy_reaches_an_open_witness_account_and_shares_it(emu: Emulator, demo: dict[str, Any],
                                                                   cc: ComputeManagementClient) -> None:
    witness_account(emu, demo, "stwitnessopen01")  # the demo's own witness denies the test network
    drill = copy_cluster(emu, demo, subnet="test_subnet_id", suffix="-test", test=True)
    witness = guest.describe(emu.world, drill[0])["quorum"]["witness"]
    assert witness == {"type": "Cloud", "state": "Online", "account": "stwitnessopen01", "shared_with_production": True}
    failover = copy_cluster(emu, demo, subnet="recovery_subnet_id", suffix="-dr", test=False)
    assert guest.describe(emu.world, failover[0])["quorum"]["witness"]["shared_with_production"] is False, \
        "after a failover the copy is production"


def test_a_test_copy_reaches_an_account_whose_rules_let_the_test_subnet_through(emu: Emulator,
                                                                                demo: dict[str, Any]) -> None:
    witness_account(emu, demo, "stwitnessrule01", network_acls={
        "defaultAction": "Deny", "virtualNetworkRules": [{"id": demo["test_subnet_id"].upper()}]})
    drill = copy_cluster(emu, demo, subnet="test_subnet_id", suffix="-test", test=True)
    assert guest.describe(emu.world, drill[0])["quorum"]["witness"]["shared_with_production"] is True


@pytest.mark.parametrize("rules", [
    {"network_acls": {"defaultAction": "Deny", "virtualNetworkRules": []}},
    {"public_network_access": "Disabled"},
])
def test_a_test_copy_denied_the_witness_keeps_quorum_by_node_majority(emu: Emulator, demo: dict[str, Any],
                                                                      cc: ComputeManagementClient,
                                                                      rules: dict[str, Any]) -> None:
    witness_account(emu, demo, "stwitnessdeny01", **rules)
    drill = copy_cluster(emu, demo, subnet="test_subnet_id", suffix="-test", test=True)
    state = guest.describe(emu.world, drill[0])
    assert state["quorum"]["witness"] == {"type": "Cloud", "state": "Failed", "account": "stwitnessdeny01",
                                          "shared_with_production": False}
    assert state["quorum"]["state"] == "Normal" and state["cluster_service"] == "Running"
    report = run(cc, DR, "s2d-node1-test", HEALTH)
    assert report["quorum"]["has_quorum"] is True and report["quorum"]["witness"]["state"] == "Failed"
    assert guest.describe(emu.world, demo["vm_ids"][0])["quorum"]["witness"]["state"] == "Online", "production keeps it"
