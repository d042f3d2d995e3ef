"""The campaign end to end on the simulator: coverage, mutants caught, shrinking, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jobcheck.conformance.campaign.coverage import Coverage, coverage_summary, goals
from jobcheck.conformance.campaign.machine import Exploration, machine_factory
from jobcheck.conformance.campaign.results import CampaignResult, accept_known
from jobcheck.conformance.campaign.run import run_campaign
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.targets.select import TargetChoice
from jobcheck.conformance.targets.sim_mutants import MUTANTS
from jobcheck.conformance.trace.records import read_jsonl
from jobcheck.model.lifecycle import Verb, model_for


def _campaign(version: str, mutant: str | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    choice = TargetChoice("sim", model=version, mutant=mutant)
    return run_campaign(choice.make, model_for(version), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["7.2", "latest"])
def test_plain_simulator_conforms_with_full_coverage(version: str) -> None:
    model = model_for(version)
    result = _campaign(version, seed=1, examples=15, steps=20)
    assert result.failure is None, result.failure and result.failure.message
    summary = coverage_summary(result.coverage, model)
    assert summary["transitions"]["missing"] == []
    assert summary["cells"]["missing"] == []
    assert summary["transitions"]["reached"] == summary["transitions"]["goal"] > 10
    assert summary["cells"]["reached"] == summary["cells"]["goal"] > 50
    assert any(d.known for d in result.divergences)  # QEMU emits null and waiting
    assert {d.rule for d in result.divergences if not d.known} == set()


def test_goals_cover_both_families_and_every_executable_status() -> None:
    model = model_for("7.2")
    goal = goals(model)
    statuses = {cell[2].value for cell in goal.cells}
    assert statuses == {
        "running",
        "paused",
        "ready",
        "standby",
        "waiting",
        "pending",
        "concluded",
        "null",
    }
    assert {cell[0] for cell in goal.cells} == {"job", "block-job"}
    # 6 job-* verbs and 7 block-job-* verbs (set-speed only exists as block-job-*).
    assert len(goal.cells) == 6 * 8 + 7 * 8


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mutant_is_caught_with_its_rule(name: str) -> None:
    mutant = MUTANTS[name]
    result = _campaign("latest", mutant=name, seed=0)  # the ci profile, as jobcheck run
    assert result.failure is not None, f"mutant {name} was not caught"
    rules = {d.rule for d in result.failure.divergences}
    assert rules & set(mutant.rules), f"{name}: expected {mutant.rules}, got {sorted(rules)}"


def test_exploration_alone_catches_a_mutant_and_shrinks_it() -> None:
    result = _campaign(
        "latest", mutant="waiting-skipped", seed=3, examples=200, steps=20, tour=False
    )
    assert result.failure is not None
    steps = result.failure.steps()
    # Shrunk: a start and a release (the job skips waiting when its work is done).
    assert 1 <= len(steps) <= 4, steps
    assert steps[0].startswith("start")
    # the runs spent shrinking are counted apart: examples never exceed the request
    assert result.shrink_runs > 0 and 1 <= result.examples <= 200


def test_same_seed_same_result() -> None:
    first = _campaign("7.2", seed=5, examples=8, steps=15, tour=False)
    second = _campaign("7.2", seed=5, examples=8, steps=15, tour=False)
    assert first.steps == second.steps
    assert first.coverage.all_cells() == second.coverage.all_cells()


def test_coverage_merge_is_a_union() -> None:
    a, b = Coverage(), Coverage()
    from jobcheck.model.lifecycle import Status

    a.transitions["mirror"] = {(Status.RUNNING, Status.READY)}
    b.transitions["mirror"] = {(Status.READY, Status.STANDBY)}
    a.merge(b)
    assert a.transitions["mirror"] == {
        (Status.RUNNING, Status.READY),
        (Status.READY, Status.STANDBY),
    }


def _jobcheck(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobcheck.conformance.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_cli_run_sim_exits_0_with_full_coverage_in_json(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = _jobcheck(
        "run",
        "--target",
        "sim",
        "--model",
        "7.2",
        "--seed",
        "1",
        f"--json={out}",
        "--out",
        str(tmp_path / "report"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    coverage = data["coverage"]
    assert coverage["transitions"]["reached"] == coverage["transitions"]["goal"]
    assert coverage["cells"]["reached"] == coverage["cells"]["goal"]
    assert "simulator" in proc.stderr


def test_cli_run_mutant_exits_1_and_saves_a_replayable_minimal_trace(tmp_path: Path) -> None:
    proc = _jobcheck(
        "run",
        "--target",
        "sim",
        "--sim-mutant",
        "pause-in-ready-goes-paused",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "report"),
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "minimal failing run" in proc.stdout
    assert "status.transition-table" in proc.stdout
    traces = list((tmp_path / "report").rglob("*.jsonl"))
    assert traces, "no minimal trace written"
    with traces[0].open() as stream:
        _meta, records = read_jsonl(stream, str(traces[0]))
        assert any(getattr(r, "step", None) for r in records)


def test_cli_list_mutants(tmp_path: Path) -> None:
    proc = _jobcheck("run", "--list-mutants", cwd=tmp_path)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == len(MUTANTS)


def test_cli_bad_mutant_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = _jobcheck("run", "--target", "sim", "--sim-mutant", "nope", cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1


def _aborted_start_statuses(choice: TargetChoice) -> list[str]:
    from jobcheck.conformance.trace.records import Event

    target = choice.make(0)
    try:
        response = target.apply(
            {"op": "start", "jobs": [{"type": "backup", "id": "a1"}], "aborted": True}
        )
        target.settle()
        assert response is not None and response.error is not None
        assert response.error.desc == "Transaction aborted using Abort action"
        return [
            r.data["status"]
            for r in target.take_records()
            if isinstance(r, Event) and r.event == "JOB_STATUS_CHANGE"
        ]
    finally:
        target.close()


def test_an_aborted_transaction_takes_its_job_from_created_to_aborting_in_the_simulator() -> None:
    statuses = _aborted_start_statuses(TargetChoice("sim", model="7.2"))
    assert statuses == ["created", "aborting", "concluded", "null"]


@pytest.mark.live
def test_an_aborted_transaction_takes_its_job_from_created_to_aborting_on_qemu() -> None:
    import shutil

    binary = shutil.which("qemu-storage-daemon") or shutil.which("qemu-system-x86_64")
    assert binary is not None
    statuses = _aborted_start_statuses(TargetChoice("qemu", binary=binary))
    assert statuses == ["created", "aborting", "concluded", "null"]


def _exploration(version: str) -> Exploration:
    choice = TargetChoice("sim", model=version)
    return Exploration(choice.make, model_for(version), accept_known, CampaignResult(), {})


def test_a_verb_the_model_lacks_is_an_error_not_another_verb() -> None:
    machine = machine_factory(_exploration("7.2"))()
    machine.open_target(0)
    with pytest.raises(ValueError, match=r"model 7\.2 has no verb 'change'"):
        machine.send_verb("nosuch", Verb.CHANGE, ("block-job", False))
    assert machine.session is not None
    assert not machine.session.records[1:], "nothing was sent"
    machine.teardown()


def test_the_verb_rule_draws_only_the_models_verbs() -> None:
    sent: dict[str, set[Verb]] = {}
    for version in ("7.2", "latest"):
        result = _campaign(version, seed=4, examples=20, steps=25, tour=False)
        sent[version] = {cell[1] for cells in result.coverage.cells.values() for cell in cells}
    assert Verb.CHANGE not in sent["7.2"]
    assert Verb.CHANGE in sent["latest"]


def test_campaigns_share_no_state() -> None:
    first = _campaign("7.2", seed=1, examples=3, steps=5, tour=False)
    second = _campaign("latest", seed=1, examples=2, steps=5, tour=False)
    again = _campaign("7.2", seed=1, examples=3, steps=5, tour=False)
    assert second.examples == 2
    assert (first.examples, first.steps) == (again.examples, again.steps)
    assert [d.message for d in first.divergences] == [d.message for d in again.divergences]


def test_every_example_runs_on_a_fresh_target_of_the_campaign_seed() -> None:
    """A target per example that runs a step, seeded with the campaign's seed: an example's
    trace depends on its steps alone, so the printed steps replay it."""
    seeds: list[int] = []
    choice = TargetChoice("sim", model="7.2")

    def make(seed: int) -> Target:
        seeds.append(seed)
        return choice.make(seed)

    result = run_campaign(make, model_for("7.2"), seed=7, examples=6, steps=5, tour=False)
    assert seeds and set(seeds) == {7}
    assert result.examples + result.shrink_runs == len(seeds)


def test_the_tour_runs_on_the_target_handed_over_and_it_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``jobcheck run`` hands the target it read the version from to the campaigns: the
    tour runs on it (no other target made), and it is closed afterwards whatever ran."""
    from jobcheck.conformance.campaign.parallel import run_campaigns
    from jobcheck.conformance.targets.sim import Simulator

    made: list[int] = []
    make = TargetChoice.make

    def counting(self: TargetChoice, seed: int = 0) -> Target:
        made.append(seed)
        return make(self, seed)

    monkeypatch.setattr(TargetChoice, "make", counting)
    choice = TargetChoice("sim", model="7.2")
    common = {"seed": 3, "profile": "ci", "steps": 5, "tour": True, "accept": accept_known}
    first = Simulator("7.2", seed=3)
    result = run_campaigns(choice, model_for("7.2"), examples=0, jobs=1, first=first, **common)
    assert result.tour_steps > 0 and made == [] and first._closed
    first = Simulator("7.2", seed=3)
    result = run_campaigns(choice, model_for("7.2"), examples=2, jobs=1, first=first, **common)
    assert result.examples == len(made) and set(made) == {3} and first._closed
    first = Simulator("7.2", seed=3)  # several jobs: the workers make their own
    run_campaigns(choice, model_for("7.2"), examples=2, jobs=2, first=first, **common)
    assert first._closed


