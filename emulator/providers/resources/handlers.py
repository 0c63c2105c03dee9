"""Handlers for resource groups and tags at scope (Tags API: GET/PUT/PATCH/DELETE ``.../tags/default``)."""

from __future__ import annotations

from typing import Any

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse, no_content, ok
from emulator.core.paging import paged
from emulator.providers.resources.state import (
    add_group,
    group_id,
    require_group,
    require_subscription,
    validate_tags,
)


def get_subscription(req: ArmRequest) -> ArmResponse:
    return ok(require_subscription(req.ctx.world, req.params["subscriptionId"]))


def list_groups(req: ArmRequest) -> ArmResponse:
    sub = req.params["subscriptionId"]
    require_subscription(req.ctx.world, sub)
    return paged(req, req.ctx.world.by_type("Microsoft.Resources/resourceGroups", scope=f"/subscriptions/{sub}"),
                 page_size=req.ctx.page_size)


def get_group(req: ArmRequest) -> ArmResponse:
    return ok(require_group(req.ctx.world, req.params["subscriptionId"], req.params["resourceGroupName"]))


def head_group(req: ArmRequest) -> ArmResponse:
    require_group(req.ctx.world, req.params["subscriptionId"], req.params["resourceGroupName"])
    return no_content()


def put_group(req: ArmRequest) -> ArmResponse:
    body = req.json_object()
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    sub, name = req.params["subscriptionId"], req.params["resourceGroupName"]
    world = req.ctx.world
    require_subscription(world, sub)
    with world.lock:
        existing = world.get(group_id(sub, name))
        if existing is not None and existing["location"] != location.lower():
            raise ArmError(409, "InvalidResourceGroupLocation",
                           f"Invalid resource group location '{location}'. The Resource group already exists in "
                           f"location '{existing['location']}'.")
        group = add_group(world, sub, name, location.lower(), validate_tags(body.get("tags")))
    req.ctx.emit(req, operation_name="Microsoft.Resources/subscriptions/resourceGroups/write", resource_uri=group["id"])
    return ArmResponse(200 if existing else 201, group)


def patch_group(req: ArmRequest) -> ArmResponse:
    body = req.json_object()
    world = req.ctx.world
    with world.lock:
        group = require_group(world, req.params["subscriptionId"], req.params["resourceGroupName"])
        if "tags" in body:
            group["tags"] = validate_tags(body["tags"])
    req.ctx.emit(req, operation_name="Microsoft.Resources/subscriptions/resourceGroups/write", resource_uri=group["id"])
    return ok(group)


def _scope_resource(req: ArmRequest) -> dict[str, Any]:
    scope = req.params["scope"]
    world = req.ctx.world
    parts = scope.strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise ArmError(400, "InvalidScope", f"The scope '{scope}' is not a valid resource scope for tags.")
    if len(parts) == 2:
        return require_subscription(world, parts[1])
    if len(parts) == 4 and parts[2].lower() == "resourcegroups":
        return require_group(world, parts[1], parts[3])
    require_group(world, parts[1], parts[3])
    found = world.get(scope)
    if found is None:
        raise ArmError(404, "ResourceNotFound", f"The Resource '{'/'.join(parts[4:])}' under resource group "
                                                f"'{parts[3]}' was not found.")
    return found


def _tags_body(scope: str, tags: dict[str, str]) -> dict[str, Any]:
    return {"id": f"{scope}/providers/Microsoft.Resources/tags/default", "name": "default",
            "type": "Microsoft.Resources/tags", "properties": {"tags": dict(tags)}}


def _write_tags(req: ArmRequest, tags: dict[str, str]) -> ArmResponse:
    resource = _scope_resource(req)
    with req.ctx.world.lock:
        resource["tags"] = tags
    scope = resource["id"]
    req.ctx.emit(req, operation_name="Microsoft.Resources/tags/write",
                 resource_uri=f"{scope}/providers/Microsoft.Resources/tags/default")
    return ok(_tags_body(scope, tags))


def get_tags(req: ArmRequest) -> ArmResponse:
    resource = _scope_resource(req)
    return ok(_tags_body(resource["id"], resource.get("tags") or {}))


def put_tags(req: ArmRequest) -> ArmResponse:
    body = req.json_object()
    props = body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The 'properties' object with 'tags' is required.")
    return _write_tags(req, validate_tags(props.get("tags")))


def patch_tags(req: ArmRequest) -> ArmResponse:
    body = req.json_object()
    operation = body.get("operation")
    props = body.get("properties")
    if operation not in ("Merge", "Replace", "Delete"):
        raise ArmError(400, "InvalidTagOperation", "The 'operation' must be 'Merge', 'Replace' or 'Delete'.")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The 'properties' object with 'tags' is required.")
    given = validate_tags(props.get("tags"))
    current = dict(_scope_resource(req).get("tags") or {})
    if operation == "Replace":
        tags = given
    elif operation == "Merge":
        tags = {**current, **given}
    else:
        tags = {k: v for k, v in current.items() if not (k in given and given[k] in ("", current[k]))}
    return _write_tags(req, validate_tags(tags))


def delete_tags(req: ArmRequest) -> ArmResponse:
    _write_tags(req, {})
    return ok(None)
