"""The progress line of ``jobcheck run``: the tour and the examples, denominators,
percentages and time left, never above a total, within the terminal's width, also
with ``--jobs N``."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import sys
import termios
from dataclasses import replace
from pathlib import Path

import pytest

from jobcheck.conformance.campaign.coverage import goals
from jobcheck.conformance.campaign.progress import Snapshot, progress_line
from jobcheck.model.lifecycle import MODELS

GOALS = goals(MODELS["7.2"])
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def snapshot(worker: int = 0, **fields: object) -> Snapshot:
    base: dict[str, object] = {
        "worker": worker,
        "phase": "explore",
        "tour_done": 0,
        "tour_total": 0,
        "examples": 0,
        "examples_total": 10,
        "shrink_runs": 0,
        "steps": 0,
        "tour_started": None,
        "explore_started": 0.0,
        "transitions": frozenset(),
        "cells": frozenset(),
        "new": frozenset(),
        "known": frozenset(),
    }
    base.update(fields)
    return Snapshot(**base)  # type: ignore[arg-type]


def test_counters_never_exceed_their_totals() -> None:
    line = progress_line([snapshot(examples=583, examples_total=500)], GOALS, now=10.0)
    assert line.startswith("explore 500/500 100% [0:10<0:00]")


def test_the_tour_shows_its_share_done_and_the_time_left() -> None:
    line = progress_line(
        [
            snapshot(
                phase="tour", tour_done=25, tour_total=100, tour_started=0.0, explore_started=None
            )
        ],
        GOALS,
        now=3.0,
    )
    assert line.startswith("tour 25% [0:03<0:09] · cells 0/104 · edges 0/18")


def test_two_campaigns_are_one_line_with_summed_examples_and_united_coverage() -> None:
    cell = ("job", "pause", "running")
    first = snapshot(
        0,
        examples=3,
        examples_total=5,
        cells=frozenset({cell}),
        known=frozenset({"status.null-never-visible"}),
    )
    second = snapshot(
        1,
        examples=2,
        examples_total=5,
        cells=frozenset({cell}),
        known=frozenset({"status.null-never-visible"}),
        new=frozenset({"x.y"}),
    )
    line = progress_line([second, first], GOALS, now=5.0, width=100)
    assert line == (
        "explore 5/10 50% [0:05<0:05] · cells 1/104 · edges 0/18 · 1 new, 1 known · 2 jobs"
    )


def test_a_tour_beside_the_exploration_shows_both_and_is_no_job_of_its_own() -> None:
    """On a launched QEMU the tour runs in a process of its own (worker 0, no examples)
    beside the exploration: one line with both, and it counts as no ``--jobs`` campaign."""
    tour = snapshot(
        0, phase="tour", tour_done=50, tour_total=100, tour_started=0.0, examples_total=0
    )
    tour = replace(tour, explore_started=None)
    explore = snapshot(1, examples=3, examples_total=30, explore_started=1.0)
    line = progress_line([explore, tour], GOALS, now=2.0, width=120)
    assert line == (
        "tour 50% [0:02<0:02] · explore 3/30 10% [0:01<0:09] · cells 0/104 · edges 0/18"
        " · 0 new, 0 known"
    )
    other = snapshot(2, examples=3, examples_total=30, explore_started=1.0)
    line = progress_line([explore, tour, other], GOALS, now=2.0, width=140)
    assert line.endswith("0 new, 0 known · 2 jobs")


def test_shrinking_is_said_without_a_total() -> None:
    line = progress_line([snapshot(examples=4, shrink_runs=17)], GOALS, now=1.0)
    assert line.startswith("shrinking the failure: 17 runs [0:01]")


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_the_line_fits_the_terminal(width: int) -> None:
    states = [
        snapshot(0, phase="tour", tour_done=5, tour_total=9, tour_started=0.0),
        snapshot(1, examples=12345, examples_total=99999, new=frozenset({"a.b", "c.d"})),
    ]
    assert len(progress_line(states, GOALS, width=width, now=3725.0)) < width


def _run_on_a_terminal(args: list[str], columns: int, cwd: Path) -> str:
    """``jobcheck ARGS`` on a pseudo-terminal of ``columns`` columns: everything it wrote."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: make its terminal that narrow, then run jobcheck
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        os.chdir(cwd)
        os.execv(sys.executable, [sys.executable, "-m", "jobcheck.conformance.cli", *args])
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child has closed the terminal
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out.decode(errors="replace")
    return out.decode()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_run_on_an_80_column_terminal_redraws_one_line_that_fits(tmp_path: Path, jobs: str) -> None:
    out = _run_on_a_terminal(
        ["run", "--target", "sim", "--model", "7.2", "--jobs", jobs, "--no-report"], 80, tmp_path
    )
    frames = [ANSI.sub("", f).strip("\n") for f in out.split("\r")]
    progress = [f for f in frames if f.startswith(("tour ", "explore "))]
    assert any(f.startswith("tour ") for f in progress), frames[:5]
    assert any(f.startswith("explore ") for f in progress)
    for frame in progress:
        assert "\n" not in frame and len(frame) < 80, frame
        assert "%" in frame and re.search(r"\[\d+:\d\d(<\d+:\d\d)?\]", frame), frame
        for done, total in re.findall(r"(\d+)/(\d+)", frame):
            assert int(done) <= int(total), frame
    # with --jobs 2 each campaign runs 15 examples: the line adds both up
    assert progress[-1].startswith("explore 30/30 100%")
