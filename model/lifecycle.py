"""The facts of QEMU's job lifecycle, per QEMU version.

This module holds data only: the ``JobStatus``, ``JobVerb`` and ``JobType``
enumerations of ``qapi/job.json`` and, for each modelled QEMU release, the
status transition relation (QEMU's ``JobSTT``) and the verb permission
relation (QEMU's ``JobVerbTable``).  Nothing here does I/O.

The tables were compiled from QEMU's source history (docs/qemu-job-engine.md,
'The transition table', 'The verb table' and 'Enumerations per release'):

* the transition relation has not changed since v2.12.0;
* the verb table has three variants: **A** (2.12 to 5.2), **B** (6.0 to 8.1:
  ``complete`` is also permitted in ``standby``, QEMU commit 53ddb9c892
  "job: Allow complete for jobs on standby") and **C** (8.2 onwards: the new
  verb ``change``, QEMU commit 61a3a5a76a "blockjob: introduce
  block-job-change QMP command").

A release also gets a model of its own where something else a trace can
show changed: **5.0**, where the error text for a negative speed changed
(QEMU commit 1ef7d9d368 "blockjob: Fix error message for negative speed",
see :func:`jobcheck.model.semantics.negative_speed_error`), and **10.1**,
where the job documentation was rewritten (QEMU commit da17dd5c5e "qapi:
synchronize jobs and block-jobs documentation"), which changes the rules of
:mod:`jobcheck.model.rules` that apply.  Their tables are those of 4.2 and
10.0 (9.2).

Use :func:`model_for` to get the model for any QEMU version string::

    >>> model_for("7.2.22").version
    '7.2'
    >>> model_for("9.1.0").version
    '8.2'
    >>> model_for("5.0.1").version
    '5.0'
    >>> model_for("10.0.2").version
    '9.2'
    >>> model_for("10.1.50").version
    '10.1'
    >>> model_for("10.2.50").version
    '10.2'

A micro version of 50 or more is QEMU's development tree after a release
(``10.1.50`` is master after 10.1.0, ``10.1.91`` the first release candidate of
10.2.0); it gets the model of that release, unless its own ``qapi/job.json``
shows the next one's documentation (``--qemu-build`` reads it).
:func:`model_choice` says in one line which model a version gets and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property


class Status(StrEnum):
    """``JobStatus``: the status of a job, in QAPI enum order."""

    UNDEFINED = "undefined"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    READY = "ready"
    STANDBY = "standby"
    WAITING = "waiting"
    PENDING = "pending"
    ABORTING = "aborting"
    CONCLUDED = "concluded"
    NULL = "null"

    @property
    def letter(self) -> str:
        """The one-letter column name used in QEMU's table comments."""
        return _LETTERS[self]


_LETTERS: dict[Status, str] = dict(zip(Status, "UCRPYSWDXEN", strict=True))


STATUS_NAMED: dict[str, Status] = {s.value: s for s in Status}
"""Each status by its QAPI name: a dict lookup, cheaper than ``Status(name)`` on hot paths."""


class Verb(StrEnum):
    """``JobVerb``: the command verbs that can be applied to a job, in QAPI enum order."""

    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    SET_SPEED = "set-speed"
    COMPLETE = "complete"
    DISMISS = "dismiss"
    FINALIZE = "finalize"
    CHANGE = "change"


class JobType(StrEnum):
    """``JobType`` (``BlockJobType`` in QEMU 2.12): the kind of a job."""

    COMMIT = "commit"
    STREAM = "stream"
    MIRROR = "mirror"
    BACKUP = "backup"
    CREATE = "create"
    AMEND = "amend"
    SNAPSHOT_LOAD = "snapshot-load"
    SNAPSHOT_SAVE = "snapshot-save"
    SNAPSHOT_DELETE = "snapshot-delete"


#: Job types whose jobs are block jobs (``BLOCK_JOB_*`` events, ``block-job-*`` commands).
BLOCK_JOB_TYPES: frozenset[JobType] = frozenset(
    {JobType.COMMIT, JobType.STREAM, JobType.MIRROR, JobType.BACKUP}
)


