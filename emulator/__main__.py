"""``python -m emulator --port 0 --seed demo [--azurite] [--clock azure [--time-scale 60]] [--action-events both]``:
serve the emulator in the foreground.

The first line on stdout is one JSON object ``{"endpoint", "ca_bundle", "env", "world"}``; ``env``
holds every setting the app needs to run against this world. Serves until SIGTERM or Ctrl-C.
``--clock instant`` (the default) ends every operation on its first poll; ``--clock azure`` makes each take
the time Azure takes, divided by ``--time-scale`` (see ``emulator.core.clock``; ``GET /_emulator/config``).
``--action-events completed|accepted|both`` says when an asynchronous action's ``ResourceActionSuccess`` is
published (``emulator.core.events``); a failed or cancelled one is announced when it ends either way.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from emulator.core.clock import DEFAULT_TIME_SCALE, INSTANT, MODES, Clock
from emulator.core.events import ACTION_EVENT_TIMINGS, COMPLETED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="HTTPS port for ARM (0 = a free port)")
    parser.add_argument("--seed", default="demo", help="world to seed ('demo', 'demo-sql' or 'empty')")
    parser.add_argument("--azurite", action="store_true", help="also start Azurite (blob and queue) from node_modules")
    parser.add_argument("--no-throttle", action="store_true", help="turn ARM throttling off")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--clock", choices=MODES, default=INSTANT,
                        help="instant: operations end on their first poll; azure: they take Azure's time, scaled")
    parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE,
                        help="Azure seconds per real second on the azure clock (default 60: a minute per second)")
    parser.add_argument("--action-events", choices=ACTION_EVENT_TIMINGS, default=COMPLETED,
                        help="when an asynchronous action's ResourceActionSuccess is published: when its job "
                             "completes (default), when it is accepted, or both")
    args = parser.parse_args(argv)
    try:
        clock = Clock(args.clock, time_scale=args.time_scale)
    except ValueError as err:
        parser.error(str(err))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from emulator.azurite import Azurite
    from emulator.core.throttle import ThrottleConfig
    from emulator.server import Emulator
    from emulator.settings import app_env

    emu = Emulator(page_size=args.page_size, throttle=ThrottleConfig(enabled=not args.no_throttle), clock=clock,
                   action_events=args.action_events)
    emu.start(port=args.port)
    azurite = Azurite.start() if args.azurite else None
    world = emu.seed(args.seed)
    env = app_env(emu, world, azurite_connection_string=azurite.connection_string if azurite else None)
    print(json.dumps({"endpoint": emu.endpoint, "ca_bundle": emu.ca_bundle, "env": env, "world": world}), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    emu.stop()
    if azurite:
        azurite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
