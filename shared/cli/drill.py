"""``asr-s2d drill``: one DR drill of a cluster, end to end, with its record printed; or, with ``--no-wait``, only
enqueued for the worker."""

from __future__ import annotations

import argparse
from typing import Any

from shared import ids
from shared.cli.output import EXIT_FAILED, EXIT_OK, EXIT_SKIPPED, cluster_command, fields, progress, say, table
from shared.cli.work import print_enqueued
from shared.drill import service as drills
from shared.drill.record import DrillRecord, Result
from shared.runtime import default_runtime


def register(sub: Any) -> None:
    p = cluster_command(sub, "drill", cmd_drill,
                        summary="test-fail CLUSTER over into the test network, check it from inside a node, clean up, "
                                "and record the result",
                        description="A DR drill of an enrolled cluster: preconditions, test failover of its recovery "
                                    "plan into TEST_FAILOVER_VNET_ID (latest processed recovery point; after a "
                                    "reprotect, the way back into FAILBACK_TEST_VNET_ID), the IP step in the test "
                                    "network, cluster_health.ps1 on a confirmed node's test VM, and the test-failover "
                                    "cleanup (always). Progress goes to stderr. The record is also written to blob "
                                    "storage (drills/<cluster>/<UTC time>.json and "
                                    "clusters/<cluster>/last-drill.json, which the audit and the status page read). "
                                    "0: passed; 1: failed (a check, a step or the cleanup); 3: skipped (a "
                                    "precondition failed; nothing was changed). With --no-wait the drill is only "
                                    "enqueued for the worker (which runs at most DRILL_CONCURRENCY drills at once): "
                                    "its work id is printed and `asr-s2d status CLUSTER` follows it (0).",
                        examples=["asr-s2d drill s2dclu01", "asr-s2d drill s2dclu01 --json > drill.json",
                                  "asr-s2d drill s2dclu01 --no-wait"],
                        json_help="print the drill record (JSON) instead of tables; with --no-wait, the work item")
    p.add_argument("--no-wait", action="store_true", help="only enqueue the drill for the worker and print its work id")


def cmd_drill(args: argparse.Namespace) -> int:
    rt = default_runtime()
    if args.no_wait:
        return print_enqueued(rt, [drills.enqueue_drill(args.cluster, rt, trigger="cli")], as_json=args.json)
    record = drills.run_drill(args.cluster, rt, trigger="cli", report=progress)
    if args.json:
        say(record.to_json(), indent=1)
    else:
        print_record(record)
    if record.result is Result.SKIPPED:
        return EXIT_SKIPPED
    return EXIT_OK if record.passed else EXIT_FAILED


def print_record(record: DrillRecord) -> None:
    if record.checks:
        say(table([{"check": c.name, "result": "ok" if c.ok else "FAILED", "detail": c.detail}
                     for c in record.checks], ["check", "result", "detail"]))
        say()
    age = f"{record.recovery_point_age_seconds} s" if record.recovery_point_age_seconds is not None else "-"
    say(fields([("cluster", record.cluster), ("result", record.result.value.upper()), ("reason", record.reason),
                  ("started", record.started), ("ended", record.ended), ("drill time", f"{record.drill_seconds:.1f} s"),
                  ("recovery point age", age), ("direction", record.direction or "-"),
                  ("test network", ids.name_of(record.test_network) if record.test_network else "-"),
                  ("test IP", record.test_ip or "-"), ("checked on", record.node or "-"),
                  ("cleanup", ("ok: " if record.cleanup.ok else "NOT DONE: ") + record.cleanup.detail),
                  ("record", record.blob or "-")]))
