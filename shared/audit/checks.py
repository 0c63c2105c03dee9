"""The drift checks: what the audit verifies for one cluster, as pure functions (no I/O, no clock).

Each check reads a ``ClusterView`` (the cluster, its nodes and everything the audit read in bulk
about them) and returns ``Finding`` values with a severity and a fix hint. Nothing here reads Azure,
blobs, the environment or the time: the audit passes ``now`` in, so every check is table-testable.

``explain`` ties the checks to the enrollment planner: every action the planner would write must be
explained by a finding, so the audit can never report "all well" while enforcement would write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared import actions as act
from shared import ids, tags
from shared.cluster import Cluster
from shared.enrollment import nsg
from shared.enrollment.plan import NodeFacts, Plan, ReplicationSpec
from shared.findings import Finding, Severity
from shared.inventory import (
    AsrState,
    AvailabilitySet,
    LoadBalancer,
    Policy,
    ProtectedItem,
    StorageAccount,
    Subnet,
    Vm,
    source_roles,
)
from shared.names import failback_how, plan_name
from shared.times import parse_time

# Finding codes, one per way a cluster can drift (documented in shared/schemas/audit-report.v1.json).
NODE_UNPROTECTED = "node-unprotected"
NODE_NOT_PROTECTED_YET = "node-not-protected-yet"
NODE_OUTSIDE_GROUP = "node-outside-group"
FOREIGN_VM_IN_GROUP = "foreign-vm-in-group"
TAG_REMOVED = "tag-removed"
POLICY_MISSING = "policy-missing"
POLICY_APP_CONSISTENT = "policy-app-consistent"
POLICY_MULTI_VM_SYNC_OFF = "policy-multi-vm-sync-off"
POLICY_RETENTION = "policy-retention"
REPLICATION_UNHEALTHY = "replication-unhealthy"
RPO_EXCEEDED = "rpo-exceeded"
TEST_FAILOVER_NEVER = "test-failover-never"
TEST_FAILOVER_STALE = "test-failover-stale"
RECOVERY_PLAN_MISSING = "recovery-plan-missing"
RECOVERY_PLAN_INCOMPLETE = "recovery-plan-incomplete"
RECOVERY_PLAN_EXTRA = "recovery-plan-extra"
RECOVERY_PLAN_RUNBOOK_MISSING = "recovery-plan-runbook-missing"
DR_LB_MISSING = "dr-lb-missing"
DR_LB_WRONG_IP = "dr-lb-wrong-ip"
DR_LB_MISCONFIGURED = "dr-lb-misconfigured"
POOL_MAPPING_MISSING = "pool-mapping-missing"
WITNESS_UNDECLARED = "witness-undeclared"
WITNESS_MISSING = "witness-missing"
WITNESS_WRONG_REGION = "witness-wrong-region"
WITNESS_OUT_OF_SCOPE = "witness-out-of-scope"
CACHE_MISSING = "cache-missing"
CACHE_WRONG_REGION = "cache-wrong-region"
CACHE_SHARED_KEY_DISABLED = "cache-shared-key-disabled"
FAILOVER_UNANNOUNCED = "failover-unannounced"
FAILED_OVER = "failed-over"
REPLICATING_BACK = "replicating-back"
CLUSTER_REJECTED = "cluster-rejected"
NODES_MISSING = "nodes-missing"
PLAN_PENDING = "plan-pending"
TAGS_REJECTED = "tags-rejected"
TAG_NEAR_MISS = "tag-near-miss"
CLUSTER_LOST = "cluster-lost"
RECOVERY_PLACEMENT_MISSING = "recovery-placement-missing"
DR_AVAILABILITY_SET_MISSING = "dr-availability-set-missing"
MULTI_VM_PORT_BLOCKED = "multi-vm-port-blocked"
DR_LB_ROLE_MISSING = "dr-lb-role-missing"

# Which findings explain which planned action (an action explained by none becomes ``plan-pending``).
EXPLAINS: dict[type, frozenset[str]] = {
    act.EnableNode: frozenset({NODE_UNPROTECTED}),
    act.DisableNode: frozenset({NODE_OUTSIDE_GROUP}),
    act.EnsurePolicy: frozenset({POLICY_MISSING, POLICY_APP_CONSISTENT, POLICY_MULTI_VM_SYNC_OFF, POLICY_RETENTION}),
    # A newly enabled node also needs its place in the plan and the pool: its finding explains those too.
    # A node that lost its tag (or a foreign VM) makes the planner rewrite the plan: that finding explains it.
    act.UpsertRecoveryPlan: frozenset({RECOVERY_PLAN_MISSING, RECOVERY_PLAN_INCOMPLETE, RECOVERY_PLAN_EXTRA,
                                   NODE_UNPROTECTED, TAG_REMOVED, FOREIGN_VM_IN_GROUP, TAGS_REJECTED}),
    act.EnsureLoadBalancer: frozenset({DR_LB_MISSING, DR_LB_WRONG_IP, DR_LB_MISCONFIGURED, DR_LB_ROLE_MISSING}),
    # Created before a new node's enable names it, or again when an item names it and it is gone.
    act.EnsureAvailabilitySet: frozenset({NODE_UNPROTECTED, DR_AVAILABILITY_SET_MISSING}),
    act.SetPoolMapping: frozenset({POOL_MAPPING_MISSING, NODE_UNPROTECTED}),
    act.CreateFabric: frozenset(),
    act.CreateContainer: frozenset(),
    act.CreateContainerMapping: frozenset(),
    act.CreateNetworkMapping: frozenset(),
}

@dataclass(frozen=True)
class Thresholds:
    rpo_seconds: int
    test_failover_max_age: timedelta
    runbook_required: bool = False


@dataclass(frozen=True)
class ClusterView:
    """Everything the checks need about one cluster, from the audit's bulk reads."""

    cluster: Cluster
    nodes: Mapping[str, NodeFacts]  # node key -> facts (VM and primary NIC)
    asr: AsrState
    spec: ReplicationSpec
    dr_subnet: Subnet | None
    load_balancer: LoadBalancer | None
    accounts: Mapping[str, StorageAccount | None]  # account key -> account (None: does not exist)
    inventory: Mapping[str, Vm]  # every VM of the allowed subscriptions, by key
    membership: Mapping[str, str]  # enrolled VM key -> its cluster key
    rejected: Mapping[str, str] = field(default_factory=dict)  # VM key -> why its tags were refused
    last_drill: datetime | None = None
    failover_recorded: datetime | None = None  # when asr-s2d last recorded handling a failover of this cluster
    thresholds: Thresholds = Thresholds(1800, timedelta(days=180))
    now: datetime = datetime.min
    dr_availability_set: AvailabilitySet | None = None  # the cluster's recovery availability set, as listed
    source_load_balancers: tuple[LoadBalancer, ...] = ()  # those fronting the nodes: the cluster's access points
    security: nsg.Associations = field(default_factory=nsg.Associations)  # the allowed subscriptions' NSGs

    @property
    def name(self) -> str:
        return self.cluster.name

    def item_of(self, vm: Vm) -> ProtectedItem | None:
        return self.asr.item_for_node(vm.id, self.spec.target_region)

    def replicating_back(self) -> list[tuple[Vm, ProtectedItem]]:
        """(node, its item) for nodes whose item was reprotected and replicates back into them."""
        return [(vm, item) for vm, item in self.node_items() if self.asr.replicates_back(item, self.spec.target_region)]

    def node_items(self) -> list[tuple[Vm, ProtectedItem]]:
        """(node, its item) for nodes replicating in the cluster's group."""
        found = []
        for vm in self.cluster.nodes:
            item = self.item_of(vm)
            if item is not None and (item.group_name or "").lower() == self.name.lower():
                found.append((vm, item))
        return found

    def protected_items(self) -> list[tuple[Vm, ProtectedItem]]:
        return [(vm, item) for vm, item in self.node_items() if item.is_protected]


