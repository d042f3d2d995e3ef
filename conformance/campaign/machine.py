"""The Hypothesis stateful campaign: random, shrinking exploration of job lifecycles.

:class:`CampaignMachine` is a :class:`~hypothesis.stateful.RuleBasedStateMachine`
whose rules are the driver steps of :mod:`jobcheck.conformance.targets.base`:
start jobs of every kind (auto-finalize and auto-dismiss on and off, an I/O
error with the ``stop`` or ``report`` policy), grouped transactions of 2–3
backups, and transactions that abort; apply every verb, in both command
families, to live, finished and unknown job ids; release and hold progress;
drain; query; wait.  Each step runs through a
:class:`~jobcheck.conformance.campaign.session.Session`, whose oracle checks
the records as they arrive; a divergence that is not accepted (not a
catalogued documented-vs-implemented one, not in the baseline) fails the step,
and Hypothesis shrinks the run to a minimal one.  A QEMU crash or a target
failure is not Hypothesis' business: it ends the exploration at once
(:class:`TargetFailed`), and the campaign reports it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    multiple,
    precondition,
    rule,
)

from jobcheck.conformance.campaign.progress import Reporter
from jobcheck.conformance.campaign.results import Accept, CampaignResult
from jobcheck.conformance.campaign.session import CrashFound, Session, StepFailed, TargetFactory
from jobcheck.conformance.errors import TargetError
from jobcheck.model.lifecycle import Model, Verb

#: Job kinds the campaign starts: (type, commit variant).
KINDS: tuple[tuple[str, str | None], ...] = (
    ("mirror", None),
    ("backup", None),
    ("commit", "active"),
    ("commit", "intermediate"),
    ("stream", None),
    ("create", None),
)

#: Every job the ``start`` rule may start: (kind, auto-finalize, auto-dismiss, error policy),
#: drawn at once (one choice per step instead of four).  In product order, the simplest
#: first, so an example shrinks towards a plain mirror; no error policy three times in
#: five, ``stop`` and ``report`` once each.
START_SPECS: tuple[tuple[tuple[str, str | None], bool, bool, str | None], ...] = tuple(
    itertools.product(KINDS, (False, True), (False, True), (None, None, None, "stop", "report"))
)

#: Every (auto-finalize, auto-dismiss) list of the 2–3 backups of a grouped transaction,
#: drawn at once; the shortest and simplest first.
_FLAG_PAIRS: tuple[tuple[bool, bool], ...] = (
    (False, False),
    (False, True),
    (True, False),
    (True, True),
)
GROUP_FLAGS: tuple[tuple[tuple[bool, bool], ...], ...] = tuple(
    flags for size in (2, 3) for flags in itertools.product(_FLAG_PAIRS, repeat=size)
)

#: How a verb is sent: its command family, and force (block-job-cancel) or speed 0
#: (set-speed); drawn together with the verb (see :func:`_machine_class`).
HOWS: tuple[tuple[str, bool], ...] = (("job", False), ("block-job", False), ("block-job", True))

MAX_LIVE_JOBS = 4
"""At most this many jobs started per example and not yet finished (keeps QEMU light)."""


class TargetFailed(BaseException):
    """Ends the exploration at once, past Hypothesis: the target failed or crashed.

    Hypothesis takes an ``Exception`` for a failure of the example and replays
    the example on a fresh target to confirm and shrink it; a killed or stopped
    QEMU (or a racy crash) does not fail again there, and Hypothesis would
    call the failure flaky.  A ``BaseException`` goes straight through it.
    ``session`` is the session it happened in (its records end at the crash).
    """

    def __init__(self, error: TargetError, session: Session | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.session = session


class ExplorationStopped(BaseException):
    """Ends the exploration before its next example, past Hypothesis: the campaign has its
    failure already (the tour, run beside it, failed: see :attr:`Exploration.stop`)."""


@dataclass
class Exploration:
    """What the machines of one campaign share: how to open a session, and what they found.

    Hypothesis makes a fresh machine for every example (see :func:`machine_factory`);
    each one adds to the same :attr:`result` and leaves its session in :attr:`last`.
    """

    make_target: TargetFactory
    model: Model
    accept: Accept
    result: CampaignResult
    meta_extra: dict[str, Any]
    progress: Reporter | None = None
    """Told after each example (the ``run`` command's progress line)."""
    target_seed: int = 0
    """The seed of every example's target (the simulator's own randomness): the campaign's
    seed, so that an example's trace depends on its steps alone."""
    last: Session | None = None
    """The session of the example that ran last (after shrinking: the minimal one)."""
    failed: Session | None = None
    """The session of the example that failed last (the smallest failing one Hypothesis saw)."""
    escaped: TargetFailed | None = None
    """The target failure or crash that ended the exploration (whatever Hypothesis makes of
    it on the way out: it may see the example draw less than an earlier one with the same
    start, and raise its own error instead)."""
    failing: bool = False
    """An example has failed: every example after it is Hypothesis shrinking the failure."""
    stop: Callable[[], bool] | None = None
    """Asked before each example: ``True`` ends the exploration there
    (:class:`ExplorationStopped`)."""
    stopped: bool = False
    """:attr:`stop` ended the exploration (whatever Hypothesis makes of it on the way out,
    as for :attr:`escaped`)."""


class CampaignMachine(RuleBasedStateMachine):
    """Hypothesis rules over a :class:`Session`, one example of an :class:`Exploration`.

    The rule that sends verbs draws them from the model's verbs, so it is defined per
    model by :func:`machine_factory`; this class has every other rule.
    """

    jobs = Bundle("jobs")

    def __init__(self, exploration: Exploration) -> None:
        super().__init__()
        self.exploration = exploration
        self.session: Session | None = None
        self.counter = 0
        self.escaped = False
        exploration.last = None

    # -- setup -----------------------------------------------------------

    def open_target(self, target_seed: int) -> None:
        """Open the example's session on a target of its own (on a live QEMU, one that the
        example before left as clean as a fresh one:
        :mod:`~jobcheck.conformance.targets.qemu_pool`).

        Done by the example's first step (an example Hypothesis drops before its first
        step opens nothing), not by an ``initialize`` rule: Hypothesis builds the
        strategies of initialize rules anew for every example (on the simulator, about a
        tenth of the exploration's time); so the seed is not drawn either (see
        :attr:`Exploration.target_seed`).
        """
        e = self.exploration
        if e.stop is not None and e.stop():
            e.stopped = True
            raise ExplorationStopped()
        if e.failing:
            e.result.shrink_runs += 1
        else:
            e.result.examples += 1
        try:
            target = e.make_target(target_seed)
        except TargetError as exc:
            self._escape(exc)
        self.session = Session(target, e.model, e.accept, e.result, e.meta_extra)
        e.last = self.session

    def _run(self, step: dict[str, Any]) -> None:
        if self.session is None:
            self.open_target(self.exploration.target_seed)
        assert self.session is not None
        self._guarded(self.session.step, step)

    def _guarded(self, action: Callable[..., None], *args: Any) -> None:
        """Run ``action``: a divergence fails the example (Hypothesis shrinks it); a crash or
        a target failure ends the exploration (:class:`TargetFailed`).  Every example after
        a failure is Hypothesis shrinking it (:attr:`Exploration.failing`)."""
        try:
            action(*args)
        except CrashFound as exc:
            self._escape(exc.error)
        except StepFailed:
            self.exploration.failing = True
            self.exploration.failed = self.session
            raise
        except TargetError as exc:
            self._escape(exc)

    def _escape(self, error: TargetError) -> NoReturn:
        self.escaped = True
        self.exploration.failing = True
        escape = TargetFailed(error, self.session)
        if self.exploration.escaped is None:
            self.exploration.escaped = escape
        raise escape from error

    def _new_id(self) -> str:
        self.counter += 1
        return f"j{self.counter}"

    def _spec(
        self, kind: tuple[str, str | None], af: bool, ad: bool, on_error: str | None
    ) -> dict[str, Any]:
        job_type, variant = kind
        return {
            "type": job_type,
            "id": self._new_id(),
            "auto-finalize": af,
            "auto-dismiss": ad,
            "variant": variant,
            "on-error": on_error if job_type != "create" else None,
        }

    # -- rules -----------------------------------------------------------

    def live_jobs(self) -> int:
        """Jobs of this run that have not reached concluded or null."""
        return self.session.live_jobs() if self.session is not None else 0

    @precondition(lambda self: self.live_jobs() < MAX_LIVE_JOBS)
    @rule(target=jobs, job=st.sampled_from(START_SPECS))
    def start(self, job: tuple[tuple[str, str | None], bool, bool, str | None]) -> str:
        """Start one job: ``job`` is (kind, auto-finalize, auto-dismiss, error policy)."""
        spec = self._spec(*job)
        self._run({"op": "start", "jobs": [spec], "grouped": False})
        return str(spec["id"])

    @precondition(lambda self: self.live_jobs() + 2 <= MAX_LIVE_JOBS)
    @rule(target=jobs, flags=st.sampled_from(GROUP_FLAGS))
    def start_group(self, flags: tuple[tuple[bool, bool], ...]) -> Any:
        specs = [self._spec(("backup", None), af, ad, None) for af, ad in flags]
        self._run({"op": "start", "jobs": specs, "grouped": True})
        return multiple(*(str(s["id"]) for s in specs))

    @rule(count=st.integers(min_value=1, max_value=2))
    def start_aborted(self, count: int) -> None:
        """Backups created by a transaction that then aborts (they never run)."""
        specs = [self._spec(("backup", None), True, True, None) for _ in range(count)]
        self._run({"op": "start", "jobs": specs, "grouped": False, "aborted": True})

    def send_verb(self, job: str, verb: Verb, how: tuple[str, bool]) -> None:
        """``how``: the command family, and force (block-job-cancel) or speed 0 (set-speed)."""
        if verb not in self.exploration.model.verbs:
            raise ValueError(f"model {self.exploration.model.version} has no verb {verb.value!r}")
        family, force = how
        step: dict[str, Any] = {"op": "verb", "job": job, "verb": verb.value, "family": family}
        if verb is Verb.CANCEL and family == "block-job":
            step["force"] = force
        if verb is Verb.SET_SPEED:
            step["speed"] = 0 if force else 1
        self._run(step)

    @rule(job=jobs)
    def release(self, job: str) -> None:
        self._run({"op": "release", "job": job})

    @rule(job=jobs)
    def hold(self, job: str) -> None:
        self._run({"op": "hold", "job": job})

    @rule(job=jobs)
    def drain(self, job: str) -> None:
        self._run({"op": "drain", "job": job})

    @rule()
    def query(self) -> None:
        self._run({"op": "query"})

    @rule()
    def wait(self) -> None:
        self._run({"op": "wait"})

    def teardown(self) -> None:
        e = self.exploration
        try:
            if self.session is None:
                pass
            elif self.escaped:
                self.session.abandon()
            else:
                self._guarded(self.session.finish)
        finally:
            if e.progress is not None:
                e.progress.example(e.result, shrinking=e.failing)


def machine_factory(exploration: Exploration) -> Callable[[], CampaignMachine]:
    """What Hypothesis calls for each example: a fresh machine over ``exploration``."""
    cls = _machine_class(exploration.model.verbs)
    return lambda: cls(exploration)


@functools.cache
def _machine_class(verbs: tuple[Verb, ...]) -> type[CampaignMachine]:
    """The machine whose verb rule draws from ``verbs`` (one class per model's verb set)."""

    class Machine(CampaignMachine):
        @rule(
            job=st.one_of(CampaignMachine.jobs, st.just("nosuch")),
            call=st.sampled_from(tuple(itertools.product(verbs, HOWS))),
        )
        def verb(self, job: str, call: tuple[Verb, tuple[str, bool]]) -> None:
            """Send ``call``: (verb, how), see :meth:`CampaignMachine.send_verb`."""
            self.send_verb(job, *call)

    Machine.__name__ = Machine.__qualname__ = "Campaign"
    return Machine
