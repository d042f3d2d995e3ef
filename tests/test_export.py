"""``jobcheck export``: the standalone script and the qemu-iotests test made from a live trace.

Two traces.  One is written by hand in the wire order QEMU 7.2 gives (see
docs/driving-qemu.md, 'Return order'): a ``blockdev-create`` of a file in the
live target's private directory, its dismissal, then a null-co backup that
finishes inside its start command; its only divergence is the catalogued (known)
``status.null-never-visible`` (QEMU reports ``null``), which every QEMU shows,
so the live tests can check that the exports reproduce it.  The other,
``tests/data/qsd-7.2.22-pause-in-ready-edited.jsonl``, is QEMU 7.2.22's own trace
of pausing a READY mirror, edited to report ``paused`` instead of ``standby``
(the bug the simulator's mutant ``pause-in-ready-goes-paused`` plants): a new
divergence that real QEMU does not show, so its exports pass there.
"""

from __future__ import annotations

import os
import select
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
from jobcheck.conformance.export.plan import (
    WORKDIR,
    Plan,
    build_plan,
    choose,
    divergences,
    substitute,
    work_directory,
)
from jobcheck.conformance.report.baseline import Baseline, Entry
from jobcheck.conformance.trace.readers import read_trace
from jobcheck.conformance.trace.records import (
    Command,
    Event,
    Meta,
    Note,
    QmpError,
    Record,
    Response,
    write_jsonl,
)
from jobcheck.model.lifecycle import model_for

DIR = "/tmp/jobcheck-live-x1y2"


def _jsc(job: str, status: str) -> Event:
    return Event("JOB_STATUS_CHANGE", {"id": job, "status": status})


def _start(command: str, job: str, first_id: int) -> list[Record]:
    """Two null-co nodes added, then ``command`` starting ``job`` from one to the other."""
    node = {"driver": "null-co", "size": 1 << 30}
    return [
        Command("blockdev-add", {**node, "node-name": "src"}, first_id),
        Response(first_id, {}),
        Command("blockdev-add", {**node, "node-name": "dst"}, first_id + 1),
        Response(first_id + 1, {}),
        Command(
            command, {"job-id": job, "device": "src", "target": "dst", "sync": "full"}, first_id + 2
        ),
    ]


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
        *_start("blockdev-backup", "j", 3),
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
DATA = Path(__file__).parent / "data"
EDITED = DATA / "qsd-7.2.22-pause-in-ready-edited.jsonl"
MODEL = model_for("7.2")


def _write(path: Path, meta: Meta = META, records: list[Record] | None = None) -> Path:
    with path.open("w", encoding="utf-8") as stream:
        write_jsonl(stream, meta, records if records is not None else live_records())
    return path


def _plan(records: list[Record], meta: Meta = META) -> Plan:
    """The plan of the divergence the trace was saved for, else of its first one."""
    found = divergences(records, meta, MODEL)
    wanted = next((f.id for f in found if f.saved_for), found[0].id if found else None)
    return build_plan(records, meta, MODEL, "live.jsonl", choose(found, wanted, True, "t"))


def _null_id() -> str:
    """The id of the null event's divergence in the hand-written trace."""
    found = divergences(live_records(), META, MODEL)
    return next(f.id for f in found if f.divergence.index == NULL_INDEX)


def _edited() -> tuple[Meta, list[Record]]:
    with read_trace(str(EDITED)) as (meta, records):
        return meta, list(records)


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
    plan = _plan(live_records())
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
    assert plan.files == ["n.raw"]


def test_a_simulator_trace_must_be_replayed_on_qemu_first() -> None:
    with pytest.raises(UsageError, match=r"replay it on QEMU first.*--save live\.jsonl"):
        _plan(live_records(), Meta("sim", "7.2.22"))


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
        _plan(clean, Meta("qemu", "7.2.22"))


def test_divergences_are_numbered_with_their_status() -> None:
    meta, records = _edited()
    found = divergences(records, meta, MODEL)
    assert [(f.id, f.status, str(f.divergence.rule)) for f in found] == [
        ("d01", "new", "status.transition-table"),
        ("d02", "new", "status.transition-table"),
        ("d03", "known", "status.null-never-visible"),
    ]
    assert [f.saved_for for f in found] == [True, False, False]


