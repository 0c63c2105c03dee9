"""``asr-s2d plan``: what enrolling a cluster would write, without writing."""

from __future__ import annotations

import argparse
from typing import Any

from shared.cli.output import EXIT_BAD_INPUT, EXIT_OK, CliError, cluster_command, numbered, progress, say, table
from shared.enrollment.service import find_cluster, plan_cluster, refusal
from shared.runtime import default_runtime


def register(sub: Any) -> None:
    cluster_command(sub, "plan", cmd_plan, summary="print what enrolling CLUSTER would write, without writing",
                    description="What enrollment would write for the tagged cluster now (fabrics, containers, "
                                "mappings, the policy, enabling each confirmed node in one multi-VM group, the "
                                "recovery plan, the DR load balancer), and its findings; nothing is written and the "
                                "guest is not asked. A cluster whose tags are refused is reported with the reason "
                                "(exit 2).",
                    examples=["asr-s2d plan s2dclu01", "asr-s2d plan s2dclu01 --json"],
                    json_help="the plan as one JSON object")


def cmd_plan(args: argparse.Namespace) -> int:
    rt = default_runtime()
    progress(f"finding cluster {args.cluster}")
    cluster = find_cluster(rt, args.cluster)
    refused = refusal(cluster, rt.records.enrollment(cluster.name))
    if refused:
        raise CliError(EXIT_BAD_INPUT, refused)
    progress(f"reading {len(cluster.nodes)} nodes, the vault and the DR network")
    plan = plan_cluster(rt, cluster)
    if args.json:
        say({"cluster": plan.cluster, "waiting": plan.waiting, "actions": plan.describe(),
             "findings": [f.to_json() for f in plan.findings]}, indent=1)
        return EXIT_OK
    say(f"cluster {plan.cluster}: {len(cluster.nodes)} nodes ({', '.join(n.name for n in cluster.nodes)}), "
        f"enrolled by {cluster.enrolled_by}")
    if plan.waiting:
        say(f"waiting: {plan.waiting}")
    if plan.actions:
        say(numbered(plan.describe()))
    else:
        say("nothing to write: the cluster is converged")
    if plan.findings:
        say(table([f.to_json() for f in plan.findings], ["severity", "subject", "message"]))
    return EXIT_OK
