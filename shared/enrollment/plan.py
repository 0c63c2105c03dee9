"""Enrollment planning: what must be written so every node of a cluster replicates in ONE multi-VM
group under a crash-consistent-only policy, with a recovery plan, a pre-staged DR load balancer, and
recovered nodes that keep their fault domains (``recovery_placement``).

``plan_enrollment`` is side-effect free: observed state in, a ``Plan`` (actions + findings) out.
The executor applies it; the audit reports it. Names of everything asr-s2d creates are derived
from the cluster and the regions, so a plan is self-contained data and a re-run finds what an
earlier run created.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from shared import ids, tags
from shared.actions import (
    Action,
    CreateContainer,
    CreateContainerMapping,
    CreateFabric,
    CreateNetworkMapping,
    DisableNode,
    EnableNode,
    EnsureAvailabilitySet,
    EnsureLoadBalancer,
    EnsurePolicy,
    Purpose,
    SetPoolMapping,
    UpsertRecoveryPlan,
)
from shared.cluster import Cluster
from shared.config import Settings
from shared.errors import RejectedInput
from shared.findings import Finding, Severity
from shared.inventory import (
    AsrState,
    AvailabilitySet,
    LoadBalancer,
    Nic,
    RoleFrontend,
    Subnet,
    Vm,
    source_roles,
    usable_ip,
)
from shared.names import (
    MANAGED_BY,
    OWNER,
    availability_set_id,
    container_name,
    fabric_name,
    failback_how,
    item_name,
    load_balancer_id,
    load_balancer_name,
    mapping_name,
    network_mapping_name,
    plan_name,
    pool_id,
)
from shared.ownership import is_ours, owns_availability_set, owns_load_balancer
from shared.tags import MAX_GROUP_SIZE


@dataclass(frozen=True)
class ReplicationSpec:
    """The settings that shape enrollment, resolved once, and the IDs of what enrollment creates."""

    vault_id: str
    target_region: str
    recovery_resource_group_id: str
    recovery_vnet_id: str
    recovery_subnet_name: str
    cache_account_id: str
    policy_name: str
    retention_minutes: int
    allow_disable: bool
    allowed_subscriptions: tuple[str, ...] = ()  # lower-cased: where asr-s2d may act, and read

    @classmethod
    def from_settings(cls, settings: Settings) -> ReplicationSpec:
        return cls(vault_id=settings.vault_id, target_region=settings.target_region,
                   recovery_resource_group_id=settings.recovery_resource_group_id,
                   recovery_vnet_id=settings.recovery_vnet_id, recovery_subnet_name=settings.recovery_subnet_name,
                   cache_account_id=settings.cache_storage_account_id, policy_name=settings.policy_name,
                   retention_minutes=settings.recovery_point_retention_minutes,
                   allow_disable=settings.allow_disable_replication,
                   allowed_subscriptions=tuple(s.lower() for s in settings.allowed_subscriptions))

    def allows(self, resource_id: str) -> bool:
        """The resource lives in one of the allowed subscriptions."""
        return ids.subscription_of(resource_id).lower() in self.allowed_subscriptions

    def fabric_id(self, name: str) -> str:
        return f"{self.vault_id}/replicationFabrics/{name}"

    def container_id(self, fabric: str, container: str) -> str:
        return f"{self.fabric_id(fabric)}/replicationProtectionContainers/{container}"

    def policy_id(self) -> str:
        return f"{self.vault_id}/replicationPolicies/{self.policy_name}"

    def load_balancer_id(self, cluster: str, *, test: bool = False) -> str:
        """The cluster's DR load balancer (or, with ``test``, a drill's test load balancer) in the recovery group."""
        return load_balancer_id(self.recovery_resource_group_id, load_balancer_name(cluster, test=test))

    def pool_id(self, cluster: str, *, test: bool = False) -> str:
        return pool_id(self.load_balancer_id(cluster, test=test))

    def availability_set_id(self, cluster: str) -> str:
        """The cluster's recovery availability set, in the recovery resource group."""
        return availability_set_id(self.recovery_resource_group_id, cluster)


