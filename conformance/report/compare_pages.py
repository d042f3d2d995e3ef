"""The comparison of two builds for people: terminal lines, Markdown and a two-column HTML page.

Every writer reads the comparison document only (``compare.json``, made by
:meth:`jobcheck.conformance.campaign.compare.Comparison.to_json`), so they
always agree with it.  Differences are grouped by category, each with what A
and what B did side by side; the timing-dependent observations follow, side
by side as well but never counted; then the notes on what could not be
compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from jobcheck.conformance.campaign.compare import CATEGORIES
from jobcheck.conformance.report.html import CSS, clean_svg

#: Lines of one side's outcomes shown in the terminal before "…".
TERMINAL_OUTCOMES = 2
#: Differences listed in the terminal (the reports list them all).
TERMINAL_DIFFERENCES = 20


def headline(document: dict[str, Any]) -> str:
    """``DIFFERENT (exit 1): 3 differences — new verb or command 1, …`` or ``SAME (exit 0)``."""
    total = len(document["differences"])
    if not total:
        return f"SAME (exit {document['exit_code']}): no difference in observed behaviour"
    parts = [f"{CATEGORIES[c]} {n}" for c, n in document["counts"].items() if n]
    noun = "difference" if total == 1 else "differences"
    return f"DIFFERENT (exit {document['exit_code']}): {total} {noun} — " + ", ".join(parts)


def _side_line(side: dict[str, Any]) -> str:
    label, model = side["label"], side["model"]
    return f"{label} = {side['description']} · QEMU {side['qemu_version']} · model {model}"


def _title(side: dict[str, Any]) -> str:
    return f"{side['label']} (QEMU {side['qemu_version']})"


def _coverage(side: dict[str, Any]) -> str:
    cov = side.get("coverage") or {}
    parts = [
        f"{name} {cov[name]['reached']}/{cov[name]['goal']}"
        for name in ("transitions", "cells")
        if name in cov
    ]
    return ", ".join(parts) or "?"


def _run(side: dict[str, Any]) -> str:
    seconds = side.get("seconds")
    took = f", {seconds:.1f} s" if isinstance(seconds, int | float) else ""
    return f"{side.get('steps')} steps, {side.get('examples')} examples{took}"


def summary_lines(document: dict[str, Any]) -> list[str]:
    """What ``jobcheck compare`` prints."""
    a, b = document["a"], document["b"]
    lines = [_side_line(a), _side_line(b)]
    for side in (a, b):
        lines.append(f"{side['label']}: {_run(side)}; coverage {_coverage(side)}")
        if side.get("crash"):
            lines.append(f"{side['label']}: QEMU crashed: {side['crash']}")
    differences = document["differences"]
    for difference in differences[:TERMINAL_DIFFERENCES]:
        lines.append(f"  {difference['title']}: {difference['subject']}")
        for label, key in ((a["label"], "a"), (b["label"], "b")):
            shown = difference[key][:TERMINAL_OUTCOMES]
            more = len(difference[key]) - len(shown)
            tail = f" (+{more} more)" if more > 0 else ""
            lines.append(f"      {label}: " + " | ".join(shown) + tail)
        if difference["detail"]:
            lines.append(f"      {difference['detail']}")
    if len(differences) > TERMINAL_DIFFERENCES:
        lines.append(f"  … and {len(differences) - TERMINAL_DIFFERENCES} more (see the report)")
    timing = document["timing_dependent"]
    if timing:
        lines.append(f"timing-dependent observations, not compared: {len(timing)} (see the report)")
    for note in document["notes"]:
        lines.append(f"note: {note}")
    lines.append(f"verdict: {headline(document)}")
    return lines


# -- Markdown ----------------------------------------------------------------------------


def _md(text: Any) -> str:
    return escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _md_list(values: list[str]) -> str:
    return "<br>".join(_md(v) for v in values) or "—"


def _sides_rows(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    a, b = document["a"], document["b"]

    def both(name: str, value: Any) -> tuple[str, str, str]:
        return name, str(value(a)), str(value(b))

    return [
        both("target", lambda s: s["description"]),
        both("QEMU", lambda s: s["qemu_version"]),
        both("model", lambda s: s["model"]),
        both("run", _run),
        both("coverage", _coverage),
        both("crash", lambda s: s.get("crash") or "none"),
        both(
            "rules broken",
            lambda s: ", ".join(f"{r} ({st})" for r, st in s["divergences"].items()) or "none",
        ),
        both("report schema", lambda s: s["schema_version"]),
    ]


def _by_category(differences: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for difference in differences:
        out.setdefault(difference["category"], []).append(difference)
    return out


def render_markdown(document: dict[str, Any], links: Mapping[str, str] | None = None) -> str:
    """The comparison as Markdown (``compare.md``)."""
    a, b = document["a"], document["b"]
    out = [
        f"# jobcheck compare: {_md(_title(a))} vs {_md(_title(b))}",
        "",
        f"**{_md(headline(document))}**",
        "",
        f"| | {_md(a['label'])} | {_md(b['label'])} |",
        "|---|---|---|",
    ]
    out += [f"| {name} | {_md(x)} | {_md(y)} |" for name, x, y in _sides_rows(document)]
    if links:
        out += ["", "Full reports: " + ", ".join(f"[{k}]({v})" for k, v in links.items())]
    out += ["", "## Differences", ""]
    groups = _by_category(document["differences"])
    if not groups:
        out.append("No difference in observed behaviour.")
    for category, title in CATEGORIES.items():
        rows = groups.get(category)
        if not rows:
            continue
        out += [
            f"### {title} ({len(rows)})",
            "",
            f"| | {a['label']} | {b['label']} |",
            "|---|---|---|",
        ]
        for row in rows:
            subject = _md(row["subject"])
            if row["detail"]:
                subject += f"<br>*{_md(row['detail'])}*"
            out.append(f"| {subject} | {_md_list(row['a'])} | {_md_list(row['b'])} |")
        out.append("")
    timing = document["timing_dependent"]
    if timing:
        out += [
            "## Timing-dependent observations (not compared)",
            "",
            "Sent while the job might still have been moving: where such a command lands"
            " depends on timing, so these are shown side by side and never counted.",
            "",
            f"| | {a['label']} | {b['label']} |",
            "|---|---|---|",
        ]
        out += [
            f"| {_md(t['subject'])} | {_md_list(t['a'])} | {_md_list(t['b'])} |" for t in timing
        ]
        out.append("")
    if document["notes"]:
        out += ["## Notes", ""] + [f"- {_md(n)}" for n in document["notes"]] + [""]
    return "\n".join(out).rstrip() + "\n"


# -- HTML --------------------------------------------------------------------------------

_CSS_EXTRA = """
.cmp{width:100%;table-layout:fixed}.cmp td,.cmp th{word-wrap:break-word}
.cmp th.subject{width:30%}.cmp td ul{margin:0;padding-left:16px}
.same{background:#2e7d32}.different{background:#c62828}
.detail{color:#555;font-size:12.5px}
"""


def _html_list(values: list[str]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return escape(values[0])
    return "<ul>" + "".join(f"<li>{escape(v)}</li>" for v in values) + "</ul>"


def _html_table(rows: list[dict[str, Any]], a: str, b: str) -> str:
    body = []
    for row in rows:
        subject = f"<code>{escape(row['subject'])}</code>"
        if row.get("detail"):
            subject += f'<div class="detail">{escape(row["detail"])}</div>'
        body.append(
            f"<tr><td>{subject}</td><td>{_html_list(row['a'])}</td>"
            f"<td>{_html_list(row['b'])}</td></tr>"
        )
    return (
        f'<table class="cmp"><tr><th class="subject"></th><th>{escape(a)}</th>'
        f"<th>{escape(b)}</th></tr>{''.join(body)}</table>"
    )


def render_html(
    document: dict[str, Any], svg: str | None, links: Mapping[str, str] | None = None
) -> str:
    """The comparison as one self-contained HTML page, A and B in two columns."""
    a, b = document["a"], document["b"]
    verdict = "same" if document["exit_code"] == 0 else "different"
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(x)}</td><td>{escape(y)}</td></tr>"
        for name, x, y in _sides_rows(document)
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>jobcheck compare: {escape(_title(a))} vs {escape(_title(b))}</title>",
        f"<style>{CSS}{_CSS_EXTRA}</style></head><body><main>",
        f"<h1>jobcheck compare: {escape(_title(a))} vs {escape(_title(b))}</h1>",
        f'<p><span class="verdict {verdict}">{verdict.upper()}</span> '
        f"{escape(headline(document))}</p>",
        f'<table class="cmp"><tr><th class="subject"></th><th>{escape(a["label"])}</th>'
        f"<th>{escape(b['label'])}</th></tr>{rows}</table>",
    ]
    if links:
        out.append(
            "<p>Full reports: "
            + ", ".join(f'<a href="{escape(v)}">{escape(k)}</a>' for k, v in links.items())
            + "</p>"
        )
    out.append("<h2>Lifecycle: what each build did</h2>")
    if svg is not None:
        out.append(f'<div class="diagram">{clean_svg(svg)}</div>')
    else:
        out.append(
            "<p>(the diagram needs Graphviz's <code>dot</code>: apt-get install graphviz)</p>"
        )
    out.append("<h2>Differences</h2>")
    groups = _by_category(document["differences"])
    if not groups:
        out.append("<p>No difference in observed behaviour.</p>")
    for category, title in CATEGORIES.items():
        if groups.get(category):
            out.append(f"<h3>{escape(title)} ({len(groups[category])})</h3>")
            out.append(_html_table(groups[category], a["label"], b["label"]))
    if document["timing_dependent"]:
        out.append("<h2>Timing-dependent observations (not compared)</h2>")
        out.append(
            '<p class="muted">Sent while the job might still have been moving: where such a'
            " command lands depends on timing, so these are shown side by side and never"
            " counted.</p>"
        )
        out.append(_html_table(document["timing_dependent"], a["label"], b["label"]))
    if document["notes"]:
        out.append("<h2>Notes</h2><ul>")
        out += [f"<li>{escape(n)}</li>" for n in document["notes"]]
        out.append("</ul>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"
