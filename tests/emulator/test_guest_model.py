"""The in-guest failover cluster through the real SDK's ``begin_run_command``: the ``set-cluster-ip`` and
``cluster-health`` scripts (contract: shared/scripts/README.md), failover copies of the cluster, and
the control API that drills use."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.mgmt.compute import ComputeManagementClient

from emulator import Emulator
from emulator.providers.compute import guest
from emulator.providers.compute import state as compute
from emulator.providers.network import state as network
from tests.emulator import armhttp
from tests.unit.builders import health_report

PROD, DR = "rg-s2d-prod", "rg-s2d-dr"
SET_IP = ["# asr-s2d:set-cluster-ip v3",
          "param([string]$IPAddress, [int]$ProbePort, [string]$SubnetPrefix, [string]$RoleAddresses)",
          "# ... Get-ClusterResource | Set-ClusterParameter -Multiple @{...}; Stop/Start-ClusterResource ..."]
HEALTH = ["# asr-s2d:cluster-health v2", "Get-ClusterNode | ..."]
DR_IP = {"IPAddress": "10.20.1.10", "ProbePort": 59999, "SubnetPrefix": "10.20.1.0/24"}


@pytest.fixture
def cc(sdk: Any) -> ComputeManagementClient:
    return sdk(ComputeManagementClient)


def run_raw(cc: ComputeManagementClient, group: str, vm: str, script: list[str], **params: Any) -> tuple[str, str]:
    """Run a script through the SDK; (stdout, stderr) as Run Command returns them."""
    result = cc.virtual_machines.begin_run_command(group, vm, {
        "commandId": "RunPowerShellScript", "script": script,
        "parameters": [{"name": k, "value": str(v)} for k, v in params.items()]}).result()
    assert [s.code for s in result.value] == ["ComponentStatus/StdOut/succeeded", "ComponentStatus/StdErr/succeeded"]
    return result.value[0].message, result.value[1].message


def run(cc: ComputeManagementClient, group: str, vm: str, script: list[str], **params: Any) -> dict[str, Any]:
    """Run a script; the JSON object on the last line of stdout (the app's parsing rule)."""
    stdout, stderr = run_raw(cc, group, vm, script, **params)
    assert stderr == "", stderr
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def fail_over(emu: Emulator, demo: dict[str, Any], *, subnet: str = "recovery_subnet_id",
              suffix: str = "-dr", test: bool = False) -> list[str]:
    """What the recovery services provider does at failover (or test failover): NICs and VMs in the target, guest
    copied."""
    recovered = []
    for index, source_vm in enumerate(demo["vm_ids"]):
        name = source_vm.rsplit("/", 1)[-1]
        with emu.world.lock:
            nic = network.create_nic(emu.world, subscription_id=demo["subscription_id"], resource_group=DR,
                                     name=f"{name}{suffix}-nic", location="northeurope", subnet_id=demo[subnet])
            vm = compute.create_vm(emu.world, subscription_id=demo["subscription_id"], resource_group=DR,
                                   name=f"{name}{suffix}", location="northeurope", nic_ids=[nic["id"]],
                                   os_disk={"name": f"{name}{suffix}-os"}, computer_name=name)
            cluster = guest.clone_for_recovery(emu.world, source_vm, vm["id"], test=test)
        assert cluster is not None and [n["state"] for n in cluster["nodes"]][: index + 1] == ["Up"] * (index + 1)
        recovered.append(vm["id"])
    return recovered


def patch_guest(emu: Emulator, vm_id: str, change: dict[str, Any]) -> dict[str, Any]:
    return armhttp.control_json(emu, "PATCH", "guest", change, id=vm_id)  # type: ignore[no-any-return]


# -- cluster-health -------------------------------------------------------------------------------------

def test_cluster_health_reports_the_demo_cluster(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    expected = health_report()
    expected["ip_resources"][0]["address"] = "10.10.1.10"
    expected["quorum"]["witness"]["state"] = "Online"  # production reaches its witness; a drill's clone must not
    assert run(cc, PROD, "s2d-node2", HEALTH) == expected


def test_failing_drills_are_seen_by_cluster_health(emu: Emulator, demo: dict[str, Any],
                                                   cc: ComputeManagementClient) -> None:
    patch_guest(emu, demo["vm_ids"][0], {
        "virtual_disks": [{"name": "vd02", "health": "Healthy"}, {"name": "vd01", "health": "Degraded"}],
        "pool": {"health": "Warning"}, "csvs": [{"name": "Cluster Virtual Disk (vd01)", "state": "Failed"}],
        "quorum": {"witness": {"state": "Offline"}}})
    report = run(cc, PROD, "s2d-node2", HEALTH)
    assert report["virtual_disks"] == [{"name": "vd01", "health": "Degraded"}, {"name": "vd02", "health": "Healthy"}], \
        "problems sort first"
    assert report["pool"]["health"] == "Warning" and report["csv"][0]["state"] == "Failed"
    assert report["quorum"]["witness"] == {"type": "Cloud", "state": "Offline", "account": "stwitnessne01"}
    assert report["quorum"]["has_quorum"]

    patch_guest(emu, demo["vm_ids"][0], {"nodes": [{"name": "s2d-node2", "state": "Down"}],
                                         "quorum": {"state": "Lost"}, "cluster_service": "Stopped"})
    report = run(cc, PROD, "s2d-node1", HEALTH)
    assert report["nodes"][0] == {"name": "s2d-node2", "state": "Down"}
    assert (report["quorum"]["has_quorum"], report["quorum"]["votes_up"], report["cluster_service"]) == (False, 1, "Stopped")
    assert report["errors"] == ["cluster: The cluster service is not running on this node."]


def test_a_stopped_node_is_down_and_quorum_follows(emu: Emulator, demo: dict[str, Any],
                                                   cc: ComputeManagementClient) -> None:
    cc.virtual_machines.begin_deallocate(PROD, "s2d-node2").result()
    report = run(cc, PROD, "s2d-node1", HEALTH)
    assert report["nodes"] == [{"name": "s2d-node2", "state": "Down"}, {"name": "s2d-node1", "state": "Up"}]
    assert report["quorum"]["has_quorum"] is True, "one node plus the cloud witness keep quorum"
    patch_guest(emu, demo["vm_ids"][0], {"quorum": {"witness": {"state": "Offline"}}})
    cc.virtual_machines.begin_restart(PROD, "s2d-node1").result()  # quorum is recounted on power changes
    report = run(cc, PROD, "s2d-node1", HEALTH)
    assert (report["quorum"]["has_quorum"], report["cluster_service"]) == (False, "Stopped")


def test_cluster_health_stays_below_4000_bytes(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    disks = [{"name": f"a-rather-long-virtual-disk-name-for-the-s2d-volume-{i:03}", "health": "Healthy"}
             for i in range(200)]
    patch_guest(emu, demo["vm_ids"][0], {"virtual_disks": [*disks, {"name": "vd-sick", "health": "Unhealthy"}]})
    stdout, _ = run_raw(cc, PROD, "s2d-node1", HEALTH)
    report = json.loads(stdout)
    assert len(stdout.strip().encode()) <= 4000 and report["truncated"] is True
    assert report["virtual_disks"][0] == {"name": "vd-sick", "health": "Unhealthy"}, "the problem survives the cut"
    assert all(len(v["name"]) <= 48 for v in report["virtual_disks"])


def test_a_vm_without_a_cluster(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    with emu.world.lock:
        nic = network.create_nic(emu.world, subscription_id=demo["subscription_id"], resource_group=DR, name="lone-nic",
                                 location="northeurope", subnet_id=demo["recovery_subnet_id"])
        compute.create_vm(emu.world, subscription_id=demo["subscription_id"], resource_group=DR, name="lone",
                          location="northeurope", nic_ids=[nic["id"]])
    report = run(cc, DR, "lone", HEALTH)
    assert report["cluster"] is None and report["quorum"] is None and len(report["errors"]) == 3
    result = run(cc, DR, "lone", SET_IP, **DR_IP)
    assert result["status"] == "failed" and result["cluster"] is None and "FailoverClusters" in result["reason"]


# -- set-cluster-ip after a failover ------------------------------------------------------------------

def test_failover_copy_keeps_the_old_ip_until_the_app_moves_it(emu: Emulator, demo: dict[str, Any],
                                                               cc: ComputeManagementClient) -> None:
    node1_dr, node2_dr = fail_over(emu, demo)
    state = armhttp.control(emu, "GET", "guest", query={"id": node2_dr}).body
    assert state["networks"] == [{"name": "Cluster Network 1", "address": "10.20.1.0", "prefix_length": 24,
                                  "role": "ClusterAndClient"}]
    assert state["ip_resources"][0]["address"] == "10.10.1.10" and state["ip_resources"][0]["state"] == "Offline"
    assert state["node"] == "s2d-node2" and state["id"] == guest.describe(emu.world, node1_dr)["id"], "one shared copy"

    result = run(cc, DR, "s2d-node1-dr", SET_IP, **DR_IP)
    assert result == {"status": "changed", "cluster": "s2dclu01", "access_point": "Singleton", "reason": None,
                      "roles_without_ip": [],
                      "resources": [{"name": "Cluster IP Address", "group": "Cluster Group",
                                     "address_before": "10.10.1.10", "address": "10.20.1.10", "probe_port": 59999,
                                     "network": "Cluster Network 1", "state": "Online", "role_state": "Online"}]}
    resource = guest.describe(emu.world, node2_dr)["ip_resources"][0]
    assert (resource["subnet_mask"], resource["enable_dhcp"]) == ("255.255.255.255", 0)

    again = run(cc, DR, "s2d-node2-dr", SET_IP, **DR_IP)
    assert again["status"] == "unchanged" and again["resources"][0]["address_before"] == "10.20.1.10"
    health = run(cc, DR, "s2d-node2-dr", HEALTH)
    assert health["ip_resources"] == [{"name": "Cluster IP Address", "group": "Cluster Group", "address": "10.20.1.10",
                                       "probe_port": 59999, "state": "Online"}]
    assert run(cc, PROD, "s2d-node1", HEALTH)["ip_resources"][0]["address"] == "10.10.1.10", "the source is untouched"


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


def test_no_cluster_network_on_the_prefix_fails(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    result = run(cc, PROD, "s2d-node1", SET_IP, **DR_IP)
    assert result["status"] == "failed" and result["resources"] == []
    assert result["reason"] == "no cluster network matches 10.20.1.0/24; the cluster has: Cluster Network 1 (10.10.1.0/24)"


def test_an_address_outside_the_network_does_not_come_online(emu: Emulator, demo: dict[str, Any],
                                                             cc: ComputeManagementClient) -> None:
    result = run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.2.20", ProbePort=59999, SubnetPrefix="10.10.1.0/24")
    assert result["status"] == "failed" and result["resources"][0]["state"] == "Failed"
    assert "does not belong to 'Cluster Network 1'" in result["reason"]
    assert guest.describe(emu.world, demo["vm_ids"][1])["ip_resources"][0]["state"] == "Failed", "the cluster IP broke"


@pytest.mark.parametrize(("params", "stderr"), [
    ({"ProbePort": 59999, "SubnetPrefix": "10.10.1.0/24"}, "missing mandatory parameters: IPAddress."),
    ({"IPAddress": "10.10.1.300", "ProbePort": 59999, "SubnetPrefix": "10.10.1.0/24"},
     "Cannot validate argument on parameter 'IPAddress'"),
    ({"IPAddress": "10.10.1.20; Remove-Item C:\\", "ProbePort": 59999, "SubnetPrefix": "10.10.1.0/24"},
     "Cannot validate argument on parameter 'IPAddress'"),
    ({"IPAddress": "10.10.1.20", "ProbePort": 70000, "SubnetPrefix": "10.10.1.0/24"}, "outside the allowed range"),
    ({"IPAddress": "10.10.1.20", "ProbePort": "http", "SubnetPrefix": "10.10.1.0/24"}, 'to type "System.Int32"'),
    ({"IPAddress": "10.10.1.20", "ProbePort": 59999, "SubnetPrefix": "10.10.1.0"}, "parameter 'SubnetPrefix'"),
    ({"IPAddress": "10.10.1.20", "ProbePort": 59999, "SubnetPrefix": "10.10.1.0/24", "Force": "1"},
     "A parameter cannot be found that matches parameter name 'Force'."),
])
def test_parameters_are_bound_before_the_script_runs(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient,
                                                     params: dict[str, Any], stderr: str) -> None:
    before = guest.describe(emu.world, demo["vm_ids"][0])
    out, err = run_raw(cc, PROD, "s2d-node1", SET_IP, **params)
    assert out == "", "PowerShell refused the parameters: no JSON line at all"
    assert stderr in err
    assert guest.describe(emu.world, demo["vm_ids"][0]) == before


def test_role_ips_move_only_through_role_addresses(emu: Emulator, demo: dict[str, Any],
                                                   cc: ComputeManagementClient) -> None:
    patch_guest(emu, demo["vm_ids"][0], {"ip_resources": [{"name": "Cluster IP Address", "group": "SQL Group"}]})
    result = run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.1.11", ProbePort=59999, SubnetPrefix="10.10.1.0/24")
    assert result["status"] == "no-ip-resource" and "'Cluster IP Address' (SQL Group)" in result["reason"]
    moved = run(cc, PROD, "s2d-node1", SET_IP, SubnetPrefix="10.10.1.0/24", RoleAddresses="10.10.1.10=10.10.1.11:59999")
    assert moved["status"] == "changed" and moved["resources"][0]["address"] == "10.10.1.11"
    assert moved["resources"][0]["group"] == "SQL Group", "a group without a role is a Generic role"


def test_the_core_resource_already_on_the_network_wins(emu: Emulator, demo: dict[str, Any],
                                                       cc: ComputeManagementClient) -> None:
    patch_guest(emu, demo["vm_ids"][0], {
        "networks": [{"name": "Cluster Network 2", "address": "10.10.9.0", "prefix_length": 24}],
        "ip_resources": [{"name": "A Second IP", "address": "10.10.9.10", "subnet_mask": "255.255.255.255",
                          "probe_port": 59999, "network": "Cluster Network 2", "enable_dhcp": 0, "state": "Online"}]})
    result = run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.9.10", ProbePort=59999, SubnetPrefix="10.10.9.0/24")
    assert (result["status"], result["resources"][0]["name"]) == ("unchanged", "A Second IP")


def test_a_network_without_client_access_fails(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    patch_guest(emu, demo["vm_ids"][0], {"networks": [{"name": "Cluster Network 1", "role": "Cluster"}]})
    result = run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.1.10", ProbePort=59999, SubnetPrefix="10.10.1.0/24")
    assert result["status"] == "failed" and "does not allow client access" in result["reason"]


def test_distributed_network_name_has_no_ip_resource(emu: Emulator, demo: dict[str, Any],
                                                     cc: ComputeManagementClient) -> None:
    state = patch_guest(emu, demo["vm_ids"][0], {"access_point": "Distributed", "ip_resources": []})
    assert state["access_point"] == "Distributed" and state["ip_resources"], "PATCH merges lists item by item"
    state.update(ip_resources=[])
    assert armhttp.control(emu, "PUT", "guest", query={"id": demo["vm_ids"][0]}, body=state).status == 200
    result = run(cc, PROD, "s2d-node2", SET_IP, IPAddress="10.10.1.10", ProbePort=59999, SubnetPrefix="10.10.1.0/24")
    assert (result["status"], result["access_point"], result["resources"]) == ("no-ip-resource", "Distributed", [])


def test_no_quorum_means_no_change(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    patch_guest(emu, demo["vm_ids"][0], {"quorum": {"state": "Lost"}, "cluster_service": "Stopped"})
    result = run(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.1.11", ProbePort=59999, SubnetPrefix="10.10.1.0/24")
    assert result["status"] == "failed" and result["cluster"] is None and "not running" in result["reason"]
    assert guest.describe(emu.world, demo["vm_ids"][0])["ip_resources"][0]["address"] == "10.10.1.10"


def test_warnings_come_before_the_result_and_output_is_trimmed(emu: Emulator, demo: dict[str, Any],
                                                               cc: ComputeManagementClient) -> None:
    patch_guest(emu, demo["vm_ids"][0], {"warnings": [f"{i:03} " + "x" * 96 for i in range(60)]})
    stdout, _ = run_raw(cc, PROD, "s2d-node1", SET_IP, IPAddress="10.10.1.10", ProbePort=59999,
                        SubnetPrefix="10.10.1.0/24")
    assert len(stdout.encode()) == 4096, "Run Command keeps the last 4,096 bytes"
    assert not stdout.startswith("WARNING: 000"), "the head was cut"
    assert json.loads(stdout.strip().splitlines()[-1])["status"] == "unchanged", "the result line survives"


# -- history and control API --------------------------------------------------------------------------

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
    assert armhttp.control(emu, "GET", "guest", query={"id": demo["vault_id"]}).status == 404
    reply = armhttp.control(emu, "PATCH", "guest", query={"id": demo["vm_ids"][0]},
                            body={"nodes": [{"name": "s2d-node1", "state": "Sleeping"}]})
    assert reply.status == 400 and "nodes[s2d-node1].state" in reply.body["error"]["message"]
    assert guest.describe(emu.world, demo["vm_ids"][0])["nodes"][0]["state"] == "Up", "a refused change changes nothing"
    reply = armhttp.control(emu, "PUT", "guest", query={"id": demo["vm_ids"][0]}, body={"name": "x"})
    assert reply.status == 400
    assert armhttp.control(emu, "GET", "guest").status == 400
