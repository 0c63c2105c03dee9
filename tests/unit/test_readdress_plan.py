"""plan_readdress as a table: what the service observed after a failover in, verdict and actions out (no I/O)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from shared import actions
from shared.errors import RejectedInput
from shared.failover import plan as rd
from shared.failover.signals import Scenario
from shared.inventory import AsrJob, ItemNic, LoadBalancer, Nic, ProtectedItem, RecoveryPlan, Subnet, Vm, frozen_tags
from tests.unit.builders import DR_RG, DR_VNET, SUB, VAULT

SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "scripts" / "set_cluster_ip.ps1"
TEST_VNET = f"{DR_RG}/providers/Microsoft.Network/virtualNetworks/vnet-dr-test"
DR_SUBNET = Subnet(f"{DR_VNET}/subnets/snet-s2d", "10.20.1.0/24")
TEST_SUBNET = Subnet(f"{TEST_VNET}/subnets/snet-s2d", "10.30.1.0/24")
LB_ID = f"{DR_RG}/providers/Microsoft.Network/loadBalancers/lb-asr-s2d-s2dclu01"
TEST_LB_ID = LB_ID + ".test"
DR = rd.ReaddressSpec(target_region="northeurope", vnet_id=DR_VNET, lb_id=LB_ID)
TEST = rd.ReaddressSpec(target_region="northeurope", vnet_id=TEST_VNET, lb_id=TEST_LB_ID)
PLAN = RecoveryPlan(f"{VAULT}/replicationRecoveryPlans/asr-s2d-s2dclu01", "asr-s2d-s2dclu01", ("i1", "i2"), "f1", "f2")
TAGS = {"asr-s2d": "true", "asr-s2d-cluster": "s2dclu01"}


def job(scenario: str = "UnplannedFailover", state: str = "Succeeded", name: str = "job-1") -> AsrJob:
    return AsrJob(id=f"{VAULT}/replicationJobs/{name}", name=name, scenario=scenario, state=state, target_id="g",
                  target_name="asr-s2d-s2dclu01", target_type="RecoveryPlan")


def item(n: int, *, state: str = "UnplannedFailoverCommitPendingStatesBegin", test_state: str = "None") -> ProtectedItem:
    return ProtectedItem(
        id=f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/i{n}",
        name=f"i{n}", vm_id=f"/subscriptions/{SUB}/resourceGroups/rg-s2d-prod/providers/Microsoft.Compute/"
        f"virtualMachines/s2d-node{n}", group_name="s2dclu01", group_id="g", protection_state=state,
        replication_health="Normal", active_location="Recovery", policy_id="p", rpo_seconds=30,
        test_failover_state=test_state, last_test_failover=None,
        nics=(ItemNic("nic", "ipconfig1", (), (), None),), cache_account_ids=(), recovery_vm_name=f"s2d-node{n}",
        last_failover="2025-01-01T00:00:00Z")


TRUSTED = frozenset(item(n).id.lower() for n in (1, 2))  # both nodes are confirmed members


def node(n: int, *, subnet: Subnet = DR_SUBNET, pools: tuple[str, ...] = (f"{LB_ID}/backendAddressPools/be-nodes",),
         tags: dict[str, str] | None = None, location: str = "northeurope", power: str = "running",
         suffix: str = "", ip: str | None = None, scenario_item: ProtectedItem | None = None) -> rd.RecoveredNode:
    vm_id = f"{DR_RG}/providers/Microsoft.Compute/virtualMachines/s2d-node{n}{suffix}"
    nic_id = f"{DR_RG}/providers/Microsoft.Network/networkInterfaces/s2d-node{n}-nic{suffix}"
    vm = Vm(id=vm_id, name=f"s2d-node{n}{suffix}", location=location, tags=frozen_tags(tags or TAGS),
            nic_ids=(nic_id,), disks=(), power_state=power)
    nic = Nic(id=nic_id, location=location, ip_config_name="ipconfig1", subnet_id=subnet.id,
              private_ip=ip or f"{subnet.prefix.rsplit('.', 1)[0]}.{3 + n}", pool_ids=pools, vm_id=vm_id)
    return rd.RecoveredNode(item=scenario_item or item(n), vm=vm, nic=nic)


def lb(lb_id: str = LB_ID, *, ip: str = "10.20.1.10", subnet: Subnet = DR_SUBNET, port: int = 59999, ha: bool = True,
       members: tuple[str, ...] = (), owner: str | None = "asr-s2d", cluster: str = "s2dclu01") -> LoadBalancer:
    """A load balancer as asr-s2d tags its own (``owner=None``: someone else's)."""
    tags = {"managed-by": owner, "asr-s2d-cluster": cluster} if owner else {}
    if owner and lb_id.endswith(".test"):
        tags["asr-s2d-purpose"] = "test-failover"
    return LoadBalancer(id=lb_id, location="northeurope", frontend_ip=ip, frontend_subnet_id=subnet.id,
                        pool_id=f"{lb_id}/backendAddressPools/be-nodes", pool_nic_ids=members, probe_port=port,
                        has_ha_ports_rule=ha, tags=frozen_tags(tags))


def view(**changes: Any) -> rd.FailoverView:
    """Converged after an unplanned failover: ASR attached both NICs to the pre-staged DR pool."""
    base = rd.FailoverView(cluster="s2dclu01", scenario=Scenario.FAILOVER, source="event", plan=PLAN,
                           items=(item(1), item(2)), job=job(), nodes=(node(1), node(2)), subnet=DR_SUBNET,
                           load_balancer=lb(), trusted=TRUSTED)
    return replace(base, **changes)


def drill_view(**changes: Any) -> rd.FailoverView:
    items = (item(1, state="Protected", test_state="WaitingForCompletion"),
             item(2, state="Protected", test_state="WaitingForCompletion"))
    nodes = tuple(node(n, subnet=TEST_SUBNET, pools=(), suffix="-test", scenario_item=items[n - 1]) for n in (1, 2))
    base = rd.FailoverView(cluster="s2dclu01", scenario=Scenario.TEST, source="event", plan=PLAN, items=items,
                           job=job("TestFailover"), nodes=nodes, subnet=TEST_SUBNET, load_balancer=None,
                           dr_load_balancer=lb(), dr_subnet=DR_SUBNET, trusted=TRUSTED)
    return replace(base, **changes)


def kinds(plan: rd.Readdress) -> list[str]:
    return [type(a).__name__ for a in plan.actions]


def guest_step(plan: rd.Readdress) -> actions.SetClusterIp:
    steps = [a for a in plan.actions if isinstance(a, actions.SetClusterIp)]
    assert len(steps) == 1
    return steps[0]


# -- the failover is there: what gets written -------------------------------------------------------

def test_asr_attached_the_nics_so_only_the_guest_step_remains() -> None:
    plan = rd.plan_readdress(view(), DR)
    assert plan.verdict is rd.Verdict.PROCEED and kinds(plan) == ["SetClusterIp"]
    step = guest_step(plan)
    assert (step.vm_name, step.ip, step.probe_port, step.subnet_prefix) == ("s2d-node1", "10.20.1.10", 59999,
                                                                            "10.20.1.0/24")


def test_recorded_guest_step_for_the_same_failover_means_nothing_to_do() -> None:
    first = rd.plan_readdress(view(), DR)
    note = rd.ReaddressNote(identity=first.identity, status="changed", at=None, ip="10.20.1.10", probe_port=59999)
    plan = rd.plan_readdress(view(note=note), DR)
    assert plan.verdict is rd.Verdict.PROCEED and plan.actions == () and plan.guest_done


@pytest.mark.parametrize("note", [
    {"identity": "asr-s2d-s2dclu01|failover|an-older-job", "status": "changed", "ip": "10.20.1.10", "probe_port": 59999},
    {"status": "failed", "ip": "10.20.1.10", "probe_port": 59999},
    {"status": "changed", "ip": "10.20.1.99", "probe_port": 59999},
])
def test_a_record_of_another_failover_or_a_failed_run_repeats_the_guest_step(note: dict[str, Any]) -> None:
    identity = rd.plan_readdress(view(), DR).identity
    recorded = rd.ReaddressNote.from_json({"identity": identity, **note})
    assert kinds(rd.plan_readdress(view(note=recorded), DR)) == ["SetClusterIp"]


def test_nics_outside_the_pool_are_joined() -> None:
    plan = rd.plan_readdress(view(nodes=(node(1, pools=()), node(2, pools=()))), DR)
    assert kinds(plan) == ["JoinPool", "JoinPool", "SetClusterIp"]
    assert {a.pool_id for a in plan.actions if isinstance(a, actions.JoinPool)} == {DR.pool_id}


def test_missing_dr_load_balancer_is_staged_on_the_first_free_address() -> None:
    plan = rd.plan_readdress(view(load_balancer=None, nodes=(node(1, pools=()), node(2, pools=()))), DR)
    assert kinds(plan) == ["EnsureLoadBalancer", "JoinPool", "JoinPool", "SetClusterIp"]
    stage = plan.actions[0]
    assert isinstance(stage, actions.EnsureLoadBalancer)
    assert (stage.frontend_ip, stage.subnet_id, stage.probe_port, stage.purpose) == (
        None, DR_SUBNET.id, 59999, actions.Purpose.DR)
    assert stage.tags() == {"asr-s2d-cluster": "s2dclu01", "managed-by": "asr-s2d"}
    assert guest_step(plan).ip is None  # the frontend the write returns


@pytest.mark.parametrize(("lb_changes", "why"), [
    ({"ha": False}, "no HA-ports rule"),
    ({"port": 12345}, "another probe port"),
    ({"subnet": TEST_SUBNET}, "frontend in another subnet"),
])
def test_a_load_balancer_that_is_not_right_is_restaged(lb_changes: dict[str, Any], why: str) -> None:
    plan = rd.plan_readdress(view(load_balancer=lb(**lb_changes)), DR)
    assert kinds(plan)[0] == "EnsureLoadBalancer", why


def test_dr_ip_tag_wins_over_the_staged_frontend() -> None:
    tagged = {**TAGS, "asr-s2d-dr-ip": "10.20.1.50", "asr-s2d-probe-port": "60001"}
    plan = rd.plan_readdress(view(nodes=(node(1, tags=tagged), node(2, tags=tagged))), DR)
    assert kinds(plan) == ["EnsureLoadBalancer", "SetClusterIp"]
    stage = plan.actions[0]
    assert isinstance(stage, actions.EnsureLoadBalancer) and (stage.frontend_ip, stage.probe_port) == ("10.20.1.50", 60001)
    assert (guest_step(plan).ip, guest_step(plan).probe_port) == ("10.20.1.50", 60001)


def test_the_guest_step_runs_on_the_first_running_node() -> None:
    plan = rd.plan_readdress(view(nodes=(node(1, power="stopped"), node(2))), DR)
    assert guest_step(plan).vm_name == "s2d-node2"
    stopped = rd.plan_readdress(view(nodes=(node(1, power="stopped"), node(2, power="deallocated"))), DR)
    assert stopped.verdict is rd.Verdict.NOT_YET and stopped.actions == ()


def test_commit_and_failover_signals_are_the_same_failover() -> None:
    assert rd.plan_readdress(view(scenario=Scenario.COMMIT), DR).identity == rd.plan_readdress(view(), DR).identity
    assert rd.plan_readdress(view(job=job(name="job-2")), DR).identity != rd.plan_readdress(view(), DR).identity


# -- never trust the signal -----------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "verdict", "reason"), [
    ({"job": job(state="InProgress")}, rd.Verdict.NOT_YET, "is InProgress"),
    ({"job": job(state="Failed"), "items": (item(1), item(2, state="Protected"))}, rd.Verdict.NOT_YET, "ended Failed"),
    ({"items": (item(1), item(2, state="Protected"))}, rd.Verdict.NOT_YET, "1 of 2 node(s) failed over"),
    ({"items": (item(1, state="Protected"), item(2, state="Protected"))}, rd.Verdict.OVER, "no node is failed over"),
    ({"items": ()}, rd.Verdict.IGNORED, "no protected items"),
    ({"nodes": (node(1),)}, rd.Verdict.NOT_YET, "not found yet"),
    ({"nodes": (node(1), replace(node(2), vm=None))}, rd.Verdict.NOT_YET, "not found yet"),
    ({"nodes": (node(1), replace(node(2), nic=None))}, rd.Verdict.NOT_YET, "have no NIC yet"),
    ({"nodes": (node(1, location="westeurope"), node(2, location="westeurope"))}, rd.Verdict.IGNORED, "failback"),
    ({"subnet": None}, rd.Verdict.NOT_YET, "not readable"),
])
def test_nothing_is_planned_until_every_node_is_really_there(changes: dict[str, Any], verdict: rd.Verdict,
                                                             reason: str) -> None:
    plan = rd.plan_readdress(view(**changes), DR)
    assert plan.verdict is verdict and reason in plan.reason and plan.actions == ()


