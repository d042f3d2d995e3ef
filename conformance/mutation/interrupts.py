"""Signals during a mutation run: every one ends the run through ``finally`` blocks.

Python turns SIGINT into :class:`KeyboardInterrupt`, but SIGTERM and SIGHUP
kill the interpreter outright, skipping the ``finally`` that puts a pristine
QEMU file back.  :func:`signals_raise` makes them raise :class:`Interrupted`
instead, and :func:`signals_deferred` holds all three back (they stay pending
and are delivered when it ends) while a file is being restored, so that a
second Ctrl-C cannot cut a restore short.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: The signals that end a run, and that a restore holds back.
ENDING_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """The run got SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Interrupted` (SIGINT stays as it is)."""
    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back until the block ends (then they are delivered)."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
