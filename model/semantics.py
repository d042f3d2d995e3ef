"""What a verb does to a job, beyond the verb table: QEMU's refinements, per version.

The tables of :mod:`jobcheck.model.lifecycle` say which verbs a *status*
permits.  QEMU decides a verb's outcome on more than the status: whether the
job was paused by the user or only by a drained section, whether a cancel was
already requested, whether the job type has a ready phase or is a block job at
all, and which family of command (``job-*`` or ``block-job-*``) was used.  This
module is that decision, written from QEMU's ``job.c``/``job-qmp.c``/
``blockdev.c`` behaviour (docs/qemu-job-engine.md, 'Order of checks per verb' and
'Error texts'; measured: docs/driving-qemu.md, 'Verb and status matrix of 7.2.22'):

* :class:`AbstractJob` — a status plus the flags that refine it;
* :func:`apply_verb` — accepted or refused, with the exact QMP error class and
  text QEMU gives (job id, state and verb filled in), the refined job, and the
  *set* of statuses the job may move through afterwards (nondeterminism is a
  set of allowed outcomes, never a guess);
* :func:`silent_successors` / :func:`reachable` — the steps a job takes on its
  own (a drained section, its work converging or ending, an I/O error,
  auto-finalize, auto-dismiss), i.e. the transitions whose events a client may
  still be waiting for;
* :func:`parse_error` — the inverse of the templates, for logs that show a
  refusal without the command that caused it.

An outcome that QEMU gives but the documentation of that version contradicts
names the rule in :attr:`Outcome.known` (a documented-vs-implemented
divergence of the rule catalogue, :mod:`jobcheck.model.rules`).  Pure: no I/O.

Example — a job paused only by a drained section, in QEMU 7.2::

    >>> from jobcheck.model.lifecycle import MODELS, JobType, Status, Verb
    >>> job = AbstractJob.of(JobType.MIRROR, "j", Status.PAUSED, drain_paused=True)
    >>> out = apply_verb(MODELS["7.2"], job, Verb.RESUME)
    >>> out.error
    "Can't resume a job that was not paused"
    >>> print(out.known)
    job-resume.not-paused-is-error
    >>> apply_verb(MODELS["7.2"], job, Verb.PAUSE).accepted
    True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal

from jobcheck.model import rules as _rules
from jobcheck.model.lifecycle import BLOCK_JOB_TYPES, MODELS, JobType, Model, Status, Verb
from jobcheck.model.rules import RuleId
from jobcheck.model.status_letters import C, D, E, N, P, R, S, U, W, X, Y

Family = Literal["job", "block-job"]

GENERIC_ERROR = "GenericError"
DEVICE_NOT_ACTIVE = "DeviceNotActive"
COMMAND_NOT_FOUND = "CommandNotFound"

#: The permission rule that a verb-table refusal (or a forbidden acceptance) of a verb falls
#: under: the verb's own rule where the catalogue has one, the generic table rule otherwise.
VERB_TABLE_RULE: dict[Verb, RuleId] = {
    Verb.COMPLETE: RuleId.JOB_COMPLETE_ONLY_READY,
    Verb.DISMISS: RuleId.JOB_DISMISS_ONLY_CONCLUDED,
    Verb.FINALIZE: RuleId.JOB_FINALIZE_ONLY_PENDING,
}


#: Job types whose run loop has pause points (a pause or a drain can park them).
PAUSE_POINT_TYPES: frozenset[JobType] = BLOCK_JOB_TYPES


class Refusal(StrEnum):
    """Why QEMU refused a verb: one member per error template."""

    VERB = "verb"
    """``Job '%s' in state '%s' cannot accept command verb '%s'``"""
    ALREADY_PAUSED = "already-paused"
    """``Job is already paused``"""
    NOT_PAUSED = "not-paused"
    """``Can't resume a job that was not paused``"""
    CURRENTLY_PAUSED = "currently-paused"
    """``The block job for device '%s' is currently paused``"""
    CANNOT_COMPLETE = "cannot-complete"
    """``The active block job '%s' cannot be completed``"""
    NOT_FOUND = "not-found"
    """``Job not found``"""
    BLOCK_NOT_FOUND = "block-not-found"
    """``Block job '%s' not found`` (class DeviceNotActive)"""
    NEGATIVE_SPEED = "negative-speed"
    """``Parameter 'speed' expects a non-negative value`` (``Invalid parameter 'speed'`` ≤ 4.2)"""
    CHANGE_UNSUPPORTED = "change-unsupported"
    """``Job type does not support change``"""
    COPY_MODE = "copy-mode"
    """``Change to copy mode '%s' is not implemented``"""
    COMMAND_NOT_FOUND = "command-not-found"
    """``The command %s has not been found`` (class CommandNotFound)"""


