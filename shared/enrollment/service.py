"""Enrollment: an ARM write event in, every node of the cluster replicating in one group out.

Entry points: ``handle_trigger`` (the Event Grid trigger), ``handle`` (one decoded or raw event) and
``enroll_cluster`` (the CLI's ``plan`` and the audit's repairs). An event is only a prompt: the
service decides relevance from the event, then re-reads the world and plans from what it sees.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from shared import events, ids, tags
from shared.actions import PLUMBING
from shared.azure.operations import OperationPending
from shared.cluster import Cluster, Inventory
from shared.enrollment.members import Members, guest_nodes, split
from shared.enrollment.plan import DrNetwork, NodeFacts, Plan, ReplicationSpec, plan_enrollment
from shared.errors import PermanentError, RejectedInput, TransientError
from shared.executor import Applied, Executor
from shared.findings import Finding, Severity
from shared.inventory import AsrState, AvailabilitySet, LoadBalancer, Vm
from shared.observability import log_context
from shared.outcomes import Outcome, most_significant
from shared.ownership import Enrollment, Node
from shared.runtime import Runtime, default_runtime
from shared.times import now_iso
from shared.work.item import Work
from shared.work.worker import Done, Later, enqueue, started, until_done

log = logging.getLogger(__name__)

# Outcomes that answer an event for good: a duplicate delivery of it is answered from the record, no ARM read.
# Not "waiting" (the next delivery may find every node tagged) and not "failed" (it is worth another try).
ANSWERED = frozenset({"enabled", "changed", "unchanged", "ignored", "rejected"})
WRITE_OPERATIONS = {
    "microsoft.resources/tags/write": None,  # any scope: decided by the target's type
    "microsoft.compute/virtualmachines/write": "vm",
    "microsoft.compute/availabilitysets/write": "availability_set",
    "microsoft.resources/subscriptions/resourcegroups/write": "resource_group",
}


def handle_trigger(event: Any) -> Outcome | Work:
    """The Event Grid trigger's entry point: screen the event (no Azure call: Event Grid waits about 30 s for an
    answer, and a storm of deliveries would be throttled on even a few reads each), then enqueue the enrollment for
    the worker, whose first step takes the quick look at the VM's tags. Returns the recorded outcome of an event
    answered here, or the work item enqueued. Transient errors (storage) propagate so Event Grid redelivers."""
    rt = default_runtime()
    accepted = accept(event, rt)
    if isinstance(accepted, Work):
        enqueue(rt, accepted)
    return accepted


def accept(raw: Any, rt: Runtime, *, fresh: bool = False) -> Outcome | Work:
    """What the trigger does with one event, without calling Azure: a recorded outcome when it is malformed, of
    another kind or subscription, or a duplicate of an answered one; else the work item that enrolls for it (not yet
    enqueued)."""
    try:
        event = events.decode(raw)
    except RejectedInput as err:
        return rt.record(Outcome(events.event_id_of(raw), "rejected", f"malformed event: {err}"))
    with log_context(event_id=event.id, correlation_id=event.correlation_id):
        answered = _answered_here(event, rt, fresh=fresh)
        if answered is not None:
            return answered
        return Work.new("enroll", event.id, {"event": events.as_json(raw), "fresh": fresh})


def _answered_here(event: events.ArmEvent, rt: Runtime, *, fresh: bool) -> Outcome | None:
    reason = _irrelevant(event, rt)
    if reason:
        return rt.record(Outcome(event.id, "ignored", reason, correlation_id=event.correlation_id))
    earlier = None if fresh else rt.records.answered(event.id)
    if earlier is not None:
        return rt.record(Outcome(event.id, "ignored", f"a duplicate delivery: this event was answered already "
                                 f"({earlier.get('outcome')}: {str(earlier.get('reason'))[:300]})",
                                 cluster=earlier.get("cluster") if isinstance(earlier.get("cluster"), str) else None,
                                 correlation_id=event.correlation_id))
    return None


def work_step(rt: Runtime, work: Work, failure: str | None) -> Later | Done:
    """The worker's step of an enrollment for one event: re-read, plan and apply until a Site Recovery job must be
    waited for, then say so. ``failure``: why that job failed."""
    carry = dict(work.carry)
    try:
        outcome = _handle_once(work.payload.get("event"), rt, bool(work.payload.get("fresh")), carry, failure)
    except OperationPending as err:
        return started(err, f"enrolling {err.cluster}", carry=carry, cluster=err.cluster)
    return Done(outcome.to_json(), failed=outcome.kind == "failed")


def handle(raw: Any, rt: Runtime, *, fresh: bool = False) -> Outcome:
    """One event (an ``azure.functions`` event or a JSON object) -> one recorded outcome, in this process: the same
    steps the worker takes, waiting here for each Site Recovery job. A duplicate delivery of an event answered for
    good is answered from its record, without reading Azure; ``fresh`` (the CLI's ``handle-event``, an operator's
    explicit request) handles it again all the same."""
    carry: dict[str, Any] = {}
    return until_done(rt, lambda failure: _handle_once(raw, rt, fresh, carry, failure))


def _handle_once(raw: Any, rt: Runtime, fresh: bool, carry: dict[str, Any], failure: str | None) -> Outcome:
    try:
        event = events.decode(raw)
    except RejectedInput as err:
        return rt.record(Outcome(events.event_id_of(raw), "rejected", f"malformed event: {err}"))
    with log_context(event_id=event.id, correlation_id=event.correlation_id):
        if failure is not None:  # a job this enrollment started failed: recorded, and worth another event's try
            return rt.record(Outcome(event.id, "failed", failure, cluster=carry.get("cluster"),
                                     correlation_id=event.correlation_id))
        answered = _answered_here(event, rt, fresh=fresh)
        if answered is not None:
            return answered
        try:
            outcomes = _enroll_for_event(event, rt, carry)
        except PermanentError as err:
            outcome = rt.record(Outcome(event.id, "rejected", str(err), correlation_id=event.correlation_id))
            outcomes = [outcome]
        except TransientError as err:
            if not err.recorded:
                rt.record(Outcome(event.id, "failed", f"will retry: {err}", correlation_id=event.correlation_id))
            raise
        answer = most_significant(outcomes)
        if all(o.kind in ANSWERED for o in outcomes) and not rt.settings.dry_run:
            rt.records.mark_answered(event.id, answer.line())
        return answer


def _irrelevant(event: events.ArmEvent, rt: Runtime) -> str | None:
    screened = events.screen(event, events.WRITE_EVENT, rt.settings)
    if screened:
        return screened
    operation = event.operation_name.lower()
    if operation not in WRITE_OPERATIONS:
        return f"operation {event.operation_name} does not change tags of a VM, availability set or resource group"
    kind = ids.scope_kind(event.target_uri)
    expected = WRITE_OPERATIONS[operation]
    if kind == "other" or (expected is not None and kind != expected):
        return f"{event.target_uri[:200]} is not a VM, availability set or resource group"
    return None


def observe_inventory(rt: Runtime, subscription_id: str) -> Inventory:
    vms = rt.compute.list_vms(subscription_id)
    scopes = [*rt.compute.list_availability_sets(subscription_id), *rt.resources.list_resource_groups(subscription_id)]
    return Inventory(tuple(vms), tuple(scopes))


def _enroll_for_event(event: events.ArmEvent, rt: Runtime, carry: dict[str, Any]) -> list[Outcome]:
    target = event.target_uri
    kind = ids.scope_kind(target)
    quiet = _quick_look(event, kind, rt)
    if quiet is not None:
        return [quiet]
    inventory = observe_inventory(rt, ids.subscription_of(target))
    target_region = rt.settings.target_region.lower()
    found, rejected = inventory.clusters(target_region, rt.records.enrollment)

    if kind == "vm":
        vm = inventory.vm(target)
        if vm is None:
            return [rt.record(Outcome(event.id, "ignored", f"VM {ids.name_of(target)} no longer exists",
                                      correlation_id=event.correlation_id))]
        if ids.key(vm.id) in rejected:
            raise RejectedInput(rejected[ids.key(vm.id)])
        affected = [c for c in found.values() if any(ids.same(n.id, vm.id) for n in c.nodes)]
        if not affected:
            return [_untagged(event, vm, rt)]
    else:
        members = {ids.key(v.id) for v in inventory.vms
                   if (kind == "availability_set" and ids.same(v.availability_set_id, target))
                   or (kind == "resource_group" and ids.same(ids.group_id(v.id), target))}
        bad = [reason for key, reason in rejected.items() if key in members]
        if bad:
            raise RejectedInput(bad[0])
        affected = [c for c in found.values() if any(ids.key(n.id) in members for n in c.nodes)]
        if not affected:
            return [rt.record(Outcome(event.id, "ignored", f"no VM in {ids.name_of(target)} is enrolled",
                                      correlation_id=event.correlation_id))]
    return [enroll_cluster(c, rt, event_id=event.id, correlation_id=event.correlation_id,
                           tagged_by=event.caller_object_id, carry=carry) for c in affected]


def _quick_look(event: events.ArmEvent, kind: str, rt: Runtime) -> Outcome | None:
    """An event about a VM, availability set or resource group that carries no asr-s2d tag, directly or through
    its availability set and resource group, is answered here after at most three reads (the resource, its
    availability set, its group); only an event that may concern a cluster reads the subscription's inventory.
    None: read on."""
    def ignored(reason: str) -> Outcome:
        return rt.record(Outcome(event.id, "ignored", reason, correlation_id=event.correlation_id))

    target = event.target_uri
    if kind == "vm":
        vm = rt.compute.get_vm(target)
        if vm is None:
            return ignored(f"VM {ids.name_of(target)} no longer exists")
        if vm.location.lower() == rt.settings.target_region.lower():
            return ignored(f"VM {vm.name} is in the target region {vm.location} (a recovery or test-failover VM "
                           "carries the source's tags)")
        avset = rt.compute.get_availability_set(vm.availability_set_id) if vm.availability_set_id else None
        group = rt.resources.get_resource_group(ids.group_id(vm.id))
        effective = tags.effective(vm.tags, avset.tags if avset else None, group.tags if group else None)
        misses = [m for scope in (vm, avset, group) if scope is not None for m in tags.near_misses(scope.tags)]
        if misses and not tags.is_enrolled(effective):
            # A typo is bad input, never silence: the operator meant to enroll it.
            return rt.record(Outcome(event.id, "rejected", f"VM {vm.name}: {misses[0]}",
                                     correlation_id=event.correlation_id))
        if tags.mentions(effective):
            return None
        return ignored(f"VM {vm.name} is not tagged {tags.ENROLL}=true (no asr-s2d tag on it, its availability set "
                       "or its resource group)")
    scope = (rt.compute.get_availability_set(target) if kind == "availability_set"
             else rt.resources.get_resource_group(target))
    if scope is None:
        return ignored(f"{ids.name_of(target)} no longer exists")
    return None if tags.mentions(scope.tags) else ignored(f"no asr-s2d tag on {ids.name_of(target)}")


def _untagged(event: events.ArmEvent, vm: Vm, rt: Runtime) -> Outcome:
    """A VM without (or no longer with) asr-s2d=true: ignored, but a protected one is reported, never disabled."""
    item = next((i for i in rt.asr.list_items() if ids.same(i.vm_id, vm.id)), None)
    if item is None:
        return rt.record(Outcome(event.id, "ignored", f"VM {vm.name} is not tagged {tags.ENROLL}=true",
                                 correlation_id=event.correlation_id))
    finding = Finding("tag-removed", Severity.WARNING, vm.name,
                      f"{vm.name} replicates (group {item.group_name or '-'}) but is no longer tagged {tags.ENROLL}=true",
                      "tag it again, or disable its replication yourself if it left the cluster (asr-s2d never does "
                      "unless ALLOW_DISABLE_REPLICATION is set)")
    return rt.record(Outcome(event.id, "unchanged", finding.message, cluster=item.group_name, findings=(finding,),
                             correlation_id=event.correlation_id))


def observe_nodes(rt: Runtime, cluster: Cluster) -> dict[str, NodeFacts]:
    """Power state and primary NIC of each node, and the availability set it is in: one VM GET and one NIC GET per
    node, one GET per availability set."""
    facts: dict[str, NodeFacts] = {}
    sets: dict[str, AvailabilitySet | None] = {}
    for node in cluster.nodes:
        vm = rt.compute.get_vm(node.id) or node
        nic = rt.network.get_nic(vm.primary_nic_id) if vm.primary_nic_id else None
        avset_id = vm.availability_set_id
        if avset_id and ids.key(avset_id) not in sets:
            sets[ids.key(avset_id)] = rt.compute.get_availability_set(avset_id)
        facts[ids.key(vm.id)] = NodeFacts(vm=vm, nic=nic,
                                          availability_set=sets.get(ids.key(avset_id)) if avset_id else None)
    return facts


def observe_dr(rt: Runtime, cluster: Cluster, nodes: dict[str, NodeFacts], spec: ReplicationSpec) -> DrNetwork:
    """The DR subnet and load balancer, and (for nodes in an availability set) the cluster's recovery set."""
    subnet_name = spec.recovery_subnet_name or next(
        (ids.name_of(f.nic.subnet_id) for f in nodes.values() if f.nic is not None), "")
    subnet = rt.network.get_subnet(spec.recovery_vnet_id, subnet_name) if subnet_name else None
    in_sets = any(f.vm.availability_set_id for f in nodes.values())
    avset = rt.compute.get_availability_set(spec.availability_set_id(cluster.name)) if in_sets else None
    return DrNetwork(subnet=subnet, load_balancer=rt.network.get_load_balancer(spec.load_balancer_id(cluster.name)),
                     availability_set=avset, source_load_balancers=source_load_balancers(rt, nodes))


