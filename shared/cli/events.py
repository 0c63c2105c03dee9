"""``asr-s2d handle-event``: events from a file, handled afresh as the triggers would (one JSON line each): in this
process until done, or with ``--no-wait`` only screened and enqueued for the worker."""

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
from shared.work import item as items
from shared.work.item import Work
from shared.work.worker import enqueue

# Which exit code wins when one file holds several events: what no retry fixes, then what failed, then "later".
SEVERITY = (EXIT_OK, EXIT_RETRY, EXIT_FAILED, EXIT_BAD_INPUT)


def register(sub: Any) -> None:
    p = command(sub, "handle-event", cmd_handle_event,
                summary="handle Event Grid / CloudEvents events from a JSON file (one or an array)",
                description="Each event is handled afresh as its trigger would (tag events by enrollment, failover "
                            "actions by the failover service), and one JSON line per event is printed: "
                            '{"event_id", "outcome", "reason", "cluster", "writes"}. The exit code is the worst of '
                            "the events': 2 when one was malformed or rejected (a bad tag), 1 when one failed, 4 when "
                            "one is not done yet (waiting, not-yet), else 0. With --no-wait each event is only "
                            "screened as its trigger does and, when there is work to do, enqueued for the worker: its "
                            'line says {"outcome": "queued", "work": <work id>} (or, for an event whose work was '
                            "enqueued before, that work's status), and `asr-s2d status CLUSTER` follows it.",
                examples=["asr-s2d handle-event event.json", "asr-s2d handle-event deadletter-batch.json",
                          "asr-s2d handle-event --no-wait deadletter-batch.json"])
    p.add_argument("file")
    p.add_argument("--no-wait", action="store_true",
                   help="only enqueue each event's work for the worker and print its work id; do not wait for it")


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
            if args.no_wait:
                line, kind = _enqueued(item, rt)
                say(line)
                codes.append(exit_code(kind))
                continue
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


def _is_failover(item: Any) -> bool:
    return isinstance(item, dict) and (item.get("eventType") or item.get("type")) in ACTION_EVENTS


def _handler_for(item: Any) -> Callable[[Any, Runtime], Outcome]:
    if _is_failover(item):
        return failover.handle
    return functools.partial(enrollment.handle, fresh=True)  # an operator's request: not a duplicate delivery


def _enqueued(item: Any, rt: Runtime) -> tuple[dict[str, Any], str]:
    """``--no-wait``: the event screened as its trigger does; its line and outcome kind (``queued`` when its work
    went on the queue, or when the same work was enqueued before: then the line says how that one stands)."""
    accepted = failover.accept(item, rt) if _is_failover(item) else enrollment.accept(item, rt, fresh=True)
    if isinstance(accepted, Outcome):  # answered at once: malformed, irrelevant, about no tagged VM
        return accepted.line(), accepted.kind
    work: Work = accepted
    if enqueue(rt, work):
        reason = f"enqueued as work {work.id}"
    else:
        earlier = items.load(rt.records, work.id) or work
        work = earlier
        reason = (f"enqueued before as work {work.id}: {work.status}" + (f": {work.reason}" if work.reason else "")
                  + ("; run without --no-wait to handle it again" if work.ended else ""))
    return {"event_id": events.event_id_of(item), "outcome": "queued", "reason": reason, "cluster": work.cluster,
            "writes": 0, "work": work.id}, "queued"
