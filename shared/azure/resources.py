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

    def list_storage_accounts(self, subscription_id: str) -> list[StorageAccount]:
        """Every storage account of a subscription in one paged list (the audit reads cache and witness
        accounts this way: a list per subscription, never a GET per cluster)."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.exceptions import ARMErrorFormat

        client = self._clients.resources(subscription_id)
        url: str | None = (f"/subscriptions/{subscription_id}/providers/Microsoft.Storage/storageAccounts"
                           f"?api-version={STORAGE_API_VERSION}")
        found: list[StorageAccount] = []
        try:
            while url:
                response = client.send_request(HttpRequest("GET", url))
                if response.status_code != 200:
                    raise HttpResponseError(response=response, error_format=ARMErrorFormat)
                page = response.json()
                found += [_account_from_wire(raw) for raw in page.get("value") or []]
                url = page.get("nextLink")
        except Exception as err:
            raise translate(err, f"list storage accounts of subscription {subscription_id}") from err
        return found

    def get_storage_account(self, account_id: str) -> StorageAccount | None:
        rid = ids.parse(account_id)
        client = self._clients.resources(rid.subscription)
        try:
            raw = _wire(client.resources.get_by_id(account_id, api_version=STORAGE_API_VERSION))
        except Exception as err:
            if is_not_found(err):
                return None
            raise translate(err, f"read storage account {rid.name}") from err
        return _account_from_wire(raw)


def _account_from_wire(raw: dict[str, Any]) -> StorageAccount:
    props = raw.get("properties") or {}
    return StorageAccount(id=raw["id"], location=(raw.get("location") or "").lower(),
                          allow_shared_key_access=props.get("allowSharedKeyAccess") is not False)
