"""The names (and keys) asr-s2d gives to what it creates: one home, so every workflow finds what another made.

Everything asr-s2d writes in Azure is named from the cluster and the regions, so a plan is self-contained
data and a re-run finds what an earlier run created. Pure: no I/O.
"""

from __future__ import annotations

import re

from shared import ids

PLAN_PREFIX = "asr-s2d-"
LB_FRONTEND, LB_POOL, LB_PROBE, LB_RULE = "fe-cluster", "be-nodes", "probe-cluster", "ha-ports"
# The tag on every load balancer and availability set asr-s2d creates: it deletes or reuses nothing that does not
# carry it.
MANAGED_BY, OWNER = "managed-by", "asr-s2d"
PURPOSE_TAG = "asr-s2d-purpose"  # on a test or failback load balancer: what it is for


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", text)[:60].strip("-")


def cluster_key(subscription_id: str, cluster: str) -> str:
    """A cluster's lock and record key: clusters are per subscription, and their names case-insensitive."""
    return f"{subscription_id.lower()}/{cluster.lower()}"


def fabric_name(region: str) -> str:
    return f"asr-s2d-{region.lower()}"


def container_name(region: str) -> str:
    return f"asr-s2d-{region.lower()}-container"


def mapping_name(source_region: str, target_region: str) -> str:
    return f"asr-s2d-{source_region.lower()}-to-{target_region.lower()}"


def network_mapping_name(primary_vnet_id: str, recovery_vnet_id: str) -> str:
    return _safe(f"asr-s2d-{ids.name_of(primary_vnet_id)}-to-{ids.name_of(recovery_vnet_id)}")


def item_name(vm_uuid: str, vm_name: str) -> str:
    return vm_uuid or _safe(vm_name)


def plan_name(cluster: str) -> str:
    return f"{PLAN_PREFIX}{cluster}"


def failback_how(cluster: str) -> str:
    """How an operator fails a reprotected cluster back: Azure-to-Azure has no planned failover (no A2A planned
    failover input in the REST specs); Microsoft's A2A failback tutorial runs a failover towards the primary region
    with the machines shut down first."""
    return (f"fail back with a failover of recovery plan {plan_name(cluster)}, direction RecoveryToPrimary, with "
            "'Shut down machines before beginning failover' (sourceSiteOperations Required)")


# '.' separates a load balancer's purpose from the cluster's name: a cluster name cannot contain one, so the test
# load balancer of cluster "a" never shares a name with the DR load balancer of cluster "a-test".
def load_balancer_name(cluster: str, *, test: bool = False) -> str:
    return f"lb-asr-s2d-{cluster}" + (".test" if test else "")


def failback_lb_name(cluster: str) -> str:
    """asr-s2d's load balancer in the original region, staged by the reprotect when none fronts the nodes there."""
    return f"lb-asr-s2d-{cluster}.failback"


def load_balancer_id(resource_group_id: str, name: str) -> str:
    return f"{resource_group_id}/providers/Microsoft.Network/loadBalancers/{name}"


def failback_lb_id(node_vm_id: str, cluster: str) -> str:
    """The failback load balancer's ID: beside the cluster's node in its resource group."""
    return load_balancer_id(ids.group_id(node_vm_id), failback_lb_name(cluster))


def availability_set_name(cluster: str) -> str:
    """The recovery availability set asr-s2d creates for a cluster's nodes in the recovery resource group (Site
    Recovery's own default is the source set's name with an "asr" suffix)."""
    return f"avset-asr-s2d-{cluster}"


def availability_set_id(resource_group_id: str, cluster: str) -> str:
    return f"{resource_group_id}/providers/Microsoft.Compute/availabilitySets/{availability_set_name(cluster)}"


def pool_id(lb_id: str) -> str:
    """The backend pool of a load balancer asr-s2d staged."""
    return f"{lb_id}/backendAddressPools/{LB_POOL}"
