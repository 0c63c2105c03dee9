"""Structured logs: the context fields on every record, secrets masked wherever they appear, the exporter
started once and only with a connection string (shared/observability.py)."""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from typing import Any

import pytest

from shared import observability as obs
from shared.config import Settings

TOPIC_KEY = "q3K8Zt0wXvB1nR5yL2mP7sD9fG4hJ6kA8cE0uI1oT3w="  # base64, no telling shape: masked as a literal
JWT = ("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJvaWQiOiI1YjhjMmQxZSIsImFwcGlkIjoiZDNiMDczODQifQ."
       "c2lnbmF0dXJlLWJ5dGVz")


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Bearer abc.def-ghi_jkl~mno+pqr/stu==", "Authorization: Bearer ***"),
    ("bearer xyz123", "bearer ***"),
    ("DefaultEndpointsProtocol=https;AccountName=st1;AccountKey=dGhpcyBpcyBhIGtleQ==;EndpointSuffix=core.windows.net",
     "DefaultEndpointsProtocol=https;AccountName=st1;AccountKey=***;EndpointSuffix=core.windows.net"),
    ("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=c2VjcmV0",
     "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=***"),
    ("BlobEndpoint=https://st1.blob.core.windows.net/;SharedAccessSignature=sv=2024-11-04&ss=b&sig=abc%2Bdef",
     "BlobEndpoint=https://st1.blob.core.windows.net/;SharedAccessSignature=***"),
    ("aeg-sas-token: SharedAccessSignature r=https%3a%2f%2ftopic&e=6%2f1%2f2026&s=Zm9vYmFy",
     "aeg-sas-token: SharedAccessSignature ***"),
    ("GET https://st1.blob.core.windows.net/c/b?sv=2024-11-04&se=2026-01-01&sr=b&sp=r&sig=Zm9v%2Bbar%3D&x=1",
     "GET https://st1.blob.core.windows.net/c/b?sv=2024-11-04&se=2026-01-01&sr=b&sp=r&sig=***&x=1"),
    ("headers {'aeg-sas-key': 'c2VjcmV0a2V5'}", "headers {'aeg-sas-key': '***'}"),
    (f"token {JWT} expired", "token *** expired"),
    (f"topic key {TOPIC_KEY} refused", "topic key *** refused"),
    # not secrets: left exactly as they are
    ("the design signature of sig= nothing", "the design signature of sig= nothing"),
    ("cluster s2dclu01 answers on 10.20.1.10 (probe 59999)", "cluster s2dclu01 answers on 10.20.1.10 (probe 59999)"),
    ("/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/rg-s2d-dr",
     "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/rg-s2d-dr"),
])
def test_redact(text: str, expected: str) -> None:
    assert obs.redact(text, [TOPIC_KEY]) == expected


