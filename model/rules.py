"""The catalogue of documented job semantics, one :class:`Rule` per documented claim.

Each rule turns a statement of QEMU's QAPI documentation (``qapi/job.json``, and
for the block-job rules ``qapi/block-core.json``) into something a trace can
violate.  A rule has a stable id (the contract between the oracle, the
simulator's mutants and the reports), the doc anchor it comes from, the further
anchors it covers, a one-line paraphrase in our own words, the sentence it
quotes (:class:`Quote`: worded as each range of releases words it, since the
documentation was rewritten over time), the model versions whose
documentation states it, and the names of the oracle checks that enforce it.
Where QEMU is known to behave otherwise, ``known_divergence`` says what QEMU
does instead, in which versions, and how that was established.

    >>> rule("job-pause.already-paused-is-error").anchor
    '@job-pause'
    >>> rule("job-complete.only-ready").known_divergence.applies_to("7.2.22")
    True
    >>> "job-finalize.only-manual" in {r.id for r in rules_for("7.2")}
    False
    >>> rule("job-complete.only-ready").quote_for("10.0.2")
    'Manually trigger completion of an active job in the READY state.'
    >>> rule("job-complete.only-ready").quote_for("10.1.0")
    'Manually trigger completion of an active job in the READY or STANDBY state.'

Quotes are written as the schema words them, with QAPI markup as plain text:
2.12 to 10.0 refer to definitions as ``@name`` (kept), 10.1 onwards puts
command and event names in backticks (dropped).  The quotes are checked word
for word against every release's schema by the test suite.

Pure data: nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jobcheck.model.lifecycle import MODELS, JobType, Status, Verb, model_for

_ID_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$")


class Category(StrEnum):
    """What kind of claim a rule makes."""

    TRANSITION = "transition"
    """Which status follows which (and what a verb moves a job to)."""
    PERMISSION = "permission"
    """Which verbs a job accepts in which status."""
    REFINEMENT = "refinement"
    """A verb outcome that depends on more than the status (flags, job kind)."""
    EVENT = "event"
    """Which events are emitted, and when."""
    VISIBILITY = "visibility"
    """What the management process can or cannot see (events, ``query-jobs``)."""
    PROGRESS = "progress"
    """The ``current-progress`` / ``total-progress`` fields."""
    ERROR_FIELD = "error-field"
    """The ``error`` field of ``JobInfo`` and the completion events."""
    ROBUSTNESS = "robustness"
    """Undocumented but required: QEMU must survive every command sequence."""


def _release(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def _in_range(version: str, first: str, last: str) -> bool:
    wanted = _release(model_for(version).version)
    return _release(first) <= wanted <= _release(last)


def _span(versions: tuple[str, str]) -> int:
    """How many modelled releases a (first, last) range covers."""
    first, last = (_release(v) for v in versions)
    return sum(first <= _release(v) <= last for v in MODELS)


class RuleId(StrEnum):
    """The id of every rule of the catalogue: the one name by which checks emit it.

    A member's name is its id in capitals with ``.`` and ``-`` as ``_``:
    ``RuleId.JOB_PAUSE_ALREADY_PAUSED_IS_ERROR`` is ``job-pause.already-paused-is-error``.

    >>> RuleId("status.transition-table") is RuleId.STATUS_TRANSITION_TABLE
    True
    """

    STATUS_TRANSITION_TABLE = "status.transition-table"
    STATUS_CREATED_FIRST = "status.created-first"
    STATUS_NOTHING_AFTER_NULL = "status.nothing-after-null"
    STATUS_UNDEFINED_NEVER_VISIBLE = "status.undefined-never-visible"
    STATUS_NULL_NEVER_VISIBLE = "status.null-never-visible"
    STATUS_WAITING_NOT_VISIBLE_FOR_LAST = "status.waiting-not-visible-for-last"
    STATUS_ABORTING_ENDS_CONCLUDED = "status.aborting-ends-concluded"
    STATUS_STANDBY_RETURNS_TO_READY = "status.standby-returns-to-ready"
    STATUS_READY_ONLY_FOR_READY_PHASE_JOBS = "status.ready-only-for-ready-phase-jobs"
    STATUS_PENDING_WAITS_FOR_FINALIZE = "status.pending-waits-for-finalize"
    STATUS_PENDING_AUTO_FINALIZES = "status.pending-auto-finalizes"
    STATUS_CONCLUDED_WAITS_FOR_DISMISS = "status.concluded-waits-for-dismiss"
    STATUS_CONCLUDED_AUTO_DISMISSES = "status.concluded-auto-dismisses"
    STATUS_RELEASED_JOB_FINISHES = "status.released-job-finishes"
    VERB_PERMISSION_TABLE = "verb.permission-table"
    JOB_ID_NAMES_A_JOB = "job-id.names-a-job"
    JOB_PAUSE_ALREADY_PAUSED_IS_ERROR = "job-pause.already-paused-is-error"
    JOB_PAUSE_PAUSES = "job-pause.pauses"
    JOB_PAUSE_CANCEL_RESUMES = "job-pause.cancel-resumes"
    JOB_RESUME_NOT_PAUSED_IS_ERROR = "job-resume.not-paused-is-error"
    JOB_RESUME_RESUMES = "job-resume.resumes"
    JOB_CANCEL_ABORTS = "job-cancel.aborts"
    JOB_COMPLETE_ONLY_READY = "job-complete.only-ready"
    JOB_COMPLETE_COMPLETES = "job-complete.completes"
    JOB_COMPLETE_NOT_AFTER_CANCEL = "job-complete.not-after-cancel"
    JOB_DISMISS_ONLY_CONCLUDED = "job-dismiss.only-concluded"
    JOB_DISMISS_REMOVES_JOB = "job-dismiss.removes-job"
    JOB_FINALIZE_ONLY_PENDING = "job-finalize.only-pending"
    JOB_FINALIZE_CONCLUDES = "job-finalize.concludes"
    JOB_FINALIZE_WHOLE_TRANSACTION = "job-finalize.whole-transaction"
    JOB_FINALIZE_ONLY_MANUAL = "job-finalize.only-manual"
    EVENT_STATUS_CHANGE_IS_A_CHANGE = "event.status-change-is-a-change"
    EVENT_STATUS_CHANGE_KNOWN_JOB = "event.status-change-known-job"
    QUERY_JOBS_LISTS_LIVE_JOBS = "query-jobs.lists-live-jobs"
    QUERY_JOBS_STATUS_CONSISTENT = "query-jobs.status-consistent"
    JOB_INFO_TYPE_MATCHES = "job-info.type-matches"
    JOB_INFO_CURRENT_PROGRESS_MONOTONIC = "job-info.current-progress-monotonic"
    JOB_INFO_TOTAL_PROGRESS_FREE = "job-info.total-progress-free"
    JOB_INFO_PROGRESS_COMPLETE_AT_END = "job-info.progress-complete-at-end"
    JOB_INFO_ERROR_IFF_FAILED = "job-info.error-iff-failed"
    BLOCK_JOB_READY_EVENT_AFTER_READY = "block-job.ready-event-after-ready"
    BLOCK_JOB_PENDING_EVENT = "block-job.pending-event"
    BLOCK_JOB_COMPLETION_EVENT = "block-job.completion-event"
    BLOCK_JOB_NO_EVENTS_FOR_NON_BLOCK_JOBS = "block-job.no-events-for-non-block-jobs"
    BLOCK_JOB_DEVICE_NOT_ACTIVE = "block-job.device-not-active"
    QAPI_MEMBERS_KNOWN = "qapi.members-known"
    QEMU_NO_ABORT = "qemu.no-abort"


@dataclass(frozen=True)
class KnownDivergence:
    """Where QEMU is known to do something other than what a rule's documentation says."""

    observed: str
    """What QEMU does instead, in one line."""
    versions: tuple[str, str]
    """The (first, last) model versions in which QEMU behaves this way."""
    evidence: str
    """How this is known, e.g. ``"verified on QEMU 7.2.22"`` or ``"code reading"``."""

    def applies_to(self, version: str) -> bool:
        """Whether QEMU ``version`` (any string :func:`model_for` accepts) diverges so.

        Raises :class:`~jobcheck.model.lifecycle.UnknownVersionError` for an
        unknown version.
        """
        return _in_range(version, *self.versions)


