"""Figures and their goals; the markdown table, ``bench/results.json``, ``bench/results.md`` and the "Performance"
section of ``docs/testing.md`` (between ``<!-- bench:start -->`` and ``<!-- bench:end -->``)."""

from __future__ import annotations

import json
import platform
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "results.json"
RESULTS_MD = ROOT / "bench" / "results.md"
DOCS = ROOT / "docs" / "testing.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Goal:
    goal: str
    measured: str
    met: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Figure:
    key: str
    title: str
    measured: str
    goals: list[Goal]
    data: dict[str, Any] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)  # for a goal not met: the gap and its cause
    notes: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return all(g.met for g in self.goals)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "measured": self.measured, "met": self.met,
                "goals": [g.to_json() for g in self.goals], "gaps": self.gaps, "notes": self.notes, "data": self.data}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(figures: list[Figure], *, environment: dict[str, Any]) -> str:
    lines = [f"Measured {environment['date']} on {environment['machine']} ({environment['cpus']} CPUs, Python "
             f"{environment['python']}), against the emulator with ARM's throttling on (reads 250 burst + 25/s, "
             f"writes 200 burst + 10/s per subscription) and Azurite, {clock_words(environment)}; the bench took "
             f"{environment['seconds']:.0f} s (plus `make deps`).", "",
             "| figure | goal | measured | met |", "|---|---|---|---|"]
    for fig in figures:
        for index, goal in enumerate(fig.goals):
            name = f"**{fig.key}** {fig.title}" if index == 0 else ""
            lines.append(f"| {_cell(name)} | {_cell(goal.goal)} | {_cell(goal.measured)} | "
                         f"{'yes' if goal.met else '**no**'} |")
    details = [f for f in figures if f.notes or f.gaps]
    if details:
        lines.append("")
        for fig in details:
            for note in fig.notes:
                lines.append(f"- **{fig.key}**: {note}")
            for gap in fig.gaps:
                lines.append(f"- **{fig.key} gap**: {gap}")
    return "\n".join(lines) + "\n"


def clock_words(environment: dict[str, Any]) -> str:
    """Which emulator clock the figures were measured on (``emulator.core.clock``)."""
    if environment.get("clock", "instant") == "instant":
        return "on the emulator's instant clock (every operation ends on its first poll)"
    return (f"on the emulator's Azure clock at {environment['time_scale']:g}x (each operation takes Azure's time over "
            f"{environment['time_scale']:g}: docs/testing.md, \"Azure's clock\")")


def environment(seconds: float) -> dict[str, Any]:
    import os

    return {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": f"{platform.system()} {platform.machine()}",
            "cpus": os.cpu_count(), "python": platform.python_version(), "seconds": seconds}


def write(figures: list[Figure], env: dict[str, Any], *, docs: bool) -> str:
    table = markdown(figures, environment=env)
    RESULTS_JSON.write_text(json.dumps({"environment": env, "figures": [f.to_json() for f in figures]}, indent=1,
                                       sort_keys=False) + "\n")
    RESULTS_MD.write_text(table)
    if docs:
        update_docs(table)
    return table


def update_docs(table: str, path: Path = DOCS) -> bool:
    """Replace the text between the bench markers of ``docs/testing.md``; False when it has no markers."""
    text = path.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        return False
    path.write_text(pattern.sub(lambda _m: f"{START}\n{table}\n{END}", text, count=1))
    return True
