"""HTTP handlers for Microsoft.Network: virtual networks and subnets, network interfaces, load balancers.

Each handler checks the resource group, the conditional headers and the body, calls ``state`` to apply
the write under the world lock, and answers as Microsoft.Network does: writes are long-running
(201/200 with ``Azure-AsyncOperation``; the resource reads ``Updating`` until the operation is polled to
completion, which is also when the ARM event is published); deletes of a missing resource answer 204.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse, no_content, ok
from emulator.core.paging import paged
from emulator.core.world import World
from emulator.providers.conventions import (
    check_preconditions,
    list_tracked,
    long_running,
    new_etag,
    require,
    snapshot,
    tags_of,
    write_target,
)
from emulator.providers.network import state

_NS = "Microsoft.Network"
_NAMES = {state.VNET: "virtual network", state.NIC: "network interface", state.LB: "load balancer",
          state.NSG: "network security group"}
_PUT: dict[str, Callable[..., dict[str, Any]]] = {
    state.VNET: lambda world, rid, body: state.put_virtual_network(world, vnet_id=rid, body=body),
    state.NIC: lambda world, rid, body: state.put_network_interface(world, nic_id=rid, body=body),
    state.LB: lambda world, rid, body: state.put_load_balancer(world, lb_id=rid, body=body),
    state.NSG: lambda world, rid, body: state.put_network_security_group(world, nsg_id=rid, body=body),
}
_DELETE: dict[str, Callable[[World, str], dict[str, Any] | None]] = {
    state.VNET: state.delete_virtual_network,
    state.NIC: state.delete_nic,
    state.LB: state.delete_load_balancer,
    state.NSG: state.delete_network_security_group,
}


def _succeed_later(req: ArmRequest, resource: dict[str, Any], *, operation: str, status: int) -> ArmResponse:
    """Answer a write as long-running: ``Updating`` now, ``Succeeded`` (and the event) when polled to completion."""
    world = req.ctx.world
    rid, etag = resource["id"], resource["etag"]
    resource["properties"]["provisioningState"] = "Updating"

    def complete() -> None:
        current = world.get(rid)
        if current is not None and current.get("etag") == etag:  # a later write owns the state now
            current["properties"]["provisioningState"] = "Succeeded"
        req.ctx.emit(req, operation_name=operation, resource_uri=rid)

    return long_running(req, complete, namespace=_NS, location=resource["location"], status=status,
                        body=copy.deepcopy(resource))


def put(rtype: str) -> Callable[[ArmRequest], ArmResponse]:
    def handler(req: ArmRequest) -> ArmResponse:
        world = req.ctx.world
        with world.lock:
            rid, existing = write_target(req, rtype, "name", what=_NAMES[rtype])
            resource = _PUT[rtype](world, rid, req.json_object())
            return _succeed_later(req, resource, operation=f"{rtype}/write", status=200 if existing else 201)
    return handler


def patch_tags(rtype: str) -> Callable[[ArmRequest], ArmResponse]:
    """``update_tags``: PATCH with ``{"tags": {...}}`` replaces the tags, synchronously."""
    def handler(req: ArmRequest) -> ArmResponse:
        world = req.ctx.world
        with world.lock:
            found = require(req, rtype, "name")
            check_preconditions(req, found, what=f"{_NAMES[rtype]} '{req.params['name']}'")
            body = req.json_object()
            found["tags"] = tags_of(body)
            found["etag"] = new_etag()
            answer = snapshot(world, found)
        req.ctx.emit(req, operation_name=f"{rtype}/write", resource_uri=found["id"])
        return ok(answer)
    return handler


def delete(rtype: str) -> Callable[[ArmRequest], ArmResponse]:
    def handler(req: ArmRequest) -> ArmResponse:
        world = req.ctx.world
        with world.lock:
            rid, existing = write_target(req, rtype, "name", what=_NAMES[rtype])
            if existing is None:
                return no_content()
            _DELETE[rtype](world, rid)

        def complete() -> None:
            req.ctx.emit(req, operation_name=f"{rtype}/delete", resource_uri=existing["id"],
                         event_type="Microsoft.Resources.ResourceDeleteSuccess")

        return long_running(req, complete, namespace=_NS, location=existing["location"], status=202)
    return handler


# -- subnets (child resources of a virtual network) --------------------------------------------------

def _vnet(req: ArmRequest) -> dict[str, Any]:
    return require(req, state.VNET, "name")


def _subnet_of(vnet: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((s for s in vnet["properties"]["subnets"] if s["name"].lower() == name.lower()), None)


def get_subnet(req: ArmRequest) -> ArmResponse:
    vnet = _vnet(req)
    subnet = _subnet_of(vnet, req.params["subnetName"])
    if subnet is None:
        raise ArmError(404, "NotFound", f"Resource {vnet['id']}/subnets/{req.params['subnetName']} not found.")
    return ok(snapshot(req.ctx.world, subnet))


def list_subnets(req: ArmRequest) -> ArmResponse:
    return paged(req, snapshot(req.ctx.world, _vnet(req)["properties"]["subnets"]), page_size=req.ctx.page_size)


def put_subnet(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        vnet = _vnet(req)
        existing = _subnet_of(vnet, req.params["subnetName"])
        check_preconditions(req, existing, what=f"subnet '{req.params['subnetName']}'")
        subnet = state.put_subnet(world, vnet=vnet, name=req.params["subnetName"], body=req.json_object())
        vnet_id, etag = vnet["id"], subnet["etag"]
        subnet["properties"]["provisioningState"] = "Updating"

        def complete() -> None:
            current = world.get(vnet_id)
            found = _subnet_of(current, subnet["name"]) if current else None
            if found is not None and found["etag"] == etag:
                found["properties"]["provisioningState"] = "Succeeded"
            req.ctx.emit(req, operation_name="Microsoft.Network/virtualNetworks/subnets/write", resource_uri=subnet["id"])

        return long_running(req, complete, namespace=_NS, location=vnet["location"], status=200 if existing else 201,
                            body=copy.deepcopy(subnet))


def delete_subnet(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        vnet = _vnet(req)
        subnet = _subnet_of(vnet, req.params["subnetName"])
        if subnet is None:
            return no_content()
        state.delete_subnet(world, vnet=vnet, name=subnet["name"])

    def complete() -> None:
        req.ctx.emit(req, operation_name="Microsoft.Network/virtualNetworks/subnets/delete", resource_uri=subnet["id"],
                     event_type="Microsoft.Resources.ResourceDeleteSuccess")

    return long_running(req, complete, namespace=_NS, location=vnet["location"], status=202)


def check_ip_availability(req: ArmRequest) -> ArmResponse:
    address = req.query.get("ipAddress")
    if not address:
        raise ArmError(400, "MissingParameter", "The query parameter 'ipAddress' is required.")
    with req.ctx.world.lock:
        return ok(state.check_ip_availability(req.ctx.world, _vnet(req), address))


# -- load balancer children (read-only views) --------------------------------------------------------

def lb_children(collection: str) -> Callable[[ArmRequest], ArmResponse]:
    def handler(req: ArmRequest) -> ArmResponse:
        lb = require(req, state.LB, "name")
        return paged(req, snapshot(req.ctx.world, lb["properties"][collection]), page_size=req.ctx.page_size)
    return handler


def lb_child(collection: str) -> Callable[[ArmRequest], ArmResponse]:
    def handler(req: ArmRequest) -> ArmResponse:
        lb = require(req, state.LB, "name")
        wanted = req.params["childName"].lower()
        found = next((c for c in lb["properties"][collection] if c["name"].lower() == wanted), None)
        if found is None:
            raise ArmError(404, "NotFound", f"Resource {lb['id']}/{collection}/{req.params['childName']} not found.")
        return ok(snapshot(req.ctx.world, found))
    return handler


# -- network security groups: answered with the NICs and subnets associated with them ----------------------

def get_nsg(req: ArmRequest) -> ArmResponse:
    world = req.ctx.world
    with world.lock:
        return ok(state.render_nsg(world, require(req, state.NSG, "name")))


def nsg_lister(*, in_group: bool) -> Callable[[ArmRequest], ArmResponse]:
    def handler(req: ArmRequest) -> ArmResponse:
        return list_tracked(req, state.NSG, in_group=in_group, render=lambda r: state.render_nsg(req.ctx.world, r))
    return handler
