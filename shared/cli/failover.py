"""``asr-s2d reassign-ip``: the IP step after a failover (or, with ``--test``, a test failover), on demand."""

from __future__ import annotations

import argparse
from typing import Any

from shared.cli.output import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, cluster_command, fields, numbered, progress, say
from shared.failover.service import reassign_cluster
from shared.runtime import default_runtime


def register(sub: Any) -> None:
    p = cluster_command(sub, "reassign-ip", cmd_reassign_ip,
                        summary="after a failover (or with --test, a test failover) of CLUSTER, put its cluster IP on the "
                             "DR (test) load balancer and in the guest",
                        json_help="one JSON object (the outcome record) on stdout")
    p.add_argument("--test", action="store_true", help="the test failover's network and load balancer")


def cmd_reassign_ip(args: argparse.Namespace) -> int:
    rt = default_runtime()
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
    if outcome.kind == "rejected":
        say(f"asr-s2d: {outcome.reason}", err=True)
        return EXIT_BAD_INPUT
    return EXIT_FAILED if outcome.kind == "failed" else EXIT_OK
