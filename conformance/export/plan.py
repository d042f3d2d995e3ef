"""What a standalone reproducer sends and expects, taken from a live QEMU trace.

``jobcheck export`` turns a trace into a Python script or a qemu-iotests test.
Both do the same thing: replay the *recorded QMP commands* of the trace, setup
included, in order; after each one, wait for its response and for the events
the trace shows before the next command; and at the divergent record, say
whether QEMU does again what the documentation does not allow.  This module
extracts that plan (:class:`Plan`) from the trace; the renderers are
:mod:`.script` and :mod:`.iotest`.

*Which divergence.*  :func:`divergences` lists every divergence the oracle finds
in the trace, numbered ``d01``, ``d02``, … in trace order, each new, known
(catalogued) or baselined.  :func:`choose` takes the one asked for
(``--divergence dNN``), else the one the trace was saved for if it is new,
else the first new one.  A known or baselined divergence is exported only when
asked for by name and allowed (``--allow-known``): exporting an accepted
divergence silently, instead of the one the trace was about, would mislead.

*The plan* stops at the end of the driver step that holds the divergence (the
rest of the trace cannot change what happened there), or at a ``quit`` before
it (the reproducer ends QEMU itself); a divergence that only ``quit`` shows
keeps the ``quit``.  :func:`build_plan` then checks that the plan still holds
the divergence: the oracle, run over the plan's own commands, responses and
events, must find the same rule at the same record.

*Names.*  File names under the live target's private directory become
``@WORKDIR@/NAME``, which the reproducer points at its own directory; jobcheck's
node names and set-up job ids (``jc-<pid>-<target>-<job>-<role>``) lose their
prefix and read as roles (``src``, ``dst``, ``base-file``…), numbered when the
plan sets up more than one job.  Only traces of a live QEMU (or QMP
transcripts in wire order) can be exported: the simulator needs no block
nodes, so its traces have no setup commands a real QEMU could run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.oracle import Divergence, check
from jobcheck.conformance.report.baseline import Baseline
from jobcheck.conformance.report.document import is_step
from jobcheck.conformance.trace.records import (
    Command,
    Event,
    Meta,
    Note,
    Record,
    Response,
    map_strings,
    strings,
)
from jobcheck.conformance.trace.steps import describe_step, job_kinds
from jobcheck.model.lifecycle import Model
from jobcheck.model.rules import RULES, RuleId

WORKDIR = "@WORKDIR@"
"""Placeholder for the reproducer's own working directory in command arguments."""

#: jobcheck's own names: ``jc-<pid>-<target>-<job>-<role>``.
OWN_NAME = re.compile(r"jc-[0-9]+-[0-9]+-([0-9]+)-([A-Za-z0-9._-]+)")

#: Readable words for the roles of jobcheck's set-up (:mod:`...targets.qemu_setup`).
ROLES = {
    "dstn": "dst-null",
    "dste": "dst-error",
    "srcn": "src-null",
    "srce": "src-error",
    "srcd": "src-data",
    "srcf": "src-file",
    "datn": "data-null",
    "date": "data-error",
    "dat": "data",
    "basn": "base-null",
    "midf": "mid-file",
    "topf": "top-file",
    "img": "image",
    "qcow": "image-qcow2",
}

