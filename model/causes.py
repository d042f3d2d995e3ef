"""What causes each lifecycle transition, as data.

Every edge of QEMU's transition relation (``JobSTT``) happens for a reason:
a *verb* sent by the management client (job-pause, job-cancel, …) or an
*internal* cause inside QEMU (the job's work is done, a drained section
begins, an I/O error, auto-finalize, …).  :data:`EDGE_CAUSES` lists, for each
edge, every cause and the job-kind :class:`~jobcheck.model.kinds.Feature`
flags it needs; :mod:`jobcheck.model.graph` builds the per-kind graphs from
it, and the renderers label the edges with it.

Sources: where each edge happens and what each verb checks, in QEMU's source
(docs/qemu-job-engine.md, 'Where each transition happens' and 'Order of checks per verb'),
and the event sequences seen on QEMU (docs/driving-qemu.md, 'Event sequences').

A :class:`Cause` is also a step of a coverage plan (:mod:`jobcheck.model.plan`).
The internal causes that a driver can bring about are marked ``driver=True``
in :data:`INTERNAL_CAUSES`; the conformance side maps a plan's causes to its
driver steps (``start``, ``release``, ``drain``, and ``verb`` steps).

Some causes are a driver's *means*, not the lifecycle's own reasons
(:attr:`Cause.driver_means`): holding and releasing a job by its speed, or a
``block-job-set-speed`` that lets a throttled job go on (``set-speed
(kick)``) — the transition that follows is really made by the job's work.
Documentation diagrams leave them out; coverage overlays of run reports show
them, because that is how the run got there::

    >>> verb(Verb.SET_SPEED, "kick").driver_means, internal("release").driver_means
    (True, True)
    >>> verb(Verb.CANCEL, "soft").driver_means, internal("drain").driver_means
    (False, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from jobcheck.model.kinds import Feature, JobSetup
from jobcheck.model.lifecycle import Status, Verb

CauseKind = Literal["verb", "internal"]


@dataclass(frozen=True)
class InternalCause:
    """An internal cause: its label on diagrams, what it means, and who brings it about."""

    label: str
    meaning: str
    driver: bool = False
    """A driver can bring it about on purpose (a step of a coverage plan)."""
    automatic: bool = False
    """It happens by itself, without a command or driver step, once the job is in the
    edge's source status (given the job's setup)."""
    means: bool = False
    """A driver's means rather than a cause of the lifecycle (see :attr:`Cause.driver_means`)."""


#: Every internal cause, by name.
INTERNAL_CAUSES: dict[str, InternalCause] = {
    "start": InternalCause(
        "start",
        "the start command (blockdev-mirror, blockdev-create, …) creates the job and starts it",
        driver=True,
    ),
    "release": InternalCause(
        "release",
        "the driver lets a held job work (block-job-set-speed 0); not an edge label",
        driver=True,
        means=True,
    ),
    "drain": InternalCause(
        "drain",
        "a drained section of the job's node pauses it at its next pause point",
        driver=True,
    ),
    "drain-end": InternalCause(
        "drain end", "the drained section ends and the job returns from its pause point"
    ),
    "ready": InternalCause(
        "work converged", "the job's copy converged (job_transition_to_ready)", automatic=True
    ),
    "work-done": InternalCause(
        "work done", "the job's run function returned successfully", automatic=True
    ),
    "txn-converged": InternalCause(
        "transaction converged",
        "every member of the job's transaction has finished its work",
        automatic=True,
    ),
    "auto-finalize": InternalCause(
        "auto-finalize", "an auto-finalize=true job is finalized", automatic=True
    ),
    "auto-dismiss": InternalCause(
        "auto-dismiss",
        "an auto-dismiss=true job (or one that never started) is dismissed",
        automatic=True,
    ),
    "abort-done": InternalCause(
        "abort done", "the aborted job is finalized with its error", automatic=True
    ),
    "error": InternalCause(
        "error",
        "the job failed (I/O error with policy report, or its prepare step failed)",
    ),
    "error-stop": InternalCause(
        "error (stop)", "an I/O error handled with policy stop or enospc pauses the job"
    ),
    "setup-failed": InternalCause(
        "setup failed", "setting up the created job failed (job_early_fail)"
    ),
    "txn-abort": InternalCause(
        "transaction abort",
        "another member of the job's transaction failed or was cancelled",
    ),
}


#: Verb qualifiers that name a driver's means, with what they mean.
DRIVER_QUALIFIERS: dict[str, str] = {
    "kick": "block-job-set-speed raising the speed of a throttled job, so that its work goes on"
    " and makes the transition",
}


