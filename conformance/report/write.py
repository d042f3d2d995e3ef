"""Reports of a run, for people and for CI: JSON, Markdown, HTML, JUnit, and the baseline.

:func:`build` turns a finished campaign into an :class:`Outcome`: the report
document (the JSON, the source of truth: :mod:`.document`, described by
``schema.json``), the minimal traces to save, and the exit code.  The
writers render that one document:

* :func:`write_json` — ``report.json``;
* :func:`write_all` — a directory with ``report.json``, ``report.md``
  (:mod:`.markdown`), ``report.html`` (:mod:`.html`),
  ``junit.xml`` (:mod:`.junit``) and ``traces/dNN-RULE.jsonl``, one
  trace per divergence that has one;
* :func:`summary_lines` — the plain summary ``jobcheck run`` prints;
* :func:`update_baseline` — the baseline file rewritten from the findings
  (:mod:`.baseline`).

Exit code: 0 when the target conforms, or diverges only where the rule
catalogue or the baseline expects it; 1 for a new divergence (or, with
``strict``, a known one or a stale baseline entry).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.report import html as report_html
from jobcheck.conformance.report import junit as report_junit
from jobcheck.conformance.report import markdown as report_markdown
from jobcheck.conformance.report.baseline import (
    Baseline,
    Entry,
    load_baseline,
    outcome_of,
    updated,
    write_baseline,
)
from jobcheck.conformance.report.diagram_files import dot_program, render_image
from jobcheck.conformance.report.document import (
    NOT_EXERCISED,
    Built,
    TraceFile,
    build_document,
    run_name,
)
from jobcheck.conformance.report.views import run_text
from jobcheck.conformance.trace.records import Record, write_jsonl
from jobcheck.model.lifecycle import Model, model_for

if TYPE_CHECKING:
    from jobcheck.conformance.campaign.parallel import RunInfo
    from jobcheck.conformance.campaign.results import CampaignResult

SCHEMA_FILE = Path(__file__).with_name("schema.json")

REPORT_FILES = ("report.json", "report.md", "report.html", "junit.xml")

_WAIT_VERDICTS = ("passed", "failed", "indeterminate")


@dataclass
class Outcome:
    """A finished run, ready to print and write."""

    document: dict[str, Any]
    traces: list[TraceFile]
    stale: list[Entry]
    baseline: Baseline | None
    model: Model

    @property
    def run_name(self) -> str:
        return str(self.document["run"]["name"])

    @property
    def exit_code(self) -> int:
        return int(self.document["outcome"]["exit_code"])

    def trace_records(self) -> dict[str, list[Record]]:
        return {t.name: t.records for t in self.traces}


def build(
    info: RunInfo,
    result: CampaignResult,
    summary: dict[str, Any],
    baseline_path: str | None,
    strict: bool,
    *,
    directory: Path | None = None,
    when: datetime | None = None,
    upgrade: bool = False,
) -> Outcome:
    """The outcome of a run.  ``directory`` is where :func:`write_all` will write
    (default ``reports/<run name>``); the repro commands name files there.  ``upgrade``
    reads a version 1 baseline (to rewrite it: :func:`update_baseline`)."""
    model = model_for(info.model)
    when = when or datetime.now(UTC)
    baseline = load_baseline(baseline_path, upgrade=upgrade) if baseline_path else None
    directory = directory or Path("reports") / run_name(info, when)
    built: Built = build_document(
        info,
        result,
        summary,
        model,
        baseline,
        strict,
        when=when,
        directory=directory,
    )
    return Outcome(built.document, built.traces, built.stale, baseline, model)


def summary_lines(outcome: Outcome) -> list[str]:
    """The plain summary of a run, as printed by ``jobcheck run``."""
    doc = outcome.document
    run, target, counts, cov = doc["run"], doc["target"], doc["counts"], doc["coverage"]
    package = target["package"]
    qemu = target["qemu_version"]
    if package:
        qemu += f" ({package['name']} {package['version']})"
    t, c = cov["transitions"], cov["cells"]
    families = cov["summary"].get("cells", {}).get("families", {})
    per_family = ", ".join(
        f"{f} {p.get('reached', 0)}/{p.get('goal', 0)}" for f, p in sorted(families.items())
    )
    lines = [
        f"target: {target['description']}",
        f"QEMU: {qemu} · {doc['model'].get('choice') or 'model ' + doc['model']['version']}",
        f"seed {run['seed']} · profile {run['profile']}",
        f"run: {run_text(run)}",
        f"coverage: transitions {t['reached']}/{t['goal']} ({t['percent']}%)"
        f" · verb×status cells {c['reached']}/{c['goal']} ({c['percent']}%)"
        + (f" [{per_family}]" if per_family else ""),
        f"divergences: {counts['new']} new, {counts['known']} known,"
        f" {counts['baselined']} baselined ({counts['occurrences']} occurrences)",
    ]
    waits = [r["eventual"] for r in doc["rules"] if r.get("eventual")]
    if waits:
        passed, failed, undecided = (sum(w[k] for w in waits) for k in _WAIT_VERDICTS)
        lines.append(
            f"eventual checks: {passed} moved on, {failed} stalled, {undecided} indeterminate"
            " (too slow to decide)"
        )
    for u in doc.get("indeterminate") or []:
        lines.append(f"  indeterminate {u['rule']}: {u['message']}")
    for e in doc["divergences"]:
        lines.append(divergence_line(e))
    lines.append(rules_line(doc["rules"]))
    if doc["baseline"] is not None:
        stale = doc["baseline"]["stale"]
        lines.append(
            f"baseline: {doc['baseline']['entries']} entries, {doc['baseline']['matched']} matched,"
            f" {len(stale)} stale"
        )
        if not doc["baseline"]["stale_judged"]:
            lines.append("  stale entries not judged: the campaign stopped at a failure")
        for entry in stale:
            job = f" ({entry['job_type']})" if entry["job_type"] else ""
            strict = " — fails with --strict" if entry["fails"] else ""
            lines.append(
                f"  stale: {entry['rule']}{job}: fixed? remove it from the baseline{strict}"
            )
    if doc["outcome"]["crash"]:
        lines.append(f"QEMU crashed: {doc['outcome']['crash']}")
    if doc["outcome"]["error"]:
        lines.append(f"campaign failed: {doc['outcome']['error']}")
    verdict = "PASS" if outcome.exit_code == 0 else "FAIL"
    lines.append(f"verdict: {verdict} (exit {outcome.exit_code})")
    return lines


def rules_line(rules: list[dict[str, Any]]) -> str:
    """How many rules got each result, and which were not exercised.

    >>> print(rules_line([{"id": "a.b", "result": "pass"}, {"id": "c.d", "result": "pass"},
    ...     {"id": "e.f", "result": "not-exercised"}]))
    rules: 2 pass, 1 not exercised (e.f)
    """
    tally: dict[str, list[str]] = {}
    for rule in rules:
        tally.setdefault(rule["result"], []).append(rule["id"])
    order = ["fail", "pass", "known", "baselined", "indeterminate", "unchecked", NOT_EXERCISED]
    parts = []
    for result in sorted(tally, key=lambda r: order.index(r) if r in order else len(order)):
        ids = tally[result]
        parts.append(f"{len(ids)} {result.replace('-', ' ')}")
        if result == NOT_EXERCISED:
            parts[-1] += f" ({', '.join(ids)})"
    return "rules: " + ", ".join(parts)


def divergence_line(e: dict[str, Any]) -> str:
    """One divergence of the report document in one line: status, rule, what happened, what
    the documentation says and, for an accepted one, why it is accepted.

    >>> print(divergence_line({"status": "known", "rule": "job-complete.only-ready",
    ...     "job_type": "mirror", "message": "job 'j': job-complete j to a mirror job in"
    ...     " standby: QEMU accepted; documented: complete is accepted only in ready",
    ...     "reason": "complete is also accepted in standby (verified on QEMU 7.2.22)"}))
    ... # doctest: +NORMALIZE_WHITESPACE
      known     job-complete.only-ready [mirror]: job 'j': job-complete j to a mirror job in
      standby: QEMU accepted; documented: complete is accepted only in ready; accepted (known
      divergence): complete is also accepted in standby (verified on QEMU 7.2.22)
    """
    tag = {"new": "NEW      ", "known": "known    ", "baselined": "baselined"}[e["status"]]
    job = f" [{e['job_type']}]" if e["job_type"] else ""
    why = {"known": "known divergence", "baselined": "in the baseline"}.get(e["status"])
    accepted = f"; accepted ({why}): {e['reason']}" if why and e["reason"] else ""
    return f"  {tag} {e['rule']}{job}: {e['message']}{accepted}"


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (parents made); :class:`UsageError` if it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def document_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_json(outcome: Outcome, path: Path) -> None:
    """Write the report document as JSON."""
    write_text(Path(path), document_json(outcome.document))


def _relocate(outcome: Outcome, directory: Path) -> None:
    """Point the repro commands at ``directory`` (where the traces are written)."""
    doc = outcome.document
    if doc["run"]["directory"] == str(directory):
        return
    doc["run"]["directory"] = str(directory)
    options = doc["target"]["options"]
    for e in doc["divergences"]:
        if e["trace"]:
            words = ["jobcheck", "replay", str(directory / e["trace"]["file"]), *options]
            e["repro"] = shlex.join(words if e["status"] == "new" else [*words, "--strict"])


def overlay_svg(document: dict[str, Any]) -> str | None:
    """The overlay diagram as SVG text, or ``None`` when Graphviz's ``dot`` is missing."""
    if dot_program() is None:
        return None
    return render_image(report_html.overlay_dot(document), "svg").decode("utf-8")