def test_the_runbook_runs_inside_the_plan_job_so_a_running_job_with_every_node_failed_over_proceeds() -> None:
    running = job(state="InProgress")
    assert rd.plan_readdress(view(job=running, source="runbook"), DR).verdict is rd.Verdict.PROCEED
    partly = view(job=running, source="runbook", items=(item(1), item(2, state="Protected")))
    assert rd.plan_readdress(partly, DR).verdict is rd.Verdict.NOT_YET
    # Mid-job, an item may still show its old state while ASR already reports its recovered VM.
    booted = replace(item(2, state="Protected"), recovery_vm_id=node(2).vm.id if node(2).vm else None)
    assert rd.plan_readdress(view(job=running, source="runbook", items=(item(1), booted)), DR).verdict \
        is rd.Verdict.PROCEED
    assert rd.plan_readdress(view(job=running, items=(item(1), booted)), DR).verdict is rd.Verdict.NOT_YET


def test_without_a_job_the_items_decide_and_the_failover_time_is_the_identity() -> None:
    plan = rd.plan_readdress(view(job=None), DR)
    assert plan.verdict is rd.Verdict.PROCEED and plan.identity == "asr-s2d-s2dclu01|failover|2025-01-01T00:00:00Z"


# -- untrusted input: rejected before anything is written ------------------------------------------

