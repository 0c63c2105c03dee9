"""What every emulated resource provider does the same way ARM does it.

Owns: resource IDs (parse, build, canonical case), etags and conditional requests (``If-Match`` /
``If-None-Match``), typed reads of request bodies that fail with ARM's 400s instead of stack traces,
location and tag normalisation, JSON merge-patch for PATCH, the long-running write answer, and the REST
surface of a resource (its routes; for a tracked resource of a resource group, also its GET, its 404 and
the lists of its group and of its subscription).
Must not hold any provider's rules or state: providers import this, never the reverse.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse, Handler, accepted, ok
from emulator.core.paging import paged
from emulator.core.world import World
from emulator.providers.resources.state import require_group, require_subscription, validate_tags

if TYPE_CHECKING:
    from emulator.core.http import Host

# Public Azure regions, as ARM spells them after normalisation ("West Europe" -> "westeurope").
REGIONS = frozenset({
    "australiacentral", "australiacentral2", "australiaeast", "australiasoutheast", "austriaeast",
    "belgiumcentral", "brazilsouth", "brazilsoutheast", "canadacentral", "canadaeast", "centralindia",
    "centralus", "chilecentral", "eastasia", "eastus", "eastus2", "francecentral", "francesouth",
    "germanynorth", "germanywestcentral", "indonesiacentral", "israelcentral", "italynorth", "japaneast",
    "japanwest", "jioindiacentral", "jioindiawest", "koreacentral", "koreasouth", "malaysiawest",
    "mexicocentral", "newzealandnorth", "northcentralus", "northeurope", "norwayeast", "norwaywest",
    "polandcentral", "qatarcentral", "southafricanorth", "southafricawest", "southcentralus", "southindia",
    "southeastasia", "spaincentral", "swedencentral", "swedensouth", "switzerlandnorth", "switzerlandwest",
    "uaecentral", "uaenorth", "uksouth", "ukwest", "westcentralus", "westeurope", "westindia", "westus",
    "westus2", "westus3",
})


@dataclass(frozen=True)
class ResourceId:
    """A parsed ARM resource ID. ``types`` holds the (type, name) pairs after the provider namespace."""

    subscription: str
    resource_group: str | None
    namespace: str | None
    types: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return self.types[-1][1] if self.types else (self.resource_group or self.subscription)

    @property
    def full_type(self) -> str:
        """``Microsoft.Network/loadBalancers/backendAddressPools`` (case as written in the ID)."""
        return "/".join([self.namespace or "", *(t for t, _ in self.types)])

    def is_type(self, full_type: str) -> bool:
        return self.full_type.lower() == full_type.lower()


def parse_id(text: Any) -> ResourceId | None:
    """Parse ``/subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}[/{type}/{name}...]``."""
    if not isinstance(text, str):
        return None
    parts = text.strip().strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions" or not parts[1]:
        return None
    if len(parts) == 2:
        return ResourceId(parts[1], None, None, ())
    if len(parts) < 4 or parts[2].lower() != "resourcegroups" or not parts[3]:
        return None
    if len(parts) == 4:
        return ResourceId(parts[1], parts[3], None, ())
    rest = parts[4:]
    if len(rest) < 4 or rest[0].lower() != "providers" or len(rest[2:]) % 2:
        return None
    pairs = rest[2:]
    types = tuple((pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2))
    if any(not t or not n for t, n in types):
        return None
    return ResourceId(parts[1], parts[3], rest[1], types)


def resource_id(subscription_id: str, resource_group: str, provider_type: str, name: str, *children: str) -> str:
    """``resource_id(sub, "rg", "Microsoft.Compute/virtualMachines", "vm1")``; children are (type, name) pairs."""
    base = f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{provider_type}/{name}"
    return base + "".join(f"/{children[i]}/{children[i + 1]}" for i in range(0, len(children), 2))


def same_id(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower().rstrip("/") == b.lower().rstrip("/")


def ref(resource_id_: str) -> dict[str, str]:
    """A SubResource reference as ARM writes it."""
    return {"id": resource_id_}


# -- etags and conditional requests ---------------------------------------------------------------

def new_etag() -> str:
    """A weak etag in Microsoft.Network's format, fresh on every write."""
    return f'W/"{uuid.uuid4()}"'