def _edges(text: str) -> frozenset[tuple[Status, Status]]:
    """Parse ``"C>R C>X"``-style edge lists written with the table letters."""
    by_letter = {s.letter: s for s in Status}
    pairs = (item.split(">") for item in text.split())
    return frozenset((by_letter[a], by_letter[b]) for a, b in pairs)


def _cells(letters: str) -> frozenset[Status]:
    by_letter = {s.letter: s for s in Status}
    return frozenset(by_letter[c] for c in letters)


#: QEMU's ``JobSTT``, identical in every version from 2.12.0 to 10.2 and master.
TRANSITIONS: frozenset[tuple[Status, Status]] = _edges(
    "U>C C>R C>X C>N R>P R>Y R>W R>X P>R Y>S Y>W Y>X S>Y W>D W>X D>X D>E X>X X>E E>N"
)

_VERBS_A: Mapping[Verb, frozenset[Status]] = {
    Verb.CANCEL: _cells("CRPYSWD"),
    Verb.PAUSE: _cells("CRPYS"),
    Verb.RESUME: _cells("CRPYS"),
    Verb.SET_SPEED: _cells("CRPYS"),
    Verb.COMPLETE: _cells("Y"),
    Verb.FINALIZE: _cells("D"),
    Verb.DISMISS: _cells("E"),
}
_VERBS_B: Mapping[Verb, frozenset[Status]] = {**_VERBS_A, Verb.COMPLETE: _cells("YS")}
_VERBS_C: Mapping[Verb, frozenset[Status]] = {**_VERBS_B, Verb.CHANGE: _cells("CRPYS")}

_TYPES_2_12 = (JobType.COMMIT, JobType.STREAM, JobType.MIRROR, JobType.BACKUP)
_TYPES_3_0 = (*_TYPES_2_12, JobType.CREATE)
_TYPES_5_1 = (*_TYPES_3_0, JobType.AMEND)
_TYPES_6_0 = (
    *_TYPES_5_1,
    JobType.SNAPSHOT_LOAD,
    JobType.SNAPSHOT_SAVE,
    JobType.SNAPSHOT_DELETE,
)


@dataclass(frozen=True)
class Model:
    """The lifecycle of one QEMU release: enums, transitions and verb permissions."""

    version: str
    """The model's name, ``MAJOR.MINOR`` of the first release it describes."""
    verb_table: str
    """Which verb-table variant (``A``, ``B`` or ``C``) this release has."""
    job_types: tuple[JobType, ...]
    permitted: Mapping[Verb, frozenset[Status]]
    """Verb permission relation: for each verb, the statuses that accept it."""
    transitions: frozenset[tuple[Status, Status]] = TRANSITIONS
    statuses: tuple[Status, ...] = tuple(Status)
    job_commands: bool = True
    """Whether the ``job-*`` commands, ``query-jobs`` and ``JOB_STATUS_CHANGE`` exist (3.0+)."""
    aliases: tuple[str, ...] = field(default=())

    @property
    def release(self) -> tuple[int, int]:
        major, minor = self.version.split(".")
        return int(major), int(minor)

    @cached_property
    def verbs(self) -> tuple[Verb, ...]:
        """The ``JobVerb`` members of this release, in QAPI enum order."""
        return tuple(v for v in Verb if v in self.permitted)

    def allows(self, source: Status, target: Status) -> bool:
        """Whether ``JobSTT`` permits the transition ``source`` → ``target``."""
        return (source, target) in self.transitions

    def successors(self, source: Status) -> frozenset[Status]:
        return self._successors.get(source, frozenset())

    @cached_property
    def _successors(self) -> dict[Status, frozenset[Status]]:
        """``successors`` of every status that has any, computed once."""
        out: dict[Status, set[Status]] = {}
        for a, b in self.transitions:
            out.setdefault(a, set()).add(b)
        return {a: frozenset(bs) for a, bs in out.items()}

    def permits(self, verb: Verb, status: Status) -> bool:
        """Whether ``JobVerbTable`` permits ``verb`` in ``status`` (unknown verbs: no)."""
        return status in self.permitted.get(verb, frozenset())

    def cells(self) -> Iterator[tuple[Verb, Status, bool]]:
        """Every verb × status cell of this release, with its permission."""
        for verb in self.verbs:
            for status in self.statuses:
                yield verb, status, self.permits(verb, status)


