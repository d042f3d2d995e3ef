"""Benchmarks on a live QEMU: start-up, QMP round trip, campaign speed, coverage time, scaling.

Everything goes through the live target
(:class:`~jobcheck.conformance.targets.qemu.QemuTarget`, made by
:class:`~jobcheck.conformance.targets.select.TargetChoice`), so the figures
are those of jobcheck's own machinery, not of a hand-written QMP client:

* :func:`round_trips` — ``query-jobs`` round trips through
  :meth:`~jobcheck.conformance.targets.qemu.QemuTarget.execute`, recording included;
  :class:`PlainClient`, the same with qemu.qmp's client alone, for what of that
  time is jobcheck's own;
* :func:`coverage_campaign` — a campaign whose targets are watched, so that
  the moment every reachable transition and verb×status cell has been seen
  (:func:`~jobcheck.conformance.campaign.coverage.goals`) is known to the step;
* :func:`jobs_run` — ``jobcheck run --jobs N`` as a child process, for the
  scaling of ``--jobs 2`` over ``--jobs 1`` and jobcheck's peak RSS.

:func:`measure_binary` and :func:`measure_jobs` fill the benchmark's rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from qemu.qmp import QMPClient

from jobcheck.conformance.bench.local import CampaignRates, accept_all, timed_campaign
from jobcheck.conformance.bench.process import ProcessRun, jobcheck_argv, run_measured
from jobcheck.conformance.bench.sizes import Sizes
from jobcheck.conformance.bench.table import Row
from jobcheck.conformance.campaign.coverage import Cell, Coverage, Edge, coverage_summary, goals
from jobcheck.conformance.campaign.parallel import run_campaigns
from jobcheck.conformance.campaign.results import CampaignResult
from jobcheck.conformance.campaign.session import TargetFactory
from jobcheck.conformance.errors import TargetError
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.targets.qemu import QemuTarget
from jobcheck.conformance.targets.qemu_process import QemuProcess, find_binary
from jobcheck.conformance.targets.qemu_session import QemuSession
from jobcheck.conformance.targets.select import TargetChoice
from jobcheck.conformance.trace.records import Record
from jobcheck.model.lifecycle import Model, model_for

MB = 1_000_000
T = TypeVar("T")


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def qmp_ready_seconds(binary: str, timeout: float) -> float:
    """Seconds from launching ``binary`` until its QMP monitor answers a first command.

    The launch and the QMP session are the live target's own
    (:class:`~jobcheck.conformance.targets.qemu_process.QemuProcess`,
    :class:`~jobcheck.conformance.targets.qemu_session.QemuSession`); the
    introspection a :class:`~jobcheck.conformance.targets.qemu.QemuTarget` does next is not
    included.
    """
    found = find_binary(binary)
    with tempfile.TemporaryDirectory(prefix="jobcheck-bench-") as workdir:
        started = time.perf_counter()
        process = QemuProcess(found, workdir)
        session: QemuSession | None = None
        try:
            session = QemuSession(timeout)
            session.connect(process.connection)
            response = session.execute("query-jobs")
            seconds = time.perf_counter() - started
        except Exception as exc:  # the session's own errors are not TargetErrors
            raise TargetError(f"{found.name} did not answer QMP: {exc}") from None
        finally:
            if session is not None:
                session.close()
            process.kill()
    if not response.ok:
        raise TargetError(f"{found.name} refused query-jobs: {response.error}")
    return seconds


def target_ready_seconds(choice: TargetChoice) -> float:
    """Seconds until a new live target is ready (launch, QMP, introspection, set-up)."""
    started = time.perf_counter()
    target = choice.make(0)
    try:
        target.execute("query-jobs")
        return time.perf_counter() - started
    finally:
        target.close()


RTT_BLOCKS = 5
"""How many turns the round trips through the target and those of :class:`PlainClient`
take in each run (the two are compared: measured apart, a drift of the machine's speed
would show as a difference)."""

PAD = 1000
"""Bytes of padding in the command that :func:`byte_cost` times against a short one."""


def byte_cost(target: Target, count: int) -> float:
    """Seconds QEMU takes per byte of a command it reads: ``count`` round trips of
    ``query-jobs`` with an argument of :data:`PAD` bytes against ``count`` with an empty
    one, alternating (both refused alike: ``query-jobs`` takes no argument, and QEMU says
    so only once it has read the whole command)."""
    short: list[float] = []
    long: list[float] = []
    for _ in range(count):
        for pad, into in (("", short), ("x" * PAD, long)):
            started = time.perf_counter()
            target.execute("query-jobs", {"pad": pad})
            into.append(time.perf_counter() - started)
    target.take_records()
    return (statistics.median(long) - statistics.median(short)) / PAD


def round_trips(target: Target, count: int) -> list[float]:
    """``count`` timed ``query-jobs`` round trips through the target, in seconds."""
    for _ in range(5):
        target.execute("query-jobs")
    target.take_records()
    out: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        target.execute("query-jobs")
        out.append(time.perf_counter() - started)
    target.take_records()
    return out


class PlainClient:
    """A QEMU launched as the live target launches it, spoken to by qemu.qmp's client alone.

    The client is qemu.qmp's :class:`~qemu.qmp.QMPClient` with its event loop run
    in the calling thread, as :class:`~jobcheck.conformance.targets.qemu_session.QemuSession`
    runs it, but with nothing else: no recording, no job tracker, no turns of the loop
    after each answer, no signal handlers kept out of the loop.  Against
    :func:`round_trips` it shows what of a round trip is jobcheck's own.  A context
    manager: the QEMU is killed and its directory removed at the end.
    """

    def __init__(self, binary: str, timeout: float) -> None:
        self.timeout = timeout
        self._found = find_binary(binary)
        self._workdir = tempfile.TemporaryDirectory(prefix="jobcheck-bench-")
        self._loop = asyncio.new_event_loop()
        self._client = QMPClient("jobcheck-bench")
        self._process: QemuProcess | None = None
        try:
            self._process = QemuProcess(self._found, self._workdir.name)
            self._run(self._client.connect(self._process.connection))
        except BaseException:
            self.close()
            raise

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self._loop.run_until_complete(asyncio.wait_for(coro, self.timeout))
        except Exception as exc:
            raise TargetError(f"{self._found.name} did not answer QMP: {exc}") from None

    def round_trips(self, count: int) -> list[float]:
        """``count`` timed ``query-jobs`` round trips, in seconds (after 5 untimed ones)."""

        async def timed() -> list[float]:
            for _ in range(5):
                await self._client.execute("query-jobs")
            out: list[float] = []
            for _ in range(count):
                started = time.perf_counter()
                await self._client.execute("query-jobs")
                out.append(time.perf_counter() - started)
            return out

        return self._run(timed())

    def close(self) -> None:
        if not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.wait_for(self._client.disconnect(), 1.0))
            self._loop.close()
        if self._process is not None:
            self._process.kill()
            self._process = None
        self._workdir.cleanup()

    def __enter__(self) -> PlainClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CoverageClock:
    """Watches every target a campaign makes and notes when full coverage is first reached.

    Full coverage is what :func:`~jobcheck.conformance.campaign.coverage.coverage_summary`
    totals as reachable: every goal transition and every goal verb×status cell.
    The stricter per-kind count (every goal transition of each job kind) is kept
    apart, with its own time.
    """

    def __init__(self, model: Model) -> None:
        goal = goals(model)
        self.goal_kind_edges = {(k, e) for k, edges in goal.transitions.items() for e in edges}
        self.goal_edges = goal.all_transitions()
        self.goal_cells = goal.cells
        self.kind_edges: set[tuple[str, Edge]] = set()
        self.edges: set[Edge] = set()
        self.cells: set[Cell] = set()
        self.started = time.perf_counter()
        self.sent: list[tuple[float, int]] = []
        """(seconds from :meth:`start` to its making, QMP bytes sent) of each target closed."""
        self.reached_after: float | None = None
        """Seconds from :meth:`start` to full coverage; None while not reached."""
        self.kinds_reached_after: float | None = None
        """Seconds from :meth:`start` until every kind's transitions were seen too."""

    def start(self) -> None:
        self.started = time.perf_counter()
        self.sent = []
        self.reached_after = None
        self.kinds_reached_after = None

    def watch(self, make_target: TargetFactory) -> TargetFactory:
        """A target factory whose targets report what they record to this clock."""

        def make(seed: int) -> Target:
            target = make_target(seed)
            coverage = Coverage()
            take = target.take_records

            def take_records() -> list[Record]:
                records = take()
                if self.kinds_reached_after is None:
                    coverage.feed_all(records)
                    self._update(coverage)
                return records

            setattr(target, "take_records", take_records)  # noqa: B010 - instance override
            if isinstance(target, QemuTarget):
                made, close, qemu = time.perf_counter() - self.started, target.close, target

                def closing() -> None:
                    try:
                        close()
                    finally:
                        self.sent.append((made, qemu.sent_bytes))

                setattr(target, "close", closing)  # noqa: B010 - instance override
            return target

        return make

    def _update(self, coverage: Coverage) -> None:
        for kind, edges in coverage.transitions.items():
            self.kind_edges.update((kind, e) for e in edges if (kind, e) in self.goal_kind_edges)
            self.edges.update(edges & self.goal_edges)
        self.cells.update(coverage.all_cells() & self.goal_cells)
        now = time.perf_counter() - self.started
        full = len(self.edges) == len(self.goal_edges) and len(self.cells) == len(self.goal_cells)
        if full and self.reached_after is None:
            self.reached_after = now
        if full and len(self.kind_edges) == len(self.goal_kind_edges):
            self.kinds_reached_after = now

    def reached(self) -> str:
        """What was reached, in words (``17/17 transitions, 104/104 cells``)."""
        return (
            f"{len(self.edges)}/{len(self.goal_edges)} transitions, "
            f"{len(self.cells)}/{len(self.goal_cells)} cells"
        )

    def kinds_missing(self) -> list[str]:
        """The per-kind goal transitions not seen, as ``kind from→to``."""
        return sorted(
            f"{kind} {a.value}→{b.value}" for kind, (a, b) in self.goal_kind_edges - self.kind_edges
        )