def record(msg: str, *args: Any, **extra: Any) -> logging.LogRecord:
    rec = logging.LogRecord("shared.test", logging.INFO, __file__, 1, msg, args or None, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_the_redaction_filter_masks_message_arguments_extras_and_tracebacks_and_never_drops() -> None:
    flt = obs.RedactionFilter([TOPIC_KEY])
    rec = record("publish with key %s to %s", TOPIC_KEY, "https://topic", detail=f"Bearer {JWT}")
    assert flt.filter(rec) is True
    assert rec.getMessage() == "publish with key *** to https://topic"
    assert rec.detail == "Bearer ***"
    try:
        raise RuntimeError(f"refused AccountKey=abcdefgh1234; {TOPIC_KEY}")
    except RuntimeError:
        failed = logging.LogRecord("shared.test", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert flt.filter(failed) is True
    assert "abcdefgh1234" not in (failed.exc_text or "") and TOPIC_KEY not in (failed.exc_text or "")
    assert "AccountKey=***" in (failed.exc_text or "")
    assert failed.exc_info is None  # the exception object still holds the secret: only the masked text remains
    assert "AccountKey=***" in logging.Formatter().format(failed)
    clean = record("nothing %s here", "secret-free")
    assert flt.filter(clean) and clean.args == ("secret-free",)  # untouched records keep their arguments


def test_a_record_whose_message_cannot_be_formatted_passes_through() -> None:
    bad = record("%d items", "not a number")
    assert obs.RedactionFilter().filter(bad) is True


def test_secrets_of_are_the_settings_declared_secret() -> None:
    settings = Settings.from_env({
        "ALLOWED_SUBSCRIPTION_IDS": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
        "VAULT_ID": "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/rg/providers/"
                    "Microsoft.RecoveryServices/vaults/v",
        "TARGET_REGION": "northeurope", "RECOVERY_RESOURCE_GROUP_ID": "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-"
        "9c0d1e2f3a4b/resourceGroups/rg", "RECOVERY_VNET_ID": "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/"
        "resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet",
        "CACHE_STORAGE_ACCOUNT_ID": "/subscriptions/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/resourceGroups/rg/providers/"
                                    "Microsoft.Storage/storageAccounts/st",
        "STATE_STORAGE_ACCOUNT_URL": "https://st.blob.core.windows.net",
        "WORK_QUEUE_CONNECTION__queueServiceUri": "https://st.queue.core.windows.net", "EVENT_GRID_TOPIC_KEY": TOPIC_KEY})
    assert obs.secrets_of(settings) == [TOPIC_KEY]


def test_every_record_carries_the_ids_of_its_context_and_nested_contexts_add_to_them() -> None:
    flt = obs.ContextFilter()
    outside = record("before")
    flt.filter(outside)
    assert (outside.event_id, outside.correlation_id, outside.cluster) == ("", "", "")
    with obs.log_context(event_id="evt-1", correlation_id="corr-1"):
        first = record("event")
        flt.filter(first)
        with obs.log_context(cluster="s2dclu01"):
            inner = record("cluster")
            flt.filter(inner)
            explicit = record("explicit", cluster="other")
            flt.filter(explicit)
        after = record("after the cluster")
        flt.filter(after)
    assert (first.event_id, first.correlation_id, first.cluster) == ("evt-1", "corr-1", "")
    assert (inner.event_id, inner.correlation_id, inner.cluster) == ("evt-1", "corr-1", "s2dclu01")
    assert explicit.cluster == "other"  # an explicit extra= value wins
    assert after.cluster == "" and obs.current() == {"event_id": "", "correlation_id": "", "cluster": ""}


def test_contexts_do_not_leak_between_threads() -> None:
    seen: dict[str, dict[str, str]] = {}
    ready = threading.Barrier(2)

    def work(name: str) -> None:
        with obs.log_context(event_id=name, cluster=f"c-{name}"):
            ready.wait(timeout=5)
            seen[name] = obs.current()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": {"event_id": "a", "correlation_id": "", "cluster": "c-a"},
                    "b": {"event_id": "b", "correlation_id": "", "cluster": "c-b"}}


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_configure_installs_both_filters_on_the_shipping_handlers_and_exports_once_only_when_asked() -> None:
    logger = logging.getLogger(f"asr-s2d-test-{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    capture = _Capture()
    logger.addHandler(capture)
    exported: list[str] = []
    setup = obs.LogSetup(export=exported.append, loggers=lambda: [logger])

    assert setup.configure(secrets=[TOPIC_KEY]) is False and exported == []
    with obs.log_context(event_id="evt-9", correlation_id="corr-9", cluster="s2dclu01"):
        logger.info("sent %s", TOPIC_KEY, extra={"subject": f"Bearer {JWT}"})
    rec = capture.records[-1]
    assert (rec.event_id, rec.correlation_id, rec.cluster) == ("evt-9", "corr-9", "s2dclu01")
    assert rec.getMessage() == "sent ***" and rec.subject == "Bearer ***"

    assert setup.configure(connection_string="InstrumentationKey=00000000-0000-0000-0000-000000000000") is True
    assert setup.configure(connection_string="InstrumentationKey=00000000-0000-0000-0000-000000000000") is True
    assert exported == ["InstrumentationKey=00000000-0000-0000-0000-000000000000"]
    assert capture.filters.count(setup.redaction) == 1 and capture.filters.count(setup.context) == 1


def test_configuring_without_a_connection_string_never_imports_the_exporter() -> None:
    import subprocess

    code = ("import sys; from shared import observability as o; o.configure(secrets=['x' * 12]); "
            "print(any(m.startswith(('azure.monitor', 'opentelemetry')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