@dataclass(frozen=True)
class Plan:
    cluster: str
    actions: tuple[Action, ...] = ()
    findings: tuple[Finding, ...] = ()
    waiting: str | None = None
    away: str | None = None  # the cluster runs in the DR region (failed over, or reprotected): nothing is planned
    node_items: tuple[tuple[str, str], ...] = ()  # (item ID, VM ID) of each node that is, or is about to be, protected

    def describe(self) -> list[str]:
        return [a.describe() for a in self.actions]


@dataclass(frozen=True)
class NodeFacts:
    vm: Vm
    nic: Nic | None
    availability_set: AvailabilitySet | None = None  # the node's own (source) availability set, as read


@dataclass(frozen=True)
class DrNetwork:
    """What the DR side holds for the cluster: the subnet its nodes fail over into, its DR load balancer and its
    recovery availability set (``ReplicationSpec.availability_set_id``; None: none of that name)."""

    subnet: Subnet | None
    load_balancer: LoadBalancer | None
    availability_set: AvailabilitySet | None = None
    # The load balancers fronting the nodes in the source region: the cluster's access points (``source_roles``).
    source_load_balancers: tuple[LoadBalancer, ...] = ()


# Fault and update domains of a recovery availability set: "Each availability set can be configured with up to three
# fault domains and twenty update domains" (learn.microsoft.com/azure/virtual-machines/availability-set-overview);
# every region has at least two fault domains ("either two or three ... per region", same article), and five update
# domains is Azure's default. The executor caps the fault domains at the recovery region's own limit when it writes.
MAX_FAULT_DOMAINS, MAX_UPDATE_DOMAINS = 3, 20
DEFAULT_FAULT_DOMAINS, DEFAULT_UPDATE_DOMAINS = 2, 5


@dataclass(frozen=True)
class Placement:
    """Where a node's recovered VM is placed: the cluster's recovery availability set, or the node's zone, or
    neither (a single instance)."""

    availability_set_id: str | None = None
    zone: str | None = None


def recovery_placement(name: str, nodes: Mapping[str, NodeFacts], spec: ReplicationSpec,
                       dr: DrNetwork) -> tuple[dict[str, Placement], list[Finding]]:
    """Where each node (by key) fails over to, so the recovered nodes keep their fault domains (DESIGN rule 20), and
    what to report. Side-effect free.

    Site Recovery fixes an item's availability type (single instance, availability set or availability zone) when
    replication is enabled: it "cannot change the availability type ... after you enable replication" (learn.microsoft
    .com/azure/site-recovery/azure-to-azure-how-to-enable-replication, "Availability options"), so it is chosen here,
    once, from the source:

    - a zonal node keeps its zone number, as Site Recovery's own default does ("Site Recovery assigns the same zone
      number as the source region in target region if the target region supports availability zones", same
      article). Zone numbers are logical, per subscription: the same numbers keep nodes that were in different zones
      in different zones, and the recovery region must offer zones (Site Recovery refuses the enable otherwise);
    - a node in an availability set goes into the cluster's recovery availability set (``avset-asr-s2d-<cluster>``
      in the recovery resource group and region; Site Recovery's default is a new set "with the asr suffix", reused
      when it exists). A set of that name that is not asr-s2d's for this cluster (its tags), or not in the recovery
      region, is never used: reported (``dr-availability-set-not-ours``), the node is enabled as a single instance;
    - a proximity placement group is not kept: it co-locates VMs for latency, Site Recovery places VMs in one only
      on a best-effort basis ("If you can't bring up the VMs inside a proximity placement group ... VMs will be
      created outside", articles/site-recovery/how-to-enable-replication-proximity-placement-groups.md), and it
      holds no fault domain the nodes need: reported (``placement-group-not-kept``, info).
    """
    findings: list[Finding] = []
    wanted = spec.availability_set_id(name)
    avset = dr.availability_set
    usable = avset is None or (owns_availability_set(avset, name) and avset.location == spec.target_region.lower())
    in_sets = [f.vm.name for f in nodes.values() if f.vm.availability_set_id and not f.vm.zone]
    if not usable and avset is not None and in_sets:
        findings.append(Finding(
            "dr-availability-set-not-ours", Severity.WARNING, avset.name,
            f"an availability set named {avset.name} exists in the recovery resource group but is not asr-s2d's "
            f"recovery availability set of {name} in {spec.target_region} (its tags or region say otherwise): "
            f"{', '.join(sorted(in_sets))} would fail over as single instances",
            f"remove or rename it, or tag it {MANAGED_BY}={OWNER} and {tags.CLUSTER}={name} if it is the cluster's "
            "(in the recovery region), before the nodes are enabled"))
    placements = {key: Placement(zone=f.vm.zone) if f.vm.zone else
                  Placement(availability_set_id=wanted) if f.vm.availability_set_id and usable else Placement()
                  for key, f in nodes.items()}
    grouped = sorted(f.vm.name for f in nodes.values() if f.vm.proximity_placement_group_id)
    if grouped:
        findings.append(Finding(
            "placement-group-not-kept", Severity.INFO, name,
            f"{', '.join(grouped)} run in a proximity placement group; their recovered VMs are placed by availability "
            "set or zone only (Site Recovery's placement in a group is best effort, and a group holds no fault "
            "domain)", "nothing to do; to co-locate the recovered nodes, set a proximity placement group in the DR "
            "region on each replicated item yourself"))
    return placements, findings


