"""No trace content becomes code in an exported script or iotest.

Three layers:

* the renderers: every string of a plan (commands, arguments, responses, events,
  step texts, the rule's texts, versions) is replaced by arbitrary text, and the
  exported script and iotest must parse to exactly the AST of the benign export,
  constants aside: the same statements, calls and names, so nothing from the trace
  can run;
* the command line: an arbitrary string is written into a field of a live trace
  file; ``jobcheck export`` either refuses it (exit 2, one line) or writes sources
  whose every call and name is one the exporter itself writes;
* the payloads that once escaped (a status holding a triple quote, a version
  holding a carriage return) are exported and the results run: the canary file
  the payloads would create never appears.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobcheck.conformance.cli import main
from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.export import iotest as export_iotest
from jobcheck.conformance.export import script as export_script
from jobcheck.conformance.export.plan import WORKDIR, Exchange, Plan, build_plan, choose
from jobcheck.conformance.export.plan import divergences as find_divergences
from jobcheck.conformance.trace.records import map_strings, strings
from jobcheck.model.lifecycle import model_for

DATA = Path(__file__).parent / "data"
TRACES = [DATA / "qsd-7.2.22-pause-in-ready-edited.jsonl"]

EVIL = [
    '"""',
    "'''",
    '"""; __import__("os").system("touch CANARY") #',
    "'''; __import__('os').system('touch CANARY') #",
    "\r__import__('os').system('touch CANARY')",
    "\n__import__('os').system('touch CANARY')\n#",
    "\\",
    "\\u2028",
    "\u2028import os\u2029",
    "\u202e\u2066",
    "%s%d{0}{x}",
    "\x00",
    "\x1b[2J",
]
texts = st.sampled_from(EVIL) | st.text(max_size=30)


def _benign_plan() -> Plan:
    from jobcheck.conformance.trace.readers import read_trace

    with read_trace(str(TRACES[0])) as (meta, records_iter):
        records = list(records_iter)
    model = model_for("7.2")
    found = choose(find_divergences(records, meta, model), None, False, "t")
    return build_plan(records, meta, model, "trace.jsonl", found)


BENIGN = _benign_plan()


