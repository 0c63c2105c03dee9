"""The drift audit: every hour, proof that each tagged cluster would still come back, and safe repairs.

Owns the audit service (``run_audit``, ``run_scheduled``); the report it writes is ``shared.audit.report``.
It reads the world in bulk only — per allowed subscription the VM, availability-set,
resource-group, NIC, network-security-group and storage-account lists; the vault's state one paged list per
kind; the DR load balancers, availability sets and subnets one list each — never a GET per VM, item or cluster.
The checks are pure (``shared.audit.checks``); the plan it reports is the enrollment planner's own
(``plan_enrollment``), so the audit and enforcement can never disagree.

Repairs (``AUDIT_REPAIR``) re-plan the cluster under its lock and apply the safe actions through the one
executor; the audit never disables or deletes, whatever ``ALLOW_DISABLE_REPLICATION`` says. It must not
write anything else to Azure: an audit of a converged world makes zero ARM writes. The timer's audit
(``queue_work``) writes nothing to Azure at all: a repair, the IP step and the way back start jobs of minutes, so
each is enqueued as a work item for the worker (``repair_step`` is the ``repair`` kind's step) and reported queued.
The audit also keeps the durable work honest: it re-sends a lost message and reports what runs and what failed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import actions as act
from shared import ids, ownership, state, tags
from shared.audit import checks
from shared.audit.report import STATUS_WORDS, ClusterReport, NodeReport, RepairReport, Report
from shared.azure.operations import OperationPending
from shared.cluster import Cluster
from shared.drill import service as drills
from shared.drill.record import DrillRecord
from shared.enrollment import nsg
from shared.enrollment.members import Members, split
from shared.enrollment.plan import DrNetwork, NodeFacts, Plan, ReplicationSpec, plan_enrollment
from shared.enrollment.service import Prepared, find_cluster, observe_inventory, prepare, refusal, remember
from shared.errors import AsrS2dError, GuestNotReady, RejectedInput, TransientError
from shared.executor import Applied, Executor
from shared.failover import service as failover
from shared.failover.plan import ReaddressNote
from shared.findings import Finding, Severity
from shared.inventory import (
    AsrState,
    AvailabilitySet,
    LoadBalancer,
    NetworkSecurityGroup,
    Nic,
    StorageAccount,
    Subnet,
    TaggedScope,
    VirtualNetwork,
    Vm,
)
from shared.names import PLAN_PREFIX, load_balancer_name, plan_name
from shared.outcomes import Outcome
from shared.ownership import Enrollment
from shared.runtime import Runtime, default_runtime
from shared.times import now_iso, parse_time, utc_stamp
from shared.way_back import service as way_back
from shared.work import item as items
from shared.work.item import Work
from shared.work.worker import Done, Later, enqueue, started, until_done

log = logging.getLogger(__name__)

DRIFT_EVENT = "AsrS2d.DriftDetected"


class AuditIncomplete(AsrS2dError):
    """Something the audit needs could not be read: no report is written (``audits/latest.json`` keeps the last
    complete one), the attempt is recorded, and the CLI exits 1."""
# What the audit may apply. DisableNode is absent on purpose: the audit never disables or deletes.
SAFE_ACTIONS: tuple[type, ...] = (*act.PLUMBING, act.EnableNode, act.UpsertRecoveryPlan, act.EnsureAvailabilitySet,
                                  act.EnsureLoadBalancer, act.SetPoolMapping)

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    log.debug("%s", message)


# -- observe: the bulk reads --------------------------------------------------------------------------

@dataclass(frozen=True)
class Observed:
    clusters: tuple[Cluster, ...]
    rejected: Mapping[str, str]  # VM key -> reason
    inventory: Mapping[str, Vm]  # every VM of the allowed subscriptions
    nics: Mapping[str, Nic]
    asr: AsrState
    load_balancers: Mapping[str, LoadBalancer]
    dr_subnets: Mapping[str, Subnet]  # lower-cased subnet name -> subnet
    accounts: Mapping[str, StorageAccount]
    notes: frozenset[str]  # blob names under clusters/
    membership: Mapping[str, str] = field(default_factory=dict)  # node VM key -> its cluster's key
    enrolled: Mapping[str, Enrollment] = field(default_factory=dict)  # enrollment records by lower-cased name
    scopes: tuple[TaggedScope, ...] = ()  # availability sets and resource groups (their tags)
    dr_availability_sets: Mapping[str, AvailabilitySet] = field(default_factory=dict)  # the recovery group's, by key
    security: nsg.Associations = field(default_factory=nsg.Associations)  # every NSG and what it filters
    # The allowed subscriptions' load balancers by the NICs in their pools (one list per subscription, indexed once).
    fronting: Mapping[str, tuple[LoadBalancer, ...]] = field(default_factory=dict)
    networks: tuple[tuple[str, str, VirtualNetwork | None], ...] = ()  # (what for, ID, as read): DR and test VNets

    def fronting_nodes(self, nodes: Mapping[str, NodeFacts]) -> tuple[LoadBalancer, ...]:
        """The load balancers whose pools hold one of the nodes' NICs (the cluster's access points)."""
        found = {lb.id.lower(): lb for f in nodes.values() if f.nic is not None
                 for lb in self.fronting.get(ids.key(f.nic.id), ())}
        return tuple(found.values())


def observe(rt: Runtime, *, report: Progress = _quiet) -> Observed:
    """Everything the audit needs, in bulk: lists only (their page count grows with the world, the number of
    calls does not), plus the one vault GET ``AsrState`` needs for the vault's region."""
    settings = rt.settings
    target = settings.target_region.lower()
    errors: list[str] = []
    inventory: dict[str, Vm] = {}
    nics: dict[str, Nic] = {}
    found: list[Cluster] = []
    rejected: dict[str, str] = {}
    scopes: list[TaggedScope] = []
    groups: list[NetworkSecurityGroup] = []
    fronting: list[LoadBalancer] = []
    enrolled = rt.records.enrollments()
    for sub in settings.allowed_subscriptions:
        report(f"reading VMs, availability sets, resource groups, NICs and network security groups of subscription {sub}")
        try:
            inv = observe_inventory(rt, sub)
            sub_nics = rt.network.list_nics(sub)
            groups += rt.network.list_network_security_groups(sub)
            fronting += [lb for lb in rt.network.list_subscription_load_balancers(sub) if lb.pool_nic_ids]
        except AsrS2dError as err:
            errors.append(f"subscription {sub}: {err}")
            log.warning("audit: cannot read subscription %s: %s", sub, err)
            continue
        scopes.extend(inv.scopes)
        inventory.update({ids.key(v.id): v for v in inv.vms})
        nics.update({ids.key(n.id): n for n in sub_nics})
        sub_clusters, sub_rejected = inv.clusters(target, lambda name: enrolled.get(name.lower()))
        found += sub_clusters.values()
        rejected.update(sub_rejected)
    report("reading the vault: fabrics, containers, mappings, policies, network mappings, items, plans")
    asr = rt.asr.observe()
    report("reading the DR load balancers, availability sets and subnets, and the DR and test networks' DNS")
    networks = tuple((role, vnet_id, rt.network.get_virtual_network(vnet_id)) for role, vnet_id in (
        ("DR", settings.recovery_vnet_id), ("drill test", settings.test_vnet_id)) if vnet_id)
    lbs = {ids.key(lb.id): lb for lb in rt.network.list_load_balancers(settings.recovery_resource_group_id)}
    dr_sets = {ids.key(a.id): a for a in rt.compute.list_availability_sets_in(settings.recovery_resource_group_id)}
    subnets = {ids.name_of(s.id).lower(): s for s in rt.network.list_subnets(settings.recovery_vnet_id)}
    wanted = {ids.key(settings.cache_storage_account_id)} | {
        ids.key(c.intent.witness_id) for c in found if c.intent.witness_id} | {
        ids.key(a) for i in asr.items for a in i.cache_account_ids}
    accounts: dict[str, StorageAccount] = {}
    # Only the allowed subscriptions are read: a witness tag naming another subscription is a finding, not a reach.
    for sub in sorted({ids.subscription_of(a).lower() for a in wanted if a} & {
            s.lower() for s in settings.allowed_subscriptions}):
        report(f"reading storage accounts of subscription {sub}")
        try:
            accounts.update({ids.key(a.id): a for a in rt.resources.list_storage_accounts(sub)})
        except AsrS2dError as err:
            errors.append(f"storage accounts of subscription {sub}: {err}")
    if errors:
        # Never a report from part of the world: a cluster that could not be read would read as gone, or green.
        raise AuditIncomplete("the audit could not read everything it needs: " + "; ".join(errors))
    notes = rt.records.notes()
    return Observed(clusters=tuple(sorted(found, key=lambda c: c.key)), rejected=rejected, inventory=inventory,
                    nics=nics, asr=asr,
                    load_balancers=lbs, dr_subnets=subnets, accounts=accounts, notes=notes,
                    membership={ids.key(n.id): c.key for c in found for n in c.nodes}, enrolled=enrolled,
                    scopes=tuple(scopes), dr_availability_sets=dr_sets, security=nsg.Associations.of(groups),
                    fronting=_by_pool_nic(fronting), networks=networks)


