"""What a drill checks, as pure functions: may it start (preconditions), and did the cluster come back
(the in-guest health report of ``shared/scripts/cluster_health.ps1``, judged check by check).

Nothing here reads Azure, blobs, the environment or the clock: the drill service passes what it
observed in and gets named checks (``DrillCheck``: name, ok, detail) out, so every verdict is
table-testable. The script's output is untrusted text: anything that is not the documented JSON
(``shared/scripts/README.md``) becomes a failed check that says why, never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from shared import ids
from shared.inventory import ProtectedItem, RecoveryPlan, StorageAccount
from shared.observability import scrub

# The checks a drill records, in order. Preconditions first (a failing one skips the drill), then the
# steps, then what the guest reports. A drill that stops early records the checks it reached.
PRECONDITIONS = ("recovery-plan", "nodes-protected", "replication-healthy", "no-operation-in-progress",
                 "test-network", "witness-isolated", "no-other-drill")
GUEST = ("guest-report", "cluster-service", "nodes-up", "quorum", "witness", "storage-pool", "virtual-disks",
         "csvs", "cluster-ip", "roles", "role-ips")
DETAIL_LIMIT = 300


@dataclass(frozen=True)
class DrillCheck:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def checks_from_json(body: Any) -> tuple[DrillCheck, ...]:
    """Stored checks (a drill record's, or the drill marker's) back as values; what is not a check is left out."""
    return tuple(DrillCheck(str(c.get("name")), bool(c.get("ok")), str(c.get("detail", "")))
                 for c in body or [] if isinstance(c, dict))


def _check(name: str, ok: bool, detail: str) -> DrillCheck:
    return DrillCheck(name, ok, detail if len(detail) <= DETAIL_LIMIT else detail[: DETAIL_LIMIT - 1] + "…")


def first_failure(checks: Iterable[DrillCheck]) -> DrillCheck | None:
    return next((c for c in checks if not c.ok), None)


# -- preconditions -------------------------------------------------------------------------------------

def preconditions(cluster: str, plan: RecoveryPlan | None, items: Sequence[ProtectedItem]) -> list[DrillCheck]:
    """May a drill of ``cluster`` start? The cluster's recovery plan exists and may test-fail over, every node
    is Protected with Normal replication health, and nothing (failover, test failover, cleanup, reprotect)
    runs on the plan or its items. Exclusion (``no-other-drill``: one drill of a cluster at a time, at most
    ``DRILL_CONCURRENCY`` in the vault) is the service's admission step."""
    out: list[DrillCheck] = []
    if plan is None:
        out.append(_check("recovery-plan", False, f"cluster {cluster} has no recovery plan asr-s2d-{cluster}: it is "
                                                  "not enrolled (or the plan was deleted)"))
    elif not items:
        out.append(_check("recovery-plan", False, f"recovery plan {plan.name} holds no protected item of group "
                                                  f"{cluster}"))
    else:
        out.append(_check("recovery-plan", True, f"recovery plan {plan.name} holds {len(items)} node(s)"))
    if not items:
        return out
    names = {i.id: i.node_name for i in items}
    unprotected = [f"{names[i.id]} is {i.protection_state or 'unknown'}" for i in items if not i.is_protected]
    out.append(_check("nodes-protected", not unprotected, "; ".join(unprotected) if unprotected
                      else f"all {len(items)} node(s) Protected"))
    unhealthy = [f"{names[i.id]} is {i.replication_health or 'unknown'}" for i in items
                 if (i.replication_health or "").lower() != "normal"]
    out.append(_check("replication-healthy", not unhealthy, "replication health: " + "; ".join(unhealthy)
                      if unhealthy else "replication health Normal on every node"))
    busy = [f"{names[i.id]} test failover {i.test_failover_state}" for i in items
            if (i.test_failover_state or "None").lower() != "none"]
    busy += [f"{names[i.id]} runs {i.current_scenario}" for i in items
             if i.current_job_id and (i.current_scenario or "None").lower() != "none"]
    if plan is not None and not busy and "TestFailover" not in plan.allowed_operations:
        busy.append(f"recovery plan {plan.name} does not allow a test failover now (allowed: "
                    f"{', '.join(plan.allowed_operations) or 'nothing'})")
    out.append(_check("no-operation-in-progress", not busy, "; ".join(busy) if busy
                      else "no failover, test failover or cleanup in progress"))
    return out


