"""Every hostile or malformed input of the corpus (``tests/data/hostile``, see ``hostile.py``): a clear recorded
rejection or an ignore with its reason, zero ARM writes, no unexpected exception; a subset also through the
CLI (``asr-s2d handle-event``), which exits 2 for a malformed file and 0 for what it ignored or refused by
policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.resource.resources import ResourceManagementClient

from shared import events
from shared.cli import main as cli
from shared.config import get_settings
from shared.errors import RejectedInput
from shared.failover import service as failover
from shared.runtime import default_runtime
from tests.reliability import figures, hostile
from tests.reliability.story import Story
from tests.work import runbook

CORPUS = hostile.load_corpus()
ACTION = "Microsoft.Resources.ResourceActionSuccess"


def test_the_corpus_holds_at_least_fifty_inputs_of_every_kind_each_indexed() -> None:
    assert len(CORPUS) >= 50
    assert {i.kind for i in CORPUS} == set(hostile.KINDS)
    index = (hostile.CORPUS / "README.md").read_text()
    missing = [i.name for i in CORPUS if f"`{i.name}.json`" not in index]
    assert not missing, f"not in tests/data/hostile/README.md: {missing}"
    for item in CORPUS:
        assert item.spec.get("description"), item.name
        assert item.spec.get("expect") or item.spec.get("expect_status"), item.name


@pytest.fixture
def world(story: Story) -> Iterator[Story]:
    story.emu.reset()
    story.begin_world()
    yield story


def handle(story: Story, item: Any) -> list[Any]:
    """As the Functions host and the CLI route them: action events to the failover function, the rest to the
    VM-tags function."""
    from shared.enrollment import service as enrollment

    return [(failover.handle if isinstance(item, dict) and (item.get("eventType") or item.get("type")) == ACTION
             else enrollment.handle)(item, story.runtime)]


def play(story: Story, item: hostile.Input) -> tuple[list[Any], bytes | None]:
    """Deliver the input; returns the outcomes and the bytes a CLI run would read (None: not applicable)."""
    if item.kind == "tags":
        target = hostile.prepare_tags(story.emu, story.world, item.spec)
        client = story.operator_sdk(ResourceManagementClient)
        client.tags.begin_update_at_scope(target, {"operation": "Merge",
                                                   "properties": {"tags": item.spec["tags"]}}).result()
        delivered = [e for e in story.emu.events.drain(story.subscriber)
                     if e["data"]["operationName"] == "Microsoft.Resources/tags/write"]
        assert len(delivered) == 1
        return [o for e in delivered for o in handle(story, e)], json.dumps(delivered).encode()
    data = item.payload()
    try:
        parsed = events.parse_payload(data)
    except RejectedInput as err:
        assert item.spec["expect"] == "malformed", f"{item.name}: refused as unreadable: {err}"
        return [], data
    assert item.spec["expect"] != "malformed", f"{item.name}: read as {len(parsed)} event(s)"
    return [o for p in parsed for o in handle(story, p)], data


@pytest.mark.parametrize("item", [i for i in CORPUS if not i.is_runbook], ids=lambda i: i.name)
def test_a_hostile_input_is_refused_or_ignored_with_a_reason_and_writes_nothing(
        world: Story, item: hostile.Input, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    story = world
    since = story.emu.journal.last_seq
    if item.kind == "tags":
        # The operator's own tag write is not the app's: count the app's writes from after it.
        outcomes, data = play(story, item)
        since = max(e.seq for e in story.emu.journal.entries() if e.method == "PATCH" and "/tags/default" in e.path)
    else:
        outcomes, data = play(story, item)
    assert story.app_writes(since) == [], "the app wrote to Azure"
    expect = item.spec["expect"]
    if expect != "malformed":
        assert outcomes, item.name
        for outcome in outcomes:
            assert outcome.kind == expect, f"{item.name}: {outcome.kind}: {outcome.reason}"
            assert item.spec["reason_contains"] in outcome.reason, f"{item.name}: {outcome.reason}"
        recorded = [r for r in story.records() if r["outcome"] == expect]
        assert len(recorded) >= len(outcomes), "the outcome was not recorded"
        assert all(r["reason"] for r in recorded)
    if item.cli:
        assert data is not None
        code, out, err = run_cli(story, data, tmp_path, monkeypatch, capsys)
        assert code == item.cli_exit, (code, out, err)
        if expect == "malformed":
            assert out == "" and len(err.strip().splitlines()) == 1, err
        else:
            lines = [json.loads(line) for line in out.splitlines()]
            assert lines and all(line["outcome"] == expect and line["writes"] == 0 for line in lines), lines
        assert story.app_writes(since) == []
        figures.count("hostile_cli_runs")
    figures.count("hostile_inputs")


@pytest.mark.parametrize("item", [i for i in CORPUS if i.is_runbook], ids=lambda i: i.name)
def test_a_hostile_runbook_call_gets_its_status_and_a_recorded_reason_and_writes_nothing(
        world: Story, item: hostile.Input) -> None:
    story = world
    since = story.emu.journal.last_seq
    status, body = runbook(item.payload(), story.runtime)
    assert story.app_writes(since) == []
    assert status == item.spec["expect_status"], (status, body)
    assert item.spec["reason_contains"] in body["reason"], body
    records = story.records()
    assert records and records[-1]["reason"] == body["reason"] and records[-1]["trigger"] == "runbook"
    figures.count("hostile_inputs")


def run_cli(story: Story, data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``asr-s2d handle-event FILE`` in this process, configured from the environment as in production."""
    from emulator.settings import app_env

    path = tmp_path / "input.json"
    path.write_bytes(data)
    env = app_env(story.emu, story.world, azurite_connection_string=story.azurite)
    env["STATE_CONTAINER"] = story.runtime.settings.state_container
    env["WORK_QUEUE"] = story.runtime.settings.work_queue
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    default_runtime.cache_clear()
    capsys.readouterr()
    try:
        code = cli.main(["handle-event", str(path)])
    finally:
        get_settings.cache_clear()
        default_runtime.cache_clear()
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_installed_cli_refuses_the_deepest_input_with_exit_2_and_one_line(world: Story, tmp_path: Path) -> None:
    """The console script itself (not only ``cli.main``): 100,000 nested arrays end in exit 2 and one line on
    stderr, not a traceback."""
    import os
    import subprocess
    import sys

    from emulator.settings import app_env

    item = next(i for i in CORPUS if i.name == "json-deep-nesting")
    path = tmp_path / "deep.json"
    path.write_bytes(item.payload())
    env = {**os.environ, **app_env(world.emu, world.world, azurite_connection_string=world.azurite),
           "STATE_CONTAINER": world.runtime.settings.state_container, "WORK_QUEUE": world.runtime.settings.work_queue}
    script = Path(sys.executable).with_name("asr-s2d")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "shared.cli"]
    done = subprocess.run([*command, "handle-event", str(path)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1 and "nested too deeply" in done.stderr


def test_a_guest_printing_hostile_json_is_a_failed_run_not_a_crash() -> None:
    """Run Command returns the guest's last 4 KB of output: whoever controls the node controls it."""
    from shared.failover.plan import parse_script_result

    for stdout in ("[" * 2048 + "]" * 2048, '{"status": "changed"' + "}" * 4000, "\x00\x1b[2J", '{"status": ["x"]}'):
        assert parse_script_result(stdout)["status"] == "failed"
