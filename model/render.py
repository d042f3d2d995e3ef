"""Diagrams of the lifecycle model: DOT (Graphviz), Mermaid and Markdown, as text.

Three layers, as in ``python-statemachine``'s diagram package:

1. **Extract** — :func:`lifecycle_view`, :func:`verb_view`, :func:`diff_view`,
   :func:`matrix_view`, :func:`diff_matrix_view` turn a model (and
   :mod:`jobcheck.model.graph`) into a small intermediate model of frozen
   dataclasses: :class:`LifecycleView` (nodes and edges with *style keys*) and
   :class:`MatrixView` (verb × status cells with style keys).
   :func:`overlay` restyles the edges of a view with coverage results.
   Views for documentation label an edge with the lifecycle's own causes
   only; a driver's means (``set-speed (kick)``, see
   :attr:`~jobcheck.model.causes.Cause.driver_means`) are kept apart in
   :attr:`EdgeView.means` and drawn only by coverage overlays.
2. **Style** — :data:`STYLES`, one dict of data: style key → Graphviz
   attributes (and :data:`MERMAID_CLASSES` for Mermaid).  Nothing else
   decides colours or line styles.
3. **Render** — :func:`to_dot`, :func:`matrix_to_dot`, :func:`to_mermaid`,
   :func:`matrix_to_markdown`: independent renderers from a view to text.
   The DOT of a lifecycle keeps the main line straight: :data:`SPINE` is one
   vertical column (a Graphviz ``group`` with heavy edges), and each status
   of :data:`SIDE_STATES` sits on the rank of its spine neighbour, beside it.

Everything is sorted (statuses and verbs in QAPI enum order, edges by source
and target, causes by :attr:`Cause.sort_key`), so the same model gives
byte-identical DOT, Mermaid and Markdown.  This module does no I/O: turning
DOT into SVG or PNG needs Graphviz's ``dot`` program and is done by
:mod:`jobcheck.conformance.report.diagram_files`.

    >>> from jobcheck.model.lifecycle import MODELS
    >>> text = to_mermaid(lifecycle_view(MODELS["7.2"]))
    >>> text.splitlines()[3]
    'stateDiagram-v2'
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import graphviz

from jobcheck.model.causes import Cause
from jobcheck.model.graph import (
    VISIBILITY,
    Visibility,
    diff,
    lifecycle_graph,
)
from jobcheck.model.kinds import JobKind
from jobcheck.model.lifecycle import JobType, Model, Status, Verb

Edge = tuple[Status, Status]

# -- styles: data only ---------------------------------------------------------

#: Graphviz attributes per style key.  Keys starting ``node.`` style status
#: nodes, ``edge.`` transitions, ``cell.`` matrix cells, ``cause.`` the text of
#: a cause inside an edge label, ``graph``/``node``/``edge`` the defaults.
STYLES: dict[str, dict[str, str]] = {
    "graph": {
        "rankdir": "TB",
        "nodesep": "0.3",
        "ranksep": "0.6",
        "fontname": "Helvetica",
        "fontsize": "16",
        "labelloc": "t",
        "newrank": "true",
        "bgcolor": "white",
        "pad": "0.2",
    },
    "node": {
        "shape": "box",
        "style": "rounded,filled",
        "fontname": "Helvetica",
        "fontsize": "13",
        "fillcolor": "white",
        "color": "#333333",
        "margin": "0.12,0.05",
    },
    "edge": {
        "fontname": "Helvetica",
        "fontsize": "10",
        "color": "#555555",
        "arrowsize": "0.7",
    },
    "node.normal": {},
    "node.start": {"fillcolor": "#e3f2e1", "color": "#2e7d32", "penwidth": "1.6"},
    "node.end": {"fillcolor": "#eeeeee", "peripheries": "2"},
    "node.invisible": {"style": "rounded,dashed,filled", "penwidth": "1.6"},
    "node.maybe-invisible": {"style": "rounded,dotted,filled", "penwidth": "1.6"},
    "node.permitted": {"fillcolor": "#d6e6fb", "color": "#1f5fbf", "penwidth": "2"},
    "node.dim": {"fontcolor": "#999999", "color": "#bbbbbb"},
    "node.changed": {"color": "#2e7d32", "penwidth": "2"},
    "node.divergent": {"color": "#d32f2f", "penwidth": "3"},
    "edge.normal": {},
    "edge.highlight": {"color": "#1f5fbf", "penwidth": "2.2", "fontcolor": "#1f5fbf"},
    "edge.dim": {"color": "#cccccc", "fontcolor": "#bbbbbb"},
    "edge.added": {"color": "#2e7d32", "penwidth": "2.2", "fontcolor": "#2e7d32"},
    "edge.removed": {"color": "#c62828", "penwidth": "2.2", "style": "dashed"},
    "edge.covered": {"color": "#222222", "penwidth": "1.8"},
    "edge.uncovered": {"color": "#aaaaaa", "style": "dashed", "fontcolor": "#999999"},
    "edge.divergent": {"color": "#d32f2f", "penwidth": "3", "fontcolor": "#d32f2f"},
    "cause.verb": {"color": "#1f5fbf"},
    "cause.internal": {"color": "#666666"},
    "cause.means": {"color": "#8d6e00"},
    "cause.dim": {"color": "#aaaaaa"},
    "cause.added": {"color": "#2e7d32"},
    "cause.removed": {"color": "#c62828"},
    "cell.permitted": {"bgcolor": "#d6e6fb", "text": "✓"},
    "cell.forbidden": {"bgcolor": "#ffffff", "text": ""},
    "cell.added": {"bgcolor": "#c8e6c9", "text": "+"},
    "cell.removed": {"bgcolor": "#ffcdd2", "text": "−"},
    "cell.header": {"bgcolor": "#eeeeee", "text": ""},
}

#: Mermaid ``classDef`` bodies per style key (states only: ``stateDiagram-v2``
#: cannot style transitions, so edge styles become label markers, see
#: :data:`MERMAID_EDGE_MARKERS`).
MERMAID_CLASSES: dict[str, str] = {
    "start": "fill:#e3f2e1,stroke:#2e7d32,stroke-width:2px",
    "end": "fill:#eeeeee,stroke:#333333,stroke-width:3px",
    "invisible": "fill:#ffffff,stroke:#333333,stroke-dasharray:5 5",
    "maybe-invisible": "fill:#ffffff,stroke:#333333,stroke-dasharray:2 2",
    "permitted": "fill:#d6e6fb,stroke:#1f5fbf,stroke-width:2px",
    "dim": "color:#999999,stroke:#bbbbbb",
    "changed": "stroke:#2e7d32,stroke-width:2px",
    "divergent": "stroke:#d32f2f,stroke-width:3px",
}

#: Text put before a Mermaid transition label, per edge style key.
MERMAID_EDGE_MARKERS: dict[str, str] = {
    "normal": "",
    "highlight": "▶ ",
    "dim": "",
    "added": "+ ",
    "removed": "− ",
    "covered": "✓ ",
    "uncovered": "○ ",
    "divergent": "✗ ",
}

#: Legend entries per style key (shown when a view uses the style).
LEGEND_TEXT: dict[str, str] = {
    "node.start": "start of every job",
    "node.end": "end: the job is gone",
    "node.invisible": "documented as never visible",
    "node.maybe-invisible": "documented as possibly not visible",
    "node.permitted": "the verb is permitted here",
    "node.changed": "verb permissions changed here (+ added, − removed)",
    "edge.dim": "other transition",
    "edge.highlight": "transition the verb causes",
    "edge.added": "added transition",
    "edge.removed": "removed transition",
    "edge.covered": "covered",
    "edge.uncovered": "reachable, not covered",
    "edge.divergent": "divergent",
    "cause.verb": "verb (job-* / block-job-* command)",
    "cause.internal": "internal cause",
    "cause.means": "how the run brought it about (not a lifecycle cause)",
}

# -- the intermediate model ----------------------------------------------------


@dataclass(frozen=True)
class NodeView:
    """A status on a diagram."""

    status: Status
    styles: tuple[str, ...]
    """Style keys without the ``node.`` prefix, applied in order: start, end, invisible,
    maybe-invisible, normal, permitted, dim, changed, divergent."""
    notes: tuple[tuple[str, str], ...] = ()
    """Extra lines under the name: (text, cause style key), e.g. ``("+ complete", "added")``."""


@dataclass(frozen=True)
class EdgeView:
    """A transition on a diagram, labelled by its causes."""

    source: Status
    target: Status
    causes: tuple[Cause, ...]
    """The lifecycle's causes of the transition (verbs, internal causes)."""
    style: str = "normal"
    """Style key without the ``edge.`` prefix."""
    highlight: frozenset[Cause] = frozenset()
    """Causes to emphasise in the label (e.g. the verb of a per-verb view)."""
    means: tuple[Cause, ...] = ()
    """A driver's means of bringing the transition about (``set-speed (kick)``); drawn
    only when the view's :attr:`LifecycleView.show_means` is set."""


