"""``asr-s2d handle-event``: events from a file, handled afresh as the triggers would (one JSON line each)."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

from shared import events
from shared.cli.output import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, EXIT_RETRY, CliError, command, exit_code, say
from shared.enrollment import service as enrollment
from shared.errors import AsrS2dError, GuestNotReady, RejectedInput
from shared.events import ACTION_EVENTS
from shared.failover import service as failover
from shared.outcomes import Outcome
from shared.runtime import Runtime, default_runtime

# Which exit code wins when one file holds several events: what no retry fixes, then what failed, then "later".
SEVERITY = (EXIT_OK, EXIT_RETRY, EXIT_FAILED, EXIT_BAD_INPUT)


def register(sub: Any) -> None:
    p = command(sub, "handle-event", cmd_handle_event,
                summary="handle Event Grid / CloudEvents events from a JSON file (one or an array)",
                description="Each event is handled afresh as its trigger would (tag events by enrollment, failover "
                            "actions by the failover service), and one JSON line per event is printed: "
                            '{"event_id", "outcome", "reason", "cluster", "writes"}. The exit code is the worst of '
                            "the events': 2 when one was malformed or rejected (a bad tag), 1 when one failed, 4 when "
                            "one is not done yet (waiting, not-yet), else 0.",
                examples=["asr-s2d handle-event event.json", "asr-s2d handle-event deadletter-batch.json"])
    p.add_argument("file")


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
    codes = []
    for item in payload:
        try:
            outcome = _handler_for(item)(item, rt)
        except AsrS2dError as err:
            kind = "not-yet" if isinstance(err, GuestNotReady) else "failed"
            say({"event_id": events.event_id_of(item), "outcome": kind, "reason": str(err), "cluster": None,
                 "writes": 0})
            codes.append(exit_code(kind))
            continue
        say(outcome.line())
        codes.append(exit_code(outcome.kind))
    worst = max(codes, key=SEVERITY.index, default=EXIT_OK)
    if worst == EXIT_BAD_INPUT:
        say(f"asr-s2d: {args.file}: one or more events are malformed or were rejected (see their reasons)", err=True)
    return worst


def _handler_for(item: Any) -> Callable[[Any, Runtime], Outcome]:
    kind = (item.get("eventType") or item.get("type")) if isinstance(item, dict) else None
    if kind in ACTION_EVENTS:
        return failover.handle
    return functools.partial(enrollment.handle, fresh=True)  # an operator's request: not a duplicate delivery
