"""What every renderer of a report shows alike: the headline and the coverage overlay.

Computed from the report document alone (:mod:`jobcheck.conformance.report.document`),
so that the Markdown and the HTML report say the same thing.
"""

from __future__ import annotations

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


def run_text(run: dict[str, Any]) -> str:
    """What the run did, in one line: examples (and runs spent shrinking), steps, time.

    >>> print(run_text({"examples": 30, "examples_requested": 30, "shrink_runs": 12,
    ...     "steps": 900, "seconds": 4.25, "tour_steps": 500, "tour_seconds": 1.0}))
    30/30 examples (+12 runs shrinking the failure), 900 steps, 4.2 s (tour 500 steps, 1.0 s)
    """
    shrinking = run.get("shrink_runs", 0)
    extra = f" (+{shrinking} runs shrinking the failure)" if shrinking else ""
    return (
        f"{run['examples']}/{run['examples_requested']} examples{extra}, {run['steps']} steps,"
        f" {run['seconds']:.1f} s (tour {run['tour_steps']} steps, {run['tour_seconds']:.1f} s)"
    )


def result_text(rule: dict[str, Any]) -> str:
    """A rule's result in words, with how often its checks were put to the test.

    >>> result_text({"result": "pass", "exercised": 12})
    'pass (tested 12×)'
    >>> result_text({"result": "not-exercised", "exercised": 0})
    'not exercised'
    """
    words = str(rule["result"]).replace("-", " ")
    tested = rule.get("exercised") or 0
    return f"{words} (tested {tested}×)" if tested and rule["result"] == "pass" else words


def headline(document: dict[str, Any]) -> str:
    """One line: PASS/FAIL and the divergence counts."""
    counts = document["counts"]
    verdict = "PASS" if document["outcome"]["exit_code"] == 0 else "FAIL"
    return (
        f"{verdict} (exit {document['outcome']['exit_code']}): "
        f"{counts['new']} new, {counts['known']} known, {counts['baselined']} baselined "
        f"divergences; {counts['stale_baseline_entries']} stale baseline entries"
    )