def _finding(code: str, severity: Severity, subject: str, message: str, fix: str) -> Finding:
    return Finding(code, severity, subject, message, fix)


# -- the checks --------------------------------------------------------------------------------------

def check_nodes_protected(view: ClusterView) -> list[Finding]:
    """Every node replicates, in the cluster's one group, and has finished initial replication."""
    out = []
    for vm in view.cluster.nodes:
        item = view.item_of(vm)
        if item is None:
            out.append(_finding(NODE_UNPROTECTED, Severity.CRITICAL, vm.name,
                                f"{vm.name} does not replicate: a failover of {view.name} would leave it behind",
                                f"set AUDIT_REPAIR=true (the audit enables it in group {view.name}) or re-tag the VM; "
                                "it must be running"))
        elif (item.group_name or "").lower() != view.name.lower():
            where = f"group {item.group_name}" if item.group_name else "no multi-VM group"
            out.append(_finding(NODE_OUTSIDE_GROUP, Severity.CRITICAL, vm.name,
                                f"{vm.name} replicates in {where}, not in the cluster's group {view.name}: its recovery "
                                "points are not consistent with the other nodes'",
                                "disable its replication; asr-s2d then enables it in the cluster's group (ASR cannot move "
                                "a protected VM between groups)"))
        elif not item.is_protected and not item.failed_over:
            out.append(_finding(NODE_NOT_PROTECTED_YET, Severity.WARNING, vm.name,
                                f"{vm.name} is {item.protection_state or 'not protected'}: no recovery point yet",
                                "wait for initial replication to finish; if it does not, check the item in the vault"))
    return out