@dataclass(frozen=True)
class Quote:
    """One sentence of the documentation a rule comes from, as a range of releases words it."""

    text: str
    versions: tuple[str, str]
    """The (first, last) model versions whose documentation has this sentence."""
    anchor: str | None = None
    """The definition the sentence is in, when it is not the rule's own anchor."""

    def applies_to(self, version: str) -> bool:
        """Whether the documentation of QEMU ``version`` words the claim with this sentence."""
        return _in_range(version, *self.versions)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "versions": list(self.versions), "anchor": self.anchor}


@dataclass(frozen=True)
class Rule:
    """One documented claim about the job lifecycle, checkable against a trace."""

    id: RuleId
    """Stable identifier, ``<subject>.<claim>``, e.g. ``job-pause.already-paused-is-error``."""
    anchor: str | None
    """The QAPI doc anchor the claim comes from, e.g. ``@job-pause``; ``None`` if undocumented."""
    covers: tuple[str, ...]
    """Further QAPI anchors this rule gives meaning to, e.g. ``@JobVerb.pause``."""
    category: Category
    text: str
    """A one-line paraphrase, in our words."""
    quotes: tuple[Quote, ...]
    """The sentence quoted from the schema documentation, per range of releases (oldest
    first; empty for a rule no sentence states)."""
    versions: tuple[str, str]
    """The (first, last) model versions whose documentation makes the claim."""
    known_divergence: KnownDivergence | None
    checks: tuple[str, ...]
    """The functions that enforce the rule, by qualified name under ``jobcheck``
    (``conformance.oracle.events.EventChecks._on_status_change``): each one emits it."""
    unchecked: str | None = None
    """Why no function enforces the rule, for a rule that is documentation only."""

    @property
    def quote(self) -> str | None:
        """The quoted sentence as most modelled releases word it (for a display that names
        no release; :meth:`quote_for` gives a release's own wording)."""
        if not self.quotes:
            return None
        return max(self.quotes, key=lambda q: _span(q.versions)).text

    def quote_for(self, version: str) -> str | None:
        """The sentence the documentation of QEMU ``version`` states the claim with.

        ``None`` if no quote covers ``version`` (the rule does not apply to it, or
        quotes no sentence).  Raises
        :class:`~jobcheck.model.lifecycle.UnknownVersionError` for an unknown version.
        """
        return next((q.text for q in self.quotes if q.applies_to(version)), None)

    @property
    def anchors(self) -> tuple[str, ...]:
        """The primary anchor (if any) followed by :attr:`covers`."""
        return (self.anchor, *self.covers) if self.anchor else self.covers

    def to_json(self) -> dict[str, Any]:
        """The rule as plain JSON data (``known_divergence`` is ``None`` or an object)."""
        known = self.known_divergence
        return {
            "id": self.id,
            "anchor": self.anchor,
            "covers": list(self.covers),
            "category": self.category.value,
            "text": self.text,
            "quote": self.quote,
            "quotes": [q.to_json() for q in self.quotes],
            "versions": list(self.versions),
            "known_divergence": None
            if known is None
            else {
                "observed": known.observed,
                "versions": list(known.versions),
                "evidence": known.evidence,
            },
            "checks": list(self.checks),
            "unchecked": self.unchecked,
        }

    def applies_to(self, version: str) -> bool:
        """Whether the documentation of QEMU ``version`` makes this claim.

        Raises :class:`~jobcheck.model.lifecycle.UnknownVersionError` for an
        unknown version.
        """
        return _in_range(version, *self.versions)


