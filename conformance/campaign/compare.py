"""What differs between what two builds did: the comparison behind ``jobcheck compare``.

:func:`compare` reads two runs — live ones that :mod:`.paired` has just made,
or two saved ``report.json`` files — as :class:`Side` objects and lists every
:class:`Difference` in observed behaviour, each in one category:

``command``
    a job command (``block-job-change``) one build has and the other does
    not: introspected, or answered with ``CommandNotFound``; its cells are
    counted under it rather than listed one by one;
``permission``
    a cell (job kind × command × status) accepted on one build and refused on
    the other;
``error-text``
    a cell refused on both, with another error class or text (job ids, node
    names and paths normalised);
``transitions``
    a cell accepted on both that moved the job through other statuses or
    events; a plan of the tour whose steps went differently; a status change
    seen on one build only; a cell reached on one build only;
``query-jobs``
    other members listed by ``query-jobs`` for a job of a kind in a status;
``divergence``
    a rule of the model broken on one build only;
``crash``
    QEMU crashed on one build only (or with another message).

**Timing is never a difference.**  Everything compared is a *set* of
outcomes per key, and the keys and outcomes are chosen so that a live QEMU's
timing cannot change them (:mod:`.observations` says how):

* a cell is keyed by the status the job was in when the command was *sent*,
  after the previous step settled, and its outcome takes every event of the
  job until the next step, whether the event came before or after the
  command's return — so the race between events and returns does not
  matter;
* what happens to one job is kept per job: how the events of several jobs
  interleave is never compared;
* how often something was seen is never compared: the tour repeats a plan
  until a fresh job rests where it should, and a probe (job-complete right
  behind a soft cancel) until it lands in its window — only the set of
  outcomes counts;
* observations made while a job might still have been moving (after a step
  that does not settle, a settle that timed out, a refusal naming another
  status than the one last seen) are *timing-dependent* by construction:
  they are listed, both sides side by side, and never compared; what they
  are about is still checked by the oracle on each side, and a rule broken
  on one side only is a ``divergence`` difference;
* cells of the Hypothesis exploration are compared only when both runs
  took exactly the same steps (their digests agree), and even then only
  where both reached the same key;
* plans and ``query-jobs`` members are compared where both builds ran the
  plan or listed such a job; a plan or cell only one side ran is not a
  behaviour difference by itself, unless the other side never reached that
  status at all.

Reports written before ``schema_version`` 2 have no observations; a
comparison with one of them falls back to what both have — accepted or
refused per command family × verb × status, the transitions seen, the rules
broken and the crash — and says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jobcheck.conformance.campaign.observations import normalise, outcome_text

#: Category → what a reviewer reads.
CATEGORIES: dict[str, str] = {
    "command": "new verb or command",
    "permission": "changed permission",
    "error-text": "changed error text",
    "transitions": "different transitions or events",
    "query-jobs": "different query-jobs members",
    "divergence": "different divergences from the model",
    "crash": "crash",
}

COMPARE_FORMAT = "jobcheck-compare"
COMPARE_VERSION = 1


@dataclass(frozen=True)
class Difference:
    """One difference: its category, what it is about, and what each side did."""

    category: str
    subject: str
    a: tuple[str, ...]
    b: tuple[str, ...]
    detail: str = ""
    status: str | None = None
    """The job status a cell difference is about (for the diff diagram)."""
    command: str | None = None
    """The command a cell difference is about (``None``: the status was not reached)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "title": CATEGORIES[self.category],
            "subject": self.subject,
            "a": list(self.a),
            "b": list(self.b),
            "detail": self.detail,
            "status": self.status,
            "command": self.command,
        }


