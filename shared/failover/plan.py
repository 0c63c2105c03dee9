"""Re-addressing a failed-over cluster: what must change so it answers on its DR IP (DESIGN.md rules 9-12),
and, after a failback (the reprotected cluster failed over back home), on its original IP again.

``plan_readdress`` is side-effect free: what the service observed (Site Recovery's plan, items and job;
the recovered VMs, their NICs and subnet; the target load balancer; the per-cluster record) in, a
``Readdress`` (a verdict, actions, findings) out. The service applies the actions; the drift audit can
report them. It decides:

- whether the failover is really there: the job succeeded and EVERY node failed over (or test-failed
  over); otherwise ``not-yet``, and nothing is planned;
- the cluster IP: the ``asr-s2d-dr-ip`` tag (untrusted, validated) or else the frontend the pre-staged
  DR load balancer holds; for a test failover the test load balancer's frontend, or the DR address's
  host part in the test subnet when it fits, or else the first free address; after a failback the
  frontend of the load balancer that fronts the nodes at home (the original one, or the failback one the
  reprotect staged), which asr-s2d never rewrites;
- the load balancer writes: none when the frontend, probe, HA-ports rule and pool are already right
  (ASR attaches the failed-over NICs itself when the items name the pool);
- the in-guest step on ONE recovered node, unless the record shows it done for this same failover.

Every value that reaches the in-guest script is checked here against the same patterns the script
declares (``set_cluster_ip.ps1``), and against the subnet, before any Run Command is issued.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from shared import ids, tags
from shared.actions import EnsureLoadBalancer, JoinPool, Purpose, RemoveTestLoadBalancer, SetClusterIp
from shared.errors import RejectedInput
from shared.failover.signals import Scenario
from shared.findings import Finding, Severity
from shared.inventory import AsrJob, LoadBalancer, Nic, ProtectedItem, RecoveryPlan, RoleFrontend, Subnet, Vm, usable_ip
from shared.names import MANAGED_BY, OWNER, PURPOSE_TAG, pool_id
from shared.observability import scrub
from shared.ownership import owns_load_balancer

# set_cluster_ip.ps1's results that mean the in-guest step is done
DONE = frozenset({"changed", "unchanged", "no-ip-resource"})
# ... that it is not done yet: the guest has not settled since boot (or its VM agent is not Ready): run it again later
NOT_READY = "not-ready"
GUEST_STATUSES = frozenset({*DONE, NOT_READY, "failed"})
FAILED_OVER = frozenset({"unplannedfailovercommitpendingstatesbegin", "plannedfailovercommitpendingstatesbegin",
                         "unplannedfailovercommitted", "plannedfailovercommitted"})
TEST_ACTIVE = "waitingforcompletion"

# The same patterns set_cluster_ip.ps1 declares (a unit test holds them equal), matched with ``fullmatch``: ``$``
# also matches before a final newline, in Python's ``re.match`` as in .NET's (ValidatePattern), so only the whole
# value is checked here and a value with a trailing newline never reaches the guest.
IPV4_PATTERN = r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"
PREFIX_PATTERN = (r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
                  r"/(3[0-2]|[12]?[0-9])$")
# Each role's access point: the address its IP Address resource holds now = the address it moves to : its probe port
# (1-65535), at most 16 of them.
ROLE_ADDRESSES_PATTERN = (
    r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])=("
    r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]):(65"
    r"53[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})(,((25[0-5]|2[0-4"
    r"][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])=((25[0-5]|2[0-4]["
    r"0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]):(6553[0-5]|655[0-2]"
    r"[0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})){0,15}$"
)
_IPV4, _PREFIX, _ROLES = re.compile(IPV4_PATTERN), re.compile(PREFIX_PATTERN), re.compile(ROLE_ADDRESSES_PATTERN)


# -- observed state -------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecoveredNode:
    """One protected item and what its failover (or test failover) left: the VM and its primary NIC."""

    item: ProtectedItem
    vm: Vm | None
    nic: Nic | None


@dataclass(frozen=True)
class ReaddressNote:
    """The failover service's record of the last re-addressing of a cluster, one per kind (``state.READDRESS``,
    ``state.READDRESS_TEST``): what was done for which failover. The audit reads it as "a failover handled"."""

    identity: str | None
    status: str | None  # set_cluster_ip.ps1's status, or "cleaned" after a test-failover cleanup
    at: str | None
    event_id: str | None = None
    ip: str | None = None
    probe_port: int | None = None
    node: str | None = None
    load_balancer: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k in ("identity", "status", "at")}

    @classmethod
    def from_json(cls, body: Any) -> ReaddressNote | None:
        """A stored note back as a value; None for anything that is not one."""
        if not isinstance(body, dict):
            return None

        def text(key: str) -> str | None:
            value = body.get(key)
            return value if isinstance(value, str) else None

        port = body.get("probe_port")
        return cls(identity=text("identity"), status=text("status"), at=text("at"), event_id=text("event_id"),
                   ip=text("ip"), probe_port=port if isinstance(port, int) and not isinstance(port, bool) else None,
                   node=text("node"), load_balancer=text("load_balancer"))


@dataclass(frozen=True)
class FailoverView:
    cluster: str
    scenario: Scenario
    source: str  # the signal's source: "event" | "runbook" | "cli"
    plan: RecoveryPlan | None
    items: tuple[ProtectedItem, ...]
    job: AsrJob | None  # the newest job of the scenario on the plan or its items
    nodes: tuple[RecoveredNode, ...] = ()
    subnet: Subnet | None = None  # the subnet the recovered NICs are in
    load_balancer: LoadBalancer | None = None  # the target: the DR one, or the test one for a drill
    dr_load_balancer: LoadBalancer | None = None  # a drill mirrors the DR frontend's host part
    dr_subnet: Subnet | None = None
    note: ReaddressNote | None = None  # the record of the last re-addressing of this kind
    # Keys of the items whose node is a confirmed member of the cluster: only their recovered VM runs the guest step.
    trusted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ReaddressSpec:
    target_region: str
    vnet_id: str  # where the recovered NICs must be: the recovery VNet, or the test VNet ("" = any)
    lb_id: str
    # The cluster was reprotected and replicates back: a test failover (a drill of the way back) goes into its
    # original region, where the DR address (and the DR subnet it mirrors) means nothing, so the test load
    # balancer takes the first free address; a failover is the failback, home to ``lb_id``'s frontend.
    way_back: bool = False
    # A test failover's addresses mirror the DR addresses' host parts; off (the first free address, which Azure
    # allocates) once a mirrored one was taken by what this plan cannot see (another drill's test VMs and frontends).
    mirror: bool = True

    @property
    def pool_id(self) -> str:
        return pool_id(self.lb_id)


# -- the plan --------------------------------------------------------------------------------------

ReaddressAction = EnsureLoadBalancer | JoinPool | SetClusterIp | RemoveTestLoadBalancer


class Verdict(str, Enum):
    PROCEED = "proceed"  # the failover is there: apply the actions (possibly none)
    NOT_YET = "not-yet"  # the job runs, or not every node failed over yet
    OVER = "over"  # the signal's failover is not current any more (cleaned up, superseded): nothing to do
    IGNORED = "ignored"  # not asr-s2d's to handle


@dataclass(frozen=True)
class Readdress:
    cluster: str
    verdict: Verdict
    reason: str
    identity: str | None = None
    actions: tuple[ReaddressAction, ...] = ()
    findings: tuple[Finding, ...] = ()
    ip: str | None = None
    probe_port: int | None = None
    subnet_prefix: str | None = None
    guest_done: bool = False  # the record shows the in-guest step done for this very failover

    def describe(self) -> list[str]:
        return [a.describe() for a in self.actions]


# -- validation -----------------------------------------------------------------------------------

def script_parameters(*, ip: str, probe_port: int, subnet_prefix: str,
                      roles: tuple[RoleMove, ...] = ()) -> dict[str, str]:
    """The Run Command ``parameters`` of set_cluster_ip.ps1, each value checked first: the script's own
    patterns, the address usable inside the subnet, the port a TCP port. ``RejectedInput`` otherwise. ``roles``
    become ``RoleAddresses``: each role IP Address resource holding ``source`` moves to ``ip`` with its probe port."""
    if not isinstance(ip, str) or not _IPV4.fullmatch(ip):
        raise RejectedInput(f"cluster IP {str(ip)[:60]!r} is not one IPv4 address in dotted decimal form")
    if not isinstance(subnet_prefix, str) or not _PREFIX.fullmatch(subnet_prefix):
        raise RejectedInput(f"subnet prefix {str(subnet_prefix)[:60]!r} is not an IPv4 CIDR prefix")
    if not usable_ip(ipaddress.IPv4Address(ip), subnet_prefix):
        raise RejectedInput(f"cluster IP {ip} is not a usable address of the subnet {subnet_prefix}")
    if isinstance(probe_port, bool) or not isinstance(probe_port, int) or not 1 <= probe_port <= 65535:
        raise RejectedInput(f"probe port {str(probe_port)[:20]!r} is not a port from 1 to 65535")
    params = {"IPAddress": ip, "ProbePort": str(probe_port), "SubnetPrefix": subnet_prefix}
    if roles:
        for role in roles:
            if not _IPV4.fullmatch(role.source) or not _IPV4.fullmatch(role.ip):
                raise RejectedInput(f"role access point {role.source[:20]!r} -> {role.ip[:20]!r} is not two IPv4 "
                                    "addresses")
            if not usable_ip(ipaddress.IPv4Address(role.ip), subnet_prefix) or role.ip == ip:
                raise RejectedInput(f"role IP {role.ip} is not a usable address of the subnet {subnet_prefix} apart "
                                    "from the cluster IP")
            if isinstance(role.probe_port, bool) or not 1 <= role.probe_port <= 65535:
                raise RejectedInput(f"probe port {role.probe_port} of role IP {role.ip} is not a port from 1 to 65535")
        value = ",".join(f"{r.source}={r.ip}:{r.probe_port}" for r in roles)
        if len({r.ip for r in roles}) != len(roles) or not _ROLES.fullmatch(value):
            raise RejectedInput(f"role access points {value[:200]!r}: at most 16, each address once")
        params["RoleAddresses"] = value
    return params


@dataclass(frozen=True)
class RoleMove:
    """A role's IP Address resource moves from the address it holds (``source``) to ``ip`` with ``probe_port``."""

    source: str
    ip: str
    probe_port: int


