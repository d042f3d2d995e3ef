"""What a campaign found: every divergence, short replayable samples, the minimal failure.

A :class:`CampaignResult` is all that a campaign hands on to the report: the
coverage reached, every divergence the oracle reported (new, known and
baselined alike), the first occurrence of each as a short trace
(:class:`Sample`), and — when a divergence was not accepted or QEMU crashed —
the minimal failing run (:class:`Failure`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jobcheck.conformance.campaign.coverage import Coverage
from jobcheck.conformance.campaign.observations import Observations
from jobcheck.conformance.oracle import Divergence, Indeterminate
from jobcheck.conformance.trace.records import (
    TEARDOWN_NOTE,
    Command,
    Event,
    Meta,
    Note,
    Record,
    Response,
)
from jobcheck.conformance.trace.steps import step_jobs

Accept = Callable[[Divergence], bool]
"""Whether a divergence is accepted (does not fail the run): known, or baselined."""


def accept_known(divergence: Divergence) -> bool:
    """The default acceptance: catalogued documented-vs-implemented divergences pass."""
    return divergence.known


@dataclass
class Failure:
    """The minimal failing run, as the tour's shrinker or Hypothesis shrank it."""

    message: str
    records: list[Record]
    meta: Meta
    divergences: list[Divergence]
    """The divergences of :attr:`records` that the campaign does not accept: why it failed."""
    seen: list[Divergence] = field(default_factory=list)
    """Every divergence of :attr:`records`, known and baselined ones included."""

    def steps(self) -> list[str]:
        """The driver steps of the failing run, in words."""
        return [r.text for r in self.records if isinstance(r, Note) and r.step is not None]


MAX_SAMPLES = 64
"""At most this many divergence samples kept per campaign (see :class:`Sample`)."""


@dataclass
class Sample:
    """A short, replayable trace of one divergence seen in a session that went on.

    The campaign keeps the records of its failing session only; for the other
    divergences (known or baselined ones, which do not stop a run) it keeps the
    first occurrence of each as the records of the job involved (and of the jobs
    started with it) up to the divergence, with the driver steps that made them.
    """

    records: list[Record]
    index: int
    """Position of the divergent record in :attr:`records`."""
    meta: Meta
    divergence: Divergence


def job_excerpt(records: list[Record], index: int, job: str | None) -> tuple[list[Record], int]:
    """The records of ``job`` (and of the jobs started with it) up to ``records[index]``.

    Without a job, the last 200 records up to the divergence.
    """
    if job is None:
        start = max(0, index - 199)
        return records[start : index + 1], index - start
    group = {job}
    for record in records[: index + 1]:
        step = record.step if isinstance(record, Note) else None
        if step and step.get("op") == "start" and job in step_jobs(step):
            group = step_jobs(step)
    out: list[Record] = []
    target = records[index]
    asked: set[Any] = {target.id} if isinstance(target, Response) else set()
    keep_block = False
    position = 0
    for number, record in enumerate(records[: index + 1]):
        if isinstance(record, Note):
            keep_block = bool(step_jobs(record.step or {}) & group)
            keep = keep_block
        elif isinstance(record, Command):
            keep = keep_block or record.id in asked
            if keep:
                asked.add(record.id)
        elif isinstance(record, Response):
            keep = record.id in asked
        elif isinstance(record, Event):
            data = record.data
            keep = bool({str(data.get("id")), str(data.get("device"))} & group)
        else:
            keep = False
        if keep or number == index:
            if number == index:
                position = len(out)
            out.append(record)
    return out, position


@dataclass
class CampaignResult:
    """What a campaign found and reached."""

    coverage: Coverage = field(default_factory=Coverage)
    divergences: list[Divergence] = field(default_factory=list)
    failure: Failure | None = None
    crash: str | None = None
    examples: int = 0
    """Hypothesis examples generated (a failing one included)."""
    shrink_runs: int = 0
    """Runs Hypothesis made while shrinking a failure down to a minimal one."""
    steps: int = 0
    seconds: float = 0.0
    tour_steps: int = 0
    tour_seconds: float = 0.0
    samples: dict[tuple[str, str, str], Sample] = field(default_factory=dict)
    """The first occurrence of each (rule, expected, observed), as a short trace."""
    observations: Observations = field(default_factory=Observations)
    """How QEMU answered, cell by cell and plan by plan (for ``jobcheck compare``)."""
    indeterminate: list[Indeterminate] = field(default_factory=list)
    """The eventual checks the run could not decide (the job was too slow to tell)."""
    eventual: dict[str, list[int]] = field(default_factory=dict)
    """Eventual checks by rule: [passed, failed, indeterminate]."""
    exercised: dict[str, int] = field(default_factory=dict)
    """Per rule, in how many sessions (the tour, each example) a check met a record on
    which it could have failed (:attr:`jobcheck.conformance.oracle.Oracle.exercised`)."""

    def exercise(self, rule: str, times: int = 1) -> None:
        self.exercised[rule] = self.exercised.get(rule, 0) + times

    def merge(self, other: CampaignResult) -> CampaignResult:
        for rule, times in other.exercised.items():
            self.exercise(rule, times)
        for key, sample in other.samples.items():
            self.samples.setdefault(key, sample)
        self.indeterminate.extend(other.indeterminate)
        for rule, counts in other.eventual.items():
            mine = self.eventual.setdefault(rule, [0, 0, 0])
            for i, count in enumerate(counts):
                mine[i] += count
        self.coverage.merge(other.coverage)
        self.observations.merge(other.observations)
        self.divergences.extend(other.divergences)
        self.failure = self.failure or other.failure
        self.crash = self.crash or other.crash
        self.examples += other.examples
        self.shrink_runs += other.shrink_runs
        self.steps += other.steps
        self.seconds = max(self.seconds, other.seconds)
        self.tour_steps += other.tour_steps
        self.tour_seconds = max(self.tour_seconds, other.tour_seconds)
        return self


def iter_failure_lines(result: CampaignResult, seed: int) -> Iterator[str]:
    """The readable account of a failure: the steps, the divergences, how to reproduce."""
    failure = result.failure
    if failure is None:
        return
    yield f"minimal failing run ({len(failure.steps())} steps, seed {seed}):"
    if failure.meta.extra.get("reproduced") is False:
        yield "  (it did not happen again on replay: the steps as recorded)"
    for number, text in enumerate(failure.steps(), start=1):
        yield f"  {number:3d}. {text}"
    teardown = next(
        (
            i
            for i, r in enumerate(failure.records)
            if isinstance(r, Note) and r.text == TEARDOWN_NOTE
        ),
        None,
    )
    for divergence in failure.divergences:
        where = ""
        if teardown is not None and divergence.index > teardown:
            where = " (in the teardown after the last step: jobcheck's own clean-up commands)"
        yield f"  -> {divergence.rule}: {divergence.message}{where}"
