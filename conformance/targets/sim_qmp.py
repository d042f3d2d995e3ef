"""The simulator's QMP surface: the commands it answers, their arguments, QEMU's replies.

:class:`Qmp` turns one QMP command (name and arguments) into a call on the
:class:`~.sim_engine.Engine` and returns the ``return`` value, or raises
:class:`~.sim_engine.QmpFailure` with QEMU's error class and exact text.  It
answers:

* every verb of both families: ``job-{cancel,pause,resume,complete,finalize,dismiss}``
  and ``block-job-{cancel,pause,resume,complete,finalize,dismiss,set-speed}``, plus
  ``block-job-change`` from 8.2 (older versions answer ``CommandNotFound``);
* ``query-jobs``, ``query-block-jobs`` and ``query-version``;
* the start commands ``blockdev-mirror``, ``blockdev-backup``, ``drive-backup``,
  ``block-commit``, ``block-stream``, ``blockdev-create``, ``x-blockdev-amend``
  and ``transaction`` (backup actions; ``completion-mode`` individual or grouped);
* ``human-monitor-command`` with ``qemu-io``, which drains every node twice (as a
  guest write through a mirror's filter does).

Arguments are checked the way QEMU's QAPI input visitor checks them (missing,
wrongly typed, unexpected, or a value outside an enumeration).  Block nodes are
implicit: every node name exists.  An explicit error policy on a start command
(``on-target-error`` for mirror and backup, ``on-error`` for commit and stream:
``stop``, ``report`` or ``enospc``) arms one I/O error that fires on the job's
first write after it runs at speed 0.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jobcheck.conformance.targets.sim_engine import Engine, Job, QmpFailure, Txn

Schema = tuple[tuple[str, str, bool], ...]
"""Members of a command's arguments: (name, JSON type, required), in QAPI order."""

_TYPE_NAMES = {
    "str": "string",
    "bool": "boolean",
    "int": "integer",
    "obj": "object",
    "list": "array",
}
_ON_ERROR = ("report", "ignore", "enospc", "stop", "auto")
_SYNC = ("top", "full", "none", "incremental", "bitmap")
_JOB_TYPES = (
    "commit",
    "stream",
    "mirror",
    "backup",
    "create",
    "amend",
    "snapshot-load",
    "snapshot-save",
    "snapshot-delete",
)
_ACTIONS = (
    "abort",
    "block-dirty-bitmap-add",
    "block-dirty-bitmap-remove",
    "block-dirty-bitmap-clear",
    "block-dirty-bitmap-enable",
    "block-dirty-bitmap-disable",
    "block-dirty-bitmap-merge",
    "blockdev-backup",
    "blockdev-snapshot",
    "blockdev-snapshot-internal-sync",
    "blockdev-snapshot-sync",
    "drive-backup",
)
#: An error policy → the action taken for the simulated EIO (``enospc`` stops only on ENOSPC).
_INJECTED = {"stop": "stop", "report": "report", "enospc": "report"}

_COMMON_JOB: Schema = (
    ("auto-finalize", "bool", False),
    ("auto-dismiss", "bool", False),
)
_MIRROR: Schema = (
    ("job-id", "str", False),
    ("device", "str", True),
    ("target", "str", True),
    ("replaces", "str", False),
    ("sync", "str", True),
    ("speed", "int", False),
    ("granularity", "int", False),
    ("buf-size", "int", False),
    ("on-source-error", "str", False),
    ("on-target-error", "str", False),
    ("filter-node-name", "str", False),
    ("copy-mode", "str", False),
    *_COMMON_JOB,
)
_BACKUP: Schema = (
    ("job-id", "str", False),
    ("device", "str", True),
    ("sync", "str", True),
    ("speed", "int", False),
    ("bitmap", "str", False),
    ("bitmap-mode", "str", False),
    ("compress", "bool", False),
    ("on-source-error", "str", False),
    ("on-target-error", "str", False),
    *_COMMON_JOB,
    ("filter-node-name", "str", False),
    ("x-perf", "obj", False),
    ("target", "str", True),
)
_DRIVE_BACKUP: Schema = (*_BACKUP, ("format", "str", False), ("mode", "str", False))
_COMMIT: Schema = (
    ("job-id", "str", False),
    ("device", "str", True),
    ("base-node", "str", False),
    ("base", "str", False),
    ("top-node", "str", False),
    ("top", "str", False),
    ("backing-file", "str", False),
    ("speed", "int", False),
    ("on-error", "str", False),
    ("filter-node-name", "str", False),
    *_COMMON_JOB,
)
_STREAM: Schema = (
    ("job-id", "str", False),
    ("device", "str", True),
    ("base", "str", False),
    ("base-node", "str", False),
    ("backing-file", "str", False),
    ("bottom", "str", False),
    ("speed", "int", False),
    ("on-error", "str", False),
    ("filter-node-name", "str", False),
    *_COMMON_JOB,
)


