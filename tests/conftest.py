"""Shared test configuration: Hypothesis profiles, the ``live`` marker, paths.

Hypothesis profiles (``HYPOTHESIS_PROFILE=ci|thorough``, default ``ci``):

* ``ci`` — fast and derandomized, so CI is reproducible run to run;
* ``thorough`` — many more examples, random seeds, for nightly gates.  The
  seed of each failing example is printed by Hypothesis; rerun it with
  ``--hypothesis-seed=N``.

Tests marked ``live`` need a QEMU binary; they skip, saying so, only where
none is installed (CI installs Debian's QEMU, so there they always run).
"""

from __future__ import annotations

import os
import shutil
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

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TRACES = SHARED / "traces" / "iotests"


def pytest_report_header(config: pytest.Config) -> list[str]:
    qsd = shutil.which("qemu-storage-daemon") or "not found"
    system = shutil.which("qemu-system-x86_64") or "not found"
    return [
        f"hypothesis profile: {PROFILE} (HYPOTHESIS_PROFILE=ci|thorough)",
        f"qemu-storage-daemon: {qsd}; qemu-system-x86_64: {system}",
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shutil.which("qemu-storage-daemon") or shutil.which("qemu-system-x86_64"):
        return
    skip = pytest.mark.skip(
        reason="no QEMU binary on PATH (install Debian's qemu-system-x86, as .ci/setup does)"
    )
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (it holds the reference traces and schema)")
    return SHARED
