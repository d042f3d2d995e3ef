"""Which functions emit which rule: a scan of the checks' source for ``RuleId`` members.

A function *emits* a rule when its body names ``RuleId.MEMBER``, or looks a rule up in a
module-level table whose values are rule ids (``BLOCK_EVENTS[name]``,
``VERB_TABLE_RULE.get(verb, ...)``); testing membership in such a table is not emitting, and
neither is saying that a rule was put to the test (the arguments of an ``_exercise(...)`` or
``exercise(...)`` call, and the whole body of a function named ``_exercise…``).  The
scan covers the modules where checks live (:data:`CHECK_MODULES`); it is what the test of
:attr:`jobcheck.model.rules.Rule.checks` compares the catalogue with.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections import defaultdict
from collections.abc import Iterator

from jobcheck.model.rules import RuleId

CHECK_PACKAGES = ("jobcheck.conformance.oracle", "jobcheck.conformance.campaign")
CHECK_MODULES = ("jobcheck.model.semantics", "jobcheck.conformance.report.document")


def check_modules() -> list[str]:
    """Every module where a check may live."""
    import pkgutil

    names = list(CHECK_MODULES)
    for package in CHECK_PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        names += [f"{package}.{m.name}" for m in pkgutil.iter_modules(module.__path__)]
    return names


def _tables(module: object) -> dict[str, set[RuleId]]:
    """Module-level names whose value is a table of rule ids."""
    out: dict[str, set[RuleId]] = {}
    for name, value in vars(module).items():
        values = value.values() if isinstance(value, dict) else value
        if isinstance(values, (tuple, list, frozenset, set, type({}.values()))):
            ids = {v for v in values if isinstance(v, RuleId)}
            if ids:
                out[name] = ids
    return out


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{node.name}.{item.name}", item


def _looked_up(node: ast.AST) -> str | None:
    """The table name of ``TABLE[key]`` or ``TABLE.get(key, ...)``."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return node.value.id
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
    ):
        return node.func.value.id
    return None


def _exercises(node: ast.AST) -> bool:
    """Whether ``node`` is a call ``….exercise(…)`` or ``…._exercise(…)``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("exercise", "_exercise")
    )


def emitters() -> dict[RuleId, set[str]]:
    """Rule → the qualified names (without ``jobcheck.``) of the functions that emit it."""
    found: dict[RuleId, set[str]] = defaultdict(set)
    for name in check_modules():
        module = importlib.import_module(name)
        tables = _tables(module)
        tree = ast.parse(inspect.getsource(module))
        for qualname, node in _functions(tree):
            if qualname.rpartition(".")[2].startswith("_exercise"):
                continue
            where = f"{name.removeprefix('jobcheck.')}.{qualname}"
            tested = {id(n) for call in ast.walk(node) if _exercises(call) for n in ast.walk(call)}
            for sub in ast.walk(node):
                if id(sub) in tested:
                    continue
                if (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id == "RuleId"
                ):
                    found[RuleId[sub.attr]].add(where)
                elif (table := _looked_up(sub)) in tables:
                    for rule in tables[table]:
                        found[rule].add(where)
    return dict(found)