_FIRST = next(iter(MODELS))
_LAST = next(reversed(MODELS))
_ALL = (_FIRST, _LAST)
"""Every modelled release (2.12 onwards): the status and verb enums were documented then."""
_JOB_API = ("3.0", _LAST)
"""Releases with ``job.json``: ``job-*`` commands, ``query-jobs``, ``JOB_STATUS_CHANGE``."""
_V2_12 = ("2.12", "2.12")
"""2.12 alone: the job definitions were still block-job ones, in ``block-core.json``."""
_TO_10_0 = ("3.0", "9.2")
"""3.0 to 10.0 (the 9.2 model covers 10.0): ``job.json`` before its 10.1 rewrite."""
_FROM_10_1 = ("10.1", _LAST)
"""From 10.1: ``job.json`` as rewritten by QEMU commit da17dd5c5e "qapi: synchronize jobs
and block-jobs documentation"."""

_ALL_STATUSES = tuple(f"@JobStatus.{s.value}" for s in Status)
_ALL_VERBS = tuple(f"@JobVerb.{v.value}" for v in Verb)
_ALL_TYPES = tuple(f"@JobType.{t.value}" for t in JobType)
_JOB_ID_ARGS = tuple(
    f"@job-{verb}.id" for verb in ("pause", "resume", "cancel", "complete", "dismiss")
)


def _r(
    id: RuleId,
    category: Category,
    anchor: str | None,
    text: str,
    *,
    covers: tuple[str, ...] = (),
    quote: str | None = None,
    quotes: tuple[Quote, ...] = (),
    versions: tuple[str, str] = _JOB_API,
    known: KnownDivergence | None = None,
    checks: tuple[str, ...],
    unchecked: str | None = None,
) -> Rule:
    """A rule; ``quote`` is one sentence worded alike in all its ``versions``, ``quotes``
    the wordings of a sentence that changed."""
    if quote is not None:
        quotes = (Quote(quote, versions),)
    return Rule(id, anchor, covers, category, text, quotes, versions, known, checks, unchecked)


_T, _P, _F = Category.TRANSITION, Category.PERMISSION, Category.REFINEMENT
_E, _V = Category.EVENT, Category.VISIBILITY

