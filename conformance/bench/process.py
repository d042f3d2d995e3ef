"""Running a command as a child process and measuring its wall time and peak memory.

:func:`run_measured` runs ``argv`` and returns its exit code, wall-clock
seconds and peak resident set size.

Why a go-between: on Linux a process's peak RSS (``ru_maxrss``) survives
``exec``, and a child made by ``fork`` or ``vfork`` starts with its parent's
resident size (with ``vfork``, its parent's *peak*).  A command started
straight from the benchmark, whose own RSS is large after the campaigns it ran,
would report the benchmark's peak instead of its own.  So the command is
started from a small go-between (``python -m jobcheck.conformance.bench.process
REPORT -- ARGV…``, a fresh interpreter with nothing loaded but the standard
library), which times it, waits for it with :func:`os.wait4` and writes its
exit code, seconds, CPU time and peak RSS to ``REPORT`` as JSON.  The floor of the
figure is the go-between's own size, about 10 MB.  The peak RSS that
``wait4`` reports is the largest of the command and of the descendants it
waited for itself (e.g. a QEMU it launched and reaped), never their sum.

On timeout the process group gets SIGINT (so that jobcheck cleans up, as on
Ctrl-C), then SIGKILL after a grace period.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from jobcheck.conformance.errors import UsageError

GRACE = 10.0
"""Seconds between SIGINT and SIGKILL when a command overruns its timeout."""


@dataclass(frozen=True)
class ProcessRun:
    """What one measured child process did."""

    argv: tuple[str, ...]
    exit_code: int
    """The exit status, or minus the signal number that ended it."""
    seconds: float
    peak_rss: int
    """Bytes (0 when the command could not be measured, e.g. killed on timeout)."""
    cpu_seconds: float
    """User plus system CPU time of the command and the descendants it waited for."""
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


def _stop_on_timeout(
    process: subprocess.Popen[bytes], timeout: float, fired: threading.Event, done: threading.Event
) -> None:
    if done.wait(timeout):
        return
    fired.set()
    for sig, grace in ((signal.SIGINT, GRACE), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        if done.wait(grace):
            return


def run_measured(
    argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None
) -> ProcessRun:
    """Run ``argv`` to the end (stopped after ``timeout`` seconds) and measure it."""
    with (
        tempfile.TemporaryDirectory(prefix="jobcheck-bench-") as workdir,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        report = os.path.join(workdir, "usage.json")
        wrapper = [sys.executable, "-m", "jobcheck.conformance.bench.process", report, "--"]
        started = time.perf_counter()
        process = subprocess.Popen(
            [*wrapper, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
        )
        fired, done = threading.Event(), threading.Event()
        watchdog = threading.Thread(
            target=_stop_on_timeout, args=(process, timeout, fired, done), daemon=True
        )
        watchdog.start()
        try:
            wrapper_code = process.wait()
        finally:
            done.set()
            watchdog.join()
        elapsed = time.perf_counter() - started
        try:
            with open(report, encoding="utf-8") as stream:
                usage = json.load(stream)
        except (OSError, ValueError):
            usage = {"exit_code": wrapper_code, "seconds": elapsed, "peak_rss": 0, "cpu": 0.0}
        if "error" in usage:
            raise UsageError(f"cannot run {argv[0]}: {usage['error']}")
        return ProcessRun(
            argv=tuple(argv),
            exit_code=int(usage["exit_code"]),
            seconds=float(usage["seconds"]),
            peak_rss=int(usage["peak_rss"]),
            cpu_seconds=float(usage["cpu"]),
            stdout=_tail(out),
            stderr=_tail(err),
            timed_out=fired.is_set(),
        )


def jobcheck_argv(*arguments: str) -> list[str]:
    """The command line that runs ``jobcheck ARGUMENTS`` with this interpreter."""
    return [sys.executable, "-m", "jobcheck.conformance.cli", *arguments]


def _go_between(argv: list[str]) -> int:
    """``REPORT -- COMMAND…``: run COMMAND, write its usage to REPORT, pass its exit code on."""
    if len(argv) < 3 or argv[1] != "--":
        print(
            "usage: python -m jobcheck.conformance.bench.process REPORT -- COMMAND…",
            file=sys.stderr,
        )
        return 2
    report, command = argv[0], argv[2:]
    started = time.perf_counter()
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        with open(report, "w", encoding="utf-8") as stream:
            json.dump({"error": exc.strerror or str(exc)}, stream)
        return 127
    # The process group's SIGINT is for the command; the go-between waits on.
    signal.signal(signal.SIGINT, lambda number, frame: None)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    child.returncode = code
    with open(report, "w", encoding="utf-8") as stream:
        json.dump(
            {
                "exit_code": code,
                "seconds": seconds,
                "peak_rss": usage.ru_maxrss * 1024,
                "cpu": usage.ru_utime + usage.ru_stime,
            },
            stream,
        )
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(_go_between(sys.argv[1:]))
