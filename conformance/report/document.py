"""The result model of a run: one JSON document that every report is written from.

:func:`build_document` turns what a campaign found (a
:class:`~jobcheck.conformance.campaign.results.CampaignResult`, its coverage summary,
the baseline) into a plain JSON-able dict — the *report document*, described
by ``schema.json`` — plus the minimal traces to save next to it.  The
Markdown, HTML and JUnit writers read only the document, so they always agree
with the JSON.

Divergences are grouped: the same rule broken the same way (job ids aside)
in many examples is one entry with an ``occurrences`` count.  Each entry is
classified:

``new``
    not catalogued as a documented-vs-implemented divergence and not in the
    baseline: fails the run;
``known``
    a catalogued divergence (:attr:`Rule.known_divergence`): passes, unless
    ``--strict``;
``baselined``
    matched by a baseline entry (same rule, same outcome): passes, even with
    ``--strict``.

A rule's eventual checks (:mod:`jobcheck.conformance.oracle.eventually`) may
also end *indeterminate* — the job was too slow to tell within the bound: each
such verdict is counted and listed (``indeterminate``), and a rule with one and
no divergence has the result ``indeterminate``, never ``pass``.  It does not
fail the run.

Each rule of the model version gets one result: ``fail`` (a divergence fails
the run), ``known`` or ``baselined`` (only accepted divergences), ``unchecked``
(no check enforces it yet), ``not-exercised`` (no record of the run put its
checks to the test: see :attr:`jobcheck.conformance.oracle.Oracle.exercised`)
or ``pass`` (exercised, and kept).  So a run that stopped early never shows a
rule it did not reach as passed.

Traces.  A campaign keeps the records of its failing session (the minimal
run Hypothesis shrank to).  Every divergence that occurred in that session —
the new ones, and the known ones the oracle finds when it checks the session
again — gets that session's trace, with its position.  A divergence seen
only in sessions that went on gets its campaign sample
(:class:`~jobcheck.conformance.campaign.results.Sample`): the steps and records of
the job involved, up to the divergence, marked as an excerpt.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jobcheck.conformance.campaign.coverage import BLOCK_ONLY_VERBS, Coverage, goals
from jobcheck.conformance.report.baseline import Baseline, Entry, job_type_matches, outcome_of
from jobcheck.conformance.trace.records import Meta, Note, Record
from jobcheck.conformance.trace.steps import job_kinds
from jobcheck.model.graph import lifecycle_graph
from jobcheck.model.kinds import JobKind
from jobcheck.model.lifecycle import Model, Status, Verb
from jobcheck.model.rules import RULES, Rule, RuleId, rules_for

if TYPE_CHECKING:
    from jobcheck.conformance.campaign.parallel import RunInfo
    from jobcheck.conformance.campaign.results import CampaignResult

SCHEMA_VERSION = 2
"""2 added ``observations`` (per-cell outcomes, plans, query-jobs members: what
``jobcheck compare`` compares); version 1 documents are still read by ``compare`` and
``merge``."""

NOT_EXERCISED = "not-exercised"
"""The result of a checked rule that no record of the run put to the test: neither kept
nor broken (a run too short, or a target that never reached the situation)."""
NOT_EXERCISED_TEXT = "not exercised: no step of this run reached a situation the rule is about"
"""Why a rule has no verdict, in words, for JUnit and pytest."""

MAX_TRACE_RECORDS = 5000
"""A saved trace longer than this is cut after the step that holds the divergence."""

MAX_INDETERMINATE = 50
"""At most this many indeterminate verdicts listed (all of them are counted)."""


class DivergenceLike(Protocol):
    """The fields of :class:`jobcheck.conformance.oracle.Divergence` that reports use."""

    @property
    def rule(self) -> str: ...
    @property
    def job(self) -> str | None: ...
    @property
    def index(self) -> int | None: ...
    @property
    def expected(self) -> str: ...
    @property
    def observed(self) -> str: ...
    @property
    def known(self) -> bool: ...
    @property
    def message(self) -> str: ...


@dataclass
class TraceFile:
    """A trace to write into the report directory."""

    name: str
    """Relative to the report directory, e.g. ``traces/d01-verb.permission-table.jsonl``."""
    meta: Meta
    records: list[Record]


@dataclass
class _Group:
    rule: str
    expected: str
    observed: str
    message: str
    known: bool
    job: str | None
    kinds: set[str] = field(default_factory=set)
    occurrences: int = 0
    sample_index: int | None = None
    sample_kind: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.rule, outcome_of(self.expected, self.job), outcome_of(self.observed, self.job)


# -- small helpers -------------------------------------------------------------------------


def _key(d: DivergenceLike) -> tuple[str, str, str]:
    return d.rule, outcome_of(d.expected, d.job), outcome_of(d.observed, d.job)


def run_name(info: RunInfo, when: datetime) -> str:
    """``sim-7.2-seed0-20261128T160000Z``; a mutant's name follows the model version."""
    parts = [info.target_kind, info.model]
    if info.mutant:
        parts.append(info.mutant)
    parts += [f"seed{info.seed}", when.strftime("%Y%m%dT%H%M%SZ")]
    return "-".join(re.sub(r"[^A-Za-z0-9._-]+", "_", p) for p in parts)