@dataclass
class Side:
    """What a comparison reads from one run (its ``report.json`` document)."""

    label: str
    description: str
    qemu_version: str
    model: str
    schema_version: int
    verbs: tuple[str, ...]
    matrix: dict[str, dict[str, dict[str, str]]]
    edges: set[tuple[str, str]]
    divergences: dict[str, dict[str, Any]]
    crash: str | None
    stopped: str | None
    coverage: dict[str, Any]
    observations: dict[str, Any] | None = None
    run: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: dict[str, Any], label: str) -> Side:
        """The side of a report document (``schema_version`` 1 or 2)."""
        coverage = document.get("coverage", {})
        edges_doc = coverage.get("edges", {})
        edges = {
            (str(a), str(b)) for key in ("covered", "divergent") for a, b in edges_doc.get(key, [])
        }
        divergences: dict[str, dict[str, Any]] = {}
        for entry in document.get("divergences", []):
            mine = divergences.setdefault(
                str(entry["rule"]),
                {"status": entry.get("status"), "occurrences": 0, "observed": []},
            )
            mine["occurrences"] += int(entry.get("occurrences", 1))
            if len(mine["observed"]) < 3:
                mine["observed"].append(str(entry.get("observed", "")))
        outcome = document.get("outcome", {})
        failure = outcome.get("failure")
        stopped = None
        if failure and not outcome.get("crash"):
            stopped = f"the run stopped at a failure after {document['run'].get('steps')} steps"
        target = document.get("target", {})
        return cls(
            label=label,
            description=str(target.get("description", "?")),
            qemu_version=str(target.get("qemu_version", "?")),
            model=str(document.get("model", {}).get("version", "?")),
            schema_version=int(document.get("schema_version", 0)),
            verbs=tuple(coverage.get("permitted", {})),
            matrix=coverage.get("matrix", {}),
            edges=edges,
            divergences=divergences,
            crash=outcome.get("crash"),
            stopped=stopped,
            coverage={k: coverage.get(k, {}) for k in ("transitions", "cells") if k in coverage},
            observations=document.get("observations"),
            run=dict(document.get("run", {})),
        )

    def summary(self) -> dict[str, Any]:
        explore = (self.observations or {}).get("exploration", {})
        return {
            "label": self.label,
            "description": self.description,
            "qemu_version": self.qemu_version,
            "model": self.model,
            "schema_version": self.schema_version,
            "seed": self.run.get("seed"),
            "steps": self.run.get("steps"),
            "examples": self.run.get("examples"),
            "seconds": self.run.get("seconds"),
            "coverage": self.coverage,
            "crash": self.crash,
            "stopped": self.stopped,
            "steps_digest": explore.get("steps_digest"),
            "divergences": {rule: d["status"] for rule, d in sorted(self.divergences.items())},
        }


@dataclass
class Comparison:
    """The outcome of :func:`compare`."""

    a: Side
    b: Side
    differences: list[Difference]
    timing: list[Difference]
    """Timing-dependent observations, side by side (never differences)."""
    notes: list[str]
    granularity: str
    diagram: dict[str, Any]

    @property
    def same(self) -> bool:
        return not self.differences

    @property
    def exit_code(self) -> int:
        return 0 if self.same else 1

    def counts(self) -> dict[str, int]:
        out = {category: 0 for category in CATEGORIES}
        for difference in self.differences:
            out[difference.category] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format": COMPARE_FORMAT,
            "version": COMPARE_VERSION,
            "verdict": "same" if self.same else "different",
            "exit_code": self.exit_code,
            "granularity": self.granularity,
            "a": self.a.summary(),
            "b": self.b.summary(),
            "counts": self.counts(),
            "differences": [d.to_json() for d in self.differences],
            "timing_dependent": [d.to_json() for d in self.timing],
            "notes": self.notes,
            "diagram": self.diagram,
        }


# -- helpers ---------------------------------------------------------------------------


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _cells(items: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], set[str]]:
    return {
        (str(c["kind"]), str(c["command"]), str(c["status"])): {_dump(o) for o in c["outcomes"]}
        for c in items
    }


def _texts(outcomes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(outcome_text(o) for o in outcomes)) or ("(not observed)",)


def _accepted(outcomes: Iterable[str]) -> set[bool]:
    return {bool(json.loads(o).get("accepted")) for o in outcomes}


def _command_of(label: str) -> str:
    return label.split(" ", 1)[0]


def _exists(obs: dict[str, Any], command: str) -> bool | None:
    """Whether the build has ``command``: from introspection, else from its answers;
    ``None`` when it was neither introspected nor sent."""
    commands = obs.get("commands", {})
    known = commands.get("known")
    if known is not None:
        return command in known
    if command in commands.get("not_found", []):
        return False
    if command in commands.get("sent", []):
        return True
    return None


_VERB_OF_COMMAND = re.compile(r"^(?:block-)?job-(.+)$")


def _verb(command: str) -> str | None:
    match = _VERB_OF_COMMAND.match(command)
    return match.group(1) if match else None


def _cell_subject(key: tuple[str, str, str]) -> str:
    kind, command, status = key
    return f"{kind} · {command} · in {status}"


def _classify_cell(a: set[str], b: set[str]) -> str:
    if _accepted(a) != _accepted(b):
        return "permission"
    if _accepted(a) == {False}:
        return "error-text"
    return "transitions"


