"""No delivery waits on Azure (issue 19's "Done when"): the triggers answer at once, the worker does the work.

Every Event Grid and HTTP invocation here goes through the function the app registers with the Functions host
(``function_app.app.get_functions()``), its event built by the azure-functions converter and its settings from
the process environment (``app_settings``), as the host runs it. Around each invocation the emulator's request
journal is read: no long-running-operation poll, no Run Command and no ARM write may happen inside one, and it
answers in under a second of wall time. Then the worker (``shared.work.worker.run_queue``, the queue trigger's
handling on Azurite's queue) does the work in steps, and the result is read back from the emulator and Azurite.
Both clocks: on Azure's (3600x) every Site Recovery job takes its time and the worker's looks are delayed messages.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest

from bench.lab import Calls, tally
from emulator import Emulator
from emulator.clients import time_passes
from emulator.core.faults import FaultRule
from emulator.core.identity import APP_PRINCIPAL_ID
from emulator.delivery import as_trigger_event
from shared.enrollment import service as enrollment
from shared.runtime import Runtime
from shared.state import blob_key
from shared.work import item as items
from shared.work.worker import enqueue, run_queue
from tests.functions.conftest import writes_since
from tests.functions.drill_world import CLUSTER
from tests.functions.test_failover import World, assert_dr_state, failover_events, run_commands

pytestmark = pytest.mark.azure_clock  # the point is Azure's clock: jobs that take minutes, waited for by messages

TAG_WRITE = "Microsoft.Resources/tags/write"
WORKER_SECONDS = 120.0  # the most a run_queue here may take (it returns when the queue is idle, in seconds)
# P2's writes: the shared plumbing, the cluster's own, and two per node (bench/enrollment_economy.py).
P2_WRITES = {"replication fabric": 2, "protection container": 2, "replication policy": 1, "container mapping": 2,
             "network mapping": 2, "recovery availability set": 1, "recovery plan": 1, "load balancer": 1,
             "enable replication (protected item PUT)": 2, "DR pool mapping (protected item PATCH)": 2}


# -- the host's view -------------------------------------------------------------------------------

@functools.cache
def registered() -> dict[str, Any]:
    """The app's functions as the host indexes them (``get_functions()`` may be called once per FunctionApp)."""
    import function_app

    return {str(f.get_function_name()): f for f in function_app.app.get_functions()}


def function(name: str) -> Callable[..., Any]:
    user: Callable[..., Any] = registered()[name].get_user_function()
    return user


def _http_routes() -> list[tuple[str, list[str], Callable[..., Any]]]:
    routes = []
    for f in registered().values():
        for binding in json.loads(f.get_function_json())["bindings"]:
            if binding.get("type") == "httpTrigger":
                routes.append((str(binding["route"]), [m.upper() for m in binding.get("methods") or []],
                               f.get_user_function()))
    return routes


def http(method: str, url: str, body: bytes = b"") -> func.HttpResponse:
    """The HTTP function whose route and methods match, called as the host calls it (route and query parameters)."""
    parsed = urllib.parse.urlsplit(url)
    path = parsed.path.removeprefix("/api/").strip("/")
    for route, methods, user in _http_routes():
        names = route.split("/")
        parts = path.split("/")
        if len(names) != len(parts) or method not in methods:
            continue
        params = {n[1:-1]: p for n, p in zip(names, parts, strict=True) if n.startswith("{")}
        if all(n == p for n, p in zip(names, parts, strict=True) if not n.startswith("{")):
            request = func.HttpRequest(method, url, body=body, route_params=params,
                                       params=dict(urllib.parse.parse_qsl(parsed.query)))
            response: func.HttpResponse = user(request)
            return response
    raise AssertionError(f"no registered function serves {method} {url}")


# -- what an invocation did -----------------------------------------------------------------------

