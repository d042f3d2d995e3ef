"""The planned coverage tour that runs before Hypothesis explores.

For every job kind the campaign drives and every status in which a job of
that kind can rest, the tour brings fresh jobs to that status along the
shortest plan of :mod:`jobcheck.model.plan` and sends every verb there, in
both command families (``block-job-cancel`` both soft and forced).  A verb
that moves the job on ends that job's turn; the remaining verbs get a fresh
job.  Then every plannable transition not yet seen is driven once.  A few
*probes* — short scripted runs — reach what no cell reaches by itself: first
a backup created by a transaction that aborts, so that it goes from
``created`` straight to ``aborting``; at the end, finalizing one member of a
grouped transaction, the ``error`` member of a cancelled and of a failed job,
and job-complete sent right behind a soft cancel (repeated until it lands in
its window, if it can).  So one tour reaches every reachable verb × status
cell and transition, which random exploration alone reaches only slowly.

The tour runs on one target through a :class:`~jobcheck.conformance.campaign.session.Session`,
so the oracle checks it step by step like any other run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jobcheck.conformance.campaign.coverage import BLOCK_ONLY_VERBS, CAMPAIGN_KINDS
from jobcheck.conformance.campaign.progress import Reporter
from jobcheck.conformance.campaign.results import Accept, CampaignResult, Failure
from jobcheck.conformance.campaign.session import CrashFound, Session, StepFailed, TargetFactory
from jobcheck.conformance.campaign.shrink import fresh_sessions, shrunk_failure
from jobcheck.conformance.errors import TargetCrashed
from jobcheck.conformance.trace.records import Meta
from jobcheck.model.causes import Cause
from jobcheck.model.graph import executable_statuses, lifecycle_graph, plan_edge, plan_status
from jobcheck.model.kinds import JobKind, JobSetup
from jobcheck.model.lifecycle import Model, Status, Verb

Step = dict[str, Any]
#: (family, verb, extra step fields) — the verb tries in one status.
Try = tuple[str, Verb, dict[str, Any]]

_MAX_JOBS_PER_STATUS = 24
"""A bound on fresh jobs per (kind, status), in case a target never rests there."""


class _Ids:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"t{self.count}"


_PROBES = 6
"""Probes of the tour: the aborted transaction, the finalize, two error-field probes and two
complete-after-cancel probes (see :func:`_probe_tour`)."""


def tour_units(model: Model) -> int:
    """How many units the tour has, for its progress: one per verb try of the cell tour
    (where nearly all of its time goes: a try is a step, and a fresh job every few), one per
    transition the edge tour considers (most are seen already and cost nothing), one per
    probe."""
    units = _PROBES
    for kind in CAMPAIGN_KINDS:
        if kind.job_type not in model.job_types:
            continue
        units += sum(len(tries(model, kind, s)) for s in executable_statuses(model, kind))
        units += sum(1 for a, b in lifecycle_graph(model, kind).edges() if a is not b)
    return units


class _Units:
    """Units of the tour done so far (see :func:`tour_units`)."""

    def __init__(self) -> None:
        self.done = 0


def _spec(setup: JobSetup, job_id: str) -> dict[str, Any]:
    return {
        "type": setup.kind.job_type.value,
        "id": job_id,
        "auto-finalize": setup.auto_finalize,
        "auto-dismiss": setup.auto_dismiss,
        "variant": setup.kind.variant,
        "on-error": setup.on_error,
    }


def plan_steps(plan: list[Cause], ids: _Ids) -> tuple[str, list[Step]]:
    """Driver steps for a plan of causes; returns the planned job's id and the steps."""
    steps: list[Step] = []
    job = ""
    for cause in plan:
        if cause.name == "start":
            assert cause.setup is not None
            job = ids()
            jobs = [_spec(cause.setup, job)]
            if cause.setup.grouped:
                jobs.append(_spec(JobSetup(JobKind.BACKUP), ids()))
            steps.append({"op": "start", "jobs": jobs, "grouped": cause.setup.grouped})
        elif cause.kind == "internal":
            steps.append({"op": cause.name, "job": job})
        else:
            assert cause.verb is not None
            step: Step = {"op": "verb", "job": job, "verb": cause.verb.value, "family": "job"}
            if cause.name == "soft":
                step.update(family="block-job", force=False)
            elif cause.verb is Verb.SET_SPEED:
                step.update(family="block-job", speed=0)
            steps.append(step)
    return job, steps