def _by_pool_nic(load_balancers: list[LoadBalancer]) -> dict[str, tuple[LoadBalancer, ...]]:
    index: dict[str, list[LoadBalancer]] = {}
    for lb in load_balancers:
        for nic_id in lb.pool_nic_ids:
            index.setdefault(ids.key(nic_id), []).append(lb)
    return {nic: tuple(lbs) for nic, lbs in index.items()}


# -- decide: checks and the enrollment plan, per cluster ----------------------------------------------

@dataclass(frozen=True)
class ClusterAudit:
    cluster: Cluster
    view: checks.ClusterView
    plan: Plan
    findings: tuple[Finding, ...]
    failed_over: bool
    members: Members | None = None
    refused: str | None = None


def node_facts(cluster: Cluster, observed: Observed) -> dict[str, NodeFacts]:
    """Per-node facts from the bulk lists. The lists carry no power state: nodes count as running for the
    report's plan; a repair re-reads each node (with its power state) under the cluster lock."""
    sets = {ids.key(s.id): s for s in observed.scopes if isinstance(s, AvailabilitySet)}
    facts = {}
    for vm in cluster.nodes:
        nic = observed.nics.get(ids.key(vm.primary_nic_id)) if vm.primary_nic_id else None
        avset = sets.get(ids.key(vm.availability_set_id)) if vm.availability_set_id else None
        facts[ids.key(vm.id)] = NodeFacts(vm=replace(vm, power_state=vm.power_state or "running"), nic=nic,
                                          availability_set=avset)
    return facts


def _last_drill(rt: Runtime, observed: Observed, cluster: Cluster) -> datetime | None:
    """When the cluster's last drill that passed ended (its drill record), or None."""
    if state.note_blob(cluster.key, state.LAST_DRILL) not in observed.notes:
        return None
    record = DrillRecord.from_json(rt.records.cluster_note(cluster.key, state.LAST_DRILL))
    return record.last_passed_at if record is not None else None


