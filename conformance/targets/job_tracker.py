"""What a QMP client can know about its jobs from the traffic alone.

A live target must know when QEMU has *settled*: when every event that the
previous commands caused has arrived.  QEMU sends no "done" message, so the
target keeps a :class:`JobTracker` fed with every command it sent (with the
verdict of its response) and every event it received, and asks
:meth:`JobTracker.moving` which jobs are in a status that will change *by
itself*, without a further command:

* ``created`` and ``aborting`` always move on;
* ``running`` moves on when the job runs unthrottled (started without a
  speed, or released with ``block-job-set-speed 0``), when it is a job
  without a speed limit at all (create, amend, snapshot), or when a pause,
  complete or cancel has been accepted and has not landed yet;
* ``ready`` moves on after an accepted complete or cancel;
* ``waiting`` moves on unless a partner of its grouped transaction is still
  at work;
* ``pending`` moves on for an auto-finalize job unless a partner is still at
  work or waits for its own job-finalize;
* ``concluded`` moves on for an auto-dismiss job;
* ``paused``, ``standby`` and ``null`` stay.

A *held* block job (a speed limit) stays in ``running`` but still works until
its first chunk is done and it sleeps at its rate limit; no event tells when.
:meth:`JobTracker.parking` lists those not yet seen asleep, and
:meth:`JobTracker.block_jobs` learns from a ``query-block-jobs`` answer which
are (``busy: false``), so that a settle can wait for them too.

Only jobs that this client started (its own start commands, recognised by
:func:`jobcheck.conformance.trace.job_commands.classify`) count: on a shared QEMU,
another client's long job must not hold every settle up.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobcheck.conformance.trace.job_commands import StartInfo, classify
from jobcheck.conformance.trace.qmp_messages import JOB_STATUS_CHANGE
from jobcheck.model.lifecycle import BLOCK_JOB_TYPES, JobType, Verb

#: Statuses in which a job still has work to do (it has not reached waiting).
WORKING: frozenset[str] = frozenset({"created", "running", "paused", "ready", "standby"})

#: Statuses from which a job can take no further step by itself.
_DONE: frozenset[str] = frozenset({"concluded", "null"})


@dataclass
class TrackedJob:
    """One job as seen from the wire: its last status and what was asked of it."""

    id: str
    status: str = "undefined"
    """The status of the last ``JOB_STATUS_CHANGE`` (``undefined`` before any)."""
    type: JobType | None = None
    ours: bool = False
    """Started by this client (a start command of ours was accepted)."""
    auto_finalize: bool = True
    auto_dismiss: bool = True
    partners: tuple[str, ...] = ()
    """The other members of its grouped transaction."""
    released: bool = False
    """Runs without a speed limit (no ``speed`` at start, or set to 0)."""
    pause_requested: bool = False
    complete_requested: bool = False
    cancel_requested: bool = False
    soft_cancel: bool = False
    """The cancel requested is ``block-job-cancel`` with ``force: false``: on a ready mirror
    or active commit it completes the job (waiting, pending) rather than aborting it, and
    once the job is pending it is spent (QEMU 6.2+ ignores a soft cancel after the job's
    work is done)."""
    parked: bool = False
    """A held job seen asleep at its rate limit (``query-block-jobs``: running, not busy)
    since its status or speed last changed."""
    seen: set[str] = field(default_factory=set)
    """Every status its events have reported."""

    @property
    def unthrottled(self) -> bool:
        """Whether nothing holds the job's progress back (speed 0, or no speed at all)."""
        return self.released or (self.type is not None and self.type not in BLOCK_JOB_TYPES)