HOSTILE = [
    ("asr-s2d-dr-ip", "10.0.0.5; Remove-Item C:\\ -Recurse"),
    ("asr-s2d-dr-ip", "$(Invoke-WebRequest http://x)"),
    ("asr-s2d-dr-ip", "`whoami`"),
    ("asr-s2d-dr-ip", "10.20.1.5`n"),
    ("asr-s2d-dr-ip", "fd00::5"),
    ("asr-s2d-dr-ip", "10.99.0.5"),  # a well-formed address outside the DR subnet
    ("asr-s2d-dr-ip", "10.20.1.0"),  # reserved by Azure
    ("asr-s2d-dr-ip", "10.20.1.255"),
    ("asr-s2d-dr-ip", "10.20.1.4"),  # node1's NIC
    ("asr-s2d-probe-port", "70000"),
    ("asr-s2d-probe-port", "0"),
    ("asr-s2d-probe-port", "59999; shutdown"),
]


@pytest.mark.parametrize(("tag", "value"), HOSTILE)
def test_hostile_tags_are_rejected(tag: str, value: str) -> None:
    bad = {**TAGS, tag: value}
    with pytest.raises(RejectedInput):
        rd.plan_readdress(view(nodes=(node(1, tags=bad), node(2, tags=bad))), DR)


