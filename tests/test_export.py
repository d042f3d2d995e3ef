"""``jobcheck export``: the standalone script and the qemu-iotests test made from a live trace.

The trace here is written by hand in the wire order QEMU 7.2 gives (see
docs/driving-qemu.md, 'Return order'): a ``blockdev-create`` of a file in the
live target's private directory, its dismissal, then a null-co backup that
finishes inside its start command.  Its divergence is the catalogued
``status.null-never-visible`` (QEMU reports ``null``), which every QEMU shows,
so the live test can check that the exported script reproduces it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jobcheck.conformance.cli import main
from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.export import iotest as export_iotest
from jobcheck.conformance.export import script as export_script
from jobcheck.conformance.export.plan import WORKDIR, build_plan, substitute, work_directory
from jobcheck.conformance.trace.records import (
    Command,
    Event,
    Meta,
    Note,
    Record,
    Response,
    write_jsonl,
)

DIR = "/tmp/jobcheck-live-x1y2"


def _jsc(job: str, status: str) -> Event:
    return Event("JOB_STATUS_CHANGE", {"id": job, "status": status})


def live_records() -> list[Record]:
    done = {"device": "j", "len": 1073741824, "offset": 1073741824, "speed": 0, "type": "backup"}
    return [
        Note("start create c1", {"op": "query"}),
        Command(
            "blockdev-create",
            {"job-id": "c1", "options": {"driver": "file", "filename": f"{DIR}/n.raw", "size": 0}},
            1,
        ),
        _jsc("c1", "created"),
        _jsc("c1", "running"),
        Response(1, {}),
        _jsc("c1", "waiting"),
        _jsc("c1", "pending"),
        _jsc("c1", "concluded"),
        Command("job-dismiss", {"id": "c1"}, 2),
        _jsc("c1", "null"),
        Response(2, {}),
        Note("start backup j", {"op": "query"}),
        Command("blockdev-add", {"driver": "null-co", "node-name": "src", "size": 1 << 30}, 3),
        Response(3, {}),
        Command("blockdev-add", {"driver": "null-co", "node-name": "dst", "size": 1 << 30}, 4),
        Response(4, {}),
        Command(
            "blockdev-backup", {"job-id": "j", "device": "src", "target": "dst", "sync": "full"}, 5
        ),
        _jsc("j", "created"),
        _jsc("j", "running"),
        _jsc("j", "paused"),
        _jsc("j", "running"),
        _jsc("j", "waiting"),
        _jsc("j", "pending"),
        Event("BLOCK_JOB_COMPLETED", done),
        _jsc("j", "concluded"),
        _jsc("j", "null"),
        Response(5, {}),
        Note("query", {"op": "query"}),
        Command("query-jobs", {}, 6),
        Response(6, []),
    ]


NULL_INDEX = 25
META = Meta("qemu", "7.2.22", "wire", {"rule": "status.null-never-visible", "index": NULL_INDEX})


def _write(path: Path, meta: Meta = META, records: list[Record] | None = None) -> Path:
    with path.open("w", encoding="utf-8") as stream:
        write_jsonl(stream, meta, records if records is not None else live_records())
    return path


def test_the_hand_written_trace_points_at_the_null_event() -> None:
    record = live_records()[NULL_INDEX]
    assert isinstance(record, Event) and record.data == {"id": "j", "status": "null"}


def test_work_directory_and_substitution() -> None:
    commands = [r for r in live_records() if isinstance(r, Command)]
    assert work_directory(commands) == DIR
    args = {"options": {"filename": f"{DIR}/n.raw", "list": [DIR, "/other"]}}
    assert substitute(args, DIR, WORKDIR) == {
        "options": {"filename": f"{WORKDIR}/n.raw", "list": [WORKDIR, "/other"]}
    }


def test_plan_stops_after_the_divergent_step_and_marks_the_record() -> None:
    plan = build_plan(live_records(), META, "7.2", "live.jsonl")
    assert [e.execute for e in plan.exchanges] == [
        "blockdev-create",
        "job-dismiss",
        "blockdev-add",
        "blockdev-add",
        "blockdev-backup",
    ]
    backup = plan.exchanges[-1]
    assert backup.response == {"return": {}}
    assert backup.divergent == len(backup.events) - 1
    assert backup.events[-1] == {
        "event": "JOB_STATUS_CHANGE",
        "data": {"id": "j", "status": "null"},
    }
    assert plan.exchanges[0].arguments["options"]["filename"] == f"{WORKDIR}/n.raw"
    assert plan.rule == "status.null-never-visible" and plan.anchor == "@JobStatus.null"
    assert plan.divergent_exchange == 4


def test_a_simulator_trace_must_be_replayed_on_qemu_first() -> None:
    with pytest.raises(UsageError, match=r"replay it on QEMU first.*--save live\.jsonl"):
        build_plan(live_records(), Meta("sim", "7.2.22"), "7.2", "t.jsonl")


def test_a_trace_without_divergence_cannot_be_exported() -> None:
    clean = live_records()[11:16]
    assert [type(r).__name__ for r in clean] == [
        "Note",
        "Command",
        "Response",
        "Command",
        "Response",
    ]
    with pytest.raises(UsageError, match="finds no divergence"):
        build_plan(clean, Meta("qemu", "7.2.22"), "7.2", "t.jsonl")


def test_script_compiles_and_answers_help(tmp_path: Path) -> None:
    plan = build_plan(live_records(), META, "7.2", "live.jsonl")
    text = export_script.render(plan)
    compile(text, "repro.py", "exec")
    assert "status.null-never-visible" in text and WORKDIR in text
    path = tmp_path / "repro.py"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(path), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--qemu BIN" in done.stdout


def test_iotest_compiles_and_its_output_follows_the_exchanges() -> None:
    plan = build_plan(live_records(), META, "7.2", "live.jsonl")
    test = export_iotest.render_test(plan)
    compile(test, "jobcheck-status-null-never-visible", "exec")
    assert "iotests.VM() as vm" in test and "vm.qmp_log('blockdev-backup'" in test
    out = export_iotest.render_output(plan).splitlines()
    commands = [line for line in out if line.startswith('{"execute"')]
    assert len(commands) == len(plan.exchanges)
    assert commands[0] == (
        '{"execute": "blockdev-create", "arguments": {"job-id": "c1", "options":'
        ' {"driver": "file", "filename": "TEST_DIR/PID-n.raw", "size": 0}}}'
    )
    marker = out.index("# divergent record (jobcheck rule status.null-never-visible): next line")
    assert out[marker + 1] == (
        '{"data": {"id": "j", "status": "null"}, "event": "JOB_STATUS_CHANGE",'
        ' "timestamp": {"microseconds": "USECS", "seconds": "SECS"}}'
    )
    completed = next(line for line in out if "BLOCK_JOB_COMPLETED" in line)
    assert '"len": "FILTERED"' in completed and '"offset": "FILTERED"' in completed
    events = sum(len(e.events) for e in plan.exchanges)
    steps = sum(1 for e in plan.exchanges if e.step)
    assert len(out) == 2 * len(plan.exchanges) + events + steps + 1


def test_cli_writes_both_kinds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = _write(tmp_path / "live.jsonl")
    script = tmp_path / "out" / "repro.py"
    assert main(["export", str(trace), "--as", "script", "--out", str(script)]) == 0
    assert os.access(script, os.X_OK)
    test = tmp_path / "iotests" / "jobcheck-null"
    assert main(["export", str(trace), "--as", "iotest", "--out", str(test)]) == 0
    assert test.exists() and Path(f"{test}.out").exists()
    assert main(["export", str(trace), "--as", "script"]) == 0
    assert capsys.readouterr().out.startswith("wrote ")


def test_cli_refuses_a_simulator_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = _write(tmp_path / "sim.jsonl", Meta("sim", "7.2.22"))
    assert main(["export", str(trace), "--as", "script"]) == 2
    err = capsys.readouterr().err
    assert "replay it on QEMU first" in err and len(err.strip().splitlines()) == 1


def _qsd() -> str:
    path = shutil.which("qemu-storage-daemon")
    if path is None:
        pytest.skip("qemu-storage-daemon is not installed")
    return path


@pytest.mark.live
def test_exported_script_reproduces_the_divergence_on_qemu(tmp_path: Path) -> None:
    qsd = _qsd()
    trace = _write(tmp_path / "live.jsonl")
    script = tmp_path / "repro.py"
    assert main(["export", str(trace), "--as", "script", "--out", str(script)]) == 0
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = subprocess.run(
        [sys.executable, str(script), "--qemu", qsd],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "QEMU answers as recorded: the divergence reproduces" in done.stdout
    assert done.stdout.rstrip().endswith("DIVERGENCE REPRODUCED")
    assert '! JOB_STATUS_CHANGE {"id": "j", "status": "null"}' in done.stdout
    assert list(scratch.iterdir()) == [], "the script left its temporary directory behind"


def _fake_iotests(directory: Path, qsd: str) -> None:
    """A stand-in for QEMU's iotests module, enough to run an exported test on QSD.

    It reproduces the output conventions the export relies on: ``qmp_log``
    prints the command (keys ordered) and the response (sorted), ``log`` of a
    dict prints sorted JSON, filters are applied first.
    """
    source = f"""