#: The rule each kind of refusal enforces (verb-table refusals: see :data:`VERB_TABLE_RULE`).
REFUSAL_RULE: dict[Refusal, RuleId] = {
    Refusal.VERB: RuleId.VERB_PERMISSION_TABLE,
    Refusal.ALREADY_PAUSED: RuleId.JOB_PAUSE_ALREADY_PAUSED_IS_ERROR,
    Refusal.NOT_PAUSED: RuleId.JOB_RESUME_NOT_PAUSED_IS_ERROR,
    Refusal.CURRENTLY_PAUSED: RuleId.JOB_PAUSE_CANCEL_RESUMES,
    Refusal.CANNOT_COMPLETE: RuleId.JOB_COMPLETE_NOT_AFTER_CANCEL,
    Refusal.NOT_FOUND: RuleId.JOB_ID_NAMES_A_JOB,
    Refusal.BLOCK_NOT_FOUND: RuleId.BLOCK_JOB_DEVICE_NOT_ACTIVE,
    Refusal.NEGATIVE_SPEED: RuleId.VERB_PERMISSION_TABLE,
    Refusal.CHANGE_UNSUPPORTED: RuleId.VERB_PERMISSION_TABLE,
    Refusal.COPY_MODE: RuleId.VERB_PERMISSION_TABLE,
    Refusal.COMMAND_NOT_FOUND: RuleId.VERB_PERMISSION_TABLE,
}


@dataclass(frozen=True, slots=True)
class AbstractJob:
    """A job as the verb checks see it: its status and the flags that refine it.

    Use :meth:`of` to derive ``block_job``, ``ready_phase`` and
    ``pause_points`` from the job type.
    """

    id: str
    status: Status
    type: JobType | None = None
    """``None``: a job of unknown type (the other fields then say what it can do)."""
    block_job: bool = True
    """A block job (backup, commit, mirror, stream): ``block-job-*`` commands find it."""
    ready_phase: bool = False
    """Mirror or active commit: converges to ``ready`` and has a ``.complete`` handler."""
    pause_points: bool = True
    """The job's run loop has pause points (block jobs; create/amend/snapshot jobs do not)."""
    user_paused: bool = False
    """Paused through QMP (or by an I/O error with policy ``stop``): QEMU's ``user_paused``."""
    drain_paused: bool = False
    """Paused by a drained section (a pause reference that is not the user's)."""
    auto_finalize: bool = True
    auto_dismiss: bool = True
    txn_held: bool = False
    """A grouped-transaction partner has auto-finalize=false, so this job waits in pending
    for a job-finalize even if its own auto-finalize is true."""
    cancel_requested: bool = False
    """A cancel (soft or force) was requested: QEMU's ``job_cancel_requested()``."""
    force_cancel: bool = False
    should_complete: bool = False
    """job-complete was accepted (or a soft cancel in ready asked the mirror to converge)."""
    finalize_requested: bool = False
    deferred: bool = False
    """The job's ``.run`` has returned (``deferred_to_main_loop``)."""
    started: bool = True
    """The job left ``created`` (a never-started job is dismissed automatically)."""
    copy_mode: str = "background"
    """Mirror only: the current copy mode (``block-job-change``)."""

    @classmethod
    def of(
        cls,
        job_type: JobType | None,
        id: str,
        status: Status,
        *,
        active: bool | None = None,
        **flags: Any,
    ) -> AbstractJob:
        """A job of ``job_type`` with its type-derived fields; commit is active if ``active``.

        ``flags`` set any other field (``user_paused=True``, …).
        """
        base = cls(id, status, job_type)
        if job_type is not None:
            ready = job_type is JobType.MIRROR or (job_type is JobType.COMMIT and bool(active))
            base = cls(
                id,
                status,
                job_type,
                block_job=job_type in BLOCK_JOB_TYPES,
                ready_phase=ready,
                pause_points=job_type in PAUSE_POINT_TYPES,
            )
        return replace(base, **flags)

    @property
    def pause_count(self) -> int:
        """QEMU's ``pause_count`` as far as the flags tell (user pause plus drains)."""
        return int(self.user_paused) + int(self.drain_paused)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What QEMU does with one verb sent to one job."""

    accepted: bool
    refusal: Refusal | None = None
    error_class: str | None = None
    error: str | None = None
    """The exact ``desc`` of the QMP error (``None`` when accepted)."""
    rule: RuleId | None = None
    """The rule that decides a refusal (``None`` for an acceptance)."""
    known: RuleId | None = None
    """The rule whose documentation this outcome contradicts, where the catalogue names that
    as a known documented-vs-implemented divergence for the model's version."""
    job: AbstractJob | None = None
    """The job's flags right after the command (its status is unchanged: status changes
    arrive as events)."""
    then: frozenset[Status] = frozenset()
    """Every status the job may move through afterwards, until it waits for another command."""

    @property
    def key(self) -> tuple[bool, str | None, str | None]:
        """What a client sees: ``(accepted, error class, error text)``."""
        return (self.accepted, self.error_class, self.error)

    def describe(self) -> str:
        """``accepted`` or ``refused (Class: text)``, for messages."""
        return "accepted" if self.accepted else f"refused ({self.error_class}: {self.error})"


