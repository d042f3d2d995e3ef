"""check-trace on small qemu-iotests-style excerpts, one for each way QEMU's outputs differ.

Each excerpt is written for its test, in the style of the outputs of some QEMU release
(the shared corpora hold whole files, see ``test_iotests_traces.py``):

* Python 2 ``repr()``\\ s of QEMU 3.0's Python tests;
* unittest progress characters glued to the next logged line;
* job ids used again by a later test case, when the log shows only ``BLOCK_JOB_*``
  events: every sign that the old job is gone, each alone, and the same excerpt without
  it still reporting the double completion (so the sign is what clears it);
* jobs whose events the test never logs (their status is unknown, so any answer goes);
* documentation transcripts (``->``/``<-``), and files that hold no QMP record at all;
* the facts of the 5.0 and 10.1 model versions, seen through check-trace.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobcheck.conformance.cli import main
from jobcheck.conformance.commands.check_trace import FileResult, check_file
from jobcheck.conformance.trace.readers import detect_format, open_trace
from jobcheck.conformance.trace.records import Command, Event, Note, QmpError, Record, Response
from jobcheck.model.lifecycle import model_for

TS = '"timestamp": {"seconds": "SECS", "microseconds": "USECS"}'


def _write(tmp_path: Path, text: str, name: str = "t.out") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _check(tmp_path: Path, text: str, model: str = "latest") -> FileResult:
    result = check_file(_write(tmp_path, text), "auto", model_for(model))
    assert result.error is None, result.error
    return result


def _new(result: FileResult) -> list[str]:
    return [f"{d.line}: {d.rule}" for d in result.new]


def _records(tmp_path: Path, text: str) -> list[Record]:
    _, records = open_trace(_write(tmp_path, text))
    return list(records)


def _block(event: str, job: str, job_type: str = "mirror", extra: str = "") -> str:
    if event == "BLOCK_JOB_PENDING":
        data = f'{{"id": "{job}", "type": "{job_type}"}}'
    else:
        data = (
            f'{{"device": "{job}", "len": 1024, "offset": 1024, "speed": 0,'
            f' "type": "{job_type}"{extra}}}'
        )
    return f'{{"data": {data}, "event": "{event}", {TS}}}'


# --- Python reprs (QEMU 3.0 and before) ---------------------------------------------------

PYTHON_REPRS = """\
=== Creating an image ===