@dataclass
class JobTracker:
    """Per-job status and requests, fed by :meth:`command` and :meth:`event`."""

    jobs: dict[str, TrackedJob] = field(default_factory=dict)

    # -- feeding ---------------------------------------------------------

    def event(self, name: str, data: Mapping[str, Any]) -> None:
        """Take in one QMP event (only ``JOB_STATUS_CHANGE`` matters here)."""
        if name != JOB_STATUS_CHANGE:
            return
        job_id, status = data.get("id"), data.get("status")
        if not isinstance(job_id, str) or not isinstance(status, str):
            return
        job = self.jobs.get(job_id)
        if job is None or (status == "created" and job.status in ("null", "undefined")):
            # A new job, or a new job under a reused id: forget the old one's requests.
            fresh = TrackedJob(job_id)
            if job is not None and job.status == "undefined":
                fresh = job
            self.jobs[job_id] = job = fresh
        job.status = status
        job.seen.add(status)
        job.parked = False
        if status in ("paused", "standby") or status not in WORKING:
            job.pause_requested = False
        if status not in WORKING:
            job.complete_requested = False
        if status in _DONE:
            job.cancel_requested = False

    def command(self, command: str, arguments: Mapping[str, Any] | None, accepted: bool) -> None:
        """Take in a command this client sent and whether QEMU accepted it."""
        if not accepted:
            return
        args = dict(arguments or {})
        meaning = classify(command, args)
        if meaning.kind == "start":
            for info in meaning.starts:
                self._started(info, args if command != "transaction" else _action_args(args, info))
        elif meaning.verb is not None and meaning.verb.job_id is not None:
            job = self.jobs.get(meaning.verb.job_id)
            if job is None:
                return
            # The response comes after the events the command caused synchronously:
            # a request counts as pending only if its effect has not been seen yet.
            verb, status = meaning.verb.verb, job.status
            if verb is Verb.PAUSE:
                job.pause_requested = job.pause_requested or status in ("running", "ready")
            elif verb is Verb.RESUME:
                job.pause_requested = False  # withdraws a pause that has not landed yet
                job.parked = False
            elif verb is Verb.COMPLETE:
                job.complete_requested = status in ("ready", "standby")
            elif verb is Verb.CANCEL:
                job.cancel_requested = status not in _DONE
                job.soft_cancel = meaning.verb.family == "block-job" and not meaning.verb.force
            elif verb is Verb.SET_SPEED:
                job.released = meaning.verb.speed == 0
                job.parked = False

    def block_jobs(self, answer: Any) -> None:
        """Take in a ``query-block-jobs`` answer: which held jobs sleep at their rate limit.

        >>> t = JobTracker()
        >>> t.command("blockdev-backup", {"job-id": "b", "device": "s", "speed": 1}, True)
        >>> t.event("JOB_STATUS_CHANGE", {"id": "b", "status": "running"})
        >>> t.parking()
        ['b']
        >>> t.block_jobs([{"device": "b", "busy": False, "paused": False}])
        >>> t.parking()
        []
        """
        for info in answer if isinstance(answer, list) else []:
            if not isinstance(info, dict):
                continue
            job = self.jobs.get(str(info.get("device")))
            if job is not None and job.status == "running":
                job.parked = info.get("busy") is False and info.get("paused") is False

    def _started(self, info: StartInfo, args: Mapping[str, Any]) -> None:
        job = self.jobs.get(info.id)
        if job is None:
            job = self.jobs[info.id] = TrackedJob(info.id)
        job.ours = True
        job.type = info.type
        job.auto_finalize = info.auto_finalize
        job.auto_dismiss = info.auto_dismiss
        job.partners = info.partners
        speed = args.get("speed")
        job.released = not (isinstance(speed, int) and speed > 0)

    # -- questions -------------------------------------------------------

    def ours(self) -> list[TrackedJob]:
        return [job for job in self.jobs.values() if job.ours]

    def moving(self) -> list[str]:
        """Ids of our jobs whose status will change without a further command."""
        return [job.id for job in self.ours() if self._moves(job)]

    def parking(self) -> list[str]:
        """Ids of our held block jobs in ``running`` not yet seen asleep at their rate limit
        (and with no status change on its way): still working on their first chunk."""
        return [
            job.id
            for job in self.ours()
            if job.status == "running"
            and job.type in BLOCK_JOB_TYPES
            and not job.unthrottled
            and not job.parked
            and not self._moves(job)
        ]

    def running_alone(self) -> list[str]:
        """Ids of our jobs without pause points (create, amend, …) that have not concluded.

        QEMU 7.2 aborts when a drained section (``quit``, ``blockdev-reopen``,
        the ``transaction`` that starts a backup) begins while a
        ``blockdev-create`` job is in flight, so a target waits for these
        before it drains.
        """
        return [
            job.id
            for job in self.ours()
            if job.type is not None and job.type not in BLOCK_JOB_TYPES and job.status not in _DONE
        ]

    def cancelled_and_gone(self, job_id: str) -> bool:
        """Whether the job was seen from its start to its end, ended by aborting before its
        work was done (never waiting or pending), and is gone (null).

        >>> t = JobTracker()
        >>> for status in ("created", "running", "aborting", "concluded", "null"):
        ...     t.event("JOB_STATUS_CHANGE", {"id": "c", "status": status})
        >>> t.cancelled_and_gone("c")
        True
        """
        job = self.jobs.get(job_id)
        return (
            job is not None
            and job.status == "null"
            and {"created", "aborting"} <= job.seen
            and not {"waiting", "pending"} & job.seen
        )

    def status(self, job_id: str) -> str | None:
        job = self.jobs.get(job_id)
        return job.status if job is not None else None

    def _group(self, job: TrackedJob) -> Iterable[TrackedJob]:
        return (self.jobs[p] for p in job.partners if p in self.jobs)

    def _moves(self, job: TrackedJob) -> bool:
        status = job.status
        if status in ("created", "aborting"):
            return True
        if status == "running":
            return (
                job.unthrottled
                or job.pause_requested
                or job.cancel_requested
                or job.complete_requested
            )
        if status == "ready":
            return job.complete_requested or job.cancel_requested or job.pause_requested
        if status in ("paused", "standby"):
            return job.cancel_requested
        if status == "waiting":
            return job.cancel_requested or not any(p.status in WORKING for p in self._group(job))
        if status == "pending":
            if job.cancel_requested and not job.soft_cancel:
                return True
            if not job.auto_finalize:
                return False
            return not any(
                p.status in WORKING or (p.status == "pending" and not p.auto_finalize)
                for p in self._group(job)
            )
        if status == "concluded":
            return job.auto_dismiss
        return False


def _action_args(transaction: Mapping[str, Any], info: StartInfo) -> Mapping[str, Any]:
    """The ``data`` of the transaction action that started ``info``'s job."""
    actions = transaction.get("actions")
    for action in actions if isinstance(actions, list) else []:
        data = action.get("data") if isinstance(action, dict) else None
        if isinstance(data, dict) and info.id in (data.get("job-id"), data.get("device")):
            return data
    return {}
