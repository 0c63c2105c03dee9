"""``asr-s2d``: the operator CLI. Same code paths as the functions; settings from the environment.

Readable tables by default, ``--json`` for scripts, progress on stderr, and a non-zero exit with a
one-line reason on failure (2: bad input or settings, 1: the work failed).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from shared.errors import AsrS2dError, PermanentError, RejectedInput, SettingsError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class CliError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table, widths fitted to the content (long cells are cut at 80 characters)."""
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text if len(text) <= 80 else text[:79] + "…"

    widths = {c: max([len(c)] + [len(cell(r.get(c))) for r in rows]) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip(),
             "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(cell(r.get(c)).ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)


def _runtime() -> Any:
    from shared.runtime import default_runtime

    return default_runtime()


def cmd_handle_event(args: argparse.Namespace) -> int:
    from shared import events

    try:
        with open(args.file, "rb") as handle:
            raw = handle.read()
    except OSError as err:
        raise CliError(EXIT_BAD_INPUT, f"cannot read {args.file}: {err.strerror}") from None
    try:
        payload = events.parse_payload(raw)
    except RejectedInput as err:
        raise CliError(EXIT_BAD_INPUT, f"{args.file}: {err}") from None
    rt = _runtime()
    worst = EXIT_OK
    for item in payload:
        handler = _handler_for(item)
        try:
            outcome = handler(item, rt)
        except AsrS2dError as err:
            print(json.dumps({"event_id": events.event_id_of(item), "outcome": "failed", "reason": str(err),
                              "cluster": None, "writes": 0}), flush=True)
            worst = max(worst, EXIT_FAILED)
            continue
        print(json.dumps(outcome.line()), flush=True)
        if outcome.kind == "rejected" and outcome.reason.startswith("malformed event"):
            worst = max(worst, EXIT_BAD_INPUT)
        elif outcome.kind == "failed":
            worst = max(worst, EXIT_FAILED)
    if worst == EXIT_BAD_INPUT:
        print(f"asr-s2d: {args.file}: one or more events are malformed (see their reasons)", file=sys.stderr)
    return worst


def _handler_for(item: Any) -> Callable[[Any, Any], Any]:
    from shared import enrollment

    kind = (item.get("eventType") or item.get("type")) if isinstance(item, dict) else None
    if kind == "Microsoft.Resources.ResourceActionSuccess":
        from shared import failover

        return failover.handle
    return functools.partial(enrollment.handle, fresh=True)  # an operator's request: not a duplicate delivery


def cmd_plan(args: argparse.Namespace) -> int:
    from shared import enrollment

    rt = _runtime()
    progress(f"finding cluster {args.cluster}")
    cluster = enrollment.find_cluster(rt, args.cluster)
    progress(f"reading {len(cluster.nodes)} nodes, the vault and the DR network")
    plan = enrollment.plan_cluster(rt, cluster)
    if args.json:
        print(json.dumps({"cluster": plan.cluster, "waiting": plan.waiting, "actions": plan.describe(),
                          "findings": [f.to_json() for f in plan.findings]}, indent=1))
        return EXIT_OK
    print(f"cluster {plan.cluster}: {len(cluster.nodes)} nodes ({', '.join(n.name for n in cluster.nodes)}), "
          f"enrolled by {cluster.enrolled_by}")
    if plan.waiting:
        print(f"waiting: {plan.waiting}")
    if plan.actions:
        print(table([{"#": i + 1, "action": d} for i, d in enumerate(plan.describe())], ["#", "action"]))
    else:
        print("nothing to write: the cluster is converged")
    if plan.findings:
        print(table([f.to_json() for f in plan.findings], ["severity", "subject", "message"]))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asr-s2d", description="Keep S2D clusters on Azure VMs recoverable with ASR.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every decision and write to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("handle-event", help="handle Event Grid / CloudEvents events from a JSON file (one or an array)")
    p.add_argument("file")
    p.set_defaults(func=cmd_handle_event)
    p = sub.add_parser("plan", help="print what enrolling CLUSTER would write, without writing")
    p.add_argument("cluster")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)
    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def command(register: Callable[[Any], None]) -> Callable[[Any], None]:
    """Other modules add their subcommands (audit, reassign-ip, drill) through this hook."""
    _EXTRA_COMMANDS.append(register)
    return register


def main(argv: Sequence[str] | None = None) -> int:
    _load_commands()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except CliError as err:
        print(f"asr-s2d: {err}", file=sys.stderr)
        return err.code
    except SettingsError as err:
        print(f"asr-s2d: settings: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RejectedInput as err:
        print(f"asr-s2d: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (PermanentError, AsrS2dError) as err:
        print(f"asr-s2d: {err}", file=sys.stderr)
        return EXIT_FAILED


def _load_commands() -> None:
    import importlib

    for module in ("shared.failover", "shared.drift", "shared.drill", "shared.reprotect"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


if __name__ == "__main__":
    sys.exit(main())