CATALOGUE: tuple[Rule, ...] = (
    # --- JobStatus -------------------------------------------------------------------------
    _r(
        RuleId.STATUS_TRANSITION_TABLE,
        _T,
        "@JobStatus",
        "Every status change of a job follows the model's transition relation (JobSTT).",
        covers=(*_ALL_STATUSES, "@JOB_STATUS_CHANGE.status"),
        quotes=(
            Quote("Indicates the present state of a given blockjob in its lifetime.", _V2_12),
            Quote("Indicates the present state of a given job in its lifetime.", _JOB_API),
        ),
        versions=_ALL,
        checks=(
            "conformance.oracle.events.EventChecks._on_status_change",
            "conformance.oracle.verbs.VerbChecks._stated_status",
        ),
    ),
    _r(
        RuleId.STATUS_CREATED_FIRST,
        _T,
        "@JobStatus.created",
        "A job's first status event is created; a reused id starts again at created.",
        quote="The job has been created, but not yet started.",
        versions=_ALL,
        checks=("conformance.oracle.events.EventChecks._on_status_change",),
    ),
    _r(
        RuleId.STATUS_NOTHING_AFTER_NULL,
        _T,
        "@JobStatus.null",
        "No event names a job after its null, until a new job is started with the same id.",
        quote="The job is in the process of being dismantled.",
        versions=_ALL,
        checks=(
            "conformance.oracle.events.EventChecks._on_block_event",
            "conformance.oracle.events.EventChecks._unknown_job_event",
            "conformance.oracle.verbs.VerbChecks._check_verb",
        ),
    ),
    _r(
        RuleId.STATUS_UNDEFINED_NEVER_VISIBLE,
        _V,
        "@JobStatus.undefined",
        "The status undefined is never reported, by event or by query.",
        quote="Should not ever be visible.",
        versions=_ALL,
        checks=(
            "conformance.oracle.events.EventChecks._on_status_change",
            "conformance.oracle.queries.QueryChecks._check_job_info",
        ),
    ),
    _r(
        RuleId.STATUS_NULL_NEVER_VISIBLE,
        _V,
        "@JobStatus.null",
        "The status null is never reported, by event or by query.",
        quote="This state should not ever be visible externally.",
        versions=_ALL,
        known=KnownDivergence(
            "QEMU emits JOB_STATUS_CHANGE with status null on every dismiss, automatic or not.",
            _JOB_API,
            "verified on QEMU 7.2.22",
        ),
        checks=(
            "conformance.oracle.events.EventChecks._null",
            "conformance.oracle.queries.QueryChecks._check_job_info",
        ),
    ),
    _r(
        RuleId.STATUS_WAITING_NOT_VISIBLE_FOR_LAST,
        _V,
        "@JobStatus.waiting",
        "The last job of a transaction to finish (or a job on its own) is not seen in waiting.",
        quote="This status will likely not be visible for the last job in a transaction.",
        versions=_ALL,
        known=KnownDivergence(
            "JOB_STATUS_CHANGE waiting is emitted for every job, single jobs and the last job"
            " of a transaction included (only query-jobs may miss it).",
            _JOB_API,
            "verified on QEMU 7.2.22",
        ),
        checks=("conformance.oracle.events.EventChecks._waiting",),
    ),
    _r(
        RuleId.STATUS_ABORTING_ENDS_CONCLUDED,
        _T,
        "@JobStatus.aborting",
        "An aborting job next reports concluded (it does not stay aborting), and finishes with"
        " an error.",
        quote="The job will afterwards report that it is @concluded.",
        versions=_ALL,
        checks=(
            "conformance.oracle.events.EventChecks._on_status_change",
            "conformance.oracle.eventually.EventualChecks._must_leave",
        ),
    ),
    _r(
        RuleId.STATUS_STANDBY_RETURNS_TO_READY,
        _T,
        "@JobStatus.standby",
        "A standby job returns to ready (or is cancelled), never to running.",
        quote="The job may return to @ready or otherwise be canceled.",
        versions=_ALL,
        checks=("conformance.oracle.events.EventChecks._on_status_change",),
    ),
    _r(
        RuleId.STATUS_READY_ONLY_FOR_READY_PHASE_JOBS,
        _T,
        "@JobStatus.ready",
        "Only jobs with a ready phase (mirror, active commit) ever reach ready.",
        covers=("@JobType.mirror", "@JobType.commit", "@job-complete"),
        quote="This is used for long-running jobs like mirror that are designed to run"
        " indefinitely.",
        versions=_ALL,
        checks=("conformance.oracle.events.EventChecks._after_status",),
    ),
    _r(
        RuleId.STATUS_PENDING_WAITS_FOR_FINALIZE,
        _T,
        "@JobStatus.pending",
        "A job with auto-finalize=false leaves pending only after job-finalize, a cancel or"
        " an abort.",
        quotes=(
            Quote(
                "These changes may require manual intervention by the management process if"
                " manual was set to true.",
                _V2_12,
            ),
            Quote(
                "These changes will require manual intervention via @job-finalize if"
                " auto-finalize was set to false.",
                _JOB_API,
            ),
        ),
        versions=_ALL,
        checks=("conformance.oracle.events.EventChecks._concluded",),
    ),
    _r(
        RuleId.STATUS_PENDING_AUTO_FINALIZES,
        _T,
        "@BlockJobInfo.auto-finalize",
        "A job with auto-finalize=true leaves pending for concluded (through aborting if"
        " finalization fails) without job-finalize, unless a grouped transaction partner with"
        " auto-finalize=false holds it.",
        covers=("@JobStatus.pending",),
        quote="Job will finalize itself when PENDING, moving to the CONCLUDED state.",
        versions=_ALL,
        checks=("conformance.oracle.eventually.EventualChecks._must_leave",),
    ),
    _r(
        RuleId.STATUS_CONCLUDED_WAITS_FOR_DISMISS,
        _V,
        "@JobStatus.concluded",
        "A job with auto-dismiss=false stays listed in concluded until job-dismiss.",
        covers=("@job-dismiss",),
        quote="The job has finished all work.",
        versions=_ALL,
        checks=("conformance.oracle.events.EventChecks._null",),
    ),
    _r(
        RuleId.STATUS_CONCLUDED_AUTO_DISMISSES,
        _V,
        "@BlockJobInfo.auto-dismiss",
        "A job with auto-dismiss=true (or one that never started) goes from concluded to null"
        " on its own and disappears from query-jobs, without job-dismiss.",
        covers=("@JobStatus.concluded",),
        quote="Job will dismiss itself when CONCLUDED, moving to the NULL state and disappearing"
        " from the query list.",
        versions=_ALL,
        checks=(
            "conformance.oracle.eventually.EventualChecks._must_leave",
            "conformance.oracle.queries.QueryChecks._check_job_info",
        ),
    ),
    _r(
        RuleId.STATUS_RELEASED_JOB_FINISHES,
        _T,
        "@block-job-set-speed",
        "A job that runs unthrottled (speed 0, or a job without a speed) and is not paused makes"
        " progress and leaves running (for ready, waiting, aborting, or paused by its error"
        " policy); a job whose work is done goes on from waiting to pending once every member"
        " of its transaction is done.",
        covers=("@JobStatus.running", "@JobStatus.waiting"),
        quote="Throttling can be disabled by setting the speed to 0.",
        versions=_ALL,
        checks=("conformance.oracle.eventually.EventualChecks._must_leave",),
    ),
    # --- JobVerb ---------------------------------------------------------------------------
    _r(
        RuleId.VERB_PERMISSION_TABLE,
        _P,
        "@JobVerb",
        "A verb is accepted only in the statuses the verb table permits, and a verb the table"
        " permits is not refused with the verb error.",
        covers=(*_ALL_VERBS, "@block-job-set-speed", "@block-job-change"),
        quotes=(
            Quote("Represents command verbs that can be applied to a blockjob.", _V2_12),
            Quote("Represents command verbs that can be applied to a job.", _JOB_API),
        ),
        versions=_ALL,
        checks=(
            "conformance.oracle.verbs.VerbChecks._mismatch_rule",
            "conformance.oracle.verbs.VerbChecks._oblige",
            "conformance.oracle.verbs.VerbChecks._stated_status",
            "conformance.oracle.verbs.VerbChecks._text_cannot_complete",
            "model.semantics._refuse",
            "model.semantics._table_refusal",
        ),
    ),
    _r(
        RuleId.JOB_ID_NAMES_A_JOB,
        _F,
        "@job-pause.id",
        "A job-* command whose id names no listed job is refused ('Job not found') and changes"
        " nothing.",
        covers=_JOB_ID_ARGS,
        quote="The job identifier.",
        checks=(
            "conformance.oracle.verbs.VerbChecks._mismatch_rule",
            "model.semantics._refuse",
        ),
    ),
    # --- job-pause -------------------------------------------------------------------------
    _r(
        RuleId.JOB_PAUSE_ALREADY_PAUSED_IS_ERROR,
        _F,
        "@job-pause",
        "Pausing a job that is already paused is an error.",
        covers=("@JobVerb.pause", "@block-job-pause"),
        quote="Pausing an already paused job is an error.",
        known=KnownDivergence(
            "QEMU errors iff the job is user-paused: a drain-paused job can be paused, and a"
            " user-paused job still running (not yet at a pause point) errors.",
            _JOB_API,
            "verified on QEMU 7.2.22; job.c unchanged in master (code reading)",
        ),
        checks=(
            "conformance.oracle.verbs.VerbChecks._mismatch_rule",
            "model.semantics._pause",
            "model.semantics._refuse",
        ),
    ),
    _r(
        RuleId.JOB_PAUSE_PAUSES,
        _T,
        "@job-pause",
        "An accepted pause (or an I/O error with policy stop) moves running to paused or ready to"
        " standby as soon as possible, with the JOB_STATUS_CHANGE event, unless the job leaves"
        " running or ready by itself first.",
        covers=("@JobStatus.paused", "@JobStatus.running"),
        quote="The job will pause as soon as possible, which means transitioning into the PAUSED"
        " state if it was RUNNING, or into STANDBY if it was READY.",
        checks=("conformance.oracle.eventually.EventualChecks._must_leave",),
    ),
    _r(
        RuleId.JOB_PAUSE_CANCEL_RESUMES,
        _F,
        "@job-pause",
        "Cancelling a paused job resumes it first (paused to running, standby to ready) before"
        " it aborts.",
        covers=("@job-cancel",),
        quote="Cancelling a paused job automatically resumes it.",
        known=KnownDivergence(
            "block-job-cancel without force refuses a user-paused job ('... is currently"
            " paused'); only the user pause is dropped by a cancel, drain pauses stay.",
            _JOB_API,
            "verified on QEMU 7.2.22",
        ),
        checks=(
            "conformance.oracle.verbs.VerbChecks._mismatch_rule",
            "conformance.oracle.verbs.VerbChecks._text_currently_paused",
            "model.semantics._cancel",
            "model.semantics._refuse",
        ),
    ),
    # --- job-resume ------------------------------------------------------------------------
    _r(
        RuleId.JOB_RESUME_NOT_PAUSED_IS_ERROR,
        _F,
        "@job-resume",
        "Resuming a job that is not paused is an error.",
        covers=("@JobVerb.resume", "@block-job-resume"),
        quote="Resuming an already running job is an error.",
        known=KnownDivergence(
            "QEMU tests the user-pause flag before the verb table: resuming a drain-paused job"
            " is refused, and a not-user-paused job in waiting, pending or concluded answers"
            ' "Can\'t resume a job that was not paused" instead of the verb error.',
            _JOB_API,
            "verified on QEMU 7.2.22",
        ),
        checks=(
            "conformance.oracle.verbs.VerbChecks._mismatch_rule",
            "conformance.oracle.verbs.VerbChecks._text_refusal",
            "model.semantics._refuse",
            "model.semantics._resume",
        ),
    ),
    _r(
        RuleId.JOB_RESUME_RESUMES,
        _T,
        "@job-resume",
        "An accepted resume of a paused (standby) job returns it to running (ready): a job that"
        " no pause request holds any longer (the user's resumed, the drained section over) does"
        " not stay paused.",
        quote="Resume a paused job.",
        checks=("conformance.oracle.eventually.EventualChecks._must_leave",),
    ),
    # --- job-cancel ------------------------------------------------------------------------
    _r(
        RuleId.JOB_CANCEL_ABORTS,
        _T,
        "@job-cancel",
        "A cancelled job goes to aborting (or, having already finished its work, to pending),"
        " then to concluded.",
        covers=("@JobVerb.cancel", "@block-job-cancel"),
        quote="Usually, the status will change to ABORTING, but it is possible that a job"
        " successfully completes (e.g. because it was almost done and there was no opportunity"
        " to cancel earlier than completing the job) and transitions to PENDING instead.",
        checks=(
            "conformance.oracle.events.EventChecks._concluded",
            "conformance.oracle.eventually.EventualChecks._must_leave",
            "conformance.oracle.verbs.VerbChecks._after_verb",
        ),
    ),
    # --- job-complete ----------------------------------------------------------------------
    _r(
        RuleId.JOB_COMPLETE_ONLY_READY,
        _P,
        "@job-complete",
        "Complete is accepted only in ready (the 10.1+ text says ready or standby).",
        covers=("@JobVerb.complete", "@block-job-complete"),
        quotes=(
            Quote("Manually trigger completion of an active job in the READY state.", _TO_10_0),
            Quote(
                "Manually trigger completion of an active job in the READY or STANDBY state.",
                _FROM_10_1,
            ),
        ),
        known=KnownDivergence(
            "complete is also accepted in standby (the job completes once resumed); the 10.1"
            " documentation was changed to say so.",
            ("6.0", "9.2"),
            "verified on QEMU 7.2.22",
        ),
        checks=(
            "conformance.oracle.verbs.VerbChecks._mismatch_rule",
            "conformance.oracle.verbs.VerbChecks._oblige",
            "model.semantics._complete",
            "model.semantics._table_refusal",
        ),
    ),
    _r(
        RuleId.JOB_COMPLETE_COMPLETES,
        _T,
        "@job-complete",
        "An accepted complete leads to waiting, pending and concluded without aborting, unless"
        " the job fails (a job in standby goes on once it is resumed).",
        checks=("conformance.oracle.eventually.EventualChecks._must_leave",),
    ),
    _r(
        RuleId.JOB_COMPLETE_NOT_AFTER_CANCEL,
        _F,
        "@block-job-complete",
        "A job with a cancel requested cannot be completed ('The active block job ... cannot be"
        " completed'): said outright up to 10.0; from 10.1 only block-job-cancel's note says it"
        " (a cancelled ready mirror has ended, with a copy as at the cancel).",
        quotes=(
            Quote("A cancelled or paused job cannot be completed.", ("2.12", "9.2")),
            Quote(
                "Note that if you issue block-job-cancel after drive-mirror has indicated (via"
                " the event BLOCK_JOB_READY) that the source and destination are synchronized,"
                " then the event triggered by this command changes to BLOCK_JOB_COMPLETED, to"
                " indicate that the mirroring has ended and the destination now has a"
                " point-in-time copy tied to the time of the cancellation.",
                _FROM_10_1,
                anchor="@block-job-cancel",
            ),
        ),
        versions=_ALL,
        checks=(
            "conformance.oracle.verbs.VerbChecks._mismatch_rule",
            "model.semantics._refuse",
        ),
    ),
    # --- job-dismiss -----------------------------------------------------------------------
    _r(
        RuleId.JOB_DISMISS_ONLY_CONCLUDED,
        _P,
        "@job-dismiss",
        "Dismiss is refused unless the job is concluded.",
        covers=("@JobVerb.dismiss", "@block-job-dismiss"),
        quote="Deletes a job that is in the CONCLUDED state.",
        checks=(
            "conformance.oracle.verbs.VerbChecks._mismatch_rule",
            "conformance.oracle.verbs.VerbChecks._oblige",
            "model.semantics._table_refusal",
        ),
    ),
    _r(
        RuleId.JOB_DISMISS_REMOVES_JOB,
        _V,
        "@job-dismiss",
        "An accepted dismiss moves the job to null, and it disappears from query-jobs.",
        quote="Deletes a job that is in the CONCLUDED state.",
        checks=(
            "conformance.oracle.eventually.EventualChecks._must_leave",
            "conformance.oracle.queries.QueryChecks._check_job_info",
            "conformance.oracle.verbs.VerbChecks._check_verb",
        ),
    ),
    # --- job-finalize ----------------------------------------------------------------------
    _r(
        RuleId.JOB_FINALIZE_ONLY_PENDING,
        _P,
        "@job-finalize",
        "Finalize is accepted only for a job in pending.",
        covers=("@JobVerb.finalize", "@block-job-finalize"),
        quote="This command requires that all involved jobs are in the PENDING state.",
        known=KnownDivergence(
            "only the addressed job's status is checked, not that of the other transaction"
            " members (they reach pending together in practice).",
            _JOB_API,
            "code reading",
        ),
        checks=(
            "conformance.oracle.verbs.VerbChecks._mismatch_rule",
            "conformance.oracle.verbs.VerbChecks._oblige",
            "model.semantics._table_refusal",
        ),
    ),
    _r(
        RuleId.JOB_FINALIZE_CONCLUDES,
        _T,
        "@job-finalize",
        "An accepted finalize moves the pending job (and every pending member of its"
        " transaction) on to concluded, through aborting if finalization fails.",
        quote="Instructs all jobs in a transaction (or a single job if it is not part of any"
        " transaction) to finalize any graph changes and do any necessary cleanup.",
        checks=("conformance.oracle.eventually.EventualChecks._must_leave",),
    ),
    _r(
        RuleId.JOB_FINALIZE_WHOLE_TRANSACTION,
        _T,
        "@job-finalize",
        "Finalizing one member of a transaction finalizes every member.",
        covers=("@job-finalize.id",),
        quote="For jobs in a transaction, instructing one job to finalize will force ALL jobs in"
        " the transaction to finalize, so it is only necessary to instruct a single member job"
        " to finalize.",
        checks=("conformance.oracle.queries.QueryChecks._check_job_info",),
    ),
    _r(
        RuleId.JOB_FINALIZE_ONLY_MANUAL,
        _P,
        "@job-finalize",
        "Finalize applies only to jobs with auto-finalize=false.",
        quote="The command is applicable only to jobs which have @auto-finalize option and only"
        " when this option is set to false.",
        versions=_FROM_10_1,
        known=KnownDivergence(
            "a job with auto-finalize=true held in pending by a grouped-transaction partner"
            " accepts job-finalize, which finalizes the whole transaction.",
            _FROM_10_1,
            "verified on QEMU 7.2.22; job.c identical in master (code reading)",
        ),
        checks=("model.semantics._finalize",),
    ),
    # --- JOB_STATUS_CHANGE -----------------------------------------------------------------
    _r(
        RuleId.EVENT_STATUS_CHANGE_IS_A_CHANGE,
        _E,
        "@JOB_STATUS_CHANGE",
        "A JOB_STATUS_CHANGE is emitted when the status changes, and never repeats the current"
        " status.",
        covers=("@JOB_STATUS_CHANGE.status",),
        quote="Emitted when a job transitions to a different status.",
        checks=("conformance.oracle.events.EventChecks._on_status_change",),
    ),
    _r(
        RuleId.EVENT_STATUS_CHANGE_KNOWN_JOB,
        _E,
        "@JOB_STATUS_CHANGE.id",
        "The id of a JOB_STATUS_CHANGE names a job that was started (or is listed).",
        quote="The job identifier",
        checks=("conformance.oracle.events.EventChecks._unknown_job_event",),
    ),
    # --- query-jobs / JobInfo --------------------------------------------------------------
    _r(
        RuleId.QUERY_JOBS_LISTS_LIVE_JOBS,
        _V,
        "@query-jobs",
        "query-jobs lists every job not yet null, and no dismissed or unknown job.",
        covers=("@JobInfo", "@JobInfo.id"),
        quote="Return information about jobs.",
        checks=(
            "conformance.oracle.queries.QueryChecks._check_query",
            "conformance.oracle.queries.QueryChecks._listed_unknown",
        ),
    ),
    _r(
        RuleId.QUERY_JOBS_STATUS_CONSISTENT,
        _V,
        "@JobInfo.status",
        "A job's status in query-jobs matches its event history, allowing for events not yet"
        " received and silent drain flips.",
        quote="Current job state/status",
        checks=(
            "conformance.oracle.queries.QueryChecks._check_listed_status",
            "conformance.oracle.eventually.EventualChecks._waited",
        ),
    ),
    _r(
        RuleId.JOB_INFO_TYPE_MATCHES,
        _V,
        "@JobInfo.type",
        "The listed type is the kind of job that was started.",
        covers=("@JobType", *_ALL_TYPES),
        quote="The kind of job that is being performed",
        checks=(
            "conformance.oracle.events.EventChecks._on_block_event",
            "conformance.oracle.queries.QueryChecks._check_info_type",
        ),
    ),
    _r(
        RuleId.JOB_INFO_CURRENT_PROGRESS_MONOTONIC,
        Category.PROGRESS,
        "@JobInfo.current-progress",
        "current-progress never decreases for a job.",
        quote="The value is monotonically increasing.",
        checks=("conformance.oracle.queries.QueryChecks._check_progress",),
    ),
    _r(
        RuleId.JOB_INFO_TOTAL_PROGRESS_FREE,
        Category.PROGRESS,
        "@JobInfo.total-progress",
        "total-progress may move in both directions; it is only checked to be an integer >= 0.",
        quote="This value can arbitrarily change while the job is running, in both directions.",
        checks=("conformance.oracle.queries.QueryChecks._check_progress",),
    ),
    _r(
        RuleId.JOB_INFO_PROGRESS_COMPLETE_AT_END,
        Category.PROGRESS,
        "@JobInfo.total-progress",
        "A job that concluded without an error lists current-progress equal to"
        " total-progress: the estimate of the value at completion is the value at"
        " completion.",
        quote="Estimated @current-progress value at the completion of the job.",
        checks=("conformance.oracle.queries.QueryChecks._check_progress",),
    ),
    _r(
        RuleId.JOB_INFO_ERROR_IFF_FAILED,
        Category.ERROR_FIELD,
        "@JobInfo.error",
        "error is present iff the job failed or was cancelled, consistent with"
        " BLOCK_JOB_COMPLETED{error} / BLOCK_JOB_CANCELLED, and absent in concluded after success.",
        quote="If this field is present, the job failed; if it is still missing in the"
        " CONCLUDED state, this indicates successful completion.",
        checks=(
            "conformance.oracle.events.EventChecks._completion_event",
            "conformance.oracle.queries.QueryChecks._check_error_field",
        ),
    ),
    # --- block jobs (qapi/block-core.json) -------------------------------------------------
    _r(
        RuleId.BLOCK_JOB_READY_EVENT_AFTER_READY,
        _E,
        "@BLOCK_JOB_READY",
        "BLOCK_JOB_READY is emitted once, when the job has reached ready.",
        quote="Emitted when a block job is ready to complete",
        versions=_ALL,
        checks=(
            "conformance.oracle.events.EventChecks._event_type",
            "conformance.oracle.events.EventChecks._on_block_event",
            "conformance.oracle.events.EventChecks._ready_event",
        ),
    ),
    _r(
        RuleId.BLOCK_JOB_PENDING_EVENT,
        _E,
        "@BLOCK_JOB_PENDING",
        "BLOCK_JOB_PENDING is emitted only after pending, and only for auto-finalize=false jobs.",
        versions=_ALL,
        checks=(
            "conformance.oracle.events.EventChecks._event_type",
            "conformance.oracle.events.EventChecks._on_block_event",
            "conformance.oracle.events.EventChecks._pending_event",
        ),
    ),
    _r(
        RuleId.BLOCK_JOB_COMPLETION_EVENT,
        _E,
        "@BLOCK_JOB_COMPLETED",
        "A started block job emits exactly one BLOCK_JOB_COMPLETED or BLOCK_JOB_CANCELLED before"
        " concluded: CANCELLED after a force cancel, and only then.",
        covers=(
            "@BLOCK_JOB_CANCELLED",
            "@JobType.commit",
            "@JobType.stream",
            "@JobType.mirror",
            "@JobType.backup",
        ),
        quote="Emitted when a block job has completed",
        versions=_ALL,
        checks=(
            "conformance.oracle.events.EventChecks._completion_event",
            "conformance.oracle.events.EventChecks._concluded",
            "conformance.oracle.events.EventChecks._event_type",
            "conformance.oracle.events.EventChecks._on_block_event",
        ),
    ),
    _r(
        RuleId.BLOCK_JOB_NO_EVENTS_FOR_NON_BLOCK_JOBS,
        _E,
        "@JobType.create",
        "create and other non-block jobs (amend, snapshot-*) emit no BLOCK_JOB_* events.",
        covers=(
            "@JobType.amend",
            "@JobType.snapshot-load",
            "@JobType.snapshot-save",
            "@JobType.snapshot-delete",
        ),
        versions=_ALL,
        checks=("conformance.oracle.events.EventChecks._on_block_event",),
    ),
    _r(
        RuleId.BLOCK_JOB_DEVICE_NOT_ACTIVE,
        _F,
        "@block-job-cancel",
        "A block-job-* command on an id with no block job answers DeviceNotActive.",
        covers=("@block-job-pause", "@block-job-resume", "@block-job-set-speed"),
        quote="If no background operation is active on this device, DeviceNotActive",
        versions=_ALL,
        known=KnownDivergence(
            "DeviceNotActive is also the answer for an existing non-block job (create, amend,"
            " snapshot-*).",
            _JOB_API,
            "verified on QEMU 7.2.22",
        ),
        checks=(
            "conformance.oracle.verbs.VerbChecks._mismatch_rule",
            "conformance.oracle.verbs.VerbChecks._text_block_not_found",
            "model.semantics._refuse",
            "model.semantics.apply_verb",
        ),
    ),
    # --- schema and robustness -------------------------------------------------------------
    _r(
        RuleId.QAPI_MEMBERS_KNOWN,
        _V,
        "@JobStatus",
        "Every JobStatus, JobVerb and JobType member QEMU has (introspection) or reports is one"
        " the model knows.",
        covers=("@JobVerb", "@JobType", *_ALL_STATUSES, *_ALL_VERBS, *_ALL_TYPES),
        versions=_ALL,
        checks=(
            "conformance.oracle.Oracle._check_schema_members",
            "conformance.oracle.events.EventChecks._event_type",
            "conformance.oracle.events.EventChecks._on_status_change",
            "conformance.oracle.queries.QueryChecks._check_info_type",
            "conformance.oracle.queries.QueryChecks._check_job_info",
            "conformance.oracle.verbs.VerbChecks._stated_status",
        ),
    ),
    _r(
        RuleId.QEMU_NO_ABORT,
        Category.ROBUSTNESS,
        None,
        "QEMU does not crash (SIGABRT, failed assertion) under any sequence of QMP commands.",
        versions=_ALL,
        checks=(
            "conformance.oracle.Oracle._crashed",
            "conformance.report.document.build_document",
        ),
    ),
)
"""Every rule, in a stable order (grouped by the QAPI definition it comes from)."""

