"""The pre-flight check's reads (``asr-s2d check``): the given VMs as the cluster they would form if tagged, and
everything enrollment would need for them, read into ``preflight.Observed``; then judged, and the plan enrollment
would apply from enrollment's own planner (``service.prepare``).

Reads only: no ARM write, no lock, no record, the guest is not asked. A read that fails for good (a 403, a vault
that is not there) becomes the reason of the prerequisite it was for; a transient failure propagates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from shared import ids, tags
from shared.azure.authorization import AuthorizationGateway
from shared.cluster import CLUSTER_WIDE, Cluster
from shared.enrollment import preflight
from shared.enrollment.preflight import Account, NodeReading, Observed, ScopePermissions
from shared.enrollment.service import prepare, refusal
from shared.errors import PermanentError, RejectedInput
from shared.inventory import AsrState, NetworkSecurityGroup, StorageAccount, Vm
from shared.runtime import Runtime

log = logging.getLogger(__name__)

ROLE_ACTIONS_FILE = Path(__file__).resolve().parents[2] / "infra" / "role-actions.json"


@dataclass(frozen=True)
class Report:
    cluster: str
    nodes: tuple[str, ...]
    checks: tuple[preflight.Check, ...]
    actions: tuple[str, ...] = ()  # the plan enrollment would apply, described
    findings: tuple[dict[str, str], ...] = ()

    @property
    def failed(self) -> tuple[preflight.Check, ...]:
        return tuple(c for c in self.checks if c.status is preflight.Status.NOT_MET)

    def to_json(self) -> dict[str, object]:
        return {"cluster": self.cluster, "nodes": list(self.nodes), "met": not self.failed,
                "not_met": [c.name for c in self.failed], "checks": [c.to_json() for c in self.checks],
                "plan": {"actions": list(self.actions), "findings": list(self.findings)}}


def _allowed(rt: Runtime, resource_id: str, what: str) -> None:
    if not rt.settings.allows_subscription(ids.subscription_of(resource_id)):
        raise RejectedInput(f"{what} {ids.name_of(resource_id)} is in subscription {ids.subscription_of(resource_id)}, "
                            "outside ALLOWED_SUBSCRIPTION_IDS")


def vm_ids_of(rt: Runtime, *, vm_ids: Sequence[str] = (), resource_group: str | None = None) -> list[str]:
    """The VMs to check: those given, or every VM of the resource group (one paged list). ``RejectedInput`` for an
    ID that is not a VM or resource group, one outside the allowed subscriptions, or a group without VMs."""
    if resource_group is not None:
        parts = [p for p in resource_group.split("/") if p]
        if len(parts) != 4 or parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups":
            raise RejectedInput(f"not a resource group ID: {resource_group[:200]!r}")
        _allowed(rt, resource_group, "resource group")
        found = [v.id for v in rt.compute.list_vms(ids.subscription_of(resource_group))
                 if ids.same(ids.group_id(v.id), resource_group)]
        if not found:
            raise RejectedInput(f"no VM in resource group {ids.name_of(resource_group)}")
        return sorted(found, key=ids.key)
    if not vm_ids:
        raise RejectedInput("name the nodes: --vm ID (once per node) or --resource-group ID")
    out: dict[str, str] = {}
    for vm_id in vm_ids:
        if ids.parse(vm_id).resource_type != "microsoft.compute/virtualmachines":
            raise RejectedInput(f"not a VM ID: {vm_id[:200]!r}")
        _allowed(rt, vm_id, "VM")
        out.setdefault(ids.key(vm_id), vm_id)
    return list(out.values())


def _cluster_name(rt: Runtime, vms: Sequence[Vm], given: str | None) -> str:
    """The name enrollment would give the group: ``--cluster``, else the nodes' ``asr-s2d-cluster`` tag, else their
    availability set's name, else their resource group's."""
    if given:
        return tags.cluster_name(given, "--cluster")
    named = {(tags.lookup(v.tags, tags.CLUSTER) or "").strip() for v in vms} - {""}
    if len(named) == 1:
        return tags.cluster_name(named.pop(), f"VM {vms[0].name}")
    avsets = {ids.key(v.availability_set_id or "") for v in vms}
    if len(avsets) == 1 and vms[0].availability_set_id:
        return tags.cluster_name(ids.name_of(vms[0].availability_set_id), "availability set")
    return tags.cluster_name(vms[0].resource_group, "resource group")


def _intent(rt: Runtime, vms: Sequence[Vm], name: str) -> tuple[tags.ClusterIntent, str | None]:
    """The cluster's intent as if every node were tagged ``asr-s2d=true`` (their other asr-s2d tags as they are,
    inherited from availability set and group as enrollment inherits them), and the first problem with them."""
    intents: list[tuple[Vm, tags.ClusterIntent]] = []
    avsets = {ids.key(a): rt.compute.get_availability_set(a) for a in {v.availability_set_id for v in vms} if a}
    groups = {ids.key(g): rt.resources.get_resource_group(g) for g in {ids.group_id(v.id) for v in vms}}
    for vm in vms:
        avset = avsets.get(ids.key(vm.availability_set_id)) if vm.availability_set_id else None
        group = groups.get(ids.key(ids.group_id(vm.id)))
        merged = tags.effective(vm.tags, avset.tags if avset else None, group.tags if group else None)
        try:
            intents.append((vm, tags.parse_intent(merged, f"VM {vm.name}")))
        except RejectedInput as err:
            return tags.ClusterIntent(name, None, None, tags.DEFAULT_PROBE_PORT, None, False), str(err)
    first_vm, first = intents[0]
    for vm, other in intents[1:]:
        tag = next((tag for attr, tag in CLUSTER_WIDE if getattr(first, attr) != getattr(other, attr)), None)
        if tag:
            return first, f"nodes {first_vm.name} and {vm.name} disagree on tag {tag}"
    return first, None


def _accounts(rt: Runtime, wanted: Sequence[str]) -> dict[str, Account]:
    """Each storage account by ``ids.key``: one paged list per subscription (allowed subscriptions only)."""
    out: dict[str, Account] = {}
    for sub in sorted({ids.subscription_of(a).lower() for a in wanted if a}):
        members = [a for a in wanted if a and ids.subscription_of(a).lower() == sub]
        if not rt.settings.allows_subscription(sub):
            out.update({ids.key(a): Account(a, error="outside ALLOWED_SUBSCRIPTION_IDS") for a in members})
            continue
        try:
            listed: dict[str, StorageAccount] = {ids.key(s.id): s for s in rt.resources.list_storage_accounts(sub)}
        except PermanentError as err:
            out.update({ids.key(a): Account(a, error=str(err)) for a in members})
            continue
        out.update({ids.key(a): Account(a, found=listed.get(ids.key(a))) for a in members})
    return out


def _roles(roles_file: Path | None) -> dict[str, tuple[str, ...]] | None:
    path = roles_file or ROLE_ACTIONS_FILE
    if not path.is_file():
        return None
    return preflight.role_actions(json.loads(path.read_text()))


def _permissions(rt: Runtime, vms: Sequence[Vm], roles: dict[str, tuple[str, ...]]) -> tuple[ScopePermissions, ...]:
    s = rt.settings
    gateway = AuthorizationGateway(rt.clients)
    scopes = preflight.enrollment_scopes(sorted({ids.group_id(v.id) for v in vms}, key=ids.key), vault_id=s.vault_id,
                                         recovery_resource_group_id=s.recovery_resource_group_id,
                                         recovery_vnet_id=s.recovery_vnet_id, cache_account_id=s.cache_storage_account_id)
    out: list[ScopePermissions] = []
    for scope, role in scopes:
        needed = roles.get(role, ())
        try:
            out.append(ScopePermissions(scope, role, needed, gateway.permissions_at(scope)))
        except PermanentError as err:
            out.append(ScopePermissions(scope, role, needed, error=str(err)))
    return tuple(out)


def check(rt: Runtime, *, vm_ids: Sequence[str] = (), resource_group: str | None = None, cluster: str | None = None,
          witness: str | None = None, roles_file: Path | None = None) -> Report:
    """Read what enrolling these VMs as one cluster would need, and judge it. ``RejectedInput`` for bad input (an ID
    that is not a VM, a VM that does not exist, a subscription asr-s2d may not read)."""
    s = rt.settings
    nodes: list[NodeReading] = []
    for vm_id in vm_ids_of(rt, vm_ids=vm_ids, resource_group=resource_group):
        found = rt.compute.get_vm_and_agent(vm_id)
        if found is None:
            raise RejectedInput(f"VM {ids.name_of(vm_id)} does not exist")
        vm, agent = found
        filters = rt.network.get_nic_filters(vm.primary_nic_id) if vm.primary_nic_id else None
        nodes.append(NodeReading(vm, agent, filters))
    vms = [n.vm for n in nodes]
    name = _cluster_name(rt, vms, cluster)
    intent, tag_problem = _intent(rt, vms, name)
    if witness:
        given = tags.parse_intent({tags.WITNESS: witness}, "--witness").witness_id
        intent = replace(intent, witness_id=given)
    log.info("check of %d VM(s) as cluster %s", len(vms), name)

    groups: dict[str, NetworkSecurityGroup] = {}
    missing: list[str] = []
    for nsg_id in sorted({g for n in nodes if n.filters for g in (n.filters.nic_nsg_id, n.filters.subnet_nsg_id) if g},
                         key=ids.key):
        try:
            group = rt.network.get_network_security_group(nsg_id)
        except PermanentError as err:
            log.warning("cannot read network security group %s: %s", nsg_id, err)
            group = None
        if group is None:
            missing.append(nsg_id)
        else:
            groups[ids.key(nsg_id)] = group

    vault_location: str | None = None
    vault_error = mappings_error = None
    asr: AsrState | None = None
    try:
        vault_location = rt.asr.vault_location()
        asr = rt.asr.observe(location=vault_location)
    except PermanentError as err:
        vault_error = mappings_error = str(err)

    accounts = _accounts(rt, [s.cache_storage_account_id, intent.witness_id or ""])
    subnet_name = s.recovery_subnet_name or next(
        (ids.name_of(n.filters.subnet_id) for n in nodes if n.filters is not None and n.filters.subnet_id), "")
    dr_subnet = rt.network.get_subnet(s.recovery_vnet_id, subnet_name) if subnet_name else None
    roles = _roles(roles_file)
    permissions = _permissions(rt, vms, roles) if roles is not None else None

    as_tagged = Cluster(name=name, nodes=tuple(vms), intent=intent, enrolled_by="asr-s2d check (as if tagged)")
    plan = plan_error = None
    if asr is not None:
        try:
            record = rt.records.enrollment(name)
            refused = refusal(as_tagged, record)
            if refused:
                raise RejectedInput(refused)
            plan = prepare(rt, as_tagged, record=record, ask_guest=False, asr=asr).plan
        except (RejectedInput, PermanentError) as err:
            plan_error = str(err)

    seen = Observed(
        cluster=name, nodes=tuple(nodes), target_region=s.target_region, vault_id=s.vault_id,
        vault_location=vault_location, vault_error=vault_error,
        cache=accounts.get(ids.key(s.cache_storage_account_id), Account(s.cache_storage_account_id)),
        recovery_vnet_id=s.recovery_vnet_id, recovery_subnet_name=subnet_name, dr_subnet=dr_subnet,
        dr_ip=intent.dr_ip, tag_problem=tag_problem, network_mappings=asr.network_mappings if asr else (),
        mappings_error=mappings_error,
        witness=accounts.get(ids.key(intent.witness_id)) if intent.witness_id else None,
        allowed_subscriptions=s.allowed_subscriptions, groups=groups, missing_groups=tuple(missing),
        permissions=permissions, plan=plan, plan_error=plan_error)
    return Report(cluster=name, nodes=tuple(v.name for v in vms), checks=preflight.judge(seen),
                  actions=tuple(plan.describe()) if plan else (),
                  findings=tuple(f.to_json() for f in plan.findings) if plan else ())