def check_group_members(view: ClusterView) -> list[Finding]:
    """The cluster's group holds only its nodes: no VM of another cluster, no VM that lost its tag or whose
    tags were refused."""
    nodes = {ids.key(n.id) for n in view.cluster.nodes}
    out = []
    for item in view.asr.items_in_group(view.name):
        key = ids.key(item.vm_id)
        if key in nodes or (item.recovery_vm_id and ids.key(item.recovery_vm_id) in nodes
                            and view.asr.replicates_back(item, view.spec.target_region)):
            continue  # a node's item (replicating back into the node since a reprotect)
        vm = view.inventory.get(key)
        name = vm.name if vm is not None else ids.name_of(item.vm_id)
        if key in view.rejected:
            out.append(_finding(TAGS_REJECTED, Severity.WARNING, name,
                                f"{name} replicates in group {view.name} but its tags were refused: {view.rejected[key]}",
                                "correct the asr-s2d tags the message names"))
            continue
        other = view.membership.get(key)
        if vm is None or other is not None:
            why = (f"a node of cluster {other.split('/', 1)[-1]}" if other is not None
                   else "a VM outside the allowed subscriptions or deleted")
            out.append(_finding(FOREIGN_VM_IN_GROUP, Severity.CRITICAL, name,
                                f"{name} ({why}) replicates in group {view.name}: the group fails over as a unit, so "
                                f"{view.name}'s recovery plan cannot fail over without it",
                                f"disable replication of {name} and enable it in its own group (asr-s2d never disables)"))
        else:
            out.append(_finding(TAG_REMOVED, Severity.WARNING, name,
                                f"{name} replicates in group {view.name} but is no longer tagged {tags.ENROLL}=true",
                                "tag it again, or disable its replication yourself if it left the cluster "
                                "(asr-s2d never disables)"))
    return out


def _policy_by_id(asr: AsrState, policy_id: str) -> Policy | None:
    return next((p for p in asr.policies if ids.same(p.id, policy_id)), None)


def check_policy(view: ClusterView) -> list[Finding]:
    """The policy the nodes replicate with is crash-consistent only (app-consistent 0) with multi-VM sync on."""
    own = view.asr.policy_named(view.spec.policy_name)
    used: dict[str, Policy | None] = {}
    for _vm, item in view.node_items():
        used.setdefault(ids.key(item.policy_id), _policy_by_id(view.asr, item.policy_id))
    if not used and own is not None:
        used[ids.key(own.id)] = own
    out = []
    if own is None and not used and any(view.item_of(n) is None for n in view.cluster.nodes):
        out.append(_finding(POLICY_MISSING, Severity.WARNING, view.spec.policy_name,
                            f"replication policy {view.spec.policy_name} does not exist yet",
                            "enrollment creates it; set AUDIT_REPAIR=true or re-tag a node"))
    for policy in used.values():
        if policy is None:
            continue
        if policy.app_consistent_minutes != 0:
            out.append(_finding(POLICY_APP_CONSISTENT, Severity.CRITICAL, policy.name,
                                f"policy {policy.name} takes app-consistent snapshots every "
                                f"{policy.app_consistent_minutes} min: S2D supports crash-consistent points only",
                                "set appConsistentFrequencyInMinutes to 0 (enrollment corrects asr-s2d's own policy)"))
        if (policy.multi_vm_sync or "").lower() != "enable":
            out.append(_finding(POLICY_MULTI_VM_SYNC_OFF, Severity.CRITICAL, policy.name,
                                f"policy {policy.name} has multi-VM sync {policy.multi_vm_sync or 'unset'}: the nodes' "
                                "recovery points are not taken together",
                                "set multiVmSyncStatus to Enable (enrollment corrects asr-s2d's own policy)"))
    if own is not None and own.recovery_point_history != view.spec.retention_minutes and any(
            ids.same(own.id, p.id) for p in used.values() if p is not None):
        out.append(_finding(POLICY_RETENTION, Severity.INFO, own.name,
                            f"policy {own.name} keeps recovery points {own.recovery_point_history} min, the setting "
                            f"says {view.spec.retention_minutes}",
                            "enrollment corrects it; or change RECOVERY_POINT_RETENTION_MINUTES"))
    return out