def test_nodes_that_disagree_on_the_dr_ip_are_rejected() -> None:
    with pytest.raises(RejectedInput, match="disagree"):
        rd.plan_readdress(view(nodes=(node(1, tags={**TAGS, "asr-s2d-dr-ip": "10.20.1.50"}), node(2))), DR)


def test_nics_in_two_subnets_or_in_another_vnet_are_rejected() -> None:
    other = Subnet(f"{DR_VNET}/subnets/snet-other", "10.20.2.0/24")
    with pytest.raises(RejectedInput, match="2 subnets"):
        rd.plan_readdress(view(nodes=(node(1), node(2, subnet=other))), DR)
    with pytest.raises(RejectedInput, match="vnet-dr-test"):
        rd.plan_readdress(view(nodes=(node(1, subnet=TEST_SUBNET), node(2, subnet=TEST_SUBNET)), subnet=TEST_SUBNET), DR)


# -- test failover and cleanup --------------------------------------------------------------------

def test_test_failover_gets_its_own_load_balancer_on_the_dr_address_host_part() -> None:
    plan = rd.plan_readdress(drill_view(), TEST)
    assert kinds(plan) == ["EnsureLoadBalancer", "JoinPool", "JoinPool", "SetClusterIp"]
    stage = plan.actions[0]
    assert isinstance(stage, actions.EnsureLoadBalancer)
    assert (stage.id, stage.frontend_ip, stage.subnet_id, stage.purpose) == (
        TEST_LB_ID, "10.30.1.10", TEST_SUBNET.id, actions.Purpose.TEST)
    assert stage.tags()["asr-s2d-purpose"] == "test-failover"
    assert all(a.pool_id == TEST.pool_id for a in plan.actions if isinstance(a, actions.JoinPool))
    assert (guest_step(plan).ip, guest_step(plan).vm_name) == ("10.30.1.10", "s2d-node1-test")
    assert not any(LB_ID + "/" in str(a) or getattr(a, "id", "") == LB_ID for a in plan.actions)


