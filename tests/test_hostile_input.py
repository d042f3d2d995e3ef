"""Bad input from a hostile or careless user: one line on stderr and exit 2, never a traceback
or a hang.

Each case is a file or an option that once got a traceback (exit 1), a hang, or was
accepted as if valid: FIFOs and other non-regular files, jobcheck traces without a
metadata line or of another format version, NaN in a trace, a QEMU version that is
not one, command ids that are lists or objects, a driver step of the wrong shape,
a version with thousands of digits, a QAPI schema nested hundreds deep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jobcheck.conformance.cli import main

META: dict[str, Any] = {
    "kind": "meta",
    "format": "jobcheck-trace",
    "version": 1,
    "source": "qemu",
    "qemu_version": "7.2.22",
    "order": "wire",
}
STEP = {"kind": "note", "text": "query", "step": {"op": "query"}}
COMMAND = {"kind": "command", "execute": "query-jobs", "id": 1}
RESPONSE = {"kind": "response", "id": 1, "return": []}


def _jsonl(path: Path, *objects: dict[str, Any], raw: str = "") -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects) + raw, encoding="utf-8")
    return path


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], code: int, wanted: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert wanted in err, err
    return err


# --- non-regular files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["check-trace", "{}"],
        ["check-trace", "--format", "qmp", "{}"],
        ["replay", "{}", "--target", "sim"],
        ["export", "{}", "--as", "script"],
        ["rules", "--schema", "{}"],
        ["run", "--target", "sim", "--baseline", "{}", "--no-report"],
    ],
    ids=["check-trace", "check-trace-qmp", "replay", "export", "rules-schema", "baseline"],
)
def test_a_fifo_is_refused_at_once(tmp_path: Path, argv: list[str]) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    command = [sys.executable, "-m", "jobcheck.conformance.cli"]
    command += [a.replace("{}", str(fifo)) for a in argv]
    # Nobody ever writes to the FIFO: reading it would wait forever.
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "FIFO" in done.stderr and "not a regular file" in done.stderr
    # one line (besides the line in which run names its target)
    said = [ln for ln in done.stderr.splitlines() if not ln.startswith("jobcheck run: target:")]
    assert len(said) == 1, done.stderr


def test_a_character_device_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-trace", "/dev/zero"])
    assert code == 2
    assert "character device" in capsys.readouterr().err


# --- traces accepted as if valid -----------------------------------------------------------


@pytest.mark.parametrize(
    ("objects", "raw", "wanted"),
    [
        ((STEP, COMMAND, RESPONSE), "", ":1: no metadata line"),
        (({**META, "version": 2}, STEP), "", ":1: trace format version 2"),
        (({**META, "version": "1"}, STEP), "", "'version' must be the integer 1"),
        (({**META, "format": "other"}, STEP), "", "meta 'format' must be 'jobcheck-trace'"),
        (({**META, "qemu_version": "banana"}, STEP), "", "'qemu_version' must be a version"),
        (({**META, "qemu_version": "7.2\r\n"}, STEP), "", "'qemu_version' must be a version"),
        (
            (META,),
            '{"kind": "event", "event": "X", "data": {}, '
            '"timestamp": {"seconds": NaN, "microseconds": 1}}\n',
            ":2: not valid JSON (NaN is not a JSON value)",
        ),
        ((META,), '{"kind": "response", "return": Infinity}\n', "Infinity is not a JSON value"),
        (
            (META, {"kind": "event", "event": "X", "data": {}, "timestamp": {"seconds": 1.5}}),
            "",
            "timestamp 'seconds' must be an integer",
        ),
        (
            (
                META,
                {
                    "kind": "event",
                    "event": "X",
                    "data": {},
                    "timestamp": {"seconds": 1, "microseconds": 10**7},
                },
            ),
            "",
            "timestamp out of range",
        ),
        ((META, {**COMMAND, "id": [1, 2]}), "", "command 'id' must be a JSON string or number"),
        ((META, {**RESPONSE, "id": {"a": 1}}), "", "response 'id' must be a JSON string"),
    ],
    ids=[
        "no-meta",
        "version-2",
        "version-string",
        "other-format",
        "qemu-version-banana",
        "qemu-version-crlf",
        "nan-timestamp",
        "infinity",
        "float-timestamp",
        "microseconds-out-of-range",
        "list-id",
        "dict-id",
    ],
)
def test_malformed_jobcheck_traces_are_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    objects: tuple[dict[str, Any], ...],
    raw: str,
    wanted: str,
) -> None:
    path = _jsonl(tmp_path / "t.jsonl", *objects, raw=raw)
    _one_line_exit_2(capsys, main(["check-trace", str(path)]), wanted)


@pytest.mark.parametrize("ident", ["[1]", '{"a": 1}'])
def test_qmp_transcripts_with_unhashable_ids_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ident: str
) -> None:
    path = tmp_path / "log.qmp"
    path.write_text(
        f'> {{"execute": "job-pause", "arguments": {{"id": "j"}}, "id": {ident}}}\n'
        f'< {{"return": {{}}, "id": {ident}}}\n',
        encoding="utf-8",
    )
    _one_line_exit_2(capsys, main(["check-trace", str(path)]), "'id' must be a JSON string")


def test_qmp_transcript_with_a_nan_timestamp_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.qmp"
    path.write_text(
        '< {"event": "X", "data": {}, "timestamp": {"seconds": NaN, "microseconds": 0}}\n',
        encoding="utf-8",
    )
    _one_line_exit_2(capsys, main(["check-trace", str(path)]), "NaN is not a JSON value")


def test_export_of_a_trace_with_a_list_id_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _jsonl(tmp_path / "t.jsonl", META, {**COMMAND, "id": [1]}, RESPONSE)
    code = main(["export", str(path), "--as", "script"])
    _one_line_exit_2(capsys, code, "'id' must be a JSON string or number")


# --- driver steps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "wanted"),
    [
        ({"op": "start", "jobs": "mirror"}, "'jobs' must be a list"),
        ({"op": "start", "jobs": [{"type": "mirror"}]}, "'id' must be a job id"),
        ({"op": "start", "jobs": [{"type": "teleport", "id": "j"}]}, "'type' must be one of"),
        ({"op": "verb", "job": "j", "verb": "explode"}, "'verb' must be one of"),
        ({"op": "verb", "job": ["j"], "verb": "pause"}, "'job' must be a job id"),
        ({"op": "verb", "job": "j", "verb": "set-speed", "speed": -1}, "non-negative"),
        ({"op": "release", "job": "j\nk"}, "'job' must be a job id"),
        ({"op": "query", "extra": 1}, "unknown key 'extra'"),
        ({"op": "teleport"}, "unknown step op"),
        ({"op": "qmp", "execute": "quit", "arguments": [1]}, "'arguments' must be a JSON"),
    ],
    ids=[
        "jobs-string",
        "spec-without-id",
        "unknown-type",
        "unknown-verb",
        "job-list",
        "negative-speed",
        "newline-in-id",
        "unknown-key",
        "unknown-op",
        "qmp-arguments-list",
    ],
)
def test_bad_steps_are_refused_by_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], step: dict[str, Any], wanted: str
) -> None:
    path = _jsonl(tmp_path / "t.jsonl", {**META, "source": "sim"}, {**STEP, "step": step})
    code = main(["replay", str(path), "--target", "sim"])
    err = _one_line_exit_2(capsys, code, wanted)
    assert ":2: bad driver step: " in err


# --- options -------------------------------------------------------------------------------

HUGE = "1." + "9" * 5000


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--target", "sim", "--model", HUGE, "--no-report"],
        ["check-trace", "--model", HUGE, "{trace}"],
        ["replay", "{trace}", "--target", "sim", "--model", HUGE],
        ["export", "{live}", "--as", "script", "--model", HUGE],
        ["model", "--model", HUGE],
        ["diagram", "--model", HUGE, "--out", "{tmp}"],
        ["rules", "--model", HUGE],
    ],
    ids=lambda argv: argv[0],
)
def test_a_version_with_thousands_of_digits_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    trace = _jsonl(tmp_path / "t.jsonl", {**META, "source": "sim"}, STEP)
    live = _jsonl(tmp_path / "live.jsonl", META, STEP)
    words = [
        a.replace("{trace}", str(trace))
        .replace("{live}", str(live))
        .replace("{tmp}", str(tmp_path))
        for a in argv
    ]
    _one_line_exit_2(capsys, main(words), "too long for a version")


def test_a_schema_nested_hundreds_deep_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "job.json"
    path.write_text("{ 'enum': 'JobStatus', 'data': " + "[" * 600 + "]" * 600 + " }\n")
    _one_line_exit_2(capsys, main(["rules", "--schema", str(path)]), "nested too deeply")
