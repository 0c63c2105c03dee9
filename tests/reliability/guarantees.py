"""The "Guarantees" section of ``docs/testing.md``: the reliability suite's figures, produced by the suite.

``python -m tests.reliability.guarantees --write-docs`` renders ``guarantees.json`` (written by the suite at
the end of a full, passing run: see ``figures.py``) between ``docs/testing.md``'s ``<!-- guarantees:start -->``
and ``<!-- guarantees:end -->`` markers. ``--write-call-sites`` re-derives ``call_sites.json`` (the fault
matrix's parametrization) from a clean run on a fresh emulator.

``expected_figures()`` computes the same figures from the suite's definitions alone (corpus files, the
matrix's parametrization, the property tests' example budgets) plus the chaos run's measured fault count,
which is deterministic for its seed; ``test_guarantees.py`` and ``test_chaos.py`` hold ``docs/testing.md`` to them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# The emulator's Azure clock as the suites run it (tests/conftest.py's AZURE_CLOCK_TIME_SCALE; docs/testing.md).
AZURE_SCALE = "3600x: one Azure hour per real second"

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "testing.md"
START, END = "<!-- guarantees:start -->", "<!-- guarantees:end -->"
HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "guarantees.json"
CHAOS_KEYS = ("chaos_rate_percent", "chaos_seed", "chaos_faults_injected", "chaos_faults_by_kind",
              "chaos_event_deliveries", "chaos_redeliveries", "chaos_audits")


def static_figures() -> dict[str, Any]:
    """Every figure that follows from the suite's definitions, without running anything."""
    from tests.reliability import hostile, matrix, properties

    corpus = hostile.load_corpus()
    sites, writes = matrix.SITES, matrix.WRITES
    return {
        "hostile_inputs": len(corpus),
        "hostile_cli_runs": sum(1 for c in corpus if c.cli),
        "call_sites": len(sites),
        "call_sites_by_phase": {p: sum(1 for s in sites if s.phase == p) for p in matrix.PHASES},
        "fault_cases": len(matrix.CASES),
        "faults_injected": sum(c.faults for c in matrix.CASES),
        "crash_points": len(writes),
        "fault_kinds": sorted({c.kind for c in matrix.CASES}),
        "property_examples": sum(properties.EXAMPLES.values()),
        "properties": len(properties.EXAMPLES),
    }


def expected_figures(chaos: dict[str, Any]) -> dict[str, Any]:
    return {**static_figures(), **{k: chaos[k] for k in CHAOS_KEYS}}


MEASURED_STATIC = ("hostile_inputs", "hostile_cli_runs", "fault_cases", "faults_injected", "property_examples")


def from_measured(measured: dict[str, Any]) -> dict[str, Any]:
    """The documented figures from what a full run counted (``guarantees.json``). What the run counted must equal
    what the suite defines (a run that skipped cases measured less); the chaos figures are the run's."""
    static = static_figures()
    differ = {k: (static[k], measured.get(k)) for k in MEASURED_STATIC if measured.get(k) != static[k]}
    if differ:
        raise ValueError(f"the run counted other figures than the suite defines (defined, counted): {differ}")
    prefix = "chaos_faults_by_kind."
    chaos = {k: measured[k] for k in CHAOS_KEYS if k != "chaos_faults_by_kind"}
    chaos["chaos_faults_by_kind"] = {k[len(prefix):]: v for k, v in sorted(measured.items()) if k.startswith(prefix)}
    return {**static, **chaos}