@dataclass(frozen=True)
class LifecycleView:
    """A lifecycle diagram: statuses as nodes, transitions as edges."""

    name: str
    """A file stem, e.g. ``lifecycle-7.2``."""
    title: str
    nodes: tuple[NodeView, ...]
    edges: tuple[EdgeView, ...]
    subtitle: str = ""
    legend: tuple[tuple[str, str], ...] = ()
    """Legend texts that replace :data:`LEGEND_TEXT` for this view: (style key, text)."""
    show_means: bool = False
    """Whether edge labels include the driver's means (coverage overlays only)."""

    def labels(self, edge: EdgeView) -> tuple[Cause, ...]:
        """The causes an edge's label shows in this view: its causes, then any means."""
        return edge.causes + edge.means if self.show_means else edge.causes


@dataclass(frozen=True)
class MatrixView:
    """A verb × status permission matrix."""

    name: str
    title: str
    verbs: tuple[Verb, ...]
    statuses: tuple[Status, ...]
    cells: tuple[tuple[str, ...], ...]
    """One row per verb, one style key (without ``cell.``) per status."""


# -- extract -------------------------------------------------------------------


def _node_styles(status: Status) -> tuple[str, ...]:
    styles = []
    if status in (Status.UNDEFINED, Status.CREATED):
        styles.append("start")
    if status is Status.NULL:
        styles.append("end")
    visibility = VISIBILITY[status]
    if visibility is Visibility.INVISIBLE:
        styles.append("invisible")
    if visibility is Visibility.MAYBE_INVISIBLE:
        styles.append("maybe-invisible")
    return tuple(styles) or ("normal",)


