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
# The account's network rules, in Microsoft.Storage's REST shape (azure-rest-api-specs
# specification/storage/resource-manager/Microsoft.Storage/stable/2024-01-01/storage.json: StorageAccountProperties
# .publicNetworkAccess, NetworkRuleSet {bypass, virtualNetworkRules[{id, action, state}], ipRules, defaultAction}).
PUBLIC_NETWORK_ACCESS = ("Enabled", "Disabled", "SecuredByPerimeter")


def add_storage_account(world: World, *, subscription_id: str, resource_group: str, name: str, location: str,
                        kind: str = "StorageV2", sku: str = "Standard_LRS",
                        allow_shared_key_access: bool | None = True, public_network_access: str = "Enabled",
                        network_acls: dict[str, Any] | None = None,
                        tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Create a storage account. ``allow_shared_key_access=None`` leaves the property out, as ARM does for
    an account where it was never set (shared keys are then allowed). ``public_network_access`` and
    ``network_acls`` (``{"defaultAction", "bypass", "virtualNetworkRules": [{"id"}], "ipRules"}``; missing keys take
    ARM's defaults) are the account's network rules (``reachable_from``). Returns the stored account."""
    if not _NAME.match(name):
        raise ArmError(400, "AccountNameInvalid", f"{name} is not a valid storage account name. Storage account name "
                                                  "must be between 3 and 24 characters in length and use numbers and "
                                                  "lower-case letters only.")
    if kind not in KINDS or sku not in SKUS or location not in REGIONS:
        raise ValueError(f"unsupported storage account kind/sku/location: {kind}/{sku}/{location}")
    account_id = resource_id(subscription_id, resource_group, ACCOUNT, name)
    if world.exists(account_id):
        raise ArmError(409, "StorageAccountAlreadyExists", f"The storage account named {name} already exists.")
    if public_network_access not in PUBLIC_NETWORK_ACCESS:
        raise ValueError(f"publicNetworkAccess must be one of {list(PUBLIC_NETWORK_ACCESS)}, got {public_network_access!r}")
    acls = {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [], "defaultAction": "Allow",
            **(network_acls or {})}
    if acls["defaultAction"] not in ("Allow", "Deny"):
        raise ValueError(f"networkAcls.defaultAction must be Allow or Deny, got {acls['defaultAction']!r}")
    acls["virtualNetworkRules"] = [{"id": rule["id"], "action": "Allow", "state": "Succeeded"}
                                   for rule in acls["virtualNetworkRules"]]
    endpoints = {service: f"https://{name}.{service}.core.windows.net/"
                 for service in ("blob", "queue", "table", "file", "dfs")}
    endpoints["web"] = f"https://{name}.z6.web.core.windows.net/"
    props: dict[str, Any] = {
        "provisioningState": "Succeeded", "creationTime": utcnow_iso(), "primaryEndpoints": endpoints,
        "primaryLocation": location, "statusOfPrimary": "available", "accessTier": "Hot",
        "supportsHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False,
        "publicNetworkAccess": public_network_access, "networkAcls": acls,
        "encryption": {"keySource": "Microsoft.Storage", "requireInfrastructureEncryption": False, "services": {
            "blob": {"enabled": True, "keyType": "Account"}, "file": {"enabled": True, "keyType": "Account"}}},
    }
    if allow_shared_key_access is not None:
        props["allowSharedKeyAccess"] = allow_shared_key_access
    account = {"id": account_id, "name": name, "type": ACCOUNT, "location": location, "tags": dict(tags or {}),
               "kind": kind, "sku": {"name": sku, "tier": "Premium" if sku.startswith("Premium") else "Standard"},
               "properties": props}
    return world.put(account)


def find_account(world: World, name: str) -> dict[str, Any] | None:
    """The storage account named ``name`` (names are unique across Azure), or None."""
    return next((a for a in world.by_type(ACCOUNT) if a["name"] == name.lower()), None)


def reachable_from(world: World, name: str, subnet_id: str) -> bool:
    """Can a VM in ``subnet_id`` reach account ``name``'s endpoints? Not when public network access is Disabled;
    otherwise when the default action is Allow (or absent) or the subnet is one of its virtual network rules
    (learn.microsoft.com/azure/storage/common/storage-network-security: "By default, storage accounts accept
    connections from clients on any network"; with the default action Deny only the listed networks get through).
    An account that does not exist is not reachable (its name does not resolve)."""
    account = find_account(world, name)
    if account is None:
        return False
    props = account["properties"]
    if props.get("publicNetworkAccess", "Enabled") == "Disabled":
        return False
    acls = props.get("networkAcls") or {}
    if acls.get("defaultAction", "Allow") == "Allow":
        return True
    return any(str(rule.get("id", "")).lower() == subnet_id.lower() for rule in acls.get("virtualNetworkRules", []))
