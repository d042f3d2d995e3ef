"""The benchmark harness: its table, its JSON, its options; a quick run of the non-live parts.

No figure is held against its goal here (that would be a timed test): the
tests check that every row is there and measured, and that the pieces
(statistics, formatting, the child-process measurement) compute what they say.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from jobcheck.conformance.bench import live as bench_live
from jobcheck.conformance.bench import suite as bench
from jobcheck.conformance.bench.live import CoverageClock, coverage_campaign, percentile
from jobcheck.conformance.bench.process import run_measured
from jobcheck.conformance.bench.table import Goal, Row, fmt, markdown_table
from jobcheck.conformance.campaign.coverage import goals
from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.targets.select import TargetChoice
from jobcheck.model.lifecycle import model_for

BENCH = [sys.executable, "-m", "jobcheck.conformance.bench"]
QuickRun = tuple[int, str, str, dict[str, Any]]
"""Exit code, stdout, stderr and JSON of the quick run."""
LIVE_PREFIXES = ("qsd.", "sys.", "jobs.")


def _is_live(key: str) -> bool:
    return key.startswith(LIVE_PREFIXES)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    process = subprocess.run(
        [*BENCH, "--quick", "--skip-live", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return process.returncode, process.stdout, process.stderr, data


def test_quick_run_exits_0(quick_run: QuickRun) -> None:
    code, _, stderr, _ = quick_run
    assert code == 0, stderr


def test_quick_json_has_every_row_measured(quick_run: QuickRun) -> None:
    _, _, _, data = quick_run
    rows = {row["key"]: row for row in data["rows"]}
    assert list(rows) == list(bench.make_rows())
    for key, row in rows.items():
        if _is_live(key):
            assert row["skipped"] == "skipped: --skip-live"
            assert row["samples"] == [] and row["median"] is None
            continue
        assert row["skipped"] is None, key
        assert row["runs"] == len(row["samples"]) >= 1, key
        assert all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in row["samples"])
        assert row["min"] <= row["median"] <= row["max"], key
        if row["goal"] is not None:
            assert isinstance(row["met"], bool), key
    assert data["options"]["quick"] is True
    assert data["machine"]["cores"] >= 1


def test_quick_ratio_is_the_ratio_of_the_speeds(quick_run: QuickRun) -> None:
    _, _, _, data = quick_run
    rows = {row["key"]: row for row in data["rows"]}
    # --quick runs once, so each row has one sample and the ratio is exactly theirs.
    sim = rows["sim.explore.steps"]["samples"][0]
    ceiling = rows["ceiling.steps"]["samples"][0]
    assert rows["sim.explore.ratio"]["samples"][0] == pytest.approx(sim / ceiling)


def test_quick_table_lists_every_row_with_its_numbers(
    quick_run: QuickRun,
) -> None:
    _, stdout, _, data = quick_run
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    assert len(lines) == 1 + len(data["rows"])
    for row, line in zip(data["rows"], lines[1:], strict=True):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[0] == row["label"]
        assert cells[2] == fmt(row["median"])
        if row["skipped"]:
            assert cells[-1] == row["skipped"]


def test_missing_qemu_binaries_skip_the_live_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    rows = bench.make_rows()
    bench.bench_live(rows, bench.QUICK, skip=False)
    for key, row in rows.items():
        if key.startswith("qsd.") or key.startswith("jobs."):
            assert row.skipped == "skipped: no qemu-storage-daemon", key
        elif key.startswith("sys."):
            assert row.skipped == "skipped: no qemu-system-x86_64", key
        else:
            assert row.skipped is None


def test_bad_repeat_is_one_line_and_exit_2(tmp_path: Path) -> None:
    process = subprocess.run(
        [*BENCH, "--repeat", "0", "--out", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 2
    assert process.stderr.strip().splitlines() == ["bench: error: --repeat must be at least 1"]
    assert not (tmp_path / "x.json").exists()


def test_unknown_option_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        bench.parse_args(["--frobnicate"])
    assert info.value.code == 2


# -- the pieces -------------------------------------------------------------------------


def test_goal_operators() -> None:
    assert Goal(">=", 0.5).met(0.5) and not Goal(">=", 0.5).met(0.49)
    assert Goal("<=", 10).met(10) and not Goal("<=", 10).met(10.01)
    assert Goal("<", 200).met(199.9) and not Goal("<", 200).met(200)
    assert Goal(">=", 100_000).text() == "≥ 100,000"
    assert Goal("<", 200).text() == "< 200"


def test_row_statistics_and_goal() -> None:
    row = Row("k", "label", "s", Goal("<=", 10), samples=[12.0, 3.0, 9.0])
    assert (row.median, row.minimum, row.maximum) == (9.0, 3.0, 12.0)
    assert row.met is True
    row.goal_missed = True
    assert row.met is False
    assert Row("k", "label", "s", Goal("<=", 10)).met is None
    assert Row("k", "label", "s", samples=[1.0]).met is None


def test_fmt() -> None:
    assert fmt(None) == "–"
    assert fmt(123456.7) == "123,457"
    assert fmt(123.4) == "123"
    assert fmt(12.34) == "12.3"
    assert fmt(1.234) == "1.23"
    assert fmt(0.01234) == "0.0123"


def test_markdown_table_shape() -> None:
    rows = [
        Row("a", "first", "ms", samples=[1.0, 2.0, 3.0]),
        Row("b", "second", "ratio", Goal(">=", 0.5), samples=[0.25]),
        Row("c", "third", "s", skipped="skipped: no qemu-storage-daemon"),
    ]
    lines = markdown_table(rows).splitlines()
    assert len({len(line) for line in lines}) == 1  # aligned
    assert lines[1].startswith("|---") and "---:|" in lines[1]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert cells[0] == ["measure", "unit", "median", "min", "max", "runs", "goal", "met", "note"]
    assert cells[2] == ["first", "ms", "2.00", "1.00", "3.00", "3", "", "", ""]
    assert cells[3] == ["second", "ratio", "0.25", "0.25", "0.25", "1", "≥ 0.5", "**no**", ""]
    assert cells[4] == ["third", "s", "–", "–", "–", "0", "", "", "skipped: no qemu-storage-daemon"]


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.5) == 50.0
    assert percentile([7.0], 0.95) == 7.0


def test_run_measured_reports_exit_code_and_peak_rss() -> None:
    run = run_measured(
        [
            sys.executable,
            "-c",
            "import sys; b = bytearray(60_000_000); b[::4096] = b'x' * len(b[::4096]); "
            "print('done'); sys.exit(3)",
        ],
        timeout=60,
    )
    assert run.exit_code == 3
    assert run.peak_rss >= 60_000_000
    assert run.stdout.strip() == "done"
    assert not run.timed_out
    assert run.cpu_seconds > 0


def test_run_measured_stops_after_timeout() -> None:
    run = run_measured([sys.executable, "-c", "import time; time.sleep(120)"], timeout=0.5)
    assert run.timed_out
    assert run.exit_code != 0


def test_run_measured_peak_rss_is_the_childs_own() -> None:
    # A large parent must not lend its size to a small child (ru_maxrss survives exec).
    ballast = bytearray(150_000_000)
    ballast[::4096] = b"x" * len(ballast[::4096])
    run = run_measured([sys.executable, "-c", "pass"], timeout=60)
    assert run.exit_code == 0
    assert 0 < run.peak_rss < 60_000_000
    del ballast


def test_run_measured_missing_program_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot run"):
        run_measured([str(tmp_path / "no-such-program")], timeout=60)


# -- the coverage clock and the live rows ----------------------------------------------------


def test_coverage_clock_times_full_coverage_of_a_simulator_campaign() -> None:
    model = model_for("7.2")
    run = coverage_campaign(TargetChoice("sim", model="7.2"), model, 2, 5, 1)
    goal = goals(model)
    assert run.reached_after is not None
    assert 0 < run.reached_after <= run.rates.result.seconds
    assert run.reached == (
        f"{len(goal.all_transitions())}/{len(goal.all_transitions())} transitions, "
        f"{len(goal.cells)}/{len(goal.cells)} cells"
    )
    assert run.rates.tour.count > 0 and run.rates.explore.count > 0


def test_coverage_clock_is_not_fooled_by_a_partial_run() -> None:
    model = model_for("7.2")
    clock = CoverageClock(model)
    target = clock.watch(TargetChoice("sim", model="7.2").make)(0)
    try:
        job = {"type": "backup", "id": "b", "auto-finalize": True, "auto-dismiss": True}
        target.apply({"op": "start", "jobs": [job], "grouped": False})
        target.apply({"op": "release", "job": "b"})
        target.settle()
        records = target.take_records()
    finally:
        target.close()
    assert records  # the watched target still hands its records on
    assert clock.reached_after is None
    assert clock.edges and len(clock.edges) < len(goals(model).all_transitions())


@pytest.mark.live
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-storage-daemon") is None, reason="no qemu-storage-daemon")
def test_live_rows_of_qemu_storage_daemon_are_measured() -> None:
    rows = bench.make_rows()
    sizes = replace(
        bench.QUICK, startups=1, round_trips=10, live_examples=1, live_steps=3, repeat=1
    )
    binary = shutil.which("qemu-storage-daemon")
    assert binary is not None
    bench_live.measure_binary(rows, "qsd", binary, sizes, "7.2")
    for key, row in rows.items():
        if key.startswith("qsd."):
            assert row.skipped is None, key
            assert len(row.samples) == 1, key
            if key == "qsd.rtt.share":  # a difference of two medians: noise may make it < 0
                assert -1 < row.samples[0] < 1, row.samples
            else:
                assert row.samples[0] > 0, key
    assert rows["qsd.rtt95"].samples[0] >= rows["qsd.rtt"].samples[0]
    assert rows["qsd.ready"].samples[0] >= rows["qsd.startup"].samples[0]


@pytest.mark.live
@pytest.mark.skipif(shutil.which("qemu-storage-daemon") is None, reason="no qemu-storage-daemon")
def test_the_plain_client_times_round_trips_and_leaves_nothing_behind() -> None:
    binary = shutil.which("qemu-storage-daemon")
    assert binary is not None
    with bench_live.PlainClient(binary, 10.0) as plain:
        assert plain._process is not None
        pid, workdir = plain._process.pid, Path(plain._workdir.name)
        assert workdir.is_dir()
        times = plain.round_trips(7)
    assert len(times) == 7 and all(t > 0 for t in times)
    assert not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
