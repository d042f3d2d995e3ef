"""Coverage planning: the shortest sequence of driver actions that reaches a status or cell.

The campaign's planned tour first drives every reachable verb × status cell.
To get a job into a status it needs a *plan*: a list of
:class:`~jobcheck.model.causes.Cause` values, each one a driver step:

* ``internal("start", setup)`` — start a held job of ``setup.kind`` with the
  setup's options (for ``grouped``: in a grouped transaction with a second,
  held backup job);
* ``internal("release")`` — let the job work (``block-job-set-speed 0``); a job
  that cannot be held (no speed: create, amend) works on its own from its start,
  so it never rests in running;
* ``internal("drain")`` — a drained section (the job pauses and returns);
* ``verb(v)`` — send ``job-<v>`` (or ``block-job-<v>``).

:func:`effect` says what one cause does to a job at rest: the transitions it
passes through, each labelled by the cause that :mod:`jobcheck.model.causes`
gives that edge, until the job rests again.  A job *rests* where it stays until
the driver acts: running (held: block jobs only), paused, ready, standby, waiting (grouped, its
partner held), pending (auto-finalize=false), concluded (auto-dismiss=false),
null.  Only resting statuses can be planned; a job never rests in undefined,
created or aborting.

The planner is a breadth-first search over (status, setup) pairs, with the
causes tried in a fixed order, so plans are shortest and deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from jobcheck.model.causes import Cause, internal
from jobcheck.model.causes import verb as verb_cause
from jobcheck.model.kinds import Feature, JobKind, JobSetup, kinds_of, setups
from jobcheck.model.lifecycle import JobType, Model, Status, Verb

S = Status

Hop = tuple[Status, Status, Cause]
"""One transition of a job, with the cause that labels it."""


@dataclass(frozen=True)
class JobState:
    """A job at rest, as far as planning needs it."""

    status: Status
    setup: JobSetup | None = None
    """``None`` before the job is started (status undefined)."""
    failed: bool = False
    """The job's injected I/O error has happened (only cancel, finalize, dismiss plan on)."""


#: The driver causes a plan is made of, in the order the search tries them.
PLAN_CAUSES: tuple[Cause, ...] = (
    internal("release"),
    verb_cause(Verb.PAUSE),
    verb_cause(Verb.RESUME),
    verb_cause(Verb.COMPLETE),
    verb_cause(Verb.FINALIZE),
    verb_cause(Verb.DISMISS),
    verb_cause(Verb.CANCEL),
    internal("drain"),
)


def _settle(setup: JobSetup, status: Status) -> list[Hop]:
    """The transitions a job makes by itself from ``status`` until it rests."""
    hops: list[Hop] = []
    while True:
        if status is S.WAITING and not setup.grouped:
            step = (S.PENDING, internal("txn-converged"))
        elif status is S.PENDING and setup.auto_finalize:
            step = (S.CONCLUDED, internal("auto-finalize"))
        elif status is S.ABORTING:
            step = (S.CONCLUDED, internal("abort-done"))
        elif status is S.CONCLUDED and setup.auto_dismiss:
            step = (S.NULL, internal("auto-dismiss"))
        else:
            return hops
        hops.append((status, step[0], step[1]))
        status = step[0]


_PAUSED_OF = {S.RUNNING: S.PAUSED, S.READY: S.STANDBY}
_RESUMED_OF = {S.PAUSED: S.RUNNING, S.STANDBY: S.READY}


def _direct(model: Model, state: JobState, cause: Cause) -> list[Hop] | None:
    """The transitions ``cause`` itself makes, before the job settles; ``None``: no effect."""
    setup, status = state.setup, state.status
    if cause.name == "start":
        if status is not S.UNDEFINED or cause.setup is None:
            return None
        started: list[Hop] = [(S.UNDEFINED, S.CREATED, cause), (S.CREATED, S.RUNNING, cause)]
        if Feature.BLOCK_JOB not in cause.setup.kind.features:
            # No speed to hold it by: the job works at once (a create job of a small
            # image is done within milliseconds), so it never rests in running.
            started.append((S.RUNNING, S.WAITING, internal("work-done")))
        return started
    if setup is None:
        return None
    features = setup.kind.features
    if state.failed and cause.verb not in (Verb.CANCEL, Verb.FINALIZE, Verb.DISMISS):
        return None
    if cause.kind == "internal":
        if cause.name == "release" and status is S.RUNNING:
            if setup.on_error == "stop":
                return [(S.RUNNING, S.PAUSED, internal("error-stop"))]
            if setup.on_error == "report":
                return [(S.RUNNING, S.ABORTING, internal("error"))]
            if Feature.READY_PHASE in features:
                return [(S.RUNNING, S.READY, internal("ready"))]
            return [(S.RUNNING, S.WAITING, internal("work-done"))]
        if cause.name == "drain" and status in _PAUSED_OF and Feature.PAUSE_POINTS in features:
            parked = _PAUSED_OF[status]
            return [(status, parked, internal("drain")), (parked, status, internal("drain-end"))]
        return None
    assert cause.verb is not None
    if not model.permits(cause.verb, status):
        return None
    if cause.verb is Verb.PAUSE and status in _PAUSED_OF and Feature.PAUSE_POINTS in features:
        return [(status, _PAUSED_OF[status], cause)]
    if cause.verb is Verb.RESUME and status in _RESUMED_OF:
        return [(status, _RESUMED_OF[status], cause)]
    if cause.verb is Verb.COMPLETE and status is S.READY:
        return [(S.READY, S.WAITING, cause)]
    if cause.verb is Verb.FINALIZE and status is S.PENDING:
        return [(S.PENDING, S.CONCLUDED, cause)]
    if cause.verb is Verb.DISMISS and status is S.CONCLUDED:
        return [(S.CONCLUDED, S.NULL, cause)]
    if cause.verb is Verb.CANCEL:
        hops: list[Hop] = []
        if status in _RESUMED_OF:  # cancelling a paused job resumes it first
            hops.append((status, _RESUMED_OF[status], cause))
            status = _RESUMED_OF[status]
        return [*hops, (status, S.ABORTING, cause)]
    return None