def test_the_default_is_the_new_divergence_the_trace_was_saved_for() -> None:
    meta, records = _edited()
    assert choose(divergences(records, meta, MODEL), None, False, "t").id == "d01"


def test_a_known_divergence_is_refused_unless_allowed() -> None:
    found = divergences(live_records(), META, MODEL)
    assert {f.status for f in found} == {"known"}
    null = _null_id()
    with pytest.raises(UsageError, match=r"no new divergence, only accepted ones \(d01 \(known\)"):
        choose(found, None, False, "t")
    with pytest.raises(UsageError, match=rf"{null} is a known divergence .* needs --allow-known"):
        choose(found, null, False, "t")
    assert choose(found, null, True, "t").id == null
    with pytest.raises(UsageError, match="no divergence d77; this trace has d01, "):
        choose(found, "d77", True, "t")


def test_a_baselined_divergence_counts_as_accepted(tmp_path: Path) -> None:
    meta, records = _edited()
    baseline = Baseline(None, [Entry("status.transition-table")])
    found = divergences(records, meta, MODEL, baseline)
    assert [f.status for f in found] == ["baselined", "baselined", "known"]
    with pytest.raises(UsageError, match="only accepted ones"):
        choose(found, None, False, "t")


def test_a_trace_whose_divergence_did_not_reproduce_exports_nothing_by_default() -> None:
    """A replayed trace names the divergence it replayed; exporting another one silently
    (such as a known one of the harness's teardown) would mislead."""
    _meta, records = _edited()
    about_other = Meta("qemu", "7.2.22", "wire", {"rule": "job-complete.only-ready"})
    found = divergences(records, about_other, MODEL)
    with pytest.raises(UsageError, match=r"saved for \(job-complete.only-ready\) is not in it"):
        choose(found, None, False, "t", "job-complete.only-ready")
    assert choose(found, "d02", False, "t", "job-complete.only-ready").id == "d02"


def test_jobchecks_names_become_readable() -> None:
    meta, records = _edited()
    plan = _plan(records, meta)
    adds = [e.arguments for e in plan.exchanges if e.execute == "blockdev-add"]
    assert [a["node-name"] for a in adds] == ["src", "dst-null", "dst"]
    assert adds[2]["file"] == "dst-null"
    two = [
        Command("blockdev-add", {"node-name": "jc-9-1-1-src", "driver": "null-co"}, 1),
        Response(1, {}),
        Command("blockdev-add", {"node-name": "jc-9-1-2-src", "driver": "null-co"}, 2),
        Response(2, {}),
        *records[1:],
    ]
    plan = _plan(two, meta)
    assert [e.arguments["node-name"] for e in plan.exchanges[:2]] == ["src1", "src2"]


def test_script_compiles_and_answers_help(tmp_path: Path) -> None:
    text = export_script.render(_plan(live_records()))
    compile(text, "repro.py", "exec")
    assert "status.null-never-visible" in text and WORKDIR in text
    path = tmp_path / "repro.py"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(path), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--qemu BIN" in done.stdout


def test_script_without_qemu_qmp_says_how_to_run_it(tmp_path: Path) -> None:
    path = tmp_path / "repro.py"
    path.write_text(export_script.render(_plan(live_records())), encoding="utf-8")
    # -I: isolated from the virtual environment's packages, as a plain python3 is
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(path), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "No module named" not in done.stderr and "Traceback" not in done.stderr
    assert "needs the qemu.qmp package" in done.stderr
    assert f"{sys.executable} {path}" in done.stderr


