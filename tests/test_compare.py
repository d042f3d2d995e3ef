"""``jobcheck compare`` on the simulator: the same steps on both sides, differences classified,
no difference for a build against itself, the offline form agreeing with the live one, and
reports of schema_version 1 still readable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobcheck.conformance.campaign.compare import Side, compare
from jobcheck.conformance.campaign.paired import exploration_steps
from jobcheck.conformance.cli import main
from jobcheck.model.lifecycle import model_for

FAST = ["--examples", "6", "--steps", "12"]


def _compare(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "cmp.json"
    code = main(["compare", *argv, f"--json={out}"])
    capsys.readouterr()
    return code, json.loads(out.read_text())


def _categories(document: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for difference in document["differences"]:
        out.setdefault(difference["category"], []).append(difference["subject"])
    return out


def test_the_exploration_is_drawn_once_and_the_same_every_time() -> None:
    model = model_for("10.2")
    first = exploration_steps(model, seed=4, examples=5, steps=10)
    assert first == exploration_steps(model, seed=4, examples=5, steps=10)
    assert first != exploration_steps(model, seed=5, examples=5, steps=10)
    assert first and all(0 < len(steps) <= 10 for steps in first)


def test_a_build_against_itself_has_no_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = _compare(
        ["--sim", "7.2", "--sim", "7.2", *FAST, "--no-report"], tmp_path, capsys
    )
    assert code == 0 and document["verdict"] == "same" and document["differences"] == []
    assert document["a"]["steps_digest"] == document["b"]["steps_digest"]


def test_7_2_against_10_2_lists_block_job_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = _compare(
        ["--sim", "7.2", "--sim", "10.2", *FAST, "--no-report"], tmp_path, capsys
    )
    assert code == 1
    (command,) = [d for d in document["differences"] if d["category"] == "command"]
    assert command["subject"] == "block-job-change"
    assert command["a"] == ["does not have it"] and command["b"] == ["has it"]
    # complete in standby: known divergence of model 7.2, documented from 10.1 on
    assert "job-complete.only-ready" in _categories(document)["divergence"]


@pytest.mark.parametrize(
    ("mutant", "category", "subject"),
    [
        ("pause-when-already-paused", "permission", "mirror · job-pause · in paused"),
        ("no-error-on-failure", "query-jobs", "backup in concluded"),
        ("pause-in-ready-goes-paused", "transitions", "mirror · job-pause · in ready"),
        ("pause-in-ready-goes-paused", "transitions", "mirror · in standby"),
        ("cancel-paused-no-resume", "transitions", "backup · job-cancel · in paused"),
        ("waiting-skipped", "divergence", "status.transition-table"),
    ],
)
def test_differences_are_classified(
    mutant: str, category: str, subject: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = _compare(
        ["--sim", "7.2", "--sim", f"7.2:{mutant}", *FAST, "--no-report"], tmp_path, capsys
    )
    assert code == 1
    assert subject in _categories(document).get(category, []), document["differences"]


def test_the_offline_form_agrees_with_the_live_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "live"
    code, live = _compare(
        ["--sim", "7.2", "--sim", "7.2:pause-when-already-paused", *FAST, "--out", str(out)],
        tmp_path,
        capsys,
    )
    assert code == 1
    for name in (
        "compare.json",
        "compare.md",
        "compare.html",
        "compare.dot",
        "a/report.json",
        "b/report.json",
    ):
        assert (out / name).is_file(), name
    assert json.loads((out / "compare.json").read_text()) == live
    offline_json = tmp_path / "offline.json"
    assert (
        main(["compare", str(out / "a" / "report.json"), str(out / "b"), f"--json={offline_json}"])
        == 1
    )
    offline = json.loads(offline_json.read_text())
    assert offline["differences"] == live["differences"]
    assert offline["timing_dependent"] == live["timing_dependent"]


def test_two_independent_runs_compare_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two ``jobcheck run`` reports (other exploration steps) give the live form's verdict."""
    for version in ("7.2", "10.2"):
        argv = ["run", "--target", "sim", "--model", version, "--seed", version[0], *FAST]
        assert main([*argv, "--out", str(tmp_path / version)]) == 0
    code, document = _compare([str(tmp_path / "7.2"), str(tmp_path / "10.2")], tmp_path, capsys)
    assert code == 1
    assert _categories(document)["command"] == ["block-job-change"]
    assert any("explored different steps" in note for note in document["notes"])


