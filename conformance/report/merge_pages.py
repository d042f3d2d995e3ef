"""The merged report of a CI matrix for people: terminal lines, Markdown and HTML.

Every writer reads the merged document only (:func:`.merge.merge`): one
column per run, then the rules × runs verdicts, the coverage of each run,
and each divergence with the runs it appeared in.
"""

from __future__ import annotations

from html import escape
from typing import Any

from jobcheck.conformance.report.html import CSS

#: A rule verdict → the mark in a rules × runs table.
VERDICT_MARK = {
    "pass": "pass",
    "fail": "FAIL",
    "known": "known",
    "baselined": "baselined",
    "-": "–",
}


def _coverage(run: dict[str, Any]) -> str:
    cov = run["coverage"]
    t, c = cov["transitions"], cov["cells"]
    return (
        f"{t.get('reached')}/{t.get('goal')} transitions, {c.get('reached')}/{c.get('goal')} cells"
    )


def _families(run: dict[str, Any]) -> str:
    families = run["coverage"].get("families") or {}
    return ", ".join(
        f"{name} {part.get('reached')}/{part.get('goal')}"
        for name, part in sorted(families.items())
    )


def _counts(run: dict[str, Any]) -> str:
    counts = run["counts"]
    return (
        f"{counts.get('new', 0)} new, {counts.get('known', 0)} known,"
        f" {counts.get('baselined', 0)} baselined"
    )


def _verdict(run: dict[str, Any]) -> str:
    return f"{str(run.get('verdict') or '?').upper()} (exit {run.get('exit_code')})"


def _rows(document: dict[str, Any]) -> list[tuple[str, list[str]]]:
    runs = document["runs"]
    return [
        ("verdict", [_verdict(r) for r in runs]),
        ("QEMU", [str(r["qemu_version"]) for r in runs]),
        ("model", [str(r["model"]) for r in runs]),
        ("target", [str(r["description"]) for r in runs]),
        ("coverage", [_coverage(r) for r in runs]),
        ("cells per family", [_families(r) or "?" for r in runs]),
        ("divergences", [_counts(r) for r in runs]),
        ("crash", [str(r["crash"] or "none") for r in runs]),
        ("run", [f"seed {r['seed']}, {r['profile']}, {r['steps']} steps" for r in runs]),
    ]


def headline(document: dict[str, Any]) -> str:
    runs = len(document["runs"])
    failing = document["failing"]
    if failing:
        return f"FAIL (exit 1): {len(failing)} of {runs} runs failed: " + ", ".join(failing)
    return f"PASS (exit 0): all {runs} runs passed"


def summary_lines(document: dict[str, Any]) -> list[str]:
    """What ``jobcheck merge`` prints."""
    lines = []
    for run in document["runs"]:
        lines.append(
            f"{run['name']}: QEMU {run['qemu_version']} · model {run['model']} ·"
            f" {_verdict(run)} · {_coverage(run)} · {_counts(run)}"
        )
    names = [r["name"] for r in document["runs"]]
    for entry in document["divergences"]:
        where = ", ".join(f"{n} ({v['status']})" for n, v in entry["runs"].items())
        missing = [n for n in names if n not in entry["runs"]]
        lines.append(
            f"  {entry['rule']}: in {where}" + (f"; not in {', '.join(missing)}" if missing else "")
        )
    lines.append(f"verdict: {headline(document)}")
    return lines


# -- Markdown ----------------------------------------------------------------------------


def _md(text: Any) -> str:
    return escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def render_markdown(document: dict[str, Any]) -> str:
    """The merged report as Markdown (``merged.md``)."""
    names = [r["name"] for r in document["runs"]]
    head = "| | " + " | ".join(_md(n) for n in names) + " |"
    rule = "|---|" + "---|" * len(names)
    out = ["# jobcheck: merged report", "", f"**{_md(headline(document))}**", "", head, rule]
    out += [
        f"| {name} | " + " | ".join(_md(v) for v in values) + " |"
        for name, values in _rows(document)
    ]
    out += ["", "## Rules", "", "| rule | " + " | ".join(_md(n) for n in names) + " |", rule]
    for entry in document["rules"]:
        marks = [VERDICT_MARK.get(str(entry["runs"][n]), str(entry["runs"][n])) for n in names]
        out.append(f"| `{_md(entry['id'])}` | " + " | ".join(marks) + " |")
    out += ["", "## Divergences", ""]
    if not document["divergences"]:
        out.append("None.")
    else:
        out += [
            "| rule | observed | " + " | ".join(_md(n) for n in names) + " |",
            "|---|---|" + "---|" * len(names),
        ]
        for entry in document["divergences"]:
            marks = [_md(entry["runs"][n]["status"]) if n in entry["runs"] else "–" for n in names]
            out.append(
                f"| `{_md(entry['rule'])}` | {_md(entry['observed'])} | " + " | ".join(marks) + " |"
            )
    return "\n".join(out) + "\n"


# -- HTML --------------------------------------------------------------------------------

_CSS_EXTRA = """
.v-pass{background:#c8e6c9}.v-FAIL{background:#ffcdd2;font-weight:600}
.v-known{background:#fff3c4}.v-baselined{background:#d6e6fb}.v-none{color:#999}
"""


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def render_html(document: dict[str, Any]) -> str:
    """The merged report as one self-contained HTML page."""
    names = [r["name"] for r in document["runs"]]
    verdict = "fail" if document["failing"] else "pass"
    head = ["", *(escape(n) for n in names)]
    overview = [
        [f"<th>{escape(name)}</th>", *(f"<td>{escape(v)}</td>" for v in values)]
        for name, values in _rows(document)
    ]
    rules = []
    for entry in document["rules"]:
        row = [f"<td><code>{escape(str(entry['id']))}</code></td>"]
        for name in names:
            mark = VERDICT_MARK.get(str(entry["runs"][name]), str(entry["runs"][name]))
            css = "v-none" if mark == "–" else f"v-{mark}"
            row.append(f'<td class="{css}">{escape(mark)}</td>')
        rules.append(row)
    divergences = []
    for entry in document["divergences"]:
        row = [
            f"<td><code>{escape(str(entry['rule']))}</code></td>",
            f"<td>{escape(str(entry['observed']))}</td>",
        ]
        for name in names:
            seen = entry["runs"].get(name)
            status = str(seen["status"]) if seen else "–"
            css = {"new": "v-FAIL", "known": "v-known", "baselined": "v-baselined"}.get(
                status, "v-none"
            )
            row.append(f'<td class="{css}">{escape(status)}</td>')
        divergences.append(row)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>jobcheck: merged report</title>",
        f"<style>{CSS}{_CSS_EXTRA}</style></head><body><main>",
        "<h1>jobcheck: merged report</h1>",
        f'<p><span class="verdict {verdict}">{verdict.upper()}</span> '
        f"{escape(headline(document))}</p>",
        "<h2>Runs</h2>",
        _table(head, overview),
        "<h2>Rules</h2>",
        _table(["rule", *head[1:]], rules),
        "<h2>Divergences</h2>",
        _table(["rule", "observed", *head[1:]], divergences) if divergences else "<p>None.</p>",
        "</main></body></html>",
    ]
    return "\n".join(out) + "\n"
