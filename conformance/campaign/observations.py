"""What a campaign observed, in the detail that comparing two builds needs.

Coverage (:mod:`.coverage`) says *whether* a verb × status cell was reached;
a reviewer asking "what did my patch change?" needs *how QEMU answered*
there.  :class:`Observations` keeps that, read from the trace like everything
else (one :class:`Watcher` per session, fed the same records as the oracle):

``cells``
    Per job kind × command × status at the time the command was sent (the
    planned tour only): the set of outcomes seen.  An outcome is *accepted*,
    with the statuses the job went through until the next driver step and
    the names of its other events (``BLOCK_JOB_READY``, …), plus those of the
    other members of its transaction; or *refused*, with the error class and
    the text with job ids, node names and paths normalised (``JOB``,
    ``NODE``, ``PATH``).  Either way, what other jobs did meanwhile
    (``bystanders``: each one's statuses).  A ``drain`` step is a cell too,
    named after the command that drained the node (``drain
    (blockdev-reopen)``).
``plans``
    Per plan of the tour (a fresh job's steps up to the ``query-jobs`` that
    follows them, ids renumbered ``J1``, ``J2`` …): the statuses, events and
    answers of each step, per job.
``query_fields``
    Per job kind × status: the members ``query-jobs`` listed for the job
    (with the text of its ``error``).
``transitions``, ``commands``, ``schema``
    Per job kind, every status change seen in the tour; the job
    commands QEMU introspects (``query-qmp-schema``), those sent, and those
    it did not know (``CommandNotFound``); the ``JobStatus`` and ``JobType``
    members it introspects.
``racy_cells``
    Cells observed while the job might still have been moving: after a step
    that does not settle (the tour's job-complete right behind a soft cancel),
    after a settle that timed out, or when a refusal names another status
    than the one the job was last seen in.  Where such a command lands
    depends on timing, so they are kept apart and never compared.
``exploration``
    The Hypothesis examples: how many, a digest of their steps, and their
    cells.  Two runs took the same exploration steps exactly when the
    digests agree (``jobcheck compare`` makes sure they do).

Everything here is a *set* of outcomes, never a count or an order across
jobs: how often the tour repeats a plan, and how the events of two jobs
interleave, depend on timing; what one job does in answer to one step does
not.

    >>> from jobcheck.conformance.trace.records import Command, Event, Note, QmpError, Response
    >>> seen = Observations()
    >>> watcher = seen.watch(tour=True)
    >>> for record in [
    ...     Note("start mirror t1", {"op": "start", "jobs": [{"type": "mirror", "id": "t1"}]}),
    ...     Event("JOB_STATUS_CHANGE", {"id": "t1", "status": "created"}),
    ...     Event("JOB_STATUS_CHANGE", {"id": "t1", "status": "running"}),
    ...     Note("query-jobs", {"op": "query"}),
    ...     Note("job-pause t1", {"op": "verb", "job": "t1", "verb": "pause"}),
    ...     Command("job-pause", {"id": "t1"}, 5),
    ...     Event("JOB_STATUS_CHANGE", {"id": "t1", "status": "paused"}),
    ...     Response(5, {}),
    ...     Note("job-complete t1", {"op": "verb", "job": "t1", "verb": "complete"}),
    ...     Command("job-complete", {"id": "t1"}, 6),
    ...     Response(6, None, QmpError("GenericError",
    ...         "Job 't1' in state 'paused' cannot accept command verb 'complete'")),
    ... ]:
    ...     watcher.feed(record)
    >>> watcher.close()
    >>> for cell, outcomes in sorted(seen.cells.items()):
    ...     print(cell, [outcome_text(o) for o in sorted(outcomes)])
    ('mirror', 'job-complete', 'paused') ["refused GenericError: Job 'JOB' in state 'paused' \
cannot accept command verb 'complete'"]
    ('mirror', 'job-pause', 'running') ['accepted → paused']
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jobcheck.conformance.trace.job_commands import START_COMMANDS, classify
from jobcheck.conformance.trace.qmp_messages import JOB_STATUS_CHANGE, status_change
from jobcheck.conformance.trace.records import (
    Command,
    Event,
    Meta,
    Note,
    Record,
    Response,
)
from jobcheck.conformance.trace.steps import describe_step, kind_of, step_jobs
from jobcheck.model.semantics import Refusal, parse_error

__all__ = [
    "Cell",
    "Observations",
    "Watcher",
    "normalise",
    "outcome_text",
]

Cell = tuple[str, str, str]
"""(job kind, command, status when it was sent)."""
Outcome = str
"""One outcome as canonical JSON text (see :func:`outcome_text` to read it)."""
K = TypeVar("K")
V = TypeVar("V")

_NODE = re.compile(r"\bjc-\d+-\d+-[\w.+-]*")
_PATH = re.compile(r"(?:/[\w.+-]+)*/jobcheck-[\w.+-]+(?:/[\w.+-]+)*")
_PID = re.compile(r"\(pid \d+\)")


def normalise(text: str, jobs: Iterable[str] = (), label: str = "JOB") -> str:
    """``text`` with the given job ids, jobcheck's node names and paths replaced.

    >>> normalise("Job 't12' in state 'ready' cannot accept command verb 'finalize'", ["t12"])
    "Job 'JOB' in state 'ready' cannot accept command verb 'finalize'"
    >>> normalise("Node 'jc-412-3-t4-src' is busy; see /tmp/jobcheck-qemu-x1/t4.qcow2 (pid 9)")
    "Node 'NODE' is busy; see PATH (pid N)"
    """
    text = _PATH.sub("PATH", _NODE.sub("NODE", text))
    text = _PID.sub("(pid N)", text)
    for job in sorted(set(jobs), key=len, reverse=True):
        if job:
            text = re.sub(rf"(?<![\w-]){re.escape(job)}(?![\w-])", label, text)
    return text


def is_job_command(command: str) -> bool:
    """Whether a QMP command starts, addresses or lists jobs.

    >>> [c for c in ("block-job-change", "blockdev-add", "query-jobs", "x-blockdev-amend")
    ...  if is_job_command(c)]
    ['block-job-change', 'query-jobs', 'x-blockdev-amend']
    """
    return (
        command.startswith(("job-", "block-job-"))
        or command in START_COMMANDS
        or command in ("query-jobs", "query-block-jobs", "transaction", "blockdev-amend")
    )


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def outcome_text(outcome: Outcome) -> str:
    """An outcome in words: ``accepted → paused``, ``refused GenericError: …``.

    >>> outcome_text('{"accepted":true,"events":["BLOCK_JOB_READY"],"statuses":["ready"]}')
    'accepted → ready · BLOCK_JOB_READY'
    """
    data = json.loads(outcome)
    if not data.get("accepted"):
        return f"refused {data.get('class')}: {data.get('error')}" + _bystanders_text(data)
    parts = ["accepted"]
    statuses = data.get("statuses") or []
    parts.append("→ " + ", ".join(statuses) if statuses else "(no status change)")
    text = " ".join(parts)
    if data.get("events"):
        text += " · " + ", ".join(data["events"])
    for other, seen in sorted((data.get("others") or {}).items()):
        text += f" · {other}: " + ", ".join(seen)
    return text + _bystanders_text(data)


def _bystanders_text(data: dict[str, Any]) -> str:
    bystanders = data.get("bystanders")
    return " · other jobs: " + " | ".join(bystanders) if bystanders else ""


def command_label(command: str, arguments: dict[str, Any]) -> str:
    """A verb command as a cell names it: the command and the arguments that change it.

    >>> command_label("block-job-cancel", {"device": "t3", "force": False})
    'block-job-cancel force=false'
    >>> command_label("block-job-change", {"id": "t3", "type": "mirror", "copy-mode": "x"})
    'block-job-change'
    """
    extra = [
        f"{k}={json.dumps(v)}"
        for k, v in sorted(arguments.items())
        if k in ("force", "speed") and not isinstance(v, dict | list)
    ]
    return " ".join([command, *extra])


@dataclass
class _Step:
    step: dict[str, Any]
    jobs: set[str]
    racy: bool
    calls: dict[Any, tuple[str, str, str, str]] = field(default_factory=dict)
    """Command id → (job, kind, label, status when sent)."""
    answers: dict[Any, tuple[int, Response]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    position: dict[Any, int] = field(default_factory=dict)
    """Command id → how many events had arrived in this step when it was sent."""
    starts: dict[Any, list[str]] = field(default_factory=dict)
    """Start command id → the jobs it starts."""


@dataclass
class _Plan:
    jobs: list[str]
    steps: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    racy: bool = False


@dataclass
class Observations:
    """Everything observed, accumulated over the sessions of a campaign (see the module
    docstring); :meth:`watch` makes the watcher of one session."""

    cells: dict[Cell, set[Outcome]] = field(default_factory=dict)
    racy_cells: dict[Cell, set[Outcome]] = field(default_factory=dict)
    explored_cells: dict[Cell, set[Outcome]] = field(default_factory=dict)
    plans: dict[tuple[str, tuple[str, ...]], set[Outcome]] = field(default_factory=dict)
    racy_plans: dict[tuple[str, tuple[str, ...]], set[Outcome]] = field(default_factory=dict)
    query_fields: dict[tuple[str, str], set[Outcome]] = field(default_factory=dict)
    transitions: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    commands_known: set[str] | None = None
    """The job commands QEMU introspects (``None``: the target does not say)."""
    commands_sent: set[str] = field(default_factory=set)
    commands_not_found: set[str] = field(default_factory=set)
    schema: dict[str, list[str]] | None = None
    examples: int = 0
    _digests: list[str] = field(default_factory=list)
    _open: list[Watcher] = field(default_factory=list)

    def watch(
        self,
        meta: Meta | None = None,
        *,
        tour: bool | None = None,
        commands: Iterable[str] | None = None,
    ) -> Watcher:
        """A watcher for one session; ``tour`` defaults to what the session's meta says,
        ``commands`` are the QMP commands the target introspects (if it says)."""
        extra = meta.extra if meta is not None else {}
        if commands is not None and self.commands_known is None:
            self.commands_known = {c for c in commands if is_job_command(c)}
        members = extra.get("schema_members")
        if isinstance(members, dict) and members and self.schema is None:
            self.schema = {str(k): [str(m) for m in v] for k, v in members.items()}
        in_tour = bool(extra.get("tour")) if tour is None else tour
        watcher = Watcher(self, in_tour)
        self._open.append(watcher)
        return watcher

    def flush(self) -> None:
        """Close every watcher still open (a session that ended with an exception)."""
        for watcher in list(self._open):
            watcher.close()

    @property
    def steps_digest(self) -> str:
        """A digest of the exploration's steps, example by example (the driver names the
        jobs of each example ``j1``, ``j2``, …, so the same steps give the same text)."""
        self.flush()
        return hashlib.sha256("\n".join(self._digests).encode()).hexdigest()[:16]

    def merge(self, other: Observations) -> Observations:
        """Add another campaign's observations (``--jobs N``)."""
        other.flush()
        _union(self.cells, other.cells)
        _union(self.racy_cells, other.racy_cells)
        _union(self.explored_cells, other.explored_cells)
        _union(self.plans, other.plans)
        _union(self.racy_plans, other.racy_plans)
        _union(self.query_fields, other.query_fields)
        _union(self.transitions, other.transitions)
        self.commands_sent |= other.commands_sent
        self.commands_not_found |= other.commands_not_found
        self.schema = self.schema or other.schema
        if self.commands_known is None:
            self.commands_known = other.commands_known
        self.examples += other.examples
        self._digests += other._digests
        return self

    # -- JSON --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The ``observations`` section of report.json (``schema.json`` describes it)."""
        self.flush()
        return {
            "schema": self.schema,
            "commands": {
                "known": None if self.commands_known is None else sorted(self.commands_known),
                "sent": sorted(self.commands_sent),
                "not_found": sorted(self.commands_not_found),
            },
            "cells": _cells_json(self.cells),
            "racy_cells": _cells_json(self.racy_cells),
            "plans": _plans_json(self.plans),
            "racy_plans": _plans_json(self.racy_plans),
            "query_fields": [
                {"kind": kind, "status": status, "seen": [json.loads(v) for v in sorted(values)]}
                for (kind, status), values in sorted(self.query_fields.items())
            ],
            "transitions": {
                kind: sorted([a, b] for a, b in edges)
                for kind, edges in sorted(self.transitions.items())
            },
            "exploration": {
                "examples": self.examples,
                "steps_digest": self.steps_digest,
                "cells": _cells_json(self.explored_cells),
            },
        }