RULES: dict[str, Rule] = {r.id: r for r in CATALOGUE}
"""The catalogue keyed by rule id."""


def rule(id: str) -> Rule:
    """The rule with this id; :class:`KeyError` naming the near misses otherwise."""
    try:
        return RULES[id]
    except KeyError:
        prefix = id.split(".", 1)[0]
        similar = [r for r in RULES if r.startswith(prefix + ".")]
        hint = f"; rules starting {prefix}.: {', '.join(similar)}" if similar else ""
        raise KeyError(f"no rule {id!r} in the catalogue ({len(RULES)} rules){hint}") from None


def rules_for(model_version: str) -> tuple[Rule, ...]:
    """The rules whose documentation applies to a model (or any QEMU version string).

    Raises :class:`~jobcheck.model.lifecycle.UnknownVersionError` for an
    unknown version.
    """
    return tuple(r for r in CATALOGUE if r.applies_to(model_version))


@dataclass(frozen=True)
class DocumentationChange:
    """How the documentation of one rule differs between two model versions."""

    rule: RuleId
    change: str
    """``added`` (the newer documentation makes the claim, the older did not), ``removed``,
    ``reworded`` (both make it, in other words), ``known-divergence-added`` (QEMU is known to
    diverge from it in the newer version only) or ``known-divergence-removed``."""
    old: str | None
    """The older wording (or known divergence); ``None`` where there is none, or where the
    rule quotes no sentence (its paraphrase, :attr:`Rule.text`, says what it claims)."""
    new: str | None


