"""The workloads S2D clusters run: a SQL Server FCI's access point moves with the cluster IP, a distributed network name
needs no move, and drills see the roles and never let the clone touch production's witness (issue 18).

The world is the demo's with a SQL Server FCI role (``demo-sql``): the source load balancer gives the FCI's virtual
network name its own frontend 10.10.1.11, HA-ports rule and probe 59998, as Microsoft's "Configure an Azure load
balancer for an FCI VNN" does. Everything runs through the real SDK against the emulator and Azurite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emulator import Emulator
from emulator.clients import control
from emulator.providers.compute import guest as guest_model
from emulator.providers.storage.state import add_storage_account
from shared.drill import service as drill
from shared.drill.record import Result
from shared.failover import service as failover
from shared.runtime import Runtime
from tests.functions.conftest import deliver, writes_since
from tests.functions.drill_world import CLUSTER
from tests.functions.test_failover import World, guest, readdressed, run_commands

pytestmark = pytest.mark.azure_clock

SQL_SOURCE, SQL_PROBE = "10.10.1.11", 59998
SQL_ROLE = guest_model.SQL_ROLE


@pytest.fixture
def demo(emu: Emulator) -> dict[str, Any]:
    """The demo world whose cluster runs a SQL Server FCI (overrides the suite's ``demo``)."""
    return emu.seed("demo-sql")


@pytest.fixture
def world(emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
          event_queue: Callable[[], list[dict[str, Any]]]) -> World:
    return World(emu, demo, runtime, operator_sdk, event_queue)


def role_frontend(world: World, lb_id: str) -> tuple[str | None, int]:
    lb = world.rt.network.get_load_balancer(lb_id)
    assert lb is not None
    [role] = lb.role_frontends()
    assert role.source_ip == SQL_SOURCE
    return role.ip, role.probe_port


def ip_resources(world: World, vm_id: str) -> dict[str, tuple[str, int, str]]:
    return {r["name"]: (r["address"], r["probe_port"], r["state"]) for r in guest(world.emu, vm_id)["ip_resources"]}


def role_state(world: World, vm_id: str, name: str = SQL_ROLE) -> str:
    return str(next(r["state"] for r in guest(world.emu, vm_id)["roles"] if r["name"] == name))


# -- failover ----------------------------------------------------------------------------------------------

def test_a_sql_fci_fails_over_with_both_access_points_on_their_dr_addresses_and_probes(world: World) -> None:
    world.enroll(**{"asr-s2d-dr-ips": f"{SQL_SOURCE}=10.20.1.11"})
    assert role_frontend(world, world.lb_id) == ("10.20.1.11", SQL_PROBE), "enrollment mirrors the source frontend"
    dr_lb = world.rt.network.get_load_balancer(world.lb_id)
    assert dr_lb is not None and dr_lb.frontend_ip and dr_lb.probe_port == 59999

    world.unplanned_failover()
    seq = world.emu.journal.last_seq
    outcomes = readdressed(deliver(world.queue(), failover.handle, world.rt))

    assert [o.kind for o in outcomes] == ["reassigned"], [o.reason for o in outcomes]
    assert f"role IP {SQL_SOURCE} on 10.20.1.11 (probe {SQL_PROBE})" in outcomes[0].reason
    # P5 per access point: the DR load balancer was staged with both frontends; one Run Command moves both IPs.
    assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in writes_since(world.emu, seq)] == [("POST", "runCommand")]
    [run] = run_commands(world.emu)
    assert {p["name"]: p["value"] for p in run["parameters"]}["RoleAddresses"] == f"{SQL_SOURCE}=10.20.1.11:{SQL_PROBE}"
    recovered = world.recovered_vm_ids()[0]
    resources = ip_resources(world, recovered)
    assert resources["Cluster IP Address"] == (dr_lb.frontend_ip, 59999, "Online")
    assert resources["SQL IP Address 1 (sqlvnn)"] == ("10.20.1.11", SQL_PROBE, "Online")
    assert role_state(world, recovered) == "Online", "the SQL role came back online after its IP moved"