def _data(node: ast.AST) -> bool:
    """Whether a node is a literal of plain data (constants, lists, tuples, dicts of them)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.List | ast.Tuple):
        return all(_data(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _data(k) for k in node.keys) and all(
            _data(v) for v in node.values
        )
    return False


class _Data(ast.NodeTransformer):
    """Every literal of plain data becomes one placeholder: its size and values are data."""

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.expr) and _data(node):
            return ast.Constant("data")
        return super().generic_visit(node)


def _shape(source: str) -> str:
    """The AST with every data literal replaced by a placeholder: what the code does."""
    return ast.dump(_Data().visit(ast.parse(source)), include_attributes=False)


def _fuzzed(plan: Plan, pick: Any) -> Plan:
    """``plan`` with every string replaced by one ``pick()`` draws (file names under the
    reproducer's directory aside: they are checked names, not free text)."""

    def change(text: str) -> str:
        return text if text.startswith(WORKDIR + "/") else str(pick())

    exchanges = [
        Exchange(
            str(pick()),
            map_strings(e.arguments, change),
            map_strings(e.response, change),
            map_strings(e.events, change),
            e.divergent,
            None if e.step is None else str(pick()),
        )
        for e in plan.exchanges
    ]
    return replace(
        plan,
        exchanges=exchanges,
        rule=str(pick()),
        anchor=str(pick()),
        quote=str(pick()),
        paraphrase=str(pick()),
        expected=str(pick()),
        observed=str(pick()),
        message=str(pick()),
        qemu_version=str(pick()),
        source=str(pick()),
        job_kind=str(pick()),
    )


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_plans_export_to_the_benign_ast(data: st.DataObject) -> None:
    plan = _fuzzed(BENIGN, lambda: data.draw(texts))
    script = export_script.render(plan)
    assert _shape(script) == _shape(export_script.render(BENIGN))
    test = export_iotest.render_test(plan)
    assert _shape(test) == _shape(export_iotest.render_test(BENIGN))
    out = export_iotest.render_output(plan)
    assert len(out.splitlines()) == len(export_iotest.render_output(BENIGN).splitlines())


# --- the command line -------------------------------------------------------------------


def _vocabulary(source: str) -> set[str]:
    """Every name, attribute chain and imported module an exported source uses."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(_dotted(node))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            out.update(alias.name for alias in node.names)
            out.add(getattr(node, "module", None) or "")
    return out


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return type(node).__name__


def _benign_vocabulary(kind: str) -> set[str]:
    out = Path(tempfile.mkdtemp(prefix="benign-")) / kind
    code = main(["export", str(TRACES[0]), "--as", kind, "--out", str(out)])
    assert code == 0
    return _vocabulary(out.read_text(encoding="utf-8"))


def _trace_lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in TRACES[0].read_text().splitlines()]


def _string_fields(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_fields(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_fields(v, (*path, i))]
    return []


def _set(value: Any, path: tuple[Any, ...], new: str) -> None:
    for key in path[:-1]:
        value = value[key]
    value[path[-1]] = new


LINES = _trace_lines()
VOCABULARY = {kind: _benign_vocabulary(kind) for kind in ("script", "iotest")}
FIELDS = [(n, p) for n, obj in enumerate(LINES) for p in _string_fields(obj) if p != ("kind",)]


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FIELDS), texts), min_size=1, max_size=4))
def test_arbitrary_strings_in_a_trace_are_refused_or_stay_data(
    tmp_path_factory: pytest.TempPathFactory, changes: list[tuple[tuple[int, Any], str]]
) -> None:
    lines = json.loads(json.dumps(LINES))
    for (number, path), text in changes:
        _set(lines[number], path, text)
    tmp = tmp_path_factory.mktemp("fuzz")
    trace = tmp / "t.jsonl"
    trace.write_text("".join(json.dumps(o) + "\n" for o in lines), encoding="utf-8")
    for kind in ("script", "iotest"):
        out = tmp / kind
        argv = ["export", str(trace), "--as", kind, "--out", str(out), "--allow-known"]
        try:
            code = main(argv)
        except UsageError:  # pragma: no cover - main turns these into exit 2
            code = 2
        assert code in (0, 2)
        if code == 0:
            # nothing but the names the benign export uses: no call, import or name of
            # the trace's making
            assert _vocabulary(out.read_text(encoding="utf-8")) <= VOCABULARY[kind]


# --- the payloads that once escaped --------------------------------------------------------


@pytest.mark.parametrize("payload", [p for p in EVIL if "CANARY" in p])
def test_payloads_in_a_status_export_as_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: str
) -> None:
    lines = json.loads(json.dumps(LINES))
    divergent = next(
        o
        for o in lines
        if o.get("event") == "JOB_STATUS_CHANGE" and o["data"]["status"] == "paused"
    )
    divergent["data"]["status"] = "paused" + payload
    trace = tmp_path / "t.jsonl"
    trace.write_text("".join(json.dumps(o) + "\n" for o in lines), encoding="utf-8")
    script, test = tmp_path / "repro.py", tmp_path / "test"
    pick = ["--divergence", "d01"]  # qapi.members-known: a status QEMU does not have
    assert main(["export", str(trace), "--as", "script", "--out", str(script), *pick]) == 0
    assert main(["export", str(trace), "--as", "iotest", "--out", str(test), *pick]) == 0
    capsys.readouterr()
    exchanges = next(
        node.value
        for node in ast.parse(script.read_text()).body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "EXCHANGES"
    )
    assert "paused" + payload in set(strings(ast.literal_eval(exchanges)))
    done = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    compile(test.read_text(), str(test), "exec")
    assert not (tmp_path / "CANARY").exists()


def test_a_version_with_a_carriage_return_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = json.loads(json.dumps(LINES))
    lines[0]["qemu_version"] = "7.2.22\r__import__('os').system('touch CANARY')"
    trace = tmp_path / "t.jsonl"
    trace.write_text("".join(json.dumps(o) + "\n" for o in lines), encoding="utf-8")
    assert main(["export", str(trace), "--as", "iotest", "--out", str(tmp_path / "t")]) == 2
    assert "'qemu_version' must be a version" in capsys.readouterr().err