def effect(model: Model, state: JobState, cause: Cause) -> tuple[list[Hop], JobState] | None:
    """What ``cause`` does to a job at rest in ``state``: its transitions and the new rest.

    ``None`` when the cause is refused or changes nothing (pausing a paused
    job, completing in standby, releasing a paused job, …).
    """
    hops = _direct(model, state, cause)
    if hops is None:
        return None
    setup = cause.setup if cause.name == "start" else state.setup
    assert setup is not None
    last = hops[-1][1]
    hops += _settle(setup, last)
    failed = state.failed or any(c.name in ("error", "error-stop") for _, _, c in hops)
    return hops, JobState(hops[-1][1], setup, failed)


def _search(
    model: Model,
    job_type: JobType | JobKind | None,
    goal: Callable[[JobState, list[Hop]], bool],
) -> list[Cause] | None:
    start = JobState(S.UNDEFINED)
    starts = [internal("start", s) for k in kinds_of(model, job_type) for s in setups(k)]
    queue: deque[tuple[JobState, list[Cause]]] = deque([(start, [])])
    seen = {start}
    while queue:
        state, plan = queue.popleft()
        for cause in starts if state.setup is None else PLAN_CAUSES:
            result = effect(model, state, cause)
            if result is None:
                continue
            hops, after = result
            if goal(after, hops):
                return [*plan, cause]
            if after not in seen:
                seen.add(after)
                queue.append((after, [*plan, cause]))
    return None


def resting_statuses(model: Model, job_type: JobType | JobKind | None = None) -> frozenset[Status]:
    """Every status in which some plan leaves a job of ``job_type`` at rest."""
    found: set[Status] = set()

    def note(state: JobState, _: list[Hop]) -> bool:
        found.add(state.status)
        return False

    _search(model, job_type, note)
    return frozenset(found)


def replay(model: Model, plan: list[Cause]) -> Iterator[Hop]:
    """The transitions a plan makes, cause by cause; ``ValueError`` if a cause has no effect."""
    state = JobState(S.UNDEFINED)
    for cause in plan:
        result = effect(model, state, cause)
        if result is None:
            raise ValueError(f"{cause} has no effect in {state.status.value}")
        hops, state = result
        yield from hops


def plan_status(
    model: Model, status: Status, job_type: JobType | JobKind | None = None
) -> list[Cause]:
    """The shortest plan after which a job (of ``job_type``) rests in ``status``.

    Raises ``ValueError`` when no job of that type can rest there.
    """
    plan = _search(model, job_type, lambda state, _: state.status is status)
    if plan is None:
        raise ValueError(_nothing(model, f"rests in {status.value}", job_type))
    return plan


def plan_cell(
    model: Model, verb: Verb, status: Status, job_type: JobType | JobKind | None = None
) -> list[Cause]:
    """The shortest plan that sends ``verb`` to a job resting in ``status``.

    It is :func:`plan_status` followed by the verb.  Raises ``ValueError``
    when the model version has no such verb or no job can rest in ``status``.
    """
    if verb not in model.verbs:
        raise ValueError(f"QEMU {model.version} has no verb {verb.value!r}")
    return [*plan_status(model, status, job_type), verb_cause(verb)]


def plan_edge(
    model: Model, source: Status, target: Status, job_type: JobType | JobKind | None = None
) -> list[Cause]:
    """The shortest plan whose last cause makes the transition ``source`` → ``target``.

    Raises ``ValueError`` for an edge that no plan makes (an internal cause no
    driver controls, such as ``setup failed``, or not an edge at all).
    """
    plan = _search(model, job_type, lambda _, hops: any(h[:2] == (source, target) for h in hops))
    if plan is None:
        raise ValueError(_nothing(model, f"makes {source.value} → {target.value}", job_type))
    return plan


def _nothing(model: Model, what: str, job_type: JobType | JobKind | None) -> str:
    whose = f"{job_type.value} job" if job_type is not None else "job"
    return f"no plan {what} for a {whose} in QEMU {model.version}"