def parse_script_result(stdout: str) -> dict[str, Any]:
    """The JSON object on the last non-empty line of the script's output: Run Command keeps only the last 4,096
    bytes, so warnings before it may be cut, never the result line. Anything else (no line, not JSON, an unknown
    status) is a failed run: PowerShell refused a parameter, or Run Command failed. The guest's words are scrubbed
    before anything is read from them (they end up in records and answers)."""
    lines = [line.strip() for line in scrub(stdout or "").splitlines() if line.strip()]
    if not lines:
        return {"status": "failed", "reason": "the script printed no JSON result line"}
    try:
        result = json.loads(lines[-1])
    except (ValueError, RecursionError):  # 4 KB of output can nest deeper than the parser's recursion limit
        return {"status": "failed", "reason": f"the last output line is not JSON: {lines[-1][:200]}"}
    if not isinstance(result, dict) or not isinstance(result.get("status"), str) or result["status"] not in GUEST_STATUSES:
        return {"status": "failed", "reason": f"the result has no known status: {lines[-1][:200]}"}
    return result


def guest_reports_ip(result: dict[str, Any] | None, ip: str | None) -> bool:
    """set_cluster_ip.ps1's report names an IP Address resource on ``ip`` (what ARM's load balancer answers on)."""
    resources = (result or {}).get("resources")
    return ip is not None and isinstance(resources, list) and any(
        isinstance(r, dict) and r.get("address") == ip for r in resources)


