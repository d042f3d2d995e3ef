"""Write the model's diagrams to files: which diagrams, under which names, in which formats.

:mod:`jobcheck.model.render` makes the text (DOT, Mermaid, Markdown) and does
no I/O; this module chooses the diagram set, writes the files, and runs
Graphviz's ``dot`` for SVG and PNG.

File names, for model version ``V`` (e.g. ``7.2``):

* ``lifecycle-V.{dot,svg,png,mmd}`` — statuses and transitions, labelled by cause;
* ``permissions-V.{md,dot,svg,png}`` — the verb × status permission matrix;
* ``verb-NAME-V.{dot,svg,png,mmd}`` — where verb NAME is permitted and what it causes;
* ``diff-A-B.{dot,svg,png,mmd}`` and ``permissions-diff-A-B.{md,dot,svg,png}`` — what
  changed from model A to model B;
* ``job-lifecycle-V.rst`` and ``index.rst`` — the Sphinx pages of
  :mod:`jobcheck.model.doc_pages` (``jobcheck docs``), beside the
  ``lifecycle-V.svg`` they show.

``--format`` picks among ``svg``, ``png``, ``dot`` and ``mermaid`` (``.mmd``);
the matrices' Markdown (``.md``) is always written, as it needs nothing.
When ``dot`` is missing, every text file is still written and then a
:class:`~jobcheck.conformance.errors.UsageError` names the package to install.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import graphviz

from jobcheck.conformance.errors import UsageError
from jobcheck.model import doc_pages
from jobcheck.model.graph import diff
from jobcheck.model.lifecycle import MODELS, Model, Verb
from jobcheck.model.render import (
    LifecycleView,
    MatrixView,
    diff_matrix_view,
    diff_view,
    lifecycle_view,
    matrix_to_dot,
    matrix_to_markdown,
    matrix_view,
    to_dot,
    to_mermaid,
    verb_view,
)

FORMATS: tuple[str, ...] = ("svg", "png", "dot", "mermaid")
DEFAULT_FORMATS: tuple[str, ...] = ("svg", "dot", "mermaid")
IMAGE_FORMATS: frozenset[str] = frozenset({"svg", "png"})

MISSING_DOT = (
    "Graphviz's 'dot' program is not on PATH, so no {formats} was written "
    "(the DOT and Mermaid files were); install it: apt-get install graphviz"
)


@dataclass(frozen=True)
class Diagram:
    """One diagram: its file stem and its text in each text format it has."""

    name: str
    dot: str
    mermaid: str | None = None
    markdown: str | None = None


def _lifecycle(view: LifecycleView) -> Diagram:
    return Diagram(view.name, to_dot(view), mermaid=to_mermaid(view))


def _matrix(view: MatrixView) -> Diagram:
    return Diagram(view.name, matrix_to_dot(view), markdown=matrix_to_markdown(view))


def changed_pairs(models: Sequence[Model]) -> list[tuple[Model, Model]]:
    """Consecutive model versions whose transitions or verb permissions differ."""
    return [(a, b) for a, b in itertools.pairwise(models) if diff(a, b).lifecycle_changed]


def diagram_set(
    models: Sequence[Model],
    *,
    verbs: Sequence[Verb] | None = None,
    only_verbs: bool = False,
    diffs: bool = False,
) -> list[Diagram]:
    """The diagrams for ``models``, oldest first.

    Per model: the lifecycle and the permission matrix (left out when
    ``only_verbs``).  For the newest model: one per-verb view for each of
    ``verbs`` (default: every verb it has).  With ``diffs``: a lifecycle diff
    and a matrix diff for every consecutive pair in :func:`changed_pairs`.
    """
    out: list[Diagram] = []
    if not only_verbs:
        for model in models:
            out.append(_lifecycle(lifecycle_view(model)))
            out.append(_matrix(matrix_view(model)))
    newest = models[-1]
    for verb in newest.verbs if verbs is None else verbs:
        out.append(_lifecycle(verb_view(newest, verb)))
    if diffs and not only_verbs:
        for old, new in changed_pairs(models):
            out.append(_lifecycle(diff_view(old, new)))
            out.append(_matrix(diff_matrix_view(old, new)))
    return out


def standard_set() -> list[Diagram]:
    """The set committed under ``diagrams/``: ``jobcheck diagram --model all``."""
    return diagram_set(list(MODELS.values()), diffs=True)


def doc_set(models: Sequence[Model], mode: str = "both") -> tuple[dict[str, str], list[Diagram]]:
    """The Sphinx pages for ``models`` (file name → reST) and the diagrams whose SVG
    they show (none in mode ``graphviz``)."""
    texts = doc_pages.pages(models, mode)
    images = [] if mode == "graphviz" else [_lifecycle(lifecycle_view(m)) for m in models]
    return texts, images


def standard_docs() -> dict[str, str]:
    """The pages committed under ``diagrams/``: ``jobcheck docs --model all --out diagrams``."""
    return doc_set(list(MODELS.values()))[0]


def text_files(diagrams: Sequence[Diagram], formats: Sequence[str]) -> dict[str, str]:
    """File name → text, for the text formats among ``formats`` (plus the Markdown)."""
    files: dict[str, str] = {}
    for d in diagrams:
        if "dot" in formats:
            files[f"{d.name}.dot"] = d.dot
        if "mermaid" in formats and d.mermaid is not None:
            files[f"{d.name}.mmd"] = d.mermaid
        if d.markdown is not None:
            files[f"{d.name}.md"] = d.markdown
    return files


def dot_program() -> str | None:
    """The path of Graphviz's ``dot``, or ``None``."""
    return shutil.which("dot")


