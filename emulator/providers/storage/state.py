"""Microsoft.Storage storage accounts in the world: what the app reads of them (region, kind, SKU,
shared-key access, endpoints) in the shape ARM returns.

Accounts are created by the seed and by tests through ``add_storage_account``; the REST surface is
read-only (the app never creates storage accounts).
"""

from __future__ import annotations

import re
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.lro import utcnow_iso
from emulator.core.world import World
from emulator.providers.conventions import REGIONS, resource_id

ACCOUNT = "Microsoft.Storage/storageAccounts"
KINDS = ("StorageV2", "Storage", "BlobStorage", "BlockBlobStorage", "FileStorage")
SKUS = ("Standard_LRS", "Standard_GRS", "Standard_RAGRS", "Standard_ZRS", "Standard_GZRS", "Standard_RAGZRS",
        "Premium_LRS", "Premium_ZRS")
_NAME = re.compile(r"^[a-z0-9]{3,24}$")


def add_storage_account(world: World, *, subscription_id: str, resource_group: str, name: str, location: str,
                        kind: str = "StorageV2", sku: str = "Standard_LRS",
                        allow_shared_key_access: bool | None = True,
                        tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Create a storage account. ``allow_shared_key_access=None`` leaves the property out, as ARM does for
    an account where it was never set (shared keys are then allowed). Returns the stored account."""
    if not _NAME.match(name):
        raise ArmError(400, "AccountNameInvalid", f"{name} is not a valid storage account name. Storage account name "
                                                  "must be between 3 and 24 characters in length and use numbers and "
                                                  "lower-case letters only.")
    if kind not in KINDS or sku not in SKUS or location not in REGIONS:
        raise ValueError(f"unsupported storage account kind/sku/location: {kind}/{sku}/{location}")
    account_id = resource_id(subscription_id, resource_group, ACCOUNT, name)
    if world.exists(account_id):
        raise ArmError(409, "StorageAccountAlreadyExists", f"The storage account named {name} already exists.")
    endpoints = {service: f"https://{name}.{service}.core.windows.net/"
                 for service in ("blob", "queue", "table", "file", "dfs")}
    endpoints["web"] = f"https://{name}.z6.web.core.windows.net/"
    props: dict[str, Any] = {
        "provisioningState": "Succeeded", "creationTime": utcnow_iso(), "primaryEndpoints": endpoints,
        "primaryLocation": location, "statusOfPrimary": "available", "accessTier": "Hot",
        "supportsHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False,
        "publicNetworkAccess": "Enabled",
        "networkAcls": {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [], "defaultAction": "Allow"},
        "encryption": {"keySource": "Microsoft.Storage", "requireInfrastructureEncryption": False, "services": {
            "blob": {"enabled": True, "keyType": "Account"}, "file": {"enabled": True, "keyType": "Account"}}},
    }
    if allow_shared_key_access is not None:
        props["allowSharedKeyAccess"] = allow_shared_key_access
    account = {"id": account_id, "name": name, "type": ACCOUNT, "location": location, "tags": dict(tags or {}),
               "kind": kind, "sku": {"name": sku, "tier": "Premium" if sku.startswith("Premium") else "Standard"},
               "properties": props}
    return world.put(account)
