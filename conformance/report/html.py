"""The HTML report: one self-contained page (inline CSS and SVG, no script, no links out).

Written from the report document (:mod:`jobcheck.conformance.report.document`) and
the saved traces.  It shows the verdict and the run, the lifecycle diagram
with the coverage overlay (Graphviz SVG inline: covered transitions solid,
reachable ones never covered grey and dashed, divergent ones red), the
verb × status coverage matrix per command family, every divergence with the
documented sentence, its minimal trace (the divergent record highlighted) and
the exact command that reproduces it, the stale baseline entries and the
result of every rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from jobcheck.conformance.report.views import coverage_view, headline, result_text, run_text
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


def _matrix(document: dict[str, Any]) -> str:
    cov = document["coverage"]
    permitted = {v: set(s) for v, s in cov["permitted"].items()}
    parts = []
    for family, rows in cov["matrix"].items():
        statuses = list(next(iter(rows.values())).keys()) if rows else []
        head = "".join(f"<th>{escape(s)}</th>" for s in statuses)
        body = []
        for verb, row in rows.items():
            cells = []
            for status in statuses:
                mark = row[status]
                css = f"m-{mark}" + (" permitted" if status in permitted.get(verb, set()) else "")
                cells.append(f'<td class="{css}" title="{escape(mark)}">{MATRIX_MARK[mark]}</td>')
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
        '<span><i class="m-none"></i>not a goal</span>'
        '<span><i class="m-none permitted"></i>the model permits the verb here</span></p>'
    )
    return legend + "".join(parts)


def _divergence(e: dict[str, Any], traces: Mapping[str, Sequence[Record]]) -> str:
    head = (
        f"<h3>{escape(e['id'])} <code>{escape(e['rule'])}</code> "
        f'<span class="badge {e["status"]}">{escape(e["status"])}</span></h3>'
    )
    parts = [head]
    if e["anchor"]:
        parts.append(f"<p>Documented at <code>{escape(e['anchor'])}</code>:</p>")
    if e["quote"]:
        parts.append(f"<blockquote>{escape(e['quote'])}</blockquote>")
    if e["paraphrase"]:
        parts.append(f"<p>Rule: {escape(e['paraphrase'])}</p>")
    rows = [
        ("job type", escape(e["job_type"] or "unknown")),
        ("expected", escape(e["expected"])),
        ("observed", escape(e["observed"])),
        ("occurrences", str(e["occurrences"])),
    ]
    if e["reason"]:
        rows.append(("why accepted", escape(e["reason"])))
    parts.append(_kv(rows))
    if e["trace"]:
        trace = e["trace"]
        parts.append(
            f"<p>Minimal trace <code>{escape(trace['file'])}</code>"
            + (f", record {trace['index']} (line {trace['line']})" if trace["line"] else "")
            + ":</p>"
        )
        records = traces.get(trace["file"])
        if records is not None:
            parts.append(_trace_html(records, trace["index"]))
        parts.append(f"<p>Reproduce:</p><pre>{escape(e['repro'])}</pre>")
    else:
        parts.append(
            "<p>No trace was kept (the divergence occurred only in sessions that passed)."
            f" Reproduce with:</p><pre>{escape(e['rerun'])}</pre>"
        )
    return f'<div class="card {e["status"]}">' + "".join(parts) + "</div>"


def render(
    document: dict[str, Any], traces: Mapping[str, Sequence[Record]], svg: str | None
) -> str:
    """The HTML page.  ``svg`` is the overlay diagram (``None`` when ``dot`` is missing)."""
    run, target, outcome = document["run"], document["target"], document["outcome"]
    cov = document["coverage"]
    verdict = "pass" if outcome["exit_code"] == 0 else "fail"
    package = target["package"]
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
    out.append("<h2>Run</h2>")
    out.append(
        _kv(
            [
                ("target", escape(target["description"])),
                ("QEMU version", escape(target["qemu_version"])),
                (
                    "package",
                    escape(f"{package['name']} {package['version']}") if package else "—",
                ),
                ("model", escape(document["model"]["version"])),
                ("seed / profile", escape(f"{run['seed']} / {run['profile']}")),
                ("run", escape(run_text(run))),
                ("finished", escape(run["finished"])),
                ("command", f"<code>{escape(run['command'])}</code>"),
            ]
        )
    )
    t, c = cov["transitions"], cov["cells"]
    out.append("<h2>Coverage</h2>")
    out.append(
        f"<p>Reachable transitions: <b>{t['reached']}/{t['goal']}</b> ({t['percent']}%) · "
        f"verb × status cells: <b>{c['reached']}/{c['goal']}</b> ({c['percent']}%)</p>"
    )
    out.append(
        "<p>The model's lifecycle with this run's coverage: solid dark edges were covered, grey"
        " dashed edges are reachable but were never covered, red edges are divergent"
        " (observed, not allowed by the model).</p>"
    )
    if svg:
        out.append(f'<div class="diagram">{clean_svg(svg)}</div>')
    else:
        out.append(
            "<p>Graphviz's <code>dot</code> was not available, so here is the diagram as"
            " Mermaid text:</p><pre>" + escape(to_mermaid(_view(document))) + "</pre>"
        )
    out.append(_matrix(document))
    out.append("<h2>Divergences</h2>")
    entries = document["divergences"]
    if not entries:
        out.append("<p>None: every rule held.</p>")
    for e in sorted(entries, key=lambda e: (e["status"] != "new", e["rule"], e["id"])):
        out.append(_divergence(e, traces))
    baseline = document["baseline"]
    if baseline is not None:
        out.append("<h2>Baseline</h2>")
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
                f"<li><code>{escape(s['rule'])}</code>"
                + (f" ({escape(s['job_type'])})" if s["job_type"] else "")
                + ": covered but not reproduced — fixed? remove it from the baseline"
                + (" <b>(fails with --strict)</b>" if s["fails"] else "")
                + "</li>"
                for s in baseline["stale"]
            )
            out.append(f"<ul>{items}</ul>")
    out.append("<h2>Rules</h2>")
    rows = "".join(
        f"<tr><td><code>{escape(r['id'])}</code></td>"
        f"<td>{escape(r['anchor'] or '—')}</td><td>{escape(result_text(r))}</td>"
        f"<td>{escape(', '.join(r['divergences']))}</td></tr>"
        for r in document["rules"]
    )
    out.append(
        "<table><tr><th>rule</th><th>anchor</th><th>result</th><th>divergences</th></tr>"
        f"{rows}</table>"
    )
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"
