"""Running a whole ``jobcheck run``: campaigns in parallel, the summary, the reports.

:func:`execute` is what the ``run`` subcommand calls once the options are
checked: it learns the target's QEMU version and model, runs ``--jobs N``
independent campaigns (one target each, in separate processes) with the
examples split between them, merges coverage and findings, applies the
baseline, prints the summary and writes the reports.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jobcheck.conformance.baseline import acceptor, load_baseline
from jobcheck.conformance.coverage import coverage_summary
from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.machine import (
    PROFILES,
    CampaignResult,
    iter_failure_lines,
    run_campaign,
)
from jobcheck.conformance.targets.select import TargetChoice
from jobcheck.model.lifecycle import Model, model_for


@dataclass
class RunInfo:
    """What was run, for the summary and the reports."""

    target: str
    target_kind: str
    qemu_version: str
    model: str
    seed: int
    profile: str
    examples: int
    steps: int
    jobs: int
    mutant: str | None
    command: str


@dataclass(frozen=True)
class _Work:
    choice: TargetChoice
    model: str
    seed: int
    profile: str
    examples: int
    steps: int
    tour: bool
    strict: bool
    progress: bool
    qemu_version: str
    baseline: str | None


def _campaign(work: _Work) -> CampaignResult:
    model = model_for(work.model)
    return run_campaign(
        work.choice.make,
        model,
        seed=work.seed,
        profile=work.profile,
        examples=work.examples,
        steps=work.steps,
        accept=acceptor(
            load_baseline(work.baseline) if work.baseline else None,
            work.qemu_version,
            work.strict,
        ),
        tour=work.tour,
        meta_extra={"target": work.choice.describe()},
        on_progress=_progress_printer(work) if work.progress else None,
    )


def _progress_printer(work: _Work) -> Any:
    started = time.monotonic()

    def show(result: CampaignResult) -> None:
        new = sum(1 for d in result.divergences if not d.known)
        known = len(result.divergences) - new
        line = (
            f"\rexamples {result.examples}/{work.examples} · steps {result.steps}"
            f" · transitions {len(result.coverage.all_transitions())}"
            f" · cells {len(result.coverage.all_cells())}"
            f" · divergences {new} new, {known} known · {time.monotonic() - started:.1f}s"
        )
        sys.stderr.write(line)
        sys.stderr.flush()

    return show


def probe(choice: TargetChoice) -> tuple[str, Model]:
    """The QEMU version and model of the target (starting it once, briefly)."""
    target = choice.make(0)
    try:
        return target.qemu_version, target.model
    finally:
        target.close()


def execute(choice: TargetChoice, args: argparse.Namespace, out_dir: Path | None) -> int:
    """Run the campaign(s) for ``jobcheck run``; return the exit code."""
    if args.baseline and not args.update_baseline:
        load_baseline(args.baseline)  # a malformed baseline is a usage error, before any run
    qemu_version, model = probe(choice)
    if choice.model is None:
        choice = replace(choice, model=model.version)
    profile = PROFILES[args.profile]
    examples = args.examples if args.examples is not None else profile["examples"]
    steps = args.steps if args.steps is not None else profile["steps"]
    if examples < 0 or steps < 1:
        raise UsageError("--examples must be ≥ 0 and --steps ≥ 1")
    jobs = args.jobs
    interactive = sys.stderr.isatty() and jobs == 1
    works = [
        _Work(
            choice,
            model.version,
            args.seed + index,
            args.profile,
            examples // jobs + (1 if index < examples % jobs else 0),
            steps,
            tour=not args.no_tour and index == 0,
            strict=args.strict,
            progress=interactive,
            qemu_version=qemu_version,
            baseline=args.baseline,
        )
        for index in range(jobs)
    ]
    started = time.monotonic()
    if jobs == 1:
        result = _campaign(works[0])
    else:
        result = CampaignResult()
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
            for part in pool.map(_campaign, works):
                result.merge(part)
    result.seconds = time.monotonic() - started
    if interactive:
        sys.stderr.write("\n")
    info = RunInfo(
        target=choice.describe(),
        target_kind=choice.kind,
        qemu_version=qemu_version,
        model=model.version,
        seed=args.seed,
        profile=args.profile,
        examples=examples,
        steps=steps,
        jobs=jobs,
        mutant=choice.mutant,
        command=" ".join(["jobcheck", *sys.argv[1:]]) if sys.argv else "jobcheck run",
    )
    return finish(info, result, model, args, out_dir)


def finish(
    info: RunInfo,
    result: CampaignResult,
    model: Model,
    args: argparse.Namespace,
    out_dir: Path | None,
) -> int:
    """Print the summary, write the outputs, and decide the exit code."""
    from jobcheck.conformance import report

    summary = coverage_summary(result.coverage, model)
    outcome = report.build(
        info, result, summary, baseline_path=args.baseline, strict=args.strict, directory=out_dir
    )
    for line in report.summary_lines(outcome):
        print(line)
    for line in iter_failure_lines(result, info.seed):
        print(line)
    if args.json:
        report.write_json(outcome, Path(args.json))
    if not args.no_report:
        directory = out_dir or Path("reports") / outcome.run_name
        report.write_all(outcome, directory)
        print(f"reports: {directory}/")
    if args.update_baseline:
        report.update_baseline(outcome, Path(args.baseline))
        print(f"baseline updated: {args.baseline}")
    if result.crash:
        return 1
    return outcome.exit_code
