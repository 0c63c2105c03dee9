"""``python -m demo [--chaos RATE --seed N]``: the asr-s2d story on the emulator + Azurite, printed step by step.

What ``--chaos`` does is in the package's docstring; the story itself is ``demo.story``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--chaos", type=float, default=0.0, help="share of ARM calls that fail (0-0.5)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the fault injection and event reordering")
    args = parser.parse_args(argv)
    if not 0 <= args.chaos <= 0.5:
        parser.error("--chaos must be between 0 and 0.5")

    from demo.stage import Out
    from demo.story import chaos_compare, run_story
    from emulator import Emulator
    from emulator.azurite import Azurite

    started = time.monotonic()
    out = Out()
    out.say("Starting the ARM emulator (HTTPS, throwaway CA) and Azurite (blob storage) on 127.0.0.1")
    emu = Emulator()
    emu.start()
    azurite = Azurite.start()
    try:
        os.environ.update(emu.identity_env())
        if not args.chaos:
            run_story(emu, azurite_connection_string=azurite.connection_string, out=out, drill=True)
            out.detail(f"done in {time.monotonic() - started:.1f}s")
            return 0
        result = chaos_compare(emu, azurite_connection_string=azurite.connection_string, rate=args.chaos,
                               seed=args.seed, out=out)
        chaotic = result.chaotic
        out.say("Chaos summary")
        out.detail(f"faults injected: {chaotic.faults_injected} ({', '.join(f'{k}: {v}' for k, v in chaotic.faults.items())})"
                   f"; throttled by the emulator: {chaotic.throttled}")
        out.detail(f"deliveries {chaotic.deliveries} (clean run: {result.clean.deliveries}), Event Grid redeliveries "
                   f"{chaotic.redeliveries}, audits {chaotic.audits}, operator retries {chaotic.operator_retries}")
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