def test_test_failover_keeps_an_existing_test_frontend_and_mirrors_the_tag() -> None:
    existing = lb(TEST_LB_ID, ip="10.30.1.77", subnet=TEST_SUBNET)
    plan = rd.plan_readdress(drill_view(load_balancer=existing), TEST)
    assert kinds(plan) == ["JoinPool", "JoinPool", "SetClusterIp"] and guest_step(plan).ip == "10.30.1.77"
    tagged = {**TAGS, "asr-s2d-dr-ip": "10.20.1.60"}
    nodes = tuple(replace(n, vm=replace(n.vm, tags=frozen_tags(tagged))) for n in drill_view().nodes if n.vm)
    assert guest_step(rd.plan_readdress(drill_view(nodes=nodes), TEST)).ip == "10.30.1.60"


def test_test_failover_takes_the_first_free_address_when_the_host_part_does_not_fit() -> None:
    small = Subnet(TEST_SUBNET.id, "10.30.1.0/28")
    nodes = tuple(replace(n, nic=replace(n.nic, private_ip=f"10.30.1.{3 + i}")) for i, n in
                  enumerate(drill_view().nodes, start=1) if n.nic)
    plan = rd.plan_readdress(drill_view(subnet=small, nodes=nodes, dr_load_balancer=lb(ip="10.20.1.20")), TEST)
    stage = plan.actions[0]
    assert isinstance(stage, actions.EnsureLoadBalancer) and stage.frontend_ip is None


def test_a_test_failover_whose_mirrored_address_was_taken_asks_azure_for_the_first_free_one() -> None:
    """Drills side by side share the test subnet: another cluster's test VM may hold the mirrored address by the time
    the write lands (PrivateIPAddressInUse). The service then re-plans with ``mirror`` off: Azure allocates."""
    plan = rd.plan_readdress(drill_view(), replace(TEST, mirror=False))
    stage = plan.actions[0]
    assert isinstance(stage, actions.EnsureLoadBalancer) and stage.frontend_ip is None
    assert guest_step(plan).ip is None  # the frontend the write returns