def _edges(model: Model, job_type: JobType | JobKind | None) -> tuple[EdgeView, ...]:
    graph = lifecycle_graph(model, job_type)
    order = list(Status)
    edges = [
        EdgeView(
            a,
            b,
            tuple(c for c in causes if not c.driver_means),
            means=tuple(c for c in causes if c.driver_means),
        )
        for a, b, causes in graph.edges(data="causes")
    ]
    return tuple(sorted(edges, key=lambda e: (order.index(e.source), order.index(e.target))))


def lifecycle_view(model: Model, job_type: JobType | JobKind | None = None) -> LifecycleView:
    """The lifecycle of one model version (optionally of one job type or kind)."""
    suffix = "" if job_type is None else f"-{job_type.value}"
    whose = "" if job_type is None else f" ({job_type.value} jobs)"
    return LifecycleView(
        name=f"lifecycle-{model.version}{suffix}",
        title=f"QEMU {model.version} job lifecycle{whose}",
        nodes=tuple(NodeView(s, _node_styles(s)) for s in model.statuses),
        edges=_edges(model, job_type),
    )


def verb_view(model: Model, verb: Verb) -> LifecycleView:
    """The lifecycle with the statuses that permit ``verb`` and the edges it causes highlighted."""
    if verb not in model.verbs:
        raise ValueError(f"QEMU {model.version} has no verb {verb.value!r}")
    nodes = tuple(
        NodeView(s, ("permitted",) if model.permits(verb, s) else ("dim",)) for s in model.statuses
    )
    edges = []
    for edge in _edges(model, None):
        mine = frozenset(c for c in edge.causes if c.verb is verb)
        edges.append(replace(edge, style="highlight" if mine else "dim", highlight=mine))
    return LifecycleView(
        name=f"verb-{verb.value}-{model.version}",
        title=f"QEMU {model.version}: where {verb.value} is permitted, and what it causes",
        nodes=nodes,
        edges=tuple(edges),
        legend=(("edge.dim", f"transition {verb.value} does not cause"),),
        subtitle="" if any(e.highlight for e in edges) else f"{verb.value} causes no transition",
    )