def _bare(etag: str) -> str:
    value = etag.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def check_preconditions(req: ArmRequest, current: dict[str, Any] | None, *, what: str) -> None:
    """ARM's conditional writes: ``If-Match`` must name the current etag (or ``*`` for "exists");
    ``If-None-Match: *`` refuses to overwrite. Both fail with 412 PreconditionFailed."""
    if_match = req.headers.get("if-match")
    if if_match:
        if current is None:
            raise ArmError(412, "PreconditionFailed",
                           f"Precondition failed: {what} does not exist, so If-Match '{if_match}' cannot match.")
        wanted = {_bare(v) for v in if_match.split(",")}
        if "*" not in wanted and _bare(str(current.get("etag", ""))) not in wanted:
            raise ArmError(412, "PreconditionFailed",
                           f"Precondition failed for {what}: the etag '{current.get('etag')}' does not match "
                           f"If-Match '{if_match}'. Re-read the resource and retry.")
    if_none_match = req.headers.get("if-none-match")
    if if_none_match and current is not None:
        wanted = {_bare(v) for v in if_none_match.split(",")}
        if "*" in wanted or _bare(str(current.get("etag", ""))) in wanted:
            raise ArmError(412, "PreconditionFailed",
                           f"Precondition failed: {what} already exists and If-None-Match is '{if_none_match}'.")


# -- typed body reads ------------------------------------------------------------------------------

_KIND_NAMES = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object", list: "an array",
               float: "a number"}


