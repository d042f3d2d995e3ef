"""The renderers (DOT, Mermaid, Markdown, SVG) and the ``jobcheck diagram`` command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from jobcheck.conformance.cli import main
from jobcheck.conformance.report.diagram_files import (
    DEFAULT_FORMATS,
    diagram_set,
    dot_program,
    standard_set,
    text_files,
    write_diagrams,
)
from jobcheck.model.graph import lifecycle_graph
from jobcheck.model.lifecycle import MODELS, Model
from jobcheck.model.lifecycle import Status as S
from jobcheck.model.lifecycle import Verb as V
from jobcheck.model.render import (
    STYLES,
    diff_matrix_view,
    diff_view,
    lifecycle_view,
    matrix_to_markdown,
    matrix_view,
    overlay,
    to_dot,
    to_mermaid,
    verb_view,
)

ALL_MODELS = list(MODELS.values())
BY_VERSION = pytest.mark.parametrize("model", ALL_MODELS, ids=[m.version for m in ALL_MODELS])
needs_dot = pytest.mark.skipif(dot_program() is None, reason="Graphviz's dot is not installed")

_DOT_EDGE = re.compile(r"^\s*(\w+) -> (\w+) \[(.*)\]$", re.M)
_MERMAID_EDGE = re.compile(r"^\s*s_(\w+) --> s_(\w+)(?: : (.*))?$", re.M)


def _dot_edges(source: str) -> dict[tuple[str, str], str]:
    return {(a, b): attrs for a, b, attrs in _DOT_EDGE.findall(source) if b != "legend"}


# -- determinism ---------------------------------------------------------------

_DIGEST = """
import hashlib
from jobcheck.conformance.report.diagram_files import standard_set, text_files, DEFAULT_FORMATS
h = hashlib.sha256()
for name, text in sorted(text_files(standard_set(), DEFAULT_FORMATS).items()):
    h.update(name.encode()); h.update(text.encode())
