"""Microsoft.Network in the world: the functions handlers, the seed and other providers call.

The rules ARM's network provider enforces, each in the module that owns it:

- ``vnets``: address spaces and subnets are proper CIDRs, subnets sit inside the address space and do
  not overlap, and a subnet in use cannot be removed or shrunk away from its addresses;
- ``subnets``: a static private IP lies inside its subnet, is not one of Azure's five reserved addresses
  and is not held by another IP configuration or load-balancer frontend; a dynamic one is the lowest
  free address; a subnet lists the IP configurations using it;
- ``nics``: references (subnet, backend pool) exist in the same region, a NIC joins an internal load
  balancer's pool only from that balancer's virtual network, and pools list their member NICs;
- ``loadbalancers``: internal frontends, probes, HA-ports rules, back-references;
- ``nsgs``: network security groups, their rules and default rules, the NICs and subnets they are associated with
  (``associations`` associates one, as a NIC or subnet PUT would);
- every write gets a fresh etag (conditional requests are checked by the handlers).

Nothing else writes network resources into the world. Functions raise ``ArmError`` with ARM's codes and
assume the caller holds ``world.lock`` for read-modify-write. Writes made here publish no event: the
handlers (REST) do, on completion of the long-running operation.
"""

from __future__ import annotations

from emulator.providers.conventions import new_etag, resource_id
from emulator.providers.network.associations import associate_nsg
from emulator.providers.network.loadbalancers import (
    AccessPointFrontend,
    create_internal_load_balancer,
    delete_load_balancer,
    put_load_balancer,
)
from emulator.providers.network.nics import (
    attach_nic,
    create_nic,
    delete_nic,
    detach_nic,
    join_backend_pool,
    nic_primary_subnet,
    put_network_interface,
)
from emulator.providers.network.nsgs import (
    add_network_security_group,
    delete_network_security_group,
    put_network_security_group,
    render_nsg,
)
from emulator.providers.network.schema import LB, NIC, NSG, SUBNET, VNET
from emulator.providers.network.subnets import (
    addresses_in_use,
    check_ip_availability,
    find_subnet,
    next_free_ip,
    subnet_prefix,
)
from emulator.providers.network.vnets import (
    add_virtual_network,
    delete_subnet,
    delete_virtual_network,
    put_subnet,
    put_virtual_network,
)

__all__ = [
    "LB",
    "NIC",
    "NSG",
    "SUBNET",
    "VNET",
    "AccessPointFrontend",
    "add_network_security_group",
    "add_virtual_network",
    "addresses_in_use",
    "associate_nsg",
    "attach_nic",
    "check_ip_availability",
    "create_internal_load_balancer",
    "create_nic",
    "delete_load_balancer",
    "delete_network_security_group",
    "delete_nic",
    "delete_subnet",
    "delete_virtual_network",
    "detach_nic",
    "find_subnet",
    "join_backend_pool",
    "new_etag",
    "next_free_ip",
    "nic_primary_subnet",
    "put_load_balancer",
    "put_network_interface",
    "put_network_security_group",
    "put_subnet",
    "put_virtual_network",
    "render_nsg",
    "resource_id",
    "subnet_prefix",
]
