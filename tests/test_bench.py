"""The benchmark harness: its table, its JSON, its options; a quick run of the non-live parts.

No figure is held against its goal here (that would be a timed test): the
tests check that every row is there and measured, and that the pieces
(statistics, formatting, the child-process measurement) compute what they say.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from jobcheck.conformance import bench
from jobcheck.conformance.bench_live import percentile
from jobcheck.conformance.bench_process import run_measured
from jobcheck.conformance.bench_table import Goal, Row, fmt, markdown_table
from jobcheck.conformance.errors import UsageError

BENCH = [sys.executable, "-m", "jobcheck.conformance.bench"]
LIVE_PREFIXES = ("qsd.", "sys.", "jobs.")


def _is_live(key: str) -> bool:
    return key.startswith(LIVE_PREFIXES)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, dict]:  # type: ignore[type-arg]
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


def test_quick_run_exits_0(quick_run: tuple[int, str, str, dict]) -> None:  # type: ignore[type-arg]
    code, _, stderr, _ = quick_run
    assert code == 0, stderr


def test_quick_json_has_every_row_measured(quick_run: tuple[int, str, str, dict]) -> None:  # type: ignore[type-arg]
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


def test_quick_ratio_is_the_ratio_of_the_speeds(quick_run: tuple[int, str, str, dict]) -> None:  # type: ignore[type-arg]
    _, _, _, data = quick_run
    rows = {row["key"]: row for row in data["rows"]}
    # --quick runs once, so each row has one sample and the ratio is exactly theirs.
    sim = rows["sim.explore.steps"]["samples"][0]
    ceiling = rows["ceiling.steps"]["samples"][0]
    assert rows["sim.explore.ratio"]["samples"][0] == pytest.approx(sim / ceiling)


def test_quick_table_lists_every_row_with_its_numbers(
    quick_run: tuple[int, str, str, dict],
) -> None:  # type: ignore[type-arg]
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
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
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
