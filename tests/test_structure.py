"""The shape of the package: no import cycles, and no stage imports from a later one.

The stages of ``jobcheck.conformance`` are listed, in pipeline order, in
:data:`jobcheck.conformance.STAGES`; ``jobcheck.model`` comes before all of them and
imports none of them.  Every import counts, those inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import jobcheck.conformance
import jobcheck.model
from jobcheck.conformance import STAGES

ROOTS = {
    "jobcheck.model": Path(jobcheck.model.__file__).parent,
    "jobcheck.conformance": Path(jobcheck.conformance.__file__).parent,
}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The jobcheck modules ``name`` imports (a package's ``__init__`` counts as the package)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, *([node.module] if node.module else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules and m != name}


def _graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for target in _imports(name, path, modules):
            graph.add_edge(name, target)
    return graph


def stage_of(module: str) -> int:
    """The pipeline position of a module: 0 for the model, then the order of STAGES."""
    if module.startswith("jobcheck.model"):
        return 0
    rest = module.removeprefix("jobcheck.conformance").lstrip(".")
    if not rest:
        return 0
    head = rest.split(".", 1)[0]
    assert head in STAGES, f"{module}: not in a stage of jobcheck.conformance.STAGES"
    return 1 + STAGES.index(head)


def test_there_is_no_import_cycle() -> None:
    cycles = list(nx.simple_cycles(_graph()))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_module_imports_from_a_later_stage() -> None:
    wrong = [
        f"{a} imports {b}"
        for a, b in _graph().edges
        if stage_of(b) > stage_of(a) and b != "jobcheck.conformance"
    ]
    assert wrong == []


def test_every_module_is_in_a_stage_and_the_top_level_stays_small() -> None:
    top = [m for m in _modules() if m.count(".") == 2 and m.startswith("jobcheck.conformance.")]
    assert all(stage_of(m) >= 0 for m in _modules())
    modules_at_top = [
        m for m in top if (ROOTS["jobcheck.conformance"] / f"{m.rsplit('.', 1)[1]}.py").exists()
    ]
    assert len(modules_at_top) <= 12, modules_at_top


def test_the_model_imports_nothing_of_the_conformance_suite() -> None:
    assert not [
        (a, b)
        for a, b in _graph().edges
        if a.startswith("jobcheck.model") and b.startswith("jobcheck.conformance")
    ]