def diff_view(old: Model, new: Model) -> LifecycleView:
    """The lifecycle of ``new`` marked with what changed since ``old``.

    Added transitions are green, removed ones red and dashed; a status whose
    verb permissions changed lists ``+ verb`` (green) / ``− verb`` (red).
    """
    changes = diff(old, new)
    notes: dict[Status, list[tuple[str, str]]] = {}
    for verb in Verb:
        for status in Status:
            if (verb, status) in changes.added_cells:
                notes.setdefault(status, []).append((f"+ {verb.value}", "added"))
            if (verb, status) in changes.removed_cells:
                notes.setdefault(status, []).append((f"− {verb.value}", "removed"))
    nodes = tuple(
        NodeView(s, ("changed",), tuple(notes[s])) if s in notes else NodeView(s, ("dim",))
        for s in new.statuses
    )
    edges = [
        replace(e, style="added" if (e.source, e.target) in changes.added_transitions else "dim")
        for e in _edges(new, None)
    ]
    for a, b in sorted(changes.removed_transitions, key=lambda e: (e[0].letter, e[1].letter)):
        edges += [
            replace(x, style="removed") for x in _edges(old, None) if (x.source, x.target) == (a, b)
        ]
    subtitle = []
    if changes.added_job_types:
        subtitle.append("new job types: " + ", ".join(t.value for t in changes.added_job_types))
    if changes.removed_job_types:
        subtitle.append("job types gone: " + ", ".join(t.value for t in changes.removed_job_types))
    return LifecycleView(
        name=f"diff-{old.version}-{new.version}",
        title=f"QEMU {old.version} → {new.version}: what changed",
        subtitle="; ".join(subtitle),
        legend=(("edge.dim", "unchanged transition"),),
        nodes=nodes,
        edges=tuple(edges),
    )


def overlay(
    view: LifecycleView,
    covered: Iterable[Edge] = (),
    uncovered: Iterable[Edge] = (),
    divergent: Iterable[Edge] = (),
) -> LifecycleView:
    """The view with its edges styled by coverage: covered (solid dark), reachable but
    uncovered (grey dashed), divergent (red bold).  Divergent wins over covered, covered
    over uncovered; edges in none of the sets keep their style.  An edge in a set but not
    in the view is added (a divergent transition the model does not have).  The labels
    show the driver's means too (``set-speed (kick)``): a run report says how the run
    reached each transition."""
    styles: dict[Edge, str] = {}
    for style, edges in (("uncovered", uncovered), ("covered", covered), ("divergent", divergent)):
        for edge in edges:
            styles[edge] = style
    present = {(e.source, e.target) for e in view.edges}
    new_edges = [replace(e, style=styles.get((e.source, e.target), e.style)) for e in view.edges]
    order = list(Status)
    for a, b in sorted(set(styles) - present, key=lambda e: (order.index(e[0]), order.index(e[1]))):
        new_edges.append(EdgeView(a, b, (), styles[(a, b)]))
    nodes = view.nodes
    bad = {s for edge, style in styles.items() if style == "divergent" for s in edge}
    if bad:
        nodes = tuple(
            replace(n, styles=(*n.styles, "divergent")) if n.status in bad else n for n in nodes
        )
    return replace(view, edges=tuple(new_edges), nodes=nodes, show_means=True)


def matrix_view(model: Model) -> MatrixView:
    """The verb × status permission matrix of one model version."""
    cells = tuple(
        tuple("permitted" if model.permits(v, s) else "forbidden" for s in model.statuses)
        for v in model.verbs
    )
    return MatrixView(
        name=f"permissions-{model.version}",
        title=f"QEMU {model.version}: verb × status permissions (JobVerbTable)",
        verbs=model.verbs,
        statuses=model.statuses,
        cells=cells,
    )


def diff_matrix_view(old: Model, new: Model) -> MatrixView:
    """The permission matrix of ``new``, with cells added (+) or removed (−) since ``old``."""
    verbs = tuple(v for v in Verb if v in old.verbs or v in new.verbs)
    rows = []
    for v in verbs:
        row = []
        for s in new.statuses:
            before, after = old.permits(v, s), new.permits(v, s)
            row.append(
                "added"
                if after and not before
                else "removed"
                if before and not after
                else "permitted"
                if after
                else "forbidden"
            )
        rows.append(tuple(row))
    return MatrixView(
        name=f"permissions-diff-{old.version}-{new.version}",
        title=f"QEMU {old.version} → {new.version}: verb permissions",
        verbs=verbs,
        statuses=new.statuses,
        cells=tuple(rows),
    )


