"""What a standalone reproducer sends and expects, taken from a live QEMU trace.

``jobcheck export`` turns a trace into a Python script or a qemu-iotests test.
Both do the same thing: replay the *recorded QMP commands* of the trace, setup
included, in order; after each one, wait for its response and for the events
the trace shows before the next command; and flag the record where the
divergence is, saying whether QEMU answers there as it did when the trace was
recorded.  This module extracts that plan (:class:`Plan`) from the trace; the
renderers are :mod:`.script` and :mod:`.iotest`.

Only traces of a live QEMU (or QMP transcripts in wire order) can be
exported: the simulator needs no block nodes, so its traces have no setup
commands a real QEMU could run.  Replay a simulator trace on QEMU first
(``jobcheck replay TRACE --qemu BIN --save live.jsonl``) and export that.

The plan stops at the end of the driver step that holds the divergence (the
rest of the trace cannot change what happened there), or at a ``quit`` before
the divergence (the reproducer ends QEMU itself); a divergence that only
``quit`` shows (in the events of the jobs it cancels) keeps the ``quit``.  File names under the live
target's private directory become ``@WORKDIR@/NAME``, which the reproducer
points at its own temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.oracle import check
from jobcheck.conformance.report.document import is_step
from jobcheck.conformance.trace.records import Command, Event, Meta, Note, Record, Response
from jobcheck.model.lifecycle import model_for
from jobcheck.model.rules import RULES

WORKDIR = "@WORKDIR@"
"""Placeholder for the reproducer's own working directory in command arguments."""


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
    """``"response"``, the index in :attr:`events`, or ``None``."""
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


def _paths(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        if value.startswith("/"):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from _paths(item)


def work_directory(commands: Sequence[Command]) -> str | None:
    """The live target's private directory: the common parent of the file names it used."""
    parents = {os.path.dirname(p) for c in commands for p in _paths(c.arguments)}
    parents.discard("")
    if not parents:
        return None
    common = os.path.commonpath(sorted(parents))
    return common if common not in ("/", "") else None


def substitute(value: Any, old: str, new: str) -> Any:
    """``value`` with every string starting ``old`` rewritten to start ``new``."""
    if isinstance(value, str):
        if value == old or value.startswith(old + "/"):
            return new + value[len(old) :]
        return value
    if isinstance(value, dict):
        return {k: substitute(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, old, new) for v in value]
    return value


def _response_json(response: Response) -> dict[str, Any]:
    if response.error is not None:
        return {"error": {"class": response.error.error_class, "desc": response.error.desc}}
    return {"return": response.value}


def choose_divergence(records: list[Record], meta: Meta, model_version: str) -> Any:
    """The divergence to reproduce: the one the trace was saved for, else the first new one."""
    found = check(records, model_for(model_version), meta)
    if not found:
        raise UsageError(f"{meta.source}: the oracle finds no divergence in this trace")
    wanted_index = meta.extra.get("index")
    wanted_rule = meta.extra.get("rule")
    for d in found:
        if d.index == wanted_index and (wanted_rule is None or d.rule == wanted_rule):
            return d
    for d in found:
        if d.rule == wanted_rule:
            return d
    new = [d for d in found if not d.known]
    return (new or found)[0]


def build_plan(records: list[Record], meta: Meta, model_version: str, path: str) -> Plan:
    """The reproducer plan of a trace (:class:`UsageError` for a trace that cannot be one)."""
    if meta.source == "sim":
        raise UsageError(
            f"{path} was recorded on the simulator, which needs no block nodes, so it has no"
            f" commands a real QEMU could run; replay it on QEMU first:"
            f" jobcheck replay {path} --qemu BIN --save live.jsonl, then export live.jsonl"
        )
    if meta.order != "wire":
        raise UsageError(f"{path}: a reproducer needs a trace in wire order, not {meta.order!r}")
    divergence = choose_divergence(records, meta, model_version)
    end = divergence.index + 1
    while end < len(records) and not is_step(records[end]):
        end += 1
    commands = [r for r in records[:end] if isinstance(r, Command)]
    if not commands:
        raise UsageError(f"{path}: no QMP commands before the divergence")
    workdir = work_directory(commands)
    exchanges: list[Exchange] = []
    by_id: dict[Any, Exchange] = {}
    waiting: list[Exchange] = []
    step: str | None = None
    for index, record in enumerate(records[:end]):
        if isinstance(record, Note):
            if record.step is not None:
                step = record.text
            continue
        if isinstance(record, Command):
            arguments = dict(record.arguments)
            if workdir:
                arguments = substitute(arguments, workdir, WORKDIR)
            if record.execute == "quit" and index > divergence.index:
                break
            exchange = Exchange(record.execute, arguments, None, step=step)
            step = None
            exchanges.append(exchange)
            if record.id is not None:
                by_id[record.id] = exchange
            waiting.append(exchange)
            if index == divergence.index:
                exchange.divergent = "response"
        elif isinstance(record, Response):
            answered = by_id.pop(record.id, None) if record.id is not None else None
            if answered is None and waiting:
                answered = waiting[0]
            if answered is None:
                continue
            if answered in waiting:
                waiting.remove(answered)
            answered.response = _response_json(record)
            if index == divergence.index:
                answered.divergent = "response"
        elif isinstance(record, Event) and exchanges:
            data = substitute(record.data, workdir, WORKDIR) if workdir else record.data
            exchanges[-1].events.append({"event": record.event, "data": data})
            if index == divergence.index:
                exchanges[-1].divergent = len(exchanges[-1].events) - 1
    rule = RULES.get(divergence.rule)
    return Plan(
        exchanges=exchanges,
        rule=str(divergence.rule),
        anchor=rule.anchor if rule else None,
        quote=rule.quote if rule else None,
        paraphrase=rule.text if rule else None,
        expected=divergence.expected,
        observed=divergence.observed,
        message=divergence.message,
        qemu_version=meta.qemu_version,
        source=path,
    )
