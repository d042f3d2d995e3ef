"""``jobcheck export --as iotest``: a qemu-iotests test (Python) and its reference output.

The test follows the conventions of QEMU's own script-style Python iotests
(``tests/qemu-iotests/tests/``): a ``# group:`` line, a copyright placeholder
and the licence, ``iotests.script_initialize`` with the formats it really
needs (``raw`` for a test that uses ``null-co`` nodes only, as iotests 093 and
136 do; ``qcow2`` and the ``file`` protocol when it creates images), its files
from ``iotests.FilePath``, ``iotests.VM`` as a context manager, ``vm.qmp_log``
for each command with keyword arguments, ``vm.event_wait`` for each recorded
event, logged with ``iotests.filter_qmp_event``, and readable node names.

The reference output (``NAME.out``) is QEMU's *documented* behaviour.  Up to
the divergent record it is what QEMU printed when jobcheck found the
divergence (nothing there diverges).  At the divergent record the test asks
whether QEMU does again what the documentation does not allow (the same
forbidden answer, or the same forbidden event within a few seconds, waited for
with ``vm.event_wait`` and ``asyncio.TimeoutError`` as iotests do) and logs
one line ending ``no`` — the reference — or ``yes``: on the QEMU the trace was
recorded on, the test fails on exactly that line, and it passes once QEMU
behaves as documented.  The observed line and record are in a comment right
above it, and the whole observed output is written beside the test as
``NAME.out.observed``.  Progress numbers (``current-progress``,
``total-progress``, and ``offset``/``len`` of block-job events) are filtered
to ``FILTERED``, as iotest 219 does, unless the divergence is about progress.

Everything from the trace reaches the test as a Python literal or a comment
line (:mod:`.source`), never as code.
"""

from __future__ import annotations

import json
import keyword
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.export.plan import WORKDIR, Exchange, Plan
from jobcheck.conformance.export.source import (
    Expr,
    about,
    call,
    comment,
    identifier,
    literal,
    printable,
    string,
)
from jobcheck.conformance.trace.records import map_strings

PROGRESS_KEYS = ("current-progress", "total-progress", "offset", "len")

#: How long the test waits for the forbidden event at the divergent record.
EVENT_TIMEOUT = 5.0

#: The width of the test's lines (QEMU's Python style: 79), and their indentation.
WIDTH = 79
PAD = " " * 4

LICENCE = """\
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <http://www.gnu.org/licenses/>.
"""

_KWARG = re.compile(r"[a-z][a-z0-9-]*", re.ASCII)


@dataclass(frozen=True)
class Formats:
    """What ``iotests.script_initialize`` is told: formats, protocols, drivers."""

    supported: tuple[str, ...]
    protocols: tuple[str, ...]
    required: tuple[str, ...]

    @property
    def check_option(self) -> str:
        """The ``./check`` option that runs the test: ``-raw`` or ``-qcow2``."""
        return f"-{self.supported[0]}"


