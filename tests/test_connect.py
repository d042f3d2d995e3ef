"""``--connect``: an attached QEMU must be idle, ``--connect-force`` leaves its jobs alone, and
every way a connection fails is said in one line.

The endpoints that are not QEMU (a greeting and then silence, an HTTP server, a
socket that closes at once, one nobody listens on) are small servers bound before
the command starts; the busy QEMU is a ``qemu-storage-daemon`` with a job of its
own, started on a socket that the test binds and hands over.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobcheck.conformance.campaign.results import CampaignResult
from jobcheck.conformance.campaign.session import Session
from jobcheck.conformance.cli import main
from jobcheck.conformance.oracle import check
from jobcheck.conformance.targets.qemu import QemuTarget
from jobcheck.conformance.trace.records import Command, Event, Meta, Response

GREETING = (
    b'{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""},'
    b' "capabilities": ["oob"]}}\r\n'
)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path (unix socket paths are limited to 108 bytes)."""
    path = Path(f"/tmp/jc-conn-{os.getpid()}-{threading.get_ident() % 10_000}")
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _serve(path: Path, answer: bytes | None, keep_open: bool) -> socket.socket:
    """A unix socket server at ``path`` that sends ``answer`` to each client."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(4)
    clients: list[socket.socket] = []

    def loop() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            if answer:
                client.sendall(answer)
            if keep_open:
                clients.append(client)  # read nothing, answer nothing
            else:
                client.close()

    threading.Thread(target=loop, daemon=True).start()
    return server


@pytest.mark.parametrize(
    ("answer", "keep_open", "code", "message"),
    [
        (GREETING, True, 3, "sent its QMP greeting, then did not answer qmp_capabilities"),
        (b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", False, 2, "does not speak QMP"),
        (None, False, 3, "closed the connection without a QMP greeting"),
    ],
    ids=["greeting-then-silence", "http-server", "closes-at-once"],
)
def test_what_answers_on_the_socket_is_said(
    short_dir: Path,
    capsys: pytest.CaptureFixture[str],
    answer: bytes | None,
    keep_open: bool,
    code: int,
    message: str,
) -> None:
    path = short_dir / "s"
    server = _serve(path, answer, keep_open)
    try:
        argv = ["run", "--connect", str(path), "--timeout", "1", "--no-report", "--no-tour"]
        assert main(argv) == code
    finally:
        server.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("jobcheck run: target:"), err
    assert message in err[1] and str(path) in err[1], err


def test_a_socket_nobody_listens_on_is_connection_refused(
    short_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = short_dir / "s"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    assert main(["run", "--connect", str(path), "--no-report", "--no-tour"]) == 3
    err = capsys.readouterr().err
    assert "nothing accepts connections on" in err and "connection refused" in err


@pytest.mark.parametrize("kind", ["file", "directory", "missing"])
def test_connect_to_what_is_not_a_socket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / "x"
    if kind == "file":
        path.write_text("")
    elif kind == "directory":
        path.mkdir()
    assert main(["run", "--connect", str(path), "--no-report"]) == 2
    err = capsys.readouterr().err.strip()
    wanted = {"file": "not a socket", "directory": "a directory", "missing": "No such file"}
    assert wanted[kind] in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("kind", ["directory", "not-executable", "missing"])
def test_qemu_that_is_not_a_program(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / "qemu"
    if kind == "directory":
        path.mkdir()
        (path / "qemu-storage-daemon").write_text("")
    elif kind == "not-executable":
        path.write_text("#!/bin/sh\n")
    assert main(["run", "--qemu", str(path), "--no-report"]) == 2
    err = capsys.readouterr().err.strip()
    wanted = {
        "directory": f"is a directory, not a program; did you mean {path}/qemu-storage-daemon",
        "not-executable": "is not executable",
        "missing": "no such file",
    }
    assert wanted[kind] in err and len(err.splitlines()) == 1, err


# --- a QEMU with a job of its own --------------------------------------------------------


class Busy:
    """A qemu-storage-daemon at ``path`` running a parked mirror ``t1`` of its own."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("qemu-storage-daemon")
        if binary is None:
            pytest.skip("qemu-storage-daemon is not installed")
        self.path = directory / "qmp.sock"
        # wait=on: QEMU accepts the queued connection while it parses --chardev, before
        # the monitor exists (with wait=off a client can be greeted and then never
        # answered: docs/driving-qemu.md, "Connecting without the greeting race")
        self.process = self._launch(binary)
        self.reconnect()
        for name in ("usrc", "udst"):
            self.qmp("blockdev-add", {"driver": "null-co", "node-name": name, "size": 1 << 40})
        mirror = {"job-id": "t1", "device": "usrc", "target": "udst", "sync": "full"}
        self.qmp("blockdev-mirror", {**mirror, "speed": 1})

    def qmp(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        self.stream.write(json.dumps(message) + "\n")
        self.stream.flush()
        while True:
            answer = json.loads(self.stream.readline())
            if "event" not in answer:
                assert "return" in answer, answer
                return answer["return"]

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.qmp("query-jobs"))

    def _launch(self, binary: str) -> subprocess.Popen[bytes]:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(self.path))
        listener.listen(4)
        chardev = f"socket,id=m,fd={listener.fileno()},server=on,wait=on"
        try:
            return subprocess.Popen(
                [binary, "--chardev", chardev, "--monitor", "chardev=m"],
                pass_fds=[listener.fileno()],
                stderr=subprocess.DEVNULL,
            )
        finally:
            listener.close()

    def reconnect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(str(self.path))
        self.stream = self.sock.makefile("rw")
        self.stream.readline()
        self.qmp("qmp_capabilities")

    def disconnect(self) -> None:
        """Leave the monitor (which takes one client at a time) to jobcheck."""
        self.stream.close()
        self.sock.close()

    def close(self) -> None:
        self.disconnect()
        self.process.kill()
        self.process.wait()