{'execute': 'blockdev-create', 'arguments': {'job_id': 'job0', 'options': {'driver': 'file', \
'filename': 'TEST_DIR/t.img', 'size': 18446744073709551104L}}}
{u'return': {}}
{u'timestamp': {u'seconds': 'SECS', u'microseconds': 'USECS'}, u'data': \
{u'status': u'created', u'id': u'job0'}, u'event': u'JOB_STATUS_CHANGE'}
{'execute': 'job-complete', 'arguments': {'id': 'job0'}}
{u'error': {u'class': u'GenericError', u'desc': \
u"Job 'job0' in state 'created' cannot accept command verb 'complete'"}}
{'execute': 'job-dismiss', 'arguments': {'id': 'job0'}}
{u'return': {}}
"""


def test_python_reprs_are_read_as_the_qmp_they_logged(tmp_path: Path) -> None:
    records = _records(tmp_path, PYTHON_REPRS)
    options = {"driver": "file", "filename": "TEST_DIR/t.img", "size": 18446744073709551104}
    refusal = "Job 'job0' in state 'created' cannot accept command verb 'complete'"
    assert records == [
        # The keyword argument job_id is the job-id QEMU received.
        Command("blockdev-create", {"job-id": "job0", "options": options}, None, 3),
        Response(None, {}, None, 4),
        Event(
            "JOB_STATUS_CHANGE",
            {"status": "created", "id": "job0"},
            {"seconds": "SECS", "microseconds": "USECS"},
            5,
        ),
        Command("job-complete", {"id": "job0"}, None, 6),
        Response(None, None, QmpError("GenericError", refusal), 7),
        Command("job-dismiss", {"id": "job0"}, None, 8),
        Response(None, {}, None, 9),
    ]
    result = _check(tmp_path, PYTHON_REPRS, "3.0")
    assert (_new(result), result.records, result.jobs) == ([], 7, 1)


def test_a_refusal_in_a_python_repr_is_checked(tmp_path: Path) -> None:
    # The same file, with a refusal that names a state the verb table permits.
    text = PYTHON_REPRS.replace("state 'created'", "state 'ready'")
    assert _new(_check(tmp_path, text, "3.0")) == ["7: verb.permission-table"]


# --- unittest progress characters ----------------------------------------------------------


def _finalize_case(job: str, prefix: str = "") -> str:
    return (
        f'{prefix}{{"execute": "job-finalize", "arguments": {{"id": "{job}"}}}}\n'
        '{"return": {}}\n'
        f"{_block('BLOCK_JOB_PENDING', job, 'stream')}\n"
        f"{_block('BLOCK_JOB_COMPLETED', job, 'stream')}\n"
    )


UNITTEST = (
    _finalize_case("stream0", "..")
    + _finalize_case("stream0", "s.")
    + "....\n"
    + "-" * 70
    + "\nRan 6 tests\n\nOK\n"
)


def test_unittest_progress_before_a_command_is_taken_off(tmp_path: Path) -> None:
    records = _records(tmp_path, UNITTEST)
    commands = [r for r in records if isinstance(r, Command)]
    assert commands == [
        Command("job-finalize", {"id": "stream0"}, None, 1),
        Command("job-finalize", {"id": "stream0"}, None, 5),
    ]
    # The progress run ended a test case: the same id names a new job after it.
    assert Note("reset: unittest progress", None, 5) in records
    result = _check(tmp_path, UNITTEST)
    assert (_new(result), result.records, result.jobs) == ([], 8, 2)


# --- job ids used again: the signs that the old job is gone --------------------------------

FIRST = (
    '{"return": {}}\n'
    f"{_block('BLOCK_JOB_READY', 'j')}\n"
    '{"return": {}}\n'
    f"{_block('BLOCK_JOB_COMPLETED', 'j')}\n"
)
SECOND = (
    f'{_block("BLOCK_JOB_READY", "j")}\n{{"return": {{}}}}\n{_block("BLOCK_JOB_COMPLETED", "j")}\n'
)
ACCEPTED = '{"return": {}}\n'
SIGNS = {
    "heading": "=== Cancel the mirror after convergence ===\n",
    "dashes": "--- force=true ---\n",
    "testcase": "Testcase persistent with restart\n",
    "restart": "... Restart ...\n",
    "launching": "Launching VM...\n",
    "starting": "Starting VM...\n",
    "qmp-session": "QMP_VERSION\n",
    "unittest-line": "..\n",
    "unittest-glued": '.{"execute": "query-jobs"}\n{"return": []}\n',
    # A QEMU that ended, then anything from a new one: here a response to a command that
    # the log does not show.
    "shutdown": f'{{"data": {{"guest": false}}, "event": "SHUTDOWN", {TS}}}\n' + ACCEPTED,
    "quit": '{"execute": "quit"}\n' + ACCEPTED + ACCEPTED,
    "start-job-id": '{"execute": "blockdev-mirror", "arguments": {"job-id": "j",'
    ' "device": "src", "target": "dst", "sync": "full"}}\n' + ACCEPTED,
    "start-device": '{"execute": "drive-mirror", "arguments": {"device": "j",'
    ' "target": "TEST_DIR/t.copy", "sync": "full"}}\n' + ACCEPTED,
    "dismiss": '{"execute": "job-dismiss", "arguments": {"id": "j"}}\n' + ACCEPTED,
    "block-job-dismiss": '{"execute": "block-job-dismiss", "arguments": {"device": "j"}}\n'
    + ACCEPTED,
}


def test_without_a_sign_a_second_life_is_a_double_completion(tmp_path: Path) -> None:
    # The control: nothing says the first job is gone, so its id cannot name a new one.
    result = _check(tmp_path, FIRST + SECOND)
    assert _new(result) == [
        "5: block-job.ready-event-after-ready",
        "7: block-job.completion-event",
    ]


@pytest.mark.parametrize("sign", SIGNS)
def test_each_sign_that_the_old_job_is_gone(sign: str, tmp_path: Path) -> None:
    result = _check(tmp_path, FIRST + SIGNS[sign] + SECOND)
    assert (_new(result), result.jobs) == ([], 2)


def test_a_transaction_that_starts_a_job_under_the_same_id(tmp_path: Path) -> None:
    second = f"{_block('BLOCK_JOB_COMPLETED', 'j', 'backup')}\n"
    transaction = (
        '{"execute": "transaction", "arguments": {"actions": [{"type": "blockdev-backup",'
        ' "data": {"job-id": "j", "device": "src", "target": "dst", "sync": "full"}}]}}\n'
    )
    assert _new(_check(tmp_path, FIRST + second)) == [
        "5: job-info.type-matches",
        "5: block-job.completion-event",
    ]
    result = _check(tmp_path, FIRST + transaction + ACCEPTED + second)
    assert (_new(result), result.jobs) == ([], 2)


def test_after_a_shutdown_only_a_new_qemu_sends_events_again(tmp_path: Path) -> None:
    shutdown = f'{{"data": {{"guest": false}}, "event": "SHUTDOWN", {TS}}}\n'
    completed = f"{_block('BLOCK_JOB_COMPLETED', 'j')}\n"
    # The ended QEMU's job completes again, with nothing from a new QEMU in between.
    assert _new(_check(tmp_path, FIRST + shutdown + completed)) == ["6: block-job.completion-event"]
    # A response that answers no logged command comes from a new QEMU: its job may follow.
    assert _new(_check(tmp_path, FIRST + shutdown + ACCEPTED + completed)) == []
    # The answer of the logged quit is the old QEMU's.
    quit = '{"execute": "quit"}\n' + shutdown + ACCEPTED
    assert _new(_check(tmp_path, FIRST + quit + completed)) == ["8: block-job.completion-event"]


def test_a_refused_start_command_is_no_sign(tmp_path: Path) -> None:
    refused = (
        '{"execute": "blockdev-mirror", "arguments": {"job-id": "j", "device": "src",'
        ' "target": "dst", "sync": "full"}}\n'
        '{"error": {"class": "GenericError", "desc": "Job ID \'j\' already in use"}}\n'
    )
    assert _new(_check(tmp_path, FIRST + refused + SECOND)) == [
        "7: block-job.ready-event-after-ready",
        "9: block-job.completion-event",
    ]


def test_a_heading_inside_a_life_is_no_sign(tmp_path: Path) -> None:
    # The job has not finished at the heading: its events go on after it.
    text = (
        '{"return": {}}\n'
        f"{_block('BLOCK_JOB_READY', 'j')}\n"
        "=== Completing the job ===\n"
        f"{_block('BLOCK_JOB_COMPLETED', 'j')}\n"
        f"{_block('BLOCK_JOB_COMPLETED', 'j')}\n"
    )
    result = _check(tmp_path, text)
    assert _new(result) == ["5: block-job.completion-event"]
    assert not [r for r in _records(tmp_path, text) if isinstance(r, Note)]


def test_a_concluded_job_accepts_no_finalize_so_a_new_one_did(tmp_path: Path) -> None:
    # A unittest run whose progress came first: only the verb tells the test cases apart.
    text = "....\n" + _finalize_case("stream0") + _finalize_case("stream0")
    result = _check(tmp_path, text)
    assert (_new(result), result.jobs) == ([], 2)
    # Without the verb nothing does, and the second life is a double completion.
    events = "".join(line + "\n" for line in text.splitlines() if '"event"' in line)
    assert _new(_check(tmp_path, events)) == ["4: block-job.completion-event"]


def test_events_the_old_life_may_still_send_after_a_boundary(tmp_path: Path) -> None:
    # JOB_STATUS_CHANGE logs: the old job's concluded and null come after the heading.
    def jsc(status: str) -> str:
        return (
            f'{{"data": {{"id": "j", "status": "{status}"}}, "event": "JOB_STATUS_CHANGE", {TS}}}'
        )

    statuses = ("created", "running", "waiting", "pending")
    text = "\n".join(
        [
            *map(jsc, statuses),
            _block("BLOCK_JOB_COMPLETED", "j", "backup"),
            "=== Next ===",
            jsc("concluded"),
            jsc("null"),
            *map(jsc, statuses),
        ]
    )
    result = _check(tmp_path, text + "\n")
    assert (_new(result), result.jobs) == ([], 2)
    notes = [r for r in _records(tmp_path, text + "\n") if isinstance(r, Note)]
    assert notes == []  # the boundary fell inside the first life


# --- jobs whose events were never logged ---------------------------------------------------

UNLOGGED = """\
{"execute": "blockdev-mirror", "arguments": {"device": "drive0", "job-id": "drive0", \
"on-target-error": "enospc", "sync": "full", "target": "target0"}}
{"return": {}}
{"execute": "block-job-resume", "arguments": {"device": "drive0"}}
{"return": {}}
{"execute": "job-complete", "arguments": {"id": "drive0"}}
{"error": {"class": "GenericError", "desc": "Job 'drive0' in state 'paused' cannot accept \
command verb 'complete'"}}
{"execute": "job-finalize", "arguments": {"id": "drive0"}}
{"error": {"class": "GenericError", "desc": "Job 'drive0' in state 'ready' cannot accept \
command verb 'finalize'"}}
{"execute": "job-dismiss", "arguments": {"id": "drive0"}}
{"return": {}}
"""


def test_a_job_whose_events_were_never_logged_allows_every_outcome(tmp_path: Path) -> None:
    # All JSON and nothing says the lines are in wire order: read as a per-job log.
    assert detect_format(UNLOGGED.splitlines()) == "iotests"
    result = _check(tmp_path, UNLOGGED, "7.2")
    assert (result.order, _new(result), result.records, result.jobs) == ("per-job", [], 10, 1)


def test_a_job_created_by_a_command_that_is_not_logged(tmp_path: Path) -> None:
    # Only the returns of the start commands are logged, then a job-dismiss.
    text = (
        '{"return": {}}\n{"return": {}}\n'
        '{"execute": "job-dismiss", "arguments": {"id": "job0"}}\n{"return": {}}\n'
    )
    result = _check(tmp_path, text)
    # QEMU accepts a verb only for a job that exists: that job counts, in an unknown status.
    assert (result.order, _new(result), result.records, result.jobs) == ("per-job", [], 4, 1)
    # A dismissed job is gone: a second accepted dismiss reached a new job of that id.
    twice = text + '{"execute": "job-dismiss", "arguments": {"id": "job0"}}\n{"return": {}}\n'
    assert (_new(_check(tmp_path, twice)), _check(tmp_path, twice).jobs) == ([], 2)
    # Refused, it proves nothing.
    refused = text + (
        '{"execute": "job-dismiss", "arguments": {"id": "job0"}}\n'
        '{"error": {"class": "GenericError", "desc": "Job not found"}}\n'
    )
    assert (_new(_check(tmp_path, refused)), _check(tmp_path, refused).jobs) == ([], 1)


# --- documentation transcripts, and files without a record --------------------------------

TRANSCRIPT = """\
Example:

    -> { "execute": "blockdev-mirror",
         "arguments": { "job-id": "job0", "device": "src", "target": "dst",
                        "sync": "full" } }
    <- { "return": {} }