def test_the_tour_runs_beside_the_exploration_only_on_a_launched_qemu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobcheck.conformance.campaign import parallel

    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    assert parallel.tour_beside(TargetChoice("qemu", binary="qemu-storage-daemon"))
    assert not parallel.tour_beside(TargetChoice("qemu", connect="/run/qsd.sock"))
    assert not parallel.tour_beside(TargetChoice("sim", model="7.2"))
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 1)
    assert not parallel.tour_beside(TargetChoice("qemu", binary="qemu-storage-daemon"))


def test_an_exploration_told_to_stop_ends_before_its_next_example() -> None:
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 3

    result = run_campaign(
        TargetChoice("sim", model="7.2").make,
        model_for("7.2"),
        seed=1,
        examples=500,
        steps=5,
        tour=False,
        stop=stop,
    )
    assert result.examples == 3 and result.failure is None and len(asked) == 4


def test_a_failing_tour_beside_the_exploration_is_the_failure_and_stops_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tour in a process of its own fails: the exploration beside it stops before its
    next example (it would have run 100,000), and the tour's failure is the campaign's."""
    from jobcheck.conformance.campaign import parallel

    monkeypatch.setattr(parallel, "tour_beside", lambda choice: True)  # the sim, as a QEMU
    choice = TargetChoice("sim", model="7.2", mutant="dismiss-in-pending")
    result = parallel.run_campaigns(
        choice,
        model_for("7.2"),
        seed=1,
        profile="ci",
        examples=100_000,
        steps=25,
        jobs=1,
        tour=True,
        accept=accept_known,
    )
    assert result.failure is not None
    assert "job 't" in result.failure.message  # the tour's jobs are t1, t2, …; the examples' j1…
    assert result.tour_steps > 0 and result.examples < 100_000


@pytest.mark.live
def test_jobcheck_run_starts_one_qemu_for_the_version_and_the_tour(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shutil

    from jobcheck.conformance.cli import main
    from jobcheck.conformance.targets.qemu import QemuTarget

    binary = shutil.which("qemu-storage-daemon")
    assert binary is not None
    started: list[QemuTarget] = []
    init = QemuTarget.__init__

    def counting(self: QemuTarget, *args: Any, **kwargs: Any) -> None:
        started.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(QemuTarget, "__init__", counting)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--qemu", binary, "--examples", "0", "--no-report"]) == 0
    assert len(started) == 1


def test_a_divergence_in_the_teardown_says_so() -> None:
    """A divergence that only jobcheck's own clean-up revealed (a live target's teardown
    after the last step) is printed as such, not as the last step's."""
    from jobcheck.conformance.campaign.results import CampaignResult, Failure, iter_failure_lines
    from jobcheck.conformance.oracle import Divergence
    from jobcheck.conformance.trace.records import TEARDOWN_NOTE, Meta, Note
    from jobcheck.model.rules import RuleId

    records = [
        Note("start mirror j1", {"op": "start", "jobs": []}),
        Note(TEARDOWN_NOTE),
        Note("(the dismiss)"),
    ]

    def diverged(index: int) -> Divergence:
        return Divergence(
            RuleId.JOB_DISMISS_REMOVES_JOB, "j1", index, 0, None, "gone", "listed", False, "m"
        )

    for index, said in ((2, True), (0, False)):
        result = CampaignResult()
        result.failure = Failure("m", records, Meta("qemu"), [diverged(index)])
        lines = list(iter_failure_lines(result, 1))
        assert lines[0].startswith("minimal failing run (1 steps")
        assert ("in the teardown after the last step" in lines[-1]) is said


def test_the_tour_reports_its_share_done_in_step_with_its_steps() -> None:
    """The tour's share done follows its steps (its cell tour's verb tries are the units):
    halfway through its steps it says between a quarter and three quarters done, never
    a quarter for most of the way and then all at once."""
    from jobcheck.conformance.campaign.coverage import goals
    from jobcheck.conformance.campaign.progress import Reporter, Snapshot
    from jobcheck.conformance.campaign.tour import run_tour

    model = model_for("7.2")
    seen: list[Snapshot] = []
    reporter = Reporter(seen.append, goals(model), 0, interval=0.0)
    result = CampaignResult()
    choice = TargetChoice("sim", model="7.2")
    assert run_tour(choice.make, model, accept_known, result, {}, progress=reporter) is None
    tour = [s for s in seen if s.phase == "tour"]
    assert tour and tour[-1].tour_done >= 0.95 * tour[-1].tour_total
    halfway = next(s for s in tour if s.steps >= result.steps / 2)
    assert 0.25 <= halfway.tour_done / halfway.tour_total <= 0.75
