"""The live target: a real QEMU driven over QMP with qemu.qmp.

Three ways in::

    QemuTarget()                                   # qemu-storage-daemon from PATH
    QemuTarget(binary="qemu-system-x86_64")        # any qemu-system-*: -M none, no guest
    QemuTarget(connect="/run/qemu/qmp.sock")       # an idle QEMU or QSD already running
    QemuTarget(connect="/run/qemu/qmp.sock", force=True)   # one that runs jobs of its own

An attached QEMU must be idle: a ``query-jobs`` that lists a job, or a block
node named like jobcheck's own, is a :class:`UsageError` (jobcheck's drains
would pause those jobs, its job ids could collide with theirs, and their
events would be checked as if jobcheck had caused them).  With ``force`` it
attaches anyway: every job id it sends gets the target's prefix, so that it
cannot collide, it never sends a command naming a job it did not start, and
the records it hands over are its own only, with the prefix taken off again:
the other jobs' events and their entries in ``query-jobs`` are left out, so
that nothing they do is counted against QEMU.

A launched QEMU speaks QMP on a socket pair, and lives in a private 0700
temporary directory with its stderr file and its images (:mod:`.qemu_process`);
an attached one is left running at the end, with every job, node and file that
jobcheck made removed, and is never killed.  Either way the set-up goes through QMP alone
(:mod:`.qemu_setup`), every name prefixed ``jc-<pid>-<n>-``.  Set-up and clean-up
commands, whose answers decide nothing until all of them are in, go out back to
back (:meth:`.qemu_session.QemuSession.execute_all`): QEMU reads its monitor a
byte at a time, and reads the next command while it runs this one.

A launched QEMU can serve many targets in turn (:mod:`.qemu_pool`): closing a
target made with a ``pool`` cancels and dismisses its jobs, deletes its nodes and
files, checks that ``query-jobs`` and ``query-named-block-nodes`` are empty, and
hands the QEMU to the next target, which starts with a new name prefix, a new
job tracker and an empty trace; a QEMU that fails that check quits as before.

*Settling* (:meth:`QemuTarget.settle`) waits for exactly what must come: the
moves the oracle awaits, then — only if a job still moves by itself (the job
tracker says which), events came after the command's answer, or QEMU accepted
a command since the last ``query-jobs`` — a quiet period (moving jobs only) or
a ``query-jobs`` whose answer follows every event QEMU sent before it and shows
whether an accepted command was carried out.  A step after which nothing is on
its way (a refused verb, a query) costs its round trip and nothing more.

On connecting, ``query-version`` picks the model
(:func:`~jobcheck.model.lifecycle.model_for`) unless ``model`` is given, and
``query-qmp-schema`` gives the ``JobStatus``, ``JobType`` (and, if QEMU
introspects it, ``JobVerb``) members QEMU really has:
:attr:`QemuTarget.schema_members`, also written into the trace metadata
(``extra["schema_members"]``) so that the oracle can report a member the
model does not know (rule ``qapi.members-known``).  These two commands are
not part of the trace; everything after them is, in wire order
(:mod:`.qemu_session`).

Robustness: every command and every wait has a timeout (``timeout``, 10 s by
default).  QEMU exiting or closing its socket raises
:class:`~jobcheck.conformance.errors.TargetError` naming the command in
flight, how the process ended and the tail of its stderr; a QEMU that aborted
raises its subclass :class:`QemuCrashed` (rule ``qemu.no-abort``).  After a
command got no answer the target is unusable, and :meth:`QemuTarget.close`
kills the process.  :meth:`QemuTarget.close` (also run by ``with``, and by a
finalizer at exit if nobody called it) leaves no process of ours and no
temporary file behind; if jobcheck is killed outright (SIGKILL), QEMU still
dies with it (parent-death signal), and the temporary directory, named for the
jobcheck process, is removed by the next jobcheck that launches or attaches
to a QEMU.

QEMU 7.2 aborts when a drained section begins while a ``blockdev-create`` job
is in flight (``quit``, or any drain, such as ``blockdev-reopen`` or the
``transaction`` that starts a backup).  So before each of its own draining
steps (start, drain, close) the target waits until every create or amend job
it started has concluded.  Commands sent with :meth:`QemuTarget.execute` go out exactly as
given: that is how a test reproduces the abort on purpose.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import stat
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

from jobcheck.conformance.errors import TargetError, UsageError, model_for_option
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.targets.job_tracker import JobTracker
from jobcheck.conformance.targets.qapi_schema import command_arguments, commands, job_enum_members
from jobcheck.conformance.targets.qemu_process import (
    QemuCrashed,
    QemuProcess,
    find_binary,
    make_workdir,
)
from jobcheck.conformance.targets.qemu_session import (
    ConnectFailed,
    ConnectTimeout,
    NotQmp,
    QemuSession,
    SessionLost,
    SessionTimeout,
    command_text,
)
from jobcheck.conformance.targets.qemu_setup import JobPlan, NodeSetup, Sizes
from jobcheck.conformance.targets.raw_qmp import check_raw_command
from jobcheck.conformance.trace.qmp_messages import JOB_STATUS_CHANGE
from jobcheck.conformance.trace.records import (
    TEARDOWN_NOTE,
    Command,
    Event,
    Meta,
    Record,
    Response,
    map_strings,
    shown,
)
from jobcheck.conformance.trace.steps import JobSpec
from jobcheck.model.lifecycle import BLOCK_JOB_TYPES, JobType, Model

__all__ = ["QemuCrashed", "QemuTarget"]


@dataclass
class _Sample:
    """What a query told about a job that should have moved on: a sign of life, or none."""

    status: str
    progress: int | None
    busy: bool | None = None
    """query-block-jobs' ``busy`` (``None``: not asked, or not a block job)."""

    def alive(self, before: _Sample) -> bool:
        """Whether the job shows life since ``before``: it made progress, or — running or
        ready — it is (or was) busy or cannot say (a job without ``busy``)."""
        if self.progress != before.progress:
            return True
        if self.status in ("running", "ready"):
            return self.busy is not False or before.busy is not False
        return False

    def evidence(self, before: _Sample | None) -> str:
        """The evidence for the verdict, in words."""
        progress = f"current-progress {self.progress}"
        if before is not None and before.progress != self.progress:
            return f"still working: current-progress {before.progress} -> {self.progress}"
        if self.busy:
            return f"still working: busy, {progress}"
        if self.status in ("running", "ready") and self.busy is None:
            return f"listed {self.status}, {progress}; busy unknown (not a block job)"
        busy = ", not busy" if self.busy is False else ""
        return f"no event; listed {self.status} with {progress}{busy} in two queries"


