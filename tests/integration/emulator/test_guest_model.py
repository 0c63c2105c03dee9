"""The in-guest failover cluster through the real SDK's ``begin_run_command``: ``set-cluster-ip`` and
``cluster-health`` scripts, failover copies of the cluster, and the control API that drills use."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.mgmt.compute import ComputeManagementClient

from emulator import Emulator
from emulator.providers.compute import guest
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from tests.integration.emulator import armhttp

PROD, DR = "rg-s2d-prod", "rg-s2d-dr"
SET_IP = ["# asr-s2d:set-cluster-ip v1",
          "param([string]$IPAddress, [int]$ProbePort, [string]$SubnetPrefix, [string]$IPResourceName)",
          "# ... Get-ClusterResource | Set-ClusterParameter -Multiple @{...}; Stop/Start-ClusterResource ..."]
HEALTH = ["# asr-s2d:cluster-health v1", "Get-ClusterNode | ..."]


@pytest.fixture
def cc(sdk: Any) -> ComputeManagementClient:
    return sdk(ComputeManagementClient)


def run(cc: ComputeManagementClient, group: str, vm: str, script: list[str], **params: Any) -> tuple[dict[str, Any], str]:
    """Run a script; returns (the JSON object on the last stdout line, stderr)."""
    result = cc.virtual_machines.begin_run_command(group, vm, {
        "commandId": "RunPowerShellScript", "script": script,
        "parameters": [{"name": k, "value": str(v)} for k, v in params.items()]}).result()
    stdout, stderr = (s.message for s in result.value)
    return json.loads(stdout.strip().splitlines()[-1]), stderr


def fail_over(emu: Emulator, demo: dict[str, Any], *, subnet: str = "recovery_subnet_id",
              suffix: str = "-dr") -> list[str]:
    """What the recovery services provider does at failover: NICs and VMs in the target, guest copied."""
    recovered = []
    for index, source_vm in enumerate(demo["vm_ids"]):
        name = source_vm.rsplit("/", 1)[-1]
        with emu.world.lock:
            nic = network.create_nic(emu.world, subscription_id=demo["subscription_id"], resource_group=DR,
                                     name=f"{name}{suffix}-nic", location="northeurope", subnet_id=demo[subnet])
            vm = compute.create_vm(emu.world, subscription_id=demo["subscription_id"], resource_group=DR,
                                   name=f"{name}{suffix}", location="northeurope", nic_ids=[nic["id"]],
                                   os_disk={"name": f"{name}{suffix}-os"}, computer_name=name)
            cluster = guest.clone_for_recovery(emu.world, source_vm, vm["id"])
        assert cluster is not None and [n["state"] for n in cluster["nodes"]][: index + 1] == ["Up"] * (index + 1)
        recovered.append(vm["id"])
    return recovered


def test_cluster_health_reports_the_demo_cluster(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    report, stderr = run(cc, PROD, "s2d-node2", HEALTH)
    assert stderr == ""
    assert report == {
        "cluster": "s2dclu01", "cluster_service": "Running",
        "nodes": [{"name": "s2d-node1", "state": "Up"}, {"name": "s2d-node2", "state": "Up"}],
        "quorum": {"state": "Normal", "witness": {"type": "Cloud", "state": "Online"}},
        "pool": {"name": "S2D on s2dclu01", "health": "Healthy"},
        "virtual_disks": [{"name": "vd01", "health": "Healthy"}],
        "csv": [{"name": "Cluster Virtual Disk (vd01)", "state": "Online"}],
        "ip_resources": [{"name": "Cluster IP Address", "address": "10.10.1.10", "state": "Online"}],
    }


def test_failover_copy_keeps_the_old_ip_until_the_app_moves_it(emu: Emulator, demo: dict[str, Any],
                                                               cc: ComputeManagementClient) -> None:
    node1_dr, node2_dr = fail_over(emu, demo)
    state = armhttp.control(emu, "GET", "guest", query={"id": node2_dr}).body
    assert state["networks"] == [{"name": "Cluster Network 1", "address": "10.20.1.0", "prefix_length": 24,
                                  "role": "ClusterAndClient"}]
    assert state["ip_resources"][0]["address"] == "10.10.1.10" and state["ip_resources"][0]["state"] == "Offline"
    assert state["node"] == "s2d-node2" and state["id"] == guest.describe(emu.world, node1_dr)["id"], "one shared copy"

    result, stderr = run(cc, DR, "s2d-node1-dr", SET_IP, IPAddress="10.20.1.10", ProbePort=59999,
                         SubnetPrefix="10.20.1.0/24")
    assert stderr == ""
    assert result == {"status": "changed", "cluster": "s2dclu01", "access_point": "Singleton", "reason": None,
                      "resources": [{"name": "Cluster IP Address", "address_before": "10.10.1.10",
                                     "address": "10.20.1.10", "probe_port": 59999, "network": "Cluster Network 1",
                                     "state": "Online"}]}
    resource = guest.describe(emu.world, node2_dr)["ip_resources"][0]
    assert (resource["subnet_mask"], resource["enable_dhcp"]) == ("255.255.255.255", 0)

    again, _ = run(cc, DR, "s2d-node2-dr", SET_IP, IPAddress="10.20.1.10", ProbePort=59999, SubnetPrefix="10.20.1.0/24")
    assert again["status"] == "unchanged" and again["resources"][0]["address_before"] == "10.20.1.10"
    health, _ = run(cc, DR, "s2d-node2-dr", HEALTH)
    assert health["ip_resources"] == [{"name": "Cluster IP Address", "address": "10.20.1.10", "state": "Online"}]
    source, _ = run(cc, PROD, "s2d-node1", HEALTH)
    assert source["ip_resources"][0]["address"] == "10.10.1.10", "the source cluster is untouched"


def test_test_failover_gets_its_own_copy(emu: Emulator, demo: dict[str, Any]) -> None:
    failover = fail_over(emu, demo)
    drill = fail_over(emu, demo, subnet="test_subnet_id", suffix="-test")
    assert guest.describe(emu.world, failover[0])["id"] != guest.describe(emu.world, drill[0])["id"]
    assert guest.describe(emu.world, drill[0])["networks"][0]["address"] == "10.30.1.0"

    # Test-failover cleanup deletes the VMs; the next drill starts again from the source's state.
    guest.update_cluster(emu.world, drill[0], {"virtual_disks": [{"name": "vd01", "health": "Degraded"}]})
    for vm_id in drill:
        compute.delete_vm(emu.world, vm_id, delete_attached=True)
    again = fail_over(emu, demo, subnet="test_subnet_id", suffix="-test")
    assert guest.describe(emu.world, again[0])["virtual_disks"] == [{"name": "vd01", "health": "Healthy"}]


def test_set_cluster_ip_needs_a_matching_cluster_network(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    result, stderr = run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.20.1.10", ProbePort=59999,
                         SubnetPrefix="10.20.1.0/24")
    assert result["status"] == "failed" and result["resources"] == []
    assert "no cluster network matches 10.20.1.0/24" in result["reason"] and "Cluster Network 1 (10.10.1.0/24)" in stderr


@pytest.mark.parametrize(("params", "reason"), [
    ({"ProbePort": 59999, "SubnetPrefix": "10.10.1.0/24"}, "missing parameter(s): IPAddress"),
    ({"IPAddress": "10.10.1.300", "ProbePort": 59999, "SubnetPrefix": "10.10.1.0/24"}, "invalid parameter"),
    ({"IPAddress": "10.10.1.20", "ProbePort": 70000, "SubnetPrefix": "10.10.1.0/24"}, "not a TCP port"),
    ({"IPAddress": "10.10.2.20", "ProbePort": 59999, "SubnetPrefix": "10.10.1.0/24"}, "is not inside 10.10.1.0/24"),
    ({"IPAddress": "10.10.1.20", "ProbePort": 59999, "SubnetPrefix": "10.10.1.0/24", "IPResourceName": "Other"},
     "no IP Address resource named 'Other'"),
])
def test_set_cluster_ip_refuses_bad_parameters(demo: dict[str, Any], cc: ComputeManagementClient,
                                               params: dict[str, Any], reason: str) -> None:
    result, stderr = run(cc, PROD, "s2d-node1", SET_IP, **params)
    assert result["status"] == "failed" and reason in result["reason"] and stderr.strip() == result["reason"]


def test_set_cluster_ip_on_the_source_with_the_same_values_is_unchanged(demo: dict[str, Any],
                                                                       cc: ComputeManagementClient) -> None:
    result, _ = run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.1.10", ProbePort=59999,
                    SubnetPrefix="10.10.1.0/24", IPResourceName="cluster ip address")
    assert result["status"] == "unchanged"


def test_distributed_network_name_has_no_ip_resource(emu: Emulator, demo: dict[str, Any],
                                                     cc: ComputeManagementClient) -> None:
    reply = armhttp.control(emu, "PATCH", "guest", query={"id": demo["vm_ids"][0]},
                            body={"access_point": "Distributed", "ip_resources": []})
    assert reply.status == 200 and reply.body["access_point"] == "Distributed"
    # The PATCH merged the (empty) list: the resource is still there; PUT replaces the whole state.
    state = reply.body
    state.update(ip_resources=[])
    assert armhttp.control(emu, "PUT", "guest", query={"id": demo["vm_ids"][0]}, body=state).status == 200
    result, stderr = run(cc, PROD, "s2d-node2", SET_IP, IPAddress="10.10.1.10", ProbePort=59999,
                         SubnetPrefix="10.10.1.0/24")
    assert result["status"] == "no-ip-resource" and result["access_point"] == "Distributed" and stderr == ""


def test_failing_drills_are_seen_by_cluster_health(emu: Emulator, demo: dict[str, Any],
                                                   cc: ComputeManagementClient) -> None:
    armhttp.control(emu, "PATCH", "guest", query={"id": demo["vm_ids"][0]}, body={
        "virtual_disks": [{"name": "vd01", "health": "Degraded"}], "pool": {"health": "Warning"},
        "csvs": [{"name": "Cluster Virtual Disk (vd01)", "state": "Failed"}],
        "quorum": {"witness": {"state": "Offline"}}})
    report, _ = run(cc, PROD, "s2d-node2", HEALTH)
    assert report["virtual_disks"] == [{"name": "vd01", "health": "Degraded"}]
    assert report["pool"]["health"] == "Warning" and report["csv"][0]["state"] == "Failed"
    assert report["quorum"] == {"state": "Normal", "witness": {"type": "Cloud", "state": "Offline"}}

    armhttp.control(emu, "PATCH", "guest", query={"id": demo["vm_ids"][0]},
                    body={"quorum": {"state": "Lost"}, "cluster_service": "Stopped"})
    result, _ = run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.1.11", ProbePort=59999, SubnetPrefix="10.10.1.0/24")
    assert result["status"] == "failed" and "no quorum" in result["reason"]


def test_a_stopped_node_is_down_and_quorum_follows(emu: Emulator, demo: dict[str, Any],
                                                   cc: ComputeManagementClient) -> None:
    cc.virtual_machines.begin_deallocate(PROD, "s2d-node2").result()
    report, _ = run(cc, PROD, "s2d-node1", HEALTH)
    assert report["nodes"] == [{"name": "s2d-node1", "state": "Up"}, {"name": "s2d-node2", "state": "Down"}]
    assert report["quorum"]["state"] == "Normal", "one node plus the cloud witness keep quorum"
    armhttp.control(emu, "PATCH", "guest", query={"id": demo["vm_ids"][0]}, body={"quorum": {"witness": {"state": "Offline"}}})
    cc.virtual_machines.begin_restart(PROD, "s2d-node1").result()
    report, _ = run(cc, PROD, "s2d-node1", HEALTH)
    assert (report["quorum"]["state"], report["cluster_service"]) == ("Lost", "Stopped")


def test_run_history_records_scripts_and_parameters(emu: Emulator, demo: dict[str, Any],
                                                    cc: ComputeManagementClient) -> None:
    run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.1.10", ProbePort=59999, SubnetPrefix="10.10.1.0/24")
    run(cc, PROD, "s2d-node1", HEALTH)
    history = armhttp.control(emu, "GET", "guest/run-commands", query={"id": demo["vm_ids"][0]}).body
    assert [h["command"] for h in history] == ["set-cluster-ip", "cluster-health"]
    first = history[0]
    assert first["script"] == SET_IP and first["command_id"] == "RunPowerShellScript"
    assert first["parameters"] == [{"name": "IPAddress", "value": "10.10.1.10"}, {"name": "ProbePort", "value": "59999"},
                                   {"name": "SubnetPrefix", "value": "10.10.1.0/24"}]
    assert not any("10.10.1.10" in line for line in first["script"]), "values travel as parameters"
    assert json.loads(first["stdout"].splitlines()[-1])["status"] == "unchanged"
    assert armhttp.control(emu, "GET", "guest/run-commands").body[-1]["command"] == "cluster-health"


def test_control_api_errors(emu: Emulator, demo: dict[str, Any]) -> None:
    reply = armhttp.control(emu, "GET", "guest", query={"id": demo["vault_id"]})
    assert reply.status == 404
    reply = armhttp.control(emu, "PATCH", "guest", query={"id": demo["vm_ids"][0]},
                            body={"nodes": [{"name": "s2d-node1", "state": "Sleeping"}]})
    assert reply.status == 400 and "nodes[s2d-node1].state" in reply.body["error"]["message"]
    assert guest.describe(emu.world, demo["vm_ids"][0])["nodes"][0]["state"] == "Up", "a refused change changes nothing"
    assert armhttp.control(emu, "GET", "guest").status == 400
