"""What ``compare`` and ``merge`` share: saved reports in, one document out.

* :func:`load_reports` reads ``report.json`` files (a directory stands for the
  ``report.json`` in it);
* :func:`emit`: ``--json`` prints the document instead of the text summary,
  ``--json=FILE`` writes it to FILE beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobcheck.conformance.commands.options import JSON_TO_STDOUT, emit_json
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


def emit(document: dict[str, Any], lines: list[str], json_option: str | None) -> None:
    """Print ``lines``, and write ``document`` to the ``--json=FILE``; with ``--json``
    alone, print the document instead of the lines (see
    :mod:`jobcheck.conformance.commands.options`)."""
    if json_option != JSON_TO_STDOUT:
        for line in lines:
            print(line)
    if json_option:
        emit_json(json_option, document)
