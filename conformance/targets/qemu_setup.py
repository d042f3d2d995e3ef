"""The block nodes each job type needs, built over QMP alone, and the job's start command.

Everything is made with ``blockdev-add`` and ``blockdev-create`` jobs, so that
a launched QEMU and one that jobcheck attaches to are set up the same way.
Every node name and set-up job id starts with the target's prefix
(``jc-<pid>-<target>-<job>-``), so nothing collides with what else a shared QEMU holds,
and :attr:`NodeSetup.nodes` lists them, in creation order, for teardown.

How a job is *held* (it starts, makes a little progress and waits for
:meth:`~jobcheck.conformance.targets.base.Target.release`): ``speed: 1``.
Block jobs rate-limit in 100 ms slices with a quota of at least one byte, so
after the first chunk the computed delay is days long; with no kick the job
stays parked in ``running``, and ``block-job-set-speed 0`` releases it.  Small
chunks keep the held progress small and the same on every QEMU version:
mirror ``buf-size`` and backup ``x-perf.max-chunk`` of 1 MiB; commit and
stream copy 512 KiB chunks, an active commit up to 16 MiB (its buffer cannot
be set).  Sizes are chosen so that a released job finishes in milliseconds
while a held one survives a hundred pause/resume cycles or more (each lets mirror,
commit and stream copy one more chunk): 256 MiB ``null-co`` disks for mirror and
backup (256 chunks), a 64 MiB chain for stream and an intermediate commit (128
chunks), a 512 MiB one for an active commit (32 chunks of its 16 MiB buffer).
A released backup copies every chunk of its disk (``null-co`` reports no zeroes),
in QEMU's main loop while the next commands wait: with 1 GiB disks a
``block-job-set-speed 0`` answered in about 2 ms against 1 for a
``block-job-set-speed 1``, and campaigns took 1–10% longer.

The recipes (``raw`` filters are there to be reopened: see *drain* below):

* **mirror** ``null-co`` → ``raw(null-co)``.  ``null-co`` reports no data, so
  the mirror only discards; with ``on_error`` the source is instead a qcow2
  image whose data file is ``raw(blkdebug(null-co))`` (``data-file-raw``: all
  clusters allocated, read from the null device) so that the mirror reads, and
  blkdebug fails the read at 3/4 of the disk (``on-source-error``).
* **backup** ``null-co`` → ``raw(null-co)``; with ``on_error`` the target is
  ``raw(blkdebug(null-co))`` failing the write at 3/4 (``on-target-error``).
  Without ``on_error`` a mirror and a backup have the same two nodes (a
  :class:`Pair`); null devices keep nothing, so once a job is gone its pair
  serves the next mirror or backup job (:meth:`NodeSetup.give_back`).
* **commit** and **stream** share a chain: base ``raw(null-co)`` ← mid qcow2
  (``data-file-raw`` over ``raw(null-co)``: every cluster allocated, so commit
  and stream have work and read it from the null device; zeroes, except on the
  active commit's chain: see :func:`_data_file`) ← top qcow2 (empty).
  An active commit (``variant="active"``) commits top into base and has a
  ready phase; an intermediate commit commits mid into base; stream copies the
  whole chain into top.  With ``on_error`` mid's data file is
  ``raw(blkdebug(null-co))`` failing reads at 3/4 (``on-error``).  A chain whose
  job was cancelled before its work was done serves the next commit or stream
  job of its size (:meth:`NodeSetup.give_back`).
* **create** a ``blockdev-create`` of a 64 MiB qcow2 image on a fresh file node
  (create jobs have no speed: they run to the end by themselves; they take no
  ``auto-finalize``/``auto-dismiss``, so a spec's flags are ignored: QEMU
  finalizes them itself and keeps them until ``job-dismiss``; amend likewise).
* **amend** ``x-blockdev-amend`` of a fresh qcow2 node with no options to
  change (it runs to the end at once).

Errors fire only where the job has not been while held: at 3/4 of its disk,
at least 24 cycles away (mirror and backup: 192 chunks of 1 MiB; stream and an intermediate
commit: 96 chunks of 512 KiB; an active commit: 24 of 16 MiB).

*Drain*: a ``blockdev-reopen`` of one of the job's ``raw`` nodes with its
options unchanged is a drained section of that node, so the job alone goes
``running``→``paused``→``running`` (``ready``→``standby``→``ready``) inside the
command.  :attr:`JobPlan.drain` holds those options (``None`` for create and
amend jobs, which have no pause points).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.trace.steps import JobSpec
from jobcheck.model.lifecycle import JobType

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class Sizes:
    """Disk sizes and chunk sizes of the set-up (see the module docstring)."""

    disk: int = 256 * MiB
    chain: int = 64 * MiB
    active_chain: int = 512 * MiB
    image: int = 64 * MiB
    mirror_buffer: int = MiB
    backup_chunk: int = MiB


class SetupQmp(Protocol):
    """What :class:`NodeSetup` needs from the target: commands that must succeed."""

    def setup_commands(self, commands: list[tuple[str, dict[str, Any]]]) -> None:
        """Send set-up commands, in order; raise TargetError if QEMU refuses one."""

    def await_jobs(self, ids: list[str]) -> None:
        """Wait until the set-up jobs ``ids`` have concluded; raise TargetError if they do
        not in time."""


@dataclass
class JobPlan:
    """A job ready to start: its command, its nodes, and how to drain it."""

    spec: JobSpec
    command: str
    arguments: dict[str, Any]
    drain: dict[str, Any] | None
    """``blockdev-reopen`` options of a node whose drained section pauses the job."""
    nodes: list[str] = field(default_factory=list)
    chain: Chain | None = None
    """The chain a commit or stream job runs on (``None`` for other jobs)."""
    pair: Pair | None = None
    """The nodes a mirror or backup job without an injected error runs on (``None`` for
    other jobs)."""


@dataclass
class Pair:
    """A mirror or backup job's named nodes: the source ``null-co``, the target
    ``raw(null-co)`` and its reopen options (see the module docstring)."""

    source: str
    target: str
    drain: dict[str, Any]


@dataclass
class Chain:
    """A commit/stream chain's named nodes (see the module docstring), and how many jobs
    have run on it."""

    base: str
    mid: str
    top: str
    size: int
    drain: dict[str, Any]
    jobs: int = 1


MAX_JOBS_PER_CHAIN = 4
"""How many jobs may run on one chain in turn (see :meth:`NodeSetup.give_back`)."""

#: The job types :class:`NodeSetup` can build (amend only where QEMU has the command).
BUILDABLE: frozenset[JobType] = frozenset(
    {JobType.MIRROR, JobType.BACKUP, JobType.COMMIT, JobType.STREAM, JobType.CREATE, JobType.AMEND}
)


class NodeSetup:
    """Builds the nodes of each job (see the module docstring) and remembers them."""

    def __init__(
        self,
        qmp: SetupQmp,
        workdir: str,
        prefix: str,
        *,
        amend_command: str | None = "x-blockdev-amend",
        backup_x_perf: bool = True,
        sizes: Sizes = Sizes(),
    ) -> None:
        self.qmp = qmp
        self.workdir = workdir
        self.prefix = prefix
        self.amend_command = amend_command
        self.backup_x_perf = backup_x_perf
        self.sizes = sizes
        self.nodes: list[str] = []
        """Every node made, in creation order."""
        self._count = 0
        self._plan_nodes: list[str] = []
        self._queued: list[tuple[str, dict[str, Any]]] = []
        """Set-up commands not sent yet (see :meth:`_flush`)."""
        self._free_chains: list[Chain] = []
        """Chains given back (:meth:`give_back`), oldest first."""
        self._free_pairs: list[Pair] = []
        """Pairs given back (:meth:`give_back`), oldest first."""
        self._tag = ""

    # -- plans -----------------------------------------------------------

    def plan(self, spec: JobSpec) -> JobPlan:
        """Build the nodes for ``spec`` and return its start command (not sent)."""
        if spec.type not in BUILDABLE or (spec.type is JobType.AMEND and not self.amend_command):
            raise UsageError(f"the live target cannot start {spec.type.value} jobs on this QEMU")
        if spec.on_error is not None and spec.type in (JobType.CREATE, JobType.AMEND):
            raise UsageError(f"{spec.type.value} jobs do no I/O that an error could be injected in")
        self._count += 1
        self._tag = f"{self.prefix}{self._count}-"
        self._plan_nodes = []
        build = {
            JobType.MIRROR: self._mirror,
            JobType.BACKUP: self._backup,
            JobType.COMMIT: self._chain_job,
            JobType.STREAM: self._chain_job,
            JobType.CREATE: self._create,
            JobType.AMEND: self._amend,
        }[spec.type]
        try:
            plan = build(spec)
            self._flush()
        finally:
            self._queued = []  # after a failure, what is queued has no use
        plan.nodes = list(self._plan_nodes)
        return plan

    def give_back(self, plan: JobPlan) -> None:
        """The job of ``plan`` is gone: its nodes serve a later job of this set-up.

        A *pair* (:class:`Pair`) comes back once its job is gone, however it ended: the
        null devices keep nothing.  A *chain* comes back only if its job was cancelled
        before its work was done: it is then as it was built.  A cancelled commit wrote
        only to the null device under base; a cancelled stream copied a chunk or a few
        into top, which the next stream then need not copy (the job's lifecycle is the
        same).  So that this drift stays small, a chain serves at most
        :data:`MAX_JOBS_PER_CHAIN` jobs.  Nothing with an injected error comes back, and
        only within this set-up: a trace that reuses nodes holds the commands that built
        them, earlier in the same trace.
        """
        if plan.spec.on_error is not None:
            return
        if plan.pair is not None:
            self._free_pairs.append(plan.pair)
        chain = plan.chain
        if chain is not None and chain.jobs < MAX_JOBS_PER_CHAIN:
            self._free_chains.append(chain)

    def _flush(self) -> None:
        """Send the queued set-up commands, back to back.

        A node is queued when it is planned, an image job's ``job-dismiss`` when the
        job has concluded, and they are sent before anything that needs them done
        (an image job, the job's start command), in the order queued: QEMU runs
        them in that order, so the outcome is that of sending them one by one,
        without a round trip each.
        """
        queued, self._queued = self._queued, []
        if queued:
            self.qmp.setup_commands(queued)

    def _create_images(self, jobs: list[tuple[str, dict[str, Any]]]) -> None:
        """Run ``blockdev-create`` jobs (id, options) to the end.  Their ``job-dismiss``
        commands are queued, to go out with the next commands (see :meth:`_flush`)."""
        self._queued += [("blockdev-create", {"job-id": job, "options": o}) for job, o in jobs]
        self._flush()
        ids = [job for job, _ in jobs]
        self.qmp.await_jobs(ids)
        self._queued += [("job-dismiss", {"id": job}) for job in ids]

    def _block_args(self, spec: JobSpec) -> dict[str, Any]:
        return {
            "job-id": spec.id,
            "speed": 1,
            "auto-finalize": spec.auto_finalize,
            "auto-dismiss": spec.auto_dismiss,
        }

    def _pair(self) -> Pair:
        """A pair given back (:meth:`give_back`), or a new one."""
        if self._free_pairs:
            return self._free_pairs.pop(0)
        source = self._null_source()
        return Pair(source, *self._null_target())

    def _null_source(self) -> str:
        """A pair's source: ``null-co``."""
        return self._add("src", _null(self.sizes.disk))

    def _null_target(self) -> tuple[str, dict[str, Any]]:
        """A pair's target, ``raw(null-co)``, and its reopen options."""
        return self._raw("dst", self._add("dstn", _null(self.sizes.disk)))

    def _mirror(self, spec: JobSpec) -> JobPlan:
        size = self.sizes.disk
        if not spec.on_error:
            pair = self._pair()
            source, target, drain = pair.source, pair.target, pair.drain
        else:
            pair = None
            source = self._data_image("src", size, failing=True)
            target, drain = self._null_target()
        args = {
            **self._block_args(spec),
            "device": source,
            "target": target,
            "sync": "full",
            "buf-size": self.sizes.mirror_buffer,
        }
        if spec.on_error:
            args["on-source-error"] = args["on-target-error"] = spec.on_error
        return JobPlan(spec, "blockdev-mirror", args, drain, pair=pair)

    def _backup(self, spec: JobSpec) -> JobPlan:
        size = self.sizes.disk
        if not spec.on_error:
            pair = self._pair()
            source, target, drain = pair.source, pair.target, pair.drain
        else:
            pair = None
            source = self._null_source()
            sink = self._add("dste", _blkdebug(_null(size), "pwritev", "write", size))
            target, drain = self._raw("dst", sink)
        args: dict[str, Any] = {
            **self._block_args(spec),
            "device": source,
            "target": target,
            "sync": "full",
        }
        if self.backup_x_perf:
            args["x-perf"] = {"max-chunk": self.sizes.backup_chunk}
        if spec.on_error:
            args["on-target-error"] = spec.on_error
        return JobPlan(spec, "blockdev-backup", args, drain, pair=pair)

    def _chain_job(self, spec: JobSpec) -> JobPlan:
        active = spec.type is JobType.COMMIT and spec.variant == "active"
        size = self.sizes.active_chain if active else self.sizes.chain
        chain = None
        if spec.on_error is None:
            chain = next((c for c in self._free_chains if c.size == size), None)
        if chain is not None:
            self._free_chains.remove(chain)
            chain.jobs += 1
        else:
            chain = self._new_chain(spec, size)
        args = {**self._block_args(spec), "device": chain.top}
        if spec.on_error:
            args["on-error"] = spec.on_error
        if spec.type is JobType.STREAM:
            return JobPlan(spec, "block-stream", args, chain.drain, chain=chain)
        if spec.variant != "active":
            args["top-node"] = chain.mid
            args["base-node"] = chain.base
        return JobPlan(spec, "block-commit", args, chain.drain, chain=chain)

    def _new_chain(self, spec: JobSpec, size: int) -> Chain:
        mid_file, top_file = (_file(path) for path in self._new_files("midf", "topf"))
        # what an active commit reads goes to base's null device: no need to zero it
        active = spec.type is JobType.COMMIT and spec.variant == "active"
        data = _data_file(size, failing=spec.on_error is not None, zeroes=not active)
        self._create_images(
            [
                (self._tag + "mk-mid", _qcow2_options(mid_file, size, data)),
                (self._tag + "mk-top", _qcow2_options(top_file, size)),
            ]
        )
        base, drain = self._raw("base", self._add("basn", _null(size, read_zeroes=True)))
        mid = self._add(
            "mid",
            {"driver": "qcow2", "file": mid_file, "data-file": data, "backing": base},
        )
        top = self._add("top", {"driver": "qcow2", "file": top_file, "backing": mid})
        return Chain(base, mid, top, size, drain)

    def _create(self, spec: JobSpec) -> JobPlan:
        # The job under test opens a node of its own, as a user's would, and keeps its
        # flushes (QEMU 7.2's create-then-quit abort is a race with that job).
        (path,) = self._new_files("img")
        image_file = self._add("img", _file(path, flush=True))
        options = {"driver": "qcow2", "file": image_file, "size": self.sizes.image}
        return JobPlan(spec, "blockdev-create", {"job-id": spec.id, "options": options}, None)

    def _amend(self, spec: JobSpec) -> JobPlan:
        (path,) = self._new_files("img")
        image_file = _file(path)
        self._create_images([(self._tag + "mk-img", _qcow2_options(image_file, self.sizes.image))])
        image = self._add("qcow", {"driver": "qcow2", "file": image_file})
        args = {"job-id": spec.id, "node-name": image, "options": {"driver": "qcow2"}}
        assert self.amend_command is not None
        return JobPlan(spec, self.amend_command, args, None)

    # -- nodes -----------------------------------------------------------

    def _add(self, role: str, options: dict[str, Any]) -> str:
        """Queue the ``blockdev-add`` of a named node (its children defined inline go with
        it); see :meth:`_flush`."""
        name = self._tag + role
        self._queued.append(("blockdev-add", {**options, "node-name": name}))
        self.nodes.append(name)
        self._plan_nodes.append(name)
        return name

    def _raw(self, role: str, child: str) -> tuple[str, dict[str, Any]]:
        """A ``raw`` node over the named node ``child``, and its options for a reopen
        (which needs the child by name: an inline child has none of ours)."""
        name = self._add(role, {"driver": "raw", "file": child})
        return name, {"driver": "raw", "node-name": name, "file": child}

    def _data_image(self, role: str, size: int, *, failing: bool) -> str:
        """A qcow2 node whose every cluster is allocated and read from a null device."""
        (path,) = self._new_files(role + "f")
        image_file = _file(path)
        data = _data_file(size, failing=failing)
        self._create_images([(self._tag + "mk-" + role, _qcow2_options(image_file, size, data))])
        return self._add(role, {"driver": "qcow2", "file": image_file, "data-file": data})

    def _new_files(self, *roles: str) -> list[str]:
        """Empty image files, made by ``blockdev-create`` jobs of the file driver."""
        paths = [os.path.join(self.workdir, f"{self._tag}{role}.img") for role in roles]
        self._create_images(
            [
                (f"{self._tag}mk-{role}", {"driver": "file", "filename": path, "size": 0})
                for role, path in zip(roles, paths, strict=True)
            ]
        )
        return paths


# Nodes nothing refers to by name are defined inline, inside the node that uses them:
# one blockdev-add (and one blockdev-del) for the lot, where each named node costs QEMU
# a command of its own both ways (about a millisecond: QEMU's monitor reads a command a
# byte at a time).


def _null(size: int, *, read_zeroes: bool | None = None) -> dict[str, Any]:
    """A ``null-co`` node's options; ``read_zeroes`` given: said, whatever QEMU's default."""
    options: dict[str, Any] = {"driver": "null-co", "size": size}
    if read_zeroes is not None:
        options["read-zeroes"] = read_zeroes
    return options


def _blkdebug(image: dict[str, Any], event: str, iotype: str, size: int) -> dict[str, Any]:
    rule = {"event": event, "iotype": iotype, "errno": 5, "sector": error_offset(size) // 512}
    return {"driver": "blkdebug", "image": image, "inject-error": [rule]}


def _data_file(size: int, *, failing: bool, zeroes: bool = True) -> dict[str, Any]:
    """A qcow2 image's external data file: ``raw(null-co)`` reading zeroes (unless not
    ``zeroes``: reads then leave the buffer as it is), with ``blkdebug`` failing reads at
    3/4 of the disk in between when ``failing``.

    Zeroes cost: ``null-co`` fills every buffer it reads into, and an active commit
    copies 16 MiB a chunk.  Its chain (512 MiB) serves active commits only, whose copies
    go to base's null device, so its data file reads no zeroes: in the ci tour (QSD
    7.2.22) a ``block-commit`` answered in 2.5 ms instead of 6.6-9.4, and a released one
    reached ``ready`` in about 1 ms instead of 15.  A stream copies into top's image
    file; zeroes there become zero clusters (no data written), so the 64 MiB chain reads
    zeroes."""
    data = _null(size, read_zeroes=zeroes)
    if failing:
        data = _blkdebug(data, "read_aio", "read", size)
    return {"driver": "raw", "file": data}


def _file(path: str, *, flush: bool = False) -> dict[str, Any]:
    """A ``file`` node of an image file, ignoring flushes (``cache.no-flush``) unless
    ``flush``: an image here holds only qcow2 metadata, and with flushes (an
    ``fdatasync`` each) a ``file`` and ``qcow2`` ``blockdev-create`` pair took a median
    48 ms on ext4, against 30 ms without them (as on tmpfs; 20 pairs each on 7.2.22
    and 10.0.2, on a busy 2-core machine)."""
    cache = {} if flush else {"cache": {"no-flush": True}}
    return {"driver": "file", "filename": path, **cache}


def _qcow2_options(
    file: dict[str, Any], size: int, data_file: dict[str, Any] | None = None
) -> dict[str, Any]:
    options: dict[str, Any] = {"driver": "qcow2", "file": file, "size": size}
    if data_file is not None:
        options["data-file"] = data_file
        options["data-file-raw"] = True
    return options


def error_offset(size: int) -> int:
    """Where injected errors fire: 3/4 into the disk, on a 64 KiB boundary."""
    return (size * 3 // 4) // (64 * KiB) * (64 * KiB)
