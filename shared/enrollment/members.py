"""Who belongs to a cluster: confirmed, never claimed by a tag alone.

On the first enrollment the tagged nodes are the cluster; the enrollment record then fixes the node set
(``shared.ownership``). A VM tagged into the cluster later is a *candidate*: it joins only when the cluster
itself lists it (the guest's node list, read through Run Command on a confirmed, running node with the
read-only ``cluster_health.ps1``, matched by computer name, and the candidate in the confirmed nodes'
VNet) or when an operator confirms it (``asr-s2d nodes add``). Until then it is reported and nothing is
written for it. ``split`` is pure; ``guest_nodes`` asks the guest, at most once per ``GUEST_RECHECK``; a guest that
cannot answer yet (its VM agent not Ready, another Run Command running, its cluster not settled since boot) is not
an answer: nothing is confirmed or remembered, and the next run asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from shared import ids, scripts
from shared.cluster import Cluster
from shared.drill.checks import MalformedReport, parse_health
from shared.enrollment.plan import NodeFacts
from shared.errors import GuestNotReady, PermanentError
from shared.findings import Finding, Severity
from shared.inventory import Vm
from shared.ownership import Enrollment, Node
from shared.runtime import Runtime
from shared.times import now_iso, parse_time

log = logging.getLogger(__name__)

GUEST_RECHECK = timedelta(minutes=15)
UNCONFIRMED = "node-unconfirmed"


@dataclass(frozen=True)
class Members:
    """The cluster as enrollment may write for it, and the tagged VMs it may not (yet)."""

    cluster: Cluster  # only the nodes enrollment may write for: confirmed ones (all tagged, on the first enrollment)
    candidates: tuple[Vm, ...] = ()  # tagged into the cluster, not confirmed: reported, never written for
    confirmed_now: tuple[Node, ...] = ()  # candidates the guest's node list confirmed in this run
    findings: tuple[Finding, ...] = ()


def split(cluster: Cluster, record: Enrollment | None, facts: Mapping[str, NodeFacts],
          guest: tuple[str, ...] | None = None, *, tagged_by: str = "") -> Members:
    """Which tagged nodes the cluster's record (and the guest's node list, when known) confirm."""
    if record is None:
        return Members(cluster)
    confirmed = [vm for vm in cluster.nodes if record.has_node(vm.id)]
    vnets = {ids.key(ids.vnet_of(f.nic.subnet_id)) for k, f in facts.items()
             if f.nic is not None and record.has_node(f.vm.id)}
    listed = {name.lower() for name in guest or ()}
    joined: list[Node] = []
    left_out: list[Vm] = []
    for vm in cluster.nodes:
        if record.has_node(vm.id):
            continue
        fact = facts.get(ids.key(vm.id))
        host = (fact.vm if fact else vm).host_name
        nic = fact.nic if fact else None
        in_vnet = nic is not None and ids.key(ids.vnet_of(nic.subnet_id)) in vnets
        if host.lower() in listed and in_vnet:
            joined.append(Node(vm.id, vm.name, host, "guest"))
            confirmed.append(vm)
        else:
            left_out.append(vm)
    by = f" (tagged by {tagged_by})" if tagged_by else ""
    findings = tuple(Finding(
        UNCONFIRMED, Severity.WARNING, vm.name,
        f"{vm.name} is tagged into cluster {cluster.name}{by} but is not one of its confirmed nodes: "
        + ("the cluster's own node list does not include it" if guest is not None
           else "the cluster's node list was not read") + "; nothing is written for it",
        f"if it is a new node, add it to the cluster in the guest (it then joins by itself), or confirm it with "
        f"`asr-s2d nodes add {cluster.name} {vm.name}`; otherwise remove its asr-s2d tags") for vm in left_out)
    return Members(replace(cluster, nodes=tuple(confirmed)), tuple(left_out), tuple(joined), findings)


def guest_nodes(rt: Runtime, record: Enrollment, facts: Mapping[str, NodeFacts],
                source_region: str) -> tuple[tuple[str, ...], str] | None:
    """The computer names the cluster lists (and when it was asked): recalled from the record when it was asked
    within ``GUEST_RECHECK``, else read now through Run Command on the first confirmed node that runs in the
    source region. None when no such node runs or the guest gives no usable answer."""
    checked = parse_time(record.guest_checked)
    if checked is not None and datetime.now(UTC) - checked < GUEST_RECHECK:
        return record.guest_nodes, record.guest_checked or ""
    runner = next((f.vm for f in sorted(facts.values(), key=lambda f: f.vm.name.lower())
                   if record.has_node(f.vm.id) and (f.vm.power_state or "") == "running"
                   and f.vm.location.lower() == source_region.lower()), None)
    if runner is None:
        return None
    try:
        result = rt.compute.run_command(runner.id, list(scripts.lines(scripts.CLUSTER_HEALTH)), {})
    except GuestNotReady as err:  # its agent is not Ready yet, or another run command runs: asked again next time
        log.info("cluster %s: %s cannot answer yet: %s", record.cluster, runner.name, err)
        return None
    except PermanentError as err:  # e.g. AuthorizationFailed: no Run Command in the source region (infra's choice)
        log.warning("cluster %s: cannot ask %s for its node list: %s", record.cluster, runner.name, err)
        return None
    try:
        report = parse_health(result.stdout)
    except MalformedReport as err:
        log.warning("cluster %s: no usable node list from %s: %s", record.cluster, runner.name, err)
        return None
    if report.cluster is None or (report.cluster_service or "").lower() != "running":
        # Right after a boot the cluster is not there yet: an empty list is no answer (not remembered: asked again).
        log.info("cluster %s: %s has not settled (cluster service %s): its node list is not read yet", record.cluster,
                 runner.name, report.cluster_service)
        return None
    return tuple(name for name, _state in report.nodes), now_iso()