_SERIAL = itertools.count(1)

RECYCLE_WAIT = 1.0
"""Seconds the clean-up after a target waits for its cancelled jobs to conclude (they take
milliseconds; a QEMU whose jobs take longer quits instead of serving the next target)."""

MAX_RECYCLED_NODES = 64
"""A target that made more nodes than this quits its QEMU rather than hand it on (deleting
a node costs about a round trip; starting a QEMU, fifty or so)."""

_START_COMMANDS: dict[JobType, tuple[str, ...]] = {
    JobType.MIRROR: ("blockdev-mirror",),
    JobType.BACKUP: ("blockdev-backup",),
    JobType.COMMIT: ("block-commit",),
    JobType.STREAM: ("block-stream",),
    JobType.CREATE: ("blockdev-create",),
    JobType.AMEND: ("x-blockdev-amend", "blockdev-amend"),
}


class _Resources:
    """What must go whatever happens: the session (and its launcher thread), our process,
    our directory."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.session: QemuSession | None = None
        self.process: QemuProcess | None = None

    def release(self, grace: float = 1.0) -> None:
        # The process first: closing the session ends the thread that launched
        # QEMU, and with it QEMU (parent-death signal), without the grace time.
        if self.process is not None:
            self.process.kill(grace)
        if self.session is not None:
            self.session.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class QemuHost:
    """A launched QEMU that targets take turns on (:mod:`.qemu_pool`): its process, session
    and directory, what its introspection told, and how many targets it has served."""

    resources: _Resources
    version: str
    package: str
    model: Model
    schema_members: dict[str, list[str]]
    commands: frozenset[str]
    supported_types: frozenset[JobType]
    amend_command: str | None
    backup_x_perf: bool
    served: int = 1


class HostPool(Protocol):
    """Where a target gives its QEMU back when it is done with it (:mod:`.qemu_pool`)."""

    def wants(self, host: QemuHost) -> bool:
        """Whether the pool would take ``host`` back (before the target cleans it up)."""

    def give_back(self, host: QemuHost, clean: bool) -> None:
        """The target on ``host`` is closed: ``clean``, it left it clean for the next
        target; otherwise the QEMU is gone already."""


class QemuTarget(Target):
    """A live QEMU (launched or attached) behind the :class:`Target` interface."""

    kind = "qemu"

    def __init__(
        self,
        binary: str | None = None,
        connect: str | None = None,
        timeout: float = 10.0,
        model: str | None = None,
        force: bool = False,
        *,
        pool: HostPool | None = None,
        host: QemuHost | None = None,
    ) -> None:
        if binary and connect:
            raise UsageError("give a QEMU binary to launch or a socket to connect to, not both")
        if not timeout > 0:
            raise UsageError(f"the timeout must be positive, not {timeout}")
        self.timeout = timeout
        self.settle_quiet = 0.002
        """Seconds without an event after which :meth:`settle` trusts that a job the tracker
        sees moving has sent what it had to send (only then: see the module docstring)."""
        self.patience = max(0.05, timeout / 20)
        """Seconds between two looks for signs of life of a job that must move on (two looks
        without one make it stalled; see :meth:`settle`)."""
        self.crash: QemuCrashed | None = None
        """The crash that :meth:`close` found (it raises it too, unless an error is in flight)."""
        self.schema_members: dict[str, list[str]] = {}
        self.commands: frozenset[str] = frozenset()
        self.supported_types: frozenset[JobType] = frozenset()
        """The job types this target can start on this QEMU."""
        self.prefix = f"jc-{os.getpid()}-{next(_SERIAL)}-"
        """Starts every node name and set-up job id of this target."""
        self.force = bool(force and connect)
        self.job_prefix = self.prefix if self.force else ""
        """Starts every job id this target sends (``force``: attached to a busy QEMU)."""
        self._queries: dict[Any, str] = {}
        self.allow_raw_qmp = False
        """Whether raw ``qmp`` steps may be sent at all (``jobcheck replay --allow-raw-qmp``);
        those that may are limited further by :func:`.raw_qmp.check_raw_command`."""
        self.connect_path = connect
        self._version = "?"
        self._package = ""
        self._model: Model | None = None
        self._closed = False
        self._ended = False
        self._plans: dict[str, JobPlan] = {}
        self._lent: dict[str, JobPlan] = {}
        """Plans whose nodes may serve a later job, not given back yet
        (:meth:`NodeSetup.give_back`)."""
        self._setup: NodeSetup | None = None
        self._sent_before = 0
        """What the session had sent before this target took it over."""
        self._pool = pool if connect is None else None
        self._host: QemuHost | None = None
        if host is not None:
            self._resources = host.resources
            self._finalizer = weakref.finalize(self, self._resources.release, 0.2)
            self._take_over(host)
            return
        self._resources = _Resources(make_workdir())
        self._finalizer = weakref.finalize(self, self._resources.release, 0.2)
        try:
            self._open(binary, connect, model)
        except BaseException:
            self._close(raise_crash=False)
            raise

    # -- opening ---------------------------------------------------------

    def _open(self, binary: str | None, connect: str | None, model: str | None) -> None:
        address: str | socket.socket
        if connect is not None:
            address = connect
            try:
                mode = os.stat(connect).st_mode
            except OSError as exc:
                raise UsageError(f"cannot connect to {connect}: {exc.strerror}") from None
            if not stat.S_ISSOCK(mode):
                raise UsageError(f"{connect} is not a unix socket")
        session = self._resources.session = QemuSession(self.timeout)
        if connect is None:
            found = find_binary(binary)
            process = session.in_launcher_thread(lambda: QemuProcess(found, self.workdir))
            self._resources.process = process
            address = process.connection
        with self._guard():
            session.connect(address)
            version = session.execute("query-version")
            schema = session.execute("query-qmp-schema")
        if not version.ok or not schema.ok:
            raise TargetError(f"QEMU refused its introspection: {version.error or schema.error}")
        if connect is not None:
            self._check_idle(session, connect)
        numbers = version.value.get("qemu", {}) if isinstance(version.value, dict) else {}
        self._version = ".".join(str(numbers.get(k, 0)) for k in ("major", "minor", "micro"))
        self._package = str(version.value.get("package", "")).strip()
        self._model = model_for_option(model or self._version)
        entries = schema.value if isinstance(schema.value, list) else []
        self.schema_members = job_enum_members(entries)
        self.commands = commands(entries)
        self.supported_types = frozenset(
            t for t, names in _START_COMMANDS.items() if any(n in self.commands for n in names)
        )
        amend = next((n for n in _START_COMMANDS[JobType.AMEND] if n in self.commands), None)
        self._host = QemuHost(
            self._resources,
            self._version,
            self._package,
            self._model,
            self.schema_members,
            self.commands,
            self.supported_types,
            amend,
            "x-perf" in command_arguments(entries, "blockdev-backup"),
        )
        self._setup = self._node_setup(self._host)
        session.recording = True

    @property
    def sent_bytes(self) -> int:
        """Bytes of the QMP commands this target has sent so far, its teardown included
        (and, on a QEMU it launched, the negotiation and introspection)."""
        session = self._resources.session
        return 0 if session is None else session.sent_bytes - self._sent_before

    @property
    def host(self) -> QemuHost | None:
        """The launched QEMU this target runs on, as a pool sees it (``None``: attached)."""
        return self._host

    def _node_setup(self, host: QemuHost) -> NodeSetup:
        return NodeSetup(
            self,
            self.workdir,
            self.prefix,
            amend_command=host.amend_command,
            backup_x_perf=host.backup_x_perf,
            sizes=Sizes(),
        )

    def _take_over(self, host: QemuHost) -> None:
        """Start on a QEMU that an earlier target left clean (see :meth:`_recycle`)."""
        self._host = host
        self._version, self._package, self._model = host.version, host.package, host.model
        self.schema_members = host.schema_members
        self.commands = host.commands
        self.supported_types = host.supported_types
        self._setup = self._node_setup(host)
        host.served += 1
        self._session.forget()
        self._sent_before = self._session.sent_bytes

    def _check_idle(self, session: QemuSession, path: str) -> None:
        """Refuse a QEMU with jobs (unless ``force``) or with nodes named like ours."""
        with self._guard():
            jobs = session.execute("query-jobs")
            nodes = session.execute("query-named-block-nodes", {"flat": True})
            if not nodes.ok:  # QEMU before 5.0 has no 'flat'
                nodes = session.execute("query-named-block-nodes")
        names = [
            n.get("node-name")
            for n in (nodes.value if nodes.ok and isinstance(nodes.value, list) else [])
            if isinstance(n, dict)
        ]
        clash = [n for n in names if isinstance(n, str) and n.startswith(self.prefix)]
        if clash:
            raise UsageError(
                f"the QEMU at {path} has a block node named like jobcheck's own"
                f" ({shown(clash[0])}); jobcheck cannot set up its jobs beside it"
            )
        ids = [
            shown(j.get("id"), 24)
            for j in (jobs.value if jobs.ok and isinstance(jobs.value, list) else [])
            if isinstance(j, dict)
        ]
        if ids and not self.force:
            listed = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
            raise UsageError(
                f"the QEMU at {path} is not idle: it runs {len(ids)} job(s) ({listed});"
                " jobcheck's drains would pause them and its job ids could collide with"
                " theirs. Let them finish, or pass --connect-force (jobcheck then leaves"
                " them alone and does not check them)"
            )

    # -- properties ------------------------------------------------------

    @property
    def workdir(self) -> str:
        return self._resources.workdir

    @property
    def pid(self) -> int | None:
        """The pid of the QEMU this target launched (``None`` when attached)."""
        process = self._resources.process
        return process.pid if process is not None else None

    @property
    def qemu_version(self) -> str:
        return self._version

    @property
    def model(self) -> Model:
        assert self._model is not None
        return self._model

    def describe(self) -> str:
        model = self._model.version if self._model else "?"
        package = f" ({self._package})" if self._package else ""
        process = self._resources.process
        where = process.binary.path if process is not None else f"attached at {self.connect_path}"
        return f"QEMU {self._version}{package}, {where}, model {model}"

    def meta(self, **extra: Any) -> Meta:
        own: dict[str, Any] = {"target": self.describe(), "schema_members": self.schema_members}
        return super().meta(**{**own, **extra})

    # -- errors ----------------------------------------------------------

    @property
    def _session(self) -> QemuSession:
        session = self._resources.session
        if self._closed or session is None:
            raise TargetError("the QEMU target is closed")
        if self._ended:
            raise TargetError("QEMU has quit; this target can send no more commands")
        return session

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn the session's failures into TargetError / QemuCrashed."""
        try:
            yield
        except NotQmp as exc:
            raise UsageError(str(exc)) from None
        except (ConnectFailed, ConnectTimeout) as exc:
            if self._resources.process is None:
                raise TargetError(str(exc)) from None
            if isinstance(exc, ConnectFailed):
                raise self._lost_error(str(exc)) from None
            raise TargetError(self._with_stderr(str(exc))) from None
        except SessionTimeout as exc:
            process = self._resources.process
            if process is not None and process.stopped():
                raise TargetError(
                    f"{process.binary.name} (pid {process.pid}) is stopped (SIGSTOP, or a"
                    f" debugger) and did not answer: {exc}"
                ) from None
            raise TargetError(self._with_stderr(f"QEMU did not answer: {exc}")) from None
        except SessionLost as exc:
            raise self._lost_error(str(exc)) from None

    def _with_stderr(self, message: str) -> str:
        process = self._resources.process
        tail = process.stderr_tail() if process is not None else ""
        return f"{message}; QEMU's stderr: {tail}" if tail else message

    def _lost_error(self, reason: str) -> TargetError:
        session = self._resources.session
        doing = session.last_command if session is not None else "start-up"
        process = self._resources.process
        if process is None:
            return TargetError(
                f"the QEMU at {self.connect_path} closed its QMP connection"
                f" (last command: {doing}; {reason})"
            )
        code = process.wait(min(self.timeout, 5.0))
        name = f"{process.binary.name} (pid {process.pid})"
        if code is None:
            return TargetError(
                self._with_stderr(f"{name} closed its QMP socket (last command: {doing}; {reason})")
            )
        message = self._with_stderr(f"{name} {process.ending()} (last command: {doing})")
        if process.crashed():
            return QemuCrashed(message, code, process.stderr_tail(), doing)
        return TargetError(message)

    # -- commands --------------------------------------------------------

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Response:
        session = self._session
        if command == "quit":
            return self._quit(session, arguments)
        with self._guard():
            return session.execute(command, arguments)

    def raw_qmp(self, command: str, arguments: dict[str, Any] | None = None) -> Response:
        if not self.allow_raw_qmp:
            raise UsageError(
                f"a raw QMP step ({shown(command)}) sends what the trace says to QEMU;"
                " jobcheck sends one only when asked (jobcheck replay --allow-raw-qmp)"
            )
        if self.force:
            raise UsageError("raw QMP steps cannot be sent with --connect-force")
        return self.execute(command, check_raw_command(command, arguments, self.workdir))

    @property
    def ended(self) -> bool:
        return self._ended

    def _quit(self, session: QemuSession, arguments: dict[str, Any] | None) -> Response:
        process = self._resources.process
        if process is None:
            raise UsageError("jobcheck does not quit a QEMU that it did not start")
        with self._guard():
            response = session.execute("quit", arguments)
        if not response.ok:
            return response
        self._ended = True
        code = process.wait(self.timeout)
        doing = command_text("quit", arguments)
        if code is None:
            stopped = " (it is stopped: SIGSTOP, or a debugger)" if process.stopped() else ""
            raise TargetError(
                self._with_stderr(
                    f"{process.binary.name} (pid {process.pid}) did not exit within"
                    f" {self.timeout:g} s of {doing}{stopped}"
                )
            )
        message = self._with_stderr(f"{process.binary.name} {process.ending()} after {doing}")
        if process.crashed():
            raise QemuCrashed(message, code, process.stderr_tail(), doing)
        if code != 0:
            raise TargetError(message)  # killed from outside while it was quitting
        return response

    # -- set-up (the SetupQmp protocol of NodeSetup) ---------------------

    def setup_commands(self, commands: list[tuple[str, dict[str, Any]]]) -> None:
        responses = self._execute_all(commands)
        for (command, arguments), response in zip(commands, responses, strict=True):
            if not response.ok:
                assert response.error is not None
                raise TargetError(
                    f"set-up failed: {command_text(command, arguments)}: {response.error.desc}"
                )

    def await_jobs(self, ids: list[str]) -> None:
        self._wait(
            lambda t: all(t.status(i) in ("concluded", "null") for i in ids),
            "set-up jobs " + ", ".join(sorted(ids)),
        )

    def _wait(self, predicate: Callable[[JobTracker], bool], what: str) -> None:
        with self._guard():
            done = self._session.wait_until(predicate, self.timeout)
        if not done:
            raise TargetError(f"{what} did not conclude within {self.timeout:g} s")

    def _before_drain(self) -> None:
        """Wait until no create/amend job of ours is in flight (QEMU 7.2 aborts otherwise)."""
        self._wait(lambda t: not t.running_alone(), "create and amend jobs")

    # -- steps -----------------------------------------------------------

    def start(
        self, jobs: Sequence[JobSpec], grouped: bool = False, aborted: bool = False
    ) -> Response:
        specs = list(jobs)
        if not specs:
            raise UsageError("a start step needs at least one job")
        for spec in specs:
            if spec.type not in self.supported_types:
                raise UsageError(f"this QEMU ({self._version}) cannot start {spec.type.value} jobs")
        if (grouped or aborted) and any(s.type is not JobType.BACKUP for s in specs):
            raise UsageError("a grouped or aborted transaction holds backup jobs only")
        assert self._setup is not None
        self._before_drain()
        self._reclaim(self._setup)
        specs = [replace(s, id=self.wire_id(s.id)) for s in specs]
        plans = [self._setup.plan(spec) for spec in specs]
        for plan in plans:
            self._plans[plan.spec.id] = plan
            if plan.chain is not None or plan.pair is not None:
                self._lent[plan.spec.id] = plan
        if aborted:
            actions = [{"type": p.command, "data": p.arguments} for p in plans]
            actions.append({"type": "abort", "data": {}})
            return self.execute("transaction", {"actions": actions})
        if grouped:
            actions = [{"type": p.command, "data": p.arguments} for p in plans]
            return self.execute(
                "transaction",
                {"actions": actions, "properties": {"completion-mode": "grouped"}},
            )
        responses = [self.execute(p.command, p.arguments) for p in plans]
        return next((r for r in responses if not r.ok), responses[-1])

    def _reclaim(self, setup: NodeSetup) -> None:
        """Give the set-up back the nodes of jobs that are gone (:meth:`NodeSetup.give_back`):
        a mirror's or backup's pair however it ended, a commit's or stream's chain if it
        was cancelled before its work was done."""
        done = self._session.inspect(
            lambda t: [
                job
                for job, plan in self._lent.items()
                if (t.cancelled_and_gone(job) if plan.chain else t.status(job) == "null")
            ]
        )
        for job in done:
            setup.give_back(self._lent.pop(job))

    def wire_id(self, job_id: str) -> str:
        """The id a job of the campaign's has in QEMU (prefixed under ``force``)."""
        return self.job_prefix + job_id

    def _speed(self, job_id: str, speed: int, what: str) -> None:
        plan = self._plans.get(self.wire_id(job_id))
        if plan is None:
            self.note(f"{what} {job_id}: no such job started here; nothing sent")
        elif plan.spec.type not in BLOCK_JOB_TYPES:
            self.note(f"{what} {job_id}: {plan.spec.type.value} jobs have no speed; nothing sent")
        else:
            self.execute("block-job-set-speed", {"device": plan.spec.id, "speed": speed})

    def release(self, job_id: str) -> None:
        self._speed(job_id, 0, "release")

    def hold(self, job_id: str) -> None:
        self._speed(job_id, 1, "hold")

    def drain(self, job_id: str) -> None:
        plan = self._plans.get(self.wire_id(job_id))
        if plan is None or plan.drain is None:
            why = "no such job started here" if plan is None else "no pause points"
            self.note(f"drain {job_id}: {why}; nothing sent")
            return
        self._before_drain()
        if "blockdev-reopen" in self.commands:
            self.execute("blockdev-reopen", {"options": [plan.drain]})
        elif "x-blockdev-reopen" in self.commands:
            self.execute("x-blockdev-reopen", plan.drain)
        else:
            self.execute("transaction", {"actions": []})

    def settle(self, expect: Mapping[str, str] | None = None) -> None:
        if self._ended:
            return  # QEMU has quit: every event it sent came before its socket closed
        session = self._session
        if expect is None:
            with self._guard():
                moving = session.settle(self.settle_quiet)
            if moving:
                statuses = session.inspect(lambda t: {i: t.status(i) for i in moving})
                self.note(
                    f"settle: after {self.timeout:g} s these jobs are still moving: "
                    + ", ".join(f"{i} ({s})" for i, s in statuses.items())
                )
            return
        if expect:
            self.note_wait(self._await_moves(dict(expect)))
        # A job that still moves by itself gets a quiet period.  After events QEMU sent on
        # its own (a job that moved as awaited, or after the command's answer) a query-jobs
        # follows: the events of the same moment (BLOCK_JOB_READY after the status change,
        # …) are on the wire before its answer.  So it does after a command QEMU accepted:
        # its answer shows whether QEMU did what it said (a dismissed job gone, …).  After a
        # refused command, a query or nothing at all, nothing is on its way.
        still = session.inspect(lambda t: bool(t.moving()))
        if still or expect or session.late_events or session.unconfirmed:
            with self._guard():
                session.barrier(self.settle_quiet if still else 0.0)

    def _await_moves(self, expect: dict[str, str]) -> dict[str, dict[str, Any]]:
        """Wait for each job of ``expect`` to leave its status; the verdicts of those that
        did not (see :meth:`Target.settle`).

        Every :attr:`patience` seconds without the awaited events, ``query-jobs``
        (and, for block jobs in running or ready, ``query-block-jobs``) looks for
        signs of life: a job listed in the same status in two such samples, with
        the same ``current-progress`` and — if it is running or ready — not busy in
        either, is *stalled*; one still alive when :attr:`timeout` seconds have
        passed is *slow*.  A job listed in another status than awaited has moved;
        its ``JOB_STATUS_CHANGE`` precedes the query's answer on the wire (QEMU
        changes the status and sends the event under the job lock the query also
        takes), so one listed elsewhere in two samples with no event in between is
        *unreported*: it moved without saying so.
        """
        session = self._session
        started = time.monotonic()
        waiting = set(expect)

        def unmoved(t: JobTracker) -> set[str]:
            return {j for j in waiting if t.status(j) == expect[j]}

        previous: dict[str, _Sample] = {}
        verdicts: dict[str, dict[str, Any]] = {}
        while True:
            with self._guard():
                session.wait_until(lambda t: not unmoved(t), self.patience)
            waiting = session.inspect(unmoved)
            if not waiting:
                return verdicts
            samples = self._samples(waiting, expect)
            waiting = session.inspect(unmoved)
            elapsed = time.monotonic() - started
            for job in sorted(waiting):
                now, before = samples.get(job), previous.get(job)
                if now is None:
                    waiting.discard(job)  # gone, as the snapshot shows
                    continue
                if now.status != expect[job]:
                    if before is not None and before.status == now.status:
                        waiting.discard(job)
                        verdicts[job] = {
                            "status": expect[job],
                            "verdict": "unreported",
                            "seconds": round(elapsed, 3),
                            "evidence": f"listed {now.status} in two queries, no event",
                        }
                    previous[job] = now
                    continue
                previous[job] = now
                verdict = None
                if before is not None and not now.alive(before):
                    verdict = "stalled"
                elif elapsed >= self.timeout:
                    verdict = "slow"
                if verdict is not None:
                    waiting.discard(job)
                    verdicts[job] = {
                        "status": expect[job],
                        "verdict": verdict,
                        "seconds": round(elapsed, 3),
                        "evidence": now.evidence(before),
                    }
            if not waiting:
                return verdicts

    def _samples(self, jobs: set[str], expect: dict[str, str]) -> dict[str, _Sample]:
        """``query-jobs`` (and ``query-block-jobs`` where busy matters) for ``jobs``."""
        listed = self.execute("query-jobs")
        found: dict[str, _Sample] = {}
        for info in listed.value if isinstance(listed.value, list) else []:
            if isinstance(info, dict) and info.get("id") in jobs:
                progress = info.get("current-progress")
                found[str(info["id"])] = _Sample(
                    str(info.get("status")), progress if isinstance(progress, int) else None
                )
        working = {j for j, s in found.items() if s.status in ("running", "ready")}
        if working:
            block = self.execute("query-block-jobs")
            for info in block.value if isinstance(block.value, list) else []:
                if isinstance(info, dict) and info.get("device") in working:
                    busy = info.get("busy")
                    found[str(info["device"])].busy = busy if isinstance(busy, bool) else None
        return found

    def take_records(self) -> list[Record]:
        session = self._resources.session
        records = session.take_records() if session is not None else []
        return self._own_records(records) if self.job_prefix else records

    def _own_records(self, records: list[Record]) -> list[Record]:
        """Under ``force``: our records only (no other job's events or query-jobs entries),
        with our prefix taken off every id and name again."""
        prefix = self.job_prefix
        out: list[Record] = []
        for record in records:
            if isinstance(record, Command):
                if record.execute in ("query-jobs", "query-block-jobs"):
                    self._queries[record.id] = record.execute
                record = replace(record, arguments=_unprefixed(record.arguments, prefix))
            elif isinstance(record, Event):
                key = "id" if record.event == JOB_STATUS_CHANGE else "device"
                named = record.data.get(key)
                if record.event.startswith(("JOB_", "BLOCK_JOB_")) and not (
                    isinstance(named, str) and named.startswith(prefix)
                ):
                    continue
                record = replace(record, data=_unprefixed(record.data, prefix))
            elif isinstance(record, Response):
                query = self._queries.pop(record.id, None)
                value = record.value
                if query is not None and isinstance(value, list):
                    key = "id" if query == "query-jobs" else "device"
                    value = [
                        e
                        for e in value
                        if isinstance(e, dict) and str(e.get(key, "")).startswith(prefix)
                    ]
                error = record.error
                if error is not None:
                    error = replace(error, desc=error.desc.replace(prefix, ""))
                record = replace(record, value=_unprefixed(value, prefix), error=error)
            out.append(record)
        return out

    def _record(self, record: Record) -> None:
        self._session.record(record)

    def inspect_jobs(self) -> dict[str, str]:
        """Our jobs and their last status as the events told it."""
        prefix = self.job_prefix
        return self._session.inspect(
            lambda t: {j.id.removeprefix(prefix): j.status for j in t.ours()}
        )

    # -- closing ---------------------------------------------------------

    def close(self) -> None:
        """Tear down (see the module docstring); raise :class:`QemuCrashed` if QEMU aborted
        during the teardown itself, or :class:`TargetError` if the teardown failed (QEMU
        did not answer, did not exit, or was killed while quitting) — after everything is
        cleaned up either way."""
        self._close(raise_crash=True)

    def __enter__(self) -> QemuTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close(raise_crash=not exc or exc[0] is None)

    def _close(self, raise_crash: bool) -> None:
        if self._closed:
            return
        crash: TargetError | None = None
        kept: QemuHost | None = None
        grace = 0.0
        try:
            session = self._resources.session
            launched = self._resources.process is not None
            usable = (
                session is not None
                and not self._ended
                and not session.lost
                and session.broken is None
                and self._model is not None
                and not (launched and session.interrupted)
            )
            if usable:
                grace = 1.0
                try:
                    self._before_drain()
                    if self._resources.process is None:
                        self._remove_own(self.timeout)
                    elif self._reusable() and self._recycle():
                        kept = self._host
                    else:
                        self._quit(self._session, None)
                except TargetError as exc:
                    crash = exc
                except UsageError:
                    pass
        finally:
            self._closed = True
            self._finalizer.detach()
            if kept is None:
                self._resources.release(grace)
            if self._pool is not None and self._host is not None:
                self._pool.give_back(self._host, clean=kept is not None)
        if crash is not None:
            if isinstance(crash, QemuCrashed):
                self.crash = crash
            if raise_crash:
                raise crash

    def _reusable(self) -> bool:
        """Whether the pool takes this target's QEMU back for another target: it wants it,
        and there are few enough nodes to delete (deleting a tour's thousand nodes takes
        longer than a new QEMU takes to start)."""
        if self._pool is None or self._host is None or self._setup is None:
            return False
        return len(self._setup.nodes) <= MAX_RECYCLED_NODES and self._pool.wants(self._host)

    def _recycle(self) -> bool:
        """Leave the QEMU as clean as a fresh one, for the next target; whether it is.

        Every job of ours is cancelled (or let finish) and, once concluded (within
        :data:`RECYCLE_WAIT` seconds), dismissed, and every node deleted; then
        ``query-jobs`` and ``query-named-block-nodes`` must both be empty, as on a
        QEMU just started, and the image files of this target are removed.  Anything
        else (a job that does not conclude, a job or a node left over) and the QEMU
        is not reused: it quits as it would have.
        """
        if not self._remove_own(RECYCLE_WAIT):
            return False
        jobs = self.execute("query-jobs")
        nodes = self.execute("query-named-block-nodes")
        if not (jobs.ok and jobs.value == [] and nodes.ok and nodes.value == []):
            return False
        for name in os.listdir(self.workdir):
            if name.startswith(self.prefix):
                os.unlink(os.path.join(self.workdir, name))
        return True

    def _remove_own(self, wait: float) -> bool:
        """Cancel and dismiss our jobs, delete our nodes; leave the QEMU running.  Whether
        every job concluded within ``wait`` seconds (those that did not are left)."""
        session = self._session
        self.note(TEARDOWN_NOTE)
        self._execute_all(
            [
                ("job-dismiss" if status == "concluded" else "job-cancel", {"id": job_id})
                for job_id, status in session.inspect(_own_jobs).items()
                if status != "aborting"
            ]
        )
        with self._guard():
            concluded = session.wait_until(
                lambda t: all(s == "concluded" for s in _own_jobs(t).values()), wait
            )
        # QEMU dismisses in the command: its null event comes before the answer
        left_jobs = session.inspect(_own_jobs)
        self._execute_all([("job-dismiss", {"id": job_id}) for job_id in left_jobs])
        left = list(reversed(self._setup.nodes)) if self._setup is not None else []
        for _ in range(2):
            answers = self._execute_all([("blockdev-del", {"node-name": n}) for n in left])
            left = [n for n, answer in zip(left, answers, strict=True) if not answer.ok]
        return concluded

    def _execute_all(self, commands: list[tuple[str, dict[str, Any]]]) -> list[Response]:
        """Commands sent back to back (:meth:`QemuSession.execute_all`); their answers."""
        with self._guard():
            return self._session.execute_all(commands)


def _own_jobs(tracker: JobTracker) -> dict[str, str]:
    """Our jobs that QEMU still lists, and their status as the events told it."""
    return {j.id: j.status for j in tracker.ours() if j.status not in ("null", "undefined")}


def _unprefixed(value: Any, prefix: str) -> Any:
    """``value`` with ``prefix`` taken out of every string in it."""
    return map_strings(value, lambda text: text.replace(prefix, ""))
