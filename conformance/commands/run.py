"""``jobcheck run``: a conformance campaign against the simulator or a live QEMU.

The campaign is the planned coverage tour followed by Hypothesis exploration
(:mod:`jobcheck.conformance.machine`).  On a terminal it shows progress
(examples run, coverage, divergences so far); otherwise it prints a plain
summary.  Exit codes: 0 conforms (or only known/baselined divergences), 1 new
divergences, 2 usage or environment error, 3 the target failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.targets.select import choose_target

HELP = "run a conformance campaign (planned tour + Hypothesis exploration) against a target"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_argument_group("target")
    target.add_argument(
        "--target",
        choices=["sim", "qemu"],
        help="sim (built-in simulator) or qemu (live); default: qemu if a binary is found",
    )
    target.add_argument(
        "--qemu", metavar="BIN", help="QEMU binary to launch (qemu-storage-daemon or qemu-system-*)"
    )
    target.add_argument(
        "--connect", metavar="SOCK", help="attach to a running QEMU's QMP unix socket"
    )
    target.add_argument(
        "--model", metavar="V", help="model version (default: the target's version)"
    )
    target.add_argument(
        "--sim-mutant", metavar="NAME", help="break the simulator on purpose (see --list-mutants)"
    )
    target.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds per command and awaited event (default 10)",
    )
    camp = parser.add_argument_group("campaign")
    camp.add_argument("--seed", type=int, default=0, help="seed of the exploration (default 0)")
    camp.add_argument(
        "--profile",
        choices=["ci", "thorough"],
        default="ci",
        help="ci (fast) or thorough (default ci)",
    )
    camp.add_argument(
        "--examples", type=int, metavar="N", help="Hypothesis examples (overrides the profile)"
    )
    camp.add_argument(
        "--steps", type=int, metavar="N", help="steps per example (overrides the profile)"
    )
    camp.add_argument("--no-tour", action="store_true", help="skip the planned coverage tour")
    camp.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="N independent campaigns in parallel, merged",
    )
    camp.add_argument("--strict", action="store_true", help="known divergences fail the run too")
    out = parser.add_argument_group("output")
    out.add_argument("--json", metavar="FILE", help="write the result as JSON to FILE")
    out.add_argument(
        "--out", metavar="DIR", help="write the reports to DIR (default reports/<run name>/)"
    )
    out.add_argument("--no-report", action="store_true", help="write no report directory")
    out.add_argument(
        "--baseline", metavar="FILE", help="known divergences that do not fail the run"
    )
    out.add_argument(
        "--update-baseline",
        action="store_true",
        help="write the current findings to --baseline FILE",
    )
    parser.add_argument(
        "--list-mutants", action="store_true", help="list the simulator's mutants and exit"
    )


def run(args: argparse.Namespace) -> int:
    if args.list_mutants:
        from jobcheck.conformance.targets.sim_mutants import MUTANTS

        width = max(len(name) for name in MUTANTS)
        for name, mutant in sorted(MUTANTS.items()):
            print(f"{name:<{width}}  {mutant.description}  [{mutant.rule}]")
        return 0
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.update_baseline and not args.baseline:
        raise UsageError("--update-baseline needs --baseline FILE")
    choice = choose_target(
        args.target,
        qemu=args.qemu,
        connect=args.connect,
        model=args.model,
        mutant=args.sim_mutant,
        timeout=args.timeout,
    )
    if args.connect and args.jobs > 1:
        raise UsageError("--jobs N needs launched QEMUs; it cannot share one --connect socket")
    print(f"jobcheck run: target: {choice.describe()}", file=sys.stderr)
    from jobcheck.conformance.campaign import execute

    return execute(choice, args, out_dir=Path(args.out) if args.out else None)
