"""Verdicts from a campaign's exit and JSON, the results table and JSON, and the time limit."""

from __future__ import annotations

import json
import os
import select
import sys
import time
from pathlib import Path

from jobcheck.conformance.mutation.campaign import (
    CAUGHT,
    ERROR,
    MISSED,
    TARGET_FAILURE,
    campaign_argv,
    classify,
)
from jobcheck.conformance.mutation.process import run_group
from jobcheck.conformance.mutation.results import MutantResult, RunInfo, markdown, write


def test_exit_1_is_caught_with_the_failing_rules_only() -> None:
    report = {
        "outcome": {"failure": {"message": "verb.permission-table: job 't3' …"}},
        "divergences": [
            {"rule": "status.null-never-visible", "fails": False},
            {"rule": "verb.permission-table", "fails": True},
            {"rule": "qemu.no-abort", "fails": True},
            {"rule": "verb.permission-table", "fails": True},
        ],
    }
    verdict, rules, note = classify(1, report)
    assert (verdict, rules) == (CAUGHT, ["verb.permission-table", "qemu.no-abort"])
    assert note.startswith("verb.permission-table: job 't3'")


def test_other_exits() -> None:
    assert classify(0, {"divergences": [{"rule": "x", "fails": False}]}) == (MISSED, [], "")
    failed = classify(3, {"outcome": {"error": "QEMU exited with status 1"}})
    assert failed == (TARGET_FAILURE, [], "QEMU exited with status 1")
    assert classify(2, None) == (ERROR, [], "exit 2")
    assert classify(1, None) == (CAUGHT, [], "")


def test_campaign_argv_is_strict_only_with_a_baseline(tmp_path: Path) -> None:
    plain = campaign_argv(Path("qsd"), seed=4, json_path=tmp_path / "r.json", baseline=None)
    assert plain[1:5] == ["-m", "jobcheck.conformance.cli", "run", "--qemu"]
    assert "--strict" not in plain and plain[plain.index("--seed") + 1] == "4"
    strict = campaign_argv(Path("qsd"), seed=4, json_path=tmp_path / "r.json", baseline=Path("b"))
    assert strict[-3:] == ["--strict", "--baseline", "b"]


def _row(mutant_id: str, verdict: str, rules: list[str], exit_code: int | None) -> MutantResult:
    return MutantResult(
        mutant_id,
        "job.c",
        "job_user_pause_locked",
        "verb-effect",
        "pause | never pauses",
        "--- a/job.c\n+++ b/job.c\n@@ -1 +1 @@\n-a\n+b\n",
        verdict,
        rules,
        exit_code,
        2.5,
        12.25,
        "",
    )


def test_table_and_json(tmp_path: Path) -> None:
    info = RunInfo("10.0.2", "qemu-10.0.2/build/qsd", 1, None, 22.0, 66.0, notes=["no baseline"])
    rows = [_row("a", CAUGHT, ["verb.permission-table"], 1), _row("b", TARGET_FAILURE, [], 3)]
    md_path, json_path = write(tmp_path / "out" / "qemu-10.0.2", info, rows)
    md = md_path.read_text()
    assert md == markdown(info, rows) + "\n"
    assert "**2 mutants:** 1 caught, 1 target failure" in md
    assert "| `a` | job.c | `job_user_pause_locked` | pause \\| never pauses | caught |" in md
    assert "| target failure (exit 3) |" in md
    assert "```diff\n--- a/job.c" in md
    data = json.loads(json_path.read_text())
    assert data["totals"]["caught"] == 1 and data["totals"]["missed"] == 0
    assert data["mutants"][1]["exit_code"] == 3
    assert data["run"]["limit_seconds"] == 66.0


def test_every_mutant_not_caught_is_listed_with_the_argument_for_it() -> None:
    info = RunInfo("10.0.2", "qemu-10.0.2/build/qsd", 1, None, 22.0, 66.0)
    rows = [
        _row("verb-table-pause-in-waiting", CAUGHT, ["verb.permission-table"], 1),
        _row("verb-error-text-changed", "missed", [], 0),
        _row("no-such-mutant", "missed", [], 0),
    ]
    md = markdown(info, rows)
    section = md.split("## Not caught by a campaign", 1)[1].split("\n## ", 1)[0]
    assert "verb-table-pause-in-waiting" not in section
    assert "- `verb-error-text-changed` (missed): qapi/job.json documents" in section
    assert "- `no-such-mutant` (missed): not argued yet" in section


def test_limit_stops_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    finished = run_group([sys.executable, "-c", script], log=tmp_path / "log", limit=2, grace=2)
    assert finished.timed_out
    assert time.monotonic() - started < 20
    grandchild = int(pid_file.read_text())
    try:
        handle = os.pidfd_open(grandchild)
    except ProcessLookupError:
        return  # already gone and reaped
    try:
        readable, _, _ = select.select([handle], [], [], 10)  # readable once it has ended
    finally:
        os.close(handle)
    assert readable, "the grandchild outlived its group's limit"