def _union(mine: dict[K, set[V]], theirs: dict[K, set[V]]) -> None:
    for key, values in theirs.items():
        mine.setdefault(key, set()).update(values)


def _cells_json(cells: dict[Cell, set[Outcome]]) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "command": command,
            "status": status,
            "outcomes": [json.loads(o) for o in sorted(outcomes)],
        }
        for (kind, command, status), outcomes in sorted(cells.items())
    ]


def _plans_json(plans: dict[tuple[str, tuple[str, ...]], set[Outcome]]) -> list[dict[str, Any]]:
    return [
        {"kind": kind, "steps": list(steps), "outcomes": [json.loads(o) for o in sorted(values)]}
        for (kind, steps), values in sorted(plans.items())
    ]


class Watcher:
    """The observer of one session: fed every record, in order (see :meth:`feed`)."""

    def __init__(self, into: Observations, tour: bool) -> None:
        self.into = into
        self.tour = tour
        self.closed = False
        self.kind: dict[str, str] = {}
        self.group: dict[str, list[str]] = {}
        self.status: dict[str, str] = {}
        self.tainted: set[str] = set()
        self.step: _Step | None = None
        self.plans: list[_Plan] = []
        self.steps: list[str] = []
        """The session's steps as text (for the exploration digest)."""
        self.sent: dict[Any, str] = {}

    # -- feeding -------------------------------------------------------------------

    def feed(self, record: Record) -> None:
        if self.closed:
            return
        if isinstance(record, Note):
            if record.step is not None:
                self._end_step()
                self._begin_step(record.step)
            elif record.text.startswith("settle:"):
                # The settle ran out of time: whatever comes next may race with it.
                self.tainted.update(j for j, s in self.status.items() if s != "null")
            return
        step = self.step
        if isinstance(record, Event):
            self._event(record)
            if step is not None:
                step.events.append(record)
        elif isinstance(record, Command):
            self._command(record)
        elif isinstance(record, Response):
            self._response(record)

    def close(self) -> None:
        """The session ended: finish the last step and the open plans."""
        if self.closed:
            return
        self._end_step()
        for plan in self.plans:
            self._end_plan(plan)
        self.plans = []
        self.closed = True
        if self in self.into._open:
            self.into._open.remove(self)
        if not self.tour:
            self.into.examples += 1
            self.into._digests.append(" | ".join(self.steps))

    # -- records ---------------------------------------------------------------------

    def _begin_step(self, step: dict[str, Any]) -> None:
        op = step.get("op")
        jobs = step_jobs(step)
        if op == "start":
            specs = [s for s in step.get("jobs", []) if isinstance(s, dict) and "id" in s]
            ids = [str(s["id"]) for s in specs]
            for spec in specs:
                job = str(spec["id"])
                self.kind[job] = kind_of(spec)
                self.group[job] = ids
                self.status.pop(job, None)
                self.tainted.discard(job)
            if self.tour and ids:
                self.plans = [p for p in self.plans if not self._end_plan(p)]
                self.plans.append(_Plan(ids))
        for job in list(jobs):
            jobs.update(self.group.get(job, ()))
        racy = step.get("settle", True) is False or bool(jobs & self.tainted)
        self.step = _Step(step, jobs, racy)
        if not self.tour:
            self.steps.append(repr(step))

    def _end_step(self) -> None:
        step = self.step
        if step is None:
            return
        self.step = None
        for command_id, (job, kind, label, status) in step.calls.items():
            answer = step.answers.get(command_id)
            if answer is None:
                continue
            outcome, named, tainted = self._outcome(step, command_id, job, answer[1])
            racy = step.racy or tainted or job in self.tainted or named not in (None, status)
            cell = (kind, label, status)
            if racy:
                self.into.racy_cells.setdefault(cell, set()).add(outcome)
            elif self.tour:
                self.into.cells.setdefault(cell, set()).add(outcome)
            else:
                self.into.explored_cells.setdefault(cell, set()).add(outcome)
        if step.step.get("settle", True) is False:
            self.tainted |= step.jobs
        op = step.step.get("op")
        for plan in list(self.plans):
            if op == "query":
                self._end_plan(plan)
                self.plans.remove(plan)
            elif step.jobs & set(plan.jobs):
                self._plan_step(plan, step)

    def _plan_step(self, plan: _Plan, step: _Step) -> None:
        names = {job: f"J{n}" for n, job in enumerate(plan.jobs, start=1)}
        plan.steps.append(_rename(describe_step(step.step), names))
        plan.racy = plan.racy or step.racy or bool(set(plan.jobs) & self.tainted)
        per_job: dict[str, list[str]] = {}
        for event in step.events:
            job = _event_job(event)
            if job in names:
                per_job.setdefault(names[job], []).append(_event_name(event))
        answers = []
        for command_id, (_, response) in sorted(step.answers.items(), key=lambda a: a[1][0]):
            if command_id in step.calls or command_id in step.starts:
                answers.append(_answer(response, plan.jobs))
        plan.outcomes.append(_dump({"events": per_job, "answers": answers}))

    def _end_plan(self, plan: _Plan) -> bool:
        if plan.steps:
            kind = self.kind.get(plan.jobs[0], "?")
            key = (kind, tuple(plan.steps))
            into = self.into.racy_plans if plan.racy else self.into.plans
            into.setdefault(key, set()).add(_dump(plan.outcomes))
        return True

    def _event(self, event: Event) -> None:
        change = status_change(event)
        if change is None:
            return
        job, new = change
        old = "undefined" if new == "created" else self.status.get(job)
        kind = self.kind.get(job, "?")
        if old is not None and old != new and self.tour:
            self.into.transitions.setdefault(kind, set()).add((old, new))
        self.status[job] = new

    def _command(self, command: Command) -> None:
        self.into.commands_sent.add(command.execute)
        self.sent[command.id] = command.execute
        step = self.step
        if step is None:
            return
        step.position[command.id] = len(step.events)
        meaning = classify(command.execute, command.arguments)
        if meaning.kind == "start":
            step.starts[command.id] = [info.id for info in meaning.starts]
            return
        call = meaning.verb
        if call is not None:
            job, label = call.job_id, command_label(command.execute, command.arguments)
        elif step.step.get("op") == "drain" and not step.calls and command.execute != "query-jobs":
            # the command that drains the job's node: how the step did it is part of the cell
            job, label = str(step.step.get("job")), f"drain ({command.execute})"
        else:
            return
        status = self.status.get(job) if job is not None else None
        if job is None or job not in self.kind or status is None:
            return
        step.calls[command.id] = (job, self.kind[job], label, status)

    def _response(self, response: Response) -> None:
        command = self.sent.pop(response.id, None)
        error = response.error
        if error is not None and error.error_class == "CommandNotFound" and command is not None:
            self.into.commands_not_found.add(command)
        step = self.step
        if step is not None and response.id in step.position:
            step.answers[response.id] = (len(step.answers), response)
        if command == "query-jobs" and self.tour and isinstance(response.value, list):
            self._listed(response.value)

    def _listed(self, jobs: list[Any]) -> None:
        for info in jobs:
            if not isinstance(info, dict):
                continue
            job = str(info.get("id"))
            kind = self.kind.get(job)
            if kind is None or job in self.tainted:
                continue
            fields: dict[str, Any] = {"members": sorted(str(k) for k in info)}
            for key in ("type", "error"):
                if key in info:
                    fields[key] = normalise(str(info[key]), self.group.get(job, [job]))
            status = str(info.get("status"))
            self.into.query_fields.setdefault((kind, status), set()).add(_dump(fields))

    # -- outcomes -------------------------------------------------------------------

    def _outcome(
        self, step: _Step, command_id: Any, job: str, response: Response
    ) -> tuple[Outcome, str | None, bool]:
        """The outcome of a command for ``job``, the status a verb refusal names (if
        any), and whether a job it moved was already tainted."""
        group = self.group.get(job, [job])
        since = step.position.get(command_id, 0)
        statuses: list[str] = []
        events: list[str] = []
        others: dict[str, list[str]] = {}
        bystanders: dict[str, list[str]] = {}
        for event in step.events[since:]:
            owner = _event_job(event)
            if owner == job:
                if event.event == JOB_STATUS_CHANGE:
                    statuses.append(str(event.data.get("status")))
                else:
                    events.append(_event_name(event))
            elif owner in group:
                name = f"J{group.index(owner) + 1}"
                others.setdefault(name, []).append(_event_name(event))
            elif owner is not None and owner in self.kind:
                bystanders.setdefault(owner, []).append(_event_name(event))
        named = None
        outcome: dict[str, Any]
        if response.error is not None:
            stated = parse_error(response.error.desc)
            if stated is not None and stated.refusal is Refusal.VERB and stated.job_id == job:
                named = str(stated.status)
            outcome = {
                "accepted": False,
                "class": response.error.error_class,
                "error": normalise(response.error.desc, group),
            }
        else:
            outcome = {"accepted": True, "statuses": statuses}
            if events:
                outcome["events"] = events
            if others:
                outcome["others"] = others
        if bystanders:
            # jobs of other transactions, each as its own sequence: how the events of
            # several jobs interleave is timing, what each one did is not
            outcome["bystanders"] = sorted(", ".join(seen) for seen in bystanders.values())
        return _dump(outcome), named, bool(set(bystanders) & self.tainted)