def render_image(dot_source: str, fmt: str) -> bytes:
    """Run ``dot`` to turn DOT source into ``fmt`` (``svg`` or ``png``) bytes."""
    try:
        data: bytes = graphviz.pipe("dot", fmt, dot_source.encode("utf-8"))
    except graphviz.ExecutableNotFound:
        raise UsageError(MISSING_DOT.format(formats=fmt.upper())) from None
    except graphviz.CalledProcessError as exc:
        raise UsageError(f"dot failed to render {fmt}: {exc.stderr!r}") from None
    return data


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _output_directory(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output directory {out}: {exc.strerror or exc}") from None
    if not out.is_dir():
        raise UsageError(f"output path {out} is not a directory")


def _write_texts(texts: dict[str, str], out: Path) -> list[Path]:
    for name, text in texts.items():
        _write(out / name, text.encode("utf-8"))
    return [out / name for name in texts]


def write_diagrams(diagrams: Sequence[Diagram], formats: Sequence[str], out: Path) -> list[Path]:
    """Write the diagrams into ``out`` (created if need be); the paths written, in order.

    Text files come first, so they are there even when ``dot`` is missing;
    then SVG/PNG, or a :class:`UsageError` if ``dot`` is missing.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    _output_directory(out)
    written = _write_texts(text_files(diagrams, formats), out)
    images = [f for f in formats if f in IMAGE_FORMATS]
    if images and dot_program() is None:
        raise UsageError(MISSING_DOT.format(formats="/".join(f.upper() for f in images)))
    for fmt in images:
        for d in diagrams:
            path = out / f"{d.name}.{fmt}"
            _write(path, render_image(d.dot, fmt))
            written.append(path)
    return written


def write_docs(models: Sequence[Model], mode: str, out: Path) -> list[Path]:
    """Write the Sphinx pages of ``models`` into ``out``, then the SVGs they show.

    The pages come first, so they are there even when ``dot`` is missing
    (then a :class:`UsageError` names the package, as for the diagrams).
    """
    if mode not in doc_pages.DIAGRAM_MODES:
        modes = ", ".join(doc_pages.DIAGRAM_MODES)
        raise UsageError(f"unknown diagram mode {mode!r}; choose from {modes}")
    texts, images = doc_set(models, mode)
    _output_directory(out)
    written = _write_texts(texts, out)
    if images and dot_program() is None:
        raise UsageError(
            "Graphviz's 'dot' program is not on PATH, so the SVGs the pages show were not"
            " written (the pages were; --diagram graphviz needs none); install it:"
            " apt-get install graphviz"
        )
    if images:
        written += write_diagrams(images, ["svg"], out)
    return written