#: The key under a matrix, per cell style used.
MATRIX_KEY: dict[str, str] = {
    "permitted": "permitted",
    "added": "newly permitted",
    "removed": "no longer permitted",
}

# -- render: DOT ---------------------------------------------------------------


def _attrs(*keys: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for key in keys:
        merged.update(STYLES[key])
    return merged


def _font(text: str, style: str, *, bold: bool = False, size: int | None = None) -> str:
    color = STYLES[f"cause.{style}"]["color"]
    body = html.escape(text)
    if bold:
        body = f"<B>{body}</B>"
    size_attr = f' POINT-SIZE="{size}"' if size else ""
    return f'<FONT COLOR="{color}"{size_attr}>{body}</FONT>'


def _cause_style(cause: Cause) -> str:
    if cause.driver_means:
        return "means"
    return "verb" if cause.kind == "verb" else "internal"


def _edge_label(view: LifecycleView, edge: EdgeView) -> str:
    causes = view.labels(edge)
    if not causes:
        return ""
    lines = []
    for cause in causes:
        style = "dim" if edge.style in ("dim", "uncovered") else _cause_style(cause)
        if edge.style in ("added", "removed"):
            style = edge.style
        lines.append(_font(cause.label, style, bold=cause in edge.highlight))
    return "<" + "<BR/>".join(lines) + ">"


def _node_label(node: NodeView) -> str:
    if not node.notes:
        return node.status.value
    lines = [html.escape(node.status.value)]
    lines += [_font(text, style, bold=True, size=11) for text, style in node.notes]
    return "<" + "<BR/>".join(lines) + ">"


def _legend(view: LifecycleView) -> str:
    used = [f"node.{k}" for n in view.nodes for k in n.styles]
    used += [f"edge.{e.style}" for e in view.edges]
    keys = [k for k in LEGEND_TEXT if k in used]
    if any(e.style != "dim" and e.causes for e in view.edges):
        keys += ["cause.verb", "cause.internal"]
    if view.show_means and any(e.style != "dim" and e.means for e in view.edges):
        keys.append("cause.means")
    texts = {**LEGEND_TEXT, **dict(view.legend)}
    rows = []
    for key in keys:
        text = html.escape(texts[key])
        if key.startswith("node."):
            attrs = STYLES[key]
            border = ""
            if "dashed" in attrs.get("style", ""):
                border = ' STYLE="dashed"'
            elif "dotted" in attrs.get("style", ""):
                border = ' STYLE="dotted"'
            fill = attrs.get("fillcolor", "#ffffff")
            color = attrs.get("color", "#333333")
            sample = f'<TD BORDER="1"{border} COLOR="{color}" BGCOLOR="{fill}" WIDTH="28"> </TD>'
        elif key.startswith("edge."):
            attrs = STYLES[key]
            mark = "- - -" if "dashed" in attrs.get("style", "") else "———"
            sample = f'<TD><FONT COLOR="{attrs.get("color", "#555555")}"><B>{mark}</B></FONT></TD>'
        else:
            sample = f"<TD>{_font('abc', key.split('.')[1])}</TD>"
        rows.append(f'<TR>{sample}<TD ALIGN="LEFT">{text}</TD></TR>')
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="1">'
        + "".join(rows)
        + "</TABLE>>"
    )


def _new_digraph(name: str, title: str, subtitle: str = "") -> graphviz.Digraph:
    dot = graphviz.Digraph(name=name.replace(".", "_").replace("-", "_"))
    label = f"{title}\\n{subtitle}" if subtitle else title
    dot.attr("graph", label=label, **_attrs("graph"))
    dot.attr("node", **_attrs("node"))
    dot.attr("edge", **_attrs("edge"))
    return dot


#: The main line of the lifecycle, drawn as one straight vertical column.
SPINE: tuple[Status, ...] = (
    Status.CREATED,
    Status.RUNNING,
    Status.READY,
    Status.WAITING,
    Status.PENDING,
    Status.CONCLUDED,
    Status.NULL,
)

#: The side states: each is drawn on the rank of a spine status, to its left
#: (``"left"``) or right (``"right"``).  ``aborting`` and ``standby`` are on the
#: right: the many edges into ``aborting`` then cross nothing, and ``running`` →
#: ``waiting`` passes left of ``ready`` instead of around ``standby``.
SIDE_STATES: dict[Status, tuple[Status, str]] = {
    Status.UNDEFINED: (Status.CREATED, "left"),
    Status.PAUSED: (Status.RUNNING, "left"),
    Status.STANDBY: (Status.READY, "right"),
    Status.ABORTING: (Status.PENDING, "right"),
}