def source_load_balancers(rt: Runtime, nodes: Mapping[str, NodeFacts]) -> tuple[LoadBalancer, ...]:
    """The load balancers whose pools hold a node's NIC (one GET each, usually one): the cluster's access points."""
    lb_ids = {ids.key(ids.load_balancer_of(p)): ids.load_balancer_of(p) for f in nodes.values() if f.nic is not None
              for p in f.nic.pool_ids}
    found = (rt.network.get_load_balancer(lb_id) for lb_id in lb_ids.values())
    return tuple(lb for lb in found if lb is not None)


@dataclass(frozen=True)
class Prepared:
    """A plan for the cluster's confirmed nodes, and who they are."""

    plan: Plan
    members: Members
    record: Enrollment | None  # as read, with what the guest said in this run
    stored: Enrollment | None  # as read


def prepare(rt: Runtime, cluster: Cluster, *, record: Enrollment | None, ask_guest: bool,
            asr: AsrState | None = None, tagged_by: str = "") -> Prepared:
    """Read the nodes, settle who belongs (asking the guest about candidates when ``ask_guest``), then plan for the
    confirmed nodes only; the candidates' findings join the plan's."""
    spec = ReplicationSpec.from_settings(rt.settings)
    stored = record
    facts = observe_nodes(rt, cluster)
    members = split(cluster, record, facts, tagged_by=tagged_by)
    if members.candidates and record is not None and ask_guest:
        listed = guest_nodes(rt, record, facts, cluster.source_region)
        if listed is not None:
            members = split(cluster, record, facts, listed[0], tagged_by=tagged_by)
            record = replace(record, guest_nodes=listed[0], guest_checked=listed[1])
    nodes = {k: f for k, f in facts.items() if any(ids.key(n.id) == k for n in members.cluster.nodes)}
    plan = plan_enrollment(members.cluster, nodes, asr or rt.asr.observe(), spec,
                           observe_dr(rt, members.cluster, nodes, spec))
    return Prepared(replace(plan, findings=(*members.findings, *plan.findings)), members, record, stored)


