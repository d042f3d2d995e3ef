"""How much work each benchmark measurement does: the full run and ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    repeat: int
    """Runs per figure (each figure is the median of these)."""
    examples: int
    """Hypothesis examples of the ceiling and of the simulator exploration."""
    steps: int
    """Steps per example, likewise."""
    trace_records: int
    startups: int
    """QEMU start-ups timed per run."""
    round_trips: int
    """``query-jobs`` round trips timed per run."""
    live_examples: int
    live_steps: int
    """Examples and steps of the live campaign (the full run: the ``ci`` profile's)."""
    jobs_examples: int
    """Total examples of each ``--jobs 1`` / ``--jobs 2`` run."""
    timeout: float
    """Seconds after which a child process is killed."""


FULL = Sizes(
    repeat=3,
    examples=500,
    steps=25,
    trace_records=1_000_000,
    startups=10,
    round_trips=500,
    live_examples=30,
    live_steps=25,
    jobs_examples=80,
    timeout=300.0,
)
QUICK = Sizes(
    repeat=1,
    examples=5,
    steps=10,
    trace_records=20_000,
    startups=3,
    round_trips=50,
    live_examples=2,
    live_steps=10,
    jobs_examples=2,
    timeout=120.0,
)
