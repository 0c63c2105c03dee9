"""Storage accounts as the app reads them (``resources.get_by_id`` with api-version 2024-01-01) and the
Tags API at a VM's scope, through the real azure-mgmt-resource client."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator import Emulator
from emulator.providers.storage.state import add_storage_account
from tests.emulator import armhttp


@pytest.fixture
def rm(sdk: Any) -> ResourceManagementClient:
    return sdk(ResourceManagementClient)


def test_storage_account_read_by_id(demo: dict[str, Any], rm: ResourceManagementClient) -> None:
    account = rm.resources.get_by_id(demo["cache_storage_account_id"], api_version="2024-01-01")
    assert (account.location, account.kind, account.sku.name) == ("westeurope", "StorageV2", "Standard_LRS")
    assert account.properties["allowSharedKeyAccess"] is True
    assert account.properties["primaryEndpoints"]["blob"] == "https://stasrcachewe01.blob.core.windows.net/"
    witness = rm.resources.get_by_id(demo["witness_storage_account_id"], api_version="2024-01-01")
    assert witness.location == "northeurope" and witness.name == "stwitnessne01"


def test_shared_key_access_absent_or_disabled(emu: Emulator, demo: dict[str, Any], rm: ResourceManagementClient) -> None:
    never_set = add_storage_account(emu.world, subscription_id=demo["subscription_id"], resource_group="rg-s2d-prod",
                                    name="stdefaults01", location="westeurope", allow_shared_key_access=None)
    locked = add_storage_account(emu.world, subscription_id=demo["subscription_id"], resource_group="rg-s2d-prod",
                                 name="stlocked01", location="westeurope", allow_shared_key_access=False)
    assert "allowSharedKeyAccess" not in rm.resources.get_by_id(never_set["id"], api_version="2023-05-01").properties
    assert rm.resources.get_by_id(locked["id"], api_version="2025-06-01").properties["allowSharedKeyAccess"] is False


def test_storage_lists_and_errors(emu: Emulator, demo: dict[str, Any], rm: ResourceManagementClient) -> None:
    sub = demo["subscription_id"]
    reply = armhttp.arm(emu, "GET", f"/subscriptions/{sub}/resourceGroups/rg-s2d-dr/providers/Microsoft.Storage/"
                                    "storageAccounts", api_version="2024-01-01")
    assert reply.status == 200 and [a["name"] for a in reply.body["value"]] == ["stasrcachene01", "stwitnessne01"]
    reply = armhttp.arm(emu, "GET", f"/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts",
                        api_version="2023-05-01")
    assert len(reply.body["value"]) == 3
    reply = armhttp.arm(emu, "GET", demo["cache_storage_account_id"], api_version="2019-06-01")
    assert (reply.status, reply.error_code) == (400, "InvalidApiVersionParameter")
    with pytest.raises(ResourceNotFoundError) as caught:
        rm.resources.get_by_id(demo["cache_storage_account_id"] + "x", api_version="2024-01-01")
    assert caught.value.error.code == "ResourceNotFound"


def test_tags_at_vm_scope_merge_replace_and_delete(demo: dict[str, Any], rm: ResourceManagementClient, sdk: Any) -> None:
    scope = demo["vm_ids"][0]
    merged = rm.tags.begin_update_at_scope(scope, {"operation": "Merge", "properties": {
        "tags": {"asr-s2d": "true", "asr-s2d-cluster": "s2dclu01"}}}).result()
    assert merged.properties.tags == {"asr-s2d": "true", "asr-s2d-cluster": "s2dclu01"}
    assert merged.id == f"{scope}/providers/Microsoft.Resources/tags/default"
    vm = sdk(ComputeManagementClient).virtual_machines.get("rg-s2d-prod", "s2d-node1")
    assert vm.tags == {"asr-s2d": "true", "asr-s2d-cluster": "s2dclu01"}, "the Tags API writes the VM's tags"

    rm.tags.begin_update_at_scope(scope, {"operation": "Delete", "properties": {"tags": {"asr-s2d-cluster": ""}}}).result()
    assert rm.tags.get_at_scope(scope).properties.tags == {"asr-s2d": "true"}
    replaced = rm.tags.begin_update_at_scope(scope, {"operation": "Replace", "properties": {"tags": {"a": "b"}}}).result()
    assert replaced.properties.tags == {"a": "b"}


def test_tags_validation(demo: dict[str, Any], rm: ResourceManagementClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        rm.tags.begin_update_at_scope(demo["vm_ids"][0], {"operation": "Merge", "properties": {
            "tags": {"bad/name": "x"}}}).result()
    assert caught.value.status_code == 400 and caught.value.error.code == "InvalidTagNameCharacters"
    with pytest.raises(ResourceNotFoundError):
        rm.tags.get_at_scope(demo["vm_ids"][0] + "-missing")