# --- error texts ------------------------------------------------------------------------


def verb_error(job_id: str, status: Status | str, verb: Verb | str) -> str:
    """``Job 'j' in state 'running' cannot accept command verb 'complete'``."""
    return f"Job '{job_id}' in state '{status}' cannot accept command verb '{verb}'"


ALREADY_PAUSED = "Job is already paused"
NOT_PAUSED = "Can't resume a job that was not paused"
JOB_NOT_FOUND = "Job not found"
CHANGE_UNSUPPORTED = "Job type does not support change"


def currently_paused_error(job_id: str) -> str:
    return f"The block job for device '{job_id}' is currently paused"


def cannot_complete_error(job_id: str) -> str:
    return f"The active block job '{job_id}' cannot be completed"


def block_not_found_error(job_id: str) -> str:
    return f"Block job '{job_id}' not found"


#: The text of a negative-speed refusal, keyed by the model version of the first release
#: that gives it: QEMU 5.0 changed it (commit 1ef7d9d368 "blockjob: Fix error message for
#: negative speed"; in 2.12 each driver's ``set_speed`` gave the old text).
NEGATIVE_SPEED_TEXTS: dict[str, str] = {
    "2.12": "Invalid parameter 'speed'",
    "5.0": "Parameter 'speed' expects a non-negative value",
}


def negative_speed_error(model: Model) -> str:
    """The text QEMU ``model`` gives for a negative speed (:data:`NEGATIVE_SPEED_TEXTS`).

    >>> from jobcheck.model.lifecycle import model_for
    >>> negative_speed_error(model_for("4.2.1"))
    "Invalid parameter 'speed'"
    >>> negative_speed_error(model_for("5.0.0"))
    "Parameter 'speed' expects a non-negative value"
    """
    releases = {v: MODELS[v].release for v in NEGATIVE_SPEED_TEXTS}
    first = max((v for v in releases if releases[v] <= model.release), key=releases.__getitem__)
    return NEGATIVE_SPEED_TEXTS[first]


def copy_mode_error(mode: str) -> str:
    return f"Change to copy mode '{mode}' is not implemented"


def command_not_found_error(command: str) -> str:
    return f"The command {command} has not been found"


def command_name(verb: Verb, family: Family = "job") -> str:
    """The QMP command of a verb: ``job-pause``, ``block-job-pause``, ``block-job-set-speed``."""
    if verb is Verb.SET_SPEED or verb is Verb.CHANGE:
        return f"block-job-{verb.value}"
    return f"{family}-{verb.value}"


#: Every verb command: QMP command name → (verb, family).
VERB_COMMANDS: dict[str, tuple[Verb, Family]] = {
    **{f"job-{v.value}": (v, "job") for v in Verb if v not in (Verb.SET_SPEED, Verb.CHANGE)},
    **{f"block-job-{v.value}": (v, "block-job") for v in Verb},
}


