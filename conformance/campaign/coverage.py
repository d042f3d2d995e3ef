"""What a campaign reached: transitions and verb×status cells, per job kind.

Coverage is read from the trace, like everything else: transitions from each
job's ``JOB_STATUS_CHANGE`` events, verb×status cells from each verb command
and the status its job was in when the command was sent (or the status a
verb refusal names).  A cell is keyed by command family (``job`` or
``block-job``), verb and status, and remembers whether QEMU accepted or
refused the verb there.

Job *kinds* (:class:`~jobcheck.model.kinds.JobKind`) refine ``JobType`` where
the lifecycle differs: ``active-commit`` has a ready phase,
``intermediate-commit`` does not.  The kind comes from the driver's ``start``
step (a trace note); jobs started without one are of kind ``?``.

What *can* be reached is :mod:`jobcheck.model.graph`'s business
(:func:`goals`); this module counts and compares.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jobcheck.conformance.trace.job_commands import verb_call
from jobcheck.conformance.trace.qmp_messages import status_change
from jobcheck.conformance.trace.records import Command, Event, Note, Record, Response
from jobcheck.conformance.trace.steps import kind_of
from jobcheck.model.graph import executable_statuses, lifecycle_graph, plan_edge
from jobcheck.model.kinds import JobKind
from jobcheck.model.lifecycle import STATUS_NAMED, Model, Status, Verb
from jobcheck.model.semantics import Refusal, parse_error

Cell = tuple[str, Verb, Status]
"""(family, verb, status)."""
Edge = tuple[Status, Status]


#: The job kinds the campaign drives (the simulator and the live target support these).
CAMPAIGN_KINDS: tuple[JobKind, ...] = (
    JobKind.MIRROR,
    JobKind.BACKUP,
    JobKind.STREAM,
    JobKind.ACTIVE_COMMIT,
    JobKind.INTERMEDIATE_COMMIT,
    JobKind.CREATE,
)

#: Verbs that exist only as ``block-job-*`` commands.
BLOCK_ONLY_VERBS = frozenset({Verb.SET_SPEED, Verb.CHANGE})


@dataclass
class Coverage:
    """Transitions and cells reached, fed one record at a time (see :meth:`feed`)."""

    transitions: dict[str, set[Edge]] = field(default_factory=dict)
    """Per job kind, the (from, to) status pairs seen in events."""
    cells: dict[str, dict[Cell, set[bool]]] = field(default_factory=dict)
    """Per job kind, per (family, verb, status): the outcomes seen (True = accepted)."""
    statuses: dict[str, set[Status]] = field(default_factory=dict)
    """Per job kind, every status seen in events or in query-jobs."""
    _status: dict[str, Status] = field(default_factory=dict)
    _kind: dict[str, str] = field(default_factory=dict)
    _pending: dict[Any, tuple[str, Verb, str, Status]] = field(default_factory=dict)

    def feed(self, record: Record) -> None:
        if isinstance(record, Note):
            step = record.step or {}
            if step.get("op") == "start":
                for spec in step.get("jobs", []):
                    self._kind[str(spec["id"])] = kind_of(spec)
        elif isinstance(record, Event):
            self._event(record)
        elif isinstance(record, Command):
            call = verb_call(record.execute, record.arguments)
            if call is not None and call.job_id is not None:
                status = self._status.get(call.job_id)
                if status is not None:
                    self._pending[record.id] = (call.family, call.verb, call.job_id, status)
        elif isinstance(record, Response):
            self._response(record)

    def feed_all(self, records: Iterable[Record]) -> Coverage:
        for record in records:
            self.feed(record)
        return self

    def _event(self, event: Event) -> None:
        change = status_change(event)
        if change is None:
            return
        job = change[0]
        new = STATUS_NAMED.get(change[1])
        if new is None:
            return
        kind = self._kind.get(job, "?")
        old = self._status.get(job)
        if new is Status.CREATED:
            old = Status.UNDEFINED
        if old is not None and old is not new:
            self.transitions.setdefault(kind, set()).add((old, new))
        self.statuses.setdefault(kind, set()).add(new)
        self._status[job] = new

    def _response(self, response: Response) -> None:
        if isinstance(response.value, list):
            for info in response.value:
                if isinstance(info, dict) and "status" in info:
                    try:
                        status = Status(info["status"])
                    except ValueError:
                        continue
                    kind = self._kind.get(str(info.get("id")), "?")
                    self.statuses.setdefault(kind, set()).add(status)
        pending = self._pending.pop(response.id, None)
        if pending is None:
            return
        family, verb, job, status = pending
        if response.error is not None:
            stated = parse_error(response.error.desc)
            if stated is not None and stated.refusal is Refusal.VERB and stated.job_id == job:
                try:
                    status = Status(str(stated.status))
                except ValueError:
                    return
        kind = self._kind.get(job, "?")
        self.cells.setdefault(kind, {}).setdefault((family, verb, status), set()).add(response.ok)

    # -- summaries -------------------------------------------------------

    def all_transitions(self) -> set[Edge]:
        return set().union(*self.transitions.values()) if self.transitions else set()

    def all_cells(self) -> set[Cell]:
        out: set[Cell] = set()
        for cells in self.cells.values():
            out.update(cells)
        return out

    def all_statuses(self) -> set[Status]:
        return set().union(*self.statuses.values()) if self.statuses else set()

    def merge(self, other: Coverage) -> Coverage:
        """Add another campaign's coverage to this one (for ``--jobs N``)."""
        for kind, edges in other.transitions.items():
            self.transitions.setdefault(kind, set()).update(edges)
        for kind, cells in other.cells.items():
            mine = self.cells.setdefault(kind, {})
            for cell, outcomes in cells.items():
                mine.setdefault(cell, set()).update(outcomes)
        for kind, statuses in other.statuses.items():
            self.statuses.setdefault(kind, set()).update(statuses)
        return self