def ensure_availability_set(name: str, nodes: Mapping[str, NodeFacts], spec: ReplicationSpec, dr: DrNetwork,
                            needed: bool) -> EnsureAvailabilitySet | None:
    """The cluster's recovery availability set, when a node's enable (or an item) names it and it does not exist:
    fault and update domains from the nodes' source sets, within what any availability set can have."""
    if not needed or dr.availability_set is not None:
        return None
    sources = [f.availability_set for f in nodes.values() if f.availability_set is not None]
    faults = max((s.fault_domains for s in sources if s.fault_domains), default=DEFAULT_FAULT_DOMAINS)
    updates = max((s.update_domains for s in sources if s.update_domains), default=DEFAULT_UPDATE_DOMAINS)
    return EnsureAvailabilitySet(spec.availability_set_id(name), spec.target_region.lower(),
                                 min(faults, MAX_FAULT_DOMAINS), min(updates, MAX_UPDATE_DOMAINS), name)


def dr_roles(name: str, intent: tags.ClusterIntent, dr: DrNetwork) -> tuple[RoleFrontend, ...]:
    """The DR load balancer's role access points, mirroring the source ones (``source_roles``): each keeps its probe
    port; its DR address is the one ``asr-s2d-dr-ips`` gives, else the one the DR load balancer holds for it already,
    else the first free address the write gets (then recorded in the load balancer itself)."""
    assert dr.subnet is not None
    given = dict(intent.dr_ips)
    held = {r.source_ip: r.ip for r in dr.load_balancer.role_frontends()} if dr.load_balancer is not None else {}
    out = []
    for source_ip, probe_port in source_roles(dr.source_load_balancers, intent.probe_port):
        ip = given.get(source_ip)
        if ip is not None and (not usable_ip(ipaddress.IPv4Address(ip), dr.subnet.prefix) or ip == str(intent.dr_ip)):
            raise RejectedInput(f"cluster {name}: tag {tags.DR_IPS} gives {source_ip} the DR address {ip}, which is not "
                                f"a usable address of the DR subnet {dr.subnet.prefix} apart from the cluster IP")
        held_ip = held.get(source_ip)
        if ip is None and held_ip and usable_ip(ipaddress.IPv4Address(held_ip), dr.subnet.prefix):
            ip = held_ip
        out.append(RoleFrontend(source_ip, ip, probe_port))
    unknown = sorted(set(given) - {r.source_ip for r in out})
    if unknown:
        raise RejectedInput(f"cluster {name}: tag {tags.DR_IPS} names {', '.join(unknown)}, which no load balancer "
                            "fronting the nodes has as a frontend (a role access point)")
    return tuple(out)


