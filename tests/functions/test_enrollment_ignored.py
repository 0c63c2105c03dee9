"""What enrollment must ignore or refuse: with a recorded reason, zero writes, and no crash."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.mgmt.resource.resources import ResourceManagementClient

from emulator import Emulator
from emulator.core.identity import APP_PRINCIPAL_ID
from shared.enrollment import service as enrollment
from shared.runtime import Runtime
from tests.functions.conftest import writes_since
from tests.functions.test_enrollment import CLUSTER_TAGS, tag

ROOT = Path(__file__).resolve().parents[2]
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def one_tag_event(operator_sdk: Callable[..., Any], vm_id: str, queue: Callable[[], list[dict[str, Any]]],
                  tags: dict[str, str] | None = None) -> dict[str, Any]:
    tag(operator_sdk, vm_id, tags or CLUSTER_TAGS)
    events = queue()
    assert len(events) == 1
    return events[0]


def handle_without_writes(emu: Emulator, rt: Runtime, event: Any) -> Any:
    seq = emu.journal.last_seq
    outcome = enrollment.handle(event, rt)
    assert writes_since(emu, seq) == []
    return outcome


def test_non_vm_resource_events_are_ignored(emu: Emulator, demo: dict[str, Any], runtime: Runtime,
                                            operator_sdk: Callable[..., Any],
                                            event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    event = one_tag_event(operator_sdk, demo["nic_ids"][0], event_queue)
    outcome = handle_without_writes(emu, runtime, event)
    assert outcome.kind == "ignored" and "not a VM" in outcome.reason


def test_disallowed_subscription_is_ignored(emu: Emulator, demo: dict[str, Any], make_runtime: Callable[..., Runtime],
                                            operator_sdk: Callable[..., Any],
                                            event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    event = one_tag_event(operator_sdk, demo["vm_ids"][0], event_queue)
    rt = make_runtime(ALLOWED_SUBSCRIPTION_IDS="00000000-0000-0000-0000-000000000001")
    outcome = handle_without_writes(emu, rt, event)
    assert outcome.kind == "ignored" and "ALLOWED_SUBSCRIPTION_IDS" in outcome.reason


def test_own_identity_events_are_ignored(emu: Emulator, demo: dict[str, Any], runtime: Runtime,
                                         sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    client = sdk(ResourceManagementClient)  # the app's own managed identity
    client.tags.begin_update_at_scope(demo["vm_ids"][0], {"operation": "Merge",
                                                          "properties": {"tags": CLUSTER_TAGS}}).result()
    event = event_queue()[0]
    assert event["data"]["claims"][OID] == APP_PRINCIPAL_ID
    outcome = handle_without_writes(emu, runtime, event)
    assert outcome.kind == "ignored" and "own identity" in outcome.reason


def test_dr_region_vm_is_ignored(emu: Emulator, demo: dict[str, Any], runtime: Runtime,
                                 operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    from emulator.providers.compute.state import create_vm
    from emulator.providers.network.state import create_nic

    with emu.world.lock:
        nic = create_nic(emu.world, subscription_id=demo["subscription_id"], resource_group=demo["dr_resource_group"],
                         name="dr-vm-nic", location="northeurope", subnet_id=demo["recovery_subnet_id"])
        vm = create_vm(emu.world, subscription_id=demo["subscription_id"], resource_group=demo["dr_resource_group"],
                       name="s2d-node1", location="northeurope", nic_ids=[nic["id"]], tags=dict(CLUSTER_TAGS))
    event = one_tag_event(operator_sdk, vm["id"], event_queue)
    outcome = handle_without_writes(emu, runtime, event)
    assert outcome.kind == "ignored" and "target region" in outcome.reason


def test_other_operations_are_ignored(emu: Emulator, demo: dict[str, Any], runtime: Runtime,
                                      operator_sdk: Callable[..., Any],
                                      event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    event = copy.deepcopy(one_tag_event(operator_sdk, demo["vm_ids"][0], event_queue))
    event["data"]["operationName"] = "Microsoft.Compute/virtualMachines/restart/action"
    event["eventType"] = "Microsoft.Resources.ResourceActionSuccess"
    assert handle_without_writes(emu, runtime, event).kind == "ignored"


def test_malformed_event_is_a_recorded_rejection(emu: Emulator, demo: dict[str, Any], runtime: Runtime) -> None:
    outcome = handle_without_writes(emu, runtime, {"id": "bad-1", "eventType": "x", "data": "nope"})
    assert outcome.kind == "rejected" and "malformed" in outcome.reason
    names = runtime.blobs.list_names("outcomes/")
    stored = [runtime.blobs.get_json(n) for n in names]
    assert any(d is not None and d.body["event_id"] == "bad-1" and d.body["outcome"] == "rejected" for d in stored)


def test_hostile_tag_values_are_rejected_without_writes(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
        event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    event = one_tag_event(operator_sdk, demo["vm_ids"][0], event_queue,
                          {**CLUSTER_TAGS, "asr-s2d-dr-ip": "10.0.0.5; Remove-Item C:\\ -Recurse"})
    outcome = handle_without_writes(emu, runtime, event)
    assert outcome.kind == "rejected" and "asr-s2d-dr-ip" in outcome.reason


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "shared.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_cli_handle_event_prints_one_line_per_event_and_exit_codes(
        tmp_path: Path, emu: Emulator, demo: dict[str, Any], env: dict[str, str], operator_sdk: Callable[..., Any],
        event_queue: Callable[[], list[dict[str, Any]]]) -> None:
    for vm_id in demo["vm_ids"]:
        tag(operator_sdk, vm_id, CLUSTER_TAGS)
    good = tmp_path / "events.json"
    good.write_text(json.dumps(event_queue()))
    done = _cli(["handle-event", str(good)], env)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["outcome"] for line in lines] == ["enabled", "unchanged"]
    assert set(lines[0]) == {"event_id", "outcome", "reason", "cluster", "writes"}

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    done = _cli(["handle-event", str(broken)], env)
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.strip().splitlines()) == 1

    malformed = tmp_path / "malformed.json"
    malformed.write_text(json.dumps([{"id": "m1", "eventType": "x", "data": []}]))
    done = _cli(["handle-event", str(malformed)], env)
    assert done.returncode == 2 and json.loads(done.stdout)["outcome"] == "rejected"


def test_cli_plan_shows_the_plan_without_writing(emu: Emulator, demo: dict[str, Any], env: dict[str, str],
                                                 operator_sdk: Callable[..., Any]) -> None:
    for vm_id in demo["vm_ids"]:
        tag(operator_sdk, vm_id, CLUSTER_TAGS)
    seq = emu.journal.last_seq
    done = _cli(["plan", "s2dclu01", "--json"], env)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert any(a.startswith("enable replication of s2d-node1") for a in plan["actions"])
    assert writes_since(emu, seq) == []
    done = _cli(["plan", "no-such-cluster"], env)
    assert done.returncode == 2 and "no tagged cluster named no-such-cluster" in done.stderr


def test_cli_plan_of_a_rejected_cluster_says_why(emu: Emulator, demo: dict[str, Any], env: dict[str, str],
                                                 operator_sdk: Callable[..., Any]) -> None:
    """A cluster the planner refuses is not "no enrolled cluster": plan names it and the reason (here: the nodes
    disagree on asr-s2d-dr-ip), exit 2, nothing written."""
    tag(operator_sdk, demo["vm_ids"][0], {**CLUSTER_TAGS, "asr-s2d-dr-ip": "10.20.1.10"})
    tag(operator_sdk, demo["vm_ids"][1], {**CLUSTER_TAGS, "asr-s2d-dr-ip": "10.20.1.11"})
    seq = emu.journal.last_seq
    done = _cli(["plan", "s2dclu01"], env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "s2dclu01" in done.stderr and "asr-s2d-dr-ip" in done.stderr, done.stderr
    assert writes_since(emu, seq) == []
