"""Microsoft.Resources: subscriptions, resource groups (with tags) and tags at any scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.providers.resources import handlers

if TYPE_CHECKING:
    from emulator.core.http import Host

API_VERSIONS = frozenset({"2024-11-01", "2025-04-01", "2022-09-01", "2021-04-01"})


def register(emu: Host) -> None:
    rg = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}"
    emu.route("GET", "/subscriptions/{subscriptionId}", handlers.get_subscription, api_versions=API_VERSIONS)
    emu.route("GET", "/subscriptions/{subscriptionId}/resourcegroups", handlers.list_groups, api_versions=API_VERSIONS)
    emu.route("GET", rg, handlers.get_group, api_versions=API_VERSIONS)
    emu.route("HEAD", rg, handlers.head_group, api_versions=API_VERSIONS)
    emu.route("PUT", rg, handlers.put_group, api_versions=API_VERSIONS)
    emu.route("PATCH", rg, handlers.patch_group, api_versions=API_VERSIONS)
    tags = "{scope:path}/providers/Microsoft.Resources/tags/default"
    emu.route("GET", tags, handlers.get_tags, api_versions=API_VERSIONS)
    emu.route("PUT", tags, handlers.put_tags, api_versions=API_VERSIONS)
    emu.route("PATCH", tags, handlers.patch_tags, api_versions=API_VERSIONS)
    emu.route("DELETE", tags, handlers.delete_tags, api_versions=API_VERSIONS)
