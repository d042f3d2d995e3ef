"""One campaign: the planned tour, then Hypothesis exploration.

:func:`run_campaign` runs the planned tour (:mod:`.tour`) first, then the
exploration (:mod:`.machine`), and returns a
:class:`~jobcheck.conformance.campaign.results.CampaignResult` with the
coverage, every divergence seen, and — on failure — the minimal failing trace
with its readable steps and the seed that reproduces it.

What fails where: a divergence in the exploration is shrunk by Hypothesis (or,
if Hypothesis cannot make it fail again, by :mod:`.shrink` from the session
that failed); a QEMU crash anywhere is a finding (``qemu.no-abort``), shrunk by
:mod:`.shrink`; any other target failure (QEMU killed, stopped, unreachable)
is raised as the :class:`~jobcheck.conformance.errors.TargetError` it is —
never taken for a conformance failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test

from jobcheck.conformance.campaign.gc_policy import campaign_gc
from jobcheck.conformance.campaign.machine import Exploration, TargetFailed, machine_factory
from jobcheck.conformance.campaign.progress import Reporter
from jobcheck.conformance.campaign.results import Accept, CampaignResult, Failure, accept_known
from jobcheck.conformance.campaign.session import Session, StepFailed, TargetFactory
from jobcheck.conformance.campaign.shrink import fresh_sessions, shrunk_failure
from jobcheck.conformance.campaign.tour import run_tour
from jobcheck.conformance.errors import TargetCrashed
from jobcheck.conformance.trace.records import Meta
from jobcheck.model.lifecycle import Model

PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"examples": 30, "steps": 25},
    "thorough": {"examples": 500, "steps": 60},
    "bisect": {"examples": 10, "steps": 20},
}
"""Campaign profiles: ``ci`` is fast and derandomized; ``thorough`` is for nightly gates;
``bisect`` (``jobcheck run --bisect``) is the planned tour — which alone reaches every
reachable cell and transition — and a short exploration, for one run per commit."""


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


@campaign_gc()
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
    stop: Callable[[], bool] | None = None,
) -> CampaignResult:
    """The planned tour, then Hypothesis exploration; see the module docstring.

    ``progress`` is told what is done as it goes (see :mod:`.progress`); the garbage
    collector is set as :mod:`.gc_policy` says meanwhile.  ``stop`` is asked before each
    example; once it says ``True`` the exploration ends there, with what it found so far
    (the tour run beside it failed: :mod:`.parallel`).
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
    exploration = Exploration(
        make_target, model, accept, result, extra, progress, target_seed=seed, stop=stop
    )
    # Hypothesis documents the factory as "anything which returns an instance of
    # RuleBasedStateMachine when called with no arguments"; its annotation says a class.
    factory = cast(type[RuleBasedStateMachine], machine_factory(exploration))
    test = hypothesis_seed(seed)(
        get_state_machine_test(factory, settings=campaign_settings(profile, examples, steps))
    )
    make_session = fresh_sessions(make_target, model, accept, extra, seed)
    try:
        test()
    except BaseException as exc:
        escaped = exploration.escaped
        if exploration.stopped and not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            # ExplorationStopped, or what Hypothesis made of it: what was found stays
            result.seconds = time.monotonic() - started
            return result
        if escaped is not None:
            result.failure = _escaped(escaped, exploration, result, make_session)
        elif isinstance(exc, (StepFailed, AssertionError, Flaky)):
            session = exploration.failed or exploration.last
            if session is None:
                raise
            failure = _failure(session, _first_line(exc))
            if isinstance(exc, Flaky) or not failure.divergences:
                # Hypothesis could not fail the example again: shrink what did fail, here.
                failure = shrunk_failure(failure, make_session)
            result.failure = failure
        else:
            raise
    result.seconds = time.monotonic() - started
    return result


def _escaped(
    escaped: TargetFailed,
    exploration: Exploration,
    result: CampaignResult,
    make_session: Callable[[int], Session],
) -> Failure:
    """The exploration ended on a crash or a target failure: the crash is the failure
    (shrunk); a target failure is raised as it is (exit 3), unless it came while Hypothesis
    shrank a failure already found, which is then the one reported."""
    error = escaped.error
    crashed = isinstance(error, TargetCrashed)
    session = escaped.session if crashed else exploration.failed
    if crashed:
        result.crash = str(error)
        if session is None:  # it crashed as it started: no step to shrink
            return Failure(str(error), [], Meta("qemu"), [], [])
    if session is None:
        raise error from None
    return shrunk_failure(_failure(session, str(error)), make_session)


def _failure(session: Session, message: str) -> Failure:
    """The failure of a session: its records and the divergences it does not accept."""
    seen = list(session.divergences)
    return Failure(message, session.records, session.meta, list(session.unaccepted), seen)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