@pytest.mark.parametrize(("states", "verdict"), [
    (("None", "None"), rd.Verdict.OVER),
    (("WaitingForCompletion", "None"), rd.Verdict.NOT_YET),
    (("MarkedForDeletion", "MarkedForDeletion"), rd.Verdict.OVER),
])
def test_a_test_failover_signal_after_cleanup_or_midway_plans_nothing(states: tuple[str, str],
                                                                     verdict: rd.Verdict) -> None:
    items = tuple(item(n, state="Protected", test_state=s) for n, s in zip((1, 2), states, strict=True))
    plan = rd.plan_readdress(drill_view(items=items), TEST)
    assert plan.verdict is verdict and plan.actions == ()


def cleanup_view(**changes: Any) -> rd.FailoverView:
    base = rd.FailoverView(cluster="s2dclu01", scenario=Scenario.CLEANUP, source="event", plan=PLAN,
                           items=(item(1, state="Protected"), item(2, state="Protected")),
                           job=job("TestFailoverCleanup"), load_balancer=lb(TEST_LB_ID, subnet=TEST_SUBNET))
    return replace(base, **changes)


def test_cleanup_removes_only_asr_s2ds_own_empty_test_load_balancer() -> None:
    plan = rd.plan_readdress(cleanup_view(), TEST)
    assert plan.actions == (actions.RemoveTestLoadBalancer(TEST_LB_ID),)
    foreign = rd.plan_readdress(cleanup_view(load_balancer=lb(TEST_LB_ID, owner=None)), TEST)
    assert foreign.actions == () and [f.code for f in foreign.findings] == ["test-lb-not-ours"]
    assert rd.plan_readdress(cleanup_view(load_balancer=None), TEST).actions == ()
    busy = rd.plan_readdress(cleanup_view(load_balancer=lb(TEST_LB_ID, members=("nic",))), TEST)
    assert busy.verdict is rd.Verdict.NOT_YET and busy.actions == ()
    waiting = cleanup_view(items=(item(1, state="Protected", test_state="WaitingForCompletion"), item(2)))
    assert rd.plan_readdress(waiting, TEST).verdict is rd.Verdict.NOT_YET


# -- the values that reach the script ---------------------------------------------------------------

def _script_patterns() -> dict[str, str]:
    text = SCRIPT.read_text()
    return {m.group(2): m.group(1) for m in re.finditer(r"\[ValidatePattern\('([^']+)'\)\]\s*\[string\]\$(\w+)", text)}


def test_python_checks_the_same_patterns_the_script_declares() -> None:
    assert _script_patterns() == {"IPAddress": rd.IPV4_PATTERN, "SubnetPrefix": rd.PREFIX_PATTERN,
                                  "RoleAddresses": rd.ROLE_ADDRESSES_PATTERN}


SQL = rd.RoleMove("10.10.1.11", "10.20.1.11", 59998)


