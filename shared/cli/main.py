"""``asr-s2d``: the operator CLI. Same code paths as the functions; settings from the environment.

Readable tables by default, ``--json`` for scripts, progress on stderr, and a non-zero exit with a
one-line reason on failure (2: bad input or settings, 1: the work failed, 3: a command's own "look").
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from shared.cli import audit, check, drill, enrollment, events, failover, nodes, way_back, work
from shared.cli.output import EXIT_BAD_INPUT, EXIT_CODES, EXIT_FAILED, EXIT_RETRY, CliError, say
from shared.errors import AsrS2dError, GuestNotReady, RejectedInput, SettingsError

# Every command, in the order ``--help`` lists them.
COMMANDS: tuple[Callable[[Any], None], ...] = (events.register, check.register, enrollment.register, nodes.register,
                                               failover.register, audit.register, drill.register, way_back.register,
                                               work.register)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asr-s2d", description="Keep S2D clusters on Azure VMs recoverable with ASR.",
                                     epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: log the app's decisions and writes to stderr; -vv: also every HTTP request to Azure")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(sub)
    return parser


def verbosity(level: int) -> None:
    """Warnings only by default; ``-v`` the app's own decisions (the ``shared`` loggers); ``-vv`` also the Azure SDK's
    HTTP logging (every request and response line, redacted like every log record)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if level >= 1:
        logging.getLogger("shared").setLevel(logging.INFO)
    if level >= 2:
        logging.getLogger("azure").setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbosity(args.verbose)
    try:
        return int(args.func(args))
    except CliError as err:
        say(f"asr-s2d: {err}", err=True)
        return err.code
    except SettingsError as err:
        say(f"asr-s2d: settings: {err}", err=True)
        return EXIT_BAD_INPUT
    except RejectedInput as err:
        say(f"asr-s2d: {err}", err=True)
        return EXIT_BAD_INPUT
    except GuestNotReady as err:  # a node that just booted: not done yet, not failed
        say(f"asr-s2d: not yet: {err}", err=True)
        return EXIT_RETRY
    except AsrS2dError as err:
        say(f"asr-s2d: {err}", err=True)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