def check_replication_health(view: ClusterView) -> list[Finding]:
    out = []
    for vm, item in view.protected_items():
        health = item.replication_health or "unknown"
        if health.lower() == "normal":
            continue
        severity = Severity.CRITICAL if health.lower() == "critical" else Severity.WARNING
        out.append(_finding(REPLICATION_UNHEALTHY, severity, vm.name,
                            f"replication health of {vm.name} is {health}",
                            "open the item's health errors in the vault (Replicated items) and fix their cause"))
    return out


def check_rpo(view: ClusterView) -> list[Finding]:
    limit = view.thresholds.rpo_seconds
    return [_finding(RPO_EXCEEDED, Severity.WARNING, vm.name,
                     f"RPO of {vm.name} is {item.rpo_seconds} s, above the threshold of {limit} s",
                     "check the node's disk churn and the cache storage account; raise RPO_THRESHOLD_SECONDS only if "
                     "the business accepts it")
            for vm, item in view.protected_items() if item.rpo_seconds is not None and item.rpo_seconds > limit]


def last_test_failover(view: ClusterView) -> datetime | None:
    """When the whole cluster last proved recoverable: the oldest node's last successful test failover, or a
    later successful drill."""
    items = view.protected_items()
    times = [parse_time(item.last_test_failover) for _vm, item in items]
    tested = min(times) if times and all(t is not None for t in times) else None  # type: ignore[type-var]
    candidates = [t for t in (tested, view.last_drill) if t is not None]
    return max(candidates) if candidates else None


def check_test_failover(view: ClusterView) -> list[Finding]:
    if not view.protected_items():
        return []
    last = last_test_failover(view)
    limit = view.thresholds.test_failover_max_age
    if last is None:
        return [_finding(TEST_FAILOVER_NEVER, Severity.WARNING, view.name,
                         f"{view.name} has never passed a test failover: nothing proves it would come back",
                         f"run a test failover of recovery plan {plan_name(view.name)} (or tag it asr-s2d-drill=monthly)")]
    age = view.now - last
    if age > limit:
        return [_finding(TEST_FAILOVER_STALE, Severity.WARNING, view.name,
                         f"{view.name}'s last successful test failover was {age.days} days ago "
                         f"(threshold {limit.days} days)",
                         f"run a test failover of recovery plan {plan_name(view.name)}")]
    return []


def check_recovery_plan(view: ClusterView) -> list[Finding]:
    """One recovery plan holds every node: ASR fails a multi-VM group over only as a whole plan, so a node
    missing from the plan makes the failover fail. Items of the group that are not nodes are not "extra"."""
    items = view.node_items()
    if not items:
        return []
    name = plan_name(view.name)
    plan = view.asr.plan_named(name)
    if plan is None:
        return [_finding(RECOVERY_PLAN_MISSING, Severity.CRITICAL, name,
                         f"recovery plan {name} does not exist: {view.name} cannot fail over as a unit",
                         "set AUDIT_REPAIR=true (the audit creates it) or run `asr-s2d plan` and re-tag a node")]
    in_plan = {ids.key(i) for i in plan.item_ids}
    members = {ids.key(item.id): item for _vm, item in items}
    members.update({ids.key(i.id): i for i in view.asr.items_in_group(view.name)})
    out = []
    # Group members that are not nodes (foreign, untagged) have their own findings and fixes.
    missing = sorted(vm.name for vm, item in items if ids.key(item.id) not in in_plan)
    if missing:
        out.append(_finding(RECOVERY_PLAN_INCOMPLETE, Severity.CRITICAL, name,
                            f"recovery plan {name} lacks {', '.join(missing)}: ASR refuses to fail over part of a "
                            "multi-VM group",
                            "set AUDIT_REPAIR=true (the audit adds the nodes) or add them to the plan"))
    extra = sorted(ids.name_of(i) for i in plan.item_ids if ids.key(i) not in members)
    if extra:
        out.append(_finding(RECOVERY_PLAN_EXTRA, Severity.WARNING, name,
                            f"recovery plan {name} also holds item(s) {', '.join(extra)} outside group {view.name}",
                            "set AUDIT_REPAIR=true (the audit rewrites the plan with the group's members)"))
    if view.thresholds.runbook_required and not plan.runbook_actions:
        out.append(_finding(RECOVERY_PLAN_RUNBOOK_MISSING, Severity.CRITICAL, name,
                            f"recovery plan {name} has no post-action runbook in its Boot group (RUNBOOK_REQUIRED): "
                            "after a failover nothing in the plan asks for the IP step",
                            "add Invoke-AsrS2dPostFailover as the Boot group's post-action (shared/scripts/README.md)"))
    return out