@dataclass(frozen=True, slots=True)
class ErrorText:
    """A QMP error text taken apart: which template, and the values filled in."""

    refusal: Refusal
    job_id: str | None = None
    status: str | None = None
    """The state named by a verb-table refusal (as written; may be no known status)."""
    verb: str | None = None
    """The verb named by a verb-table refusal (as written; may be no known verb)."""
    detail: str | None = None
    """The copy mode (``COPY_MODE``) or the command (``COMMAND_NOT_FOUND``)."""


_VERB_RE = re.compile(r"^Job '(.*)' in state '([^']*)' cannot accept command verb '([^']*)'$")
_ID_TEMPLATES: tuple[tuple[re.Pattern[str], Refusal], ...] = (
    (
        re.compile(r"^The block job for device '(.*)' is currently paused$"),
        Refusal.CURRENTLY_PAUSED,
    ),
    (re.compile(r"^The active block job '(.*)' cannot be completed$"), Refusal.CANNOT_COMPLETE),
    (re.compile(r"^Block job '(.*)' not found$"), Refusal.BLOCK_NOT_FOUND),
)
_FIXED: dict[str, Refusal] = {
    ALREADY_PAUSED: Refusal.ALREADY_PAUSED,
    NOT_PAUSED: Refusal.NOT_PAUSED,
    JOB_NOT_FOUND: Refusal.NOT_FOUND,
    CHANGE_UNSUPPORTED: Refusal.CHANGE_UNSUPPORTED,
    **{text: Refusal.NEGATIVE_SPEED for text in NEGATIVE_SPEED_TEXTS.values()},
}
_COPY_MODE_RE = re.compile(r"^Change to copy mode '(.*)' is not implemented$")
_COMMAND_RE = re.compile(r"^The command (\S+) has not been found$")


def parse_error(desc: str) -> ErrorText | None:
    """Which job-verb error template ``desc`` is, with its values; ``None`` if none.

    >>> parse_error("Job 'j' in state 'running' cannot accept command verb 'complete'")
    ErrorText(refusal=<Refusal.VERB: 'verb'>, job_id='j', status='running', verb='complete', \
detail=None)
    """
    fixed = _FIXED.get(desc)
    if fixed is not None:
        return ErrorText(fixed)
    match = _VERB_RE.match(desc)
    if match:
        return ErrorText(Refusal.VERB, match.group(1), match.group(2), match.group(3))
    for pattern, refusal in _ID_TEMPLATES:
        match = pattern.match(desc)
        if match:
            return ErrorText(refusal, match.group(1))
    match = _COPY_MODE_RE.match(desc)
    if match:
        return ErrorText(Refusal.COPY_MODE, detail=match.group(1))
    match = _COMMAND_RE.match(desc)
    if match:
        return ErrorText(Refusal.COMMAND_NOT_FOUND, detail=match.group(1))
    return None


# --- known divergences ------------------------------------------------------------------


def known_for(rule_id: RuleId, model: Model) -> RuleId | None:
    """``rule_id`` if the catalogue names a known divergence of it for ``model``, else None."""
    return _known_for(rule_id, model.version)


@functools.lru_cache(maxsize=1024)
def _known_for(rule_id: RuleId, version: str) -> RuleId | None:
    entry = _rules.RULES.get(rule_id)
    if entry is None or entry.known_divergence is None:
        return None
    if not entry.applies_to(version):
        return None
    return rule_id if entry.known_divergence.applies_to(version) else None


def documented(rule_id: RuleId, model: Model) -> bool:
    """Whether the documentation of ``model``'s version makes the claim of ``rule_id``.

    Rules the catalogue does not have count as documented.
    """
    return _documented(rule_id, model.version)


@functools.lru_cache(maxsize=1024)
def _documented(rule_id: RuleId, version: str) -> bool:
    entry = _rules.RULES.get(rule_id)
    return entry is None or entry.applies_to(version)


# --- silent steps -----------------------------------------------------------------------


