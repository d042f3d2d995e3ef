"""Shrinking a failing run of driver steps to a minimal one that still fails.

Hypothesis shrinks its own examples; but the planned tour is not a Hypothesis
example, a QEMU crash is taken out of Hypothesis' hands (it would replay the
example, see a racy crash not happen again, and call the failure flaky), and
a failure Hypothesis could not confirm arrives unshrunk.  :func:`minimize`
cuts such a run down, replaying candidate step lists on fresh targets: first
the steps of the job the divergence names (and of the jobs started with it),
then whole jobs, then single steps — each by halves first, then smaller
pieces (delta debugging) — keeping each cut that still makes a replay report
the same rule.  :func:`shrunk_failure` turns the result back into a
:class:`~.results.Failure`: the short, replayable trace a reproducer needs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from jobcheck.conformance.campaign.results import Accept, CampaignResult, Failure, job_excerpt
from jobcheck.conformance.campaign.session import Session, StepFailed, TargetFactory
from jobcheck.conformance.errors import TargetError
from jobcheck.conformance.oracle import Divergence
from jobcheck.conformance.trace.records import Meta, Note, Record
from jobcheck.conformance.trace.steps import step_jobs
from jobcheck.model.lifecycle import Model

Step = dict[str, Any]
T = TypeVar("T")


@dataclass
class Replayed:
    """What one replay of a step list produced."""

    records: list[Record]
    meta: Meta
    unaccepted: list[Divergence]
    """The divergences the campaign does not accept (why the replay fails, if it does)."""
    seen: list[Divergence]
    """Every divergence of the replay, accepted ones included."""

    @property
    def rules(self) -> set[str]:
        return {str(d.rule) for d in self.unaccepted}


Replay = Callable[[list[Step], int], Replayed]
"""Runs steps on a fresh target (the int: which attempt, a seed offset)."""

MAX_REPLAYS = 400
"""A bound on replays, so shrinking a long run stays within seconds on a live QEMU."""

SHRINK_SECONDS = 90.0
"""A bound on the time spent shrinking one failure; the smallest run found by then is kept."""


def steps_of(records: list[Record]) -> list[Step]:
    """The driver steps recorded in a trace (its notes that carry a step)."""
    return [r.step for r in records if isinstance(r, Note) and r.step is not None]


def minimize(
    steps: list[Step],
    rule: str,
    replay: Replay,
    job: str | None = None,
    attempts: int = 3,
    seconds: float = SHRINK_SECONDS,
) -> tuple[list[Step], Replayed] | None:
    """The smallest step list found that still fails with ``rule``, and its replay.

    ``job`` is the job the divergence names, if any: keeping only its steps
    (and those of the jobs started with it) is tried first.  A candidate
    counts as failing when any of ``attempts`` replays fails (each with
    another target seed), since where a job is when a command lands can
    depend on timing.  ``None`` when the full list does not fail with
    ``rule`` on replay: the caller keeps the original trace.  Shrinking
    stops after :data:`MAX_REPLAYS` replays or ``seconds`` seconds.
    """
    budget = [MAX_REPLAYS]
    deadline = time.monotonic() + seconds

    def fails(candidate: list[Step], tries: int = attempts) -> Replayed | None:
        for attempt in range(tries):
            if budget[0] <= 0 or time.monotonic() > deadline:
                return None
            budget[0] -= 1
            try:
                outcome = replay(candidate, attempt)
            except TargetError:
                continue
            if rule in outcome.rules:
                return outcome
        return None

    current = steps
    found: Replayed | None = None
    focused = focus(steps, job)
    if len(focused) < len(steps):
        found = fails(focused)
        if found is not None:
            current = focused
    if found is None:
        # Once more with everything (once only after a focus failed: a long run is slow).
        found = fails(steps, attempts if len(focused) == len(steps) else 1)
        if found is None:
            return None
    best: list[Replayed] = [found]

    def keeps_failing(candidate: list[Step]) -> bool:
        if not candidate:
            return False
        outcome = fails(candidate)
        if outcome is not None:
            best[0] = outcome
        return outcome is not None

    # Whole jobs (a job's start and every step naming it), then single steps.
    jobs = [j for step in current if step.get("op") == "start" for j in sorted(step_jobs(step))]

    def without_jobs(kept: list[str]) -> list[Step]:
        keep = set(kept)
        return [s for s in current if step_jobs(s) <= keep or not step_jobs(s)]

    kept_jobs = _ddmin(jobs, lambda kept: keeps_failing(without_jobs(kept)))
    current = without_jobs(kept_jobs)
    current = _ddmin(current, keeps_failing)
    return current, best[0]


def focus(steps: list[Step], job: str | None) -> list[Step]:
    """The steps of ``job`` and of the jobs started with it, and the steps that name no job
    (all of them when ``job`` is ``None`` or never started)."""
    if job is None:
        return steps
    group = set().union(
        *(step_jobs(s) for s in steps if s.get("op") == "start" and job in step_jobs(s))
    )
    focused = [s for s in steps if step_jobs(s) <= group or not step_jobs(s)]
    return focused if group and focused else steps


def _ddmin(items: list[T], fails: Callable[[list[T]], bool]) -> list[T]:
    """Delta debugging (complements only): the smallest sublist found for which ``fails``
    still holds, removing halves first, then quarters, … down to single items."""
    pieces = 2
    while len(items) >= 2:
        size = math.ceil(len(items) / pieces)
        for start in range(0, len(items), size):
            candidate = items[:start] + items[start + size :]
            if fails(candidate):
                items = candidate
                pieces = max(pieces - 1, 2)
                break
        else:
            if pieces >= len(items):
                break
            pieces = min(len(items), pieces * 2)
    return items


def session_replay(make_session: Callable[[int], Session]) -> Replay:
    """A :data:`Replay` over campaign sessions (see :class:`~.session.Session`).

    ``make_session(attempt)`` returns a fresh session on a fresh target; the replay runs
    the steps, stops at the first unaccepted divergence (a QEMU crash included), and
    closes it.
    """

    def replay(steps: list[Step], attempt: int) -> Replayed:
        session = make_session(attempt)
        try:
            for step in steps:
                session.step(step)
            session.finish()
        except StepFailed:
            session.abandon()
        except BaseException:
            session.abandon()
            raise
        return Replayed(session.records, session.meta, session.unaccepted, session.divergences)

    return replay


def fresh_sessions(
    make_target: TargetFactory,
    model: Model,
    accept: Accept,
    meta_extra: dict[str, Any],
    seed: int,
) -> Callable[[int], Session]:
    """Sessions to replay on: attempt ``n`` gets a fresh target of seed ``seed + n``, and its
    findings go to a scratch result (a replay is not part of the campaign's counts)."""

    def make_session(attempt: int) -> Session:
        target = make_target(seed + attempt)
        extra = {**meta_extra, "shrunk": True}
        return Session(target, model, accept, CampaignResult(), extra)

    return make_session


def shrunk_failure(failure: Failure, make_session: Callable[[int], Session]) -> Failure:
    """``failure`` cut down to a minimal run that still breaks the same rule (or as it is,
    when its steps do not fail again on replay).

    ``make_session(attempt)`` makes the fresh sessions to replay on.
    """
    first = failure.divergences[0] if failure.divergences else None
    if first is None:
        return failure
    found = minimize(steps_of(failure.records), first.rule, session_replay(make_session), first.job)
    if found is None:
        return _excerpt(failure, first)
    _, replayed = found
    return Failure(
        failure.message,
        replayed.records,
        minimal_meta(replayed.meta),
        replayed.unaccepted,
        replayed.seen,
    )


def _excerpt(failure: Failure, divergence: Divergence) -> Failure:
    """A failure that did not fail again on replay (a racy crash, a QEMU killed from
    outside with SIGABRT): as recorded, cut to the job the divergence names if any."""
    meta = failure.meta
    extra: dict[str, Any] = {**meta.extra, "reproduced": False}
    message = failure.message + " (it did not happen again on replay: the steps as recorded)"
    if divergence.job is None or not failure.records:
        meta = Meta(meta.source, meta.qemu_version, meta.order, extra)
        return Failure(message, failure.records, meta, failure.divergences, failure.seen)
    index = min(divergence.index, len(failure.records) - 1)
    records, position = job_excerpt(failure.records, index, divergence.job)
    moved = replace(divergence, index=position)
    extra["excerpt"] = len(records) < len(failure.records)
    meta = Meta(meta.source, meta.qemu_version, meta.order, extra)
    return Failure(message, records, meta, [moved], [moved])


def minimal_meta(meta: Meta) -> Meta:
    """Trace metadata of a shrunk trace (it says so)."""
    return Meta(meta.source, meta.qemu_version, meta.order, {**meta.extra, "shrunk": True})
