"""Driver steps: what the driver does, in plain JSON, recorded in every trace it makes.

Steps are how the campaign, replay and the tests drive a target
(:class:`~jobcheck.conformance.targets.base.Target`); each step is recorded in
the trace as a :class:`~jobcheck.conformance.trace.records.Note` before the
records it causes, so that a trace recorded on one target can be replayed on
another.  The steps are:

``{"op": "start", "jobs": [JOBSPEC, ...], "grouped": false}``
    Create the nodes the jobs need and start them: one start command per job,
    or one ``transaction`` with ``completion-mode: grouped`` when ``grouped``
    (backup jobs only).  A job starts *held*: it makes at most a little
    progress and then waits for
    :meth:`~jobcheck.conformance.targets.base.Target.release`.  With
    ``"aborted": true`` the backup jobs go into one ``transaction`` whose last
    action is ``abort``: QEMU creates them and tears them down inside the command
    (``created`` → ``aborting`` → ``concluded`` → ``null``), the one way a
    client can make a job leave ``created`` other than by starting it.
``{"op": "verb", "job": ID, "verb": "pause", "family": "job"}``
    Send a verb in the ``job-*`` family (``job-pause {"id": ID}``) or the
    ``block-job-*`` family (``block-job-pause {"device": ID}``).  ``cancel``
    in the block family takes ``"force": bool``; ``set-speed`` exists only in
    the block family and takes ``"speed": int``; ``change`` is
    ``block-job-change``.  See :func:`verb_command`.
``{"op": "query"}``
    ``query-jobs``.
``{"op": "release", "job": ID}`` / ``{"op": "hold", "job": ID}``
    Let the job run to the end of its work (or to READY), or park it again.
``{"op": "drain", "job": ID}``
    Cause an internal pause of the job (a drained section of its node):
    ``running``→``paused``→``running`` or ``ready``→``standby``→``ready``.
``{"op": "wait"}``
    Let the target settle: wait until the events that the previous steps
    caused have arrived (bounded by the target's timeout).
``{"op": "qmp", "execute": NAME, "arguments": {...}}``
    Send one raw QMP command (for reproducers of what the other steps cannot
    say, such as ``quit`` while a job runs).

A :class:`JobSpec` is ``{"type": "mirror", "id": "j0", "auto-finalize": true,
"auto-dismiss": true, "variant": null, "on-error": null}``.  ``variant`` is
``"active"`` or ``"intermediate"`` for commit jobs; ``on-error`` is ``"stop"``
or ``"report"`` to make the job's I/O fail once it is released.

Any step may carry ``"settle": false`` (do not wait for the target to settle
after it).  :func:`check_step` checks a step's shape (every reader of a
jobcheck trace applies it), so that nothing downstream meets a step it cannot
read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from jobcheck.conformance.trace.records import Note, Record
from jobcheck.model.kinds import kind_for
from jobcheck.model.lifecycle import JobType, Verb

Family = Literal["job", "block-job"]
ErrorPolicy = Literal["stop", "report"]


@dataclass(frozen=True)
class JobSpec:
    """A job to start: its type, id and options."""

    type: JobType
    id: str
    auto_finalize: bool = True
    auto_dismiss: bool = True
    variant: Literal["active", "intermediate"] | None = None
    """For commit jobs: active commit (has a ready phase) or intermediate commit."""
    on_error: ErrorPolicy | None = None
    """Inject an I/O error, handled with this policy, once the job is released."""

    @property
    def has_ready_phase(self) -> bool:
        return self.type is JobType.MIRROR or (
            self.type is JobType.COMMIT and self.variant == "active"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "id": self.id,
            "auto-finalize": self.auto_finalize,
            "auto-dismiss": self.auto_dismiss,
            "variant": self.variant,
            "on-error": self.on_error,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> JobSpec:
        return cls(
            type=JobType(obj["type"]),
            id=str(obj["id"]),
            auto_finalize=bool(obj.get("auto-finalize", True)),
            auto_dismiss=bool(obj.get("auto-dismiss", True)),
            variant=obj.get("variant"),
            on_error=obj.get("on-error"),
        )


class StepError(ValueError):
    """A driver step of a shape that :func:`check_step` does not accept."""


#: A job id in a step: what QEMU accepts as an id (a letter first), or any short word.
JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)

#: A QMP command name in a raw ``qmp`` step.
COMMAND_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}", re.ASCII)

_KEYS: dict[str, frozenset[str]] = {
    "start": frozenset({"jobs", "grouped", "aborted"}),
    "verb": frozenset({"job", "verb", "family", "force", "speed"}),
    "query": frozenset(),
    "release": frozenset({"job"}),
    "hold": frozenset({"job"}),
    "drain": frozenset({"job"}),
    "wait": frozenset(),
    "qmp": frozenset({"execute", "arguments"}),
}
_SPEC_KEYS = frozenset({"type", "id", "auto-finalize", "auto-dismiss", "variant", "on-error"})

#: The most jobs one ``start`` step may start.
MAX_STEP_JOBS = 16


def _job_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not JOB_ID.fullmatch(value):
        raise StepError(f"{where} must be a job id such as j0 (letters, digits, '.', '_', '-')")
    return value


def _flag(step: dict[str, Any], key: str, where: str, none: bool = False) -> None:
    value = step.get(key)
    if not (isinstance(value, bool) or (value is None and (none or key not in step))):
        raise StepError(f"{where} {key!r} must be true or false")


def _choice(value: Any, choices: Iterable[Any], where: str) -> None:
    allowed = list(choices)
    if value not in allowed:
        names = ", ".join("null" if c is None else str(c) for c in allowed)
        raise StepError(f"{where} must be one of {names}")


def _check_spec(spec: Any, where: str) -> None:
    if not isinstance(spec, dict):
        raise StepError(f"{where} must be a JSON object (a job spec)")
    extra = sorted(set(spec) - _SPEC_KEYS)
    if extra:
        raise StepError(f"{where} has an unknown key {extra[0]!r}")
    _choice(spec.get("type"), [t.value for t in JobType], f"{where} 'type'")
    _job_id(spec.get("id"), f"{where} 'id'")
    for key in ("auto-finalize", "auto-dismiss"):
        _flag(spec, key, where)
    _choice(spec.get("variant"), [None, "active", "intermediate"], f"{where} 'variant'")
    _choice(spec.get("on-error"), [None, "stop", "report"], f"{where} 'on-error'")


def check_step(step: Any) -> dict[str, Any]:
    """``step``, if it is a driver step of a known shape (see the module docstring).

    Raises :class:`StepError`, saying what is wrong in one line.  Raw ``qmp``
    steps are only checked for their shape here: which commands a live target
    accepts in them is the target's business.

    >>> check_step({"op": "verb", "job": "j0", "verb": "pause", "family": "job"})["verb"]
    'pause'
    >>> try:
    ...     check_step({"op": "start", "jobs": "mirror"})
    ... except StepError as exc:
    ...     print(exc)
    a start step's 'jobs' must be a list of 1 to 16 job specs
    """
    if not isinstance(step, dict):
        raise StepError("a step must be a JSON object")
    op = step.get("op")
    if not isinstance(op, str) or op not in _KEYS:
        raise StepError(f"unknown step op; known: {', '.join(_KEYS)}")
    where = f"a {op} step's"
    extra = sorted(set(step) - _KEYS[op] - {"op", "settle"})
    if extra:
        raise StepError(f"a {op} step has an unknown key {extra[0]!r}")
    _flag(step, "settle", where)
    if op == "start":
        jobs = step.get("jobs")
        if not isinstance(jobs, list) or not 1 <= len(jobs) <= MAX_STEP_JOBS:
            raise StepError(f"{where} 'jobs' must be a list of 1 to {MAX_STEP_JOBS} job specs")
        for number, spec in enumerate(jobs, start=1):
            _check_spec(spec, f"job {number} of a start step")
        _flag(step, "grouped", where)
        _flag(step, "aborted", where)
    elif op == "verb":
        _job_id(step.get("job"), f"{where} 'job'")
        _choice(step.get("verb"), [v.value for v in Verb], f"{where} 'verb'")
        _choice(step.get("family", "job"), ["job", "block-job"], f"{where} 'family'")
        _flag(step, "force", where, none=True)
        speed = step.get("speed")
        if speed is not None and (
            not isinstance(speed, int) or isinstance(speed, bool) or not 0 <= speed < 2**63
        ):
            raise StepError(f"{where} 'speed' must be a non-negative integer")
    elif op in ("release", "hold", "drain"):
        _job_id(step.get("job"), f"{where} 'job'")
    elif op == "qmp":
        name = step.get("execute")
        if not isinstance(name, str) or not COMMAND_NAME.fullmatch(name):
            raise StepError(f"{where} 'execute' must be a QMP command name")
        arguments = step.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise StepError(f"{where} 'arguments' must be a JSON object")
    return step


def verb_command(
    verb: Verb,
    job_id: str,
    family: Family = "job",
    *,
    force: bool | None = None,
    speed: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """The QMP command (name, arguments) that applies ``verb`` to ``job_id``.

    ``set-speed`` and ``change`` exist only as ``block-job-*`` commands, so
    they ignore ``family``.
    """
    if verb is Verb.SET_SPEED:
        return "block-job-set-speed", {"device": job_id, "speed": 0 if speed is None else speed}
    if verb is Verb.CHANGE:
        return "block-job-change", {"id": job_id, "type": "mirror", "copy-mode": "write-blocking"}
    if family == "job":
        return f"job-{verb.value}", {"id": job_id}
    # block-job-finalize and block-job-dismiss name the job by "id", the others by "device".
    key = "id" if verb in (Verb.FINALIZE, Verb.DISMISS) else "device"
    args: dict[str, Any] = {key: job_id}
    if verb is Verb.CANCEL and force is not None:
        args["force"] = force
    return f"block-job-{verb.value}", args


def step_jobs(step: dict[str, Any]) -> set[str]:
    """The ids of the jobs a step names: those a ``start`` step starts, or its ``job``."""
    if step.get("op") == "start":
        return {str(job["id"]) for job in step.get("jobs", [])}
    return {str(step["job"])} if "job" in step else set()


def describe_step(step: dict[str, Any]) -> str:
    """A step in words, for the readable reproducer: ``job-pause j0``, ``start mirror j0``."""
    op = step.get("op")
    if op == "start":
        parts = []
        for job in step.get("jobs", []):
            flags = [
                f"{k}={str(job[k]).lower()}"
                for k in ("auto-finalize", "auto-dismiss")
                if job.get(k) is False
            ]
            flags += [f"{k}={job[k]}" for k in ("variant", "on-error") if job.get(k)]
            parts.append(" ".join([job["type"], job["id"], *flags]))
        prefix = "start grouped transaction: " if step.get("grouped") else "start "
        if step.get("aborted"):
            prefix = "start in a transaction that aborts: "
        return prefix + ", ".join(parts)
    if op == "verb":
        command, arguments = verb_command(
            Verb(step["verb"]),
            str(step["job"]),
            step.get("family", "job"),
            force=step.get("force"),
            speed=step.get("speed"),
        )
        extra = " ".join(f"{k}={v}" for k, v in arguments.items() if k not in ("id", "device"))
        return f"{command} {step['job']}" + (f" {extra}" if extra else "")
    if op in ("release", "hold", "drain"):
        return f"{op} {step['job']}"
    if op == "qmp":
        return f"{step.get('execute')} (raw QMP)"
    return str(op)


def kind_of(spec: dict[str, Any]) -> str:
    """The job kind (a :class:`~jobcheck.model.kinds.JobKind` value) of a start step's job spec.

    ``?`` for a spec of no known kind.
    """
    try:
        return kind_for(JobType(str(spec.get("type"))), spec.get("variant")).value
    except ValueError:
        return "?"


def job_kinds(records: Iterable[Record]) -> dict[str, str]:
    """Job id → job kind, from the ``start`` steps in a trace's notes (last start wins)."""
    kinds: dict[str, str] = {}
    for record in records:
        if isinstance(record, Note) and record.step and record.step.get("op") == "start":
            for spec in record.step.get("jobs", []):
                if isinstance(spec, dict) and "id" in spec:
                    kinds[str(spec["id"])] = kind_of(spec)
    return kinds