@dataclass(frozen=True)
class Goals:
    """What a campaign should reach on a model version: every observable, plannable
    transition and every verb × status cell in which a command can execute."""

    transitions: dict[str, frozenset[Edge]]
    """Per job kind, the transitions a driver can cause (self-loops have no event)."""
    cells: frozenset[Cell]
    """(family, verb, status) over every campaign kind."""

    def all_transitions(self) -> frozenset[Edge]:
        return frozenset().union(*self.transitions.values())


def goals(model: Model, kinds: tuple[JobKind, ...] = CAMPAIGN_KINDS) -> Goals:
    """The coverage goals of a campaign over ``kinds`` on ``model``."""
    transitions: dict[str, frozenset[Edge]] = {}
    cells: set[Cell] = set()
    for kind in kinds:
        if kind.job_type not in model.job_types:
            continue
        edges = set()
        for source, target in lifecycle_graph(model, kind).edges():
            if source is target:
                continue
            try:
                plan_edge(model, source, target, kind)
            except ValueError:
                continue
            edges.add((source, target))
        if kind is JobKind.BACKUP:
            # No plan reaches created -> aborting, but a start step can: backups created
            # by a transaction that then aborts (the "aborted" start, targets/base.py).
            edges.add((Status.CREATED, Status.ABORTING))
        transitions[kind.value] = frozenset(edges)
        families = ("job", "block-job") if kind.has_pause_points else ("job",)
        for status in executable_statuses(model, kind):
            for family in families:
                for verb in model.verbs:
                    if family == "job" and verb in BLOCK_ONLY_VERBS:
                        continue
                    cells.add((family, verb, status))
    return Goals(transitions, frozenset(cells))


def _edge_names(edges: Iterable[Edge]) -> list[list[str]]:
    return sorted([a.value, b.value] for a, b in edges)


def _cell_names(cells: Iterable[Cell]) -> list[list[str]]:
    order = {s: i for i, s in enumerate(Status)}
    return [
        [f, v.value, s.value]
        for f, v, s in sorted(cells, key=lambda c: (c[0], list(Verb).index(c[1]), order[c[2]]))
    ]


def coverage_summary(coverage: Coverage, model: Model) -> dict[str, Any]:
    """Reached versus goal, as JSON-able data: totals, what is missing, per kind."""
    goal = goals(model)
    goal_edges = goal.all_transitions()
    reached_edges = coverage.all_transitions()
    reached_cells = coverage.all_cells()
    per_kind = {}
    for kind, edges in sorted(goal.transitions.items()):
        seen = coverage.transitions.get(kind, set())
        kind_cells = coverage.cells.get(kind, {})
        per_kind[kind] = {
            "transitions": {"reached": len(edges & seen), "goal": len(edges)},
            "missing_transitions": _edge_names(edges - seen),
            "cells_reached": len(kind_cells),
            "statuses": sorted(s.value for s in coverage.statuses.get(kind, set())),
        }
    families: dict[str, dict[str, int]] = {}
    for family in ("job", "block-job"):
        wanted = {c for c in goal.cells if c[0] == family}
        families[family] = {"reached": len(wanted & reached_cells), "goal": len(wanted)}
    outcomes = {
        "accepted": sorted(
            {
                (c[0], c[1].value, c[2].value)
                for k in coverage.cells.values()
                for c, o in k.items()
                if True in o
            }
        ),
        "refused": sorted(
            {
                (c[0], c[1].value, c[2].value)
                for k in coverage.cells.values()
                for c, o in k.items()
                if False in o
            }
        ),
    }
    return {
        "transitions": {
            "reached": len(goal_edges & reached_edges),
            "goal": len(goal_edges),
            "missing": _edge_names(goal_edges - reached_edges),
            "extra": _edge_names(reached_edges - goal_edges),
        },
        "cells": {
            "reached": len(goal.cells & reached_cells),
            "goal": len(goal.cells),
            "missing": _cell_names(goal.cells - reached_cells),
            "families": families,
        },
        "statuses": sorted(s.value for s in coverage.all_statuses()),
        "outcomes": {key: [list(c) for c in value] for key, value in outcomes.items()},
        "kinds": per_kind,
    }