def check_dr_load_balancer(view: ClusterView) -> list[Finding]:
    """The DR internal load balancer exists with the DR IP, in the DR subnet, with the probe and HA-ports rule."""
    lb = view.load_balancer
    lb_name = ids.name_of(view.spec.load_balancer_id(view.name))
    if lb is None:
        return [_finding(DR_LB_MISSING, Severity.CRITICAL, lb_name,
                         f"DR load balancer {lb_name} is missing: after failover the cluster IP has no home",
                         "set AUDIT_REPAIR=true (the audit re-creates it) or re-tag a node")]
    out = []
    wanted_ip = view.cluster.intent.dr_ip
    if wanted_ip is not None and lb.frontend_ip != str(wanted_ip):
        out.append(_finding(DR_LB_WRONG_IP, Severity.CRITICAL, lb_name,
                            f"DR load balancer {lb_name} answers on {lb.frontend_ip or 'no address'}, the cluster's "
                            f"{tags.DR_IP} tag says {wanted_ip}",
                            "set AUDIT_REPAIR=true (the audit corrects the frontend) or fix the tag"))
    problems = []
    if view.dr_subnet is not None and not ids.same(lb.frontend_subnet_id, view.dr_subnet.id):
        problems.append(f"its frontend is not in the DR subnet {ids.name_of(view.dr_subnet.id)}")
    if lb.probe_port != view.cluster.intent.probe_port:
        problems.append(f"its probe port is {lb.probe_port}, not {view.cluster.intent.probe_port}")
    if not lb.has_ha_ports_rule:
        problems.append("it has no HA-ports floating-IP rule")
    held = {r.source_ip: r for r in lb.role_frontends()}
    roles = source_roles(view.source_load_balancers, view.cluster.intent.probe_port)
    for source_ip, probe_port in roles:
        found = held.get(source_ip)
        if found is None or found.probe_port != probe_port or not found.ip:
            out.append(_finding(DR_LB_ROLE_MISSING, Severity.CRITICAL, f"{lb_name} {source_ip}",
                                f"the role access point {source_ip} (probe {probe_port}; a SQL Server FCI's virtual "
                                f"network name, say) has no frontend with that probe on DR load balancer {lb_name}: "
                                "after a failover its clients cannot connect",
                                "set AUDIT_REPAIR=true (the audit adds it) or re-tag a node"))
    gone = sorted(set(held) - {s for s, _ in roles})
    if gone:
        problems.append(f"it mirrors role access point(s) {', '.join(gone)} that no load balancer fronting the nodes has")
    if problems:
        out.append(_finding(DR_LB_MISCONFIGURED, Severity.WARNING, lb_name,
                            f"DR load balancer {lb_name}: {'; '.join(problems)}",
                            "set AUDIT_REPAIR=true (the audit restores it) or re-tag a node"))
    return out


def check_pool_mappings(view: ClusterView) -> list[Finding]:
    """ASR attaches every failed-over NIC to the DR pool (``recoveryLBBackendAddressPoolIds``)."""
    pool_id = view.spec.pool_id(view.name)
    out = []
    for vm, item in view.node_items():
        nic_id = vm.primary_nic_id
        nic = next((n for n in item.nics if ids.same(n.nic_id, nic_id)), item.nics[0] if item.nics else None)
        if nic is not None and any(ids.same(p, pool_id) for p in nic.recovery_pool_ids):
            continue
        out.append(_finding(POOL_MAPPING_MISSING, Severity.WARNING, vm.name,
                            f"{vm.name}'s failed-over NIC would not join the DR load balancer's pool",
                            "set AUDIT_REPAIR=true (the audit restores the mapping) or re-tag a node"))
    return out