@dataclass(frozen=True)
class CoverageRun:
    """One live campaign: its rates and when (if ever) it covered everything reachable."""

    rates: CampaignRates
    explore_bytes: int
    """QMP bytes sent by the exploration's targets (the tour's left out)."""
    reached_after: float | None
    reached: str
    kinds_reached_after: float | None
    kinds_missing: list[str]


def coverage_campaign(
    choice: TargetChoice, model: Model, examples: int, steps: int, seed: int
) -> CoverageRun:
    """A campaign on ``choice``'s targets, timed from its start to full coverage."""
    clock = CoverageClock(model)
    with choice.targets() as targets:
        make = clock.watch(targets.make)
        clock.start()
        rates = timed_campaign(make, model, examples, steps, seed)
    tour_end = rates.result.tour_seconds
    return CoverageRun(
        rates,
        sum(sent for made, sent in clock.sent if made >= tour_end),
        clock.reached_after,
        clock.reached(),
        clock.kinds_reached_after,
        clock.kinds_missing(),
    )


def whole_campaign(
    choice: TargetChoice, model: Model, examples: int, steps: int, seed: int
) -> CampaignResult:
    """The campaign as ``jobcheck run`` runs it
    (:func:`~jobcheck.conformance.campaign.parallel.run_campaigns`: on a launched QEMU, the
    tour in a process of its own beside the exploration); its ``seconds`` are the wall time
    from the start of the first to the end of the last."""
    result = run_campaigns(
        choice,
        model,
        seed=seed,
        profile="ci",
        examples=examples,
        steps=steps,
        jobs=1,
        tour=True,
        accept=accept_all,
    )
    if result.crash is not None:
        raise TargetError(f"the target crashed during the campaign (seed {seed}): {result.crash}")
    return result


