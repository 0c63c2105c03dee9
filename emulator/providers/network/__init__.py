"""Microsoft.Network: virtual networks and subnets, network interfaces and internal load balancers.

``state`` holds the rules and the functions other code calls (``create_nic``, ``next_free_ip``,
``create_internal_load_balancer``, ``add_virtual_network``...); ``handlers`` the REST surface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.providers.network import handlers

if TYPE_CHECKING:
    from emulator.core.http import Host

# What azure-mgmt-network 33.x sends, plus the versions of the official examples in shared/api-examples.
API_VERSIONS = frozenset({"2026-03-01", "2025-07-01", "2025-03-01"})


def register(emu: Host) -> None:
    sub = "/subscriptions/{subscriptionId}"
    rg = sub + "/resourceGroups/{resourceGroupName}/providers/Microsoft.Network"
    for kind in ("virtualNetworks", "networkInterfaces", "loadBalancers"):
        one = f"{rg}/{kind}/{{name}}"
        emu.route("GET", one, handlers.get(kind), api_versions=API_VERSIONS)
        emu.route("PUT", one, handlers.put(kind), api_versions=API_VERSIONS)
        emu.route("PATCH", one, handlers.patch_tags(kind), api_versions=API_VERSIONS)
        emu.route("DELETE", one, handlers.delete(kind), api_versions=API_VERSIONS)
        emu.route("GET", f"{rg}/{kind}", handlers.list_in_group(kind), api_versions=API_VERSIONS)
        emu.route("GET", f"{sub}/providers/Microsoft.Network/{kind}", handlers.list_in_subscription(kind),
                  api_versions=API_VERSIONS)
    vnet = rg + "/virtualNetworks/{name}"
    emu.route("GET", vnet + "/subnets", handlers.list_subnets, api_versions=API_VERSIONS)
    emu.route("GET", vnet + "/subnets/{subnetName}", handlers.get_subnet, api_versions=API_VERSIONS)
    emu.route("PUT", vnet + "/subnets/{subnetName}", handlers.put_subnet, api_versions=API_VERSIONS)
    emu.route("DELETE", vnet + "/subnets/{subnetName}", handlers.delete_subnet, api_versions=API_VERSIONS)
    emu.route("GET", vnet + "/CheckIPAddressAvailability", handlers.check_ip_availability, api_versions=API_VERSIONS)
    lb = rg + "/loadBalancers/{name}"
    for collection in ("backendAddressPools", "frontendIPConfigurations", "probes", "loadBalancingRules"):
        emu.route("GET", f"{lb}/{collection}", handlers.lb_children(collection), api_versions=API_VERSIONS)
        emu.route("GET", f"{lb}/{collection}/{{childName}}", handlers.lb_child(collection), api_versions=API_VERSIONS)
