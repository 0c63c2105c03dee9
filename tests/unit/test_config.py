"""Settings: parsed and validated once; every error names the setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from shared.config import Settings, example_values, settings_table
from shared.errors import SettingsError

SUB = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
DR = f"/subscriptions/{SUB}/resourceGroups/rg-s2d-dr"
VALID = {
    "ALLOWED_SUBSCRIPTION_IDS": SUB,
    "VAULT_ID": f"{DR}/providers/Microsoft.RecoveryServices/vaults/rsv-s2d-dr",
    "TARGET_REGION": "northeurope",
    "RECOVERY_RESOURCE_GROUP_ID": DR,
    "RECOVERY_VNET_ID": f"{DR}/providers/Microsoft.Network/virtualNetworks/vnet-dr",
    "CACHE_STORAGE_ACCOUNT_ID": f"/subscriptions/{SUB}/resourceGroups/rg-s2d-prod/providers/Microsoft.Storage/"
                                "storageAccounts/stasrcachewe01",
    "STATE_STORAGE_ACCOUNT_URL": "https://stasrs2dstate.blob.core.windows.net",
    "WORK_QUEUE_CONNECTION__queueServiceUri": "https://stasrs2dstate.queue.core.windows.net",
}


def test_valid_settings_parse_with_documented_defaults() -> None:
    s = Settings.from_env(VALID)
    assert s.allowed_subscriptions == (SUB,)
    assert s.recovery_point_retention_minutes == 1440 and s.dry_run is False and s.credential == "managed_identity"
    assert s.allows_subscription(SUB.upper()) and not s.allows_subscription("00000000-0000-0000-0000-000000000000")


@pytest.mark.parametrize("name", ["ALLOWED_SUBSCRIPTION_IDS", "VAULT_ID", "TARGET_REGION", "RECOVERY_VNET_ID",
                                  "CACHE_STORAGE_ACCOUNT_ID", "RECOVERY_RESOURCE_GROUP_ID"])
def test_missing_required_setting_is_named(name: str) -> None:
    env = {k: v for k, v in VALID.items() if k != name}
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


@pytest.mark.parametrize("name,value", [
    ("ALLOWED_SUBSCRIPTION_IDS", "not-a-guid"),
    ("VAULT_ID", f"{DR}/providers/Microsoft.Network/virtualNetworks/vnet-dr"),
    ("RECOVERY_VNET_ID", "vnet-dr"),
    ("TARGET_REGION", "North Europe!"),
    ("RECOVERY_POINT_RETENTION_MINUTES", "99999"),
    ("RECOVERY_POINT_RETENTION_MINUTES", "a day"),
    ("DRY_RUN", "maybe"),
    ("AZURE_CREDENTIAL", "password"),
    ("ARM_ENDPOINT", "http://management.azure.com"),
    ("LOCK_LEASE_SECONDS", "120"),
    ("ARM_CA_BUNDLE", "/nonexistent/ca.pem"),
    ("APP_PRINCIPAL_ID", "me"),
])
def test_bad_value_is_refused_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**VALID, name: value})


def test_static_credential_only_on_loopback() -> None:
    with pytest.raises(SettingsError, match="AZURE_CREDENTIAL"):
        Settings.from_env({**VALID, "AZURE_CREDENTIAL": "static", "ARM_STATIC_TOKEN": "x"})
    s = Settings.from_env({**VALID, "AZURE_CREDENTIAL": "static", "ARM_STATIC_TOKEN": "x",
                           "ARM_ENDPOINT": "https://127.0.0.1:8443"})
    assert s.arm_is_loopback


def test_state_storage_is_required_one_way_or_another() -> None:
    env = {k: v for k, v in VALID.items() if k != "STATE_STORAGE_ACCOUNT_URL"}
    with pytest.raises(SettingsError, match="STATE_STORAGE"):
        Settings.from_env(env)


def test_every_setting_is_documented_in_the_deployment_docs_and_example_file() -> None:
    root = Path(__file__).resolve().parents[2]
    deployment = (root / "docs" / "deployment.md").read_text()
    assert settings_table() in deployment, (
        "the settings table in docs/deployment.md is stale: run `make settings-table` and paste it")
    import json

    example = json.loads((root / "local.settings.example.json").read_text())["Values"]
    assert set(example_values()) <= set(example)


def test_the_work_queue_is_required_one_way_or_another() -> None:
    env = {k: v for k, v in VALID.items() if not k.startswith("WORK_QUEUE")}
    with pytest.raises(SettingsError, match="WORK_QUEUE_CONNECTION__queueServiceUri"):
        Settings.from_env(env)
    blob_only = "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=a2V5;BlobEndpoint=https://st.blob.core.windows.net;"
    with pytest.raises(SettingsError, match="WORK_QUEUE_CONNECTION__queueServiceUri"):
        Settings.from_env({**env, "STATE_STORAGE_CONNECTION_STRING": blob_only})
    with_queue = blob_only + "QueueEndpoint=https://st.queue.core.windows.net;"
    assert Settings.from_env({**env, "STATE_STORAGE_CONNECTION_STRING": with_queue}).work_queue_connection == with_queue
    own = "UseDevelopmentStorage=true"
    s = Settings.from_env({**env, "STATE_STORAGE_CONNECTION_STRING": with_queue, "WORK_QUEUE_CONNECTION": own})
    assert s.work_queue_connection == own
    s = Settings.from_env(VALID)
    assert s.work_queue_connection == "" and s.work_queue_url == VALID["WORK_QUEUE_CONNECTION__queueServiceUri"]
    assert s.work_queue == "asr-s2d-work" and s.drill_concurrency == 2 and s.drill_max_minutes == 240


@pytest.mark.parametrize("name,value", [
    ("WORK_QUEUE", "Asr-Work"),
    ("WORK_QUEUE", "ab"),
    ("WORK_QUEUE", "asr--work"),
    ("WORK_QUEUE", "asr-work-"),
    ("WORK_QUEUE", "q" * 57),  # its poison queue's name would be 64 characters
    ("WORK_QUEUE_CONNECTION__queueServiceUri", "http://stasrs2dstate.queue.core.windows.net"),
    ("DRILL_CONCURRENCY", "0"),
    ("DRILL_CONCURRENCY", "21"),
    ("DRILL_MAX_MINUTES", "0"),
    ("WORK_MAX_DEQUEUE", "0"),
])
def test_bad_work_settings_are_refused_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**VALID, name: value})


def test_work_max_dequeue_is_host_jsons_max_dequeue_count() -> None:
    # The host moves a message to the poison queue after maxDequeueCount deliveries; the app counts the same.
    import json

    host = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text())
    default = next(f.default for f in dataclasses.fields(Settings) if f.name == "work_max_dequeue")
    assert host["extensions"]["queues"]["maxDequeueCount"] == default
    assert Settings.from_env(VALID).work_max_dequeue == default
