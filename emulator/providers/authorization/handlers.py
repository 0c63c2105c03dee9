"""HTTP handlers for Microsoft.Authorization: the caller's permissions at a resource group or a resource."""

from __future__ import annotations

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse
from emulator.core.paging import paged
from emulator.providers.authorization import state
from emulator.providers.resources.state import require_group


def _caller(req: ArmRequest) -> str:
    if req.principal is None:
        raise ArmError(401, "AuthenticationFailed", "Authentication failed.")
    return req.principal.object_id


def permissions_for_group(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        group = require_group(world, req.params["subscriptionId"], req.params["resourceGroupName"])
        found = state.permissions_at(world, _caller(req), group["id"])
    return paged(req, found, page_size=req.ctx.page_size)


def permissions_for_resource(req: ArmRequest) -> ArmResponse:
    """``{group}/providers/{namespace}/{parentResourcePath}/{resourceType}/{resourceName}/providers/...``; the resource
    itself need not exist (the answer is about the scope), its group must."""
    world = req.ctx.world
    with world.lock:
        group = require_group(world, req.params["subscriptionId"], req.params["resourceGroupName"])
        target = f"{group['id']}/providers/{req.params['namespace']}{req.params['resourcePath']}"
        found = state.permissions_at(world, _caller(req), target)
    return paged(req, found, page_size=req.ctx.page_size)
