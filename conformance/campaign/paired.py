"""Two builds, the same steps: the campaigns that ``jobcheck compare`` runs.

A comparison is only as good as the sameness of what both builds were asked
to do.  So the steps are fixed before either build runs:

* the **planned tour** (:mod:`.tour`) runs on each build with that build's
  model; its plans are the same wherever the models agree, and it adapts
  only to what the build answers (a verb that moves the job on ends that
  job's turn), never to a random draw;
* the **exploration** is drawn once: Hypothesis runs the campaign's state
  machine (:mod:`.machine`) against the simulator of the newer of the two
  models, with ``seed``, and every example's steps are recorded
  (:func:`exploration_steps`).  Then each build runs exactly those steps,
  example by example, each on a fresh target (:func:`run_side`).  A live
  QEMU's timing cannot change which steps it gets, only what it answers.

Neither side stops at a divergence (every divergence is accepted here:
deciding what is new is the report's business, and a comparison wants both
runs whole).  A QEMU crash ends that example on that side and the run goes
on; the first crash is the side's :attr:`CampaignResult.crash`.  A target
failure (exit 3) ends the comparison.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from jobcheck.conformance.campaign.results import CampaignResult, Failure
from jobcheck.conformance.campaign.run import run_campaign
from jobcheck.conformance.campaign.session import Session, TargetFactory
from jobcheck.conformance.campaign.tour import run_tour
from jobcheck.conformance.errors import TargetCrashed, TargetError
from jobcheck.conformance.oracle import Divergence
from jobcheck.conformance.targets.sim import Simulator
from jobcheck.model.lifecycle import Model

Step = dict[str, Any]


def accept_all(divergence: Divergence) -> bool:
    """Every divergence is accepted: a comparison runs each side to the end."""
    return True


class _StepLog(Simulator):
    """The simulator, keeping the steps it is given."""

    def __init__(self, version: str, seed: int) -> None:
        super().__init__(version, seed=seed)
        self.log: list[Step] = []

    def apply(self, step: Step) -> Any:
        self.log.append(dict(step))
        return super().apply(step)


def exploration_steps(model: Model, *, seed: int, examples: int, steps: int) -> list[list[Step]]:
    """The steps of ``examples`` Hypothesis examples of at most ``steps`` steps each, drawn
    against the simulator of ``model`` with ``seed`` (the same every time)."""
    logs: list[list[Step]] = []

    def make(target_seed: int) -> Simulator:
        sim = _StepLog(model.version, target_seed)
        logs.append(sim.log)
        return sim

    if examples > 0:
        run_campaign(
            make, model, seed=seed, examples=examples, steps=steps, tour=False, accept=accept_all
        )
    return [log for log in logs if log]


def run_side(
    make_target: TargetFactory,
    model: Model,
    explore: list[list[Step]],
    *,
    seed: int = 0,
    tour: bool = True,
    meta_extra: dict[str, Any] | None = None,
    on_example: Callable[[CampaignResult], None] | None = None,
) -> CampaignResult:
    """The tour, then every example of ``explore``, on fresh targets from ``make_target``."""
    result = CampaignResult()
    extra = {"seed": seed, **(meta_extra or {})}
    started = time.monotonic()
    if tour:
        failure = run_tour(make_target, model, accept_all, result, extra, seed=seed)
        result.tour_seconds = time.monotonic() - started
        if failure is not None and result.crash:
            result.failure = failure
    for number, steps in enumerate(explore):
        result.examples += 1
        session = Session(make_target(seed + number), model, accept_all, result, extra)
        try:
            for step in steps:
                session.step(step)
            session.finish()
        except TargetCrashed as exc:
            with contextlib.suppress(TargetError):
                session.target.close()
            result.crash = result.crash or str(exc)
            if result.failure is None:
                result.failure = Failure(
                    str(exc), session.records, session.meta, [], list(session.divergences)
                )
        except BaseException:
            with contextlib.suppress(TargetError):
                session.target.close()
            raise
        if on_example is not None:
            on_example(result)
    result.seconds = time.monotonic() - started
    return result
