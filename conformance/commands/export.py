"""``jobcheck export``: turn a divergence of a live trace into a reproducer a QEMU developer runs.

``--as script`` writes a standalone Python script that needs only qemu.qmp
(``python3 repro.py --qemu BIN``; see :mod:`jobcheck.conformance.export.script`).
``--as iotest`` writes a qemu-iotests test, its reference output (the
documented behaviour) and the output observed when the trace was recorded, to
drop into QEMU's ``tests/qemu-iotests/tests/`` (see
:mod:`jobcheck.conformance.export.iotest`); ``--verify BUILD_DIR`` runs it with
``./check`` in a QEMU build tree.

Which divergence: ``--divergence dNN`` (``--list`` shows them), else the new
one the trace was saved for, else its first new one; a known or baselined
one (``--baseline FILE``) only with ``--allow-known``
(:mod:`jobcheck.conformance.export.plan`).  Both kinds replay the recorded QMP
commands of a live QEMU trace up to the divergence; a simulator trace must be
replayed on QEMU first (``jobcheck replay TRACE --qemu BIN --save live.jsonl``).

Exit codes: 0 written (and, with ``--verify``, ``./check`` fails at the
divergent record and nowhere else); 1 ``--verify`` found otherwise (the test
passes there, or fails elsewhere); 2 bad input or options.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from jobcheck.conformance.commands.options import say_model
from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.export import iotest as export_iotest
from jobcheck.conformance.export import script as export_script
from jobcheck.conformance.export.plan import build_plan, check_exportable, choose, divergences
from jobcheck.conformance.export.verify import check_script, verify
from jobcheck.conformance.report.baseline import load_baseline
from jobcheck.conformance.trace.readers import read_trace
from jobcheck.conformance.trace.records import Record, TraceFormatError

HELP = "export a live trace's divergence as a standalone qemu.qmp script or a qemu-iotests test"
EXAMPLES = """\
  jobcheck export live.jsonl --as script --out repro.py
  jobcheck export live.jsonl --as iotest --out complete-in-standby
"""

_DIVERGENCE_ID = re.compile(r"d[0-9]{2,4}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE", help="a trace of a live QEMU (JSON lines)")
    parser.add_argument(
        "--as",
        dest="kind",
        choices=["script", "iotest"],
        help="script: python3 repro.py --qemu BIN; iotest: a test for tests/qemu-iotests/tests/",
    )
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="script: the file (default: standard output); iotest: the test file, its"
        " reference output goes to PATH.out (default: ./KIND-RULE, e.g. mirror-status-…)",
    )
    parser.add_argument(
        "--divergence",
        metavar="dNN",
        help="which divergence of the trace (default: the new one it was saved for, else its"
        " first new one; --list shows them)",
    )
    parser.add_argument(
        "--allow-known",
        action="store_true",
        help="allow exporting a known (catalogued) or baselined divergence",
    )
    parser.add_argument(
        "--baseline", metavar="FILE", help="divergences this baseline accepts count as baselined"
    )
    parser.add_argument("--list", action="store_true", help="list the trace's divergences and exit")
    parser.add_argument(
        "--verify",
        metavar="BUILD_DIR",
        help="iotest: run it with ./check in this QEMU build tree",
    )
    parser.add_argument(
        "--model", metavar="V", help="model version (default: the trace's QEMU version)"
    )


def _write(path: Path, text: str, executable: bool = False) -> None:
    try:
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if executable:
            os.chmod(path, 0o755)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    if not args.list and args.kind is None:
        raise UsageError("say what to export: --as script or --as iotest (or --list)")
    if args.divergence is not None and not _DIVERGENCE_ID.fullmatch(args.divergence):
        raise UsageError(f"--divergence takes an id such as d01, not {args.divergence[:20]!r}")
    if args.verify is not None:
        if args.kind != "iotest":
            raise UsageError("--verify runs an iotest: use it with --as iotest")
        check_script(args.verify)
    try:
        with read_trace(args.trace, "auto") as (meta, stream):
            records: list[Record] = list(stream)
    except TraceFormatError as exc:
        raise UsageError(str(exc)) from None
    check_exportable(meta, args.trace)
    wanted = args.model or meta.extra.get("model") or meta.qemu_version
    if not isinstance(wanted, str):
        raise UsageError(f"{args.trace}: the trace does not say its QEMU version; pass --model V")
    model = say_model("export", wanted, always=args.model is None)
    baseline = load_baseline(args.baseline) if args.baseline else None
    found = divergences(records, meta, model, baseline)
    if args.list:
        for item in found:
            print(item.describe())
        if not found:
            print(f"{args.trace}: no divergence (model {model.version})")
        return 0
    saved_rule = meta.extra.get("rule")
    chosen = choose(
        found,
        args.divergence,
        args.allow_known,
        args.trace,
        saved_rule if isinstance(saved_rule, str) else None,
    )
    plan = build_plan(records, meta, model, args.trace, chosen)
    print(f"exporting {chosen.describe()}")
    others = [f for f in found if f is not chosen]
    if others:
        print(
            f"  other divergences in the trace: {', '.join(f'{f.id} ({f.status})' for f in others)}"
        )
    if args.kind == "script":
        text = export_script.render(plan)
        if args.out is None:
            print(text, end="")
        else:
            _write(Path(args.out), text, executable=True)
            python = sys.executable or "python3"
            print(
                f"wrote {args.out}: run it with {python} {args.out} --qemu BIN"
                " (any Python with qemu.qmp)"
            )
        return 0
    test = Path(args.out or export_iotest.test_name(plan))
    source = export_iotest.render_test(plan)
    reference = export_iotest.render_output(plan)
    _write(test, source, executable=True)
    _write(Path(f"{test}.out"), reference)
    _write(Path(f"{test}.out.observed"), export_iotest.render_output(plan, observed=True))
    print(
        f"wrote {test}, {test}.out (the documented behaviour) and {test}.out.observed"
        " (QEMU's when the trace was recorded): copy the first two into QEMU's"
        " tests/qemu-iotests/tests/"
    )
    if args.verify is None:
        return 0
    needs = export_iotest.formats(plan)
    divergent = plan.exchanges[plan.divergent_exchange or 0]
    verdict = verify(
        args.verify,
        test.name,
        source,
        reference,
        needs.check_option,
        export_iotest.check_line(plan, divergent),
    )
    print(f"verify ({needs.check_option}): {verdict.outcome}: {verdict.detail}")
    return 0 if verdict.outcome == "reproduces" else 1
