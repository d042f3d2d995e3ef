"""The simulator's named mutants: one deliberate deviation of the job engine each.

A mutant is switched on by name, ``Simulator(mutant="dismiss-in-pending")``
(or ``jobcheck run --target sim --sim-mutant NAME``).  Each one changes one
line of behaviour of the simulated engine, and names the rule of the
catalogue (:mod:`jobcheck.model.rules`) that the oracle is expected to report
when it sees the deviation.  Running the oracle over a mutant's trace is how
the suite proves that its checks catch what they claim to catch::

    >>> MUTANTS["dismiss-in-pending"].rule
    'verb.permission-table'

A mutated simulator skips its own transition assertion (the check that a
status change follows the engine's transition rules), because several mutants
exist precisely to make an illegal transition visible.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """One named deviation of the simulated engine."""

    name: str
    description: str
    """One line: what the mutated engine does differently."""
    rule: str
    """The id of the catalogue rule the oracle should report for it."""
    also: tuple[str, ...] = ()
    """Further rules the same deviation breaks; which one the oracle reports first
    depends on what the run does next (a verb after the deviation, or a query)."""

    @property
    def rules(self) -> tuple[str, ...]:
        return (self.rule, *self.also)


def _registry(*mutants: Mutant) -> dict[str, Mutant]:
    return {m.name: m for m in mutants}


MUTANTS: dict[str, Mutant] = _registry(
    Mutant(
        "pause-in-ready-goes-paused",
        "a READY job that reaches a pause point goes to paused instead of standby",
        "status.transition-table",
    ),
    Mutant(
        "dismiss-in-pending",
        "job-dismiss is accepted in pending and moves the job to null (the verb's own rule)",
        "job-dismiss.only-concluded",
    ),
    Mutant(
        "no-event-on-resume",
        "after job-resume a job leaves paused silently; its next event is an edge from paused",
        "status.transition-table",
    ),
    Mutant(
        "cancel-paused-no-resume",
        "a force-cancelled paused job goes to aborting without first returning to running",
        "status.transition-table",
    ),
    Mutant(
        "finalize-only-addressed",
        "job-finalize finalizes only the named job, not its whole transaction",
        "job-finalize.whole-transaction",
    ),
    Mutant(
        "progress-decreases",
        "a job leaving a pause point rewinds current-progress by one chunk",
        "job-info.current-progress-monotonic",
    ),
    Mutant(
        "concluded-without-event",
        "a job concludes without emitting JOB_STATUS_CHANGE concluded (pending/aborting → null)",
        "status.transition-table",
        ("status.aborting-ends-concluded",),
    ),
    Mutant(
        "auto-dismiss-ignored",
        "an auto-dismiss=true job stays in concluded instead of going to null",
        "status.concluded-waits-for-dismiss",
    ),
    Mutant(
        "resume-when-not-paused",
        "job-resume on a job that is not paused succeeds (and does nothing)",
        "job-resume.not-paused-is-error",
    ),
    Mutant(
        "pause-when-already-paused",
        "job-pause on a user-paused job succeeds instead of 'Job is already paused'",
        "job-pause.already-paused-is-error",
    ),
    Mutant(
        "complete-in-running",
        "job-complete is accepted in running (the verb table is not consulted for it)",
        "job-complete.only-ready",
    ),
    Mutant(
        "waiting-skipped",
        "a finished job goes from running/ready straight to pending, without waiting",
        "status.transition-table",
    ),
    Mutant(
        "ready-event-before-ready",
        "BLOCK_JOB_READY is emitted before JOB_STATUS_CHANGE ready",
        "block-job.ready-event-after-ready",
    ),
    Mutant(
        "no-error-on-failure",
        "query-jobs omits the error member of failed and cancelled jobs",
        "job-info.error-iff-failed",
    ),
    Mutant(
        "aborting-to-pending",
        "an aborting job passes through pending before concluded (what follows aborting has"
        " its own rule)",
        "status.aborting-ends-concluded",
    ),
    Mutant(
        "duplicate-status-event",
        "the aborting→aborting self-transition emits a second JOB_STATUS_CHANGE aborting",
        "event.status-change-is-a-change",
    ),
    Mutant(
        "block-events-for-create",
        "create jobs emit BLOCK_JOB_COMPLETED like block jobs",
        "block-job.no-events-for-non-block-jobs",
    ),
    Mutant(
        "pending-event-for-auto-finalize",
        "BLOCK_JOB_PENDING is emitted for auto-finalize=true jobs too",
        "block-job.pending-event",
    ),
    Mutant(
        "standby-to-running",
        "a job leaving a pause point taken in standby returns to running instead of ready",
        "status.standby-returns-to-ready",
    ),
    Mutant(
        "cancelled-event-after-concluded",
        "BLOCK_JOB_CANCELLED is emitted after JOB_STATUS_CHANGE concluded instead of before",
        "block-job.completion-event",
    ),
    Mutant(
        "dismissed-still-listed",
        "a dismissed job emits null but query-jobs still lists it as concluded",
        "query-jobs.lists-live-jobs",
        ("status.nothing-after-null", "job-dismiss.removes-job"),
    ),
    Mutant(
        "commit-listed-as-mirror",
        "query-jobs reports commit jobs with type mirror (the driver's type, not the job's)",
        "job-info.type-matches",
    ),
    Mutant(
        "complete-after-cancel",
        "job-complete is accepted after a cancel was requested",
        "job-complete.not-after-cancel",
    ),
)
"""Every mutant, by name."""
