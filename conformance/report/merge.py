"""Several runs' reports as one: the result of a CI matrix (``jobcheck merge``).

A CI matrix runs one campaign per QEMU version, configuration or machine,
each writing its own ``report.json``.  :func:`merge` reads them and builds
one document (``merged.json``):

``runs``
    one column per run: its name (the directory it came from), target, QEMU
    version, model, verdict, coverage (transitions, cells, per command
    family) and counts;
``rules``
    every rule of any run, with each run's verdict on it (``pass``, ``fail``,
    ``known``, ``baselined``, or ``-`` when the rule's documentation does not
    apply to that run's model);
``divergences``
    each divergence — rule and what QEMU did, job ids normalised — with the
    runs it appeared in and its status there (new, known, baselined).

Exit code: 0 when every run passed, 1 when one failed (a merged CI job fails
as its worst run did).  Reports of ``schema_version`` 1 and 2 are read alike:
the merge uses only what both have.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MERGE_FORMAT = "jobcheck-merge"
MERGE_VERSION = 1


def _normalise(text: str, job: str | None) -> str:
    if job:
        text = re.sub(rf"(?<![\w-]){re.escape(job)}(?![\w-])", "JOB", text)
    return text


def run_label(path: Path) -> str:
    """The name of a run: its report's directory (``reports/ci/qemu-7.2/report.json`` →
    ``qemu-7.2``)."""
    directory = path.parent if path.name == "report.json" else path
    return directory.name or str(directory)


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return out


def _ratio(part: dict[str, Any]) -> dict[str, Any]:
    return {k: part.get(k) for k in ("reached", "goal", "percent")}


def _run(label: str, path: str, document: dict[str, Any]) -> dict[str, Any]:
    coverage = document.get("coverage", {})
    target = document.get("target", {})
    run = document.get("run", {})
    outcome = document.get("outcome", {})
    families = coverage.get("summary", {}).get("cells", {}).get("families", {})
    return {
        "name": label,
        "report": path,
        "description": target.get("description"),
        "qemu_version": target.get("qemu_version"),
        "package": target.get("package"),
        "model": document.get("model", {}).get("version"),
        "schema_version": document.get("schema_version"),
        "seed": run.get("seed"),
        "profile": run.get("profile"),
        "steps": run.get("steps"),
        "seconds": run.get("seconds"),
        "exit_code": outcome.get("exit_code"),
        "verdict": outcome.get("verdict"),
        "crash": outcome.get("crash"),
        "counts": document.get("counts", {}),
        "coverage": {
            "transitions": _ratio(coverage.get("transitions", {})),
            "cells": _ratio(coverage.get("cells", {})),
            "families": families,
        },
    }


def merge(reports: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The merged document of ``(path, report document)`` pairs, in the order given."""
    labels = _unique([run_label(Path(path)) for path, _ in reports])
    runs = [_run(label, path, doc) for label, (path, doc) in zip(labels, reports, strict=True)]
    rules: dict[str, dict[str, Any]] = {}
    divergences: dict[tuple[str, str], dict[str, Any]] = {}
    for label, (_, document) in zip(labels, reports, strict=True):
        for rule in document.get("rules", []):
            entry = rules.setdefault(
                str(rule["id"]),
                {
                    "id": rule["id"],
                    "anchor": rule.get("anchor"),
                    "paraphrase": rule.get("paraphrase"),
                },
            )
            entry.setdefault("runs", {})[label] = rule.get("result")
        for found in document.get("divergences", []):
            observed = _normalise(str(found.get("observed", "")), found.get("job"))
            key = (str(found["rule"]), observed)
            entry = divergences.setdefault(
                key,
                {
                    "rule": found["rule"],
                    "observed": observed,
                    "expected": _normalise(str(found.get("expected", "")), found.get("job")),
                    "runs": {},
                },
            )
            entry["runs"][label] = {
                "status": found.get("status"),
                "occurrences": found.get("occurrences"),
                "job_type": found.get("job_type"),
            }
    for entry in rules.values():
        entry["runs"] = {label: entry.get("runs", {}).get(label, "-") for label in labels}
    failing = [r["name"] for r in runs if r["exit_code"] != 0]
    return {
        "format": MERGE_FORMAT,
        "version": MERGE_VERSION,
        "runs": runs,
        "rules": sorted(rules.values(), key=lambda r: str(r["id"])),
        "divergences": sorted(
            divergences.values(), key=lambda d: (str(d["rule"]), str(d["observed"]))
        ),
        "failing": failing,
        "exit_code": 1 if failing else 0,
    }
