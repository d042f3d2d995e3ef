"""QEMU's own recorded qemu-iotests outputs conform to the model of their release.

QEMU's tests are ground truth for what QEMU may do.  Three corpora beside the checkout
(``../shared/traces/``, see its READMEs) are checked as a user would check them, with the
format detected and the model of their release:

* ``iotests/`` — the outputs that show ``JOB_STATUS_CHANGE`` (QEMU 10.2 development tree),
  with ``--model latest``;
* ``iotests-master/`` — every job-related output of QEMU master, ``--model latest``;
* ``iotests-7.2/`` — every job-related output of v7.2.0, ``--model 7.2``.

Every file must exit 0 and show no divergence other than the known documented-vs-
implemented ones that the rule catalogue names for that release; and every QMP message in
it must reach the oracle: :mod:`qmp_counter` counts them without the readers, per kind and
per line, so a message the reader drops fails the test.  Skipped where the shared traces
are absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from qmp_counter import count_messages

from jobcheck.conformance.cli import main
from jobcheck.conformance.commands.check_trace import check_file
from jobcheck.conformance.trace.readers import open_trace
from jobcheck.conformance.trace.records import Command, Event, Note, Record, Response
from jobcheck.model.lifecycle import model_for
from jobcheck.model.rules import RULES

TRACES = Path(__file__).resolve().parent.parent.parent / "shared" / "traces"

#: Each corpus, the model its files are checked with, and how many files it has.
CORPORA = {"iotests": ("latest", 21), "iotests-master": ("latest", 49), "iotests-7.2": ("7.2", 43)}


def _files(corpus: str) -> list[Path]:
    folder = TRACES / corpus
    return sorted(folder.glob("*.out")) if folder.is_dir() else []


CASES = [(corpus, path) for corpus in CORPORA for path in _files(corpus)]


def _id(case: tuple[str, Path]) -> str:
    return f"{case[0]}/{case[1].name}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_recorded_iotests_output_conforms(case: tuple[str, Path], shared_dir: Path) -> None:
    corpus, path = case
    model = model_for(CORPORA[corpus][0])
    result = check_file(str(path), "auto", model)
    assert result.error is None
    assert result.order == "per-job"
    assert result.records > 0
    assert [d.message for d in result.new] == []
    for divergence in result.known:
        entry = RULES[divergence.rule]
        assert entry.known_divergence is not None
        assert entry.known_divergence.applies_to(model.version)


def _kinds(records: list[Record]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for record in records:
        if isinstance(record, Command):
            out.append((record.line, "command"))
        elif isinstance(record, Event):
            out.append((record.line, "event"))
        elif isinstance(record, Response):
            out.append((record.line, "return" if record.ok else "error"))
        else:
            assert isinstance(record, Note) and record.text.startswith("reset: ")
    return out


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_every_qmp_message_is_read(case: tuple[str, Path], shared_dir: Path) -> None:
    path = case[1]
    expected = count_messages(path.read_text(encoding="utf-8"))
    assert expected, "a job-related output holds QMP messages"
    assert "greeting" not in {kind for _, kind in expected}  # iotests filter it out
    _, records = open_trace(str(path))
    assert _kinds(list(records)) == expected
    # check-trace's summary counts the same messages.
    assert check_file(str(path), "auto", None).records == len(expected)


def _completion_lines(lines: list[str]) -> list[int]:
    """The first, a middle and the last line that logs a completion event."""
    found = [
        i
        for i, line in enumerate(lines)
        if line.startswith("{") and re.search(r'"event":\s*"BLOCK_JOB_(COMPLETED|CANCELLED)"', line)
    ]
    return sorted({found[0], found[len(found) // 2], found[-1]}) if found else []


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_a_second_completion_event_is_still_caught(
    case: tuple[str, Path], shared_dir: Path, tmp_path: Path
) -> None:
    # The signs that let a job id name a new job must not let a real double completion
    # pass: each completion event logged twice in a row is a new divergence.
    corpus, path = case
    lines = path.read_text(encoding="utf-8").split("\n")
    for index in _completion_lines(lines):
        mutated = tmp_path / path.name
        mutated.write_text("\n".join([*lines[: index + 1], *lines[index:]]), encoding="utf-8")
        result = check_file(str(mutated), "auto", model_for(CORPORA[corpus][0]))
        assert [(d.line, d.rule) for d in result.new] == [
            (index + 2, "block-job.completion-event")
        ], index + 1


@pytest.mark.parametrize("corpus", CORPORA)
def test_the_corpora_are_complete(corpus: str, shared_dir: Path) -> None:
    assert len(_files(corpus)) == CORPORA[corpus][1]


@pytest.mark.parametrize("corpus", CORPORA)
def test_check_trace_command_on_a_whole_corpus(
    corpus: str, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(p) for p in _files(corpus)]
    version = CORPORA[corpus][0]
    assert main(["check-trace", "--model", version, "--json", *files]) == 0
    document = json.loads(capsys.readouterr().out)
    summary = document["summary"]
    assert (summary["new"], summary["errors"], summary["files"]) == (0, 0, len(files))
    assert summary["orders"] == ["per-job"]
    # The checks had work to do: jobs in most files, and QEMU's known divergences seen.
    with_jobs = [f for f in document["files"] if f["jobs"] > 0]
    assert len(with_jobs) >= len(files) * 3 // 4
    assert summary["known"] > 0
    assert {d["rule"] for f in document["files"] for d in f["divergences"]} <= {
        "status.null-never-visible",
        "status.waiting-not-visible-for-last",
    }