def test_a_role_without_a_tag_gets_the_first_free_dr_address_recorded_on_the_dr_load_balancer(world: World) -> None:
    world.enroll()
    role_ip, probe = role_frontend(world, world.lb_id)
    dr_lb = world.rt.network.get_load_balancer(world.lb_id)
    assert dr_lb is not None and role_ip and role_ip.startswith("10.20.1.") and role_ip != dr_lb.frontend_ip
    assert probe == SQL_PROBE
    world.unplanned_failover()
    [outcome] = readdressed(deliver(world.queue(), failover.handle, world.rt))
    assert outcome.kind == "reassigned", outcome.reason
    assert ip_resources(world, world.recovered_vm_ids()[0])["SQL IP Address 1 (sqlvnn)"] == (role_ip, SQL_PROBE,
                                                                                              "Online")


def test_a_test_failover_moves_both_access_points_onto_the_test_load_balancer(world: World) -> None:
    world.enroll(**{"asr-s2d-dr-ips": f"{SQL_SOURCE}=10.20.1.11"})
    world.test_failover()
    outcomes = readdressed(deliver(world.queue(), failover.handle, world.rt))
    assert [o.kind for o in outcomes] == ["reassigned"], [o.reason for o in outcomes]
    assert role_frontend(world, world.test_lb_id) == ("10.30.1.11", SQL_PROBE), "the DR address's host part"
    test_vm = world.recovered_vm_ids(test=True)[0]
    assert ip_resources(world, test_vm)["SQL IP Address 1 (sqlvnn)"] == ("10.30.1.11", SQL_PROBE, "Online")
    assert role_state(world, test_vm) == "Online"


def test_an_audit_reports_a_role_missing_from_the_dr_load_balancer_and_repairs_it(world: World) -> None:
    from shared.audit import checks
    from shared.audit import service as audit

    world.enroll()
    lb = world.rt.network.get_load_balancer(world.lb_id)
    assert lb is not None
    world.rt.network.put_internal_load_balancer(world.lb_id, location="northeurope", subnet_id=str(lb.frontend_subnet_id),
                                                frontend_ip=lb.frontend_ip, probe_port=59999, tags=dict(lb.tags))
    report = audit.run_audit(world.rt)
    [cluster] = report.clusters
    assert [(f.code, f.severity.value) for f in cluster.findings if f.code == checks.DR_LB_ROLE_MISSING] == [
        (checks.DR_LB_ROLE_MISSING, "critical")] and cluster.status == "red"
    audit.run_audit(world.rt, repair=True)
    assert role_frontend(world, world.lb_id)[1] == SQL_PROBE


# -- distributed network names --------------------------------------------------------------------------------

def test_a_sofs_role_needs_no_ip_move_and_the_outcome_says_so(world: World) -> None:
    control(world.emu, "PATCH", "guest", {"roles": [guest_model.sofs_role("SOFS", owner="s2d-node2")]},
            id=world.demo["vm_ids"][0])
    world.enroll(**{"asr-s2d-dr-ips": f"{SQL_SOURCE}=10.20.1.11"})
    world.unplanned_failover()
    [outcome] = readdressed(deliver(world.queue(), failover.handle, world.rt))
    assert outcome.kind == "reassigned"
    assert "role(s) SOFS use a distributed network name: no IP to move" in outcome.reason
    assert outcome.details["guest"]["roles_without_ip"] == ["SOFS"]


# -- drills ------------------------------------------------------------------------------------------------------

def test_a_drill_with_the_sql_role_offline_fails_naming_the_role(world: World) -> None:
    world.enroll(**{"asr-s2d-dr-ips": f"{SQL_SOURCE}=10.20.1.11"})
    control(world.emu, "PATCH", "guest", {"roles": [{"name": SQL_ROLE, "state": "Failed"}]},
            id=world.demo["vm_ids"][0])
    record = drill.run_drill(CLUSTER, world.rt)
    assert record.result is Result.FAILED
    roles = next(c for c in record.checks if c.name == "roles")
    assert not roles.ok and f"'{SQL_ROLE}' Failed" in roles.detail
    assert record.cleanup.ok and world.test_vms() == []


def test_a_drill_of_a_sql_fci_checks_every_role_and_its_test_address(world: World) -> None:
    world.enroll(**{"asr-s2d-dr-ips": f"{SQL_SOURCE}=10.20.1.11",
                    "asr-s2d-witness": world.demo["witness_storage_account_id"]})
    record = drill.run_drill(CLUSTER, world.rt)
    assert record.result is Result.PASSED, record.reason
    checks = {c.name: c.detail for c in record.checks}
    assert SQL_ROLE in checks["roles"] and "10.30.1.11" in checks["role-ips"]
    assert "as the drill requires" in checks["witness"] and "denies the test network" in checks["witness-isolated"]


