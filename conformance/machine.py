"""The Hypothesis stateful campaign: random, shrinking exploration of job lifecycles.

:class:`CampaignMachine` is a :class:`~hypothesis.stateful.RuleBasedStateMachine`
whose rules are the driver steps of :mod:`jobcheck.conformance.targets.base`:
start jobs of every kind (auto-finalize and auto-dismiss on and off, an I/O
error with the ``stop`` or ``report`` policy), grouped transactions of 2–3
backups, and transactions that abort; apply every verb, in both command
families, to live, finished and unknown job ids; release and hold progress;
drain; query; wait.  After every step the records the target produced go
through the oracle; a divergence that
is not accepted (not a catalogued documented-vs-implemented one, not in the
baseline) fails the step, and Hypothesis shrinks the run to a minimal one.

:func:`run_campaign` runs the planned tour (:mod:`jobcheck.conformance.tour`)
first, then the exploration, and returns a :class:`CampaignResult` with the
coverage, every divergence seen, and — on failure — the minimal failing trace
with its readable steps and the seed that reproduces it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    multiple,
    precondition,
    rule,
)

from jobcheck.conformance.coverage import Coverage
from jobcheck.conformance.errors import TargetError
from jobcheck.conformance.oracle import Divergence, Oracle
from jobcheck.conformance.targets.base import Target, step_jobs
from jobcheck.conformance.trace import Command, Event, Meta, Note, Record, Response
from jobcheck.model.lifecycle import Model, Verb

TargetFactory = Callable[[int], Target]
"""Makes a fresh target; the argument is a seed for the target's own randomness."""
Accept = Callable[[Divergence], bool]

#: Job kinds the campaign starts: (type, commit variant).
KINDS: tuple[tuple[str, str | None], ...] = (
    ("mirror", None),
    ("backup", None),
    ("commit", "active"),
    ("commit", "intermediate"),
    ("stream", None),
    ("create", None),
)

PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"examples": 30, "steps": 25},
    "thorough": {"examples": 500, "steps": 60},
}
"""Campaign profiles: ``ci`` is fast and derandomized; ``thorough`` is for nightly gates."""

MAX_LIVE_JOBS = 4
"""At most this many jobs started per example and not yet finished (keeps QEMU light)."""


def accept_known(divergence: Divergence) -> bool:
    """The default acceptance: catalogued documented-vs-implemented divergences pass."""
    return divergence.known


@dataclass
class Failure:
    """The minimal failing run, as Hypothesis shrank it."""

    message: str
    records: list[Record]
    meta: Meta
    divergences: list[Divergence]

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
    steps: int = 0
    seconds: float = 0.0
    tour_steps: int = 0
    tour_seconds: float = 0.0
    samples: dict[tuple[str, str, str], Sample] = field(default_factory=dict)
    """The first occurrence of each (rule, expected, observed), as a short trace."""

    def merge(self, other: CampaignResult) -> CampaignResult:
        for key, sample in other.samples.items():
            self.samples.setdefault(key, sample)
        self.coverage.merge(other.coverage)
        self.divergences.extend(other.divergences)
        self.failure = self.failure or other.failure
        self.crash = self.crash or other.crash
        self.examples += other.examples
        self.steps += other.steps
        self.seconds = max(self.seconds, other.seconds)
        self.tour_steps += other.tour_steps
        self.tour_seconds = max(self.tour_seconds, other.tour_seconds)
        return self


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

    def step(self, step: dict[str, Any]) -> None:
        """Run one step, settle, check what came back; raise :class:`StepFailed` if needed."""
        try:
            self.target.apply(step)
            if step.get("op") != "wait" and step.get("settle", True):
                self.target.settle()
        finally:
            self._absorb()
        self.result.steps += 1
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
    on_progress: Callable[[CampaignResult], None] | None = None,
) -> CampaignResult:
    """The planned tour, then Hypothesis exploration; see the module docstring."""
    from jobcheck.conformance.tour import run_tour

    result = CampaignResult()
    extra = {"seed": seed, "profile": profile, **(meta_extra or {})}
    started = time.monotonic()
    if tour:
        tour_failure = run_tour(make_target, model, accept, result, extra, seed=seed)
        result.tour_seconds = time.monotonic() - started
        if tour_failure is not None:
            result.failure = tour_failure
            result.seconds = time.monotonic() - started
            return result
    if examples == 0:
        result.seconds = time.monotonic() - started
        return result
    cls = machine_class(make_target, model, accept, result, extra, on_progress)
    test = hypothesis_seed(seed)(
        get_state_machine_test(cls, settings=campaign_settings(profile, examples, steps))
    )
    try:
        test()
    except (StepFailed, AssertionError, Flaky) as exc:
        session = cls.last
        records = session.records if session else []
        divergences = [d for d in (session.divergences if session else []) if not accept(d)]
        meta = session.meta if session else Meta("?")
        result.failure = Failure(_first_line(exc), records, meta, divergences)
    except TargetError as exc:
        session = cls.last
        if session is None or not is_crash(exc):
            raise
        result.crash = str(exc)
        result.failure = Failure(str(exc), session.records, session.meta, [])
    result.seconds = time.monotonic() - started
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_crash(exc: BaseException) -> bool:
    """Whether a target failure is QEMU crashing (a finding), not just QEMU failing."""
    from jobcheck.conformance.targets.qemu_process import QemuCrashed

    return isinstance(exc, QemuCrashed)


def iter_failure_lines(result: CampaignResult, seed: int) -> Iterator[str]:
    """The readable account of a failure: the steps, the divergences, how to reproduce."""
    failure = result.failure
    if failure is None:
        return
    yield f"minimal failing run ({len(failure.steps())} steps, seed {seed}):"
    for number, text in enumerate(failure.steps(), start=1):
        yield f"  {number:3d}. {text}"
    for divergence in failure.divergences:
        yield f"  -> {divergence.rule}: {divergence.message}"
