"""Which distribution package ships a QEMU binary (Debian's ``dpkg-query``), for reports.

A report names the package and its version beside ``query-version``'s answer,
because distributions patch QEMU: ``7.2.22`` alone does not say which Debian
revision ran.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def debian_package(binary: str | None) -> dict[str, str] | None:
    """The Debian package (name and version) that ships ``binary``, via ``dpkg-query``.

    ``None`` when there is no binary, no ``dpkg-query``, or the file is not from a package.
    """
    if binary is None or shutil.which("dpkg-query") is None:
        return None
    path = str(Path(binary).resolve())
    try:
        owner = subprocess.run(
            ["dpkg-query", "-S", path], capture_output=True, text=True, timeout=10, check=False
        )
        if owner.returncode != 0 or ":" not in owner.stdout:
            return None
        name = owner.stdout.split(":", 1)[0].split(",")[0].strip()
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", name],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if version.returncode != 0 or not version.stdout.strip():
        return None
    return {"name": name, "version": version.stdout.strip()}
