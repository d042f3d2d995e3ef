"""The renderers (DOT, Mermaid, Markdown, SVG) and the ``jobcheck diagram`` command."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
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
from jobcheck.model.causes import EDGE_CAUSES
from jobcheck.model.graph import lifecycle_graph
from jobcheck.model.kinds import kinds_of
from jobcheck.model.lifecycle import MODELS, Model
from jobcheck.model.lifecycle import Status as S
from jobcheck.model.lifecycle import Verb as V
from jobcheck.model.render import (
    SIDE_STATES,
    SPINE,
    SPINE_GROUP,
    SPINE_WEIGHT,
    STYLES,
    LifecycleView,
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
DIAGRAMS = Path(__file__).resolve().parent.parent / "diagrams"

_DOT_EDGE = re.compile(r"^\s*(\w+) -> (\w+) \[(.*)\]$", re.M)
_MERMAID_EDGE = re.compile(r"^\s*s_(\w+) --> s_(\w+)(?: : (.*))?$", re.M)


def _dot_edges(source: str) -> dict[tuple[str, str], str]:
    """Every drawn transition of a DOT source, (source, target) → its attributes.

    Layout-only edges (``style=invis``) are left out; an edge written head to
    tail with ``dir=back`` is read the right way round.
    """
    edges = {}
    for a, b, attrs in _DOT_EDGE.findall(source):
        if "style=invis" in attrs:
            continue
        edges[(b, a) if "dir=back" in attrs else (a, b)] = attrs
    return edges


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
            shown = cause.label in edges[(a.value, b.value)]
            assert shown is not cause.driver_means, (a, b, cause)
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


# -- documentation diagrams: the lifecycle's own causes only -------------------

#: The labels of every driver means among the edge causes (``set-speed (kick)``).
MEANS_LABELS = sorted({ec.cause.label for ec in EDGE_CAUSES if ec.cause.driver_means})


def _documentation_views() -> list[LifecycleView]:
    """Every lifecycle view the committed diagrams and the doc pages are made of."""
    views = []
    for model in ALL_MODELS:
        views.append(lifecycle_view(model))
        views += [lifecycle_view(model, kind) for kind in kinds_of(model)]
        views += [verb_view(model, verb) for verb in model.verbs]
    views += [diff_view(a, b) for a, b in itertools.pairwise(ALL_MODELS)]
    return views


def test_documentation_diagrams_show_no_driver_means() -> None:
    assert MEANS_LABELS, "no driver means among the edge causes: nothing to test"
    graph_causes = {
        c for _, _, cs in lifecycle_graph(MODELS["10.2"]).edges(data="causes") for c in cs
    }
    assert any(c.driver_means for c in graph_causes)
    for view in _documentation_views():
        dot, mermaid = to_dot(view), to_mermaid(view)
        for label in MEANS_LABELS:
            assert label not in dot and label not in mermaid, (view.name, label)
        assert LEGEND_MEANS not in dot, view.name


LEGEND_MEANS = "how the run brought it about"


def test_coverage_overlay_shows_the_driver_means() -> None:
    model = MODELS["10.2"]
    covered = [(S.RUNNING, S.READY), (S.RUNNING, S.WAITING)]
    view = overlay(lifecycle_view(model), covered=covered)
    edges = _dot_edges(to_dot(view))
    for a, b, causes in lifecycle_graph(model).edges(data="causes"):
        for cause in causes:
            assert cause.label in edges[(a.value, b.value)], (a, b, cause)
    kick = next(c for c in view.edges if (c.source, c.target) == (S.RUNNING, S.READY)).means
    assert [c.label for c in kick] == MEANS_LABELS
    assert STYLES["cause.means"]["color"] in edges[("running", "ready")]
    assert LEGEND_MEANS in to_dot(view)
    assert re.search(r"s_running --> s_ready : ✓ .*set-speed \(kick\)", to_mermaid(view))


def test_set_speed_view_highlights_nothing() -> None:
    view = verb_view(MODELS["10.2"], V.SET_SPEED)
    assert not [e for e in view.edges if e.style == "highlight"]
    assert view.subtitle == "set-speed causes no transition"


# -- the spine ---------------------------------------------------------------------

_DOT_NODE = re.compile(r"^\s*(\w+) \[(.*)\]$", re.M)
_RANK_SAME = re.compile(r"\{\s*rank=same\s*(\w+) -> (\w+) \[style=invis\]\s*\}")
_WEIGHTED = re.compile(rf"^\s*(\w+) -> (\w+) \[.*\bweight={SPINE_WEIGHT}\b.*\]$", re.M)


def test_dot_holds_the_spine_and_its_side_states() -> None:
    for view in _documentation_views():
        source = to_dot(view)
        nodes = {name: attrs for name, attrs in _DOT_NODE.findall(source) if name != "legend"}
        grouped = [n for n, attrs in nodes.items() if f"group={SPINE_GROUP}" in attrs]
        assert grouped == [s.value for s in SPINE], view.name
        weighted = set(_WEIGHTED.findall(source))
        pairs = {(a.value, b.value) for a, b in itertools.pairwise(SPINE)}
        assert weighted == pairs, view.name
        ranks = set(_RANK_SAME.findall(source))
        expected = {
            (side.value, spine.value) if where == "left" else (spine.value, side.value)
            for side, (spine, where) in SIDE_STATES.items()
        }
        assert ranks == expected, view.name
        edges = _dot_edges(source)
        for side, (spine, where) in SIDE_STATES.items():
            attrs = edges.get((spine.value, side.value))
            if attrs is not None:
                # Drawn head to tail (so that the side state stays on its side), named right.
                reversed_ = "dir=back" in attrs
                assert reversed_ is (where == "left"), (view.name, side)
                assert not reversed_ or f'tooltip="{spine.value} → {side.value}"' in attrs


def _plain_positions(dot_source: str) -> dict[str, tuple[float, float]]:
    """Node centres from ``dot -Tplain`` (inches, y growing downwards)."""
    plain = graphviz.pipe("dot", "plain", dot_source.encode()).decode()
    out = {}
    for line in plain.splitlines():
        fields = line.split()
        if fields[0] == "node":
            out[fields[1]] = (float(fields[2]), -float(fields[3]))
    return out


def _svg_positions(path: Path) -> dict[str, tuple[float, float]]:
    """Node centres in a Graphviz SVG (its shapes' bounding boxes; y growing downwards)."""
    svg = "{http://www.w3.org/2000/svg}"
    out = {}
    for group in ET.parse(path).getroot().iter(f"{svg}g"):
        if group.get("class") != "node":
            continue
        title = group.find(f"{svg}title")
        numbers: list[float] = []
        for shape in group:
            data = shape.get("d") or shape.get("points") or ""
            numbers += [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", data)]
        if title is not None and numbers:
            xs, ys = numbers[0::2], numbers[1::2]
            out[title.text or ""] = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
    return out


def spine_problems(positions: dict[str, tuple[float, float]], tolerance: float) -> list[str]:
    """What is wrong with a layout: the spine not one column top to bottom, a side
    state not on its neighbour's rank or on the wrong side."""
    problems = []
    spine = [positions[s.value] for s in SPINE]
    for status, (x, _) in zip(SPINE, spine, strict=True):
        if abs(x - spine[0][0]) > tolerance:
            problems.append(f"{status.value} is off the spine's column")
    for (a, (_, ya)), (b, (_, yb)) in itertools.pairwise(zip(SPINE, spine, strict=True)):
        if not ya < yb:
            problems.append(f"{b.value} is not below {a.value}")
    for side, (neighbour, where) in SIDE_STATES.items():
        (xs, ys), (xn, yn) = positions[side.value], positions[neighbour.value]
        if abs(ys - yn) > tolerance:
            problems.append(f"{side.value} is not on the rank of {neighbour.value}")
        if (xs < xn) != (where == "left"):
            problems.append(f"{side.value} is not on the {where} of {neighbour.value}")
    return problems


def _layout_samples() -> list[LifecycleView]:
    """Every model's lifecycle and diff views; the per-kind and per-verb views of the newest."""
    newest = ALL_MODELS[-1]
    views = [lifecycle_view(model) for model in ALL_MODELS]
    views += [lifecycle_view(newest, kind) for kind in kinds_of(newest)]
    views += [verb_view(newest, verb) for verb in newest.verbs]
    return views + [diff_view(a, b) for a, b in itertools.pairwise(ALL_MODELS)]


@needs_dot
def test_graphviz_lays_out_the_spine_straight() -> None:
    for view in _layout_samples():
        assert not spine_problems(_plain_positions(to_dot(view)), 0.01), view.name
    covered = overlay(lifecycle_view(MODELS["7.2"]), divergent=[(S.READY, S.PAUSED)])
    assert not spine_problems(_plain_positions(to_dot(covered)), 0.01)


def test_committed_svgs_keep_the_spine() -> None:
    svgs = sorted(DIAGRAMS.glob("*.svg"))
    lifecycles = [p for p in svgs if not p.name.startswith("permissions-")]
    assert len(lifecycles) >= len(ALL_MODELS)
    for path in lifecycles:
        assert not spine_problems(_svg_positions(path), 0.5), path.name


def test_spine_check_catches_a_bent_layout() -> None:
    straight = {s.value: (0.0, float(i)) for i, s in enumerate(SPINE)}
    for side, (neighbour, where) in SIDE_STATES.items():
        straight[side.value] = (-1.0 if where == "left" else 1.0, straight[neighbour.value][1])
    assert spine_problems(straight, 0.01) == []
    bent = {**straight, "ready": (0.5, straight["ready"][1])}
    assert spine_problems(bent, 0.01) == ["ready is off the spine's column"]
    swapped = {**straight, "waiting": straight["pending"], "pending": straight["waiting"]}
    assert "pending is not below waiting" in spine_problems(swapped, 0.01)
    moved = {**straight, "paused": (1.0, straight["running"][1])}
    assert spine_problems(moved, 0.01) == ["paused is not on the left of running"]


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