def mirrored_address(dr_ip: str, dr_prefix: str, test_prefix: str, taken: set[str]) -> str | None:
    """The DR address's host part in the test subnet (10.20.1.50 in 10.20.1.0/24 -> 10.30.1.50 in
    10.30.1.0/24), when it is usable there and free; None otherwise (the first free address then)."""
    dr_net = ipaddress.IPv4Network(dr_prefix, strict=False)
    test_net = ipaddress.IPv4Network(test_prefix, strict=False)
    offset = int(ipaddress.IPv4Address(dr_ip)) - int(dr_net.network_address)
    if not 0 <= offset < test_net.num_addresses:
        return None
    candidate = test_net.network_address + offset
    if not usable_ip(candidate, test_prefix) or str(candidate) in taken:
        return None
    return str(candidate)


# -- planning -------------------------------------------------------------------------------------

def failover_identity(view: FailoverView) -> str:
    """What makes two signals "the same failover": the plan, the kind, and the job (or failover time)."""
    base = view.plan.name if view.plan is not None else view.cluster
    kind = "failover" if view.scenario in (Scenario.FAILOVER, Scenario.COMMIT) else view.scenario.value
    last_failover = max((i.last_failover or "" for i in view.items), default="") or "unknown"
    marker = view.job.name if view.job is not None else last_failover
    return f"{base}|{kind}|{marker}"


