"""Shared test configuration: Hypothesis profiles, the ``live`` marker, paths.

Hypothesis profiles (``HYPOTHESIS_PROFILE=ci|thorough``, default ``ci``):

* ``ci`` — fast and derandomized, so CI is reproducible run to run;
* ``thorough`` — many more examples, random seeds, for nightly gates.  The
  seed of each failing example is printed by Hypothesis; rerun it with
  ``--hypothesis-seed=N``.

Tests marked ``live`` need a QEMU binary; they skip, saying so, only where
none is installed (CI installs Debian's QEMU, so there they always run).

Live tests that take the ``qemu_build`` fixture run once per QEMU build
(:data:`QEMU_BUILDS`): the QEMU on ``PATH`` (Debian 12's 7.2) and QEMU 10.0
unpacked in ``.qemu/10.0/`` of the checkout (``.ci/setup`` puts it there); a
build that is absent skips, saying so.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=50,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

# Several tests send SIGINT on purpose, to this process or to a child. A shell's background
# job starts with SIGINT ignored, and an ignored signal is inherited across exec, so under
# `.ci/run &` those tests would prove nothing (and fail). The test session takes Python's
# own Ctrl-C handler; a handler, unlike SIG_IGN, is reset to the default in each child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TRACES = SHARED / "traces" / "iotests"

CRASH_TRIES = 25
"""Tries at a racy QEMU crash before a test calls it missing, stopping at the first crash.
Measured for create-then-quit on 7.2.22: 20 of 20 tries aborted on an idle machine, 38 of
40 under two busy loops, 31 of 40 under four; yet 5 tries once met none, in 1 of 25 runs of
the live suite with two workers beside two busy loops.  Even at 1 try in 4, 25 tries all
miss about once in 1,300 runs."""


@dataclass(frozen=True)
class QemuBuild:
    """One QEMU the live tests can run on: where it comes from and its two binaries."""

    where: str
    """``PATH``, or the folder of the checkout it is unpacked in (``.qemu/10.0``)."""
    storage_daemon: str | None
    system: str | None

    @property
    def present(self) -> bool:
        return self.storage_daemon is not None

    @functools.cached_property
    def version(self) -> str:
        """``7.2.22``, as the binary says (``?`` when absent)."""
        if self.storage_daemon is None:
            return "?"
        out = subprocess.run(
            [self.storage_daemon, "--version"], capture_output=True, text=True, check=False
        ).stdout
        found = re.search(r"version (\d+\.\d+\.\d+)", out)
        return found.group(1) if found else "?"

    @property
    def name(self) -> str:
        """``qemu-7.2.22`` (the test id)."""
        return f"qemu-{self.version}" if self.present else f"qemu-{self.where}"


def _unpacked(folder: str) -> QemuBuild:
    bin_dir = ROOT / folder / "usr" / "bin"
    found = [bin_dir / name for name in ("qemu-storage-daemon", "qemu-system-x86_64")]
    qsd, system = (str(p) if os.access(p, os.X_OK) else None for p in found)
    return QemuBuild(folder, qsd, system)


#: Every QEMU build the live tests know of, present or not.
QEMU_BUILDS: tuple[QemuBuild, ...] = (
    QemuBuild("PATH", shutil.which("qemu-storage-daemon"), shutil.which("qemu-system-x86_64")),
    _unpacked(".qemu/10.0"),
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise every test (or module fixture) that takes ``qemu_build`` over the builds."""
    if "qemu_build" not in metafunc.fixturenames:
        return
    params = [
        pytest.param(
            build,
            id=build.name,
            marks=()
            if build.present
            else pytest.mark.skip(reason=f"no QEMU in {build.where} (.ci/setup installs it)"),
        )
        for build in QEMU_BUILDS
    ]
    metafunc.parametrize("qemu_build", params, scope="module")


def pytest_report_header(config: pytest.Config) -> list[str]:
    builds = "; ".join(
        f"{b.where}: {b.version} ({b.storage_daemon})" if b.present else f"{b.where}: not found"
        for b in QEMU_BUILDS
    )
    return [f"hypothesis profile: {PROFILE} (HYPOTHESIS_PROFILE=ci|thorough)", f"QEMU {builds}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(b.present or b.system for b in QEMU_BUILDS):
        return
    skip = pytest.mark.skip(
        reason="no QEMU binary on PATH (install Debian's qemu-system-x86, as .ci/setup does)"
    )
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


def processes() -> Iterator[tuple[int, list[str]]]:
    """Every process now: its pid and the fields of ``/proc/PID/stat`` after its name
    (``[0]`` state, ``[1]`` parent pid, ``[3]`` session id, ...)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stream:
                stat = stream.read()
        except OSError:
            continue  # it ended meanwhile
        yield int(entry), stat.rsplit(")", 1)[1].split()


def require_shared() -> Path:
    """``../shared``, or a skip that says it is absent (for tests and helpers that read it)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (it holds the reference traces and schema)")
    return SHARED


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return require_shared()
