"""The emulator's ASR responses have the shape of the official REST examples (../shared/api-examples) and
of the SDK models.

The examples are Hyper-V ones: their provider-neutral parts must appear, key for key and recursively,
in the emulator's answer for the equivalent A2A object. The A2A parts are held to the SDK models
instead: every key the emulator sends must be a field of the model (resolved through ``instanceType``),
so a misspelt key (ASR's own spellings included: ``recoveryOrignalTargetDiskId``, ``isSeletedForFailover``)
cannot pass, and the A2A fields the app relies on must be there.
"""

from __future__ import annotations

import json
import sys
import typing
from typing import Any

import pytest
from azure.core.rest import HttpRequest
from azure.mgmt.recoveryservicessiterecovery import models
from azure.mgmt.recoveryservicessiterecovery import models as m

from tests.emulator.asr.conftest import VAULT, VAULT_RG, cluster_plan, enable, set_pools
from tests.emulator.shapes import EXAMPLES

API = "2025-08-01"
# Dict[str, str] in the models: their keys are data (Hyper-V names in the examples), not shape.
FREE_FORM = {"affectedObjectDetails", "tags"}


def missing_keys(example: Any, ours: Any, path: str = "") -> list[str]:
    """Keys of ``example`` (recursively) that ``ours`` lacks."""
    if isinstance(example, dict):
        if not isinstance(ours, dict):
            return [path or "<root>"]
        found = []
        for key, value in example.items():
            if key not in ours:
                found.append(f"{path}.{key}")
            elif key not in FREE_FORM:
                found += missing_keys(value, ours[key], f"{path}.{key}")
        return found
    if isinstance(example, list) and example and isinstance(example[0], dict):
        if not isinstance(ours, list) or not ours:
            return [f"{path}[]"]
        return [p for i, e in enumerate(example) for p in missing_keys(e, ours[min(i, len(ours) - 1)], f"{path}[{i}]")]
    return []


def _concrete(cls: type, data: Any) -> type:
    mapping = getattr(cls, "__mapping__", None) or {}
    if isinstance(data, dict) and data.get("instanceType") in mapping:
        return mapping[data["instanceType"]]  # type: ignore[no-any-return]
    return cls