# -- where the test failover goes -----------------------------------------------------------------------

FORWARD, BACK = "PrimaryToRecovery", "RecoveryToPrimary"


@dataclass(frozen=True)
class DrillNetwork:
    """Where a drill's test failover goes: into ``TEST_FAILOVER_VNET_ID`` in the DR region while the cluster
    replicates there (``PrimaryToRecovery``), or, once a committed failover was reprotected and the cluster
    replicates back to its original region, into ``FAILBACK_TEST_VNET_ID`` there (``RecoveryToPrimary``: a
    drill of the way back). ``vnet_id`` is empty when the setting is."""

    direction: str
    region: str
    vnet_id: str
    setting: str
    problem: str = ""  # the nodes disagree on their direction

    @property
    def way_back(self) -> bool:
        return self.direction == BACK

    def check(self) -> DrillCheck:
        if self.problem:
            return _check("test-network", False, self.problem)
        if not self.vnet_id:
            why = (f"the cluster replicates back to {self.region} since its reprotect, so a drill tests the way back "
                   f"there, in {self.setting}, which is empty" if self.way_back else f"{self.setting} is empty")
            return _check("test-network", False, f"{why}: set it to an isolated VNet in {self.region}")
        way = "the way back, " if self.way_back else ""
        return _check("test-network", True, f"{way}{self.direction} into {ids.name_of(self.vnet_id)} ({self.region}, "
                                            f"{self.setting})")


def drill_network(test_vnet_id: str, failback_test_vnet_id: str, target_region: str, plan: RecoveryPlan,
                  items: Sequence[ProtectedItem]) -> DrillNetwork:
    """Which way the cluster's items replicate, seen from its recovery plan (whose fabrics never change), and
    so which test network a drill uses. ``items`` must not be empty."""
    def direction(item: ProtectedItem) -> str:
        fabric = ids.fabric_of(item.container_id)
        return FORWARD if ids.same(fabric, plan.primary_fabric_id) else BACK

    ways = {direction(i) for i in items}
    first = direction(items[0])
    region = items[0].recovery_region or (target_region.lower() if first == FORWARD else "the original region")
    problem = "" if len(ways) == 1 else (f"the nodes replicate in both directions ({', '.join(sorted(ways))}): "
                                         "a reprotect is unfinished")
    if first == BACK:
        return DrillNetwork(BACK, region, failback_test_vnet_id, "FAILBACK_TEST_VNET_ID", problem)
    return DrillNetwork(FORWARD, region, test_vnet_id, "TEST_FAILOVER_VNET_ID", problem)


# -- the in-guest health report ------------------------------------------------------------------------

@dataclass(frozen=True)
class HealthReport:
    """``cluster_health.ps1``'s JSON, validated field by field (see ``shared/scripts/README.md``)."""

    cluster: str | None
    cluster_service: str | None
    nodes: tuple[tuple[str, str], ...]  # (name, state)
    has_quorum: bool | None
    quorum_type: str | None
    votes_up: int | None
    votes_total: int | None
    witness_type: str | None
    witness_state: str | None
    pool: tuple[str, str] | None  # (name, health)
    virtual_disks: tuple[tuple[str, str], ...]
    csvs: tuple[tuple[str, str], ...]
    ip_resources: tuple[tuple[str, str, str], ...]  # (name, address, state)
    truncated: bool
    errors: tuple[str, ...]
    roles: tuple[tuple[str, str, str], ...] = ()  # the cluster's roles (groups): (name, state, owner node)
    witness_account: str | None = None  # the cloud witness's storage account, as the guest names it
    role_ip_resources: tuple[tuple[str, str], ...] = ()  # (name, address) of the IP resources outside the core group


class MalformedReport(ValueError):
    """The script's output is not the documented JSON."""


