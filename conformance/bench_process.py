"""Running a command as a child process and measuring its wall time and peak memory.

:func:`run_measured` starts ``argv``, waits for it with :func:`os.wait4` (so
the resource usage is that child's alone, not every child the benchmark ever
waited for) and returns its exit code, wall-clock seconds and peak resident
set size.  On Linux the peak RSS that ``wait4`` reports is the largest of the
child and of the descendants it waited for itself (e.g. a QEMU that the
child launched and reaped), never their sum.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from jobcheck.conformance.errors import UsageError


@dataclass(frozen=True)
class ProcessRun:
    """What one measured child process did."""

    argv: tuple[str, ...]
    exit_code: int
    seconds: float
    peak_rss: int
    """Bytes."""
    stdout: str
    """The last few kilobytes of its standard output."""
    stderr: str
    """The last few kilobytes of its standard error."""
    timed_out: bool = False

    def last_line(self) -> str:
        """The last non-empty line of stderr, else of stdout (for one-line messages)."""
        for text in (self.stderr, self.stdout):
            lines = [line for line in text.splitlines() if line.strip()]
            if lines:
                return lines[-1].strip()
        return ""


_TAIL = 4096


def _tail(stream: IO[bytes]) -> str:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - _TAIL))
    return stream.read().decode("utf-8", errors="replace")


def run_measured(
    argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None
) -> ProcessRun:
    """Run ``argv`` to the end (killed after ``timeout`` seconds) and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        try:
            process = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
            )
        except OSError as exc:
            raise UsageError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            process.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        exit_code = os.waitstatus_to_exitcode(status)
        process.returncode = exit_code
        return ProcessRun(
            argv=tuple(argv),
            exit_code=exit_code,
            seconds=seconds,
            peak_rss=usage.ru_maxrss * 1024,
            stdout=_tail(out),
            stderr=_tail(err),
            timed_out=killed.is_set(),
        )


def jobcheck_argv(*arguments: str) -> list[str]:
    """The command line that runs ``jobcheck ARGUMENTS`` with this interpreter."""
    return [sys.executable, "-m", "jobcheck.conformance.cli", *arguments]
