"""``python -m demo [--chaos RATE --seed N] [--clock azure|instant] [--time-scale N]``: the asr-s2d story on the
emulator + Azurite, printed step by step.

The story runs on the emulator's Azure clock (``emulator.core.clock``) at ``DEMO_TIME_SCALE``: every step says how
long its operations take in Azure. ``--chaos`` runs on the instant clock by default, so a seed replays the same
faults at the same requests. What ``--chaos`` does is in the package's docstring; the story itself is ``demo.story``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from emulator.core.clock import AZURE, INSTANT, MODES

# Four Azure minutes per real second: the story's two hours of Site Recovery jobs in about half a minute.
DEMO_TIME_SCALE = 240.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--chaos", type=float, default=0.0, help="share of ARM calls that fail (0-0.5)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the fault injection and event reordering")
    parser.add_argument("--clock", choices=MODES, default=None,
                        help="the emulator's clock (default: azure for the story, instant with --chaos)")
    parser.add_argument("--time-scale", type=float, default=DEMO_TIME_SCALE,
                        help=f"Azure seconds per real second on the azure clock (default {DEMO_TIME_SCALE:g})")
    args = parser.parse_args(argv)
    if not 0 <= args.chaos <= 0.5:
        parser.error("--chaos must be between 0 and 0.5")

    from demo.stage import AzureTime, Out, azure_duration
    from demo.story import chaos_compare, run_story
    from emulator import Emulator
    from emulator.azurite import Azurite
    from emulator.core.clock import Clock

    try:
        clock = Clock(args.clock or (INSTANT if args.chaos else AZURE), time_scale=args.time_scale)
    except ValueError as err:
        parser.error(str(err))
    started = time.monotonic()
    out = Out()
    out.say("Starting the ARM emulator (HTTPS, throwaway CA) and Azurite (blob storage and the work queue) on 127.0.0.1")
    emu = Emulator(clock=clock)
    if not clock.instant:
        out.detail(f"on Azure's clock, {clock.time_scale:g}x: each operation takes the time Azure takes "
                   f"(docs/testing.md, \"Azure's clock\"), {clock.time_scale:g} times faster")
    emu.start()
    azurite = Azurite.start()
    try:
        os.environ.update(emu.identity_env())
        if not args.chaos:
            azure = None if clock.instant else AzureTime(emu)
            story_out = Out(azure=azure)
            story_out.step = out.step
            run_story(emu, azurite_connection_string=azurite.connection_string, out=story_out, drill=True)
            story_out.lap()
            if azure is not None:
                story_out.detail(f"Azure's time for the whole story: {azure_duration(azure.total)} of Site Recovery "
                                 "and ARM operations, plus the initial replications it let pass")
            out.detail(f"done in {time.monotonic() - started:.1f}s")
            return 0
        result = chaos_compare(emu, azurite_connection_string=azurite.connection_string, rate=args.chaos,
                               seed=args.seed, out=out)
        chaotic = result.chaotic
        out.say("Chaos summary")
        out.detail(f"faults injected: {chaotic.faults_injected} ({', '.join(f'{k}: {v}' for k, v in chaotic.faults.items())})"
                   f"; throttled by the emulator: {chaotic.throttled}")
        out.detail(f"deliveries {chaotic.deliveries} (clean run: {result.clean.deliveries}), redeliveries (Event "
                   f"Grid's and the work queue's) {chaotic.redeliveries}, audits {chaotic.audits}, operator retries "
                   f"{chaotic.operator_retries}")
        out.detail(f"outcomes: {dict(sorted(chaotic.outcomes.items()))}")
        if result.differences:
            print("\nThe chaotic run's end state differs from the clean run's:", file=sys.stderr)
            for line in result.differences:
                print(f"  {line}", file=sys.stderr)
            return 1
        out.detail("end state: identical to the clean run's (protected items, plumbing, recovery plan, load "
                   "balancers, recovered VMs, the guest's cluster IP)")
        out.detail(f"done in {time.monotonic() - started:.1f}s")
        return 0
    finally:
        emu.stop()
        azurite.stop()


if __name__ == "__main__":
    sys.exit(main())