@pytest.fixture
def busy(short_dir: Path) -> Iterator[Busy]:
    qemu = Busy(short_dir)
    yield qemu
    qemu.close()


@pytest.mark.live
def test_a_qemu_with_jobs_is_refused(busy: Busy, capsys: pytest.CaptureFixture[str]) -> None:
    before = busy.jobs()
    busy.disconnect()
    code = main(["run", "--connect", str(busy.path), "--no-report", "--examples", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith(f"jobcheck run: error: the QEMU at {busy.path} is not idle")
    assert "1 job(s) ('t1')" in err[-1] and "--connect-force" in err[-1]
    busy.reconnect()  # untouched?
    assert [(j["id"], j["status"]) for j in busy.jobs()] == [("t1", before[0]["status"])]


@pytest.mark.live
def test_connect_force_uses_its_own_ids_and_checks_only_its_own_jobs(busy: Busy) -> None:
    busy.disconnect()
    # the campaign's job is also called t1: on the wire it gets the target's prefix
    steps: list[dict[str, Any]] = [
        {"op": "start", "jobs": [{"type": "mirror", "id": "t1"}]},
        {"op": "verb", "job": "t1", "verb": "pause", "family": "job"},
        {"op": "query"},
        {"op": "verb", "job": "t1", "verb": "set-speed", "family": "block-job", "speed": 2},
        {"op": "verb", "job": "t1", "verb": "cancel", "family": "job"},
        {"op": "wait"},
        {"op": "query"},
    ]
    target = QemuTarget(connect=str(busy.path), force=True, timeout=10)
    session = Session(target, target.model, lambda d: True, CampaignResult())
    for step in steps:
        session.step(step)
    session.finish()
    records = session.records
    ids = {r.data.get("id") for r in records if isinstance(r, Event) and "id" in r.data}
    assert ids == {"t1"}
    assert not any(target.prefix in json.dumps(getattr(r, "data", {})) for r in records)
    queries = [r.value for r in records if isinstance(r, Response) and isinstance(r.value, list)]
    assert queries and all(len(q) <= 1 for q in queries)  # never the other t1
    assert any(q and q[0]["status"] == "paused" for q in queries)
    jsc = [
        r.data["status"]
        for r in records
        if isinstance(r, Event) and r.event == "JOB_STATUS_CHANGE" and r.data["id"] == "t1"
    ]
    assert jsc[:3] == ["created", "running", "paused"] and jsc[-1] == "null"
    assert next(r.execute for r in records if isinstance(r, Command)) == "blockdev-add"
    new = [
        d for d in check(records, target.model, Meta("qemu", target.qemu_version)) if not d.known
    ]
    assert new == []
    # the other t1 is still there, and still its own: not paused, not cancelled
    busy.reconnect()
    jobs = busy.jobs()
    assert [(j["id"], j["type"]) for j in jobs] == [("t1", "mirror")]
    assert jobs[0]["status"] in ("running", "ready")
