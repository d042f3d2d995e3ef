"""``jobcheck run``: a conformance campaign against the simulator or a live QEMU.

The campaign is the planned coverage tour followed by Hypothesis exploration
(:mod:`jobcheck.conformance.campaign`), then the reports
(:mod:`jobcheck.conformance.report`).  On a terminal it shows one progress
line, redrawn in place (the tour, then the examples, with percentages, the
time elapsed and left, coverage and divergences so far; with ``--jobs N`` all
campaigns together); otherwise it prints only the plain summary.  Exit codes:
0 conforms (or only known/baselined divergences), 1 new divergences, 2 usage
or environment error, 3 the target failed.

``--bisect`` is the mode for ``git bisect run``: the ``bisect`` profile (the
planned tour, which reaches every reachable cell and transition, then a short
exploration), no report directory unless ``--out`` is given, and the exit
codes git bisect reads: **0** good, **1** bad (a new divergence, or a crash),
**125** skip (the build has no binary, or its QEMU cannot be started — it
exits or aborts at start-up — or stops answering: this commit cannot be
tested), **128** abort (jobcheck's own
arguments are wrong: no commit can be tested).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from jobcheck.conformance.campaign.coverage import coverage_summary, goals
from jobcheck.conformance.campaign.parallel import RunInfo, run_campaigns
from jobcheck.conformance.campaign.progress import TerminalProgress
from jobcheck.conformance.campaign.results import CampaignResult, iter_failure_lines
from jobcheck.conformance.campaign.run import PROFILES
from jobcheck.conformance.commands.options import (
    add_json_option,
    emit_json,
    json_only,
    model_line,
)
from jobcheck.conformance.errors import JobcheckError, TargetCrashed, TargetError, UsageError
from jobcheck.conformance.report import write as report
from jobcheck.conformance.report.baseline import Acceptor, Baseline, load_baseline
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.targets.qemu_build import BuildUnusable
from jobcheck.conformance.targets.qemu_package import debian_package
from jobcheck.conformance.targets.select import TargetChoice, Targets, target_from_options
from jobcheck.conformance.targets.sim_mutants import MUTANTS
from jobcheck.model.lifecycle import Model

HELP = "run a conformance campaign (planned tour + Hypothesis exploration) against a target"
EXAMPLES = """\
  # Debian's QEMU if installed, else the simulator
  jobcheck run --out reports/my-run
  jobcheck run --qemu ~/qemu/build/storage-daemon/qemu-storage-daemon
  # -M none: no guest, no KVM
  jobcheck run --qemu /usr/bin/qemu-system-x86_64
  # a running, idle QEMU; left as it was
  jobcheck run --connect /run/qsd/qmp.sock
  # exit 1: the bug is caught
  jobcheck run --target sim --sim-mutant waiting-skipped
  # a CI gate
  jobcheck run --baseline reports/baselines/qemu-7.2.json --strict
  jobcheck run --profile thorough --jobs 2 --json=run.json
"""


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
        "--qemu-build",
        metavar="DIR",
        help="a QEMU build directory: run its storage-daemon/qemu-storage-daemon",
    )
    target.add_argument(
        "--connect", metavar="SOCK", help="attach to a running, idle QEMU's QMP unix socket"
    )
    target.add_argument(
        "--connect-force",
        action="store_true",
        help="with --connect: attach even if the QEMU runs jobs of its own (jobcheck leaves"
        " them alone, uses ids that cannot collide, and does not check them)",
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
        choices=sorted(PROFILES),
        help="ci (fast), thorough, or bisect (the tour and a short exploration); default ci",
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
    add_json_option(out, "the report document (report.json)")
    out.add_argument(
        "--out", metavar="DIR", help="write the reports to DIR (default reports/<run name>/)"
    )
    out.add_argument("--no-report", action="store_true", help="write no report directory")
    out.add_argument(
        "--mermaid",
        action="store_true",
        help="report.md also carries the lifecycle diagram as a Mermaid block",
    )
    out.add_argument(
        "--baseline", metavar="FILE", help="known divergences that do not fail the run"
    )
    out.add_argument(
        "--update-baseline",
        action="store_true",
        help="write the current findings to --baseline FILE",
    )
    parser.add_argument(
        "--bisect",
        action="store_true",
        help="for git bisect run: exit 0 good, 1 bad, 125 skip (the build cannot run)",
    )
    parser.add_argument(
        "--list-mutants", action="store_true", help="list the simulator's mutants and exit"
    )


#: ``--bisect`` exit codes (``git bisect run``).
BISECT_SKIP = 125
BISECT_ABORT = 128


def run(args: argparse.Namespace) -> int:
    if args.bisect:
        return bisect(args)
    return _run(args)


def bisect(args: argparse.Namespace) -> int:
    """``jobcheck run --bisect``: the campaign, with git bisect's exit codes."""
    if args.profile is None:
        args.profile = "bisect"
    if args.out is None:
        args.no_report = True
    try:
        try:
            target_from_options(args)
        except UsageError as exc:
            if args.qemu and not isinstance(exc, BuildUnusable):
                # --qemu names the binary a build makes: missing, the build failed
                raise BuildUnusable(str(exc)) from None
            raise
        code = _run(args)
    except (BuildUnusable, TargetError) as exc:
        # the binary is missing, QEMU cannot start (even if it aborts at start-up), or it
        # stops answering: nothing tells whether this commit's job code is good or bad
        print(f"jobcheck run: error: {exc}", file=sys.stderr)
        print(f"bisect: skip (exit {BISECT_SKIP}): this build cannot be tested")
        return BISECT_SKIP
    except JobcheckError as exc:
        print(f"jobcheck run: error: {exc}", file=sys.stderr)
        print(f"bisect: abort (exit {BISECT_ABORT}): fix the jobcheck command line")
        return BISECT_ABORT
    if code == 0:
        print("bisect: good (exit 0)")
        return 0
    print("bisect: bad (exit 1)")
    return 1


