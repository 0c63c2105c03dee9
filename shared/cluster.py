"""Which VMs form which cluster, from tags alone (pure: no I/O).

A VM belongs to a cluster when its effective ``asr-s2d`` tag is true. Effective tags merge the VM's
own tags over its availability set's over its resource group's (the VM's own win). The cluster's
name is the effective ``asr-s2d-cluster`` tag, or else the name of the availability set or resource
group whose ``asr-s2d=true`` enrolled it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from shared import ids, tags
from shared.errors import RejectedInput
from shared.inventory import TaggedScope, Vm
from shared.names import cluster_key
from shared.ownership import Enrollment


@dataclass(frozen=True)
class Cluster:
    name: str
    nodes: tuple[Vm, ...]
    intent: tags.ClusterIntent
    enrolled_by: str  # "vm tags", "availability set <name>", "resource group <name>"
    problem: str | None = None  # why nothing may be enrolled (its nodes disagree on a cluster-wide tag)

    @property
    def key(self) -> str:
        """Lock and record key: clusters are per subscription and case-insensitive."""
        return cluster_key(self.nodes[0].subscription_id if self.nodes else "none", self.name)

    @property
    def source_region(self) -> str:
        return self.nodes[0].location.lower() if self.nodes else ""


@dataclass(frozen=True)
class Membership:
    """One enrolled VM's validated intent and the cluster it names."""

    vm: Vm
    cluster: str
    intent: tags.ClusterIntent
    enrolled_by: str


def membership(vm: Vm, scopes: Mapping[str, TaggedScope]) -> Membership | None:
    """The VM's cluster membership, None when not enrolled; bad tags raise ``RejectedInput``."""
    avset = scopes.get(ids.key(vm.availability_set_id)) if vm.availability_set_id else None
    group = scopes.get(ids.key(ids.group_id(vm.id)))
    merged = tags.effective(vm.tags, avset.tags if avset else None, group.tags if group else None)
    if not tags.is_enrolled(merged):
        return None
    intent = tags.parse_intent(merged, f"VM {vm.name}")
    if tags.is_enrolled(vm.tags) and not (avset and tags.is_enrolled(avset.tags)) and not (
            group and tags.is_enrolled(group.tags)):
        enrolled_by = "vm tags"
        fallback = None
    elif avset and tags.is_enrolled(avset.tags):
        enrolled_by, fallback = f"availability set {avset.name}", avset.name
    else:
        assert group is not None
        enrolled_by, fallback = f"resource group {group.name}", group.name
    name = intent.cluster or (tags.cluster_name(fallback, f"{enrolled_by}") if fallback else None)
    if name is None:
        raise RejectedInput(f"VM {vm.name}: tagged {tags.ENROLL}=true but no {tags.CLUSTER} tag names its cluster")
    return Membership(vm=vm, cluster=name, intent=intent, enrolled_by=enrolled_by)


# The tags every node of one cluster must agree on: guessing which node is right could move the wrong IP.
CLUSTER_WIDE = (("expected_nodes", tags.NODES), ("dr_ip", tags.DR_IP), ("dr_ips", tags.DR_IPS), ("probe_port", tags.PROBE_PORT),
                ("witness_id", tags.WITNESS))
Enrolled = Callable[[str], Enrollment | None]  # a cluster's enrollment record by name, or None


def _not_enrolled(_name: str) -> Enrollment | None:
    return None


def _disagreement(a: Membership, b: Membership) -> str | None:
    tag = next((tag for attr, tag in CLUSTER_WIDE if getattr(a.intent, attr) != getattr(b.intent, attr)), None)
    return f"cluster {a.cluster}: nodes {a.vm.name} and {b.vm.name} disagree on tag {tag}" if tag else None


def clusters(vms: Iterable[Vm], scopes: Iterable[TaggedScope],
             enrolled: Enrolled = _not_enrolled) -> tuple[dict[str, Cluster], dict[str, str]]:
    """Every cluster in an inventory, and the rejections (VM id -> reason) of VMs with bad tags.

    Cluster names compare case-insensitively. Where the cluster is enrolled, its confirmed nodes' tags are the
    reference: a VM that is not a confirmed node and disagrees with them on a cluster-wide tag is rejected on
    its own, and never hides the cluster. Where the reference nodes disagree among themselves, the cluster is
    kept with its ``problem`` (so the audit reports it, critical) and nothing is enrolled until it is fixed.
    """
    by_scope = {ids.key(s.id): s for s in scopes}
    grouped: dict[str, list[Membership]] = {}
    rejected: dict[str, str] = {}
    for vm in vms:
        try:
            member = membership(vm, by_scope)
        except RejectedInput as err:
            rejected[ids.key(vm.id)] = str(err)
            continue
        if member is not None:
            grouped.setdefault(cluster_key(vm.subscription_id, member.cluster), []).append(member)
    found: dict[str, Cluster] = {}
    for key, members in grouped.items():
        members.sort(key=lambda m: ids.key(m.vm.id))
        record = enrolled(members[0].cluster)
        confirmed = [m for m in members if record is not None and record.key == key and record.has_node(m.vm.id)]
        reference = confirmed or members
        first = reference[0]
        problem = next((why for other in reference[1:] if (why := _disagreement(first, other))), None)
        kept = list(reference)
        for other in members:
            if other in reference:
                continue
            why = _disagreement(first, other)
            if why is None:
                kept.append(other)
            else:
                rejected[ids.key(other.vm.id)] = (f"{why}; {other.vm.name} is not a confirmed node of the enrolled "
                                                  "cluster, so it is left out")
        kept.sort(key=lambda m: ids.key(m.vm.id))
        found[key] = Cluster(name=first.cluster, nodes=tuple(m.vm for m in kept),
                             intent=replace(first.intent, drill=any(m.intent.drill for m in kept)),
                             enrolled_by=first.enrolled_by, problem=problem)
    return found, rejected


@dataclass(frozen=True)
class Inventory:
    """One subscription's VMs and cluster-level scopes, from three paged lists."""

    vms: tuple[Vm, ...]
    scopes: tuple[TaggedScope, ...]

    def vm(self, vm_id: str) -> Vm | None:
        return next((v for v in self.vms if ids.same(v.id, vm_id)), None)

    def clusters(self, target_region: str, enrolled: Enrolled = _not_enrolled) -> tuple[dict[str, Cluster], dict[str, str]]:
        """The tagged clusters and the rejected VMs. VMs in the target region are never nodes: recovered
        and test-failover VMs carry the source's tags (rule 8)."""
        sources = [v for v in self.vms if v.location.lower() != target_region.lower()]
        return clusters(sources, self.scopes, enrolled)
