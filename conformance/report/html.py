"""The HTML report: one self-contained page (inline CSS and SVG, no script, no links out
but to the trace files beside it).

Written from the report document (:mod:`jobcheck.conformance.report.document`) and
the saved traces.  A table of contents leads to the verdict and the run, the
lifecycle diagram with the coverage overlay (Graphviz SVG inline: covered
transitions solid, reachable ones never covered grey and dashed, divergent
ones red), the verb × status coverage matrix per command family (with why a
cell is blank), every transition of the model and whether it was covered,
every divergence (anchored by its id: ``#d01``) with the documented sentence,
its minimal trace folded away (the divergent record highlighted; the whole
``.jsonl`` linked) and the exact command that reproduces it, the stale baseline
entries, and the result of every rule (``#rule-RULE``), each linked to its
divergences and back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from jobcheck.conformance.report.views import (
    blank_columns,
    coverage_view,
    edge_rows,
    headline,
    result_text,
    run_text,
    transitions_in,
)
from jobcheck.conformance.trace.records import Command, Event, Note, Record, Response
from jobcheck.model.render import to_dot, to_mermaid

TRACE_BEFORE = 24
TRACE_AFTER = 8
"""Records shown before and after the divergent one (the .jsonl file has them all)."""

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;
 margin:0;color:#1d1d1f;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;
 border-bottom:1px solid #d0d4da;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.verdict{display:inline-block;padding:3px 10px;border-radius:4px;font-weight:600;color:#fff}
.pass{background:#2e7d32}.fail{background:#c62828}
table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #d0d4da;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef0f3;font-weight:600}
.kv th{width:160px}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#fff;border:1px solid #d0d4da;padding:8px;overflow-x:auto;margin:6px 0}
.diagram{background:#fff;border:1px solid #d0d4da;padding:8px;text-align:center;overflow-x:auto}
.diagram svg{max-width:100%;height:auto}
.matrix td{text-align:center;width:54px;font-weight:600}
.m-accepted{background:#c8e6c9;color:#1b5e20}.m-refused{background:#e3e8f0;color:#37474f}
.m-both{background:#b2dfdb;color:#004d40}.m-missing{background:#ffe0b2;color:#e65100}
.m-none{background:#fafafa;color:#bbb}.permitted{box-shadow:inset 0 0 0 2px #1f5fbf}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:14px;height:14px;vertical-align:-2px;margin-right:4px;
 border:1px solid #ccc}
.card{background:#fff;border:1px solid #d0d4da;border-left:5px solid #999;padding:10px 14px;
 margin:12px 0;border-radius:3px}
.card.new{border-left-color:#c62828}.card.known{border-left-color:#f9a825}
.card.baselined{border-left-color:#1f5fbf}
.badge{font-size:12px;font-weight:600;padding:1px 7px;border-radius:3px;color:#fff}
.badge.new{background:#c62828}.badge.known{background:#f9a825;color:#222}
.badge.baselined{background:#1f5fbf}
blockquote{margin:6px 0;padding:2px 10px;border-left:3px solid #bbb;color:#444}
.trace .hit{background:#ffcdd2;font-weight:600}
.trace .note{color:#1f5fbf}.trace .event{color:#6a1b9a}.trace .error{color:#c62828}
.muted{color:#666}
nav.toc{background:#fff;border:1px solid #d0d4da;padding:8px 16px;margin:16px 0}
nav.toc h2{border:0;margin:4px 0;font-size:15px}nav.toc ol{margin:4px 0;padding-left:22px}
nav.toc li{margin:2px 0}a{color:#1f5fbf;text-decoration:none}a:hover{text-decoration:underline}
details{margin:6px 0}details>summary{cursor:pointer;color:#1f5fbf}
.card h3{margin:2px 0 8px}.card .what{margin:4px 0 8px}
.r-fail{color:#c62828;font-weight:600}.r-pass{color:#2e7d32}.r-known{color:#a36d00}
.r-not-exercised,.r-unchecked{color:#666;font-style:italic}
.e-divergent{color:#c62828;font-weight:600}.e-uncovered{color:#666}
section:target,tr:target{outline:2px solid #1f5fbf}
"""