def test_a_schema_1_report_is_compared_by_its_matrix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, mutant in (("a", None), ("b", "pause-when-already-paused")):
        argv = ["run", "--target", "sim", "--model", "7.2", *FAST, "--out", str(tmp_path / name)]
        main(argv + (["--sim-mutant", mutant] if mutant else []))
    old = tmp_path / "a" / "report.json"
    document = json.loads(old.read_text())
    del document["observations"]
    document["schema_version"] = 1
    old.write_text(json.dumps(document))
    code, compared = _compare([str(old), str(tmp_path / "b")], tmp_path, capsys)
    assert code == 1 and compared["granularity"] == "matrix"
    assert "job-pause · in paused" in " ".join(_categories(compared)["permission"])
    assert any("schema_version 1" in note for note in compared["notes"])


def test_timing_dependent_observations_are_shown_but_never_differences() -> None:
    def side(label: str, racy: list[dict[str, Any]]) -> Side:
        document = {
            "schema_version": 2,
            "target": {"description": label, "qemu_version": "7.2.22"},
            "model": {"version": "7.2"},
            "coverage": {
                "permitted": {"pause": []},
                "edges": {"covered": [["created", "running"]]},
            },
            "outcome": {},
            "divergences": [],
            "observations": {"cells": [], "racy_cells": racy, "commands": {"sent": []}},
        }
        return Side.from_document(document, label)

    refused = {"accepted": False, "class": "GenericError", "error": "Job not found"}
    cell = {"kind": "mirror", "command": "job-complete", "status": "ready"}
    comparison = compare(
        side("A", [{**cell, "outcomes": [refused]}]),
        side("B", [{**cell, "outcomes": [{"accepted": True, "statuses": ["waiting"]}]}]),
    )
    assert comparison.same and comparison.exit_code == 0
    (shown,) = comparison.timing
    assert shown.a == ("refused GenericError: Job not found",)
    assert shown.b == ("accepted → waiting",)


def test_json_on_stdout_and_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "--sim", "7.2", "--sim", "7.2", *FAST, "--no-report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "same"
    assert main(["compare", "--sim", "7.2"]) == 2
    assert main(["compare", str(tmp_path / "a.json"), "--sim", "7.2"]) == 2
    assert main(["compare", str(tmp_path / "missing.json"), str(tmp_path / "other.json")]) == 2
    assert main(["compare", "--sim", "6.1:nosuch", "--sim", "7.2"]) == 2
    (tmp_path / "not.json").write_text("[]")
    assert main(["compare", str(tmp_path / "not.json"), str(tmp_path / "not.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 5


def test_a_crash_on_one_side_only_is_a_difference() -> None:
    def side(label: str, crash: str | None) -> Side:
        document = {
            "schema_version": 2,
            "target": {"description": label, "qemu_version": "7.2.22"},
            "model": {"version": "7.2"},
            "coverage": {"permitted": {}, "edges": {}},
            "outcome": {"crash": crash},
            "divergences": [],
            "observations": {"cells": [], "racy_cells": [], "commands": {"sent": []}},
        }
        return Side.from_document(document, label)

    abort = "qemu-storage-daemon (pid 812) was killed by SIGABRT (last command: quit)"
    (crash,) = compare(side("A", None), side("B", abort)).differences
    assert (crash.category, crash.a, crash.b) == (
        "crash",
        ("no crash",),
        ("qemu-storage-daemon (pid N) was killed by SIGABRT (last command: quit)",),
    )
    same_abort = abort.replace("812", "907")  # another process, the same crash
    assert compare(side("A", abort), side("B", same_abort)).same
