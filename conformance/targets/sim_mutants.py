"""The simulator's named mutants: one deliberate deviation of the job engine each.

A mutant is switched on by name, ``Simulator(mutant="dismiss-in-pending")``
(or ``jobcheck run --target sim --sim-mutant NAME``).  Each one changes one
line of behaviour of the simulated engine, and names the rule of the
catalogue (:mod:`jobcheck.model.rules`) that the oracle is expected to report
when it sees the deviation.  Running the oracle over a mutant's trace is how
the suite proves that its checks catch what they claim to catch::

    >>> str(MUTANTS["dismiss-in-pending"].rule)
    'job-dismiss.only-concluded'

A mutated simulator skips its own transition assertion (the check that a
status change follows the engine's transition rules), because several mutants
exist precisely to make an illegal transition visible.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobcheck.model.rules import RuleId


@dataclass(frozen=True)
class Mutant:
    """One named deviation of the simulated engine."""

    name: str
    description: str
    """One line: what the mutated engine does differently."""
    rule: RuleId
    """The catalogue rule the oracle should report for it."""
    also: tuple[RuleId, ...] = ()
    """Further rules the same deviation breaks; which one the oracle reports first
    depends on what the run does next (a verb after the deviation, or a query)."""

    @property
    def rules(self) -> tuple[RuleId, ...]:
        return (self.rule, *self.also)


def _registry(*mutants: Mutant) -> dict[str, Mutant]:
    return {m.name: m for m in mutants}


MUTANTS: dict[str, Mutant] = _registry(
    Mutant(
        "pause-in-ready-goes-paused",
        "a READY job that reaches a pause point goes to paused instead of standby",
        RuleId.STATUS_TRANSITION_TABLE,
    ),
    Mutant(
        "dismiss-in-pending",
        "job-dismiss is accepted in pending and moves the job to null (the verb's own rule)",
        RuleId.JOB_DISMISS_ONLY_CONCLUDED,
    ),
    Mutant(
        "no-event-on-resume",
        "after job-resume a job leaves paused silently; its next event is an edge from paused",
        RuleId.STATUS_TRANSITION_TABLE,
        (RuleId.JOB_RESUME_RESUMES,),
    ),
    Mutant(
        "cancel-paused-no-resume",
        "a force-cancelled paused job goes to aborting without first returning to running",
        RuleId.STATUS_TRANSITION_TABLE,
    ),
    Mutant(
        "finalize-only-addressed",
        "job-finalize finalizes only the named job, not its whole transaction",
        RuleId.JOB_FINALIZE_WHOLE_TRANSACTION,
        (RuleId.JOB_FINALIZE_CONCLUDES,),
    ),
    Mutant(
        "progress-decreases",
        "a job leaving a pause point rewinds current-progress by one chunk",
        RuleId.JOB_INFO_CURRENT_PROGRESS_MONOTONIC,
    ),
    Mutant(
        "concluded-without-event",
        "a job concludes without emitting JOB_STATUS_CHANGE concluded (pending/aborting → null)",
        RuleId.STATUS_TRANSITION_TABLE,
        (RuleId.STATUS_ABORTING_ENDS_CONCLUDED,),
    ),
    Mutant(
        "auto-dismiss-ignored",
        "an auto-dismiss=true job stays in concluded instead of going to null",
        RuleId.STATUS_CONCLUDED_AUTO_DISMISSES,
    ),
    Mutant(
        "resume-when-not-paused",
        "job-resume on a job that is not paused succeeds (and does nothing)",
        RuleId.JOB_RESUME_NOT_PAUSED_IS_ERROR,
    ),
    Mutant(
        "pause-when-already-paused",
        "job-pause on a user-paused job succeeds instead of 'Job is already paused'",
        RuleId.JOB_PAUSE_ALREADY_PAUSED_IS_ERROR,
    ),
    Mutant(
        "complete-in-running",
        "job-complete is accepted in running (the verb table is not consulted for it)",
        RuleId.JOB_COMPLETE_ONLY_READY,
    ),
    Mutant(
        "waiting-skipped",
        "a finished job goes from running/ready straight to pending, without waiting",
        RuleId.STATUS_TRANSITION_TABLE,
    ),
    Mutant(
        "ready-event-before-ready",
        "BLOCK_JOB_READY is emitted before JOB_STATUS_CHANGE ready",
        RuleId.BLOCK_JOB_READY_EVENT_AFTER_READY,
    ),
    Mutant(
        "no-error-on-failure",
        "query-jobs omits the error member of failed and cancelled jobs",
        RuleId.JOB_INFO_ERROR_IFF_FAILED,
    ),
    Mutant(
        "aborting-to-pending",
        "an aborting job passes through pending before concluded (what follows aborting has"
        " its own rule)",
        RuleId.STATUS_ABORTING_ENDS_CONCLUDED,
    ),
    Mutant(
        "duplicate-status-event",
        "the aborting→aborting self-transition emits a second JOB_STATUS_CHANGE aborting",
        RuleId.EVENT_STATUS_CHANGE_IS_A_CHANGE,
    ),
    Mutant(
        "block-events-for-create",
        "create jobs emit BLOCK_JOB_COMPLETED like block jobs",
        RuleId.BLOCK_JOB_NO_EVENTS_FOR_NON_BLOCK_JOBS,
    ),
    Mutant(
        "pending-event-for-auto-finalize",
        "BLOCK_JOB_PENDING is emitted for auto-finalize=true jobs too",
        RuleId.BLOCK_JOB_PENDING_EVENT,
    ),
    Mutant(
        "standby-to-running",
        "a job leaving a pause point taken in standby returns to running instead of ready",
        RuleId.STATUS_STANDBY_RETURNS_TO_READY,
    ),
    Mutant(
        "cancelled-event-after-concluded",
        "BLOCK_JOB_CANCELLED is emitted after JOB_STATUS_CHANGE concluded instead of before",
        RuleId.BLOCK_JOB_COMPLETION_EVENT,
    ),
    Mutant(
        "dismissed-still-listed",
        "a dismissed job emits null but query-jobs still lists it as concluded",
        RuleId.QUERY_JOBS_LISTS_LIVE_JOBS,
        (RuleId.STATUS_NOTHING_AFTER_NULL, RuleId.JOB_DISMISS_REMOVES_JOB),
    ),
    Mutant(
        "commit-listed-as-mirror",
        "query-jobs reports commit jobs with type mirror (the driver's type, not the job's)",
        RuleId.JOB_INFO_TYPE_MATCHES,
    ),
    Mutant(
        "complete-after-cancel",
        "job-complete is accepted after a cancel was requested",
        RuleId.JOB_COMPLETE_NOT_AFTER_CANCEL,
    ),
    Mutant(
        "pause-not-kicked",
        "job-pause is accepted but a job parked in its rate limit is not woken: it never pauses",
        RuleId.JOB_PAUSE_PAUSES,
    ),
    Mutant(
        "resume-not-kicked",
        "job-resume is accepted but the job is not woken: it stays paused",
        RuleId.JOB_RESUME_RESUMES,
    ),
    Mutant(
        "complete-ignored",
        "job-complete is accepted but does nothing: the job stays ready",
        RuleId.JOB_COMPLETE_COMPLETES,
    ),
    Mutant(
        "finalize-ignored",
        "job-finalize is accepted but does nothing: the job stays pending",
        RuleId.JOB_FINALIZE_CONCLUDES,
    ),
    Mutant(
        "dismiss-ignored",
        "job-dismiss is accepted but does nothing: the job stays concluded",
        RuleId.JOB_DISMISS_REMOVES_JOB,
    ),
    Mutant(
        "cancel-ignored",
        "job-cancel is accepted but does nothing: the job goes on running",
        RuleId.JOB_CANCEL_ABORTS,
    ),
    Mutant(
        "no-auto-finalize",
        "an auto-finalize=true job waits in pending as if it had auto-finalize=false",
        RuleId.STATUS_PENDING_AUTO_FINALIZES,
    ),
    Mutant(
        "aborting-stuck",
        "an aborting job is never finalized: it stays aborting",
        RuleId.STATUS_ABORTING_ENDS_CONCLUDED,
    ),
    Mutant(
        "release-not-kicked",
        "block-job-set-speed 0 is accepted but the job is left asleep in its rate limit",
        RuleId.STATUS_RELEASED_JOB_FINISHES,
    ),
)
"""Every mutant, by name."""