def clean_svg(svg: str) -> str:
    """Graphviz SVG made fit to inline: no XML declaration, doctype or comments."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return svg.strip()


def overlay_dot(document: dict[str, Any]) -> str:
    """The DOT source of the model's lifecycle with the run's coverage overlay."""
    return to_dot(_view(document))


def _view(document: dict[str, Any]) -> Any:
    return coverage_view(document)


def trace_lines(records: Sequence[Record]) -> list[tuple[str, str]]:
    """(CSS class, text) for each record: ``# note``, ``→ command``, ``← reply``, ``! event``."""
    out: list[tuple[str, str]] = []
    for r in records:
        if isinstance(r, Note):
            out.append(("note", f"# {r.text}"))
        elif isinstance(r, Command):
            args = f" {json.dumps(r.arguments, sort_keys=True)}" if r.arguments else ""
            out.append(("command", f"→ {r.execute}{args}"))
        elif isinstance(r, Response):
            if r.error is not None:
                out.append(("error", f"← error {r.error.error_class}: {r.error.desc}"))
            else:
                out.append(("response", f"← return {json.dumps(r.value, sort_keys=True)}"))
        elif isinstance(r, Event):
            out.append(("event", f"! {r.event} {json.dumps(r.data, sort_keys=True)}"))
    return out


