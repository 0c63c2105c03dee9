"""ARM behaviour the real SDKs rely on, seen through them: long-running operations, paging, 404s,
429 + Retry-After (injected and from throttling), connection resets, ARM-shaped 400s for bad input,
and the Event Grid events ARM publishes (both schemas, duplicated and reordered delivery)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator import Emulator
from emulator.core.faults import FaultRule
from emulator.core.identity import APP_PRINCIPAL_ID
from emulator.core.throttle import ThrottleConfig
from emulator.providers.network import state as network
from tests.emulator import armhttp

PROD, DR = "rg-s2d-prod", "rg-s2d-dr"
DATA_KEYS = {"authorization", "claims", "correlationId", "httpRequest", "operationName", "resourceProvider",
             "resourceUri", "status", "subscriptionId", "tenantId"}


@pytest.fixture
def cc(sdk: Any) -> ComputeManagementClient:
    return sdk(ComputeManagementClient)


@pytest.fixture
def net(sdk: Any) -> NetworkManagementClient:
    return sdk(NetworkManagementClient)


def _subscribe(emu: Emulator, **options: Any) -> str:
    reply = armhttp.control(emu, "POST", "subscriptions", body={"mode": "pull", **options})
    assert reply.status == 200, reply.text
    return str(reply.body["id"])


def _drain(emu: Emulator, subscriber: str) -> list[dict[str, Any]]:
    reply = armhttp.control(emu, "GET", f"events/{subscriber}")
    assert reply.status == 200
    return list(reply.body)


def _nic_body(subnet_id: str) -> dict[str, Any]:
    return {"location": "northeurope", "properties": {"ipConfigurations": [
        {"name": "ipconfig1", "properties": {"subnet": {"id": subnet_id}}}]}}


# -- long-running operations and paging ------------------------------------------------------------------

def test_long_running_put_is_polled_until_it_succeeds(emu: Emulator, demo: dict[str, Any],
                                                      net: NetworkManagementClient) -> None:
    emu.lro.default_polls = 2
    since = emu.journal.last_seq
    nic = net.network_interfaces.begin_create_or_update(DR, "nic-lro", _nic_body(demo["recovery_subnet_id"])).result()
    assert nic.properties.provisioning_state == "Succeeded"
    entries = emu.journal.entries(since)
    assert next((e.method, e.status) for e in entries if not e.poll) == ("PUT", 201)
    assert [e.status for e in entries if e.poll] == [200, 200, 200], "two InProgress answers, then Succeeded"
    assert (entries[-1].method, entries[-1].path) == ("GET", nic.id), "then the final GET of the resource"


def test_resource_reads_updating_until_its_operation_completes(emu: Emulator, demo: dict[str, Any],
                                                              net: NetworkManagementClient) -> None:
    poller = net.network_interfaces.begin_create_or_update(DR, "nic-lro", _nic_body(demo["recovery_subnet_id"]),
                                                           polling=False)
    assert poller.done()  # NoPolling: the initial answer only
    assert net.network_interfaces.get(DR, "nic-lro").properties.provisioning_state == "Updating"
    assert armhttp.control(emu, "POST", "operations/settle").body == {"settled": 1}
    assert net.network_interfaces.get(DR, "nic-lro").properties.provisioning_state == "Succeeded"


def test_an_operation_failed_by_a_fault_surfaces_its_error(emu: Emulator, demo: dict[str, Any],
                                                           cc: ComputeManagementClient) -> None:
    emu.faults.add(FaultRule(action="lro_fail", method="POST", path=r"/deallocate$", code="AllocationFailed",
                             message="Allocation failed.", count=1))
    with pytest.raises(HttpResponseError) as caught:
        cc.virtual_machines.begin_deallocate(PROD, "s2d-node1").result()
    assert "AllocationFailed" in str(caught.value)


def test_paged_list_follows_next_links(emu: Emulator, demo: dict[str, Any], net: NetworkManagementClient) -> None:
    for index in range(5):
        network.create_nic(emu.world, subscription_id=demo["subscription_id"], resource_group=DR, name=f"nic-{index}",
                           location="northeurope", subnet_id=demo["recovery_subnet_id"])
    emu.page_size = 2
    since = emu.journal.last_seq
    names = [n.name for n in net.network_interfaces.list(DR)]
    assert names == [f"nic-{i}" for i in range(5)]
    pages = [e for e in emu.journal.entries(since) if e.path.endswith("/networkInterfaces")]
    assert len(pages) == 3
    assert "$skiptoken" not in pages[0].query and all("$skiptoken" in p.query for p in pages[1:])
    emu.page_size = 1
    assert len(list(net.network_interfaces.list_all())) == 7


def test_missing_resources_raise_resource_not_found(demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        cc.virtual_machines.get(PROD, "no-such-vm")
    assert caught.value.status_code == 404 and caught.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as caught:
        cc.virtual_machines.get("rg-nowhere", "s2d-node1")
    assert caught.value.error.code == "ResourceGroupNotFound"


# -- retries: injected 429, connection reset, throttling -------------------------------------------------

def test_injected_429_is_retried_after_retry_after(emu: Emulator, demo: dict[str, Any],
                                                   cc: ComputeManagementClient) -> None:
    emu.faults.add(FaultRule(action="status", status=429, retry_after=1, count=1, method="GET",
                             path=r"/virtualMachines/s2d-node1$"))
    since = emu.journal.last_seq
    started = time.monotonic()
    assert cc.virtual_machines.get(PROD, "s2d-node1").name == "s2d-node1"
    assert time.monotonic() - started >= 1.0, "the SDK waited for Retry-After"
    calls = [(e.status, e.fault) for e in emu.journal.entries(since) if e.path.endswith("/s2d-node1")]
    assert calls == [(429, "status"), (200, None)]


def test_injected_connection_reset_is_retried(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    emu.faults.add(FaultRule(action="reset", count=1, method="GET", path=r"/virtualMachines/s2d-node2$"))
    since = emu.journal.last_seq
    assert cc.virtual_machines.get(PROD, "s2d-node2").name == "s2d-node2"
    calls = [(e.status, e.fault) for e in emu.journal.entries(since) if e.path.endswith("/s2d-node2")]
    assert calls == [(0, "reset"), (200, None)]


def test_throttling_answers_429_with_retry_after_then_recovers(emu: Emulator, demo: dict[str, Any], sdk: Any) -> None:
    emu.throttle.reset(ThrottleConfig(reads_capacity=3, reads_per_second=1, writes_capacity=1, writes_per_second=0.5))
    strict = sdk(ComputeManagementClient, retry_total=0)
    served = 0
    with pytest.raises(HttpResponseError) as caught:
        for _ in range(20):  # the bucket refills at 1/s: a burst of fast reads empties it
            strict.virtual_machines.get(PROD, "s2d-node1")
            served += 1
    assert served >= 3, "the burst capacity was served first"
    response = caught.value.response
    assert (response.status_code, caught.value.error.code) == (429, "TooManyRequests")
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1 and response.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    time.sleep(retry_after)
    assert strict.virtual_machines.get(PROD, "s2d-node1").name == "s2d-node1", "the bucket refilled"

    # Writes have their own bucket; the SDK's default retry policy rides out the 429 by itself.
    patient = sdk(ComputeManagementClient)
    since = emu.journal.last_seq
    patient.virtual_machines.begin_update(PROD, "s2d-node1", {"tags": {"a": "1"}}, polling=False)
    patient.virtual_machines.begin_update(PROD, "s2d-node1", {"tags": {"a": "2"}}, polling=False)
    patches = [(e.status, e.fault) for e in emu.journal.entries(since) if e.method == "PATCH"]
    assert patches == [(200, None), (429, "throttled"), (200, None)]
    assert emu.throttle.rejected >= 2


# -- bad input --------------------------------------------------------------------------------------------

def _assert_arm_error(reply: armhttp.Reply, status: int, code: str) -> None:
    assert (reply.status, reply.error_code) == (status, code), reply.text
    assert reply.body["error"]["message"] and "Traceback" not in reply.text
    assert reply.headers["content-type"].startswith("application/json")


def test_malformed_json_and_non_object_bodies(emu: Emulator, demo: dict[str, Any]) -> None:
    vm = demo["vm_ids"][0]
    _assert_arm_error(armhttp.arm(emu, "PUT", vm, api_version="2026-04-01", raw=b'{"location": "westeurope",'),
                      400, "InvalidRequestContent")
    _assert_arm_error(armhttp.arm(emu, "PATCH", vm, api_version="2026-04-01", raw=b"[1, 2]"), 400, "InvalidRequestContent")
    _assert_arm_error(armhttp.arm(emu, "PUT", demo["nic_ids"][0], api_version="2026-03-01", raw=b""),
                      400, "InvalidRequestContent")
    _assert_arm_error(armhttp.arm(emu, "POST", vm + "/runCommand", api_version="2026-04-01", raw=b"\xff\xfe"),
                      400, "InvalidRequestContent")


def test_api_version_is_required_and_checked(emu: Emulator, demo: dict[str, Any]) -> None:
    vm = demo["vm_ids"][0]
    _assert_arm_error(armhttp.arm(emu, "GET", vm, api_version=None), 400, "MissingApiVersionParameter")
    reply = armhttp.arm(emu, "GET", vm, api_version="2015-01-01")
    _assert_arm_error(reply, 400, "InvalidApiVersionParameter")
    assert "2026-04-01" in reply.body["error"]["message"]
    _assert_arm_error(armhttp.arm(emu, "GET", demo["disk_ids"][0], api_version="2026-04-01"),
                      400, "InvalidApiVersionParameter")  # disks have their own versions
    for path, version in ((demo["disk_ids"][0], "2026-03-02"), (demo["source_lb_id"], "2025-07-01"),
                          (demo["nic_ids"][0], "2025-03-01")):
        assert armhttp.arm(emu, "GET", path, api_version=version).status == 200


@pytest.mark.parametrize(("target", "version", "body"), [
    ("vm", "2026-04-01", {"location": "westeurope", "properties": {"hardwareProfile": {"vmSize": 5}}}),
    ("vm", "2026-04-01", {"location": "westeurope", "tags": ["a"], "properties": {}}),
    ("vm", "2026-04-01", {"location": 7, "properties": {}}),
    ("nic", "2026-03-01", {"location": "westeurope", "properties": {"ipConfigurations": {"name": "x"}}}),
    ("nic", "2026-03-01", {"location": "westeurope", "properties": {"ipConfigurations": [
        {"name": "ipconfig1", "properties": {"primary": "yes"}}]}}),
    ("lb", "2026-03-01", {"location": "westeurope", "properties": {"probes": [{"name": "p", "properties": {
        "protocol": "Tcp", "port": "59999"}}]}}),
    ("runCommand", "2026-04-01", {"commandId": "RunPowerShellScript", "script": "Get-Date"}),
    ("runCommand", "2026-04-01", {"commandId": "RunPowerShellScript", "parameters": [{"name": "a", "value": 1}]}),
])
def test_wrong_types_are_arm_400s(emu: Emulator, demo: dict[str, Any], target: str, version: str,
                                  body: dict[str, Any]) -> None:
    path = {"vm": demo["vm_ids"][1], "nic": demo["nic_ids"][1], "lb": demo["source_lb_id"],
            "runCommand": demo["vm_ids"][1] + "/runCommand"}[target]
    reply = armhttp.arm(emu, "POST" if target == "runCommand" else "PUT", path, api_version=version, body=body)
    _assert_arm_error(reply, 400, "InvalidRequestContent")


def test_missing_required_values_and_unauthenticated_calls(emu: Emulator, demo: dict[str, Any]) -> None:
    reply = armhttp.arm(emu, "PUT", demo["vm_ids"][1], api_version="2026-04-01",
                        body={"location": "westeurope", "properties": {"storageProfile": {}}})
    _assert_arm_error(reply, 400, "InvalidParameter")
    assert reply.body["error"]["details"][0]["target"] == "properties.hardwareProfile"
    _assert_arm_error(armhttp.arm(emu, "PUT", demo["vm_ids"][1], api_version="2026-04-01", body={"properties": {}}),
                      400, "LocationRequired")
    unauthenticated = armhttp.request(emu, "GET", demo["vm_ids"][0], query={"api-version": "2026-04-01"},
                                      authorize=False)
    _assert_arm_error(unauthenticated, 401, "AuthenticationFailed")


def test_ids_are_case_insensitive(emu: Emulator, demo: dict[str, Any]) -> None:
    lowered = demo["vm_ids"][0].lower()
    assert "/resourcegroups/" in lowered
    reply = armhttp.arm(emu, "GET", lowered, api_version="2026-04-01")
    assert reply.status == 200 and reply.body["id"] == demo["vm_ids"][0]


# -- events --------------------------------------------------------------------------------------------------

def test_vm_patch_and_put_publish_write_events_in_both_schemas(emu: Emulator, demo: dict[str, Any],
                                                              cc: ComputeManagementClient) -> None:
    grid, cloud = _subscribe(emu), _subscribe(emu, schema="CloudEventSchemaV1_0")
    cc.virtual_machines.begin_update(PROD, "s2d-node1", {"tags": {"asr-s2d": "true"}}).result()
    vm = cc.virtual_machines.get(PROD, "s2d-node2")
    vm.tags = {"asr-s2d": "true"}
    cc.virtual_machines.begin_create_or_update(PROD, "s2d-node2", vm).result()

    events = _drain(emu, grid)
    assert [(e["eventType"], e["subject"]) for e in events] == [
        ("Microsoft.Resources.ResourceWriteSuccess", demo["vm_ids"][0]),
        ("Microsoft.Resources.ResourceWriteSuccess", demo["vm_ids"][1])]
    for event, method in zip(events, ("PATCH", "PUT"), strict=True):
        data = event["data"]
        assert set(data) == DATA_KEYS, "the full data block, and never the tags"
        assert data["operationName"] == "Microsoft.Compute/virtualMachines/write"
        assert (data["resourceProvider"], data["status"], data["subscriptionId"]) == \
            ("Microsoft.Compute", "Succeeded", demo["subscription_id"])
        assert data["resourceUri"] == event["subject"] and data["httpRequest"]["method"] == method
        assert data["claims"]["http://schemas.microsoft.com/identity/claims/objectidentifier"] == APP_PRINCIPAL_ID
        assert data["authorization"]["action"] == "Microsoft.Compute/virtualMachines/write"
        assert event["topic"] == f"/subscriptions/{demo['subscription_id']}"

    cloud_events = _drain(emu, cloud)
    assert [e["specversion"] for e in cloud_events] == ["1.0", "1.0"]
    assert cloud_events[0]["type"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert cloud_events[0]["source"] == f"/subscriptions/{demo['subscription_id']}"
    assert cloud_events[0]["subject"] == demo["vm_ids"][0] and set(cloud_events[0]["data"]) == DATA_KEYS


def test_tags_api_write_event(emu: Emulator, demo: dict[str, Any], sdk: Any) -> None:
    grid, cloud = _subscribe(emu), _subscribe(emu, schema="CloudEventSchemaV1_0")
    sdk(ResourceManagementClient).tags.begin_update_at_scope(demo["vm_ids"][0], {
        "operation": "Merge", "properties": {"tags": {"asr-s2d": "true"}}}).result()
    [event] = _drain(emu, grid)
    assert event["subject"] == f"{demo['vm_ids'][0]}/providers/Microsoft.Resources/tags/default"
    assert event["data"]["operationName"] == "Microsoft.Resources/tags/write" and set(event["data"]) == DATA_KEYS
    [cloud_event] = _drain(emu, cloud)
    assert cloud_event["subject"] == event["subject"] and cloud_event["data"]["resourceProvider"] == "Microsoft.Resources"


def test_long_running_writes_publish_on_completion(emu: Emulator, demo: dict[str, Any],
                                                   cc: ComputeManagementClient) -> None:
    grid = _subscribe(emu)
    cc.virtual_machines.begin_update(PROD, "s2d-node1", {"tags": {"x": "1"}}, polling=False)
    assert _drain(emu, grid) == [], "nothing happened yet"
    emu.lro.settle()
    assert [e["data"]["operationName"] for e in _drain(emu, grid)] == ["Microsoft.Compute/virtualMachines/write"]


def test_actions_and_deletes_publish_their_events(emu: Emulator, demo: dict[str, Any],
                                                  cc: ComputeManagementClient) -> None:
    grid = _subscribe(emu)
    cc.virtual_machines.begin_run_command(PROD, "s2d-node1", {"commandId": "RunPowerShellScript",
                                                              "script": ["# asr-s2d:cluster-health v2"]}).result()
    cc.virtual_machines.begin_deallocate(PROD, "s2d-node2").result()
    cc.virtual_machines.begin_delete(PROD, "s2d-node2").result()
    events = [(e["eventType"], e["data"]["operationName"]) for e in _drain(emu, grid)]
    assert events == [
        ("Microsoft.Resources.ResourceActionSuccess", "Microsoft.Compute/virtualMachines/runCommand/action"),
        ("Microsoft.Resources.ResourceActionSuccess", "Microsoft.Compute/virtualMachines/deallocate/action"),
        ("Microsoft.Resources.ResourceDeleteSuccess", "Microsoft.Compute/virtualMachines/delete"),
    ]


def test_refused_writes_publish_nothing(emu: Emulator, demo: dict[str, Any], cc: ComputeManagementClient) -> None:
    grid = _subscribe(emu)
    with pytest.raises(HttpResponseError):
        cc.virtual_machines.begin_update(PROD, "s2d-node1", {"tags": {"bad<": "x"}}).result()
    assert _drain(emu, grid) == []


def test_pull_subscriber_duplicates_and_reorders(emu: Emulator, demo: dict[str, Any], sdk: Any) -> None:
    subscriber = _subscribe(emu, duplicate=2, reorder=True, seed=7,
                            operation_names=["Microsoft.Resources/tags/write"])
    tags = sdk(ResourceManagementClient).tags
    for value in ("1", "2", "3"):
        tags.begin_update_at_scope(demo["vm_ids"][0], {"operation": "Merge", "properties": {"tags": {"n": value}}}).result()
    sdk(ComputeManagementClient).virtual_machines.begin_update(PROD, "s2d-node1", {"tags": {}}).result()  # filtered out

    published = [e.id for e in emu.events.published if e.operation_name == "Microsoft.Resources/tags/write"]
    delivered = [e["id"] for e in _drain(emu, subscriber)]
    assert sorted(delivered) == sorted(published * 2), "every event at least once: here exactly twice"
    assert delivered != [i for i in published for _ in range(2)], "and not in publication order"