def quietly(emu: Emulator, call: Callable[[], Any]) -> Any:
    """Run one invocation and assert what the issue asks of it: no LRO poll, no Run Command, no ARM write (the
    app's requests in the journal meanwhile) — in fact no Azure call at all: the triggers screen the event from its
    own fields and enqueue. (Its wall time is a bench figure, P4's trigger time, never a test's assertion.)"""
    seq = emu.journal.last_seq
    result = call()
    entries = [e for e in emu.journal.entries(since=seq) if e.principal == APP_PRINCIPAL_ID]
    calls = tally(entries)
    commands = [e for e in entries if "/runcommand" in e.path.lower()]
    assert (calls.lro, calls.writes, commands) == (0, 0, []), (calls.to_json(), [(e.method, e.path) for e in entries])
    assert not any(e.poll for e in entries)
    assert entries == [], [(e.method, e.path) for e in entries]
    return result


def work(rt: Runtime) -> dict[str, int]:
    """The worker until the queue is idle: every message handled, none retried or poisoned."""
    counts = run_queue(rt, until_idle=True, max_seconds=WORKER_SECONDS, retry_seconds=1)
    assert not {"retried", "poisoned", "rejected"} & set(counts), counts
    assert rt.queue.approximate_count() == 0, counts
    return counts


def app_writes(emu: Emulator, seq: int) -> Calls:
    return tally(e for e in emu.journal.entries(since=seq) if e.principal == APP_PRINCIPAL_ID)


@pytest.fixture
def world(emu: Emulator, demo: dict[str, Any], runtime: Runtime, operator_sdk: Callable[..., Any],
          event_queue: Callable[[], list[dict[str, Any]]], app_settings: dict[str, str]) -> Iterator[World]:
    """The demo world; the triggers read this test's settings from the environment (``app_settings``), and the
    work queue exists (Bicep creates it in Azure)."""
    runtime.queue.ensure()
    yield World(emu, demo, runtime, operator_sdk, event_queue)


def tag_events(world: World) -> list[dict[str, Any]]:
    world.tag()
    found = [e for e in world.queue() if e["data"].get("operationName") == TAG_WRITE]
    assert len(found) == len(world.demo["vm_ids"]) == 2
    return found


# -- enrollment ---------------------------------------------------------------------------------------

def test_the_tag_event_is_answered_at_once_and_the_worker_alone_enrolls_the_demo_cluster(world: World) -> None:
    on_tags = function("on_vm_tags_changed")
    first, second = tag_events(world)
    seq = world.emu.journal.last_seq

    quietly(world.emu, lambda: on_tags(as_trigger_event(first)))  # delivered once: it did not raise
    [queued] = items.listed(world.rt.records, kind="enroll")
    assert (queued.status, queued.step) == ("queued", 0)
    assert world.rt.asr.list_items() == []  # nothing done inside the invocation

    counts = work(world.rt)
    if not world.emu.clock.instant:  # on Azure's clock the enable jobs and the rest were waited for by messages
        assert counts.get("waiting", 0) >= 1, counts
    [done] = items.listed(world.rt.records, kind="enroll")
    assert done.status == "done" and done.outcome is not None and done.outcome["outcome"] == "enabled", done
    time_passes(world.emu)  # initial replication completes
    assert {i.protection_state for i in world.rt.asr.list_items()} == {"Protected"}
    assert len(world.rt.asr.list_items()) == 2
    enroll = app_writes(world.emu, seq)
    assert enroll.by_kind == P2_WRITES and enroll.writes == 16, enroll.write_labels
    assert len(set(enroll.write_labels)) == len(enroll.write_labels)  # no resource written twice

    # The re-run: the other node's event, then both again (Event Grid's duplicates): answered at once, no write.
    seq = world.emu.journal.last_seq
    for event in (second, first, second):
        quietly(world.emu, functools.partial(on_tags, as_trigger_event(event)))
    work(world.rt)
    assert writes_since(world.emu, seq) == []
    assert [w.outcome["outcome"] for w in items.listed(world.rt.records, kind="enroll") if w.outcome] == [
        "enabled", "unchanged"]


# -- failover ----------------------------------------------------------------------------------------

def _dr_ip(world: World) -> str:
    lb = world.rt.network.get_load_balancer(world.lb_id)
    assert lb is not None and lb.frontend_ip
    return str(lb.frontend_ip)


