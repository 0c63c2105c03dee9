"""Never a false green (issue 16): each way the audit or the CLI could say "all well" while a cluster is not
protected, played on the emulator through the real services and the real CLI, with the operator's settings in
the environment (what the Functions host or a shell gives the app)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from emulator import Emulator
from emulator.clients import control
from emulator.core.faults import FaultRule
from shared.audit import service as audit
from shared.audit import status_page
from shared.cli import main as cli
from shared.cli.output import EXIT_BAD_INPUT, EXIT_CRITICAL, EXIT_FAILED, EXIT_RETRY
from shared.runtime import Runtime
from tests.functions.conftest import tag, writes_since
from tests.functions.drift_world import CLUSTER, set_tags
from tests.functions.drill_world import World


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def blob_names(rt: Runtime) -> set[str]:
    return set(rt.blobs.list_names(""))


# -- a typo is never silence ---------------------------------------------------------------------------------

def test_a_near_miss_tag_is_a_critical_finding_a_rejected_event_and_a_non_zero_exit(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, app_settings: dict[str, str],
        operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]],
        capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    event_queue()
    for vm_id in demo["vm_ids"]:
        tag(operator_sdk, vm_id, {"asr-s2d": "ture", "asr-s2d-cluster": CLUSTER})
    events = tmp_path / "events.json"
    events.write_text(json.dumps(event_queue()))

    code, out, err = run_cli(capsys, "handle-event", str(events))
    assert code == EXIT_BAD_INPUT and "asr-s2d='ture' is neither 'true' nor 'false'" in out, (out, err)

    report = audit.run_audit(runtime)
    near = [f for f in report.findings if f.code == "tag-near-miss"]
    assert sorted(f.subject for f in near) == ["s2d-node1", "s2d-node2"] and all(
        f.severity.value == "critical" and "ture" in f.message for f in near)
    assert report.critical and run_cli(capsys, "audit")[0] == EXIT_CRITICAL


# -- an audit that cannot read fails loudly ----------------------------------------------------------------

def test_an_audit_that_cannot_list_the_vms_exits_1_and_keeps_the_last_complete_report(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime, app_settings: dict[str, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    complete = audit.run_audit(runtime)
    before = runtime.blobs.get_json("audits/latest.json")
    assert before is not None and complete.clusters
    emu.faults.add(FaultRule(action="status", status=403, code="AuthorizationFailed", method="GET",
                             message="The client does not have authorization to perform action "
                                     "'Microsoft.Compute/virtualMachines/read'",
                             path=r"/providers/Microsoft\.Compute/virtualMachines$"))

    code, out, err = run_cli(capsys, "audit")
    with pytest.raises(audit.AuditIncomplete):
        audit.run_audit(runtime)

    assert code == EXIT_FAILED and "AuthorizationFailed" in err and "0 clusters" not in out
    after = runtime.blobs.get_json("audits/latest.json")
    assert after is not None and after.body == before.body  # the last complete report stands
    attempt = runtime.blobs.get_json("audits/last-attempt.json")
    assert attempt is not None and attempt.body["complete"] is False and "AuthorizationFailed" in attempt.body["error"]
    # The page says so, critical, with the time of the last good audit, and still shows that audit's clusters.
    page = status_page.render_latest(runtime)
    assert 'id="audit-failed"' in page and "CRITICAL: the last audit failed" in page and "AuthorizationFailed" in page
    assert "This page shows the last complete audit, which finished" in page and "s2dclu01" in page


# -- a cluster that vanished from the tags is lost, not gone --------------------------------------------------

def test_an_enrolled_cluster_whose_tags_vanished_is_lost_and_red(
        emu: Emulator, converged: dict[str, Any], runtime: Runtime) -> None:
    for vm_id in converged["vm_ids"]:
        set_tags(emu, vm_id, **{"asr-s2d": None, "asr-s2d-cluster": None})
    report = audit.run_audit(runtime)
    [lost] = report.clusters
    assert (lost.name, lost.status, [f.code for f in lost.findings]) == (CLUSTER, "red", ["cluster-lost"])
    assert len(lost.nodes) == 2 and report.critical


# -- the CLI in a disaster ---------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["reassign-ip", "nosuch"], ["drill", "nosuch"], ["reprotect", "nosuch"],
                                  ["nodes", "list", "nosuch"], ["plan", "nosuch"]])
def test_an_unknown_cluster_exits_2_and_leaves_no_record(
        argv: list[str], emu: Emulator, converged: dict[str, Any], runtime: Runtime, app_settings: dict[str, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    before, seq = blob_names(runtime), emu.journal.last_seq
    code, _out, err = run_cli(capsys, *argv)
    assert code == EXIT_BAD_INPUT and "nosuch" in err, err
    assert blob_names(runtime) == before and writes_since(emu, seq) == []


def test_reassign_ip_before_the_failover_finished_exits_4(
        emu: Emulator, demo: dict[str, Any], runtime: Runtime, app_settings: dict[str, str],
        operator_sdk: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    world = World(emu, demo, runtime, operator_sdk)
    world.enroll()
    control(emu, "PUT", "config", {"lro_polls": 1000})  # the failover job stays InProgress
    world.unplanned_failover(wait=False)

    code, _out, err = run_cli(capsys, "reassign-ip", CLUSTER)

    assert code == EXIT_RETRY and "InProgress" in err, err
