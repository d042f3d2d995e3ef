"""Invariants of the lifecycle graphs, the edge causes, the planner and model diffs."""

from __future__ import annotations

import itertools

import pytest

from jobcheck.model.causes import EDGE_CAUSES, INTERNAL_CAUSES, Cause
from jobcheck.model.graph import (
    VISIBILITY,
    Visibility,
    can_reach_null,
    diff,
    edge_causes,
    executable_statuses,
    invisible_statuses,
    lifecycle_graph,
    maybe_invisible_statuses,
    plan_cell,
    plan_edge,
    plan_status,
    reachable,
    reachable_cells,
    terminal_statuses,
)
from jobcheck.model.kinds import (
    KIND_FEATURES,
    Feature,
    JobKind,
    kind_for,
    kinds_of,
    setups,
)
from jobcheck.model.lifecycle import BLOCK_JOB_TYPES, MODELS, TRANSITIONS, JobType, Model
from jobcheck.model.lifecycle import Status as S
from jobcheck.model.lifecycle import Verb as V
from jobcheck.model.plan import PLAN_CAUSES, JobState, effect, replay

ALL_MODELS = list(MODELS.values())
BY_VERSION = pytest.mark.parametrize("model", ALL_MODELS, ids=[m.version for m in ALL_MODELS])
EXECUTABLE = {S.RUNNING, S.PAUSED, S.READY, S.STANDBY, S.WAITING, S.PENDING, S.CONCLUDED, S.NULL}


def _edges(model: Model, job_type: JobType | JobKind | None = None) -> set[tuple[S, S]]:
    return {(a, b) for a, b, _ in lifecycle_graph(model, job_type).edges(keys=True)}


# -- the graph ---------------------------------------------------------------


@BY_VERSION
def test_every_transition_has_a_cause_and_no_cause_invents_one(model: Model) -> None:
    assert _edges(model) == set(model.transitions)
    assert {(ec.source, ec.target) for ec in EDGE_CAUSES} <= TRANSITIONS


@BY_VERSION
def test_visible_statuses_are_reachable_from_created(model: Model) -> None:
    visible = {s for s in model.statuses if VISIBILITY[s] is not Visibility.INVISIBLE}
    assert visible <= reachable(model)
    assert S.NULL in reachable(model)
    assert S.UNDEFINED not in reachable(model)


@BY_VERSION
def test_every_status_but_null_reaches_null(model: Model) -> None:
    for status in model.statuses:
        assert can_reach_null(model, status), status
    assert terminal_statuses(model) == {S.NULL}


@BY_VERSION
def test_edges_into_undefined_created_and_out_of_null(model: Model) -> None:
    edges = _edges(model)
    assert not [e for e in edges if e[1] is S.UNDEFINED]
    assert [e for e in edges if e[1] is S.CREATED] == [(S.UNDEFINED, S.CREATED)]
    assert not [e for e in edges if e[0] is S.NULL]


@BY_VERSION
def test_edge_attributes_are_sorted_causes(model: Model) -> None:
    graph = lifecycle_graph(model)
    for a, b, causes in graph.edges(data="causes"):
        assert causes, (a, b)
        assert list(causes) == sorted(causes, key=lambda c: c.sort_key)
        for cause in causes:
            assert cause.verb is None or model.permits(cause.verb, a), (a, b, cause)


def test_verb_causes_follow_the_verb_table() -> None:
    # cancel (soft) on ready→waiting and complete on ready→waiting exist everywhere;
    # no version's graph has a verb cause in a status its table forbids.
    m = MODELS["2.12"]
    assert {str(c) for c in edge_causes(m, S.READY, S.WAITING)} == {"complete", "cancel (soft)"}
    assert edge_causes(m, S.STANDBY, S.WAITING) == ()


@BY_VERSION
@pytest.mark.parametrize("job_type", [JobType.BACKUP, JobType.STREAM, JobKind.INTERMEDIATE_COMMIT])
def test_jobs_without_ready_phase_never_reach_ready_or_standby(
    model: Model, job_type: JobType | JobKind
) -> None:
    got = reachable(model, job_type)
    assert S.READY not in got and S.STANDBY not in got
    assert {S.RUNNING, S.PAUSED, S.WAITING, S.PENDING, S.CONCLUDED, S.NULL} <= got


@BY_VERSION
@pytest.mark.parametrize("job_type", [JobType.MIRROR, JobType.COMMIT, JobKind.ACTIVE_COMMIT])
def test_ready_phase_jobs_reach_ready_and_standby(
    model: Model, job_type: JobType | JobKind
) -> None:
    assert {S.READY, S.STANDBY} <= reachable(model, job_type)