def _failover_recorded(rt: Runtime, observed: Observed, cluster: Cluster) -> datetime | None:
    """When the failover service last re-addressed the cluster after a failover (a failed in-guest step does
    not count as handled), or None."""
    if state.note_blob(cluster.key, state.READDRESS) not in observed.notes:
        return None
    note = ReaddressNote.from_json(rt.records.cluster_note(cluster.key, state.READDRESS))
    return parse_time(note.at) if note is not None and (note.status or "").lower() != "failed" else None


def audit_cluster(rt: Runtime, tagged: Cluster, observed: Observed, *, now: datetime) -> ClusterAudit:
    settings = rt.settings
    spec = ReplicationSpec.from_settings(settings)
    record = observed.enrolled.get(tagged.name.lower())
    members = split(tagged, record if record is not None and record.key == tagged.key else None,
                    node_facts(tagged, observed))
    cluster = members.cluster
    nodes = node_facts(cluster, observed)
    subnet_name = spec.recovery_subnet_name or next(
        (ids.name_of(f.nic.subnet_id) for f in nodes.values() if f.nic is not None), "")
    dr = DrNetwork(subnet=observed.dr_subnets.get(subnet_name.lower()),
                   load_balancer=observed.load_balancers.get(ids.key(spec.load_balancer_id(cluster.name))),
                   availability_set=observed.dr_availability_sets.get(ids.key(spec.availability_set_id(cluster.name))),
                   source_load_balancers=observed.fronting_nodes(nodes))
    view = checks.ClusterView(
        cluster=cluster, nodes=nodes, asr=observed.asr, spec=spec, dr_subnet=dr.subnet, load_balancer=dr.load_balancer,
        accounts=observed.accounts, inventory=observed.inventory, membership=observed.membership, rejected=observed.rejected,
        last_drill=_last_drill(rt, observed, cluster),
        failover_recorded=_failover_recorded(rt, observed, cluster),
        thresholds=checks.Thresholds(settings.rpo_threshold_seconds,
                                     timedelta(days=settings.test_failover_max_age_days),
                                     runbook_required=settings.runbook_required),
        now=now, dr_availability_set=dr.availability_set, security=observed.security,
        source_load_balancers=dr.source_load_balancers)
    # Failed over, or reprotected and replicating back: the way back's business, never enrollment's.
    failed_over = any(item.failed_over for _vm, item in view.node_items()) or bool(view.replicating_back())
    findings = [*checks.run_checks(view), *members.findings]
    plan = Plan(cluster.name)
    refused = refusal(tagged, record) or _name_taken(tagged, observed)
    if refused:
        findings.append(Finding(checks.CLUSTER_REJECTED, Severity.CRITICAL, cluster.name, refused,
                                "fix the tags or names the message names; nothing is enrolled until then"))
    elif not failed_over:
        try:
            plan = plan_enrollment(cluster, nodes, observed.asr, spec, dr)
        except RejectedInput as err:
            findings.append(Finding(checks.CLUSTER_REJECTED, Severity.CRITICAL, cluster.name, str(err),
                                    "fix the tags or settings the message names; nothing is enrolled until then"))
        if plan.waiting:
            findings.append(Finding(checks.NODES_MISSING, Severity.WARNING, cluster.name, f"waiting: {plan.waiting}",
                                    "tag the remaining nodes (or correct asr-s2d-nodes)"))
    # The planner's own findings, minus those the checks state more precisely.
    own = [f for f in plan.findings if f.code not in ("node-outside-group", "untagged-protected-node")]
    merged = checks.merge(findings, own)
    return ClusterAudit(cluster, view, plan, tuple(checks.merge(merged, checks.explain(plan, merged))), failed_over,
                        members, refused)


def _adopt(rt: Runtime, audit: ClusterAudit, observed: Observed) -> None:
    """A cluster whose nodes replicate under asr-s2d's own policy (asr-s2d enabled them) but that has no enrollment
    record yet (enrolled by an earlier version) gets one: its tagged nodes and their items. A blob write only."""
    if (audit.members is None or audit.refused or audit.failed_over
            or observed.enrolled.get(audit.cluster.name.lower()) is not None):
        return
    existing = tuple(pair for pair in audit.plan.node_items if observed.asr.item(pair[0]) is not None)
    if existing:
        remember(rt, Prepared(replace(audit.plan, node_items=existing), audit.members, None, None))


def _name_taken(cluster: Cluster, observed: Observed) -> str | None:
    """Another tagged cluster (another subscription) has the same name, case aside: one name is one multi-VM
    group and one recovery plan in the vault. Both are reported; the enrolled one, if any, keeps its name."""
    others = [c for c in observed.clusters if c.name.lower() == cluster.name.lower() and c.key != cluster.key]
    if not others:
        return None
    return (f"cluster {cluster.name} (subscription {cluster.key.split('/')[0]}) and "
            + ", ".join(f"{c.name} (subscription {c.key.split('/')[0]})" for c in others)
            + " share one name: one name is one multi-VM group and one recovery plan in the vault")


