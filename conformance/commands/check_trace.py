"""``jobcheck check-trace``: check recorded traces against the model.

Reads each FILE (jobcheck JSON lines, a QMP transcript or qemu.qmp debug log,
or a qemu-iotests ``.out`` file; ``--format auto`` decides from the first
lines), streams its records through the oracle
(:mod:`jobcheck.conformance.oracle`) and prints one line per divergence::

    FILE:LINE: rule-id: message

New divergences come first, as they are found; the known documented-vs-
implemented divergences that the rule catalogue names follow under their own
heading; a summary ends the output.  ``--json`` prints one JSON document
instead (``--json=FILE`` writes it to FILE as well).

The model is ``--model`` if given, else the QEMU version the trace names,
else the newest.  The summary counts QMP records (commands, responses and
events; not the notes a reader adds), job instances, and says in which order
the records were taken: ``wire`` (as they crossed the socket) or ``per-job``
(qemu-iotests output, where only each job's own events are in order).  Exit
codes: 0 the traces conform (or show only known divergences), 1 new
divergences (with ``--strict``: any divergence), 2 a bad argument or an
unreadable or malformed file, or one that holds no QMP record at all (one line
``FILE:LINE: what is wrong`` on stderr).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from jobcheck.conformance.commands.options import (
    add_json_option,
    emit_json,
    json_only,
    model_line,
    say_model,
)
from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.oracle import Oracle
from jobcheck.conformance.oracle.divergence import Divergence
from jobcheck.conformance.trace.readers import FORMATS, open_trace
from jobcheck.conformance.trace.records import Note, TraceFormatError
from jobcheck.model.lifecycle import LATEST, Model

HELP = (
    "check recorded traces (jobcheck JSON lines, QMP logs, qemu-iotests output) against the model"
)
EXAMPLES = """\
  jobcheck check-trace reports/my-run/traces/*.jsonl
  jobcheck check-trace --model latest ~/qemu/tests/qemu-iotests/tests/*.out
  # JSON on standard output
  jobcheck check-trace qmp-log.txt --format qmp --json
  jobcheck check-trace --strict --json=result.json trace.jsonl
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="trace files to check")
    parser.add_argument(
        "--model",
        metavar="V",
        help="model version, e.g. 7.2 or latest (default: the QEMU version the trace names,"
        " else latest)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="trace format (default: auto, decided from the first lines)",
    )
    add_json_option(parser, "the result")
    parser.add_argument(
        "--strict", action="store_true", help="known divergences fail the check too (exit 1)"
    )


@dataclass
class FileResult:
    """The outcome of checking one file."""

    path: str
    model: str | None = None
    order: str | None = None
    records: int = 0
    """QMP records (commands, responses, events) read; not the reader's notes."""
    jobs: int = 0
    new: list[Divergence] = field(default_factory=list)
    """New divergences, the first :data:`MAX_KEPT` of them (all are counted and printed)."""
    known: list[Divergence] = field(default_factory=list)
    """Known divergences, the first :data:`MAX_KEPT_PER_RULE` of each rule."""
    new_count: int = 0
    known_count: dict[str, int] = field(default_factory=dict)
    """Known divergences per rule, all of them."""
    error: str | None = None
    chosen: str | None = None
    """How the model was picked from the trace's QEMU version (``None``: by ``--model``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "model": self.model,
            "order": self.order,
            "records": self.records,
            "jobs": self.jobs,
            "divergences": [d.to_json() for d in (*self.new, *self.known)],
            "counts": {"new": self.new_count, "known": dict(sorted(self.known_count.items()))},
            "model_choice": self.chosen,
            "error": self.error,
        }


def _model(version: str | None) -> Model | None:
    if version is None:
        return None
    return say_model("check-trace", version, always=False)


def _model_of_trace(version: str | None) -> tuple[Model, str]:
    """The model for a trace's QEMU version, and why (the newest when it names none)."""
    try:
        return model_line(version)
    except UsageError:
        return LATEST, f"model {LATEST.version}: the trace's QEMU version {version!r} is unknown"


def check_file(
    path: str, fmt: str, model: Model | None, on_new: TextIO | None = None
) -> FileResult:
    """Check one file; new divergences are also written to ``on_new`` as they are found.

    A malformed file ends the check of that file: :attr:`FileResult.error` holds the
    ``FILE:LINE: what is wrong`` line and the divergences found up to there are kept.
    """
    result = FileResult(path)
    try:
        meta, records = open_trace(path, fmt)
        if model is None:
            chosen, result.chosen = _model_of_trace(meta.qemu_version)
        else:
            chosen = model
        result.model, result.order = chosen.version, meta.order
        oracle = Oracle(chosen, meta, path=path)
        notes = 0
        try:
            feed = oracle.feed
            for record in records:
                if type(record) is Note:
                    notes += 1
                found = feed(record)
                if found:
                    _sort(found, result, on_new)
        finally:
            _sort(oracle.finish(), result, on_new)
            result.records, result.jobs = oracle.records - notes, oracle.jobs
    except (TraceFormatError, UsageError) as exc:
        result.error = str(exc)
    return result


MAX_KEPT = 1000
"""New divergences kept per file for the JSON output (more are printed and counted)."""
MAX_KEPT_PER_RULE = 20
"""Known divergences listed per rule and file (more are counted): memory stays bounded
however long the trace."""


def _sort(found: list[Divergence], result: FileResult, on_new: TextIO | None) -> None:
    for divergence in found:
        if divergence.known:
            seen = result.known_count.get(divergence.rule, 0)
            result.known_count[divergence.rule] = seen + 1
            if seen < MAX_KEPT_PER_RULE:
                result.known.append(divergence)
        else:
            result.new_count += 1
            if len(result.new) < MAX_KEPT:
                result.new.append(divergence)
            if on_new is not None:
                on_new.write(_line(divergence) + "\n")


def _line(divergence: Divergence) -> str:
    return f"{divergence.location}: {divergence.rule}: {divergence.message}"


def _summary(results: list[FileResult]) -> dict[str, Any]:
    return {
        "files": len(results),
        "records": sum(r.records for r in results),
        "jobs": sum(r.jobs for r in results),
        "new": sum(r.new_count for r in results),
        "known": sum(sum(r.known_count.values()) for r in results),
        "errors": sum(r.error is not None for r in results),
        "models": sorted({r.model for r in results if r.model is not None}),
        "orders": sorted({r.order for r in results if r.order is not None}),
        "model_choices": sorted({r.chosen for r in results if r.chosen is not None}),
    }


def _exit_code(summary: dict[str, Any], strict: bool) -> int:
    if summary["errors"]:
        return 2
    if summary["new"] or (strict and summary["known"]):
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    model = _model(args.model)
    out: TextIO = sys.stdout
    results: list[FileResult] = []
    for path in args.files:
        result = check_file(path, args.format, model, None if json_only(args) else out)
        if result.error is not None:
            print(result.error, file=sys.stderr)
        results.append(result)
    summary = _summary(results)
    code = _exit_code(summary, args.strict)
    if args.json:
        document = {
            "files": [r.to_json() for r in results],
            "summary": summary,
            "strict": args.strict,
            "exit": code,
        }
        emit_json(args.json, document)
        if json_only(args):
            return code
    known = [d for r in results for d in r.known]
    if known:
        if summary["new"]:
            out.write("\n")
        out.write(
            "Known divergences (QEMU does otherwise than documented, as the rule catalogue"
            " records; `jobcheck rules` lists them):\n"
        )
        for divergence in known:
            out.write(_line(divergence) + "\n")
        for r in results:
            for rule, count in sorted(r.known_count.items()):
                if count > MAX_KEPT_PER_RULE:
                    more = count - MAX_KEPT_PER_RULE
                    out.write(f"{r.path}: {rule}: … and {more} more\n")
    out.write(_summary_line(summary, args.strict) + "\n")
    return code


def _summary_line(summary: dict[str, Any], strict: bool) -> str:
    # how each model was picked from the traces' QEMU versions, once each
    models = "; ".join(summary["model_choices"]) or "model " + (
        ", ".join(summary["models"]) or "none"
    )
    orders = f"; {' and '.join(summary['orders'])} order" if summary["orders"] else ""
    text = (
        f"{_count(summary['files'], 'file')} ({models}{orders}):"
        f" {_count(summary['records'], 'record')}, {_count(summary['jobs'], 'job')};"
        f" {_count(summary['new'], 'new divergence')}, {summary['known']} known"
    )
    if summary["errors"]:
        text += f"; {summary['errors']} unreadable"
    if strict and summary["known"]:
        text += " (--strict: known divergences fail)"
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
