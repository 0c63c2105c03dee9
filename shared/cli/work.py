"""``asr-s2d worker`` and ``asr-s2d status``: the work queue from an operator's terminal.

``worker`` takes messages from WORK_QUEUE and handles each as the queue trigger does (one bounded step of one work
item per message, ``shared.work.worker.run_queue``); ``status`` lists a cluster's work items; ``print_enqueued`` is
what ``--no-wait`` prints for the work a command only enqueued.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Sequence
from typing import Any

from shared import tags
from shared.cli.output import EXIT_BAD_INPUT, EXIT_OK, CliError, command, fields, progress, say, table
from shared.errors import AsrS2dError
from shared.runtime import Runtime, default_runtime
from shared.work import item as items
from shared.work.item import Work
from shared.work.worker import run_queue

# What ``shared.work.worker`` says happened to a message, in the order the summary lists them.
WHAT = {
    "done": "a work item ended; its outcome is recorded",
    "failed": "a work item ended failed; its outcome says why",
    "waiting": "a step was taken; the item's next look is queued with a delay",
    "stale": "a duplicate or out-of-date message: dropped",
    "missing": "the item's state is gone: dropped",
    "rejected": "not a work message: recorded and dropped",
    "retried": "the step raised: the message comes back a few seconds later",
    "poisoned": "failed on its last delivery: the item is marked failed, the message is in the poison queue",
}
STATUS_COLUMNS = ["updated", "kind", "status", "step", "waits for / ended", "next look"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def register(sub: Any) -> None:
    p = command(sub, "worker", cmd_worker,
                summary="take work from the work queue (WORK_QUEUE) and advance it here, one bounded step per "
                        "message, as the function app's queue trigger does",
                description="The function app's queue trigger (on_work), run in this process: each message is one "
                            "bounded step of one work item (an enrollment, a re-addressing, a drill, a reprotect, a "
                            "repair); a step that waits for a Site Recovery job queues its next look with a delay. A "
                            "step that raises is retried a few seconds later and, after WORK_MAX_DEQUEUE deliveries, "
                            "recorded as failed and moved to the poison queue (<WORK_QUEUE>-poison). One progress "
                            "line per message goes to stderr; at the end a summary counts the messages by what "
                            "happened. Without --until-idle (or --max-seconds) it runs until interrupted. 0: the "
                            "worker ran (the items' own outcomes are in the summary and in `asr-s2d status`); 1: the "
                            "queue could not be read; 2: settings missing or wrong.",
                examples=["asr-s2d worker --until-idle", "asr-s2d worker --max-seconds 3600 --parallel 8",
                          "asr-s2d worker --until-idle --json"])
    p.add_argument("--until-idle", action="store_true",
                   help="stop once the queue is empty (no message left, visible or delayed)")
    p.add_argument("--max-seconds", type=_seconds, metavar="N", help="stop after N seconds at most")
    p.add_argument("--parallel", type=_positive, default=4, metavar="N",
                   help="messages handled at once (default 4; one item never takes two steps at once)")
    p.add_argument("--json", action="store_true", help="the summary as one JSON object")

    s = command(sub, "status", cmd_status, summary="list CLUSTER's work items: what each waits for, and what failed",
                description="The cluster's work items written in the last day (every one in flight), newest first: "
                            "their kind (enroll, failover, runbook, reassign, drill, reprotect, repair), status "
                            "(queued, waiting, done, failed), the steps taken, what the item waits for (or how it "
                            "ended), when its next look is due and when it last changed; then its failed work, each "
                            "with its reason and whether its message sits in the poison queue. Only reads. 0: listed "
                            "(also when the cluster has no work); 2: a bad name.",
                examples=["asr-s2d status s2dclu01", "asr-s2d status s2dclu01 --json"])
    s.add_argument("cluster")
    s.add_argument("--json", action="store_true", help="one JSON object: the work items and the failed ones")


# -- worker ---------------------------------------------------------------------------------------

def cmd_worker(args: argparse.Namespace) -> int:
    rt = default_runtime()
    name = rt.queue.name
    bound = "until the queue is empty" if args.until_idle else "until interrupted"
    if args.max_seconds is not None:
        bound += f" or {args.max_seconds:g} s have passed"
    progress(f"taking work from queue {name}, {args.parallel} message(s) at once, {bound}")
    numbers = itertools.count(1)

    def report(what: str) -> None:
        progress(f"message {next(numbers)}: {what}" + (f" ({WHAT[what]})" if what in WHAT else ""))

    started = time.monotonic()
    try:
        counts = run_queue(rt, until_idle=args.until_idle, max_seconds=args.max_seconds, parallel=args.parallel,
                           report=report)
    except KeyboardInterrupt:
        raise CliError(EXIT_OK, "worker stopped (interrupted); unfinished messages come back to the queue") from None
    seconds = round(time.monotonic() - started, 1)
    total = sum(counts.values())
    if args.json:
        say({"queue": name, "messages": total, "counts": counts, "seconds": seconds}, indent=1, sort_keys=True)
        return EXIT_OK
    if total:
        order = [*WHAT, *sorted(set(counts) - set(WHAT))]
        say(table([{"what": w, "messages": counts[w], "meaning": WHAT.get(w, "")} for w in order if w in counts],
                  ["what", "messages", "meaning"]))
        say()
    say(f"{total} message(s) from queue {name} in {seconds:g} s" if total else f"no message in queue {name}")
    if counts.get("poisoned") or counts.get("failed"):
        say(f"see `asr-s2d status CLUSTER` for the failed work; poisoned messages are in {rt.queue.poison_name}")
    return EXIT_OK


# -- status ---------------------------------------------------------------------------------------

def cluster_work(rt: Runtime, cluster: str) -> list[Work]:
    """The cluster's work items (its name compared case-insensitively), newest first."""
    wanted = cluster.casefold()
    found = [w for w in items.listed(rt.records, since=items.recent()) if (w.cluster or "").casefold() == wanted]
    return sorted(found, key=lambda w: (w.created, w.updated), reverse=True)


