"""The oracle's eventual checks: a job that must move on by itself does.

Some statuses a job cannot rest in.  After an accepted ``job-pause`` a running
job must pause (or finish first); after ``job-resume`` a paused job must run
again; after ``job-complete``, ``job-finalize``, ``job-dismiss`` or a cancel
it must go on; an aborting job concludes; a pending auto-finalize job
concludes and a concluded auto-dismiss job goes to null without a command; a
job that runs unthrottled finishes its work.  :meth:`EventualChecks._must_leave`
is that list: for a job in its current status, the rule that says it must
leave the status by itself, and why — or ``None`` when the job may rest there
(or when the oracle does not know enough to say: an unknown flag never makes
a job awaited).

A driver asks :meth:`EventualChecks.awaiting` which jobs must still move, and
waits for their next status event (a target's ``settle``).  A wait cannot
prove a negative by itself, so it ends in one of three ways:

* the job reports another status: the check **passes**;
* the job showed no sign of life for a while (no event, no progress, not
  busy; on the simulator: its main loop is idle): **stalled**, a divergence of
  the rule — the transition that should have come did not;
* the job was still working when the wait's bound ran out: **slow**, an
  *indeterminate* verdict — neither a pass nor a divergence, counted and
  listed in the report;
* ``query-jobs`` listed the job in another status twice and no event said so:
  **unreported**, a divergence of ``query-jobs.status-consistent`` (QEMU sends
  ``JOB_STATUS_CHANGE`` under the job lock that ``query-jobs`` also takes, so
  the event is on the wire before the query's answer).

The driver records a stalled or slow wait as a :class:`~jobcheck.conformance.trace.records.Note`
with a ``wait`` member, so the verdict is part of the trace: checking the
trace again (``check-trace``, a report's saved trace) reaches the same verdict.
A job whose wait was decided is not awaited again until it reports another
status, so a target that never delivers a step costs one wait, not one per
step.

Part of :class:`jobcheck.conformance.oracle.Oracle`.  Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobcheck.conformance.oracle.core import OracleCore, names
from jobcheck.conformance.oracle.divergence import Indeterminate
from jobcheck.conformance.oracle.job_state import JobState
from jobcheck.model.lifecycle import Status
from jobcheck.model.rules import RuleId
from jobcheck.model.semantics import PAUSE_POINT_TYPES, documented
from jobcheck.model.status_letters import WORKING, C, D, E, P, R, S, U, W, X, Y

STALLED = "stalled"
"""The verdict of a wait in which the job showed no sign of life."""
SLOW = "slow"
"""The verdict of a wait whose bound ran out while the job was still working."""
UNREPORTED = "unreported"
"""The verdict of a wait in which ``query-jobs`` listed the job in another status, twice,
and no ``JOB_STATUS_CHANGE`` said so."""


@dataclass(frozen=True, slots=True)
class Awaited:
    """A job that must leave ``status`` by itself, by ``rule``, because of ``reason``."""

    job: str
    status: Status
    rule: RuleId
    reason: str
    """Why, in words: ``job-pause was accepted``, ``its auto-dismiss is on``, …"""


class EventualChecks(OracleCore):
    """Which jobs must move on by themselves, and the verdicts of waiting for them."""

    def awaiting(self) -> dict[str, Awaited]:
        """The jobs that must still leave their status by themselves, by job id.

        Only jobs the oracle knows enough about (wire order, every command
        answered, the flags that matter known) and whose wait in this status
        has not already been decided.
        """
        out: dict[str, Awaited] = {}
        if not self.wire:
            return out
        for job in self._jobs.values():
            status = job.status
            if status is None or status in (U, C) or job.gave_up is status:
                continue
            found = self._must_leave(job)
            if found is not None:
                rule, reason = found
                out[job.id] = Awaited(job.id, status, rule, reason)
        self._awaited = {a.job: (a.status, a.rule) for a in out.values()}
        return out

    def _must_leave(self, job: JobState) -> tuple[RuleId, str] | None:
        """The rule by which ``job`` must leave its status by itself, and why; or ``None``."""
        if job.wild or job.pending > 0:
            return None
        s = job.status
        cancel = job.cancel_requested is True or job.force_cancel is True
        if s is R:
            pauses = job.type is not None and job.type in PAUSE_POINT_TYPES
            if cancel:
                return RuleId.JOB_CANCEL_ABORTS, "a cancel was accepted"
            if pauses and job.user_paused is True:
                return RuleId.JOB_PAUSE_PAUSES, "a pause was accepted (or its error policy stop)"
            if job.released is True and (job.user_paused is False or not pauses):
                if job.type is None:
                    return None
                return RuleId.STATUS_RELEASED_JOB_FINISHES, "it runs unthrottled and unpaused"
            return None
        if s is P or s is S:
            if job.user_paused is not False:
                return None
            if cancel:
                return RuleId.JOB_CANCEL_ABORTS, "a cancel was accepted"
            return RuleId.JOB_RESUME_RESUMES, "no pause request holds it"
        if s is Y:
            if cancel:
                return RuleId.JOB_CANCEL_ABORTS, "a cancel was accepted"
            if job.should_complete is True:
                return RuleId.JOB_COMPLETE_COMPLETES, "job-complete was accepted"
            if job.user_paused is True:
                return RuleId.JOB_PAUSE_PAUSES, "a pause was accepted (or its error policy stop)"
            return None
        if s is W:
            if job.grouped is None:
                return None
            if any(p.status is None or p.status in WORKING for p in self._partners(job)):
                return None
            if job.force_cancel is True:
                return RuleId.JOB_CANCEL_ABORTS, "a cancel was accepted"
            return (
                RuleId.STATUS_RELEASED_JOB_FINISHES,
                "its work is done, and so is that of its transaction",
            )
        if s is D:
            if job.force_cancel is True:
                return RuleId.JOB_CANCEL_ABORTS, "a cancel was accepted"
            if job.finalize_accepted:
                return RuleId.JOB_FINALIZE_CONCLUDES, "job-finalize was accepted"
            if job.auto_finalize is True and self._txn_held(job) is False:
                return RuleId.STATUS_PENDING_AUTO_FINALIZES, "its auto-finalize is on"
            return None
        if s is X:
            return RuleId.STATUS_ABORTING_ENDS_CONCLUDED, "it is aborting"
        if s is E:
            if job.dismissed_at is not None:
                return RuleId.JOB_DISMISS_REMOVES_JOB, "job-dismiss was accepted"
            if job.auto_dismiss is True or not job.started:
                return RuleId.STATUS_CONCLUDED_AUTO_DISMISSES, "its auto-dismiss is on"
        return None

    def _waited(self, wait: dict[str, Any]) -> None:
        """A driver's wait ended with jobs that did not move (a note's ``wait`` member)."""
        for job_id, entry in sorted(wait.items()):
            job = self._jobs.get(job_id)
            if job is None or not isinstance(entry, dict):
                continue
            try:
                status = Status(str(entry.get("status")))
            except ValueError:
                continue
            if job.status is not status:
                continue  # its event arrived after all
            found = self._must_leave(job)
            if found is None:
                continue
            rule, reason = found
            job.gave_up = status
            self._awaited.pop(job.id, None)
            seconds = entry.get("seconds")
            waited = f" for {seconds:.3g} s" if isinstance(seconds, (int, float)) else ""
            evidence = str(entry.get("evidence") or "no sign of life")
            if entry.get("verdict") == UNREPORTED:
                self._tally(rule, 0)  # it did leave; what is wrong is the missing event
                self._emit(
                    RuleId.QUERY_JOBS_STATUS_CONSISTENT,
                    job,
                    f"{reason}; query-jobs shows the job left {status.value}, but no"
                    f" JOB_STATUS_CHANGE reported it{waited} ({evidence})",
                    "a JOB_STATUS_CHANGE event for every status query-jobs lists",
                    f"{evidence}",
                )
                continue
            if entry.get("verdict") == SLOW:
                if documented(rule, self.model):
                    self._tally(rule, 2)
                    self.undecided.append(
                        Indeterminate(
                            rule,
                            job.id,
                            self._index,
                            self._line,
                            self.path,
                            f"job {job.id!r}: {reason}; it was still {status.value}{waited}"
                            f" and still working ({evidence}): too slow to decide ({rule})",
                        )
                    )
                continue
            self._tally(rule, 1)
            self._emit(
                rule,
                job,
                f"{reason}, but the job stayed {status.value}{waited} ({evidence})",
                f"{status.value} -> {names(self.model.successors(status))} by itself",
                f"stayed {status.value}",
            )