def documentation_changes(old: str, new: str) -> tuple[DocumentationChange, ...]:
    """What changed in the documented rules from model ``old`` to model ``new``.

    Two models can have the same tables and still differ here (5.0 from 4.2 does not;
    10.1 from 9.2 does, as QEMU 10.1 rewrote the job documentation):

    >>> for c in documentation_changes("9.2", "10.1"):
    ...     print(c.rule, c.change)
    job-complete.only-ready reworded
    job-complete.only-ready known-divergence-removed
    job-complete.not-after-cancel reworded
    job-finalize.only-manual added
    >>> documentation_changes("4.2", "5.0")
    ()

    Raises :class:`~jobcheck.model.lifecycle.UnknownVersionError` for an unknown version.
    """
    out: list[DocumentationChange] = []
    for r in CATALOGUE:
        before, after = r.applies_to(old), r.applies_to(new)
        if before != after:
            quote = r.quote_for(new if after else old)
            if after:
                out.append(DocumentationChange(r.id, "added", None, quote))
            else:
                out.append(DocumentationChange(r.id, "removed", quote, None))
            continue
        if not before:
            continue
        if r.quote_for(old) != r.quote_for(new):
            out.append(DocumentationChange(r.id, "reworded", r.quote_for(old), r.quote_for(new)))
        known = r.known_divergence
        if known is not None and known.applies_to(old) != known.applies_to(new):
            if known.applies_to(new):
                out.append(
                    DocumentationChange(r.id, "known-divergence-added", None, known.observed)
                )
            else:
                out.append(
                    DocumentationChange(r.id, "known-divergence-removed", known.observed, None)
                )
    return tuple(out)
