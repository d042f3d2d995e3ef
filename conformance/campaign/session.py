"""A session: one target plus the oracle and coverage that watch it.

Every driver step of the tour and of the Hypothesis exploration goes through
:meth:`Session.step`: the target applies it and settles, the records it
produced go through the oracle and the coverage as they arrive, and a
divergence the campaign does not accept raises :class:`StepFailed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobcheck.conformance.campaign.results import (
    MAX_SAMPLES,
    Accept,
    CampaignResult,
    Sample,
    job_excerpt,
)
from jobcheck.conformance.oracle import Divergence, Oracle
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.trace.records import Event, Record
from jobcheck.model.lifecycle import Model
from jobcheck.model.rules import RuleId

TargetFactory = Callable[[int], Target]
"""Makes a fresh target; the argument is a seed for the target's own randomness."""


class StepFailed(AssertionError):
    """A step produced divergences that the campaign does not accept."""


class Session:
    """One target plus the oracle and coverage that watch it: runs steps, checks each."""

    def __init__(
        self,
        target: Target,
        model: Model,
        accept: Accept,
        result: CampaignResult,
        meta_extra: dict[str, Any] | None = None,
    ) -> None:
        self.target = target
        self.model = model
        self.accept = accept
        self.result = result
        self.meta = target.meta(**(meta_extra or {}))
        self.oracle = Oracle(model, self.meta)
        self.records: list[Record] = []
        self.divergences: list[Divergence] = []
        self.unaccepted: list[Divergence] = []
        """The divergences of this session that the campaign does not accept."""
        self.status: dict[str, str] = {}
        self._exercised: set[RuleId] = set()
        """The rules this session has exercised (counted once in the result)."""

    def step(self, step: dict[str, Any]) -> None:
        """Run one step, settle, check what came back; raise :class:`StepFailed` if needed."""
        try:
            self.target.apply(step)
            if step.get("op") != "wait" and step.get("settle", True):
                self.target.settle()
        finally:
            self._absorb()
        self.result.steps += 1
        if self.target.kind == "qemu":
            self._exercise({RuleId.QEMU_NO_ABORT})  # QEMU survived a step
        self._raise_if_new()

    def live_jobs(self) -> int:
        """Jobs started in this session that have not reached concluded or null."""
        return sum(1 for s in self.status.values() if s not in ("concluded", "null"))

    def finish(self) -> None:
        """Close the target and run the oracle's end-of-trace checks."""
        try:
            self.target.close()
        finally:
            self._absorb()
            new = self.oracle.finish()
            self._keep(new)
        self._raise_if_new()

    def _absorb(self) -> None:
        for record in self.target.take_records():
            self.records.append(record)
            if isinstance(record, Event) and record.event == "JOB_STATUS_CHANGE":
                self.status[str(record.data.get("id"))] = str(record.data.get("status"))
            self.result.coverage.feed(record)
            found = self.oracle.feed(record)
            self._keep(found)
            self._sample(found)
        self._exercise(self.oracle.exercised)

    def _exercise(self, rules: set[RuleId]) -> None:
        """Count each rule this session exercises once in the result."""
        fresh = rules - self._exercised
        if fresh:
            self._exercised |= fresh
            for rule in fresh:
                self.result.exercise(rule)

    def _keep(self, divergences: list[Divergence]) -> None:
        self.divergences.extend(divergences)
        self.result.divergences.extend(divergences)
        self.unaccepted.extend(d for d in divergences if not self.accept(d))

    def _sample(self, divergences: list[Divergence]) -> None:
        samples = self.result.samples
        for d in divergences:
            key = (d.rule, d.expected, d.observed)
            if key in samples or len(samples) >= MAX_SAMPLES:
                continue
            index = min(d.index, len(self.records) - 1)
            records, position = job_excerpt(self.records, index, d.job)
            samples[key] = Sample(records, position, self.meta, d)

    def _raise_if_new(self) -> None:
        if self.unaccepted:
            raise StepFailed("\n".join(f"{d.rule}: {d.message}" for d in self.unaccepted))
