"""What ``compare`` and ``merge`` share: saved reports in, one document out.

* :func:`load_reports` reads ``report.json`` files (a directory stands for the
  ``report.json`` in it);
* :func:`add_json_argument` and :func:`emit`: ``--json`` prints the document
  instead of the text summary, ``--json FILE`` writes it to FILE beside it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.report import write as report


def report_path(text: str) -> Path:
    """``text``, or the ``report.json`` in it when it is a directory."""
    path = Path(text)
    return path / "report.json" if path.is_dir() else path


def load_reports(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """``(path, document)`` of each saved report; :class:`UsageError` for a missing or
    malformed one."""
    out = []
    for text in paths:
        path = report_path(text)
        if not path.is_file():
            raise UsageError(f"{text}: no report.json there")
        out.append((str(path), report.load_document(path)))
    return out


def add_json_argument(parser: argparse.ArgumentParser | Any, what: str) -> None:
    """``--json [FILE]``: ``what`` as JSON, on stdout instead of the text, or into FILE."""
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help=f"{what} as JSON: on stdout instead of text, or into FILE",
    )


def emit(document: dict[str, Any], lines: list[str], json_option: str | None) -> None:
    """Print ``lines``, and write ``document`` to the ``--json FILE``; with ``--json``
    alone (``-``), print the document instead of the lines."""
    if json_option == "-":
        print(report.document_json(document), end="")
        return
    for line in lines:
        print(line)
    if json_option:
        report.write_text(Path(json_option), report.document_json(document))