#: Graphviz attributes that keep the spine straight: the ``group`` of its
#: nodes, and the ``weight`` of the edges between consecutive spine statuses.
SPINE_GROUP = "spine"
SPINE_WEIGHT = "20"


def _rank_order(spine: Status, side: Status, where: str) -> tuple[Status, Status]:
    return (side, spine) if where == "left" else (spine, side)


def _left_of_spine(view: LifecycleView) -> set[Edge]:
    """Transitions from a spine status to a side state on its left.

    Graphviz puts the tail of an edge between two statuses of one rank on
    the left; such an edge is written head to tail with ``dir=back`` (the
    arrow still points at its real target, and its tooltip names it) so that
    the side state stays on the left.
    """
    return {
        (spine, side)
        for side, (spine, where) in SIDE_STATES.items()
        if where == "left" and any((e.source, e.target) == (spine, side) for e in view.edges)
    }


def to_dot(view: LifecycleView) -> str:
    """Graphviz DOT source of a lifecycle view (with its legend).

    The statuses of :data:`SPINE` form one column, top to bottom; each of
    :data:`SIDE_STATES` is on its spine neighbour's rank, beside it.  A spine
    pair without an edge in the view is held in place by an invisible edge.
    """
    dot = _new_digraph(view.name, view.title, view.subtitle)
    statuses = {n.status for n in view.nodes}
    for node in view.nodes:
        keys = [f"node.{k}" for k in node.styles]
        extra = {"group": SPINE_GROUP} if node.status in SPINE else {}
        dot.node(node.status.value, _node_label(node), **_attrs(*keys), **extra)
    for side, (spine, where) in SIDE_STATES.items():
        if side in statuses and spine in statuses:
            with dot.subgraph() as same:
                same.attr(rank="same")
                left, right = _rank_order(spine, side, where)
                same.edge(left.value, right.value, style="invis")
    spine_pairs = {(a, b) for a, b in itertools.pairwise(SPINE) if a in statuses and b in statuses}
    drawn = {(e.source, e.target) for e in view.edges}
    for a, b in sorted(spine_pairs - drawn, key=lambda e: SPINE.index(e[0])):
        dot.edge(a.value, b.value, style="invis", weight=SPINE_WEIGHT)
    reversed_edges = _left_of_spine(view)
    for edge in view.edges:
        attrs = _attrs(f"edge.{edge.style}")
        if (edge.source, edge.target) in spine_pairs:
            attrs["weight"] = SPINE_WEIGHT
        label = _edge_label(view, edge)
        if edge.source is edge.target and label:
            # A self-loop's label sits on the loop: pad it away from the node.
            label = f'<<TABLE BORDER="0" CELLPADDING="6"><TR><TD>{label[1:-1]}</TD></TR></TABLE>>'
        tail, head = edge.source.value, edge.target.value
        if (edge.source, edge.target) in reversed_edges:
            tail, head = head, tail
            attrs.update(dir="back", tooltip=f"{edge.source.value} → {edge.target.value}")
        dot.edge(tail, head, label=label, **attrs)
    dot.node("legend", _legend(view), shape="plaintext", style="", fontsize="10")
    with dot.subgraph() as sink:
        sink.attr(rank="sink")
        sink.node("legend")
    dot.edge(Status.NULL.value, "legend", style="invis")
    return str(dot.source)


