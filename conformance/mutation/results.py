"""The results of a mutation run: one row per mutant, as a Markdown table and as JSON.

Each row holds the mutant (id, file, function, category, the mistake, its
diff), the verdict, the failing rules, the build and campaign times and a
note; the run's header says which QEMU, seed, baseline and time limit were
used and how long the pristine campaign took.

>>> info = RunInfo("10.0.2", "b/qemu-storage-daemon", 1, None, 20.0, 60.0)
>>> row = MutantResult("m", "job.c", "f", "event", "x", "", "missed", [], 0, 1.0, 20.0, "")
>>> "| missed |" in markdown(info, [row])
True
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jobcheck.conformance.mutation.campaign import VERDICTS
from jobcheck.conformance.mutation.catalogue import CATALOGUE
from jobcheck.conformance.mutation.planting import write_fresh

FORMAT = "jobcheck-mutants"


@dataclass(frozen=True)
class RunInfo:
    """What every mutant of a run was measured with."""

    qemu_version: str
    binary: str
    seed: int
    baseline: str | None
    """The baseline file (campaigns with ``--strict``), or None (no baseline, not strict)."""
    pristine_seconds: float
    """Wall time of the campaign on the pristine build."""
    limit_seconds: float
    """Each mutant's campaign is stopped after this long."""
    command: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MutantResult:
    """One mutant's row."""

    id: str
    file: str
    function: str
    category: str
    mistake: str
    diff: str
    verdict: str
    rules: list[str]
    exit_code: int | None
    """The campaign's exit code (None when it did not run: build failure)."""
    build_seconds: float
    campaign_seconds: float
    note: str


def totals(results: Sequence[MutantResult]) -> dict[str, int]:
    """Verdict → number of mutants, every verdict listed (in table order).

    >>> totals([])["caught"]
    0
    """
    counted = Counter(result.verdict for result in results)
    return {verdict: counted.get(verdict, 0) for verdict in VERDICTS}


def to_json(info: RunInfo, results: Sequence[MutantResult]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": 1,
        "run": asdict(info),
        "totals": totals(results),
        "mutants": [asdict(result) for result in results],
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(info: RunInfo, results: Sequence[MutantResult]) -> str:
    """The run as Markdown: header, totals, the table, then each mutant's diff."""
    baseline = f"`--strict --baseline {info.baseline}`" if info.baseline else "none (not strict)"
    out = [
        f"# Mutants of QEMU {info.qemu_version}'s job code",
        "",
        f"- binary: `{info.binary}`; campaign seed {info.seed}; baseline: {baseline}",
        f"- pristine campaign: {info.pristine_seconds:.1f} s; limit per mutant: "
        f"{info.limit_seconds:.0f} s",
    ]
    if info.command:
        out.append(f"- command: `{info.command}`")
    out += [f"- {note}" for note in info.notes]
    counted = totals(results)
    summary = ", ".join(f"{count} {verdict}" for verdict, count in counted.items() if count)
    out += ["", f"**{len(results)} mutants:** {summary or 'none'}", ""]
    out += [
        "| mutant | file | function | mistake | verdict | rules | build s | campaign s |",
        "|---|---|---|---|---|---|---:|---:|",
    ]
    for r in results:
        rules = ", ".join(f"`{rule}`" for rule in r.rules)
        verdict = r.verdict if r.exit_code in (None, 0, 1) else f"{r.verdict} (exit {r.exit_code})"
        out.append(
            f"| `{r.id}` | {r.file} | `{r.function}` | {_cell(r.mistake)} | {verdict} | "
            f"{rules} | {r.build_seconds:.1f} | {r.campaign_seconds:.1f} |"
        )
    argued = {m.id: m.survives for m in CATALOGUE}
    uncaught = [r for r in results if r.verdict != "caught"]
    if uncaught:
        out += ["", "## Not caught by a campaign", ""]
        out += [
            f"- `{r.id}` ({r.verdict}): {_cell(argued.get(r.id) or 'not argued yet')}"
            for r in uncaught
        ]
    notes = [r for r in results if r.note]
    if notes:
        out += ["", "## Notes", ""]
        out += [f"- `{r.id}`: {_cell(r.note)}" for r in notes]
    out += ["", "## Diffs", ""]
    for r in results:
        out += [f"### `{r.id}`", "", "```diff", r.diff.rstrip("\n"), "```", ""]
    return "\n".join(out)


def write(stem: Path, info: RunInfo, results: Sequence[MutantResult]) -> tuple[Path, Path]:
    """Write ``STEM.md`` and ``STEM.json``; returns both paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    md, js = stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".json")
    write_fresh(md, markdown(info, results) + "\n")
    write_fresh(js, json.dumps(to_json(info, results), indent=2) + "\n")
    return md, js