@dataclass(frozen=True)
class Cause:
    """One cause of a transition, and one step of a coverage plan.

    ``Cause(kind="verb", verb=Verb.PAUSE)`` is job-pause (or block-job-pause);
    ``Cause(kind="internal", name="release")`` is an internal cause from
    :data:`INTERNAL_CAUSES`.  A verb cause may carry a ``name`` qualifying how
    the verb is sent: ``"soft"`` (block-job-cancel with force=false) or
    ``"kick"`` (block-job-set-speed raising the speed).  The ``start`` cause of
    a plan carries the :class:`~jobcheck.model.kinds.JobSetup` to start.
    """

    kind: CauseKind
    verb: Verb | None = None
    name: str = ""
    setup: JobSetup | None = None

    def __post_init__(self) -> None:
        if self.kind == "verb" and self.verb is None:
            raise ValueError("a verb cause needs a verb")
        if self.kind == "internal" and (self.verb is not None or self.name not in INTERNAL_CAUSES):
            raise ValueError(f"unknown internal cause {self.name!r}")

    @property
    def label(self) -> str:
        """Short text for a diagram: ``pause``, ``cancel (soft)``, ``work done``."""
        if self.verb is not None:
            return f"{self.verb.value} ({self.name})" if self.name else self.verb.value
        return INTERNAL_CAUSES[self.name].label

    @property
    def automatic(self) -> bool:
        return self.kind == "internal" and INTERNAL_CAUSES[self.name].automatic

    @property
    def driver_means(self) -> bool:
        """Whether this is how a driver brings the transition about, not why QEMU makes it.

        True for a verb with a qualifier in :data:`DRIVER_QUALIFIERS` (``set-speed
        (kick)``) and for internal causes marked ``means`` (``release``).
        """
        if self.verb is not None:
            return self.name in DRIVER_QUALIFIERS
        return INTERNAL_CAUSES[self.name].means

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Verbs first (in QAPI order), then internal causes (in catalogue order)."""
        if self.verb is not None:
            return (0, list(Verb).index(self.verb), self.name)
        return (1, list(INTERNAL_CAUSES).index(self.name), "")

    def __str__(self) -> str:
        if self.setup is not None:
            return f"{self.label} {self.setup.label}"
        return self.label


def verb(v: Verb, qualifier: str = "") -> Cause:
    """A verb cause."""
    return Cause("verb", v, qualifier)


def internal(name: str, setup: JobSetup | None = None) -> Cause:
    """An internal cause (``setup`` only for ``start`` in a plan)."""
    return Cause("internal", name=name, setup=setup)


@dataclass(frozen=True)
class EdgeCause:
    """One cause of one transition, and the job-kind features it needs."""

    source: Status
    target: Status
    cause: Cause
    requires: frozenset[Feature] = frozenset()
    """The cause exists for a job kind only when the kind has all of these."""


def _e(edge: str, cause: Cause, *requires: Feature) -> EdgeCause:
    a, b = edge.split(">")
    by_letter = {s.letter: s for s in Status}
    return EdgeCause(by_letter[a], by_letter[b], cause, frozenset(requires))


_F = Feature
_V = Verb
_READY = _F.READY_PHASE
_PAUSE = _F.PAUSE_POINTS

#: Every cause of every transition, written with the one-letter status names
#: (U undefined, C created, R running, P paused, Y ready, S standby, W waiting,
#: D pending, X aborting, E concluded, N null).
EDGE_CAUSES: tuple[EdgeCause, ...] = (
    # job_create, then job_start: both inside the start command.
    _e("U>C", internal("start")),
    _e("C>R", internal("start")),
    # Cancel of a never-started job; a failing transaction tears down its created jobs.
    _e("C>X", verb(_V.CANCEL)),
    _e("C>X", internal("txn-abort"), _F.TRANSACTION),
    # job_early_fail.
    _e("C>N", internal("setup-failed")),
    # Pause points: user pause, drained section, I/O error with policy stop.
    _e("R>P", verb(_V.PAUSE), _PAUSE),
    _e("R>P", internal("drain"), _PAUSE),
    _e("R>P", internal("error-stop"), _PAUSE, _F.BLOCK_JOB),
    # Return from the pause point: resume, cancel (resumes first), end of the drain.
    _e("P>R", verb(_V.RESUME), _PAUSE),
    _e("P>R", verb(_V.CANCEL), _PAUSE),
    _e("P>R", internal("drain-end"), _PAUSE),
    # job_transition_to_ready: mirror and active commit; a set-speed kick lets the work go on.
    _e("R>Y", internal("ready"), _READY),
    _e("R>Y", verb(_V.SET_SPEED, "kick"), _READY, _F.BLOCK_JOB),
    _e("Y>S", verb(_V.PAUSE), _READY, _PAUSE),
    _e("Y>S", internal("drain"), _READY, _PAUSE),
    _e("Y>S", internal("error-stop"), _READY, _PAUSE, _F.BLOCK_JOB),
    _e("S>Y", verb(_V.RESUME), _READY, _PAUSE),
    _e("S>Y", verb(_V.CANCEL), _READY, _PAUSE),
    _e("S>Y", internal("drain-end"), _READY, _PAUSE),
    # job_completed_txn_success: the work is done (or completed / soft-cancelled in ready).
    _e("R>W", internal("work-done")),
    _e("R>W", verb(_V.SET_SPEED, "kick"), _F.BLOCK_JOB),
    _e("Y>W", verb(_V.COMPLETE), _READY),
    _e("Y>W", verb(_V.CANCEL, "soft"), _READY, _F.BLOCK_JOB),
    # All members of the transaction are done (job_transition_to_pending).
    _e("W>D", internal("txn-converged")),
    # job_update_rc with ret != 0: an error, a (force) cancel, a transaction partner's abort.
    _e("R>X", verb(_V.CANCEL)),
    _e("R>X", internal("error")),
    _e("Y>X", verb(_V.CANCEL), _READY),
    _e("Y>X", internal("error"), _READY),
    _e("W>X", verb(_V.CANCEL), _F.GROUPED),
    _e("W>X", internal("txn-abort"), _F.GROUPED),
    _e("D>X", verb(_V.CANCEL), _F.MANUAL_FINALIZE),
    _e("D>X", internal("error")),
    _e("D>X", internal("txn-abort"), _F.GROUPED),
    # job_update_rc may run twice while aborting: a self-loop, with no event.
    _e("X>X", internal("error")),
    # job_finalize_single → job_conclude.
    _e("D>E", verb(_V.FINALIZE), _F.MANUAL_FINALIZE),
    _e("D>E", internal("auto-finalize"), _F.AUTO_FINALIZE),
    _e("X>E", internal("abort-done")),
    # Dismiss.
    _e("E>N", verb(_V.DISMISS), _F.MANUAL_DISMISS),
    _e("E>N", internal("auto-dismiss"), _F.AUTO_DISMISS),
)
