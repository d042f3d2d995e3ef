"""What a QMP command means for the jobs it touches: start, verb, query, or unknown effect.

The oracle (:mod:`jobcheck.conformance.oracle`) reads commands only through
:func:`classify`:

* **start** commands create jobs: blockdev-mirror, drive-mirror,
  blockdev-backup, drive-backup, block-commit, block-stream, blockdev-create,
  x-blockdev-amend, snapshot-save/-load/-delete, and the backup actions of a
  ``transaction``.  The job id is ``job-id``; a block job without one takes
  its ``device``.  The flags come from the arguments (QEMU's defaults when
  absent: auto-finalize and auto-dismiss true; create, amend and snapshot jobs
  are always auto-dismiss false).
* **verb** commands (``job-*``, ``block-job-*``) address one job by ``id``
  or ``device``.
* **query** is ``query-jobs``.
* **benign** commands cannot change a job's lifecycle beyond the silent steps
  it takes anyway (queries, node set-up, drains such as ``blockdev-reopen`` or
  HMP ``qemu-io``).
* every other command is **wild**: it may cancel, finalize or dismiss any job
  (``quit`` cancels every job; HMP may run anything), so the oracle stops
  assuming which verbs a live job has received.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from jobcheck.model.lifecycle import BLOCK_JOB_TYPES, JobType, Verb
from jobcheck.model.semantics import VERB_COMMANDS, Family

#: Commands that start one job, and the type of that job.
START_COMMANDS: dict[str, JobType] = {
    "blockdev-mirror": JobType.MIRROR,
    "drive-mirror": JobType.MIRROR,
    "blockdev-backup": JobType.BACKUP,
    "drive-backup": JobType.BACKUP,
    "block-commit": JobType.COMMIT,
    "block-stream": JobType.STREAM,
    "blockdev-create": JobType.CREATE,
    "x-blockdev-amend": JobType.AMEND,
    "snapshot-save": JobType.SNAPSHOT_SAVE,
    "snapshot-load": JobType.SNAPSHOT_LOAD,
    "snapshot-delete": JobType.SNAPSHOT_DELETE,
}

#: Commands that leave every job's lifecycle to its silent steps.
BENIGN_COMMANDS: frozenset[str] = frozenset(
    {
        "qmp_capabilities",
        "blockdev-add",
        "blockdev-reopen",
        "x-blockdev-reopen",
        "object-add",
        "object-del",
        "qom-set",
        "qom-get",
        "stop",
        "cont",
        "nbd-server-start",
        "nbd-server-add",
        "block-export-add",
        "block-dirty-bitmap-add",
        "block-dirty-bitmap-remove",
        "block-dirty-bitmap-clear",
        "change-backing-file",
        "blockdev-snapshot-sync",
        "blockdev-snapshot",
        "block_set_io_throttle",
        # Removing or ejecting a node that a job uses fails; other nodes do not matter.
        "blockdev-del",
        "eject",
        "blockdev-open-tray",
        "blockdev-close-tray",
        "blockdev-remove-medium",
        "blockdev-insert-medium",
        "block-export-del",
        "nbd-server-stop",
        "system_reset",
    }
)

Kind = Literal["start", "verb", "query", "benign", "wild"]


@dataclass(frozen=True, slots=True)
class StartInfo:
    """One job a start command creates, with what its arguments say about it."""

    id: str
    type: JobType
    ready_phase: bool | None
    """Mirror: yes; active commit (no ``top``/``top-node``): yes; a commit with a ``top``
    (which may or may not be the active layer): unknown; every other type: no."""
    auto_finalize: bool
    auto_dismiss: bool
    grouped: bool = False
    partners: tuple[str, ...] = ()
    """The other jobs of the same grouped transaction."""
    released: bool = True
    """The job starts without a speed limit (no ``speed``, or 0; jobs without a speed)."""


@dataclass(frozen=True, slots=True)
class VerbCall:
    """A verb command: which verb, in which family, to which job, with which arguments."""

    verb: Verb
    family: Family
    job_id: str | None
    force: bool | None = None
    speed: int | None = None
    copy_mode: str | None = None


@dataclass(frozen=True, slots=True)
class CommandMeaning:
    """What :func:`classify` found a command to be."""

    kind: Kind
    starts: tuple[StartInfo, ...] = ()
    verb: VerbCall | None = None


def _flag(args: dict[str, Any], name: str, default: bool) -> bool:
    value = args.get(name)
    return value if isinstance(value, bool) else default


def start_info(command: str, args: dict[str, Any]) -> StartInfo | None:
    """The job a start command creates (``None``: not a start command, or no usable id)."""
    job_type = START_COMMANDS.get(command)
    if job_type is None:
        return None
    block = job_type in BLOCK_JOB_TYPES
    job_id = args.get("job-id")
    if job_id is None and block:
        job_id = args.get("device")
    if not isinstance(job_id, str):
        return None
    ready: bool | None
    if job_type is JobType.MIRROR:
        ready = True
    elif job_type is JobType.COMMIT:
        ready = None if ("top" in args or "top-node" in args) else True
    else:
        ready = False
    if block:
        finalize = _flag(args, "auto-finalize", True)
        dismiss = _flag(args, "auto-dismiss", True)
    else:
        finalize, dismiss = True, False
    speed = args.get("speed") if block else None
    released = not (isinstance(speed, int) and not isinstance(speed, bool) and speed > 0)
    return StartInfo(job_id, job_type, ready, finalize, dismiss, released=released)


def transaction_starts(args: dict[str, Any]) -> tuple[StartInfo, ...]:
    """The jobs a ``transaction`` starts (its backup actions), grouped or not."""
    actions = args.get("actions")
    if not isinstance(actions, list):
        return ()
    props = args.get("properties")
    grouped = isinstance(props, dict) and props.get("completion-mode") == "grouped"
    found: list[StartInfo] = []
    for action in actions:
        if not isinstance(action, dict):
            continue
        data = action.get("data")
        kind = action.get("type")
        if isinstance(kind, str) and isinstance(data, dict):
            info = start_info(kind, data)
            if info is not None:
                found.append(info)
    if not grouped or len(found) < 2:
        return tuple(found)
    ids = tuple(info.id for info in found)
    return tuple(
        StartInfo(
            info.id,
            info.type,
            info.ready_phase,
            info.auto_finalize,
            info.auto_dismiss,
            True,
            tuple(i for i in ids if i != info.id),
            info.released,
        )
        for info in found
    )


def verb_call(command: str, args: dict[str, Any]) -> VerbCall | None:
    """The verb a ``job-*``/``block-job-*`` command applies (``None``: not a verb command)."""
    found = VERB_COMMANDS.get(command)
    if found is None:
        return None
    verb, family = found
    job_id = args.get("id", args.get("device"))
    force = args.get("force")
    speed = args.get("speed")
    mode = args.get("copy-mode")
    return VerbCall(
        verb,
        family,
        job_id if isinstance(job_id, str) else None,
        force if isinstance(force, bool) else None,
        speed if isinstance(speed, int) and not isinstance(speed, bool) else None,
        mode if isinstance(mode, str) else None,
    )


def classify(command: str, args: dict[str, Any]) -> CommandMeaning:
    """What ``command`` with ``args`` means for the jobs (see the module docstring)."""
    call = verb_call(command, args)
    if call is not None:
        return CommandMeaning("verb", verb=call)
    if command == "query-jobs":
        return CommandMeaning("query")
    if command == "transaction":
        return CommandMeaning("start", transaction_starts(args))
    if command in START_COMMANDS:
        info = start_info(command, args)
        return CommandMeaning("start", (info,) if info is not None else ())
    if command.startswith("query-") or command in BENIGN_COMMANDS:
        return CommandMeaning("benign")
    if command == "human-monitor-command":
        line = args.get("command-line")
        if isinstance(line, str) and line.lstrip().startswith("qemu-io "):
            return CommandMeaning("benign")
    return CommandMeaning("wild")