def check_witness(view: ClusterView) -> list[Finding]:
    """The cloud witness (``asr-s2d-witness``) lives in the DR region, so the cluster keeps quorum there."""
    witness_id = view.cluster.intent.witness_id
    target = view.spec.target_region.lower()
    if witness_id is None:
        return [_finding(WITNESS_UNDECLARED, Severity.INFO, view.name,
                         f"no {tags.WITNESS} tag: the cloud witness's region cannot be audited",
                         f"tag the nodes {tags.WITNESS}=<storage account resource ID>")]
    name = ids.name_of(witness_id)
    if not view.spec.allows(witness_id):
        return [_finding(WITNESS_OUT_OF_SCOPE, Severity.CRITICAL, name,
                         f"the {tags.WITNESS} tag names account {name} in subscription {ids.subscription_of(witness_id)}, "
                         "outside ALLOWED_SUBSCRIPTION_IDS: asr-s2d does not read it, so its region is unproven",
                         f"point the {tags.WITNESS} tag at the witness account, which must be in an allowed subscription "
                         f"and in {target}")]
    account = view.accounts.get(ids.key(witness_id))
    if account is None:
        return [_finding(WITNESS_MISSING, Severity.CRITICAL, name,
                         f"cloud witness account {name} does not exist (or cannot be read)",
                         f"create the witness in {target} and point the cluster and the {tags.WITNESS} tag at it")]
    if account.location != target:
        return [_finding(WITNESS_WRONG_REGION, Severity.CRITICAL, name,
                         f"cloud witness account {name} is in {account.location}, not in the DR region {target}: "
                         "after a regional failover the cluster may lose quorum",
                         f"move the cloud witness to a storage account in {target} (Set-ClusterQuorum -CloudWitness)")]
    return []


def _cache_findings(account_id: str, account: StorageAccount | None, source_region: str, what: str) -> list[Finding]:
    name = ids.name_of(account_id)
    if account is None:
        return [_finding(CACHE_MISSING, Severity.CRITICAL, name, f"cache storage account {name} ({what}) does not exist",
                         "point CACHE_STORAGE_ACCOUNT_ID at an existing account in the source region")]
    if source_region and account.location != source_region:
        return [_finding(CACHE_WRONG_REGION, Severity.CRITICAL, name,
                         f"cache storage account {name} ({what}) is in {account.location}, not in the source region "
                         f"{source_region}",
                         f"use a cache storage account in {source_region}, in the VMs' subscription")]
    if not account.allow_shared_key_access:
        return [_finding(CACHE_SHARED_KEY_DISABLED, Severity.CRITICAL, name,
                         f"cache storage account {name} ({what}) does not allow shared-key access: replication stalls",
                         "allow shared-key access on the cache storage account")]
    return []


def check_cache_accounts(view: ClusterView) -> list[Finding]:
    """The cache account of the settings and every account the items use: source region, shared key allowed."""
    region = view.cluster.source_region
    seen: dict[str, str] = {ids.key(view.spec.cache_account_id): "CACHE_STORAGE_ACCOUNT_ID"}
    for vm, item in view.node_items():
        for account_id in item.cache_account_ids:
            seen.setdefault(ids.key(account_id), f"used by {vm.name}")
    out: list[Finding] = []
    ids_by_key = {ids.key(view.spec.cache_account_id): view.spec.cache_account_id}
    for _vm, item in view.node_items():
        ids_by_key.update({ids.key(a): a for a in item.cache_account_ids})
    for key, what in seen.items():
        out += _cache_findings(ids_by_key[key], view.accounts.get(key), region, what)
    return out


def check_failover(view: ClusterView) -> list[Finding]:
    """A cluster running in the DR region: announced (asr-s2d recorded handling it) or not (no signal arrived)."""
    failed = [(vm, item) for vm, item in view.node_items() if item.failed_over]
    if not failed:
        return []
    names = ", ".join(sorted(vm.name for vm, _ in failed))
    region = failed[0][1].recovery_region or view.spec.target_region  # the DR region, or home after a failback
    times = [t for t in (parse_time(item.last_failover) for _vm, item in failed) if t is not None]
    when = max(times) if times else None
    recorded = view.failover_recorded
    if recorded is None or (when is not None and recorded < when):
        at = f" at {when.strftime('%Y-%m-%d %H:%M UTC')}" if when else ""
        return [_finding(FAILOVER_UNANNOUNCED, Severity.CRITICAL, view.name,
                         f"{names} failed over to {region}{at}, but asr-s2d has no record of moving "
                         "the cluster IP: no failover signal reached it, or the IP step did not finish",
                         f"run `asr-s2d reassign-ip {view.name}`, or set AUDIT_REASSIGN_IP=true")]
    # Running after a failover with nothing replicating it: the next disaster in that region loses it.
    return [_finding(FAILED_OVER, Severity.CRITICAL, view.name,
                     f"{names} run in {region} after a failover: the cluster is not protected until "
                     "it is reprotected",
                     "commit the failover and reprotect (ALLOW_REPROTECT=true lets asr-s2d do it)")]