import json, os, tempfile
from collections import OrderedDict
from qemu.qmp.legacy import QEMUMonitorProtocol
import subprocess, socket

test_dir = tempfile.mkdtemp(prefix="iotests-")

def script_initialize(**kwargs):
    pass

def log(msg, filters=()):
    for flt in filters:
        msg = flt(msg)
    if isinstance(msg, (dict, list)):
        print(json.dumps(msg, sort_keys=not isinstance(msg, OrderedDict)))
    else:
        print(msg)

def filter_qmp(qmsg, fn):
    items = qmsg.items() if isinstance(qmsg, dict) else enumerate(qmsg)
    for k, v in list(items):
        if isinstance(v, (dict, list)):
            qmsg[k] = filter_qmp(v, fn)
        else:
            qmsg[k] = fn(k, v)
    return qmsg

def filter_qmp_testfiles(qmsg):
    pref = os.path.join(test_dir, "%s-" % os.getpid())
    return filter_qmp(qmsg, lambda k, v: v.replace(pref, "TEST_DIR/PID-")
                      if isinstance(v, str) else v)

def filter_qmp_event(event):
    event = dict(event)
    event["timestamp"] = {{"seconds": "SECS", "microseconds": "USECS"}}
    return event

def ordered(value, top=True):
    if isinstance(value, dict):
        return OrderedDict((k, ordered(v, False)) for k, v in sorted(value.items()))
    if isinstance(value, list):
        return [ordered(v, False) for v in value]
    return value

