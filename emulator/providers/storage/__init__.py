"""Microsoft.Storage: storage accounts, read-only (the cache accounts and the cloud witness the app audits).

``state.add_storage_account`` creates them; ``handlers`` serves GET and the two lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.providers.storage import handlers

if TYPE_CHECKING:
    from emulator.core.http import Host

# The app reads accounts through ResourceManagementClient.resources.get_by_id(api_version="2024-01-01").
API_VERSIONS = frozenset({"2025-06-01", "2024-01-01", "2023-05-01"})


def register(emu: Host) -> None:
    rg = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage"
    emu.route("GET", rg + "/storageAccounts/{accountName}", handlers.get_account, api_versions=API_VERSIONS)
    emu.route("GET", rg + "/storageAccounts", handlers.list_in_group, api_versions=API_VERSIONS)
    emu.route("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Storage/storageAccounts",
              handlers.list_in_subscription, api_versions=API_VERSIONS)
