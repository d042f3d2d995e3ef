"""Several campaigns at once (``--jobs N``), merged into one result.

:func:`run_campaigns` runs ``jobs`` independent campaigns — one target each,
in separate processes, seeds ``seed``, ``seed + 1``, … — with the examples
split between them, and merges their coverage and findings.  :func:`probe`
learns the target's QEMU version and model first.  :class:`RunInfo` describes
what was run, for the summary and the reports.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobcheck.conformance.campaign.results import Accept, CampaignResult
from jobcheck.conformance.campaign.run import run_campaign
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
    binary: str | None = None
    """The QEMU binary a live run launched (``None`` for the simulator and ``--connect``)."""
    rerun_options: tuple[str, ...] = ()
    """The target options that reach the same target again (for replay and rerun)."""
    package: dict[str, str] | None = None
    """The distribution package (``name``, ``version``) that ships :attr:`binary`."""

    @classmethod
    def of(cls, choice: TargetChoice, **fields: Any) -> RunInfo:
        """The run of ``choice``; ``fields`` give the rest (version, model, seed, …)."""
        return cls(
            target=choice.describe(),
            target_kind=choice.kind,
            mutant=choice.mutant,
            binary=choice.binary,
            rerun_options=tuple(choice.options()),
            **fields,
        )


@dataclass(frozen=True)
class _Work:
    choice: TargetChoice
    model: str
    seed: int
    profile: str
    examples: int
    steps: int
    tour: bool
    accept: Accept
    progress: bool


def _campaign(work: _Work) -> CampaignResult:
    return run_campaign(
        work.choice.make,
        model_for(work.model),
        seed=work.seed,
        profile=work.profile,
        examples=work.examples,
        steps=work.steps,
        accept=work.accept,
        tour=work.tour,
        meta_extra={"target": work.choice.describe()},
        on_progress=_progress_printer(work) if work.progress else None,
    )


def _progress_printer(work: _Work) -> Callable[[CampaignResult], None]:
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


def run_campaigns(
    choice: TargetChoice,
    model: Model,
    *,
    seed: int,
    profile: str,
    examples: int,
    steps: int,
    jobs: int,
    tour: bool,
    accept: Accept,
    progress: bool,
) -> CampaignResult:
    """``jobs`` campaigns (the tour in the first only), merged; ``seconds`` is the wall time.

    ``accept`` must be picklable when ``jobs`` > 1 (it goes to the worker processes).
    """
    works = [
        _Work(
            choice,
            model.version,
            seed + index,
            profile,
            examples // jobs + (1 if index < examples % jobs else 0),
            steps,
            tour=tour and index == 0,
            accept=accept,
            progress=progress,
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
    return result
