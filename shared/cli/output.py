"""What the CLI shows: readable tables by default, progress on stderr, and exit codes a script can trust.

Everything the CLI prints goes through ``say``, which scrubs it (``shared.observability.scrub``): no key, SAS or
token reaches a terminal or a script's log, whatever message carried one in.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from shared.findings import Finding
from shared.observability import scrub

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# 3 is a command's own "done, but look": the audit found a critical finding, a drill was skipped, a reprotect
# was only reported.
EXIT_CRITICAL = EXIT_SKIPPED = EXIT_REPORTED = 3


class CliError(Exception):
    """A one-line reason for the operator, and the exit code that goes with it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def cluster_command(sub: Any, name: str, run: Callable[[argparse.Namespace], int], *, summary: str, json_help: str,
                    description: str | None = None, epilog: str | None = None) -> argparse.ArgumentParser:
    """A subcommand that takes one CLUSTER and ``--json``; its epilog (the exit statuses) is printed as written."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description, epilog=epilog,
                                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cluster")
    p.add_argument("--json", action="store_true", help=json_help)
    p.set_defaults(func=run)
    return p


def say(value: Any = "", *, err: bool = False, indent: int | None = None, sort_keys: bool = False) -> None:
    """The CLI's one way to print: a text as it is, any other value as JSON (``indent``, ``sort_keys``), scrubbed
    first; to stdout, or to stderr with ``err``; flushed, so lines interleave with progress as they happen."""
    clean = scrub(value)
    text = clean if isinstance(clean, str) else json.dumps(clean, indent=indent, sort_keys=sort_keys)
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def progress(message: str) -> None:
    say(f"… {message}", err=True)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table, widths fitted to the content (long cells are cut at 80 characters)."""
    def cell(value: Any) -> str:
        text = "" if value is None else scrub(str(value))  # before the cut: half a secret has no telling shape
        return text if len(text) <= 80 else text[:79] + "…"

    widths = {c: max([len(c)] + [len(cell(r.get(c))) for r in rows]) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip(),
             "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(cell(r.get(c)).ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column table of named values, leaving out those that are None."""
    return table([{"field": k, "value": v} for k, v in pairs if v is not None], ["field", "value"])


def numbered(actions: Sequence[str]) -> str:
    return table([{"#": i + 1, "action": a} for i, a in enumerate(actions)], ["#", "action"])


def finding_blocks(findings: Sequence[Finding]) -> str:
    """Each finding with its fix on the next line (the fixes of the way back are whole procedures)."""
    return "\n".join(f"\n{f.severity.value.upper()} {f.code}: {f.message}\nfix: {f.fix}" for f in findings)