def _cell_difference(
    key: tuple[str, str, str], a: set[str], b: set[str], where: str = ""
) -> Difference:
    return Difference(
        _classify_cell(a, b),
        _cell_subject(key) + where,
        _texts(a),
        _texts(b),
        status=key[2],
        command=key[1],
    )


# -- the comparison ----------------------------------------------------------------------


def compare(a: Side, b: Side) -> Comparison:
    """Every difference in observed behaviour between ``a`` and ``b`` (see the module
    docstring)."""
    notes: list[str] = []
    for side in (a, b):
        if side.stopped:
            notes.append(
                f"{side.label}: {side.stopped}; what it did not reach shows as reached on one"
                " side only"
            )
    if a.observations is not None and b.observations is not None:
        differences, timing, cells_only = _compare_observations(a, b, notes)
        granularity = "observations"
    else:
        old = [s.label for s in (a, b) if s.observations is None]
        notes.append(
            f"report {' and '.join(old)} has schema_version 1 (no per-cell observations):"
            " compared as accepted/refused per command family × verb × status, the"
            " transitions seen, the rules broken and crashes"
        )
        differences, cells_only = _compare_matrices(a, b), {}
        timing = []
        granularity = "matrix"
    differences += _compare_edges(a, b)
    differences += _compare_divergences(a, b)
    differences += _compare_crash(a, b)
    diagram = _diagram(a, b, differences, cells_only)
    return Comparison(a, b, differences, timing, notes, granularity, diagram)


def _compare_observations(
    a: Side, b: Side, notes: list[str]
) -> tuple[list[Difference], list[Difference], dict[str, dict[str, list[str]]]]:
    oa, ob = a.observations or {}, b.observations or {}
    missing, out = _compare_commands(a, b)
    only: dict[str, dict[str, list[str]]] = {"A": {}, "B": {}}
    out += _compare_cells(a, b, missing, only, notes)
    out += _compare_plans(oa, ob, notes)
    out += _compare_query(oa, ob)
    out += _compare_kind_transitions(a, b)
    out += _compare_exploration(oa, ob, missing, notes)
    ra, rb = _cells(oa.get("racy_cells", [])), _cells(ob.get("racy_cells", []))
    timing = [
        Difference(
            "transitions", _cell_subject(key), _texts(ra.get(key, ())), _texts(rb.get(key, ()))
        )
        for key in sorted(set(ra) | set(rb))
    ]
    return out, timing, only


def _compare_commands(a: Side, b: Side) -> tuple[dict[str, str], list[Difference]]:
    """Job commands one build has and the other lacks; returns them (→ the side that has
    them) with their differences."""
    oa, ob = a.observations or {}, b.observations or {}
    names: set[str] = set()
    for obs in (oa, ob):
        commands = obs.get("commands", {})
        names |= set(commands.get("known") or []) | set(commands.get("sent", []))
    tour = {a.label: _cells(oa.get("cells", [])), b.label: _cells(ob.get("cells", []))}
    missing: dict[str, str] = {}
    out: list[Difference] = []
    for command in sorted(names):
        has_a, has_b = _exists(oa, command), _exists(ob, command)
        verb = _verb(command)
        if has_a is None and verb is not None and verb not in a.verbs:
            has_a = False
        if has_b is None and verb is not None and verb not in b.verbs:
            has_b = False
        if has_a is None or has_b is None or has_a == has_b:
            continue
        owner, other = (b, a) if has_b else (a, b)
        cells = tour[owner.label]
        mine = [k for k in cells if _command_of(k[1]) == command]
        accepted = sum(1 for k in mine if True in _accepted(cells[k]))
        detail = f"{owner.label} has {command}; {other.label} does not"
        if mine:
            detail += (
                f" ({owner.label} answered it in {len(mine)} cells of the tour,"
                f" accepting it in {accepted})"
            )
        yes, no = ("has it",), ("does not have it",)
        out.append(
            Difference("command", command, yes if has_a else no, yes if has_b else no, detail)
        )
        missing[command] = owner.label
    return missing, out