def check_replicating_back(view: ClusterView) -> list[Finding]:
    """A cluster reprotected after a committed failover: it runs in the DR region and replicates back."""
    back = [(vm, item) for vm, item in view.replicating_back() if not item.failed_over]
    if not back:
        return []
    names = ", ".join(sorted(vm.name for vm, _ in back))
    states = ", ".join(sorted({item.protection_state for _vm, item in back}))
    return [_finding(REPLICATING_BACK, Severity.WARNING, view.name,
                     f"{view.name} runs in {view.spec.target_region} since a committed failover and replicates back "
                     f"into {names} ({states}): drills test the way back (FAILBACK_TEST_VNET_ID)",
                     f"when ready, {failback_how(view.name)} (asr-s2d moves the cluster IP home), check the cluster, "
                     "commit, then reprotect (ALLOW_REPROTECT=true lets asr-s2d do it)")]


def check_recovery_placement(view: ClusterView) -> list[Finding]:
    """Each node's item places its recovered VM as the node is placed (DESIGN rule 20): a zonal node in a zone, a node
    in an availability set in a recovery availability set that exists. Without it the recovered nodes may share a
    host, and one host failure in the DR region can take the cluster's quorum: a warning, because the cluster still
    comes back, only not as resilient as it runs now. Site Recovery cannot change an item's availability type after
    the enable ("You cannot change the availability type ... You must disable and enable replication", learn.microsoft
    .com/azure/site-recovery/azure-to-azure-how-to-enable-replication), so the fix is a disable and re-enable; asr-s2d
    never disables for it. A recovery set that an item names and that is gone is critical: Compute refuses a VM in a
    set that does not exist, so that node's failover would fail."""
    out = []
    wanted_set = view.spec.availability_set_id(view.name)
    for vm, item in view.node_items():
        if item.failed_over or view.asr.replicates_back(item, view.spec.target_region):
            continue
        in_set = bool(vm.availability_set_id) and not vm.zone
        if (vm.zone and not item.recovery_zone) or (
                in_set and not item.recovery_availability_set_id and not item.recovery_zone):
            where = f"zone {vm.zone}" if vm.zone else f"availability set {ids.name_of(vm.availability_set_id or '')}"
            out.append(_finding(RECOVERY_PLACEMENT_MISSING, Severity.WARNING, vm.name,
                                f"{vm.name} runs in {where} but its replicated item names no recovery availability set "
                                "or zone: after a failover the recovered nodes may share a host, and one host failure "
                                "can take the cluster's quorum",
                                "Site Recovery cannot change the availability type of a replicated item: disable its "
                                "replication, then let asr-s2d enable it again (it names the cluster's recovery "
                                "availability set or the node's zone); a full initial replication follows"))
        elif ids.same(item.recovery_availability_set_id, wanted_set) and view.dr_availability_set is None:
            out.append(_finding(DR_AVAILABILITY_SET_MISSING, Severity.CRITICAL, vm.name,
                                f"{vm.name}'s replicated item places the recovered VM in availability set "
                                f"{ids.name_of(wanted_set)}, which no longer exists: Compute refuses a VM in a set "
                                "that does not exist, so its failover would fail",
                                "set AUDIT_REPAIR=true (the audit creates the set again) or re-tag a node"))
    return out


def check_multi_vm_port(view: ClusterView) -> list[Finding]:
    """TCP 20004 flows between every two nodes through the network security groups on their NICs and subnets: "If
    you enable multi-VM consistency, machines in the replication group communicate with each other over port 20004"
    (learn.microsoft.com/azure/site-recovery/azure-to-azure-how-to-enable-replication). Critical, like
    ``policy-multi-vm-sync-off``: without it the nodes' recovery points are not taken together, and the cluster fails
    over (and drills) from the group's common points (DESIGN rule 17). The evaluation is ``asr-s2d check``'s own
    (``shared.enrollment.nsg``), from the groups the audit listed."""
    named = sorted(((f.vm.name, view.security.filters(f.nic)) for f in view.nodes.values() if f.nic is not None),
                   key=lambda n: n[0])
    return [_finding(MULTI_VM_PORT_BLOCKED, Severity.CRITICAL, f"{sender} -> {receiver}",
                     f"TCP {nsg.MULTI_VM_PORT} from {sender} to {receiver} is {found.describe()}: Site Recovery's "
                     "multi-VM consistency needs it between the nodes",
                     f"allow TCP {nsg.MULTI_VM_PORT} between the nodes' addresses in that group, with a priority "
                     "number below the denying rule's")
            for sender, receiver, found in nsg.blocked(named, view.security.groups)]


