"""HTTP handlers for Microsoft.Storage storage accounts: GET one, list per resource group or subscription."""

from __future__ import annotations

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse, ok
from emulator.core.paging import paged
from emulator.providers.conventions import resource_id, snapshot
from emulator.providers.resources.state import require_group, require_subscription
from emulator.providers.storage.state import ACCOUNT


def get_account(req: ArmRequest) -> ArmResponse:
    sub, name = req.params["subscriptionId"], req.params["accountName"]
    group = require_group(req.ctx.world, sub, req.params["resourceGroupName"])
    found = req.ctx.world.get(resource_id(sub, group["name"], ACCOUNT, name))
    if found is None:
        raise ArmError(404, "ResourceNotFound",
                       f"The Resource '{ACCOUNT}/{name}' under resource group '{group['name']}' was not found. "
                       "For more details please go to https://aka.ms/ARMResourceNotFoundFix")
    return ok(snapshot(req.ctx.world, found))


def list_in_group(req: ArmRequest) -> ArmResponse:
    sub = req.params["subscriptionId"]
    group = require_group(req.ctx.world, sub, req.params["resourceGroupName"])
    scope = f"/subscriptions/{sub}/resourceGroups/{group['name']}"
    return paged(req, snapshot(req.ctx.world, req.ctx.world.by_type(ACCOUNT, scope=scope)), page_size=req.ctx.page_size)


def list_in_subscription(req: ArmRequest) -> ArmResponse:
    sub = req.params["subscriptionId"]
    require_subscription(req.ctx.world, sub)
    accounts = snapshot(req.ctx.world, req.ctx.world.by_type(ACCOUNT, scope=f"/subscriptions/{sub}"))
    return paged(req, accounts, page_size=req.ctx.page_size)