def _rename(text: str, names: dict[str, str]) -> str:
    for job, name in sorted(names.items(), key=lambda item: -len(item[0])):
        text = re.sub(rf"(?<![\w-]){re.escape(job)}(?![\w-])", name, text)
    return text


def _event_job(event: Event) -> str | None:
    job = event.data.get("id", event.data.get("device"))
    return str(job) if job is not None else None


def _event_name(event: Event) -> str:
    """An event as a plan step shows it: the status of a JOB_STATUS_CHANGE, else its name
    (with the action of a BLOCK_JOB_ERROR, and ``error`` when a completion carries one)."""
    if event.event == JOB_STATUS_CHANGE:
        return str(event.data.get("status"))
    if event.event == "BLOCK_JOB_ERROR":
        return f"{event.event}({event.data.get('action')})"
    if "error" in event.data:
        return f"{event.event}(error)"
    return event.event


def _answer(response: Response, jobs: Iterable[str]) -> str:
    if response.error is None:
        return "ok"
    return f"{response.error.error_class}: {normalise(response.error.desc, jobs)}"


def iter_outcomes(outcomes: Iterable[Outcome]) -> Iterator[dict[str, Any]]:
    """The outcomes as JSON objects."""
    for outcome in outcomes:
        yield json.loads(outcome)
