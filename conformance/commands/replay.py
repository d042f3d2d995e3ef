"""``jobcheck replay``: run a saved trace's driver steps again and check the result.

A trace written by a campaign (``reports/RUN/traces/dNN-RULE.jsonl``) holds,
besides what QEMU said, the driver *steps* that made it happen (notes with a
``step``).  Replay runs those steps again on a target — the simulator (with
or without a mutant), a QEMU binary it launches, or a running QEMU it attaches
to — settling after each step as the campaign does, checks the new trace with
the oracle, and prints::

    FIXED: no divergence                        (exit 0)
    STILL DIVERGES: 1 divergence                (exit 1)

followed by each divergence.  Only divergences that would fail a campaign
count: catalogued documented-vs-implemented ones (and, with ``--baseline``,
baselined ones) are listed but do not count, unless ``--strict``.  ``--save
FILE`` writes the new trace (e.g. to turn a simulator trace into a live one
for ``jobcheck export``).  Exit 2 for a bad trace or bad options, 3 when the
target fails.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from jobcheck.conformance.campaign.results import CampaignResult
from jobcheck.conformance.campaign.session import Session
from jobcheck.conformance.commands.options import say_model, say_pending
from jobcheck.conformance.errors import TargetCrashed, TargetError, UsageError
from jobcheck.conformance.report.baseline import load_baseline
from jobcheck.conformance.targets.select import choose_target
from jobcheck.conformance.trace.readers import read_trace
from jobcheck.conformance.trace.records import Meta, Note, Record, TraceFormatError, write_jsonl
from jobcheck.conformance.trace.steps import job_kinds

HELP = "re-run a saved trace's steps on a target and report FIXED or STILL DIVERGES"
EXAMPLES = """\
  jobcheck replay reports/my-run/traces/d01-RULE.jsonl
  jobcheck replay TRACE --qemu /usr/bin/qemu-storage-daemon --save live.jsonl
  jobcheck replay tests/data/create-then-quit.jsonl --qemu qemu-storage-daemon
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE", help="a trace saved by jobcheck (JSON lines)")
    target = parser.add_argument_group("target (default: the kind of target that made the trace)")
    target.add_argument("--target", choices=["sim", "qemu"], help="sim (simulator) or qemu (live)")
    target.add_argument("--sim-mutant", metavar="NAME", help="replay on a mutated simulator")
    target.add_argument("--qemu", metavar="BIN", help="QEMU binary to launch")
    target.add_argument("--connect", metavar="SOCK", help="attach to a running QEMU's QMP socket")
    target.add_argument(
        "--model", metavar="V", help="model version (default: the trace's QEMU version)"
    )
    target.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="seconds per command (default 10)"
    )
    parser.add_argument("--strict", action="store_true", help="known divergences count too")
    parser.add_argument("--baseline", metavar="FILE", help="baselined divergences do not count")
    parser.add_argument("--save", metavar="FILE", help="write the replayed trace to FILE")


def read_steps(path: str) -> tuple[Meta, list[dict[str, Any]]]:
    """The metadata and the driver steps of a jobcheck trace (:class:`UsageError` if none)."""
    try:
        with read_trace(path, "auto") as (meta, records):
            steps = [r.step for r in records if isinstance(r, Note) and r.step is not None]
    except TraceFormatError as exc:
        raise UsageError(str(exc)) from None
    if not steps:
        raise UsageError(
            f"{path}: no driver steps to replay (only traces written by a jobcheck campaign"
            " have them; check a recorded log with jobcheck check-trace instead)"
        )
    for number, step in enumerate(steps, start=1):
        if not isinstance(step.get("op"), str):
            raise UsageError(f"{path}: step {number} has no 'op'")
    return meta, steps


def _model_version(args: argparse.Namespace, meta: Meta) -> str | None:
    wanted = args.model or meta.qemu_version
    if wanted is None:
        return None
    return say_model("replay", wanted, always=args.model is None).version


def _target_seed(meta: Meta) -> int:
    for key in ("target_seed", "sim_seed", "seed"):
        value = meta.extra.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def run(args: argparse.Namespace) -> int:
    meta, steps = read_steps(args.trace)
    kind = args.target
    if kind is None and not (args.qemu or args.connect):
        kind = "sim" if (meta.source == "sim" or args.sim_mutant) else None
    model = _model_version(args, meta)
    choice = choose_target(
        kind,
        qemu=args.qemu,
        connect=args.connect,
        model=model if (kind == "sim" or args.model) else None,
        mutant=args.sim_mutant,
        timeout=args.timeout,
    )
    baseline = load_baseline(args.baseline) if args.baseline else None
    target = choice.make(_target_seed(meta))
    say_pending()
    print(f"replay: {len(steps)} steps of {args.trace} on {target.describe()}")
    session = Session(
        target, target.model, lambda d: True, CampaignResult(), {"replay": args.trace}
    )
    crash: str | None = None
    try:
        for number, step in enumerate(steps, start=1):
            try:
                session.step(step)
            except (KeyError, ValueError, TypeError) as exc:
                where = f"{args.trace}: step {number} ({step.get('op')})"
                raise UsageError(f"{where}: bad step: {exc}") from None
    except TargetError as exc:
        if not isinstance(exc, TargetCrashed):
            raise
        crash = str(exc)
    finally:
        try:
            session.finish()
        except TargetError as exc:
            if crash is None and not isinstance(exc, TargetCrashed):
                raise
            crash = crash or str(exc)
    records: list[Record] = session.records
    if crash is not None:
        if args.save:
            _save(Path(args.save), session.meta, records)
        print(f"STILL DIVERGES: qemu.no-abort: QEMU crashed: {crash}")
        return 1
    if args.save:
        _save(Path(args.save), session.meta, records)
    kinds = job_kinds(records)
    counted, ignored = [], []
    for d in session.divergences:
        if not args.strict and d.known:
            ignored.append((d, "known"))
        elif baseline is not None and baseline.match(
            d.rule, kinds.get(d.job or ""), target.qemu_version
        ):
            ignored.append((d, "baselined"))
        else:
            counted.append(d)
    original = meta.extra.get("rule")
    if counted:
        print(f"STILL DIVERGES: {_n(len(counted))}" + _also(ignored))
    else:
        print("FIXED: no divergence" + _also(ignored))
    for d in counted:
        print(f"  {d.rule} at record {d.index}: {d.message}")
    tally: dict[tuple[str, str], int] = {}
    for d, why in ignored:
        tally[(d.rule, why)] = tally.get((d.rule, why), 0) + 1
    for (rule, why), count in sorted(tally.items()):
        print(f"  not counted ({why}): {rule} ×{count}")
    if isinstance(original, str):
        again = any(d.rule == original for d in counted)
        print(f"the trace's divergence ({original}): {'reproduced' if again else 'not reproduced'}")
    return 1 if counted else 0


def _n(count: int) -> str:
    return f"{count} divergence" + ("" if count == 1 else "s")


def _also(ignored: list[Any]) -> str:
    return f" ({len(ignored)} not counted: known or baselined)" if ignored else ""


def _save(path: Path, meta: Meta, records: list[Record]) -> None:
    try:
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as stream:
            write_jsonl(stream, meta, records)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"replayed trace: {path}")
