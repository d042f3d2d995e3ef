"""The rows of a benchmark run, and the table and JSON they are printed as.

A :class:`Row` is one measured figure: a name, a unit, the samples of several
runs (reported as median, min and max), and optionally a :class:`Goal` it is
held against.  A row that could not be measured keeps no samples and says why
in :attr:`Row.skipped` (e.g. ``skipped: no qemu-storage-daemon``).

:func:`markdown_table` renders the rows as a Markdown table (readable in a
terminal, and ready to paste into the README); :func:`report_json` gives the
JSON object written under ``reports/bench/``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Goal:
    """A target value: ``op`` is ``>=``, ``<=`` or ``<``; compared with a row's median."""

    op: str
    value: float

    def met(self, measured: float) -> bool:
        if self.op == ">=":
            return measured >= self.value
        if self.op == "<=":
            return measured <= self.value
        if self.op == "<":
            return measured < self.value
        raise ValueError(f"unknown goal operator {self.op!r}")

    def text(self) -> str:
        sign = {">=": "≥", "<=": "≤", "<": "<"}[self.op]
        value = f"{self.value:,.0f}" if self.value >= 1000 else f"{self.value:g}"
        return f"{sign} {value}"


@dataclass
class Row:
    """One figure of the benchmark, measured over several runs."""

    key: str
    """Stable identifier, e.g. ``sim.explore.ratio``."""
    label: str
    """What was measured, in words."""
    unit: str
    goal: Goal | None = None
    samples: list[float] = field(default_factory=list)
    note: str = ""
    """A remark printed with the row (e.g. the coverage a tour reached)."""
    skipped: str | None = None
    """Why nothing was measured; a row is either skipped or has samples."""
    goal_missed: bool = False
    """The samples do not measure what the goal asks (e.g. full coverage was not reached,
    so the figure is the time spent without reaching it): the goal is not met."""

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def minimum(self) -> float | None:
        return min(self.samples) if self.samples else None

    @property
    def maximum(self) -> float | None:
        return max(self.samples) if self.samples else None

    @property
    def met(self) -> bool | None:
        """Whether the median meets the goal; None without a goal or without samples."""
        median = self.median
        if self.goal is None or median is None:
            return None
        return self.goal.met(median) and not self.goal_missed

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "median": self.median,
            "min": self.minimum,
            "max": self.maximum,
            "runs": len(self.samples),
            "samples": self.samples,
            "goal": None if self.goal is None else {"op": self.goal.op, "value": self.goal.value},
            "met": self.met,
            "note": self.note,
            "skipped": self.skipped,
        }


def fmt(value: float | None) -> str:
    """A number for the table: thousands grouped, about three significant digits."""
    if value is None:
        return "–"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1 or magnitude == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


HEADER = ("measure", "unit", "median", "min", "max", "runs", "goal", "met", "note")
_NOTE_WIDTH = 110


def _cells(row: Row) -> list[str]:
    goal = row.goal.text() if row.goal else ""
    note = row.skipped if row.skipped is not None else row.note
    if len(note) > _NOTE_WIDTH:
        note = note[: _NOTE_WIDTH - 1] + "…"
    met = {None: "", True: "yes", False: "**no**"}[row.met]
    return [
        row.label,
        row.unit,
        fmt(row.median),
        fmt(row.minimum),
        fmt(row.maximum),
        str(len(row.samples)),
        goal,
        met,
        note,
    ]


def markdown_table(rows: list[Row]) -> str:
    """The rows as a Markdown table with aligned columns."""
    body = [list(HEADER), *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in body) for i in range(len(HEADER))]
    numeric = {2, 3, 4, 5}

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w + 1) + ":" if i in numeric else "-" * (w + 2) for i, w in enumerate(widths)]
    separator = "|" + "|".join(rule) + "|"
    return "\n".join([line(body[0]), separator, *map(line, body[1:])])


def report_json(
    rows: list[Row], *, machine: dict[str, Any], options: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """The JSON object of one benchmark run."""
    return {
        "format": "jobcheck-bench/1",
        "machine": machine,
        "options": options,
        "seconds": seconds,
        "rows": [r.to_json() for r in rows],
    }
