"""Every cross-reference in a docstring names something that exists.

Docstrings refer to code in Sphinx roles (``:mod:`…```, ``:class:`…```, ``:func:`…```,
``:meth:`…```, ``:attr:`…```, ``:data:`…```, ``:exc:`…```).  Each target is resolved
the way a reader would: a dotted path from ``jobcheck`` (or from a module of the
standard library or a dependency), a path relative to the module (a leading ``.``),
or a name in the module or in the class whose docstring holds it.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

import jobcheck.conformance
import jobcheck.model

ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|attr|data|exc|obj):`~?([^`<>]+?)`")


def _modules() -> list[str]:
    names = []
    for package in (jobcheck.model, jobcheck.conformance):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                names.append(info.name)
    return names


def _resolve_dotted(path: str) -> bool:
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        rest = parts[split:]
        while rest and hasattr(obj, rest[0]):
            obj = getattr(obj, rest.pop(0))
        return not rest or (len(rest) == 1 and _instance_attribute(obj, rest[0]))
    return False


def _instance_attribute(cls: object, name: str) -> bool:
    """A field or attribute of instances: annotated on the class, or set in a method."""
    if not isinstance(cls, type):
        return False
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return True
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if re.search(rf"\bself\.{re.escape(name)}\b\s*(:[^=]+)?=", source):
            return True
    return False


def _resolve(target: str, module: ModuleType, owner: str | None) -> bool:
    target = target.strip().rstrip("()")
    if target.startswith("."):
        package = (
            module.__name__ if hasattr(module, "__path__") else module.__name__.rsplit(".", 1)[0]
        )
        return _resolve_dotted(package + target)
    head = target.split(".", 1)[0]
    candidates = [target]
    if owner:
        candidates.append(f"{module.__name__}.{owner}.{target}")
    candidates.append(f"{module.__name__}.{target}")
    if head in vars(module):
        value = vars(module)[head]
        base = getattr(value, "__module__", None) if not isinstance(value, ModuleType) else None
        if isinstance(value, ModuleType):
            candidates.append(value.__name__ + target[len(head) :])
        elif base:
            candidates.append(f"{base}.{target}")
    if hasattr(builtins, head):
        return True
    return any(_resolve_dotted(c) for c in candidates)


def _docstrings(module: ModuleType) -> list[tuple[str | None, str]]:
    tree = ast.parse(inspect.getsource(module))
    out: list[tuple[str | None, str]] = []
    doc = ast.get_docstring(tree, clean=False)
    if doc:
        out.append((None, doc))

    def visit(node: ast.AST, owner: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                text = ast.get_docstring(child, clean=False)
                here = child.name if isinstance(child, ast.ClassDef) else owner
                if text:
                    out.append((here, text))
                visit(child, here)
            elif (
                isinstance(child, ast.Expr)
                and isinstance(child.value, ast.Constant)
                and isinstance(child.value.value, str)
                and child is not getattr(node, "body", [None])[0]
            ):  # attribute docstrings (a body's first string is its own docstring)
                out.append((owner, child.value.value))

    visit(tree, None)
    return out


@pytest.mark.parametrize("name", _modules())
def test_every_reference_in_a_docstring_resolves(name: str) -> None:
    module = importlib.import_module(name)
    broken = [
        f"{owner or '<module>'}: {target}"
        for owner, text in _docstrings(module)
        for target in ROLE.findall(text)
        if not _resolve(target, module, owner)
    ]
    assert broken == [], f"{name}: references that name nothing: {broken}"