def tries(model: Model, kind: JobKind, status: Status) -> list[Try]:
    """Every verb try in ``status``: those the table forbids first (they leave the job be)."""
    out: list[Try] = []
    # Non-block jobs (create, amend) get block-job-* verbs too: QEMU answers them
    # DeviceNotActive, which rule block-job.device-not-active is about.
    for family in ("job", "block-job"):
        for verb in model.verbs:
            if family == "job" and verb in BLOCK_ONLY_VERBS:
                continue
            if family == "block-job" and verb is Verb.CANCEL:
                out.append((family, verb, {"force": False}))
                out.append((family, verb, {"force": True}))
            elif verb is Verb.SET_SPEED:
                out.append((family, verb, {"speed": 1}))
                out.append((family, verb, {"speed": 0}))
            else:
                out.append((family, verb, {}))
    out.sort(key=lambda t: model.permits(t[1], status))
    return out


def _cleanup(session: Session, job: str) -> None:
    """Cancel a job the tour is done with, unless it already ended."""
    if session.status.get(job) in (None, "null"):
        return
    if session.status.get(job) == "concluded":
        session.step({"op": "verb", "job": job, "verb": "dismiss", "family": "job"})
    else:
        session.step({"op": "verb", "job": job, "verb": "cancel", "family": "job"})
        if session.status.get(job) == "concluded":
            session.step({"op": "verb", "job": job, "verb": "dismiss", "family": "job"})


def _cleanup_started(session: Session, steps: list[Step]) -> None:
    """Clean up every job the steps started, in the order they were started."""
    for step in steps:
        if step["op"] == "start":
            for spec in step["jobs"]:
                _cleanup(session, str(spec["id"]))


def _cell_tour(session: Session, model: Model, ids: _Ids, units: _Units) -> Iterator[None]:
    for kind in CAMPAIGN_KINDS:
        if kind.job_type not in model.job_types:
            continue
        for status in sorted(executable_statuses(model, kind), key=list(Status).index):
            plan = plan_status(model, status, kind)
            remaining = tries(model, kind, status)
            done = units.done + len(remaining)
            for _ in range(_MAX_JOBS_PER_STATUS):
                if not remaining:
                    break
                job, steps = plan_steps(plan, ids)
                for step in [*steps, {"op": "query"}]:
                    session.step(step)
                    yield
                while remaining and session.status.get(job) == status.value:
                    family, verb, extra = remaining.pop(0)
                    units.done += 1
                    session.step(
                        {"op": "verb", "job": job, "verb": verb.value, "family": family, **extra}
                    )
                    yield
                _cleanup_started(session, steps)
            units.done = done  # tries a status never reached count as done


def _edge_tour(session: Session, model: Model, ids: _Ids, units: _Units) -> Iterator[None]:
    for kind in CAMPAIGN_KINDS:
        if kind.job_type not in model.job_types:
            continue
        for source, target in sorted(lifecycle_graph(model, kind).edges(), key=str):
            if source is target:
                continue
            units.done += 1
            if (source, target) in session.result.coverage.all_transitions():
                continue
            try:
                plan = plan_edge(model, source, target, kind)
            except ValueError:
                continue
            _, steps = plan_steps(plan, ids)
            yield from _run_probe(session, steps)


def _finalize_probe(ids: _Ids) -> list[Step]:
    """job-finalize.whole-transaction: finalizing one member finalizes every member."""
    a, b = ids(), ids()
    group = [
        _spec(JobSetup(JobKind.BACKUP, auto_finalize=False, auto_dismiss=False), job)
        for job in (a, b)
    ]
    return [
        {"op": "start", "jobs": group, "grouped": True},
        {"op": "release", "job": a},
        {"op": "release", "job": b},
        {"op": "verb", "job": b, "verb": "finalize", "family": "job"},
        {"op": "query"},
        {"op": "verb", "job": a, "verb": "dismiss", "family": "job"},
        {"op": "verb", "job": b, "verb": "dismiss", "family": "job"},
    ]


