"""A session: one target plus the oracle and coverage that watch it.

Every driver step of the tour and of the Hypothesis exploration goes through
:meth:`Session.step`: the target applies it and settles, the records it
produced go through the oracle and the coverage as they arrive, and a
divergence the campaign does not accept raises :class:`StepFailed`.

Settling is driven by the model: :meth:`Session.settle` asks the oracle which
jobs must still move on by themselves (:meth:`~jobcheck.conformance.oracle.Oracle.awaiting`)
and has the target wait for exactly those, round after round until none is
left; a job the target gives up on gets its verdict (a divergence, or an
indeterminate one) from the oracle's eventual checks and is not waited for
again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from jobcheck.conformance.campaign.results import (
    MAX_SAMPLES,
    Accept,
    CampaignResult,
    Sample,
    job_excerpt,
)
from jobcheck.conformance.errors import TargetCrashed, TargetError, raise_swallowed
from jobcheck.conformance.oracle import Divergence, Oracle
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.trace.qmp_messages import status_change
from jobcheck.conformance.trace.records import Note, Record
from jobcheck.conformance.trace.steps import describe_step, step_jobs
from jobcheck.model.lifecycle import Model
from jobcheck.model.rules import RuleId

TargetFactory = Callable[[int], Target]
"""Makes a fresh target; the argument is a seed for the target's own randomness."""

MAX_SETTLE_ROUNDS = 64
"""A bound on the waiting rounds of one settle (each round a job moves on or is given up)."""


class StepFailed(AssertionError):
    """A step produced divergences that the campaign does not accept."""


class CrashFound(StepFailed):
    """QEMU crashed during a step or the teardown: the finding of rule ``qemu.no-abort``,
    kept as a divergence of the session like any other."""

    def __init__(self, message: str, error: TargetCrashed) -> None:
        super().__init__(message)
        self.error = error


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
        # a live target says which commands it introspects; the simulator does not
        commands = getattr(target, "commands", None)
        self.watcher = result.observations.watch(self.meta, commands=commands)
        self._tallied: dict[str, list[int]] = {}
        self._undecided = 0
        self._exercised: set[RuleId] = set()
        """The rules this session has exercised (counted once in the result)."""
        self._teardown = False
        """The target is being closed: what it records now is not a step's."""

    def step(self, step: dict[str, Any]) -> None:
        """Run one step, settle, check what came back; raise :class:`StepFailed` if needed.

        A ``wait`` step is a settle; any other step is followed by one unless it says
        ``"settle": false``.
        """
        raise_swallowed()
        try:
            waits = step.get("op") == "wait"
            if waits:
                self.target.note(describe_step(step), step)
            else:
                self.target.apply(step)
            if waits or step.get("settle", True):
                self._absorb()
                self.settle()
        except TargetCrashed as exc:
            self._crashed(exc)
        finally:
            self._absorb()
            self.result.steps += 1
            if self.target.kind == "qemu":
                self._exercise({RuleId.QEMU_NO_ABORT})  # QEMU survived a step
        self._raise_if_new()

    def settle(self) -> None:
        """Wait until no job must still move on by itself (see the module docstring)."""
        for _ in range(MAX_SETTLE_ROUNDS):
            awaited = self.oracle.awaiting()
            self.target.settle({job: a.status.value for job, a in awaited.items()})
            # nothing new fed: the oracle awaits what it awaited before
            if not self._absorb() and not awaited:
                return
            if not awaited and not self.oracle.awaiting():
                return

    def live_jobs(self) -> int:
        """Jobs started in this session that have not reached concluded or null."""
        return sum(1 for s in self.status.values() if s not in ("concluded", "null"))

    def finish(self) -> None:
        """Close the target and run the oracle's end-of-trace checks."""
        self.watcher.close()  # what the teardown does is not an observation of the steps
        self._absorb()
        self._teardown = True  # nor does it cover anything (its cancels and dismisses)
        try:
            self.target.close()
        except TargetCrashed as exc:
            self._crashed(exc)
        finally:
            self._absorb()
            new = self.oracle.finish()
            self._keep(new)
        self._raise_if_new()

    def _absorb(self) -> bool:
        """Feed the target's new records to the oracle, coverage and observations; whether
        there were any (the oracle's state changes only by what it is fed)."""
        records = self.target.take_records()
        if not records:
            return False
        for record in records:
            self.records.append(record)
            change = status_change(record)
            if change is not None:
                self.status[change[0]] = change[1]
            if not self._teardown:
                self.result.coverage.feed(record)
            self.watcher.feed(record)
            found = self.oracle.feed(record)
            if found:
                self._keep(found)
                self._sample(found)
        self._collect()
        return True

    def _collect(self) -> None:
        """Count into the result what the oracle has exercised, tallied and left undecided."""
        self._exercise(self.oracle.exercised)
        undecided = self.oracle.undecided
        if len(undecided) > self._undecided:
            self.result.indeterminate.extend(undecided[self._undecided :])
            self._undecided = len(undecided)
        for rule, counts in self.oracle.tally.items():
            seen = self._tallied.setdefault(rule, [0, 0, 0])
            total = self.result.eventual.setdefault(rule, [0, 0, 0])
            for i in range(3):
                total[i] += counts[i] - seen[i]
                seen[i] = counts[i]

    def _exercise(self, rules: set[RuleId]) -> None:
        """Count each rule this session exercises once in the result."""
        fresh = rules - self._exercised
        if fresh:
            self._exercised |= fresh
            for rule in fresh:
                self.result.exercise(rule)

    def abandon(self) -> None:
        """Close the target after a failure, quietly: the first error is the one to report."""
        with contextlib.suppress(TargetError):
            self.target.close()

    def _crashed(self, error: TargetCrashed) -> None:
        """QEMU crashed: record it in the trace (a note with a ``crash`` member, naming the job
        of the last step if it names one), which the oracle reports as ``qemu.no-abort``;
        raise :class:`CrashFound`."""
        self._absorb()
        jobs = next(
            (step_jobs(r.step) for r in reversed(self.records) if isinstance(r, Note) and r.step),
            set(),
        )
        job = next(iter(jobs)) if len(jobs) == 1 else None
        crash = {"outcome": error.outcome, "message": str(error), "job": job}
        note = Note(f"QEMU crashed: {error.outcome}", crash=crash)
        self.records.append(note)
        found = self.oracle.feed(note)
        self._keep(found)
        self._sample(found)
        self._collect()
        raise CrashFound(f"{found[0].rule}: {found[0].message}" if found else str(error), error)

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
