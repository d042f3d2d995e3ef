"""Several campaigns at once (``--jobs N``), merged into one result.

:func:`run_campaigns` runs ``jobs`` independent campaigns — one target each,
in separate processes, seeds ``seed``, ``seed + 1``, … — with the examples
split between them, and merges their coverage and findings.  Their progress
(:mod:`.progress`) comes back through a queue, each campaign's snapshots in
turn, so that one line can show them all.  :func:`probe` learns the target's
QEMU version and model first; ``jobcheck run`` instead opens the first target
itself and hands it to :func:`run_campaigns` (``first``), whose first campaign
runs on it, so that the QEMU that told the version is not started twice.
:class:`RunInfo` describes what was run, for the summary and the reports.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time
from concurrent.futures import Future
from dataclasses import dataclass
from queue import Empty
from typing import Any

from jobcheck.conformance.campaign.coverage import goals
from jobcheck.conformance.campaign.progress import Reporter, Send
from jobcheck.conformance.campaign.results import Accept, CampaignResult
from jobcheck.conformance.campaign.run import run_campaign
from jobcheck.conformance.campaign.session import TargetFactory
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.targets.select import TargetChoice, Targets
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
    model_choice: str | None = None
    """Why the run took :attr:`model`, in one line (``model 9.2: the newest model at or
    below QEMU 10.0.2 (…)``; see :func:`jobcheck.model.lifecycle.model_choice`)."""

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
    index: int = 0


_QUEUE: Any = None
"""In a worker process: the queue its progress goes back on (see :func:`_init_worker`)."""


def _init_worker(queue: Any) -> None:
    global _QUEUE
    _QUEUE = queue


def _campaign(
    work: _Work,
    send: Send | None = None,
    first: Target | None = None,
    targets: Targets | None = None,
) -> CampaignResult:
    """One campaign; its progress goes to ``send`` (in a worker process: the queue); its
    first target is ``first`` if given (see :func:`first_then`), the others are made by
    ``targets`` (by default, this campaign's own)."""
    if targets is None:
        with work.choice.targets() as own:
            return _campaign(work, send, first, own)
    model = model_for(work.model)
    reporter = None
    if work.progress:
        sink = send if send is not None else _QUEUE.put
        reporter = Reporter(sink, goals(model), work.examples, worker=work.index)
    result = CampaignResult()
    try:
        result = run_campaign(
            first_then(first, targets.make),
            model,
            seed=work.seed,
            profile=work.profile,
            examples=work.examples,
            steps=work.steps,
            accept=work.accept,
            tour=work.tour,
            meta_extra={"target": work.choice.describe()},
            progress=reporter,
        )
    finally:
        if reporter is not None:
            reporter.finished(result)  # also after an error: the reader counts these
    return result


def probe(choice: TargetChoice) -> tuple[str, Model]:
    """The QEMU version and model of the target (starting it once, briefly)."""
    target = choice.make(0)
    try:
        return target.qemu_version, target.model
    finally:
        target.close()


def first_then(first: Target | None, make: TargetFactory) -> TargetFactory:
    """``make``, except that its first call returns ``first`` (a target already open, made
    with the seed of that first call), if given."""
    handed: list[Target] = [first] if first is not None else []

    def factory(seed: int) -> Target:
        return handed.pop() if handed else make(seed)

    return factory


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
    progress: Send | None = None,
    first: Target | None = None,
    targets: Targets | None = None,
) -> CampaignResult:
    r"""``jobs`` campaigns (the tour in the first only), merged; ``seconds`` is the wall time.

    ``accept`` must be picklable when ``jobs`` > 1 (it goes to the worker processes).
    ``progress`` gets every campaign's :class:`~.progress.Snapshot`\ s, in this process.
    ``first`` is a target of ``choice`` already open, made with ``seed``: with one job, the
    campaign's first target (its tour's); with several, whose campaigns run in other
    processes, it is closed first.  Either way it is closed when this returns.
    ``targets`` (where ``first`` came from, if given) makes the other targets of a single
    campaign; with several, it is closed before the workers start (each has its own).
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
            progress=progress is not None,
            index=index,
        )
        for index in range(jobs)
    ]
    started = time.monotonic()
    if jobs == 1:
        try:
            result = _campaign(works[0], progress, first, targets)
        finally:
            if first is not None:
                first.close()  # idempotent: the campaign closed it if it ran on it
    else:
        if first is not None:
            first.close()  # a live QEMU connection is not to be shared with forked workers
        if targets is not None:
            targets.close()
        result = CampaignResult()
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        queue = context.Queue()
        with concurrent.futures.ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_init_worker, initargs=(queue,)
        ) as pool:
            futures = [pool.submit(_campaign, work) for work in works]
            if progress is not None:
                _relay(queue, futures, progress)
            for future in futures:
                result.merge(future.result())
    result.seconds = time.monotonic() - started
    return result


def _relay(queue: Any, futures: list[Future[CampaignResult]], send: Send) -> None:
    """Pass the workers' snapshots on until each has sent its last one (phase ``done``),
    or its process has ended without it."""
    finished: set[int] = set()
    while len(finished) < len(futures):
        try:
            snapshot = queue.get(timeout=1.0)
        except Empty:
            finished |= {i for i, f in enumerate(futures) if f.done()}
            continue
        send(snapshot)
        if snapshot.phase == "done":
            finished.add(snapshot.worker)