def _text(value: Any, where: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise MalformedReport(f"{where} is not a string")
    return value[:120]


def _pairs(value: Any, where: str, second: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise MalformedReport(f"{where} is not a list")
    out = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise MalformedReport(f"{where}[{index}] is not an object")
        out.append((str(_text(entry.get("name"), f"{where}[{index}].name", optional=False)),
                    str(_text(entry.get(second), f"{where}[{index}].{second}", optional=False))))
    return tuple(out)


def _int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedReport(f"{where} is not a whole number")
    return value


def parse_health(stdout: str) -> HealthReport:
    """The JSON object on the last non-empty line of the output (warnings before it are noise).
    Raises ``MalformedReport`` naming what is wrong: no line, not JSON, a field of the wrong type. The guest's
    words are scrubbed before anything is read from them (they end up in the drill record)."""
    lines = [line.strip() for line in scrub(stdout or "").splitlines() if line.strip()]
    if not lines:
        raise MalformedReport("the script printed nothing (PowerShell refused it, or Run Command failed)")
    try:
        data = json.loads(lines[-1])
    except ValueError:
        raise MalformedReport(f"the last output line is not JSON: {lines[-1][:120]}") from None
    except RecursionError:  # 4 KB of output can nest deeper than the parser's recursion limit
        raise MalformedReport("the last output line is JSON nested too deeply to be the report") from None
    if not isinstance(data, dict):
        raise MalformedReport("the last output line is not a JSON object")
    quorum = data.get("quorum")
    if quorum is not None and not isinstance(quorum, dict):
        raise MalformedReport("quorum is not an object")
    quorum = quorum or {}
    witness = quorum.get("witness")
    if witness is not None and not isinstance(witness, dict):
        raise MalformedReport("quorum.witness is not an object")
    witness = witness or {}
    has_quorum = quorum.get("has_quorum")
    if has_quorum is not None and not isinstance(has_quorum, bool):
        raise MalformedReport("quorum.has_quorum is not true or false")
    pool = data.get("pool")
    if pool is not None and not isinstance(pool, dict):
        raise MalformedReport("pool is not an object")
    ip_resources = data.get("ip_resources", [])
    if not isinstance(ip_resources, list) or not all(isinstance(r, dict) for r in ip_resources):
        raise MalformedReport("ip_resources is not a list of objects")
    errors = data.get("errors", [])
    if not isinstance(errors, list):
        raise MalformedReport("errors is not a list")
    roles = data.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, dict) for r in roles):
        raise MalformedReport("roles is not a list of objects")
    return HealthReport(
        cluster=_text(data.get("cluster"), "cluster"), cluster_service=_text(data.get("cluster_service"),
                                                                             "cluster_service"),
        nodes=_pairs(data.get("nodes", []), "nodes", "state"), has_quorum=has_quorum,
        quorum_type=_text(quorum.get("state"), "quorum.state"),
        votes_up=_int(quorum.get("votes_up"), "quorum.votes_up"),
        votes_total=_int(quorum.get("votes_total"), "quorum.votes_total"),
        witness_type=_text(witness.get("type"), "quorum.witness.type"),
        witness_state=_text(witness.get("state"), "quorum.witness.state"),
        pool=None if pool is None else (str(_text(pool.get("name"), "pool.name", optional=False)),
                                        str(_text(pool.get("health"), "pool.health", optional=False))),
        virtual_disks=_pairs(data.get("virtual_disks", []), "virtual_disks", "health"),
        csvs=_pairs(data.get("csv", []), "csv", "state"),
        ip_resources=tuple((str(_text(r.get("name"), "ip_resources.name", optional=False)),
                            str(_text(r.get("address"), "ip_resources.address") or ""),
                            str(_text(r.get("state"), "ip_resources.state", optional=False))) for r in ip_resources),
        truncated=data.get("truncated") is True,
        errors=tuple(str(e)[:160] for e in errors[:5]),
        roles=tuple((str(_text(r.get("name"), "roles.name", optional=False)),
                     str(_text(r.get("state"), "roles.state", optional=False)),
                     str(_text(r.get("owner"), "roles.owner") or "")) for r in roles),
        witness_account=_text(witness.get("account"), "quorum.witness.account"),
        role_ip_resources=_role_ips(ip_resources, roles))