def test_iotest_compiles_and_its_output_follows_the_exchanges() -> None:
    plan = _plan(live_records())
    test = export_iotest.render_test(plan)
    compile(test, "backup-status-null-never-visible", "exec")
    assert "iotests.VM() as vm" in test and "vm.qmp_log('blockdev-backup'" in test
    assert "with iotests.FilePath('n.raw') as n, \\" in test
    assert "supported_fmts=['qcow2']," in test and "supported_protocols=['file']" in test
    assert all(len(line) <= 79 for line in test.splitlines())
    assert "# Copyright (C) <YEAR> <COPYRIGHT HOLDER>" in test
    assert "# SPDX-License-Identifier: GPL-2.0-or-later" in test
    assert "def fix(" not in test and "jobcheck-" not in test
    out = export_iotest.render_output(plan).splitlines()
    commands = [line for line in out if line.startswith('{"execute"')]
    assert len(commands) == len(plan.exchanges)
    assert commands[0] == (
        '{"execute": "blockdev-create", "arguments": {"job-id": "c1", "options":'
        ' {"driver": "file", "filename": "TEST_DIR/PID-n.raw", "size": 0}}}'
    )
    assert out[-1] == (
        "QEMU sends JOB_STATUS_CHANGE id=j status=null (not allowed by"
        " status.null-never-visible): no"
    )
    observed = export_iotest.render_output(plan, observed=True).splitlines()
    assert observed[:-1] == out[:-1] and observed[-1].endswith("): yes")
    completed = next(line for line in out if "BLOCK_JOB_COMPLETED" in line)
    assert '"len": "FILTERED"' in completed and '"offset": "FILTERED"' in completed


def test_the_iotest_of_a_null_co_trace_runs_once_in_raw() -> None:
    meta, records = _edited()
    plan = _plan(records, meta)
    test = export_iotest.render_test(plan)
    assert "iotests.script_initialize(supported_fmts=['raw'], required_fmts=['null-co'])" in test
    assert "# group: quick" in test and "FilePath" not in test
    assert export_iotest.test_name(plan) == "mirror-status-transition-table"


def test_cli_writes_both_kinds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = _write(tmp_path / "live.jsonl")
    script = tmp_path / "out" / "repro.py"
    known = ["--divergence", _null_id(), "--allow-known"]
    assert main(["export", str(trace), "--as", "script", "--out", str(script), *known]) == 0
    assert os.access(script, os.X_OK)
    test = tmp_path / "iotests" / "null"
    assert main(["export", str(trace), "--as", "iotest", "--out", str(test), *known]) == 0
    assert test.exists() and Path(f"{test}.out").exists()
    assert Path(f"{test}.out.observed").exists()
    assert main(["export", str(trace), "--as", "script", *known]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"exporting {_null_id()} (known, the one the trace was saved for)")


def test_cli_default_name_has_no_prefix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(EDITED), "--as", "iotest"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mirror-status-transition-table",
        "mirror-status-transition-table.out",
        "mirror-status-transition-table.out.observed",
    ]
    assert "other divergences in the trace: d02 (new), d03 (known)" in capsys.readouterr().out


def test_cli_lists_the_divergences(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(EDITED), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["d01", "d02", "d03"]


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        ([], "only accepted ones"),
        (["--divergence", "d02"], "needs --allow-known"),
        (["--divergence", "x; rm"], "takes an id such as d01"),
        (["--verify", "/nonexistent"], "--verify runs an iotest"),
    ],
)
def test_cli_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], wanted: str
) -> None:
    trace = _write(tmp_path / "live.jsonl")
    assert main(["export", str(trace), "--as", "script", *argv]) == 2
    err = capsys.readouterr().err
    assert wanted in err and len(err.strip().splitlines()) == 1


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


def _run_script(script: Path, qsd: str, scratch: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), "--qemu", qsd],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(scratch)},
    )


@pytest.mark.live
def test_exported_script_reproduces_the_divergence_on_qemu(tmp_path: Path) -> None:
    qsd = _qsd()
    trace = _write(tmp_path / "live.jsonl")
    script = tmp_path / "repro.py"
    argv = ["--out", str(script), "--divergence", _null_id(), "--allow-known"]
    assert main(["export", str(trace), "--as", "script", *argv]) == 0
    # a deep, long working directory: the script uses no socket path at all
    scratch = tmp_path / ("d" * 60) / ("e" * 60)
    scratch.mkdir(parents=True)
    done = _run_script(script, qsd, scratch)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "QEMU answers as recorded: the divergence reproduces" in done.stdout
    assert done.stdout.rstrip().endswith("DIVERGENCE REPRODUCED")
    assert '! JOB_STATUS_CHANGE {"id": "j", "status": "null"}' in done.stdout
    assert list(scratch.iterdir()) == [], "the script left its temporary directory behind"


