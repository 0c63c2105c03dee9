"""The one executor: applies a plan's actions in order through the gateways.

It logs each action before writing it, checks the cluster lease before every write (a lost lease
stops the run; the retry converges), honours dry-run, and counts the writes it made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from shared import ids
from shared.replication import (
    LB_FRONTEND,
    LB_POOL,
    LB_PROBE,
    LB_RULE,
    Action,
    CreateContainer,
    CreateContainerMapping,
    CreateFabric,
    CreateNetworkMapping,
    DisableNode,
    EnableNode,
    EnsureLoadBalancer,
    EnsurePolicy,
    Plan,
    SetPoolMapping,
    UpsertRecoveryPlan,
)
from shared.runtime import Runtime
from shared.state import ClusterLock

log = logging.getLogger(__name__)


@dataclass
class Applied:
    writes: int = 0
    done: list[str] = field(default_factory=list)
    dr_ip: str | None = None


class Executor:
    def __init__(self, rt: Runtime, *, lock: ClusterLock | None, dry_run: bool, correlation_id: str = "") -> None:
        self._rt = rt
        self._lock = lock
        self._dry_run = dry_run
        self._correlation = correlation_id

    def apply(self, plan: Plan) -> Applied:
        applied = Applied()
        for action in plan.actions:
            log.info("cluster %s correlation=%s%s: %s", plan.cluster, self._correlation,
                     " (dry run)" if self._dry_run else "", action.describe())
            if self._dry_run:
                continue
            if self._lock is not None:
                self._lock.check()
            self._apply(action, applied)
            applied.done.append(action.describe())
        return applied

    def _apply(self, action: Action, applied: Applied) -> None:
        asr, rt = self._rt.asr, self._rt
        applied.writes += 1
        if isinstance(action, CreateFabric):
            asr.create_fabric(action.name, action.region)
        elif isinstance(action, CreateContainer):
            asr.create_container(action.fabric, action.name)
        elif isinstance(action, EnsurePolicy):
            asr.ensure_policy(action.name, retention_minutes=action.retention_minutes, exists=action.exists)
        elif isinstance(action, CreateContainerMapping):
            asr.create_container_mapping(action.fabric, action.container, action.name,
                                         target_container_id=action.target_container_id, policy_id=action.policy_id)
        elif isinstance(action, CreateNetworkMapping):
            asr.create_network_mapping(action.fabric, action.name, primary_network_id=action.primary_network_id,
                                       recovery_fabric=action.recovery_fabric,
                                       recovery_network_id=action.recovery_network_id)
        elif isinstance(action, EnableNode):
            asr.enable(fabric=action.fabric, container=action.container, item=action.item, vm_id=action.vm_id,
                       group=action.group, policy_id=action.policy_id, recovery_container_id=action.recovery_container_id,
                       disks=action.disks, cache_account_id=action.cache_account_id,
                       recovery_resource_group_id=action.recovery_resource_group_id,
                       recovery_vnet_id=action.recovery_vnet_id, recovery_subnet=action.recovery_subnet)
        elif isinstance(action, DisableNode):
            asr.disable(action.item_id)
        elif isinstance(action, UpsertRecoveryPlan):
            asr.upsert_plan(action.name, primary_fabric_id=action.primary_fabric_id,
                            recovery_fabric_id=action.recovery_fabric_id, items=action.items, exists=action.exists)
        elif isinstance(action, EnsureLoadBalancer):
            lb = rt.network.put_internal_load_balancer(
                action.id, location=action.location, subnet_id=action.subnet_id, frontend_ip=action.frontend_ip,
                probe_port=action.probe_port, tags={"asr-s2d-cluster": action.cluster, "managed-by": "asr-s2d"},
                names=(LB_FRONTEND, LB_POOL, LB_PROBE, LB_RULE))
            applied.dr_ip = lb.frontend_ip
            log.info("load balancer %s frontend %s", ids.name_of(action.id), lb.frontend_ip)
        elif isinstance(action, SetPoolMapping):
            asr.set_pool_mapping(action.item_id, nic_id=action.nic_id, ip_config_name=action.ip_config_name,
                                 pool_ids=action.pool_ids, test=action.test)
        else:  # pragma: no cover - the Action union is closed
            raise TypeError(f"unknown action {action!r}")
