"""The A2A plumbing through the real SDK: vault, fabrics, containers, policy, mappings, network mapping, jobs."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.recoveryservicessiterecovery import models as m

from tests.emulator.asr.conftest import (
    SOURCE,
    TARGET,
    VAULT,
    VAULT_RG,
    a2a_policy,
    create_plumbing,
    map_networks,
)


def test_fabrics_containers_and_mappings_are_created_as_long_running_jobs(emu, world, asr):
    p = create_plumbing(asr)

    fabrics = {f.name: f for f in asr.replication_fabrics.list(VAULT_RG, VAULT)}
    assert set(fabrics) == {p.source_fabric, p.target_fabric}
    source = fabrics[p.source_fabric]
    assert source.properties.custom_details.instance_type == "Azure"
    assert source.properties.custom_details.location == SOURCE
    assert source.id.startswith("/Subscriptions/")  # ASR's own casing of its IDs
    assert [c.name for c in asr.replication_protection_containers.list_by_replication_fabrics(
        VAULT_RG, VAULT, p.source_fabric)] == [p.source_container]

    mapping = asr.replication_protection_container_mappings.get(VAULT_RG, VAULT, p.source_fabric, p.source_container,
                                                               p.forward_mapping)
    assert mapping.properties.state == "Paired"
    assert mapping.properties.policy_id == p.policy_id
    assert mapping.properties.target_protection_container_id == p.target_container_id
    assert mapping.properties.provider_specific_details.instance_type == "A2A"
    assert mapping.properties.provider_specific_details.agent_auto_update_status == "Disabled"
    assert len(list(asr.replication_protection_container_mappings.list(VAULT_RG, VAULT))) == 2

    creates = [e for e in emu.journal.entries() if e.method == "PUT" and "/replication" in e.path]
    assert {e.status for e in creates} == {202}
    jobs = list(asr.replication_jobs.list(VAULT_RG, VAULT))
    assert len(jobs) == len(creates)
    assert {j.properties.state for j in jobs} == {"Succeeded"}
    assert "PairProtectionContainers" in {j.properties.scenario_name for j in jobs}


def test_a2a_policy_reflects_its_input_and_requires_multi_vm_sync_status(world, asr):
    policy = asr.replication_policies.begin_create(VAULT_RG, VAULT, "crash-only", a2a_policy(app_minutes=0)).result()
    details = policy.properties.provider_specific_details
    assert details.instance_type == "A2A"
    assert (details.recovery_point_history, details.crash_consistent_frequency_in_minutes,
            details.app_consistent_frequency_in_minutes, details.multi_vm_sync_status) == (1440, 5, 0, "Enable")

    missing = {"properties": {"providerSpecificInput": {"instanceType": "A2A", "recoveryPointHistory": 1440,
                                                        "appConsistentFrequencyInMinutes": 0}}}
    with pytest.raises(HttpResponseError) as err:
        asr.replication_policies.begin_create(VAULT_RG, VAULT, "no-sync", missing)
    assert err.value.status_code == 400
    assert "multiVmSyncStatus" in err.value.error.message

    wrong = {"properties": {"providerSpecificInput": {"instanceType": "A2A", "multiVmSyncStatus": "Enabled"}}}
    with pytest.raises(HttpResponseError):
        asr.replication_policies.begin_create(VAULT_RG, VAULT, "wrong-sync", wrong)


def test_policy_update_changes_the_details(world, asr):
    asr.replication_policies.begin_create(VAULT_RG, VAULT, "p1", a2a_policy(app_minutes=240)).result()
    updated = asr.replication_policies.begin_update(VAULT_RG, VAULT, "p1", m.UpdatePolicyInput(
        properties=m.UpdatePolicyInputProperties(replication_provider_settings=m.A2APolicyCreationInput(
            app_consistent_frequency_in_minutes=0, multi_vm_sync_status="Enable")))).result()
    assert updated.properties.provider_specific_details.app_consistent_frequency_in_minutes == 0
    assert updated.properties.provider_specific_details.recovery_point_history == 1440


def test_second_fabric_for_a_region_is_refused(world, asr):
    create = m.FabricCreationInput(properties=m.FabricCreationInputProperties(
        custom_details=m.AzureFabricCreationInput(location=SOURCE)))
    asr.replication_fabrics.begin_create(VAULT_RG, VAULT, "fabric-a", create).result()
    # Re-PUT of the same fabric is idempotent.
    asr.replication_fabrics.begin_create(VAULT_RG, VAULT, "fabric-a", create).result()
    with pytest.raises(HttpResponseError) as err:
        asr.replication_fabrics.begin_create(VAULT_RG, VAULT, "fabric-b", create)
    assert err.value.status_code == 409
    assert err.value.error.code == "FabricAlreadyExistsForLocation"


def test_network_mapping_has_a2a_fabric_specific_settings(world, asr):
    p = create_plumbing(asr)
    map_networks(asr, p, world)
    mapping = asr.replication_network_mappings.get(VAULT_RG, VAULT, p.source_fabric, "azureNetwork", "vnet-s2d-to-dr")
    assert mapping.properties.primary_network_id == world.source_vnet_id
    assert mapping.properties.recovery_network_id == world.recovery_vnet_id
    settings = mapping.properties.fabric_specific_settings
    assert settings.instance_type == "AzureToAzure"
    assert (settings.primary_fabric_location, settings.recovery_fabric_location) == (SOURCE, TARGET)
    assert [n.name for n in asr.replication_network_mappings.list(VAULT_RG, VAULT)] == ["vnet-s2d-to-dr"]


def test_jobs_page_with_next_link_and_unknown_objects_are_404(emu, world, asr):
    emu.page_size = 2
    create_plumbing(asr)
    pages = list(asr.replication_jobs.list(VAULT_RG, VAULT).by_page())
    assert len(pages) > 1
    jobs = [j for page in pages for j in page]
    assert len(jobs) == 7  # 2 fabrics, 2 containers, 1 policy, 2 mappings
    job = asr.replication_jobs.get(VAULT_RG, VAULT, jobs[0].name)
    assert job.properties.tasks and job.properties.custom_details.instance_type == "AsrJobDetails"
    with pytest.raises(ResourceNotFoundError):
        asr.replication_fabrics.get(VAULT_RG, VAULT, "nope")


def test_jobs_stay_in_progress_until_polled_and_a_failed_operation_fails_its_job(emu, world, asr):
    emu.lro.default_polls = 1
    create = m.FabricCreationInput(properties=m.FabricCreationInputProperties(
        custom_details=m.AzureFabricCreationInput(location=SOURCE)))
    poller = asr.replication_fabrics.begin_create(VAULT_RG, VAULT, "fabric-a", create, polling=False)
    assert poller.done()
    (job,) = asr.replication_jobs.list(VAULT_RG, VAULT)
    assert job.properties.state == "InProgress"
    assert asr.replication_jobs.get(VAULT_RG, VAULT, job.name).properties.state == "InProgress"  # first poll
    assert asr.replication_jobs.get(VAULT_RG, VAULT, job.name).properties.state == "Succeeded"

    emu.lro.default_polls = 0
    emu.faults.add(__import__("emulator.core.faults", fromlist=["FaultRule"]).FaultRule(
        action="lro_fail", method="PUT", path="replicationFabrics/fabric-b", code="InjectedJobFailure", count=1))
    with pytest.raises(HttpResponseError) as err:
        asr.replication_fabrics.begin_create(VAULT_RG, VAULT, "fabric-b", m.FabricCreationInput(
            properties=m.FabricCreationInputProperties(custom_details=m.AzureFabricCreationInput(location=TARGET)))
        ).result()
    assert err.value.error.code == "InjectedJobFailure"
    failed = [j for j in asr.replication_jobs.list(VAULT_RG, VAULT) if j.properties.state == "Failed"]
    assert len(failed) == 1
    assert failed[0].properties.errors[0].service_error_details.code == "InjectedJobFailure"


def test_vaults_are_arm_resources_with_put_get_and_list(emu, world, asr):
    from azure.core.rest import HttpRequest

    base = f"{emu.endpoint}/subscriptions/{world.subscription_id}/resourceGroups/{VAULT_RG}/providers/" \
           "Microsoft.RecoveryServices/vaults"
    created = asr.send_request(HttpRequest("PUT", f"{base}/rsv-second?api-version=2025-02-01",
                                           json={"location": TARGET, "sku": {"name": "Standard"}, "properties": {}}))
    assert created.status_code == 201
    got = asr.send_request(HttpRequest("GET", f"{base}/rsv-second?api-version=2025-02-01")).json()
    assert (got["type"], got["location"], got["properties"]["provisioningState"]) == (
        "Microsoft.RecoveryServices/vaults", TARGET, "Succeeded")
    listed = asr.send_request(HttpRequest("GET", f"{base}?api-version=2025-02-01")).json()["value"]
    assert sorted(v["name"] for v in listed) == [VAULT, "rsv-second"]
    moved = asr.send_request(HttpRequest("PUT", f"{base}/rsv-second?api-version=2025-02-01",
                                         json={"location": SOURCE, "properties": {}}))
    assert moved.status_code == 400


def test_control_api_lists_jobs_and_settles_them(emu, world, asr):
    from tests.emulator.armhttp import control_json

    emu.lro.default_polls = 5
    create = m.FabricCreationInput(properties=m.FabricCreationInputProperties(
        custom_details=m.AzureFabricCreationInput(location=SOURCE)))
    asr.replication_fabrics.begin_create(VAULT_RG, VAULT, "fabric-a", create, polling=False)
    running = control_json(emu, "GET", "asr/jobs", vault=world.vault_id, state="InProgress")
    assert [j["properties"]["scenarioName"] for j in running] == ["CreateFabric"]
    assert control_json(emu, "POST", "asr/settle")["settled"] == 1
    assert control_json(emu, "GET", "asr/jobs", vault=world.vault_id, state="InProgress") == []
    (job,) = asr.replication_jobs.list(VAULT_RG, VAULT)
    assert job.properties.state == "Succeeded"
