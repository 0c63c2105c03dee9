"""The one executor: applies any plan's actions in order through the gateways, by one dispatch table.

It logs each action before writing it, checks the cluster lease before every write (a lost lease
stops the run; the retry converges), honours dry-run, and counts the writes it made. It decides
nothing: which actions to write, and in what order, is the planners' business.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared import actions as act
from shared import ids, scripts
from shared.azure.operations import WAIT_HERE, OperationPending
from shared.errors import GuestNotReady, PermanentError
from shared.failover.plan import NOT_READY, RoleMove, parse_script_result, script_parameters
from shared.runtime import Runtime
from shared.state import ClusterLock

log = logging.getLogger(__name__)


@dataclass
class Applied:
    """What applying a plan did: the writes, and what the writes answered."""

    writes: int = 0
    network_writes: int = 0  # load balancer and NIC writes
    done: list[str] = field(default_factory=list)
    frontend_ip: str | None = None  # the frontend the last load balancer write got (the first free address)
    role_ips: dict[str, str] = field(default_factory=dict)  # role access point: source address -> frontend it got
    role_moves: tuple[RoleMove, ...] = ()  # the role IP resources the in-guest step was asked to move
    guest_ip: str | None = None  # the cluster IP the in-guest step set
    guest: dict[str, Any] | None = None  # set_cluster_ip.ps1's result
    node: str | None = None  # the node it ran on


    def to_json(self) -> dict[str, Any]:
        """What a later step of the same work carries on with (the guest's answers are not carried: a Run Command
        and the reading of its result happen in one step)."""
        return {"writes": self.writes, "network_writes": self.network_writes, "done": list(self.done),
                "frontend_ip": self.frontend_ip, "role_ips": dict(self.role_ips)}

    @classmethod
    def from_json(cls, body: Any) -> Applied:
        if not isinstance(body, dict):
            return cls()
        return cls(writes=int(body.get("writes") or 0), network_writes=int(body.get("network_writes") or 0),
                   done=[str(d) for d in body.get("done") or []],
                   frontend_ip=body.get("frontend_ip") if isinstance(body.get("frontend_ip"), str) else None,
                   role_ips={str(k): str(v) for k, v in (body.get("role_ips") or {}).items()})


Handler = Callable[[Any, Runtime, Applied], int]  # applies one action; returns the writes it made


def _load_balancer(action: act.EnsureLoadBalancer, rt: Runtime, applied: Applied) -> int:
    lb = rt.network.put_internal_load_balancer(action.id, location=action.location, subnet_id=action.subnet_id,
                                               frontend_ip=action.frontend_ip, probe_port=action.probe_port,
                                               tags=action.tags(), roles=action.roles)
    applied.frontend_ip = lb.frontend_ip
    applied.role_ips.update({r.source_ip: r.ip for r in lb.role_frontends() if r.ip})
    applied.network_writes += 1
    log.info("load balancer %s frontend %s", ids.name_of(action.id), lb.frontend_ip)
    return 1


def _availability_set(action: act.EnsureAvailabilitySet, rt: Runtime, applied: Applied) -> int:
    # "The number of fault domains varies by region": the region's limit is read when the set is written (only then),
    # so the plan stays pure and the audit never reads it.
    limit = rt.compute.max_fault_domains(ids.subscription_of(action.id), action.location)
    faults = min(action.fault_domains, limit) if limit else action.fault_domains
    rt.compute.put_availability_set(action.id, location=action.location, fault_domains=faults,
                                    update_domains=action.update_domains, tags=action.tags())
    log.info("availability set %s: %d fault domains, %d update domains", ids.name_of(action.id), faults,
             action.update_domains)
    return 1


def _join_pool(action: act.JoinPool, rt: Runtime, applied: Applied) -> int:
    if not rt.network.add_nic_to_pool(action.nic_id, action.pool_id):
        return 0
    applied.network_writes += 1
    return 1


def _remove_test_load_balancer(action: act.RemoveTestLoadBalancer, rt: Runtime, applied: Applied) -> int:
    return 1 if rt.network.delete_load_balancer(action.id) else 0


def _set_cluster_ip(action: act.SetClusterIp, rt: Runtime, applied: Applied) -> int:
    ip = action.ip or applied.frontend_ip
    if ip is None:
        raise PermanentError(f"the load balancer has no frontend address for {action.vm_name}'s cluster IP")
    roles = []
    for role in action.roles:
        role_ip = role.ip or applied.role_ips.get(role.source_ip)
        if role_ip is None:
            raise PermanentError(f"the load balancer has no frontend address for the role access point {role.source_ip}")
        roles.append(RoleMove(role.source_ip, role_ip, role.probe_port))
    # Validated again here: a frontend read back from Azure goes through the same checks as a tag.
    parameters = script_parameters(ip=ip, probe_port=action.probe_port, subnet_prefix=action.subnet_prefix,
                                   roles=tuple(roles))
    applied.guest_ip, applied.node, applied.role_moves = ip, action.vm_name, tuple(roles)
    try:
        result = rt.compute.run_command(action.vm_id, list(scripts.lines(scripts.SET_CLUSTER_IP)), parameters)
    except GuestNotReady as err:  # the VM agent is not Ready, or another run command runs: the script never ran
        applied.guest = {"status": NOT_READY, "reason": str(err)[:500]}
        log.info("set_cluster_ip on %s: %s", action.vm_name, err)
        return 0
    applied.guest = parse_script_result(result.stdout)
    if not result.succeeded and applied.guest.get("status") != "failed":
        applied.guest = {"status": "failed", "reason": f"Run Command failed: {result.stderr[-300:]}"}
    log.info("set_cluster_ip on %s: %s", action.vm_name, applied.guest.get("status"))
    return 1


def _one_write(call: Callable[[Any, Runtime], object]) -> Handler:
    def handler(action: Any, rt: Runtime, applied: Applied) -> int:
        call(action, rt)
        return 1
    return handler


HANDLERS: dict[type, Handler] = {
    act.CreateFabric: _one_write(lambda a, rt: rt.asr.create_fabric(a.name, a.region)),
    act.CreateContainer: _one_write(lambda a, rt: rt.asr.create_container(a.fabric, a.name)),
    act.EnsurePolicy: _one_write(lambda a, rt: rt.asr.ensure_policy(a.name, retention_minutes=a.retention_minutes,
                                                                exists=a.exists)),
    act.CreateContainerMapping: _one_write(lambda a, rt: rt.asr.create_container_mapping(
        a.fabric, a.container, a.name, target_container_id=a.target_container_id, policy_id=a.policy_id)),
    act.CreateNetworkMapping: _one_write(lambda a, rt: rt.asr.create_network_mapping(
        a.fabric, a.name, primary_network_id=a.primary_network_id, recovery_fabric=a.recovery_fabric,
        recovery_network_id=a.recovery_network_id)),
    act.EnableNode: _one_write(lambda a, rt: rt.asr.enable(
        fabric=a.fabric, container=a.container, item=a.item, vm_id=a.vm_id, group=a.group, policy_id=a.policy_id,
        recovery_container_id=a.recovery_container_id, disks=a.disks, cache_account_id=a.cache_account_id,
        recovery_resource_group_id=a.recovery_resource_group_id, recovery_vnet_id=a.recovery_vnet_id,
        recovery_subnet=a.recovery_subnet, group_id=a.group_id,
        recovery_availability_set_id=a.recovery_availability_set_id, recovery_zone=a.recovery_zone)),
    act.DisableNode: _one_write(lambda a, rt: rt.asr.disable(a.item_id)),
    act.UpsertRecoveryPlan: _one_write(lambda a, rt: rt.asr.upsert_plan(
        a.name, primary_fabric_id=a.primary_fabric_id, recovery_fabric_id=a.recovery_fabric_id, items=a.items,
        exists=a.exists)),
    act.SetPoolMapping: _one_write(lambda a, rt: rt.asr.set_pool_mapping(
        a.item_id, nic_id=a.nic_id, ip_config_name=a.ip_config_name, pool_ids=a.pool_ids, test=a.test)),
    act.ReprotectItem: _one_write(lambda a, rt: rt.asr.reprotect_item(
        a.item_id, recovery_container_id=a.recovery_container_id, cache_account_id=a.cache_account_id,
        disks=a.disks, recovery_resource_group_id=a.recovery_resource_group_id, policy_id=a.policy_id)),
    act.EnsureAvailabilitySet: _availability_set,
    act.EnsureLoadBalancer: _load_balancer,
    act.JoinPool: _join_pool,
    act.RemoveTestLoadBalancer: _remove_test_load_balancer,
    act.SetClusterIp: _set_cluster_ip,
}


class Executor:
    def __init__(self, rt: Runtime, *, lock: ClusterLock | None, dry_run: bool, correlation_id: str = "") -> None:
        self._rt = rt
        self._lock = lock
        self._dry_run = dry_run
        self._correlation = correlation_id

    def apply(self, cluster: str, actions: Sequence[act.Action], *, carried: Applied | None = None) -> Applied:
        """Apply the actions in order. ``carried``: what earlier steps of the same work wrote (their writes and lines
        count in the result). An action whose Site Recovery job still runs ends the step: ``OperationPending``
        propagates with ``applied`` (the write was made; the next step re-plans once the job ended) — unless the
        caller waits in its own process (``WAIT_HERE``): then the job is waited for here and the plan goes on."""
        applied = carried if carried is not None else Applied()
        for action in actions:
            log.info("cluster %s correlation=%s%s: %s", cluster, self._correlation,
                     " (dry run)" if self._dry_run else "", action.describe())
            if self._dry_run:
                continue
            if self._lock is not None:
                self._lock.check()
            try:
                applied.writes += HANDLERS[type(action)](action, self._rt, applied)
            except OperationPending as pending:
                applied.writes += 1
                wait_here = WAIT_HERE.get()
                if wait_here is None:  # the worker: the step ends here, the next one re-plans once the job ended
                    applied.done.append(action.describe())
                    pending.applied = applied
                    raise
                failure = wait_here(pending.pending)  # in-process: wait here, then go on with the plan
                if failure is not None:
                    raise PermanentError(failure) from pending
            if isinstance(action, act.SetClusterIp) and (applied.guest or {}).get("status") == NOT_READY:
                continue  # the guest was not ready: the script never ran, so the step is not done
            applied.done.append(action.describe())
        return applied
