"""Sphinx pages of the lifecycle, one per modelled QEMU release: reStructuredText, as text.

:func:`release_page` makes ``job-lifecycle-V.rst`` for model version ``V``:

* the lifecycle diagram (:func:`jobcheck.model.render.lifecycle_view`), as a
  ``.. graphviz::`` block holding its DOT source, as the pre-built SVG beside
  the page, or both (:data:`DIAGRAM_MODES`);
* what the labels of the diagram mean, and which job types reach which statuses;
* the verb × status permission table (``JobVerbTable``) as a ``list-table``;
* the rules of the catalogue (:mod:`jobcheck.model.rules`) that apply to the
  release: the documented sentence, cited by its QAPI anchor, what jobcheck
  checks, and where QEMU is known to do otherwise;
* what changed since the previous modelled release (:func:`changes`):
  statuses, verbs, permissions, transitions, job types, and the
  documentation (rules and known divergences that start or end there).

:func:`index_page` makes ``index.rst``: the releases in a table and a toctree.
Every text that comes from the model goes through :func:`rst_text` (or
:func:`rst_literal`), so that no character in it is taken for markup::

    >>> print(rst_text("job_early_fail: *not* a `role`, ref_"))
    job_early_fail: \\*not\\* a \\`role\\`, ref\\_
    >>> print(rst_text("- not a list"))
    \\ - not a list
    >>> from jobcheck.model.lifecycle import MODELS
    >>> page = release_page(MODELS["8.2"])
    >>> page.splitlines()[4]
    'QEMU 8.2: the job lifecycle'
    >>> [entry for _, entries in changes(MODELS["7.2"], MODELS["8.2"]) for entry in entries][0]
    'new verb ``change``'

In mode ``both`` the page shows the SVG when Sphinx runs with the tag
:data:`PREBUILT_TAG` (``sphinx-build -t prebuilt_diagrams``, no ``dot``
needed), and otherwise renders the ``.. graphviz::`` block; either way it
needs the ``sphinx.ext.graphviz`` extension loaded, because Sphinx parses
what an ``only`` directive leaves out.  Mode ``svg`` needs no extension.

Pure functions: the files are written by
:mod:`jobcheck.conformance.report.diagram_files`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from jobcheck.model.causes import INTERNAL_CAUSES
from jobcheck.model.graph import diff, lifecycle_graph, reachable
from jobcheck.model.lifecycle import MODELS, Model, Status, Verb
from jobcheck.model.render import lifecycle_view, to_dot
from jobcheck.model.rules import RULES, Rule, documentation_changes, rules_for

#: How a page shows its diagram: ``both`` (the SVG under the Sphinx tag
#: :data:`PREBUILT_TAG`, else the ``.. graphviz::`` block), ``graphviz`` (the
#: block only: no image file) or ``svg`` (the SVG only: no Sphinx extension).
DIAGRAM_MODES: tuple[str, ...] = ("both", "graphviz", "svg")

#: The Sphinx tag (``sphinx-build -t``) that makes ``both`` pages show the pre-built SVG.
PREBUILT_TAG = "prebuilt_diagrams"

INDEX = "index"
"""The stem of the index page."""

#: What changed between two releases, by category, in this order.
CATEGORIES: tuple[str, ...] = (
    "Statuses",
    "Verbs",
    "Permissions",
    "Transitions",
    "Job types",
    "Documentation",
)

_INLINE_MARKUP = re.compile(
    r"""([\\`*|]          # escapes, literals and roles, emphasis, substitutions
        | (?<![^\W_])_|_(?![^\W_])  # reference ends (name_, a__b): not a_b
        | :(?=:)           # a literal block marker (::)
        | (?:^|(?<=\s)):(?=\s|$))  # a definition list classifier ( : )
    """,
    re.X,
)
_BLOCK_START = re.compile(
    r"""^(?:[^\w\s]                        # bullets, comments, adornments, quotes
        | (?:\d+|\w{1,8})[.)](?:\s|$)     # enumerators: 1. a) iv.
        | \(\w{1,8}\)(?:\s|$))            # (1) (a)
    """,
    re.X,
)


_LITERAL = re.compile(r"[^\s`\\]+(?: [^\s`\\]+)*")


def rst_text(text: str) -> str:
    """``text`` as reST inline text that shows exactly ``text`` (whitespace runs become
    one space): inline markup characters are escaped, and a line that would start a
    list, a comment or a section adornment begins with an escaped space (``\\ ``),
    which reST drops."""
    line = _INLINE_MARKUP.sub(r"\\\1", " ".join(text.split()))
    if _BLOCK_START.match(line):
        line = "\\ " + line
    return line


def rst_literal(text: str) -> str:
    """``text`` as an inline literal (````text````), or as :func:`rst_text` where a
    literal would not show it as it is (backquotes, backslashes, whitespace other than
    single spaces between words)."""
    if not _LITERAL.fullmatch(text):
        return rst_text(text)
    return f"``{text}``"


def title(text: str, char: str, *, over: bool = False) -> list[str]:
    """A section title (already escaped) with its underline, and its overline if ``over``."""
    rule = char * len(text)
    return [rule, text, rule] if over else [text, rule]


def page_name(model: Model) -> str:
    """The stem of a release's page: ``job-lifecycle-7.2``."""
    return f"job-lifecycle-{model.version}"


def svg_name(model: Model) -> str:
    """The pre-built SVG a release's page shows (the file ``jobcheck diagram`` writes)."""
    return f"{lifecycle_view(model).name}.svg"


def previous(model: Model) -> Model | None:
    """The modelled release before ``model``, or ``None`` for the oldest."""
    versions = list(MODELS)
    position = versions.index(model.version)
    return MODELS[versions[position - 1]] if position else None


def release_range(model: Model) -> str:
    """The QEMU releases a model describes: ``QEMU 7.2 up to (not including) 8.2``."""
    versions = list(MODELS)
    position = versions.index(model.version)
    if position + 1 == len(versions):
        return f"QEMU {model.version} and later"
    return f"QEMU {model.version} up to (not including) {versions[position + 1]}"


def _names(items: Iterable[Status | str]) -> str:
    return ", ".join(rst_literal(str(item)) for item in items)


def _generated_by(arguments: str) -> list[str]:
    return [
        f".. Generated by jobcheck ({arguments}) from its model of QEMU's job lifecycle;",
        "   regenerate it rather than edit it.",
        "",
    ]


# -- one release -------------------------------------------------------------------------


def _introduction(model: Model) -> list[str]:
    types = _names(t.value for t in model.job_types)
    lines = [
        "The lifecycle of a QEMU background job as the QAPI schema documents it",
        "(``JobStatus``, ``JobVerb``) and as QEMU's status transition table (``JobSTT``)",
        f"and verb table (``JobVerbTable``) implement it, for {rst_text(release_range(model))}.",
        f"Job types: {types}.",
    ]
    if not model.job_commands:
        lines += [
            f"QEMU {model.version} has no ``job-*`` commands, ``query-jobs`` or",
            "``JOB_STATUS_CHANGE`` event: jobs are driven with the ``block-job-*`` commands.",
        ]
    return lines


def _figure(model: Model, caption: str, indent: str) -> list[str]:
    alt = f"Diagram: the statuses of a QEMU {model.version} job and the transitions between them"
    return [
        f"{indent}.. figure:: {svg_name(model)}",
        f"{indent}   :alt: {alt}",
        "",
        f"{indent}   {caption}",
    ]


def _graphviz(model: Model, caption: str, indent: str) -> list[str]:
    alt = f"Diagram: the statuses of a QEMU {model.version} job and the transitions between them"
    body = []
    for line in to_dot(lifecycle_view(model)).splitlines():
        stripped = line.lstrip("\t")
        body.append(f"{indent}   " + "    " * (len(line) - len(stripped)) + stripped)
    return [
        f"{indent}.. graphviz::",
        f"{indent}   :caption: {caption}",
        f"{indent}   :alt: {alt}",
        "",
        *body,
    ]


def _diagram(model: Model, mode: str) -> list[str]:
    if mode not in DIAGRAM_MODES:
        raise ValueError(f"unknown diagram mode {mode!r}; choose from {', '.join(DIAGRAM_MODES)}")
    caption = rst_text(f"The job lifecycle of QEMU {model.version}")
    if mode == "svg":
        return _figure(model, caption, "")
    if mode == "graphviz":
        return _graphviz(model, caption, "")
    return [
        f".. only:: {PREBUILT_TAG}",
        "",
        *_figure(model, caption, "   "),
        "",
        f".. only:: not {PREBUILT_TAG}",
        "",
        *_graphviz(model, caption, "   "),
    ]


def _legend(model: Model) -> list[str]:
    graph = lifecycle_graph(model)
    shown = {c.name for _, _, causes in graph.edges(data="causes") for c in causes}
    lines = [
        "A box is a status, an arrow a transition; a dashed border marks what the",
        "documentation calls never visible, a dotted one what it says may not be visible.",
        "An arrow is labelled with what makes the transition: a verb (in blue), sent as",
        "``job-<verb>`` or ``block-job-<verb>`` (``cancel (soft)`` is ``block-job-cancel``",
        "with ``force: false``), or an event inside QEMU (in grey):",
        "",
    ]
    for name, cause in INTERNAL_CAUSES.items():
        if name in shown and not cause.means:
            lines += [rst_text(cause.label), f"   {rst_text(cause.meaning)}"]
    return lines


def _reach(model: Model) -> list[str]:
    """Which job types reach the statuses that not every job type reaches."""
    by_type = {t: reachable(model, t) for t in model.job_types}
    groups: dict[tuple[str, ...], list[Status]] = {}
    for status in model.statuses:
        types = tuple(t.value for t in model.job_types if status in by_type[t])
        if status is not Status.UNDEFINED and len(types) < len(model.job_types):
            groups.setdefault(types, []).append(status)
    if not groups:
        return []
    lines = ["The diagram is the union over all job types. Not every job reaches every status:", ""]
    for types, statuses in groups.items():
        who = f"only {_names(types)} jobs" if types else "no job"
        lines.append(f"* {_names(s.value for s in statuses)}: {who}")
    return lines


def _list_table(caption: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A ``list-table`` of already escaped cells (a cell may hold blank-line paragraphs)."""
    lines = [f".. list-table:: {caption}", "   :header-rows: 1", ""]
    for row in (header, *rows):
        for position, cell in enumerate(row):
            mark = "* -" if position == 0 else "  -"
            paragraphs = cell.split("\n") if cell else []
            if not paragraphs:
                lines.append(f"   {mark}")
                continue
            lines.append(f"   {mark} {paragraphs[0]}")
            lines += [f"       {p}" if p else "" for p in paragraphs[1:]]
    return lines


def _permissions(model: Model) -> list[str]:
    header = ["verb", *(s.value for s in model.statuses)]
    rows = [
        [rst_literal(v.value), *("✓" if model.permits(v, s) else "" for s in model.statuses)]
        for v in model.verbs
    ]
    table = _list_table("Where each verb is accepted (``JobVerbTable``)", header, rows)
    table.insert(2, "   :stub-columns: 1")
    return [
        "A verb sent to a job in a status where the table does not accept it is refused,",
        "and the job stays as it was.",
        "",
        *table,
    ]


def _cited(rule: Rule, version: str) -> str:
    """The sentence QEMU ``version`` documents the rule with, in quotes, and its anchor;
    the paraphrase where no sentence is quoted."""
    quote = next((q for q in rule.quotes if q.applies_to(version)), None)
    anchor = (quote.anchor if quote and quote.anchor else None) or rule.anchor
    cite = f" ({rst_literal(anchor)})" if anchor else ""
    said = f"“{rst_text(quote.text)}”" if quote else rst_text(rule.text)
    return f"{said}{cite}"


def _documented(rule: Rule, version: str) -> str:
    """The documented sentence and its anchor, then the paraphrase (and why jobcheck does
    not check it yet, if so), as cell paragraphs."""
    first = _cited(rule, version) if rule.anchor or rule.quotes else "(not documented)"
    paraphrase = rst_text(rule.text)
    if rule.unchecked:
        paraphrase += " " + rst_text(f"({rule.unchecked})")
    return f"{first}\n\n{paraphrase}"


def _divergence(rule: Rule, model: Model) -> str:
    known = rule.known_divergence
    if known is None or not known.applies_to(model.version):
        return "—"
    return rst_text(f"{known.observed} ({known.evidence})")


def _rules(model: Model) -> list[str]:
    rows = [
        [rst_literal(r.id), _documented(r, model.version), _divergence(r, model)]
        for r in rules_for(model.version)
    ]
    table = _list_table(
        rst_text(f"The documented rules that apply to QEMU {model.version}"),
        ["Rule", "Documented as", f"Known divergence in QEMU {model.version}"],
        rows,
    )
    table.insert(2, "   :widths: 20 50 30")
    return [
        "Each rule is one claim of the documentation, checked by jobcheck against QEMU;",
        "a known divergence is where QEMU does otherwise.",
        "",
        *table,
    ]


def _transition(edge: tuple[Status, Status]) -> str:
    return f"{rst_literal(edge[0].value)} → {rst_literal(edge[1].value)}"


def _documentation_changes(old: Model, new: Model) -> list[str]:
    """Rules whose version range starts at ``new`` or ends before it, rules whose sentence
    is worded anew, then known divergences that start or end there (of rules documented
    in both): :func:`~jobcheck.model.rules.documentation_changes`, in reST."""
    started, ended, reworded, diverging = [], [], [], []
    for change in documentation_changes(old.version, new.version):
        rule = RULES[change.rule]
        name = rst_literal(rule.id)
        if change.change == "added":
            started.append(f"newly documented, {name}: {_cited(rule, new.version)}")
        elif change.change == "removed":
            ended.append(f"no longer documented, {name}: {rst_text(rule.text)}")
        elif change.change == "reworded":
            reworded.append(
                f"worded anew, {name}: {_cited(rule, new.version)}; was {_cited(rule, old.version)}"
            )
        elif change.change == "known-divergence-added":
            diverging.append(f"QEMU now diverges from {name}: {rst_text(change.new or '')}")
        else:
            diverging.append(
                f"the known divergence from {name} ends; it was: {rst_text(change.old or '')}"
            )
    return started + ended + reworded + diverging


def _order(edges: Iterable[tuple[Status, Status]]) -> list[tuple[Status, Status]]:
    order = list(Status)
    return sorted(edges, key=lambda e: (order.index(e[0]), order.index(e[1])))


def changes(old: Model, new: Model) -> list[tuple[str, list[str]]]:
    """What changed from ``old`` to ``new``: (category, entries) for each of
    :data:`CATEGORIES`, the entries already reST."""
    d = diff(old, new)
    permissions = []
    for verb in Verb:
        for cells, what in ((d.added_cells, "now"), (d.removed_cells, "no longer")):
            statuses = [s.value for s in Status if (verb, s) in cells]
            if statuses:
                permissions.append(
                    f"{rst_literal(verb.value)} is {what} accepted in {_names(statuses)}"
                )
    return [
        (
            "Statuses",
            [f"new status {rst_literal(s.value)}" for s in new.statuses if s not in old.statuses]
            + [
                f"status {rst_literal(s.value)} gone" for s in old.statuses if s not in new.statuses
            ],
        ),
        (
            "Verbs",
            [f"new verb {rst_literal(v.value)}" for v in d.added_verbs]
            + [f"verb {rst_literal(v.value)} gone" for v in d.removed_verbs],
        ),
        ("Permissions", permissions),
        (
            "Transitions",
            [f"new transition {_transition(e)}" for e in _order(d.added_transitions)]
            + [f"transition {_transition(e)} gone" for e in _order(d.removed_transitions)],
        ),
        (
            "Job types",
            [f"new job type {rst_literal(t.value)}" for t in d.added_job_types]
            + [f"job type {rst_literal(t.value)} gone" for t in d.removed_job_types],
        ),
        ("Documentation", _documentation_changes(old, new)),
    ]


def _changes_section(model: Model) -> list[str]:
    old = previous(model)
    if old is None:
        return [
            f"QEMU {model.version} is the oldest release modelled: there is nothing to compare."
        ]
    found = changes(old, model)
    lines = [f"Compared with QEMU {old.version}, the previous release modelled:", ""]
    for category, entries in found:
        if entries:
            lines.append(category)
            lines += [f"   * {entry}" for entry in entries]
            lines.append("")
    unchanged = [category.lower() for category, entries in found if not entries]
    if len(unchanged) == len(found):
        return [f"Nothing changed since QEMU {old.version}, the previous release modelled."]
    if unchanged:
        lines.append(f"No change in {', '.join(unchanged)}.")
    return lines


def change_summary(model: Model) -> str:
    """One line for the index: the categories that changed since the previous release, each
    with its number of entries."""
    old = previous(model)
    if old is None:
        return "the oldest release modelled"
    counts = [(category, len(entries)) for category, entries in changes(old, model) if entries]
    if not counts:
        return "no change"
    return ", ".join(f"{category.lower()} ({count})" for category, count in counts)


def release_page(model: Model, mode: str = "both") -> str:
    """The reST page of one release (``job-lifecycle-V.rst``)."""
    lines = [
        *_generated_by(
            f"jobcheck docs --model {model.version}"
            + ("" if mode == "both" else f" --diagram {mode}")
        ),
        *title(rst_text(f"QEMU {model.version}: the job lifecycle"), "=", over=True),
        "",
        *_introduction(model),
        "",
        *title("Statuses and transitions", "-"),
        "",
        *_diagram(model, mode),
        "",
        *_legend(model),
        "",
        *_reach(model),
        "",
        *title("Verbs", "-"),
        "",
        *_permissions(model),
        "",
        *title("Documented rules", "-"),
        "",
        *_rules(model),
        "",
        *title("Changes since the previous release", "-"),
        "",
        *_changes_section(model),
    ]
    return "\n".join(_tidy(lines)) + "\n"


def _tidy(lines: list[str]) -> list[str]:
    """No trailing spaces, no runs of blank lines, no blank line at the end."""
    out: list[str] = []
    for line in (x.rstrip() for x in lines):
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


# -- the index ---------------------------------------------------------------------------


def index_page(models: Sequence[Model]) -> str:
    """The index of the release pages (``index.rst``), newest release first."""
    newest_first = list(reversed(models))
    rows = [
        [f":doc:`{page_name(m)}`", rst_text(release_range(m)), rst_text(change_summary(m))]
        for m in newest_first
    ]
    lines = [
        *_generated_by("jobcheck docs"),
        *title("QEMU's job lifecycle, release by release", "=", over=True),
        "",
        "One page per QEMU release that jobcheck models, each holding until the next one.",
        "A page shows the statuses and transitions, the verbs each status accepts, the",
        "documented rules with QEMU's known divergences from them, and what changed since",
        "the previous release.",
        "",
        *_list_table(
            "Releases", ["Page", "Applies to", "Changes since the previous release"], rows
        ),
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
        *(f"   {page_name(m)}" for m in newest_first),
    ]
    return "\n".join(_tidy(lines)) + "\n"


def pages(models: Sequence[Model], mode: str = "both") -> dict[str, str]:
    """File name → reST text: the index and one page per model, oldest first."""
    out = {f"{INDEX}.rst": index_page(models)}
    for model in models:
        out[f"{page_name(model)}.rst"] = release_page(model, mode)
    return out
