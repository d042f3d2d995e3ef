"""Job kinds: what each kind of job can do in the lifecycle, as data.

``JobType`` alone does not say which statuses a job can reach: a ``commit``
job is *active* (mirror-like, with a ready phase) when it commits the active
layer and *intermediate* otherwise.  So the model works with a
:class:`JobKind` — a ``JobType`` refined by that one distinction — and each
kind has a set of :class:`Feature` flags that the edge causes of
:mod:`jobcheck.model.causes` require.  A transition exists for a kind when at
least one of its causes has all its required features.

Functions that take ``job_type`` accept a :class:`JobKind`, a ``JobType``
(the union of its kinds: ``commit`` = active or intermediate), or ``None``
(every kind whose type the model version has).

Sources for the features: docs/qemu-job-engine.md, 'Job kinds' (QEMU's
source) and docs/driving-qemu.md, 'Create jobs' (measured):

* ready phase: ``job_transition_to_ready`` is called only from
  ``block/mirror.c``, which implements mirror and active commit.
* pause points: create jobs have no pause points and no speed — job-pause
  returns OK but the job stays running (measured).  The run functions of
  amend and the snapshot jobs have no pause point either (source; not
  observed).
* block job: ``BLOCK_JOB_*`` events and ``block-job-*`` commands exist only
  for backup, commit, mirror and stream; the others get DeviceNotActive.
* auto-finalize / auto-dismiss: create, amend and snapshot-* jobs are always
  ``JOB_MANUAL_DISMISS`` with auto-finalize true; the four block job types
  take both options (since 3.1 for all of them).
* grouped: only backup actions accept ``completion-mode: grouped``, so only
  backup jobs wait in ``waiting`` for a partner.
* transaction: only backup jobs can be started by a ``transaction`` action
  (``drive-backup``, ``blockdev-backup``; no release has a mirror, commit or
  stream action — docs/qemu-job-engine.md, 'Job kinds'), so only
  they can be torn down by a failing transaction while created.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jobcheck.model.lifecycle import JobType, Model


class Feature(StrEnum):
    """A capability of a job kind that some lifecycle edges need."""

    READY_PHASE = "ready-phase"
    """The job converges to ``ready`` and waits for job-complete (mirror, active commit)."""
    PAUSE_POINTS = "pause-points"
    """The job's run loop has pause points, so a pause or drain can park it."""
    BLOCK_JOB = "block-job"
    """A block job: ``block-job-*`` commands (set-speed, soft cancel) and I/O error policies."""
    MANUAL_FINALIZE = "manual-finalize"
    """``auto-finalize: false`` is possible: the job waits in ``pending`` for job-finalize."""
    AUTO_FINALIZE = "auto-finalize"
    """``auto-finalize: true`` is possible: ``pending`` passes on its own."""
    MANUAL_DISMISS = "manual-dismiss"
    """``auto-dismiss: false`` is possible: the job stays ``concluded`` until job-dismiss."""
    AUTO_DISMISS = "auto-dismiss"
    """``auto-dismiss: true`` is possible: ``concluded`` passes to ``null`` on its own."""
    GROUPED = "grouped"
    """The job can be in a grouped transaction and wait in ``waiting`` for a partner."""
    TRANSACTION = "transaction"
    """The job can be started by a ``transaction`` action (torn down if the transaction fails)."""


class JobKind(StrEnum):
    """A kind of job: a ``JobType``, with ``commit`` split into active and intermediate.

    The order is the planner's preference: kinds that need the least setup first.
    """

    MIRROR = "mirror"
    BACKUP = "backup"
    STREAM = "stream"
    ACTIVE_COMMIT = "active-commit"
    INTERMEDIATE_COMMIT = "intermediate-commit"
    CREATE = "create"
    AMEND = "amend"
    SNAPSHOT_LOAD = "snapshot-load"
    SNAPSHOT_SAVE = "snapshot-save"
    SNAPSHOT_DELETE = "snapshot-delete"

    @property
    def job_type(self) -> JobType:
        """The ``JobType`` that QEMU reports for jobs of this kind."""
        return _TYPE[self]

    @property
    def variant(self) -> str | None:
        """``"active"`` or ``"intermediate"`` for commit kinds (as in ``JobSpec.variant``)."""
        return _VARIANT.get(self)

    @property
    def features(self) -> frozenset[Feature]:
        return KIND_FEATURES[self]

    @property
    def has_ready_phase(self) -> bool:
        return Feature.READY_PHASE in self.features

    @property
    def has_pause_points(self) -> bool:
        return Feature.PAUSE_POINTS in self.features


_TYPE: dict[JobKind, JobType] = {
    JobKind.MIRROR: JobType.MIRROR,
    JobKind.ACTIVE_COMMIT: JobType.COMMIT,
    JobKind.INTERMEDIATE_COMMIT: JobType.COMMIT,
    JobKind.STREAM: JobType.STREAM,
    JobKind.BACKUP: JobType.BACKUP,
    JobKind.CREATE: JobType.CREATE,
    JobKind.AMEND: JobType.AMEND,
    JobKind.SNAPSHOT_LOAD: JobType.SNAPSHOT_LOAD,
    JobKind.SNAPSHOT_SAVE: JobType.SNAPSHOT_SAVE,
    JobKind.SNAPSHOT_DELETE: JobType.SNAPSHOT_DELETE,
}