def _run(args: argparse.Namespace) -> int:
    if args.profile is None:
        args.profile = "ci"
    if args.list_mutants:
        width = max(len(name) for name in MUTANTS)
        for name, mutant in sorted(MUTANTS.items()):
            print(f"{name:<{width}}  {mutant.description}  [{mutant.rule}]")
        return 0
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.update_baseline and not args.baseline:
        raise UsageError("--update-baseline needs --baseline FILE")
    choice = target_from_options(args)
    if args.connect and args.jobs > 1:
        raise UsageError("--jobs N needs launched QEMUs; it cannot share one --connect socket")
    out_dir = Path(args.out) if args.out else None
    if out_dir is not None:
        check_out_dir(out_dir)
    print(f"jobcheck run: target: {choice.describe()}", file=sys.stderr)
    return execute(choice, args, out_dir=out_dir)


def check_out_dir(path: Path) -> None:
    """Refuse, before any campaign runs, a report directory that cannot be written.

    >>> check_out_dir(Path("/dev/null/reports"))
    Traceback (most recent call last):
    ...
    jobcheck.conformance.errors.UsageError: --out /dev/null/reports: /dev/null is not a directory
    """
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out {path}: {existing} is not writable")


def execute(choice: TargetChoice, args: argparse.Namespace, out_dir: Path | None) -> int:
    """Run the campaign(s) for ``jobcheck run``; print, write the reports, return the exit code."""
    # a malformed baseline is a usage error, before any run
    baseline = load_baseline(args.baseline, upgrade=args.update_baseline) if args.baseline else None
    # the target that tells the version is the first campaign's first (see run_campaigns),
    # and its QEMU serves the campaign's other targets
    with choice.targets() as targets:
        try:
            first = targets.make(args.seed)
        except TargetCrashed as exc:
            raise TargetCrashed(f"qemu.no-abort: QEMU crashed as it started: {exc}") from None
        try:
            return _execute(choice, first, baseline, args, out_dir, targets)
        finally:
            first.close()  # idempotent; at the latest here


def _execute(
    choice: TargetChoice,
    first: Target,
    baseline: Baseline | None,
    args: argparse.Namespace,
    out_dir: Path | None,
    targets: Targets,
) -> int:
    qemu_version, model = first.qemu_version, first.model
    chosen = choice
    # said once, in the summary's QEMU line and the reports
    said = choice.model_reason or model_line(chosen.model or qemu_version)[1]
    if choice.model is None:
        choice = replace(choice, model=model.version)
    profile = PROFILES[args.profile]
    examples = args.examples if args.examples is not None else profile["examples"]
    steps = args.steps if args.steps is not None else profile["steps"]
    if examples < 0 or steps < 1:
        raise UsageError("--examples must be ≥ 0 and --steps ≥ 1")
    progress = terminal_progress(model) if sys.stderr.isatty() else None
    result = run_campaigns(
        choice,
        model,
        seed=args.seed,
        profile=args.profile,
        examples=examples,
        steps=steps,
        jobs=args.jobs,
        tour=not args.no_tour,
        accept=Acceptor(baseline, qemu_version, args.strict),
        progress=progress,
        first=first,
        targets=targets,
    )
    if progress is not None:
        progress.close()
    info = RunInfo.of(
        chosen,
        qemu_version=qemu_version,
        model=model.version,
        seed=args.seed,
        profile=args.profile,
        examples=examples,
        steps=steps,
        jobs=args.jobs,
        command=" ".join(["jobcheck", *sys.argv[1:]]) if sys.argv else "jobcheck run",
        package=debian_package(choice.binary),
        model_choice=said,
    )
    return finish(info, result, model, args, out_dir)


def terminal_progress(model: Model) -> TerminalProgress:
    """The progress line on standard error, as wide as the terminal (see
    :mod:`jobcheck.conformance.campaign.progress`)."""

    def write(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    return TerminalProgress(write, goals(model), lambda: shutil.get_terminal_size().columns)


def finish(
    info: RunInfo,
    result: CampaignResult,
    model: Model,
    args: argparse.Namespace,
    out_dir: Path | None,
) -> int:
    """Print the summary, write the outputs, and decide the exit code."""
    summary = coverage_summary(result.coverage, model)
    outcome = report.build(
        info,
        result,
        summary,
        baseline_path=args.baseline,
        strict=args.strict,
        directory=out_dir,
        upgrade=args.update_baseline,
    )
    # with a bare --json the document alone goes to standard output, the words to stderr
    words = sys.stderr if json_only(args) else sys.stdout
    for line in report.summary_lines(outcome):
        print(line, file=words)
    for line in iter_failure_lines(result, info.seed):
        print(line, file=words)
    if not args.no_report:
        directory = out_dir or Path("reports") / outcome.run_name
        report.write_all(outcome, directory, mermaid=args.mermaid)
        print(f"reports: {directory}/", file=words)
    if args.json:
        emit_json(args.json, outcome.document)
    if args.update_baseline:
        report.update_baseline(outcome, Path(args.baseline))
        print(f"baseline updated: {args.baseline}", file=words)
        if outcome.baseline is not None and outcome.baseline.upgraded_from is not None:
            print(
                f"  upgraded from version {outcome.baseline.upgraded_from}: its rule-only entries"
                " are replaced by one entry per outcome this run saw; review them",
                file=words,
            )
    if result.crash:
        return 1
    return outcome.exit_code