def plan_cluster(rt: Runtime, cluster: Cluster, *, asr: AsrState | None = None) -> Plan:
    """What enrollment would write for the cluster now (the CLI's ``plan``): read-only, the guest is not asked."""
    return prepare(rt, cluster, record=rt.records.enrollment(cluster.name), ask_guest=False, asr=asr).plan


def remember(rt: Runtime, prepared: Prepared) -> None:
    """Write (or bring up to date) the cluster's enrollment record once asr-s2d protects any of its nodes: its
    confirmed nodes and the items enabled for them. No write when nothing changed."""
    plan, members, record = prepared.plan, prepared.members, prepared.record
    items = tuple(item_id for item_id, _vm in plan.node_items)
    if rt.settings.dry_run or (record is None and not items):
        return
    cluster = members.cluster
    if record is None:
        now = now_iso()
        wanted = Enrollment(cluster=cluster.name, key=cluster.key, enrolled_by=cluster.enrolled_by, created=now,
                            updated=now, items=items,
                            nodes=tuple(Node(vm.id, vm.name, vm.host_name, "enrollment") for vm in cluster.nodes))
    else:
        grown = record.with_nodes(members.confirmed_now)
        wanted = replace(grown, items=(*grown.items, *(i for i in items if not grown.has_item(i))))
    if prepared.stored is None or replace(prepared.stored, updated="") != replace(wanted, updated=""):
        rt.records.save_enrollment(replace(wanted, updated=now_iso()))