def asr_verdict(view: FailoverView) -> Readdress | None:
    """Site Recovery's side alone: ``None`` when the failover is there, else the verdict (not-yet, over,
    ignored). The service calls this before reading any VM or network (a not-yet costs no more reads)."""
    name, items, job = view.cluster, view.items, view.job
    identity = failover_identity(view)
    if not items:
        return Readdress(name, Verdict.IGNORED, f"cluster {name}: no protected items in its recovery plan or group",
                         identity)
    during_job = job is not None and not job.finished
    if job is not None and during_job:
        # The runbook runs as a post-action step of the plan's own job, so that job is still running when
        # it calls; then every item must show its failover done (its state, or its recovered VM reported).
        ready = sum(1 for i in items if _arrived(view, i) or _recovered_vm_id(view, i))
        if not (view.source == "runbook" and ready == len(items)):
            return Readdress(name, Verdict.NOT_YET, f"the {job.scenario} job {job.name} is {job.state}; "
                             f"{sum(1 for i in items if _arrived(view, i))} of {len(items)} node(s) done", identity)
    elif job is not None and not job.succeeded and not all(_arrived(view, i) for i in items):
        # A job can end Failed for a reason outside the failover itself (a post-action runbook step): when every
        # item's state says its failover happened, the IP step goes ahead; otherwise wait for a successful job.
        return Readdress(name, Verdict.NOT_YET, f"the {job.scenario} job {job.name} ended {job.state}: waiting for "
                         "a successful one", identity)
    arrived = sum(1 for i in items if _arrived(view, i) or (during_job and _recovered_vm_id(view, i)))
    if view.scenario is Scenario.CLEANUP:
        if arrived < len(items):
            return Readdress(name, Verdict.NOT_YET, f"test failover cleanup of {len(items) - arrived} of {len(items)} "
                             "node(s) not finished", identity)
        return None
    if view.scenario is Scenario.TEST and arrived == 0 and (job is None or job.finished):
        return Readdress(name, Verdict.OVER, f"no test failover of cluster {name} is active (cleaned up already, or "
                         "superseded): nothing to re-address", identity)
    if arrived == 0 and job is not None and job.succeeded:
        return Readdress(name, Verdict.OVER, f"the {job.scenario} job {job.name} succeeded but no node is failed over "
                         "now (failed back or reprotected since): nothing to re-address", identity)
    if arrived < len(items):
        verb = "test-failed over" if view.scenario is Scenario.TEST else "failed over"
        return Readdress(name, Verdict.NOT_YET, f"{arrived} of {len(items)} node(s) {verb}; every node must be there",
                         identity)
    return None


def _arrived(view: FailoverView, item: ProtectedItem) -> bool:
    """The item's state says the signal's operation is done for it."""
    if view.scenario is Scenario.TEST:
        return item.test_failover_state.lower() == TEST_ACTIVE
    if view.scenario is Scenario.CLEANUP:
        return item.test_failover_state.lower() == "none"
    return item.protection_state.lower() in FAILED_OVER