def open_witness(world: World, name: str = "stwitnessopen01") -> str:
    """A cloud witness whose firewall lets every network through, and the cluster using it."""
    with world.emu.world.lock:
        account = add_storage_account(world.emu.world, subscription_id=world.demo["subscription_id"],
                                      resource_group="rg-s2d-dr", name=name, location="northeurope")
    for vm_id in world.demo["vm_ids"]:
        control(world.emu, "PATCH", "guest", {"quorum": {"witness": {"account": name}}}, id=vm_id)
    return str(account["id"])


def test_a_declared_witness_the_test_network_can_reach_stops_the_drill_before_any_test_failover(world: World) -> None:
    witness_id = open_witness(world)
    world.enroll(**{"asr-s2d-witness": witness_id})
    record = drill.run_drill(CLUSTER, world.rt)
    assert record.result is Result.FAILED
    check = next(c for c in record.checks if c.name == "witness-isolated")
    assert not check.ok and "accepts every network" in check.detail
    jobs = [j["properties"]["scenarioName"] for j in control(world.emu, "GET", "asr/jobs")]
    assert "TestFailover" not in jobs, "the clone never came up"


def test_a_clone_that_reaches_an_undeclared_witness_fails_the_drill_loudly_and_is_cleaned_up(world: World) -> None:
    open_witness(world)
    world.enroll()
    record = drill.run_drill(CLUSTER, world.rt)
    assert record.result is Result.FAILED
    witness = next(c for c in record.checks if c.name == "witness")
    assert not witness.ok and witness.detail.startswith("CRITICAL: the test clone reached cloud witness stwitnessopen01")
    assert record.cleanup.ok and world.test_vms() == []


def test_a_role_ip_the_load_balancers_do_not_front_is_a_disagreement_the_drill_reports(world: World) -> None:
    """A second SQL FCI whose VNN IP no source frontend fronts: Azure's view (two access points) and the guest's
    inventory (three) disagree; the drill's read-only inventory names the resource that would not move."""
    ip = guest_model.ip_resource("SQL IP Address 2 (sqlvnn2)", "10.10.1.12", 59997, network="Cluster Network 1",
                                 group="SQL Server (INST2)")
    role = {"name": "SQL Server (INST2)", "type": "SqlServer", "state": "Online", "owner": "s2d-node2",
            "resources": [{"name": "SQL IP Address 2 (sqlvnn2)", "type": "IP Address", "state": "Online",
                           "depends_on": []}], "services": []}
    control(world.emu, "PATCH", "guest", {"ip_resources": [ip], "roles": [role]}, id=world.demo["vm_ids"][0])
    world.enroll(**{"asr-s2d-dr-ips": f"{SQL_SOURCE}=10.20.1.11"})
    record = drill.run_drill(CLUSTER, world.rt)
    assert record.result is Result.FAILED
    check = next(c for c in record.checks if c.name == "role-ips")
    assert not check.ok and "'SQL IP Address 2 (sqlvnn2)' (10.10.1.12) has no frontend" in check.detail


def test_the_audit_says_where_the_dr_and_test_networks_resolve_names(world: World) -> None:
    from shared.audit import service as audit

    for vnet_id, servers in ((world.demo["recovery_vnet_id"], ["10.20.0.4", "10.10.0.4"]),
                             (world.demo["test_vnet_id"], ["10.10.0.4"])):
        with world.emu.world.lock:
            world.emu.world.get(vnet_id)["properties"]["dhcpOptions"] = {"dnsServers": servers}
    world.enroll()
    report = audit.run_audit(world.rt)
    dns = {n["role"]: (n["dns"], n["inside"], n["outside"]) for n in report.networks}
    assert dns == {"DR": ("custom", ["10.20.0.4"], ["10.10.0.4"]), "drill test": ("custom", [], ["10.10.0.4"])}
    [finding] = [f for f in report.findings if f.code == audit.DNS_UNREACHABLE]
    assert finding.subject == "vnet-dr-test" and "cannot reach them" in finding.message
