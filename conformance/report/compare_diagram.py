"""The diff diagram of a comparison: the lifecycle with what each build did drawn over it.

Drawn with the model's own renderer (:mod:`jobcheck.model.render`), on the
lifecycle of B's model: transitions seen on both builds solid, seen on A only
red and dashed, seen on B only green, seen on neither grey.  A status where
some cell was answered differently lists the commands (``≠``), those tried
on A only (``−``) and on B only (``+``); a command only one build has is
named under the title.

    >>> document = {
    ...     "a": {"label": "A", "qemu_version": "7.2.22", "model": "7.2"},
    ...     "b": {"label": "B", "qemu_version": "10.0.2", "model": "9.2"},
    ...     "diagram": {
    ...         "edges": {"both": [["created", "running"]], "a_only": [], "b_only": []},
    ...         "statuses": {"ready": {"changed": ["job-pause"]},
    ...                      "*": {"b_only": ["block-job-change"]}},
    ...     },
    ... }
    >>> view = diff_view(document)
    >>> [n.notes for n in view.nodes if n.notes]
    [(('≠ job-pause', 'verb'),)]
    >>> view.subtitle
    'only B has: block-job-change'
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jobcheck.model.lifecycle import Status, model_for
from jobcheck.model.render import EdgeView, LifecycleView, lifecycle_view, to_dot

#: Notes listed per status before the rest is summed up as "+ N more".
MAX_NOTES = 5

_LEGEND = (
    ("edge.covered", "seen on both"),
    ("edge.removed", "seen on A only"),
    ("edge.added", "seen on B only"),
    ("edge.dim", "seen on neither"),
    ("node.changed", "answered differently (≠), tried on A only (−) or on B only (+)"),
)


def _edges(pairs: list[list[str]]) -> set[tuple[Status, Status]]:
    return {(Status(a), Status(b)) for a, b in pairs}


def diff_view(document: dict[str, Any]) -> LifecycleView:
    """The lifecycle view of a comparison document (``jobcheck compare --json``)."""
    a, b = document["a"], document["b"]
    try:
        model = model_for(str(b["model"]))
    except ValueError:
        model = model_for("latest")
    view = lifecycle_view(model)
    drawn = document["diagram"]
    both = _edges(drawn["edges"]["both"])
    only_a = _edges(drawn["edges"]["a_only"])
    only_b = _edges(drawn["edges"]["b_only"])
    styles = {e: "covered" for e in both}
    styles.update({e: "removed" for e in only_a})
    styles.update({e: "added" for e in only_b})
    edges = [replace(e, style=styles.get((e.source, e.target), "dim")) for e in view.edges]
    present = {(e.source, e.target) for e in view.edges}
    order = list(Status)
    for edge in sorted(set(styles) - present, key=lambda e: (order.index(e[0]), order.index(e[1]))):
        edges.append(EdgeView(edge[0], edge[1], (), styles[edge]))
    statuses = drawn["statuses"]
    nodes = []
    for node in view.nodes:
        marks = statuses.get(node.status.value, {})
        notes = [(f"≠ {c}", "verb") for c in marks.get("changed", [])]
        notes += [(f"− {c}", "removed") for c in marks.get("a_only", [])]
        notes += [(f"+ {c}", "added") for c in marks.get("b_only", [])]
        if len(notes) > MAX_NOTES:
            notes = [*notes[: MAX_NOTES - 1], (f"+ {len(notes) - MAX_NOTES + 1} more", "verb")]
        if notes:
            node = replace(node, styles=(*node.styles, "changed"), notes=tuple(notes))
        nodes.append(node)
    subtitle = []
    for key, label in (("a_only", a["label"]), ("b_only", b["label"])):
        commands = statuses.get("*", {}).get(key, [])
        if commands:
            subtitle.append(f"only {label} has: " + ", ".join(commands))
    return replace(
        view,
        name="compare",
        title=(
            f"{a['label']} (QEMU {a['qemu_version']}) vs {b['label']} (QEMU {b['qemu_version']}):"
            " observed lifecycle"
        ),
        subtitle="; ".join(subtitle),
        legend=_LEGEND,
        nodes=tuple(nodes),
        edges=tuple(edges),
    )


def diff_dot(document: dict[str, Any]) -> str:
    """The DOT source of :func:`diff_view`."""
    return to_dot(diff_view(document))
