"""Benchmarks that need no QEMU: the Hypothesis ceiling, the simulator campaign, check-trace.

* :func:`ceiling` — a bare :class:`~hypothesis.stateful.RuleBasedStateMachine`
  with one trivial rule, run with the campaign's own Hypothesis settings
  (:func:`~jobcheck.conformance.campaign.run.campaign_settings`): the most steps per
  second any stateful campaign can reach on this machine.
* :func:`sim_campaign` — :func:`~jobcheck.conformance.campaign.run.run_campaign`
  against the simulator, oracle and coverage included; steps per second of the
  exploration and, apart, of the planned tour.
* :func:`check_trace` — ``jobcheck check-trace`` on a synthetic trace
  (:mod:`jobcheck.conformance.trace.synthetic`), as a child process: records per
  second and peak RSS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hypothesis import seed as hypothesis_seed
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test, rule

from jobcheck.conformance.bench.process import ProcessRun, jobcheck_argv, run_measured
from jobcheck.conformance.campaign.gc_policy import campaign_gc
from jobcheck.conformance.campaign.results import CampaignResult
from jobcheck.conformance.campaign.run import campaign_settings, run_campaign
from jobcheck.conformance.campaign.session import TargetFactory
from jobcheck.conformance.errors import TargetError
from jobcheck.conformance.oracle import Divergence
from jobcheck.conformance.targets.select import TargetChoice
from jobcheck.model.lifecycle import Model, model_for


class _Trivial(RuleBasedStateMachine):
    """One rule that does nothing but count."""

    steps = 0

    @rule()
    def step(self) -> None:
        type(self).steps += 1


@dataclass(frozen=True)
class Rate:
    """Work done in some seconds."""

    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def ceiling(examples: int, steps: int, seed: int) -> Rate:
    """Steps per second of the bare one-rule machine under the campaign's settings: its
    Hypothesis settings, and its garbage collector's
    (:mod:`~jobcheck.conformance.campaign.gc_policy`)."""
    _Trivial.steps = 0
    test = hypothesis_seed(seed)(
        get_state_machine_test(_Trivial, settings=campaign_settings("ci", examples, steps))
    )
    with campaign_gc():
        started = time.perf_counter()
        test()
        seconds = time.perf_counter() - started
    return Rate(_Trivial.steps, seconds)


@dataclass(frozen=True)
class CampaignRates:
    """The speeds of one campaign: exploration and tour apart."""

    explore: Rate
    tour: Rate
    result: CampaignResult

    @property
    def new_divergences(self) -> int:
        """Divergences outside the catalogue's known ones (a benchmark does not stop for them)."""
        return sum(1 for d in self.result.divergences if not d.known)


def campaign_rates(result: CampaignResult) -> CampaignRates:
    """Split a campaign result into its tour and exploration rates."""
    explore = Rate(result.steps - result.tour_steps, result.seconds - result.tour_seconds)
    return CampaignRates(explore, Rate(result.tour_steps, result.tour_seconds), result)


def accept_all(divergence: Divergence) -> bool:
    """A benchmark measures speed: every divergence is recorded, none stops the run
    (a stop would add shrinking time to the exploration)."""
    return True


def timed_campaign(
    make_target: TargetFactory, model: Model, examples: int, steps: int, seed: int
) -> CampaignRates:
    """One campaign (tour, then exploration), the oracle checking every step."""
    result = run_campaign(
        make_target,
        model,
        seed=seed,
        profile="ci",
        examples=examples,
        steps=steps,
        accept=accept_all,
    )
    if result.crash is not None:
        raise TargetError(f"the target crashed during the campaign (seed {seed}): {result.crash}")
    return campaign_rates(result)


def sim_campaign(model: str, examples: int, steps: int, seed: int) -> CampaignRates:
    """One simulator campaign of the given model version."""
    choice = TargetChoice("sim", model=model)
    return timed_campaign(choice.make, model_for(model), examples, steps, seed)


def check_trace(path: str, records: int, model: str, timeout: float) -> tuple[Rate, ProcessRun]:
    """``jobcheck check-trace PATH --model MODEL`` as a child: its rate and its run."""
    run = run_measured(jobcheck_argv("check-trace", path, "--model", model), timeout=timeout)
    if run.timed_out:
        raise TargetError(f"check-trace took more than {timeout:.0f} s on {records} records")
    if run.exit_code != 0:
        raise TargetError(
            f"check-trace exited {run.exit_code} on a synthetic trace (0 expected: only "
            f"known divergences): {run.last_line()}"
        )
    return Rate(records, run.seconds), run