# -- rule exercise (for stale baseline entries) --------------------------------------------

_VERB_ANCHOR = re.compile(r"^@(?:block-)?job-([a-z-]+)$|^@JobVerb\.([a-z-]+)$")
_STATUS_ANCHOR = re.compile(r"^@JobStatus\.([a-z]+)$")


def _anchor_verb(anchor: str | None) -> Verb | None:
    match = _VERB_ANCHOR.match(anchor or "")
    if not match:
        return None
    name = match.group(1) or match.group(2)
    try:
        return Verb(name)
    except ValueError:
        return None


def _anchor_status(anchor: str | None) -> Status | None:
    match = _STATUS_ANCHOR.match(anchor or "")
    return Status(match.group(1)) if match else None


def exercised(rule: Rule, job_type: str | None, coverage: Coverage) -> bool:
    """Whether a run had the chance to break ``rule`` on jobs of ``job_type``.

    Approximated from the coverage, at the granularity of a verb or a status:
    a rule whose primary anchor is a verb (``@job-pause``) was exercised when
    that verb was sent to such a job; one whose anchor is a status
    (``@JobStatus.null``) when such a job was seen in that status; any other
    rule when such a job was started and seen at all.
    """
    kinds = set(coverage.statuses) | set(coverage.cells)
    if job_type is not None:
        kinds = {k for k in kinds if job_type_matches(job_type, k)}
    if not kinds:
        return False
    verb = _anchor_verb(rule.anchor)
    if verb is not None:
        return any(c[1] is verb for k in kinds for c in coverage.cells.get(k, {}))
    status = _anchor_status(rule.anchor)
    if status is not None:
        return any(status in coverage.statuses.get(k, set()) for k in kinds)
    return any(coverage.statuses.get(k) for k in kinds)


# -- coverage section ----------------------------------------------------------------------


def _edge_json(edges: Iterable[tuple[Status, Status]]) -> list[list[str]]:
    order = list(Status)
    return [
        [a.value, b.value]
        for a, b in sorted(set(edges), key=lambda e: (order.index(e[0]), order.index(e[1])))
    ]


def _kind_edges(model: Model, kind: str) -> set[tuple[Status, Status]] | None:
    try:
        job_kind = JobKind(kind)
    except ValueError:
        return None
    if job_kind.job_type not in model.job_types:
        return None
    return set(lifecycle_graph(model, job_kind).edges())


def coverage_section(coverage: Coverage, model: Model, summary: dict[str, Any]) -> dict[str, Any]:
    """The document's ``coverage``: the summary, edge overlay sets and the cell matrix."""
    goal = goals(model)
    reached = coverage.all_transitions()
    divergent: set[tuple[Status, Status]] = set()
    for kind, edges in coverage.transitions.items():
        allowed = _kind_edges(model, kind)
        for edge in edges:
            if not model.allows(*edge) or (allowed is not None and edge not in allowed):
                divergent.add(edge)
    covered = reached - divergent
    uncovered = set(goal.all_transitions()) - reached
    seen: dict[tuple[str, Verb, Status], set[bool]] = {}
    for cells in coverage.cells.values():
        for cell, outcomes in cells.items():
            seen.setdefault(cell, set()).update(outcomes)
    matrix: dict[str, dict[str, dict[str, str]]] = {}
    for family in ("job", "block-job"):
        rows: dict[str, dict[str, str]] = {}
        for verb in model.verbs:
            if family == "job" and verb in BLOCK_ONLY_VERBS:
                continue
            row: dict[str, str] = {}
            for status in model.statuses:
                cell = (family, verb, status)
                outcomes = seen.get(cell, set())
                if outcomes == {True, False}:
                    mark = "both"
                elif outcomes == {True}:
                    mark = "accepted"
                elif outcomes == {False}:
                    mark = "refused"
                elif cell in goal.cells:
                    mark = "missing"
                else:
                    mark = "none"
                row[status.value] = mark
            rows[verb.value] = row
        matrix[family] = rows
    transitions = summary.get("transitions", {})
    cells = summary.get("cells", {})
    return {
        "transitions": _ratio(transitions),
        "cells": _ratio(cells),
        "edges": {
            "covered": _edge_json(covered),
            "uncovered": _edge_json(uncovered),
            "divergent": _edge_json(divergent),
        },
        "permitted": {
            verb.value: [s.value for s in model.statuses if model.permits(verb, s)]
            for verb in model.verbs
        },
        "matrix": matrix,
        "summary": summary,
    }


