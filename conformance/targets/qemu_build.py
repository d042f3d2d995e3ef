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

The model (:meth:`QemuBuild.model_choice`) comes from ``VERSION`` as for any
QEMU (:func:`~jobcheck.model.lifecycle.model_choice`), except for a
development tree: master after 10.0 may or may not hold 10.1's rewritten job
documentation yet, so the tree's own ``qapi/job.json`` decides — the next
release's model when every sentence its rules quote (and the older model's do
not) is in it, the older model otherwise.

A directory without a binary raises :class:`BuildUnusable` (a
:class:`~jobcheck.conformance.errors.UsageError`): the build did not produce
what jobcheck runs — for ``git bisect run`` a commit to skip, not a bad one.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from jobcheck.conformance.errors import UsageError, model_for_option
from jobcheck.model.lifecycle import DEVELOPMENT_MICRO, MODELS, Model, model_choice, release_of
from jobcheck.model.rules import rules_for

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

    def model_choice(self) -> tuple[Model, str] | None:
        """The model for this tree and one line saying why (``None`` without ``VERSION``)."""
        version = self.version
        if version is None:
            return None
        model_for_option(version)  # an unusable VERSION is a usage error
        model, why = model_choice(version)
        major, minor, micro = release_of(version)
        later = [m for m in MODELS.values() if model.release < m.release <= (major, minor + 1)]
        if micro < DEVELOPMENT_MICRO or not later or self.schema is None:
            return model, why
        try:
            text = Path(self.schema).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return model, why
        found, wanted = documented(text, model, later[-1])
        head = f"QEMU {version} is a development version after {major}.{minor}"
        if not wanted:
            line = (
                f"model {model.version}: {head}, the newest model at or below it (model"
                f" {later[-1].version}'s rules quote no other sentence of qapi/job.json)"
            )
            return model, line
        if found == wanted:
            line = (
                f"model {later[-1].version}: {head}, and its qapi/job.json has the"
                f" documentation of {later[-1].version} ({found} of {wanted} sentences"
                " only that model's rules quote)"
            )
            return later[-1], line
        line = (
            f"model {model.version}: {head}, and its qapi/job.json does not have the"
            f" documentation of {later[-1].version} yet ({found} of {wanted} sentences"
            " only that model's rules quote)"
        )
        return model, line

    def describe(self) -> str:
        where = f", source {self.source}" if self.source else ""
        version = f", VERSION {self.version}" if self.version else ""
        return f"QEMU build {self.directory} ({self.binary}{where}{version})"


def _flat(text: str) -> str:
    """Doc text compared loosely: no comment markers, backticks or ``@``, white space as
    one space (each release wraps its comments, and 10.1 writes names as literals)."""
    lines = (re.sub(r"^\s*#+", "", line) for line in text.splitlines())
    return " ".join(" ".join(lines).replace("`", "").replace("@", "").split())


#: Anchors of ``block-core.json``, whose sentences ``job.json`` does not hold.
_BLOCK_CORE = re.compile(r"^@(block-job-|BLOCK_JOB_)")


def documented(schema: str, older: Model, newer: Model) -> tuple[int, int]:
    """How many of the sentences of ``job.json`` that only ``newer``'s rules quote (not
    ``older``'s) are in the schema text ``schema``: ``(found, of)``.

    >>> from jobcheck.model.lifecycle import MODELS
    >>> sentence = "# Manually trigger completion of an active job in the READY or STANDBY state."
    >>> documented(sentence, MODELS["9.2"], MODELS["10.1"])
    (1, 2)
    """

    def quotes(model: Model) -> set[str]:
        out = set()
        for rule in rules_for(model.version):
            quote = next((q for q in rule.quotes if q.applies_to(model.version)), None)
            anchor = (quote.anchor if quote is not None else None) or rule.anchor or ""
            if quote is not None and not _BLOCK_CORE.match(anchor):
                out.add(_flat(quote.text))
        return out

    only_newer = quotes(newer) - quotes(older)
    flat = _flat(schema)
    return sum(1 for quote in only_newer if quote in flat), len(only_newer)


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