def test_the_failover_event_is_answered_at_once_and_the_worker_moves_the_ip_with_one_run_command(
        world: World) -> None:
    world.enroll()
    dr_ip = _dr_ip(world)
    world.unplanned_failover()
    [event] = failover_events(world.queue())
    seq = world.emu.journal.last_seq

    quietly(world.emu, lambda: function("on_failover_completed")(as_trigger_event(event)))
    assert run_commands(world.emu) == []
    work(world.rt)

    assert_dr_state(world, dr_ip)
    assert len(run_commands(world.emu)) == 1
    assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in writes_since(world.emu, seq)] == [("POST", "runCommand")]
    [done] = items.listed(world.rt.records, kind="failover")
    assert done.status == "done" and done.outcome is not None and done.outcome["outcome"] == "reassigned", done


def test_the_runbook_gets_202_and_a_status_url_that_answers_the_outcome_once_the_worker_moved_the_ip(
        world: World) -> None:
    world.enroll()
    dr_ip = _dr_ip(world)
    world.unplanned_failover()
    world.queue()  # the failover's events: this test's signal is the runbook's call alone

    posted = quietly(world.emu, lambda: http("POST", "https://app/api/failover/runbook", world.context()))
    assert posted.status_code == 202, posted.get_body()
    answer = json.loads(posted.get_body())
    location = posted.headers["Location"]
    assert answer["status"] in location and int(posted.headers["Retry-After"]) > 0
    polled = quietly(world.emu, lambda: http("GET", location))
    assert polled.status_code == 202 and json.loads(polled.get_body())["outcome"] == "running"
    # The runbook retries its POST (the same context): the same work, nothing enqueued twice.
    again = quietly(world.emu, lambda: http("POST", "https://app/api/failover/runbook", world.context()))
    assert again.status_code == 202 and json.loads(again.get_body())["status"] == answer["status"]
    assert run_commands(world.emu) == []

    work(world.rt)
    final = quietly(world.emu, lambda: http("GET", location))
    body = json.loads(final.get_body())
    assert final.status_code == 200 and body["outcome"] == "reassigned", body
    assert body["details"]["ip"] == dr_ip
    assert_dr_state(world, dr_ip)
    assert len(run_commands(world.emu)) == 1


# -- poison --------------------------------------------------------------------------------------

def test_a_work_message_that_fails_every_delivery_ends_in_the_poison_queue_with_an_outcome_naming_step_and_error(
        world: World, make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(ARM_RETRY_TOTAL="0")  # each delivery fails at once (the SDK's own retries are not the point)
    first, _second = tag_events(world)
    accepted = enrollment.accept(first, rt)
    assert isinstance(accepted, items.Work) and enqueue(rt, accepted)
    vault = world.demo["vault_id"].rsplit("/", 1)[-1]
    broken = world.emu.faults.add(FaultRule(action="status", method="GET", path=rf"/vaults/{vault}(/|$)", status=500,
                                            message="The vault is down."))

    counts = run_queue(rt, until_idle=True, max_seconds=WORKER_SECONDS, retry_seconds=1)

    deliveries = rt.settings.work_max_dequeue
    assert counts == {"retried": deliveries - 1, "poisoned": 1}, counts
    assert broken.hits >= deliveries
    assert rt.queue.approximate_count() == 0
    [poisoned] = rt.queue.poisoned()
    assert poisoned.body == {"work": accepted.id, "step": 0}
    stored = items.load(rt.records, accepted.id)
    assert stored is not None and stored.status == "failed" and "step 0" in stored.reason
    names = [n for n in rt.blobs.list_names("outcomes/") if n.endswith(f"-{blob_key(f'work-{accepted.id}')}.json")]
    assert len(names) == 1, names
    doc = rt.blobs.get_json(names[0])
    assert doc is not None
    record = dict(doc.body)
    assert record["outcome"] == "failed" and record["details"] == {"work": accepted.id, "step": 0}
    assert f"failed at step 0 after {deliveries} deliveries" in record["reason"]
    assert "500" in record["reason"] or "The vault is down" in record["reason"], record["reason"]
    assert record["cluster"] in (None, CLUSTER)
    world.emu.faults.clear()
    assert world.rt.asr.list_items() == []  # nothing was enrolled