#: Names a reproducer may give files in its directory.
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class Exchange:
    """One command, its recorded response, and the events recorded up to the next command."""

    execute: str
    arguments: dict[str, Any]
    response: dict[str, Any] | None
    """``{"return": ...}`` or ``{"error": {"class": ..., "desc": ...}}`` as recorded."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """``{"event": NAME, "data": {...}}``, in recorded order."""
    divergent: str | int | None = None
    """``"response"``, the index in :attr:`events`, ``"crash"``, or ``None``."""
    step: str | None = None
    """The driver step (in words) that this command is the first of."""

    def to_json(self) -> dict[str, Any]:
        return {
            "execute": self.execute,
            "arguments": self.arguments,
            "response": self.response,
            "events": self.events,
            "divergent": self.divergent,
            "step": self.step,
        }


@dataclass(frozen=True)
class Found:
    """A divergence of the trace, with its export id and status."""

    id: str
    """``d01``, ``d02``, … in trace order."""
    divergence: Divergence
    status: str
    """``new``, ``known`` or ``baselined``."""
    saved_for: bool
    """The divergence the trace was saved for (its metadata names it)."""

    def describe(self) -> str:
        d = self.divergence
        where = f"line {d.line}" if d.line else f"record {d.index}"
        mark = ", the one the trace was saved for" if self.saved_for else ""
        return f"{self.id} ({self.status}{mark}) {d.rule} at {where}: {d.message}"


@dataclass
class Plan:
    """Everything a reproducer needs."""

    exchanges: list[Exchange]
    rule: str
    anchor: str | None
    quote: str | None
    paraphrase: str | None
    expected: str
    observed: str
    message: str
    qemu_version: str | None
    source: str
    job: str | None = None
    job_kind: str | None = None
    files: list[str] = field(default_factory=list)
    """The file names (under :data:`WORKDIR`) the commands use, in order of first use."""

    @property
    def divergent_exchange(self) -> int | None:
        for number, exchange in enumerate(self.exchanges):
            if exchange.divergent is not None:
                return number
        return None

    def divergence_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "anchor": self.anchor,
            "quote": self.quote,
            "paraphrase": self.paraphrase,
            "expected": self.expected,
            "observed": self.observed,
            "message": self.message,
            "qemu_version": self.qemu_version,
        }


def work_directory(commands: Sequence[Command]) -> str | None:
    """The live target's private directory: the common parent of the file names it used."""
    parents = {
        os.path.dirname(p) for c in commands for p in strings(c.arguments) if p.startswith("/")
    }
    parents.discard("")
    if not parents:
        return None
    common = os.path.commonpath(sorted(parents))
    return common if common not in ("/", "") else None


def substitute(value: Any, old: str, new: str) -> Any:
    """``value`` with every string starting ``old`` rewritten to start ``new``."""

    def change(text: str) -> str:
        if text == old or text.startswith(old + "/"):
            return new + text[len(old) :]
        return text

    return map_strings(value, change)


class Names:
    """Readable names for jobcheck's own (``jc-…-K-role`` → ``role``, or ``roleN``)."""

    def __init__(self, commands: Sequence[Command]) -> None:
        order: list[str] = []
        for command in commands:
            for text in strings(command.arguments):
                for match in OWN_NAME.finditer(text):
                    if match.group(1) not in order:
                        order.append(match.group(1))
        self.numbers = {k: ("" if len(order) == 1 else str(n)) for n, k in enumerate(order, 1)}

    def __call__(self, value: Any) -> Any:
        return map_strings(value, lambda text: OWN_NAME.sub(self._name, text))

    def _name(self, match: re.Match[str]) -> str:
        role = match.group(2)
        stem, dot, ext = role.partition(".")
        word = ROLES.get(stem, stem.replace("mk-", "create-"))
        return f"{word}{self.numbers.get(match.group(1), '')}{dot}{ext}"


def _response_json(response: Response) -> dict[str, Any]:
    if response.error is not None:
        return {"error": {"class": response.error.error_class, "desc": response.error.desc}}
    return {"return": response.value}


def _crash(records: list[Record], meta: Meta, model: Model) -> Divergence | None:
    """The crash the trace was saved for (rule qemu.no-abort): QEMU died at its last command."""
    if meta.extra.get("rule") != RuleId.QEMU_NO_ABORT:
        return None
    commands = [i for i, r in enumerate(records) if isinstance(r, Command)]
    if not commands:
        return None
    index = commands[-1]
    last = records[index]
    assert isinstance(last, Command)
    rule = RULES[RuleId.QEMU_NO_ABORT]
    return Divergence(
        RuleId.QEMU_NO_ABORT,
        None,
        index,
        last.line,
        meta.source,
        rule.text,
        f"QEMU died at {last.execute}",
        False,
        f"QEMU crashed at {last.execute} ({RuleId.QEMU_NO_ABORT})",
    )


