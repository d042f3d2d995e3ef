"""``.ci/stress``: the live tests back to back under load, with a stand-in for pytest.

The script runs ``$JOBCHECK_STRESS_PYTHON -m pytest … -m live``; here that is a
shell script which logs its arguments and exits with the code its test gives
for each run (or stays until killed), so that the loop, the summary, the exit
status and the clean-up after a signal are checked in a second, with no QEMU.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, processes

STRESS = ROOT / ".ci" / "stress"
USAGE = "usage: .ci/stress [-r RUNS] [-b BUSY] [-n WORKERS] [-x] [LOGDIR] [-- PYTEST-ARGS]"

STAND_IN = """#!/bin/bash
echo "$*" >> "$STUB_DIR/args"
sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status >> "$STUB_DIR/ignored"
n=$(( $(cat "$STUB_DIR/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$STUB_DIR/count"
code=$(sed -n "${n}p" "$STUB_DIR/codes")
if [ "$code" = stubborn ]; then
    trap '' INT
    code=hang
fi
if [ "$code" = hang ]; then
    echo "$$" > "$STUB_DIR/hung"
    exec sleep 600
fi
echo "stand-in run $n: exit $code"
exit "$code"
"""


def _stand_in(tmp_path: Path, codes: list[str]) -> dict[str, str]:
    stub = tmp_path / "python"
    stub.write_text(STAND_IN)
    stub.chmod(0o755)
    (tmp_path / "codes").write_text("".join(f"{c}\n" for c in codes))
    return {**os.environ, "JOBCHECK_STRESS_PYTHON": str(stub), "STUB_DIR": str(tmp_path)}


def _stress(
    tmp_path: Path, codes: list[str], *options: str, pytest_args: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], Path]:
    logs = tmp_path / "logs"
    done = subprocess.run(
        [str(STRESS), *options, str(logs), *(("--", *pytest_args) if pytest_args else ())],
        env=_stand_in(tmp_path, codes),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, logs


def _last(logs: Path) -> str:
    """The last line of the summary."""
    return (logs / "summary.txt").read_text().splitlines()[-1]


def _session_processes(session: int) -> list[int]:
    """The live (not zombie) processes of a session."""
    return [pid for pid, fields in processes() if fields[0] != "Z" and int(fields[3]) == session]


def test_every_run_is_counted_and_a_failed_one_fails_the_whole(tmp_path: Path) -> None:
    done, logs = _stress(tmp_path, ["0", "1", "0"], "-r", "3", "-b", "0", "-n", "2")
    assert done.returncode == 1, done.stderr
    summary = (logs / "summary.txt").read_text().splitlines()
    assert [line.split()[2] for line in summary[:3]] == ["pass", "FAIL", "pass"]
    assert summary[1].endswith("stand-in run 2: exit 1")  # the run's last line
    assert summary[3].startswith("total: 2 passed, 1 failed of 3 runs")
    assert done.stdout.splitlines() == summary
    assert (logs / "run-2.log").read_text() == "stand-in run 2: exit 1\n"
    calls = (tmp_path / "args").read_text().splitlines()
    assert calls == ["-m pytest -q -p no:cacheprovider -m live -n 2"] * 3


def test_all_passed_exits_0_and_pytest_arguments_pass_through(tmp_path: Path) -> None:
    done, logs = _stress(tmp_path, ["0", "0"], "-r", "2", "-b", "1", pytest_args=("-k", "crash"))
    assert done.returncode == 0, done.stderr
    assert _last(logs).startswith("total: 2 passed, 0 failed of 2 runs")
    calls = (tmp_path / "args").read_text().splitlines()
    assert calls == ["-m pytest -q -p no:cacheprovider -m live -k crash"] * 2


def test_x_stops_after_the_first_failure(tmp_path: Path) -> None:
    done, logs = _stress(tmp_path, ["0", "1", "0"], "-r", "3", "-b", "0", "-x")
    assert done.returncode == 1
    assert (tmp_path / "count").read_text().strip() == "2"
    assert _last(logs).startswith("total: 1 passed, 1 failed of 2 runs")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "many"], "stress: -r must be a whole number, not 'many'"),
        (["-r", "0"], "stress: -r must be at least 1"),
        (["-q"], USAGE),
        (["-r", "1", "/proc/none"], "stress: cannot make the log directory /proc/none"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = subprocess.run(
        [str(STRESS), *args],
        env=_stand_in(tmp_path, ["0"]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr, done.stdout) == (2, message + "\n", "")
    assert not (tmp_path / "args").exists()  # nothing was run


@pytest.mark.parametrize(
    ("signum", "run_kind"),
    [
        (signal.SIGTERM, "hang"),
        (signal.SIGINT, "hang"),
        (signal.SIGHUP, "hang"),
        (signal.SIGTERM, "stubborn"),
    ],
    ids=["SIGTERM", "SIGINT", "SIGHUP", "SIGTERM-run-ignores-SIGINT"],
)
def test_a_signal_stops_the_run_and_the_busy_loops(
    tmp_path: Path, signum: int, run_kind: str
) -> None:
    """The run gets SIGINT (pytest cleans up then); one that ignores it, SIGKILL after the
    grace period."""
    logs = tmp_path / "logs"
    hung = tmp_path / "hung"
    os.mkfifo(hung)  # the hanging run writes its pid into it: opening it waits for that
    script = subprocess.Popen(
        [str(STRESS), "-r", "3", "-b", "2", str(logs)],
        env={**_stand_in(tmp_path, ["0", run_kind, "0"]), "JOBCHECK_STRESS_GRACE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(hung.read_text()), daemon=True)
        reader.start()
        reader.join(30)
        assert got, "the second run never started"
        run = int(got[0])
        assert os.getpgid(run) == run  # a process group of its own
        loops = [p for p in _session_processes(script.pid) if p not in (script.pid, run)]
        assert len(loops) == 2, loops  # the busy loops
        script.send_signal(signum)
        out, err = script.communicate(timeout=30)
    except BaseException:
        _kill_session(script)
        raise
    assert script.returncode == 130
    assert err == "stress: interrupted\n"
    assert out.splitlines()[0].startswith("run 1: pass")
    assert _last(logs) == "stress: interrupted"
    _await_exit([run, *loops], timeout=10)
    assert _session_processes(script.pid) == []
    assert (tmp_path / "count").read_text().strip() == "2"  # no third run began


def _kill_session(script: subprocess.Popen[str]) -> None:
    """After a failed check: nothing of the script may outlive the test.  Its run and its
    busy loops are process groups of their own, but all are in the script's session."""
    for pid in _session_processes(script.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    script.communicate()


def test_a_run_starts_with_sigint_not_ignored(tmp_path: Path) -> None:
    """Without job control a background command starts with SIGINT ignored, and so would
    every jobcheck that a live test interrupts with SIGINT."""
    done, _ = _stress(tmp_path, ["0"], "-r", "1", "-b", "0")
    assert done.returncode == 0, done.stderr
    ignored = int((tmp_path / "ignored").read_text(), 16)
    assert not ignored & (1 << (signal.SIGINT - 1)), hex(ignored)


def _await_exit(pids: list[int], timeout: float) -> None:
    """Wait until every process of ``pids`` has ended (a pidfd is readable then)."""
    fds = []
    for pid in pids:
        try:
            fds.append(os.pidfd_open(pid))
        except ProcessLookupError:
            continue  # gone (and reaped) already
    try:
        deadline = time.monotonic() + timeout
        for fd in fds:
            left = deadline - time.monotonic()
            assert left > 0 and select.select([fd], [], [], left)[0], "still running"
    finally:
        for fd in fds:
            os.close(fd)