def _is(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "obj":
        return isinstance(value, dict)
    return isinstance(value, list)


@functools.lru_cache(maxsize=128)
def _shape(schema: Schema) -> tuple[dict[str, str], frozenset[str]]:
    """A schema's member types by name, and its required members."""
    return {name: kind for name, kind, _ in schema}, frozenset(n for n, _, req in schema if req)


def check_args(args: dict[str, Any], schema: Schema) -> None:
    """Check arguments as QEMU's QAPI input visitor does; raise :class:`QmpFailure`.

    >>> check_args({"id": "j0"}, (("id", "str", True), ("force", "bool", False)))
    >>> try:
    ...     check_args({"id": 0, "x": 1}, (("id", "str", True),))
    ... except QmpFailure as failure:
    ...     print(failure.desc)
    Invalid parameter type for 'id', expected: string
    """
    types, required = _shape(schema)
    if required <= args.keys() and all(
        name in types and _is(value, types[name]) for name, value in args.items()
    ):
        return  # the usual case, settled without walking the whole schema
    for name, kind, required_member in schema:
        if name not in args:
            if required_member:
                raise QmpFailure(f"Parameter '{name}' is missing")
            continue
        if not _is(args[name], kind):
            raise QmpFailure(f"Invalid parameter type for '{name}', expected: {_TYPE_NAMES[kind]}")
    if len(args) > len(schema) or not args.keys() <= {member[0] for member in schema}:
        for name in args:
            if not any(name == member[0] for member in schema):
                raise QmpFailure(f"Parameter '{name}' is unexpected")


def _enum(args: dict[str, Any], name: str, values: tuple[str, ...]) -> None:
    value = args.get(name)
    if value is not None and value not in values:
        raise QmpFailure(f"Parameter '{name}' does not accept value '{value}'")


class Qmp:
    """The QMP commands of one simulated QEMU of release ``release`` (major, minor)."""

    def __init__(self, engine: Engine, release: tuple[int, int], micro: int = 0) -> None:
        self.engine = engine
        self.release = release
        self.micro = micro
        job_verbs: dict[str, Callable[[Job], None]] = {
            "job-pause": engine.user_pause,
            "job-resume": engine.user_resume,
            "job-complete": engine.complete,
            "job-finalize": engine.finalize,
            "job-dismiss": engine.dismiss,
        }
        block_verbs: dict[str, tuple[str, Callable[[Job], None]]] = {
            "block-job-pause": ("device", engine.user_pause),
            "block-job-resume": ("device", engine.user_resume),
            "block-job-complete": ("device", engine.complete),
            "block-job-finalize": ("id", engine.finalize),
            "block-job-dismiss": ("id", engine.dismiss),
        }
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "job-cancel": lambda a: engine.cancel(self._job(a), True),
            "block-job-cancel": self._block_job_cancel,
            "block-job-set-speed": self._block_job_set_speed,
            "query-jobs": self._query_jobs,
            "query-block-jobs": self._query_block_jobs,
            "query-version": self._query_version,
            "blockdev-mirror": self._blockdev_mirror,
            "block-commit": self._block_commit,
            "block-stream": self._block_stream,
            "blockdev-backup": lambda a: self._transaction_of("blockdev-backup", a),
            "drive-backup": lambda a: self._transaction_of("drive-backup", a),
            "blockdev-create": lambda a: self._create_job("create", a),
            "x-blockdev-amend": lambda a: self._create_job("amend", a),
            "transaction": self._transaction,
            "human-monitor-command": self._hmp,
        }
        for name, verb in job_verbs.items():
            self.handlers[name] = self._job_verb(verb)
        for name, (key, verb) in block_verbs.items():
            self.handlers[name] = self._block_verb(key, verb)
        if release >= (8, 2):
            self.handlers["block-job-change"] = self._block_job_change

    def dispatch(self, command: str, args: dict[str, Any]) -> Any:
        """Run one command; its ``return`` value, or :class:`QmpFailure`."""
        handler = self.handlers.get(command)
        if handler is None:
            raise QmpFailure(f"The command {command} has not been found", "CommandNotFound")
        result = handler(args)
        return {} if result is None else result

    # -- finding jobs -----------------------------------------------------------

    def _job(self, args: dict[str, Any]) -> Job:
        """``find_job``: the ``id`` of any job."""
        check_args(args, (("id", "str", True),))
        job = self.engine.jobs.get(args["id"])
        if job is None:
            raise QmpFailure("Job not found")
        return job

    def _find_block_job(self, name: str) -> Job:
        """``find_block_job``: block jobs only; anything else is DeviceNotActive."""
        job = self.engine.jobs.get(name)
        if job is None or not job.block:
            raise QmpFailure(f"Block job '{name}' not found", "DeviceNotActive")
        return job

    def _job_verb(self, verb: Callable[[Job], None]) -> Callable[[dict[str, Any]], None]:
        return lambda args: verb(self._job(args))

    def _block_verb(
        self, key: str, verb: Callable[[Job], None]
    ) -> Callable[[dict[str, Any]], None]:
        def run(args: dict[str, Any]) -> None:
            check_args(args, ((key, "str", True),))
            verb(self._find_block_job(args[key]))

        return run

    # -- verbs with arguments ---------------------------------------------------

    def _block_job_cancel(self, args: dict[str, Any]) -> None:
        check_args(args, (("device", "str", True), ("force", "bool", False)))
        job = self._find_block_job(args["device"])
        force = bool(args.get("force", False))
        if job.user_paused and not force:
            raise QmpFailure(f"The block job for device '{args['device']}' is currently paused")
        self.engine.cancel(job, force)

    def _block_job_set_speed(self, args: dict[str, Any]) -> None:
        check_args(args, (("device", "str", True), ("speed", "int", True)))
        self.engine.set_speed(self._find_block_job(args["device"]), args["speed"])

    def _block_job_change(self, args: dict[str, Any]) -> None:
        mirror = args.get("type") == "mirror"
        schema: Schema = (("id", "str", True), ("type", "str", True))
        if mirror:
            schema = (*schema, ("copy-mode", "str", True))
        check_args(args, schema)
        _enum(args, "type", _JOB_TYPES)
        _enum(args, "copy-mode", ("background", "write-blocking"))
        job = self._find_block_job(args["id"])
        self.engine.change(job, args.get("copy-mode", "background"))

    # -- queries ------------------------------------------------------------------

    def _listed(self) -> list[Job]:
        """Jobs as QEMU lists them: newest first."""
        return list(reversed(self.engine.jobs.values()))

    def _type_of(self, job: Job) -> str:
        if job.kind == "commit" and self.engine.mutant == "commit-listed-as-mirror":
            return "mirror"
        return job.kind

    def _query_jobs(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        check_args(args, ())
        hide_error = self.engine.mutant == "no-error-on-failure"
        out = []
        for job in self._listed():
            info: dict[str, Any] = {
                "id": job.id,
                "type": self._type_of(job),
                "status": job.status.value,
                "current-progress": job.current,
                "total-progress": job.total,
            }
            if job.ret and not hide_error:
                info["error"] = job.err
            out.append(info)
        return out

    def _query_block_jobs(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        check_args(args, ())
        out = []
        for job in self._listed():
            if not job.block:
                continue
            info: dict[str, Any] = {
                "type": self._type_of(job),
                "device": job.id,
                "len": job.total,
                "offset": job.current,
                "busy": job.busy,
                "paused": job.pause_count > 0,
                "speed": job.speed,
                "io-status": job.iostatus,
                "ready": job.is_ready,
                "status": job.status.value,
                "auto-finalize": job.auto_finalize,
                "auto-dismiss": job.auto_dismiss,
            }
            if job.ret:
                info["error"] = job.err
            if job.kind == "mirror" and self.release >= (8, 2):
                info["actively-synced"] = False
            out.append(info)
        return out

    def _query_version(self, args: dict[str, Any]) -> dict[str, Any]:
        check_args(args, ())
        major, minor = self.release
        return {
            "qemu": {"major": major, "minor": minor, "micro": self.micro},
            "package": "jobcheck simulator",
        }

    # -- starting jobs ------------------------------------------------------------

    def _new_block_job(
        self, kind: str, args: dict[str, Any], policy_key: str, *, ready_phase: bool
    ) -> Job:
        speed = args.get("speed", 0)
        if speed < 0:
            raise QmpFailure("Parameter 'speed' expects a non-negative value")
        device = args["device"]
        return Job(
            args.get("job-id", ""),
            kind,
            device,
            ready_phase=ready_phase,
            auto_finalize=args.get("auto-finalize", True),
            auto_dismiss=args.get("auto-dismiss", True),
            speed=speed,
            error_policy=_INJECTED.get(args.get(policy_key, "")),
        )

    def _start_one(self, job: Job) -> None:
        self.engine.check_node(job.device)
        self.engine.create(job)
        self.engine.start(job)

    def _blockdev_mirror(self, args: dict[str, Any]) -> None:
        check_args(args, _MIRROR)
        _enum(args, "sync", _SYNC)
        _enum(args, "on-source-error", _ON_ERROR)
        _enum(args, "on-target-error", _ON_ERROR)
        _enum(args, "copy-mode", ("background", "write-blocking"))
        job = self._new_block_job("mirror", args, "on-target-error", ready_phase=True)
        job.copy_mode = args.get("copy-mode", "background")
        self._start_one(job)

    def _block_commit(self, args: dict[str, Any]) -> None:
        check_args(args, _COMMIT)
        _enum(args, "on-error", _ON_ERROR)
        top = args.get("top-node", args.get("top"))
        active = top is None or top == args["device"]
        self._start_one(self._new_block_job("commit", args, "on-error", ready_phase=active))

    def _block_stream(self, args: dict[str, Any]) -> None:
        check_args(args, _STREAM)
        _enum(args, "on-error", _ON_ERROR)
        self._start_one(self._new_block_job("stream", args, "on-error", ready_phase=False))

    def _create_job(self, kind: str, args: dict[str, Any]) -> None:
        """``blockdev-create`` / ``x-blockdev-amend``: always manual dismiss, no block job."""
        if kind == "create":
            check_args(args, (("job-id", "str", True), ("options", "obj", True)))
        else:
            schema: Schema = (
                ("job-id", "str", True),
                ("node-name", "str", True),
                ("options", "obj", True),
                ("force", "bool", False),
            )
            check_args(args, schema)
        if "driver" not in args["options"]:
            raise QmpFailure("Parameter 'driver' is missing")
        job = Job(args["job-id"], kind, "", auto_dismiss=False)
        self.engine.create(job)
        self.engine.start(job)

    def _transaction_of(self, action: str, args: dict[str, Any]) -> None:
        """``blockdev-backup``/``drive-backup`` run as a one-action transaction (QEMU 5.0+)."""
        self._transaction({"actions": [{"type": action, "data": args}]})

    def _transaction(self, args: dict[str, Any]) -> None:
        """``qmp_transaction``: drain all, prepare every action, start the jobs, end the drain."""
        check_args(args, (("actions", "list", True), ("properties", "obj", False)))
        properties = args.get("properties", {})
        check_args(properties, (("completion-mode", "str", False),))
        _enum(properties, "completion-mode", ("individual", "grouped"))
        actions: list[tuple[str, dict[str, Any]]] = []
        for action in args["actions"]:
            if not isinstance(action, dict):
                raise QmpFailure("Invalid parameter type for 'actions[0]', expected: object")
            check_args(action, (("type", "str", True), ("data", "obj", True)))
            _enum(action, "type", _ACTIONS)
            kind, data = action["type"], action["data"]
            if kind in ("blockdev-backup", "drive-backup"):
                check_args(data, _BACKUP if kind == "blockdev-backup" else _DRIVE_BACKUP)
                _enum(data, "sync", _SYNC)
                _enum(data, "on-source-error", _ON_ERROR)
                _enum(data, "on-target-error", _ON_ERROR)
            elif kind != "abort":
                raise QmpFailure(f"the simulator does not implement transaction action '{kind}'")
            actions.append((kind, data))
        grouped = properties.get("completion-mode") == "grouped"
        if grouped:
            for kind, _ in actions:
                if kind not in ("blockdev-backup", "drive-backup"):
                    word = "transaction" if self.release >= (8, 1) else "Transaction"
                    raise QmpFailure(
                        f"Action '{kind}' does not support {word} property "
                        "completion-mode = grouped"
                    )
        engine = self.engine
        txn = Txn() if grouped else None
        engine.drain_all()
        prepared: list[Job] = []
        try:
            for kind, data in actions:
                if kind == "abort":
                    raise QmpFailure("Transaction aborted using Abort action")
                job = self._new_block_job("backup", data, "on-target-error", ready_phase=False)
                engine.check_node(job.device)
                engine.create(job, txn)
                job.pause_count += 1  # created inside the drained section of its node
                prepared.append(job)
        except QmpFailure:
            for job in reversed(prepared):
                if engine.jobs.get(job.id) is job:
                    engine.abort_created(job)
            raise
        for job in prepared:
            engine.start(job)
        for job in prepared:
            if engine.jobs.get(job.id) is job:
                engine.resume(job)

    def _hmp(self, args: dict[str, Any]) -> str:
        check_args(args, (("command-line", "str", True), ("cpu-index", "int", False)))
        words = args["command-line"].split()
        if not words:
            return ""
        if words[0] == "qemu-io":
            self.engine.drain_all()
            self.engine.drain_all()
            return ""
        return f"unknown command: '{words[0]}'\r\n"