def _compare_cells(
    a: Side,
    b: Side,
    missing: dict[str, str],
    only: dict[str, dict[str, list[str]]],
    notes: list[str],
) -> list[Difference]:
    """The tour's cells: same key, other outcomes; or a status one side never reached
    (one difference per job kind and status)."""
    ca = _cells((a.observations or {}).get("cells", []))
    cb = _cells((b.observations or {}).get("cells", []))
    out: list[Difference] = []
    unreached: dict[tuple[str, str, str], list[str]] = {}
    for key in sorted(set(ca) | set(cb)):
        if _command_of(key[1]) in missing:
            continue
        if key in ca and key in cb:
            if ca[key] != cb[key]:
                out.append(_cell_difference(key, ca[key], cb[key]))
            continue
        side, other = (a, cb) if key in ca else (b, ca)
        kind, _, status = key
        if any(k[0] == kind and k[2] == status for k in other):
            only[side.label].setdefault(status, []).append(key[1])
        else:
            unreached.setdefault((kind, status, side.label), []).append(key[1])
    for (kind, status, label), commands in sorted(unreached.items()):
        reached = (f"reached: {len(commands)} commands answered there",)
        never = ("never reached",)
        out.append(
            Difference(
                "transitions",
                f"{kind} · in {status}",
                reached if label == a.label else never,
                reached if label == b.label else never,
                f"only {label} had a {kind} job in {status}",
                status=status,
            )
        )
    single = sum(len(v) for sides in only.values() for v in sides.values())
    if single:
        notes.append(
            f"{single} cells were tried on one side only (the tour adapts to what each build"
            " answers); they are differences only where the other side never reached that status"
        )
    return out


def _compare_plans(oa: dict[str, Any], ob: dict[str, Any], notes: list[str]) -> list[Difference]:
    pa, pb = _plans(oa), _plans(ob)
    out = [
        Difference(
            "transitions",
            f"plan ({key[0]}): " + "; ".join(key[1]),
            _plan_texts(pa[key]),
            _plan_texts(pb[key]),
        )
        for key in sorted(set(pa) & set(pb))
        if pa[key] != pb[key]
    ]
    one_sided = len(set(pa) ^ set(pb))
    if one_sided:
        notes.append(f"{one_sided} plans ran on one side only; they are not compared")
    return out


def _compare_query(oa: dict[str, Any], ob: dict[str, Any]) -> list[Difference]:
    qa, qb = _query(oa), _query(ob)
    return [
        Difference(
            "query-jobs", f"{key[0]} in {key[1]}", tuple(sorted(qa[key])), tuple(sorted(qb[key]))
        )
        for key in sorted(set(qa) & set(qb))
        if qa[key] != qb[key]
    ]


def _compare_kind_transitions(a: Side, b: Side) -> list[Difference]:
    """Status changes seen for one job kind on one side only (an edge no kind took on the
    other side is listed once, by :func:`_compare_edges`)."""
    ta, tb = _transitions(a.observations or {}), _transitions(b.observations or {})
    out = []
    for kind in sorted(set(ta) | set(tb)):
        mine, theirs = ta.get(kind, set()), tb.get(kind, set())
        for edge in sorted(mine ^ theirs):
            if edge in a.edges ^ b.edges:
                continue
            out.append(
                Difference(
                    "transitions",
                    f"{kind}: {edge[0]} → {edge[1]}",
                    ("seen",) if edge in mine else ("not seen",),
                    ("seen",) if edge in theirs else ("not seen",),
                )
            )
    return out


def _compare_exploration(
    oa: dict[str, Any], ob: dict[str, Any], missing: dict[str, str], notes: list[str]
) -> list[Difference]:
    """The exploration's cells, when both runs took the same steps."""
    xa, xb = oa.get("exploration", {}), ob.get("exploration", {})
    if not xa.get("examples") or xa.get("steps_digest") != xb.get("steps_digest"):
        if xa.get("examples") or xb.get("examples"):
            notes.append(
                "the two runs explored different steps (their step digests differ): of the"
                " exploration, only the transitions, the rules broken and crashes are compared"
            )
        return []
    ea, eb = _cells(xa.get("cells", [])), _cells(xb.get("cells", []))
    return [
        _cell_difference(key, ea[key], eb[key], " (exploration)")
        for key in sorted(set(ea) & set(eb))
        if _command_of(key[1]) not in missing and ea[key] != eb[key]
    ]


def _plans(obs: dict[str, Any]) -> dict[tuple[str, tuple[str, ...]], set[str]]:
    return {
        (str(p["kind"]), tuple(p["steps"])): {_dump(o) for o in p["outcomes"]}
        for p in obs.get("plans", [])
    }


def _plan_texts(outcomes: set[str]) -> tuple[str, ...]:
    texts = []
    for outcome in sorted(outcomes):
        steps = []
        for raw in json.loads(outcome):
            step = json.loads(raw)
            events = "; ".join(
                f"{job}: {', '.join(seen)}" for job, seen in sorted(step["events"].items())
            )
            answers = ", ".join(step["answers"])
            steps.append(f"[{answers or '-'}] {events or '(no event)'}")
        texts.append(" → ".join(steps))
    return tuple(texts)


