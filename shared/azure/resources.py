"""Resources gateway: resource groups (with tags, for cluster-level enrollment) and generic reads of
resources the app only inspects (storage accounts: cache and cloud witness regions)."""

from __future__ import annotations

from typing import Any

from shared import ids
from shared.azure.clients import Clients
from shared.azure.errors import read_all, read_or_none, read_raw_pages, wire
from shared.inventory import StorageAccount, TaggedScope, frozen_tags

STORAGE_API_VERSION = "2024-01-01"


class ResourcesGateway:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def list_resource_groups(self, subscription_id: str) -> list[TaggedScope]:
        groups = read_all(f"list resource groups of subscription {subscription_id}",
                          self._clients.resources(subscription_id).resource_groups.list)
        return [_group_from_wire(g) for g in groups]

    def get_resource_group(self, group_id: str) -> TaggedScope | None:
        subscription, name = ids.subscription_of(group_id), ids.resource_group_of(group_id)
        raw = read_or_none(f"read resource group {name}",
                           lambda: self._clients.resources(subscription).resource_groups.get(name))
        return _group_from_wire(raw) if raw is not None else None

    def get_storage_account(self, account_id: str) -> StorageAccount | None:
        """One storage account by ID (a drill reads the production cloud witness's network rules)."""
        client = self._clients.resources(ids.subscription_of(account_id))
        raw = read_or_none(f"read storage account {ids.name_of(account_id)}",
                           lambda: client.resources.get_by_id(account_id, api_version=STORAGE_API_VERSION))
        return _account_from_wire(wire(raw)) if raw is not None else None

    def list_storage_accounts(self, subscription_id: str) -> list[StorageAccount]:
        """Every storage account of a subscription in one paged list (the audit reads cache and witness
        accounts this way: a list per subscription, never a GET per cluster)."""
        raw = read_raw_pages(f"list storage accounts of subscription {subscription_id}",
                             self._clients.resources(subscription_id),
                             f"/subscriptions/{subscription_id}/providers/Microsoft.Storage/storageAccounts"
                             f"?api-version={STORAGE_API_VERSION}")
        return [_account_from_wire(account) for account in raw]


def _group_from_wire(raw: dict[str, Any]) -> TaggedScope:
    return TaggedScope(id=raw["id"], name=raw["name"], kind="resource_group", tags=frozen_tags(raw.get("tags")))


def _account_from_wire(raw: dict[str, Any]) -> StorageAccount:
    props = raw.get("properties") or {}
    acls = props.get("networkAcls") or {}
    return StorageAccount(id=raw["id"], location=(raw.get("location") or "").lower(),
                          allow_shared_key_access=props.get("allowSharedKeyAccess") is not False,
                          public_network_access=props.get("publicNetworkAccess"),
                          default_action=acls.get("defaultAction"),
                          allowed_subnet_ids=tuple(str(r.get("id")) for r in acls.get("virtualNetworkRules") or []
                                                   if r.get("id")),
                          ip_rules=len(acls.get("ipRules") or []))
