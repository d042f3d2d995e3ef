"""What a campaign observes per cell and per plan (campaign.observations), on crafted traces
and on the simulator: outcomes that do not depend on timing, and those kept apart that do."""

from __future__ import annotations

import json
from typing import Any

from jobcheck.conformance.campaign.observations import Observations, normalise, outcome_text
from jobcheck.conformance.campaign.run import run_campaign
from jobcheck.conformance.targets.sim import Simulator
from jobcheck.conformance.trace.records import (
    Command,
    Event,
    Note,
    QmpError,
    Record,
    Response,
)
from jobcheck.model.lifecycle import model_for


def _start(job: str, kind: str = "mirror") -> Note:
    return Note(f"start {kind} {job}", {"op": "start", "jobs": [{"type": kind, "id": job}]})


def _status(job: str, status: str) -> Event:
    return Event("JOB_STATUS_CHANGE", {"id": job, "status": status})


def _verb(job: str, verb: str, **extra: Any) -> Note:
    return Note(f"job-{verb} {job}", {"op": "verb", "job": job, "verb": verb, **extra})


def _watch(records: list[Record], *, tour: bool = True) -> Observations:
    seen = Observations()
    watcher = seen.watch(tour=tour)
    for record in records:
        watcher.feed(record)
    watcher.close()
    return seen


def _texts(seen: Observations, cell: tuple[str, str, str], racy: bool = False) -> list[str]:
    cells = seen.racy_cells if racy else seen.cells
    return sorted(outcome_text(o) for o in cells.get(cell, set()))


PAUSE = Command("job-pause", {"id": "t1"}, 5)


def test_an_accepted_verb_takes_every_event_of_its_step_before_or_after_the_return() -> None:
    before = [_start("t1"), _status("t1", "running"), _verb("t1", "pause"), PAUSE]
    event_first = _watch([*before, _status("t1", "paused"), Response(5, {})])
    return_first = _watch([*before, Response(5, {}), _status("t1", "paused")])
    assert event_first.cells == return_first.cells
    assert _texts(event_first, ("mirror", "job-pause", "running")) == ["accepted → paused"]


def test_refusals_keep_class_and_normalised_text() -> None:
    desc = "Job 't1' in state 'running' cannot accept command verb 'finalize'"
    seen = _watch(
        [
            _start("t1"),
            _status("t1", "running"),
            _verb("t1", "finalize"),
            Command("job-finalize", {"id": "t1"}, 7),
            Response(7, None, QmpError("GenericError", desc)),
        ]
    )
    assert _texts(seen, ("mirror", "job-finalize", "running")) == [
        "refused GenericError: Job 'JOB' in state 'running' cannot accept command verb 'finalize'"
    ]


def test_normalise_replaces_ids_node_names_and_paths() -> None:
    text = "Node 'jc-77-2-t3-src' of t3 busy at /tmp/jobcheck-qemu-ab12/t3.qcow2 (pid 4242)"
    assert normalise(text, ["t3"]) == "Node 'NODE' of JOB busy at PATH (pid N)"
    assert normalise("t31 and t3", ["t3"]) == "t31 and JOB"


def test_a_step_that_does_not_settle_makes_its_job_racy_from_then_on() -> None:
    seen = _watch(
        [
            _start("t1"),
            _status("t1", "ready"),
            Note("cancel", {"op": "verb", "job": "t1", "verb": "cancel", "settle": False}),
            Command("job-cancel", {"id": "t1"}, 1),
            Response(1, {}),
            _verb("t1", "complete"),
            Command("job-complete", {"id": "t1"}, 2),
            _status("t1", "waiting"),
            Response(2, None, QmpError("GenericError", "Job not found")),
        ]
    )
    assert not seen.cells
    assert set(seen.racy_cells) == {
        ("mirror", "job-cancel", "ready"),
        ("mirror", "job-complete", "ready"),
    }


def test_a_refusal_naming_another_status_is_racy() -> None:
    desc = "Job 't1' in state 'concluded' cannot accept command verb 'pause'"
    seen = _watch(
        [
            _start("t1"),
            _status("t1", "running"),
            _verb("t1", "pause"),
            Command("job-pause", {"id": "t1"}, 3),
            Response(3, None, QmpError("GenericError", desc)),
        ]
    )
    assert not seen.cells and ("mirror", "job-pause", "running") in seen.racy_cells


def test_a_timed_out_settle_taints_what_follows() -> None:
    seen = _watch(
        [
            _start("t1"),
            _status("t1", "running"),
            Note("settle: after 10 s these jobs are still moving: t1 (running)"),
            _verb("t1", "pause"),
            PAUSE,
            Response(5, {}),
        ]
    )
    assert not seen.cells and seen.racy_cells