def _poisoned_ids(rt: Runtime) -> set[str] | None:
    """The work ids named by messages in the poison queue (its first 32); None when it could not be read."""
    try:
        return {str(m.body.get("work")) for m in rt.queue.poisoned() if m.body.get("work")}
    except AsrS2dError as err:
        say(f"asr-s2d: the poison queue {rt.queue.poison_name} could not be read: {err}", err=True)
        return None


def cmd_status(args: argparse.Namespace) -> int:
    name = tags.cluster_name(args.cluster, "status")  # a bad name is bad input (exit 2), and no read
    rt = default_runtime()
    progress(f"reading the work items of cluster {name}")
    works = cluster_work(rt, name)
    name = next((w.cluster for w in works if w.cluster), name)  # as it was recorded
    failed = [w for w in works if w.status == "failed"]
    poisoned = _poisoned_ids(rt) if failed else set()
    failed_rows = [{"work": w.id, "kind": w.kind, "step": w.step, "updated": w.updated, "reason": w.reason,
                    "poison queue": None if poisoned is None else w.id in poisoned} for w in failed]
    if args.json:
        say({"cluster": name, "work": [w.line() for w in works], "failed": failed_rows}, indent=1, sort_keys=True)
        return EXIT_OK
    if not works:
        say(f"cluster {name} has no work items (nothing queued, running or recorded for it)")
        return EXIT_OK
    say(table([_status_row(w) for w in works], STATUS_COLUMNS, keep=("updated", "next look")))
    active = sum(not w.ended for w in works)
    say(f"\n{len(works)} work item(s) of cluster {name} (UTC times; --json for their ids): {active} queued or "
        f"waiting, {len(failed)} failed")
    if failed:
        say()
        say(table([{**r, "updated": _time(w.updated), "poison queue": _yes_no(r["poison queue"])}
                   for w, r in zip(failed, failed_rows, strict=True)],
                  ["work", "step", "updated", "poison queue", "reason"], keep=("work", "updated")))
        say(f"to run one again, fix its reason, then run its command again (in this process, or with --no-wait to "
            f"enqueue it); its message stays in {rt.queue.poison_name} (docs/operations.md: the poison queue)")
    return EXIT_OK


def _yes_no(value: Any) -> str:
    return "?" if value is None else "yes" if value else "no"


def _time(iso: str | None) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM:SS`` (UTC): what a table shows."""
    return iso[:19].replace("T", " ") if iso else "-"


def _status_row(work: Work) -> dict[str, Any]:
    return {"updated": _time(work.updated), "kind": work.kind, "status": work.status, "step": work.step,
            "waits for / ended": work.reason or "-", "next look": _time(work.due) if not work.ended else "-"}


# -- --no-wait ------------------------------------------------------------------------------------

def print_enqueued(rt: Runtime, works: Sequence[Work], *, as_json: bool) -> int:
    """What a command run with ``--no-wait`` prints: the work it enqueued, and how to follow it."""
    if as_json:
        lines = [w.line() for w in works]
        say(lines[0] if len(lines) == 1 else lines, indent=1, sort_keys=True)
        return EXIT_OK
    for work in works:
        say(fields([("work", work.id), ("kind", work.kind), ("cluster", work.cluster), ("status", work.status)]))
    clusters = sorted({w.cluster for w in works if w.cluster})
    follow = f"`asr-s2d status {clusters[0]}`" if len(clusters) == 1 else "`asr-s2d status CLUSTER`"
    say(f"\nenqueued on queue {rt.queue.name} for the worker (the app's, or `asr-s2d worker`); follow it with {follow}")
    return EXIT_OK



def enrolled(rt: Runtime, cluster: str, where: str) -> str:
    """The cluster's name when asr-s2d enrolled it; else bad input (exit 2), before anything is enqueued or
    recorded for a cluster asr-s2d does not have."""
    name = tags.cluster_name(cluster, where)
    if rt.records.enrollment(name) is None:
        raise CliError(EXIT_BAD_INPUT, f"asr-s2d never enrolled a cluster {name}")
    return name
