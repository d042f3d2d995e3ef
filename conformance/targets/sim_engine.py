"""The simulator's job engine: jobs, transactions, job coroutines and a virtual main loop.

This is a second, independent implementation of QEMU's job engine (``job.c``,
``blockjob.c`` and the block-job drivers), written from the engine's observed
behaviour and not from jobcheck's model: the transition rules and the verb
permissions below are the engine's own, stated in its own terms.

How it runs
-----------

A :class:`Job` carries the same state as QEMU's ``struct Job``: ``status``,
``pause_count``, ``paused``, ``user_paused``, ``busy``, ``cancelled``,
``force_cancel``, ``deferred`` (``deferred_to_main_loop``), the auto-finalize
and auto-dismiss flags, its :class:`Txn`, progress and error.  Its body is a
Python generator standing in for the job coroutine.  The generator yields
what it waits for:

* ``"pause"`` — parked in a pause point (``job_pause_point``), until entered;
* ``"sleep"`` — parked in a rate-limit sleep with a timer pending (a held
  job, or a READY mirror idling), until entered;
* ``"io"`` — waiting for an I/O request; it stays *busy*, and the main loop
  resumes it later.

:meth:`Engine.enter` re-enters a parked coroutine synchronously, as
``job_enter`` does from a QMP command, so whatever the job does up to its next
wait happens inside the command (and its events come before the return).
Bottom halves (``job_exit``) run right after the command that scheduled
them, before its return, as observed on QEMU 7.2.22 and 9.0+.  I/O
completions run only when time passes: :meth:`Engine.let_time_pass` (a
seeded random amount, before each command) or :meth:`Engine.settle`.

Block devices are not simulated: backup reads a null-co source (its I/O
completes at once), the others do real I/O and yield.  A held job has a speed
limit and copies one chunk before sleeping; a released job (speed 0) copies
the rest of its work in one to three I/O steps.  An I/O error can be armed on
a job; it fires once, on the first write after the job is released.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Generator
from typing import Any

from jobcheck.conformance.errors import TargetError
from jobcheck.conformance.trace.qmp_messages import JOB_STATUS_CHANGE, block_job_data
from jobcheck.model.lifecycle import Status

Emit = Callable[[str, dict[str, Any]], None]
Co = Generator[str, None, Any]

ECANCELED = -125
EIO = -5
STRERROR = {ECANCELED: "Operation canceled", EIO: "Input/output error"}

TIB = 1 << 40
#: Bytes copied per chunk by a held job (what QEMU's drivers copy before the rate limit bites).
CHUNK: dict[str, int] = {
    "mirror": 16 << 20,
    "backup": 1 << 20,
    "commit": 512 << 10,
    "stream": 512 << 10,
}

U, C, R, P, Y, S = (
    Status.UNDEFINED,
    Status.CREATED,
    Status.RUNNING,
    Status.PAUSED,
    Status.READY,
    Status.STANDBY,
)
W, D, X, E, N = Status.WAITING, Status.PENDING, Status.ABORTING, Status.CONCLUDED, Status.NULL

#: Where the engine lets a job go next, by what moves it there (the engine's assertion).
_MAY_GO: dict[Status, frozenset[Status]] = {
    U: frozenset({C}),  # creation
    C: frozenset({R, X, N}),  # start; cancel before start; setup failure
    R: frozenset({P, Y, W, X}),  # pause point; converged; run returned; error or cancel
    P: frozenset({R}),  # leaving the pause point
    Y: frozenset({S, W, X}),  # pause point; complete or soft cancel; error or cancel
    S: frozenset({Y}),  # leaving the pause point
    W: frozenset({D, X}),  # the whole transaction finished; a partner failed
    D: frozenset({X, E}),  # finalize failed or cancel; finalized
    X: frozenset({X, E}),  # return code updated again; finalized
    E: frozenset({N}),  # dismissed
    N: frozenset(),
}
#: Statuses in which the job's work is over (``job_is_completed``).
_DONE = frozenset({W, D, X, E, N})
#: Statuses of a job that has not finished its work yet (pause, resume, set-speed, change).
_UNFINISHED = frozenset({C, R, P, Y, S})


class QmpFailure(Exception):
    """A command refused by the engine: QEMU's error class and exact text."""

    def __init__(self, desc: str, error_class: str = "GenericError") -> None:
        super().__init__(desc)
        self.desc = desc
        self.error_class = error_class


