"""The ``jobcheck`` command line: a thin dispatcher over the subcommands.

Each subcommand lives in its own module under
:mod:`jobcheck.conformance.commands` with four names: ``HELP`` (one line),
``EXAMPLES`` (command lines with a comment each, shown under ``--help``),
``add_arguments(parser)`` and ``run(args) -> int`` (the exit code).  Options
every command shares are in :mod:`jobcheck.conformance.commands.options`; a
bare ``--json`` is read as ``--json=-`` (standard output), so that it never
takes the next word as its file.  Errors derived from
:class:`~jobcheck.conformance.errors.JobcheckError` become one line on stderr
and their exit code.

Ctrl-C (SIGINT), SIGTERM and SIGHUP all unwind the command the same way, so
that every QEMU it launched is stopped and every temporary file removed; the
exit code is 128 plus the signal number (130, 143, 129).  A second SIGTERM or
SIGHUP during that clean-up is ignored; SIGKILL leaves a directory that the
next run removes (see :mod:`jobcheck.conformance.targets.qemu_process`).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import multiprocessing
import os
import signal
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from types import FrameType, ModuleType

from jobcheck.conformance.commands.options import JSON_TO_STDOUT, drop_pending, say_pending
from jobcheck.conformance.errors import JobcheckError, keep_swallowed_interrupts

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

    json_file: str | None = None
    """A word that followed a bare ``--json`` (not taken as its file)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if self.json_file is not None and self.json_file in message.split():
            message += f" (to write JSON to a file, write --json={self.json_file})"
        self.exit(2, f"{self.prog}: error: {message}\n")


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"jobcheck.conformance.commands.{SUBCOMMANDS[name]}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("jobcheck.conformance.commands."):
            return None
        raise


EXAMPLES = """\
  # Debian's QEMU if installed, else the simulator
  jobcheck run --out reports/my-run
  jobcheck run --qemu ~/qemu/build/storage-daemon/qemu-storage-daemon
  jobcheck replay reports/my-run/traces/d01-RULE.jsonl
  # a command's options and examples
  jobcheck COMMAND --help
"""


def examples(text: str) -> str:
    """The ``--help`` epilog of a command: its examples."""
    return "examples:\n" + text.rstrip("\n")


def version() -> str:
    """jobcheck's installed version."""
    try:
        return importlib.metadata.version("qemu-jobcheck")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or of ``command`` alone (see :func:`chosen`)."""
    parser = _Parser(
        prog="jobcheck",
        description="Check QEMU's background-job lifecycle against its documented model.",
        epilog=examples(EXAMPLES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"jobcheck {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in SUBCOMMANDS if command is None else [command]:
        module = _load(name)
        if module is None:
            continue
        child = sub.add_parser(
            name,
            help=module.HELP,
            description=textwrap.fill(module.HELP[:1].upper() + module.HELP[1:] + ".", 79),
            epilog=examples(module.EXAMPLES),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
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
    """While the block runs, SIGTERM and SIGHUP raise :class:`Terminated`, and SIGINT
    :class:`KeyboardInterrupt` as it does by default (main thread only).

    The first one is also passed on to the worker processes of a campaign (the tour
    beside the exploration, ``--jobs N``): they run the same handler and clean up their
    own QEMUs.  A SIGINT sent to jobcheck alone (``kill -INT``, a CI runner) reaches them
    so too; Ctrl-C on a terminal reaches them twice, from the terminal and from here.
    Later signals are ignored, so that no clean-up is cut short.  A SIGINT that was
    ignored when jobcheck started (a background job of a shell) stays ignored.
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
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    signals = list(UNWIND_SIGNALS)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signals.append(signal.SIGINT)
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _bare_json(argv: Sequence[str]) -> list[str]:
    """``--json`` alone becomes ``--json=-``: a file is given only as ``--json=FILE``."""
    words = list(argv)
    end = words.index("--") if "--" in words else len(words)
    return [
        f"--json={JSON_TO_STDOUT}" if w == "--json" and i < end else w for i, w in enumerate(words)
    ]


def chosen(words: Sequence[str]) -> str | None:
    """The subcommand that ``words`` run, if their first word names one (only its module
    is then imported: importing all of them, campaign and reports included, took
    ``jobcheck check-trace`` of a two-line trace 0.8 s against 0.3 s).

    >>> chosen(["check-trace", "t.jsonl"]), chosen(["--help"]), chosen(["nosuch"])
    ('check-trace', None, None)
    """
    return words[0] if words and words[0] in SUBCOMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(chosen(words))
    after = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--json"]
    if isinstance(parser, _Parser) and after:
        parser.json_file = after[0]
    args = parser.parse_args(_bare_json(words))
    drop_pending()
    keep_swallowed_interrupts()
    try:
        with unwind_on_signals():
            code = int(args._module.run(args))
        say_pending()
        return code
    except JobcheckError as exc:
        drop_pending()
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
