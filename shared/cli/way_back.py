"""``asr-s2d reprotect``: the way back after a committed failover (or failback); with ``--no-wait`` only enqueued
for the worker."""

from __future__ import annotations

import argparse
from typing import Any

from shared.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REPORTED,
    cluster_command,
    fields,
    finding_blocks,
    numbered,
    progress,
    say,
)
from shared.cli.work import enrolled, print_enqueued
from shared.runtime import default_runtime
from shared.way_back import service as way_back
from shared.way_back.plan import Stage


def register(sub: Any) -> None:
    p = cluster_command(sub, "reprotect", cmd_reprotect,
                        summary="after a committed failover of CLUSTER, replicate it back and stage the failback load "
                                "balancer; after a committed failback, replicate it to the DR region again (without "
                                "ALLOW_REPROTECT, print the steps)",
                        description="The way back of an enrolled cluster. After a committed failover: reprotect every "
                                    "node (replicate it back to the region it came from) and stage the failback load "
                                    "balancer; after a committed failback: reprotect it to the DR region again. "
                                    "Without ALLOW_REPROTECT (and DR_CACHE_STORAGE_ACCOUNT_ID) it writes nothing and "
                                    "prints the exact portal and PowerShell steps. 0: done (or nothing to do); 3: "
                                    "only reported, or the failover is not committed yet. With --no-wait it is only "
                                    "enqueued for the worker: its work id is printed and `asr-s2d status CLUSTER` "
                                    "follows it (0).",
                        examples=["asr-s2d reprotect s2dclu01", "ALLOW_REPROTECT=true asr-s2d reprotect s2dclu01 --json",
                                  "asr-s2d reprotect s2dclu01 --no-wait"],
                        json_help="one JSON object (the outcome record) on stdout; with --no-wait, the work item")
    p.add_argument("--no-wait", action="store_true",
                   help="only enqueue the reprotect for the worker and print its work id")


def cmd_reprotect(args: argparse.Namespace) -> int:
    rt = default_runtime()
    if args.no_wait:
        name = enrolled(rt, args.cluster, "reprotect")
        return print_enqueued(rt, [way_back.enqueue_reprotect(name, rt, trigger="cli")], as_json=args.json)
    progress(f"reading the vault, the failed-over VMs and the original nodes of cluster {args.cluster}")
    outcome = way_back.reprotect_cluster(args.cluster, rt, trigger="cli")
    if args.json:
        say(outcome.to_json(), indent=1, sort_keys=True)
    else:
        say(fields([("cluster", outcome.cluster), ("outcome", outcome.kind), ("stage", outcome.details.get("stage")),
                    ("reason", outcome.reason), ("writes", outcome.writes)]))
        if outcome.plan:
            say(numbered(outcome.plan))
        if outcome.findings:
            say(finding_blocks(outcome.findings))
    if outcome.kind == "failed":
        return EXIT_FAILED
    reported = outcome.details.get("stage") == Stage.COMMIT_PENDING.value or (
        outcome.plan and outcome.kind == "unchanged")
    return EXIT_REPORTED if reported else EXIT_OK