def _recovered_vm_id(view: FailoverView, item: ProtectedItem) -> str | None:
    if view.scenario is Scenario.CLEANUP:
        return None
    return item.test_vm_id if view.scenario is Scenario.TEST else item.recovery_vm_id


def plan_readdress(view: FailoverView, spec: ReaddressSpec) -> Readdress:
    """What must be written so the cluster answers on its DR (or test) IP; see the module docstring.

    Raises ``RejectedInput`` for what no retry fixes: bad or disagreeing tags, an address outside the
    subnet, recovered NICs spread over subnets or outside the expected network.
    """
    early = asr_verdict(view)
    if early is not None:
        return early
    if view.scenario is Scenario.CLEANUP:
        return _plan_cleanup(view, spec)
    name, identity = view.cluster, failover_identity(view)
    test = view.scenario is Scenario.TEST
    nodes = sorted(view.nodes, key=lambda n: (n.vm.name.lower() if n.vm else "", n.item.name))
    missing = [n.item.name for n in nodes if n.vm is None]
    if missing or len(nodes) < len(view.items):
        return Readdress(name, Verdict.NOT_YET, f"recovered VM of {len(missing) or len(view.items) - len(nodes)} "
                         "node(s) not found yet", identity)
    without_nic = [n.vm.name for n in nodes if n.vm is not None and n.nic is None]
    if without_nic:
        return Readdress(name, Verdict.NOT_YET, f"recovered VM(s) {', '.join(without_nic)} have no NIC yet", identity)
    vms = [n.vm for n in nodes if n.vm is not None]
    nics = [n.nic for n in nodes if n.nic is not None]
    elsewhere = sorted({vm.location for vm in vms if vm.location != spec.target_region.lower()})
    if elsewhere:
        finding = Finding("failback-not-readdressed", Severity.INFO, name,
                          f"the recovered nodes run in {', '.join(elsewhere)}, not in the DR region {spec.target_region}",
                          "after a failback the source load balancer and cluster IP apply again")
        return Readdress(name, Verdict.IGNORED, f"cluster {name} runs in {', '.join(elsewhere)}, not in the DR region: "
                         "a failback is not re-addressed", identity, findings=(finding,))

    subnet_ids = sorted({ids.key(nic.subnet_id) for nic in nics})
    if len(subnet_ids) > 1:
        raise RejectedInput(f"cluster {name}: the recovered NICs are in {len(subnet_ids)} subnets; one cluster IP "
                            "lives in one subnet")
    subnet_id = nics[0].subnet_id
    vnet_id = ids.vnet_of(subnet_id)
    if spec.vnet_id and not ids.same(vnet_id, spec.vnet_id):
        raise RejectedInput(f"cluster {name}: the recovered NICs are in VNet {ids.name_of(vnet_id)}, not in "
                            f"{ids.name_of(spec.vnet_id)}")
    if view.subnet is None or not ids.same(view.subnet.id, subnet_id):
        return Readdress(name, Verdict.NOT_YET, f"subnet {ids.name_of(subnet_id)} of the recovered NICs is not readable",
                         identity)
    prefix = view.subnet.prefix

    intent = _intent(name, vms)
    node_ips = {nic.private_ip for nic in nics if nic.private_ip}
    lb = view.load_balancer
    failback = spec.way_back and not test
    purpose = Purpose.TEST if test else Purpose.DR
    if lb is not None and not failback and not owns_load_balancer(lb, name, purpose):
        finding = Finding("lb-not-ours", Severity.CRITICAL, ids.name_of(lb.id),
                          f"load balancer {ids.name_of(lb.id)} is not asr-s2d's {purpose.value} load balancer of {name} "
                          "(its tags say otherwise): asr-s2d neither rewrites it nor moves the cluster IP onto it",
                          f"remove or rename it, or tag it {MANAGED_BY}={OWNER} and {tags.CLUSTER}={name} if it is the "
                          f"cluster's; then run `asr-s2d reassign-ip {name}{' --test' if test else ''}`")
        return Readdress(name, Verdict.IGNORED, f"load balancer {ids.name_of(lb.id)} is not asr-s2d's: the cluster IP "
                         "was not moved", identity, findings=(finding,))
    lb_here = lb if lb is not None and ids.same(lb.frontend_subnet_id, subnet_id) else None
    dr_ip = str(intent.dr_ip) if intent.dr_ip is not None else None
    if test:
        dr_prefix = view.dr_subnet.prefix if view.dr_subnet is not None else None
        if dr_ip is not None and dr_prefix is not None and not usable_ip(ipaddress.IPv4Address(dr_ip), dr_prefix):
            raise RejectedInput(f"cluster {name}: tag {tags.DR_IP} {dr_ip} is not a usable address of the DR subnet "
                                f"{dr_prefix}")
        reference = dr_ip or (view.dr_load_balancer.frontend_ip if view.dr_load_balancer is not None else None)
        ip = lb_here.frontend_ip if lb_here is not None and lb_here.frontend_ip else (
            mirrored_address(reference, dr_prefix, prefix, node_ips) if reference and dr_prefix and spec.mirror
            else None)
    elif spec.way_back:
        if lb_here is None or not lb_here.frontend_ip:
            finding = Finding("failback-lb-missing", Severity.WARNING, name,
                              f"cluster {name} failed back to {spec.target_region}, but no internal load balancer "
                              f"with a frontend in subnet {ids.name_of(subnet_id)} fronts its nodes: the original "
                              "cluster IP is unknown",
                              f"create one with the original cluster IP (HA-ports floating-IP rule, probe "
                              f"{intent.probe_port}), then run `asr-s2d reassign-ip {name}`")
            return Readdress(name, Verdict.IGNORED, f"cluster {name} failed back, but no load balancer fronts its "
                             "nodes there: the cluster IP was not moved", identity, findings=(finding,))
        ip = lb_here.frontend_ip
    elif dr_ip is not None:
        if not usable_ip(ipaddress.IPv4Address(dr_ip), prefix):
            raise RejectedInput(f"cluster {name}: tag {tags.DR_IP} {dr_ip} is not a usable address of the DR subnet "
                                f"{prefix}")
        ip = dr_ip
    else:
        ip = lb_here.frontend_ip if lb_here is not None else None
    if ip is not None and ip in node_ips:
        raise RejectedInput(f"cluster {name}: the cluster IP {ip} is the address of a recovered node's NIC")
    # After a failback the guest answers the probe the load balancer at home sends.
    port = (lb_here.probe_port if spec.way_back and not test and lb_here is not None and lb_here.probe_port
            else intent.probe_port)
    if ip is not None:
        script_parameters(ip=ip, probe_port=port, subnet_prefix=prefix)  # rejects before anything is written

    roles = _roles(view, lb_here, test=test, way_back=spec.way_back, prefix=prefix, taken=node_ips | {ip or ""},
                   mirror=spec.mirror)
    actions: list[ReaddressAction] = []
    # After a failback the load balancer at home is the customer's (or the reprotect's): never rewritten.
    pool_id = (lb_here.pool_id if failback and lb_here is not None else None) or spec.pool_id
    if not failback and (lb_here is None or not lb_here.has_ha_ports_rule or lb_here.probe_port != port
                         or (ip is not None and lb_here.frontend_ip != ip) or not ids.same(lb_here.pool_id, pool_id)
                         or not lb_here.holds_roles(roles)):
        actions.append(EnsureLoadBalancer(spec.lb_id, spec.target_region.lower(), subnet_id, ip, port, name,
                                          purpose, roles=roles))
    for node in nodes:
        if node.nic is not None and node.vm is not None and not any(ids.same(p, pool_id) for p in node.nic.pool_ids):
            actions.append(JoinPool(node.nic.id, node.vm.name, pool_id))

    note = view.note
    guest_done = (ip is not None and note is not None and note.identity == identity and note.status in DONE
                  and note.ip == ip and note.probe_port == port)
    if not guest_done:
        runner = next((n.vm for n in nodes if n.vm is not None and (n.vm.power_state or "") == "running"
                       and ids.key(n.item.id) in view.trusted), None)
        if runner is None:
            why = ("no recovered node is running yet" if view.trusted else
                   "no recovered node is a confirmed member of the cluster")
            return Readdress(name, Verdict.NOT_YET, why, identity, ip=ip, probe_port=port, subnet_prefix=prefix)
        actions.append(SetClusterIp(runner.id, runner.name, ip, port, prefix, roles=roles))
    return Readdress(name, Verdict.PROCEED, "", identity, tuple(actions), (), ip, port, prefix, guest_done)