def render(figures: dict[str, Any]) -> str:
    """The docs section's body (between the markers): a table of figures and a machine-readable copy."""
    f = figures
    by_phase = ", ".join(f"{n} in {p}" for p, n in sorted(f["call_sites_by_phase"].items()))
    by_kind = ", ".join(f"{k} {n}" for k, n in sorted(f["chaos_faults_by_kind"].items()))
    instant = "instant"
    rows = [
        ("Hostile or malformed inputs (`tests/data/hostile/`)",
         f"{f['hostile_inputs']} inputs, each refused or ignored with a recorded reason, zero ARM writes, no crash; "
         f"{f['hostile_cli_runs']} of them also through `asr-s2d handle-event`", instant),
        ("ARM call sites under fault",
         f"{f['call_sites']} distinct (phase, method, path template) the app calls ({by_phase}), derived from a "
         "clean run's request journal", instant),
        ("Fault cases", f"{f['fault_cases']} cases, {f['faults_injected']} faults injected "
                        f"({', '.join(f['fault_kinds'])}), {f['crash_points']} crash points (every write of every "
                        "phase); each converges to the clean run's end state, with the outcome record saying what "
                        "failed and then what succeeded",
         f"{instant}; the cases of the test-failover, cleanup and failover phases also on Azure's ({AZURE_SCALE})"),
        ("Event orders", f"{f['property_examples']} generated examples over {f['properties']} properties (hypothesis, "
                         "derandomized): duplicated, reordered, interleaved tag events for up to 4 clusters", instant),
        ("Chaos (`make chaos`)", f"{f['chaos_faults_injected']} faults injected at {f['chaos_rate_percent']}% with seed "
                                 f"{f['chaos_seed']} ({by_kind}); {f['chaos_event_deliveries']} event deliveries "
                                 f"({f['chaos_redeliveries']} redeliveries), {f['chaos_audits']} audits; end state "
                                 "identical to the clean run's", f"{instant} (a seed replays the same faults)"),
    ]
    lines = ["| what | figures | emulator clock |", "|---|---|---|",
             *(f"| {what} | {text} | {clock} |" for what, text, clock in rows), "",
             f"<!-- figures: {json.dumps(figures, sort_keys=True)} -->"]
    return "\n".join(lines)


def docs_section(text: str | None = None) -> str:
    text = DOCS.read_text() if text is None else text
    if START not in text or END not in text:
        raise SystemExit(f"{DOCS.relative_to(ROOT)} has no {START} ... {END} section")
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def docs_figures() -> dict[str, Any]:
    section = docs_section()
    marker = "<!-- figures: "
    if marker not in section:
        return {}
    return dict(json.loads(section.split(marker, 1)[1].rsplit(" -->", 1)[0]))


def write_docs(figures: dict[str, Any]) -> None:
    text = DOCS.read_text()
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    DOCS.write_text(f"{before}{START}\n{render(figures)}\n{END}{after}")


def write_call_sites() -> None:
    from emulator import Emulator
    from emulator.azurite import Azurite
    from emulator.clients import OperatorCredential, sdk_client
    from tests.reliability.story import CALL_SITES_FILE, Story, record_clean_run

    emu = Emulator()
    emu.start()
    azurite = Azurite.start()
    try:
        os.environ.update(emu.identity_env())
        credential = OperatorCredential()

        def operator_sdk(client_cls: type, subscription_id: str = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b") -> Any:
            return sdk_client(emu, client_cls, credential, subscription_id)

        derived = record_clean_run(Story(emu, azurite.connection_string, operator_sdk))
        CALL_SITES_FILE.write_text(json.dumps(derived, indent=1) + "\n")
        print(f"{CALL_SITES_FILE.relative_to(ROOT)}: {len(derived['sites'])} call sites, {len(derived['writes'])} writes")
    finally:
        emu.stop()
        azurite.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.guarantees", description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="render guarantees.json into docs/testing.md")
    parser.add_argument("--write-call-sites", action="store_true", help="re-derive call_sites.json from a clean run")
    args = parser.parse_args(argv)
    if args.write_call_sites:
        write_call_sites()
    if args.write_docs:
        if not OUTPUT.exists():
            print(f"{OUTPUT.relative_to(ROOT)} is missing: run the whole suite first (make test)", file=sys.stderr)
            return 2
        try:
            figures = from_measured(json.loads(OUTPUT.read_text()))
        except ValueError as err:
            print(f"{OUTPUT.relative_to(ROOT)}: {err}", file=sys.stderr)
            return 1
        write_docs(figures)
        print(f"{DOCS.relative_to(ROOT)}: Guarantees section rendered from {OUTPUT.relative_to(ROOT)}")
    if not (args.write_docs or args.write_call_sites):
        print(render(json.loads(OUTPUT.read_text())) if OUTPUT.exists() else "no guarantees.json yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
