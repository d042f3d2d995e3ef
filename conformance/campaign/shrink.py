"""Shrinking a failing run of driver steps to a minimal one that still fails.

Hypothesis shrinks its own examples; the planned tour is not a Hypothesis
example, so a tour failure arrives with every step the tour ran before it.
:func:`minimize` cuts that down, replaying candidate step lists on fresh
targets: first whole jobs (every step that starts or names a job) are
dropped, then single steps, keeping each cut that still makes the oracle
report the same rule.  The result is the short, replayable trace a
reproducer needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobcheck.conformance.campaign.session import StepFailed
from jobcheck.conformance.errors import TargetError
from jobcheck.conformance.trace.records import Meta, Note, Record
from jobcheck.conformance.trace.steps import step_jobs

Step = dict[str, Any]
Replay = Callable[[list[Step], int], tuple[list[Record], set[str]] | None]
"""Runs steps on a fresh target (the int: which attempt, a seed offset): the records
and the rules of unaccepted divergences."""

MAX_REPLAYS = 400
"""A bound on replays, so shrinking a long run stays within seconds on a live QEMU."""


def steps_of(records: list[Record]) -> list[Step]:
    """The driver steps recorded in a trace (its notes that carry a step)."""
    return [r.step for r in records if isinstance(r, Note) and r.step is not None]


def minimize(
    steps: list[Step],
    rule: str,
    replay: Replay,
    job: str | None = None,
    attempts: int = 3,
) -> tuple[list[Step], list[Record]] | None:
    """The smallest step list found that still fails with ``rule``, and its trace.

    ``job`` is the job the divergence names, if any: keeping only its steps
    (and those of the jobs started with it) is tried first.  A candidate
    counts as failing when any of ``attempts`` replays fails (each with
    another target seed), since where a job is when a command lands can
    depend on timing.  ``None`` when the full list does not fail with
    ``rule`` on replay: the caller keeps the original trace.
    """
    budget = [MAX_REPLAYS]

    def fails(candidate: list[Step]) -> list[Record] | None:
        if budget[0] <= 0:
            return None
        for attempt in range(attempts):
            budget[0] -= 1
            try:
                outcome = replay(candidate, attempt)
            except TargetError:
                continue
            if outcome is not None and rule in outcome[1]:
                return outcome[0]
        return None

    current = steps
    records = None
    if job is not None:
        group = set().union(
            *(step_jobs(s) for s in steps if s.get("op") == "start" and job in step_jobs(s))
        )
        focused = [s for s in steps if step_jobs(s) <= group or not step_jobs(s)]
        if focused and len(focused) < len(steps):
            records = fails(focused)
            if records is not None:
                current = focused
    if records is None:
        records = fails(steps)
        if records is None:
            return None
    # Drop whole jobs, last started first (the failure usually involves the last one).
    jobs = [j for step in current if step.get("op") == "start" for j in step_jobs(step)]
    for job in reversed(jobs):
        candidate = [s for s in current if not (step_jobs(s) & {job})]
        if candidate and (found := fails(candidate)) is not None:
            current, records = candidate, found
    # Then single steps.
    index = len(current) - 1
    while index >= 0:
        candidate = current[:index] + current[index + 1 :]
        if candidate and (found := fails(candidate)) is not None:
            current, records = candidate, found
        index -= 1
    return current, records


def session_replay(
    make_session: Callable[[int], Any],
) -> Replay:
    """A :data:`Replay` over campaign sessions (see :class:`~.session.Session`).

    ``make_session(attempt)`` returns a fresh session on a fresh target; the replay runs
    the steps, stops at the first unaccepted divergence, and closes it.
    """

    def replay(steps: list[Step], attempt: int) -> tuple[list[Record], set[str]] | None:
        session = make_session(attempt)
        try:
            for step in steps:
                session.step(step)
            session.finish()
        except StepFailed:
            session.target.close()
        except BaseException:
            session.target.close()
            raise
        rules = {d.rule for d in session.divergences if not session.accept(d)}
        return session.records, rules

    return replay


def minimal_meta(meta: Meta) -> Meta:
    """Trace metadata of a shrunk trace (it says so)."""
    return Meta(meta.source, meta.qemu_version, meta.order, {**meta.extra, "shrunk": True})
