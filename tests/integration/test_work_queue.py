"""Azurite (real queue server): the work queue gateway, each test on a queue of its own.

Waits poll for the message and give up only after a generous deadline: what is asserted is that a message comes
(or does not come yet), never how fast.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from shared.azure.clients import Clients
from shared.azure.queues import Message, WorkQueue
from shared.config import Settings
from tests.unit.test_config import VALID

PATIENCE = 30.0  # seconds; far beyond the 1-2 s the messages below are hidden for


def _settings(azurite_server: Any, **changes: str) -> Settings:
    return Settings.from_env({**VALID, "WORK_QUEUE_CONNECTION": azurite_server.connection_string,
                              "WORK_QUEUE": f"q{uuid.uuid4().hex[:20]}", **changes})


@pytest.fixture
def clients(azurite_server: Any) -> Clients:
    return Clients(_settings(azurite_server))


@pytest.fixture
def queue(clients: Clients) -> WorkQueue:
    work = WorkQueue(clients, clients.settings.work_queue)
    work.ensure()
    return work


def _eventually(receive: Callable[[], list[Message]]) -> list[Message]:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        got = receive()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"no message within {PATIENCE:.0f} s")


def test_a_json_body_goes_round_trip_and_is_gone_once_deleted(queue: WorkQueue) -> None:
    queue.ensure()  # idempotent: both queues exist already
    body = {"kind": "drill-step", "cluster": "sql-a", "step": 3, "nested": {"ids": ["a", "b"]}}
    queue.send(body)
    assert queue.approximate_count() == 1
    [message] = queue.receive()
    assert message.body == body and json.loads(message.text) == body
    assert message.dequeue_count == 1 and message.id and message.pop_receipt
    queue.delete(message)
    assert queue.receive() == [] and queue.approximate_count() == 0
    assert queue.poison_name == f"{queue.name}-poison"


def test_messages_are_base64_json_on_the_wire_as_the_functions_host_reads_them(queue: WorkQueue,
                                                                            clients: Clients) -> None:
    queue.send({"kind": "x"})
    # A queue client without the factory's decode policy sees the wire text (the host decodes base64 by default).
    [raw] = clients.queue_service().get_queue_client(queue.name).peek_messages()
    assert json.loads(base64.b64decode(raw.content)) == {"kind": "x"}


def test_a_delayed_message_is_not_received_at_once_but_later(queue: WorkQueue) -> None:
    queue.send({"kind": "later"}, delay_seconds=1.2)  # rounded up to 2 s
    assert queue.receive() == []
    assert queue.approximate_count() == 1  # invisible messages count
    [message] = _eventually(queue.receive)
    assert message.body == {"kind": "later"} and message.dequeue_count == 1


def test_a_delay_beyond_seven_days_is_clamped_not_refused(queue: WorkQueue) -> None:
    queue.send({"kind": "much-later"}, delay_seconds=10 * 24 * 3600)
    assert queue.receive() == [] and queue.approximate_count() == 1


def test_to_poison_moves_the_message_to_the_poison_queue(queue: WorkQueue) -> None:
    queue.send({"kind": "bad", "n": 1})
    [message] = queue.receive()
    queue.to_poison(message)
    assert queue.receive() == [] and queue.approximate_count() == 0
    [poisoned] = queue.poisoned()
    assert poisoned.body == {"kind": "bad", "n": 1} and poisoned.text == message.text
    assert poisoned.pop_receipt == ""  # peeked, not received
    assert [m.id for m in queue.poisoned()] == [poisoned.id]  # peeking leaves it there


def test_a_message_that_is_not_a_json_object_has_an_empty_body_and_its_text(queue: WorkQueue,
                                                                          clients: Clients) -> None:
    # Written by another producer through the same (base64) encoding.
    raw = clients.queue(queue.name)
    raw.send_message("not json {")
    raw.send_message("[1, 2]")
    received = queue.receive(max_messages=2)
    assert sorted((m.text, json.dumps(m.body)) for m in received) == [("[1, 2]", "{}"), ("not json {", "{}")]


def test_a_message_not_deleted_is_delivered_again_with_a_higher_dequeue_count(queue: WorkQueue) -> None:
    queue.send({"kind": "retry"})
    [first] = queue.receive(visibility_seconds=1)
    assert first.dequeue_count == 1
    [second] = _eventually(lambda: queue.receive(visibility_seconds=1))
    assert second.id == first.id and second.dequeue_count == 2 and second.pop_receipt != first.pop_receipt
    queue.delete(second)
    assert queue.approximate_count() == 0


def test_an_absent_poison_queue_holds_nothing(clients: Clients) -> None:
    assert WorkQueue(clients, f"q{uuid.uuid4().hex[:20]}").poisoned() == []


def test_the_state_connection_string_serves_the_queue_when_it_names_a_queue_endpoint(azurite_server: Any) -> None:
    settings = Settings.from_env({**{k: v for k, v in VALID.items() if not k.startswith("WORK_QUEUE")},
                                  "STATE_STORAGE_CONNECTION_STRING": azurite_server.connection_string,
                                  "WORK_QUEUE": f"q{uuid.uuid4().hex[:20]}"})
    assert settings.work_queue_connection == azurite_server.connection_string
    work = WorkQueue(Clients(settings), settings.work_queue)
    work.ensure()
    work.send({"kind": "fallback"})
    assert [m.body for m in work.receive()] == [{"kind": "fallback"}]
