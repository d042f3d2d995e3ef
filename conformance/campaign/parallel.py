"""Several campaigns at once (``--jobs N``), merged into one result.

:func:`run_campaigns` runs ``jobs`` independent campaigns — one target each,
in separate processes, seeds ``seed``, ``seed + 1``, … — with the examples
split between them, and merges their coverage and findings.  On a launched
QEMU the planned tour runs in a process of its own beside the exploration
(:func:`tour_beside`): the two share nothing, and each keeps one core busy
only half of the time (the other half it waits for its QEMU), so on two cores
the campaign takes about as long as the longer of them.  Their progress
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
from dataclasses import dataclass, replace
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
_TOUR_FAILED: Any = None
"""In a worker process: the event the tour's process sets when the tour failed, which ends
the exploration beside it before its next example (its failure would not be reported:
the tour's is)."""


def _init_worker(queue: Any, tour_failed: Any = None) -> None:
    global _QUEUE, _TOUR_FAILED
    _QUEUE = queue
    _TOUR_FAILED = tour_failed


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
    passed = False
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
            stop=_TOUR_FAILED.is_set if _TOUR_FAILED is not None and not work.tour else None,
        )
        passed = result.failure is None
    finally:
        if work.tour and _TOUR_FAILED is not None and not passed:
            _TOUR_FAILED.set()  # failed, crashed, or the target failed: nothing to wait for
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


def tour_beside(choice: TargetChoice) -> bool:
    """Whether the tour runs in a process of its own, beside the exploration: on a QEMU that
    jobcheck launches (one attached with ``--connect`` takes one client at a time), on a
    machine with more than one core.  The simulator's tour takes a fraction of a second
    and uses a core all along: it runs first, in the exploration's process."""
    return choice.kind == "qemu" and not choice.connect and (os.cpu_count() or 1) > 1


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
    r"""``jobs`` campaigns (the tour in the first only, or in a process of its own beside them:
    :func:`tour_beside`), merged; ``seconds`` is the wall time.

    ``accept`` must be picklable when the campaigns run in worker processes.
    ``progress`` gets every campaign's :class:`~.progress.Snapshot`\ s, in this process.
    ``first`` is a target of ``choice`` already open, made with ``seed``: with one campaign in
    this process, its first target (its tour's); with campaigns in other processes, it is
    closed first.  Either way it is closed when this returns.
    ``targets`` (where ``first`` came from, if given) makes the other targets of a single
    campaign; with several, it is closed before the workers start (each has its own).
    """
    beside = tour and examples > 0 and tour_beside(choice)
    shift = 1 if beside else 0
    works = [
        _Work(
            choice,
            model.version,
            seed + index,
            profile,
            examples // jobs + (1 if index < examples % jobs else 0),
            steps,
            tour=tour and index == 0 and not beside,
            accept=accept,
            progress=progress is not None,
            index=index + shift,
        )
        for index in range(jobs)
    ]
    if beside:
        works.insert(0, replace(works[0], seed=seed, examples=0, tour=True, index=0))
    started = time.monotonic()
    if len(works) == 1:
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
            len(works),
            mp_context=context,
            initializer=_init_worker,
            initargs=(queue, context.Event() if beside else None),
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
