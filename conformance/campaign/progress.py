"""Progress of a running campaign, as one line a person can follow on a terminal.

A campaign reports what it has done through a :class:`Reporter`: after each
step of the planned tour (in *units*: a job kind's status of the cell tour, a
transition of the edge tour, a probe), after each Hypothesis example, and when
it starts shrinking a failure.  The reporter sends a :class:`Snapshot` — plain,
picklable data — at most every :attr:`Reporter.interval` seconds and at every
change of phase, so that ``--jobs N`` campaigns in other processes can send
theirs through a queue.  :func:`progress_line` merges the latest snapshot of
each campaign into one line::

    tour 41% [0:03<0:04] · cells 88/104 · edges 15/18 · 0 new, 4 known
    explore 12/30 40% [0:07<0:11] · cells 104/104 · edges 18/18 · 0 new, 6 known

with a denominator for every counter (never above its total), percentages, the
time elapsed and an estimate of the time left in the phase ([elapsed<left]),
coverage (verb × status cells and transitions reached, of the goals) and the
rules with a new or a known divergence so far.  What does not fit the width of
the terminal is left out, least useful first (the number of jobs, then edges,
then cells).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from jobcheck.conformance.campaign.coverage import Goals
from jobcheck.conformance.campaign.results import CampaignResult

Send = Callable[["Snapshot"], None]


@dataclass(frozen=True)
class Snapshot:
    """What one campaign has done so far."""

    worker: int
    """Which of the ``--jobs N`` campaigns (0 runs the tour)."""
    phase: str
    """``tour``, ``explore``, ``shrink`` or ``done``."""
    tour_done: int
    tour_total: int
    """Units of the planned tour done, and planned (0: no tour)."""
    examples: int
    examples_total: int
    shrink_runs: int
    steps: int
    tour_started: float | None
    explore_started: float | None
    """``time.monotonic()`` when the phase began (``None``: not yet); the clock is the
    system's monotonic clock, the same in every process."""
    transitions: frozenset[tuple[str, str]]
    cells: frozenset[tuple[str, str, str]]
    """The coverage goals reached (as names, so that snapshots pickle small)."""
    new: frozenset[str]
    known: frozenset[str]
    """The rules with a new (unaccepted) or a known divergence so far."""


