"""``jobcheck replay``: run a saved trace's driver steps again and check the result.

A trace written by a campaign (``reports/RUN/traces/dNN-RULE.jsonl``) holds,
besides what QEMU said, the driver *steps* that made it happen (notes with a
``step``).  Replay runs those steps again on a target, settling after each
step as the campaign does, checks the new trace with the oracle, and prints::

    FIXED: no divergence                        (exit 0)
    STILL DIVERGES: 1 divergence                (exit 1)

followed by each divergence.  Only divergences that would fail a campaign
count: catalogued documented-vs-implemented ones (and, with ``--baseline``,
baselined ones) are listed but do not count, unless ``--strict``.

*The target* is the one the trace records unless options say otherwise: a
simulator trace replays on the simulator of the same QEMU version, with the
mutant it was made with (``--sim-mutant none`` for the plain simulator); a live
trace replays on a live QEMU — ``--qemu BIN``, ``--connect SOCK``, or by
default ``qemu-storage-daemon`` from ``PATH`` (never a binary the trace names).
The model is ``--model``, else the one the trace was checked against when the
target is the same QEMU version, else the target's own.  Replay says what the
trace was recorded on and what it replays on.

*Raw QMP steps* (``{"op": "qmp", ...}``) send what the trace says; on a live
QEMU they need ``--allow-raw-qmp`` and are limited to the commands, block
drivers and file names jobcheck itself uses
(:mod:`jobcheck.conformance.targets.raw_qmp`).

*A crash* (QEMU aborts) is the finding ``qemu.no-abort`` (exit 1).  A crash is
often a race (QEMU 7.2 aborts when ``quit`` arrives while a create job runs),
so a trace saved for one is replayed on a live QEMU until its last step runs
with the trace's jobs as they were when QEMU crashed (as the trace's records
show them, or, in a trace written by hand, with some job still at work), up to
:data:`CRASH_ATTEMPTS` times: a crash STILL DIVERGES, and FIXED needs
:data:`CLEAN_REPLAYS` replays that meet the race without a crash (a racy crash
does not happen every time its race is met); if the race is missed
:data:`CRASH_ATTEMPTS` times first, the verdict is INDETERMINATE (exit 3).  A step
after the one that made QEMU quit cannot run: replay says so and stops
there.  ``--save FILE`` writes the new trace whatever happens (a failed
target, a bad step, an interruption): the records up to that point.  Exit
2 for a bad trace or bad options, 3 when the target itself fails (or a crash
trace's race is never met).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from jobcheck.conformance.campaign.results import CampaignResult
from jobcheck.conformance.campaign.session import CrashFound, Session
from jobcheck.conformance.commands.options import say_pending
from jobcheck.conformance.errors import TargetError, UsageError, model_for_option
from jobcheck.conformance.report.baseline import load_baseline, outcome_of
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.targets.raw_qmp import check_raw_command
from jobcheck.conformance.targets.select import TargetChoice, choose_target
from jobcheck.conformance.targets.sim_mutants import MUTANTS
from jobcheck.conformance.trace.qmp_messages import last_statuses
from jobcheck.conformance.trace.readers import read_trace
from jobcheck.conformance.trace.records import (
    Command,
    Meta,
    Note,
    Record,
    TraceFormatError,
    write_jsonl,
)
from jobcheck.conformance.trace.steps import describe_step, job_kinds, step_jobs
from jobcheck.model.lifecycle import Model
from jobcheck.model.rules import RuleId

HELP = "re-run a saved trace's steps on a target and report FIXED or STILL DIVERGES"
EXAMPLES = """\
  jobcheck replay reports/my-run/traces/d01-RULE.jsonl
  jobcheck replay TRACE --qemu /usr/bin/qemu-storage-daemon --save live.jsonl
  jobcheck replay tests/data/create-then-quit.jsonl --qemu qemu-storage-daemon
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE", help="a trace saved by jobcheck (JSON lines)")
    target = parser.add_argument_group("target (default: the one the trace was recorded on)")
    target.add_argument("--target", choices=["sim", "qemu"], help="sim (simulator) or qemu (live)")
    target.add_argument(
        "--sim-mutant",
        metavar="NAME",
        help="replay on a mutated simulator (default: the trace's mutant; none: no mutant)",
    )
    target.add_argument("--qemu", metavar="BIN", help="QEMU binary to launch")
    target.add_argument("--qemu-build", metavar="DIR", help="a QEMU build directory's binary")
    target.add_argument("--connect", metavar="SOCK", help="attach to a running, idle QEMU")
    target.add_argument(
        "--connect-force", action="store_true", help="with --connect: even one that runs jobs"
    )
    target.add_argument(
        "--model",
        metavar="V",
        help="model version (default: the trace's, or the live target's own on another QEMU)",
    )
    target.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="seconds per command (default 10)"
    )
    parser.add_argument(
        "--allow-raw-qmp",
        action="store_true",
        help="send the trace's raw QMP steps to a live QEMU (only commands, drivers and file"
        " names jobcheck itself uses)",
    )
    parser.add_argument("--strict", action="store_true", help="known divergences count too")
    parser.add_argument("--baseline", metavar="FILE", help="baselined divergences do not count")
    parser.add_argument(
        "--save", metavar="FILE", help="write the replayed trace to FILE (whatever happens)"
    )


