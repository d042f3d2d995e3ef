"""The oracle's bookkeeping: the jobs it tracks, their windows, obligations and reporting.

:class:`OracleCore` holds the state that every check of
:mod:`jobcheck.conformance.oracle` shares: the live jobs (one
:class:`~jobcheck.conformance.oracle.job_state.JobState` each), a bounded memory of
gone job ids, and the divergences found for the record being checked.  The
checks themselves live in :mod:`.events`, :mod:`.verbs` and
:mod:`.queries`; :class:`jobcheck.conformance.oracle.Oracle` combines
them.  Pure: no I/O.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jobcheck.conformance.oracle.divergence import Divergence, Indeterminate
from jobcheck.conformance.oracle.job_state import (
    ALL_STATUSES,
    JobState,
    Obligation,
    reach_all,
    silent_window,
    window_key,
)
from jobcheck.conformance.trace.job_commands import StartInfo, VerbCall
from jobcheck.conformance.trace.records import Command, Meta
from jobcheck.model.lifecycle import BLOCK_JOB_TYPES, JobType, Model, Status
from jobcheck.model.rules import RULES, RuleId
from jobcheck.model.semantics import documented, known_for

#: The most commands waiting for a response that the oracle remembers.
MAX_PENDING_COMMANDS = 4096
#: How many gone (null) job ids the oracle remembers, to recognise events after null.
MAX_GONE_JOBS = 4096
#: The most open obligations per job (the oldest is dropped beyond).
MAX_OBLIGATIONS = 16


@dataclass(slots=True)
class PendingCommand:
    """A command waiting for its response."""

    command: Command
    index: int
    """The record index of the command."""
    kind: str
    starts: tuple[StartInfo, ...] = ()
    verb: VerbCall | None = None
    job: JobState | None = None
    """The job a verb addressed, as it was when the command was sent (kept even if the
    job reaches null before the response: its history tells what it went through)."""


@dataclass(frozen=True, slots=True)
class GoneJob:
    """What is remembered of a job after its ``null``."""

    type: JobType | None
    index: int
    """The record index of its ``null`` event."""
    dismissed: bool = False
    """A job-dismiss for it was sent (it did not go to null on its own)."""


def documented_text(rule: RuleId) -> str:
    """What the documentation says, in the rule catalogue's words, as a clause.

    >>> documented_text(RuleId.JOB_COMPLETE_ONLY_READY)
    'complete is accepted only in ready (the 10.1+ text says ready or standby)'
    """
    entry = RULES.get(rule)
    if entry is None:
        return f"what rule {rule} says"
    text = entry.text.rstrip(".")
    return f"{text[:1].lower()}{text[1:]}"


def names(statuses: Iterable[Status]) -> str:
    """``{running, paused}``, in QAPI order."""
    order = list(Status)
    return "{" + ", ".join(s.value for s in sorted(statuses, key=order.index)) + "}"


VerbCache = dict[object, dict[tuple[bool, str | None, str | None], Any]]
_VERB_CACHES: dict[int, tuple[Model, VerbCache, dict[object, frozenset[RuleId]]]] = {}


def _verb_caches(model: Model) -> tuple[VerbCache, dict[object, frozenset[RuleId]]]:
    """The verb-outcome caches of ``model`` (keyed by identity: a model is not hashable;
    the entry keeps the model alive, so its id is not reused)."""
    entry = _VERB_CACHES.get(id(model))
    if entry is None:
        entry = _VERB_CACHES[id(model)] = (model, {}, {})
    return entry[1], entry[2]


class OracleCore:
    """State and helpers shared by the oracle's checks.

    :class:`jobcheck.conformance.oracle.Oracle` combines it with the checks.
    """

    def __init__(self, model: Model, meta: Meta | None = None, *, path: str | None = None):
        self.model = model
        self.meta = meta
        self.path = path
        self.wire = meta is None or meta.order == "wire"
        self.records = 0
        """Records fed so far."""
        self.jobs = 0
        """Job instances seen so far."""
        self._jobs: dict[str, JobState] = {}
        self._gone: OrderedDict[str, GoneJob] = OrderedDict()
        self._failed_starts: OrderedDict[str, StartInfo] = OrderedDict()
        self._by_id: OrderedDict[object, PendingCommand] = OrderedDict()
        self._fifo: deque[PendingCommand] = deque()
        self._commands_seen = False
        self._first_command = -1
        """The record index of the first command since the last reset (-1: none yet)."""
        self._reach = reach_all(model)
        self._verb_cache, self._stakes = _verb_caches(model)
        """Verb outcomes, and per cache key of verb outcomes the rules they put to the
        test: shared by every oracle of the same model (they depend on nothing else)."""
        self._outcomes_key: object = None
        """The cache key of the verb outcomes computed last."""
        self._out: list[Divergence] = []
        self._index = 0
        self._line = 0
        self._awaited: dict[str, tuple[Status, RuleId]] = {}
        """The jobs handed out by the last ``awaiting()``: the status each had to leave."""
        self.undecided: list[Indeterminate] = []
        """The eventual checks a wait could not decide, in trace order."""
        self.tally: dict[RuleId, list[int]] = {}
        """Eventual checks by rule: [passed, failed, indeterminate]."""
        self.exercised: set[RuleId] = set()
        """The rules whose checks met a record on which they could have failed (a
        divergence counts too): a rule never exercised was neither kept nor broken."""
        self._dismissed_gone = -1
        """The record index of the last null of a job that job-dismiss removed (-1: none)."""

    def reset(self) -> None:
        """Forget every job and every unanswered command (a new QEMU instance)."""
        self._jobs.clear()
        self._gone.clear()
        self._failed_starts.clear()
        self._by_id.clear()
        self._fifo.clear()
        self._commands_seen = False
        self._first_command = -1
        self._awaited.clear()

    def _tally(self, rule: RuleId, verdict: int) -> None:
        """Count one eventual check of ``rule``: 0 passed, 1 failed, 2 indeterminate (a
        decided check exercised the rule; an undecided one did not)."""
        counts = self.tally.setdefault(rule, [0, 0, 0])
        counts[verdict] += 1
        if verdict != 2:
            self.exercised.add(rule)

    def _must_leave(self, job: JobState) -> tuple[RuleId, str] | None:
        """The rule by which ``job`` must leave its status by itself (see
        :class:`~jobcheck.conformance.oracle.eventually.EventualChecks`, which decides it)."""
        return None

    def _commands_seen_before(self, index: int) -> bool:
        """Whether a command was sent before record ``index`` (since the last reset)."""
        return 0 <= self._first_command < index

    # --- reporting --------------------------------------------------------------------

    def _exercise(self, *rules: RuleId) -> None:
        """The checks of ``rules`` met a record on which they could have failed."""
        self.exercised.update(rules)

    def _divergence(
        self,
        rule: RuleId,
        job: str | None,
        what: str,
        expected: str,
        observed: str,
        *,
        known: bool = False,
        index: int | None = None,
        line: int | None = None,
    ) -> Divergence:
        subject = f"job {job!r}: " if job is not None else ""
        if known:
            message = f"{subject}{what}: QEMU {observed}; documented: {expected}"
        else:
            allows = f"model {self.model.version} allows {expected}"
            message = f"{subject}{what}; {allows}, QEMU {observed}"
        return Divergence(
            rule,
            job,
            self._index if index is None else index,
            self._line if line is None else line,
            self.path,
            expected,
            observed,
            known,
            message,
        )

    def _emit(
        self,
        rule: RuleId,
        job: JobState | str | None,
        what: str,
        expected: str,
        observed: str,
        *,
        known: bool = False,
    ) -> None:
        """Report a divergence (unless the model's documentation does not make the claim)."""
        if not documented(rule, self.model):
            return
        self._exercise(rule)
        name = job.id if isinstance(job, JobState) else job
        if known and isinstance(job, JobState):
            if rule in job.reported:
                return
            job.reported.add(rule)
        self._out.append(self._divergence(rule, name, what, expected, observed, known=known))

    def _emit_known(self, rule: RuleId, job: JobState, what: str, observed: str) -> None:
        """Report a known divergence, once per job, if the catalogue names it for the model.

        ``what`` says what happened and in which status, ``observed`` what QEMU did; the
        expected side is what the documentation says (:func:`documented_text`).
        """
        if known_for(rule, self.model) is not None:
            self._emit(rule, job, what, documented_text(rule), observed, known=True)

    # --- jobs -------------------------------------------------------------------------

    def _new_job(self, job_id: str, info: StartInfo | None, status: Status | None) -> JobState:
        """A new job record; with a start command's ``info`` the verb flags start known."""
        known: bool | None = False if (self.wire and info is not None) else None
        job = JobState(
            job_id,
            status,
            user_paused=known,
            cancel_requested=known,
            force_cancel=known,
            should_complete=known,
            finalize_requested=known,
            dismiss_requested=known,
        )
        if info is not None:
            self._apply_info(job, info)
        self._jobs[job_id] = job
        self._gone.pop(job_id, None)
        return job

    @staticmethod
    def _apply_info(job: JobState, info: StartInfo) -> None:
        job.type = info.type
        job.block_job = info.type in BLOCK_JOB_TYPES
        job.ready_phase = info.ready_phase
        job.auto_finalize = info.auto_finalize
        job.auto_dismiss = info.auto_dismiss
        job.grouped = info.grouped
        job.partners = info.partners
        job.released = info.released

    def _begin_instance(self, job: JobState) -> None:
        """Count ``job`` as an instance seen (once)."""
        if job.instance:
            return
        self.jobs += 1
        job.instance = self.jobs

    def _adopt(self, job_id: str, status: Status | None) -> JobState:
        """A job first seen in the middle of its life: its history is unknown."""
        job = self._new_job(job_id, None, status)
        job.lossy = True
        job.failed = None
        job.started = status not in (Status.CREATED, Status.UNDEFINED)
        self._begin_instance(job)
        return job

    @staticmethod
    def _learn_type(job: JobState, job_type: JobType) -> None:
        if job.type is None:
            job.type = job_type
            job.block_job = job_type in BLOCK_JOB_TYPES
            if job_type is not JobType.COMMIT and job.ready_phase is None:
                job.ready_phase = job_type is JobType.MIRROR

    def _gone_job(self, job: JobState) -> None:
        """The job reached null: settle its obligations and remember its id for a while."""
        for obligation in job.obligations:
            if Status.NULL not in obligation.statuses:
                self._out.append(obligation.divergence)
        job.obligations.clear()
        del self._jobs[job.id]
        self._gone[job.id] = GoneJob(job.type, self._index, job.dismiss_requested is True)
        if job.dismiss_requested is True:
            self._dismissed_gone = self._index
        self._gone.move_to_end(job.id)
        while len(self._gone) > MAX_GONE_JOBS:
            self._gone.popitem(last=False)
        if job.next_start is not None:
            self._new_job(job.id, job.next_start, Status.UNDEFINED)

    def _restart(self, job: JobState) -> JobState:
        """A new instance under a live id (a lossy per-job log, or after a divergence)."""
        info = job.next_start
        del self._jobs[job.id]
        return self._new_job(job.id, info, Status.UNDEFINED)

    def _partners(self, job: JobState) -> list[JobState]:
        """The live jobs that may share ``job``'s grouped transaction."""
        if job.grouped:
            return [self._jobs[p] for p in job.partners if p in self._jobs]
        if job.grouped is False:
            return []
        return [j for j in self._jobs.values() if j is not job and j.grouped is not False]

    def _txn_held(self, job: JobState) -> bool | None:
        """Whether a grouped partner with auto-finalize=false holds the job in pending."""
        if job.grouped is False:
            return False
        if job.grouped is None:
            return None
        held: bool | None = False
        for name in job.partners:
            partner = self._jobs.get(name)
            flag = partner.auto_finalize if partner is not None else None
            if flag is False:
                return True
            if flag is None:
                held = None
        return held

    # --- windows and obligations ------------------------------------------------------

    def _window(self, job: JobState, since: int | None = None) -> frozenset[Status]:
        """The statuses ``job`` may have been in since record ``since`` or may be in now."""
        status = job.status
        if status is None:
            return ALL_STATUSES
        past = job.statuses_since(since) if since is not None else frozenset({status})
        if not self.wire:
            out: set[Status] = set()
            for s in past:
                out |= self._reach[s]
            return frozenset(out)
        if job.wild or job.pending > 0:
            return past | self._reach[status]
        return past | silent_window(self.model, window_key(job, self._txn_held(job)))

    def _add_obligation(self, job: JobState, obligation: Obligation) -> None:
        if not documented(obligation.divergence.rule, self.model):
            return
        job.obligations.append(obligation)
        if len(job.obligations) > MAX_OBLIGATIONS:
            del job.obligations[0]

    def _observe(self, job: JobState, status: Status) -> None:
        """A snapshot shows the job in ``status`` now (its events may lag behind).

        An obligation says the job was in one of its statuses at an earlier time, so
        ``status`` must be reachable from one of them.
        """
        keep: list[Obligation] = []
        for obligation in job.obligations:
            if any(status in self._reach[s] for s in obligation.statuses):
                keep.append(obligation)
            else:
                self._out.append(obligation.divergence)
        job.obligations = keep

    def _discharge(self, job: JobState, status: Status) -> None:
        """Settle the obligations a new status fulfils or makes impossible."""
        keep: list[Obligation] = []
        reach = self._reach[status]
        for obligation in job.obligations:
            if status in obligation.statuses:
                continue
            if reach & obligation.statuses:
                keep.append(obligation)
            else:
                self._out.append(obligation.divergence)
        job.obligations = keep
