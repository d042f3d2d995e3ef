"""The trace readers: jsonl, QMP transcripts and debug logs, qemu-iotests output.

Each format is read from small crafted files with the exact records expected;
the recorded qemu-iotests outputs in the shared folder are all read and their
``JOB_STATUS_CHANGE`` events counted independently; bad input of every kind
must give one :class:`TraceFormatError` naming the right line; and Hypothesis
feeds the readers arbitrary bytes, text and JSON to show that nothing else
ever escapes.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.trace.readers import detect_format, open_trace, read_trace
from jobcheck.conformance.trace.records import (
    QEMU_VERSION,
    Command,
    Event,
    Meta,
    Note,
    QmpError,
    Record,
    Response,
    TraceFormatError,
    read_jsonl,
    write_jsonl,
)
from jobcheck.conformance.trace.steps import JOB_ID

FORMATS = ("auto", "jsonl", "qmp", "iotests")
META_LINE = '{"kind": "meta", "format": "jobcheck-trace", "version": 1, "source": "t"}\n'


def _write(tmp: Path, name: str, content: str | bytes) -> str:
    path = tmp / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


def _read(path: str, fmt: str = "auto") -> tuple[Meta, list[Record]]:
    meta, records = open_trace(path, fmt)
    return meta, list(records)


def _jsc(job: str, status: str, line: int, ts: Any = None) -> Event:
    return Event("JOB_STATUS_CHANGE", {"id": job, "status": status}, ts, line)


# --- jsonl -------------------------------------------------------------------------------


def test_jsonl_exact_records_and_lines(tmp_path: Path) -> None:
    meta = Meta(source="sim", qemu_version="7.2.22", order="wire", extra={"seed": 3})
    records: list[Record] = [
        Command("job-pause", {"id": "j0"}, 7),
        Response(7, {}),
        Response(8, None, QmpError("GenericError", "Job not found")),
        Event(
            "JOB_STATUS_CHANGE",
            {"id": "j0", "status": "paused"},
            {"seconds": 1, "microseconds": 2},
        ),
        Note("drain j0", {"op": "drain", "job": "j0"}),
    ]
    path = str(tmp_path / "t.jsonl")
    with open(path, "w", encoding="utf-8") as stream:
        write_jsonl(stream, meta, records)
    got_meta, got = _read(path)
    assert got_meta == meta
    assert got == [replace(r, line=n) for n, r in enumerate(records, start=2)]


def test_jsonl_meta_without_source_gets_the_path(tmp_path: Path) -> None:
    meta_line = '{"kind": "meta", "format": "jobcheck-trace", "version": 1}\n'
    path = _write(tmp_path, "t.jsonl", meta_line + '{"kind": "response", "return": 1}\n')
    meta, records = _read(path, "jsonl")
    assert meta == Meta(source=path)
    assert records == [Response(None, 1, None, 2)]


def test_jsonl_second_meta_is_an_error(tmp_path: Path) -> None:
    meta = META_LINE
    path = _write(tmp_path, "t.jsonl", meta + '{"kind": "note", "text": "a"}\n' + meta)
    with pytest.raises(TraceFormatError) as info:
        _read(path)
    assert info.value.line == 3


# --- qmp transcripts and debug logs -------------------------------------------------------

GREETING = (
    '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""},'
    ' "capabilities": ["oob"]}}'
)


def test_qmp_transcript_exact_records(tmp_path: Path) -> None:
    lines = [
        GREETING,
        '{"execute": "qmp_capabilities"}',
        '{"return": {}}',
        "",
        '{"execute": "job-pause", "arguments": {"id": "j0"}, "id": 1}',
        '{"timestamp": {"seconds": 5, "microseconds": 6}, "event": "JOB_STATUS_CHANGE",'
        ' "data": {"id": "j0", "status": "paused"}}',
        '{"return": {}, "id": 1}',
        '{"exec-oob": "x-oob-test", "id": "o"}',
        '{"id": 2, "error": {"class": "GenericError", "desc": "Job not found"}}',
        GREETING,
        '{"event": "SHUTDOWN", "data": {"guest": false}}',
    ]
    path = _write(tmp_path, "t.qmp", "\n".join(lines) + "\n")
    meta, records = _read(path)
    assert (meta.order, meta.qemu_version, meta.source) == ("wire", "7.2.22", path)
    assert records == [
        Command("qmp_capabilities", {}, None, 2),
        Response(None, {}, None, 3),
        Command("job-pause", {"id": "j0"}, 1, 5),
        _jsc("j0", "paused", 6, {"seconds": 5, "microseconds": 6}),
        Response(1, {}, None, 7),
        Command("x-oob-test", {}, "o", 8),
        Response(2, None, QmpError("GenericError", "Job not found"), 9),
        Note("reset: new QMP session", None, 10),
        Event("SHUTDOWN", {"guest": False}, None, 11),
    ]


def test_qmp_direction_prefixes(tmp_path: Path) -> None:
    lines = [
        "< " + GREETING,
        '> {"execute": "query-jobs", "id": 1}',
        '< {"return": [], "id": 1}',
        '>{"execute": "quit"}',
    ]
    path = _write(tmp_path, "t.log", "\n".join(lines) + "\n")
    assert detect_format(lines) == "qmp"
    meta, records = _read(path)
    assert meta.qemu_version == "7.2.22"
    assert records == [
        Command("query-jobs", {}, 1, 2),
        Response(1, [], None, 3),
        Command("quit", {}, None, 4),
    ]


DEBUG_LOG = """\
DEBUG:asyncio:Using selector: EpollSelector
DEBUG:qemu.qmp.protocol.h:Connected.
DEBUG:qemu.qmp.protocol.h:<-- {
  "QMP": {
    "version": {
      "qemu": {
        "micro": 0,
        "minor": 2,
        "major": 10
      },
      "package": ""
    },
    "capabilities": []
  }
}
DEBUG:qemu.qmp.protocol.h:--> {
  "execute": "job-cancel",
  "arguments": {
    "id": "j"
  },
  "id": "__qmp#00005"
}
DEBUG:qemu.qmp.protocol.h:<-- {
  "return": {},
  "id": "__qmp#00005"
}
DEBUG:qemu.qmp.protocol.h:<-- {
  "timestamp": {
    "seconds": 1795881176,
    "microseconds": 671535
  },
  "event": "JOB_STATUS_CHANGE",
  "data": {
    "status": "aborting",
    "id": "j"
  }
}
DEBUG:qemu.qmp.protocol.h:Disconnected.
"""


def test_qemu_qmp_debug_log(tmp_path: Path) -> None:
    path = _write(tmp_path, "qmp.log", DEBUG_LOG)
    assert detect_format(DEBUG_LOG.splitlines()) == "qmp"
    meta, records = _read(path)
    assert (meta.order, meta.qemu_version) == ("wire", "10.2.0")
    assert records == [
        Command("job-cancel", {"id": "j"}, "__qmp#00005", 16),
        Response("__qmp#00005", {}, None, 23),
        _jsc("j", "aborting", 27, {"seconds": 1795881176, "microseconds": 671535}),
    ]


def test_debug_log_cut_off_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "qmp.log", "\n".join(DEBUG_LOG.splitlines()[:30]) + "\n")
    with pytest.raises(TraceFormatError) as info:
        _read(path)
    assert info.value.line == 27
    assert "not closed" in info.value.message


# --- iotests ------------------------------------------------------------------------------

IOTESTS = """\
QA output created by 999
Formatting 'TEST_DIR/t.IMGFMT', fmt=IMGFMT size=1048576