def read_steps(path: str) -> tuple[Meta, list[dict[str, Any]]]:
    """The metadata and the driver steps of a jobcheck trace (:class:`UsageError` if none).

    Every step has been checked by the reader
    (:func:`jobcheck.conformance.trace.steps.check_step`).
    """
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
    return meta, steps


def recorded_on(meta: Meta) -> str:
    """What the trace says it was recorded on, from its checked fields only."""
    version = meta.qemu_version or "?"
    if meta.source == "sim":
        mutant = _recorded_mutant(meta)
        if mutant is not None and mutant not in MUTANTS:
            mutant = "unknown to this jobcheck"
        return f"the simulator of QEMU {version}" + (f", mutant {mutant}" if mutant else "")
    if meta.source == "qemu":
        return f"QEMU {version}"
    return "an unknown target"


def _recorded_mutant(meta: Meta) -> str | None:
    mutant = meta.extra.get("mutant")
    if mutant is None:
        return None
    if not isinstance(mutant, str):
        raise UsageError(f"{meta.source}: meta 'extra.mutant' must be a mutant's name")
    return mutant


def _recorded_model(meta: Meta, path: str) -> Model | None:
    """The model the trace was checked against: ``extra.model``, else its QEMU version's."""
    wanted = meta.extra.get("model", meta.qemu_version)
    if wanted is None:
        return None
    if not isinstance(wanted, str):
        raise UsageError(f"{path}: meta 'extra.model' must be a version string")
    return model_for_option(wanted)


def choose(args: argparse.Namespace, meta: Meta) -> TargetChoice:
    """The target to replay on: the options, else what the trace records."""
    kind = args.target
    if kind is None:
        if args.qemu or args.connect or args.qemu_build:
            kind = "qemu"
        elif args.sim_mutant not in (None, "none") or meta.source == "sim":
            kind = "sim"
        elif meta.source == "qemu":
            kind = "qemu"
        else:
            raise UsageError(f"{args.trace}: the trace does not say its target; pass --target")
    recorded = _recorded_model(meta, args.trace)
    if kind == "sim":
        mutant = args.sim_mutant
        if mutant is None and meta.source == "sim":
            mutant = _recorded_mutant(meta)
        model = args.model or (recorded.version if recorded else None)
        return choose_target(
            "sim", model=model, mutant=None if mutant == "none" else mutant, timeout=args.timeout
        )
    if args.sim_mutant is not None:
        raise UsageError("--sim-mutant needs --target sim")
    return choose_target(
        "qemu",
        qemu=args.qemu,
        connect=args.connect,
        model=args.model,
        timeout=args.timeout,
        force=args.connect_force,
        build=args.qemu_build,
    )


