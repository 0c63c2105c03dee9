"""Structured logs: every record carries the event, correlation and cluster it is about, no record carries a
secret, and Application Insights receives them through OpenTelemetry when a connection string is set.

Owns the log context (``log_context``: context variables the services' entry points set), the two logging
filters (``ContextFilter``, ``RedactionFilter``) and the one-time setup (``configure``), which starts the Azure
Monitor exporter when a connection string is set and puts both filters on the handlers that ship records out
(the Functions worker's handler on the root logger, the OpenTelemetry handler). The fields become custom
dimensions in Application Insights (``customDimensions.event_id``, ...).

Owns the one redaction too: ``redact`` masks a text, ``scrub`` every string of a JSON-like value, both with the
same patterns and the literal secrets the process knows (``add_secrets``). Logs go through it in the
``RedactionFilter``; every other output (SDK errors as they enter the domain, blobs, topic events, the runbook's
HTTP answer, the status page, parsed guest output, the CLI's printing) through ``scrub``.

It must not be imported by ``function_app`` or ``functions/*`` at import time, and it imports
``azure.monitor.opentelemetry`` only inside ``configure``, on the first invocation that has a connection
string: cold start matters.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, TypeVar, cast

FIELDS = ("event_id", "correlation_id", "cluster")
MASK = "***"
EXPORTED_LOGGER = "shared"  # the app's own records; the host already collects the SDKs' and its own

_T = TypeVar("_T")

_context: dict[str, contextvars.ContextVar[str]] = {
    name: contextvars.ContextVar(f"asr_s2d_{name}", default="") for name in FIELDS}

# Secrets by shape, wherever they appear in a message, an argument or a traceback.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1" + MASK),
    (re.compile(r"(?i)(\bAccountKey=)[^;\s\"'&]+"), r"\1" + MASK),
    (re.compile(r"(?i)(\bSharedAccessKey=)[^;\s\"'&]+"), r"\1" + MASK),
    (re.compile(r"(?i)(\bSharedAccessSignature[=\s]+)[^;\s\"']+"), r"\1" + MASK),
    (re.compile(r"(?i)([?&;]sig=)[^&;\s\"']+"), r"\1" + MASK),
    (re.compile(r"(?i)(\baeg-sas-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+"), r"\1" + MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), MASK),  # a JWT anywhere
)
# What every pattern above needs to find: a text without any of these is left alone at the cost of one search
# (``scrub`` runs over every string of every record and report).
_TELL = re.compile(r"(?i)bearer|accountkey=|sharedaccess|sig=|aeg-sas-key|eyJ")


@contextmanager
def log_context(*, event_id: str | None = None, correlation_id: str | None = None,
                cluster: str | None = None) -> Iterator[None]:
    """Within the block, every log record carries these IDs (those given; the others keep the outer values)."""
    values = {"event_id": event_id, "correlation_id": correlation_id, "cluster": cluster}
    tokens = [(var, var.set(str(values[name]))) for name, var in _context.items() if values[name]]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> dict[str, str]:
    """The IDs in effect here (empty strings where none is set)."""
    return {name: var.get() for name, var in _context.items()}


class ContextFilter(logging.Filter):
    """Adds ``event_id``, ``correlation_id`` and ``cluster`` to a record; an explicit ``extra=`` value wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not getattr(record, name, None):
                setattr(record, name, value)
        return True


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret-shaped value and every literal secret replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 8 and secret in text:
            text = text.replace(secret, MASK)
    if _TELL.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactionFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, extra string fields, traceback and stack text. It never
    drops a record. ``secrets`` are literal values (the topic key, a static token) that have no telling shape."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets = tuple(sorted({*self._secrets, *(s for s in secrets if s)}, key=len, reverse=True))

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a filter must never raise; the handler reports the bad record
            return True
        cleaned = redact(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            cleaned = redact(record.exc_text, secrets)
            if cleaned != record.exc_text:
                # Handlers that read the exception object (OpenTelemetry's) would see the secret: keep the text only.
                record.exc_text, record.exc_info = cleaned, None
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value, secrets))
        return True


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", *FIELDS}


def scrub(value: _T, secrets: Iterable[str] | None = None) -> _T:
    """``value`` as it may leave the process: a text, or every key and string of JSON-like dicts, lists and tuples
    however nested, redacted as log records are (``redact``; ``secrets`` default to those the process knows).
    Other values come back as they are; nothing is changed in place."""
    known = _PROCESS.redaction.secrets if secrets is None else tuple(secrets)
    return cast(_T, _scrub(value, known))


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrub(v, secrets) for v in value)
    return value


def add_secrets(secrets: Iterable[str]) -> None:
    """Literal secret values (a topic key, a connection string) that logs and ``scrub`` mask from now on."""
    _PROCESS.redaction.add_secrets(secrets)


def secrets_of(settings: Any) -> list[str]:
    """The values of the settings declared secret (``shared.config``): masked wherever they appear."""
    return [str(getattr(settings, f.name)) for f in fields(settings) if f.metadata.get("secret")
            and getattr(settings, f.name)]


# -- one-time setup ------------------------------------------------------------------------------------------

def _azure_monitor(connection_string: str) -> None:
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(connection_string=connection_string, logger_name=EXPORTED_LOGGER,
                            enable_live_metrics=False)


def _shipping_loggers() -> tuple[logging.Logger, ...]:
    """The loggers whose handlers ship records out: the root (the Functions worker forwards its records to the
    host from there) and the exported logger (the OpenTelemetry handler)."""
    return logging.getLogger(), logging.getLogger(EXPORTED_LOGGER)


class LogSetup:
    """The logging setup of one process: the two filters on the shipping handlers, the exporter at most once.

    Handler filters see every record that reaches the handler, whichever logger created it, after its
    ``extra=`` fields are set. ``export`` and ``loggers`` are the seams for tests."""

    def __init__(self, *, export: Callable[[str], None] = _azure_monitor,
                 loggers: Callable[[], Iterable[logging.Logger]] = _shipping_loggers) -> None:
        self.context = ContextFilter()
        self.redaction = RedactionFilter()
        self.exporting = False
        self._export = export
        self._loggers = loggers
        self._lock = threading.Lock()

    def install(self) -> None:
        """Both filters on every handler of the shipping loggers (idempotent)."""
        for logger in self._loggers():
            for handler in logger.handlers:
                for flt in (self.context, self.redaction):
                    if flt not in handler.filters:
                        handler.addFilter(flt)

    def configure(self, *, connection_string: str = "", secrets: Iterable[str] = ()) -> bool:
        """Start the export the first time a connection string is given, then install the filters (on the
        exporter's handler too). Returns whether export is on."""
        with self._lock:
            self.redaction.add_secrets(secrets)
            started = bool(connection_string) and not self.exporting
            if started:
                self._export(connection_string)
                self.exporting = True
            self.install()
        if started:
            logging.getLogger(__name__).info("Application Insights export on (logger %r)", EXPORTED_LOGGER)
        return self.exporting


_PROCESS = LogSetup()


def configure(*, connection_string: str = "", secrets: Iterable[str] = ()) -> bool:
    """The process's setup: called by ``shared.runtime.default_runtime`` on a function's first invocation, never
    at import (the exporter's imports cost a cold start about 0.4 s)."""
    return _PROCESS.configure(connection_string=connection_string, secrets=secrets)
