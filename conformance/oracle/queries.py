"""The oracle's checks of ``query-jobs`` snapshots.

Every listed job must be known (started by a command or named by events) and
not dismissed; its status must be one its event history allows (the
asynchronous window: see :mod:`jobcheck.conformance.oracle.job_state`); a live job
may be missing only if it may have reached ``null``; ``current-progress``
never decreases; ``total-progress`` is an integer ≥ 0; ``error`` is present
exactly for failed jobs; the type is the one the job was started as; unknown
status or type names are reported, not fatal.  In a per-job log a snapshot
may be ahead of the logged events, so unknown and gone jobs are skipped and
absent jobs are not checked.

Part of :class:`jobcheck.conformance.oracle.Oracle`.  Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from jobcheck.conformance.oracle.core import OracleCore, names
from jobcheck.conformance.oracle.job_state import JobState, Obligation
from jobcheck.model.lifecycle import JobType, Status
from jobcheck.model.rules import RuleId
from jobcheck.model.status_letters import C, D, E, N, P, R, S, U, W, X, Y

_NO_ERROR = frozenset({C, R, P, Y, S, W, D})


def is_job_info(value: Any) -> bool:
    """Whether ``value`` looks like a ``JobInfo`` (of query-jobs, not of query-block-jobs)."""
    return (
        isinstance(value, dict)
        and "id" in value
        and "status" in value
        and ("current-progress" in value or "total-progress" in value)
    )


class QueryChecks(OracleCore):
    """``query-jobs`` checks."""

    def _check_query(self, value: list[Any], since: int, *, complete: bool) -> None:
        """Check a snapshot; ``since``: the index of its command; ``complete``: it is known to
        be the full query-jobs answer (so absent jobs count)."""
        listed: set[str] = set()
        if self.wire and complete:
            self._exercise(RuleId.QUERY_JOBS_LISTS_LIVE_JOBS)
            if 0 <= self._dismissed_gone < since:
                self._exercise(RuleId.JOB_DISMISS_REMOVES_JOB)
        for info in value:
            if isinstance(info, dict) and isinstance(info.get("id"), str):
                listed.add(info["id"])
                self._check_job_info(info["id"], info, since)
        if not (self.wire and complete):
            return
        for job in list(self._jobs.values()):
            if job.id in listed or job.status in (None, U):
                continue
            window = self._window(job, since)
            if N not in window:
                self._emit(
                    RuleId.QUERY_JOBS_LISTS_LIVE_JOBS,
                    job,
                    f"query-jobs does not list the job (last status {job.status})",
                    "the job listed in " + names(window),
                    "left it out",
                )
            else:
                self._add_obligation(
                    job,
                    Obligation(
                        frozenset({N}),
                        self._divergence(
                            RuleId.QUERY_JOBS_LISTS_LIVE_JOBS,
                            job.id,
                            "query-jobs left the job out, but it never reached null",
                            "the job listed until it reaches null",
                            "left it out",
                        ),
                    ),
                )

    def _check_job_info(self, job_id: str, info: dict[str, Any], since: int) -> None:
        status_name = info.get("status")
        self._exercise(
            RuleId.QAPI_MEMBERS_KNOWN,
            RuleId.STATUS_UNDEFINED_NEVER_VISIBLE,
            RuleId.STATUS_NULL_NEVER_VISIBLE,
        )
        try:
            status = Status(str(status_name))
        except ValueError:
            self._emit(
                RuleId.QAPI_MEMBERS_KNOWN,
                job_id,
                f"query-jobs lists status {status_name!r}",
                "a JobStatus member",
                f"listed {status_name!r}",
            )
            return
        if status is U or status is N:
            rule = (
                RuleId.STATUS_UNDEFINED_NEVER_VISIBLE
                if status is U
                else RuleId.STATUS_NULL_NEVER_VISIBLE
            )
            self._emit(
                rule,
                job_id,
                f"query-jobs lists the job as {status.value}",
                f"no {status.value} job listed",
                f"listed {status.value}",
            )
            return
        job = self._jobs.get(job_id)
        if job is None or job.status is U:
            job = self._listed_unknown(job_id, job, status, since)
            if job is None:
                return
        self._check_info_type(job, info.get("type"))
        if job.status is not None:
            self._check_listed_status(job, status, since)
        if job.dismissed_at is not None and since > job.dismissed_at:
            self._emit(
                RuleId.JOB_DISMISS_REMOVES_JOB,
                job,
                "query-jobs lists the job after its job-dismiss was accepted",
                "the job gone from query-jobs",
                f"listed it as {status.value}",
            )
        if job.finalized_at is not None and since > job.finalized_at:
            self._exercise(RuleId.JOB_FINALIZE_WHOLE_TRANSACTION)
        if status is D and job.finalized_at is not None and since > job.finalized_at:
            self._emit(
                RuleId.JOB_FINALIZE_WHOLE_TRANSACTION,
                job,
                "query-jobs lists the job in pending after job-finalize of a transaction"
                " partner was accepted",
                "the whole transaction finalized (concluded or aborting)",
                "listed it as pending",
            )
        if status is E and job.auto_dismiss is not None and job.started:
            self._exercise(RuleId.STATUS_CONCLUDED_WAITS_FOR_DISMISS)
        if status is E and job.auto_dismiss is True and job.started:
            self._emit(
                RuleId.STATUS_CONCLUDED_AUTO_DISMISSES,
                job,
                "query-jobs lists an auto-dismiss=true job in concluded",
                "an auto-dismiss job goes from concluded to null at once",
                "listed it as concluded",
            )
        self._check_progress(job, status, info)
        self._check_error_field(job, status, info)

    def _listed_unknown(
        self, job_id: str, job: JobState | None, status: Status, since: int
    ) -> JobState | None:
        """A listed job the events have not created (yet): skip it, or report and adopt it."""
        if not self.wire or job is not None:
            return None  # per-job logs run ahead; a started job's events may be in flight
        gone = self._gone.get(job_id)
        if gone is not None:
            if gone.index < since:
                self._emit(
                    RuleId.QUERY_JOBS_LISTS_LIVE_JOBS,
                    job_id,
                    "query-jobs lists a job that reached null before the query was sent",
                    "no dismissed job listed",
                    f"listed it as {status.value}",
                )
            return None
        if self._commands_seen_before(since):
            self._emit(
                RuleId.QUERY_JOBS_LISTS_LIVE_JOBS,
                job_id,
                "query-jobs lists a job no command started and no event named",
                "only started jobs listed",
                f"listed it as {status.value}",
            )
        # Otherwise the trace began after the job was started: take it as it is listed.
        return self._adopt(job_id, status)

    def _check_listed_status(self, job: JobState, status: Status, since: int) -> None:
        self._exercise(RuleId.QUERY_JOBS_STATUS_CONSISTENT)
        if self.wire and job.obligations:
            self._observe(job, status)
        window = self._window(job, since)
        if status not in window:
            self._emit(
                RuleId.QUERY_JOBS_STATUS_CONSISTENT,
                job,
                f"query-jobs lists {status.value!r} but the events last reported"
                f" {job.status.value if job.status else 'nothing'!r}",
                names(window),
                f"listed {status.value}",
            )
        elif self.wire and status not in job.statuses_since(since):
            self._add_obligation(
                job,
                Obligation(
                    frozenset({status}),
                    self._divergence(
                        RuleId.QUERY_JOBS_STATUS_CONSISTENT,
                        job.id,
                        f"query-jobs listed {status.value!r} (last status {job.status}),"
                        " but the job's events never pass through it",
                        f"a status the events pass through ({names(window)})",
                        f"listed {status.value}",
                    ),
                ),
            )

    def _check_info_type(self, job: JobState, type_name: Any) -> None:
        if type_name is None:
            return
        try:
            job_type: JobType | None = JobType(type_name)
        except ValueError:
            job_type = None
        if job.type is not None:
            self._exercise(RuleId.JOB_INFO_TYPE_MATCHES)
        if job_type is None or job_type not in self.model.job_types:
            self._emit(
                RuleId.QAPI_MEMBERS_KNOWN,
                job,
                f"query-jobs lists type {type_name!r}",
                f"a JobType member of model {self.model.version}",
                f"listed {type_name!r}",
            )
            return
        if job.type is not None and job.type is not job_type:
            self._emit(
                RuleId.JOB_INFO_TYPE_MATCHES,
                job,
                f"query-jobs lists type {job_type.value!r} for a {job.type.value} job",
                job.type.value,
                f"listed {job_type.value}",
            )
            return
        self._learn_type(job, job_type)

    def _check_progress(self, job: JobState, status: Status, info: dict[str, Any]) -> None:
        current = info.get("current-progress")
        if isinstance(current, int) and not isinstance(current, bool):
            if job.progress is not None:
                self._exercise(RuleId.JOB_INFO_CURRENT_PROGRESS_MONOTONIC)
            if current < 0:
                self._emit(
                    RuleId.JOB_INFO_CURRENT_PROGRESS_MONOTONIC,
                    job,
                    "query-jobs lists a negative current-progress",
                    "an integer >= 0",
                    f"listed {current}",
                )
            elif job.progress is not None and current < job.progress:
                self._emit(
                    RuleId.JOB_INFO_CURRENT_PROGRESS_MONOTONIC,
                    job,
                    "current-progress went down",
                    f">= {job.progress}",
                    f"listed {current}",
                )
            else:
                job.progress = current
        total = info.get("total-progress")
        if isinstance(total, int) and not isinstance(total, bool):
            self._exercise(RuleId.JOB_INFO_TOTAL_PROGRESS_FREE)
        if isinstance(total, int) and not isinstance(total, bool) and total < 0:
            self._emit(
                RuleId.JOB_INFO_TOTAL_PROGRESS_FREE,
                job,
                "query-jobs lists a negative total-progress",
                "an integer >= 0",
                f"listed {total}",
            )
        numbers = isinstance(current, int) and isinstance(total, int)
        if status is E and "error" not in info and numbers:
            self._exercise(RuleId.JOB_INFO_PROGRESS_COMPLETE_AT_END)
            if current != total:
                self._emit(
                    RuleId.JOB_INFO_PROGRESS_COMPLETE_AT_END,
                    job,
                    "query-jobs lists a job concluded without an error short of its total-progress",
                    f"current-progress = total-progress ({total})",
                    f"listed current-progress {current} of {total}",
                )

    def _check_error_field(self, job: JobState, status: Status, info: dict[str, Any]) -> None:
        present = "error" in info
        expected: bool | None = None
        if status in _NO_ERROR:
            expected = False
        elif status is X:
            expected = True
        elif status is E:
            if job.status is X:
                expected = True
            elif job.status is E:
                expected = job.failed
        if expected is None:
            return
        self._exercise(RuleId.JOB_INFO_ERROR_IFF_FAILED)
        if expected == present:
            return
        self._emit(
            RuleId.JOB_INFO_ERROR_IFF_FAILED,
            job,
            f"query-jobs lists the job in {status.value} "
            + ("with an error" if present else "without an error"),
            "an error (the job failed)" if expected else "no error (the job has not failed)",
            f"error={info.get('error')!r}" if present else "no error member",
        )
