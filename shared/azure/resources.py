"""Resources gateway: resource groups (with tags, for cluster-level enrollment) and generic reads of
resources the app only inspects (storage accounts: cache and cloud witness regions)."""

from __future__ import annotations

from typing import Any

from shared import ids
from shared.azure.clients import Clients
from shared.azure.errors import is_not_found, translate
from shared.inventory import StorageAccount, TaggedScope, frozen_tags

STORAGE_API_VERSION = "2024-01-01"


def _wire(model: Any) -> dict[str, Any]:
    return model.as_dict() if hasattr(model, "as_dict") else dict(model)


class ResourcesGateway:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def list_resource_groups(self, subscription_id: str) -> list[TaggedScope]:
        client = self._clients.resources(subscription_id)
        try:
            groups = [_wire(g) for g in client.resource_groups.list()]
        except Exception as err:
            raise translate(err, f"list resource groups of subscription {subscription_id}") from err
        return [TaggedScope(id=g["id"], name=g["name"], kind="resource_group", tags=frozen_tags(g.get("tags")))
                for g in groups]

    def get_storage_account(self, account_id: str) -> StorageAccount | None:
        rid = ids.parse(account_id)
        client = self._clients.resources(rid.subscription)
        try:
            raw = _wire(client.resources.get_by_id(account_id, api_version=STORAGE_API_VERSION))
        except Exception as err:
            if is_not_found(err):
                return None
            raise translate(err, f"read storage account {rid.name}") from err
        props = raw.get("properties") or {}
        return StorageAccount(id=raw["id"], location=(raw.get("location") or "").lower(),
                              allow_shared_key_access=props.get("allowSharedKeyAccess") is not False)