=== Starting VM ===

{ 'execute': 'qmp_capabilities' }
{"return": {}}
{ 'execute': 'drive-mirror',
       'arguments': { 'device': 'src', 'it\\'s': "a \\"quote\\"" } }
{@TS@, "event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "src"}}
{"return": {}}
[{ "start": 0, "length": 65536, "depth": 0, "offset": OFFSET},
{ "start": 65536, "length": 4096, "depth": 0}]
{"image": "not QMP", "size": SIZE}

=== In the middle of the job ===

{
    "timestamp": {
        "seconds": "SECS",
        "microseconds": "USECS"
    },
    "event": "BLOCK_JOB_COMPLETED",
    "data": {"device": "src", "len": LEN, "offset": (filtered), "speed": 0, "type": "mirror"}
}
{"return": [{"current-progress": "FILTERED", "id": "src", "status": "running"}]}
Launching VM...
{@TS@, "event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "src"}}
{@TS@, "event": "JOB_STATUS_CHANGE", "data": {"status": "null", "id": "src"}}
[ not json, just text ]
*** done
""".replace("@TS@", '"timestamp": {"seconds":  TIMESTAMP, "microseconds":  TIMESTAMP}')


def test_iotests_exact_records(tmp_path: Path) -> None:
    path = _write(tmp_path, "999.out", IOTESTS)
    assert detect_format(IOTESTS.splitlines()) == "iotests"
    meta, records = _read(path)
    assert (meta.order, meta.source) == ("per-job", path)
    ts = {"seconds": "TIMESTAMP", "microseconds": "TIMESTAMP"}
    assert records == [
        Command("qmp_capabilities", {}, None, 6),
        Response(None, {}, None, 7),
        Command("drive-mirror", {"device": "src", "it's": 'a "quote"'}, None, 8),
        _jsc("src", "created", 10, ts),
        Response(None, {}, None, 11),
        Event(
            "BLOCK_JOB_COMPLETED",
            {"device": "src", "len": "LEN", "offset": "(filtered)", "speed": 0, "type": "mirror"},
            {"seconds": "SECS", "microseconds": "USECS"},
            18,
        ),
        Response(
            None, [{"current-progress": "FILTERED", "id": "src", "status": "running"}], None, 26
        ),
        # "src" never reached null, and is created again: a new instance began at line 27.
        Note("reset: Launching VM...", None, 27),
        _jsc("src", "created", 28, ts),
        _jsc("src", "null", 29, ts),
    ]


def test_iotests_reset_when_nothing_is_live(tmp_path: Path) -> None:
    text = """\
=== First case ===
{"timestamp": {}, "event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "j"}}
{"timestamp": {}, "event": "JOB_STATUS_CHANGE", "data": {"status": "null", "id": "j"}}
=== Second case ===
=== Third case ===
QMP_VERSION
{"execute": "qmp_capabilities"}
{"return": {}}
"""
    records = _read(_write(tmp_path, "t.out", text))[1]
    # No reset before anything happened, one per gap, none twice in a row.
    assert [r for r in records if isinstance(r, Note)] == [
        Note("reset: test case === Second case ===", None, 4)
    ]
    assert [r.line for r in records] == [2, 3, 4, 7, 8]


def test_iotests_no_reset_in_the_middle_of_a_life(tmp_path: Path) -> None:
    text = """\
{"timestamp": {}, "event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "j"}}
{"timestamp": {}, "event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "j"}}

=== Force cancel job ===

{"execute": "job-cancel", "arguments": {"id": "j"}}
{"timestamp": {}, "event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "other"}}
{"return": {}}
{"timestamp": {}, "event": "JOB_STATUS_CHANGE", "data": {"status": "aborting", "id": "j"}}
"""
    records = _read(_write(tmp_path, "t.out", text))[1]
    assert not [r for r in records if isinstance(r, Note)]
    assert [r.line for r in records] == [1, 2, 6, 7, 8, 9]


def test_iotests_undecided_reset_at_end_of_file_is_dropped(tmp_path: Path) -> None:
    text = """\
{"timestamp": {}, "event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "j"}}
=== Next ===
{"return": {}}
"""
    records = _read(_write(tmp_path, "t.out", text), "iotests")[1]
    assert records == [_jsc("j", "running", 1, {}), Response(None, {}, None, 3)]


def test_iotests_greeting_and_python_literals(tmp_path: Path) -> None:
    text = (
        "free text\n"
        + GREETING
        + "\n{'execute': 'x', 'arguments': {'force': True, 'speed': None, 'n': -1.5e3}}\n"
    )
    records = _read(_write(tmp_path, "t.out", text))[1]
    assert records == [Command("x", {"force": True, "speed": None, "n": -1500.0}, None, 3)]


# --- format detection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['{"kind": "meta", "format": "jobcheck-trace"}', '{"kind": "note"}'], "jsonl"),
        (["", '{"kind": "event", "event": "X"}'], "jsonl"),
        # JSON objects alone say nothing of the order they crossed the wire in.
        (['{"return": {}}', '{"event": "X"}'], "iotests"),
        ([GREETING, '{"return": {}}', '{"event": "X"}'], "qmp"),
        (['> {"execute": "x"}', '< {"return": {}}'], "qmp"),
        (["INFO:x:<-- {", '  "return": {}', "}"], "qmp"),
        (["Example:", '   -> { "execute": "x" }', '   <- { "return": {} }'], "qmp"),
        (["Creating bottom <- middle <- top backing file chain...", '{"return": {}}'], "iotests"),
        (['{"return": {}}', "free text"], "iotests"),
        (["QA output created by 219"], "iotests"),
        (["", "  "], "jsonl"),
    ],
)
def test_detect_format(lines: list[str], expected: str) -> None:
    assert detect_format(lines) == expected


# --- the recorded qemu-iotests outputs -----------------------------------------------------


TRACES = Path(__file__).resolve().parent.parent.parent / "shared" / "traces" / "iotests"


def _recorded() -> list[Path]:
    return sorted(TRACES.glob("*.out")) if TRACES.is_dir() else []


def _lives_split(records: list[Record]) -> list[str]:
    """Problems with the reset notes: a life cut in two, or an id re-created without a reset.

    Checked per job since the last reset: if a reset falls between two events
    of one job, the job's life must have ended (``null``) before it or start
    again (``created``) after it; and a job that is ``created`` again must have
    reached ``null`` or be separated from its earlier life by a reset.
    """
    problems: list[str] = []
    last: dict[str, str] = {}  # job -> its last status before the latest reset or now
    before_reset: dict[str, str] = {}
    for record in records:
        if isinstance(record, Note) and record.text.startswith("reset:"):
            before_reset = {job: s for job, s in last.items() if s != "null"}
            last = {}
            continue
        if not (isinstance(record, Event) and record.event == "JOB_STATUS_CHANGE"):
            continue
        job, status = record.data["id"], record.data["status"]
        if job in before_reset:
            if status != "created":
                problems.append(f"line {record.line}: reset inside the life of {job}")
            del before_reset[job]
        if status == "created" and last.get(job, "null") != "null":
            problems.append(f"line {record.line}: {job} created again without a reset")
        last[job] = status
    return problems


@pytest.mark.parametrize("path", _recorded(), ids=lambda p: p.name)
def test_recorded_iotests_outputs(path: Path, shared_dir: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    expected_jsc = len(re.findall(r'"event":\s*"JOB_STATUS_CHANGE"', raw))
    meta, records = _read(str(path))
    assert meta.order == "per-job"
    events = [r for r in records if isinstance(r, Event)]
    assert len([e for e in events if e.event == "JOB_STATUS_CHANGE"]) == expected_jsc
    assert len(events) == len(re.findall(r'"event":\s*"', raw))
    lines = raw.splitlines()
    for record in records:
        assert 1 <= record.line <= len(lines)
        if isinstance(record, Note):
            assert record.text.startswith("reset: ")
        else:  # the record starts on a line that opens a JSON object
            assert lines[record.line - 1].startswith("{")
    assert _lives_split(records) == []


def test_recorded_outputs_are_present(shared_dir: Path) -> None:
    assert len(_recorded()) >= 20


# --- bad input -----------------------------------------------------------------------------

JSC_OK = '{"event": "JOB_STATUS_CHANGE", "data": {"id": "j", "status": "running"}}'
BAD_SHAPES = [
    ('{"data": {"id": "j"}, "timestamp": {"seconds": 1}}', "without a string 'event'"),
    ('{"event": 5}', "without a string 'event'"),
    ('{"event": "X", "data": [1]}', "'data' must be a JSON object"),
    ('{"event": "X", "data": {}, "timestamp": 3}', "'timestamp' must be a JSON object"),
    ('{"event": "JOB_STATUS_CHANGE", "data": {"status": "running"}}', "string 'id'"),
    ('{"event": "JOB_STATUS_CHANGE", "data": {"id": "j"}}', "string 'status'"),
    ('{"event": "JOB_STATUS_CHANGE", "data": {"id": "j", "status": 3}}', "string 'status'"),
    ('{"execute": ["x"]}', "string 'execute'"),
    ('{"execute": "x", "arguments": "y"}', "'arguments' must be a JSON object"),
    ('{"error": {"class": "GenericError"}}', "'class' and 'desc'"),
    ('{"error": "boom"}', "must be a JSON object"),
]


def _as_jsonl(line: str) -> str:
    obj = json.loads(line)
    kind = (
        "event"
        if "event" in obj or "timestamp" in obj
        else "command"
        if "execute" in obj
        else "response"
    )
    return json.dumps({"kind": kind, **obj})


@pytest.mark.parametrize(("line", "why"), BAD_SHAPES)
@pytest.mark.parametrize("fmt", ["jsonl", "qmp", "iotests"])
def test_wrong_shapes_are_errors_with_their_line(
    tmp_path: Path, fmt: str, line: str, why: str
) -> None:
    bad = _as_jsonl(line) if fmt == "jsonl" else line
    good = _as_jsonl(JSC_OK) if fmt == "jsonl" else JSC_OK
    header = META_LINE if fmt == "jsonl" else ""
    path = _write(tmp_path, "t", header + f"{good}\n\n{bad}\n{good}\n")
    _meta, records = open_trace(path, fmt)
    assert next(records).line == (2 if header else 1)  # read lazily, up to the bad line
    with pytest.raises(TraceFormatError) as info:
        list(records)
    line_number = 4 if header else 3
    assert str(info.value).startswith(f"{path}:{line_number}: ")
    assert why in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("fmt", ["auto", "jsonl", "qmp", "iotests"])
def test_unknown_status_names_are_not_rejected(tmp_path: Path, fmt: str) -> None:
    line = '{"event": "JOB_STATUS_CHANGE", "data": {"id": "j", "status": "exploded"}}'
    content = META_LINE + _as_jsonl(line) if fmt in ("jsonl", "auto") else line
    records = _read(_write(tmp_path, "t", content + "\n"), fmt)[1]
    assert records == [_jsc("j", "exploded", 2 if content.startswith(META_LINE) else 1)]


@pytest.mark.parametrize(
    ("fmt", "content", "line"),
    [
        ("jsonl", META_LINE + '{"kind": "note", "text": "a"}\n{"kind": "note", "te\n', 3),
        ("jsonl", META_LINE + '{"kind": "note", "text": "a"}\n{"kind": "nonsense"}\n', 3),
        ("jsonl", META_LINE + '{"kind": "note", "text": "a"}\n[1, 2]\n', 3),
        ("auto", '{"kind": "meta"\n', 1),
        ("qmp", '{"return": {}}\n{"return": \n', 2),
        ("qmp", '{"return": {}}\nfree text\n', 2),
        ("qmp", '{"return": {}}\n{"something": "else"}\n', 2),
        ("qmp", '{"return": {}}\n[{"return": {}}]\n', 2),
        ("qmp", '{"return": 1' + "1" * 5000 + "}\n", 1),
        ("qmp", '{"a": ' + "[" * 100_000 + "\n", 1),
        ("iotests", 'text\n{"return": {}} trailing\n', 2),
        ("iotests", "text\n{\"return\": {},\n  'x': }\n", 2),
        ("iotests", 'text\n{ "execute": "x",\nnot a continuation\n', 2),
        ("iotests", 'text\n{ "execute": "x",\n   "arguments": {}\n', 2),
        ("auto", "QA output\n{'execute': 'unterminated }\n", 2),
    ],
)
def test_malformed_and_truncated_input(tmp_path: Path, fmt: str, content: str, line: int) -> None:
    path = _write(tmp_path, "t", content)
    with pytest.raises(TraceFormatError) as info:
        _read(path, fmt)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"", 1),
        (b"\n\n  \n", 3),
        (b'{"return": {}}\n\xff\xfe\x00garbage\n', 2),
        (b'{"return": {}}\n{"return": "\xc3("}\n', 2),
        (b'{"return": {}}\n{"return": 1}\x00\n', 2),
    ],
)
def test_binary_and_empty_files(tmp_path: Path, fmt: str, content: bytes, line: int) -> None:
    path = _write(tmp_path, "t", content)
    with pytest.raises(TraceFormatError) as info:
        _read(path, fmt)
    assert info.value.line == line


def test_iotests_broken_array_is_free_text(tmp_path: Path) -> None:
    text = "[ok] done\n[{ 'a': \nsome text\n{\"return\": 1}\n"
    assert _read(_write(tmp_path, "t", text))[1] == [Response(None, 1, None, 4)]


def test_missing_file_directory_and_bad_format_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read trace .*missing"):
        open_trace(str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="directory"):
        open_trace(str(tmp_path))
    path = _write(tmp_path, "t", '{"return": {}}\n')
    with pytest.raises(UsageError, match="unknown trace format 'xml'"):
        open_trace(path, "xml")


# --- streaming and closing -----------------------------------------------------------------


def _open_fds_on(path: str) -> int:
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            if os.readlink(fd) == path:
                count += 1
        except OSError:
            continue
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_files_are_closed_when_the_records_are_dropped_or_the_block_ends(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.qmp", '{"return": 1}\n' * 10)
    _meta, records = open_trace(path)
    assert _open_fds_on(path) == 0  # nothing is held open before iteration starts
    assert next(records) == Response(None, 1, None, 1)
    assert _open_fds_on(path) == 1
    del records
    assert _open_fds_on(path) == 0
    with read_trace(path) as (_meta, records):
        assert next(records).line == 1
        assert _open_fds_on(path) == 1
    assert _open_fds_on(path) == 0


def test_reading_is_lazy(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.qmp", '{"return": 1}\n{"return": 2}\nnot json\n')
    _meta, records = open_trace(path, "qmp")
    assert [next(records), next(records)] == [
        Response(None, 1, None, 1),
        Response(None, 2, None, 2),
    ]
    with pytest.raises(TraceFormatError):
        next(records)


# --- fuzzing -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
qmp_keys = st.sampled_from(
    [
        *("QMP", "execute", "exec-oob", "arguments", "id", "return", "error", "event", "data"),
        *("timestamp", "kind", "class", "desc", "status", "text", "step", "source", "order"),
    ]
)
qmp_like = st.dictionaries(qmp_keys, json_values, max_size=5)


def _consume(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fuzz")
        with open(path, "wb") as stream:
            stream.write(data)
        for fmt in FORMATS:
            try:
                _meta, records = open_trace(path, fmt)
                for _record in records:
                    pass
            except TraceFormatError as exc:
                assert str(exc).startswith(f"{path}:")
                assert "\n" not in str(exc)


@given(st.binary(max_size=400))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _consume(data)


@given(st.lists(st.text(max_size=40), max_size=12))
def test_fuzz_arbitrary_text_lines(lines: list[str]) -> None:
    _consume("\n".join(lines).encode("utf-8", "surrogatepass"))


@given(
    st.lists(
        st.tuples(st.sampled_from(["", "> ", "< ", "X:<-- ", "  "]), json_values | qmp_like),
        max_size=10,
    )
)
def test_fuzz_json_values_as_lines(lines: list[tuple[str, Any]]) -> None:
    _consume("\n".join(p + json.dumps(v) for p, v in lines).encode("utf-8", "surrogatepass"))


@given(st.lists(qmp_like.map(lambda d: json.dumps(d, indent=2)), max_size=6))
def test_fuzz_pretty_printed_objects_among_text(objects: list[str]) -> None:
    _consume(("QA output\n" + "\n=== case ===\n".join(objects)).encode("utf-8", "surrogatepass"))


json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
timestamps = st.none() | st.fixed_dictionaries(
    {"seconds": st.integers(0, 2**40), "microseconds": st.integers(0, 999_999)}
)
job_ids = st.from_regex(JOB_ID, fullmatch=True)
steps_strategy = st.one_of(
    st.builds(lambda j: {"op": "drain", "job": j}, job_ids),
    st.builds(
        lambda j, v: {"op": "verb", "job": j, "verb": v, "family": "job"},
        job_ids,
        st.sampled_from(["pause", "resume", "cancel"]),
    ),
    st.just({"op": "query"}),
    st.builds(lambda j: {"op": "start", "jobs": [{"type": "mirror", "id": j}]}, job_ids),
)
records_strategy = st.one_of(
    st.builds(Command, st.text(), json_objects, st.none() | st.integers() | st.text()),
    st.builds(Response, st.none() | st.integers(), json_values.filter(lambda v: v is not None)),
    st.builds(
        Response,
        st.none() | st.integers(),
        st.none(),
        st.builds(QmpError, st.text(), st.text()),
    ),
    st.builds(Event, st.text(), json_objects, timestamps).filter(
        lambda e: e.event != "JOB_STATUS_CHANGE"
    ),
    st.builds(
        lambda job, status, ts: Event("JOB_STATUS_CHANGE", {"id": job, "status": status}, ts),
        st.text(),
        st.text(),
        timestamps,
    ),
    st.builds(Note, st.text(), st.none() | steps_strategy),
)
metas = st.builds(
    Meta,
    st.text(min_size=1).filter(lambda s: s != "unknown"),
    st.none() | st.from_regex(QEMU_VERSION, fullmatch=True),
    st.sampled_from(["wire", "per-job"]),
    json_objects,
)


def _roundtrip(meta: Meta, records: list[Record]) -> Iterator[tuple[Meta, list[Record]]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.jsonl")
        with open(path, "w", encoding="utf-8") as stream:
            write_jsonl(stream, meta, records)
        with open(path, encoding="utf-8") as stream:
            got_meta, got = read_jsonl(stream, path)
            yield got_meta, list(got)
        got_meta, got = open_trace(path)
        yield got_meta, list(got)


@given(metas, st.lists(records_strategy, max_size=8))
def test_well_formed_traces_round_trip_exactly(meta: Meta, records: list[Record]) -> None:
    expected = [replace(r, line=n) for n, r in enumerate(records, start=2)]
    for got_meta, got in _roundtrip(meta, records):
        assert got_meta == meta
        assert got == expected
