"""A QEMU crash is a finding: QEMU 7.2 aborts when quit while a blockdev-create job runs.

``tests/data/create-then-quit.jsonl`` starts a create job and sends ``quit`` at
once (docs/driving-qemu.md, 'Create then quit aborts QEMU 7.2': QEMU fails the
assertion ``'!qemu_in_coroutine()'`` in ``bdrv_do_drained_begin_quiesce``).
Replaying it on Debian's QEMU 7.2 must end in ``STILL DIVERGES: qemu.no-abort``
with exit 1, the trace that caused it saved, and no QEMU process or temporary
directory left behind.  The crash is a race (QEMU sometimes hangs instead,
which is a timeout, exit 3), so the test tries up to ``CRASH_TRIES`` times (conftest)
and needs one crash.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import CRASH_TRIES, QemuBuild

from jobcheck.conformance.trace.records import Command, read_jsonl

DATA = Path(__file__).parent / "data" / "create-then-quit.jsonl"


@pytest.mark.live
def test_quit_during_create_is_reported_as_a_crash_finding(
    tmp_path: Path, qemu_build: QemuBuild
) -> None:
    if not qemu_build.version.startswith("7.2."):
        pytest.skip(f"the create+quit abort is a QEMU 7.2 bug; this QEMU is {qemu_build.version}")
    assert qemu_build.storage_daemon is not None
    # A short private TMPDIR (unix socket paths are short) shows what temp files remain.
    tmpdir = tempfile.mkdtemp(prefix="jc-")
    env = {**os.environ, "TMPDIR": tmpdir}
    outcomes = []
    for attempt in range(CRASH_TRIES):
        saved = tmp_path / f"crash{attempt}.jsonl"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "jobcheck.conformance.cli",
                "replay",
                str(DATA),
                "--qemu",
                qemu_build.storage_daemon,
                "--timeout",
                "3",
                "--save",
                str(saved),
                "--allow-raw-qmp",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        outcomes.append((proc.returncode, proc.stdout + proc.stderr))
        if proc.returncode == 1:
            assert "STILL DIVERGES: qemu.no-abort" in proc.stdout
            assert "SIGABRT" in proc.stdout
            with saved.open() as stream:
                _, records = read_jsonl(stream, str(saved))
                commands = [r.execute for r in records if isinstance(r, Command)]
            assert "blockdev-create" in commands and commands[-1] == "quit"
            break
        assert proc.returncode == 3, proc.stdout + proc.stderr  # a hang: timed out
    else:
        pytest.fail(f"no crash in {CRASH_TRIES} attempts: {outcomes[-3:]}")
    pid = re.search(r"\(pid (\d+)\)", outcomes[-1][1])
    assert pid is not None, outcomes[-1][1]
    assert not Path(f"/proc/{pid.group(1)}").exists(), "the crashed QEMU is still there"
    assert os.listdir(tmpdir) == [], "a temporary file survived"
    os.rmdir(tmpdir)