def silent_successors(model: Model, job: AbstractJob) -> frozenset[Status]:
    """The statuses ``job`` may move to next on its own, without another QMP command.

    These are the steps whose events a client may still be waiting for: a
    drained section (running→paused→running, ready→standby→ready), the work
    converging (running→ready) or ending (running→waiting), an I/O error or a
    transaction partner's failure (→aborting), auto-finalize, auto-dismiss,
    and the effects of commands already accepted (a landed user pause, an
    accepted complete, finalize or cancel).
    """
    s = job.status
    out: set[Status]
    if s is U:
        out = {C}
    elif s is C:
        out = {R, X, N}
    elif s is R:
        if job.force_cancel:
            out = {X}
        else:
            out = {W, X}
            if job.pause_points:
                out.add(P)
            if job.ready_phase and not job.cancel_requested:
                out.add(Y)
    elif s is P:
        out = set() if job.user_paused and not job.force_cancel else {R}
    elif s is Y:
        if job.force_cancel:
            out = {X}
        else:
            out = {X}
            if job.pause_points:
                out.add(S)
            if job.should_complete or job.cancel_requested:
                out.add(W)
    elif s is S:
        out = set() if job.user_paused and not job.force_cancel else {Y}
    elif s is W:
        out = {X} if job.force_cancel else {D, X}
    elif s is D:
        if job.force_cancel:
            out = {X}
        elif job.finalize_requested or (job.auto_finalize and not job.txn_held):
            out = {E, X}
        else:
            out = set()
    elif s is X:
        out = {E}
    elif s is E:
        out = {N} if job.auto_dismiss or not job.started else set()
    else:
        out = set()
    return frozenset(t for t in out if model.allows(s, t))


def reachable(model: Model, job: AbstractJob) -> frozenset[Status]:
    """Every status ``job`` may reach on its own (:func:`silent_successors`, repeatedly).

    The job's own status is included only if it can come back to it.
    """
    seen: set[Status] = set()
    todo = list(silent_successors(model, job))
    while todo:
        status = todo.pop()
        if status in seen:
            continue
        seen.add(status)
        todo.extend(silent_successors(model, replace(job, status=status)) - seen)
    return frozenset(seen)


# --- verbs ------------------------------------------------------------------------------


def apply_verb(
    model: Model,
    job: AbstractJob | None,
    verb: Verb,
    family: Family = "job",
    force: bool | None = None,
    *,
    job_id: str | None = None,
    speed: int | None = None,
    copy_mode: str | None = None,
    then: bool = True,
) -> Outcome:
    """The outcome of sending ``verb`` to ``job`` (``None``: no job has that id) in ``model``.

    ``family`` is ``job`` (``job-pause {"id": …}``) or ``block-job``
    (``block-job-pause {"device": …}``); ``set-speed`` and ``change`` exist
    only in the block family.  ``force`` is block-job-cancel's argument
    (job-cancel always forces).  ``speed`` is block-job-set-speed's,
    ``copy_mode`` block-job-change's.  ``job_id`` names the job when ``job``
    is ``None``.  With ``then=False`` :attr:`Outcome.then` is left empty (it
    is the costly part).  The checks run in QEMU's order (docs/qemu-job-engine.md,
    'Order of checks per verb').
    """
    if verb is Verb.SET_SPEED or verb is Verb.CHANGE:
        family = "block-job"
    command = command_name(verb, family)
    if (family == "job" and not model.job_commands) or verb not in model.permitted:
        return _refuse(
            Refusal.COMMAND_NOT_FOUND, COMMAND_NOT_FOUND, command_not_found_error(command)
        )
    name = job.id if job is not None else (job_id or "")
    if job is None or job.status in (U, N):
        if family == "job":
            return _refuse(Refusal.NOT_FOUND, GENERIC_ERROR, JOB_NOT_FOUND)
        return _refuse(Refusal.BLOCK_NOT_FOUND, DEVICE_NOT_ACTIVE, block_not_found_error(name))
    if family == "block-job" and not job.block_job:
        return _refuse(
            Refusal.BLOCK_NOT_FOUND,
            DEVICE_NOT_ACTIVE,
            block_not_found_error(name),
            known=known_for(RuleId.BLOCK_JOB_DEVICE_NOT_ACTIVE, model),
            job=job,
        )
    handler = _HANDLERS[verb]
    return handler(model, job, family, force, speed, copy_mode, then)


