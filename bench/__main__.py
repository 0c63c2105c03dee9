"""``python -m bench`` (``make bench``): run every figure, print the table, write ``bench/results.json`` and
``bench/results.md``, and update the "Performance" section of ``docs/testing.md``.

    python -m bench                   every figure (the P4 storm at 100 clusters through the queue); docs/testing.md is
                                      updated
    python -m bench --only P2,P5      some figures (docs/testing.md is left alone unless --write-docs)
    python -m bench --no-docs         every figure, docs/testing.md left alone
    python -m bench --only P4 --storm-clusters 25
                                      a smaller storm, which cites the full one in bench/storm-full.json

    python -m bench --clock instant   every operation ends on its first poll (the emulator's default clock)

The lab runs on the emulator's Azure clock by default (``--clock azure --time-scale 3600``: one Azure hour per real
second; ``emulator.core.clock``): operations end when their Azure time has passed, not on their first poll. P6 and P7
measure Azure durations through the work queue, whose delays are whole real seconds: they run at 60x (one Azure
minute per real second; ``bench.queue_failover.TIME_SCALE``, ``bench.drills.TIME_SCALE``) whatever the scale, on
Azure's clock even with ``--clock instant``. Counts of reads and writes do not depend on the clock; LRO polls and wall
times do. Progress goes to stderr. Exit 0 when every figure ran (a goal not met is a result, not an error), 1 when a
figure could not run.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable

from bench import (
    audit_scale,
    cold_start,
    drills,
    enrollment_economy,
    event_storm,
    post_failover,
    queue_failover,
    quiet_events,
    report,
)
from bench.lab import Lab, progress
from bench.report import Figure, Goal
from emulator.core.clock import AZURE, MODES, Clock

# One Azure hour per real second: the jobs the figures start (enable replication 10 min, failover 9 min) last a few
# tenths of a second, so the figures meet Azure's order of events without the bench taking Azure's hours.
BENCH_TIME_SCALE = 3600.0

ALL = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8")
TITLES = {"P1": "cold start", "P2": "enrollment economy", "P3": "drift audit at scale", "P4": "event storm",
          "P5": "after a recovery-plan failover", "P6": "after a failover, through the queue",
          "P7": "drills side by side", "P8": "an unrelated tag write"}


def _broken(key: str, err: BaseException) -> Figure:
    detail = "".join(traceback.format_exception_only(type(err), err)).strip()
    return Figure(key, TITLES[key], measured=f"did not run: {detail}",
                  goals=[Goal("the figure runs", f"did not run: {detail}"[:500], False)], data={"error": detail})


def _run(key: str, work: Callable[[], Figure]) -> Figure:
    started = time.monotonic()
    progress(f"{key} {TITLES[key]}: starting")
    try:
        figure = work()
    except Exception as err:
        traceback.print_exc()
        figure = _broken(key, err)
    figure.data.setdefault("bench_seconds", round(time.monotonic() - started, 1))
    progress(f"{key} {TITLES[key]}: {'met' if figure.met else 'NOT met'} ({time.monotonic() - started:.0f}s)")
    return figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated figures to run (default: all)")
    parser.add_argument("--write-docs", action="store_true",
                        help="update the Performance section of docs/testing.md even when only some figures ran (a "
                             "full run always does)")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/testing.md alone")
    parser.add_argument("--storm-clusters", type=int, default=event_storm.DEFAULT_CLUSTERS,
                        help=f"clusters in the P4 storm (default {event_storm.DEFAULT_CLUSTERS}, the issue's full storm; "
                             "a run at that size is recorded in bench/storm-full.json)")
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per P1 measurement (at least 7)")
    parser.add_argument("--clock", choices=MODES, default=AZURE,
                        help="the emulator's clock (default azure: every operation takes Azure's time, scaled)")
    parser.add_argument("--time-scale", type=float, default=BENCH_TIME_SCALE,
                        help=f"Azure seconds per real second on the azure clock (default {BENCH_TIME_SCALE:g})")
    args = parser.parse_args(argv)
    try:
        clock = Clock(args.clock, time_scale=args.time_scale)
    except ValueError as err:
        parser.error(str(err))
    chosen = [k.strip().upper() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(chosen) - set(ALL))
    if unknown:
        parser.error(f"unknown figures {unknown}; known: {', '.join(ALL)}")

    started = time.monotonic()
    figures: list[Figure] = []
    if "P1" in chosen:
        figures.append(_run("P1", lambda: cold_start.run(runs=max(7, args.runs))))
    lab_figures = [k for k in chosen if k != "P1"]
    if lab_figures:
        progress(f"starting the ARM emulator (HTTPS, ARM's throttling on, {report.clock_words(clock.to_json())}) "
                 "and Azurite")
        with Lab.started(clock) as lab:
            work: dict[str, Callable[[], Figure]] = {
                "P2": lambda: enrollment_economy.run(lab),
                "P5": lambda: post_failover.run(lab),
                "P3": lambda: audit_scale.run(lab),
                "P4": lambda: event_storm.run(lab, clusters=args.storm_clusters),
                "P6": lambda: queue_failover.run(lab),
                "P7": lambda: drills.run(lab),
                "P8": lambda: quiet_events.run(lab),
            }
            for key in ("P2", "P5", "P6", "P8", "P3", "P7", "P4"):  # quick ones first
                if key in lab_figures:
                    figures.append(_run(key, work[key]))
    figures.sort(key=lambda f: ALL.index(f.key))
    env = {**report.environment(time.monotonic() - started), **clock.to_json()}
    docs = not args.no_docs and (args.write_docs or chosen == list(ALL))
    table = report.write(figures, env, docs=docs)
    print(table)
    progress(f"wrote {report.RESULTS_JSON.relative_to(report.ROOT)} and {report.RESULTS_MD.relative_to(report.ROOT)}"
             + (" and the Performance section of docs/testing.md" if docs else ""))
    return 1 if any("error" in f.data for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
