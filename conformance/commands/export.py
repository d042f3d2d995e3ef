"""``jobcheck export``: turn a trace into a reproducer a QEMU developer can run.

``--as script`` writes a standalone Python script that needs only qemu.qmp
(``python3 repro.py --qemu BIN``; see :mod:`jobcheck.conformance.export.script`).
``--as iotest`` writes a qemu-iotests test and its reference output, to drop
into QEMU's ``tests/qemu-iotests/tests/`` (see
:mod:`jobcheck.conformance.export.iotest`).  Both replay the recorded QMP
commands of a live QEMU trace up to the divergence (see
:mod:`jobcheck.conformance.export.plan`); a simulator trace must be replayed on
QEMU first (``jobcheck replay TRACE --qemu BIN --save live.jsonl``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from jobcheck.conformance.commands.options import say_model
from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.export import iotest as export_iotest
from jobcheck.conformance.export import script as export_script
from jobcheck.conformance.export.plan import build_plan
from jobcheck.conformance.trace.readers import read_trace
from jobcheck.conformance.trace.records import Record, TraceFormatError

HELP = "export a live trace's divergence as a standalone qemu.qmp script or a qemu-iotests test"
EXAMPLES = """\
  jobcheck export live.jsonl --as script --out repro.py
  jobcheck export live.jsonl --as iotest --out complete-in-standby
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE", help="a trace of a live QEMU (JSON lines)")
    parser.add_argument(
        "--as",
        dest="kind",
        choices=["script", "iotest"],
        required=True,
        help="script: python3 repro.py --qemu BIN; iotest: a test for tests/qemu-iotests/tests/",
    )
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="script: the file (default: standard output); iotest: the test file, its"
        " reference output goes to PATH.out (default: ./jobcheck-RULE)",
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
    try:
        with read_trace(args.trace, "auto") as (meta, stream):
            records: list[Record] = list(stream)
    except TraceFormatError as exc:
        raise UsageError(str(exc)) from None
    wanted = args.model or meta.qemu_version
    if wanted is None:
        raise UsageError(f"{args.trace}: the trace does not say its QEMU version; pass --model V")
    version = say_model("export", wanted, always=args.model is None).version
    plan = build_plan(records, meta, version, args.trace)
    if args.kind == "script":
        text = export_script.render(plan)
        if args.out is None:
            print(text, end="")
        else:
            _write(Path(args.out), text, executable=True)
            print(f"wrote {args.out}: run it with python3 {args.out} --qemu BIN")
        return 0
    test = Path(args.out or f"jobcheck-{plan.rule.replace('.', '-')}")
    _write(test, export_iotest.render_test(plan), executable=True)
    _write(Path(f"{test}.out"), export_iotest.render_output(plan))
    print(f"wrote {test} and {test}.out: copy both into QEMU's tests/qemu-iotests/tests/")
    return 0
