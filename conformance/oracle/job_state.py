"""What the oracle knows about one job, and which statuses it may be in.

A :class:`JobState` is the oracle's knowledge of one job instance: its last
reported status, a short history of status events, its type and options as
far as the trace tells, and the flags that verbs set (user pause, cancel
requested, …).  Every flag is ``True``, ``False`` or ``None`` (unknown);
unknown flags range over both values wherever they matter, so an unknown never
causes a false alarm.

The *window* of a job is the set of statuses it may be in when a response is
produced: the statuses it reported since the command was sent, and every
status reachable from its last one by silent steps
(:func:`jobcheck.model.semantics.reachable`), whose events may still be on
their way.  :func:`abstract_jobs` turns a state into the concrete
:class:`~jobcheck.model.semantics.AbstractJob`\\ s that
:func:`~jobcheck.model.semantics.apply_verb` decides on.

Pure: no I/O.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jobcheck.conformance.oracle.divergence import Divergence
from jobcheck.conformance.trace.job_commands import StartInfo
from jobcheck.model.lifecycle import BLOCK_JOB_TYPES, JobType, Model, Status, Verb
from jobcheck.model.semantics import PAUSE_POINT_TYPES, AbstractJob, reachable

#: How many status events of a job are kept to answer "which statuses since index N".
HISTORY = 16

ALL_STATUSES: frozenset[Status] = frozenset(Status)


def domain(value: bool | None) -> tuple[bool, ...]:
    """The values a tri-state flag may have."""
    return (False, True) if value is None else (value,)


@dataclass(slots=True)
class Obligation:
    """The job must pass through one of ``statuses``, else ``divergence`` is reported."""

    statuses: frozenset[Status]
    divergence: Divergence


@dataclass(slots=True)
class JobState:
    """What the oracle knows about one job instance (``None``: unknown)."""

    id: str
    status: Status | None
    """The last reported status; ``UNDEFINED`` before ``created``; ``None`` if unknown."""
    initial: Status | None = None
    """The status before the first entry of :attr:`history`."""
    history: deque[tuple[int, Status]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    """The last status events: (record index, status)."""
    instance: int = 0
    type: JobType | None = None
    block_job: bool | None = None
    ready_phase: bool | None = None
    auto_finalize: bool | None = None
    auto_dismiss: bool | None = None
    grouped: bool | None = None
    partners: tuple[str, ...] = ()
    user_paused: bool | None = None
    cancel_requested: bool | None = None
    force_cancel: bool | None = None
    should_complete: bool | None = None
    finalize_requested: bool | None = None
    """A job-finalize for the job (or a transaction partner) was sent."""
    dismiss_requested: bool | None = None
    """A job-dismiss for the job was sent."""
    dismissed_at: int | None = None
    """The record index of an accepted job-dismiss response (wire order)."""
    finalize_accepted: bool = False
    """A job-finalize of the job (or of a grouped partner) was accepted (wire order)."""
    released: bool | None = None
    """The job runs without a speed limit (started without one, or set to 0 since)."""
    gave_up: Status | None = None
    """The status in which a wait for the job to move on was decided (failed or
    indeterminate): it is not awaited again until it reports another status."""
    finalized_at: int | None = None
    """The record index of an accepted job-finalize of a grouped partner (wire order)."""
    wild: bool = False
    """A command with unknown effects may have reached the job."""
    lossy: bool = False
    """Part of the job's history was inferred or is missing (per-job logs)."""
    started: bool = False
    reached_ready: bool = False
    error_stop_at: int = -1
    """The record index of the job's last BLOCK_JOB_ERROR with action stop (-1: none)."""
    ready_events: int = 0
    """BLOCK_JOB_READY events received for this job instance."""
    completions: int = 0
    failed: bool | None = False
    progress: int | None = None
    pending: int = 0
    """Commands for this job sent but not answered yet."""
    cancels: int = 0
    """Cancel commands for this job sent but not answered yet."""
    concluded_after_cancel: bool = False
    """The job went pending → concluded while a cancel for it was unanswered."""
    next_start: StartInfo | None = None
    """A start command for the same id, sent while this instance lives."""
    ended_at: int | None = None
    """Per-job order: the record index where the log showed this instance ending (its
    completion event, or an accepted dismiss); later, its id may name a new instance."""
    dismissed: bool = False
    """Per-job order: a dismiss of this instance was accepted, so it is gone: of its events
    only ``concluded`` and ``null`` may still be logged, any other is a new instance's."""
    reported: set[str] = field(default_factory=set)
    """Known divergences already reported for this job (each once)."""
    obligations: list[Obligation] = field(default_factory=list)

    def set_status(self, status: Status, index: int) -> None:
        if not self.history:
            self.initial = self.status
        self.history.append((index, status))
        self.status = status
        self.gave_up = None

    def statuses_since(self, index: int) -> frozenset[Status]:
        """The statuses the job had at any time since record ``index`` (its status then
        included); every status if the history does not reach back that far."""
        history = self.history
        at: Status | None = self.initial if history else self.status
        seen: set[Status] = set()
        if history and len(history) == history.maxlen and history[0][0] >= index:
            return ALL_STATUSES
        for when, status in history:
            if when < index:
                at = status
            else:
                seen.add(status)
        if at is None:
            return ALL_STATUSES
        seen.add(at)
        return frozenset(seen)

    def status_at(self, index: int) -> Status | None:
        """The status the job had at record ``index`` (``None`` if the history is too short)."""
        history = self.history
        if not history:
            return self.status
        if len(history) == history.maxlen and history[0][0] >= index:
            return None
        at: Status | None = self.initial
        for when, status in history:
            if when >= index:
                break
            at = status
        return at

    def forget_commands(self) -> None:
        """Some command with unknown effects may have reached the job."""
        self.user_paused = None
        self.cancel_requested = None
        self.force_cancel = None
        self.should_complete = None
        self.finalize_requested = None
        self.dismiss_requested = None
        self.released = None
        self.wild = True


