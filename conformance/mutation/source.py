"""QEMU's source tree for the mutants: a tree the user names, or Debian's from bookworm-backports.

Without ``--source``, the tree lives in a cache directory (default
``~/.cache/jobcheck/qemu-10.0.2``, or under ``$XDG_CACHE_HOME``).  On first
use ``apt-get source --download-only qemu/bookworm-backports`` fetches
Debian's source package there — selected by suite, not by version string,
since a backport's version changes with its security updates — and the
upstream ``qemu_*.orig.tar.xz`` is unpacked.  The Debian packaging files of a
backport are sometimes missing from the mirror ("404 Not Found") while the orig
tarball arrived, so success is judged by the tarball, not by apt's exit code.
``apt-get source`` needs a ``deb-src`` line for bookworm-backports; the
project's ``.ci/setup`` adds one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from jobcheck.conformance.errors import UsageError

SUITE = "bookworm-backports"
#: Files every QEMU tree the harness can use holds.
TREE_FILES = ("configure", "job.c", "job-qmp.c", "blockjob.c")


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/jobcheck/qemu-10.0.2`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jobcheck" / "qemu-10.0.2"


def is_tree(path: Path) -> bool:
    """Whether ``path`` looks like the top of a QEMU source tree."""
    return all((path / name).is_file() for name in TREE_FILES)


def named_tree(path: Path) -> Path:
    """The tree the user named with ``--source``, checked."""
    if not is_tree(path):
        missing = [name for name in TREE_FILES if not (path / name).is_file()]
        raise UsageError(f"--source {path}: not a QEMU source tree (no {', '.join(missing)})")
    return path.resolve()


def _tarballs(cache: Path) -> list[Path]:
    return sorted(cache.glob("qemu_*.orig.tar.xz"))


def fetch_tarball(cache: Path) -> Path:
    """Debian's orig tarball of QEMU in ``cache``, fetched with apt-get source unless present."""
    found = _tarballs(cache)
    if not found:
        if shutil.which("apt-get") is None:
            raise UsageError("no apt-get to fetch QEMU's source with: pass --source DIR")
        cache.mkdir(parents=True, exist_ok=True)
        log = cache / "apt-get-source.log"
        with open(log, "wb") as output:
            subprocess.run(
                ["apt-get", "source", "--download-only", "-q", f"qemu/{SUITE}"],
                cwd=cache,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,
            )
        found = _tarballs(cache)
        if not found:
            last = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
            why = last[-1].strip() if last else "no output"
            raise UsageError(
                f"apt-get source qemu/{SUITE} gave no orig tarball ({why}); a deb-src line for "
                f"{SUITE} is needed (.ci/setup adds one), or pass --source DIR"
            )
    return found[-1]


def unpack(tarball: Path, cache: Path) -> Path:
    """The tree unpacked from ``tarball`` into ``cache`` (reused when already there)."""
    with tarfile.open(tarball) as archive:
        first = archive.next()
        if first is None:
            raise UsageError(f"{tarball}: empty archive")
        top = first.name.split("/", 1)[0]
        tree = cache / top
        if is_tree(tree):
            return tree
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
        try:
            archive.extractall(staging, filter="data")
            if not is_tree(staging / top):
                raise UsageError(f"{tarball}: holds no QEMU source tree under {top}/")
            shutil.rmtree(tree, ignore_errors=True)
            os.replace(staging / top, tree)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return tree


def obtain(cache: Path, source: Path | None) -> Path:
    """The QEMU tree to plant mutants into: ``source`` if given, else the cached Debian tree."""
    if source is not None:
        return named_tree(source)
    for tree in sorted(cache.glob("qemu-*/")):
        if is_tree(tree):
            return tree
    return unpack(fetch_tarball(cache), cache)