print(h.hexdigest())
"""


def test_text_output_does_not_depend_on_hash_seed() -> None:
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", _DIGEST], env=env, capture_output=True, text=True, check=True
        )
        digests.add(run.stdout.strip())
    assert len(digests) == 1


@BY_VERSION
def test_same_model_same_text(model: Model) -> None:
    assert to_dot(lifecycle_view(model)) == to_dot(lifecycle_view(model))
    assert to_mermaid(lifecycle_view(model)) == to_mermaid(lifecycle_view(model))


# -- what the text says ----------------------------------------------------------


@BY_VERSION
def test_dot_has_every_status_and_transition_with_its_causes(model: Model) -> None:
    source = to_dot(lifecycle_view(model))
    edges = _dot_edges(source)
    graph = lifecycle_graph(model)
    assert set(edges) == {(a.value, b.value) for a, b in graph.edges()}
    for a, b, causes in graph.edges(data="causes"):
        for cause in causes:
            assert cause.label in edges[(a.value, b.value)], (a, b, cause)
    for status in model.statuses:
        assert re.search(rf"^\s*{status.value} \[", source, re.M), status
    assert "legend" in source


@BY_VERSION
def test_mermaid_classes_set_each_property_once(model: Model) -> None:
    text = to_mermaid(lifecycle_view(model))
    defs = [line.split()[2] for line in text.splitlines() if line.strip().startswith("classDef")]
    for body in defs:
        props = [item.partition(":")[0] for item in body.split(",")]
        assert len(props) == len(set(props)), body
    # null (an end, and invisible) keeps the grey fill of an end, with a dashed border
    (null_class,) = [
        line.split()[-1]
        for line in text.splitlines()
        if line.strip().startswith("class ") and "s_null" in line.split()[1].split(",")
    ]
    (body,) = [line for line in text.splitlines() if f"classDef {null_class} " in line]
    assert "fill:#eeeeee" in body and "fill:#ffffff" not in body and "dasharray" in body


@BY_VERSION
def test_mermaid_has_every_transition(model: Model) -> None:
    text = to_mermaid(lifecycle_view(model))
    assert text.splitlines()[3] == "stateDiagram-v2"
    edges = {(a, b): label for a, b, label in _MERMAID_EDGE.findall(text)}
    graph = lifecycle_graph(model)
    assert set(edges) == {(a.value, b.value) for a, b in graph.edges()}
    assert "pause" in edges[("running", "paused")]
    # Mermaid keywords must not be used as class names.
    assert not re.search(r"classDef (end|start|state|class)\b", text)
    assert re.search(r"^\s*class s_null c_end__invisible$", text, re.M)


def test_styles_apply_start_end_and_invisible() -> None:
    source = to_dot(lifecycle_view(MODELS["7.2"]))
    null = re.search(r"^\s*null \[(.*)\]$", source, re.M)
    undefined = re.search(r"^\s*undefined \[(.*)\]$", source, re.M)
    waiting = re.search(r"^\s*waiting \[(.*)\]$", source, re.M)
    assert null and undefined and waiting
    assert "peripheries=2" in null.group(1) and "dashed" in null.group(1)
    assert STYLES["node.start"]["fillcolor"] in undefined.group(1)
    assert "dashed" in undefined.group(1)
    assert "dotted" in waiting.group(1)


def test_verb_view_highlights_permitted_statuses_and_caused_edges() -> None:
    model = MODELS["10.2"]
    view = verb_view(model, V.PAUSE)
    permitted = {n.status for n in view.nodes if "permitted" in n.styles}
    assert permitted == model.permitted[V.PAUSE]
    highlighted = {(e.source, e.target) for e in view.edges if e.style == "highlight"}
    assert highlighted == {(S.RUNNING, S.PAUSED), (S.READY, S.STANDBY)}
    edges = _dot_edges(to_dot(view))
    assert STYLES["edge.highlight"]["color"] in edges[("running", "paused")]
    assert STYLES["edge.dim"]["color"] in edges[("paused", "running")]
    with pytest.raises(ValueError, match="change"):
        verb_view(MODELS["7.2"], V.CHANGE)


def test_diff_views_mark_added_cells() -> None:
    view = diff_view(MODELS["5.2"], MODELS["6.0"])
    changed = {n.status: n.notes for n in view.nodes if "changed" in n.styles}
    assert changed == {S.STANDBY: (("+ complete", "added"),)}
    assert "+ complete" in to_dot(view)
    assert "note right of s_standby : + complete" in to_mermaid(view)
    md = matrix_to_markdown(diff_matrix_view(MODELS["7.2"], MODELS["8.2"]))
    change_row = next(line for line in md.splitlines() if line.startswith("| change |"))
    assert change_row.count("+✓") == 5
    backwards = diff_view(MODELS["8.2"], MODELS["7.2"])
    assert any(t == "− change" for n in backwards.nodes for t, _ in n.notes)


@pytest.mark.parametrize(("version", "standby"), [("5.2", ""), ("6.0", "✓")])
def test_matrix_markdown(version: str, standby: str) -> None:
    md = matrix_to_markdown(matrix_view(MODELS[version]))
    lines = md.splitlines()
    header = [c.strip() for c in lines[2].split("|")[1:-1]]
    complete = [c.strip() for c in next(x for x in lines if x.startswith("| complete")).split("|")]
    row = dict(zip(header, complete[1:-1], strict=True))
    assert row["ready"] == "✓" and row["standby"] == standby and row["running"] == ""


def test_overlay_styles_edges_in_dot_and_mermaid() -> None:
    view = overlay(
        lifecycle_view(MODELS["7.2"]),
        covered=[(S.RUNNING, S.PAUSED), (S.PAUSED, S.RUNNING)],
        uncovered=[(S.READY, S.STANDBY), (S.PAUSED, S.RUNNING)],
        divergent=[(S.PAUSED, S.ABORTING)],
    )
    edges = _dot_edges(to_dot(view))
    assert STYLES["edge.covered"]["color"] in edges[("running", "paused")]
    assert STYLES["edge.covered"]["color"] in edges[("paused", "running")]  # covered wins
    assert "dashed" in edges[("ready", "standby")]
    # A divergent edge the model lacks is drawn, red and bold.
    assert STYLES["edge.divergent"]["color"] in edges[("paused", "aborting")]
    assert "penwidth=3" in edges[("paused", "aborting")]
    text = to_mermaid(view)
    assert "s_paused --> s_aborting : ✗" in text
    assert re.search(r"s_running --> s_paused : ✓ ", text)
    assert re.search(r"s_ready --> s_standby : ○ ", text)
    assert "classDef c_divergent" in text or "__divergent" in text


# -- SVG -----------------------------------------------------------------------


@needs_dot
def test_every_svg_parses(tmp_path: Path) -> None:
    written = write_diagrams(standard_set(), ["svg"], tmp_path)
    svgs = [p for p in written if p.suffix == ".svg"]
    assert len(svgs) == len(standard_set())
    for path in svgs:
        root = ET.parse(path).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", path
        texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
        assert "running" in texts, path


# -- the command -----------------------------------------------------------------


def test_missing_dot_writes_text_and_fails_naming_the_package(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "jobcheck.conformance.cli", "diagram", "--out", str(out)],
        env={**os.environ, "PATH": str(empty)},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert "apt-get install graphviz" in run.stderr
    names = {p.name for p in out.iterdir()}
    assert {"lifecycle-10.2.dot", "lifecycle-10.2.mmd", "permissions-10.2.md"} <= names
    assert not [n for n in names if n.endswith(".svg")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--verb", "jump"], "unknown verb 'jump'"),
        (["--model", "7.2", "--verb", "change"], "has no verb 'change'"),
        (["--format", "svg,gif"], "unknown format 'gif'"),
        (["--format", ","], "no format"),
        (["--model", "1.5"], "unknown QEMU version '1.5'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diagram", "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_unwritable_output_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["diagram", "--format", "dot", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "cannot create output directory" in err and len(err.strip().splitlines()) == 1


def test_single_model_and_verb_selection(tmp_path: Path) -> None:
    assert main(["diagram", "--model", "7.2.22", "--format", "dot", "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"lifecycle-7.2.dot", "permissions-7.2.md", "verb-complete-7.2.dot"} <= names
    assert not [n for n in names if "diff" in n or "10.2" in n or "change" in n]
    only = tmp_path / "verb"
    assert main(["diagram", "--verb", "dismiss", "--format", "mermaid", "--out", str(only)]) == 0
    assert {p.name for p in only.iterdir()} == {"verb-dismiss-10.2.mmd"}


def test_standard_set_names() -> None:
    names = set(text_files(standard_set(), DEFAULT_FORMATS))
    for model in ALL_MODELS:
        assert {f"lifecycle-{model.version}.mmd", f"permissions-{model.version}.md"} <= names
    assert {f"verb-{v.value}-10.2.dot" for v in MODELS["10.2"].verbs} <= names
    assert {"diff-5.2-6.0.dot", "diff-7.2-8.2.mmd", "permissions-diff-7.2-8.2.md"} <= names
    assert len([n for n in names if n.startswith("diff-")]) == 4
    assert diagram_set([MODELS["7.2"]], verbs=[V.PAUSE], only_verbs=True)[0].name == (
        "verb-pause-7.2"
    )
