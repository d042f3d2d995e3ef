"""The one small interface that every target implements, and the driver steps.

A *target* is something that runs QEMU's job engine: the in-process simulator
(:mod:`.sim`) or a live QEMU (:mod:`.qemu`).  The campaign, replay and the
tests talk to targets only through :class:`Target`, in *steps*: plain JSON
objects that say what the driver does, so that a trace recorded on one target
can be replayed on another.  The steps are:

``{"op": "start", "jobs": [JOBSPEC, ...], "grouped": false}``
    Create the nodes the jobs need and start them: one start command per job,
    or one ``transaction`` with ``completion-mode: grouped`` when ``grouped``
    (backup jobs only).  A job starts *held*: it makes at most a little
    progress and then waits for :meth:`Target.release`.  With ``"aborted":
    true`` the backup jobs go into one ``transaction`` whose last action is
    ``abort``: QEMU creates them and tears them down inside the command
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

Every target records what it sends and receives as trace records
(:mod:`jobcheck.conformance.trace`), each step preceded by a :class:`Note`
carrying the step; :meth:`Target.take_records` hands them over.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from jobcheck.conformance.trace import Meta, Note, Record, Response
from jobcheck.model.lifecycle import JobType, Model, Verb

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


class Target(abc.ABC):
    """A QEMU job engine that the campaign can drive and observe.

    Methods either return normally, having recorded what was sent and
    received, or raise :class:`~jobcheck.conformance.errors.TargetError` when
    the target itself failed (exited, closed its socket, did not answer in
    time).  A refused command is not a failure: it is a recorded error
    :class:`Response`.
    """

    #: ``sim`` or ``qemu``.
    kind: str = "?"

    @property
    @abc.abstractmethod
    def qemu_version(self) -> str:
        """The version of the QEMU the target is (or simulates), e.g. ``7.2.22``."""

    @property
    @abc.abstractmethod
    def model(self) -> Model:
        """The model version that matches this target."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line naming the target (binary, version, or simulator and mutant)."""

    def meta(self, **extra: Any) -> Meta:
        """The trace metadata of this target's records."""
        return Meta(source=self.kind, qemu_version=self.qemu_version, order="wire", extra=extra)

    @abc.abstractmethod
    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Response:
        """Send one QMP command and return its response (recorded, with any events)."""

    @abc.abstractmethod
    def start(
        self, jobs: Sequence[JobSpec], grouped: bool = False, aborted: bool = False
    ) -> Response:
        """Set up nodes and start the jobs, held; the response of the start command.

        ``aborted``: start backup jobs in a transaction that ends with an ``abort``
        action (see the module docstring).
        """

    @abc.abstractmethod
    def release(self, job_id: str) -> None:
        """Let a held job run to the end of its work (or to READY)."""

    @abc.abstractmethod
    def hold(self, job_id: str) -> None:
        """Park a released job again (best effort: it may already be done)."""

    @abc.abstractmethod
    def drain(self, job_id: str) -> None:
        """Cause an internal (drain) pause and resume of the job's node."""

    @abc.abstractmethod
    def settle(self) -> None:
        """Wait until the events caused by the previous steps have arrived."""

    @abc.abstractmethod
    def take_records(self) -> list[Record]:
        """The trace records made since the last call, in order."""

    @abc.abstractmethod
    def close(self) -> None:
        """Tear everything down (jobs, nodes, processes, temporary files). Idempotent."""

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- steps -----------------------------------------------------------

    def verb(
        self,
        verb: Verb,
        job_id: str,
        family: Family = "job",
        *,
        force: bool | None = None,
        speed: int | None = None,
    ) -> Response:
        """Apply a verb (see :func:`verb_command`)."""
        command, arguments = verb_command(verb, job_id, family, force=force, speed=speed)
        return self.execute(command, arguments)

    def query(self) -> Response:
        return self.execute("query-jobs")

    def note(self, text: str, step: dict[str, Any] | None = None) -> None:
        """Record a driver note (and the step it stands for) in the trace."""
        self._record(Note(text, step))

    @abc.abstractmethod
    def _record(self, record: Record) -> None:
        """Append one record to the trace being made."""

    def apply(self, step: dict[str, Any]) -> Response | None:
        """Run one step (see the module docstring), noting it in the trace first."""
        op = step.get("op")
        self.note(describe_step(step), step)
        if op == "start":
            specs = [JobSpec.from_json(j) for j in step["jobs"]]
            return self.start(
                specs, bool(step.get("grouped", False)), bool(step.get("aborted", False))
            )
        if op == "verb":
            return self.verb(
                Verb(step["verb"]),
                str(step["job"]),
                step.get("family", "job"),
                force=step.get("force"),
                speed=step.get("speed"),
            )
        if op == "query":
            return self.query()
        if op == "qmp":
            return self.execute(str(step["execute"]), step.get("arguments"))
        if op == "release":
            self.release(str(step["job"]))
        elif op == "hold":
            self.hold(str(step["job"]))
        elif op == "drain":
            self.drain(str(step["job"]))
        elif op == "wait":
            self.settle()
        else:
            raise ValueError(f"unknown step op {op!r}")
        return None


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