def _ratio(part: dict[str, Any]) -> dict[str, Any]:
    reached = int(part.get("reached", 0))
    goal = int(part.get("goal", 0))
    return {
        "reached": reached,
        "goal": goal,
        "percent": round(100.0 * reached / goal, 1) if goal else 100.0,
    }


# -- the document --------------------------------------------------------------------------


def _group(
    divergences: Iterable[DivergenceLike],
    sample: Sequence[DivergenceLike],
    kinds: dict[str, str],
) -> list[_Group]:
    groups: dict[tuple[str, str, str], _Group] = {}

    def get(d: DivergenceLike) -> _Group:
        key = _key(d)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(d.rule, d.expected, d.observed, d.message, d.known, d.job)
        return group

    for d in divergences:
        get(d).occurrences += 1
    for d in sample:
        group = get(d)
        kind = kinds.get(d.job or "")
        if kind:
            group.kinds.add(kind)
        if group.sample_index is None:
            group.sample_index = d.index if d.index is not None else -1
            group.sample_kind = kind
            group.job, group.message = d.job, d.message
            group.expected, group.observed = d.expected, d.observed
    for group in groups.values():
        group.occurrences = max(group.occurrences, 1)
    return sorted(groups.values(), key=lambda g: (g.known, g.rule, g.expected, g.observed))


def _excerpt(records: list[Record], index: int | None) -> tuple[list[Record], bool]:
    """The records to save: all of them, or — beyond the bound — up to the end of the step."""
    if len(records) <= MAX_TRACE_RECORDS or index is None or index < 0:
        return records[:MAX_TRACE_RECORDS], len(records) > MAX_TRACE_RECORDS
    end = index + 1
    while end < len(records) and not is_step(records[end]):
        end += 1
    return records[:end], True


def is_step(record: Record) -> bool:
    """Whether a record is a driver note that starts a step."""
    return isinstance(record, Note) and record.step is not None


def _kinds_or_none(group: _Group) -> list[str | None]:
    return list(group.kinds) or [None]


def _rule_json(rule_id: str, version: str) -> dict[str, Any]:
    """A rule as the report shows it, quoting the documentation of model ``version``."""
    rule = RULES.get(rule_id)
    if rule is None:
        return {
            "id": rule_id,
            "anchor": None,
            "category": None,
            "paraphrase": None,
            "quote": None,
            "known_divergence": None,
        }
    return {
        "id": rule.id,
        "anchor": rule.anchor,
        "category": rule.category.value,
        "paraphrase": rule.text,
        "quote": rule.quote_for(version),
        "known_divergence": rule.known_divergence.observed if rule.known_divergence else None,
    }


@dataclass
class Built:
    """What :func:`build_document` returns."""

    document: dict[str, Any]
    traces: list[TraceFile]
    stale: list[Entry]


