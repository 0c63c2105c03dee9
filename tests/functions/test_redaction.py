"""One redaction for every output, end to end on the emulator + Azurite: a secret that reaches the app inside an
ARM error message or a guest script's output lands nowhere the app writes or answers (every blob of the state
container, the custom topic's events, the runbook's HTTP answer, the CLI's stdout and stderr, the status page),
while the words around it still do, so the operator still reads what went wrong.

Secrets arrive the way they would: an emulator fault rule answers the app's ARM request with an error whose
message quotes a storage connection string, a SAS URL, a JWT and the topic's own key; the guest model names a
cluster network (failover) or the storage pool (drill) after such values, and the shipped scripts print them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator import Emulator
from emulator.clients import control
from emulator.core.faults import FaultRule
from shared.audit import service as audit
from shared.audit import status_page
from shared.cli import main as cli
from shared.drill import service as drill
from shared.failover import service as failover
from shared.runtime import Runtime
from tests.functions.conftest import process_settings
from tests.functions.drill_world import CLUSTER, PLAN, World
from tests.work import runbook

TOPIC_KEY = "topic-key"  # the test topic's key: a setting declared secret, masked as a literal wherever it appears
KEY = "c2VjcmV0LWFjY291bnQta2V5LWJ5dGVz"
SIG = "Zm9vYmFyYmF6cXV4c2lnbmF0dXJl"
JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJvaWQiOiI1YjhjMmQxZSIsImFwcGlkIjoiZDNiMDczODQifQ."
       "c2lnbmF0dXJlLWJ5dGVzLXNpZ25hdHVyZQ")
SECRETS = {"account key": KEY, "SAS signature": SIG, "JWT": JWT[:24], "topic key": TOPIC_KEY}
CONNECTION = f"DefaultEndpointsProtocol=https;AccountName=st1;AccountKey={KEY};EndpointSuffix=core.windows.net"
SAS = f"https://st1.blob.core.windows.net/c/b?sv=2024-11-04&sr=b&sp=r&sig={SIG}"
WORDS = "does not have authorization to perform this action"
MESSAGE = f"The client {WORDS}; the storage account said {CONNECTION} and {SAS}, token {JWT}, key {TOPIC_KEY}"
ACTION = "Microsoft.Resources.ResourceActionSuccess"


@pytest.fixture
def topic_env(env: dict[str, str], topic: dict[str, Any]) -> dict[str, str]:
    return {**env, "EVENT_GRID_TOPIC_ENDPOINT": topic["endpoint"], "EVENT_GRID_TOPIC_KEY": TOPIC_KEY,
            "ARM_CA_BUNDLE": topic["ca_bundle"]}


@pytest.fixture
def rt(topic_env: dict[str, str], make_runtime: Callable[..., Runtime]) -> Runtime:
    """The app's runtime on the test's state container, publishing to the test topic."""
    return make_runtime(**{k: v for k, v in topic_env.items() if k.startswith(("EVENT_GRID", "ARM_CA"))})


@pytest.fixture
def shell(topic_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The operator's shell: the same settings in the environment, for the CLI."""
    yield from process_settings(topic_env, monkeypatch)


@pytest.fixture
def world(emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any]) -> World:
    return World(emu, demo, runtime, operator_sdk)


def context() -> bytes:
    return json.dumps({"RecoveryPlanName": PLAN, "FailoverType": "Unplanned", "FailoverDirection": "PrimaryToSecondary",
                       "GroupId": "1", "VmMap": {}}).encode()


