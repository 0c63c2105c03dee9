"""Wiring: one ``Runtime`` per settings object holds the gateways, the state store and the publisher.

Services take a ``Runtime``; triggers and the CLI build it from ``get_settings()``; tests build it
from the emulator's settings. There is no other seam and no test-only branch, but for its ``clock``: the delays of the
work queue's messages and the CLI's in-process waits are Azure time, which a test may run faster (``AzureTime``).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

from shared import observability
from shared.azure.blobs import BlobGateway
from shared.azure.clients import Clients, clients_for
from shared.azure.compute import ComputeGateway
from shared.azure.eventgrid import TopicPublisher
from shared.azure.network import NetworkGateway
from shared.azure.queues import WorkQueue
from shared.azure.resources import ResourcesGateway
from shared.azure.site_recovery import SiteRecoveryGateway
from shared.config import Settings, get_settings
from shared.errors import AsrS2dError
from shared.outcomes import Outcome
from shared.state import ClusterLock, Records
from shared.times import Clock, SystemClock

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    clients: Clients
    compute: ComputeGateway
    network: NetworkGateway
    resources: ResourcesGateway
    asr: SiteRecoveryGateway
    blobs: BlobGateway
    records: Records
    topic: TopicPublisher
    queue: WorkQueue  # the work queue: the triggers enqueue, the worker takes one step per message
    lock_wait_seconds: float = 30.0
    clock: Clock = field(default_factory=SystemClock)  # Azure's time: queue delays, and the CLI's in-process waits

    @classmethod
    def build(cls, settings: Settings, *, clients: Clients | None = None) -> Runtime:
        observability.add_secrets(observability.secrets_of(settings))  # masked in logs and every output from now on
        clients = clients or clients_for(settings)
        blobs = BlobGateway(clients, settings.state_container)
        evidence = BlobGateway(clients, settings.evidence_container) if settings.evidence_container else None
        return cls(settings=settings, clients=clients, compute=ComputeGateway(clients),
                   network=NetworkGateway(clients), resources=ResourcesGateway(clients),
                   asr=SiteRecoveryGateway(clients, settings.vault_id), blobs=blobs,
                   records=Records(blobs, evidence=evidence), topic=TopicPublisher(clients),
                   queue=WorkQueue(clients, settings.work_queue))

    def lock(self, cluster_key: str) -> ClusterLock:
        return ClusterLock(self.blobs, cluster_key, seconds=self.settings.lease_seconds,
                           wait_seconds=self.lock_wait_seconds)

    def record(self, outcome: Outcome, *, event_type: str = "AsrS2d.Outcome") -> Outcome:
        """Store the outcome and publish it to the custom topic when one is configured."""
        body = outcome.to_json()
        self.records.outcome(body)
        with observability.log_context(event_id=outcome.event_id, correlation_id=outcome.correlation_id,
                                       cluster=outcome.cluster):
            log.info("outcome %s event=%s cluster=%s writes=%s correlation=%s: %s", outcome.kind, outcome.event_id,
                     outcome.cluster, outcome.writes, outcome.correlation_id, outcome.reason)
        if self.topic.enabled and outcome.kind not in ("ignored",):
            try:
                self.topic.publish(event_type, f"asr-s2d/{outcome.cluster or 'none'}", body)
            except AsrS2dError as err:  # the outcome is stored; a lost event must not undo the work or lose it
                log.warning("outcome %s of event %s: event not published: %s", outcome.kind, outcome.event_id, err)
        return outcome


@functools.lru_cache(maxsize=1)
def default_runtime() -> Runtime:
    """The process's runtime, built on the first invocation; that is also when logging gets its context and
    redaction filters and, with a connection string, its Application Insights export (never at import)."""
    settings = get_settings()
    observability.configure(connection_string=settings.appinsights_connection_string,
                            secrets=observability.secrets_of(settings))
    return Runtime.build(settings)
