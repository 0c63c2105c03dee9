"""The single client factory: endpoint, TLS trust and credential come from settings, nowhere else.

Management SDKs are imported here lazily, on first use, so a cold start that handles an ignored
event never pays for them. Clients are cached per process and subscription: Functions reuses warm
workers, and a client holds a connection pool worth keeping.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from shared.config import Settings
from shared.errors import SettingsError

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential
    from azure.core.pipeline import PipelineRequest, PipelineResponse

USER_AGENT = "asr-s2d/0.1"


class StaticTokenCredential:
    """A fixed bearer token, for a loopback ARM endpoint only (the emulator); refused anywhere else."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, 2**31 - 1)


class _SubscriptionConcurrency:
    """Bounds the ARM calls in flight per subscription from this process (``ARM_MAX_CONCURRENCY``)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._gates: dict[str, threading.BoundedSemaphore] = {}

    def gate(self, url: str) -> threading.BoundedSemaphore:
        parts = url.split("/")
        key = parts[parts.index("subscriptions") + 1].lower() if "subscriptions" in parts else "tenant"
        with self._lock:
            return self._gates.setdefault(key, threading.BoundedSemaphore(self._limit))


def _concurrency_policy(limiter: _SubscriptionConcurrency) -> Any:
    from azure.core.pipeline.policies import HTTPPolicy

    class ConcurrencyPolicy(HTTPPolicy):  # type: ignore[type-arg]
        def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
            with limiter.gate(request.http_request.url):
                return self.next.send(request)

    return ConcurrencyPolicy()


class Clients:
    """Builds every Azure client the gateways use, from one ``Settings``."""

    def __init__(self, settings: Settings, *, credential: TokenCredential | None = None) -> None:
        self.settings = settings
        self._credential = credential
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], Any] = {}
        self._limiter = _SubscriptionConcurrency(settings.arm_max_concurrency)

    @property
    def credential(self) -> TokenCredential:
        with self._lock:
            if self._credential is None:
                self._credential = build_credential(self.settings)
            return self._credential

    def _arm_kwargs(self) -> dict[str, Any]:
        s = self.settings
        endpoint = s.arm_endpoint.rstrip("/")
        scope = "https://management.azure.com/.default" if endpoint == "https://management.azure.com" else endpoint + "/.default"
        return {"base_url": endpoint, "credential_scopes": [scope], "connection_verify": s.arm_ca_bundle or True,
                "polling_interval": s.arm_polling_interval, "retry_total": s.arm_retry_total,
                "user_agent": USER_AGENT, "per_call_policies": [_concurrency_policy(self._limiter)]}

    def _client(self, kind: str, subscription_id: str) -> Any:
        key = (kind, subscription_id.lower())
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        cls = _client_class(kind)
        client = cls(self.credential, subscription_id, **self._arm_kwargs())
        with self._lock:
            return self._cache.setdefault(key, client)

    def compute(self, subscription_id: str) -> Any:
        return self._client("compute", subscription_id)

    def network(self, subscription_id: str) -> Any:
        return self._client("network", subscription_id)

    def resources(self, subscription_id: str) -> Any:
        return self._client("resources", subscription_id)

    def site_recovery(self, subscription_id: str) -> Any:
        return self._client("site_recovery", subscription_id)

    def blob_service(self) -> Any:
        with self._lock:
            if ("blob", "") in self._cache:
                return self._cache[("blob", "")]
        from azure.storage.blob import BlobServiceClient

        s = self.settings
        if s.state_connection_string:
            client = BlobServiceClient.from_connection_string(s.state_connection_string, retry_total=s.arm_retry_total)
        else:
            client = BlobServiceClient(s.state_account_url, credential=self.credential, retry_total=s.arm_retry_total)
        with self._lock:
            return self._cache.setdefault(("blob", ""), client)

    def queue_service(self) -> Any:
        """The work queue's account: from its connection string (``Settings.work_queue_connection``), else with the
        managed identity at ``WORK_QUEUE_CONNECTION__queueServiceUri``."""
        with self._lock:
            if ("queue", "") in self._cache:
                return self._cache[("queue", "")]
        from azure.storage.queue import QueueServiceClient

        s = self.settings
        if s.work_queue_connection:
            client = QueueServiceClient.from_connection_string(s.work_queue_connection, retry_total=s.arm_retry_total)
        else:
            client = QueueServiceClient(s.work_queue_url, credential=self.credential, retry_total=s.arm_retry_total)
        with self._lock:
            return self._cache.setdefault(("queue", ""), client)

    def queue(self, name: str) -> Any:
        """One queue of that account, its messages base64 text both ways: the Functions host's default
        ``messageEncoding``, so its queue trigger and this client read each other's messages. (A queue client takes
        the encoding itself; the service client does not hand it down.)"""
        from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy

        return self.queue_service().get_queue_client(name, message_encode_policy=TextBase64EncodePolicy(),
                                                     message_decode_policy=TextBase64DecodePolicy())

    def event_grid(self) -> Any:
        """The custom-topic publisher, or None when no topic is configured."""
        s = self.settings
        if not s.topic_endpoint:
            return None
        with self._lock:
            if ("eventgrid", "") in self._cache:
                return self._cache[("eventgrid", "")]
        from azure.core.credentials import AzureKeyCredential
        from azure.eventgrid import EventGridPublisherClient

        credential: Any = AzureKeyCredential(s.topic_key) if s.topic_key else self.credential
        client = EventGridPublisherClient(s.topic_endpoint, credential)
        with self._lock:
            return self._cache.setdefault(("eventgrid", ""), client)


def _client_class(kind: str) -> type:
    if kind == "compute":
        from azure.mgmt.compute import ComputeManagementClient

        return ComputeManagementClient
    if kind == "network":
        from azure.mgmt.network import NetworkManagementClient

        return NetworkManagementClient
    if kind == "resources":
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

    return SiteRecoveryManagementClient


def build_credential(settings: Settings) -> TokenCredential:
    """ManagedIdentityCredential in Azure, DefaultAzureCredential on request, a static token on loopback only."""
    if settings.credential == "static":
        if not settings.arm_is_loopback:
            raise SettingsError("AZURE_CREDENTIAL: static is accepted only with a loopback ARM_ENDPOINT")
        return StaticTokenCredential(settings.static_token)
    if settings.credential == "default":
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential()


_factories: dict[Settings, Clients] = {}
_factories_lock = threading.Lock()


def clients_for(settings: Settings) -> Clients:
    """The process-wide factory for these settings (one per distinct settings object)."""
    with _factories_lock:
        factory = _factories.get(settings)
        if factory is None:
            factory = _factories[settings] = Clients(settings)
        return factory