def lost_clusters(observed: Observed, spec: ReplicationSpec) -> list[ClusterReport]:
    """The vault is the second witness: every cluster asr-s2d enrolled (its record), and every recovery plan of
    asr-s2d's whose items replicate under its policy, is expected among the tagged clusters. One that is not is
    critical (``cluster-lost``), never silence: it is no longer checked, repaired or drilled."""
    tagged = {c.name.lower() for c in observed.clusters}
    expected = {name: record.cluster for name, record in observed.enrolled.items()}
    policy = observed.asr.policy_named(spec.policy_name)
    for plan in observed.asr.plans:
        name = plan.name[len(PLAN_PREFIX):] if plan.name.lower().startswith(PLAN_PREFIX) else ""
        items = observed.asr.cluster_items(name) if name else ()
        if items and policy is not None and all(ownership.is_ours(i, policy.id) for i in items):
            expected.setdefault(name.lower(), name)
    out = []
    for key, name in sorted(expected.items()):
        if key in tagged:
            continue
        record = observed.enrolled.get(key)
        items = observed.asr.cluster_items(name)
        nodes = tuple(NodeReport(name=i.node_name, id=i.vm_id, protected=i.is_protected,
                                 protection_state=i.protection_state, replication_health=i.replication_health,
                                 rpo_seconds=i.rpo_seconds, group=i.group_name, active_location=i.active_location,
                                 last_test_failover=i.last_test_failover) for i in items)
        since = f" (enrolled {record.created})" if record is not None and record.created else ""
        finding = Finding(checks.CLUSTER_LOST, Severity.CRITICAL, name,
                          f"cluster {name}{since} is no longer found among the tagged VMs of the allowed subscriptions "
                          f"({len(items)} protected item(s) remain in the vault): it is not checked, repaired or "
                          "drilled any more, and its nodes may have lost their asr-s2d tags",
                          f"tag its nodes again ({tags.ENROLL}=true, {tags.CLUSTER}={name}); if the cluster is gone, "
                          "disable its replication and delete its recovery plan yourself")
        key_of = record.key if record is not None else (observed.asr.cluster_key(name) or f"-/{key}")
        out.append(ClusterReport(
            name=name, key=key_of, subscription_id=key_of.split("/")[0], source_region="",
            enrolled_by=record.enrolled_by if record is not None else "an earlier asr-s2d (no record)", nodes=nodes,
            findings=(finding,), plan=(), recovery_plan=plan_name(name) if observed.asr.plan_named(plan_name(name))
            else None, dr_load_balancer=None, dr_ip=None, last_test_failover=None))
    return out


def global_findings(observed: Observed, spec: ReplicationSpec) -> list[Finding]:
    """Findings about no single cluster: VMs whose tags were refused, asr-s2d items outside every cluster, and where
    the DR and test networks resolve names."""
    names = {c.name.lower() for c in observed.clusters}
    in_a_clusters_group = {k for k in observed.rejected
                           if (item := observed.asr.item_for_node(k, spec.target_region)) is not None
                           and (item.group_name or "").lower() in names}
    out = [Finding(checks.TAGS_REJECTED, Severity.WARNING, observed.inventory[k].name if k in observed.inventory
                   else ids.name_of(k), reason, "correct the asr-s2d tags the message names")
           for k, reason in sorted(observed.rejected.items()) if k not in in_a_clusters_group]
    # Tags meant for asr-s2d that it does not read (a typo, a space, `asr-s2d=yes`): a cluster someone believes
    # protected is not. Critical, naming the resource, the tag and its value.
    clustered_now = set(observed.membership)
    out += [f for role, vnet_id, vnet in observed.networks if (f := dns_finding(role, vnet_id, vnet)) is not None]
    out += [Finding(checks.TAG_NEAR_MISS, Severity.CRITICAL, vm.name, f"VM {vm.name}: {miss}",
                    f"set {tags.ENROLL}=true and {tags.CLUSTER}=<name> exactly (or remove the tag if it is not meant "
                    "for asr-s2d)")
            for key, vm in sorted(observed.inventory.items()) if key not in clustered_now
            and vm.location.lower() != spec.target_region.lower() for miss in tags.near_misses(vm.tags)]
    # asr-s2d's own recovery availability sets carry its tags to say whose they are, not to enroll anything.
    out += [Finding(checks.TAG_NEAR_MISS, Severity.CRITICAL, scope.name, f"{scope.kind.replace('_', ' ')} {scope.name}: "
                    f"{miss}", f"set {tags.ENROLL}=true exactly on it, or remove the tag")
            for scope in observed.scopes if not ownership.managed(scope.tags)
            for miss in tags.near_misses(scope.tags)]
    clustered = {ids.key(n.id) for c in observed.clusters for n in c.nodes}
    policy = observed.asr.policy_named(spec.policy_name)
    for item in observed.asr.items:
        key = ids.key(item.vm_id)
        vm = observed.inventory.get(key)
        if key in clustered or key in observed.rejected or vm is None or (item.group_name or "").lower() in names:
            continue
        if policy is None or not ids.same(item.policy_id, policy.id):
            continue  # not replicated by asr-s2d: someone else's item in the same vault
        out.append(Finding(checks.TAG_REMOVED, Severity.WARNING, vm.name,
                           f"{vm.name} replicates with asr-s2d's policy (group {item.group_name or '-'}) but is no "
                           "longer tagged as a node of any cluster",
                           "tag it again, or disable its replication yourself (asr-s2d never disables)"))
    return out


# -- apply: repairs and the unannounced failover --------------------------------------------------------

def applicable(action: act.Action, asr: AsrState) -> bool:
    """The audit applies an action only when it is of a safe kind and would not split a multi-VM group."""
    return isinstance(action, SAFE_ACTIONS) and checks.splits_a_group(action, asr) is None


