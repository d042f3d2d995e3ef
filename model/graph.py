"""Graph views of the lifecycle model: reachability, planning, and version diffs.

Pure functions over :class:`~jobcheck.model.lifecycle.Model`; no I/O.

:func:`diff` compares two model versions::

    >>> from jobcheck.model.lifecycle import MODELS
    >>> d = diff(MODELS["5.2"], MODELS["6.0"])
    >>> sorted((v.value, s.value) for v, s in d.added_cells)
    [('complete', 'standby')]
"""

from __future__ import annotations

from dataclasses import dataclass

from jobcheck.model.lifecycle import JobType, Model, Status, Verb


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
