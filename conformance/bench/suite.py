"""``python -m jobcheck.conformance.bench`` (``tox -e bench``): jobcheck against its limits.

One invocation measures, in one process tree, each figure over several runs
(median, min and max), and sets the speeds side by side with the limits
measured in the same run — these machines are shared and noisy, so a ratio to
a limit measured a moment earlier means more than an absolute time:

* the **ceiling**: a bare Hypothesis state machine with one trivial rule,
  under the campaign's Hypothesis settings;
* the **simulator campaign**, oracle included: exploration steps/s and its
  ratio to the ceiling (goal ≥ 0.5), and the planned tour's steps/s;
* **check-trace** on a synthetic million-record trace: records/s (goal
  ≥ 100,000) and the peak RSS of the check-trace process (goal < 200 MB);
  and on the same records written as a qemu-iotests output (read by the
  iotests reader, checked in per-job order): records/s (goal ≥ 100,000), its
  ratio to the JSON-lines row of the same run, and the peak RSS;
* **live QEMU**, for ``qemu-storage-daemon`` and ``qemu-system-x86_64``:
  start-up until QMP answers, the ``query-jobs`` round trip through the live
  target (median and p95), what QEMU takes per byte of a command (its monitor
  reads a byte at a time), campaign steps/s and their ratio to 1/RTT (goal
  ≥ 0.3), the QMP bytes an exploration step sends (set-up and teardown
  included) and the share of the exploration's time QEMU spends reading them,
  the planned tour, and the time from the start of a campaign until
  every reachable transition and verb×status cell is covered (goal ≤ 10 s) —
  all from one campaign run tour first, then exploration, in one process —
  and the whole campaign of the same seed as ``jobcheck run`` runs it, the tour
  in a process beside the exploration (goal ≤ 4 s, 100% coverage reached);
* ``jobcheck run --jobs 2`` over ``--jobs 1`` on the same total work
  (goal ≥ 1.6×) and the peak RSS of a live ``jobcheck run``.

The table goes to standard output (Markdown), the JSON to ``--out``
(default ``reports/bench/latest.json``).  ``--quick`` runs everything once and
small; ``--skip-live`` leaves QEMU out.  A missing QEMU binary makes its rows
say ``skipped: no BINARY``; a measurement that fails makes its rows say
``failed: …`` and the exit code 1.  Exit 2 on bad options.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import hypothesis

from jobcheck.conformance.bench.live import measure_binary, measure_jobs
from jobcheck.conformance.bench.local import ceiling, check_trace, sim_campaign
from jobcheck.conformance.bench.sizes import FULL, QUICK, Sizes
from jobcheck.conformance.bench.table import Goal, Row, markdown_table, report_json
from jobcheck.conformance.errors import JobcheckError, UsageError
from jobcheck.conformance.trace.synthetic import write_synthetic_iotests, write_synthetic_trace

DEFAULT_OUT = Path("reports") / "bench" / "latest.json"
#: The model the benchmark checks against: the one of the reference QEMU (Debian's 7.2).
MODEL = "7.2"
MB = 1_000_000
BINARIES = (("qsd", "qemu-storage-daemon"), ("sys", "qemu-system-x86_64"))


def make_rows() -> dict[str, Row]:
    """Every row of the table, in order, with its goal; all empty."""
    rows = [
        Row("ceiling.steps", "bare Hypothesis machine, 1 trivial rule", "steps/s"),
        Row("sim.explore.steps", "simulator campaign, exploration (oracle included)", "steps/s"),
        Row("sim.explore.ratio", "simulator exploration ÷ ceiling", "ratio", Goal(">=", 0.5)),
        Row("sim.tour.steps", "simulator campaign, planned tour", "steps/s"),
        Row(
            "trace.records",
            "check-trace, synthetic trace",
            "records/s",
            Goal(">=", 100_000),
        ),
        Row("trace.rss", "check-trace, peak RSS", "MB", Goal("<", 200)),
        Row(
            "trace.iotests.records",
            "check-trace, the same trace as qemu-iotests output",
            "records/s",
            Goal(">=", 100_000),
        ),
        Row("trace.iotests.ratio", "qemu-iotests output ÷ JSON lines", "ratio"),
        Row(
            "trace.iotests.rss",
            "check-trace of qemu-iotests output, peak RSS",
            "MB",
            Goal("<", 200),
        ),
    ]
    for key, binary in BINARIES:
        rows += [
            Row(f"{key}.startup", f"{binary}: start-up to QMP ready", "ms"),
            Row(f"{key}.ready", f"{binary}: start-up to live target ready", "ms"),
            Row(f"{key}.rtt", f"{binary}: query-jobs round trip, median", "ms"),
            Row(f"{key}.rtt95", f"{binary}: query-jobs round trip, p95", "ms"),
            Row(
                f"{key}.rtt.client",
                f"{binary}: query-jobs round trip, qemu.qmp's client alone, median",
                "ms",
            ),
            Row(
                f"{key}.rtt.share",
                f"{binary}: query-jobs round trip, share that is jobcheck's",
                "ratio",
            ),
            Row(f"{key}.byte", f"{binary}: QEMU reading a command, per byte", "µs"),
            Row(f"{key}.explore.steps", f"{binary}: campaign exploration", "steps/s"),
            Row(
                f"{key}.explore.ratio", f"{binary}: exploration ÷ (1/RTT)", "ratio", Goal(">=", 0.3)
            ),
            Row(f"{key}.explore.bytes", f"{binary}: exploration, QMP bytes sent", "B/step"),
            Row(
                f"{key}.explore.reading",
                f"{binary}: exploration, share of the time QEMU reads commands",
                "ratio",
            ),
            Row(f"{key}.tour.steps", f"{binary}: planned tour", "steps/s"),
            Row(f"{key}.tour.seconds", f"{binary}: planned tour, whole", "s"),
            Row(
                f"{key}.campaign.serial",
                f"{binary}: tour, then exploration, in one process",
                "s",
            ),
            Row(
                f"{key}.campaign.seconds",
                f"{binary}: whole campaign (tour beside exploration)",
                "s",
                Goal("<=", 4),
            ),
            Row(
                f"{key}.coverage", f"{binary}: time to 100% reachable coverage", "s", Goal("<=", 10)
            ),
        ]
    rows += [
        Row("jobs.one", "jobcheck run --jobs 1 (qemu-storage-daemon)", "s"),
        Row("jobs.two", "jobcheck run --jobs 2 (qemu-storage-daemon)", "s"),
        Row("jobs.speedup", "--jobs 2 speed-up over --jobs 1", "×", Goal(">=", 1.6)),
        Row("jobs.cores", "jobcheck run --jobs 1, CPU busy (QEMU included)", "cores"),
        Row("jobs.rss", "jobcheck run --jobs 1, peak RSS", "MB"),
    ]
    return {row.key: row for row in rows}


def _progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def _fail(rows: dict[str, Row], prefix: str, message: str) -> None:
    """Mark the rows whose keys start with ``prefix`` as failed, dropping their samples."""
    _progress(f"{prefix.rstrip('.')} failed: {message}")
    for row in rows.values():
        if row.key.startswith(prefix):
            row.samples.clear()
            row.note = ""
            row.skipped = f"failed: {message}"


def _section(rows: dict[str, Row], prefix: str, body: Callable[[], None]) -> None:
    """Run one measurement; on failure its rows (keys starting ``prefix``) say why.

    A :class:`JobcheckError` is a one-line message; anything else is a bug in
    jobcheck, so its traceback goes to stderr too.
    """
    try:
        body()
    except JobcheckError as exc:
        _fail(rows, prefix, _first_line(exc))
    except Exception as exc:
        traceback.print_exc()
        _fail(rows, prefix, f"{type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _skip(rows: dict[str, Row], prefix: str, reason: str) -> None:
    for row in rows.values():
        if row.key.startswith(prefix):
            row.skipped = reason


# -- the measurements -------------------------------------------------------------------


def bench_campaign_speed(rows: dict[str, Row], sizes: Sizes) -> None:
    """Ceiling and simulator campaign, interleaved run by run so their ratio is fair."""
    # A first, discarded run of each pays the one-off costs (imports, model caches).
    ceiling(2, 5, 0)
    sim_campaign(MODEL, 2, 5, 0)
    sim_ok = True
    for run in range(sizes.repeat):
        seed = run + 1
        _progress(f"ceiling and simulator campaign, run {run + 1}/{sizes.repeat}")
        bare = ceiling(sizes.examples, sizes.steps, seed)
        rows["ceiling.steps"].samples.append(bare.per_second)
        if not sim_ok:
            continue

        def one_sim(bare_rate: float = bare.per_second, seed: int = seed) -> None:
            sim = sim_campaign(MODEL, sizes.examples, sizes.steps, seed)
            rows["sim.explore.steps"].samples.append(sim.explore.per_second)
            rows["sim.explore.ratio"].samples.append(sim.explore.per_second / bare_rate)
            rows["sim.tour.steps"].samples.append(sim.tour.per_second)

        _section(rows, "sim.", one_sim)
        sim_ok = rows["sim.explore.steps"].skipped is None
    work = f"{sizes.examples} examples × ≤ {sizes.steps} steps per run"
    rows["ceiling.steps"].note = work
    rows["sim.explore.steps"].note = work + f"; model {MODEL}"


def bench_check_trace(rows: dict[str, Row], sizes: Sizes, workdir: Path) -> None:
    """check-trace on a generated synthetic trace, as a child process; then on the same
    records as a qemu-iotests output, run by run, so that their ratio is fair."""
    path = workdir / "synthetic.jsonl"
    iotests = workdir / "synthetic.out"
    _progress(f"generating a {sizes.trace_records:,}-record synthetic trace, in both formats")
    write_synthetic_trace(str(path), sizes.trace_records, seed=1)
    write_synthetic_iotests(str(iotests), sizes.trace_records, seed=1)
    for run in range(sizes.repeat):
        _progress(f"check-trace, run {run + 1}/{sizes.repeat}")
        rate, process = check_trace(str(path), sizes.trace_records, MODEL, sizes.timeout)
        rows["trace.records"].samples.append(rate.per_second)
        rows["trace.rss"].samples.append(process.peak_rss / MB)
        out_rate, out_process = check_trace(str(iotests), sizes.trace_records, MODEL, sizes.timeout)
        rows["trace.iotests.records"].samples.append(out_rate.per_second)
        rows["trace.iotests.ratio"].samples.append(out_rate.per_second / rate.per_second)
        rows["trace.iotests.rss"].samples.append(out_process.peak_rss / MB)
    rows["trace.records"].note = f"{sizes.trace_records:,} records; exit 0 (known divergences only)"
    rows[
        "trace.iotests.records"
    ].note = "the same records, free text and headings among them; per-job order; exit 0"
    path.unlink()
    iotests.unlink()


def bench_live(rows: dict[str, Row], sizes: Sizes, skip: bool) -> None:
    """Every live row: per binary, then the --jobs scaling on qemu-storage-daemon."""
    if skip:
        for key, _ in BINARIES:
            _skip(rows, f"{key}.", "skipped: --skip-live")
        _skip(rows, "jobs.", "skipped: --skip-live")
        return
    for key, binary in BINARIES:
        found = shutil.which(binary)
        if found is None:
            _skip(rows, f"{key}.", f"skipped: no {binary}")
            continue

        def measure(key: str = key, found: str = found) -> None:
            measure_binary(rows, key, found, sizes, MODEL)

        _section(rows, f"{key}.", measure)
    qsd = shutil.which("qemu-storage-daemon")
    if qsd is None:
        _skip(rows, "jobs.", "skipped: no qemu-storage-daemon")
        return
    _section(rows, "jobs.", lambda: measure_jobs(rows, qsd, sizes, MODEL))


# -- machine description ----------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def _qemu_version(binary: str) -> str | None:
    path = shutil.which(binary)
    if path is None:
        return None
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out else None


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "hypothesis": hypothesis.__version__,
        "qemu": {binary: _qemu_version(binary) for _, binary in BINARIES},
    }


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_line(info: dict[str, Any]) -> str:
    """The machine in one line, printed above the table."""
    qemu = info["qemu"].get("qemu-storage-daemon") or info["qemu"].get("qemu-system-x86_64")
    parts = [
        f"{info['cores']} cores ({info['cpu']})",
        info["os"],
        f"Python {info['python']}",
        f"Hypothesis {info['hypothesis']}",
        qemu or "no QEMU",
    ]
    load = info.get("load_average")
    if load:
        parts.append(f"load average {load['start'][0]:g} at start, {load['end'][0]:g} at end")
    return "; ".join(parts)


# -- command line -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog="python -m jobcheck.conformance.bench",
        description="Measure jobcheck against its limits (Hypothesis, QMP round trip) "
        "and print a table; the JSON goes to --out.",
    )
    parser.add_argument("--quick", action="store_true", help="one small run of each (smoke test)")
    parser.add_argument(
        "--skip-live", action="store_true", help="leave out every measurement on live QEMU"
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        default=str(DEFAULT_OUT),
        help=f"JSON output (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--repeat", type=int, metavar="N", help="runs per figure (default 3, --quick 1)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return _main(args)
    except JobcheckError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


def _main(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else FULL
    if args.repeat is not None:
        if args.repeat < 1:
            raise UsageError("--repeat must be at least 1")
        sizes = replace(sizes, repeat=args.repeat)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out.parent}: {exc.strerror or exc}") from None
    started = time.perf_counter()
    load_at_start = _load()
    rows = make_rows()
    with tempfile.TemporaryDirectory(prefix="jobcheck-bench-") as workdir:
        _section(rows, "ceiling.", lambda: bench_campaign_speed(rows, sizes))
        _section(rows, "trace.", lambda: bench_check_trace(rows, sizes, Path(workdir)))
        bench_live(rows, sizes, args.skip_live)
    for row in rows.values():
        if not row.samples and row.skipped is None:
            row.skipped = "failed: not measured (see the messages above)"
    failed = [r for r in rows.values() if r.skipped and r.skipped.startswith("failed:")]
    seconds = time.perf_counter() - started
    info = machine()
    load_at_end = _load()
    if load_at_start and load_at_end:
        info["load_average"] = {"start": load_at_start, "end": load_at_end}
    table = list(rows.values())
    print(machine_line(info) + "\n")
    print(markdown_table(table))
    print(f"\n{len(table)} rows in {seconds:.0f} s; JSON: {out}")
    options = {"quick": args.quick, "skip_live": args.skip_live, **asdict(sizes)}
    data = report_json(table, machine=info, options=options, seconds=seconds)
    try:
        out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    return 1 if failed else 0