def _roles(view: FailoverView, lb_here: LoadBalancer | None, *, test: bool, way_back: bool, prefix: str,
           taken: set[str], mirror: bool = True) -> tuple[RoleFrontend, ...]:
    """The role access points to move with the cluster IP (a SQL Server FCI's VNN IP, say), each as the address its IP
    resource holds when the nodes arrive -> where it goes: after a failover, those enrollment staged on the DR load
    balancer (source address -> DR address); in a test failover, the same ones on the test load balancer, at the DR
    address's host part in the test subnet (or the address the test load balancer holds, or the first free). On the
    way back they come from the DR load balancer the other way round: DR address -> home address after a failback
    (the home load balancer fronts it already), DR address -> a test address in a drill of the way back."""
    dr_lb, dr_subnet = view.dr_load_balancer, view.dr_subnet
    if way_back:
        held = {r.source_ip: r.ip for r in lb_here.role_frontends()} if test and lb_here is not None else {}
        pairs = [r for r in (dr_lb.role_frontends() if dr_lb is not None else ()) if r.ip]
        return tuple(RoleFrontend(str(r.ip), held.get(str(r.ip)) if test else r.source_ip, r.probe_port)
                     for r in pairs)
    if not test:
        return lb_here.role_frontends() if lb_here is not None else ()
    held = {r.source_ip: r.ip for r in lb_here.role_frontends()} if lb_here is not None else {}
    out = []
    for role in dr_lb.role_frontends() if dr_lb is not None else ():
        ip = held.get(role.source_ip) or (mirrored_address(role.ip, dr_subnet.prefix, prefix, taken)
                                          if role.ip and dr_subnet is not None and mirror else None)
        out.append(RoleFrontend(role.source_ip, ip, role.probe_port))
        taken = taken | {ip or ""}
    return tuple(out)