def _model(args: argparse.Namespace, meta: Meta, choice: TargetChoice, target: Target) -> Model:
    """The model to check with: ``--model`` (or a build tree's choice), the trace's on the
    same QEMU, else the target's."""
    if args.model or choice.model or target.kind == "sim":
        return target.model
    recorded = _recorded_model(meta, args.trace)
    if recorded is not None and meta.qemu_version == target.qemu_version:
        return recorded
    return target.model


def _check_raw_steps(args: argparse.Namespace, steps: list[dict[str, Any]], live: bool) -> None:
    """Refuse raw QMP steps on a live QEMU without --allow-raw-qmp, or outside the limits."""
    raw = [(n, s) for n, s in enumerate(steps, start=1) if s["op"] == "qmp"]
    if not raw or not live:
        return
    number, first = raw[0]
    if not args.allow_raw_qmp:
        raise UsageError(
            f"{args.trace} holds {len(raw)} raw QMP step(s) (step {number}:"
            f" {describe_step(first)}), which send to QEMU what the trace says; replay them"
            " on a live QEMU only with --allow-raw-qmp"
        )
    for number, step in raw:
        try:
            check_raw_command(step["execute"], step.get("arguments"), "/nonexistent")
        except UsageError as exc:
            raise UsageError(f"{args.trace}: step {number}: {exc}") from None


#: How many times a crash trace is replayed while the race that crashed QEMU is not met.
CRASH_ATTEMPTS = 10

#: How many replays of a crash trace must meet the race without a crash for FIXED: one is
#: not enough (QEMU 7.2 survives about 7 in 10 of the create-then-quit replays that meet
#: it), so a FIXED rests on this many.
CLEAN_REPLAYS = 20

#: Statuses of a job that has finished its work.
_DONE = frozenset({"concluded", "null"})


def run(args: argparse.Namespace) -> int:
    meta, steps = read_steps(args.trace)
    choice = choose(args, meta)
    _check_raw_steps(args, steps, choice.kind == "qemu")
    baseline = load_baseline(args.baseline) if args.baseline else None
    crash_trace = meta.extra.get("rule") == RuleId.QEMU_NO_ABORT and choice.kind == "qemu"
    wanted = _working_at_last_step(_records(args.trace), steps) if crash_trace else None
    attempt = missed_races = clean = 0
    while True:
        attempt += 1
        target = choice.make(_target_seed(meta))
        if hasattr(target, "allow_raw_qmp"):
            target.allow_raw_qmp = args.allow_raw_qmp
        model = _model(args, meta, choice, target)
        if attempt == 1:
            say_pending()
            print(f"replay: {len(steps)} steps of {args.trace} on {target.describe()}")
            print(f"  recorded on {recorded_on(meta)}; checked against model {model.version}")
        extra: dict[str, Any] = {"replay": args.trace, "model": model.version}
        rule = meta.extra.get("rule")
        if isinstance(rule, str):
            extra["rule"] = rule  # the divergence the original trace was about, for export
        session = Session(target, model, lambda d: True, CampaignResult(), extra)
        try:
            crash = _replay(args, session, steps)
        finally:
            if args.save:
                _save(Path(args.save), session.meta, session.records, quiet=attempt > 1)
        if not crash_trace or crash is not None:
            break
        missed = _race_missed(_working_at_last_step(session.records, steps), wanted)
        if missed is None:
            clean += 1
            if clean == CLEAN_REPLAYS:
                print(f"  {clean} replays met the crash's race, and QEMU did not crash")
                break
            continue
        missed_races += 1
        print(f"  attempt {attempt}: {missed}; the crash's race was not met")
        if missed_races == CRASH_ATTEMPTS:
            print(
                f"INDETERMINATE: in {missed_races} replays the jobs never were as when QEMU"
                f" crashed ({clean} of the {CLEAN_REPLAYS} crash-free replays of that race"
                " a fix needs), so the crash is neither reproduced nor shown to be fixed"
            )
            return 3
    return _verdict(args, session, crash, baseline, target.qemu_version, meta)


