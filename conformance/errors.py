"""The errors that end a jobcheck command, each with its exit code.

``jobcheck`` turns every one of these into a single line on stderr and the
exit code below; anything else reaching the top level is a bug in jobcheck.

* 2 — :class:`UsageError`: bad arguments, a missing binary, an unreadable or
  malformed input file, an unwritable output directory.
* 3 — :class:`TargetError`: the target failed (QEMU died, a command got no
  answer within its timeout).
* 1 — :class:`TargetCrashed`: the target crashed (QEMU aborted): not a failure
  of the target but a finding, rule ``qemu.no-abort``.
"""

from __future__ import annotations

import sys
from typing import Any

from jobcheck.model.lifecycle import Model, UnknownVersionError, model_choice


class JobcheckError(Exception):
    """An error that ends the command with a one-line message and an exit code."""

    exit_code = 2


class UsageError(JobcheckError):
    """Bad arguments or bad input (exit 2)."""

    exit_code = 2


class TargetError(JobcheckError):
    """The target failed: QEMU exited, closed its socket, or did not answer in time (exit 3)."""

    exit_code = 3


class TargetCrashed(TargetError):
    """The target crashed (an abort, a fatal signal): a finding, rule ``qemu.no-abort`` (exit 1).

    A campaign reports it like a divergence rather than as a target failure.
    """

    exit_code = 1

    @property
    def outcome(self) -> str:
        """The crash in a few stable words (no pid, no path), e.g. ``killed by SIGABRT: …``."""
        return str(self)


def model_for_option(version: str) -> Model:
    """:func:`~jobcheck.model.lifecycle.model_for`, with an unknown version a :class:`UsageError`.

    >>> model_for_option("7.2.22").version
    '7.2'
    >>> try:
    ...     model_for_option("1.0")
    ... except UsageError as exc:
    ...     print(exc)
    unknown QEMU version '1.0'; known models: ...
    """
    return model_choice_option(version)[0]


def model_choice_option(version: str) -> tuple[Model, str]:
    """:func:`~jobcheck.model.lifecycle.model_choice` (the model and why, in one line), with
    an unknown or absurdly long version a :class:`UsageError`.

    >>> model_choice_option("7.2.22")[1]
    'model 7.2: written for QEMU 7.2, and this is QEMU 7.2.22'
    """
    if len(version) > 40:
        raise UsageError(f"unknown QEMU version {version[:20]!r}… (too long for a version)")
    try:
        return model_choice(version)
    except UnknownVersionError as exc:
        raise UsageError(str(exc)) from None


# -- interrupts Python swallowed -------------------------------------------------

_SWALLOWED: list[KeyboardInterrupt] = []
_HOOKED: list[Any] = []


def _unraisable(info: Any) -> None:
    """``sys.unraisablehook``: keep an interrupt that Python could not raise (a signal
    whose handler ran inside a weakref callback, a ``__del__`` or the garbage collector,
    where exceptions are printed and dropped) so that :func:`raise_swallowed` raises it."""
    if isinstance(info.exc_value, KeyboardInterrupt):
        _SWALLOWED.append(info.exc_value)
        return
    _HOOKED[0](info)


def keep_swallowed_interrupts() -> None:
    """From now on, an interrupt Python drops is kept for :func:`raise_swallowed` (once).

    Ctrl-C, SIGTERM and SIGHUP become exceptions raised wherever the program is; if that
    is a weakref callback (``WeakSet`` entries die all the time), Python prints "Exception
    ignored in …" and goes on, and the command would run to its end.
    """
    if sys.unraisablehook is not _unraisable:
        _HOOKED[:] = [sys.unraisablehook]
        sys.unraisablehook = _unraisable


def keep_interrupt(exc: KeyboardInterrupt) -> None:
    """Keep an interrupt that came where it could not be raised (a connection being
    closed), for :func:`raise_swallowed`."""
    _SWALLOWED.append(exc)


def raise_swallowed() -> None:
    """Raise the interrupt Python dropped, if it dropped one (called where jobcheck waits:
    every QMP call and every driver step)."""
    if _SWALLOWED:
        raise _SWALLOWED.pop()
