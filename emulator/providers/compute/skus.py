"""Resource SKUs (``GET /subscriptions/{s}/providers/Microsoft.Compute/skus``): what a region offers, as the Resource
SKUs API answers it. Only availability sets are described: their ``Aligned`` (managed disks) and ``Classic`` SKUs
per region, with the ``MaximumPlatformFaultDomainCount`` capability Microsoft's docs read the region's fault-domain
limit from (``az vm list-skus --resource-type availabilitySets --query
'[?name==`Aligned`].{Location:locationInfo[0].location, MaximumFaultDomainCount:capabilities[0].value}'``,
MicrosoftDocs/azure-docs articles/virtual-machines/disks-deploy-premium-v2.md). The figures are
``availability_sets.max_fault_domains``'s. ``$filter`` supports only ``location eq '<region>'`` (the operation's
own documentation in the Compute REST spec: "Only **location** filter is supported currently").
"""

from __future__ import annotations

import re
from typing import Any

from emulator.core.errors import ArmError
from emulator.core.http import ArmRequest, ArmResponse, ok
from emulator.core.world import World
from emulator.providers.compute.availability_sets import max_fault_domains

# What the Resource SKUs operation takes (azure-mgmt-compute 39.x sends 2021-07-01).
SKU_API_VERSIONS = frozenset({"2021-07-01", "2019-04-01"})
_LOCATION_FILTER = re.compile(r"^\s*location\s+eq\s+'([A-Za-z0-9 ]+)'\s*$", re.IGNORECASE)
KNOWN_REGIONS = ("westeurope", "northeurope", "eastus", "eastus2", "westus", "westus2", "centralus",
                 "uksouth", "ukwest", "southeastasia", "japaneast", "australiaeast")


def availability_set_skus(location: str) -> list[dict[str, Any]]:
    region = location.lower().replace(" ", "")
    limit = str(max_fault_domains(region))
    return [{"resourceType": "availabilitySets", "name": name, "locations": [region],
             "locationInfo": [{"location": region, "zones": [], "zoneDetails": []}],
             "capabilities": [{"name": "MaximumPlatformFaultDomainCount", "value": limit}], "restrictions": []}
            for name in ("Classic", "Aligned")]


def regions_in(world: World) -> list[str]:
    """The regions the world's resources live in, and a few well-known ones."""
    seen = {str(r.get("location") or "").lower().replace(" ", "") for r in world.all() if r.get("location")}
    return sorted(seen | set(KNOWN_REGIONS))


def list_skus(req: ArmRequest) -> ArmResponse:
    wanted = req.query.get("$filter")
    if wanted:
        match = _LOCATION_FILTER.match(wanted)
        if match is None:
            raise ArmError(400, "InvalidParameter", f"The filter '{wanted}' is not supported: only location eq "
                                                    "'<location>' is supported.")
        regions = [match.group(1)]
    else:
        with req.ctx.world.lock:
            regions = regions_in(req.ctx.world)
    return ok({"value": [sku for region in regions for sku in availability_set_skus(region)]})