def _complete_probe(kind: JobKind, job: str) -> list[Step]:
    """job-complete.not-after-cancel: job-complete right behind a soft cancel of a READY job.

    Tried once per kind: on the simulator it meets the cancelled job; on a live QEMU the
    job has always concluded by the time the monitor reads the job-complete (even when
    both commands arrive in one write: docs/driving-qemu.md, 'A job-complete cannot meet
    a soft cancel'), so retrying it only cost time, and the rule is reported not
    exercised there."""
    return [
        {"op": "start", "jobs": [_spec(JobSetup(kind), job)], "grouped": False},
        {"op": "release", "job": job},
        {
            "op": "verb",
            "job": job,
            "verb": "cancel",
            "family": "block-job",
            "force": False,
            "settle": False,
        },
        {"op": "verb", "job": job, "verb": "complete", "family": "job"},
        {"op": "query"},
    ]


def _run_probe(session: Session, steps: list[Step]) -> Iterator[None]:
    """Run the steps, then clean up every job they started."""
    for step in steps:
        session.step(step)
        yield
    _cleanup_started(session, steps)


def _error_field_probes(ids: _Ids) -> list[list[Step]]:
    """job-info.error-iff-failed: a cancelled and a failed job, listed in concluded."""
    probes: list[list[Step]] = []
    for on_error in (None, "report"):
        job = ids()
        setup = JobSetup(JobKind.BACKUP, auto_dismiss=False, on_error=on_error)
        end: Step = (
            {"op": "verb", "job": job, "verb": "cancel", "family": "job"}
            if on_error is None
            else {"op": "release", "job": job}
        )
        probes.append(
            [
                {"op": "start", "jobs": [_spec(setup, job)], "grouped": False},
                end,
                {"op": "query"},
                {"op": "verb", "job": job, "verb": "dismiss", "family": "job"},
            ]
        )
    return probes


def _aborted_probe(ids: _Ids) -> list[Step]:
    """created → aborting: a backup created by a transaction that then aborts."""
    spec = _spec(JobSetup(JobKind.BACKUP), ids())
    return [{"op": "start", "jobs": [spec], "grouped": False, "aborted": True}, {"op": "query"}]


def _probe_tour(session: Session, model: Model, ids: _Ids, units: _Units) -> Iterator[None]:
    units.done += 1
    yield from _run_probe(session, _finalize_probe(ids))
    for probe in _error_field_probes(ids):
        units.done += 1
        yield from _run_probe(session, probe)
    for kind in (JobKind.MIRROR, JobKind.ACTIVE_COMMIT):
        units.done += 1
        yield from _run_probe(session, _complete_probe(kind, ids()))


def run_tour(
    make_target: TargetFactory,
    model: Model,
    accept: Accept,
    result: CampaignResult,
    meta_extra: dict[str, Any],
    *,
    seed: int = 0,
    progress: Reporter | None = None,
) -> Failure | None:
    """Run the tour on one fresh target; a :class:`Failure` if a step diverged (or QEMU
    crashed, as it started included).

    ``progress`` is told after each step how many units of the tour are done
    (:func:`tour_units`).
    """
    try:
        target = make_target(seed)
    except TargetCrashed as exc:
        result.crash = str(exc)
        return Failure(str(exc), [], Meta("qemu"), [], [])
    session = Session(target, model, accept, result, {**meta_extra, "tour": True})
    ids = _Ids()
    steps_before = result.steps
    units, total = _Units(), tour_units(model)
    try:
        # First the one transition no plan reaches (it takes a single command).
        units.done += 1
        parts = (
            _run_probe(session, _aborted_probe(ids)),
            _cell_tour(session, model, ids, units),
            _edge_tour(session, model, ids, units),
            _probe_tour(session, model, ids, units),
        )
        for part in parts:
            for _ in part:
                if progress is not None:
                    progress.tour(result, units.done - 1, total)
        session.finish()
    except StepFailed as exc:
        session.abandon()
        if isinstance(exc, CrashFound):
            result.crash = str(exc.error)
        new = [d for d in session.divergences if not accept(d)]
        failure = Failure(
            str(exc).splitlines()[0], session.records, session.meta, new, session.divergences
        )
        make_session = fresh_sessions(make_target, model, accept, meta_extra, seed)
        return shrunk_failure(failure, make_session)
    except BaseException:
        session.abandon()
        raise
    finally:
        result.tour_steps = result.steps - steps_before
    return None
