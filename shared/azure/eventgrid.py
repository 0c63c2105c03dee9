"""Publisher for the optional custom Event Grid topic (outcomes, drift, drills). Every event is scrubbed
(``shared.observability.scrub``) before it leaves: subscribers never see a key, a SAS or a token."""

from __future__ import annotations

import logging
from typing import Any

from shared.azure.clients import Clients
from shared.azure.errors import translate
from shared.observability import scrub

log = logging.getLogger(__name__)


class TopicPublisher:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    @property
    def enabled(self) -> bool:
        return bool(self._clients.settings.topic_endpoint)

    def publish(self, event_type: str, subject: str, data: dict[str, Any]) -> None:
        client = self._clients.event_grid()
        if client is None:
            return
        from azure.eventgrid import EventGridEvent

        event = EventGridEvent(subject=scrub(subject)[:1024], event_type=event_type, data=scrub(data),
                               data_version="1.0")
        ca = self._clients.settings.arm_ca_bundle
        try:
            # EventGridPublisherClient ignores connection_verify in its constructor: pass it per send().
            client.send([event], connection_verify=ca or True)
        except Exception as err:
            raise translate(err, f"publish {event_type} to the custom topic") from err