def repair_cluster(rt: Runtime, cluster: Cluster, *, audit_id: str, carry: dict[str, Any] | None = None,
                   report: Progress = _quiet) -> RepairReport:
    """Re-plan under the cluster's lock (fresh reads, real power states) and apply the safe actions only.

    An enable-replication job (and the plumbing's) takes minutes. With ``carry`` None the repair runs in this
    process, waiting for each job (the CLI's audit); with a ``carry`` dict (the worker's ``repair`` step) a job that
    still runs ends the step: ``OperationPending`` propagates, ``carry`` keeps what was written so far, and the next
    step re-plans and goes on once the job ended. The result counts what every step wrote; ``report`` hears what
    the in-process run waits for."""
    if carry is None:  # in this process: wait for each job here
        kept: dict[str, Any] = {}
        return until_done(rt, lambda failure: _repair(rt, cluster, audit_id=audit_id, carry=kept, failure=failure),
                          report=report)
    return _repair(rt, cluster, audit_id=audit_id, carry=carry, failure=None)


def _repair(rt: Runtime, cluster: Cluster, *, audit_id: str, carry: dict[str, Any],
            failure: str | None) -> RepairReport:
    carried = Applied.from_json(carry.get("applied"))
    kinds = tuple(str(k) for k in carry.get("kinds") or [])
    if failure is not None:  # a job this repair started failed: recorded; the next audit tries again
        outcome = RepairReport("failed", f"a repair job failed: {failure}"[:1000], writes=carried.writes,
                               applied=tuple(carried.done), kinds=kinds)
        rt.record(Outcome(f"audit-{audit_id}", "failed", f"audit repair failed: {outcome.reason}", cluster=cluster.name,
                          cluster_key=cluster.key, trigger="audit", correlation_id=audit_id, writes=carried.writes,
                          plan=outcome.applied))
        return outcome
    record = rt.records.enrollment(cluster.name)
    refused = refusal(cluster, record)
    if refused:
        return RepairReport("skipped", refused)
    with rt.lock(cluster.key) as lock:
        asr = rt.asr.observe()
        try:
            prepared = prepare(rt, cluster, record=record, ask_guest=True, asr=asr)
        except RejectedInput as err:
            return RepairReport("skipped", str(err))
        plan = prepared.plan
        safe = tuple(a for a in plan.actions if applicable(a, asr))
        skipped = len(plan.actions) - len(safe)
        if not safe and not carried.writes:
            reason = plan.waiting or "nothing safe to apply"
            return RepairReport("unchanged", reason + (f"; {skipped} action(s) left to an operator" if skipped else ""))
        log.info("audit %s repairs cluster %s: %s", audit_id, cluster.name, [a.describe() for a in safe])
        before = len(carried.done)
        try:
            applied = Executor(rt, lock=lock, dry_run=rt.settings.dry_run, correlation_id=audit_id).apply(
                plan.cluster, safe, carried=carried)
            remember(rt, prepared)
        except OperationPending as err:  # a job runs on: the record names the cluster's items from now on
            remember(rt, prepared)
            written = err.applied if err.applied is not None else carried
            carry["applied"] = written.to_json()
            carry["kinds"] = [*kinds, *(checks.action_kind(a) for a in safe[:len(written.done) - before])]
            err.cluster = cluster.name
            raise
        except AsrS2dError as err:
            outcome = RepairReport("failed", str(err), writes=carried.writes, applied=tuple(carried.done), kinds=kinds)
            rt.record(Outcome(f"audit-{audit_id}", "failed", f"audit repair failed: {err}", cluster=cluster.name,
                              cluster_key=cluster.key, trigger="audit", correlation_id=audit_id,
                              plan=tuple(a.describe() for a in safe)))
            if isinstance(err, TransientError):
                log.warning("audit repair of %s failed, the next audit retries: %s", cluster.name, err)
            return outcome
    if rt.settings.dry_run:
        result = RepairReport("dry-run", f"dry run: {len(safe)} action(s) planned, none written",
                              applied=tuple(a.describe() for a in safe))
        rt.record(Outcome(f"audit-{audit_id}", "unchanged", result.reason, cluster=cluster.name, cluster_key=cluster.key,
                          plan=result.applied, trigger="audit", correlation_id=audit_id, dry_run=True))
        return result
    kinds += tuple(checks.action_kind(a) for a in safe)
    result = RepairReport("changed", f"{applied.writes} write(s) to repair {cluster.name}", writes=applied.writes,
                          applied=tuple(applied.done), kinds=kinds)
    rt.record(Outcome(f"audit-{audit_id}", "changed", result.reason, cluster=cluster.name, cluster_key=cluster.key,
                      writes=applied.writes, plan=result.applied, trigger="audit", correlation_id=audit_id,
                      details={"nodes": [n.name for n in cluster.nodes]}))
    return result


def enqueue_repair(rt: Runtime, cluster: Cluster, *, audit_id: str, active: Sequence[Work] = ()) -> RepairReport:
    """The timer's repair: a ``repair`` work item for the worker (none when one for the cluster is still active)."""
    running = _active_for(active, "repair", cluster.name)
    if running is not None:
        return RepairReport("queued", f"the repair of {cluster.name} runs already as work {running.id} "
                                      f"({running.status}: {running.reason or 'queued'})"[:1000])
    work = Work.new("repair", f"{cluster.name}-{audit_id}", {"cluster": cluster.name,
                                                              "subscription": cluster.key.split("/")[0],
                                                              "audit_id": audit_id}, cluster=cluster.name)
    enqueue(rt, work)
    log.info("audit %s: the repair of %s is enqueued as work %s", audit_id, cluster.name, work.id)
    return RepairReport("queued", f"the repair of {cluster.name} is queued as work {work.id}")


