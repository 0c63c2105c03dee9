"""Microsoft.Storage: storage accounts, read-only (the cache accounts and the cloud witness the app audits).

``state.add_storage_account`` creates them; the REST surface is ARM's read-only one for a tracked resource
(GET and the two lists, ``conventions.route_tracked``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.providers.conventions import route_tracked
from emulator.providers.storage.state import ACCOUNT

if TYPE_CHECKING:
    from emulator.core.http import Host

# The app reads accounts through ResourceManagementClient.resources.get_by_id(api_version="2024-01-01").
# The stable versions Azure serves (azure-rest-api-specs specification/storage/resource-manager/Microsoft.Storage/
# stable/<version>/storage.json); refusing one Azure serves would fail a caller that works against Azure.
API_VERSIONS = frozenset({"2025-06-01", "2025-01-01", "2024-01-01", "2023-05-01", "2023-04-01", "2023-01-01"})


def register(emu: Host) -> None:
    route_tracked(emu, ACCOUNT, "accountName", api_versions=API_VERSIONS)
