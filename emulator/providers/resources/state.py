"""Subscriptions and resource groups in the world, and the checks other providers share."""

from __future__ import annotations

from typing import Any

from emulator.core.errors import ArmError
from emulator.core.world import World

SUBSCRIPTIONS = "core.subscriptions"


def add_subscription(world: World, subscription_id: str, display_name: str = "asr-s2d demo") -> None:
    world.extras.setdefault(SUBSCRIPTIONS, {})[subscription_id.lower()] = {
        "id": f"/subscriptions/{subscription_id}", "subscriptionId": subscription_id, "displayName": display_name,
        "state": "Enabled", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                 "spendingLimit": "Off"}}


def require_subscription(world: World, subscription_id: str) -> dict[str, Any]:
    found = world.extras.get(SUBSCRIPTIONS, {}).get(subscription_id.lower())
    if found is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")
    return found


def group_id(subscription_id: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{name}"


def require_group(world: World, subscription_id: str, name: str) -> dict[str, Any]:
    """The resource group, or ARM's 404 ``ResourceGroupNotFound`` (which every provider answers)."""
    require_subscription(world, subscription_id)
    found = world.get(group_id(subscription_id, name))
    if found is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return found


def add_group(world: World, subscription_id: str, name: str, location: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return world.put({"id": group_id(subscription_id, name), "name": name, "type": "Microsoft.Resources/resourceGroups",
                      "location": location, "tags": dict(tags or {}), "managedBy": None,
                      "properties": {"provisioningState": "Succeeded"}})


def validate_tags(tags: Any) -> dict[str, str]:
    """ARM's tag rules: at most 50, names up to 512 characters, values up to 256, no '<>%&\\?/' in names."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise ArmError(400, "InvalidRequestContent", "The 'tags' property must be an object of string values.")
    if len(tags) > 50:
        raise ArmError(400, "InvalidTagCount", f"The number of tags ({len(tags)}) exceeds the limit of 50.")
    clean: dict[str, str] = {}
    for name, value in tags.items():
        if not isinstance(value, str):
            raise ArmError(400, "InvalidRequestContent", f"The value of tag '{name}' must be a string.")
        if not name or len(name) > 512 or any(c in name for c in "<>%&\\?/"):
            raise ArmError(400, "InvalidTagNameCharacters", f"The tag name '{name[:64]}' is invalid.")
        if len(value) > 256:
            raise ArmError(400, "InvalidTagValueLength", f"The value of tag '{name}' exceeds 256 characters.")
        clean[name] = value
    return clean