class VM:
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.shutdown()
    def launch(self):
        path = os.path.join(test_dir, "qmp.sock")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen(1)
        chardev = "socket,id=m,fd=%d,server=on,wait=on" % listener.fileno()
        self.proc = subprocess.Popen([{qsd!r}, "--chardev", chardev, "--monitor", "chardev=m"],
                                     pass_fds=[listener.fileno()])
        listener.close()
        self.qmp = QEMUMonitorProtocol(path)
        self.qmp.connect()
        self.events = []
    def qmp_log(self, cmd, filters=(), **kwargs):
        log(OrderedDict((("execute", cmd), ("arguments", ordered(kwargs)))), filters)
        result = self.qmp.cmd_raw(cmd, kwargs)
        log(result, filters)
        return result
    def event_wait(self, name, timeout, match):
        def matches(ev):
            return ev["event"] == name and all(
                ev["data"].get(k) == v for k, v in match["data"].items())
        while True:
            for ev in self.events:
                if matches(ev):
                    self.events.remove(ev)
                    return ev
            ev = self.qmp.pull_event(wait=timeout)
            if ev is None:
                raise TimeoutError(name)
            self.events.append(ev)
    def shutdown(self):
        try:
            self.qmp.cmd_raw("quit", None)
        except Exception:
            pass
        try:
            self.qmp.close()
        except Exception:
            pass
        self.proc.wait(10)
"""
    (directory / "iotests.py").write_text(source, encoding="utf-8")


@pytest.mark.live
def test_exported_iotest_prints_its_reference_output_on_qemu(tmp_path: Path) -> None:
    qsd = _qsd()
    trace = _write(tmp_path / "live.jsonl")
    test = tmp_path / "jobcheck-null"
    assert main(["export", str(trace), "--as", "iotest", "--out", str(test)]) == 0
    _fake_iotests(tmp_path, qsd)
    env: dict[str, Any] = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(test)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == Path(f"{test}.out").read_text(encoding="utf-8")


def test_plan_ends_at_a_quit_after_the_divergence() -> None:
    records = live_records()[:27]
    assert isinstance(records[-1], Response) and records[-1].id == 5
    teardown: list[Record] = [Command("quit", {}, 7), _jsc("j", "null"), Response(7, {})]
    plan = build_plan(records + teardown, META, "7.2", "live.jsonl")
    assert plan.exchanges[-1].execute == "blockdev-backup"
    assert plan.exchanges[-1].events[-1]["data"] == {"id": "j", "status": "null"}
    assert len(plan.exchanges[-1].events) == 9
