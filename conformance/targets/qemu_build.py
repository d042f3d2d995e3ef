"""A QEMU build directory: the binary to run, and the source tree it was built from.

``--qemu-build DIR`` names the directory where QEMU was built (meson's build
directory: ``build/`` inside the source tree when ``configure`` ran there, or
any directory where ``../configure`` ran).  :func:`find_build` finds in it:

* the binary: ``storage-daemon/qemu-storage-daemon``, else
  ``qemu-system-x86_64`` (or another ``qemu-system-*``);
* the source tree: the one meson recorded (``meson-info/meson-info.json``),
  else the build directory's parent when it holds ``qapi/job.json`` (the
  usual layout), else ``DIR`` itself when it is a source tree with a
  ``build/`` inside (the source tree given instead of its build directory);
* in the source tree, ``VERSION`` (``10.1.50`` on master between 10.1 and
  10.2) and ``qapi/job.json``, the schema ``jobcheck rules`` checks the rule
  catalogue against.

A directory without a binary raises :class:`BuildUnusable` (a
:class:`~jobcheck.conformance.errors.UsageError`): the build did not produce
what jobcheck runs — for ``git bisect run`` a commit to skip, not a bad one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from jobcheck.conformance.errors import UsageError

#: Where a binary is looked for in a build directory, in order.
BINARIES: tuple[str, ...] = ("storage-daemon/qemu-storage-daemon", "qemu-system-x86_64")


class BuildUnusable(UsageError):
    """The build directory holds no QEMU binary that jobcheck can run."""


@dataclass(frozen=True)
class QemuBuild:
    """What :func:`find_build` found in a build directory."""

    directory: str
    binary: str
    source: str | None
    """The source tree, when it could be found."""

    @property
    def version(self) -> str | None:
        """The source tree's ``VERSION`` (``None`` when there is none)."""
        if self.source is None:
            return None
        try:
            text = Path(self.source, "VERSION").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return text or None

    @property
    def schema(self) -> str | None:
        """The source tree's ``qapi/job.json`` (``None`` when there is none)."""
        if self.source is None:
            return None
        path = Path(self.source, "qapi", "job.json")
        return str(path) if path.is_file() else None

    def describe(self) -> str:
        where = f", source {self.source}" if self.source else ""
        version = f", VERSION {self.version}" if self.version else ""
        return f"QEMU build {self.directory} ({self.binary}{where}{version})"


def _is_source(path: Path) -> bool:
    return (path / "qapi" / "job.json").is_file()


def _meson_source(build: Path) -> Path | None:
    info = build / "meson-info" / "meson-info.json"
    try:
        data = json.loads(info.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    source = data.get("directories", {}).get("source") if isinstance(data, dict) else None
    return Path(source) if isinstance(source, str) and _is_source(Path(source)) else None


def _binary(build: Path) -> Path | None:
    for name in BINARIES:
        path = build / name
        if path.is_file() and os.access(path, os.X_OK):
            return path
    others = sorted(build.glob("qemu-system-*"))
    return next((p for p in others if p.is_file() and os.access(p, os.X_OK)), None)


def find_build(directory: str) -> QemuBuild:
    """The binary and source tree of the QEMU build in ``directory`` (see the module
    docstring); :class:`UsageError` if it is no directory, :class:`BuildUnusable` if it
    holds no binary."""
    path = Path(directory)
    if not path.is_dir():
        raise UsageError(f"--qemu-build {directory}: no such directory")
    if _is_source(path) and _binary(path) is None and (path / "build").is_dir():
        path = path / "build"  # the source tree, given instead of its build directory
    binary = _binary(path)
    if binary is None:
        wanted = " or ".join(BINARIES)
        raise BuildUnusable(
            f"--qemu-build {directory}: no {wanted} in {path} (build it with"
            f" `ninja -C {path} storage-daemon/qemu-storage-daemon`)"
        )
    source = _meson_source(path)
    if source is None:
        source = next((p for p in (path.parent, path) if _is_source(p)), None)
    return QemuBuild(str(path), str(binary), str(source) if source is not None else None)
