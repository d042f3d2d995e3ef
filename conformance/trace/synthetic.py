"""Large synthetic traces that are legal by the model, for benchmarks and soak tests.

:func:`write_synthetic_trace` streams a trace of exactly ``records`` records
(plus the metadata line) in jobcheck's JSON-lines format.  It plays a QEMU
(7.2 and later) with many jobs at once: mirror, backup, commit, stream and
create jobs, with auto-finalize and auto-dismiss on and off, interleaved step
by step, each step being what QEMU sends for one command or one internal
event, in wire order:

* start: the start command, ``created``, ``running``, the return;
* job-pause / job-resume of a running or ready job (``paused``/``standby`` and
  back), job-complete of a ready mirror, job-finalize of a pending
  auto-finalize=false job, job-dismiss of a concluded auto-dismiss=false job,
  job-cancel (a paused job first resumes, then ``aborting``,
  ``BLOCK_JOB_CANCELLED``, ``concluded``), block-job-set-speed;
* verbs refused by the verb table (job-complete, job-finalize or job-dismiss
  in a status that does not permit them), with QEMU's error text;
* internal progress: a mirror reaching ``ready`` (with ``BLOCK_JOB_READY``), a
  job finishing (``waiting``, ``pending``, ``BLOCK_JOB_PENDING`` for
  auto-finalize=false, ``BLOCK_JOB_COMPLETED``, ``concluded``, ``null`` for
  auto-dismiss=true), a job failing (``aborting``, ``BLOCK_JOB_COMPLETED``
  with an error);
* query-jobs, whose answer lists every job not yet ``null`` with the status
  of its last event and a ``current-progress`` that never decreases.

Every job's ``JOB_STATUS_CHANGE`` sequence follows the transition relation,
never repeats a status, and block jobs report ``BLOCK_JOB_COMPLETED`` or
``BLOCK_JOB_CANCELLED`` exactly once before ``concluded``.  Job ids are reused
after ``null``.  Towards the end no new job starts and every job is driven to
``null``, so the trace ends with nothing running (when ``records`` leaves room
for that).  The same seed gives the same file.

The same records can be written as a qemu-iotests ``.out`` file
(:func:`write_synthetic_iotests`), as a Python iotest logs them: one JSON
object a line (events with filtered timestamps), the driver's notes as free
text, a test-case heading every :data:`IOTESTS_CASE` records.  It checks in
per-job order with the same result, so the two files measure the two readers
on the same work.

Command line::

    python -m jobcheck.conformance.trace.synthetic OUT --records 1000000 --seed 1
    python -m jobcheck.conformance.trace.synthetic OUT.out --format iotests
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from jobcheck.conformance.errors import JobcheckError, UsageError
from jobcheck.conformance.trace.qmp_messages import JOB_STATUS_CHANGE, block_job_data
from jobcheck.conformance.trace.records import (
    Command,
    Event,
    Meta,
    Note,
    QmpError,
    Record,
    Response,
    write_jsonl,
)
from jobcheck.model.lifecycle import MODELS, Status, Verb

#: The models the generated traces are legal for (their verb tables agree on the verbs used).
MODEL_VERSIONS = ("7.2", "10.2")

_START: dict[str, str] = {
    "mirror": "blockdev-mirror",
    "backup": "blockdev-backup",
    "commit": "block-commit",
    "stream": "block-stream",
    "create": "blockdev-create",
}
_TYPES = tuple(_START)
_MAX_JOBS = 12
_CHUNK = 65536
#: The most records one step of the normal phase adds, plus the most it adds to the wind-down.
_SLACK = 48


@dataclass
class _Job:
    id: str
    type: str
    auto_finalize: bool
    auto_dismiss: bool
    total: int
    status: str = "created"
    current: int = 0
    speed: int = 0
    user_paused: bool = False
    completing: bool = False
    error: str | None = None

    @property
    def block(self) -> bool:
        return self.type != "create"

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "status": self.status,
            "current-progress": self.current,
            "total-progress": self.total,
        }
        if self.error is not None:
            out["error"] = self.error
        return out


def _wind_down_cost(job: _Job) -> int:
    """The records needed to drive ``job`` to ``null`` along the wind-down path."""
    cost = 0
    status, paused, completing = job.status, job.user_paused, job.completing
    if paused:
        cost += 3
        status = "running" if status == "paused" else "ready"
    if status == "running" and job.type == "mirror":
        cost += 2
        status = "ready"
    if status == "ready" and not completing:
        cost += 2
    if status in ("running", "ready"):
        cost += 2 + (0 if job.auto_finalize else 1)
        status = "pending"
    if status == "pending":
        tail = (1 if job.block else 0) + 1 + (1 if job.auto_dismiss else 0)
        cost += tail if job.auto_finalize else tail + 2
        status = "null" if job.auto_dismiss else "concluded"
    if status == "concluded":
        cost += 3
    return cost


class _Generator:
    """The state of one synthetic QEMU: its jobs, clock and command ids."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.jobs: dict[str, _Job] = {}
        self.free_ids: list[str] = []
        self.next_job = 0
        self.next_command = 0
        self.seconds = 1_700_000_000
        self.micros = 0
        self.models = [MODELS[v] for v in MODEL_VERSIONS]

    # -- record helpers ---------------------------------------------------------------

    def _command(self, execute: str, arguments: dict[str, Any] | None = None) -> Command:
        self.next_command += 1
        return Command(execute, arguments or {}, self.next_command)

    def _return(self, value: Any = None) -> Response:
        return Response(self.next_command, {} if value is None else value)

    def _event(self, name: str, data: dict[str, Any]) -> Event:
        self.micros += self.rng.randint(1, 400)
        if self.micros >= 1_000_000:
            self.seconds += 1
            self.micros -= 1_000_000
        return Event(name, data, {"seconds": self.seconds, "microseconds": self.micros})

    def _status(self, job: _Job, status: str) -> Event:
        job.status = status
        return self._event(JOB_STATUS_CHANGE, {"id": job.id, "status": status})

    def _block_event(self, job: _Job, name: str, error: str | None = None) -> list[Record]:
        if not job.block:
            return []
        data = block_job_data(job.type, job.id, job.total, job.current, job.speed, error)
        return [self._event(name, data)]

    def _conclude(self, job: _Job) -> list[Record]:
        out: list[Record] = [self._status(job, "concluded")]
        if job.auto_dismiss:
            out.append(self._status(job, "null"))
            self._forget(job)
        return out

    def _forget(self, job: _Job) -> None:
        del self.jobs[job.id]
        self.free_ids.append(job.id)

    # -- steps ------------------------------------------------------------------------

    def start(self) -> list[Record]:
        if self.free_ids and self.rng.random() < 0.5:
            job_id = self.free_ids.pop(self.rng.randrange(len(self.free_ids)))
        else:
            job_id = f"job{self.next_job}"
            self.next_job += 1
        kind = self.rng.choice(_TYPES)
        total = _CHUNK * self.rng.randint(1, 64)
        if kind == "create":
            job = _Job(job_id, kind, True, False, total)
            arguments: dict[str, Any] = {
                "job-id": job_id,
                "options": {"driver": "file", "filename": f"/images/{job_id}.img", "size": total},
            }
        else:
            job = _Job(job_id, kind, self.rng.random() < 0.6, self.rng.random() < 0.6, total)
            arguments = {
                "job-id": job_id,
                "device": f"{job_id}-src",
                "auto-finalize": job.auto_finalize,
                "auto-dismiss": job.auto_dismiss,
            }
            if kind in ("mirror", "backup"):
                arguments.update(target=f"{job_id}-tgt", sync="full")
        self.jobs[job_id] = job
        command = self._command(_START[kind], arguments)
        return [command, self._status(job, "created"), self._status(job, "running"), self._return()]

    def query(self) -> list[Record]:
        command = self._command("query-jobs")
        return [command, self._return([job.info() for job in self.jobs.values()])]

    def refused(self, job: _Job) -> list[Record]:
        status = Status(job.status)
        verbs = [
            verb
            for verb in (Verb.COMPLETE, Verb.FINALIZE, Verb.DISMISS)
            if not any(model.permits(verb, status) for model in self.models)
        ]
        verb = self.rng.choice(verbs)
        command = self._command(f"job-{verb.value}", {"id": job.id})
        desc = f"Job '{job.id}' in state '{job.status}' cannot accept command verb '{verb.value}'"
        return [command, Response(self.next_command, None, QmpError("GenericError", desc))]

    def set_speed(self, job: _Job) -> list[Record]:
        job.speed = self.rng.choice((0, 65536, 1048576))
        command = self._command("block-job-set-speed", {"device": job.id, "speed": job.speed})
        return [command, self._return()]

    def pause(self, job: _Job) -> list[Record]:
        command = self._command("job-pause", {"id": job.id})
        job.user_paused = True
        target = "paused" if job.status == "running" else "standby"
        return [command, self._status(job, target), self._return()]

    def resume(self, job: _Job) -> list[Record]:
        command = self._command("job-resume", {"id": job.id})
        job.user_paused = False
        target = "running" if job.status == "paused" else "ready"
        return [command, self._status(job, target), self._return()]

    def ready(self, job: _Job) -> list[Record]:
        job.current = job.total
        return [self._status(job, "ready"), *self._block_event(job, "BLOCK_JOB_READY")]

    def complete(self, job: _Job) -> list[Record]:
        command = self._command("job-complete", {"id": job.id})
        job.completing = True
        return [command, self._return()]

    def finish(self, job: _Job) -> list[Record]:
        job.current = job.total
        out: list[Record] = [self._status(job, "waiting"), self._status(job, "pending")]
        if not job.auto_finalize:
            if job.block:
                out.append(self._event("BLOCK_JOB_PENDING", {"type": job.type, "id": job.id}))
            return out
        out += self._block_event(job, "BLOCK_JOB_COMPLETED")
        return out + self._conclude(job)

    def finalize(self, job: _Job) -> list[Record]:
        command = self._command("job-finalize", {"id": job.id})
        out: list[Record] = [command, *self._block_event(job, "BLOCK_JOB_COMPLETED")]
        return [*out, *self._conclude(job), self._return()]

    def dismiss(self, job: _Job) -> list[Record]:
        command = self._command("job-dismiss", {"id": job.id})
        out: list[Record] = [command, self._status(job, "null"), self._return()]
        self._forget(job)
        return out

    def cancel(self, job: _Job) -> list[Record]:
        out: list[Record] = [self._command("job-cancel", {"id": job.id})]
        if job.user_paused:
            job.user_paused = False
            out.append(self._status(job, "running" if job.status == "paused" else "ready"))
        out.append(self._return())
        out.append(self._status(job, "aborting"))
        job.error = "Operation canceled"
        out += self._block_event(job, "BLOCK_JOB_CANCELLED")
        return out + self._conclude(job)

    def fail(self, job: _Job) -> list[Record]:
        job.error = "Input/output error"
        out: list[Record] = [self._status(job, "aborting")]
        out += self._block_event(job, "BLOCK_JOB_COMPLETED", job.error)
        return out + self._conclude(job)

    # -- choosing steps ---------------------------------------------------------------

    def job_step(self, job: _Job) -> list[Record]:
        """One random step that ``job`` can take in its current state."""
        rng = self.rng
        status = job.status
        if status == "running" and not job.user_paused:
            job.current = min(job.total, job.current + _CHUNK * rng.randint(0, 4))
            roll = rng.random()
            if roll < 0.3:
                return self.pause(job)
            if roll < 0.4:
                return self.cancel(job)
            if roll < 0.43:
                return self.fail(job)
            return self.ready(job) if job.type == "mirror" else self.finish(job)
        if job.user_paused:
            return self.resume(job) if rng.random() < 0.8 else self.cancel(job)
        if status == "ready":
            if job.completing:
                return self.finish(job)
            roll = rng.random()
            if roll < 0.3:
                return self.pause(job)
            if roll < 0.4:
                return self.cancel(job)
            return self.complete(job)
        if status == "pending":  # a job-complete'd mirror is not cancelled afterwards
            cancel = not job.completing and rng.random() < 0.15
            return self.cancel(job) if cancel else self.finalize(job)
        return self.dismiss(job)  # concluded

    def wind_down_step(self, job: _Job) -> list[Record]:
        """The next step on the shortest way of ``job`` to ``null``."""
        if job.user_paused:
            return self.resume(job)
        if job.status == "running":
            return self.ready(job) if job.type == "mirror" else self.finish(job)
        if job.status == "ready":
            return self.finish(job) if job.completing else self.complete(job)
        if job.status == "pending":
            return self.finalize(job)
        return self.dismiss(job)

    def normal_step(self) -> list[Record]:
        rng = self.rng
        if not self.jobs or (len(self.jobs) < _MAX_JOBS and rng.random() < 0.12):
            return self.start()
        roll = rng.random()
        if roll < 0.08:
            return self.query()
        job = rng.choice(list(self.jobs.values()))
        if roll < 0.11:
            return self.refused(job)
        if roll < 0.13 and job.block and job.status in ("running", "paused", "ready", "standby"):
            return self.set_speed(job)
        return self.job_step(job)

    def records(self, count: int) -> Iterator[Record]:
        emitted = 0
        while emitted < count:
            remaining = count - emitted
            reserve = sum(_wind_down_cost(job) for job in self.jobs.values())
            if remaining >= reserve + _SLACK:
                step = self.normal_step()
            elif self.jobs:
                step = self.wind_down_step(next(iter(self.jobs.values())))
            elif remaining >= 2:
                step = self.query()
            else:
                step = [Note("end of the synthetic trace")]
            yield from step
            emitted += len(step)


