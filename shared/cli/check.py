"""``asr-s2d check``: before an operator tags a cluster, each prerequisite of enrollment as met or not, with the fix."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shared.cli.output import EXIT_CRITICAL, EXIT_OK, command, numbered, progress, say, table
from shared.enrollment import preflight_service
from shared.runtime import default_runtime


def register(sub: Any) -> None:
    p = command(
        sub, "check", cmd_check, summary="check, before tagging, what enrolling these VMs as one cluster needs",
        description="Reads what enrollment would need for the given VMs, as if they were tagged asr-s2d=true as one "
                    "cluster, and reports each prerequisite as met or not met, with a one-line reason and the fix: the "
                    "nodes' regions, power state and VM agent, their disk types (the A2A support matrix), the cache "
                    "storage account, the vault and its region, the DR subnet and DR IP, the network mappings, the "
                    "cloud witness's region, TCP 20004 between the nodes through their network security groups, the "
                    "permissions of the identity asr-s2d runs as, and the plan enrollment would apply. Nothing is "
                    "written. Exit 0 when every prerequisite is met, 3 when one is not (each is named), 2 for bad input.",
        examples=["asr-s2d check --vm /subscriptions/<sub>/resourceGroups/rg-s2d-prod/providers/Microsoft.Compute/"
                  "virtualMachines/s2d-node1 --vm .../virtualMachines/s2d-node2",
                  "asr-s2d check --resource-group /subscriptions/<sub>/resourceGroups/rg-s2d-prod --json",
                  "asr-s2d check --resource-group <id> --cluster s2dclu01 --witness <storage account id>"])
    nodes = p.add_mutually_exclusive_group(required=True)
    nodes.add_argument("--vm", action="append", metavar="ID", help="a node's VM resource ID (once per node)")
    nodes.add_argument("--resource-group", metavar="ID", help="every VM of this resource group is a node")
    p.add_argument("--cluster", metavar="NAME", help="the cluster's name (default: the nodes' asr-s2d-cluster tag, "
                                                     "else their availability set's name, else their group's)")
    p.add_argument("--witness", metavar="ID", help="the cloud witness's storage account (default: the nodes' "
                                                   "asr-s2d-witness tag)")
    p.add_argument("--roles", metavar="FILE", type=Path,
                   help="the roles file the permissions are checked against (default: infra/role-actions.json)")
    p.add_argument("--json", action="store_true", help="the report as one JSON object")


def cmd_check(args: argparse.Namespace) -> int:
    rt = default_runtime()
    progress("reading the nodes, their networks, the vault, the accounts and the permissions (nothing is written)")
    report = preflight_service.check(rt, vm_ids=args.vm or (), resource_group=args.resource_group, cluster=args.cluster,
                                     witness=args.witness, roles_file=args.roles)
    if args.json:
        say(report.to_json(), indent=1)
    else:
        say(f"cluster {report.cluster} as if tagged: {len(report.nodes)} node(s) ({', '.join(report.nodes)})")
        say(table([c.to_json() for c in report.checks], ["check", "status", "reason", "fix"]))
        if report.actions:
            say("\nenrollment would write:")
            say(numbered(list(report.actions)))
        failed = report.failed
        say("\n" + (f"not met: {', '.join(c.name for c in failed)}" if failed else "every prerequisite is met"))
    return EXIT_CRITICAL if report.failed else EXIT_OK
