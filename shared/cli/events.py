"""``asr-s2d handle-event``: events from a file, handled afresh as the triggers would (one JSON line each)."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

from shared import events
from shared.cli.output import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, CliError, say
from shared.enrollment import service as enrollment
from shared.errors import AsrS2dError, RejectedInput
from shared.events import ACTION_EVENT
from shared.failover import service as failover
from shared.outcomes import Outcome
from shared.runtime import Runtime, default_runtime


def register(sub: Any) -> None:
    p = sub.add_parser("handle-event", help="handle Event Grid / CloudEvents events from a JSON file (one or an array)")
    p.add_argument("file")
    p.set_defaults(func=cmd_handle_event)


def cmd_handle_event(args: argparse.Namespace) -> int:
    try:
        with open(args.file, "rb") as handle:
            raw = handle.read()
    except OSError as err:
        raise CliError(EXIT_BAD_INPUT, f"cannot read {args.file}: {err.strerror}") from None
    try:
        payload = events.parse_payload(raw)
    except RejectedInput as err:
        raise CliError(EXIT_BAD_INPUT, f"{args.file}: {err}") from None
    rt = default_runtime()
    worst = EXIT_OK
    for item in payload:
        try:
            outcome = _handler_for(item)(item, rt)
        except AsrS2dError as err:
            say({"event_id": events.event_id_of(item), "outcome": "failed", "reason": str(err), "cluster": None,
                 "writes": 0})
            worst = max(worst, EXIT_FAILED)
            continue
        say(outcome.line())
        if outcome.kind == "rejected" and outcome.reason.startswith("malformed event"):
            worst = max(worst, EXIT_BAD_INPUT)
        elif outcome.kind == "failed":
            worst = max(worst, EXIT_FAILED)
    if worst == EXIT_BAD_INPUT:
        say(f"asr-s2d: {args.file}: one or more events are malformed (see their reasons)", err=True)
    return worst


def _handler_for(item: Any) -> Callable[[Any, Runtime], Outcome]:
    kind = (item.get("eventType") or item.get("type")) if isinstance(item, dict) else None
    if kind == ACTION_EVENT:
        return failover.handle
    return functools.partial(enrollment.handle, fresh=True)  # an operator's request: not a duplicate delivery
