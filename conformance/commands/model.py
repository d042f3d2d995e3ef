"""``jobcheck model``: print one model version's tables, or what changed between two.

The tables are the status transition relation (QEMU's ``JobSTT``) and the
verb × status permission matrix (``JobVerbTable``), laid out with the
``U C R P Y S W D X E N`` column letters of QEMU's source comments, plus the
documented rules that apply to that version.  Formats: ``text`` (default),
``json`` (QAPI's lowercase names; the source of truth for tools) and
``markdown``.  ``--diff V2`` prints what changed from ``--model`` to ``V2``
instead: transitions, verb cells, verbs and job types added or removed, then
what changed beyond the tables: rules the documentation adds, drops or words
otherwise (:func:`jobcheck.model.rules.documentation_changes`), known
divergences that start or end, and QEMU's error texts.  Two versions with the
same tables may differ there (``--model 9.2 --diff 10.1``: the job
documentation was rewritten), so "no differences in the tables" is followed by
those changes.

In the JSON and Markdown rule lists, ``known_divergence`` is given only where
it applies to the version shown (``null`` otherwise).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any

from jobcheck.conformance.commands.options import add_json_option, emit_json, json_only, say_model
from jobcheck.model.doc_pages import release_range
from jobcheck.model.graph import ModelDiff, diff
from jobcheck.model.lifecycle import (
    BLOCK_JOB_TYPES,
    MODELS,
    Model,
    Status,
    Verb,
)
from jobcheck.model.rules import RULES, Rule, documentation_changes, rules_for
from jobcheck.model.semantics import negative_speed_error

HELP = "print a model version's transition and verb tables (or --diff two versions)"
EXAMPLES = """\
  # transitions, verb x status
  jobcheck model --model 7.2 --format markdown
  # what changed between versions
  jobcheck model --model 5.2 --diff 8.2
  # the latest model as JSON
  jobcheck model --json