def jobs_run(
    binary: str, jobs: int, examples: int, steps: int, seed: int, model: str, timeout: float
) -> ProcessRun:
    """``jobcheck run --target qemu --jobs N`` (no tour, no report) as a measured child."""
    run = run_measured(
        jobcheck_argv(
            "run",
            "--target",
            "qemu",
            "--qemu",
            binary,
            "--model",
            model,
            "--jobs",
            str(jobs),
            "--examples",
            str(examples),
            "--steps",
            str(steps),
            "--seed",
            str(seed),
            "--no-tour",
            "--no-report",
        ),
        timeout=timeout,
    )
    if run.timed_out:
        raise TargetError(f"jobcheck run --jobs {jobs} took more than {timeout:.0f} s")
    if run.exit_code not in (0, 1):
        raise TargetError(f"jobcheck run --jobs {jobs} exited {run.exit_code}: {run.last_line()}")
    return run


# -- filling the rows -------------------------------------------------------------------


def _progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def measure_binary(
    rows: dict[str, Row], key: str, binary: str, sizes: Sizes, model_version: str
) -> None:
    """Start-up, round trip, campaign speed and coverage time on one QEMU binary."""
    choice = TargetChoice("qemu", model=model_version, binary=binary)
    model = model_for(model_version)
    name = binary.rsplit("/", 1)[-1]
    missed = 0
    kinds_missing: set[str] = set()
    kinds_times: list[float] = []
    new_divergences = 0
    whole_short = 0
    for run in range(sizes.repeat):
        _progress(f"{name}: start-up, round trips and campaign, run {run + 1}/{sizes.repeat}")
        startups = [qmp_ready_seconds(binary, choice.timeout) for _ in range(sizes.startups)]
        rows[f"{key}.startup"].samples.append(statistics.median(startups) * 1000)
        ready = [target_ready_seconds(choice) for _ in range(sizes.startups)]
        rows[f"{key}.ready"].samples.append(statistics.median(ready) * 1000)
        rtts: list[float] = []
        plains: list[float] = []
        block = max(1, sizes.round_trips // RTT_BLOCKS)
        target = choice.make(0)
        try:
            with PlainClient(binary, choice.timeout + block * 0.1) as plain:
                for _ in range(RTT_BLOCKS):  # in turns: the machine's speed drifts
                    rtts += round_trips(target, block)
                    plains += plain.round_trips(block)
            per_byte = byte_cost(target, sizes.round_trips // 2)
        finally:
            target.close()
        rtt = statistics.median(rtts)
        rows[f"{key}.rtt"].samples.append(rtt * 1000)
        rows[f"{key}.rtt95"].samples.append(percentile(rtts, 0.95) * 1000)
        rows[f"{key}.rtt.client"].samples.append(statistics.median(plains) * 1000)
        rows[f"{key}.rtt.share"].samples.append(1 - statistics.median(plains) / rtt)
        rows[f"{key}.byte"].samples.append(per_byte * 1e6)
        campaign = coverage_campaign(choice, model, sizes.live_examples, sizes.live_steps, run + 1)
        explore = campaign.rates.explore.per_second
        rows[f"{key}.explore.steps"].samples.append(explore)
        rows[f"{key}.explore.ratio"].samples.append(explore * rtt)
        explored = campaign.rates.explore
        per_step = campaign.explore_bytes / explored.count if explored.count else 0.0
        rows[f"{key}.explore.bytes"].samples.append(per_step)
        rows[f"{key}.explore.reading"].samples.append(per_step * per_byte * explore)
        rows[f"{key}.tour.steps"].samples.append(campaign.rates.tour.per_second)
        rows[f"{key}.tour.seconds"].samples.append(campaign.rates.tour.seconds)
        rows[f"{key}.campaign.serial"].samples.append(campaign.rates.result.seconds)
        whole = whole_campaign(choice, model, sizes.live_examples, sizes.live_steps, run + 1)
        rows[f"{key}.campaign.seconds"].samples.append(whole.seconds)
        summary = coverage_summary(whole.coverage, model)
        if summary["transitions"]["missing"] or summary["cells"]["missing"]:
            whole_short += 1
        new_divergences += campaign.rates.new_divergences
        coverage = rows[f"{key}.coverage"]
        if campaign.reached_after is not None:
            coverage.samples.append(campaign.reached_after)
        else:
            missed += 1
            coverage.samples.append(campaign.rates.result.seconds)
            coverage.note = f"100% not reached: {campaign.reached} after the whole campaign"
        kinds_missing.update(campaign.kinds_missing)
        if campaign.kinds_reached_after is not None:
            kinds_times.append(campaign.kinds_reached_after)
    rows[f"{key}.startup"].note = f"median of {sizes.startups} per run"
    rows[f"{key}.ready"].note = f"median of {sizes.startups} per run; launch, QMP, introspection"
    turns = f"in {RTT_BLOCKS} turns with the next row's"
    rows[f"{key}.rtt"].note = f"{sizes.round_trips} per run, through QemuTarget.execute, {turns}"
    alone = "its event loop in the calling thread, nothing recorded"
    rows[f"{key}.rtt.client"].note = f"{sizes.round_trips} per run; {alone}"
    rows[f"{key}.rtt.share"].note = "1 − the two medians' ratio, per run"
    rows[f"{key}.byte"].note = (
        f"query-jobs with a {PAD}-byte argument against an empty one, "
        f"{sizes.round_trips // 2} each per run, both refused"
    )
    rows[f"{key}.explore.bytes"].note = "the exploration's set-up and teardown included"
    rows[f"{key}.explore.reading"].note = "bytes per step × cost per byte × steps per second"
    work = f"{sizes.live_examples} examples × ≤ {sizes.live_steps} steps per run"
    rows[f"{key}.explore.steps"].note = work
    rows[f"{key}.campaign.serial"].note = "the same campaign: " + work + ", tour included"
    whole_row = rows[f"{key}.campaign.seconds"]
    whole_row.note = "as jobcheck run: the same seed and work, the tour in a process beside"
    if whole_short:
        whole_row.goal_missed = True
        whole_row.note += f"; 100% coverage not reached in {whole_short} of {sizes.repeat} runs"
    coverage = rows[f"{key}.coverage"]
    if missed:
        coverage.goal_missed = True
        coverage.note += f" in {missed} of {sizes.repeat} runs; time shown is the whole campaign"
    elif kinds_missing:
        coverage.note = "of the totals; per job kind never reached: " + ", ".join(
            sorted(kinds_missing)
        )
    elif len(kinds_times) == sizes.repeat:
        coverage.note = (
            f"every kind's transitions too after {statistics.median(kinds_times):.1f} s (median)"
        )
    if new_divergences:
        rows[
            f"{key}.explore.steps"
        ].note += f"; {new_divergences} divergences outside the catalogue"


def measure_jobs(rows: dict[str, Row], binary: str, sizes: Sizes, model_version: str) -> None:
    """``--jobs 2`` over ``--jobs 1`` on the same examples, and ``--jobs 1``'s peak RSS."""
    exits: set[int] = set()
    for run in range(sizes.repeat):
        seed = run + 1
        _progress(f"jobcheck run --jobs 1 and --jobs 2, run {run + 1}/{sizes.repeat}")
        one = jobs_run(
            binary, 1, sizes.jobs_examples, sizes.live_steps, seed, model_version, sizes.timeout
        )
        two = jobs_run(
            binary, 2, sizes.jobs_examples, sizes.live_steps, seed, model_version, sizes.timeout
        )
        exits |= {one.exit_code, two.exit_code}
        rows["jobs.one"].samples.append(one.seconds)
        rows["jobs.two"].samples.append(two.seconds)
        rows["jobs.speedup"].samples.append(one.seconds / two.seconds)
        rows["jobs.cores"].samples.append(one.cpu_seconds / one.seconds)
        rows["jobs.rss"].samples.append(one.peak_rss / MB)
    work = f"{sizes.jobs_examples} examples × ≤ {sizes.live_steps} steps, no tour"
    rows["jobs.one"].note = work
    rows["jobs.two"].note = work
    if 1 in exits:
        rows["jobs.speedup"].note = "a run exited 1 (divergences outside the catalogue)"
