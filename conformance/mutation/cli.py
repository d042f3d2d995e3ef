"""The command line of the mutation harness (``python -m jobcheck.conformance.mutation``).

Exit codes: 0 the run measured every selected mutant (whatever their
verdicts); 1 the pristine build does not pass its campaign, so nothing was
measured; 2 bad arguments, no source, missing build tools, a failed pristine
build or a planted mutant that cannot be taken out; 130 interrupted (the
pristine files are back in place).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from jobcheck.conformance.errors import JobcheckError
from jobcheck.conformance.mutation import harness, source
from jobcheck.conformance.mutation.catalogue import CATALOGUE, CATEGORIES
from jobcheck.conformance.mutation.interrupts import Interrupted

PROG = "python -m jobcheck.conformance.mutation"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not positive: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Plant bugs into QEMU's job code one at a time, rebuild qemu-storage-daemon and "
            "record which ones a jobcheck campaign catches."
        ),
    )
    parser.add_argument(
        "--source", type=Path, metavar="DIR", help="a QEMU source tree (default: Debian's, cached)"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        default=source.default_cache(),
        help="where Debian's source and the build venv are kept (default: %(default)s)",
    )
    parser.add_argument(
        "--build", type=Path, metavar="DIR", help="the build directory (default: TREE/build)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="ninja -j (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed (default: %(default)s)")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="run the campaigns with --strict --baseline FILE (default: "
        "reports/baselines/qemu-MAJOR.MINOR.json of the build's version, when it exists)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="STEM",
        help="write STEM.md and STEM.json (default: reports/mutants/qemu-VERSION)",
    )
    parser.add_argument(
        "--mutant", action="append", default=[], metavar="ID", help="only this mutant (repeatable)"
    )
    parser.add_argument(
        "--limit-factor",
        type=_positive,
        default=3.0,
        help="a mutant's campaign is stopped after this many times the pristine campaign's time "
        "(default: %(default)s)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    return parser


def list_mutants() -> str:
    """The catalogue, one mutant a line, grouped by category."""
    out = []
    for category, meaning in CATEGORIES.items():
        out.append(f"{category}: {meaning}")
        for mutant in CATALOGUE:
            if mutant.category == category:
                out.append(f"  {mutant.id:40} {mutant.file}:{mutant.function} — {mutant.mistake}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    if args.list:
        print(list_mutants())
        return 0
    if args.jobs < 1:
        print(f"{PROG}: error: --jobs must be at least 1", file=sys.stderr)
        return 2
    options = harness.Options(
        source=args.source,
        cache=args.cache,
        build_dir=args.build,
        jobs=args.jobs,
        seed=args.seed,
        baseline=args.baseline,
        out=args.out,
        mutants=args.mutant,
        limit_factor=args.limit_factor,
        command=harness.command_line(arguments),
    )
    if options.out is not None and options.out.suffix in (".md", ".json"):
        options.out = options.out.with_suffix("")
    try:
        return harness.run(options)
    except JobcheckError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, Interrupted):
        print(f"{PROG}: interrupted; the pristine sources are back in place", file=sys.stderr)
        return 130
