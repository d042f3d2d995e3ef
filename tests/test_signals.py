"""Signals: SIGTERM and SIGHUP clean up as Ctrl-C does; a SIGKILLed run's leftovers are swept.

Each test runs the real command line in a child process with a private ``TMPDIR``,
waits until the QEMU it launched is up (a line the command prints, or the QEMU
process appearing), sends a real signal, and then checks the exit code, the
message, that no QEMU process of the run is left and that ``TMPDIR`` is empty.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import processes

from jobcheck.conformance.targets.qemu_process import WORKDIR_PREFIX, sweep_leftovers

pytestmark = pytest.mark.live

CLI = [sys.executable, "-m", "jobcheck.conformance.cli"]
META = {"kind": "meta", "format": "jobcheck-trace", "version": 1, "source": "qemu"}


def _qsd() -> str:
    path = shutil.which("qemu-storage-daemon")
    if path is None:
        pytest.skip("qemu-storage-daemon is not installed")
    return path


def _long_trace(path: Path, queries: int = 100_000) -> Path:
    """A mirror started, then more queries than any test waits for."""
    start = {"op": "start", "jobs": [{"type": "mirror", "id": "j0"}]}
    lines = [META, {"kind": "note", "text": "start mirror j0", "step": start}]
    query = json.dumps({"kind": "note", "text": "query", "step": {"op": "query"}})
    path.write_text(
        "".join(json.dumps(o) + "\n" for o in lines) + (query + "\n") * queries,
        encoding="utf-8",
    )
    return path


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    return [child for child, fields in processes() if int(fields[1]) == pid]


def _is_qemu(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/exe").resolve().name.startswith("qemu-")
    except OSError:
        return False


def _descendant_qemus(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            if _is_qemu(child):
                out.append(child)
            else:
                todo.append(child)
    return out


def _await(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Wait until ``condition()`` holds (checked every few milliseconds), or fail."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        pause.wait(0.005)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _spawn(argv: list[str], tmpdir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [*CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.fixture
def tmpdir_private() -> Path:
    # short, so that the QMP socket path stays under the unix limit
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"jc-sig-{os.getpid()}"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_replay_stops_qemu_and_removes_the_directory(
    tmp_path: Path, tmpdir_private: Path, sig: signal.Signals
) -> None:
    qsd = _qsd()
    trace = _long_trace(tmp_path / "long.jsonl")
    proc = _spawn(["replay", str(trace), "--qemu", qsd], tmpdir_private)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # printed once QEMU is up, before the first step
    assert first.startswith("replay: "), first + proc.communicate()[1]
    qemus = _descendant_qemus(proc.pid)
    assert len(qemus) == 1
    assert any(p.name.startswith(WORKDIR_PREFIX) for p in tmpdir_private.iterdir())
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    word = "interrupted" if sig == signal.SIGINT else f"terminated by {sig.name}"
    assert f"jobcheck replay: {word}" in err and "Traceback" not in err
    assert _gone(qemus[0])
    assert list(tmpdir_private.iterdir()) == []


def test_sigterm_during_a_parallel_run_stops_every_worker_and_qemu(tmpdir_private: Path) -> None:
    qsd = _qsd()
    argv = ["run", "--qemu", qsd, "--no-tour", "--examples", "100000", "--jobs", "2"]
    proc = _spawn([*argv, "--no-report"], tmpdir_private)
    _await(lambda: len(_descendant_qemus(proc.pid)) >= 2, "a QEMU in each worker")
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated by SIGTERM" in err
    assert all(_gone(p) for p in workers)
    assert _descendant_qemus(proc.pid) == []
    assert list(tmpdir_private.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_tour_runs_beside_the_exploration_stops_both(
    tmpdir_private: Path, sig: signal.Signals
) -> None:
    """A plain run on a launched QEMU: the tour and the exploration in two processes, each
    with its QEMU (and the one that told the version, closed by then)."""
    qsd = _qsd()
    proc = _spawn(["run", "--qemu", qsd, "--examples", "100000", "--no-report"], tmpdir_private)
    _await(lambda: len(_descendant_qemus(proc.pid)) >= 2, "a QEMU for the tour and one beside")
    workers = _children(proc.pid)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    word = "interrupted" if sig == signal.SIGINT else f"terminated by {sig.name}"
    assert f"jobcheck run: {word}" in err and "Traceback" not in err
    assert all(_gone(p) for p in workers)
    assert _descendant_qemus(proc.pid) == []
    assert list(tmpdir_private.iterdir()) == []


def test_a_sigkilled_runs_directory_is_swept_by_the_next_run(
    tmp_path: Path, tmpdir_private: Path
) -> None:
    qsd = _qsd()
    proc = _spawn(
        ["replay", str(_long_trace(tmp_path / "long.jsonl")), "--qemu", qsd], tmpdir_private
    )
    assert proc.stdout is not None and proc.stdout.readline().startswith("replay: ")
    (qemu,) = _descendant_qemus(proc.pid)
    proc.kill()
    proc.communicate(timeout=60)
    left = list(tmpdir_private.iterdir())
    assert [p.name.startswith(f"{WORKDIR_PREFIX}{proc.pid}-") for p in left] == [True]
    _await(lambda: _gone(qemu), "QEMU to die with its parent (parent-death signal)")
    # a directory of a live process, and one of another naming, are never touched
    alive = tmpdir_private / f"{WORKDIR_PREFIX}{os.getpid()}-keep"
    alive.mkdir()
    other = tmpdir_private / "jobcheck-qemu-notapid"
    other.mkdir()
    short = _long_trace(tmp_path / "short.jsonl", queries=1)
    done = subprocess.run(
        [*CLI, "replay", str(short), "--qemu", qsd],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmpdir_private)},
    )
    assert done.returncode in (0, 1), done.stderr
    assert sorted(p.name for p in tmpdir_private.iterdir()) == sorted([alive.name, other.name])


def test_sweep_leftovers_removes_only_dead_owners(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / f"{WORKDIR_PREFIX}{dead.pid}-abcd1234"
    (gone / "sub").mkdir(parents=True)
    mine = tmp_path / f"{WORKDIR_PREFIX}{os.getpid()}-abcd1234"
    mine.mkdir()
    parent = tmp_path / f"{WORKDIR_PREFIX}{os.getppid()}-abcd1234"
    parent.mkdir()
    assert sweep_leftovers(str(tmp_path)) == [str(gone)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, parent.name])


def test_an_interrupt_python_swallows_is_raised_at_the_next_wait() -> None:
    """A signal whose handler runs inside a weakref callback raises there, and Python
    drops the exception ("Exception ignored in ..."): a SIGTERM during a replay went
    unnoticed that way under load. jobcheck keeps it and raises it at its next wait."""
    import weakref

    from jobcheck.conformance.cli import Terminated
    from jobcheck.conformance.errors import keep_swallowed_interrupts, raise_swallowed

    class Thing:
        pass

    def dying(_: object) -> None:
        raise Terminated(signal.SIGTERM)

    keep_swallowed_interrupts()
    thing = Thing()
    ref = weakref.ref(thing, dying)
    del thing  # the callback raises; Python drops the exception
    assert ref() is None
    with pytest.raises(Terminated):
        raise_swallowed()
    raise_swallowed()  # raised once, not again


def test_a_command_given_up_on_leaves_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """A SIGINT during a replay once printed asyncio's "Task exception was never
    retrieved" and a traceback after "jobcheck replay: interrupted": the interrupted
    command's task ended with SessionLost (the connection was closing) after its caller
    had given up on it. The session's loop stays silent about that, and only that."""
    import asyncio
    import functools
    import gc

    from jobcheck.conformance.targets.qemu_session import QemuSession, SessionLost

    async def abandon(exc: BaseException) -> None:
        async def fail() -> None:
            raise exc

        task = asyncio.get_running_loop().create_task(fail())
        await asyncio.wait([task])
        del task  # done, its exception never looked at
        gc.collect()

    session = QemuSession(timeout=5.0)
    try:
        for exc in (SessionLost("StateError: disconnecting"), ValueError("a real bug")):
            session._call(functools.partial(abandon, exc), 5.0)
    finally:
        session.close()
    unretrieved = [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]
    assert len(unretrieved) == 1, unretrieved  # the ValueError, not the SessionLost
    assert any("a real bug" in str(r.exc_info) for r in caplog.records), caplog.text
