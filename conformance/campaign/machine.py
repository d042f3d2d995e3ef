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
and Hypothesis shrinks the run to a minimal one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    multiple,
    precondition,
    rule,
)

from jobcheck.conformance.campaign.results import Accept, CampaignResult
from jobcheck.conformance.campaign.session import Session, TargetFactory
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

MAX_LIVE_JOBS = 4
"""At most this many jobs started per example and not yet finished (keeps QEMU light)."""


class CampaignMachine(RuleBasedStateMachine):
    """Hypothesis rules over a :class:`Session`; configured by :func:`machine_class`."""

    make_target: TargetFactory
    model: Model
    accept: Accept
    result: CampaignResult
    meta_extra: dict[str, Any]
    on_progress: Callable[[CampaignResult], None] | None = None
    """Called after each example (the ``run`` command's progress line)."""
    last: Session | None = None

    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.session: Session | None = None
        self.counter = 0
        cls = type(self)
        cls.last = None

    # -- setup -----------------------------------------------------------

    @initialize(target_seed=st.integers(min_value=0, max_value=2**16))
    def open_target(self, target_seed: int) -> None:
        cls = type(self)
        cls.result.examples += 1
        self.session = Session(
            cls.make_target(target_seed), cls.model, cls.accept, cls.result, cls.meta_extra
        )
        cls.last = self.session

    def _run(self, step: dict[str, Any]) -> None:
        assert self.session is not None
        self.session.step(step)

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
    @rule(
        target=jobs,
        kind=st.sampled_from(KINDS),
        af=st.booleans(),
        ad=st.booleans(),
        on_error=st.sampled_from([None, None, None, "stop", "report"]),
    )
    def start(self, kind: tuple[str, str | None], af: bool, ad: bool, on_error: str | None) -> str:
        spec = self._spec(kind, af, ad, on_error)
        self._run({"op": "start", "jobs": [spec], "grouped": False})
        return str(spec["id"])

    @precondition(lambda self: self.live_jobs() + 2 <= MAX_LIVE_JOBS)
    @rule(
        target=jobs,
        flags=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=3),
    )
    def start_group(self, flags: list[tuple[bool, bool]]) -> Any:
        specs = [self._spec(("backup", None), af, ad, None) for af, ad in flags]
        self._run({"op": "start", "jobs": specs, "grouped": True})
        return multiple(*(str(s["id"]) for s in specs))

    @rule(count=st.integers(min_value=1, max_value=2))
    def start_aborted(self, count: int) -> None:
        """Backups created by a transaction that then aborts (they never run)."""
        specs = [self._spec(("backup", None), True, True, None) for _ in range(count)]
        self._run({"op": "start", "jobs": specs, "grouped": False, "aborted": True})

    @rule(
        job=st.one_of(jobs, st.just("nosuch")),
        verb=st.sampled_from(list(Verb)),
        how=st.sampled_from([("job", False), ("block-job", False), ("block-job", True)]),
    )
    def verb(self, job: str, verb: Verb, how: tuple[str, bool]) -> None:
        """``how``: the command family, and force (block-job-cancel) or speed 0 (set-speed)."""
        family, force = how
        if verb not in type(self).model.verbs:
            verb = Verb.CANCEL
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
        try:
            if self.session is not None:
                self.session.finish()
        finally:
            cls = type(self)
            if cls.on_progress is not None:
                cls.on_progress(cls.result)


def machine_class(
    make_target: TargetFactory,
    model: Model,
    accept: Accept,
    result: CampaignResult,
    meta_extra: dict[str, Any],
    on_progress: Callable[[CampaignResult], None] | None = None,
) -> type[CampaignMachine]:
    """A configured subclass of :class:`CampaignMachine` (class attributes hold the setup)."""
    return type(
        "Campaign",
        (CampaignMachine,),
        {
            "make_target": staticmethod(make_target),
            "model": model,
            "accept": staticmethod(accept),
            "result": result,
            "meta_extra": meta_extra,
            "on_progress": staticmethod(on_progress) if on_progress else None,
        },
    )