def refusal(cluster: Cluster, record: Enrollment | None) -> str | None:
    """Why nothing may be enrolled for the cluster as tagged: its nodes disagree, or its name is another
    subscription's enrolled cluster (one name is one group and one plan in the vault)."""
    if cluster.problem:
        return cluster.problem
    if record is not None and record.key != cluster.key:
        return (f"cluster {cluster.name}: a cluster of that name is already enrolled from subscription "
                f"{record.key.split('/')[0]} ({record.cluster}); one name is one multi-VM group and one recovery plan "
                "in the vault, so this one is not enrolled: rename it")
    return None


def enroll_cluster(cluster: Cluster, rt: Runtime, *, event_id: str, correlation_id: str = "",
                   trigger: str = "event", tagged_by: str = "", carry: dict[str, Any] | None = None) -> Outcome:
    """Lock the cluster, re-read it, settle its members, plan, apply, record. Safe to repeat: a converged cluster
    gets 0 writes. A Site Recovery job that still runs ends the step (``OperationPending``, its ``cluster`` set):
    ``carry`` keeps what was written so far, and the next step (once the job ended) re-plans and goes on."""
    if carry is None:  # in this process: wait for each job here
        kept: dict[str, Any] = {}
        return until_done(rt, lambda _failure: enroll_cluster(
            cluster, rt, event_id=event_id, correlation_id=correlation_id, trigger=trigger, tagged_by=tagged_by,
            carry=kept))
    try:
        return _enroll_cluster(cluster, rt, event_id=event_id, correlation_id=correlation_id, trigger=trigger,
                               tagged_by=tagged_by, carried=Applied.from_json(carry.get(cluster.name)))
    except OperationPending as err:
        carry[cluster.name] = err.applied.to_json() if err.applied is not None else carry.get(cluster.name)
        carry["cluster"] = cluster.name
        err.cluster = cluster.name
        raise