@BY_VERSION
def test_jobs_without_pause_points_never_pause(model: Model) -> None:
    if JobType.CREATE not in model.job_types:
        assert reachable(model, JobType.CREATE) == frozenset()
        return
    got = reachable(model, JobType.CREATE)
    assert not got & {S.PAUSED, S.STANDBY, S.READY}
    # A create job has no speed to hold it by: it is in running only for the few
    # milliseconds its work takes, so no plan can leave it there (a verb may still land
    # there by chance, as docs/driving-qemu.md, 'Create jobs' says of job-pause).
    assert executable_statuses(model, JobType.CREATE) == {S.CONCLUDED, S.NULL}


def test_kind_features_are_consistent() -> None:
    assert set(KIND_FEATURES) == set(JobKind)
    for kind in JobKind:
        assert (Feature.BLOCK_JOB in kind.features) == (kind.job_type in BLOCK_JOB_TYPES)
        assert kind_for(kind.job_type, kind.variant) is kind
    assert [k.has_ready_phase for k in (JobKind.MIRROR, JobKind.ACTIVE_COMMIT)] == [True, True]
    assert kinds_of(MODELS["7.2"], JobType.COMMIT) == (
        JobKind.ACTIVE_COMMIT,
        JobKind.INTERMEDIATE_COMMIT,
    )
    with pytest.raises(ValueError):
        kind_for(JobType.MIRROR, "active")


def test_causes_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        Cause("internal", name="no-such-cause")
    with pytest.raises(ValueError):
        Cause("verb")
    assert all(c.label for c in INTERNAL_CAUSES.values())


# -- visibility and executable statuses ---------------------------------------


@BY_VERSION
def test_visibility(model: Model) -> None:
    assert invisible_statuses(model) == {S.UNDEFINED, S.NULL}
    assert maybe_invisible_statuses(model) == {S.WAITING, S.ABORTING}


@BY_VERSION
def test_executable_statuses(model: Model) -> None:
    got = executable_statuses(model)
    assert got == EXECUTABLE
    assert got == reachable(model) - {S.UNDEFINED, S.CREATED, S.ABORTING}
    union = set().union(*(executable_statuses(model, k) for k in kinds_of(model)))
    assert union == got


@BY_VERSION
def test_executable_statuses_per_kind(model: Model) -> None:
    for kind in kinds_of(model):
        got = executable_statuses(model, kind)
        assert got <= reachable(model, kind)
        assert (S.WAITING in got) == (kind is JobKind.BACKUP)
        assert (S.READY in got) == kind.has_ready_phase
        assert (S.PAUSED in got) == kind.has_pause_points


@BY_VERSION
def test_reachable_cells(model: Model) -> None:
    cells = reachable_cells(model)
    assert cells == {(v, s) for v in model.verbs for s in EXECUTABLE}
    backup = reachable_cells(model, JobType.BACKUP)
    assert (V.COMPLETE, S.READY) not in backup
    assert (V.CANCEL, S.WAITING) in backup


# -- plans ---------------------------------------------------------------------


def _check_replay(model: Model, plan: list[Cause], kind: JobKind | None) -> S:
    """Replay a plan; every hop must be an edge of the kind's graph, labelled by its cause."""
    start = plan[0]
    assert start.name == "start" and start.setup is not None
    if kind is not None:
        assert start.setup.kind is kind
    kind = start.setup.kind
    hops = list(replay(model, plan))
    assert hops[0][0] is S.UNDEFINED
    for (a, b, cause), nxt in zip(hops, [*hops[1:], None], strict=True):
        assert (a, b) in model.transitions, (a, b)
        assert cause.setup is None or cause.name == "start"
        bare = Cause(cause.kind, cause.verb, cause.name)
        assert bare in edge_causes(model, a, b, kind), (a, b, cause)
        if nxt is not None:
            assert nxt[0] is b
    return hops[-1][1]


@BY_VERSION
def test_plan_status_ends_in_its_target(model: Model) -> None:
    for kind in [None, *kinds_of(model)]:
        for status in executable_statuses(model, kind):
            plan = plan_status(model, status, kind)
            assert _check_replay(model, plan, kind) is status, (kind, status)


@BY_VERSION
def test_plan_cell_ends_with_the_verb_in_its_status(model: Model) -> None:
    for kind in [None, *kinds_of(model)]:
        for verb, status in sorted(reachable_cells(model, kind)):
            plan = plan_cell(model, verb, status, kind)
            assert plan[-1] == Cause("verb", verb)
            assert _check_replay(model, plan[:-1], kind) is status
            if model.permits(verb, status) and verb in (V.CANCEL, V.FINALIZE, V.DISMISS):
                # These verbs always act where the table permits them.
                _check_replay(model, plan, kind)