def matrix_to_dot(view: MatrixView) -> str:
    """Graphviz DOT source of a permission matrix: one HTML-like table."""
    dot = _new_digraph(view.name, view.title)
    header = _attrs("cell.header")["bgcolor"]
    cells = [f'<TD BGCOLOR="{header}"><B>verb \\ status</B></TD>']
    cells += [f'<TD BGCOLOR="{header}"><B>{s.value}</B></TD>' for s in view.statuses]
    rows = ["<TR>" + "".join(cells) + "</TR>"]
    for verb, row in zip(view.verbs, view.cells, strict=True):
        tds = [f'<TD BGCOLOR="{header}" ALIGN="LEFT"><B>{verb.value}</B></TD>']
        for key in row:
            style = _attrs(f"cell.{key}")
            tds.append(f'<TD BGCOLOR="{style["bgcolor"]}">{html.escape(style["text"])}</TD>')
        rows.append("<TR>" + "".join(tds) + "</TR>")
    used = [k for k in MATRIX_KEY if any(k in row for row in view.cells)]
    key = " · ".join(f"{_attrs(f'cell.{k}')['text']} {MATRIX_KEY[k]}" for k in used)
    span = len(view.statuses) + 1
    rows.append(f'<TR><TD COLSPAN="{span}" BORDER="0" ALIGN="LEFT">{html.escape(key)}</TD></TR>')
    table = (
        '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" COLOR="#999999">'
        + "".join(rows)
        + "</TABLE>>"
    )
    dot.node("matrix", table, shape="plaintext", style="", fontsize="11")
    return str(dot.source)


# -- render: Mermaid -----------------------------------------------------------


def _mermaid_id(status: Status) -> str:
    return f"s_{status.value}"


def _mermaid_class(styles: str) -> str:
    """A class name Mermaid accepts (``end`` alone is a keyword)."""
    return "c_" + styles.replace("-", "_")


def _merged_css(keys: list[str]) -> str:
    """The ``classDef`` body of several node styles: each property once, the first style's
    value kept (a dashed ``invisible`` end node keeps the end's grey fill).

    >>> _merged_css(["end", "invisible"])
    'fill:#eeeeee,stroke:#333333,stroke-width:3px,stroke-dasharray:5 5'
    """
    merged: dict[str, str] = {}
    for key in keys:
        for item in MERMAID_CLASSES[key].split(","):
            prop, _, value = item.partition(":")
            merged.setdefault(prop, value)
    return ",".join(f"{prop}:{value}" for prop, value in merged.items())


def to_mermaid(view: LifecycleView) -> str:
    """Mermaid ``stateDiagram-v2`` text of a lifecycle view.

    Mermaid cannot style a transition of a state diagram, so edge styles
    (overlays, diffs, per-verb highlights) become a marker before the label
    (:data:`MERMAID_EDGE_MARKERS`), and node styles become ``classDef``
    classes.
    """
    title = f"{view.title} ({view.subtitle})" if view.subtitle else view.title
    lines = ["---", f"title: {title}", "---"]
    body = ["stateDiagram-v2", "    direction TB"]
    for node in view.nodes:
        body.append(f'    state "{node.status.value}" as {_mermaid_id(node.status)}')
    for edge in view.edges:
        label = ", ".join(c.label for c in view.labels(edge))
        marker = MERMAID_EDGE_MARKERS[edge.style]
        text = f"{marker}{label}".strip()
        suffix = f" : {text}" if text else ""
        body.append(f"    {_mermaid_id(edge.source)} --> {_mermaid_id(edge.target)}{suffix}")
    for node in view.nodes:
        for text, _ in node.notes:
            body.append(f"    note right of {_mermaid_id(node.status)} : {text}")
    classes: dict[str, list[Status]] = {}
    for node in view.nodes:
        keys = [k for k in node.styles if k in MERMAID_CLASSES]
        if keys:
            classes.setdefault("__".join(keys), []).append(node.status)
    for name in sorted(classes):
        body.append(f"    classDef {_mermaid_class(name)} {_merged_css(name.split('__'))}")
    for name in sorted(classes):
        members = ",".join(_mermaid_id(s) for s in classes[name])
        body.append(f"    class {members} {_mermaid_class(name)}")
    return "\n".join([*lines, *body]) + "\n"


# -- render: Markdown ----------------------------------------------------------


MARKDOWN_MARKS: Mapping[str, str] = {
    "permitted": "✓",
    "forbidden": "",
    "added": "**+✓**",
    "removed": "**−**",
}


def matrix_to_markdown(view: MatrixView) -> str:
    """A permission matrix as a Markdown table (``+✓`` added, ``−`` removed cells)."""
    head = "| verb \\ status | " + " | ".join(s.value for s in view.statuses) + " |"
    rule = "|---|" + "|".join(":-:" for _ in view.statuses) + "|"
    rows = [
        f"| {v.value} | " + " | ".join(MARKDOWN_MARKS[k] for k in row) + " |"
        for v, row in zip(view.verbs, view.cells, strict=True)
    ]
    return "\n".join([f"### {view.title}", "", head, rule, *rows]) + "\n"