def divergences(
    records: list[Record], meta: Meta, model: Model, baseline: Baseline | None = None
) -> list[Found]:
    """Every divergence of the trace, numbered in trace order, with its status."""
    found = list(check(records, model, meta))
    crash = _crash(records, meta, model)
    if crash is not None:
        found.append(crash)
    found.sort(key=lambda d: d.index)
    kinds = job_kinds(records)
    wanted_index, wanted_rule = meta.extra.get("index"), meta.extra.get("rule")
    out = []
    marked = False
    for number, d in enumerate(found, start=1):
        saved_for = not marked and d.rule == wanted_rule and wanted_index in (None, d.index)
        marked = marked or saved_for
        if baseline is not None and baseline.match(
            d.rule, kinds.get(d.job or ""), meta.qemu_version or ""
        ):
            status = "baselined"
        elif saved_for and meta.extra.get("status") == "baselined":
            status = "baselined"  # the run that saved the trace had it in its baseline
        else:
            status = "known" if d.known else "new"
        out.append(Found(f"d{number:02d}", d, status, saved_for))
    return out


def choose(
    found: list[Found],
    wanted: str | None,
    allow_known: bool,
    path: str,
    saved_rule: str | None = None,
) -> Found:
    """The divergence to export (see the module docstring); :class:`UsageError` if none fits.

    ``saved_rule`` is the rule the trace was saved for (its metadata's ``rule``):
    when no divergence of the trace has it, the trace did not reproduce what it
    was about, and nothing else is exported unless asked for by name.
    """
    if not found:
        raise UsageError(f"{path}: the oracle finds no divergence in this trace")
    listing = "; ".join(f"{f.id} ({f.status}) {f.divergence.rule}" for f in found[:5])
    if wanted is not None:
        chosen = next((f for f in found if f.id == wanted), None)
        if chosen is None:
            ids = ", ".join(f.id for f in found)
            raise UsageError(f"{path}: no divergence {wanted}; this trace has {ids}")
    else:
        if saved_rule is not None and not any(f.divergence.rule == saved_rule for f in found):
            raise UsageError(
                f"{path}: the divergence the trace was saved for ({saved_rule}) is not in it"
                f" (it did not reproduce); the trace has {listing}: choose one with"
                " --divergence dNN"
            )
        saved = [f for f in found if f.saved_for and f.status == "new"]
        new = [f for f in found if f.status == "new"]
        if not (saved or new):
            raise UsageError(
                f"{path}: no new divergence, only accepted ones ({listing}); export one of"
                " them with --divergence dNN --allow-known"
            )
        chosen = (saved or new)[0]
    if chosen.status != "new" and not allow_known:
        raise UsageError(
            f"{path}: {chosen.id} is a {chosen.status} divergence ({chosen.divergence.rule});"
            " exporting an accepted divergence needs --allow-known"
        )
    return chosen


def check_exportable(meta: Meta, path: str) -> None:
    """Refuse a trace no reproducer can be made of: a simulator's, or one not in wire order."""
    if meta.source == "sim":
        raise UsageError(
            f"{path} was recorded on the simulator, which needs no block nodes, so it has no"
            f" commands a real QEMU could run; replay it on QEMU first:"
            f" jobcheck replay {path} --qemu BIN --save live.jsonl, then export live.jsonl"
        )
    if meta.order != "wire":
        raise UsageError(f"{path}: a reproducer needs a trace in wire order, not {meta.order!r}")


