"""Settings: parsed and validated once; every error names the setting."""

from __future__ import annotations

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
