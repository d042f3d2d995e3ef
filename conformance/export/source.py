"""Writing Python source that holds values from a trace, so that none can become code.

The exporters never paste trace text into a template.  Every value from a
trace reaches the generated source in one of two forms:

* a Python literal of plain data (:func:`literal`): strings through
  :func:`repr`, which escapes every quote, backslash and line break; integers,
  booleans, ``None`` and finite floats as themselves; lists and dicts of
  these, keys strings.  Anything else (a NaN, a set, an object) is refused, and
  the text is parsed back with :func:`ast.literal_eval` and compared before it
  is used;
* a comment line (:func:`comment`): printable characters only, every other
  character (line breaks of any kind, control and format characters such as
  the bidirectional overrides) written as a ``\\uXXXX`` escape, so that a
  comment cannot end early or display other than it reads.

Names that the source uses as identifiers (variables for test files) are made
by :func:`identifier` from a fixed alphabet.  :func:`about` is the paragraph
both exporters put at the top: the rule, what the documentation says, what
the model expects, what QEMU did.
"""

from __future__ import annotations

import ast
import math
import re
import textwrap
from typing import Any

from jobcheck.conformance.errors import UsageError


class Expr(str):
    """Source text that :func:`literal` writes as it is (a name the exporter made)."""


def _check(value: Any, where: str) -> None:
    if value is None or isinstance(value, bool | int | str | Expr):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UsageError(f"{where}: {value!r} is not JSON and cannot be exported")
        return
    if isinstance(value, list):
        for item in value:
            _check(item, where)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UsageError(f"{where}: a key that is not a string cannot be exported")
            _check(item, where)
        return
    raise UsageError(f"{where}: a {type(value).__name__} cannot be exported")


def _flat(value: Any) -> str:
    if isinstance(value, Expr):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    return repr(value)


def _pretty(value: Any, indent: int, width: int) -> str:
    flat = _flat(value)
    if indent + len(flat) <= width or not isinstance(value, dict | list) or not value:
        return flat
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{pad}{k!r}: {_pretty(v, indent + 4, width)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{_pretty(v, indent + 4, width)}," for v in value]
    return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"


def _plain(value: Any) -> Any:
    """``value`` with every :class:`Expr` replaced by a name placeholder, for the self-check."""
    if isinstance(value, Expr):
        return ("expr", str(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def literal(value: Any, indent: int = 0, width: int = 96, where: str = "trace") -> str:
    """``value`` (plain JSON data) as Python source that evaluates to it, wrapped at ``width``.

    >>> print(literal({"id": "x'''\\n", "n": [1, 2.5, None, True]}))
    {'id': "x\'\'\'\\n", 'n': [1, 2.5, None, True]}
    >>> try:
    ...     literal(float("nan"))
    ... except UsageError as exc:
    ...     print(exc)
    trace: nan is not JSON and cannot be exported
    """
    _check(value, where)
    text = _pretty(value, indent, width)
    # the text must read back as exactly the value (a guard, never expected to fire)
    if not _has_expr(value) and ast.literal_eval(text) != value:
        raise AssertionError(f"literal() wrote source that does not read back: {text}")
    return text


def _has_expr(value: Any) -> bool:
    if isinstance(value, Expr):
        return True
    if isinstance(value, dict):
        return any(_has_expr(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_expr(v) for v in value)
    return False


def call(function: str, args: list[str], indent: int, width: int = 79) -> str:
    """``function(args...)`` laid out as QEMU's Python is: on one line if it fits in
    ``width``, else with the arguments filled in after the parenthesis.

    >>> print(call("log", ["'a'", "filters=[f]"], 4))
    log('a', filters=[f])
    >>> print(call("vm.qmp_log", ["'x'", "a=1", "b=2"], 0, width=20))
    vm.qmp_log('x', a=1,
               b=2)

    Lines after the first carry their whole indentation; the first carries none.
    """
    flat = f"{function}({', '.join(args)})"
    if indent + len(flat) <= width and "\n" not in flat:
        return flat
    column = indent + len(function) + 1
    lines = [f"{function}("]
    for number, arg in enumerate(args):
        text = arg + (")" if number == len(args) - 1 else ",")
        last = lines[-1]
        used = len(last) + (indent if len(lines) == 1 else 0)
        if last.endswith("(") or ("\n" not in text and used + 1 + len(text) <= width):
            lines[-1] = last + ("" if last.endswith("(") else " ") + text
        else:
            lines.append(" " * column + text)
    return "\n".join(lines)


def string(text: str, indent: int, width: int = 79, bare: bool = False) -> str:
    """``text`` as Python string literals, split at spaces to fit ``width`` (adjacent literals
    concatenate); every piece written by :func:`repr`.  ``bare``: without the parentheses
    (for the only argument of a call, whose parentheses hold the pieces together).

    >>> print(string("one two three", 0, 12))
    ('one two '
     'three')
    """
    pieces: list[str] = []
    for word in re.split(r"(?<= )", text):
        if pieces and indent + 1 + len(repr(pieces[-1] + word)) <= width:
            pieces[-1] += word
        else:
            pieces.append(word)
    if len(pieces) <= 1:
        return repr(text)
    if bare:
        return ("\n" + " " * indent).join(repr(p) for p in pieces)
    joiner = "\n" + " " * (indent + 1)
    return "(" + joiner.join(repr(p) for p in pieces) + ")"


def printable(text: str) -> str:
    """``text`` with every character that is not printable (``str.isprintable``) escaped.

    >>> print(printable("a\\rb\\u202ec"))
    a\\u000db\\u202ec
    """
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def comment(text: str, width: int = 79, prefix: str = "# ") -> list[str]:
    """``text`` as comment lines of at most ``width`` characters (longer words kept whole).

    >>> print(comment("a\\nb", 10)[0])
    # a\\u000ab
    """
    safe = printable(text)
    lines = textwrap.wrap(
        safe,
        width - len(prefix),
        subsequent_indent="  ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [(prefix + line).rstrip() for line in lines or [""]]


_NOT_NAME = re.compile(r"[^a-z0-9]+")


def identifier(text: str, taken: set[str]) -> str:
    """A fresh Python identifier that reads like ``text`` (``mid-file.img`` → ``mid_file``).

    >>> identifier("mid-file.img", set())
    'mid_file'
    >>> identifier("9.img", {"img_9"})
    'img_9_2'
    """
    stem = text.rsplit(".", 1)[0] if "." in text else text
    name = _NOT_NAME.sub("_", stem.lower()).strip("_") or "img"
    if not name[0].isalpha() or name in ("vm", "iotests", "log", "os"):
        name = f"img_{name}"
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    taken.add(candidate)
    return candidate


def about(
    rule: str,
    anchor: str | None,
    quote: str | None,
    paraphrase: str | None,
    expected: str,
    observed: str,
) -> list[str]:
    """The paragraph both exporters open with, one item a sentence (not yet comment lines)."""
    out = [f"Rule {rule}" + (f" ({anchor})" if anchor else "") + "."]
    if quote:
        out.append(f'Documented: "{quote}"')
    if paraphrase:
        out.append(f"Rule in short: {paraphrase}")
    out.append(f"Expected: {expected}")
    out.append(f"Observed: {observed}")
    return out
