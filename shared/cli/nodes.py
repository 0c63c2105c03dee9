"""``asr-s2d nodes``: a cluster's confirmed nodes and its candidates; an operator confirms a candidate."""

from __future__ import annotations

import argparse
from typing import Any

from shared.cli.output import EXIT_BAD_INPUT, EXIT_OK, CliError, command, exit_code, progress, say, table
from shared.enrollment.service import confirm_node, enroll_cluster, find_cluster
from shared.runtime import default_runtime


def register(sub: Any) -> None:
    p = command(sub, "nodes", lambda _args: EXIT_BAD_INPUT,
                summary="list a cluster's confirmed nodes and the VMs tagged into it but not confirmed; confirm one",
                description="After the first enrollment a cluster's node set is fixed: a VM tagged into it later "
                            "joins when the cluster itself lists it (its guest's node list) or when an operator "
                            "confirms it here. Until then nothing is written for it.",
                examples=["asr-s2d nodes list s2dclu01", "asr-s2d nodes add s2dclu01 s2d-node3"])
    verbs = p.add_subparsers(dest="verb", required=True)
    show = verbs.add_parser("list", help="the cluster's confirmed nodes and its unconfirmed candidates")
    show.add_argument("cluster")
    show.add_argument("--json", action="store_true", help="one JSON object on stdout")
    show.set_defaults(func=cmd_list)
    add = verbs.add_parser("add", help="confirm that VM (tagged into CLUSTER) is one of its nodes, then enroll it")
    add.add_argument("cluster")
    add.add_argument("vm", help="the VM's name or resource ID")
    add.add_argument("--json", action="store_true", help="the enrollment's outcome record on stdout")
    add.set_defaults(func=cmd_add)


def cmd_list(args: argparse.Namespace) -> int:
    rt = default_runtime()
    record = rt.records.enrollment(args.cluster)
    if record is None:
        raise CliError(EXIT_BAD_INPUT, f"asr-s2d never enrolled a cluster {args.cluster}")
    progress(f"reading the VMs tagged into cluster {record.cluster}")
    tagged = find_cluster(rt, record.cluster, [record.key.split("/")[0]])
    rows = [{"node": n.name, "computer name": n.computer_name, "status": f"confirmed ({n.confirmed_by})"}
            for n in record.nodes]
    rows += [{"node": vm.name, "computer name": vm.host_name, "status": "UNCONFIRMED: nothing is written for it"}
             for vm in tagged.nodes if not record.has_node(vm.id)]
    if args.json:
        say({"cluster": record.cluster, "nodes": rows}, indent=1)
    else:
        say(table(rows, ["node", "computer name", "status"]))
    return EXIT_OK


def cmd_add(args: argparse.Namespace) -> int:
    rt = default_runtime()
    progress(f"confirming {args.vm} as a node of cluster {args.cluster}")
    record = confirm_node(rt, args.cluster, args.vm)
    progress(f"enrolling cluster {record.cluster} with its confirmed nodes")
    cluster = find_cluster(rt, record.cluster, [record.key.split("/")[0]])
    outcome = enroll_cluster(cluster, rt, event_id=f"cli-nodes-add-{args.vm}"[:120], trigger="cli")
    if args.json:
        say(outcome.to_json(), indent=1, sort_keys=True)
    else:
        say(f"{outcome.kind}: {outcome.reason}")
    return exit_code(outcome.kind)