def _drivers(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        driver = value.get("driver")
        if isinstance(driver, str):
            found.add(driver)
        for item in value.values():
            found |= _drivers(item)
    elif isinstance(value, list):
        for item in value:
            found |= _drivers(item)
    return found


def formats(plan: Plan) -> Formats:
    """The formats the test needs (see the module docstring)."""
    drivers: set[str] = set()
    for exchange in _exchanges(plan):
        drivers |= _drivers(exchange.arguments)
    images = "qcow2" in drivers or bool(plan.files)
    required = tuple(sorted(drivers - {"file", "raw", "qcow2"}))
    if images:
        return Formats(("qcow2",), ("file",), required)
    return Formats(("raw",), (), required)


def progress_keys(plan: Plan) -> tuple[str, ...]:
    """The keys filtered as progress (none when the divergence is about progress)."""
    return () if plan.rule.startswith("job-info.") and "progress" in plan.rule else PROGRESS_KEYS


def _exchanges(plan: Plan) -> list[Exchange]:
    """The exchanges the test runs: up to the divergent one."""
    end = plan.divergent_exchange
    if end is None:
        raise UsageError(f"{plan.source}: the plan does not reach the divergent record")
    if plan.exchanges[end].divergent == "crash":
        raise UsageError(
            f"{plan.source}: a crash (qemu.no-abort) is exported as a script"
            " (--as script), not as an iotest"
        )
    return plan.exchanges[: end + 1]


def _has_progress(value: Any, keys: tuple[str, ...]) -> bool:
    if isinstance(value, dict):
        return any(k in keys or _has_progress(v, keys) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_progress(v, keys) for v in value)
    return False


def _mentions_files(value: Any) -> bool:
    return WORKDIR in json.dumps(value)


def _with_files(value: Any, variables: dict[str, str]) -> Any:
    """``value`` with each ``@WORKDIR@/NAME`` replaced by the test's variable for NAME."""

    def change(text: str) -> Any:
        if text.startswith(WORKDIR + "/"):
            return Expr(variables[text[len(WORKDIR) + 1 :]])
        return text

    return map_strings(value, change)


def _filter_testfiles(value: Any) -> Any:
    """What ``iotests.filter_qmp_testfiles`` makes of the test's file names."""
    return map_strings(value, lambda text: text.replace(WORKDIR + "/", "TEST_DIR/PID-"))


def _filter_progress(value: Any, keys: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {
            k: "FILTERED"
            if k in keys and not isinstance(v, dict | list)
            else _filter_progress(v, keys)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_filter_progress(v, keys) for v in value]
    return value


def _ordered(value: Any, top: bool = True) -> Any:
    """What iotests' ``ordered_qmp`` makes of command arguments: keys sorted at every level."""
    if isinstance(value, list):
        return [_ordered(v, False) for v in value]
    if isinstance(value, dict):
        return OrderedDict(
            ((k.replace("_", "-") if top else k), _ordered(v, False))
            for k, v in sorted(value.items())
        )
    return value


def _filters(exchange_part: Any, keys: tuple[str, ...], event: bool = False) -> str:
    names = ["iotests.filter_qmp_event"] if event else []
    if _mentions_files(exchange_part):
        names.append("iotests.filter_qmp_testfiles")
    if keys and _has_progress(exchange_part, keys):
        names.append("filter_progress")
    return f"[{', '.join(names)}]"


def _call(exchange: Exchange, variables: dict[str, str], keys: tuple[str, ...]) -> str:
    """``vm.qmp_log(...)`` of one command, arguments as keywords where they can be."""
    args = _with_files(exchange.arguments, variables)
    filters = _filters([exchange.arguments, exchange.response], keys)
    parts = [literal(exchange.execute)]
    column = len(PAD) + len("vm.qmp_log(")
    if args and any("_" in k for k in args):
        raise UsageError(
            "an argument name with '_' cannot be written with iotests' qmp_log, which turns"
            " '_' into '-'"
        )
    if all(_KWARG.fullmatch(k) and not keyword.iskeyword(k.replace("-", "_")) for k in args):
        for key, value in args.items():
            name = key.replace("-", "_")
            parts.append(f"{name}={literal(value, column + len(name) + 1, WIDTH)}")
    else:
        parts.append(f"**{literal(args, column + 2, WIDTH)}")
    if filters != "[]":
        parts.append(f"filters={filters}")
    return call("vm.qmp_log", parts, len(PAD), WIDTH)


def _match(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in ("id", "device", "status") if k in data}


def check_line(plan: Plan, exchange: Exchange) -> str:
    """The line the test logs at the divergent record, without its ``yes``/``no``."""
    rule = f"not allowed by {plan.rule}"
    if exchange.divergent == "response":
        answer = json.dumps(_observed_response(plan, exchange), sort_keys=True)
        subject = f"{exchange.execute} answers {answer}"
    else:
        assert isinstance(exchange.divergent, int)
        event = exchange.events[exchange.divergent]
        shown = " ".join(f"{k}={v}" for k, v in _match(event["data"]).items())
        subject = f"QEMU sends {event['event']} {shown}".rstrip()
    return printable(f"{subject} ({rule}): ")


def _observed_response(plan: Plan, exchange: Exchange) -> Any:
    return _filter_progress(_filter_testfiles(exchange.response or {}), progress_keys(plan))


def test_name(plan: Plan) -> str:
    """The default file name: the job kind and the rule (``mirror-status-transition-table``)."""
    rule = plan.rule.replace(".", "-")
    kind = plan.job_kind if plan.job_kind not in (None, "?") else "job"
    return f"{kind}-{rule}"


def render_test(plan: Plan) -> str:
    """The test's Python source."""
    exchanges = _exchanges(plan)
    keys = progress_keys(plan)
    needs = formats(plan)
    uses_files = bool(plan.files)
    title = f"Job lifecycle: {plan.rule}" + (f" ({plan.anchor})" if plan.anchor else "")
    lines = [
        "#!/usr/bin/env python3",
        f"# group: {'rw ' if uses_files else ''}quick",
        "#",
        *comment(title + f", found by jobcheck on QEMU {plan.qemu_version or '?'}"),
        "#",
        "# Copyright (C) <YEAR> <COPYRIGHT HOLDER>",
        "#",
        "# SPDX-License-Identifier: GPL-2.0-or-later",
        "#",
        *LICENCE.splitlines(),
        "#",
    ]
    for sentence in about(
        plan.rule, plan.anchor, plan.quote, plan.paraphrase, plan.expected, plan.observed
    ):
        lines += comment(sentence)
    lines += [
        "#",
        *comment(
            "The reference output is the documented behaviour: the last line says whether"
            " QEMU does again what the documentation does not allow, and reads 'no'. On the"
            f" QEMU the divergence was found on it reads 'yes' (see {test_name(plan)}.out."
            "observed beside this test)."
        ),
        "",
        *(["import asyncio", ""] if _divergent_is_event(exchanges) else []),
        "import iotests",
        "from iotests import log",
        "",
    ]
    init = [f"supported_fmts={literal(list(needs.supported))}"]
    if needs.protocols:
        init.append(f"supported_protocols={literal(list(needs.protocols))}")
    if needs.required:
        init.append(f"required_fmts={literal(list(needs.required))}")
    lines.append(call("iotests.script_initialize", init, 0, WIDTH))
    if keys:
        lines += [
            "",
            f"PROGRESS = {literal(list(keys))}",
            "",
            "",
            "def filter_progress(msg):",
            "    return iotests.filter_qmp(msg, lambda key, value:",
            "                              'FILTERED' if key in PROGRESS else value)",
        ]
    lines += ["", ""]
    taken: set[str] = set()
    variables = {name: identifier(name, taken) for name in plan.files}
    if variables:
        names = ", ".join(literal(n) for n in variables)
        target = ", ".join(variables.values())
        target = f"({target})" if len(variables) > 1 else target
        lines += [f"with iotests.FilePath({names}) as {target}, \\", "     iotests.VM() as vm:"]
    else:
        lines.append("with iotests.VM() as vm:")
    lines.append("    vm.launch()")
    pad = "    "
    for exchange in exchanges:
        if exchange.step is not None:
            lines += ["", f"{pad}log({literal(_step_line(exchange.step))})"]
        if exchange.divergent == "response":
            lines += _divergent_response(plan, exchange, variables, pad)
            break
        lines.append(pad + _call(exchange, variables, keys))
        for number, event in enumerate(exchange.events):
            if exchange.divergent == number:
                lines += _divergent_event(plan, exchange, variables, pad)
                break
            match = {"data": _with_files(_match(event["data"]), variables)}
            filters = _filters(event["data"], keys, event=True)
            inner_column = len(pad) + len("log(vm.event_wait(")
            wait = call(
                "vm.event_wait",
                [literal(event["event"]), f"match={literal(match, inner_column + 6, WIDTH)}"],
                len(pad) + 4,
                WIDTH,
            )
            lines.append(pad + call("log", [wait, f"filters={filters}"], len(pad), WIDTH))
    return "\n".join(lines) + "\n"


def _divergent_is_event(exchanges: list[Exchange]) -> bool:
    return isinstance(exchanges[-1].divergent, int)


def _step_line(step: str) -> str:
    return printable(f"=== {step} ===")


def _observed_comment(plan: Plan, text: str, record: Any, pad: str) -> list[str]:
    recorded = json.dumps(record, sort_keys=True)
    return [
        "",
        *comment(
            f"The divergent record. On QEMU {plan.qemu_version or '?'} this logged"
            f" '{text}yes', after QEMU sent {recorded}.",
            prefix=pad + "# ",
        ),
    ]


def _divergent_response(
    plan: Plan, exchange: Exchange, variables: dict[str, str], pad: str
) -> list[str]:
    text = check_line(plan, exchange)
    observed = _observed_response(plan, exchange)
    args = _with_files(exchange.arguments, variables)
    parts = [literal(exchange.execute)]
    if args:
        parts.append(f"**{literal(args, len(pad) + 17, WIDTH)}")
    qmp = call("vm.qmp", parts, len(pad) + 9, WIDTH)
    filtered = "iotests.filter_qmp_testfiles(result)"
    if progress_keys(plan):
        filtered = "iotests.filter_qmp_testfiles(filter_progress(result))"
    return [
        *_observed_comment(plan, text, exchange.response, pad),
        f"{pad}log({string(_call_line(plan, exchange), len(pad) + 4, WIDTH, bare=True)})",
        f"{pad}result = {qmp}",
        f"{pad}observed = {literal(observed, len(pad), WIDTH)}",
        f"{pad}seen = 'yes' if {filtered} == observed else 'no'",
        f"{pad}log({string(text, len(pad) + 4, WIDTH, bare=True)} + seen)",
    ]


def _call_line(plan: Plan, exchange: Exchange) -> str:
    args = _ordered(_filter_testfiles(exchange.arguments))
    return printable(json.dumps(OrderedDict((("execute", exchange.execute), ("arguments", args)))))


def _divergent_event(
    plan: Plan, exchange: Exchange, variables: dict[str, str], pad: str
) -> list[str]:
    assert isinstance(exchange.divergent, int)
    event = exchange.events[exchange.divergent]
    text = check_line(plan, exchange)
    match = {"data": _with_files(_match(event["data"]), variables)}
    wait = call(
        "vm.event_wait",
        [
            literal(event["event"]),
            f"timeout={EVENT_TIMEOUT}",
            f"match={literal(match, len(pad) + 32, WIDTH)}",
        ],
        len(pad) + 12,
        WIDTH,
    )
    return [
        *_observed_comment(plan, text, event, pad),
        f"{pad}try:",
        f"{pad}    event = {wait}",
        f"{pad}except asyncio.TimeoutError:",
        f"{pad}    event = None",
        f"{pad}seen = 'yes' if event else 'no'",
        f"{pad}log({string(text, len(pad) + 4, WIDTH, bare=True)} + seen)",
    ]


def render_output(plan: Plan, observed: bool = False) -> str:
    """The reference output (``observed``: what the QEMU the trace was recorded on prints)."""
    keys = progress_keys(plan)
    lines = []
    for exchange in _exchanges(plan):
        if exchange.step is not None:
            lines.append(_step_line(exchange.step))
        if exchange.divergent == "response":
            lines.append(_call_line(plan, exchange))
            lines.append(check_line(plan, exchange) + ("yes" if observed else "no"))
            break
        command = OrderedDict(
            (("execute", exchange.execute), ("arguments", _ordered(exchange.arguments)))
        )
        command = _filter_progress(_filter_testfiles(command), keys)
        lines.append(json.dumps(command))
        response = _filter_progress(_filter_testfiles(exchange.response or {}), keys)
        lines.append(json.dumps(response, sort_keys=True))
        for number, event in enumerate(exchange.events):
            if exchange.divergent == number:
                lines.append(check_line(plan, exchange) + ("yes" if observed else "no"))
                break
            shown = {
                "data": _filter_progress(_filter_testfiles(event["data"]), keys),
                "event": event["event"],
                "timestamp": {"microseconds": "USECS", "seconds": "SECS"},
            }
            lines.append(json.dumps(shown, sort_keys=True))
    return "\n".join(lines) + "\n"
