"""What Microsoft.Network request bodies look like: resource type names, the request shapes checked before
any rule runs, and the typed readers that fail with the network provider's 400s. No rules, no world."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.core.errors import ArmError
from emulator.providers.conventions import (
    REF,
    TRACKED,
    field,
    parse_id,
    reference,
)

VNET = "Microsoft.Network/virtualNetworks"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
NIC = "Microsoft.Network/networkInterfaces"
LB = "Microsoft.Network/loadBalancers"
NSG = "Microsoft.Network/networkSecurityGroups"
PUBLIC_IP = "Microsoft.Network/publicIPAddresses"
BAD = "InvalidRequestFormat"  # what Microsoft.Network answers for a missing or malformed field

_SUBNET_PROPS = {"addressPrefix": str, "addressPrefixes": [str], "networkSecurityGroup": REF, "routeTable": REF,
                 "natGateway": REF}
VNET_SHAPE = {**TRACKED, "properties": {
    "addressSpace": {"addressPrefixes": [str]}, "dhcpOptions": {"dnsServers": [str]},
    "subnets": [{"name": str, "properties": _SUBNET_PROPS}]}}
SUBNET_SHAPE = {"name": str, "properties": _SUBNET_PROPS}
NIC_SHAPE = {**TRACKED, "properties": {
    "enableAcceleratedNetworking": bool, "disableTcpStateTracking": bool, "enableIPForwarding": bool,
    "networkSecurityGroup": REF, "dscpConfiguration": REF, "dnsSettings": {"dnsServers": [str]},
    "ipConfigurations": [{"name": str, "properties": {
        "privateIPAddress": str, "privateIPAllocationMethod": str, "privateIPAddressVersion": str,
        "privateIPAddressPrefixLength": int, "primary": bool, "subnet": REF, "publicIPAddress": REF,
        "loadBalancerBackendAddressPools": [REF]}}]}}
_FRONTEND_REF = {"frontendIPConfiguration": REF}
LB_SHAPE = {**TRACKED, "sku": {"name": str, "tier": str}, "properties": {
    "frontendIPConfigurations": [{"name": str, "zones": [str], "properties": {
        "subnet": REF, "publicIPAddress": REF, "privateIPAddress": str, "privateIPAllocationMethod": str,
        "privateIPAddressVersion": str}}],
    "backendAddressPools": [{"name": str, "properties": {"loadBalancerBackendAddresses": list}}],
    "probes": [{"name": str, "properties": {"protocol": str, "port": int, "intervalInSeconds": int,
                                            "numberOfProbes": int, "probeThreshold": int, "requestPath": str}}],
    "loadBalancingRules": [{"name": str, "properties": {
        **_FRONTEND_REF, "backendAddressPool": REF, "probe": REF, "protocol": str, "frontendPort": int,
        "backendPort": int, "enableFloatingIP": bool, "idleTimeoutInMinutes": int, "enableTcpReset": bool,
        "loadDistribution": str, "disableOutboundSnat": bool, "enableConnectionTracking": bool}}],
    "inboundNatRules": [{"name": str, "properties": {
        **_FRONTEND_REF, "protocol": str, "frontendPort": int, "backendPort": int, "enableFloatingIP": bool,
        "idleTimeoutInMinutes": int, "enableTcpReset": bool}}],
    "inboundNatPools": list, "outboundRules": list}}


_RULE_PROPS = {"priority": int, "direction": str, "access": str, "protocol": str, "description": str,
               "sourceAddressPrefix": str, "sourceAddressPrefixes": [str], "destinationAddressPrefix": str,
               "destinationAddressPrefixes": [str], "sourcePortRange": str, "sourcePortRanges": [str],
               "destinationPortRange": str, "destinationPortRanges": [str], "sourceApplicationSecurityGroups": [REF],
               "destinationApplicationSecurityGroups": [REF]}
NSG_SHAPE = {**TRACKED, "properties": {"securityRules": [{"name": str, "properties": _RULE_PROPS}]}}


def enum(value: Any, allowed: Iterable[str], *, where: str, default: str | None = None) -> str:
    """ARM enums are case-insensitive on input and canonical on output."""
    if value is None:
        if default is None:
            raise ArmError(400, BAD, f"Required property '{where}' is missing.")
        return default
    if not isinstance(value, str):
        raise ArmError(400, "InvalidRequestContent",
                       f"The request content was invalid and could not be deserialized: '{where}' must be a string.")
    for option in allowed:
        if option.lower() == value.lower():
            return option
    raise ArmError(400, BAD, f"The value '{value}' of '{where}' is invalid. Allowed values: {', '.join(allowed)}.")


def int_in(container: dict[str, Any], key: str, *, path: str, low: int, high: int, default: int | None = None) -> int:
    value = field(container, key, int, path=path, required=default is None, missing_code=BAD)
    value = default if value is None else value
    assert value is not None
    if not low <= value <= high:
        raise ArmError(400, BAD, f"The value {value} of '{path}.{key}' must be between {low} and {high}.")
    return value


def unverified_reference(container: dict[str, Any], key: str, *, path: str, rtype: str) -> str | None:
    """A reference to a type the emulator does not model (NSG, public IP, DSCP): well-formed, echoed, not resolved."""
    target = reference(container, key, path=path, missing_code=BAD)
    if target is None:
        return None
    parsed = parse_id(target)
    if parsed is None or not parsed.is_type(rtype):
        raise ArmError(400, "InvalidResourceReference",
                       f"Resource '{target}' referenced by '{path}.{key}' is not a valid {rtype} ID.")
    return target
