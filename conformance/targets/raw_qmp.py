"""What a raw ``qmp`` step of a trace may send to a live QEMU.

A trace's raw steps (``{"op": "qmp", "execute": NAME, "arguments": {...}}``)
are sent as written, so a trace from someone else could ask QEMU to write any
file the user can write (``blockdev-create`` of a file node), read any file,
open network connections (``nbd``, ``ssh``, ``http`` drivers), or run a command
(``migrate`` to ``exec:``).  :func:`check_raw_command` therefore limits them
to what jobcheck's own driver sends:

* the commands in :data:`COMMANDS` (queries, block-node set-up, job starts,
  ``job-*`` and ``block-job-*`` verbs, ``transaction`` of ``blockdev-backup``
  and ``abort`` actions, ``quit``);
* block drivers in :data:`DRIVERS` only, wherever a ``driver`` appears;
* file names (``filename``, ``config``, ``backing-file``) inside the target's
  private directory: a relative name is taken relative to it, an absolute
  one must lie in it, or in the private directory the trace was recorded in
  (``…/jobcheck-qemu-…/NAME``, which becomes the same NAME in this one);
  anything else, ``..`` included, is refused.

The live target applies it to every raw step, and ``jobcheck replay`` also
asks for ``--allow-raw-qmp`` before it sends any (the simulator runs none of
this outside its own process, so it needs neither).
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.trace.records import shown
from jobcheck.model.lifecycle import Verb

_VERBS = [v.value for v in Verb]

#: The QMP commands a raw step may send (those jobcheck's own driver sends).
COMMANDS: frozenset[str] = frozenset(
    {
        *("query-jobs", "query-block-jobs", "query-version", "query-named-block-nodes"),
        *("blockdev-add", "blockdev-del", "blockdev-create", "blockdev-reopen"),
        *("x-blockdev-reopen", "x-blockdev-amend", "blockdev-amend"),
        *("blockdev-mirror", "blockdev-backup", "block-commit", "block-stream"),
        "transaction",
        "quit",
        *(f"job-{v}" for v in _VERBS if v not in ("set-speed", "change")),
        *(f"block-job-{v}" for v in _VERBS),
    }
)

#: The block drivers a raw step may name.
DRIVERS: frozenset[str] = frozenset({"null-co", "null-aio", "raw", "qcow2", "file", "blkdebug"})

#: The ``transaction`` actions a raw step may hold.
ACTIONS: frozenset[str] = frozenset({"blockdev-backup", "abort"})

#: Argument names whose string values are file names.
PATH_KEYS: frozenset[str] = frozenset({"filename", "config", "backing-file"})

_RECORDED_WORKDIR = re.compile(r"/(?:[^/]+/)*jobcheck-qemu-[^/]+/(?P<name>[^/]+)")


def _confined(path: str, workdir: str) -> str:
    recorded = _RECORDED_WORKDIR.fullmatch(path)
    if recorded:
        path = recorded.group("name")
    if path.startswith(workdir + os.sep):
        path = path[len(workdir) + 1 :]
    if not path or os.path.isabs(path) or "\x00" in path:
        raise UsageError(
            f"raw QMP step: file name {shown(path)} is outside jobcheck's private directory"
        )
    parts = posixpath.normpath(path).split("/")
    if ".." in parts or parts == ["."]:
        raise UsageError(f"raw QMP step: file name {shown(path)} leaves the private directory")
    return os.path.join(workdir, *parts)


def _checked(value: Any, workdir: str, key: str | None = None) -> Any:
    if isinstance(value, dict):
        driver = value.get("driver")
        if driver is not None and driver not in DRIVERS:
            allowed = ", ".join(sorted(DRIVERS))
            raise UsageError(
                f"raw QMP step: block driver {shown(driver)} is not one jobcheck uses ({allowed})"
            )
        if key == "actions" and value.get("type") not in ACTIONS:
            raise UsageError(
                f"raw QMP step: transaction action {shown(value.get('type'))} is not one"
                f" jobcheck uses ({', '.join(sorted(ACTIONS))})"
            )
        return {k: _checked(v, workdir, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_checked(v, workdir, key) for v in value]
    if isinstance(value, str) and key in PATH_KEYS:
        return _confined(value, workdir)
    return value


def check_raw_command(
    command: str, arguments: dict[str, Any] | None, workdir: str
) -> dict[str, Any] | None:
    """The arguments to send for a raw step, file names moved into ``workdir``; or a
    :class:`UsageError` saying what the step may not do.

    >>> check_raw_command("blockdev-add", {"driver": "file", "filename": "a.img",
    ...                                    "node-name": "n"}, "/tmp/w")["filename"]
    '/tmp/w/a.img'
    >>> try:
    ...     check_raw_command("blockdev-create", {"job-id": "c", "options": {
    ...         "driver": "file", "filename": "/etc/x", "size": 0}}, "/tmp/w")
    ... except UsageError as exc:
    ...     print(exc)
    raw QMP step: file name '/etc/x' is outside jobcheck's private directory
    """
    if command not in COMMANDS:
        raise UsageError(
            f"raw QMP step: {shown(command)} is not a command jobcheck sends; a replay sends"
            " only queries, block-node set-up, job starts and job verbs"
        )
    if arguments is None:
        return None
    checked: dict[str, Any] = _checked(arguments, workdir)
    return checked
