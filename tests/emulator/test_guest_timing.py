"""A guest is not ready the instant its VM boots, and Run Command is no instant remote shell: each rule of
``emulator/providers/compute/runcommand.py`` and the settle stages of ``guest.py``, through the real SDK.

Sources: learn.microsoft.com/azure/virtual-machines/windows/run-command ("Restrictions": agent NOT READY, one
script at a time, at least ~20 s, 90 minutes at most, the last 4,096 bytes) and
learn.microsoft.com/windows-server/storage/storage-spaces/maintain-servers (virtual disks Warning while
Storage Spaces Direct resyncs). Time is counted in polls and Run Commands: where a rule needs Azure time to pass,
the emulator runs Azure's clock at a time scale (``emu.set_clock``) so that it never passes during the test, or
the test waits a scaled fraction of a second.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.compute import ComputeManagementClient

from emulator import Emulator
from emulator.core.clock import AZURE, DURATIONS, INSTANT
from emulator.providers.compute import runcommand, timing
from tests.emulator import armhttp
from tests.emulator.test_guest_model import fail_over

PROD = "rg-s2d-prod"
SET_IP = ["# asr-s2d:set-cluster-ip v3", "param([string]$IPAddress, [int]$ProbePort, [string]$SubnetPrefix)"]
HEALTH = ["# asr-s2d:cluster-health v2", "Get-ClusterNode | ..."]
HERE = {"IPAddress": "10.10.1.10", "ProbePort": "59999", "SubnetPrefix": "10.10.1.0/24"}


@pytest.fixture
def cc(sdk: Any) -> ComputeManagementClient:
    return sdk(ComputeManagementClient)


def body(script: list[str], **params: str) -> dict[str, Any]:
    return {"commandId": "RunPowerShellScript", "script": script,
            "parameters": [{"name": k, "value": v} for k, v in params.items()]}


def last_json(cc: ComputeManagementClient, vm: str, script: list[str], **params: str) -> dict[str, Any]:
    result = cc.virtual_machines.begin_run_command(PROD, vm, body(script, **params)).result()
    return json.loads(result.value[0].message.strip().splitlines()[-1])  # type: ignore[no-any-return]


def control(emu: Emulator, method: str, path: str, body: Any = None, **query: str) -> armhttp.Reply:
    return armhttp.control(emu, method, path, body=body, query=query or None)


def agent(cc: ComputeManagementClient, vm: str) -> str:
    return str(cc.virtual_machines.instance_view(PROD, vm).vm_agent.statuses[0].display_status)


# -- the VM agent -----------------------------------------------------------------------------------------

def test_run_command_fails_while_the_vm_agent_is_not_ready(emu: Emulator, demo: dict[str, Any],
                                                           cc: ComputeManagementClient) -> None:
    control(emu, "PUT", "vm-agent", {"status": "NotReady"}, id=demo["vm_ids"][0])
    poller = cc.virtual_machines.begin_run_command(PROD, "s2d-node1", body(HEALTH))
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert caught.value.error.code == "VMAgentStatusCommunicationError"
    assert "has not reported status for VM agent" in caught.value.error.message
    assert [r["status"] for r in runcommand.history(emu.world, demo["vm_ids"][0])] == ["Failed"]

    assert control(emu, "DELETE", "vm-agent", id=demo["vm_ids"][0]).body["ready"] is True
    assert last_json(cc, "s2d-node1", HEALTH)["cluster_service"] == "Running"  # the same request, once Ready


def test_a_booted_vm_agent_is_not_ready_until_its_time_has_passed(emu: Emulator, demo: dict[str, Any],
                                                                  cc: ComputeManagementClient) -> None:
    emu.set_clock(AZURE, time_scale=1)  # Azure's own pace
    assert timing.seconds(emu.world, "agent-ready") == 60 and "run-command" in DURATIONS["vm_agent_ready"].note
    cc.virtual_machines.begin_restart(PROD, "s2d-node2").result()
    assert agent(cc, "s2d-node2") == "Not Ready", "a minute from boot, not the instant it boots"
    emu.set_clock(INSTANT)  # the default
    assert agent(cc, "s2d-node2") == "Ready"


# -- one at a time, the minimum and the maximum ----------------------------------------------------------------

def test_a_run_command_someone_else_started_holds_the_vm_until_it_ends(emu: Emulator, demo: dict[str, Any],
                                                                       cc: ComputeManagementClient) -> None:
    started = control(emu, "POST", "guest/run-commands", {}, id=demo["vm_ids"][0])
    assert started.status == 200 and started.body["status"] == "Running"
    with pytest.raises(ResourceExistsError) as caught:
        cc.virtual_machines.begin_run_command(PROD, "s2d-node1", body(HEALTH)).result()
    assert (caught.value.status_code, caught.value.error.code) == (409, "Conflict")
    assert "in progress" in caught.value.error.message
    assert last_json(cc, "s2d-node2", HEALTH)["cluster"], "another VM is not held"
    assert control(emu, "POST", "guest/run-commands", {}, id=demo["vm_ids"][0]).status == 400  # one at a time

    [ended] = control(emu, "DELETE", "guest/run-commands", id=demo["vm_ids"][0]).body
    assert ended["status"] == "Succeeded"
    assert last_json(cc, "s2d-node1", HEALTH)["cluster"]


def test_a_run_command_takes_its_minimum_time(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    emu.set_clock(AZURE, time_scale=1)
    control(emu, "PUT", "vm-agent", {"status": "Ready"}, id=demo["vm_ids"][0])
    cc.virtual_machines.begin_run_command(PROD, "s2d-node1", body(HEALTH), polling=False)
    [run] = runcommand.history(emu.world, demo["vm_ids"][0])
    path = (f"/subscriptions/{demo['subscription_id']}/providers/Microsoft.Compute/locations/westeurope/operations/"
            f"{run['operation_id']}")
    for _ in range(3):  # however often it is polled, about 20 s of Azure time have not passed
        reply = armhttp.request(emu, "GET", path, query={"api-version": "2024-11-01"})
        assert (reply.status, reply.body["status"]) == (200, "InProgress")
    with pytest.raises(ResourceExistsError):
        cc.virtual_machines.begin_run_command(PROD, "s2d-node1", body(HEALTH)).result()  # still running: 409

    emu.set_clock(INSTANT)  # the 20 s have passed (they are nothing on this clock)
    assert armhttp.request(emu, "GET", path, query={"api-version": "2024-11-01"}).body["status"] == "Succeeded"
    assert [r["status"] for r in runcommand.history(emu.world, demo["vm_ids"][0])] == ["Succeeded"]


def test_a_script_times_out_at_90_minutes(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    emu.set_clock(AZURE, time_scale=90 * 60)  # 90 Azure minutes are a second here
    for vm_id, started in zip(demo["vm_ids"], ({"minutes": 600}, {}), strict=True):  # ten hours; never ending
        control(emu, "PUT", "vm-agent", {"status": "Ready"}, id=vm_id)
        control(emu, "POST", "guest/run-commands", started, id=vm_id)
    with pytest.raises(ResourceExistsError):
        cc.virtual_machines.begin_run_command(PROD, "s2d-node1", body(HEALTH)).result()
    time.sleep(1.2)  # 90 Azure minutes pass; the 10 hours do not
    for vm_id, vm in zip(demo["vm_ids"], ("s2d-node1", "s2d-node2"), strict=True):
        assert last_json(cc, vm, HEALTH)["cluster"]
        outside, ours = runcommand.history(emu.world, vm_id)[-2:]
        assert (outside["status"], outside["stderr"]) == ("TimedOut", "The script timed out after 90 minutes.")
        assert ours["status"] == "Succeeded"


def test_output_keeps_the_last_4096_bytes_and_the_result_line(emu: Emulator, demo: dict[str, Any],
                                                              cc: ComputeManagementClient) -> None:
    control(emu, "PATCH", "guest", {"warnings": [f"{i:03} " + "w" * 200 for i in range(40)]}, id=demo["vm_ids"][0])
    result = cc.virtual_machines.begin_run_command(PROD, "s2d-node1", body(HEALTH)).result()
    stdout = result.value[0].message
    assert len(stdout.encode()) == 4096 and not stdout.startswith("WARNING: 000")
    assert json.loads(stdout.strip().splitlines()[-1])["cluster_service"] == "Running"


# -- the cluster settles after boot -------------------------------------------------------------------------

def test_a_cluster_whose_service_is_starting_is_not_ready(emu: Emulator, demo: dict[str, Any],
                                                          cc: ComputeManagementClient) -> None:
    pinned = control(emu, "PUT", "guest/settle", {"stage": "starting", "runs": 2}, id=demo["vm_ids"][0]).body
    assert pinned == {"stage": "starting", "pin": {"stage": "starting", "runs": 2}}

    health = last_json(cc, "s2d-node2", HEALTH)  # the cluster, seen from either node
    assert (health["cluster_service"], health["cluster"], health["nodes"], health["pool"]) == (
        "StartPending", None, [], None)
    moved = last_json(cc, "s2d-node1", SET_IP, **{**HERE, "IPAddress": "10.10.1.11"})
    assert (moved["status"], moved["resources"]) == ("not-ready", [])
    assert "StartPending" in moved["reason"]

    assert last_json(cc, "s2d-node1", SET_IP, **HERE)["status"] == "unchanged"  # two runs later: settled
    assert control(emu, "GET", "guest/settle", id=demo["vm_ids"][0]).body == {"stage": "settled", "pin": None}


def test_storage_resyncs_after_the_cluster_service_runs(emu: Emulator, demo: dict[str, Any],
                                                        cc: ComputeManagementClient) -> None:
    control(emu, "PUT", "guest/settle", {"stage": "repairing"}, id=demo["vm_ids"][0])
    health = last_json(cc, "s2d-node1", HEALTH)
    assert health["cluster_service"] == "Running" and [v["health"] for v in health["virtual_disks"]] == ["Warning"]
    assert last_json(cc, "s2d-node1", SET_IP, **HERE)["status"] == "unchanged", "the IP resource does not wait"
    assert last_json(cc, "s2d-node1", HEALTH)["virtual_disks"][0]["health"] == "Warning", "pinned until changed"
    control(emu, "PUT", "guest/settle", {"stage": "settled"}, id=demo["vm_ids"][0])
    assert last_json(cc, "s2d-node1", HEALTH)["virtual_disks"][0]["health"] == "Healthy"


def test_a_joining_node_is_not_ready(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    control(emu, "PATCH", "guest", {"nodes": [{"name": "s2d-node1", "state": "Joining"}]}, id=demo["vm_ids"][0])
    moved = last_json(cc, "s2d-node1", SET_IP, **HERE)
    assert moved["status"] == "not-ready" and "Joining" in moved["reason"]
    assert last_json(cc, "s2d-node2", HEALTH)["nodes"][0] == {"name": "s2d-node1", "state": "Joining"}


def test_the_settle_time_follows_the_boot(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    emu.set_clock(AZURE, time_scale=60)  # the cluster service runs from 2 s after boot, resyncs 3 s more
    cc.virtual_machines.begin_restart(PROD, "s2d-node1").result()
    assert control(emu, "GET", "guest/settle", id=demo["vm_ids"][0]).body["stage"] == "starting"
    time.sleep(2.8)  # the service runs from 2 s; the resync lasts until 5 s
    assert [control(emu, "GET", "guest/settle", id=vm).body["stage"] for vm in demo["vm_ids"]] == [
        "repairing", "repairing"], "the cluster service runs; the storage resyncs the restarted node's writes"
    assert "maintain-servers" in DURATIONS["storage_resync"].source


def test_settle_control_errors(emu: Emulator, demo: dict[str, Any]) -> None:
    assert control(emu, "PUT", "guest/settle", {"stage": "napping"}, id=demo["vm_ids"][0]).status == 400
    assert control(emu, "PUT", "guest/settle", {"stage": "starting", "runs": 0}, id=demo["vm_ids"][0]).status == 400
    assert control(emu, "PUT", "guest/settle", {"stage": "starting"}, id=demo["vault_id"]).status == 404
    assert control(emu, "POST", "guest/run-commands", {"minutes": "long"}, id=demo["vm_ids"][0]).status == 400


def test_a_booting_cluster_has_no_agent_ready(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    control(emu, "PUT", "guest/settle", {"stage": "booting", "runs": 1}, id=demo["vm_ids"][1])
    assert [agent(cc, vm) for vm in ("s2d-node1", "s2d-node2")] == ["Not Ready", "Not Ready"]
    with pytest.raises(HttpResponseError) as caught:
        cc.virtual_machines.begin_run_command(PROD, "s2d-node1", body(HEALTH)).result()
    assert caught.value.error.code == "VMAgentStatusCommunicationError"
    assert agent(cc, "s2d-node1") == "Ready" and last_json(cc, "s2d-node1", HEALTH)["cluster_service"] == "Running"


def test_every_cluster_a_failover_copies_starts_where_the_control_api_says(emu: Emulator, demo: dict[str, Any],
                                                                          cc: ComputeManagementClient) -> None:
    assert control(emu, "PUT", "guest/settle", {"stage": "starting", "runs": 1}).body == {
        "after_failover": {"stage": "starting", "runs": 1}}
    assert control(emu, "GET", "guest/settle", id=demo["vm_ids"][0]).body["stage"] == "settled", "not the source"
    recovered = fail_over(emu, demo)
    states = [control(emu, "GET", "guest/settle", id=vm).body for vm in recovered]
    assert states == [{"stage": "starting", "pin": {"stage": "starting", "runs": 1}}] * 2
    dr = "rg-s2d-dr"
    moved = cc.virtual_machines.begin_run_command(dr, "s2d-node1-dr", body(SET_IP, **{
        "IPAddress": "10.20.1.10", "ProbePort": "59999", "SubnetPrefix": "10.20.1.0/24"})).result()
    assert json.loads(moved.value[0].message.strip().splitlines()[-1])["status"] == "not-ready"
    assert control(emu, "GET", "guest/settle", id=recovered[1]).body["stage"] == "settled"