class Txn:
    """A job transaction (``JobTxn``); members are kept newest first, as QEMU lists them."""

    __slots__ = ("aborting", "jobs")

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.aborting = False


class Job:
    """One job: QEMU's ``struct Job`` fields plus what the simulated driver needs."""

    __slots__ = (
        "auto_dismiss",
        "auto_finalize",
        "block",
        "busy",
        "cancelled",
        "chunk",
        "co",
        "copy_mode",
        "current",
        "deferred",
        "device",
        "err",
        "error_fired",
        "error_policy",
        "fail_on_completion",
        "finished",
        "force_cancel",
        "id",
        "iostatus",
        "kind",
        "pause_count",
        "paused",
        "quota",
        "ready_phase",
        "ret",
        "should_complete",
        "silent_resume",
        "speed",
        "status",
        "sync_io",
        "total",
        "txn",
        "user_paused",
        "wait",
    )

    def __init__(
        self,
        job_id: str,
        kind: str,
        device: str,
        *,
        ready_phase: bool = False,
        auto_finalize: bool = True,
        auto_dismiss: bool = True,
        speed: int = 0,
        error_policy: str | None = None,
    ) -> None:
        self.id = job_id
        self.kind = kind
        self.device = device
        self.block = kind in CHUNK
        self.ready_phase = ready_phase
        self.sync_io = kind == "backup"
        self.auto_finalize = auto_finalize
        self.auto_dismiss = auto_dismiss
        self.speed = speed
        self.error_policy = error_policy
        self.error_fired = False
        self.fail_on_completion: str | None = None
        self.status = U
        self.pause_count = 1
        self.paused = True
        self.user_paused = False
        self.busy = False
        self.cancelled = False
        self.force_cancel = False
        self.deferred = False
        self.should_complete = False
        self.finished = False
        self.silent_resume = False
        self.ret = 0
        self.err: str | None = None
        self.iostatus = "ok"
        self.copy_mode = "background"
        self.chunk = CHUNK.get(kind, 1)
        self.current = 0
        self.total = TIB if self.block else 0
        self.quota = 1
        self.co: Co | None = None
        self.wait = ""
        self.txn = Txn()

    @property
    def started(self) -> bool:
        return self.co is not None

    @property
    def is_ready(self) -> bool:
        return self.status is Y or self.status is S


