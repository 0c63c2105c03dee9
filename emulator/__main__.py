"""``python -m emulator --port 0 --seed demo [--azurite]``: serve the emulator in the foreground.

The first line on stdout is one JSON object ``{"endpoint", "ca_bundle", "env", "world"}``; ``env``
holds every setting the app needs to run against this world. Serves until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="HTTPS port for ARM (0 = a free port)")
    parser.add_argument("--seed", default="demo", help="world to seed ('demo' or 'empty')")
    parser.add_argument("--azurite", action="store_true", help="also start Azurite (blob) from node_modules")
    parser.add_argument("--no-throttle", action="store_true", help="turn ARM throttling off")
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from emulator.azurite import Azurite
    from emulator.core.throttle import ThrottleConfig
    from emulator.server import Emulator
    from emulator.settings import app_env

    emu = Emulator(page_size=args.page_size, throttle=ThrottleConfig(enabled=not args.no_throttle))
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
