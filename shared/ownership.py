"""What asr-s2d owns, proven and never inferred from a name: the one place every workflow asks.

A cluster is asr-s2d's when it has an **enrollment record** (``enrollments/<cluster>.json`` in the state
container, written by enrollment when it protects the cluster): the cluster's key (its subscription),
its recovery plan, its **confirmed nodes** and the protected items asr-s2d enabled for them. A recovery
plan, group or item named like asr-s2d's but without that record is someone else's. A protected item is
asr-s2d's when it replicates under asr-s2d's own policy and its cluster's record lists it (or its VM). A
load balancer is asr-s2d's when its tags say so for that very cluster and purpose.

After the first enrollment the node set is fixed: a VM tagged into the cluster later is a *candidate*
until the cluster itself lists it (the guest's node list, matched by computer name) or an operator
confirms it (``asr-s2d nodes add``). A recovery availability set is asr-s2d's, for the cluster's nodes
to fail over into, when its tags say so for that very cluster. Pure values and predicates: the records are read
and written by the services through ``Records``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared import ids, tags
from shared.actions import Purpose
from shared.inventory import AvailabilitySet, LoadBalancer, ProtectedItem, RecoveryPlan
from shared.names import MANAGED_BY, OWNER, PURPOSE_TAG, plan_name

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Node:
    """A confirmed member of a cluster: its VM, and the guest's name for it."""

    vm_id: str
    name: str
    computer_name: str
    confirmed_by: str  # "enrollment", "guest", "operator"

    def to_json(self) -> dict[str, str]:
        return {"vm_id": self.vm_id, "name": self.name, "computer_name": self.computer_name,
                "confirmed_by": self.confirmed_by}


@dataclass(frozen=True)
class Enrollment:
    """A cluster asr-s2d enrolled: the proof of ownership every workflow checks before it acts."""

    cluster: str
    key: str  # <subscription>/<name>, lower-cased: the cluster's lock and record key
    nodes: tuple[Node, ...]
    items: tuple[str, ...] = ()  # protected item IDs asr-s2d enabled (or found replicating its nodes, its policy)
    enrolled_by: str = ""
    created: str = ""
    updated: str = ""
    guest_nodes: tuple[str, ...] = ()  # the computer names the guest listed the last time it was asked
    guest_checked: str | None = None

    @property
    def plan(self) -> str:
        return plan_name(self.cluster)

    def has_node(self, vm_id: str | None) -> bool:
        return vm_id is not None and any(ids.same(n.vm_id, vm_id) for n in self.nodes)

    def has_item(self, item_id: str) -> bool:
        return any(ids.same(i, item_id) for i in self.items)

    def node_named(self, computer_name: str) -> Node | None:
        return next((n for n in self.nodes if n.computer_name.lower() == computer_name.lower()), None)

    def with_nodes(self, added: Iterable[Node]) -> Enrollment:
        new = [n for n in added if not self.has_node(n.vm_id)]
        return replace(self, nodes=(*self.nodes, *new)) if new else self

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "cluster": self.cluster, "key": self.key, "plan": self.plan,
                "nodes": [n.to_json() for n in self.nodes], "items": list(self.items), "enrolled_by": self.enrolled_by,
                "created": self.created, "updated": self.updated, "guest_nodes": list(self.guest_nodes),
                "guest_checked": self.guest_checked}

    @classmethod
    def from_json(cls, body: Any) -> Enrollment | None:
        """A stored record back as a value; None for anything that is not one (a broken blob proves nothing)."""
        if not isinstance(body, dict) or body.get("schema_version") != SCHEMA_VERSION:
            return None
        try:
            nodes = tuple(Node(str(n["vm_id"]), str(n["name"]), str(n.get("computer_name") or n["name"]),
                               str(n.get("confirmed_by") or "enrollment"))
                          for n in body.get("nodes") or [] if isinstance(n, dict))
            return cls(cluster=str(body["cluster"]), key=str(body["key"]), nodes=nodes,
                       items=tuple(str(i) for i in body.get("items") or [] if isinstance(i, str)),
                       enrolled_by=str(body.get("enrolled_by") or ""), created=str(body.get("created") or ""),
                       updated=str(body.get("updated") or ""),
                       guest_nodes=tuple(str(n) for n in body.get("guest_nodes") or [] if isinstance(n, str)),
                       guest_checked=body.get("guest_checked") if isinstance(body.get("guest_checked"), str) else None)
        except (KeyError, TypeError):
            return None


# -- the predicates ---------------------------------------------------------------------------------

def is_ours(item: ProtectedItem, policy_id: str) -> bool:
    """The item replicates under asr-s2d's own policy: asr-s2d enabled it (nobody else uses that policy)."""
    return ids.same(item.policy_id, policy_id)


def owns_item(enrollment: Enrollment | None, item: ProtectedItem, policy_id: str) -> bool:
    """asr-s2d may act on this item: its policy, and its cluster's record lists it or the VM it protects
    (before a reprotect the VM is the node; after it, the node is the item's recovery VM)."""
    return enrollment is not None and is_ours(item, policy_id) and (
        enrollment.has_item(item.id) or enrollment.has_node(item.vm_id) or enrollment.has_node(item.recovery_vm_id))


def owns_plan(enrollment: Enrollment | None, plan: RecoveryPlan | None, items: Iterable[ProtectedItem],
              policy_id: str) -> str | None:
    """Why asr-s2d may not act on the cluster's recovery plan and items, or None when it may: the record
    exists, the plan really exists under the name asr-s2d gave it, and every item is asr-s2d's."""
    if enrollment is None:
        return "asr-s2d never enrolled it (no enrollment record)"
    if plan is None:
        return f"its recovery plan {enrollment.plan} does not exist"
    foreign = [i.node_name for i in items if not owns_item(enrollment, i, policy_id)]
    if foreign:
        return f"item(s) of {', '.join(sorted(foreign))} were not enabled by asr-s2d for it"
    return None


def managed(found: Mapping[str, str]) -> bool:
    """``managed-by=asr-s2d``: a resource asr-s2d created (a load balancer, a recovery availability set). Its
    ``asr-s2d-cluster`` tag says whose it is, never that it enrolls anything."""
    return (tags.lookup(found, MANAGED_BY) or "").strip().lower() == OWNER


def _tagged_ours(found: Mapping[str, str], cluster: str) -> bool:
    """``managed-by=asr-s2d`` and ``asr-s2d-cluster=<cluster>`` (values compared as tags are: trimmed, any case)."""
    return managed(found) and (tags.lookup(found, tags.CLUSTER) or "").strip().lower() == cluster.lower()


def owns_load_balancer(lb: LoadBalancer, cluster: str, purpose: Purpose) -> bool:
    """The load balancer carries asr-s2d's tags for this cluster and purpose (the DR one has no purpose tag):
    only then may asr-s2d rewrite or delete it."""
    if not _tagged_ours(lb.tags, cluster):
        return False
    wanted = "" if purpose is Purpose.DR else purpose.value
    return (tags.lookup(lb.tags, PURPOSE_TAG) or "").strip().lower() == wanted


def owns_availability_set(avset: AvailabilitySet, cluster: str) -> bool:
    """The availability set carries asr-s2d's tags for this cluster (as its load balancers do): only then does
    asr-s2d reuse it as the cluster's recovery availability set."""
    return _tagged_ours(avset.tags, cluster)