"""

FORMATS = ("text", "json", "markdown")
_MARK = "✓"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        metavar="V",
        default="latest",
        help="model or QEMU version, e.g. 7.2 or 7.2.22 (default: latest)",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "--diff", metavar="V2", help="show what changed from --model to version V2 instead"
    )
    add_json_option(parser, "the model (or the diff)")


def _model(version: str) -> Model:
    return say_model("model", version, always=False)


def run(args: argparse.Namespace) -> int:
    model = _model(args.model)
    if args.json:
        changes = diff(model, _model(args.diff)) if args.diff is not None else None
        emit_json(args.json, model_json(model) if changes is None else diff_json(changes))
        if json_only(args):
            return 0
    if args.diff is not None:
        changes = diff(model, _model(args.diff))
        if args.format == "json":
            text = diff_json_text(changes)
        elif args.format == "markdown":
            text = diff_markdown(changes)
        else:
            text = diff_text(changes)
    elif args.format == "json":
        text = model_json_text(model)
    elif args.format == "markdown":
        text = model_markdown(model)
    else:
        text = model_text(model)
    print(text, end="")
    return 0


# --- shared helpers -------------------------------------------------------------------------


def _status_index(status: Status) -> int:
    return list(Status).index(status)


def _verb_index(verb: Verb) -> int:
    return list(Verb).index(verb)


def sorted_transitions(edges: Iterable[tuple[Status, Status]]) -> list[tuple[Status, Status]]:
    """Transitions in table order: by source, then target, in ``JobStatus`` enum order."""
    return sorted(edges, key=lambda e: (_status_index(e[0]), _status_index(e[1])))


def sorted_cells(cells: Iterable[tuple[Verb, Status]]) -> list[tuple[Verb, Status]]:
    """Verb × status cells in ``JobVerb`` then ``JobStatus`` enum order."""
    return sorted(cells, key=lambda c: (_verb_index(c[0]), _status_index(c[1])))


def _rule_json(rule: Rule, version: str) -> dict[str, Any]:
    data = rule.to_json()
    known = rule.known_divergence
    if known is not None and not known.applies_to(version):
        data["known_divergence"] = None
    return data


def _transition_rows(model: Model) -> list[tuple[Status, list[bool]]]:
    return [(a, [model.allows(a, b) for b in model.statuses]) for a in model.statuses]


def _verb_rows(model: Model) -> list[tuple[Verb, list[bool]]]:
    return [(v, [model.permits(v, s) for s in model.statuses]) for v in model.verbs]


# --- one model ------------------------------------------------------------------------------


def model_json(model: Model) -> dict[str, Any]:
    """The model as JSON data (lowercase QAPI names, deterministic order)."""
    return {
        "version": model.version,
        "releases": release_range(model),
        "verb_table": model.verb_table,
        "job_commands": model.job_commands,
        "statuses": [s.value for s in model.statuses],
        "verbs": [v.value for v in model.verbs],
        "job_types": [t.value for t in model.job_types],
        "block_job_types": [t.value for t in model.job_types if t in BLOCK_JOB_TYPES],
        "transitions": [[a.value, b.value] for a, b in sorted_transitions(model.transitions)],
        "permitted": {
            v.value: [s.value for s in model.statuses if model.permits(v, s)] for v in model.verbs
        },
        "rules": [_rule_json(r, model.version) for r in rules_for(model.version)],
    }


def model_json_text(model: Model) -> str:
    return json.dumps(model_json(model), indent=2, ensure_ascii=False) + "\n"


def _grid(header: str, rows: list[tuple[str, list[bool]]]) -> list[str]:
    width = max(len(header), *(len(label) for label, _ in rows))
    letters = " ".join(s.letter for s in Status)
    lines = [f"  {header:<{width}}  {letters}"]
    for label, cells in rows:
        marks = " ".join(_MARK if ok else "." for ok in cells)
        lines.append(f"  {label:<{width}}  {marks}")
    return lines


def model_text(model: Model) -> str:
    """A readable summary: enums, transition table, verb matrix, rules with divergences."""
    rules = rules_for(model.version)
    lines = [
        f"Model {model.version}: {release_range(model)}; verb table {model.verb_table}",
        f"Job types: {', '.join(t.value for t in model.job_types)}",
        f"Statuses: {', '.join(f'{s.letter} {s.value}' for s in model.statuses)}",
        "",
        "Transitions (row = from, column = to):",
        *_grid("from", [(f"{a.letter} {a.value}", row) for a, row in _transition_rows(model)]),
        "",
        "Verb permissions (row = verb, column = status):",
        *_grid("verb", [(v.value, row) for v, row in _verb_rows(model)]),
        "",
    ]
    diverging = [
        r for r in rules if r.known_divergence and r.known_divergence.applies_to(model.version)
    ]
    lines.append(
        f"Rules: {len(rules)} apply to {model.version};"
        f" {len(diverging)} with a known divergence here (jobcheck rules --model"
        f" {model.version} lists them all):"
    )
    for r in diverging:
        assert r.known_divergence is not None
        lines.append(f"  {r.id}: {r.known_divergence.observed}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_grid(corner: str, rows: list[tuple[str, list[bool]]]) -> list[str]:
    letters = [s.letter for s in Status]
    lines = [
        f"| {corner} | {' | '.join(letters)} |",
        "|---" * (len(letters) + 1) + "|",
    ]
    for label, cells in rows:
        lines.append(f"| {label} | {' | '.join(_MARK if ok else ' ' for ok in cells)} |")
    return lines


def model_markdown(model: Model) -> str:
    """The model as Markdown: the two tables, then the rules that apply."""
    letters = ", ".join(f"{s.letter} = {s.value}" for s in model.statuses)
    lines = [
        f"# Job lifecycle model {model.version}",
        "",
        f"{release_range(model)}; verb table {model.verb_table}.",
        f"Job types: {', '.join(t.value for t in model.job_types)}.",
        f"Columns: {letters}.",
        "",
        "## Transitions",
        "",
        *_md_grid(
            "from \\ to", [(f"{a.letter} {a.value}", row) for a, row in _transition_rows(model)]
        ),
        "",
        "## Verb permissions",
        "",
        *_md_grid("verb \\ status", [(v.value, row) for v, row in _verb_rows(model)]),
        "",
        "## Rules",
        "",
        "| id | category | anchor | rule | known divergence |",
        "|---|---|---|---|---|",
    ]
    for r in rules_for(model.version):
        known = r.known_divergence
        observed = known.observed if known and known.applies_to(model.version) else ""
        anchor = f"`{r.anchor}`" if r.anchor else ""
        lines.append(
            f"| `{r.id}` | {r.category.value} | {anchor} | {_md(r.text)} | {_md(observed)} |"
        )
    return "\n".join(lines) + "\n"


# --- two models -----------------------------------------------------------------------------


def diff_json(changes: ModelDiff) -> dict[str, Any]:
    """A :class:`ModelDiff` as JSON data, in table order."""
    return {
        "old": changes.old,
        "new": changes.new,
        "added_transitions": [
            [a.value, b.value] for a, b in sorted_transitions(changes.added_transitions)
        ],
        "removed_transitions": [
            [a.value, b.value] for a, b in sorted_transitions(changes.removed_transitions)
        ],
        "added_cells": [[v.value, s.value] for v, s in sorted_cells(changes.added_cells)],
        "removed_cells": [[v.value, s.value] for v, s in sorted_cells(changes.removed_cells)],
        "added_verbs": [v.value for v in changes.added_verbs],
        "removed_verbs": [v.value for v in changes.removed_verbs],
        "added_job_types": [t.value for t in changes.added_job_types],
        "removed_job_types": [t.value for t in changes.removed_job_types],
        "documentation": [
            {"rule": c.rule.value, "change": c.change, "old": c.old, "new": c.new}
            for c in documentation_changes(changes.old, changes.new)
        ],
        "error_texts": [
            {"refusal": what, "old": old, "new": new} for what, old, new in _error_texts(changes)
        ],
    }


def diff_json_text(changes: ModelDiff) -> str:
    return json.dumps(diff_json(changes), indent=2) + "\n"


def _diff_lines(changes: ModelDiff) -> list[tuple[str, str, str]]:
    """(sign, what, item) for every change, in a fixed order."""
    out: list[tuple[str, str, str]] = []
    for sign, edges in (("+", changes.added_transitions), ("-", changes.removed_transitions)):
        out += [
            (sign, "transition", f"{a.value} -> {b.value}") for a, b in sorted_transitions(edges)
        ]
    for sign, verbs in (("+", changes.added_verbs), ("-", changes.removed_verbs)):
        out += [(sign, "verb", v.value) for v in verbs]
    for sign, cells in (("+", changes.added_cells), ("-", changes.removed_cells)):
        out += [(sign, "verb cell", f"{v.value} in {s.value}") for v, s in sorted_cells(cells)]
    for sign, types in (("+", changes.added_job_types), ("-", changes.removed_job_types)):
        out += [(sign, "job type", t.value) for t in types]
    return out


def _error_texts(changes: ModelDiff) -> list[tuple[str, str, str]]:
    """(refusal, old text, new text) for every error text that differs."""
    old, new = (negative_speed_error(MODELS[v]) for v in (changes.old, changes.new))
    return [("negative speed", old, new)] if old != new else []


_DOC_SIGNS = {
    "added": "+",
    "removed": "-",
    "reworded": "~",
    "known-divergence-added": "+",
    "known-divergence-removed": "-",
}


def _other_lines(changes: ModelDiff) -> list[tuple[str, str, str]]:
    """(sign, what, item) for every change beyond the tables: documentation, error texts."""
    out: list[tuple[str, str, str]] = []
    for c in documentation_changes(changes.old, changes.new):
        sign = _DOC_SIGNS[c.change]
        if c.change == "reworded":
            out.append((sign, "quote", f'{c.rule}: "{c.old}" -> "{c.new}"'))
        elif c.change.startswith("known-divergence"):
            out.append((sign, "known divergence", f"{c.rule}: {c.old or c.new}"))
        else:
            quote = c.new or c.old
            out.append((sign, "rule", f'{c.rule}: "{quote}"' if quote else RULES[c.rule].text))
    for what, old, new in _error_texts(changes):
        out.append(("~", "error text", f'{what}: "{old}" -> "{new}"'))
    return out


def diff_text(changes: ModelDiff) -> str:
    lines = [f"Model {changes.old} -> {changes.new}:"]
    entries = _diff_lines(changes)
    other = _other_lines(changes)
    lines += [f"  {sign} {what}: {item}" for sign, what, item in entries]
    if not entries:
        lines.append("  no differences in the tables" if other else "  no differences")
    lines += [f"  {sign} {what}: {item}" for sign, what, item in other]
    return "\n".join(lines) + "\n"


def diff_markdown(changes: ModelDiff) -> str:
    lines = [f"# Job lifecycle model {changes.old} → {changes.new}", ""]
    entries = _diff_lines(changes)
    other = _other_lines(changes)
    if not entries and not other:
        return "\n".join([*lines, "No differences."]) + "\n"
    if not entries:
        lines += ["No differences in the tables.", ""]
    lines += ["| change | kind | item |", "|---|---|---|"]
    names = {"+": "added", "-": "removed", "~": "changed"}
    lines += [f"| {names[sign]} | {what} | {_md(item)} |" for sign, what, item in entries + other]
    return "\n".join(lines) + "\n"