def _role_ips(ip_resources: list[dict[str, Any]], roles: list[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """The IP Address resources of the roles (not of the core group: its type is Cluster)."""
    core = next((str(r.get("name")) for r in roles if r.get("type") == "Cluster"), "Cluster Group")
    return tuple((str(r.get("name")), str(r.get("address") or "")) for r in ip_resources
                 if isinstance(r.get("group"), str) and r["group"] != core)


def settling(report: HealthReport) -> str | None:
    """Why the guest may still be on its way up since boot, or None when it is not (its failures are failures then).

    Right after a boot (a test failover boots every node) the cluster service starts (StartPending) and the nodes join
    (Joining); resources and volumes come online (OnlinePending); and Storage Spaces Direct resyncs, the virtual disks
    reading Warning meanwhile: "your volumes will continue to show as Warning, which is normal"
    (learn.microsoft.com/windows-server/storage/storage-spaces/maintain-servers). A pool in Warning is not named
    there: it is a finding, not a wait."""
    r, found = report, []
    if (r.cluster_service or "").lower().endswith("pending"):
        found.append(f"cluster service (ClusSvc) {r.cluster_service}")
    found += [f"node {name} Joining" for name, state in r.nodes if state.lower() == "joining"]
    found += [f"{name} {state}" for name, state in (*r.csvs, *((n, s) for n, _a, s in r.ip_resources))
              if state.lower().endswith("pending")]
    resync = [name for name, health in r.virtual_disks if health.lower() == "warning"]
    if resync:
        found.append(f"storage resyncing ({', '.join(resync)} Warning)")
    return "; ".join(found)[:DETAIL_LIMIT] or None


def _bad(items: Iterable[tuple[str, str]], good: str) -> list[str]:
    return [f"{name} {state}" for name, state in items if state.lower() != good.lower()]


def health_checks(report: HealthReport | str, *, test_ip: str | None, ip_status: str | None,
                  expected_nodes: int, expected_names: frozenset[str] = frozenset(),
                  unsettled: str | None = None, role_ips: tuple[str, ...] = (),
                  production_witness: str | None = None) -> list[DrillCheck]:
    """The in-guest checks of a drill. ``report`` is the parsed report or why there is none (then every
    in-guest check fails with that reason); ``test_ip`` the address the IP step gave the cluster in the test
    network; ``ip_status`` the IP step's guest status (``no-ip-resource`` for a distributed network name);
    ``expected_names`` the confirmed nodes' computer names: the guest's node list must be exactly those;
    ``unsettled`` why the guest was still settling when the drill stopped waiting (``settling``): the report is then
    not the cluster's final word, and ``guest-report`` fails saying so; ``role_ips`` the test addresses the IP step
    gave the roles' access points (a SQL FCI's VNN IP); ``production_witness`` the production cloud witness's
    storage account name (``asr-s2d-witness``), which the test clone must never reach."""
    if isinstance(report, str):
        return [_check("guest-report", False, report)] + [
            _check(name, False, "no health report from the guest") for name in GUEST[1:]]
    r = report
    notes = [f"{len(r.errors)} error(s): {'; '.join(r.errors)}"] if r.errors else []
    if unsettled:
        notes.insert(0, unsettled)
    if r.truncated:
        notes.append("lists cut to fit Run Command's 4 KB output")
    out = [_check("guest-report", not r.errors and not unsettled, f"cluster {r.cluster or '?'} reported" +
                  (": " + "; ".join(notes) if notes else ""))]
    out.append(_check("cluster-service", (r.cluster_service or "").lower() == "running",
                      f"cluster service (ClusSvc) {r.cluster_service or 'not found'}"))
    down = _bad(r.nodes, "Up")
    if not r.nodes:
        out.append(_check("nodes-up", False, "no cluster node reported"))
    elif down:
        out.append(_check("nodes-up", False, f"{len(r.nodes) - len(down)} of {len(r.nodes)} node(s) Up; " +
                          ", ".join(down)))
    elif len(r.nodes) < expected_nodes and not r.truncated:
        out.append(_check("nodes-up", False, f"{len(r.nodes)} node(s) Up, the recovery plan holds {expected_nodes}"))
    elif expected_names and not r.truncated and {n.lower() for n, _ in r.nodes} != {n.lower() for n in expected_names}:
        # The guest's word is checked against what asr-s2d confirmed, never believed alone.
        out.append(_check("nodes-up", False, f"the guest lists {', '.join(sorted(n for n, _ in r.nodes))}; the "
                          f"cluster's confirmed nodes are {', '.join(sorted(expected_names))}"))
    else:
        out.append(_check("nodes-up", True, f"all {len(r.nodes)} node(s) Up"))
    votes = f"{r.votes_up}/{r.votes_total} node votes" if r.votes_up is not None and r.votes_total is not None else ""
    out.append(_check("quorum", r.has_quorum is True,
                      f"{'quorum held' if r.has_quorum else 'NO quorum'} ({r.quorum_type or 'type unknown'}"
                      f"{', ' + votes if votes else ''})"))
    witness_type = r.witness_type or "None"
    if witness_type == "None":
        # Without a witness only an odd number of node votes survives the loss of a node.
        total = r.votes_total or len(r.nodes)
        out.append(_check("witness", total >= 3 and total % 2 == 1,
                          f"no witness configured ({total} node vote(s))"))
    else:
        out.append(_witness_check(r, witness_type, production_witness))
    if r.pool is None:
        out.append(_check("storage-pool", False, "no S2D storage pool reported"))
    else:
        out.append(_check("storage-pool", r.pool[1].lower() == "healthy", f"pool '{r.pool[0]}' {r.pool[1]}"))
    bad_disks = _bad(r.virtual_disks, "Healthy")
    out.append(_check("virtual-disks", bool(r.virtual_disks) and not bad_disks,
                      "not Healthy: " + ", ".join(bad_disks) if bad_disks else
                      f"all {len(r.virtual_disks)} virtual disk(s) Healthy" if r.virtual_disks
                      else "no virtual disk reported"))
    bad_csvs = _bad(r.csvs, "Online")
    out.append(_check("csvs", bool(r.csvs) and not bad_csvs,
                      "not Online: " + ", ".join(bad_csvs) if bad_csvs else
                      f"all {len(r.csvs)} cluster shared volume(s) Online" if r.csvs
                      else "no cluster shared volume reported"))
    out.append(_cluster_ip_check(r, test_ip=test_ip, ip_status=ip_status))
    offline = [f"'{name}' {state}" + (f" on {owner}" if owner else "") for name, state, owner in r.roles
               if state.lower() != "online"]
    out.append(_check("roles", bool(r.roles) and not offline,
                      "not Online: " + ", ".join(offline) if offline else
                      "every role Online: " + ", ".join(f"'{n}' on {o or '?'}" for n, _s, o in r.roles) if r.roles
                      else "no clustered role reported"))
    at = {address: (name, state) for name, address, state in r.ip_resources}
    wrong = [f"{ip}: " + (f"'{at[ip][0]}' {at[ip][1]}" if ip in at else "no IP Address resource holds it")
             for ip in role_ips if ip not in at or at[ip][1].lower() != "online"]
    # The guest's inventory against Azure's: an IP Address resource no load balancer frontend mirrors would not move
    # after a failover (its role's clients could not connect), so the two views must agree.
    wrong += [f"'{name}' ({address}) has no frontend on the load balancers fronting the nodes: it would not move "
              "after a failover" for name, address in r.role_ip_resources if address not in role_ips and not r.truncated]
    out.append(_check("role-ips", not wrong, "; ".join(wrong) if wrong else
                      f"every role access point Online at its test address ({', '.join(role_ips)})" if role_ips
                      else "no role access point with an IP (distributed network names, or none)"))
    return out


def _witness_check(r: HealthReport, witness_type: str, production_witness: str | None) -> DrillCheck:
    """The test clone must never arbitrate on production's cloud witness: the drill proves before the test failover
    that the test network cannot reach it (``witness_isolation``), and here the clone's witness must be unreachable,
    quorum held by the node majority. A clone that reaches a cloud witness is a critical failure: with production's
    (or an undeclared one) two clusters of the same identity would share one arbiter."""
    online = (r.witness_state or "").lower() == "online"
    if not online:
        return _check("witness", True, f"{witness_type} witness {r.witness_state or 'state unknown'} from the test "
                      "network, as the drill requires (production's witness is out of its reach; quorum is the node "
                      "majority's)")
    account = r.witness_account or "an undeclared account"
    if witness_type.lower() == "cloud" and (production_witness is None or r.witness_account is None
                                            or account.lower() == production_witness.lower()):
        whose = " (production's)" if production_witness else ""
        return _check("witness", False, f"CRITICAL: the test clone reached cloud witness {account}{whose}: it "
                      "arbitrates on the production cluster's witness while production runs; deny the test network on "
                      "that storage account")
    return _check("witness", True, f"{witness_type} witness Online ({account}, not production's)")


def _cluster_ip_check(r: HealthReport, *, test_ip: str | None, ip_status: str | None) -> DrillCheck:
    if ip_status == "no-ip-resource" and not r.ip_resources:
        return _check("cluster-ip", True, "no IP Address resource (distributed network name): clients use the "
                                          "node addresses")
    if test_ip is None:
        return _check("cluster-ip", False, "the IP step gave the cluster no test IP")
    at_ip = [(name, state) for name, address, state in r.ip_resources if address == test_ip]
    if any(state.lower() == "online" for _name, state in at_ip):
        return _check("cluster-ip", True, f"'{at_ip[0][0]}' Online at {test_ip}")
    if at_ip:
        return _check("cluster-ip", False, f"'{at_ip[0][0]}' holds {test_ip} but is {at_ip[0][1]}")
    seen = ", ".join(f"{name} {address or '?'} {state}" for name, address, state in r.ip_resources) or "none"
    return _check("cluster-ip", False, f"no IP Address resource holds the test IP {test_ip} (resources: {seen})")


def summary(checks: Sequence[DrillCheck]) -> str:
    passed = sum(1 for c in checks if c.ok)
    return f"{passed}/{len(checks)} check(s) passed"


def witness_isolation(witness_id: str | None, account: StorageAccount | None, test_vnet_id: str) -> DrillCheck:
    """Before a test failover: the test network must not reach production's cloud witness. A test failover brings up a
    clone with the production cluster's identity; a clone that reaches the witness's blob endpoint arbitrates on it
    while production runs. Microsoft's test-failover guidance isolates the test network from production
    (learn.microsoft.com/azure/site-recovery/site-recovery-test-failover-to-azure), the cloud witness needs the blob
    endpoint (learn.microsoft.com/windows-server/failover-clustering/deploy-cloud-witness), and a storage account's
    firewall decides who reaches it (learn.microsoft.com/azure/storage/common/storage-network-security): so the drill
    proves the account denies the test network, and starts no test failover otherwise. Proven: public network access
    Disabled, or default action Deny with no rule for a subnet of the test network and no IP rule (a test VM's
    outbound address could be in one)."""
    name = "witness-isolated"
    if witness_id is None:
        return _check(name, True, "no cloud witness declared (asr-s2d-witness): the health check fails the drill if "
                      "the test clone reaches any cloud witness")
    witness = ids.name_of(witness_id)
    if account is None:
        return _check(name, False, f"production's cloud witness {witness} cannot be read: the drill cannot prove the "
                      "test network is cut off from it")
    if (account.public_network_access or "").lower() == "disabled":
        return _check(name, True, f"production's cloud witness {witness} takes no public network traffic")
    if (account.default_action or "Allow").lower() != "deny":
        return _check(name, False, f"production's cloud witness {witness} accepts every network (networkAcls "
                      "defaultAction Allow): the test clone would arbitrate on it; set its firewall to the cluster's "
                      "production and DR subnets only")
    open_to = [s for s in account.allowed_subnet_ids if ids.same(ids.vnet_of(s), test_vnet_id)]
    if open_to:
        return _check(name, False, f"production's cloud witness {witness} lets subnet {ids.name_of(open_to[0])} of the "
                      "test network through: the test clone would arbitrate on it; remove that rule")
    if account.ip_rules:
        return _check(name, False, f"production's cloud witness {witness} lets {account.ip_rules} public address "
                      "range(s) through: the test network's outbound address may be one; use subnet rules only")
    return _check(name, True, f"production's cloud witness {witness} denies the test network (default action Deny, "
                  "no rule for it)")
