"""The app settings that point asr-s2d at an emulated world (printed by ``python -m emulator``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.core.identity import APP_PRINCIPAL_ID

# The app's ARM_POLLING_INTERVAL in Azure (shared/config.py's default): on Azure's clock it is scaled like the
# operations it waits on, so the app polls as often per operation as it would in Azure.
AZURE_POLLING_SECONDS = 10.0
# The app's WORK_QUEUE default (shared/config.py); a test that shares one Azurite gives each run its own.
WORK_QUEUE = "asr-s2d-work"

if TYPE_CHECKING:
    from emulator.core.http import Host


def app_env(emu: Host, world: dict[str, Any], *, azurite_connection_string: str | None = None) -> dict[str, str]:
    env = {
        "ARM_ENDPOINT": emu.endpoint,
        "ARM_CA_BUNDLE": emu.ca_bundle or "",
        "AZURE_CREDENTIAL": "managed_identity",
        "ARM_POLLING_INTERVAL": f"{emu.world.clock.polling_interval(AZURE_POLLING_SECONDS):g}",
        "APP_PRINCIPAL_ID": APP_PRINCIPAL_ID,
        "DRIFT_AUDIT_SCHEDULE": "0 0 * * * *",
        "DRILL_SCHEDULE": "0 0 3 1 * *",
        **emu.identity_env(),
    }
    if world:
        env.update({
            "ALLOWED_SUBSCRIPTION_IDS": world["subscription_id"],
            "VAULT_ID": world["vault_id"],
            "TARGET_REGION": world["target_region"],
            "RECOVERY_RESOURCE_GROUP_ID": world["recovery_resource_group_id"],
            "RECOVERY_VNET_ID": world["recovery_vnet_id"],
            "TEST_FAILOVER_VNET_ID": world["test_vnet_id"],
            "FAILBACK_TEST_VNET_ID": world["failback_test_vnet_id"],
            "CACHE_STORAGE_ACCOUNT_ID": world["cache_storage_account_id"],
            "DR_CACHE_STORAGE_ACCOUNT_ID": world["dr_cache_storage_account_id"],
        })
    if azurite_connection_string:
        # Azurite's blob service holds the state, its queue service the work queue (emulator.azurite).
        env["STATE_STORAGE_CONNECTION_STRING"] = azurite_connection_string
        env["WORK_QUEUE_CONNECTION"] = azurite_connection_string
        env["WORK_QUEUE"] = WORK_QUEUE
    return env