def _records(path: str) -> list[Record]:
    with read_trace(path, "auto") as (_meta, records):
        return list(records)


def _working_at_last_step(records: list[Record], steps: list[dict[str, Any]]) -> dict[str, str]:
    """The trace's jobs that had not finished their work when the last step's first command
    was sent (a crash trace's last step is the one during which QEMU died)."""
    ours = {job for step in steps for job in step_jobs(step)}
    notes = [i for i, r in enumerate(records) if isinstance(r, Note) and r.step is not None]
    if not notes:
        return {}
    sent = next(
        (i for i in range(notes[-1], len(records)) if isinstance(records[i], Command)),
        len(records),
    )
    status = last_statuses(records[:sent])
    return {j: s for j, s in status.items() if j in ours and s not in _DONE}


def _race_missed(now: dict[str, str], then: dict[str, str] | None) -> str | None:
    """Why the last step did not meet the conditions QEMU crashed in; ``None`` if it did.

    ``then`` holds the jobs still at work when QEMU crashed, from the original trace's
    records; a trace without records (written by hand) needs some job still at work.
    """
    if then:
        if now == then:
            return None
        return f"the last step ran with {_jobs(now)}, QEMU crashed with {_jobs(then)}"
    if now:
        return None
    return "every job of the trace had finished when the last step ran"


def _jobs(working: dict[str, str]) -> str:
    return ", ".join(f"{j} {s}" for j, s in sorted(working.items())) or "no job at work"


def _replay(args: argparse.Namespace, session: Session, steps: list[dict[str, Any]]) -> str | None:
    """Run the steps and close the target; the crash, if QEMU crashed."""
    crash: str | None = None
    try:
        for number, step in enumerate(steps, start=1):
            if session.target.ended:
                print(
                    f"QEMU quit at step {number - 1}; the {len(steps) - number + 1} steps"
                    " after it cannot run"
                )
                break
            try:
                session.step(step)
            except (KeyError, ValueError, TypeError) as exc:
                where = f"{args.trace}: step {number} ({step.get('op')})"
                raise UsageError(f"{where}: bad step: {exc}") from None
    except CrashFound as exc:
        crash = str(exc.error)
    finally:
        try:
            session.finish()
        except CrashFound as exc:
            crash = crash or str(exc.error)
        except TargetError:
            if crash is None:
                raise
    return crash


def _verdict(
    args: argparse.Namespace,
    session: Session,
    crash: str | None,
    baseline: Any,
    qemu_version: str,
    meta: Meta,
) -> int:
    original = meta.extra.get("rule")
    if crash is not None:
        print(f"STILL DIVERGES: qemu.no-abort: QEMU crashed: {crash}")
        if isinstance(original, str):
            again = original == "qemu.no-abort"
            print(f"the trace's divergence ({original}): {'reproduced' if again else 'not seen'}")
        return 1
    kinds = job_kinds(session.records)
    counted, ignored = [], []
    for d in session.divergences:
        if not args.strict and d.known:
            ignored.append((d, "known"))
        elif baseline is not None and baseline.match(
            d.rule, kinds.get(d.job or ""), qemu_version, outcome_of(d.observed, d.job)
        ):
            ignored.append((d, "baselined"))
        else:
            counted.append(d)
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


def _target_seed(meta: Meta) -> int:
    for key in ("target_seed", "sim_seed", "seed"):
        value = meta.extra.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def _n(count: int) -> str:
    return f"{count} divergence" + ("" if count == 1 else "s")


def _also(ignored: list[Any]) -> str:
    return f" ({len(ignored)} not counted: known or baselined)" if ignored else ""


def _save(path: Path, meta: Meta, records: list[Record], quiet: bool = False) -> None:
    try:
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as stream:
            write_jsonl(stream, meta, records)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not quiet:
        print(f"replayed trace: {path}")