def _away(name: str, asr: AsrState, spec: ReplicationSpec) -> Finding | None:
    """A cluster whose group failed over, or was reprotected and replicates back, is the way back's business
    (``shared.way_back``), not enrollment's: re-planning it from the original nodes would enable them again."""
    items = asr.items_in_group(name)
    failed = [i for i in items if i.failed_over]
    if failed:
        region = failed[0].recovery_region or spec.target_region
        return Finding("cluster-failed-over", Severity.INFO, name,
                       f"cluster {name} runs in {region} after a failover ({len(failed)} node(s), "
                       f"{failed[0].protection_state}): enrollment changes nothing until it is reprotected",
                       "commit the failover and reprotect it (asr-s2d reprotect, or ALLOW_REPROTECT=true)")
    back = [i for i in items if asr.replicates_back(i, spec.target_region)]
    if back:
        return Finding("cluster-replicating-back", Severity.INFO, name,
                       f"cluster {name} runs in {spec.target_region} and replicates back to its original region "
                       f"({len(back)} node(s)): enrollment changes nothing until it fails back",
                       f"{failback_how(name)}, commit it and reprotect")
    return None


def plan_enrollment(cluster: Cluster, nodes: Mapping[str, NodeFacts], asr: AsrState, spec: ReplicationSpec,
                    dr: DrNetwork) -> Plan:
    """What must be written so every node of ``cluster`` replicates in one group, and what to report.

    Raises ``RejectedInput`` for what no retry can fix (too many nodes, nodes in two regions, a DR IP
    outside the DR subnet). Returns a waiting plan when the cluster is not ready yet.
    """
    name = cluster.name
    if len(cluster.nodes) > MAX_GROUP_SIZE:
        raise RejectedInput(f"cluster {name}: {len(cluster.nodes)} nodes, a multi-VM group holds at most "
                            f"{MAX_GROUP_SIZE}")
    regions = sorted({n.location.lower() for n in cluster.nodes})
    if len(regions) > 1:
        raise RejectedInput(f"cluster {name}: nodes are in {len(regions)} regions ({', '.join(regions)}); "
                            "one multi-VM group replicates from one region")
    source = regions[0]
    if source == spec.target_region.lower():
        raise RejectedInput(f"cluster {name}: nodes are in the target region {source}; nothing to replicate to")
    if asr.vault_location and asr.vault_location.lower() != spec.target_region.lower():
        raise RejectedInput(f"vault {ids.name_of(spec.vault_id)} is in {asr.vault_location}, not in the target "
                            f"region {spec.target_region}")
    away = _away(name, asr, spec)
    if away is not None:
        return Plan(name, findings=(away,), away=away.message)
    expected = cluster.intent.expected_nodes
    if expected is not None and len(cluster.nodes) < expected:
        return Plan(name, waiting=f"{len(cluster.nodes)} of {expected} nodes tagged")
    if dr.subnet is None:
        raise RejectedInput(f"cluster {name}: the recovery VNet {ids.name_of(spec.recovery_vnet_id)} has no subnet "
                            f"{spec.recovery_subnet_name or '(named like the source subnet)'}")
    witness = cluster.intent.witness_id
    if witness is not None and not spec.allows(witness):
        raise RejectedInput(f"cluster {name}: tag {tags.WITNESS} names a storage account in subscription "
                            f"{ids.subscription_of(witness)}, outside ALLOWED_SUBSCRIPTION_IDS: asr-s2d neither reads nor "
                            "trusts anything there")
    dr_ip = cluster.intent.dr_ip
    if dr_ip is not None and not usable_ip(dr_ip, dr.subnet.prefix):
        raise RejectedInput(f"cluster {name}: tag asr-s2d-dr-ip {dr_ip} is not a usable address of the DR subnet "
                            f"{dr.subnet.prefix}")

    findings: list[Finding] = []
    actions: list[Action] = []
    not_running = [n.vm.name for n in nodes.values() if (n.vm.power_state or "") != "running"]

    # Plumbing: one fabric and container per region (reuse any existing fabric: ASR refuses a second one).
    src_fabric = asr.fabric_for(source)
    tgt_fabric = asr.fabric_for(spec.target_region)
    src_fabric_name = src_fabric.name if src_fabric else fabric_name(source)
    tgt_fabric_name = tgt_fabric.name if tgt_fabric else fabric_name(spec.target_region)
    if src_fabric is None:
        actions.append(CreateFabric(src_fabric_name, source))
    if tgt_fabric is None:
        actions.append(CreateFabric(tgt_fabric_name, spec.target_region.lower()))
    src_container = asr.container_in(src_fabric.id) if src_fabric else None
    tgt_container = asr.container_in(tgt_fabric.id) if tgt_fabric else None
    src_container_name = src_container.name if src_container else container_name(source)
    tgt_container_name = tgt_container.name if tgt_container else container_name(spec.target_region)
    if src_container is None:
        actions.append(CreateContainer(src_fabric_name, src_container_name))
    if tgt_container is None:
        actions.append(CreateContainer(tgt_fabric_name, tgt_container_name))
    src_container_id = src_container.id if src_container else spec.container_id(src_fabric_name, src_container_name)
    tgt_container_id = tgt_container.id if tgt_container else spec.container_id(tgt_fabric_name, tgt_container_name)

    policy = asr.policy_named(spec.policy_name)
    policy_id = policy.id if policy else spec.policy_id()
    if policy is None:
        actions.append(EnsurePolicy(spec.policy_name, spec.retention_minutes, exists=False))
    elif (policy.app_consistent_minutes != 0 or (policy.multi_vm_sync or "").lower() != "enable"
          or policy.recovery_point_history != spec.retention_minutes):
        # The policy is asr-s2d's own (rule 1): correcting it changes only asr-s2d's clusters.
        actions.append(EnsurePolicy(spec.policy_name, spec.retention_minutes, exists=True))
    for src_id, tgt_id, fabric, container, mname in (
            (src_container_id, tgt_container_id, src_fabric_name, src_container_name,
             mapping_name(source, spec.target_region)),
            (tgt_container_id, src_container_id, tgt_fabric_name, tgt_container_name,
             mapping_name(spec.target_region, source))):
        existing = asr.mapping_between(src_id, tgt_id)
        if existing is None:
            actions.append(CreateContainerMapping(fabric, container, mname, tgt_id, policy_id))
        elif not ids.same(existing.policy_id, policy_id):
            findings.append(Finding("mapping-foreign-policy", Severity.WARNING, name,
                                    f"container mapping {existing.name} uses policy {ids.name_of(existing.policy_id)}",
                                    "asr-s2d's nodes are enabled with its own policy through this mapping"))

    primary_vnets = sorted({ids.key(ids.vnet_of(n.nic.subnet_id)) for n in nodes.values() if n.nic is not None})
    for vnet_key in primary_vnets:
        vnet_id = next(ids.vnet_of(n.nic.subnet_id) for n in nodes.values()
                       if n.nic is not None and ids.key(ids.vnet_of(n.nic.subnet_id)) == vnet_key)
        if asr.network_mapping_for(vnet_id) is None:
            actions.append(CreateNetworkMapping(src_fabric_name, network_mapping_name(vnet_id, spec.recovery_vnet_id),
                                                vnet_id, tgt_fabric_name, spec.recovery_vnet_id))
        if asr.network_mapping_for(spec.recovery_vnet_id) is None:
            actions.append(CreateNetworkMapping(tgt_fabric_name, network_mapping_name(spec.recovery_vnet_id, vnet_id),
                                                spec.recovery_vnet_id, src_fabric_name, vnet_id))
            break  # one reverse mapping per recovery VNet

    # A group of this name that another tool replicates is not asr-s2d's to join, plan or fail over.
    group_items = asr.items_in_group(name)
    foreign = sorted(i.node_name for i in group_items if not is_ours(i, policy_id))
    if foreign:
        raise RejectedInput(f"cluster {name}: multi-VM group {name} already holds {', '.join(foreign)}, replicated under "
                            "another policy than asr-s2d's: asr-s2d does not take over another tool's replication "
                            "(rename the cluster)")

    # Nodes: enable the unprotected ones in the cluster's group; report (never move) the others (rule 3). A node that
    # joins an existing group names it by its ID too (read from the group's items), as Microsoft's tooling does
    # (azure-powershell NewAzureRmRecoveryServicesAsrReplicationProtectedItem.cs): the name alone could start a new one.
    group_id = next((i.group_id for i in group_items if i.group_id), None)
    placements, placement_findings = recovery_placement(name, nodes, spec, dr)
    findings += placement_findings
    item_ids: list[tuple[str, str]] = []
    pool_targets: list[tuple[str, NodeFacts]] = []
    for facts in sorted(nodes.values(), key=lambda f: ids.key(f.vm.id)):
        vm = facts.vm
        item = asr.item_for_vm(vm.id)
        if item is not None:
            if (item.group_name or "").lower() != name.lower():
                where = f"group {item.group_name}" if item.group_name else "no multi-VM group"
                if spec.allow_disable and is_ours(item, policy_id):
                    actions.append(DisableNode(item.id, vm.name, f"protected in {where}, not in {name}"))
                else:
                    # asr-s2d disables only what it enabled (its own policy), whatever ALLOW_DISABLE_REPLICATION says.
                    who = ("let asr-s2d re-enable it (set ALLOW_DISABLE_REPLICATION=true to let asr-s2d do it)"
                           if is_ours(item, policy_id) else
                           "whoever protects it must disable it (asr-s2d disables only what it enabled)")
                    findings.append(Finding(
                        "node-outside-group", Severity.CRITICAL, vm.name,
                        f"{vm.name} is protected in {where}, not in the cluster's group {name}",
                        f"ASR cannot move a protected VM between groups: disable its replication, then {who}"))
                continue
            item_ids.append((item.id, vm.id))
            pool_targets.append((item.id, facts))
            continue
        if vm.name in not_running:
            continue
        iname = item_name(vm.vm_uuid, vm.name)
        item_id = f"{src_container_id}/replicationProtectedItems/{iname}"
        placement = placements.get(ids.key(vm.id), Placement())
        actions.append(EnableNode(
            fabric=src_fabric_name, container=src_container_name, item=iname, vm_id=vm.id, vm_name=vm.name,
            group=name, recovery_container_id=tgt_container_id, policy_id=policy_id, disks=vm.disks,
            cache_account_id=spec.cache_account_id, recovery_resource_group_id=spec.recovery_resource_group_id,
            recovery_vnet_id=spec.recovery_vnet_id, recovery_subnet=ids.name_of(dr.subnet.id), group_id=group_id,
            recovery_availability_set_id=placement.availability_set_id, recovery_zone=placement.zone))
        item_ids.append((item_id, vm.id))
        pool_targets.append((item_id, facts))
    node_keys = {ids.key(n.id) for n in cluster.nodes}
    for item in group_items:
        if ids.key(item.vm_id) not in node_keys:
            # Still a member of the group: the plan must keep it, or ASR refuses to fail the plan over (rule 4).
            item_ids.append((item.id, item.vm_id))
            findings.append(Finding(
                "untagged-protected-node", Severity.WARNING, ids.name_of(item.vm_id),
                f"{ids.name_of(item.vm_id)} replicates in group {name} but is not tagged as a node of it",
                "tag the VM back, or disable its replication if it left the cluster (asr-s2d never does)"))

    # The recovery availability set, before the first enable that names it (Site Recovery checks it exists), or again
    # when an item names it and it is gone (the recovered VM's create would name a set that does not exist).
    wanted_set = spec.availability_set_id(name)
    avset = ensure_availability_set(name, nodes, spec, dr, needed=any(
        isinstance(a, EnableNode) and ids.same(a.recovery_availability_set_id, wanted_set) for a in actions) or any(
        ids.same(i.recovery_availability_set_id, wanted_set) for i in group_items))
    if avset is not None:
        first_enable = next((n for n, a in enumerate(actions) if isinstance(a, EnableNode)), len(actions))
        actions.insert(first_enable, avset)

    if not_running and not any(isinstance(a, EnableNode) for a in actions) and len(item_ids) < len(cluster.nodes):
        return Plan(name, tuple(a for a in actions if not isinstance(a, EnableNode)), tuple(findings),
                    waiting=f"node(s) {', '.join(sorted(not_running))} not running; ASR enables only running VMs",
                    node_items=tuple(pair for pair in item_ids if any(ids.same(pair[1], n.id) for n in cluster.nodes)))
    if not_running:
        findings.append(Finding("node-not-running", Severity.WARNING, ", ".join(sorted(not_running)),
                                "not running, so not enabled yet (ASR enables only running VMs)",
                                "start the VM; the next event or audit enrolls it"))

    # Recovery plan: all nodes in one boot group, so the cluster fails over as a unit (rule 4).
    if item_ids:
        plan = asr.plan_named(plan_name(name))
        wanted = {ids.key(i) for i, _ in item_ids}
        if plan is None or {ids.key(i) for i in plan.item_ids} != wanted:
            actions.append(UpsertRecoveryPlan(plan_name(name), src_fabric.id if src_fabric else spec.fabric_id(src_fabric_name),
                                              tgt_fabric.id if tgt_fabric else spec.fabric_id(tgt_fabric_name),
                                              tuple(item_ids), exists=plan is not None))

    node_items = tuple(pair for pair in item_ids if any(ids.same(pair[1], n.id) for n in cluster.nodes))
    # DR load balancer, pre-staged so ASR attaches the failed-over NICs (rule 9) and the IP step is one call.
    lb_id = spec.load_balancer_id(name)
    lb = dr.load_balancer
    frontend = str(dr_ip) if dr_ip is not None else None
    if lb is not None and not owns_load_balancer(lb, name, Purpose.DR):
        findings.append(Finding(
            "dr-lb-not-ours", Severity.CRITICAL, ids.name_of(lb_id),
            f"a load balancer named {ids.name_of(lb_id)} exists but is not asr-s2d's DR load balancer of {name} (its "
            "tags say otherwise): asr-s2d neither rewrites it nor attaches the nodes to its pool",
            f"remove or rename it, or tag it {MANAGED_BY}={OWNER} and {tags.CLUSTER}={name} if it is the cluster's"))
        return Plan(name, tuple(actions), tuple(findings), node_items=node_items)
    roles = dr_roles(name, cluster.intent, dr)
    same_subnet = lb is not None and ids.same(lb.frontend_subnet_id, dr.subnet.id)
    if lb is None or not lb.has_ha_ports_rule or lb.probe_port != cluster.intent.probe_port or (
            frontend is not None and lb.frontend_ip != frontend) or not same_subnet or not lb.holds_roles(roles):
        keep = frontend or (lb.frontend_ip if lb is not None and same_subnet else None)
        actions.append(EnsureLoadBalancer(lb_id, spec.target_region.lower(), dr.subnet.id, keep,
                                          cluster.intent.probe_port, name, roles=roles))
    dr_pool = spec.pool_id(name)
    for item_id, facts in pool_targets:
        if facts.nic is None:
            continue
        item = asr.item(item_id)
        nic_state = next((n for n in item.nics if ids.same(n.nic_id, facts.nic.id)), None) if item else None
        if nic_state is not None and any(ids.same(p, dr_pool) for p in nic_state.recovery_pool_ids):
            continue
        actions.append(SetPoolMapping(item_id, facts.vm.name, facts.nic.id, facts.nic.ip_config_name, (dr_pool,)))
    return Plan(name, tuple(actions), tuple(findings), node_items=node_items)