def synthetic_records(records: int, seed: int) -> Iterator[Record]:
    """Exactly ``records`` legal records, generated lazily (see the module docstring)."""
    if records < 0:
        raise UsageError(f"the number of records must be 0 or more, not {records}")
    return _Generator(seed).records(records)


def synthetic_meta(seed: int) -> Meta:
    """The metadata line of a synthetic trace."""
    return Meta(
        source="tracegen",
        qemu_version="7.2.22",
        order="wire",
        extra={"generator": "jobcheck.conformance.trace.synthetic", "seed": seed},
    )


def write_synthetic_trace(path: str, records: int, seed: int) -> None:
    """Write a legal synthetic trace of exactly ``records`` records to ``path``, streaming."""
    generated = synthetic_records(records, seed)
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as stream:
            write_jsonl(stream, synthetic_meta(seed), generated)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


#: Records per test case of a synthetic iotests output (a heading starts each).
IOTESTS_CASE = 1000
_FILTERED_TIMESTAMP = {"microseconds": "USECS", "seconds": "SECS"}


def iotests_lines(records: Iterable[Record]) -> Iterator[str]:
    """The lines of a qemu-iotests ``.out`` file that logs ``records`` (see the module
    docstring).

    >>> from jobcheck.conformance.trace.records import Command, Response
    >>> for line in iotests_lines([Command("query-jobs"), Response(None, [])]):
    ...     print(line or "(blank)")
    QA output created by synthetic
    (blank)
    === Test case 1 ===
    (blank)
    {"execute": "query-jobs"}
    {"return": []}
    *** done
    """
    yield "QA output created by synthetic"
    dumps = json.dumps
    for count, record in enumerate(records):
        if count % IOTESTS_CASE == 0:
            yield from ("", f"=== Test case {count // IOTESTS_CASE + 1} ===", "")
        if isinstance(record, Command):
            command: dict[str, Any] = {"execute": record.execute}
            if record.arguments:
                command["arguments"] = record.arguments
            yield dumps(command)
        elif isinstance(record, Response):
            if record.error is not None:
                error = {"class": record.error.error_class, "desc": record.error.desc}
                yield dumps({"error": error})
            else:
                yield dumps({"return": record.value})
        elif isinstance(record, Event):
            event = {"data": record.data, "event": record.event, "timestamp": _FILTERED_TIMESTAMP}
            yield dumps(event)
        else:
            yield record.text
    yield "*** done"


def write_synthetic_iotests(path: str, records: int, seed: int) -> None:
    """Write the synthetic trace of ``records`` records as a qemu-iotests output, streaming."""
    generated = synthetic_records(records, seed)
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as stream:
            for line in iotests_lines(generated):
                stream.write(line + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jobcheck.conformance.trace.synthetic",
        description="Write a large synthetic job trace that is legal by the model.",
    )
    parser.add_argument("out", metavar="OUT", help="the trace file to write")
    parser.add_argument("--records", type=int, default=100_000, help="records (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--format",
        choices=("jsonl", "iotests"),
        default="jsonl",
        help="jobcheck's JSON lines (default) or a qemu-iotests output",
    )
    args = parser.parse_args(argv)
    write = write_synthetic_iotests if args.format == "iotests" else write_synthetic_trace
    try:
        write(args.out, args.records, args.seed)
    except JobcheckError as exc:
        print(f"tracegen: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"wrote {args.records} records to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
