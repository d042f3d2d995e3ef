"""The oracle's checks of events: ``JOB_STATUS_CHANGE`` and the ``BLOCK_JOB_*`` events.

Status events must follow the model's transitions per job (starting at
``created``, nothing after ``null``, never repeating the current status);
``undefined`` is never reported; ``ready`` only for jobs with a ready phase;
a manual-finalize job leaves ``pending`` only after a finalize and a
manual-dismiss job leaves ``concluded`` only after a dismiss (wire order).
``null`` and the ``waiting`` of a single job (or of the last job of a
transaction) are QEMU's known divergences, reported once per job.

Block-job events: ``BLOCK_JOB_READY`` after ``ready``; ``BLOCK_JOB_PENDING``
after ``pending`` and only for manual-finalize jobs; one
``BLOCK_JOB_COMPLETED``/``CANCELLED`` before ``concluded`` (COMPLETED with an
``error`` exactly when aborting; CANCELLED only after a force cancel);
none for create/amend/snapshot jobs; ``device`` (``id`` for PENDING) and
``type`` members.  In a per-job log a block-job event whose status event is
missing counts as that status event, if the status is reachable.

Part of :class:`jobcheck.conformance.oracle.Oracle`.  Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from jobcheck.conformance.oracle.core import OracleCore, names
from jobcheck.conformance.oracle.job_state import JobState
from jobcheck.model.lifecycle import BLOCK_JOB_TYPES, STATUS_NAMED, JobType, Status
from jobcheck.model.rules import RuleId
from jobcheck.model.status_letters import WORKING, C, D, E, N, R, S, U, W, X, Y

_STAKED = frozenset({Y, D, E, N})
"""Statuses whose report puts rules to the test beyond the transition (see
:meth:`EventChecks._exercise_status`)."""

BLOCK_EVENTS: dict[str, RuleId] = {
    "BLOCK_JOB_READY": RuleId.BLOCK_JOB_READY_EVENT_AFTER_READY,
    "BLOCK_JOB_PENDING": RuleId.BLOCK_JOB_PENDING_EVENT,
    "BLOCK_JOB_COMPLETED": RuleId.BLOCK_JOB_COMPLETION_EVENT,
    "BLOCK_JOB_CANCELLED": RuleId.BLOCK_JOB_COMPLETION_EVENT,
    "BLOCK_JOB_ERROR": RuleId.BLOCK_JOB_COMPLETION_EVENT,
}
"""Each block-job event and the rule its own checks enforce."""


class EventChecks(OracleCore):
    """``JOB_STATUS_CHANGE`` and ``BLOCK_JOB_*`` checks."""

    # --- JOB_STATUS_CHANGE ------------------------------------------------------------

    def _on_status_change(self, data: dict[str, Any]) -> None:
        job_id = data.get("id")
        name = data.get("status")
        if not isinstance(job_id, str) or not isinstance(name, str):
            self._emit(
                RuleId.QAPI_MEMBERS_KNOWN,
                job_id if isinstance(job_id, str) else None,
                "JOB_STATUS_CHANGE without a string id and status",
                "string members id and status",
                f"data {data!r}"[:200],
            )
            return
        status = STATUS_NAMED.get(name)
        if status is None:
            self._emit(
                RuleId.QAPI_MEMBERS_KNOWN,
                job_id,
                f"JOB_STATUS_CHANGE reports status {name!r}",
                "a JobStatus member",
                f"reported {name!r}",
            )
            return
        if status is U:
            self._emit(
                RuleId.STATUS_UNDEFINED_NEVER_VISIBLE,
                job_id,
                "JOB_STATUS_CHANGE reports undefined",
                "no undefined status",
                "reported undefined",
            )
            return
        self._exercise(RuleId.QAPI_MEMBERS_KNOWN, RuleId.STATUS_UNDEFINED_NEVER_VISIBLE)
        if self.wire and self._commands_seen:
            self._exercise(RuleId.EVENT_STATUS_CHANGE_KNOWN_JOB)
        if self._gone:
            self._exercise(RuleId.STATUS_NOTHING_AFTER_NULL)
        job = self._instance(job_id, status in (C, E, N))
        if job is None:
            job = self._unknown_job_event(job_id, status)
            if job is None:
                return
        previous = job.status
        if status is C and previous not in (U, None):
            # In a per-job log, a job whose history is partly missing, or that ended, or
            # whose id a start command names again, may be followed by a new instance.
            if self.wire or not (
                job.lossy or job.ended_at is not None or job.next_start is not None
            ):
                self._emit(
                    RuleId.STATUS_TRANSITION_TABLE,
                    job,
                    f"created reported for a job that is {previous}",
                    "created only for a new job (after null)",
                    "reported created",
                )
            job = self._restart(job)
            previous = U
        if previous is None:
            previous = status
        elif previous is U:
            self._exercise(RuleId.STATUS_CREATED_FIRST)
            if status is not C:
                self._emit(
                    RuleId.STATUS_CREATED_FIRST,
                    job,
                    f"the job's first status event is {status.value!r}",
                    "created first",
                    f"reported {status.value}",
                )
            self._begin_instance(job)
        else:
            rule = RuleId.STATUS_TRANSITION_TABLE
            if previous is X:
                rule = RuleId.STATUS_ABORTING_ENDS_CONCLUDED
            elif previous is S:
                rule = RuleId.STATUS_STANDBY_RETURNS_TO_READY
            self._exercise(RuleId.EVENT_STATUS_CHANGE_IS_A_CHANGE, RuleId.STATUS_TRANSITION_TABLE)
            self._exercise(rule)
            if status is previous:
                self._emit(
                    RuleId.EVENT_STATUS_CHANGE_IS_A_CHANGE,
                    job,
                    f"JOB_STATUS_CHANGE repeats the current status {status.value!r}",
                    "an event only when the status changes",
                    f"reported {status.value} again",
                )
                return
            if not self.model.allows(previous, status):
                self._emit(
                    rule,
                    job,
                    f"{previous.value} -> {status.value}",
                    f"{previous.value} -> " + names(self.model.successors(previous)),
                    f"reported {status.value}",
                )
        self._after_status(job, previous, status)

    def _instance(self, job_id: str, may_continue: bool) -> JobState | None:
        """The live instance an event for ``job_id`` is about.

        In a per-job log, once a dismiss of an instance was accepted, an event it cannot
        send any more (``may_continue`` false: anything but ``concluded``, ``null``, or a
        ``created`` that starts again) belongs to a new instance, of unknown status.
        """
        job = self._jobs.get(job_id)
        if job is not None and job.dismissed and not may_continue:
            del self._jobs[job_id]
            return self._adopt(job_id, None)
        return job

    def _unknown_job_event(self, job_id: str, status: Status) -> JobState | None:
        """A status event for an id with no live job: a new job, or a divergence."""
        if job_id in self._failed_starts:
            return self._new_job(job_id, self._failed_starts.pop(job_id), U)
        if status is C:
            if self.wire and self._commands_seen:
                self._emit(
                    RuleId.EVENT_STATUS_CHANGE_KNOWN_JOB,
                    job_id,
                    "JOB_STATUS_CHANGE names a job no command started",
                    "events only for started jobs",
                    "reported created",
                )
            return self._new_job(job_id, None, U)
        if job_id in self._gone:
            self._emit(
                RuleId.STATUS_NOTHING_AFTER_NULL,
                job_id,
                f"JOB_STATUS_CHANGE {status.value!r} after the job's null",
                "no event after null (a new job starts at created)",
                f"reported {status.value}",
            )
            return None
        if self.wire and self._commands_seen:
            self._emit(
                RuleId.EVENT_STATUS_CHANGE_KNOWN_JOB,
                job_id,
                "JOB_STATUS_CHANGE names a job no command started",
                "events only for started jobs",
                f"reported {status.value}",
            )
        # Without any command yet, the trace began after the job was started.
        return self._adopt(job_id, None)

    def _after_status(self, job: JobState, previous: Status, status: Status) -> None:
        """Everything that follows from the job reporting ``status`` (after ``previous``)."""
        awaited = self._awaited.pop(job.id, None)
        if awaited is not None and awaited[0] is not status:
            self._tally(awaited[1], 0)
        elif awaited is None and status is not previous:
            must = self._must_leave(job)  # left by itself before anyone waited: kept
            if must is not None:
                self.exercised.add(must[0])
        job.set_status(status, self._index)
        if status in _STAKED or previous is R:
            self._exercise_status(job, previous, status)
        if status is R:
            job.started = True
        elif status is Y:
            job.started = True
            job.reached_ready = True
            if job.ready_phase is False:
                self._emit(
                    RuleId.STATUS_READY_ONLY_FOR_READY_PHASE_JOBS,
                    job,
                    f"a {job.type or 'job without a ready phase'} job reports ready",
                    "ready only for mirror and active commit jobs",
                    "reported ready",
                )
        elif status is W:
            self._waiting(job)
        elif status is X:
            job.failed = True
            self._partners_may_abort(job)
        elif status is E:
            self._concluded(job, previous)
        elif status is N:
            self._null(job, previous)
            return
        if job.obligations:
            self._discharge(job, status)

    def _exercise_status(self, job: JobState, previous: Status, status: Status) -> None:
        """The rules at stake when ``job`` reports ``status`` after ``previous`` (besides
        those of the transition itself)."""
        if status is Y or (previous is R and job.ready_phase is False):
            self.exercised.add(RuleId.STATUS_READY_ONLY_FOR_READY_PHASE_JOBS)
        if status is D and previous is not W:
            self.exercised.add(RuleId.STATUS_WAITING_NOT_VISIBLE_FOR_LAST)  # no waiting: fine
        if status is D and job.block_job and job.auto_finalize is True:
            self.exercised.add(RuleId.BLOCK_JOB_PENDING_EVENT)  # none may follow
        if status is E:
            if self.wire and job.auto_finalize is False and previous is D and not job.wild:
                self.exercised.add(RuleId.STATUS_PENDING_WAITS_FOR_FINALIZE)
            if job.force_cancel is True:
                self.exercised.add(RuleId.JOB_CANCEL_ABORTS)
            if self.wire and job.block_job and job.started and not job.lossy:
                self.exercised.add(RuleId.BLOCK_JOB_COMPLETION_EVENT)
            if job.block_job is False:
                self.exercised.add(RuleId.BLOCK_JOB_NO_EVENTS_FOR_NON_BLOCK_JOBS)
            if job.auto_dismiss is True:
                self.exercised.add(RuleId.STATUS_NULL_NEVER_VISIBLE)
        if status is N and previous is E and job.auto_dismiss is not None and self.wire:
            self.exercised.add(RuleId.STATUS_CONCLUDED_WAITS_FOR_DISMISS)

    def _waiting(self, job: JobState) -> None:
        others = self._partners(job)
        if all(o.status is not None and o.status not in WORKING for o in others):
            self._exercise(RuleId.STATUS_WAITING_NOT_VISIBLE_FOR_LAST)
            self._emit_known(
                RuleId.STATUS_WAITING_NOT_VISIBLE_FOR_LAST,
                job,
                ("the last job of its transaction" if job.grouped else "a job on its own")
                + " finished its work",
                "reported waiting (JOB_STATUS_CHANGE)",
            )

    def _partner_aborting(self, job: JobState) -> bool:
        """A transaction partner is being cancelled or aborts (taking ``job`` with it)."""
        return any(
            p.cancels or p.status is X or p.force_cancel is not False for p in self._partners(job)
        )

    def _partners_may_abort(self, job: JobState) -> None:
        """A transaction member aborts: its partners may be force-cancelled with it."""
        for other in self._partners(job):
            if other.force_cancel is False:
                other.force_cancel = None

    def _concluded(self, job: JobState, previous: Status) -> None:
        if previous is D:
            job.failed = False
            if job.cancels:
                job.concluded_after_cancel = True
            if self.wire and job.force_cancel is True:
                self._emit(
                    RuleId.JOB_CANCEL_ABORTS,
                    job,
                    "the job concluded from pending after an accepted force cancel",
                    "aborting, then concluded",
                    "pending -> concluded",
                )
            if (
                self.wire
                and job.auto_finalize is False
                and job.finalize_requested is False
                and not job.wild
            ):
                self._emit(
                    RuleId.STATUS_PENDING_WAITS_FOR_FINALIZE,
                    job,
                    "an auto-finalize=false job left pending without job-finalize",
                    "pending until job-finalize (or a cancel)",
                    "pending -> concluded",
                )
        if self.wire and job.block_job and job.started and not job.completions and not job.lossy:
            self._emit(
                RuleId.BLOCK_JOB_COMPLETION_EVENT,
                job,
                "the block job concluded without BLOCK_JOB_COMPLETED or BLOCK_JOB_CANCELLED",
                "one completion event before concluded",
                "none",
            )

    def _null(self, job: JobState, previous: Status) -> None:
        if (
            self.wire
            and previous is E
            and job.auto_dismiss is False
            and job.dismiss_requested is False
            and job.started
            and not job.wild
        ):
            self._emit(
                RuleId.STATUS_CONCLUDED_WAITS_FOR_DISMISS,
                job,
                "an auto-dismiss=false job left concluded without job-dismiss",
                "concluded until job-dismiss",
                "concluded -> null",
            )
        self._emit_known(
            RuleId.STATUS_NULL_NEVER_VISIBLE,
            job,
            f"the job was dismissed ({previous.value} -> null)",
            "reported null (JOB_STATUS_CHANGE)",
        )
        self._gone_job(job)

    # --- BLOCK_JOB_* ------------------------------------------------------------------

    def _on_block_event(self, name: str, data: dict[str, Any]) -> None:
        rule = BLOCK_EVENTS[name]
        self._exercise(rule)
        if self._gone:
            self._exercise(RuleId.STATUS_NOTHING_AFTER_NULL)
        key = "id" if name == "BLOCK_JOB_PENDING" else "device"
        job_id = data.get(key)
        if not isinstance(job_id, str):
            self._emit(rule, None, f"{name} without a string {key}", f"a {key} member", "none")
            return
        job = self._instance(job_id, False)
        event_type = self._event_type(name, data, job or job_id)
        if job is None:
            if job_id in self._gone:
                self._emit(
                    RuleId.STATUS_NOTHING_AFTER_NULL,
                    job_id,
                    f"{name} after the job's null",
                    "no event after null",
                    f"emitted {name}",
                )
                return
            if self.wire:
                self._emit(
                    rule,
                    job_id,
                    f"{name} names no known job",
                    "events of started jobs",
                    f"emitted {name}",
                )
            job = self._adopt(job_id, None)
        if event_type is not None:
            self._exercise(RuleId.BLOCK_JOB_NO_EVENTS_FOR_NON_BLOCK_JOBS)
            if job.type is not None:
                self._exercise(RuleId.JOB_INFO_TYPE_MATCHES)
            if event_type not in BLOCK_JOB_TYPES:
                self._emit(
                    RuleId.BLOCK_JOB_NO_EVENTS_FOR_NON_BLOCK_JOBS,
                    job,
                    f"{name} for a {event_type.value} job",
                    "no BLOCK_JOB_* event for create, amend or snapshot jobs",
                    f"emitted {name}",
                )
                return
            if job.type is not None and job.type is not event_type:
                self._emit(
                    RuleId.JOB_INFO_TYPE_MATCHES,
                    job,
                    f"{name} has type {event_type.value!r} for a {job.type.value} job",
                    job.type.value,
                    f"type {event_type.value}",
                )
            else:
                self._learn_type(job, event_type)
        if job.block_job is False:
            self._emit(
                RuleId.BLOCK_JOB_NO_EVENTS_FOR_NON_BLOCK_JOBS,
                job,
                f"{name} for a {job.type or 'non-block'} job",
                "no BLOCK_JOB_* event for create, amend or snapshot jobs",
                f"emitted {name}",
            )
            return
        if name == "BLOCK_JOB_READY":
            self._ready_event(job)
        elif name == "BLOCK_JOB_PENDING":
            self._pending_event(job)
        elif name == "BLOCK_JOB_ERROR":
            if data.get("action") == "stop" and self.wire:
                job.user_paused = True  # QEMU's error-stop is a user pause
                job.error_stop_at = self._index
        else:
            self._completion_event(job, name, data)

    def _event_type(self, name: str, data: dict[str, Any], job: JobState | str) -> JobType | None:
        if name == "BLOCK_JOB_ERROR":
            return None
        type_name = data.get("type")
        if not isinstance(type_name, str):
            self._emit(BLOCK_EVENTS[name], job, f"{name} without a type", "a type member", "none")
            return None
        self._exercise(RuleId.QAPI_MEMBERS_KNOWN)
        try:
            return JobType(type_name)
        except ValueError:
            self._emit(
                RuleId.QAPI_MEMBERS_KNOWN,
                job,
                f"{name} has type {type_name!r}",
                "a JobType member",
                f"type {type_name!r}",
            )
            return None

    def _infer(self, job: JobState, status: Status) -> bool:
        """In a per-job log, take a missing status event as given if it is reachable."""
        if self.wire:
            return False
        if job.status is None or status in self._reach[job.status]:
            if job.status is U:
                self._begin_instance(job)
            job.set_status(status, self._index)
            job.started = True
            job.lossy = True
            return True
        return False

    def _ready_event(self, job: JobState) -> None:
        job.ready_events += 1
        if self.wire and job.ready_events > 1 and not job.lossy:
            self._emit(
                RuleId.BLOCK_JOB_READY_EVENT_AFTER_READY,
                job,
                "a second BLOCK_JOB_READY for the job",
                "one BLOCK_JOB_READY, when the job reaches ready",
                "emitted BLOCK_JOB_READY again",
            )
            return
        if job.status is Y or (job.reached_ready and job.status is S):
            return
        if self._infer(job, Y):
            job.reached_ready = True
            return
        self._emit(
            RuleId.BLOCK_JOB_READY_EVENT_AFTER_READY,
            job,
            f"BLOCK_JOB_READY while the job is {job.status}",
            "BLOCK_JOB_READY right after JOB_STATUS_CHANGE ready",
            "emitted BLOCK_JOB_READY",
        )
        job.reached_ready = True

    def _pending_event(self, job: JobState) -> None:
        if job.auto_finalize is True:
            self._emit(
                RuleId.BLOCK_JOB_PENDING_EVENT,
                job,
                "BLOCK_JOB_PENDING for an auto-finalize=true job",
                "BLOCK_JOB_PENDING only for auto-finalize=false jobs",
                "emitted BLOCK_JOB_PENDING",
            )
        if job.status is D or self._infer(job, D):
            return
        self._emit(
            RuleId.BLOCK_JOB_PENDING_EVENT,
            job,
            f"BLOCK_JOB_PENDING while the job is {job.status}",
            "BLOCK_JOB_PENDING right after JOB_STATUS_CHANGE pending",
            "emitted BLOCK_JOB_PENDING",
        )

    def _completion_event(self, job: JobState, name: str, data: dict[str, Any]) -> None:
        cancelled = name == "BLOCK_JOB_CANCELLED"
        has_error = "error" in data
        if not self.wire and job.ended_at is None:
            job.ended_at = self._index
        if job.completions:
            self._emit(
                RuleId.BLOCK_JOB_COMPLETION_EVENT,
                job,
                f"a second completion event ({name})",
                "exactly one BLOCK_JOB_COMPLETED or BLOCK_JOB_CANCELLED",
                f"emitted {name} again",
            )
        job.completions += 1
        # CANCELLED (a force cancel) and COMPLETED with an error come from aborting;
        # COMPLETED without an error from pending (success, or a soft-cancelled mirror).
        allowed = (X,) if cancelled else (D, X)
        implied = X if cancelled or has_error else D
        if job.status not in allowed and not self._infer(job, implied):
            self._emit(
                RuleId.BLOCK_JOB_COMPLETION_EVENT,
                job,
                f"{name} while the job is {job.status}",
                f"{name} in " + " or ".join(s.value for s in allowed),
                f"emitted {name}",
            )
            return
        if not cancelled:
            self._exercise(RuleId.JOB_INFO_ERROR_IFF_FAILED)
        if not cancelled and (job.status is X) != has_error:
            self._emit(
                RuleId.JOB_INFO_ERROR_IFF_FAILED,
                job,
                f"BLOCK_JOB_COMPLETED in {job.status} "
                + ("with an error" if has_error else "without an error"),
                "an error member iff the job aborted",
                f"error={data.get('error')!r}" if has_error else "no error member",
            )
        if (
            not cancelled
            and self.wire
            and job.force_cancel is True
            and not job.cancels
            and not job.wild
            and not job.lossy
        ):
            self._emit(
                RuleId.BLOCK_JOB_COMPLETION_EVENT,
                job,
                "BLOCK_JOB_COMPLETED after an accepted force cancel",
                "BLOCK_JOB_CANCELLED for a force-cancelled job",
                "emitted BLOCK_JOB_COMPLETED",
            )
        if (
            cancelled
            and self.wire
            and job.force_cancel is False
            and not job.cancels
            and not job.wild
            and not self._partner_aborting(job)
        ):
            self._emit(
                RuleId.BLOCK_JOB_COMPLETION_EVENT,
                job,
                "BLOCK_JOB_CANCELLED without a force cancel",
                "BLOCK_JOB_CANCELLED only after a force cancel",
                "emitted BLOCK_JOB_CANCELLED",
            )