def repair_step(rt: Runtime, work: Work, failure: str | None) -> Later | Done:
    """The worker's step of an audit's repair (payload ``{"cluster", "subscription", "audit_id"}``): re-find the
    cluster, re-plan under its lock and apply the safe actions until a Site Recovery job must be waited for.
    ``failure``: why that job failed (recorded; the next audit tries again). Ends with a recorded outcome."""
    payload = work.payload
    name = str(payload.get("cluster") or work.cluster or "")
    audit_id = str(payload.get("audit_id") or work.id.rpartition("/")[2])
    subscription = str(payload.get("subscription") or "")
    carry = dict(work.carry)
    try:
        cluster = find_cluster(rt, name, [subscription] if subscription else None)
    except RejectedInput as err:  # untagged or refused since the audit: nothing to repair
        repaired = RepairReport("skipped", str(err))
    else:
        try:
            repaired = _repair(rt, cluster, audit_id=audit_id, carry=carry, failure=failure)
        except OperationPending as err:
            return started(err, f"repairing {name}", carry=carry, cluster=name)
    if repaired.outcome in ("unchanged", "skipped"):  # the others were recorded by the repair
        rt.record(Outcome(f"audit-{audit_id}", "unchanged" if repaired.outcome == "unchanged" else "ignored",
                          f"audit repair {repaired.outcome}: {repaired.reason}"[:1000], cluster=name, trigger="audit",
                          correlation_id=audit_id))
    return Done({**repaired.to_json(), "cluster": name, "audit_id": audit_id, "kinds": list(repaired.kinds)},
                failed=repaired.outcome == "failed")


def reassign_after_unannounced_failover(rt: Runtime, cluster: Cluster, *, audit_id: str, queue: bool = False,
                                        active: Sequence[Work] = ()) -> dict[str, Any]:
    """Run the failover service's IP step for a failover no signal announced (``AUDIT_REASSIGN_IP``); with
    ``queue`` (the timer's audit) enqueue it for the worker instead (none when one for the cluster is active)."""
    if queue:
        running = _active_for(active, "reassign", cluster.name)
        if running is not None:
            return {"outcome": "queued", "reason": f"the IP step of {cluster.name} runs already as work {running.id} "
                                                   f"({running.status}: {running.reason or 'queued'})"[:1000]}
        work = failover.enqueue_reassign(cluster.name, rt, trigger="audit")
        log.info("audit %s: failover of %s without a signal; the IP step is enqueued as work %s", audit_id,
                 cluster.name, work.id)
        return {"outcome": "queued", "reason": f"the IP step of {cluster.name} is queued as work {work.id}"}
    try:
        log.info("audit %s: failover of %s without a signal; running the IP step", audit_id, cluster.name)
        outcome = failover.reassign_cluster(cluster.name, rt, trigger="audit")
    except GuestNotReady as err:  # recovered nodes still booting: the next audit tries again
        return {"outcome": "not-yet", "reason": str(err)}
    except AsrS2dError as err:
        return {"outcome": "failed", "reason": str(err)}
    return {"outcome": outcome.kind, "reason": outcome.reason, "writes": outcome.writes}


def _active_for(active: Sequence[Work], kind: str, cluster: str) -> Work | None:
    """The cluster's work item of ``kind`` that has not ended, if any: the audit enqueues no second one."""
    return next((w for w in active if w.kind == kind and not w.ended and (w.cluster or "").lower() == cluster.lower()),
                None)


# -- durable work: what runs, what failed, and messages that were lost ----------------------------------

OVERDUE = timedelta(minutes=15)  # an item whose next look is this late lost its message
FAILED_SHOWN = 20  # failed items the report lists, newest first
ACTIVE_SHOWN = 100  # active items the report lists, oldest first


def work_hygiene(rt: Runtime, *, now: datetime) -> tuple[dict[str, Any], list[Work], list[str]]:
    """The report's ``work`` section, the active items, and what could not be done: every work item written in the
    last day is read (one list, then one read each: an active item is rewritten at every step, minutes apart); an
    active one whose next look is more than ``OVERDUE`` late lost its message (a send that failed after the save, a
    message deleted by hand) and gets it again."""
    works = items.listed(rt.records, since=items.recent())
    active = [w for w in works if not w.ended]
    resent: list[str] = []
    errors: list[str] = []
    for work in active:
        due = parse_time(work.due or "") if work.due else None
        late = due if due is not None else parse_time(work.updated or "")
        if late is None or now - late.astimezone(UTC) <= OVERDUE:
            continue
        try:
            rt.queue.send(work.message())
        except AsrS2dError as err:
            errors.append(f"work {work.id}: message not re-sent: {err}")
            continue
        log.warning("work %s: its next look was due %s and never came: message re-sent", work.id, work.due)
        resent.append(work.id)
    failed = sorted((w for w in works if w.status == "failed"), key=lambda w: w.updated, reverse=True)
    section: dict[str, Any] = {
        "active": len(active), "failed": len(failed), "resent": len(resent),
        "in_flight": [_work_line(w) for w in active[:ACTIVE_SHOWN]],
        "failures": [_work_line(w) for w in failed[:FAILED_SHOWN]],
        "resent_ids": resent,
    }
    return section, active, errors


def _work_line(work: Work) -> dict[str, Any]:
    """One item as the report lists it. A failed item without an outcome never ended by its own step: the worker
    marked it failed on the last delivery of a message that kept failing (it went to the poison queue)."""
    waits = (work.pending or {}).get("doing") if work.pending else None
    return {**work.line(), "waits_for": str(waits) if waits else None,
            "poisoned": work.status == "failed" and work.outcome is None}


# -- the service ---------------------------------------------------------------------------------------