@pytest.mark.parametrize(("ip", "port", "prefix", "roles", "ok"), [
    ("10.20.1.10", 59999, "10.20.1.0/24", (), True),
    ("10.20.1.10", 1, "10.20.1.0/24", (SQL,), True),
    ("10.20.1.10", 59999, "10.20.1.0/24", (SQL, rd.RoleMove("10.10.1.12", "10.20.1.12", 59997)), True),
    ("10.20.1.10", 59999, "10.20.1.0/24", (rd.RoleMove("10.10.1.11", "10.20.2.11", 59998),), False),
    ("10.20.1.10", 59999, "10.20.1.0/24", (rd.RoleMove("10.10.1.11", "10.20.1.10", 59998),), False),
    ("10.20.1.10", 59999, "10.20.1.0/24", (SQL, rd.RoleMove("10.10.1.12", "10.20.1.11", 59997)), False),
    ("10.20.1.10", 59999, "10.20.1.0/24", (rd.RoleMove("10.10.1.11", "10.20.1.11", 0),), False),
    ("10.20.1.10", 59999, "10.20.1.0/24", (rd.RoleMove("10.10.1.11;x", "10.20.1.11", 59998),), False),
    ("10.20.1.10", 59999, "10.20.1.0/24", tuple(rd.RoleMove(f"10.10.1.{n}", f"10.20.1.{n}", 59998)
                                                for n in range(20, 37)), False),
    ("10.20.1.10", 65536, "10.20.1.0/24", (), False),
    ("10.20.1.10", 0, "10.20.1.0/24", (), False),
    ("10.20.1.10", True, "10.20.1.0/24", (), False),
    ("10.20.2.10", 59999, "10.20.1.0/24", (), False),
    ("10.20.1.3", 59999, "10.20.1.0/24", (), False),
    ("010.20.1.10", 59999, "10.20.1.0/24", (), False),
    ("10.20.1.10 ", 59999, "10.20.1.0/24", (), False),
    ("10.20.1.10", 59999, "10.20.1.0/33", (), False),
    ("10.20.1.10", 59999, "10.20.1.0/24; x", (), False),
])
def test_script_parameters(ip: str, port: int, prefix: str, roles: tuple[rd.RoleMove, ...], ok: bool) -> None:
    if ok:
        params = rd.script_parameters(ip=ip, probe_port=port, subnet_prefix=prefix, roles=roles)
        assert params["IPAddress"] == ip and params["ProbePort"] == str(port) and params["SubnetPrefix"] == prefix
        assert params.get("RoleAddresses", "") == ",".join(f"{r.source}={r.ip}:{r.probe_port}" for r in roles)
    else:
        with pytest.raises(RejectedInput):
            rd.script_parameters(ip=ip, probe_port=port, subnet_prefix=prefix, roles=roles)


@pytest.mark.parametrize(("stdout", "status"), [
    ('moved\n{"status":"changed","resources":[]}\n', "changed"),
    ('{"status":"no-ip-resource","reason":"dnn"}', "no-ip-resource"),
    ('{"status":"unchanged"}\n\n  \n', "unchanged"),
    ('{"status":"not-ready","reason":"the cluster service (ClusSvc) is StartPending"}', "not-ready"),
    # Run Command keeps the last 4,096 bytes: the head of the first line may be cut, never the result line.
    ("ING: " + "w" * 5000 + '\n{"status":"changed","resources":[]}', "changed"),
    ("", "failed"),
    ("Cannot validate argument on parameter 'IPAddress'", "failed"),
    ('{"status":"weird"}', "failed"),
    ('["changed"]', "failed"),
])
def test_parse_script_result(stdout: str, status: str) -> None:
    assert rd.parse_script_result(stdout)["status"] == status


@pytest.mark.parametrize(("dr_ip", "dr_prefix", "test_prefix", "taken", "expected"), [
    ("10.20.1.10", "10.20.1.0/24", "10.30.1.0/24", set(), "10.30.1.10"),
    ("10.20.1.10", "10.20.1.0/24", "10.30.1.0/24", {"10.30.1.10"}, None),
    ("10.20.1.200", "10.20.1.0/24", "10.30.1.0/25", set(), None),
    ("10.20.1.15", "10.20.1.0/24", "10.30.1.0/28", set(), None),  # broadcast of the /28
])
def test_mirrored_address(dr_ip: str, dr_prefix: str, test_prefix: str, taken: set[str], expected: str | None) -> None:
    assert rd.mirrored_address(dr_ip, dr_prefix, test_prefix, taken) == expected


# -- the failback: home to the address the load balancer there holds -------------------------------------

PROD_RG = f"/subscriptions/{SUB}/resourceGroups/rg-s2d-prod"
HOME_SUBNET = Subnet(f"{PROD_RG}/providers/Microsoft.Network/virtualNetworks/vnet-prod/subnets/snet-s2d", "10.10.1.0/24")
HOME_LB_ID = f"{PROD_RG}/providers/Microsoft.Network/loadBalancers/lb-s2d-cluster"
HOME = rd.ReaddressSpec(target_region="westeurope", vnet_id="", lb_id=HOME_LB_ID, way_back=True)


