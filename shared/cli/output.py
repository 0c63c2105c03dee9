"""What the CLI shows: readable tables by default, progress on stderr, and exit codes a script can trust.

Everything the CLI prints goes through ``say``, which scrubs it (``shared.observability.scrub``): no key, SAS or
token reaches a terminal or a script's log, whatever message carried one in.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from collections.abc import Callable, Collection, Sequence
from typing import Any

from shared.findings import Finding
from shared.observability import scrub

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# 3 is a command's own "done, but look": the audit found a critical finding, a prerequisite is not met (check), a
# drill was skipped, a reprotect was only reported.
EXIT_CRITICAL = EXIT_SKIPPED = EXIT_REPORTED = 3
EXIT_RETRY = 4  # not done yet (a failover still running, a cluster waiting for its nodes): run it again later

# The one table of exit codes every command's --help prints.
EXIT_CODES = f"""\
exit codes (every command):
  {EXIT_OK}  done: nothing is wrong, or the work is done (or there was nothing to do)
  {EXIT_FAILED}  failed: the work (or reading Azure or the state storage) failed; the reason is on stderr
  {EXIT_BAD_INPUT}  bad input or settings: an unknown or never-enrolled cluster, a rejected tag or event, a bad
     setting; nothing was written or recorded
  {EXIT_CRITICAL}  done, but look: a critical finding stands (audit), a prerequisite is not met (check), the drill was
     skipped (a precondition failed), the step was only reported (reprotect without ALLOW_REPROTECT)
  {EXIT_RETRY}  not done yet: Azure is still working (a failover running, nodes not tagged or not running yet, a
     recovered node's guest not ready): run the command again later
"""


# An outcome record's kind, as an exit code (the services' outcomes: shared.outcomes.KINDS).
OUTCOME_EXIT = {"rejected": EXIT_BAD_INPUT, "failed": EXIT_FAILED, "not-yet": EXIT_RETRY, "waiting": EXIT_RETRY}


def exit_code(kind: str) -> int:
    return OUTCOME_EXIT.get(kind, EXIT_OK)


def epilog(*examples: str) -> str:
    """A command's --help ending: its examples, then the exit codes every command shares."""
    shown = "".join(f"  {e}\n" for e in examples)
    return (f"examples:\n{shown}\n" if examples else "") + EXIT_CODES


class CliError(Exception):
    """A one-line reason for the operator, and the exit code that goes with it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def command(sub: Any, name: str, run: Callable[[argparse.Namespace], int], *, summary: str, description: str,
            examples: Sequence[str]) -> argparse.ArgumentParser:
    """A subcommand with a description, examples and the shared exit codes in its --help."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=summary,
                                                description=textwrap.fill(description, min(terminal_width(), 100)),
                                                epilog=epilog(*examples),
                                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=run)
    return p


def cluster_command(sub: Any, name: str, run: Callable[[argparse.Namespace], int], *, summary: str, json_help: str,
                    description: str, examples: Sequence[str]) -> argparse.ArgumentParser:
    """A subcommand that takes one CLUSTER and ``--json``."""
    p = command(sub, name, run, summary=summary, description=description, examples=examples)
    p.add_argument("cluster")
    p.add_argument("--json", action="store_true", help=json_help)
    return p


def say(value: Any = "", *, err: bool = False, indent: int | None = None, sort_keys: bool = False) -> None:
    """The CLI's one way to print: a text as it is, any other value as JSON (``indent``, ``sort_keys``), scrubbed
    first; to stdout, or to stderr with ``err``; flushed, so lines interleave with progress as they happen."""
    clean = scrub(value)
    text = clean if isinstance(clean, str) else json.dumps(clean, indent=indent, sort_keys=sort_keys)
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def progress(message: str) -> None:
    say(f"… {message}", err=True)


NARROW = 16  # columns this wide or narrower (names, states, counts) never wrap
GAP = "  "


def terminal_width() -> int:
    """The terminal's width (``COLUMNS`` when set); 120 when the output is not a terminal."""
    return max(60, shutil.get_terminal_size((120, 24)).columns)


def _fit(natural: dict[str, int], width: int, keep: Collection[str] = ()) -> dict[str, int]:
    """Column widths that fit ``width``: narrow columns (and those in ``keep``) keep theirs, the wide ones share what
    is left in proportion to their content (never below ``NARROW``)."""
    room = width - len(GAP) * (len(natural) - 1)
    if sum(natural.values()) <= room:
        return dict(natural)
    wide = [c for c, w in natural.items() if w > NARROW and c not in keep]
    left = max(room - sum(w for c, w in natural.items() if c not in wide), NARROW * len(wide))
    total = sum(natural[c] for c in wide)
    return {c: max(NARROW, left * natural[c] // total) if c in wide else w for c, w in natural.items()}


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, width: int | None = None,
          keep: Collection[str] = ()) -> str:
    """A plain-text table that fits the terminal: wide columns (reasons, fixes) wrap onto more lines, nothing is
    ever cut; the columns in ``keep`` (times, ids) never wrap."""
    cells = [{c: "" if r.get(c) is None else scrub(str(r.get(c))) for c in columns} for r in rows]
    natural = {c: max([len(c)] + [len(row[c]) for row in cells]) for c in columns}
    widths = _fit(natural, width or terminal_width(), keep)
    lines = [GAP.join(c.upper().ljust(widths[c]) for c in columns).rstrip(),
             GAP.join("-" * widths[c] for c in columns)]
    for row in cells:
        wrapped = {c: textwrap.wrap(row[c], widths[c], break_long_words=True, break_on_hyphens=False) or [""]
                   for c in columns}
        for i in range(max(len(w) for w in wrapped.values())):
            lines.append(GAP.join((wrapped[c][i] if i < len(wrapped[c]) else "").ljust(widths[c])
                                  for c in columns).rstrip())
    return "\n".join(lines)


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column table of named values, leaving out those that are None."""
    return table([{"field": k, "value": v} for k, v in pairs if v is not None], ["field", "value"])


def numbered(actions: Sequence[str]) -> str:
    return table([{"#": i + 1, "action": a} for i, a in enumerate(actions)], ["#", "action"])


def finding_blocks(findings: Sequence[Finding]) -> str:
    """Each finding with its fix on the next line (the fixes of the way back are whole procedures)."""
    return "\n".join(f"\n{f.severity.value.upper()} {f.code}: {f.message}\nfix: {f.fix}" for f in findings)