def _node_reports(audit: ClusterAudit) -> tuple[NodeReport, ...]:
    out = []
    for vm in audit.cluster.nodes:
        item = audit.view.item_of(vm)
        out.append(NodeReport(
            name=vm.name, id=vm.id, protected=bool(item and item.is_protected),
            protection_state=item.protection_state if item else None,
            replication_health=item.replication_health if item else None,
            rpo_seconds=item.rpo_seconds if item else None, group=item.group_name if item else None,
            active_location=item.active_location if item else None,
            last_test_failover=item.last_test_failover if item else None))
    return tuple(out)


def _cluster_report(audit: ClusterAudit) -> ClusterReport:
    view, cluster = audit.view, audit.cluster
    plan = view.asr.plan_named(plan_name(cluster.name))
    lb = view.load_balancer
    last = checks.last_test_failover(view)
    return ClusterReport(
        name=cluster.name, key=cluster.key, subscription_id=cluster.nodes[0].subscription_id if cluster.nodes else "",
        source_region=cluster.source_region, enrolled_by=cluster.enrolled_by, nodes=_node_reports(audit),
        findings=audit.findings,
        plan=tuple((checks.action_kind(a), a.describe(), applicable(a, view.asr)) for a in audit.plan.actions),
        recovery_plan=plan.name if plan else None,
        dr_load_balancer=load_balancer_name(cluster.name) if lb else None,
        dr_ip=str(cluster.intent.dr_ip) if cluster.intent.dr_ip else (lb.frontend_ip if lb else None),
        last_test_failover=last.isoformat().replace("+00:00", "Z") if last else None)


def _repaired_codes(report: RepairReport) -> frozenset[str]:
    """The finding codes this run's repair addressed: those that explain the action types it wrote."""
    if report.outcome != "changed":
        return frozenset()
    by_name = {kind.__name__: codes for kind, codes in checks.EXPLAINS.items()}
    return frozenset().union(*(by_name.get(k, frozenset()) for k in report.kinds)) | {checks.PLAN_PENDING}


def run_audit(rt: Runtime, *, repair: bool | None = None, trigger: str = "manual", past_due: bool = False,
              report: Progress = _quiet, now: datetime | None = None, queue_work: bool = False) -> Report:
    """Audit every tagged cluster of the allowed subscriptions, repair what is safe when ``repair`` (default:
    ``AUDIT_REPAIR``) allows, write the report to ``audits/<UTC time>.json`` and ``audits/latest.json``, and
    publish a drift event per cluster that is not green. Anything it cannot read fails the whole audit loudly
    (``AuditIncomplete``, the attempt recorded in ``audits/last-attempt.json``): a report from part of the world
    would say green, or say nothing, about what it could not see.

    What starts Site Recovery jobs (a repair, the IP step after an unannounced failover, the way back) runs in this
    process, waiting for each job, unless ``queue_work`` (the timer): then the audit itself makes no ARM write and
    starts no job; it enqueues a work item for each and reports it ``queued``. Either way it re-sends the message of
    an active work item whose next look is long overdue, and reports the work in flight and the work that failed."""
    settings = rt.settings
    do_repair = settings.audit_repair if repair is None else repair
    moment = now or datetime.now(UTC)
    audit_id = f"{utc_stamp(moment)}-{uuid.uuid4().hex[:8]}"
    result = Report(audit_id=audit_id, started=now_iso(), trigger=trigger, repair=do_repair, dry_run=settings.dry_run,
                    target_region=settings.target_region, vault_id=settings.vault_id,
                    rpo_threshold_seconds=settings.rpo_threshold_seconds,
                    test_failover_max_age_days=settings.test_failover_max_age_days,
                    audit_period_minutes=settings.audit_period_minutes, past_due=past_due)
    # Drills: a drill whose process died between two steps left a test failover behind.
    result.errors += drills.audit_backstop(rt)
    try:
        observed = observe(rt, report=report)
    except AsrS2dError as err:
        _attempt(rt, result, error=str(err))
        if isinstance(err, AuditIncomplete):
            raise
        raise AuditIncomplete(f"the audit could not read everything it needs: {err}") from err
    spec = ReplicationSpec.from_settings(settings)
    active: list[Work] = []
    try:
        result.work, active, problems = work_hygiene(rt, now=datetime.now(UTC))
        result.errors += problems
    except AsrS2dError as err:  # the report is still worth having; the next audit reads the work again
        result.errors.append(f"work items: {err}")
    report(f"checking {len(observed.clusters)} cluster(s)")
    for cluster in observed.clusters:
        audit = audit_cluster(rt, cluster, observed, now=moment)
        _adopt(rt, audit, observed)
        cluster_report = _cluster_report(audit)
        log.info("audit %s cluster %s: %s, %d finding(s), plan %s", audit_id, cluster.name, cluster_report.status,
                 len(audit.findings), audit.plan.describe())
        if do_repair and not audit.failed_over and any(applicable(a, observed.asr) for a in audit.plan.actions):
            report(f"{'enqueuing the repair of' if queue_work else 'repairing'} cluster {cluster.name}")
            try:
                repaired = (enqueue_repair(rt, cluster, audit_id=audit_id, active=active) if queue_work
                            else repair_cluster(rt, cluster, audit_id=audit_id, report=report))
            except AsrS2dError as err:  # a held lock, throttling, a node that cannot be read: the next audit retries
                log.warning("audit %s: repair of %s failed: %s", audit_id, cluster.name, err)
                repaired = RepairReport("failed", f"will retry on the next audit: {err}")
            cluster_report = replace(cluster_report, repair=repaired, repaired_codes=_repaired_codes(repaired))
        if settings.audit_reassign_ip and any(f.code == checks.FAILOVER_UNANNOUNCED for f in audit.findings):
            report(f"running the IP step for cluster {cluster.name} (failover without a signal)")
            cluster_report = replace(cluster_report, reassign=reassign_after_unannounced_failover(
                rt, cluster, audit_id=audit_id, queue=queue_work, active=active))
        if audit.failed_over:  # the way back: reprotect a committed failover, or say how
            back = way_back.audit_findings(rt, cluster.name, [item for _vm, item in audit.view.node_items()],
                                           audit_id=audit_id, queue=queue_work,
                                           running=_active_for(active, "reprotect", cluster.name))
            cluster_report = replace(cluster_report, findings=(*cluster_report.findings, *back))
        result.clusters.append(cluster_report)
    result.clusters += lost_clusters(observed, spec)
    result.findings += global_findings(observed, spec)
    result.networks = [network_dns(role, vnet_id, vnet) for role, vnet_id, vnet in observed.networks]
    result.finished = now_iso()
    _publish(rt, result)
    result.blob_name = state.audit_blob(moment)
    body = result.to_json()
    rt.blobs.put_json(result.blob_name, body)
    rt.blobs.put_json(state.LATEST_AUDIT, body)
    rt.records.keep_evidence(result.blob_name, body)
    _attempt(rt, result, error=None)
    log.info("audit %s: %d cluster(s), %d finding(s), report %s", audit_id, len(result.clusters),
             result.finding_count, result.blob_name)
    return result


