"""``asr-s2d worker``, ``asr-s2d status`` and ``--no-wait``, through the real CLI on the emulator + Azurite (its real
queue service): the operator's settings in the environment, as a shell gives them; no mocks.

Everything here runs on the emulator's instant clock, where a Site Recovery job has ended by the time it is looked at:
an enrollment is one message, so ``worker --until-idle`` never waits out a delayed look.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator
from emulator.azurite import ACCOUNT, KEY
from shared.cli import main as cli
from shared.cli.output import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from shared.runtime import Runtime
from shared.work import item as items
from tests.functions.conftest import tag
from tests.functions.drill_world import CLUSTER, TAGS


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def queue(runtime: Runtime) -> Runtime:
    """The test's work queue and its poison queue exist (infra/modules/app.bicep creates both in Azure)."""
    runtime.queue.ensure()
    return runtime


@pytest.fixture
def tag_events(demo: dict[str, Any], operator_sdk: Callable[..., Any], event_queue: Callable[[], list[dict[str, Any]]],
               tmp_path: Path) -> Path:
    """The operator tags both nodes into the cluster; ARM's events for it, in a file (as a dead-letter batch)."""
    event_queue()
    for vm_id in demo["vm_ids"]:
        tag(operator_sdk, vm_id, TAGS)
    path = tmp_path / "events.json"
    path.write_text(json.dumps(event_queue()))
    return path


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_no_wait_enqueues_the_worker_enrolls_and_status_lists_it(
        emu: Emulator, demo: dict[str, Any], queue: Runtime, app_settings: dict[str, str], tag_events: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    rt = queue
    code, out, err = run_cli(capsys, "status", CLUSTER)
    assert code == EXIT_OK and f"cluster {CLUSTER} has no work items" in out, err

    # --no-wait: screened as the trigger does, enqueued, answered at once with the work ids; nothing written to Azure.
    seq = emu.journal.last_seq
    code, out, err = run_cli(capsys, "handle-event", "--no-wait", str(tag_events))
    assert code == EXIT_OK, err
    lines = json_lines(out)
    assert lines and {line["outcome"] for line in lines} == {"queued"}, lines
    work_ids = [line["work"] for line in lines]
    assert all(w.startswith("enroll/") for w in work_ids) and len(set(work_ids)) == len(work_ids)
    assert [e for e in emu.journal.entries(since=seq) if e.is_write] == []
    assert rt.queue.approximate_count() == len(work_ids)
    assert {w.status for w in items.listed(rt.records, kind="enroll")} == {"queued"}

    # The worker takes each message, one bounded step each, and stops when the queue is empty.
    code, out, err = run_cli(capsys, "worker", "--until-idle", "--parallel", "1", "--max-seconds", "120", "--json")
    assert code == EXIT_OK, err
    summary = json.loads(out)
    assert summary["counts"] == {"done": len(work_ids)} and summary["messages"] == len(work_ids), summary
    assert summary["queue"] == rt.settings.work_queue
    assert err.count("… message ") == len(work_ids)  # one progress line per message, on stderr
    assert rt.queue.approximate_count() == 0
    assert len(rt.asr.list_items()) == len(demo["vm_ids"])  # the cluster is protected: the work was done here
    ended = {w.id: w for w in items.listed(rt.records, kind="enroll")}
    assert sorted(ended) == sorted(work_ids) and {w.status for w in ended.values()} == {"done"}
    assert "enabled" in {(w.outcome or {}).get("outcome") for w in ended.values()}

    # status CLUSTER: its work items, newest first, by name in any case; --json for scripts.
    code, out, err = run_cli(capsys, "status", CLUSTER.upper())
    assert code == EXIT_OK, err
    assert "KIND" in out and "WAITS FOR / ENDED" in out and out.count(" enroll  done ") == len(work_ids), out
    assert f"{len(work_ids)} work item(s) of cluster {CLUSTER} (UTC" in out and "0 queued or waiting, 0 failed" in out
    code, out, err = run_cli(capsys, "status", CLUSTER, "--json")
    listed = json.loads(out)
    assert code == EXIT_OK and listed["cluster"] == CLUSTER and listed["failed"] == []
    assert sorted(w["work"] for w in listed["work"]) == sorted(work_ids)
    assert {(w["kind"], w["status"]) for w in listed["work"]} == {("enroll", "done")}
    created = [ended[w["work"]].created for w in listed["work"]]
    assert created == sorted(created, reverse=True)

    # The same events again with --no-wait: their work was enqueued before; nothing goes on the queue twice.
    code, out, err = run_cli(capsys, "handle-event", "--no-wait", str(tag_events))
    again = json_lines(out)
    assert code == EXIT_OK and [line["work"] for line in again] == work_ids
    assert all("enqueued before" in line["reason"] and ": done" in line["reason"] for line in again), again
    assert rt.queue.approximate_count() == 0

    # And the summary table of an idle worker.
    code, out, err = run_cli(capsys, "worker", "--until-idle")
    assert code == EXIT_OK and f"no message in queue {rt.settings.work_queue}" in out, (out, err)


def test_no_wait_on_a_cluster_command_prints_the_work_id_and_status_shows_it_queued(
        emu: Emulator, demo: dict[str, Any], queue: Runtime, app_settings: dict[str, str], tag_events: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    rt = queue
    assert run_cli(capsys, "handle-event", str(tag_events))[0] == EXIT_OK  # in this process, as before --no-wait
    assert rt.queue.approximate_count() == 0

    code, out, err = run_cli(capsys, "reassign-ip", CLUSTER, "--no-wait", "--json")
    assert code == EXIT_OK, err
    work = json.loads(out)
    assert work["work"].startswith(f"reassign/cli-{CLUSTER}-") and work["kind"] == "reassign"
    assert (work["cluster"], work["status"]) == (CLUSTER, "queued")
    assert rt.queue.approximate_count() == 1

    code, out, err = run_cli(capsys, "reprotect", CLUSTER, "--no-wait")
    assert code == EXIT_OK, err
    assert "reprotect/cli-" in out and "queued" in out and f"asr-s2d status {CLUSTER}" in out
    assert rt.queue.approximate_count() == 2

    code, out, err = run_cli(capsys, "drill", CLUSTER, "--no-wait", "--json")
    assert code == EXIT_OK and json.loads(out)["kind"] == "drill" and json.loads(out)["status"] == "queued", err
    assert rt.queue.approximate_count() == 3

    code, out, err = run_cli(capsys, "status", CLUSTER, "--json")
    queued = {w["kind"]: w for w in json.loads(out)["work"] if w["status"] == "queued"}
    assert code == EXIT_OK and set(queued) == {"reassign", "reprotect", "drill"}
    assert queued["reassign"]["work"] == work["work"]

    # A cluster asr-s2d never enrolled, or a name no cluster can have: bad input, nothing enqueued.
    for command in ("reassign-ip", "reprotect", "drill"):
        code, out, err = run_cli(capsys, command, "nosuchcluster", "--no-wait")
        assert code == EXIT_BAD_INPUT and len(err.strip().splitlines()) == 1, err
        assert err.startswith("asr-s2d: asr-s2d never enrolled a cluster nosuchcluster"), err
        assert run_cli(capsys, command, "bad name; rm", "--no-wait")[0] == EXIT_BAD_INPUT
    assert run_cli(capsys, "status", "bad name; rm")[0] == EXIT_BAD_INPUT
    assert rt.queue.approximate_count() == 3


def test_a_failed_item_is_listed_with_its_reason_and_the_poison_queue(
        demo: dict[str, Any], queue: Runtime, app_settings: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """An item that failed on its last delivery: ``status`` shows it under the failed work, its message in the poison
    queue (what ``shared.work.worker`` leaves behind; here put there as the host would)."""
    rt = queue
    work = items.Work.new("reassign", f"cli-{CLUSTER}-poisoned", {"cluster": CLUSTER}, cluster=CLUSTER)
    assert items.create(rt.records, work)
    stored = items.load(rt.records, work.id)
    assert stored is not None
    items.save(rt.records, dataclasses.replace(stored, status="failed", step=1,
                                               reason="work failed at step 1 after 5 deliveries"))
    rt.queue.send(work.message())
    [message] = rt.queue.receive()
    rt.queue.to_poison(message)

    code, out, err = run_cli(capsys, "status", CLUSTER)
    assert code == EXIT_OK, err
    assert "0 queued or waiting, 1 failed" in out and "POISON QUEUE" in out
    assert f"{rt.settings.work_queue}-poison" in out
    code, out, err = run_cli(capsys, "status", CLUSTER, "--json")
    [failed] = json.loads(out)["failed"]
    assert failed["work"] == work.id and failed["poison queue"] is True and "5 deliveries" in failed["reason"]


def test_the_worker_fails_with_one_line_when_the_queue_is_unreachable_or_a_setting_is_missing(
        demo: dict[str, Any], app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from shared.config import get_settings
    from shared.runtime import default_runtime

    def reconfigure(**changes: str | None) -> None:
        for key, value in changes.items():
            if value is None:
                monkeypatch.delenv(key)
            else:
                monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        default_runtime.cache_clear()

    # The queue's account does not answer (nothing listens on that port): exit 1, the reason in one line.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    reconfigure(ARM_RETRY_TOTAL="0", WORK_QUEUE_CONNECTION=f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};"
                f"AccountKey={KEY};QueueEndpoint=http://127.0.0.1:{port}/{ACCOUNT};")
    code, out, err = run_cli(capsys, "worker", "--until-idle")
    assert code == EXIT_FAILED and out == "", out
    reason = err.strip().splitlines()[-1]
    assert len(err.strip().splitlines()) == 2, err  # the progress line, then the reason
    assert reason.startswith("asr-s2d: ") and app_settings["WORK_QUEUE"] in reason and "connection failed" in reason

    # A required setting missing: exit 2, the setting named, nothing read.
    reconfigure(VAULT_ID=None)
    code, out, err = run_cli(capsys, "worker", "--until-idle")
    assert code == EXIT_BAD_INPUT and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith("asr-s2d: settings: VAULT_ID")

    with pytest.raises(SystemExit) as bad:  # argparse: bad input, before anything else
        cli.main(["worker", "--parallel", "0"])
    assert bad.value.code == EXIT_BAD_INPUT