_VARIANT: dict[JobKind, str] = {
    JobKind.ACTIVE_COMMIT: "active",
    JobKind.INTERMEDIATE_COMMIT: "intermediate",
}

_F = Feature
_BLOCK = frozenset(
    {
        _F.BLOCK_JOB,
        _F.PAUSE_POINTS,
        _F.MANUAL_FINALIZE,
        _F.AUTO_FINALIZE,
        _F.MANUAL_DISMISS,
        _F.AUTO_DISMISS,
    }
)
_NON_BLOCK = frozenset({_F.AUTO_FINALIZE, _F.MANUAL_DISMISS})

#: The features of each kind (see the module docstring for the sources).
KIND_FEATURES: dict[JobKind, frozenset[Feature]] = {
    JobKind.MIRROR: _BLOCK | {_F.READY_PHASE},
    JobKind.ACTIVE_COMMIT: _BLOCK | {_F.READY_PHASE},
    JobKind.INTERMEDIATE_COMMIT: _BLOCK,
    JobKind.STREAM: _BLOCK,
    JobKind.BACKUP: _BLOCK | {_F.GROUPED, _F.TRANSACTION},
    JobKind.CREATE: _NON_BLOCK,
    JobKind.AMEND: _NON_BLOCK,
    JobKind.SNAPSHOT_LOAD: _NON_BLOCK,
    JobKind.SNAPSHOT_SAVE: _NON_BLOCK,
    JobKind.SNAPSHOT_DELETE: _NON_BLOCK,
}


def kinds_of(model: Model, job_type: JobType | JobKind | None = None) -> tuple[JobKind, ...]:
    """The kinds meant by ``job_type`` that exist in ``model``, in :class:`JobKind` order.

    ``None`` means every kind of every job type the model version has; a
    ``JobType`` means its kinds (``commit``: active and intermediate).  A job
    type the model version does not have gives an empty tuple.
    """
    if isinstance(job_type, JobKind):
        wanted: tuple[JobKind, ...] = (job_type,)
    elif job_type is None:
        wanted = tuple(JobKind)
    else:
        wanted = tuple(k for k in JobKind if k.job_type is job_type)
    return tuple(k for k in wanted if k.job_type in model.job_types)


def kind_for(job_type: JobType, variant: str | None = None) -> JobKind:
    """The kind of a job started as ``job_type`` (commit: ``variant`` active/intermediate).

    A commit job without a variant is taken to be intermediate (``block-commit``
    with a ``top`` below the active layer); raises ``ValueError`` for a variant
    that does not fit the type.
    """
    if job_type is JobType.COMMIT:
        if variant in (None, "intermediate"):
            return JobKind.INTERMEDIATE_COMMIT
        if variant == "active":
            return JobKind.ACTIVE_COMMIT
    elif variant is None:
        return next(k for k in JobKind if k.job_type is job_type)
    raise ValueError(f"job type {job_type.value!r} has no variant {variant!r}")


@dataclass(frozen=True)
class JobSetup:
    """How a job is started: its kind and the options that shape its lifecycle."""

    kind: JobKind
    auto_finalize: bool = True
    auto_dismiss: bool = True
    grouped: bool = False
    """Started in a grouped transaction together with a partner backup job that stays held,
    so that this job rests in ``waiting`` when its own work is done."""
    on_error: str | None = None
    """``"stop"`` or ``"report"``: the job's I/O fails once it is released, and is handled
    with this policy (block jobs only; as ``JobSpec.on_error``)."""

    @property
    def label(self) -> str:
        """``backup auto-finalize=false grouped``: the kind and its non-default options."""
        parts = [self.kind.value]
        parts += [f"{name}=false" for name, on in self._flags() if not on]
        if self.grouped:
            parts.append("grouped")
        if self.on_error:
            parts.append(f"on-error={self.on_error}")
        return " ".join(parts)

    def _flags(self) -> tuple[tuple[str, bool], ...]:
        return (("auto-finalize", self.auto_finalize), ("auto-dismiss", self.auto_dismiss))


def setups(kind: JobKind) -> tuple[JobSetup, ...]:
    """Every setup a job of ``kind`` can be started with; QEMU's defaults first.

    The order is: fewest non-default options first, then auto-finalize before
    auto-dismiss before grouped before on-error.
    """
    features = kind.features
    finalize = [b for b in (True, False) if _allowed(features, b, Feature.AUTO_FINALIZE)]
    dismiss = [b for b in (True, False) if _allowed(features, b, Feature.AUTO_DISMISS)]
    grouped = [False, True] if Feature.GROUPED in features else [False]
    errors: list[str | None] = [None]
    if Feature.BLOCK_JOB in features:
        errors += ["stop", "report"]
    every = [
        JobSetup(kind, f, d, g, e)
        for e in errors
        for g in grouped
        for d in dismiss
        for f in finalize
    ]
    return tuple(sorted(every, key=_non_defaults))


def _non_defaults(setup: JobSetup) -> int:
    return (
        (not setup.auto_finalize)
        + (not setup.auto_dismiss)
        + setup.grouped
        + (setup.on_error is not None)
    )


def _allowed(features: frozenset[Feature], automatic: bool, auto_feature: Feature) -> bool:
    manual_feature = {
        Feature.AUTO_FINALIZE: Feature.MANUAL_FINALIZE,
        Feature.AUTO_DISMISS: Feature.MANUAL_DISMISS,
    }[auto_feature]
    return (auto_feature if automatic else manual_feature) in features
