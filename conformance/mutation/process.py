"""Running a build step or a campaign as a child process group, with a wall-clock limit.

The child gets its own session, so that a limit or an interrupt reaches it and
everything it started (ninja's compilers, jobcheck's QEMU): SIGINT first — a
campaign then cleans up as on Ctrl-C — then SIGKILL after a grace period.  An
exception in the parent (Ctrl-C, SIGTERM turned into an exception) stops the
group the same way before it propagates.  Output goes to a log file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobcheck.conformance.mutation.interrupts import ENDING_SIGNALS, signals_deferred

GRACE = 10.0
"""Seconds between SIGINT and SIGKILL when a child overruns its limit or the run is interrupted."""


@dataclass(frozen=True)
class Finished:
    """How a child process ended."""

    exit_code: int
    """Its exit status, or minus the signal number that ended it."""
    seconds: float
    timed_out: bool
    log: Path


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGKILL, GRACE)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _unblock_signals() -> None:
    """In the child, before exec: undo the mask it inherited from :func:`signals_deferred`."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, ENDING_SIGNALS)


def run_group(
    argv: Sequence[str],
    *,
    log: Path,
    limit: float | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    grace: float = GRACE,
) -> Finished:
    """Run ``argv`` (stdout and stderr to ``log``), stopped after ``limit`` seconds.

    >>> import sys, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     run_group([sys.executable, "-c", "exit(3)"], log=Path(d, "log")).exit_code
    3
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    process: subprocess.Popen[bytes] | None = None
    timed_out = False
    with open(log, "wb") as output:
        try:
            # An interrupt while Popen waits for the exec would leave a child nobody stops:
            # hold the signals back until ``process`` is known (the child unblocks them).
            with signals_deferred():
                process = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=cwd,
                    env=None if env is None else dict(env),
                    start_new_session=True,
                    preexec_fn=_unblock_signals,
                )
            process.wait(limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            assert process is not None
            _stop(process, grace)
        except BaseException:
            if process is not None:
                _stop(process, grace)
            raise
    code = process.returncode
    return Finished(
        exit_code=code if code is not None else -signal.SIGKILL,
        seconds=time.monotonic() - started,
        timed_out=timed_out,
        log=log,
    )


def tail(path: Path, lines: int = 5) -> str:
    """The last non-empty lines of a log, joined with `` | `` ("" when there is none)."""
    try:
        with open(path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            stream.seek(max(0, stream.tell() - 16384))
            text = stream.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])