def failover_event(queue: Callable[[], list[dict[str, Any]]]) -> dict[str, Any]:
    [event] = [e for e in queue() if e["eventType"] == ACTION and "replicationrecoveryplans" in
               e["data"]["operationName"].lower()]
    return event


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``asr-s2d ARGV`` in this process: its exit code, stdout and stderr."""
    capsys.readouterr()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stored(rt: Runtime, blob_service: Any) -> dict[str, str]:
    """Every blob of the state container as text (records, notes, reports, drills, markers; locks are empty)."""
    container = blob_service.get_container_client(rt.settings.state_container)
    return {b.name: container.download_blob(b.name).readall().decode() for b in container.list_blobs()}


def assert_nowhere(outputs: dict[str, str]) -> None:
    leaks = [(where, name) for where, text in outputs.items() for name, secret in SECRETS.items() if secret in text]
    assert not leaks, leaks


# -- through ARM error messages --------------------------------------------------------------------------

def test_a_secret_in_an_arm_error_message_is_recorded_answered_published_printed_and_shown_masked(
        world: World, rt: Runtime, shell: None, topic: dict[str, Any], blob_service: Any,
        event_queue: Callable[[], list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]) -> None:
    world.enroll()
    world.unplanned_failover()
    event = failover_event(event_queue)
    denied = world.emu.faults.add(FaultRule(action="status", status=403, code="AuthorizationFailed", message=MESSAGE,
                                            method="GET", path=r"/replicationProtectedItems$"))

    outcome = failover.handle(event, rt)
    status, body = runbook(context(), rt)
    cli_json = run_cli(capsys, "reassign-ip", CLUSTER, "--json")
    cli_table = run_cli(capsys, "reassign-ip", CLUSTER)
    world.emu.faults.clear()
    world.emu.faults.add(FaultRule(action="status", status=403, code="AuthorizationFailed", message=MESSAGE,
                                   method="GET", path=r"/providers/Microsoft\.Compute/virtualMachines$"))
    with pytest.raises(audit.AuditIncomplete) as incomplete:  # an audit that cannot read fails, loudly
        audit.run_audit(rt, trigger="test")
    cli_audit = run_cli(capsys, "audit")
    world.emu.faults.clear()
    page = status_page.render_latest(rt)

    assert denied.hits == 4  # the event, the runbook and both CLI runs each met the error once
    assert outcome.kind == "failed" and status == 500 and cli_json[0] == cli_table[0] == 1 and cli_audit[0] == 1
    blobs = stored(rt, blob_service)
    outputs = {**blobs, "topic events": json.dumps(topic["events"]), "runbook answer": json.dumps(body),
               "cli reassign-ip --json": cli_json[1] + cli_json[2], "cli reassign-ip": cli_table[1] + cli_table[2],
               "cli audit": cli_audit[1] + cli_audit[2], "status page": page, "outcome": outcome.reason,
               "audit error": str(incomplete.value)}
    assert_nowhere(outputs)
    # What went wrong still reads in full, with the masks where the secrets were.
    masked = "AccountKey=***;EndpointSuffix=core.windows.net and https://st1.blob.core.windows.net/c/b?sv=2024-11-04"
    for where in ("topic events", "runbook answer", "cli reassign-ip --json", "cli audit", "audit error",
                  "audits/last-attempt.json", "status page"):
        assert WORDS in outputs[where] and "AuthorizationFailed" in outputs[where], where
    assert masked in outcome.reason and "sig=*** token ***, key ***" in outcome.reason
    assert masked in body["reason"] and masked in json.loads(cli_json[1])["reason"]
    records = [json.loads(text) for name, text in blobs.items()
               if name.startswith("outcomes/") or (name.startswith("clusters/") and "/last-" in name)]
    failed = [r for r in records if r.get("outcome") == "failed"]
    assert len(failed) >= 4 and all(WORDS in r["reason"] and masked in r["reason"] for r in failed)
    assert any(n.endswith("/last-event.json") for n in blobs) and "audits/latest.json" not in blobs  # no partial report
    assert any(WORDS in e["data"]["reason"] for e in topic["events"])


# -- through guest output -----------------------------------------------------------------------------------

def test_a_secret_in_the_guests_output_at_failover_lands_nowhere(
        world: World, rt: Runtime, shell: None, topic: dict[str, Any], blob_service: Any,
        event_queue: Callable[[], list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]) -> None:
    world.enroll()
    world.unplanned_failover()
    event = failover_event(event_queue)
    # The recovered cluster's networks no longer fit the DR subnet, and one is named after secrets: the shipped
    # set_cluster_ip.ps1 fails and lists the networks it found in its reason.
    recovered = [i.recovery_vm_id for i in rt.asr.list_items()]
    control(world.emu, "PATCH", "guest", {"networks": [
        {"name": "Cluster Network 1", "address": "10.99.1.0"},
        {"name": f"net {CONNECTION} {SAS} {JWT} {TOPIC_KEY}", "address": "10.98.1.0", "prefix_length": 24,
         "role": "Cluster"}]}, id=str(recovered[0]))

    outcome = failover.handle(event, rt)
    status, body = runbook(context(), rt)
    cli_json = run_cli(capsys, "reassign-ip", CLUSTER, "--json")

    assert outcome.kind == "failed" and status == 500 and cli_json[0] == 1
    assert "no cluster network matches 10.20.1.0/24" in outcome.reason and "AccountKey=***" in outcome.reason
    outputs = {**stored(rt, blob_service), "topic events": json.dumps(topic["events"]),
               "runbook answer": json.dumps(body), "cli": cli_json[1] + cli_json[2],
               "outcome": json.dumps(outcome.to_json())}
    assert_nowhere(outputs)
    for where in ("topic events", "runbook answer", "cli"):
        assert "no cluster network matches 10.20.1.0/24" in outputs[where] and "net DefaultEndpointsProtocol" in \
            outputs[where], where


def test_a_secret_in_the_guests_health_report_at_a_drill_lands_nowhere(
        world: World, rt: Runtime, shell: None, topic: dict[str, Any], blob_service: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    world.enroll()
    # cluster_health.ps1 cuts names to 48 characters: a pool named after an account key still fits its shape. A
    # degraded pool fails the drill, so its name is quoted in the reason and on the status page too.
    world.degrade({"pool": {"name": f"p AccountKey={KEY}", "health": "Degraded"}})

    record = drill.run_drill(CLUSTER, rt)
    audit.run_audit(rt, trigger="test")
    page = status_page.render_latest(rt)
    code, printed, progress = run_cli(capsys, "drill", CLUSTER, "--json")

    assert record.result.value == "failed" and code == 1
    assert record.reason == "storage-pool: pool 'p AccountKey=***' Degraded"
    outputs = {**stored(rt, blob_service), "topic events": json.dumps(topic["events"]), "status page": page,
               "cli drill": printed + progress}
    assert_nowhere(outputs)
    assert "p AccountKey=***" in page and "p AccountKey=***" in json.dumps(json.loads(printed))
    assert any("p AccountKey=***" in json.dumps(e["data"]) for e in topic["events"])