_REACH: dict[frozenset[tuple[Status, Status]], dict[Status, frozenset[Status]]] = {}


def reach_all(model: Model) -> dict[Status, frozenset[Status]]:
    """Every status reachable from each status by any transitions (itself included).

    Computed once per transition relation (all it depends on); do not modify the result.
    """
    found = _REACH.get(model.transitions)
    if found is None:
        found = _REACH[model.transitions] = _compute_reach(model)
    return found


def _compute_reach(model: Model) -> dict[Status, frozenset[Status]]:
    out: dict[Status, frozenset[Status]] = {}
    for start in Status:
        seen = {start}
        todo = [start]
        while todo:
            for nxt in model.successors(todo.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        out[start] = frozenset(seen)
    out[Status.UNDEFINED] = out[Status.UNDEFINED] | out[Status.CREATED]
    return out


def window_key(state: JobState, txn_held: bool | None) -> tuple[Any, ...]:
    """The part of a state that its silent window depends on."""
    pause_points = None if state.type is None else state.type in PAUSE_POINT_TYPES
    return (
        state.status,
        state.ready_phase,
        pause_points,
        state.user_paused,
        state.cancel_requested,
        state.force_cancel,
        state.should_complete,
        state.auto_finalize,
        txn_held,
        state.finalize_requested,
        state.auto_dismiss,
        state.started,
    )


_WINDOWS: dict[tuple[frozenset[tuple[Status, Status]], tuple[Any, ...]], frozenset[Status]] = {}
_MAX_WINDOWS = 65536


def silent_window(model: Model, key: tuple[Any, ...]) -> frozenset[Status]:
    """A status and its silent closure, over every value of the unknown flags in ``key``.

    Cached by the model's transition relation (all it depends on) and the key.
    """
    cache_key = (model.transitions, key)
    found = _WINDOWS.get(cache_key)
    if found is None:
        if len(_WINDOWS) >= _MAX_WINDOWS:
            _WINDOWS.clear()
        found = _WINDOWS[cache_key] = _compute_window(model, key)
    return found


def _compute_window(model: Model, key: tuple[Any, ...]) -> frozenset[Status]:
    status, ready, pause, user, cancel, force, complete, finalize, held, asked, dismiss, started = (
        key
    )
    out: set[Status] = {status}
    for r, p, u, c, f, sc, af, h, fr, ad in itertools.product(
        domain(ready),
        domain(pause),
        domain(user),
        domain(cancel),
        domain(force),
        domain(complete),
        domain(finalize),
        domain(held),
        domain(asked),
        domain(dismiss),
    ):
        job = AbstractJob(
            "",
            status,
            None,
            ready_phase=r,
            pause_points=p,
            user_paused=u,
            cancel_requested=c or f,
            force_cancel=f,
            should_complete=sc,
            auto_finalize=af,
            txn_held=h,
            finalize_requested=fr,
            auto_dismiss=ad,
            started=started,
        )
        out |= reachable(model, job)
    return frozenset(out)


def abstract_jobs(
    state: JobState, status: Status, verb: Verb, *, name: str | None = None
) -> Iterator[AbstractJob]:
    """The concrete jobs consistent with ``state`` in ``status``, over the flags ``verb`` reads.

    While other commands for the job are unanswered, the flags they may change
    count as unknown.  ``name`` replaces the job's id in the result.
    """
    job_id = state.id if name is None else name
    busy = state.pending > 0
    user_known = None if busy else state.user_paused
    cancel_known = None if busy else state.cancel_requested
    reads_user = verb in (Verb.PAUSE, Verb.RESUME, Verb.CANCEL, Verb.COMPLETE)
    users = domain(user_known) if reads_user else (False,)
    cancels = domain(cancel_known) if verb is Verb.COMPLETE else (False,)
    finals = domain(state.auto_finalize) if verb is Verb.FINALIZE else (True,)
    modes = ("background", "write-blocking") if verb is Verb.CHANGE else ("background",)
    kinds: list[tuple[JobType | None, bool, bool]] = []
    if state.type is not None:
        for ready in domain(state.ready_phase):
            kinds.append((state.type, state.type in BLOCK_JOB_TYPES, ready))
    else:
        for block in domain(state.block_job):
            for ready in domain(state.ready_phase) if block else (False,):
                kinds.append((None, block, ready))
    for (job_type, block, ready), user, cancel, final, mode in itertools.product(
        kinds, users, cancels, finals, modes
    ):
        drains: tuple[bool, ...] = (False,)
        if status in (Status.PAUSED, Status.STANDBY):
            drains = (False, True) if user else (True,)
        for drain in drains:
            yield AbstractJob(
                job_id,
                status,
                job_type,
                block_job=block,
                ready_phase=ready,
                pause_points=job_type is None or job_type in PAUSE_POINT_TYPES,
                user_paused=user,
                drain_paused=drain,
                auto_finalize=final,
                cancel_requested=cancel,
                copy_mode=mode,
            )
