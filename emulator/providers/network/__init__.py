"""Microsoft.Network: virtual networks and subnets, network interfaces, internal load balancers and network
security groups.

``state`` holds the rules and the functions other code calls (``create_nic``, ``next_free_ip``,
``create_internal_load_balancer``, ``add_virtual_network``...); ``handlers`` the REST surface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.providers.conventions import route_tracked
from emulator.providers.network import handlers, state

if TYPE_CHECKING:
    from emulator.core.http import Host

# What azure-mgmt-network 33.x sends, plus the versions of the official examples in shared/api-examples.
API_VERSIONS = frozenset({"2026-03-01", "2025-07-01", "2025-03-01"})


def register(emu: Host) -> None:
    path = {rtype: route_tracked(emu, rtype, "name", api_versions=API_VERSIONS, put=handlers.put(rtype),
                                 patch=handlers.patch_tags(rtype), delete=handlers.delete(rtype))
            for rtype in (state.VNET, state.NIC, state.LB)}
    route_tracked(emu, state.NSG, "name", api_versions=API_VERSIONS, get=handlers.get_nsg, put=handlers.put(state.NSG),
                  patch=handlers.patch_tags(state.NSG), delete=handlers.delete(state.NSG),
                  list_in_group=handlers.nsg_lister(in_group=True), list_in_subscription=handlers.nsg_lister(in_group=False))
    vnet = path[state.VNET]
    emu.route("GET", vnet + "/subnets", handlers.list_subnets, api_versions=API_VERSIONS)
    emu.route("GET", vnet + "/subnets/{subnetName}", handlers.get_subnet, api_versions=API_VERSIONS)
    emu.route("PUT", vnet + "/subnets/{subnetName}", handlers.put_subnet, api_versions=API_VERSIONS)
    emu.route("DELETE", vnet + "/subnets/{subnetName}", handlers.delete_subnet, api_versions=API_VERSIONS)
    emu.route("GET", vnet + "/CheckIPAddressAvailability", handlers.check_ip_availability, api_versions=API_VERSIONS)
    lb = path[state.LB]
    for collection in ("backendAddressPools", "frontendIPConfigurations", "probes", "loadBalancingRules"):
        emu.route("GET", f"{lb}/{collection}", handlers.lb_children(collection), api_versions=API_VERSIONS)
        emu.route("GET", f"{lb}/{collection}/{{childName}}", handlers.lb_child(collection), api_versions=API_VERSIONS)