def _enroll_cluster(cluster: Cluster, rt: Runtime, *, event_id: str, correlation_id: str, trigger: str,
                    tagged_by: str, carried: Applied) -> Outcome:
    base = Outcome(event_id=event_id, kind="unchanged", reason="", cluster=cluster.name, cluster_key=cluster.key,
                   correlation_id=correlation_id, trigger=trigger, dry_run=rt.settings.dry_run)
    record = rt.records.enrollment(cluster.name)
    refused = refusal(cluster, record)
    if refused:
        return rt.record(replace(base, kind="rejected", reason=refused))
    with log_context(cluster=cluster.name), rt.lock(cluster.key) as lock:
        try:
            prepared = prepare(rt, cluster, record=record, ask_guest=True, tagged_by=tagged_by)
        except RejectedInput as err:
            return rt.record(replace(base, kind="rejected", reason=str(err)))
        plan = prepared.plan
        log.info("cluster %s plan (%d actions, %d findings): %s", cluster.name, len(plan.actions),
                 len(plan.findings), plan.describe())
        if plan.away:
            return rt.record(replace(base, kind="unchanged", reason=plan.away, findings=plan.findings))
        if plan.waiting and not plan.actions and not carried.writes:
            return rt.record(replace(base, kind="waiting", reason=plan.waiting, findings=plan.findings,
                                     plan=tuple(plan.describe())))
        try:
            with contextlib.ExitStack() as shared_plumbing:
                if not rt.settings.dry_run and any(isinstance(a, PLUMBING) for a in plan.actions):
                    # Fabrics, containers, the policy and the mappings serve every cluster of the vault: one writer
                    # at a time, and a re-plan under the vault's lock sees what a concurrent enrollment just made.
                    shared_plumbing.enter_context(rt.lock(f"vault/{rt.settings.vault_id.lower()}"))
                    prepared = prepare(rt, cluster, record=record, ask_guest=True, tagged_by=tagged_by)
                    plan = prepared.plan
                try:
                    applied = Executor(rt, lock=lock, dry_run=rt.settings.dry_run, correlation_id=correlation_id
                                       ).apply(plan.cluster, plan.actions, carried=carried)
                except OperationPending:  # the job runs on: the record names the cluster's items from now on
                    remember(rt, prepared)
                    raise
            remember(rt, prepared)
        except PermanentError as err:
            return rt.record(replace(base, kind="failed", reason=str(err), plan=tuple(plan.describe()),
                                     findings=plan.findings))
        except TransientError as err:
            rt.record(replace(base, kind="failed", reason=f"will retry: {err}", plan=tuple(plan.describe())))
            err.recorded = True
            raise
    enabled = sum(1 for d in applied.done if d.startswith("enable replication"))
    if rt.settings.dry_run:
        kind, reason = ("unchanged" if not plan.actions else "waiting"), (
            f"dry run: {len(plan.actions)} action(s) planned, none written")
    elif plan.waiting:
        kind, reason = "waiting", plan.waiting
    elif enabled:
        kind, reason = "enabled", f"{enabled} node(s) enabled in group {cluster.name}; {applied.writes} write(s)"
    elif applied.writes:
        kind, reason = "changed", f"{applied.writes} write(s) to converge {cluster.name}"
    else:
        kind, reason = "unchanged", f"cluster {cluster.name} already converged"
    details = {"nodes": [n.name for n in prepared.members.cluster.nodes], "enrolled_by": cluster.enrolled_by}
    if prepared.members.candidates:
        details["unconfirmed"] = [n.name for n in prepared.members.candidates]
    if applied.frontend_ip:
        details["dr_ip"] = applied.frontend_ip
    return rt.record(replace(base, kind=kind, reason=reason, writes=applied.writes,
                             plan=tuple(applied.done) or tuple(plan.describe()), findings=plan.findings,
                             details=details))



