"""The one small interface that every target implements.

A *target* is something that runs QEMU's job engine: the in-process simulator
(:mod:`.sim`) or a live QEMU (:mod:`.qemu`).  The campaign, replay and the
tests talk to targets only through :class:`Target`, in *driver steps*
(:mod:`jobcheck.conformance.trace.steps`): plain JSON objects that say what the
driver does, so that a trace recorded on one target can be replayed on another.

Every target records what it sends and receives as trace records
(:mod:`jobcheck.conformance.trace.records`), each step preceded by a :class:`Note`
carrying the step; :meth:`Target.take_records` hands them over.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from jobcheck.conformance.trace.records import Meta, Note, Record, Response
from jobcheck.conformance.trace.steps import Family, JobSpec, describe_step, verb_command
from jobcheck.model.lifecycle import Model, Verb


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
    def settle(self, expect: Mapping[str, str] | None = None) -> None:
        """Wait until the events caused by the previous steps have arrived.

        ``expect`` names the jobs that must leave a status by themselves (job id →
        status: what the oracle awaits, :meth:`~jobcheck.conformance.oracle.Oracle.awaiting`),
        and the target waits for exactly those to report another status.  A job
        that does not is given up on — at once when it shows no sign of life
        (*stalled*), at the bound (the target's timeout) when it is still working
        (*slow*) — and recorded in a :class:`Note` whose ``wait`` member holds the
        verdicts (:meth:`note_wait`).  With ``expect`` ``None`` the target
        waits by its own idea of which jobs still move.
        """

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
        wire = self.wire_id(job_id)
        command, arguments = verb_command(verb, wire, family, force=force, speed=speed)
        return self.execute(command, arguments)

    def raw_qmp(self, command: str, arguments: dict[str, Any] | None = None) -> Response:
        """Send the command of a raw ``qmp`` step (a live target limits what it may be)."""
        return self.execute(command, arguments)

    @property
    def ended(self) -> bool:
        """Whether the target can take no more commands because QEMU has quit (on request)."""
        return False

    def wire_id(self, job_id: str) -> str:
        """The id that the job the steps call ``job_id`` has in QEMU (the same, by default)."""
        return job_id

    def query(self) -> Response:
        return self.execute("query-jobs")

    def note(self, text: str, step: dict[str, Any] | None = None) -> None:
        """Record a driver note (and the step it stands for) in the trace."""
        self._record(Note(text, step))

    def note_wait(self, verdicts: dict[str, dict[str, Any]]) -> None:
        """Record the jobs a wait gave up on (see :meth:`settle`), if any."""
        if not verdicts:
            return
        words = ", ".join(
            f"{job} {v['verdict']} in {v['status']}" for job, v in sorted(verdicts.items())
        )
        self._record(Note(f"settle: gave up waiting: {words}", None, wait=verdicts))

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
            return self.raw_qmp(str(step["execute"]), step.get("arguments"))
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