Then:

    <- { "event": "JOB_STATUS_CHANGE",
         "data": { "id": "job0", "status": "created" },
         "timestamp": { "seconds": 1265044230, "microseconds": 450486 } }
    -> { "execute": "job-complete", "arguments": { "id": "job0" } }
    <- { "return": {} }
"""


def test_a_documentation_transcript_is_read_in_wire_order(tmp_path: Path) -> None:
    assert detect_format(TRANSCRIPT.splitlines()) == "qmp"
    records = _records(tmp_path, TRANSCRIPT)
    assert [(type(r).__name__, r.line) for r in records] == [
        ("Command", 3),
        ("Response", 6),
        ("Event", 10),
        ("Command", 13),
        ("Response", 14),
    ]
    assert records[0] == Command(
        "blockdev-mirror",
        {"job-id": "job0", "device": "src", "target": "dst", "sync": "full"},
        None,
        3,
    )
    result = _check(tmp_path, TRANSCRIPT)
    assert (result.order, _new(result), result.jobs) == ("wire", [], 1)
    # Wire order: an event of a job that no command started is a divergence.
    stray = '    <- { "event": "JOB_STATUS_CHANGE", "data": { "id": "x", "status": "created" } }'
    assert _new(_check(tmp_path, TRANSCRIPT + stray + "\n")) == [
        "15: event.status-change-known-job"
    ]


NOT_A_TRACE = {
    "hello": ("hello world\n", 1, "no QMP record found (read as qemu-iotests output)"),
    "prose": (
        'The command is sent as\n  { "execute": "job-pause" } and QEMU answers.\n',
        2,
        "this looks like QMP, but no QMP record could be read",
    ),
    "elided": (
        'Example:\n\n    -> { "execute": "query-jobs" }\n    <- { "return": [ ... ] }\n',
        4,
        "not valid JSON",
    ),
    "greeting-only": ('{"QMP": {"version": {}, "capabilities": []}}\n', 1, "no QMP record"),
}


@pytest.mark.parametrize("case", NOT_A_TRACE)
def test_a_file_without_a_qmp_record_exits_2_with_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, line, message = NOT_A_TRACE[case]
    path = _write(tmp_path, text, "notes.txt")
    assert main(["check-trace", path]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"{path}:{line}: ") and message in err[0]


# --- the facts of the 5.0 and 10.1 model versions ------------------------------------------


def _transcript(tmp_path: Path, version: tuple[int, int, int], lines: list[str]) -> str:
    """A wire-order transcript of a QEMU of ``version``: ``>`` before commands."""
    major, minor, micro = version
    greeting = (
        f'{{"QMP": {{"version": {{"qemu": {{"major": {major}, "minor": {minor},'
        f' "micro": {micro}}}, "package": ""}}, "capabilities": []}}}}'
    )
    text = "< " + greeting + "\n"
    for line in lines:
        text += ("> " if '"execute"' in line else "< ") + line + "\n"
    return _write(tmp_path, text, f"qemu-{major}.{minor}.qmp")


def _jsc(job: str, status: str) -> str:
    return f'{{"event": "JOB_STATUS_CHANGE", "data": {{"id": "{job}", "status": "{status}"}}}}'


@pytest.mark.parametrize(
    ("version", "text"),
    [
        ((4, 2, 1), "Invalid parameter 'speed'"),
        ((5, 0, 0), "Parameter 'speed' expects a non-negative value"),
    ],
)
def test_the_negative_speed_error_text_changed_in_5_0(
    version: tuple[int, int, int], text: str, tmp_path: Path
) -> None:
    path = _transcript(
        tmp_path,
        version,
        [
            '{"execute": "blockdev-mirror", "arguments": {"job-id": "j", "device": "s",'
            ' "target": "t", "sync": "full"}}',
            _jsc("j", "created"),
            _jsc("j", "running"),
            '{"return": {}}',
            '{"execute": "block-job-set-speed", "arguments": {"device": "j", "speed": -1}}',
            f'{{"error": {{"class": "GenericError", "desc": "{text}"}}}}',
        ],
    )
    # The model is the trace's own release: its text is the one QEMU gives.
    own = check_file(path, "auto", None)
    assert (own.model, _new(own)) == (model_for(".".join(map(str, version))).version, [])
    # The other release's model expects the other text.
    other = "5.0" if version[:2] == (4, 2) else "4.2"
    assert _new(check_file(path, "auto", model_for(other))) == ["7: verb.permission-table"]


def test_job_finalize_only_manual_is_documented_from_10_1(tmp_path: Path) -> None:
    backup = (
        '{{"type": "blockdev-backup", "data": {{"job-id": "{0}", "device": "{0}",'
        ' "target": "t"{1}}}}}'
    )
    lines = [
        '{"execute": "transaction", "arguments": {"actions": ['
        + backup.format("a", "")
        + ", "
        + backup.format("b", ', "auto-finalize": false')
        + '], "properties": {"completion-mode": "grouped"}}}',
        *(
            _jsc(j, s)
            for j, s in [("a", "created"), ("b", "created"), ("a", "running"), ("b", "running")]
        ),
        '{"return": {}}',
        *(
            _jsc(j, s)
            for j, s in [("a", "waiting"), ("b", "waiting"), ("b", "pending"), ("a", "pending")]
        ),
        '{"event": "BLOCK_JOB_PENDING", "data": {"id": "b", "type": "backup"}}',
        # a is auto-finalize=true, held in pending by b: QEMU accepts its job-finalize.
        '{"execute": "job-finalize", "arguments": {"id": "a"}}',
        '{"event": "BLOCK_JOB_COMPLETED", "data": {"device": "b", "len": 1, "offset": 1,'
        ' "speed": 0, "type": "backup"}}',
        _jsc("b", "concluded"),
        '{"event": "BLOCK_JOB_COMPLETED", "data": {"device": "a", "len": 1, "offset": 1,'
        ' "speed": 0, "type": "backup"}}',
        _jsc("a", "concluded"),
        '{"return": {}}',
    ]
    rules = {}
    for version in ((10, 0, 2), (10, 1, 0)):
        result = check_file(_transcript(tmp_path, version, lines), "auto", None)
        assert _new(result) == []
        rules[result.model] = {d.rule for d in result.known}
    assert "job-finalize.only-manual" not in rules["9.2"]
    assert "job-finalize.only-manual" in rules["10.1"]