def _query(obs: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for entry in obs.get("query_fields", []):
        texts = set()
        for seen in entry["seen"]:
            text = ", ".join(seen.get("members", []))
            if "error" in seen:
                text += f" (error: {seen['error']})"
            texts.add(text)
        out[(str(entry["kind"]), str(entry["status"]))] = texts
    return out


def _transitions(obs: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    return {
        str(kind): {(str(x), str(y)) for x, y in edges}
        for kind, edges in obs.get("transitions", {}).items()
        if kind != "?"
    }


def _compare_matrices(a: Side, b: Side) -> list[Difference]:
    out: list[Difference] = []
    for family in sorted(set(a.matrix) | set(b.matrix)):
        rows_a, rows_b = a.matrix.get(family, {}), b.matrix.get(family, {})
        for verb in sorted(set(rows_a) | set(rows_b)):
            if verb not in rows_a or verb not in rows_b:
                owner = b if verb in rows_b else a
                command = f"{family}-{verb}" if verb not in ("set-speed", "change") else verb
                out.append(
                    Difference(
                        "command",
                        f"{family} {verb}",
                        ("has it",) if verb in rows_a else ("does not have it",),
                        ("has it",) if verb in rows_b else ("does not have it",),
                        f"the verb {verb} ({command}) is in {owner.label}'s model only",
                    )
                )
                continue
            for status in sorted(set(rows_a[verb]) | set(rows_b[verb])):
                ma, mb = rows_a[verb].get(status, "none"), rows_b[verb].get(status, "none")
                observed = {"accepted", "refused", "both"}
                if ma in observed and mb in observed and ma != mb:
                    category = "permission"
                elif (ma in observed) != (mb in observed):
                    category = "transitions"
                else:
                    continue
                out.append(Difference(category, f"{family}-{verb} · in {status}", (ma,), (mb,)))
    return out


def _compare_edges(a: Side, b: Side) -> list[Difference]:
    return [
        Difference(
            "transitions",
            f"{x} → {y}",
            ("seen",) if (x, y) in a.edges else ("not seen",),
            ("seen",) if (x, y) in b.edges else ("not seen",),
        )
        for x, y in sorted(a.edges ^ b.edges)
    ]


def _compare_divergences(a: Side, b: Side) -> list[Difference]:
    out = []
    for rule in sorted(set(a.divergences) ^ set(b.divergences)):
        texts = []
        for side in (a, b):
            info = side.divergences.get(rule)
            texts.append(
                (f"{info['status']}: " + " | ".join(info["observed"]),) if info else ("not seen",)
            )
        out.append(Difference("divergence", rule, texts[0], texts[1]))
    return out


def _crash_text(text: str | None) -> str | None:
    return None if text is None else normalise(text)


def _compare_crash(a: Side, b: Side) -> list[Difference]:
    ca, cb = _crash_text(a.crash), _crash_text(b.crash)
    if ca == cb:
        return []
    return [
        Difference(
            "crash",
            "QEMU crashed",
            (ca or "no crash",),
            (cb or "no crash",),
        )
    ]


def _diagram(
    a: Side,
    b: Side,
    differences: list[Difference],
    only: dict[str, dict[str, list[str]]],
) -> dict[str, Any]:
    """What the diff diagram draws: edges seen on both, on A only, on B only; per status,
    the commands answered differently or tried on one side only."""
    edges = {
        "both": sorted([x, y] for x, y in a.edges & b.edges),
        "a_only": sorted([x, y] for x, y in a.edges - b.edges),
        "b_only": sorted([x, y] for x, y in b.edges - a.edges),
    }
    statuses: dict[str, dict[str, list[str]]] = {}

    def mark(status: str, key: str, name: str) -> None:
        names = statuses.setdefault(status, {}).setdefault(key, [])
        if name not in names:
            names.append(name)

    for difference in differences:
        if difference.status is None:
            continue
        if difference.command is not None:
            mark(difference.status, "changed", difference.command)
        else:
            owner = "a_only" if difference.b == ("never reached",) else "b_only"
            mark(difference.status, owner, "reached")
    for label, key in (("A", "a_only"), ("B", "b_only")):
        for status, commands in only.get(label, {}).items():
            for command in commands:
                mark(status, key, command)
    for difference in differences:
        if difference.category == "command":
            owner = "b_only" if difference.b == ("has it",) else "a_only"
            statuses.setdefault("*", {}).setdefault(owner, []).append(difference.subject)
    return {"edges": edges, "statuses": statuses}