def confirm_node(rt: Runtime, cluster_name: str, vm_name: str) -> Enrollment:
    """An operator confirms that a VM tagged into an enrolled cluster is one of its nodes (``asr-s2d nodes add``):
    the cluster's record lists it from now on. Nothing is written to Azure here; the next enrollment run (the CLI
    runs one at once) protects it. ``RejectedInput`` when the cluster is not enrolled or the VM is not tagged into it."""
    record = rt.records.enrollment(tags.cluster_name(cluster_name, "nodes add"))
    if record is None:
        raise RejectedInput(f"asr-s2d never enrolled a cluster {cluster_name}: tag its nodes first")
    cluster = find_cluster(rt, record.cluster, [record.key.split("/")[0]])
    vm = next((n for n in cluster.nodes if n.name.lower() == vm_name.lower() or ids.same(n.id, vm_name)), None)
    if vm is None:
        raise RejectedInput(f"VM {vm_name[:100]} is not tagged into cluster {record.cluster}: tag it "
                            f"{tags.ENROLL}=true, {tags.CLUSTER}={record.cluster} first")
    if record.has_node(vm.id):
        return record
    full = rt.compute.get_vm(vm.id) or vm
    confirmed = replace(record.with_nodes([Node(vm.id, vm.name, full.host_name, "operator")]), updated=now_iso())
    rt.records.save_enrollment(confirmed)
    log.info("cluster %s: %s confirmed as a node by an operator", record.cluster, vm.name)
    return confirmed


def find_cluster(rt: Runtime, name: str, subscriptions: Sequence[str] | None = None) -> Cluster:
    """A tagged cluster by name across the allowed subscriptions (the CLI's ``plan``, ``nodes`` and ``drill``).
    ``RejectedInput`` when there is none, with the reason its VMs' tags were refused when that is why."""
    refused: list[str] = []
    for sub in subscriptions or rt.settings.allowed_subscriptions:
        inventory = observe_inventory(rt, sub)
        found, rejected = inventory.clusters(rt.settings.target_region, rt.records.enrollment)
        match = next((c for c in found.values() if c.name.lower() == name.lower()), None)
        if match is not None:
            return match
        named = {ids.key(v.id) for v in inventory.vms if (tags.lookup(v.tags, tags.CLUSTER) or "").strip().lower()
                 == name.lower()}
        refused += [reason for key, reason in rejected.items() if key in named]
    if refused:
        raise RejectedInput(refused[0])
    raise RejectedInput(f"no tagged cluster named {name} in the allowed subscriptions")
