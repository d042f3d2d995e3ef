"""One campaign: the planned tour, then Hypothesis exploration.

:func:`run_campaign` runs the planned tour (:mod:`.tour`) first, then the
exploration (:mod:`.machine`), and returns a
:class:`~jobcheck.conformance.campaign.results.CampaignResult` with the
coverage, every divergence seen, and — on failure — the minimal failing trace
with its readable steps and the seed that reproduces it.
"""

from __future__ import annotations

import time
from typing import Any, cast

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test

from jobcheck.conformance.campaign.machine import Exploration, machine_factory
from jobcheck.conformance.campaign.progress import Reporter
from jobcheck.conformance.campaign.results import Accept, CampaignResult, Failure, accept_known
from jobcheck.conformance.campaign.session import StepFailed, TargetFactory
from jobcheck.conformance.campaign.tour import run_tour
from jobcheck.conformance.errors import TargetCrashed, TargetError
from jobcheck.conformance.trace.records import Meta
from jobcheck.model.lifecycle import Model

PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"examples": 30, "steps": 25},
    "thorough": {"examples": 500, "steps": 60},
}
"""Campaign profiles: ``ci`` is fast and derandomized; ``thorough`` is for nightly gates."""


def campaign_settings(profile: str, examples: int | None, steps: int | None) -> settings:
    """Hypothesis settings for a campaign profile, with overrides."""
    base = PROFILES[profile]
    return settings(
        max_examples=examples if examples is not None else base["examples"],
        stateful_step_count=steps if steps is not None else base["steps"],
        derandomize=False,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


def run_campaign(
    make_target: TargetFactory,
    model: Model,
    *,
    seed: int = 0,
    profile: str = "ci",
    examples: int | None = None,
    steps: int | None = None,
    accept: Accept = accept_known,
    tour: bool = True,
    meta_extra: dict[str, Any] | None = None,
    progress: Reporter | None = None,
) -> CampaignResult:
    """The planned tour, then Hypothesis exploration; see the module docstring.

    ``progress`` is told what is done as it goes (see :mod:`.progress`).
    """
    result = CampaignResult()
    extra = {"seed": seed, "profile": profile, **(meta_extra or {})}
    started = time.monotonic()
    if tour:
        tour_failure = run_tour(
            make_target, model, accept, result, extra, seed=seed, progress=progress
        )
        result.tour_seconds = time.monotonic() - started
        if tour_failure is not None:
            result.failure = tour_failure
            result.seconds = time.monotonic() - started
            return result
    if examples == 0:
        result.seconds = time.monotonic() - started
        return result
    exploration = Exploration(make_target, model, accept, result, extra, progress)
    # Hypothesis documents the factory as "anything which returns an instance of
    # RuleBasedStateMachine when called with no arguments"; its annotation says a class.
    factory = cast(type[RuleBasedStateMachine], machine_factory(exploration))
    test = hypothesis_seed(seed)(
        get_state_machine_test(factory, settings=campaign_settings(profile, examples, steps))
    )
    try:
        test()
    except (StepFailed, AssertionError, Flaky) as exc:
        session = exploration.last
        records = session.records if session else []
        seen = session.divergences if session else []
        meta = session.meta if session else Meta("?")
        unaccepted = [d for d in seen if not accept(d)]
        result.failure = Failure(_first_line(exc), records, meta, unaccepted, list(seen))
    except TargetError as exc:
        session = exploration.last
        if session is None or not isinstance(exc, TargetCrashed):
            raise
        result.crash = str(exc)
        result.failure = Failure(
            str(exc), session.records, session.meta, [], list(session.divergences)
        )
    result.seconds = time.monotonic() - started
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
