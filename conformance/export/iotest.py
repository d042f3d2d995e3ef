"""``jobcheck export --as iotest``: a qemu-iotests test (Python) and its reference output.

The test follows the conventions of QEMU's own Python iotests: ``iotests.VM``
as a context manager, ``vm.qmp_log`` for each command (with
``filter_qmp_testfiles``), ``vm.event_wait`` for each recorded event, logged
with ``filter_qmp_event``, and ``iotests.log`` for comments.  A QEMU developer
drops the two files into ``tests/qemu-iotests/tests/`` and runs
``./check -qcow2 NAME``.

The reference output (``NAME.out``) is what QEMU printed when the trace was
recorded: the test passes on that QEMU and shows the divergence on the line
after ``divergent record``.  When QEMU is changed to behave as documented,
that line (and maybe the ones after it) changes: the developer then updates
the ``.out`` — the diff is the fix, made visible.  Progress numbers
(``current-progress``, ``total-progress``, and ``offset``/``len`` of block-job
events) are filtered to ``FILTERED``, as iotest 219 does, unless the
divergence is about progress.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from jobcheck.conformance.export.plan import WORKDIR, Plan

PROGRESS_KEYS = ("current-progress", "total-progress", "offset", "len")

HEADER = """#!/usr/bin/env python3
# group: rw quick
#
# Job lifecycle: @@TITLE@@
#
@@ABOUT@@
#
# The reference output records QEMU's behaviour when jobcheck found the
# divergence (QEMU @@VERSION@@); the line after "divergent record" shows it.
# Once QEMU behaves as documented, update the reference output.
#
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

import os

import iotests
from iotests import log

iotests.script_initialize(supported_fmts=['qcow2'], supported_protocols=['file'])

PROGRESS = @@PROGRESS@@


def fix(args):
    \"\"\"Put the test's files into the test directory.\"\"\"
    if isinstance(args, str):
        return args.replace(@@WORKDIR@@ + '/', os.path.join(iotests.test_dir, f'{os.getpid()}-'))
    if isinstance(args, dict):
        return {key: fix(value) for key, value in args.items()}
    if isinstance(args, list):
        return [fix(value) for value in args]
    return args


def filter_progress(msg):
    return iotests.filter_qmp(msg, lambda key, value:
                              'FILTERED' if key in PROGRESS else value)


FILTERS = [iotests.filter_qmp_testfiles, filter_progress]
EVENT_FILTERS = [iotests.filter_qmp_event, filter_progress]


def wait(vm, name, match):
    log(vm.event_wait(name, timeout=10.0, match={'data': match}), filters=EVENT_FILTERS)


with iotests.VM() as vm:
    vm.launch()
"""


def _title(plan: Plan) -> str:
    return f"{plan.rule}" + (f" ({plan.anchor})" if plan.anchor else "")


def _about(plan: Plan) -> str:
    lines = []
    if plan.quote:
        lines.append(f'Documented: "{plan.quote}"')
    if plan.paraphrase:
        lines.append(f"Rule: {plan.paraphrase}")
    lines.append(f"Expected: {plan.expected}")
    lines.append(f"Observed: {plan.observed}")
    out = []
    for line in lines:
        words = line.split()
        current = "#"
        for word in words:
            if len(current) + 1 + len(word) > 78 and current != "#":
                out.append(current)
                current = "#  "
            current += " " + word
        out.append(current)
    return "\n".join(out)


def progress_keys(plan: Plan) -> tuple[str, ...]:
    """The keys filtered as progress (none when the divergence is about progress)."""
    return () if plan.rule.startswith("job-info.") and "progress" in plan.rule else PROGRESS_KEYS


def _match(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in ("id", "device", "status") if k in data}


def render_test(plan: Plan) -> str:
    """The test's Python source."""
    version = plan.qemu_version or "?"
    out = (
        HEADER.replace("@@TITLE@@", _title(plan))
        .replace("@@ABOUT@@", _about(plan))
        .replace("@@VERSION@@", version)
        .replace("@@PROGRESS@@", repr(progress_keys(plan)))
        .replace("@@WORKDIR@@", repr(WORKDIR))
    )
    lines = [out.rstrip("\n")]
    pad = " " * 4
    for exchange in plan.exchanges:
        if exchange.step:
            lines.append(f"{pad}log({_comment_step(exchange.step)!r})")
        if exchange.divergent == "response":
            lines.append(f"{pad}log({_divergent(plan)!r})")
        head = f"{pad}vm.qmp_log({exchange.execute!r}, filters=FILTERS, **fix("
        flat = repr(exchange.arguments)
        if len(head) + len(flat) + 2 <= 96:
            lines.append(f"{head}{flat}))")
        else:
            lines.append(head + "{")
            lines += [f"{pad}    {k!r}: {v!r}," for k, v in exchange.arguments.items()]
            lines.append(f"{pad}}}))")
        for number, event in enumerate(exchange.events):
            if exchange.divergent == number:
                lines.append(f"{pad}log({_divergent(plan)!r})")
            match = repr(_match(event["data"]))
            lines.append(f"{pad}wait(vm, {event['event']!r}, fix({match}))")
    return "\n".join(lines) + "\n"


def _comment_step(step: str) -> str:
    return f"# step: {step}"


def _divergent(plan: Plan) -> str:
    return f"# divergent record (jobcheck rule {plan.rule}): next line"


def _filter_testfiles(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(WORKDIR + "/", "TEST_DIR/PID-")
    if isinstance(value, dict):
        return {k: _filter_testfiles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_filter_testfiles(v) for v in value]
    return value


def _filter_progress(value: Any, keys: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {
            k: "FILTERED"
            if k in keys and not isinstance(v, (dict, list))
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


def render_output(plan: Plan) -> str:
    """The reference output: what the test prints when QEMU answers as recorded."""
    keys = progress_keys(plan)
    lines = []
    for exchange in plan.exchanges:
        if exchange.step:
            lines.append(_comment_step(exchange.step))
        if exchange.divergent == "response":
            lines.append(_divergent(plan))
        command = OrderedDict(
            (("execute", exchange.execute), ("arguments", _ordered(exchange.arguments)))
        )
        command = _filter_progress(_filter_testfiles(command), keys)
        lines.append(json.dumps(command))
        response = _filter_progress(_filter_testfiles(exchange.response or {}), keys)
        lines.append(json.dumps(response, sort_keys=True))
        for number, event in enumerate(exchange.events):
            if exchange.divergent == number:
                lines.append(_divergent(plan))
            shown = {
                "data": _filter_progress(_filter_testfiles(event["data"]), keys),
                "event": event["event"],
                "timestamp": {"microseconds": "USECS", "seconds": "SECS"},
            }
            lines.append(json.dumps(shown, sort_keys=True))
    return "\n".join(lines) + "\n"
