"""``jobcheck merge``: several runs' reports (a CI matrix) as one — the runs side by side,
rules × runs, coverage per run, divergences with the runs they appear in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobcheck.conformance.cli import main

FAST = ["--examples", "4", "--steps", "10"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three simulator runs as a CI matrix would leave them: 7.2, 10.2, and a broken 7.2."""
    root = tmp_path_factory.mktemp("matrix")
    for name, extra in (
        ("qemu-7.2", ["--model", "7.2"]),
        ("qemu-10.2", ["--model", "10.2"]),
        ("broken-7.2", ["--model", "7.2", "--sim-mutant", "complete-in-running"]),
    ):
        main(["run", "--target", "sim", *extra, *FAST, "--out", str(root / name)])
    return root


def _merged(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["merge", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_merge_of_two_versions_shows_both(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(runs / "qemu-7.2"), str(runs / "qemu-10.2" / "report.json"), "--out", str(tmp_path)]
    code, document = _merged(argv, capsys)
    assert code == 0 and document["failing"] == []
    assert [(r["name"], r["qemu_version"], r["model"]) for r in document["runs"]] == [
        ("qemu-7.2", "7.2.22", "7.2"),
        ("qemu-10.2", "10.2.0", "10.2"),
    ]
    cells = [r["coverage"]["cells"] for r in document["runs"]]
    assert [(c["reached"], c["goal"]) for c in cells] == [(104, 104), (112, 112)]
    rules = {r["id"]: r["runs"] for r in document["rules"]}
    assert rules["job-complete.only-ready"] == {"qemu-7.2": "known", "qemu-10.2": "pass"}
    assert rules["job-finalize.only-manual"]["qemu-7.2"] == "-"  # documented from 10.1 on
    complete = [d for d in document["divergences"] if d["rule"] == "job-complete.only-ready"]
    assert [list(d["runs"]) for d in complete] == [["qemu-7.2"]]
    shared = [d for d in document["divergences"] if len(d["runs"]) == 2]
    assert shared, "some known divergence is common to 7.2 and 10.2"
    markdown = (tmp_path / "merged.md").read_text()
    assert "| | qemu-7.2 | qemu-10.2 |" in markdown and "104/104 cells" in markdown
    html = (tmp_path / "merged.html").read_text()
    assert "qemu-10.2" in html and "<table>" in html
    assert json.loads((tmp_path / "merged.json").read_text()) == document


def test_a_failing_run_fails_the_merge(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = _merged([str(runs / "qemu-7.2"), str(runs / "broken-7.2")], capsys)
    assert code == 1 and document["failing"] == ["broken-7.2"]
    rules = {r["id"]: r["runs"] for r in document["rules"]}
    assert rules["job-complete.only-ready"]["broken-7.2"] == "fail"
    main(["merge", str(runs / "qemu-7.2"), str(runs / "broken-7.2")])
    assert "verdict: FAIL (exit 1): 1 of 2 runs failed: broken-7.2" in capsys.readouterr().out


def test_old_reports_merge_and_bad_input_is_a_usage_error(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads((runs / "qemu-7.2" / "report.json").read_text())
    del document["observations"]
    document["schema_version"] = 1
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "report.json").write_text(json.dumps(document))
    code, merged = _merged([str(tmp_path / "old"), str(runs / "qemu-10.2")], capsys)
    assert code == 0 and [r["schema_version"] for r in merged["runs"]] == [1, 2]
    assert main(["merge", str(tmp_path / "nothing")]) == 2
    assert "no report.json" in capsys.readouterr().err