def failback_view(**changes: Any) -> rd.FailoverView:
    """The reprotected cluster failed back into its original VMs, whose NICs the original load balancer fronts."""
    pools = (f"{HOME_LB_ID}/backendAddressPools/backend",)
    items = (item(1, state="PlannedFailoverCommitPendingStatesBegin"),
             item(2, state="PlannedFailoverCommitPendingStatesBegin"))
    nodes = tuple(node(n, subnet=HOME_SUBNET, pools=pools, location="westeurope", scenario_item=items[n - 1],
                       tags={**TAGS, "asr-s2d-dr-ip": "10.20.1.50"}) for n in (1, 2))
    home = replace(lb(HOME_LB_ID, ip="10.10.1.10", subnet=HOME_SUBNET, port=59001, owner=None),
                   pool_id=f"{HOME_LB_ID}/backendAddressPools/backend")
    base = rd.FailoverView(cluster="s2dclu01", scenario=Scenario.FAILOVER, source="event", plan=PLAN, items=items,
                           job=job("PlannedFailover"), nodes=nodes, subnet=HOME_SUBNET, load_balancer=home,
                           trusted=TRUSTED)
    return replace(base, **changes)


def test_a_failback_moves_the_cluster_ip_home_and_never_rewrites_the_load_balancer_there() -> None:
    plan = rd.plan_readdress(failback_view(), HOME)
    # The DR IP tag means nothing at home; the guest answers the probe the home load balancer sends.
    assert plan.verdict is rd.Verdict.PROCEED and kinds(plan) == ["SetClusterIp"]
    step = guest_step(plan)
    assert (step.ip, step.probe_port, step.subnet_prefix) == ("10.10.1.10", 59001, "10.10.1.0/24")


def test_a_failback_node_outside_the_home_pool_joins_it_and_the_pool_is_the_load_balancers_own() -> None:
    nodes = failback_view().nodes
    plan = rd.plan_readdress(failback_view(nodes=(nodes[0], replace(nodes[1], nic=replace(nodes[1].nic, pool_ids=())))),
                             HOME)
    assert kinds(plan) == ["JoinPool", "SetClusterIp"]
    assert plan.actions[0].pool_id == f"{HOME_LB_ID}/backendAddressPools/backend"  # type: ignore[union-attr]


def test_a_failback_with_no_load_balancer_at_home_moves_nothing_and_says_why() -> None:
    plan = rd.plan_readdress(failback_view(load_balancer=None), HOME)
    assert plan.verdict is rd.Verdict.IGNORED and plan.actions == ()
    [finding] = plan.findings
    assert finding.code == "failback-lb-missing" and "reassign-ip s2dclu01" in finding.fix


@pytest.mark.parametrize(("result", "ok"), [
    ({"status": "changed", "resources": [{"name": "Cluster IP Address", "address": "10.20.1.10"}]}, True),
    ({"status": "changed"}, False),  # a guest that only says "changed"
    ({"status": "changed", "resources": [{"name": "Cluster IP Address", "address": "10.20.1.99"}]}, False),
    ({"status": "unchanged", "resources": "10.20.1.10"}, False),
    (None, False),
])
def test_the_guests_report_counts_only_when_it_names_the_address_arm_answers_on(result: Any, ok: bool) -> None:
    assert rd.guest_reports_ip(result, "10.20.1.10") is ok


def test_a_plan_job_that_failed_after_every_node_failed_over_does_not_block_the_ip_step() -> None:
    """A post-action runbook step can fail the plan's job; every item is *CommitPending: the failover happened."""
    plan = rd.plan_readdress(view(job=job(state="Failed")), DR)
    assert plan.verdict is rd.Verdict.PROCEED and kinds(plan) == ["SetClusterIp"]
