"""``asr-s2d reassign-ip``: the IP step after a failover (or, with ``--test``, a test failover), on demand; with
``--no-wait`` only enqueued for the worker."""

from __future__ import annotations

import argparse
from typing import Any

from shared.cli.output import (
    EXIT_REPORTED,
    cluster_command,
    exit_code,
    fields,
    numbered,
    progress,
    say,
)
from shared.cli.work import enrolled, print_enqueued
from shared.failover.service import enqueue_reassign, reassign_cluster
from shared.runtime import default_runtime


def register(sub: Any) -> None:
    p = cluster_command(sub, "reassign-ip", cmd_reassign_ip,
                        summary="after a failover (or with --test, a test failover) of CLUSTER, put its cluster IP on "
                                "the DR (test) load balancer and in the guest",
                        description="The IP step after a failover of an enrolled cluster, on demand: what the failover "
                                    "signals do. It re-reads Site Recovery, the recovered nodes and the DR (or test) "
                                    "network, puts asr-s2d's load balancer right and runs set_cluster_ip.ps1 once on a "
                                    "confirmed node. 0: done (or already done); 3: nothing was done (the reason says "
                                    "why: e.g. no load balancer at home after a failback); 4: the failover is not "
                                    "finished yet, run it again later. With --no-wait it is only enqueued for the "
                                    "worker, which looks again until the failover has ended: its work id is printed "
                                    "and `asr-s2d status CLUSTER` follows it (0).",
                        examples=["asr-s2d reassign-ip s2dclu01", "asr-s2d reassign-ip s2dclu01 --test --json",
                                  "asr-s2d reassign-ip s2dclu01 --no-wait"],
                        json_help="one JSON object (the outcome record) on stdout; with --no-wait, the work item")
    p.add_argument("--test", action="store_true", help="the test failover's network and load balancer")
    p.add_argument("--no-wait", action="store_true",
                   help="only enqueue the IP step for the worker and print its work id")


def cmd_reassign_ip(args: argparse.Namespace) -> int:
    rt = default_runtime()
    enrolled(rt, args.cluster, "reassign-ip")  # an unknown cluster is bad input, and gets no record
    if args.no_wait:
        return print_enqueued(rt, [enqueue_reassign(args.cluster, rt, test=args.test, trigger="cli")],
                              as_json=args.json)
    progress(f"re-reading Site Recovery, the recovered nodes and the {'test' if args.test else 'DR'} network of "
             f"cluster {args.cluster}")
    outcome = reassign_cluster(args.cluster, rt, test=args.test)
    if args.json:
        say(outcome.to_json(), indent=1, sort_keys=True)
    else:
        d = outcome.details
        say(fields([("cluster", outcome.cluster), ("outcome", outcome.kind), ("reason", outcome.reason),
                    ("cluster IP", d.get("ip")), ("probe port", d.get("probe_port")),
                    ("load balancer", d.get("load_balancer")), ("node", d.get("node")), ("guest", d.get("status")),
                    ("writes", outcome.writes)]))
        if outcome.plan:
            say(numbered(outcome.plan))
    if outcome.kind in ("rejected", "failed", "not-yet"):
        say(f"asr-s2d: {outcome.reason}", err=True)
    # "ignored": nothing was done, and the reason says why (a failback with no load balancer at home, say).
    return EXIT_REPORTED if outcome.kind == "ignored" else exit_code(outcome.kind)
