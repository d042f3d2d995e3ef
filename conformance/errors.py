"""The errors that end a jobcheck command, each with its exit code.

``jobcheck`` turns every one of these into a single line on stderr and the
exit code below; anything else reaching the top level is a bug in jobcheck.

* 2 — :class:`UsageError`: bad arguments, a missing binary, an unreadable or
  malformed input file, an unwritable output directory.
* 3 — :class:`TargetError`: the target failed (QEMU died, a command got no
  answer within its timeout).
"""

from __future__ import annotations


class JobcheckError(Exception):
    """An error that ends the command with a one-line message and an exit code."""

    exit_code = 2


class UsageError(JobcheckError):
    """Bad arguments or bad input (exit 2)."""

    exit_code = 2


class TargetError(JobcheckError):
    """The target failed: QEMU exited, closed its socket, or did not answer in time (exit 3)."""

    exit_code = 3