def _intent(cluster: str, vms: list[Vm]) -> tags.ClusterIntent:
    """The recovered nodes' tags (ASR copies the source's): validated, and the nodes must agree."""
    parsed = [(vm.name, tags.parse_intent(vm.tags, f"VM {vm.name}")) for vm in vms]
    first_name, first = parsed[0]
    for other_name, other in parsed[1:]:
        for attr, tag in (("dr_ip", tags.DR_IP), ("dr_ips", tags.DR_IPS), ("probe_port", tags.PROBE_PORT)):
            if getattr(other, attr) != getattr(first, attr):
                raise RejectedInput(f"cluster {cluster}: recovered nodes {first_name} and {other_name} disagree on "
                                    f"tag {tag}")
    return first


def _plan_cleanup(view: FailoverView, spec: ReaddressSpec) -> Readdress:
    name, identity, lb = view.cluster, failover_identity(view), view.load_balancer
    if lb is None:
        return Readdress(name, Verdict.PROCEED, "", identity)
    if not owns_load_balancer(lb, name, Purpose.TEST):
        finding = Finding("test-lb-not-ours", Severity.WARNING, ids.name_of(lb.id),
                          f"load balancer {ids.name_of(lb.id)} is not tagged as asr-s2d's test load balancer of {name} "
                          f"({MANAGED_BY}={OWNER}, {tags.CLUSTER}={name}, {PURPOSE_TAG}={Purpose.TEST.value})",
                          "asr-s2d deletes only what it created; remove it yourself if the drill left it")
        return Readdress(name, Verdict.PROCEED, "", identity, findings=(finding,))
    if lb.pool_nic_ids:
        return Readdress(name, Verdict.NOT_YET, f"test load balancer {ids.name_of(lb.id)} still has "
                         f"{len(lb.pool_nic_ids)} NIC(s) in its pool", identity)
    return Readdress(name, Verdict.PROCEED, "", identity, (RemoveTestLoadBalancer(lb.id),))