def build_document(
    info: RunInfo,
    result: CampaignResult,
    summary: dict[str, Any],
    model: Model,
    baseline: Baseline | None,
    strict: bool,
    *,
    when: datetime,
    directory: Path,
) -> Built:
    """The report document of a run (see the module docstring and ``schema.json``)."""
    failure = result.failure
    records = failure.records if failure else []
    kinds = job_kinds(records)
    sample: list[DivergenceLike] = list(failure.seen if failure else [])
    seen = {(_key(d), d.index) for d in sample}
    sample += [
        d for d in (failure.divergences if failure else []) if (_key(d), d.index) not in seen
    ]
    groups = _group(result.divergences, sample, kinds)
    samples = {_key(s.divergence): s for s in reversed(list(result.samples.values()))}
    crash = result.crash
    if crash and not any(g.rule == RuleId.QEMU_NO_ABORT for g in groups):
        crash_group = _Group(
            RuleId.QEMU_NO_ABORT, "QEMU keeps running", crash, f"QEMU crashed: {crash}", False, None
        )
        crash_group.occurrences = 1
        crash_group.sample_index = len(records) - 1 if records else None
        groups.insert(0, crash_group)

    options = list(info.rerun_options)
    rerun_base = info.command
    version = info.qemu_version
    matched: set[int] = set()
    entries: list[dict[str, Any]] = []
    traces: list[TraceFile] = []
    for number, group in enumerate(groups, start=1):
        did = f"d{number:02d}"
        job_types = sorted(group.kinds)
        entry = None
        if baseline is not None:
            wanted: list[str | None] = list(job_types) or [None]
            outcome = outcome_of(group.observed, group.job)
            found = [baseline.match(group.rule, k, version, outcome) for k in wanted]
            if all(e is not None for e in found):
                entry = found[0]
                matched.update(id(e) for e in found)
        if entry is not None:
            status, reason = "baselined", entry.reason or "listed in the baseline"
        elif group.known:
            rule = RULES.get(group.rule)
            known = rule.known_divergence if rule else None
            status = "known"
            reason = (
                f"{known.observed.rstrip('.')} ({known.evidence})"
                if known
                else "a catalogued documented-vs-implemented divergence"
            )
        else:
            status, reason = "new", None
        fails = status == "new" or (strict and status == "known")
        trace = None
        repro = None
        kept = None if group.sample_index is not None else samples.get(group.key)
        if kept is not None:
            group.job = group.job or kept.divergence.job
            group.sample_kind = group.sample_kind or job_kinds(kept.records).get(group.job or "")
        if (group.sample_index is not None and records and failure is not None) or kept:
            name = f"traces/{did}-{group.rule}.jsonl"
            index: int | None
            if kept is not None:
                index = kept.index
                saved, cut, meta = kept.records, True, kept.meta
            else:
                assert failure is not None and group.sample_index is not None
                index = group.sample_index if group.sample_index >= 0 else None
                saved, cut = _excerpt(records, index)
                meta = failure.meta
            extra = dict(meta.extra)
            extra.update(
                {
                    "divergence": did,
                    "rule": group.rule,
                    "index": index,
                    "status": status,
                    "model": info.model,
                }
            )
            if info.mutant:
                extra.setdefault("mutant", info.mutant)
            if cut:
                extra["excerpt"] = True
            traces.append(TraceFile(name, replace(meta, extra=extra), saved))
            trace = {
                "file": name,
                "index": index,
                "line": None if index is None else index + 2,
                "records": len(saved),
                "excerpt": cut,
            }
            words = ["jobcheck", "replay", str(directory / name), *options]
            repro = shlex.join(words if status == "new" else [*words, "--strict"])
        strict_run = status == "new" or "--strict" in rerun_base.split()
        rerun = rerun_base if strict_run else rerun_base + " --strict"
        about = _rule_json(group.rule, model.version)
        entries.append(
            {
                "id": did,
                "rule": group.rule,
                "anchor": about["anchor"],
                "category": about["category"],
                "paraphrase": about["paraphrase"],
                "quote": about["quote"],
                "job": group.job,
                "job_type": group.sample_kind or (job_types[0] if job_types else None),
                "job_types": job_types,
                "expected": group.expected,
                "observed": group.observed,
                "message": group.message,
                "status": status,
                "fails": fails,
                "reason": reason,
                "occurrences": group.occurrences,
                "trace": trace,
                "repro": repro,
                "rerun": rerun,
            }
        )

    stale: list[Entry] = []
    # A campaign that stopped at a failure did not explore everything it would have
    # explored: an entry that did not reproduce there is not evidence of a fix.
    judge_stale = failure is None
    if baseline is not None and judge_stale:
        for entry in baseline.entries:
            if id(entry) in matched or entry.intermittent or not entry.applies_to(version):
                continue
            if any(
                entry.matches(g.rule, k, version, outcome_of(g.observed, g.job))
                for g in groups
                for k in _kinds_or_none(g)
            ):
                continue
            rule = RULES.get(entry.rule)
            if rule is not None and exercised(rule, entry.job_type, result.coverage):
                stale.append(entry)

    rule_ids = [r.id for r in rules_for(model.version)]
    rule_ids += sorted({e["rule"] for e in entries} - set(rule_ids))
    rules = []
    for rule_id in rule_ids:
        mine = [e for e in entries if e["rule"] == rule_id]
        waits = result.eventual.get(rule_id)
        if any(e["fails"] for e in mine):
            verdict = "fail"
        elif any(e["status"] == "known" for e in mine):
            verdict = "known"
        elif mine:
            verdict = "baselined"
        elif rule_id in RULES and RULES[rule_id].unchecked:
            verdict = "unchecked"
        elif waits and waits[2]:
            verdict = "indeterminate"  # some of its checks could not be decided: not a pass
        elif not result.exercised.get(rule_id):
            verdict = NOT_EXERCISED
        else:
            verdict = "pass"
        rules.append(
            {
                **_rule_json(rule_id, model.version),
                "result": verdict,
                "unchecked": RULES[rule_id].unchecked if rule_id in RULES else None,
                "exercised": result.exercised.get(rule_id, 0),
                "divergences": [e["id"] for e in mine],
                "eventual": None
                if not waits
                else {"passed": waits[0], "failed": waits[1], "indeterminate": waits[2]},
            }
        )
    undecided = [
        {"rule": str(u.rule), "job": u.job, "message": u.message}
        for u in result.indeterminate[:MAX_INDETERMINATE]
    ]

    error = None
    if failure is not None and not failure.divergences and not crash:
        error = failure.message
    failing = sum(1 for e in entries if e["fails"])
    stale_fail = len(stale) if strict else 0
    exit_code = 1 if failing or stale_fail or error else 0
    counts = {
        "divergences": len(entries),
        "occurrences": sum(e["occurrences"] for e in entries),
        "new": sum(1 for e in entries if e["status"] == "new"),
        "known": sum(1 for e in entries if e["status"] == "known"),
        "baselined": sum(1 for e in entries if e["status"] == "baselined"),
        "failing": failing,
        "accepted": len(entries) - failing,
        "stale_baseline_entries": len(stale),
        "rules": len(rules),
        "rules_passed": sum(1 for r in rules if r["result"] == "pass"),
        "rules_unchecked": sum(1 for r in rules if r["result"] == "unchecked"),
        "rules_indeterminate": sum(1 for r in rules if r["result"] == "indeterminate"),
        "indeterminate": len(result.indeterminate),
        "rules_not_exercised": sum(1 for r in rules if r["result"] == NOT_EXERCISED),
        "errors": 1 if error else 0,
    }
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "name": run_name(info, when),
            "finished": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": info.command,
            "seed": info.seed,
            "profile": info.profile,
            "examples_requested": info.examples,
            "steps_per_example": info.steps,
            "jobs": info.jobs,
            "examples": result.examples,
            "shrink_runs": result.shrink_runs,
            "steps": result.steps,
            "seconds": round(result.seconds, 3),
            "tour_steps": result.tour_steps,
            "tour_seconds": round(result.tour_seconds, 3),
            "strict": strict,
            "directory": str(directory),
        },
        "target": {
            "kind": info.target_kind,
            "description": info.target,
            "mutant": info.mutant,
            "qemu_version": info.qemu_version,
            "binary": info.binary,
            "package": info.package,
            "options": options,
        },
        "model": {"version": model.version, "choice": info.model_choice},
        "counts": counts,
        "outcome": {
            "exit_code": exit_code,
            "verdict": "fail" if exit_code else "pass",
            "crash": crash,
            "error": error,
            "failure": None
            if failure is None
            else {
                "message": failure.message,
                "steps": failure.steps(),
                "divergences": len(failure.divergences),
            },
        },
        "coverage": coverage_section(result.coverage, model, summary),
        "observations": result.observations.to_json(),
        "rules": rules,
        "divergences": entries,
        "indeterminate": undecided,
        "baseline": None
        if baseline is None
        else {
            "path": str(baseline.path) if baseline.path else None,
            "exists": baseline.exists,
            "entries": len(baseline.entries),
            "matched": sum(1 for e in baseline.entries if id(e) in matched),
            "stale_judged": judge_stale,
            "stale": [{**e.to_json(), "fails": strict} for e in stale],
        },
    }
    return Built(document, traces, stale)