def build_plan(records: list[Record], meta: Meta, model: Model, path: str, found: Found) -> Plan:
    """The reproducer plan of the divergence ``found`` (:class:`UsageError` if it cannot be)."""
    check_exportable(meta, path)
    divergence = found.divergence
    end = divergence.index + 1
    while end < len(records) and not is_step(records[end]):
        end += 1
    commands = [r for r in records[:end] if isinstance(r, Command)]
    if not commands:
        raise UsageError(f"{path}: no QMP commands before the divergence")
    workdir = work_directory(commands)
    names = Names(commands)

    def local(value: Any) -> Any:
        return names(substitute(value, workdir, WORKDIR) if workdir else value)

    exchanges: list[Exchange] = []
    by_id: dict[Any, Exchange] = {}
    waiting: list[Exchange] = []
    step: str | None = None
    kept: list[Record] = []
    divergent_kept: int | None = None
    for index, record in enumerate(records[:end]):
        if isinstance(record, Note):
            if record.step is not None:
                step = describe_step(record.step)  # from the checked step, not the note's text
            kept.append(record)
            continue
        if isinstance(record, Command):
            if record.execute == "quit" and index > divergence.index:
                break
            exchange = Exchange(record.execute, local(dict(record.arguments)), None, step=step)
            step = None
            exchanges.append(exchange)
            if record.id is not None:
                by_id[record.id] = exchange
            waiting.append(exchange)
            if index == divergence.index:
                exchange.divergent = (
                    "crash" if divergence.rule == RuleId.QEMU_NO_ABORT else "response"
                )
        elif isinstance(record, Response):
            answered = by_id.pop(record.id, None) if record.id is not None else None
            if answered is None and waiting:
                answered = waiting[0]
            if answered is None:
                continue
            if answered in waiting:
                waiting.remove(answered)
            answered.response = local(_response_json(record))
            if index == divergence.index:
                answered.divergent = "response"
        elif isinstance(record, Event) and exchanges:
            exchanges[-1].events.append({"event": record.event, "data": local(record.data)})
            if index == divergence.index:
                exchanges[-1].divergent = len(exchanges[-1].events) - 1
        if index == divergence.index:
            divergent_kept = len(kept)
        kept.append(record)
    if divergent_kept is None:
        raise UsageError(f"{path}: {found.id} lies after the harness's quit; it cannot be exported")
    _check_reproduced(kept, divergent_kept, meta, model, found, path)
    files = _files(exchanges, path)
    rule = RULES.get(divergence.rule)
    return Plan(
        exchanges=exchanges,
        rule=str(divergence.rule),
        anchor=rule.anchor if rule else None,
        quote=rule.quote_for(model.version) if rule else None,
        paraphrase=rule.text if rule else None,
        expected=divergence.expected,
        observed=divergence.observed,
        message=divergence.message,
        qemu_version=meta.qemu_version,
        source=path,
        job=divergence.job,
        job_kind=job_kinds(records).get(divergence.job or ""),
        files=files,
    )


def _check_reproduced(
    kept: list[Record], index: int, meta: Meta, model: Model, found: Found, path: str
) -> None:
    """The plan's own records must still show the divergence at its record."""
    if found.divergence.rule == RuleId.QEMU_NO_ABORT:
        return  # a crash is not in the records: the trace ends with the command that caused it
    again = [
        d for d in check(kept, model, meta) if d.rule == found.divergence.rule and d.index == index
    ]
    if not again:
        raise UsageError(
            f"{path}: {found.id} ({found.divergence.rule}) is not found again in the commands"
            " and events up to it alone, so a reproducer of them would not show it"
        )


def _files(exchanges: list[Exchange], path: str) -> list[str]:
    names: list[str] = []
    for exchange in exchanges:
        for text in strings(exchange.arguments):
            if text.startswith(WORKDIR + "/"):
                name = text[len(WORKDIR) + 1 :]
                if not FILE_NAME.fullmatch(name):
                    raise UsageError(f"{path}: a file name a reproducer cannot use: {name[:40]!r}")
                if name not in names:
                    names.append(name)
    return names
