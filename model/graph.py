"""Graph views of the lifecycle model: reachability, visibility, planning, version diffs.

Pure functions over :class:`~jobcheck.model.lifecycle.Model`; no I/O.

:func:`lifecycle_graph` turns a model version (optionally restricted to one
job type or :class:`~jobcheck.model.kinds.JobKind`) into a networkx
``MultiDiGraph``: one node per status, one edge per transition that the
job kinds can make, with the edge's causes (:mod:`jobcheck.model.causes`)
in its ``causes`` attribute.  The other functions answer questions about it::

    >>> from jobcheck.model.lifecycle import MODELS, JobType, Status
    >>> m = MODELS["7.2"]
    >>> Status.READY in reachable(m, JobType.BACKUP)
    False
    >>> sorted(s.value for s in terminal_statuses(m))
    ['null']
    >>> [str(c) for c in plan_cell(m, Verb.COMPLETE, Status.STANDBY)]
    ['start mirror', 'release', 'pause', 'complete']
    >>> d = diff(MODELS["5.2"], MODELS["6.0"])
    >>> sorted((v.value, s.value) for v, s in d.added_cells)
    [('complete', 'standby')]

``job_type`` everywhere accepts a ``JobType`` (the union of its kinds:
``commit`` is active or intermediate), a ``JobKind``, or ``None`` (every kind
the model version has).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import networkx as nx

from jobcheck.model.causes import EDGE_CAUSES, Cause
from jobcheck.model.kinds import JobKind, kinds_of
from jobcheck.model.lifecycle import JobType, Model, Status, Verb
from jobcheck.model.plan import plan_cell, plan_edge, plan_status, resting_statuses

__all__ = [
    "ModelDiff",
    "Visibility",
    "can_reach_null",
    "diff",
    "edge_causes",
    "executable_statuses",
    "invisible_statuses",
    "lifecycle_graph",
    "maybe_invisible_statuses",
    "plan_cell",
    "plan_edge",
    "plan_status",
    "reachable",
    "reachable_cells",
    "terminal_statuses",
]

JobTypeArg = JobType | JobKind | None


class Visibility(StrEnum):
    """What ``qapi/job.json`` says about seeing a status."""

    VISIBLE = "visible"
    MAYBE_INVISIBLE = "maybe-invisible"
    """"will likely not be visible" (waiting) / "may not be visible" (aborting)."""
    INVISIBLE = "invisible"
    """"Should not ever be visible" (undefined) / "should not ever be visible externally" (null)."""


#: The documented visibility of each status (``@JobStatus`` in qapi/job.json).
VISIBILITY: dict[Status, Visibility] = {s: Visibility.VISIBLE for s in Status} | {
    Status.UNDEFINED: Visibility.INVISIBLE,
    Status.NULL: Visibility.INVISIBLE,
    Status.WAITING: Visibility.MAYBE_INVISIBLE,
    Status.ABORTING: Visibility.MAYBE_INVISIBLE,
}


def edge_causes(
    model: Model, source: Status, target: Status, job_type: JobTypeArg = None
) -> tuple[Cause, ...]:
    """The causes of ``source`` → ``target`` for ``job_type`` in ``model``, sorted.

    A verb cause counts only where the model version has the verb and permits
    it in ``source``; an internal cause only where one of the kinds has the
    features it requires.  Empty when the transition cannot happen.
    """
    if (source, target) not in model.transitions:
        return ()
    kinds = kinds_of(model, job_type)
    found = {
        ec.cause
        for ec in EDGE_CAUSES
        if (ec.source, ec.target) == (source, target)
        and any(ec.requires <= k.features for k in kinds)
        and (ec.cause.verb is None or model.permits(ec.cause.verb, source))
    }
    return tuple(sorted(found, key=lambda c: c.sort_key))


def lifecycle_graph(model: Model, job_type: JobTypeArg = None) -> nx.MultiDiGraph:
    """The lifecycle of ``model`` for ``job_type`` as a graph.

    Nodes are every :class:`Status` of the model (attribute ``visibility``);
    there is one edge (key 0) per transition that has at least one cause,
    with attribute ``causes``: a sorted tuple of :class:`Cause`.  Graph
    attributes: ``version`` and ``job_type`` (its value, or ``None``).
    """
    graph = nx.MultiDiGraph(
        version=model.version, job_type=None if job_type is None else job_type.value
    )
    for status in model.statuses:
        graph.add_node(status, visibility=VISIBILITY[status])
    for source, target in sorted(model.transitions, key=_edge_key):
        causes = edge_causes(model, source, target, job_type)
        if causes:
            graph.add_edge(source, target, causes=causes)
    return graph


def _edge_key(edge: tuple[Status, Status]) -> tuple[int, int]:
    order = list(Status)
    return order.index(edge[0]), order.index(edge[1])


def reachable(model: Model, job_type: JobTypeArg = None) -> frozenset[Status]:
    """The statuses a job of ``job_type`` can reach from ``created`` (``created`` included).

    Empty when the model version has no such job type.
    """
    if not kinds_of(model, job_type):
        return frozenset()
    graph = lifecycle_graph(model, job_type)
    return frozenset({Status.CREATED} | nx.descendants(graph, Status.CREATED))


def can_reach_null(model: Model, status: Status, job_type: JobTypeArg = None) -> bool:
    """Whether a job of ``job_type`` in ``status`` can still end (reach ``null``)."""
    if status is Status.NULL:
        return True
    graph = lifecycle_graph(model, job_type)
    return Status.NULL in nx.descendants(graph, status)


def terminal_statuses(model: Model, job_type: JobTypeArg = None) -> frozenset[Status]:
    """Reachable statuses with no way out (self-loops aside): ``{null}`` for every model."""
    graph = lifecycle_graph(model, job_type)
    return frozenset(
        s for s in reachable(model, job_type) if not any(t != s for t in graph.successors(s))
    )


def invisible_statuses(model: Model) -> frozenset[Status]:
    """Statuses documented as never visible: ``undefined`` and ``null``.

    (QEMU does emit ``JOB_STATUS_CHANGE`` for ``null``: rule
    ``status.null-never-visible`` is a known divergence.)
    """
    return frozenset(s for s in model.statuses if VISIBILITY[s] is Visibility.INVISIBLE)


def maybe_invisible_statuses(model: Model) -> frozenset[Status]:
    """Statuses documented as possibly not visible: ``waiting`` and ``aborting``."""
    return frozenset(s for s in model.statuses if VISIBILITY[s] is Visibility.MAYBE_INVISIBLE)


def executable_statuses(model: Model, job_type: JobTypeArg = None) -> frozenset[Status]:
    """The statuses in which a command can ever execute on a job of ``job_type``.

    These are the statuses where a job *rests* until the client acts
    (:mod:`jobcheck.model.plan`): for all job types together, every reachable
    status except ``undefined``, ``created`` and ``aborting``, which pass
    within one command or one job step (docs/driving-qemu.md, 'Statuses a
    client can see').  ``null`` counts: a verb on a dismissed job is
    answered "Job not found".  Per kind it is
    narrower: only backup rests in ``waiting`` (grouped transactions), only
    mirror and active commit in ``ready``/``standby``, jobs without pause
    points never rest in ``paused``, and jobs without a speed to hold them by
    (create, amend) not even in ``running``: their work is done within
    milliseconds of their start.
    """
    return resting_statuses(model, job_type)


def reachable_cells(model: Model, job_type: JobTypeArg = None) -> frozenset[tuple[Verb, Status]]:
    """Every verb of ``model`` × every status in :func:`executable_statuses`."""
    statuses = executable_statuses(model, job_type)
    return frozenset((v, s) for v in model.verbs for s in statuses)


@dataclass(frozen=True)
class ModelDiff:
    """What changed from one model version to another."""

    old: str
    """Version of the older model, e.g. ``"5.2"``."""
    new: str
    """Version of the newer model, e.g. ``"6.0"``."""
    added_transitions: frozenset[tuple[Status, Status]]
    removed_transitions: frozenset[tuple[Status, Status]]
    added_cells: frozenset[tuple[Verb, Status]]
    """Verb × status cells permitted in ``new`` but not in ``old``."""
    removed_cells: frozenset[tuple[Verb, Status]]
    added_verbs: tuple[Verb, ...]
    removed_verbs: tuple[Verb, ...]
    added_job_types: tuple[JobType, ...]
    removed_job_types: tuple[JobType, ...]

    @property
    def empty(self) -> bool:
        """Whether the two models have the same transitions, cells, verbs and job types."""
        return not (
            self.added_transitions
            or self.removed_transitions
            or self.added_cells
            or self.removed_cells
            or self.added_verbs
            or self.removed_verbs
            or self.added_job_types
            or self.removed_job_types
        )

    @property
    def lifecycle_changed(self) -> bool:
        """Whether transitions or verb permissions differ (job types aside)."""
        return bool(
            self.added_transitions
            or self.removed_transitions
            or self.added_cells
            or self.removed_cells
        )


def _permitted_cells(model: Model) -> frozenset[tuple[Verb, Status]]:
    return frozenset((verb, status) for verb, status, ok in model.cells() if ok)


def diff(old: Model, new: Model) -> ModelDiff:
    """The differences between two models (``new`` compared with ``old``).

    Verbs and job types keep QAPI enum order; the sets are unordered.
    """
    old_cells, new_cells = _permitted_cells(old), _permitted_cells(new)
    return ModelDiff(
        old=old.version,
        new=new.version,
        added_transitions=new.transitions - old.transitions,
        removed_transitions=old.transitions - new.transitions,
        added_cells=new_cells - old_cells,
        removed_cells=old_cells - new_cells,
        added_verbs=tuple(v for v in Verb if v in new.verbs and v not in old.verbs),
        removed_verbs=tuple(v for v in Verb if v in old.verbs and v not in new.verbs),
        added_job_types=tuple(t for t in JobType if t in new.job_types and t not in old.job_types),
        removed_job_types=tuple(
            t for t in JobType if t in old.job_types and t not in new.job_types
        ),
    )
