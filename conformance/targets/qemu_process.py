"""Launching a QEMU process for the live target, and telling how it ended.

:class:`QemuProcess` starts ``qemu-storage-daemon`` or a ``qemu-system-*`` binary
with its QMP monitor on one end of a connected pair of unix sockets
(:func:`socket.socketpair`), handed over as a file descriptor; jobcheck keeps
the other end (:attr:`QemuProcess.connection`) and speaks QMP on it at once.
There is no socket file (so no path length limit, whatever the temporary
directory), nothing another process could connect to, no polling and no race
with the monitor's set-up (QEMU 7.2 can send its greeting twice to a client
that connects to a listening socket while the monitor is being set up); no TCP
listener is ever opened.  700 launches of 7.2's and 10.0.2's
``qemu-storage-daemon`` and 7.2's ``qemu-system-x86_64`` this way all answered
``query-version`` (2026-12-01, under load).

* ``qemu-storage-daemon --chardev socket,id=m,fd=N --monitor chardev=m``
* ``qemu-system-* -M none -nodefaults -no-user-config -display none -accel tcg
  -chardev socket,id=m,fd=N -mon chardev=m,mode=control`` (no guest, no KVM).

The process gets its own session (so a Ctrl-C in the terminal reaches
jobcheck, which then shuts QEMU down in order) and its own stderr file in
the directory, whose tail goes into every error message about it.  It is
started through ``setpriv --pdeathsig KILL`` where util-linux provides it: the
kernel then kills QEMU when the thread that forked it ends, which covers a
jobcheck killed with SIGKILL (the live target forks from its session's launcher thread,
which lives exactly as long as the target).

:class:`QemuCrashed` is the error for a QEMU that aborted (SIGABRT, a failed
assertion, another fatal signal): a finding (rule ``qemu.no-abort``), not
just a broken target.

The private directory is named for the jobcheck process that owns it
(``jobcheck-qemu-<pid>-XXXXXXXX``, :func:`make_workdir`).  A jobcheck killed
outright (SIGKILL) cannot remove it; the next one that makes a directory
removes every such directory of the same user whose owner is no longer
running (:func:`sweep_leftovers`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jobcheck.conformance.errors import TargetCrashed, UsageError

#: Signals that mean QEMU crashed rather than was stopped.
CRASH_SIGNALS: frozenset[int] = frozenset(
    {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP}
)
_CRASH_TEXTS = ("Assertion", "assertion failed", "core dumped")


class QemuCrashed(TargetCrashed):
    """QEMU aborted or died of a fatal signal: the finding of rule ``qemu.no-abort``.

    ``returncode`` is the process's exit status (negative: killed by that
    signal, as in :mod:`subprocess`), ``signal`` the signal number if any,
    ``stderr_tail`` the last lines QEMU wrote, ``command`` the QMP command
    that was in flight or last sent.
    """

    def __init__(
        self, message: str, returncode: int | None, stderr_tail: str, command: str
    ) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.signal = -returncode if returncode is not None and returncode < 0 else None
        self.stderr_tail = stderr_tail
        self.command = command

    @property
    def outcome(self) -> str:
        """``killed by SIGABRT: ../job.c:216: job_state_transition_locked: Assertion …``: the
        signal and QEMU's failed assertion (or last line on stderr), without pid or path."""
        if self.signal is not None:
            try:
                how = f"killed by {signal.Signals(self.signal).name}"
            except ValueError:
                how = f"killed by signal {self.signal}"
        else:
            how = f"exited with status {self.returncode}"
        lines = [line.strip() for line in self.stderr_tail.split(" | ") if line.strip()]
        # QEMU's assert() and g_assert() words; anything else on stderr (warnings) is not
        # why it died.
        said = next(
            (line for line in reversed(lines) if "ssertion" in line or "ERROR:" in line), None
        )
        if said:
            # "qemu-storage-daemon: ../job.c:216: ..." -> "../job.c:216: ..."
            said = re.sub(r"^[\w./-]*qemu[\w.-]*: ", "", said)
        return f"{how}: {said}" if said else how


WORKDIR_PREFIX = "jobcheck-qemu-"
_OWNED = re.compile(re.escape(WORKDIR_PREFIX) + r"([0-9]+)-[A-Za-z0-9_]+")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: running
    return True