def _refuse(
    refusal: Refusal,
    error_class: str,
    text: str,
    *,
    rule: RuleId | None = None,
    known: RuleId | None = None,
    job: AbstractJob | None = None,
) -> Outcome:
    return Outcome(
        False, refusal, error_class, text, rule or REFUSAL_RULE[refusal], known, job, frozenset()
    )


def _table_refusal(model: Model, job: AbstractJob, verb: Verb) -> Outcome | None:
    if model.permits(verb, job.status):
        return None
    return _refuse(
        Refusal.VERB,
        GENERIC_ERROR,
        verb_error(job.id, job.status, verb),
        rule=VERB_TABLE_RULE.get(verb, RuleId.VERB_PERMISSION_TABLE),
        job=job,
    )


def _accept(
    model: Model,
    after: AbstractJob,
    first: Iterable[Status] = (),
    known: RuleId | None = None,
    *,
    then: bool = True,
) -> Outcome:
    """Accepted: ``first`` are direct effects, then whatever the job does on its own."""
    if not then:
        return Outcome(True, known=known, job=after)
    statuses: set[Status] = set(reachable(model, after))
    for status in first:
        statuses.add(status)
        statuses |= reachable(model, replace(after, status=status))
    return Outcome(True, known=known, job=after, then=frozenset(statuses))


def _cancel(
    model: Model,
    job: AbstractJob,
    family: Family,
    force: bool | None,
    speed: int | None,
    copy_mode: str | None,
    then: bool,
) -> Outcome:
    forced = True if family == "job" else bool(force)
    if family == "block-job" and job.user_paused and not forced:
        return _refuse(
            Refusal.CURRENTLY_PAUSED,
            GENERIC_ERROR,
            currently_paused_error(job.id),
            known=known_for(RuleId.JOB_PAUSE_CANCEL_RESUMES, model),
            job=job,
        )
    refused = _table_refusal(model, job, Verb.CANCEL)
    if refused is not None:
        return refused
    status = job.status
    if status is C:
        after = replace(job, cancel_requested=True, force_cancel=True, user_paused=False)
        return Outcome(True, job=after, then=frozenset({X, E, N}) if then else frozenset())
    # The driver may turn a soft cancel into a force cancel: only a mirror (or active
    # commit) in ready/standby is soft-cancelled; every other job is force-cancelled.
    effective = forced or not (job.ready_phase and status in (Y, S))
    ignored = not effective and job.deferred and model.release >= (6, 2)
    after = replace(job, user_paused=False)
    if not ignored:
        after = replace(
            after,
            cancel_requested=True,
            force_cancel=job.force_cancel or effective,
            should_complete=job.should_complete or not effective,
        )
    first: list[Status] = []
    if status is P and not job.drain_paused:
        first.append(R)
    elif status is S and not job.drain_paused:
        first.append(Y)
    return _accept(model, after, first, then=then)


def _pause(
    model: Model,
    job: AbstractJob,
    family: Family,
    force: bool | None,
    speed: int | None,
    copy_mode: str | None,
    then: bool,
) -> Outcome:
    refused = _table_refusal(model, job, Verb.PAUSE)
    if refused is not None:
        return refused
    if job.user_paused:
        # Documented: pausing a paused job is an error.  QEMU tests the user-pause flag, so
        # a user-paused job that has not reached its pause point (still running) errors too.
        known = (
            known_for(RuleId.JOB_PAUSE_ALREADY_PAUSED_IS_ERROR, model)
            if job.status in (C, R, Y)
            else None
        )
        return _refuse(Refusal.ALREADY_PAUSED, GENERIC_ERROR, ALREADY_PAUSED, known=known, job=job)
    # A job paused only by a drained section accepts a user pause (the documentation says
    # pausing an already paused job is an error).
    known = (
        known_for(RuleId.JOB_PAUSE_ALREADY_PAUSED_IS_ERROR, model) if job.status in (P, S) else None
    )
    after = replace(job, user_paused=True)
    return _accept(model, after, known=known, then=then)