def _attempt(rt: Runtime, result: Report, *, error: str | None) -> None:
    """Record how the latest audit attempt ended (the status page shows a failed one, and how old the last complete
    report is)."""
    rt.blobs.put_json(state.LAST_AUDIT_ATTEMPT, {
        "audit_id": result.audit_id, "started": result.started, "finished": now_iso(), "trigger": result.trigger,
        "complete": error is None, "error": error, "report": result.blob_name or None})
    if error is not None:
        rt.record(Outcome(f"audit-{result.audit_id}", "failed", f"audit incomplete: {error}"[:1000], trigger="audit",
                          correlation_id=result.audit_id))


def _publish(rt: Runtime, result: Report) -> None:
    """One drift event per cluster that is not green, to the custom topic when one is configured."""
    if not rt.topic.enabled:
        return
    for cluster in result.clusters:
        if cluster.status == "green":
            continue
        data = {"audit_id": result.audit_id, "cluster": cluster.name, "cluster_key": cluster.key,
                "status": cluster.status, "status_text": STATUS_WORDS[cluster.status],
                "findings": [f.to_json() for f in cluster.findings]}
        try:
            rt.topic.publish(DRIFT_EVENT, f"asr-s2d/{cluster.name}", data)
        except AsrS2dError as err:  # the report is the record; a lost event must not lose it
            result.errors.append(f"drift event for {cluster.name}: {err}")
            log.warning("audit %s: drift event for %s not published: %s", result.audit_id, cluster.name, err)


def run_scheduled(past_due: bool) -> Report:
    """The timer trigger's entry point (``%DRIFT_AUDIT_SCHEDULE%``): what would start a job is enqueued for the worker
    (no invocation waits on Azure)."""
    if past_due:
        log.warning("drift audit is running late (the timer was past due)")
    return run_audit(default_runtime(), trigger="timer", past_due=past_due, queue_work=True)




# Where a network resolves names. A failed-over cluster (its cluster name object, SQL Server's virtual network name, the
# nodes' domain logons) needs its Active Directory domain's DNS and a domain controller it can reach: Microsoft's
# "Set up disaster recovery for Active Directory and DNS" (learn.microsoft.com/azure/site-recovery/
# site-recovery-active-directory) replicates a DC into the DR region and, for a test failover, brings a DC copy up in
# the isolated test network, whose DNS then points at it. The report's ``networks`` section says where each points;
# a finding only when something is wrong: the network cannot be read, or a test network's DNS is outside it.
DNS_UNREACHABLE = "dns-unreachable"
DNS_FIX = ("point the network's DNS servers at domain controllers reachable there (a DC in the DR region; for drills, a "
           "DC copy test-failed over into the test network): learn.microsoft.com/azure/site-recovery/"
           "site-recovery-active-directory")


def network_dns(role: str, vnet_id: str, vnet: VirtualNetwork | None) -> dict[str, Any]:
    """The report's entry for one network: its DNS servers, inside or outside its address space."""
    if vnet is None:
        return {"role": role, "id": vnet_id, "dns": "unreadable"}
    return {"role": role, "id": vnet.id, "dns": "custom" if vnet.dns_servers else "azure-provided",
            "dns_servers": list(vnet.dns_servers), "inside": [s for s in vnet.dns_servers if vnet.holds(s)],
            "outside": [s for s in vnet.dns_servers if not vnet.holds(s)]}


def dns_finding(role: str, vnet_id: str, vnet: VirtualNetwork | None) -> Finding | None:
    name = ids.name_of(vnet_id)
    if vnet is None:
        return Finding(DNS_UNREACHABLE, Severity.WARNING, name, f"the {role} network {name} cannot be read: where it "
                       "resolves names is unknown", DNS_FIX)
    outside = [s for s in vnet.dns_servers if not vnet.holds(s)]
    if role == "drill test" and outside:
        return Finding(DNS_UNREACHABLE, Severity.WARNING, name, f"the {role} network {name} resolves names through "
                       f"{', '.join(outside)}, outside its address space: an isolated test network cannot reach them, "
                       "so a drilled cluster cannot find its domain", DNS_FIX)
    return None