class Engine:
    """The simulated job engine of one QEMU process.

    ``release`` is the simulated QEMU's (major, minor); ``emit`` receives every
    event as ``(name, data)``; ``rng`` decides what QEMU's timing leaves open;
    ``mutant`` names a deviation from :mod:`.sim_mutants` (empty: none).
    """

    #: Main-loop iterations after which a wait is declared a hang.
    LIMIT = 100_000

    def __init__(
        self, release: tuple[int, int], rng: random.Random, emit: Emit, mutant: str = ""
    ) -> None:
        self.release = release
        self.rng = rng
        self.emit = emit
        self.mutant = mutant
        self.checked = not mutant
        #: Up to 8.0, every early wake-up of a rate-limited job counts as a finished delay.
        self.leaky_ratelimit = release < (8, 1)
        #: Live jobs (not yet null), oldest first.
        self.jobs: dict[str, Job] = {}
        #: Block nodes in use, by node name: the job type using them.
        self.busy_nodes: dict[str, str] = {}
        self.bhs: deque[Callable[[], None]] = deque()
        self.io: deque[Job] = deque()
        self.loop_iterations = 0

    # -- main loop ---------------------------------------------------------

    def run_bhs(self) -> None:
        """Run the pending bottom halves (and any they schedule)."""
        while self.bhs:
            self.bhs.popleft()()

    def poll_one(self) -> bool:
        """One main-loop dispatch: a bottom half, else one I/O completion. False when idle."""
        self.loop_iterations += 1
        if self.bhs:
            self.bhs.popleft()()
            return True
        if self.io:
            self._step(self.io.popleft())
            self.run_bhs()
            return True
        return False

    def idle(self) -> bool:
        return not self.bhs and not self.io

    def let_time_pass(self) -> None:
        """Between two commands: none, one, two or all of the pending completions happen."""
        if not self.io and not self.bhs:
            return
        budget = self.rng.choice((0, 1, 2, self.LIMIT))
        while budget and self.poll_one():
            budget -= 1

    def settle(self) -> None:
        """Run the main loop until nothing is pending."""
        for _ in range(self.LIMIT):
            if not self.poll_one():
                return
        raise TargetError("the simulated QEMU did not settle (a job keeps running)")

    def _poll_while(self, busy: Callable[[], bool], what: str) -> None:
        """``AIO_WAIT_WHILE``: run the main loop while ``busy()`` holds."""
        for _ in range(self.LIMIT):
            if not busy():
                return
            if not self.poll_one():
                break
        raise TargetError(f"the simulated QEMU hangs: {what}")

    # -- status and events ---------------------------------------------------

    def transition(self, job: Job, new: Status, *, silent: bool = False) -> None:
        """``job_state_transition``: assert the engine's rules, then emit JOB_STATUS_CHANGE."""
        old = job.status
        if self.checked and new not in _MAY_GO[old]:
            raise TargetError(
                f"the simulated QEMU aborted: job '{job.id}' cannot go from {old} to {new}"
            )
        job.status = new
        if silent:
            return
        if new is not old or self.mutant == "duplicate-status-event":
            self.emit(JOB_STATUS_CHANGE, {"id": job.id, "status": new.value})

    def _block_event(self, name: str, job: Job, error: str | None = None) -> None:
        self.emit(name, block_job_data(job.kind, job.id, job.total, job.current, job.speed, error))

    def completed(self, job: Job) -> bool:
        """``job_is_completed``."""
        return job.status in _DONE or job.finished

    # -- creating and starting ----------------------------------------------------

    def create(self, job: Job, txn: Txn | None = None) -> Job:
        """``job_create``: check the id, register the job, U→C (``pause_count`` 1)."""
        if not _well_formed(job.id):
            raise QmpFailure(f"Invalid job ID '{job.id}'")
        if job.id in self.jobs:
            raise QmpFailure(f"Job ID '{job.id}' already in use")
        if txn is not None:
            job.txn = txn
        job.txn.jobs.insert(0, job)
        self.jobs[job.id] = job
        if job.block:
            self.busy_nodes[job.device] = job.kind
        self.transition(job, C)
        return job

    def check_node(self, node: str) -> None:
        kind = self.busy_nodes.get(node)
        if kind is not None:
            raise QmpFailure(f"Node '{node}' is busy: block device is in use by block job: {kind}")

    def start(self, job: Job) -> None:
        """``job_start``: C→R and enter the coroutine."""
        job.co = self._co_entry(job)
        job.pause_count -= 1
        job.busy = True
        job.paused = False
        self.transition(job, R)
        self._step(job)

    def _co_entry(self, job: Job) -> Co:
        yield from self._pause_point(job)
        if job.block:
            ret = yield from self._block_run(job)
        else:
            ret = yield from self._create_run(job)
        job.ret = ret
        job.deferred = True
        job.busy = True
        self.bhs.append(lambda: self._job_exit(job))

    def _step(self, job: Job) -> None:
        """Run the coroutine until it waits again."""
        assert job.co is not None
        try:
            wait = next(job.co)
        except StopIteration:
            job.wait = ""
            return
        job.wait = wait
        if wait == "io":
            self.io.append(job)
        else:
            job.busy = False

    def enter(self, job: Job, when: str = "") -> None:
        """``job_enter_cond``: wake a parked job (``when``: ``timer`` / ``no-timer`` pending)."""
        if job.co is None or job.deferred or job.busy:
            return
        if when == "timer" and job.wait != "sleep":
            return
        if when == "no-timer" and job.wait == "sleep":
            return
        job.busy = True
        self._step(job)

    # -- the coroutine's building blocks -------------------------------------

    def _pause_point(self, job: Job) -> Co:
        """``job_pause_point``: park in paused/standby while pause requests are pending."""
        if job.pause_count <= 0 or job.force_cancel:
            return
        saved = job.status
        mutant = self.mutant
        if saved is Y and mutant != "pause-in-ready-goes-paused":
            self.transition(job, S)
        else:
            self.transition(job, P)
        job.paused = True
        yield "pause"
        job.paused = False
        if mutant:
            if mutant == "cancel-paused-no-resume" and job.force_cancel:
                return
            if mutant == "standby-to-running" and saved is Y:
                saved = R
            if mutant == "progress-decreases":
                job.current = max(0, job.current - job.chunk)
        silent, job.silent_resume = job.silent_resume, False
        self.transition(job, saved, silent=silent)

    def _sleep(self, job: Job) -> Co:
        """``job_sleep_ns``: wait for a kick (no timer ever fires), then a pause point."""
        if job.force_cancel:
            return
        if job.pause_count <= 0:
            yield "sleep"
        yield from self._pause_point(job)

    def _io_error(self, job: Job) -> str:
        """``block_job_error_action``: stop (user pause) or report; BLOCK_JOB_ERROR.

        A stopped job retries the failed request when it is resumed, and the bad sector
        is still bad: the error fires again (as blkdebug's ``inject-error`` does)."""
        action = job.error_policy or "report"
        job.error_fired = action != "stop"
        if action == "stop":
            if not job.user_paused:
                job.pause_count += 1
                job.user_paused = True
            job.iostatus = "failed"
        self.emit("BLOCK_JOB_ERROR", {"device": job.id, "operation": "write", "action": action})
        return action

    def _portion(self, job: Job) -> int:
        """How much of the rest a released job copies in one I/O step."""
        left = job.total - job.current
        if job.sync_io:
            return left
        return -(-left // self.rng.randint(1, 3))

    def _block_run(self, job: Job) -> Co:
        """A block job driver's ``.run``: copy, converge to READY (mirror-like), finish."""
        ret = 0
        while not job.force_cancel:
            if job.current < job.total:
                if job.speed and job.quota <= 0:
                    yield from self._sleep(job)
                    if self.leaky_ratelimit and not job.sync_io:
                        job.quota = 1
                    continue
                yield from self._pause_point(job)
                if job.force_cancel:
                    break
                amount = min(job.chunk, job.total - job.current) if job.speed else 0
                if not job.sync_io:
                    yield "io"
                if job.error_policy and not job.error_fired and not job.speed:
                    if self._io_error(job) == "report":
                        ret = EIO
                        break
                    continue
                job.current += amount or self._portion(job)
                if job.speed:
                    job.quota -= 1
                continue
            if not job.ready_phase:
                break
            if job.status is R:
                self._to_ready(job)
            if job.should_complete or job.cancelled:
                if job.fail_on_completion:
                    yield "io"  # the flush of the target on the way out fails
                    job.error_policy, job.fail_on_completion = job.fail_on_completion, None
                    if self._io_error(job) == "report":
                        ret = EIO
                        break
                    yield from self._pause_point(job)
                    continue
                break
            yield from self._sleep(job)
        if job.ready_phase:
            yield "io"  # the mirror driver drains its nodes on the way out
        return ret

    def _create_run(self, job: Job) -> Co:
        """``blockdev-create``/``x-blockdev-amend``: a little I/O, no pause points, no speed."""
        job.total = 1
        for _ in range(self.rng.randint(1, 2)):
            yield "io"
        job.current = 1
        return 0

    def _to_ready(self, job: Job) -> None:
        """``job_transition_to_ready``: R→Y, then BLOCK_JOB_READY."""
        if self.mutant == "ready-event-before-ready":
            self._block_event("BLOCK_JOB_READY", job)
            self.transition(job, Y)
            return
        self.transition(job, Y)
        self._block_event("BLOCK_JOB_READY", job)

    # -- completion (main loop side) ---------------------------------------------

    def _job_exit(self, job: Job) -> None:
        """The ``job_exit`` bottom half, scheduled when the coroutine returned."""
        job.busy = False
        self._completed(job)

    def _completed(self, job: Job) -> None:
        self._update_rc(job)
        if job.ret:
            self._txn_abort(job)
        else:
            self._txn_success(job)

    def _update_rc(self, job: Job) -> None:
        if not job.ret and job.force_cancel:
            job.ret = ECANCELED
        if job.ret:
            if job.err is None:
                job.err = STRERROR[job.ret]
            self.transition(job, X)

    def _txn_success(self, job: Job) -> None:
        if self.mutant == "waiting-skipped":
            job.finished = True
        else:
            self.transition(job, W)
        members = job.txn.jobs
        if not all(self.completed(other) for other in members):
            return
        for other in list(members):
            self._to_pending(other)
        if all(other.auto_finalize for other in members) and self.mutant != "no-auto-finalize":
            self._do_finalize(job)

    def _to_pending(self, job: Job) -> None:
        self.transition(job, D)
        if job.block and (
            not job.auto_finalize or self.mutant == "pending-event-for-auto-finalize"
        ):
            self.emit("BLOCK_JOB_PENDING", {"type": job.kind, "id": job.id})

    def _do_finalize(self, job: Job) -> None:
        members = [job] if self.mutant == "finalize-only-addressed" else list(job.txn.jobs)
        for other in members:
            self._finalize_single(other)

    def _finalize_single(self, job: Job) -> None:
        """``job_finalize_single``: COMPLETED or CANCELLED, leave the txn, conclude."""
        self._update_rc(job)
        if self.mutant == "aborting-stuck" and job.status is X:
            job.txn.jobs.remove(job)  # left behind in aborting, never concluded
            return
        late: tuple[str, str | None] | None = None
        if self.mutant == "aborting-to-pending" and job.status is X:
            self.transition(job, D)
        if job.started and (job.block or self.mutant == "block-events-for-create"):
            if job.force_cancel:
                if self.mutant == "cancelled-event-after-concluded":
                    late = ("BLOCK_JOB_CANCELLED", None)
                else:
                    self._block_event("BLOCK_JOB_CANCELLED", job)
            else:
                self._block_event("BLOCK_JOB_COMPLETED", job, job.err if job.ret else None)
        if job in job.txn.jobs:
            job.txn.jobs.remove(job)
        self.transition(job, E, silent=self.mutant == "concluded-without-event")
        if late is not None:
            self._block_event(late[0], job, late[1])
        dismiss = job.auto_dismiss and self.mutant != "auto-dismiss-ignored"
        if dismiss or not job.started:
            self.do_dismiss(job)

    def do_dismiss(self, job: Job) -> None:
        """``job_do_dismiss``: →null, and the job is gone."""
        self.transition(job, N)
        if job in job.txn.jobs:
            job.txn.jobs.remove(job)
        if self.mutant == "dismissed-still-listed":
            job.status = E  # still listed, as it was before the dismiss
            return
        del self.jobs[job.id]
        if job.block and self.busy_nodes.get(job.device) == job.kind:
            del self.busy_nodes[job.device]

    def _txn_abort(self, job: Job) -> None:
        """``job_completed_txn_abort``: force-cancel the partners, then finalize everyone."""
        txn = job.txn
        if txn.aborting:
            return
        txn.aborting = True
        for other in list(txn.jobs):
            if other is not job:
                self.cancel_async(other, True)
        while txn.jobs:
            other = txn.jobs[0]
            if not self.completed(other) and other.started:
                self._finish_sync(other)
            self._finalize_single(other)

    def _finish_sync(self, job: Job) -> None:
        """``job_finish_sync``: keep entering the job and running the loop until it finished."""
        for _ in range(self.LIMIT):
            self.enter(job)
            if self.completed(job):
                return
            if not self.poll_one():
                break
        raise TargetError(f"the simulated QEMU hangs waiting for job '{job.id}' to finish")

    # -- what the QMP commands do ------------------------------------------------

    def apply_verb(self, job: Job, verb: str) -> None:
        """``job_apply_verb``: the engine's own verb permissions, in QEMU's error text."""
        status = job.status
        if verb == "cancel":
            allowed = status not in (U, X, E, N)
        elif verb in ("pause", "resume", "set-speed", "change"):
            allowed = status in _UNFINISHED
        elif verb == "complete":
            allowed = job.is_ready or (self.mutant == "complete-in-running" and status is R)
        elif verb == "finalize":
            allowed = status is D
        elif verb == "dismiss":
            allowed = status is E or (self.mutant == "dismiss-in-pending" and status is D)
        else:
            allowed = False
        if not allowed:
            raise QmpFailure(
                f"Job '{job.id}' in state '{status.value}' cannot accept command verb '{verb}'"
            )

    def cancel_async(self, job: Job, force: bool) -> None:
        """``job_cancel_async``: the driver may change ``force``; a user pause is undone."""
        force = (force or not job.is_ready) if job.ready_phase else True
        if job.user_paused:
            job.iostatus = "ok"
            job.user_paused = False
            job.pause_count -= 1
        if force or not job.deferred:
            job.cancelled = True
            job.force_cancel = job.force_cancel or force

    def cancel(self, job: Job, force: bool) -> None:
        """``job_user_cancel``: verb CANCEL, then ``job_cancel``."""
        self.apply_verb(job, "cancel")
        if self.mutant == "cancel-ignored":
            return
        self.cancel_async(job, force)
        if not job.started:
            self._completed(job)
        elif job.deferred:
            if job.force_cancel:
                self._txn_abort(job)
        else:
            self.enter(job)

    def pause(self, job: Job) -> None:
        """``job_pause``: one more pause request; a job not parked is kicked to its pause point."""
        job.pause_count += 1
        if not job.paused:
            self.enter(job)

    def resume(self, job: Job) -> None:
        """``job_resume``: one pause request fewer; at zero the job is entered."""
        job.pause_count -= 1
        if job.pause_count <= 0:
            self.enter(job, "no-timer")

    def user_pause(self, job: Job) -> None:
        self.apply_verb(job, "pause")
        if job.user_paused:
            if self.mutant == "pause-when-already-paused":
                return
            raise QmpFailure("Job is already paused")
        job.user_paused = True
        if self.mutant == "pause-not-kicked":
            job.pause_count += 1  # the request is taken, but the job is not woken to see it
            return
        self.pause(job)

    def user_resume(self, job: Job) -> None:
        if not job.user_paused or job.pause_count <= 0:
            if self.mutant == "resume-when-not-paused":
                self.apply_verb(job, "resume")
                return
            raise QmpFailure("Can't resume a job that was not paused")
        self.apply_verb(job, "resume")
        job.iostatus = "ok"
        job.user_paused = False
        if self.mutant == "no-event-on-resume":
            job.silent_resume = True
        if self.mutant == "resume-not-kicked":
            job.pause_count -= 1  # the request is dropped, but the job is not woken
            return
        self.resume(job)

    def complete(self, job: Job) -> None:
        """``job_complete`` and the mirror driver's ``.complete``."""
        self.apply_verb(job, "complete")
        cancelled = job.cancelled and self.mutant != "complete-after-cancel"
        ready = job.is_ready or self.mutant == "complete-in-running"
        if cancelled or not job.ready_phase or not ready:
            raise QmpFailure(f"The active block job '{job.id}' cannot be completed")
        if self.mutant == "complete-ignored":
            return
        job.should_complete = True
        if not job.paused:
            self.enter(job)

    def finalize(self, job: Job) -> None:
        self.apply_verb(job, "finalize")
        if self.mutant != "finalize-ignored":
            self._do_finalize(job)

    def dismiss(self, job: Job) -> None:
        self.apply_verb(job, "dismiss")
        if self.mutant != "dismiss-ignored":
            self.do_dismiss(job)

    def set_speed(self, job: Job, speed: int) -> None:
        """``block_job_set_speed``: raising the speed, or setting 0, kicks a sleeping job."""
        self.apply_verb(job, "set-speed")
        if speed < 0:
            raise QmpFailure("Parameter 'speed' expects a non-negative value")
        old, job.speed = job.speed, speed
        if speed and not old:
            job.quota = 0
        if speed and speed <= old:
            return
        if not speed and self.mutant == "release-not-kicked":
            return  # unthrottled, but left asleep in its rate-limit wait
        self.enter(job, "timer")

    def change(self, job: Job, copy_mode: str) -> None:
        """``block_job_change``: only the mirror driver has ``.change``."""
        self.apply_verb(job, "change")
        if job.kind != "mirror":
            raise QmpFailure("Job type does not support change")
        if copy_mode == job.copy_mode:
            return
        if copy_mode != "write-blocking":
            raise QmpFailure(f"Change to copy mode '{copy_mode}' is not implemented")
        job.copy_mode = copy_mode

    def drain_all(self) -> None:
        """``bdrv_drain_all``: pause every block job, wait until none is busy, resume them."""
        jobs = [job for job in self.jobs.values() if job.block]
        for job in jobs:
            self.pause(job)
        self._poll_while(
            lambda: any(job.busy and not self.completed(job) for job in jobs),
            "a drained job does not stop",
        )
        for job in jobs:
            if self.jobs.get(job.id) is job:
                self.resume(job)

    def abort_created(self, job: Job) -> None:
        """Tear down a created, never started job (a failed transaction): C→X→E→N."""
        self.cancel_async(job, True)
        self._completed(job)


def _well_formed(job_id: str) -> bool:
    """QEMU's ``id_wellformed``: a letter, then letters, digits, ``-``, ``.``, ``_``."""
    return (
        bool(job_id)
        and job_id[0].isascii()
        and job_id[0].isalpha()
        and all(c.isascii() and (c.isalnum() or c in "-._") for c in job_id)
    )