MODELS: dict[str, Model] = {
    m.version: m
    for m in (
        Model("2.12", "A", _TYPES_2_12, _VERBS_A, job_commands=False),
        Model("3.0", "A", _TYPES_3_0, _VERBS_A),
        Model("4.2", "A", _TYPES_3_0, _VERBS_A),
        Model("5.0", "A", _TYPES_3_0, _VERBS_A),
        Model("5.1", "A", _TYPES_5_1, _VERBS_A),
        Model("5.2", "A", _TYPES_5_1, _VERBS_A),
        Model("6.0", "B", _TYPES_6_0, _VERBS_B),
        Model("6.2", "B", _TYPES_6_0, _VERBS_B),
        Model("7.2", "B", _TYPES_6_0, _VERBS_B),
        Model("8.2", "C", _TYPES_6_0, _VERBS_C),
        Model("9.2", "C", _TYPES_6_0, _VERBS_C),
        Model("10.1", "C", _TYPES_6_0, _VERBS_C),
        Model("10.2", "C", _TYPES_6_0, _VERBS_C, aliases=("latest",)),
    )
}
"""Every modelled release, oldest first, keyed by ``MAJOR.MINOR``.

A model describes its release and every later one up to the next model: 5.0
covers 5.0.x, 9.2 covers 9.2.x and 10.0.x, 10.1 covers 10.1.x and the 10.1.50
development tree."""

LATEST: Model = MODELS["10.2"]

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~].*)?$")


class UnknownVersionError(ValueError):
    """A version string that names no modelled release."""

    def __init__(self, text: str) -> None:
        known = ", ".join([*MODELS, "latest"])
        super().__init__(f"unknown QEMU version {text!r}; known models: {known}")
        self.text = text


#: A micro version at or above this is a development version (master, or a release
#: candidate of the next release).
DEVELOPMENT_MICRO = 50


def model_for(version: str) -> Model:
    """The model of the newest modelled release at or below ``version``.

    Accepts ``latest``, ``MAJOR.MINOR`` and ``MAJOR.MINOR.MICRO`` (with an
    optional ``v`` prefix and a packaging suffix such as ``+dfsg``).  Raises
    :class:`UnknownVersionError` for anything else, or for a version older
    than the oldest model (2.12).
    """
    return model_choice(version)[0]


def release_of(version: str) -> tuple[int, int, int]:
    """``(major, minor, micro)`` of a QEMU version string (:class:`UnknownVersionError`).

    >>> release_of("10.1.50")
    (10, 1, 50)
    """
    match = _VERSION_RE.match(version.strip())
    if not match:
        raise UnknownVersionError(version)
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def model_choice(version: str) -> tuple[Model, str]:
    """The model for ``version`` (as :func:`model_for`) and one line saying why.

    >>> model_choice("7.2.22")[1]
    'model 7.2: written for QEMU 7.2, and this is QEMU 7.2.22'
    >>> model_choice("10.0.2")[1]
    'model 9.2: the newest model at or below QEMU 10.0.2 (none is written for 10.0)'
    >>> model_choice("10.1.50")[1]
    'model 10.1: QEMU 10.1.50 is a development version after 10.1, the newest model at or below it'
    """
    text = version.strip()
    for model in MODELS.values():
        if text == model.version or text in model.aliases:
            return model, f"model {model.version}: asked for {text}"
    major, minor, micro = release_of(text)
    candidates = [m for m in MODELS.values() if m.release <= (major, minor)]
    if not candidates:
        raise UnknownVersionError(version)
    model = candidates[-1]
    if micro >= DEVELOPMENT_MICRO:
        why = (
            f"QEMU {text} is a development version after {major}.{minor},"
            " the newest model at or below it"
        )
    elif model.release == (major, minor):
        why = f"written for QEMU {model.version}, and this is QEMU {text}"
    else:
        why = f"the newest model at or below QEMU {text} (none is written for {major}.{minor})"
    return model, f"model {model.version}: {why}"