def sweep_leftovers(directory: str | None = None) -> list[str]:
    """Remove the private directories of jobcheck processes that are no longer running.

    Only directories named by :func:`make_workdir` count, only those of this
    user, and only when their owner's pid is not running (a pid that was reused
    since keeps its directory: nothing is ever removed from under a live
    process).  Returns the paths removed.
    """
    base = directory or tempfile.gettempdir()
    removed = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return []
    for entry in entries:
        match = _OWNED.fullmatch(entry.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_dir(follow_symlinks=False) or info.st_uid != os.getuid():
            continue
        if not _running(int(match.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


def make_workdir() -> str:
    """A new private directory (mode 0700) for one target, named for this process.

    Sweeps the leftovers of dead jobcheck processes first (:func:`sweep_leftovers`).
    """
    sweep_leftovers()
    return tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-")


@dataclass(frozen=True)
class Binary:
    """A QEMU binary and which of the two launch recipes it takes."""

    path: str
    storage_daemon: bool

    @property
    def name(self) -> str:
        return Path(self.path).name


def resolve_binary(binary: str | None) -> str:
    """The path of ``binary`` (default: ``qemu-storage-daemon`` on ``PATH``), or a
    :class:`UsageError` that says what is wrong with it: not found, a directory,
    not executable."""
    wanted = binary or "qemu-storage-daemon"
    if os.sep not in wanted:
        path = shutil.which(wanted)
        if path is None:
            raise UsageError(
                f"QEMU binary {wanted!r} not found on PATH; install Debian's qemu-system-x86"
                " (it ships qemu-storage-daemon) or pass --qemu PATH"
            )
        return path
    if os.path.isdir(wanted):
        inside = [
            p
            for p in ("qemu-storage-daemon", "storage-daemon/qemu-storage-daemon")
            if os.path.isfile(os.path.join(wanted, p))
        ]
        hint = f"; did you mean {os.path.join(wanted, inside[0])}?" if inside else ""
        raise UsageError(f"QEMU binary {wanted} is a directory, not a program{hint}")
    if not os.path.exists(wanted):
        raise UsageError(f"QEMU binary {wanted}: no such file")
    if not os.path.isfile(wanted):
        raise UsageError(f"QEMU binary {wanted} is not a regular file")
    if not os.access(wanted, os.X_OK):
        raise UsageError(f"QEMU binary {wanted} is not executable")
    return wanted


def find_binary(binary: str | None) -> Binary:
    """Resolve ``binary`` (see :func:`resolve_binary`) and the launch recipe it takes."""
    path = resolve_binary(binary)
    return Binary(path, "storage-daemon" in Path(path).name)


def command_line(binary: Binary, fd: int) -> list[str]:
    """The argv that starts ``binary`` with its QMP monitor on the socket ``fd``.

    When util-linux's ``setpriv`` is there, it execs QEMU with a parent-death
    signal (SIGKILL), so that QEMU dies with the thread that launched it even
    if jobcheck itself is killed outright (no finalizer runs then).
    """
    chardev = f"socket,id=m,fd={fd}"
    setpriv = shutil.which("setpriv")
    guard = [setpriv, "--pdeathsig", "KILL"] if setpriv else []
    if binary.storage_daemon:
        return [*guard, binary.path, "--chardev", chardev, "--monitor", "chardev=m"]
    return [
        *guard,
        binary.path,
        *("-M", "none", "-nodefaults", "-no-user-config", "-display", "none"),
        *("-accel", "tcg", "-chardev", chardev, "-mon", "chardev=m,mode=control"),
    ]


class QemuProcess:
    """A QEMU that jobcheck launched: its QMP connection, stderr and exit status."""

    def __init__(self, binary: Binary, workdir: str) -> None:
        self.binary = binary
        self.stderr_path = os.path.join(workdir, "qemu.stderr")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            fd = theirs.fileno()
            with open(self.stderr_path, "wb") as stderr:
                try:
                    self._popen = subprocess.Popen(
                        command_line(binary, fd),
                        pass_fds=(fd,),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=stderr,
                        start_new_session=True,
                    )
                except OSError as exc:
                    ours.close()
                    raise UsageError(f"cannot run {binary.path}: {exc.strerror or exc}") from None
        finally:
            theirs.close()
        self.connection = ours
        """jobcheck's end of the QMP connection (the QMP session takes it over)."""

    @property
    def pid(self) -> int:
        return self._popen.pid

    def poll(self) -> int | None:
        return self._popen.poll()

    def wait(self, timeout: float) -> int | None:
        """The exit status, waiting up to ``timeout`` seconds; ``None`` if still running."""
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self, grace: float = 1.0) -> None:
        """End the process: SIGTERM, ``grace`` seconds, then SIGKILL; reap it.

        A process that is already exiting (after ``quit``) gets ``grace``
        seconds to finish before the first signal; with ``grace`` 0 (QEMU does
        not answer, or the user pressed Ctrl-C) SIGKILL goes at once.
        """
        if self.wait(grace) is not None:
            return
        signals = [(signal.SIGTERM, grace)] if grace > 0 else []
        for sig, wait in [*signals, (signal.SIGKILL, 10.0)]:
            with contextlib.suppress(ProcessLookupError):
                self._popen.send_signal(sig)
            if self.wait(wait) is not None:
                return

    def stderr_tail(self, lines: int = 3, limit: int = 400) -> str:
        """The last lines of QEMU's stderr, joined with `` | `` (one line, bounded)."""
        try:
            with open(self.stderr_path, "rb") as stream:
                stream.seek(0, os.SEEK_END)
                size = stream.tell()
                stream.seek(max(0, size - 8192))
                text = stream.read().decode("utf-8", "replace")
        except OSError:
            return ""
        kept = [
            line.strip()
            for line in text.splitlines()
            if line.strip() and "QEMU waiting for connection" not in line
        ]
        tail = " | ".join(kept[-lines:])
        return tail if len(tail) <= limit else "…" + tail[-limit:]

    def stopped(self) -> bool:
        """Whether the process is stopped (``T``: SIGSTOP and friends, or ``t``: a debugger),
        as Linux's ``/proc/PID/stat`` tells; ``False`` where that cannot be read."""
        try:
            with open(f"/proc/{self.pid}/stat", encoding="ascii", errors="replace") as stream:
                stat = stream.read()
        except OSError:
            return False
        # "PID (COMM) STATE ...": COMM may hold spaces and parentheses, STATE follows the last ")".
        fields = stat[stat.rfind(")") + 1 :].split()
        return bool(fields) and fields[0] in ("T", "t")

    def crashed(self) -> bool:
        """Whether the process has ended with a crash (fatal signal or failed assertion)."""
        code = self._popen.poll()
        if code is None:
            return False
        if code < 0 and -code in CRASH_SIGNALS:
            return True
        tail = self.stderr_tail(lines=20, limit=10_000)
        return code != 0 and any(text in tail for text in _CRASH_TEXTS)

    def ending(self) -> str:
        """How the process ended, in words: ``exited with status 1``, ``killed by SIGABRT``."""
        code = self._popen.poll()
        if code is None:
            return "is still running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"was killed by {name}"
        return f"exited with status {code}"