CHECKS: tuple[tuple[str, Callable[[ClusterView], list[Finding]]], ...] = (
    ("every node protected, in the cluster's group", check_nodes_protected),
    ("no foreign VM in the group; no node lost its tag", check_group_members),
    ("policy crash-consistent with multi-VM sync", check_policy),
    ("replication health normal", check_replication_health),
    ("RPO under the threshold", check_rpo),
    ("recent successful test failover", check_test_failover),
    ("recovery plan holds all nodes", check_recovery_plan),
    ("DR load balancer with the DR IP", check_dr_load_balancer),
    ("pool mappings on every protected item", check_pool_mappings),
    ("cloud witness in the DR region", check_witness),
    ("cache accounts in the source region", check_cache_accounts),
    ("recovered nodes keep their fault domains", check_recovery_placement),
    (f"TCP {nsg.MULTI_VM_PORT} open between the nodes", check_multi_vm_port),
)
FAILED_OVER_CHECKS: tuple[tuple[str, Callable[[ClusterView], list[Finding]]], ...] = (
    ("failover announced", check_failover),
    ("cloud witness in the DR region", check_witness),
)


WAY_BACK_CHECKS: tuple[tuple[str, Callable[[ClusterView], list[Finding]]], ...] = (
    ("replicating back after a reprotect", check_replicating_back),
    ("every node protected, in the cluster's group", check_nodes_protected),
    ("no foreign VM in the group; no node lost its tag", check_group_members),
    ("replication health normal", check_replication_health),
    ("RPO under the threshold", check_rpo),
    ("recent successful test failover", check_test_failover),
)


def run_checks(view: ClusterView) -> list[Finding]:
    """Every check, in order. A failed-over cluster gets only the checks that still mean something; so does
    one that was reprotected and replicates back (``WAY_BACK_CHECKS``)."""
    failed_over = any(item.failed_over for _vm, item in view.node_items())
    # Replicating back, not failed back yet: the way back's checks; failed (back) over: the failover's.
    chosen = (WAY_BACK_CHECKS if view.replicating_back() and not failed_over
              else FAILED_OVER_CHECKS if failed_over else CHECKS)
    out: list[Finding] = []
    for _title, check in chosen:
        out += check(view)
    return out


def explain(plan: Plan, findings: Iterable[Finding]) -> list[Finding]:
    """Findings for the planned actions no check explains, so a non-empty plan never reads as "all well"."""
    codes = {f.code for f in findings}
    out = []
    for action in plan.actions:
        if not (EXPLAINS.get(type(action), frozenset()) & codes):
            out.append(_finding(PLAN_PENDING, Severity.WARNING, plan.cluster,
                                f"enrollment would {action.describe()}",
                                "set AUDIT_REPAIR=true (the audit applies it) or re-tag a node"))
    return out


def merge(*groups: Iterable[Finding]) -> list[Finding]:
    """Findings without duplicates (same code and subject), in the order first seen."""
    seen: set[tuple[str, str]] = set()
    out = []
    for group in groups:
        for f in group:
            if (f.code, f.subject.lower()) not in seen:
                seen.add((f.code, f.subject.lower()))
                out.append(f)
    return out


def action_kind(action: act.Action) -> str:
    return type(action).__name__


def splits_a_group(action: act.Action, asr: AsrState) -> str | None:
    """Why writing ``action`` would leave a multi-VM group only partly in a recovery plan (ASR then refuses to
    fail the plan over), or None. The planner lists nodes only; a group may still hold a VM that lost its tag."""
    if not isinstance(action, act.UpsertRecoveryPlan):
        return None
    wanted = {ids.key(item_id) for item_id, _vm in action.items}
    found = [item for item in (asr.item(k) for k in wanted) if item is not None]
    groups = {item.group_name.lower() for item in found if item.group_name}
    left_out = sorted(ids.name_of(i.vm_id) for g in groups for i in asr.items_in_group(g) if ids.key(i.id) not in wanted)
    if left_out:
        return (f"{action.describe()} would leave {', '.join(left_out)} of the same multi-VM group out of the plan "
                "(ASR refuses to fail over part of a group)")
    return None
