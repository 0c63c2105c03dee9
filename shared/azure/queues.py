"""Storage queue gateway: the work queue and its poison queue, messages as JSON objects.

It moves messages and nothing else: what a message asks for, and when one has failed often enough to be poison,
is decided by its callers. Messages are base64 text on the wire (``Clients.queue``), the Functions host's default
encoding, so its queue trigger reads what ``send`` writes and the other way round. A message never expires
(time-to-live -1): work is taken off the queue by a worker or moved to the poison queue, never lost by the clock.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from shared.azure.clients import Clients
from shared.azure.errors import translate

POISON_SUFFIX = "-poison"  # the Functions host's poison queue: <queue>-poison
MAX_DELAY_SECONDS = 7 * 24 * 3600  # Storage's longest visibility timeout
MAX_PER_CALL = 32  # Storage returns at most 32 messages per Get Messages or Peek Messages
NEVER_EXPIRES = -1


@dataclass(frozen=True)
class Message:
    """One message as received (or peeked: then ``pop_receipt`` is empty). ``body`` is its JSON object; a message
    whose text is not a JSON object has ``body`` ``{}``, and its ``text`` says what it held."""

    id: str
    pop_receipt: str
    body: dict[str, Any]
    dequeue_count: int
    text: str

    @classmethod
    def from_sdk(cls, raw: Any) -> Message:
        text = raw.content if isinstance(raw.content, str) else ""
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return cls(id=str(raw.id), pop_receipt=str(raw.pop_receipt or ""),
                   body=parsed if isinstance(parsed, dict) else {}, dequeue_count=int(raw.dequeue_count or 0),
                   text=text)


class WorkQueue:
    """A Storage queue of JSON messages and its poison queue (``<name>-poison``)."""

    def __init__(self, clients: Clients, name: str) -> None:
        self._clients = clients
        self.name = name
        self.poison_name = f"{name}{POISON_SUFFIX}"

    def _queue(self, name: str) -> Any:
        return self._clients.queue(name)

    def ensure(self) -> None:
        """Create the queue and its poison queue where absent (idempotent)."""
        from azure.core.exceptions import ResourceExistsError

        for name in (self.name, self.poison_name):
            try:
                self._queue(name).create_queue()
            except ResourceExistsError:
                pass  # exists with other metadata: still the queue we want
            except Exception as err:
                raise translate(err, f"create queue {name}") from err

    def send(self, body: dict[str, Any], *, delay_seconds: float = 0) -> None:
        """Enqueue ``body``; with ``delay_seconds`` it stays invisible that long (whole seconds, rounded up, at most
        7 days)."""
        self._send(self.name, json.dumps(body, separators=(",", ":"), sort_keys=True), delay_seconds=delay_seconds)

    def _send(self, name: str, text: str, *, delay_seconds: float = 0) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        delay = min(math.ceil(delay_seconds), MAX_DELAY_SECONDS) if delay_seconds > 0 else None
        try:
            try:
                self._queue(name).send_message(text, visibility_timeout=delay, time_to_live=NEVER_EXPIRES)
            except ResourceNotFoundError:  # a fresh account (local runs, tests): in Azure the Bicep made both queues
                self.ensure()
                self._queue(name).send_message(text, visibility_timeout=delay, time_to_live=NEVER_EXPIRES)
        except Exception as err:
            raise translate(err, f"send a message to queue {name}") from err

    def retry_later(self, message: Message, seconds: int) -> None:
        """Make a received message visible again after ``seconds`` (what the Functions host does with a failed
        invocation's message after host.json's ``visibilityTimeout``); its ``dequeue_count`` rises on redelivery."""
        try:
            self._queue(self.name).update_message(message.id, message.pop_receipt, visibility_timeout=max(0, seconds))
        except Exception as err:
            raise translate(err, f"release message {message.id} of queue {self.name}") from err

    def receive(self, *, max_messages: int = 16, visibility_seconds: int = 300) -> list[Message]:
        """Up to ``max_messages`` visible messages, each hidden from other receivers for ``visibility_seconds``
        (then it is delivered again, its ``dequeue_count`` one higher, unless it was deleted)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            pages = self._queue(self.name).receive_messages(
                messages_per_page=min(max_messages, MAX_PER_CALL), max_messages=max_messages,
                visibility_timeout=visibility_seconds)
            return [Message.from_sdk(raw) for raw in pages]
        except ResourceNotFoundError:  # never sent to (a fresh account): it holds nothing
            return []
        except Exception as err:
            raise translate(err, f"receive messages from queue {self.name}") from err

    def delete(self, message: Message) -> None:
        """Remove a received message (its pop receipt must still be current: it was not delivered again since)."""
        try:
            self._queue(self.name).delete_message(message.id, message.pop_receipt)
        except Exception as err:
            raise translate(err, f"delete message {message.id} from queue {self.name}") from err

    def to_poison(self, message: Message) -> None:
        """Move a received message to the poison queue: its text is sent there first, then it is deleted here (a
        failure in between leaves it in both, never in neither)."""
        self._send(self.poison_name, message.text)
        self.delete(message)

    def approximate_count(self) -> int:
        """The queue's approximate number of messages, invisible (delayed or being worked on) ones included."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            properties = self._queue(self.name).get_queue_properties()
        except ResourceNotFoundError:
            return 0
        except Exception as err:
            raise translate(err, f"read the properties of queue {self.name}") from err
        return int(properties.approximate_message_count or 0)

    def poisoned(self, *, max_messages: int = 32) -> list[Message]:
        """Up to ``max_messages`` (at most 32) messages of the poison queue, peeked: left there, visible, and without
        a pop receipt. An absent poison queue holds none."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            raw = self._queue(self.poison_name).peek_messages(max_messages=min(max_messages, MAX_PER_CALL))
        except ResourceNotFoundError:
            return []
        except Exception as err:
            raise translate(err, f"peek messages of queue {self.poison_name}") from err
        return [Message.from_sdk(m) for m in raw]
