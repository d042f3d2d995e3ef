"""``jobcheck merge``: several runs' reports as one (a CI matrix, merged).

::

    jobcheck merge reports/ci/qemu-7.2 reports/ci/qemu-10.0 --out reports/ci/merged

reads each run's ``report.json`` (a directory stands for the ``report.json``
in it; a run is named after its directory) and writes ``merged.json``,
``merged.md`` and ``merged.html`` to ``--out``: the runs side by side, the
rules × runs verdicts, the coverage of each run, and each divergence with the
runs it appeared in (:mod:`jobcheck.conformance.report.merge`).  ``--json``
prints the merged document instead of text; ``--json=FILE`` writes it to FILE.
Exit codes: 0 every run passed, 1 some run failed, 2 a report is missing or
malformed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jobcheck.conformance.commands.documents import emit, load_reports
from jobcheck.conformance.commands.options import add_json_option
from jobcheck.conformance.report import write as report
from jobcheck.conformance.report.merge import merge
from jobcheck.conformance.report.merge_pages import render_html, render_markdown, summary_lines

HELP = "merge several runs' reports (a CI matrix: one per QEMU version or machine) into one"
EXAMPLES = """\
  # the runs of a CI matrix as one report
  jobcheck merge reports/qemu-7.2 reports/qemu-10.0 --out reports/merged
  # the merged document as JSON on standard output
  jobcheck merge reports/qemu-7.2 reports/qemu-10.0 --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "reports",
        nargs="+",
        metavar="REPORT",
        help="report.json files or the directories holding them",
    )
    parser.add_argument("--out", metavar="DIR", help="write merged.{json,md,html} to DIR")
    add_json_option(parser, "the merged report")


def run(args: argparse.Namespace) -> int:
    document = merge(load_reports(args.reports))
    emit(document, summary_lines(document), args.json)
    if args.out:
        out = Path(args.out)
        report.write_text(out / "merged.json", report.document_json(document))
        report.write_text(out / "merged.md", render_markdown(document))
        report.write_text(out / "merged.html", render_html(document))
    return int(document["exit_code"])
