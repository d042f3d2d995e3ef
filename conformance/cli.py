"""The ``jobcheck`` command line: a thin dispatcher over the subcommands.

Each subcommand lives in its own module under
:mod:`jobcheck.conformance.commands` with three names: ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int`` (the exit code).  Errors
derived from :class:`~jobcheck.conformance.errors.JobcheckError` become one
line on stderr and their exit code.

Ctrl-C (SIGINT), SIGTERM and SIGHUP all unwind the command the same way, so
that every QEMU it launched is stopped and every temporary file removed; the
exit code is 128 plus the signal number (130, 143, 129).  A second SIGTERM or
SIGHUP during that clean-up is ignored; SIGKILL leaves a directory that the
next run removes (see :mod:`jobcheck.conformance.targets.qemu_process`).
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from types import FrameType, ModuleType

from jobcheck.conformance.errors import JobcheckError

#: Subcommand name → module under ``jobcheck.conformance.commands``.
SUBCOMMANDS: dict[str, str] = {
    "run": "run",
    "check-trace": "check_trace",
    "replay": "replay",
    "export": "export",
    "model": "model",
    "diagram": "diagram",
    "docs": "docs",
    "rules": "rules",
    "compare": "compare",
    "merge": "merge",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"jobcheck.conformance.commands.{SUBCOMMANDS[name]}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("jobcheck.conformance.commands."):
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jobcheck",
        description="Check QEMU's background-job lifecycle against its documented model.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in SUBCOMMANDS:
        module = _load(name)
        if module is None:
            continue
        child = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(child)
        child.set_defaults(_module=module)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, to unwind it as Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: The signals that unwind a command like Ctrl-C.
UNWIND_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def unwind_on_signals() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP raise :class:`Terminated` (main thread only).

    The first one is also passed on to the worker processes of ``--jobs N``
    (they run the same handler and clean up their own QEMUs); later ones are
    ignored, so that the clean-up is not cut short.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            return
        received.append(signum)
        for child in multiprocessing.active_children():
            if child.pid is not None:
                with suppress(ProcessLookupError):
                    os.kill(child.pid, signum)
        raise Terminated(signum)

    previous = {sig: signal.signal(sig, handler) for sig in UNWIND_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with unwind_on_signals():
            return int(args._module.run(args))
    except JobcheckError as exc:
        print(f"jobcheck {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated as exc:
        name = signal.Signals(exc.signum).name
        print(f"jobcheck {args.command}: terminated by {name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"jobcheck {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
