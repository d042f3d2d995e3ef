"""The in-process simulator of QEMU's job engine, as a :class:`~.base.Target`.

The simulator speaks QMP like QEMU: :meth:`Simulator.execute` takes a command
and its arguments and answers ``{"return": ...}`` or an error with QEMU's
class and text, and events arrive with virtual-clock timestamps.  Everything
is recorded as trace records in the wire order of QEMU 7.2.22: a command,
the events it causes synchronously, its response, then the events of the job
coroutines that run later from the main loop::

    >>> sim = Simulator("7.2", seed=1)
    >>> sim.start([JobSpec(JobType.MIRROR, "j0")]).ok
    True
    >>> sim.release("j0"); sim.settle()
    >>> sim.query().value[0]["status"]
    'ready'

What QEMU's timing leaves open — whether a released job finishes before the
next command, how many I/O steps a copy takes — a seeded :class:`random.Random`
decides, so the same seed and the same steps give a byte-identical trace.

The steps of :mod:`.base` map onto QMP as a live QEMU would do them:

* ``start``: ``blockdev-mirror``, ``blockdev-backup``, ``block-commit``,
  ``block-stream``, ``blockdev-create`` or ``x-blockdev-amend`` with
  ``speed: 1`` (held), or one grouped ``transaction`` of backups;
* ``release`` / ``hold``: ``block-job-set-speed`` to 0 / 1 (nothing for
  create and amend jobs, which have no speed and run free);
* ``drain``: an empty ``transaction``, which drains every node, so every block
  job passes through paused/running (standby/ready);
* ``wait``: run the virtual main loop until nothing is pending.

Versions: ``7.2`` (QEMU 7.2.22) and anything newer that
:func:`~jobcheck.model.lifecycle.model_for` knows (``8.2``, ``9.2``, ``10.1``,
``10.2`` = ``latest``).  A mutant from :mod:`.sim_mutants` changes one behaviour.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from jobcheck.conformance.errors import TargetError, UsageError, model_for_option
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.targets.sim_engine import Engine, QmpFailure
from jobcheck.conformance.targets.sim_mutants import MUTANTS
from jobcheck.conformance.targets.sim_qmp import Qmp
from jobcheck.conformance.trace.qmp_messages import JOB_STATUS_CHANGE
from jobcheck.conformance.trace.records import Command, Event, Meta, QmpError, Record, Response
from jobcheck.conformance.trace.steps import ErrorPolicy, JobSpec
from jobcheck.model.lifecycle import JobType, Model

#: The virtual clock starts here (seconds since the epoch).
EPOCH = 1_700_000_000
#: The micro release simulated for each model version.
_MICRO = {"7.2": 22}


def start_command(spec: JobSpec) -> tuple[str, dict[str, Any]]:
    """The QMP command that starts ``spec`` held (``speed: 1``), on nodes named after its id."""
    jid = spec.id
    held: dict[str, Any] = {"job-id": jid}
    if spec.type is JobType.CREATE:
        options = {"driver": "file", "filename": f"{jid}.img", "size": 1 << 20}
        return "blockdev-create", {"job-id": jid, "options": options}
    if spec.type is JobType.AMEND:
        options = {"driver": "qcow2", "lazy-refcounts": True}
        return "x-blockdev-amend", {"job-id": jid, "node-name": f"{jid}-img", "options": options}
    if spec.type is JobType.MIRROR:
        command = "blockdev-mirror"
        held.update(device=f"{jid}-src", target=f"{jid}-dst", sync="full")
        policy_key = "on-target-error"
    elif spec.type is JobType.BACKUP:
        command = "blockdev-backup"
        held.update(device=f"{jid}-src", target=f"{jid}-dst", sync="full")
        policy_key = "on-target-error"
    elif spec.type is JobType.COMMIT:
        command = "block-commit"
        held["device"] = f"{jid}-top"
        if spec.variant == "intermediate":
            held.update({"top-node": f"{jid}-mid", "base-node": f"{jid}-base"})
        policy_key = "on-error"
    elif spec.type is JobType.STREAM:
        command = "block-stream"
        held["device"] = f"{jid}-top"
        policy_key = "on-error"
    else:
        raise UsageError(f"the simulator cannot start {spec.type.value} jobs")
    held["speed"] = 1
    if not spec.auto_finalize:
        held["auto-finalize"] = False
    if not spec.auto_dismiss:
        held["auto-dismiss"] = False
    if spec.on_error:
        held[policy_key] = spec.on_error
    return command, held


class Simulator(Target):
    """QEMU's job engine in process: deterministic for a seed, optionally mutated."""

    kind = "sim"

    def __init__(self, version: str = "latest", seed: int = 0, mutant: str | None = None) -> None:
        model = model_for_option(version)
        if model.release < (7, 2):
            raise UsageError(
                f"the simulator models QEMU 7.2 and later, not {version!r} (model {model.version})"
            )
        if mutant is not None and mutant not in MUTANTS:
            known = ", ".join(sorted(MUTANTS))
            raise UsageError(f"unknown mutant {mutant!r}; known mutants: {known}")
        self._model = model
        self.seed = seed
        self.mutant = mutant
        micro = _MICRO.get(model.version, 0)
        self._version = f"{model.version}.{micro}"
        self._rng = random.Random(seed)
        self._records: list[Record] = []
        self._next_id = 1
        self._clock = 0
        self._engine = Engine(model.release, self._rng, self._emit, mutant or "")
        self._qmp = Qmp(self._engine, model.release, micro)
        self._types: dict[str, JobType] = {}
        self._reported: dict[str, str] = {}
        """Each job's last JOB_STATUS_CHANGE status (what a client sees)."""
        self._closed = False

    # -- identity ------------------------------------------------------------------

    @property
    def qemu_version(self) -> str:
        return self._version

    @property
    def model(self) -> Model:
        return self._model

    def describe(self) -> str:
        mutant = f", mutant {self.mutant}" if self.mutant else ""
        return f"simulator of QEMU {self._version} (seed {self.seed}{mutant})"

    def meta(self, **extra: Any) -> Meta:
        return super().meta(**{"sim_seed": self.seed, "mutant": self.mutant, **extra})

    # -- recording -----------------------------------------------------------------

    def _record(self, record: Record) -> None:
        self._records.append(record)

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        if name == JOB_STATUS_CHANGE:
            self._reported[str(data.get("id"))] = str(data.get("status"))
        self._clock += 3
        seconds, micro = divmod(self._clock, 1_000_000)
        stamp = {"seconds": EPOCH + seconds, "microseconds": micro}
        self._records.append(Event(name, data, stamp))

    def take_records(self) -> list[Record]:
        records, self._records = self._records, []
        return records

    # -- QMP -------------------------------------------------------------------------

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Response:
        if self._closed:
            raise TargetError("the simulator has been closed")
        engine = self._engine
        engine.let_time_pass()
        self._clock += 250
        args = dict(arguments) if arguments else {}
        number = self._next_id
        self._next_id += 1
        self._records.append(Command(command, args, number))
        try:
            value = self._qmp.dispatch(command, args)
            engine.run_bhs()
            response = Response(number, value)
        except QmpFailure as failure:
            engine.run_bhs()
            response = Response(number, None, QmpError(failure.error_class, failure.desc))
        self._records.append(response)
        return response

    # -- steps -------------------------------------------------------------------------

    def start(
        self, jobs: Sequence[JobSpec], grouped: bool = False, aborted: bool = False
    ) -> Response:
        if not jobs:
            raise UsageError("a start step needs at least one job")
        for spec in jobs:
            self._types[spec.id] = spec.type
        if aborted:
            if any(s.type is not JobType.BACKUP for s in jobs):
                raise UsageError("an aborted transaction holds backup jobs only")
            actions = [{"type": "blockdev-backup", "data": start_command(s)[1]} for s in jobs]
            actions.append({"type": "abort", "data": {}})
            return self.execute("transaction", {"actions": actions})
        if grouped:
            others = sorted({s.type.value for s in jobs if s.type is not JobType.BACKUP})
            if others:
                raise UsageError(
                    f"a grouped transaction takes backup jobs only, not {', '.join(others)}"
                )
            actions = [{"type": "blockdev-backup", "data": start_command(spec)[1]} for spec in jobs]
            properties = {"completion-mode": "grouped"}
            return self.execute("transaction", {"actions": actions, "properties": properties})
        responses = [self.execute(*start_command(spec)) for spec in jobs]
        return next((r for r in responses if not r.ok), responses[-1])

    def _speed(self, job_id: str, speed: int) -> None:
        if self._types.get(job_id) in (JobType.CREATE, JobType.AMEND):
            return
        self.execute("block-job-set-speed", {"device": job_id, "speed": speed})

    def release(self, job_id: str) -> None:
        self._speed(job_id, 0)

    def hold(self, job_id: str) -> None:
        self._speed(job_id, 1)

    def drain(self, job_id: str) -> None:
        self.execute("transaction", {"actions": []})

    def settle(self, expect: Mapping[str, str] | None = None) -> None:
        """Run the virtual main loop until nothing is pending.

        Then nothing more can come by itself: every job of ``expect`` still in its
        status is *stalled* (the simulator is never slow).
        """
        if self._closed:
            raise TargetError("the simulator has been closed")
        self._engine.settle()
        stalled = {
            job: {"status": status, "verdict": "stalled", "evidence": "the main loop is idle"}
            for job, status in (expect or {}).items()
            if self._reported.get(job) == status
        }
        self.note_wait(stalled)

    def close(self) -> None:
        self._closed = True

    # -- simulator-only ------------------------------------------------------------

    def inject_error(
        self, job_id: str, policy: ErrorPolicy, *, on_completion: bool = False
    ) -> None:
        """Arm one I/O error on a live job: on its next write once released, or (a mirror-like
        job) when it completes or is soft-cancelled in READY (the flush on the way out)."""
        job = self._engine.jobs.get(job_id)
        if job is None or not job.block:
            raise UsageError(f"no block job {job_id!r} to inject an error into")
        if on_completion:
            if not job.ready_phase:
                raise UsageError(f"job {job_id!r} has no READY phase to fail on completion")
            job.fail_on_completion = policy
        else:
            job.error_policy = policy
            job.error_fired = False
