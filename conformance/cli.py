"""The ``jobcheck`` command line: a thin dispatcher over the subcommands.

Each subcommand lives in its own module under
:mod:`jobcheck.conformance.commands` with three names: ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int`` (the exit code).  Errors
derived from :class:`~jobcheck.conformance.errors.JobcheckError` become one
line on stderr and their exit code; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._module.run(args))
    except JobcheckError as exc:
        print(f"jobcheck {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"jobcheck {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
