"""``diagrams/`` is what the model renders now: fails when a committed diagram is stale.

DOT, Mermaid and Markdown files, and the Sphinx pages of ``jobcheck docs``
(``index.rst``, ``job-lifecycle-V.rst``), are compared byte for byte with a
fresh rendering.  SVG layout depends on the Graphviz version and on the fonts
installed, so SVGs are compared by content instead: where ``dot`` is
installed, each DOT is rendered again and the SVG's node and edge titles and
texts must equal those of the committed SVG.  Regenerate with ``tox -e
diagrams`` (``jobcheck diagram --model all --out diagrams`` and ``jobcheck
docs --model all --out diagrams``).
"""

from __future__ import annotations

import configparser
import re
import shlex
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from jobcheck.conformance.cli import main
from jobcheck.conformance.report.diagram_files import (
    DEFAULT_FORMATS,
    dot_program,
    render_image,
    standard_docs,
    standard_set,
    text_files,
)
from jobcheck.model.lifecycle import LATEST

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "diagrams"
REGENERATE = "run `tox -e diagrams` (jobcheck diagram / jobcheck docs --model all --out diagrams)"
SVG = "{http://www.w3.org/2000/svg}"

needs_dot = pytest.mark.skipif(dot_program() is None, reason="Graphviz's dot is not installed")


def _committed() -> set[str]:
    return {p.name for p in DIAGRAMS.iterdir() if p.is_file() and p.name != "README.md"}


def _expected_texts() -> dict[str, str]:
    return {**text_files(standard_set(), DEFAULT_FORMATS), **standard_docs()}


def _expected_names() -> set[str]:
    return set(_expected_texts()) | {f"{d.name}.svg" for d in standard_set()}


def test_folder_holds_exactly_the_generated_set() -> None:
    committed, expected = _committed(), _expected_names()
    assert not expected - committed, f"missing: {sorted(expected - committed)}; {REGENERATE}"
    assert not committed - expected, f"not generated: {sorted(committed - expected)}; {REGENERATE}"


def test_text_diagrams_are_fresh() -> None:
    stale = [
        name
        for name, text in sorted(_expected_texts().items())
        if not (DIAGRAMS / name).is_file() or (DIAGRAMS / name).read_bytes() != text.encode()
    ]
    assert not stale, f"stale: {stale}; {REGENERATE}"


def _svg_content(data: bytes) -> Counter[tuple[str, str]]:
    """The layout-free content of an SVG: every title and text, with counts."""
    root = ET.fromstring(data)
    items: Counter[tuple[str, str]] = Counter()
    for tag in ("title", "text"):
        for element in root.iter(f"{SVG}{tag}"):
            items[(tag, (element.text or "").strip())] += 1
    return items


@needs_dot
def test_svgs_show_what_the_dot_files_say() -> None:
    stale = []
    for diagram in standard_set():
        path = DIAGRAMS / f"{diagram.name}.svg"
        fresh = _svg_content(render_image(diagram.dot, "svg"))
        if not path.is_file() or _svg_content(path.read_bytes()) != fresh:
            stale.append(path.name)
    assert not stale, f"stale: {stale}; {REGENERATE}"


def test_readme_shows_the_current_mermaid_and_every_svg() -> None:
    readme = (DIAGRAMS / "README.md").read_text()
    blocks = re.findall(r"```mermaid\n(.*?)```", readme, re.S)
    assert blocks, "diagrams/README.md has no Mermaid block"
    assert blocks[0] == (DIAGRAMS / f"lifecycle-{LATEST.version}.mmd").read_text()
    linked = set(re.findall(r"\(([\w.-]+\.svg)\)", readme))
    svgs = {n for n in _committed() if n.endswith(".svg")}
    assert svgs == linked
    pages = set(re.findall(r"\(([\w.-]+\.rst)\)", readme))
    assert pages == set(standard_docs())


@needs_dot
def test_tox_env_produces_the_committed_set(tmp_path: Path) -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    commands = [shlex.split(x) for x in tox["testenv:diagrams"]["commands"].splitlines() if x]
    assert [argv[:2] for argv in commands] == [["jobcheck", "diagram"], ["jobcheck", "docs"]]
    for argv in commands:
        args = argv[1:]
        out = args.index("--out")
        assert args[out + 1] == "diagrams"
        args[out + 1] = str(tmp_path)
        assert main(args) == 0
    assert {p.name for p in tmp_path.iterdir()} == _committed()
    for name in _committed():
        if not name.endswith(".svg"):
            assert (tmp_path / name).read_bytes() == (DIAGRAMS / name).read_bytes(), name