@dataclass
class Reporter:
    """Turns a campaign's progress into :class:`Snapshot`\\ s for ``send``."""

    send: Send
    goals: Goals
    examples_total: int
    worker: int = 0
    interval: float = 0.1
    """The least time between two snapshots of the same phase."""
    phase: str = "tour"
    tour_done: int = 0
    tour_total: int = 0
    tour_started: float | None = None
    explore_started: float | None = None
    _last: float = field(default=-1.0, repr=False)
    _read: int = field(default=0, repr=False)
    _new: set[str] = field(default_factory=set, repr=False)
    _known: set[str] = field(default_factory=set, repr=False)

    def tour(self, result: CampaignResult, done: int, total: int) -> None:
        """A step of the tour ran; ``done`` of ``total`` planned units are finished."""
        if self.tour_started is None:
            self.tour_started = time.monotonic()
        self.tour_done, self.tour_total = min(done, total), total
        self._emit(result, "tour")

    def example(self, result: CampaignResult, *, shrinking: bool) -> None:
        """A Hypothesis example ended (one generated, or a run while shrinking a failure)."""
        if self.explore_started is None:
            self.explore_started = time.monotonic()
        self._emit(result, "shrink" if shrinking else "explore")

    def finished(self, result: CampaignResult) -> None:
        self._emit(result, "done", force=True)

    def _emit(self, result: CampaignResult, phase: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and phase == self.phase and now - self._last < self.interval:
            return
        self.phase, self._last = phase, now
        if phase != "tour" and self.tour_total:
            self.tour_done = self.tour_total
        for d in result.divergences[self._read :]:
            (self._known if d.known else self._new).add(str(d.rule))
        self._read = len(result.divergences)
        goal_cells = self.goals.cells
        self.send(
            Snapshot(
                worker=self.worker,
                phase=phase,
                tour_done=self.tour_done,
                tour_total=self.tour_total,
                examples=result.examples,
                examples_total=self.examples_total,
                shrink_runs=result.shrink_runs,
                steps=result.steps,
                tour_started=self.tour_started,
                explore_started=self.explore_started,
                transitions=frozenset(
                    (a.value, b.value)
                    for a, b in result.coverage.all_transitions() & self.goals.all_transitions()
                ),
                cells=frozenset(
                    (f, v.value, s.value)
                    for f, v, s in result.coverage.all_cells()
                    if (f, v, s) in goal_cells
                ),
                new=frozenset(self._new),
                known=frozenset(self._known),
            )
        )


def clock(seconds: float) -> str:
    """``0:07``, ``12:03``, ``1:02:03``.

    >>> clock(7.4), clock(723), clock(3723)
    ('0:07', '12:03', '1:02:03')
    """
    whole = max(0, int(seconds + 0.5))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _timing(started: float, fraction: float, now: float) -> str:
    elapsed = now - started
    if fraction <= 0:
        return f"[{clock(elapsed)}]"
    left = elapsed * (1 - fraction) / fraction
    return f"[{clock(elapsed)}<{clock(left)}]"


def _percent(done: int, total: int) -> str:
    return f"{100 * done // total}%" if total else "100%"


def progress_line(
    snapshots: Iterable[Snapshot], goals: Goals, *, width: int = 80, now: float | None = None
) -> str:
    """One line for the latest snapshot of every campaign, at most ``width - 1`` characters.

    >>> from jobcheck.conformance.campaign.coverage import goals as goals_of
    >>> from jobcheck.model.lifecycle import MODELS
    >>> g = goals_of(MODELS["7.2"])
    >>> s = Snapshot(0, "explore", 40, 40, 583, 500, 0, 9000, 0.0, 10.0, frozenset(),
    ...              frozenset(), frozenset(), frozenset({"status.null-never-visible"}))
    >>> progress_line([s], g, now=70.0)
    'explore 500/500 100% [1:00<0:00] · cells 0/104 · edges 0/18 · 0 new, 1 known'
    >>> progress_line([s], g, now=70.0, width=60)
    'explore 500/500 100% [1:00<0:00] · 0 new, 1 known'
    """
    latest = sorted(snapshots, key=lambda s: s.worker)
    if not latest:
        return ""
    now = time.monotonic() if now is None else now
    parts: list[str] = []
    touring = [s for s in latest if s.phase == "tour" and s.tour_total]
    if touring:
        s = touring[0]
        fraction = s.tour_done / s.tour_total
        timing = _timing(s.tour_started, fraction, now) if s.tour_started is not None else ""
        parts.append(f"tour {_percent(s.tour_done, s.tour_total)} {timing}".rstrip())
    total = sum(s.examples_total for s in latest)
    done = min(sum(s.examples for s in latest), total)
    shrinking = sum(s.shrink_runs for s in latest)
    starts = [s.explore_started for s in latest if s.explore_started is not None]
    if shrinking:
        first = min(starts) if starts else now
        parts.append(f"shrinking the failure: {shrinking} runs [{clock(now - first)}]")
    elif total and (starts or not touring):
        timing = _timing(min(starts), done / total, now) if starts else ""
        parts.append(f"explore {done}/{total} {_percent(done, total)} {timing}".rstrip())
    exploring = sum(1 for s in latest if s.examples_total)
    cells = frozenset().union(*(s.cells for s in latest))
    edges = frozenset().union(*(s.transitions for s in latest))
    new = frozenset().union(*(s.new for s in latest))
    known = frozenset().union(*(s.known for s in latest))
    optional = [
        f"cells {len(cells)}/{len(goals.cells)}",
        f"edges {len(edges)}/{len(goals.all_transitions())}",
        f"{exploring} jobs" if exploring > 1 else "",
    ]
    tail = f"{len(new)} new, {len(known)} known"
    while True:
        line = " · ".join(p for p in [*parts, *optional[:2], tail, optional[2]] if p)
        if len(line) < width or not any(optional):
            break
        drop = max(i for i, p in enumerate(optional) if p)
        optional[drop] = ""
    return line if len(line) < width else line[: max(0, width - 2)] + "…"


class TerminalProgress:
    """Keeps the latest snapshot of each campaign and redraws one line in place."""

    def __init__(
        self, write: Callable[[str], None], goals: Goals, width: Callable[[], int]
    ) -> None:
        self._write = write
        self._goals = goals
        self._width = width
        self._latest: dict[int, Snapshot] = {}
        self._shown = False

    def __call__(self, snapshot: Snapshot) -> None:
        self._latest[snapshot.worker] = snapshot
        line = progress_line(self._latest.values(), self._goals, width=self._width())
        self._write("\r" + line + "\x1b[K")
        self._shown = True

    def close(self) -> None:
        """End the line (if one was drawn), so that what follows starts on its own."""
        if self._shown:
            self._write("\n")
            self._shown = False