def _anchor(name: str) -> str:
    """An element id (rule ids and statuses are already safe; spaces are not)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def rule_anchor(rule: str) -> str:
    """``rule-status.transition-table``."""
    return "rule-" + _anchor(rule)


def edge_anchor(source: str, target: str) -> str:
    """``edge-running-paused``."""
    return f"edge-{_anchor(source)}-{_anchor(target)}"


def _trace_html(records: Sequence[Record], index: int | None) -> str:
    lines = trace_lines(records)
    start, end = 0, len(lines)
    if index is not None:
        start, end = max(0, index - TRACE_BEFORE), min(len(lines), index + TRACE_AFTER + 1)
    rows = []
    if start:
        rows.append(f'<span class="muted">… {start} earlier records</span>')
    for number in range(start, end):
        css, text = lines[number]
        css += " hit" if number == index else ""
        rows.append(f'<span class="{css}">{number:4d}  {escape(text)}</span>')
    if end < len(lines):
        rows.append(f'<span class="muted">… {len(lines) - end} later records</span>')
    return '<pre class="trace">' + "\n".join(rows) + "</pre>"


def _kv(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


MATRIX_MARK = {"accepted": "✓", "refused": "✗", "both": "✓✗", "missing": "?", "none": ""}
MATRIX_WORDS = {
    "accepted": "accepted",
    "refused": "refused",
    "both": "accepted and refused",
    "missing": "reachable, never reached",
    "none": "not a goal",
}


def _matrix(document: dict[str, Any]) -> str:
    cov = document["coverage"]
    permitted = {v: set(s) for v, s in cov["permitted"].items()}
    blank = blank_columns(document)
    parts = []
    for family, rows in cov["matrix"].items():
        statuses = list(next(iter(rows.values())).keys()) if rows else []
        head = "".join(
            f"<th{' class=muted' if s in blank else ''}>{escape(s)}</th>" for s in statuses
        )
        body = []
        for verb, row in rows.items():
            cells = []
            for status in statuses:
                mark = row[status]
                css = f"m-{mark}" + (" permitted" if status in permitted.get(verb, set()) else "")
                why = blank.get(status, "no job kind the campaign drives can be sent it here")
                title = MATRIX_WORDS[mark] + (f": {why}" if mark == "none" else "")
                cells.append(f'<td class="{css}" title="{escape(title)}">{MATRIX_MARK[mark]}</td>')
            body.append(f"<tr><th>{escape(verb)}</th>{''.join(cells)}</tr>")
        parts.append(
            f"<h3><code>{escape(family)}-*</code> commands</h3>"
            f'<table class="matrix"><tr><th>verb \\ status</th>{head}</tr>{"".join(body)}</table>'
        )
    legend = (
        '<p class="legend">'
        '<span><i class="m-accepted"></i>accepted</span>'
        '<span><i class="m-refused"></i>refused</span>'
        '<span><i class="m-both"></i>both seen</span>'
        '<span><i class="m-missing"></i>reachable, never reached</span>'
        '<span><i class="m-none"></i>not a goal (blank)</span>'
        '<span><i class="m-none permitted"></i>the model permits the verb here</span></p>'
    )
    notes = "".join(
        f"<li><b>{escape(status)}</b>: {escape(why)}</li>" for status, why in blank.items()
    )
    explained = (
        f"<p>Blank columns: no verb can be sent to a job in these statuses.</p><ul>{notes}</ul>"
        if notes
        else ""
    )
    return legend + "".join(parts) + explained


def _edges(document: dict[str, Any]) -> str:
    words = {
        "covered": "covered",
        "uncovered": "not covered (reachable)",
        "divergent": "divergent: seen, not allowed",
        "unreachable": "not covered (no driver step causes it)",
    }
    rows = "".join(
        f'<tr id="{edge_anchor(a, b)}"><td>{escape(a)} → {escape(b)}</td>'
        f'<td class="e-{state}">{escape(words[state])}</td><td>'
        + ", ".join(f'<a href="#{d}">{escape(d)}</a>' for d in ids)
        + "</td></tr>"
        for a, b, state, ids in edge_rows(document)
    )
    return (
        '<table class="edges"><tr><th>transition</th><th>this run</th><th>divergences</th></tr>'
        f"{rows}</table>"
    )


def _divergence(e: dict[str, Any], traces: Mapping[str, Sequence[Record]]) -> str:
    job = f"{e['job_type']} job · " if e["job_type"] else ""
    head = (
        f'<h3><a href="#{escape(e["id"])}">{escape(e["id"])}</a> '
        f'<a href="#{rule_anchor(e["rule"])}"><code>{escape(e["rule"])}</code></a> '
        f'<span class="badge {e["status"]}">{escape(e["status"])}</span> '
        f'<span class="muted">{escape(job)}seen {e["occurrences"]}×</span></h3>'
    )
    parts = [head, f'<p class="what">{escape(e["message"])}</p>']
    rows = []
    if e["anchor"] or e["quote"]:
        quote = f"<blockquote>{escape(e['quote'])}</blockquote>" if e["quote"] else ""
        where = f"<code>{escape(e['anchor'])}</code>" if e["anchor"] else ""
        rows.append(("documented", where + quote))
    if e["paraphrase"] and e["paraphrase"].rstrip(".").lower() != e["expected"].lower():
        rows.append(("rule", escape(e["paraphrase"])))
    rows += [("expected", escape(e["expected"])), ("observed", escape(e["observed"]))]
    edges = transitions_in(e)
    if edges:
        links = ", ".join(
            f'<a href="#{edge_anchor(a, b)}">{escape(a)} → {escape(b)}</a>' for a, b in edges
        )
        rows.append(("transition", links))
    if e["reason"]:
        rows.append(("why accepted", escape(e["reason"])))
    parts.append(_kv(rows))
    if e["trace"]:
        trace = e["trace"]
        where = (
            (f", record {trace['index']} (line {trace['line']})" if trace["line"] else "")
            + f" of {trace['records']}"
            + (", an excerpt" if trace["excerpt"] else "")
        )
        link = f'<a href="{escape(trace["file"])}"><code>{escape(trace["file"])}</code></a>'
        records = traces.get(trace["file"])
        shown = _trace_html(records, trace["index"]) if records is not None else ""
        parts.append(
            f"<details><summary>Minimal trace{escape(where)}</summary>"
            f"<p>The whole trace: {link}</p>{shown}</details>"
        )
        parts.append(f"<p>Reproduce:</p><pre>{escape(e['repro'])}</pre>")
    else:
        parts.append(
            "<p>No trace was kept (the divergence occurred only in sessions that passed)."
            f" Reproduce with:</p><pre>{escape(e['rerun'])}</pre>"
        )
    return (
        f'<section class="card {e["status"]}" id="{escape(e["id"])}">'
        + "".join(parts)
        + "</section>"
    )


def _toc(document: dict[str, Any]) -> str:
    entries = document["divergences"]
    items = "".join(
        f'<li><a href="#{escape(e["id"])}">{escape(e["id"])}</a> '
        f'<code>{escape(e["rule"])}</code> <span class="badge {e["status"]}">'
        f"{escape(e['status'])}</span></li>"
        for e in _ordered(entries)
    )
    divergences = f"<ol>{items}</ol>" if items else ""
    baseline = '<li><a href="#baseline">Baseline</a></li>' if document["baseline"] else ""
    total = document["counts"].get("indeterminate", 0) if document.get("indeterminate") else 0
    undecided = f'<li><a href="#indeterminate">Indeterminate ({total})</a></li>' if total else ""
    return (
        '<nav class="toc"><h2>Contents</h2><ol>'
        '<li><a href="#run">Run</a></li>'
        '<li><a href="#coverage">Coverage</a>: <a href="#diagram">lifecycle</a>,'
        ' <a href="#matrix">verb × status matrix</a>, <a href="#transitions">transitions</a></li>'
        f"{undecided}"
        f'<li><a href="#divergences">Divergences ({len(entries)})</a>{divergences}</li>'
        f"{baseline}"
        f'<li><a href="#rules">Rules ({len(document["rules"])})</a></li>'
        "</ol></nav>"
    )


def _ordered(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (e["status"] != "new", e["rule"], e["id"]))


def render(
    document: dict[str, Any], traces: Mapping[str, Sequence[Record]], svg: str | None
) -> str:
    """The HTML page.  ``svg`` is the overlay diagram (``None`` when ``dot`` is missing)."""
    run, target, outcome = document["run"], document["target"], document["outcome"]
    cov = document["coverage"]
    verdict = "pass" if outcome["exit_code"] == 0 else "fail"
    package = target["package"]
    model = document["model"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>jobcheck: {escape(run['name'])}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<h1>jobcheck report: {escape(run['name'])}</h1>",
        f'<p><span class="verdict {verdict}">{verdict.upper()}</span> '
        f"{escape(headline(document))}</p>",
    ]
    if outcome["crash"]:
        out.append(f'<p class="error"><b>QEMU crashed:</b> {escape(outcome["crash"])}</p>')
    if outcome["error"]:
        out.append(
            f"<p><b>The campaign failed without a divergence:</b> {escape(outcome['error'])}</p>"
        )
    out.append(_toc(document))
    out.append('<section id="run"><h2>Run</h2>')
    out.append(
        _kv(
            [
                ("target", escape(target["description"])),
                ("QEMU version", escape(target["qemu_version"])),
                (
                    "package",
                    escape(f"{package['name']} {package['version']}") if package else "—",
                ),
                ("model", escape(model.get("choice") or model["version"])),
                ("seed / profile", escape(f"{run['seed']} / {run['profile']}")),
                ("run", escape(run_text(run))),
                ("finished", escape(run["finished"])),
                ("command", f"<code>{escape(run['command'])}</code>"),
            ]
        )
    )
    out.append("</section>")
    t, c = cov["transitions"], cov["cells"]
    out.append('<section id="coverage"><h2>Coverage</h2>')
    out.append(
        f"<p>Reachable transitions: <b>{t['reached']}/{t['goal']}</b> ({t['percent']}%) · "
        f"verb × status cells: <b>{c['reached']}/{c['goal']}</b> ({c['percent']}%)</p>"
    )
    out.append('<h3 id="diagram">Lifecycle</h3>')
    out.append(
        "<p>The model's lifecycle with this run's coverage: solid dark edges were covered, grey"
        " dashed edges were not, red edges are divergent (observed, not allowed by the model);"
        ' each is listed under <a href="#transitions">transitions</a>.</p>'
    )
    if svg:
        out.append(f'<div class="diagram">{clean_svg(svg)}</div>')
    else:
        out.append(
            "<p>Graphviz's <code>dot</code> was not available, so here is the diagram as"
            " Mermaid text:</p><pre>" + escape(to_mermaid(_view(document))) + "</pre>"
        )
    out.append('<h3 id="matrix">Verb × status matrix</h3>')
    out.append(_matrix(document))
    out.append('<h3 id="transitions">Transitions</h3>')
    out.append(_edges(document))
    out.append("</section>")
    undecided = document.get("indeterminate") or []
    if undecided:
        total = document["counts"].get("indeterminate", len(undecided))
        out.append(f'<section id="indeterminate"><h2>Indeterminate ({total})</h2>')
        out.append(
            "<p>Eventual checks the run could not decide: the job was still working when the"
            " wait's bound ran out. Neither a pass nor a failure.</p>"
        )
        items = "".join(
            f"<li><code>{escape(u['rule'])}</code>: {escape(u['message'])}</li>" for u in undecided
        )
        out.append(f"<ul>{items}</ul></section>")
    out.append('<section id="divergences"><h2>Divergences</h2>')
    entries = document["divergences"]
    if not entries:
        out.append("<p>None: every rule held.</p>")
    for e in _ordered(entries):
        out.append(_divergence(e, traces))
    out.append("</section>")
    baseline = document["baseline"]
    if baseline is not None:
        out.append('<section id="baseline"><h2>Baseline</h2>')
        out.append(
            f"<p><code>{escape(baseline['path'] or '?')}</code>: {baseline['entries']} entries,"
            f" {baseline['matched']} matched, {len(baseline['stale'])} stale.</p>"
        )
        if not baseline["stale_judged"]:
            out.append(
                "<p>Stale entries were not judged: the campaign stopped at a failure before"
                " exploring everything.</p>"
            )
        if baseline["stale"]:
            items = "".join(
                f'<li><a href="#{rule_anchor(s["rule"])}"><code>{escape(s["rule"])}</code></a>'
                + (f" ({escape(s['job_type'])})" if s["job_type"] else "")
                + ": covered but not reproduced — fixed? remove it from the baseline"
                + (" <b>(fails with --strict)</b>" if s["fails"] else "")
                + "</li>"
                for s in baseline["stale"]
            )
            out.append(f"<ul>{items}</ul>")
        out.append("</section>")
    out.append('<section id="rules"><h2>Rules</h2>')
    out.append(
        "<p>A rule passes only when a record of this run put it to the test (<i>tested in N"
        " runs</i>: the tour and each example are runs);"
        " <i>not exercised</i>: no step reached a situation it is about; <i>unchecked</i>:"
        " no check enforces it yet.</p>"
    )
    rows = "".join(
        f'<tr id="{rule_anchor(r["id"])}"><td><code>{escape(r["id"])}</code></td>'
        f"<td>{escape(r['anchor'] or '—')}</td>"
        f'<td class="r-{escape(r["result"])}">{escape(result_text(r))}</td><td>'
        + ", ".join(f'<a href="#{escape(d)}">{escape(d)}</a>' for d in r["divergences"])
        + "</td></tr>"
        for r in document["rules"]
    )
    out.append(
        "<table><tr><th>rule</th><th>anchor</th><th>result</th><th>divergences</th></tr>"
        f"{rows}</table>"
    )
    out.append("</section>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"
