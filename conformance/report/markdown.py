"""The Markdown report: summary, coverage, divergences by rule, the result of every rule.

Written from the report document alone (:mod:`jobcheck.conformance.report.document`),
so it says exactly what the JSON says.  The lifecycle diagram with the coverage
overlay is an image beside the report (``overlay.svg``, when Graphviz is
installed); with ``mermaid=True`` (``jobcheck run --mermaid``) it is also
given as a fenced Mermaid block, for viewers that draw one: the model's
lifecycle with the overlay of :func:`jobcheck.model.render.overlay`, ``✓``
covered transitions, ``○`` reachable transitions never covered, ``✗``
divergent transitions (Mermaid state diagrams cannot colour an edge, so the
marker is in the label).
"""

from __future__ import annotations

import re
from typing import Any

from jobcheck.conformance.report.views import coverage_view, headline, result_text, run_text
from jobcheck.model.render import to_mermaid

STATUS_WORD = {"new": "**NEW**", "known": "known", "baselined": "baselined"}


def mermaid_text(document: dict[str, Any]) -> str:
    """The Mermaid ``stateDiagram-v2`` of the model with the run's coverage overlay."""
    return to_mermaid(coverage_view(document))


#: Characters that Markdown (CommonMark with GitHub's tables) could read as markup.
_MARKUP = re.compile(r"[\\`*_\[\]|~]")
#: HTML's specials become entities, so that no tag or entity of the input survives.
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _one_line(text: Any) -> str:
    """``text`` as one line: every line break (``str.splitlines``'s) becomes a space."""
    return " ".join(str(text).splitlines())


def _cell(text: Any) -> str:
    """Text from a trace, a baseline or QEMU as plain Markdown text: markup escaped, one line.

    >>> _cell('<img src=x onerror=alert(1)> *a* | b\\nc')
    '&lt;img src=x onerror=alert(1)&gt; \\\\*a\\\\* \\\\| b c'
    """
    line = _one_line(text)
    line = _MARKUP.sub(lambda m: "\\" + m.group(0), line)
    return "".join(_ENTITIES.get(c, c) for c in line)