def _model_in(hint: Any) -> tuple[str, type | None]:
    """('list' | 'one' | 'other', model class) for a field's type hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return _model_in(inner[0]) if len(inner) == 1 else ("other", None)
    if origin is list:
        kind, cls = _model_in(args[0])
        return ("list", cls) if kind == "one" else ("other", None)
    if isinstance(hint, type) and issubclass(hint, models._models._Model):
        return "one", hint
    return "other", None


def unknown_keys(data: Any, cls: type, path: str = "") -> list[str]:
    """Keys in ``data`` that are not fields of the SDK model ``cls`` (recursively, through ``instanceType``)."""
    if not isinstance(data, dict):
        return []
    cls = _concrete(cls, data)
    try:
        cls()
    except TypeError:
        pass
    fields = {f._rest_name: attr for attr, f in cls._attr_to_rest_field.items()}
    # The models annotate with "_models.X", a name their module imports only for type checkers.
    hints = typing.get_type_hints(cls, globalns={**vars(sys.modules[cls.__module__]), "_models": models})
    found = []
    for key, value in data.items():
        if key not in fields:
            found.append(f"{path}.{key} (not in {cls.__name__})")
            continue
        kind, model = _model_in(hints.get(fields[key]))
        if model is None or key in FREE_FORM:
            continue
        if kind == "one":
            found += unknown_keys(value, model, f"{path}.{key}")
        elif isinstance(value, list):
            for index, element in enumerate(value):
                found += unknown_keys(element, model, f"{path}.{key}[{index}]")
    return found


def example(name: str) -> dict[str, Any]:
    data = json.loads((EXAMPLES / name).read_text())
    return data["responses"]["200"]["body"]  # type: ignore[no-any-return]


@pytest.fixture
def scene(emu, world, asr, plumbing):
    """Every kind of ASR object in a realistic state, and a raw GET of any ARM path."""
    n1 = enable(asr, world, plumbing, "s2d-node1")
    n2 = enable(asr, world, plumbing, "s2d-node2")
    enable(asr, world, plumbing, "solo", group=None)
    for vm in ("s2d-node1", "s2d-node2", "solo"):
        set_pools(asr, world, plumbing, vm)
    cluster_plan(asr, plumbing, [n1.id, n2.id], "rp-s2dclu01")
    asr.replication_protected_items.begin_test_failover(
        VAULT_RG, VAULT, plumbing.source_fabric, plumbing.source_container, "solo",
        m.TestFailoverInput(properties=m.TestFailoverInputProperties(
            failover_direction="PrimaryToRecovery", network_type="VmNetworkAsInput", network_id=world.test_vnet_id,
            provider_specific_details=m.A2ATestFailoverInput()))).result()
    asr.replication_recovery_plans.begin_unplanned_failover(VAULT_RG, VAULT, "rp-s2dclu01", m.RecoveryPlanUnplannedFailoverInput(
        properties=m.RecoveryPlanUnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery", source_site_operations="NotRequired",
            provider_specific_details=[m.RecoveryPlanA2AFailoverInput(recovery_point_type="Latest")]))).result()

    vault_path = (f"/subscriptions/{world.subscription_id}/resourceGroups/{VAULT_RG}/providers/"
                  f"Microsoft.RecoveryServices/vaults/{VAULT}")
    container = f"{vault_path}/replicationFabrics/{plumbing.source_fabric}/replicationProtectionContainers/" \
                f"{plumbing.source_container}"

    def raw(path: str) -> Any:
        response = asr.send_request(HttpRequest("GET", f"{emu.endpoint}{path}?api-version={API}"))
        response.raise_for_status()
        return response.json()

    return {"raw": raw, "vault": vault_path, "container": container, "plumbing": plumbing}


CASES = {
    "asr_2025-01-01_ReplicationFabrics_List.json": "{vault}/replicationFabrics",
    "asr_2026-02-01_ReplicationFabrics_Get.json": "{vault}/replicationFabrics/{source_fabric}",
    "asr_2026-05-01_ReplicationPolicies_Create.json": "{vault}/replicationPolicies/{policy}",
    "asr_2026-05-01_ReplicationPolicies_Get.json": "{vault}/replicationPolicies/{policy}",
    "asr_2026-05-01_ReplicationProtectionContainerMappings_Create.json":
        "{container}/replicationProtectionContainerMappings/{forward_mapping}",
    "asr_2025-01-01_ReplicationProtectedItems_Create.json": "{container}/replicationProtectedItems/solo",
    "asr_2026-05-01_ReplicationProtectedItems_Get.json": "{container}/replicationProtectedItems/solo",
    "asr_2025-01-01_ReplicationProtectedItems_TestFailover.json": "{container}/replicationProtectedItems/solo",
    "asr_2026-05-01_ReplicationProtectedItems_UnplannedFailover.json": "{container}/replicationProtectedItems/s2d-node1",
    "asr_2026-02-01_ReplicationProtectedItems_List.json": "{vault}/replicationProtectedItems",
    "asr_2025-08-01_ReplicationProtectedItems_ListByReplicationProtectionContainers.json":
        "{container}/replicationProtectedItems",
    "asr_2025-01-01_ReplicationRecoveryPlans_Create.json": "{vault}/replicationRecoveryPlans/rp-s2dclu01",
    "asr_2026-02-01_ReplicationRecoveryPlans_Get.json": "{vault}/replicationRecoveryPlans/rp-s2dclu01",
    "asr_2025-08-01_ReplicationRecoveryPlans_UnplannedFailover.json": "{vault}/replicationRecoveryPlans/rp-s2dclu01",
    "asr_2026-02-01_ReplicationJobs_Get.json": "job",
}


def test_every_asr_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("asr_*.json")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_responses_have_the_examples_keys(scene, name):
    p = scene["plumbing"]
    if CASES[name] == "job":
        jobs = scene["raw"](f"{scene['vault']}/replicationJobs")["value"]
        ours = scene["raw"](f"{scene['vault']}/replicationJobs/{jobs[0]['name']}")
    else:
        ours = scene["raw"](CASES[name].format(vault=scene["vault"], container=scene["container"],
                                               source_fabric=p.source_fabric, policy=p.policy,
                                               forward_mapping=p.forward_mapping))
    assert missing_keys(example(name), ours) == []


MODELS = {
    "{vault}/replicationFabrics": m.Fabric,
    "{vault}/replicationProtectionContainers": m.ProtectionContainer,
    "{vault}/replicationProtectionContainerMappings": m.ProtectionContainerMapping,
    "{vault}/replicationPolicies": m.Policy,
    "{vault}/replicationNetworkMappings": m.NetworkMapping,
    "{vault}/replicationProtectedItems": m.ReplicationProtectedItem,
    "{vault}/replicationRecoveryPlans": m.RecoveryPlan,
    "{vault}/replicationJobs": m.Job,
    "{container}/replicationProtectedItems/s2d-node2/recoveryPoints": m.RecoveryPoint,
}


@pytest.mark.parametrize("path", sorted(MODELS))
def test_every_key_sent_is_a_field_of_the_sdk_model(scene, path):
    listed = scene["raw"](path.format(vault=scene["vault"], container=scene["container"]))["value"]
    assert listed, path
    assert [k for obj in listed for k in unknown_keys(obj, MODELS[path])] == []


def test_the_model_check_catches_a_misspelt_key():
    bad = {"properties": {"providerSpecificDetails": {"instanceType": "A2A", "vmNics": [
        {"ipConfigs": [{"isSelectedForFailover": True}]}]}}}
    assert unknown_keys(bad, m.ReplicationProtectedItem) == [
        ".properties.providerSpecificDetails.vmNics[0].ipConfigs[0].isSelectedForFailover (not in IPConfigDetails)"]


A2A_KEYS = {
    "multiVmGroupId", "multiVmGroupName", "multiVmGroupCreateOption", "fabricObjectId", "primaryFabricLocation",
    "recoveryFabricLocation", "recoveryFabricObjectId", "recoveryAzureResourceGroupId",
    "selectedRecoveryAzureNetworkId", "protectedManagedDisks", "vmNics", "lastRpoCalculatedTime", "rpoInSeconds",
    "recoveryAzureVMName", "testFailoverRecoveryFabricObjectId", "monitoringPercentageCompletion",
    "monitoringJobType"}
ITEM_KEYS = {
    "friendlyName", "protectionState", "replicationHealth", "activeLocation", "allowedOperations", "currentScenario",
    "failoverRecoveryPointId", "lastSuccessfulFailoverTime", "lastSuccessfulTestFailoverTime", "testFailoverState",
    "testFailoverStateDescription", "recoveryServicesProviderId", "policyId", "policyFriendlyName",
    "primaryFabricFriendlyName", "recoveryFabricFriendlyName", "recoveryProtectionContainerFriendlyName",
    "healthErrors", "recoveryContainerId"}
DISK_KEYS = {"diskId", "recoveryReplicaDiskAccountType", "recoveryTargetDiskAccountType",
             "primaryStagingAzureStorageAccountId"}
IP_CONFIG_KEYS = {"recoveryLBBackendAddressPoolIds", "tfoLBBackendAddressPoolIds", "recoveryStaticIPAddress",
                  "recoverySubnetName", "isPrimary"}


def test_a2a_item_carries_the_fields_the_app_reads(scene):
    item = scene["raw"](f"{scene['container']}/replicationProtectedItems/s2d-node1")
    assert set(item["properties"]) >= ITEM_KEYS
    details = item["properties"]["providerSpecificDetails"]
    assert details["instanceType"] == "A2A"
    assert set(details) >= A2A_KEYS
    assert set(details["protectedManagedDisks"][0]) >= DISK_KEYS
    assert set(details["vmNics"][0]["ipConfigs"][0]) >= IP_CONFIG_KEYS


def test_long_running_writes_answer_202_with_asr_operation_urls(emu, world, asr):
    path = (f"/subscriptions/{world.subscription_id}/resourceGroups/{VAULT_RG}/providers/"
            f"Microsoft.RecoveryServices/vaults/{VAULT}/replicationFabrics/fabric-x?api-version={API}")
    response = asr.send_request(HttpRequest("PUT", f"{emu.endpoint}{path}", json={
        "properties": {"customDetails": {"instanceType": "Azure", "location": "westeurope"}}}))
    assert response.status_code == 202
    assert "/replicationOperationStatus/" in response.headers["Azure-AsyncOperation"]
    assert "/replicationOperationResults/" in response.headers["Location"]
    job_name = response.headers["Azure-AsyncOperation"].split("/replicationOperationStatus/")[1].split("?")[0]
    assert asr.replication_jobs.get(VAULT_RG, VAULT, job_name).properties.scenario_name == "CreateFabric"