def _resume(
    model: Model,
    job: AbstractJob,
    family: Family,
    force: bool | None,
    speed: int | None,
    copy_mode: str | None,
    then: bool,
) -> Outcome:
    if not job.user_paused:
        # Checked before the verb table.  Documented: resuming a job that is not paused is
        # an error; a drain-paused job *is* paused, and waiting/pending/concluded should
        # get the verb error.
        known = None
        if job.status in (P, S, W, D, X, E):
            known = known_for(RuleId.JOB_RESUME_NOT_PAUSED_IS_ERROR, model)
        return _refuse(Refusal.NOT_PAUSED, GENERIC_ERROR, NOT_PAUSED, known=known, job=job)
    refused = _table_refusal(model, job, Verb.RESUME)
    if refused is not None:
        return refused
    after = replace(job, user_paused=False)
    # Accepted for a user-paused job still running (the pause has not landed): the
    # documentation says resuming a running job is an error.
    known = (
        known_for(RuleId.JOB_RESUME_NOT_PAUSED_IS_ERROR, model) if job.status in (C, R, Y) else None
    )
    first: list[Status] = []
    if not job.drain_paused:
        if job.status is P:
            first.append(R)
        elif job.status is S:
            first.append(Y)
    return _accept(model, after, first, known=known, then=then)


def _complete(
    model: Model,
    job: AbstractJob,
    family: Family,
    force: bool | None,
    speed: int | None,
    copy_mode: str | None,
    then: bool,
) -> Outcome:
    refused = _table_refusal(model, job, Verb.COMPLETE)
    if refused is not None:
        return refused
    paused_refused = model.verb_table == "A" and job.pause_count > 0
    if job.cancel_requested or not job.ready_phase or paused_refused:
        return _refuse(
            Refusal.CANNOT_COMPLETE, GENERIC_ERROR, cannot_complete_error(job.id), job=job
        )
    known = known_for(RuleId.JOB_COMPLETE_ONLY_READY, model) if job.status is S else None
    return _accept(model, replace(job, should_complete=True), known=known, then=then)


def _finalize(
    model: Model,
    job: AbstractJob,
    family: Family,
    force: bool | None,
    speed: int | None,
    copy_mode: str | None,
    then: bool,
) -> Outcome:
    refused = _table_refusal(model, job, Verb.FINALIZE)
    if refused is not None:
        return refused
    known = known_for(RuleId.JOB_FINALIZE_ONLY_MANUAL, model) if job.auto_finalize else None
    return _accept(model, replace(job, finalize_requested=True), known=known, then=then)


def _dismiss(
    model: Model,
    job: AbstractJob,
    family: Family,
    force: bool | None,
    speed: int | None,
    copy_mode: str | None,
    then: bool,
) -> Outcome:
    refused = _table_refusal(model, job, Verb.DISMISS)
    if refused is not None:
        return refused
    return Outcome(True, job=job, then=frozenset({N}) if then else frozenset())


def _set_speed(
    model: Model,
    job: AbstractJob,
    family: Family,
    force: bool | None,
    speed: int | None,
    copy_mode: str | None,
    then: bool,
) -> Outcome:
    refused = _table_refusal(model, job, Verb.SET_SPEED)
    if refused is not None:
        return refused
    if speed is not None and speed < 0:
        return _refuse(Refusal.NEGATIVE_SPEED, GENERIC_ERROR, negative_speed_error(model), job=job)
    return _accept(model, job, then=then)


def _change(
    model: Model,
    job: AbstractJob,
    family: Family,
    force: bool | None,
    speed: int | None,
    copy_mode: str | None,
    then: bool,
) -> Outcome:
    refused = _table_refusal(model, job, Verb.CHANGE)
    if refused is not None:
        return refused
    if job.type is not JobType.MIRROR:
        return _refuse(Refusal.CHANGE_UNSUPPORTED, GENERIC_ERROR, CHANGE_UNSUPPORTED, job=job)
    target = copy_mode or "write-blocking"
    if target != "write-blocking" and target != job.copy_mode:
        return _refuse(Refusal.COPY_MODE, GENERIC_ERROR, copy_mode_error(target), job=job)
    return _accept(model, replace(job, copy_mode=target), then=then)


_HANDLERS = {
    Verb.CANCEL: _cancel,
    Verb.PAUSE: _pause,
    Verb.RESUME: _resume,
    Verb.COMPLETE: _complete,
    Verb.FINALIZE: _finalize,
    Verb.DISMISS: _dismiss,
    Verb.SET_SPEED: _set_speed,
    Verb.CHANGE: _change,
}