@pytest.mark.live
def test_exported_script_of_a_divergence_qemu_does_not_have_says_not_reproduced(
    tmp_path: Path,
) -> None:
    qsd = _qsd()
    script = tmp_path / "repro.py"
    assert main(["export", str(EDITED), "--as", "script", "--out", str(script)]) == 0
    done = _run_script(script, qsd, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("NOT REPRODUCED (fixed?)")


@pytest.mark.live
def test_exported_scripts_run_in_parallel(tmp_path: Path) -> None:
    qsd = _qsd()
    script = tmp_path / "repro.py"
    argv = ["--out", str(script), "--divergence", _null_id(), "--allow-known"]
    assert main(["export", str(_write(tmp_path / "live.jsonl")), "--as", "script", *argv]) == 0
    runs = [
        subprocess.Popen(
            [sys.executable, str(script), "--qemu", qsd],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 1 and "DIVERGENCE REPRODUCED" in out, out + err


def test_an_exported_scripts_qemu_dies_with_the_script_even_by_sigkill(tmp_path: Path) -> None:
    """SIGKILL gives the script no chance to stop QEMU: the parent-death signal must.
    A stand-in QEMU says its pid through a FIFO and waits; it never greets, so the script
    waits too, until it is killed."""
    script = tmp_path / "repro.py"
    argv = ["--out", str(script), "--divergence", _null_id(), "--allow-known"]
    assert main(["export", str(_write(tmp_path / "live.jsonl")), "--as", "script", *argv]) == 0
    fifo = tmp_path / "qemu.pid"
    os.mkfifo(fifo)
    fake = tmp_path / "qemu-storage-daemon"
    fake.write_text(f"#!/bin/sh\necho $$ > {fifo}\nexec sleep 600\n")
    fake.chmod(0o755)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    run = subprocess.Popen(
        [sys.executable, str(script), "--qemu", str(fake), "--timeout", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready, _, _ = select.select([reader], [], [], 30)
        assert ready, "the stand-in QEMU never started"
        qemu = int(os.read(reader, 64))
        exited = os.pidfd_open(qemu)  # readable once the process has ended
        try:
            run.kill()
            run.wait(timeout=30)
            ended, _, _ = select.select([exited], [], [], 10)
            assert ended, "QEMU outlived the script killed by SIGKILL"
        finally:
            os.close(exited)
    finally:
        os.close(reader)
        run.kill()
        run.wait()


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

class FilePath:
    def __init__(self, *names):
        self.paths = [os.path.join(test_dir, "%s-%s" % (os.getpid(), n)) for n in names]
    def __enter__(self):
        return self.paths[0] if len(self.paths) == 1 else self.paths
    def __exit__(self, *exc):
        return False

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
                                     pass_fds=[listener.fileno()],
                                     stderr=subprocess.DEVNULL)
        listener.close()
        self.qmp_conn = QEMUMonitorProtocol(path)
        self.qmp_conn.connect()
        self.events = []
    def qmp(self, cmd, **kwargs):
        # as QEMUMachine.qmp: '_' in the top-level keys becomes '-'
        return self.qmp_conn.cmd_raw(cmd, {{k.replace("_", "-"): v for k, v in kwargs.items()}})
    def qmp_log(self, cmd, filters=(), **kwargs):
        args = {{k.replace("_", "-"): v for k, v in kwargs.items()}}
        log(OrderedDict((("execute", cmd), ("arguments", ordered(args)))), filters)
        result = self.qmp_conn.cmd_raw(cmd, args)
        log(result, filters)
        return result
    def event_wait(self, name, timeout=60.0, match=None):
        match = match or {{"data": {{}}}}
        def matches(ev):
            return ev["event"] == name and all(
                ev["data"].get(k) == v for k, v in match["data"].items())
        while True:
            for ev in self.events:
                if matches(ev):
                    self.events.remove(ev)
                    return ev
            ev = self.qmp_conn.pull_event(wait=timeout)  # raises asyncio.TimeoutError, as in QEMU
            self.events.append(ev)
    def shutdown(self):
        try:
            self.qmp_conn.cmd_raw("quit", None)
        except Exception:
            pass
        try:
            self.qmp_conn.close()
        except Exception:
            pass
        self.proc.wait(10)
"""
    (directory / "iotests.py").write_text(source, encoding="utf-8")


def _run_iotest(tmp_path: Path, test: Path, qsd: str) -> str:
    _fake_iotests(tmp_path, qsd)
    env: dict[str, Any] = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(test)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.live
def test_exported_iotest_of_a_known_divergence_prints_the_observed_output(
    tmp_path: Path,
) -> None:
    qsd = _qsd()
    trace = _write(tmp_path / "live.jsonl")
    test = tmp_path / "null"
    argv = ["--out", str(test), "--divergence", _null_id(), "--allow-known"]
    assert main(["export", str(trace), "--as", "iotest", *argv]) == 0
    out = _run_iotest(tmp_path, test, qsd)
    assert out == Path(f"{test}.out.observed").read_text(encoding="utf-8")
    reference = Path(f"{test}.out").read_text(encoding="utf-8").splitlines()
    assert out.splitlines()[:-1] == reference[:-1] and reference[-1].endswith(": no")


@pytest.mark.live
def test_exported_iotest_passes_where_qemu_behaves_as_documented(tmp_path: Path) -> None:
    qsd = _qsd()
    test = tmp_path / "pause"
    assert main(["export", str(EDITED), "--as", "iotest", "--out", str(test)]) == 0
    out = _run_iotest(tmp_path, test, qsd)
    assert out == Path(f"{test}.out").read_text(encoding="utf-8")


def test_plan_ends_at_a_quit_after_the_divergence() -> None:
    records = live_records()[:27]
    assert isinstance(records[-1], Response) and records[-1].id == 5
    teardown: list[Record] = [Command("quit", {}, 7), _jsc("j", "null"), Response(7, {})]
    plan = _plan(records + teardown)
    assert plan.exchanges[-1].execute == "blockdev-backup"
    assert plan.exchanges[-1].events[-1]["data"] == {"id": "j", "status": "null"}
    assert len(plan.exchanges[-1].events) == 9


def test_the_quote_is_the_documentation_of_the_model_version() -> None:
    # QEMU refuses job-complete of a ready mirror as if a cancel had been requested: the
    # rule's sentence was reworded in 10.1, and the plan quotes the model's own wording.
    ready = {"device": "j", "len": 1, "offset": 1, "speed": 0, "type": "mirror"}
    node = {"driver": "null-co", "size": 1 << 30}
    mirror = {"job-id": "j", "device": "src", "target": "dst", "sync": "full"}
    records: list[Record] = [
        Command("blockdev-add", {**node, "node-name": "src"}, 1),
        Response(1, {}),
        Command("blockdev-add", {**node, "node-name": "dst"}, 2),
        Response(2, {}),
        Command("blockdev-mirror", mirror, 3),
        _jsc("j", "created"),
        _jsc("j", "running"),
        Response(3, {}),
        _jsc("j", "ready"),
        Event("BLOCK_JOB_READY", ready),
        Command("job-complete", {"id": "j"}, 4),
        Response(4, None, QmpError("GenericError", "The active block job 'j' cannot be completed")),
    ]
    meta = Meta("qemu", "7.2.22", "wire")
    quotes = {}
    for version in ("7.2", "10.2"):
        model = model_for(version)
        found = choose(divergences(records, meta, model), None, False, "t")
        quotes[version] = build_plan(records, meta, model, "live.jsonl", found).quote
    assert quotes["7.2"] == "A cancelled or paused job cannot be completed."
    assert quotes["10.2"] is not None and quotes["10.2"].startswith("Note that if you issue")


FAKE_CHECK = """#!{python}
# A stand-in for qemu-iotests' ./check: runs tests/NAME, compares with tests/NAME.out
import difflib, os, subprocess, sys
here = os.path.dirname(os.path.realpath(__file__))
fmt, name = sys.argv[1], sys.argv[2]
test = os.path.join(here, "tests", name)
done = subprocess.run([sys.executable, test], capture_output=True, text=True,
                      env={{**os.environ, "PYTHONPATH": {harness!r}}})
with open(test + ".out") as stream:
    reference = stream.read()
got = done.stdout + done.stderr
if got == reference:
    print(name + "   pass")
    sys.exit(0)
print(name + "   fail")
sys.stdout.writelines(difflib.unified_diff(reference.splitlines(True), got.splitlines(True),
                                           test + ".out", test + ".out.bad"))
sys.exit(1)
"""


def _fake_build_tree(tmp_path: Path, qsd: str) -> Path:
    """A source tree with tests/qemu-iotests/{check,tests/}, and a build tree whose
    tests/qemu-iotests/check links to it, as QEMU's build does."""
    harness = tmp_path / "harness"
    harness.mkdir()
    _fake_iotests(harness, qsd)
    source = tmp_path / "src" / "tests" / "qemu-iotests"
    (source / "tests").mkdir(parents=True)
    check = source / "check"
    check.write_text(FAKE_CHECK.format(python=sys.executable, harness=str(harness)))
    check.chmod(0o755)
    build = tmp_path / "build"
    (build / "tests" / "qemu-iotests").mkdir(parents=True)
    (build / "tests" / "qemu-iotests" / "check").symlink_to(check)
    return build


@pytest.mark.live
@pytest.mark.parametrize(
    ("trace", "extra", "code", "verdict"),
    [
        ("edited", [], 1, "passes: ./check passes: QEMU behaves as documented here"),
        ("null", ["--allow-known"], 0, "reproduces: ./check fails at the divergent record"),
    ],
)
def test_verify_runs_the_test_with_check_in_a_build_tree(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trace: str,
    extra: list[str],
    code: int,
    verdict: str,
) -> None:
    build = _fake_build_tree(tmp_path, _qsd())
    path = EDITED if trace == "edited" else _write(tmp_path / "live.jsonl")
    if trace == "null":
        extra = [*extra, "--divergence", _null_id()]
    out = tmp_path / "out" / "t"
    argv = ["export", str(path), "--as", "iotest", "--out", str(out), "--verify", str(build)]
    assert main([*argv, *extra]) == code
    assert verdict in capsys.readouterr().out
    assert list((tmp_path / "src" / "tests" / "qemu-iotests" / "tests").iterdir()) == []


def test_verify_needs_a_build_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", str(EDITED), "--as", "iotest", "--verify", str(tmp_path)])
    assert code == 2
    assert "not a QEMU build tree (no tests/qemu-iotests/check in it)" in capsys.readouterr().err


def _real_build_tree() -> tuple[Path, dict[str, str]]:
    """A QEMU build tree (``$JOBCHECK_QEMU_BUILD``, else one under ~/.cache/jobcheck/) and
    a system emulator with the qtest accelerator, which iotests' VM needs; or a skip."""
    found = [Path(p) for p in [os.environ.get("JOBCHECK_QEMU_BUILD", "")] if p]
    found += sorted(Path.home().glob(".cache/jobcheck/*/*/build"))
    trees = [p for p in found if (p / "tests" / "qemu-iotests" / "check").exists()]
    if not trees:
        pytest.skip("no QEMU build tree ($JOBCHECK_QEMU_BUILD, or ~/.cache/jobcheck/*/*/build)")
    build = trees[0]
    env = dict(os.environ)
    candidates = [os.environ.get("QEMU_PROG", ""), *map(str, build.glob("qemu-system-*"))]
    for prog in filter(None, candidates):
        accels = subprocess.run([prog, "-accel", "help"], capture_output=True, text=True)
        if "qtest" in accels.stdout:
            env["QEMU_PROG"] = prog
            break
    else:
        pytest.skip(
            f"the build tree {build} has no qemu-system-* with the qtest accelerator (iotests'"
            " VM needs one; Debian's binaries have none): set QEMU_PROG to one"
        )
    for tool in ("qemu-img", "qemu-io", "qemu-nbd"):
        if not (build / tool).exists() and shutil.which(tool):
            env[f"{tool.replace('-', '_').upper()}_PROG"] = str(shutil.which(tool))
    return build, env


@pytest.mark.live
def test_verify_with_the_real_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build, env = _real_build_tree()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    trace = _write(tmp_path / "live.jsonl")
    argv = ["--divergence", _null_id(), "--allow-known", "--verify", str(build)]
    out = tmp_path / "t"
    assert main(["export", str(trace), "--as", "iotest", "--out", str(out), *argv]) == 0
    assert "reproduces: ./check fails at the divergent record" in capsys.readouterr().out