@BY_VERSION
def test_plans_are_shortest(model: Model) -> None:
    """No shorter sequence of plan causes rests in the status (brute force)."""
    starts = [Cause("internal", name="start", setup=s) for k in kinds_of(model) for s in setups(k)]
    for status in EXECUTABLE:
        plan = plan_status(model, status)
        for length in range(1, len(plan)):
            for first in starts:
                for rest in itertools.product(PLAN_CAUSES, repeat=length - 1):
                    state: JobState | None = JobState(S.UNDEFINED)
                    for cause in (first, *rest):
                        assert state is not None
                        result = effect(model, state, cause)
                        state = None if result is None else result[1]
                        if state is None:
                            break
                    assert state is None or state.status is not status, (status, first, rest)


def test_plans_for_statuses_no_job_rests_in() -> None:
    m = MODELS["7.2"]
    for status in (S.UNDEFINED, S.CREATED, S.ABORTING):
        with pytest.raises(ValueError, match=status.value):
            plan_status(m, status)
    with pytest.raises(ValueError):
        plan_status(m, S.READY, JobType.BACKUP)
    with pytest.raises(ValueError, match="change"):
        plan_cell(m, V.CHANGE, S.RUNNING)
    assert plan_cell(MODELS["8.2"], V.CHANGE, S.RUNNING)[-1] == Cause("verb", V.CHANGE)


@BY_VERSION
def test_plan_edge_makes_its_edge(model: Model) -> None:
    planned = set()
    for a, b in sorted(model.transitions):
        try:
            plan = plan_edge(model, a, b)
        except ValueError:
            continue
        planned.add((a, b))
        _check_replay(model, plan, None)
        last = list(replay(model, plan[:-1])), list(replay(model, plan))
        assert (a, b) in [h[:2] for h in last[1][len(last[0]) :]]
    # Only edges with no driver-controlled cause are left out.
    assert set(model.transitions) - planned == {
        (S.CREATED, S.ABORTING),
        (S.CREATED, S.NULL),
        (S.ABORTING, S.ABORTING),
    }


@BY_VERSION
def test_every_driver_action_stays_on_labelled_edges(model: Model) -> None:
    """Exhaustively: from every rest of every setup, every plan cause makes labelled edges."""
    for kind in kinds_of(model):
        rests = executable_statuses(model, kind)
        for setup in setups(kind):
            first = effect(
                model, JobState(S.UNDEFINED), Cause("internal", name="start", setup=setup)
            )
            assert first is not None
            todo, seen = [first[1]], {first[1]}
            while todo:
                state = todo.pop()
                assert state.status in rests, (setup, state)
                for cause in PLAN_CAUSES:
                    result = effect(model, state, cause)
                    if result is None:
                        continue
                    hops, after = result
                    assert hops[0][0] is state.status
                    for (a, b, c), nxt in zip(hops, [*hops[1:], None], strict=True):
                        assert c in edge_causes(model, a, b, kind), (setup, a, b, c)
                        assert nxt is None or nxt[0] is b
                    if after not in seen:
                        seen.add(after)
                        todo.append(after)


# -- diffs ---------------------------------------------------------------------


def test_diff_5_2_to_6_0_adds_complete_in_standby() -> None:
    d = diff(MODELS["5.2"], MODELS["6.0"])
    assert (d.old, d.new) == ("5.2", "6.0")
    assert d.added_cells == {(V.COMPLETE, S.STANDBY)}
    assert not (d.removed_cells or d.added_transitions or d.removed_transitions)
    assert d.added_verbs == () and d.removed_verbs == ()
    assert d.added_job_types == (
        JobType.SNAPSHOT_LOAD,
        JobType.SNAPSHOT_SAVE,
        JobType.SNAPSHOT_DELETE,
    )
    assert d.lifecycle_changed


def test_diff_7_2_to_8_2_adds_change() -> None:
    d = diff(MODELS["7.2"], MODELS["8.2"])
    assert d.added_verbs == (V.CHANGE,)
    assert d.added_cells == {
        (V.CHANGE, s) for s in (S.CREATED, S.RUNNING, S.PAUSED, S.READY, S.STANDBY)
    }
    assert not d.removed_cells and not d.added_job_types


def test_diff_is_antisymmetric_and_empty_on_itself() -> None:
    for a, b in itertools.pairwise(ALL_MODELS):
        forward, backward = diff(a, b), diff(b, a)
        assert forward.added_cells == backward.removed_cells
        assert forward.added_verbs == backward.removed_verbs
        assert forward.added_job_types == backward.removed_job_types
        assert diff(a, a).empty
    changed = [(a.version, b.version) for a, b in itertools.pairwise(ALL_MODELS)]
    changed = [p for p in changed if diff(MODELS[p[0]], MODELS[p[1]]).lifecycle_changed]
    assert changed == [("5.2", "6.0"), ("7.2", "8.2")]