def _code(text: Any, in_table: bool = False) -> str:
    """``text`` as a code span, whatever backticks it holds (one line; ``|`` escaped in tables).

    >>> _code("a `b` c")
    '`` a `b` c ``'
    """
    line = _one_line(text)
    runs = [len(run) for run in re.findall(r"`+", line)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if line.startswith("`") or line.endswith("`") or runs else ""
    if in_table:
        line = line.replace("|", "\\|")
    return f"{fence}{pad}{line}{pad}{fence}"


def render(document: dict[str, Any], *, mermaid: bool = False, image: str | None = None) -> str:
    """The whole Markdown report; ``image`` is the overlay diagram's file, relative to it."""
    run, target = document["run"], document["target"]
    cov = document["coverage"]
    package = target["package"]
    out = [f"# jobcheck report: {run['name']}", "", f"**{headline(document)}**", ""]
    out += ["## Summary", "", "| | |", "|---|---|"]
    rows = [
        ("target", target["description"]),
        ("QEMU version", target["qemu_version"]),
        ("package", f"{package['name']} {package['version']}" if package else "—"),
        ("model", document["model"]["version"]),
        ("seed / profile", f"{run['seed']} / {run['profile']}"),
        ("run", run_text(run)),
        ("finished", run["finished"]),
        ("command", _code(run["command"], in_table=True)),
    ]
    out += [f"| {k} | {v if k == 'command' else _cell(v)} |" for k, v in rows]
    outcome = document["outcome"]
    if outcome["crash"]:
        out += ["", f"**QEMU crashed:** {_cell(outcome['crash'])}"]
    if outcome["error"]:
        out += ["", f"**The campaign failed without a divergence:** {_cell(outcome['error'])}"]

    out += ["", "## Coverage", ""]
    t, c = cov["transitions"], cov["cells"]
    out.append(f"- reachable transitions: {t['reached']}/{t['goal']} ({t['percent']}%)")
    out.append(f"- verb × status cells: {c['reached']}/{c['goal']} ({c['percent']}%)")
    families = cov["summary"].get("cells", {}).get("families", {})
    for family, part in sorted(families.items()):
        out.append(f"  - `{family}-*` commands: {part.get('reached', 0)}/{part.get('goal', 0)}")
    missing = cov["summary"].get("transitions", {}).get("missing", [])
    if missing:
        out.append("- transitions never covered: " + ", ".join(f"{a} → {b}" for a, b in missing))
    missing_cells = cov["summary"].get("cells", {}).get("missing", [])
    if missing_cells:
        shown = ", ".join(f"{f}-{v} in {s}" for f, v, s in missing_cells[:30])
        more = f" and {len(missing_cells) - 30} more" if len(missing_cells) > 30 else ""
        out.append(f"- cells never reached: {shown}{more}")
    out.append("")
    if image:
        out += [
            f"![The model's lifecycle with this run's coverage]({image})",
            "",
            "Solid edges were covered, grey dashed ones were not, red ones are divergent"
            " (observed, not allowed by the model); `report.html` has the same diagram with"
            " the coverage matrix.",
            "",
        ]
    if mermaid:
        out += [
            "Lifecycle of the model with this run's coverage: ✓ covered, ○ reachable but never"
            " covered, ✗ divergent (observed, not allowed by the model).",
            "",
            "```mermaid",
            mermaid_text(document).rstrip("\n"),
            "```",
            "",
        ]

    undecided = document.get("indeterminate") or []
    if undecided:
        total = document["counts"].get("indeterminate", len(undecided))
        out += [f"## Indeterminate ({total})", ""]
        out += [
            "Eventual checks the run could not decide: the job was still working when the"
            " wait's bound ran out. Neither a pass nor a failure.",
            "",
        ]
        out += [f"- `{u['rule']}`: {_cell(u['message'])}" for u in undecided]
        out.append("")

    out += ["## Divergences", ""]
    entries = document["divergences"]
    if not entries:
        out += ["None: every rule held.", ""]
    for title, statuses in (("New", {"new"}), ("Known and baselined", {"known", "baselined"})):
        chosen = [e for e in entries if e["status"] in statuses]
        if not chosen:
            continue
        out += [f"### {title} ({len(chosen)})", ""]
        for rule in sorted({e["rule"] for e in chosen}):
            mine = [e for e in chosen if e["rule"] == rule]
            first = mine[0]
            anchor = f" — `{first['anchor']}`" if first["anchor"] else ""
            out += [f"#### `{rule}`{anchor}", ""]
            if first["quote"]:
                out += [f"> {first['quote']}", ""]
            if first["paraphrase"]:
                out += [f"Rule: {first['paraphrase']}", ""]
            for e in mine:
                out += _divergence(e)
    baseline = document["baseline"]
    if baseline is not None:
        out += ["## Baseline", ""]
        where = baseline["path"] or "?"
        state = "" if baseline["exists"] else " (the file does not exist yet)"
        out.append(
            f"{_code(where)}{state}: {baseline['entries']} entries, {baseline['matched']} matched,"
            f" {len(baseline['stale'])} stale."
        )
        if not baseline["stale_judged"]:
            out.append(
                "Stale entries were not judged: the campaign stopped at a failure before"
                " exploring everything."
            )
        for entry in baseline["stale"]:
            fails = " — fails the run (--strict)" if entry["fails"] else ""
            job = f" ({_cell(entry['job_type'])})" if entry["job_type"] else ""
            out.append(
                f"- {_code(entry['rule'])}{job}: covered but not reproduced — fixed? remove it"
                f" from the baseline{fails}"
            )
        out.append("")

    out += ["## Rules", "", "| rule | anchor | result | divergences |", "|---|---|---|---|"]
    for rule in document["rules"]:
        anchor = _code(rule["anchor"]) if rule["anchor"] else "—"
        out.append(
            f"| `{rule['id']}` | {anchor} | {result_text(rule)} |"
            f" {', '.join(rule['divergences'])} |"
        )
    return "\n".join(out) + "\n"


def _divergence(e: dict[str, Any]) -> list[str]:
    job = f", job type {_cell(e['job_type'])}" if e["job_type"] else ""
    lines = [
        f"- **{e['id']}** {STATUS_WORD[e['status']]}{job}, seen {e['occurrences']}×",
        f"  - expected: {_cell(e['expected'])}",
        f"  - observed: {_cell(e['observed'])}",
    ]
    if e["reason"]:
        lines.append(f"  - why accepted: {_cell(e['reason'])}")
    if e["trace"]:
        trace = e["trace"]
        where = f", line {trace['line']}" if trace["line"] else ""
        lines.append(f"  - trace: {_code(trace['file'])}{where}")
        lines.append(f"  - reproduce: {_code(e['repro'])}")
    else:
        lines.append(f"  - no trace kept; reproduce with: {_code(e['rerun'])}")
    lines.append("")
    return lines