OVERLAY_FILE = "overlay.svg"
"""The lifecycle diagram with the coverage overlay, beside the reports (Markdown shows it)."""


def write_all(outcome: Outcome, directory: Path, *, mermaid: bool = False) -> list[Path]:
    """Write the four reports, the overlay diagram (with Graphviz) and the traces into
    ``directory``; return the paths.  ``mermaid``: the Markdown report also carries the
    diagram as a Mermaid block."""
    directory = Path(directory)
    _relocate(outcome, directory)
    doc = outcome.document
    written = []
    for trace in outcome.traces:
        path = directory / trace.name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as stream:
                write_jsonl(stream, trace.meta, trace.records)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        written.append(path)
    svg = overlay_svg(doc)
    texts = {
        "report.json": document_json(doc),
        "report.md": report_markdown.render(
            doc, mermaid=mermaid, image=OVERLAY_FILE if svg else None
        ),
        "report.html": report_html.render(doc, outcome.trace_records(), svg),
        "junit.xml": report_junit.render(doc),
    }
    if svg:
        texts[OVERLAY_FILE] = svg
    for name, text in texts.items():
        write_text(directory / name, text)
        written.append(directory / name)
    return written


def update_baseline(outcome: Outcome, path: Path) -> None:
    """Rewrite the baseline at ``path`` from this run's findings (see :func:`.baseline.updated`)."""
    doc = outcome.document
    findings = []
    for e in doc["divergences"]:
        kinds = e["job_types"] or [None]
        reason = e["reason"] if e["status"] != "new" else e["message"]
        seen = outcome_of(e["observed"], e["job"])
        findings += [(e["rule"], kind, seen, reason or "") for kind in kinds]
    base = outcome.baseline or Baseline(Path(path), [], exists=False)
    write_baseline(updated(base, findings, doc["target"]["qemu_version"], outcome.stale), path)


def load_document(path: Path) -> dict[str, Any]:
    """Read a ``report.json`` back (:class:`UsageError` when it is not one)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read report {path}: {exc}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise UsageError(f"{path} is not a jobcheck report (no schema_version)")
    return data
