"""Configuring and building ``qemu-storage-daemon`` alone, and rebuilding it after each mutant.

QEMU 10.0 needs meson ≥ 1.5 and pycotap, which Debian 12 lacks and Debian's
source tarball does not bundle, so they are installed from PyPI into a build
virtual environment in the cache directory, whose python is given to
``configure``.  The configure line builds the tools only (no emulators, docs,
Rust, downloads or firmware blobs).  An existing build directory (one with
``build.ninja``) is reused as it is; ninja then recompiles only what a mutant
or its restore changed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.mutation.process import Finished, run_group, tail

TARGET = "storage-daemon/qemu-storage-daemon"
BUILD_REQUIREMENTS = ("meson>=1.5,<1.9", "pycotap")
CONFIGURE_OPTIONS = (
    "--target-list=",
    "--disable-system",
    "--disable-user",
    "--enable-tools",
    "--disable-docs",
    "--disable-werror",
    "--disable-rust",
    "--disable-download",
    "--disable-install-blobs",
)
#: Command → the Debian package that provides it.
TOOLS = {
    "ninja": "ninja-build",
    "cc": "gcc",
    "pkg-config": "pkg-config",
    "flex": "flex",
    "bison": "bison",
}
DEBIAN_PACKAGES = "ninja-build gcc libglib2.0-dev flex bison pkg-config zlib1g-dev python3-venv"


def missing_tools() -> list[str]:
    """The Debian packages whose tools the build needs and this machine lacks."""
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if shutil.which("pkg-config") is not None:
        for library, package in (("glib-2.0", "libglib2.0-dev"), ("zlib", "zlib1g-dev")):
            probe = subprocess.run(
                ["pkg-config", "--exists", library], check=False, stdin=subprocess.DEVNULL
            )
            if probe.returncode != 0:
                missing.append(package)
    return missing


@dataclass(frozen=True)
class Build:
    """A QEMU tree, its build directory, the build venv and ninja's parallelism."""

    tree: Path
    directory: Path
    venv: Path
    jobs: int = 2

    @property
    def binary(self) -> Path:
        return self.directory / TARGET

    @property
    def logs(self) -> Path:
        return self.directory / "jobcheck-mutation"

    def configured(self) -> bool:
        return (self.directory / "build.ninja").is_file()

    def prepare(self) -> None:
        """Check the tools, make the build venv and configure, unless a build directory exists."""
        if self.configured():
            return
        missing = missing_tools()
        if missing:
            raise UsageError(
                f"building QEMU needs {', '.join(missing)} (Debian: apt-get install "
                f"{DEBIAN_PACKAGES})"
            )
        self._make_venv()
        self.directory.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PATH=f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
        finished = run_group(
            [
                str(self.tree / "configure"),
                f"--python={self.venv / 'bin' / 'python3'}",
                *CONFIGURE_OPTIONS,
            ],
            log=self.logs / "configure.log",
            cwd=self.directory,
            env=env,
        )
        if finished.exit_code != 0 or not self.configured():
            why = tail(finished.log, 2)
            raise UsageError(f"configure failed (exit {finished.exit_code}; {finished.log}): {why}")

    def _make_venv(self) -> None:
        python = self.venv / "bin" / "python3"
        if (self.venv / "bin" / "meson").is_file():
            return
        log = self.logs / "build-venv.log"
        steps = (
            [sys.executable, "-m", "venv", str(self.venv)],
            [str(python), "-m", "pip", "install", "-q", *BUILD_REQUIREMENTS],
        )
        for argv in steps:
            finished = run_group(argv, log=log)
            if finished.exit_code != 0:
                raise UsageError(f"cannot make the build venv {self.venv}: {tail(log, 2)}")

    def make(self) -> Finished:
        """Build (or rebuild incrementally) qemu-storage-daemon; the log is in :attr:`logs`."""
        return run_group(
            ["ninja", "-C", str(self.directory), f"-j{self.jobs}", TARGET],
            log=self.logs / "ninja.log",
        )


def binary_version(binary: Path) -> str:
    """The version a QEMU binary reports (``10.0.2``); UsageError when it does not run."""
    try:
        answer = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"cannot run {binary} --version: {exc}") from None
    found = re.search(r"version (\d+\.\d+\.\d+)", answer.stdout)
    if answer.returncode != 0 or found is None:
        raise UsageError(f"{binary} --version gave no version (exit {answer.returncode})")
    return found.group(1)