def _matches(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False  # JSON true is not an integer, whatever Python thinks
    return isinstance(value, kinds)


def field(container: dict[str, Any], key: str, kind: type | tuple[type, ...], *, path: str,
          required: bool = False, default: Any = None, missing_code: str = "InvalidParameter") -> Any:
    """``container[key]`` checked against ``kind``: a wrong type is ARM's ``InvalidRequestContent``; a missing
    required value is ``missing_code`` (compute says ``InvalidParameter``, network ``InvalidRequestFormat``)."""
    value = container.get(key)
    where = f"{path}.{key}" if path else key
    if value is None:
        if required:
            raise ArmError(400, missing_code, f"Required parameter '{where}' is missing (null).",
                           details=[{"code": missing_code, "target": where,
                                     "message": f"Required parameter '{where}' is missing (null)."}])
        return default
    if not _matches(value, kind):
        expected = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ArmError(400, "InvalidRequestContent",
                       f"The request content was invalid and could not be deserialized: '{where}' must be {expected}, "
                       f"got {type(value).__name__}.")
    return value


def obj(container: dict[str, Any], key: str, *, path: str, required: bool = False,
        missing_code: str = "InvalidParameter") -> dict[str, Any]:
    """An object-valued field, ``{}`` when absent and optional."""
    value = field(container, key, dict, path=path, required=required, missing_code=missing_code)
    return value if value is not None else {}


def items(container: dict[str, Any], key: str, *, path: str) -> list[dict[str, Any]]:
    """An array of objects (ARM's collections of child resources), ``[]`` when absent."""
    value = field(container, key, list, path=path)
    if value is None:
        return []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise ArmError(400, "InvalidRequestContent",
                           f"The request content was invalid and could not be deserialized: '{path}.{key}[{index}]' "
                           "must be an object.")
    return value


def reference(container: dict[str, Any], key: str, *, path: str, required: bool = False,
              missing_code: str = "InvalidParameter") -> str | None:
    """The ``id`` of a SubResource field such as ``{"subnet": {"id": ...}}``."""
    value = field(container, key, dict, path=path, required=required, missing_code=missing_code)
    if value is None:
        return None
    return field(value, "id", str, path=f"{path}.{key}", required=True, missing_code=missing_code)


def location_of(body: dict[str, Any], *, required: bool = True) -> str | None:
    """The normalised location (``"West Europe"`` -> ``westeurope``); unknown regions are refused as ARM does."""
    value = field(body, "location", str, path="", required=False)
    if value is None or not value.strip():
        if required:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        return None
    normalised = value.replace(" ", "").lower()
    if normalised not in REGIONS:
        raise ArmError(400, "LocationNotAvailableForResourceType",
                       f"The provided location '{value}' is not available for this resource type.")
    return normalised


def tags_of(body: dict[str, Any]) -> dict[str, str]:
    return validate_tags(body.get("tags"))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge-patch: objects merge, ``null`` removes, everything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- long-running writes --------------------------------------------------------------------------

def long_running(req: ArmRequest, complete: Callable[[], Any], *, namespace: str, location: str,
                 status: int, body: Any = None) -> ArmResponse:
    """Start an operation and answer as ARM does: PUT/PATCH carry the resource and ``Azure-AsyncOperation``;
    POST/DELETE answer 202 with ``Azure-AsyncOperation`` and ``Location`` (their result lives there)."""
    op = req.ctx.lro.start(req, complete, namespace=namespace, location=location)
    return accepted(op, body=body, status=status, location=req.method in ("POST", "DELETE"))


def check_same_location(existing: dict[str, Any] | None, location: str) -> None:
    """A resource cannot move by being PUT again with another location."""
    if existing is not None and existing.get("location") != location:
        raise ArmError(400, "InvalidResourceLocation",
                       f"The resource '{existing['name']}' already exists in location '{existing.get('location')}'. "
                       f"A resource with the same name cannot be created in location '{location}'. "
                       "Please select a new resource name.")


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def check_name(name: str, *, kind: str, max_length: int = 80) -> None:
    """ARM's common naming rule: 1-80 of letters, digits, '-', '_' and '.', not ending in '.' or '-'."""
    if (not name or len(name) > max_length or any(c not in _NAME_CHARS for c in name)
            or name.endswith((".", "-"))):
        raise ArmError(400, "InvalidResourceName",
                       f"Resource name '{name}' is invalid for {kind}. The name can be up to {max_length} characters "
                       "long. It must begin with a word character, and it must end with a word character or with "
                       "'_'. The name may contain word characters or '.', '-', '_'.")


Shape = Any  # a type, a dict of field -> Shape, or a one-item list [Shape] for "array of"


@dataclass(frozen=True)
class PutTarget:
    """What every create-or-replace starts from: the stored resource (if any), its ID as first written,
    its name, and the body's validated location and tags."""

    existing: dict[str, Any] | None
    id: str
    name: str
    location: str
    tags: dict[str, str]


def begin_put(world: World, resource_id_: str, body: dict[str, Any], shape: Shape, *, kind: str) -> PutTarget:
    """The checks every PUT shares: body shape, name, location (fixed once created) and tags."""
    check_shape(body, shape)
    existing = world.get(resource_id_)
    rid = existing["id"] if existing else resource_id_
    name = rid.rsplit("/", 1)[-1]
    check_name(name, kind=kind)
    location = location_of(body)
    assert location is not None
    check_same_location(existing, location)
    return PutTarget(existing, rid, name, location, tags_of(body))


def check_shape(value: Any, shape: Shape, path: str = "") -> None:
    """Type-check a request body against ``shape`` before any rule runs, as ARM deserialises a body before its
    resource provider sees it: a wrong type anywhere is ``InvalidRequestContent``, whatever else is wrong.
    Only the fields the emulator reads are described; unknown fields pass (ARM ignores them too)."""
    if value is None:
        return
    if isinstance(shape, dict):
        expected: type | tuple[type, ...] = dict
    elif isinstance(shape, list):
        expected = list
    else:
        expected = shape
    if not _matches(value, expected):
        kinds = expected if isinstance(expected, tuple) else (expected,)
        names = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
        raise ArmError(400, "InvalidRequestContent",
                       f"The request content was invalid and could not be deserialized: '{path or '$'}' must be "
                       f"{names}, got {type(value).__name__}.")
    if isinstance(shape, dict):
        for key, inner in shape.items():
            check_shape(value.get(key), inner, f"{path}.{key}" if path else key)
    elif isinstance(shape, list):
        for index, item in enumerate(value):
            check_shape(item, shape[0], f"{path}[{index}]")


REF: Shape = {"id": str}
TRACKED: Shape = {"location": str, "tags": dict, "zones": [str]}


def snapshot(world: World, value: Any) -> Any:
    """A deep copy taken under the world lock: answers are serialised after the lock is released, and a
    concurrent write must not change (or break) a response half-way through."""
    with world.lock:
        return copy.deepcopy(value)


# -- the REST surface of a resource -----------------------------------------------------------------------

def route_resource(emu: Host, path: str, *, api_versions: frozenset[str], get: Handler | None = None,
                   put: Handler | None = None, patch: Handler | None = None, delete: Handler | None = None,
                   actions: Mapping[str, Handler] | None = None) -> None:
    """One resource's routes: GET / PUT / PATCH / DELETE on ``path``, and ``POST {path}/{action}`` per action."""
    for method, handler in (("GET", get), ("PUT", put), ("PATCH", patch), ("DELETE", delete)):
        if handler is not None:
            emu.route(method, path, handler, api_versions=api_versions)
    for action, handler in (actions or {}).items():
        emu.route("POST", f"{path}/{action}", handler, api_versions=api_versions)


def route_tracked(emu: Host, rtype: str, param: str, *, api_versions: frozenset[str], get: Handler | None = None,
                  put: Handler | None = None, patch: Handler | None = None, delete: Handler | None = None,
                  actions: Mapping[str, Handler] | None = None, list_in_group: Handler | None = None,
                  list_in_subscription: Handler | None = None) -> str:
    """A tracked resource type's routes, as ARM shapes them: the resource (``{param}`` names it) under
    ``.../resourceGroups/{g}/providers/{rtype}``, the list of its group and the list of its subscription.
    GET and the lists default to a copy of what is stored. Returns the resource's path template."""
    in_group = f"/subscriptions/{{subscriptionId}}/resourceGroups/{{resourceGroupName}}/providers/{rtype}"
    path = f"{in_group}/{{{param}}}"
    route_resource(emu, path, api_versions=api_versions, get=get or get_tracked(rtype, param), put=put, patch=patch,
                   delete=delete, actions=actions)
    emu.route("GET", in_group, list_in_group or lister(rtype, in_group=True), api_versions=api_versions)
    emu.route("GET", f"/subscriptions/{{subscriptionId}}/providers/{rtype}",
              list_in_subscription or lister(rtype, in_group=False), api_versions=api_versions)
    return path


def not_found(rtype: str, name: str, group: str) -> ArmError:
    """ARM's answer for a tracked resource that is not in its resource group."""
    return ArmError(404, "ResourceNotFound",
                    f"The Resource '{rtype}/{name}' under resource group '{group}' was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def target(req: ArmRequest, rtype: str, param: str) -> tuple[str, dict[str, Any] | None, str]:
    """(canonical ID, stored resource or None, resource group name) of the request's resource (``param`` names
    it); the resource group must exist."""
    sub = req.params["subscriptionId"]
    group = require_group(req.ctx.world, sub, req.params["resourceGroupName"])
    rid = resource_id(sub, group["name"], rtype, req.params[param])
    return rid, req.ctx.world.get(rid), group["name"]


def write_target(req: ArmRequest, rtype: str, param: str, *, what: str) -> tuple[str, dict[str, Any] | None]:
    """(canonical ID, stored resource or None) of the resource a PUT or DELETE writes, once its conditional headers
    passed (``what`` names the kind in the 412: ``disk``)."""
    rid, existing, _group = target(req, rtype, param)
    check_preconditions(req, existing, what=f"{what} '{req.params[param]}'")
    return rid, existing


def require(req: ArmRequest, rtype: str, param: str) -> dict[str, Any]:
    """The request's resource, or ARM's 404."""
    _rid, found, group = target(req, rtype, param)
    if found is None:
        raise not_found(rtype, req.params[param], group)
    return found


def get_tracked(rtype: str, param: str) -> Handler:
    def handler(req: ArmRequest) -> ArmResponse:
        return ok(snapshot(req.ctx.world, require(req, rtype, param)))
    return handler


def list_tracked(req: ArmRequest, rtype: str, *, in_group: bool,
                 render: Callable[[dict[str, Any]], Any] = copy.deepcopy) -> ArmResponse:
    """The resources of ``rtype`` in the request's resource group (or subscription), rendered under the lock, paged."""
    sub = req.params["subscriptionId"]
    if in_group:
        group = require_group(req.ctx.world, sub, req.params["resourceGroupName"])
        scope = f"/subscriptions/{sub}/resourceGroups/{group['name']}"
    else:
        require_subscription(req.ctx.world, sub)
        scope = f"/subscriptions/{sub}"
    with req.ctx.world.lock:
        rendered = [render(r) for r in req.ctx.world.by_type(rtype, scope=scope)]
    return paged(req, rendered, page_size=req.ctx.page_size)


def lister(rtype: str, *, in_group: bool) -> Handler:
    def handler(req: ArmRequest) -> ArmResponse:
        return list_tracked(req, rtype, in_group=in_group)
    return handler
