"""``jobcheck export --as iotest --verify BUILD_DIR``: run the exported test with ``./check``.

qemu-iotests finds tests only in its source tree (``./check`` refuses paths), so
the test and its reference output are copied into the source tree's
``tests/qemu-iotests/tests/`` under a name of their own
(``NAME-verify<pid>``), run with ``BUILD_DIR/tests/qemu-iotests/check -FMT NAME``
(the format the test supports), and removed again whatever happens.  The
environment is passed on, so ``QEMU_PROG`` and friends choose other binaries
when the build tree lacks them.

The verdict (:class:`Verdict`):

* ``reproduces`` — ``./check`` fails, and the only lines that differ from the
  reference output are the divergent record's (``…: no`` expected, ``…: yes``
  printed): the test shows the divergence and nothing else;
* ``passes`` — this QEMU behaves as documented at the divergent record;
* ``broken`` — any other failure, or the test was not run; the detail says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jobcheck.conformance.errors import UsageError

#: How long ``./check`` may take.
CHECK_TIMEOUT = 600.0


@dataclass(frozen=True)
class Verdict:
    """What ``./check`` made of the exported test."""

    outcome: str
    """``reproduces``, ``passes`` or ``broken``."""
    detail: str
    output: str


def check_script(build_dir: str) -> Path:
    """``BUILD_DIR/tests/qemu-iotests/check``, or a :class:`UsageError`."""
    check = Path(build_dir) / "tests" / "qemu-iotests" / "check"
    if not Path(build_dir).is_dir():
        raise UsageError(f"--verify {build_dir}: no such directory")
    if not check.exists():
        raise UsageError(
            f"--verify {build_dir}: not a QEMU build tree (no tests/qemu-iotests/check in it)"
        )
    return check


def _changed(output: str) -> list[str]:
    """The ``-``/``+`` lines of the diff ``./check`` prints for a failed test."""
    return [
        line
        for line in output.splitlines()
        if line[:1] in "-+" and not line.startswith(("---", "+++"))
    ]


def verify(
    build_dir: str, name: str, test: str, reference: str, fmt_option: str, check_line: str
) -> Verdict:
    """Run the test (source ``test``, reference output ``reference``) in ``build_dir``.

    ``check_line`` is the divergent record's line without its ``yes``/``no``.
    """
    check = check_script(build_dir)
    tests = check.resolve().parent / "tests"
    if not tests.is_dir():
        raise UsageError(f"--verify {build_dir}: no tests/ beside {check.resolve()}")
    copy = f"{name}-verify{os.getpid()}"
    paths = [tests / copy, tests / f"{copy}.out"]
    try:
        try:
            paths[0].write_text(test, encoding="utf-8")
            os.chmod(paths[0], 0o755)
            paths[1].write_text(reference, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--verify: cannot write into {tests}: {exc.strerror}") from None
        try:
            done = subprocess.run(
                [str(check), fmt_option, copy],
                cwd=check.parent,
                capture_output=True,
                text=True,
                timeout=CHECK_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return Verdict("broken", f"./check did not finish within {CHECK_TIMEOUT:g} s", "")
        except OSError as exc:
            raise UsageError(f"--verify: cannot run {check}: {exc.strerror}") from None
    finally:
        for path in paths:
            path.unlink(missing_ok=True)
        bad = check.parent / "scratch"
        if bad.is_dir():
            for leftover in bad.rglob(f"{copy}*"):
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
    output = done.stdout + done.stderr
    if "not run" in output:
        reason = next((ln.strip() for ln in output.splitlines() if "not run" in ln), "")
        return Verdict("broken", f"./check did not run it: {reason}", output)
    if done.returncode == 0 and "pass" in output:
        return Verdict("passes", "./check passes: QEMU behaves as documented here", output)
    changed = _changed(output)
    if changed == [f"-{check_line}no", f"+{check_line}yes"]:
        return Verdict(
            "reproduces", "./check fails at the divergent record and nowhere else", output
        )
    added = [line[1:].strip() for line in changed if line.startswith("+")]
    said = [t for t in added if "Output:" in t] or [t for t in added if "Error" in t]
    shown = said[-1] if said else "; ".join(changed[:4]) or " ".join(output.split())[-200:]
    return Verdict("broken", f"./check fails elsewhere: {shown[:300]}", output)
