"""What every renderer of a report shows alike: the headline and the coverage overlay.

Computed from the report document alone (:mod:`jobcheck.conformance.report.document`),
so that the Markdown and the HTML report say the same thing.
"""

from __future__ import annotations

import re
from typing import Any

from jobcheck.model.lifecycle import Status, model_for
from jobcheck.model.render import lifecycle_view, overlay


def edges_of(document: dict[str, Any], key: str) -> list[tuple[Status, Status]]:
    """One of the coverage edge sets (``covered``, ``uncovered``, ``divergent``) as statuses."""
    return [(Status(a), Status(b)) for a, b in document["coverage"]["edges"][key]]


def coverage_view(document: dict[str, Any]) -> Any:
    """The model's lifecycle view with the run's coverage overlay.

    Every transition of the model that the run did not see is drawn as not
    covered — also those outside the coverage goal because no driver step can
    cause them (``created`` → ``null``, the silent ``aborting`` self-loop), so
    that no edge looks covered that was not.
    """
    model = model_for(document["model"]["version"])
    covered = edges_of(document, "covered")
    divergent = edges_of(document, "divergent")
    seen = set(covered) | set(divergent)
    uncovered = [e for e in sorted(model.transitions) if e not in seen]
    return overlay(lifecycle_view(model), covered=covered, uncovered=uncovered, divergent=divergent)


BLANK_WHY = {
    "undefined": "there is no job yet (a job is undefined only before it is created)",
    "created": "a job is created and started by the same command: QEMU never lists a job"
    " in created, so no verb can be sent to one",
    "aborting": "a job goes through aborting within the step that aborts it: QEMU never"
    " lists a job in aborting, so no verb can be sent to one",
    "null": "there is no job any more (null is the end of a dismissed job)",
}
"""Why a status column of the coverage matrix is blank (no cell of it is a goal)."""


def blank_columns(document: dict[str, Any]) -> dict[str, str]:
    """The statuses with no goal cell in any command family, and why, in matrix order.

    >>> doc = {"coverage": {"matrix": {"job": {"pause": {"created": "none",
    ...     "running": "accepted"}}}}}
    >>> list(blank_columns(doc))
    ['created']
    """
    columns: dict[str, bool] = {}
    for rows in document["coverage"]["matrix"].values():
        for row in rows.values():
            for status, mark in row.items():
                columns[status] = columns.get(status, True) and mark == "none"
    return {
        status: BLANK_WHY.get(status, f"no job kind the campaign drives rests in {status}")
        for status, blank in columns.items()
        if blank
    }


_TRANSITION = re.compile(r"\b([a-z]+) -> ([a-z]+)\b")


def transitions_in(e: dict[str, Any]) -> list[tuple[str, str]]:
    """The status transitions a divergence names (``ready -> paused``).

    >>> transitions_in({"message": "job 'j': ready -> paused; model 7.2 allows ready ->"
    ...     " {standby, waiting, aborting}, QEMU reported paused"})
    [('ready', 'paused')]
    """
    names = {s.value for s in Status}
    return [
        (a, b)
        for a, b in dict.fromkeys(_TRANSITION.findall(e["message"]))
        if a in names and b in names
    ]


def edge_rows(document: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    """Every transition of the model (and every divergent one) with what the run saw of it:
    ``covered``, ``uncovered`` (a goal not reached), ``unreachable`` (no driver step causes
    it) or ``divergent``; and the ids of the divergences that name it."""
    model = model_for(document["model"]["version"])
    edges = document["coverage"]["edges"]
    state: dict[tuple[str, str], str] = {}
    for a, b in sorted(
        model.transitions, key=lambda e: (list(Status).index(e[0]), list(Status).index(e[1]))
    ):
        if a is not b:
            state[(a.value, b.value)] = "unreachable"
    for key in ("uncovered", "covered", "divergent"):
        for a, b in edges[key]:
            state[(a, b)] = key
    named: dict[tuple[str, str], list[str]] = {}
    for e in document["divergences"]:
        for edge in transitions_in(e):
            named.setdefault(edge, []).append(e["id"])
    return [(a, b, st, named.get((a, b), [])) for (a, b), st in state.items()]


def run_text(run: dict[str, Any]) -> str:
    """What the run did, in one line: examples (and runs spent shrinking), steps, time.

    >>> print(run_text({"examples": 12, "examples_requested": 30, "shrink_runs": 40,
    ...     "steps": 900, "seconds": 4.25, "tour_steps": 500, "tour_seconds": 1.0}))
    ... # doctest: +NORMALIZE_WHITESPACE
    12 examples (30 asked for; +40 runs shrinking the failure), 900 steps, 4.2 s
    (tour 500 steps, 1.0 s)

    Hypothesis counts towards its number only the examples it could use, so it may run a
    few more than asked for.
    """
    asked = run["examples_requested"]
    notes = [] if run["examples"] == asked else [f"{asked} asked for"]
    if run.get("shrink_runs", 0):
        notes.append(f"+{run['shrink_runs']} runs shrinking the failure")
    extra = f" ({'; '.join(notes)})" if notes else ""
    return (
        f"{run['examples']} examples{extra}, {run['steps']} steps,"
        f" {run['seconds']:.1f} s (tour {run['tour_steps']} steps, {run['tour_seconds']:.1f} s)"
    )


def result_text(rule: dict[str, Any]) -> str:
    """A rule's result in words, with in how many runs (the tour, each example) it was put
    to the test.

    >>> result_text({"result": "pass", "exercised": 12})
    'pass (tested in 12 runs)'
    >>> result_text({"result": "not-exercised", "exercised": 0})
    'not exercised'
    """
    words = str(rule["result"]).replace("-", " ")
    tested = rule.get("exercised") or 0
    if not tested or rule["result"] != "pass":
        return words
    return f"{words} (tested in {tested} run{'' if tested == 1 else 's'})"


def headline(document: dict[str, Any]) -> str:
    """One line: PASS/FAIL and the divergence counts."""
    counts = document["counts"]
    verdict = "PASS" if document["outcome"]["exit_code"] == 0 else "FAIL"
    return (
        f"{verdict} (exit {document['outcome']['exit_code']}): "
        f"{counts['new']} new, {counts['known']} known, {counts['baselined']} baselined "
        f"divergences; {counts['stale_baseline_entries']} stale baseline entries; "
        f"{counts.get('indeterminate', 0)} indeterminate (too slow to decide)"
    )