def test_plans_end_at_the_query_and_number_their_jobs() -> None:
    seen = _watch(
        [
            _start("t7", "backup"),
            Command("blockdev-backup", {"job-id": "t7", "device": "s", "target": "d"}, 1),
            _status("t7", "created"),
            _status("t7", "running"),
            Response(1, {}),
            Note("query-jobs", {"op": "query"}),
            _verb("t7", "cancel"),
        ]
    )
    ((kind, steps), outcomes) = next(iter(seen.plans.items()))
    assert kind == "backup" and steps == ("start backup J1",)
    (outcome,) = outcomes
    assert json.loads(json.loads(outcome)[0]) == {
        "answers": ["ok"],
        "events": {"J1": ["created", "running"]},
    }


def test_exploration_cells_stay_apart_from_the_tour() -> None:
    records = [_start("j1"), _status("j1", "running"), _verb("j1", "pause"), PAUSE, Response(5, {})]
    seen = _watch(
        [
            r if not isinstance(r, Command) else Command("job-pause", {"id": "j1"}, 5)
            for r in records
        ],
        tour=False,
    )
    assert not seen.cells and seen.explored_cells
    assert seen.examples == 1 and len(seen.steps_digest) == 16


def test_query_jobs_members_and_commands_are_recorded() -> None:
    seen = _watch(
        [
            _start("t1", "backup"),
            _status("t1", "concluded"),
            Note("query-jobs", {"op": "query"}),
            Command("query-jobs", {}, 9),
            Response(
                9, [{"id": "t1", "type": "backup", "status": "concluded", "error": "t1 gone"}]
            ),
            Command("block-job-change", {"id": "t1"}, 10),
            Response(
                10,
                None,
                QmpError("CommandNotFound", "The command block-job-change has not been found"),
            ),
        ]
    )
    (fields,) = seen.query_fields[("backup", "concluded")]
    assert json.loads(fields) == {
        "members": ["error", "id", "status", "type"],
        "type": "backup",
        "error": "JOB gone",
    }
    assert seen.commands_not_found == {"block-job-change"}


def _sim_observations(mutant: str | None = None) -> dict[str, Any]:
    def make(seed: int) -> Simulator:
        return Simulator("7.2", seed=seed, mutant=mutant)

    result = run_campaign(make, model_for("7.2"), seed=3, examples=4, accept=lambda d: True)
    return result.observations.to_json()


def _outcomes(doc: dict[str, Any], cell: tuple[str, str, str]) -> list[Any]:
    return next(
        c["outcomes"] for c in doc["cells"] if (c["kind"], c["command"], c["status"]) == cell
    )


def test_the_simulator_tour_observes_every_goal_cell_the_same_way_twice() -> None:
    first, second = _sim_observations(), _sim_observations()
    assert first == second
    cells = {(c["kind"], c["command"], c["status"]) for c in first["cells"]}
    assert ("backup", "job-dismiss", "concluded") in cells
    assert _outcomes(first, ("mirror", "job-pause", "ready")) == [
        {"accepted": True, "statuses": ["standby"]}
    ]


def test_a_mutant_changes_what_is_observed() -> None:
    plain, mutant = _sim_observations(), _sim_observations("pause-in-ready-goes-paused")
    cell = ("mirror", "job-pause", "ready")
    assert _outcomes(plain, cell) != _outcomes(mutant, cell)
    assert {"accepted": True, "statuses": ["paused"]} in _outcomes(mutant, cell)


def test_observations_merge_as_sets() -> None:
    records = [_start("t1"), _status("t1", "running"), _verb("t1", "pause"), PAUSE, Response(5, {})]
    one, two = _watch(records), _watch(records)
    merged = Observations().merge(one).merge(two)
    assert merged.cells == one.cells


def test_a_drain_is_a_cell_and_other_jobs_are_bystanders() -> None:
    seen = _watch(
        [
            _start("j1"),
            _status("j1", "running"),
            Note("start backup j2", {"op": "start", "jobs": [{"type": "backup", "id": "j2"}]}),
            _status("j2", "running"),
            Note("drain j1", {"op": "drain", "job": "j1"}),
            Command("blockdev-reopen", {"options": []}, 4),
            _status("j1", "paused"),
            _status("j2", "paused"),
            _status("j2", "running"),
            _status("j1", "running"),
            Response(4, {}),
        ],
        tour=False,
    )
    assert sorted(
        outcome_text(o)
        for o in seen.explored_cells[("mirror", "drain (blockdev-reopen)", "running")]
    ) == ["accepted → paused, running · other jobs: paused, running"]
