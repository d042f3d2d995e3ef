"""Turn the QMP-like text of recorded test logs into strict JSON.

QEMU's own test logs do not always hold strict JSON:

* commands written by shell tests use single-quoted strings, as QEMU's QMP
  parser allows: ``{ 'execute': 'block-job-complete', 'arguments': {...} }``;
* filtered values are bare words where JSON wants a value:
  ``{"seconds":  TIMESTAMP}``, ``"offset": OFFSET``, ``"len": LEN``,
  ``"port": PORT``, ``"offset": (filtered)``;
* the Python tests of older releases (QEMU 3.0 and before) logged the
  ``repr()`` of Python 2 objects: ``{u'return': {}}``, ``u"Job 'job0' in state
  ..."`` (Python switches to double quotes when the text holds a ``'``),
  ``18446744073709551104L`` (a long), ``True``/``False``/``None``.

:func:`to_json` rewrites such text into JSON that :func:`json.loads` reads:
single-quoted strings (with or without Python's ``u`` prefix) become
double-quoted strings, a ``u"..."`` string loses its prefix, Python's ``\\xNN``
escapes become JSON's ``\\u00NN``, a long's ``L`` suffix is dropped, and every
bare word other than ``true``/``false``/``null`` becomes a string holding the
word (so the record stays usable: ``"offset": "OFFSET"``).  Python's
``True``/``False``/``None`` become JSON's literals.  Text inside plain
double-quoted strings is never touched.  :func:`bracket_depth` counts open
brackets outside strings, so that a reader can tell where an object printed over
several lines ends.

    >>> to_json("{u'return': {}}")
    ('{"return": {}}', 0)
    >>> to_json('''{u'desc': u"Job 'j' not found", u'size': 512L, 'ok': True}''')[0]
    '{"desc": "Job \\'j\\' not found", "size": 512, "ok": true}'
    >>> to_json('{"offset": OFFSET, "len": (filtered)')
    ('{"offset": "OFFSET", "len": "(filtered)"', 1)

This module is pure: text in, text out.
"""

from __future__ import annotations

import json
import re

_TOKEN = re.compile(
    r"""
    (?P<dq>"(?:[^"\\]|\\.)*")
   |(?P<sq>u?'(?:[^'\\]|\\.)*')
   |(?P<udq>u"(?:[^"\\]|\\.)*")
   |(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?P<long>[lL](?![A-Za-z0-9_]))?
   |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
   |(?P<paren>\([A-Za-z_][A-Za-z0-9_ ]*\))
   |(?P<open>[{\[])
   |(?P<close>[}\]])
   |(?P<other>\s+|.)
    """,
    re.VERBOSE | re.DOTALL,
)

_LITERALS = {
    "true": "true",
    "false": "false",
    "null": "null",
    "True": "true",
    "False": "false",
    "None": "null",
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _python_string(body: str, quote: str) -> str:
    """The body of a Python string literal quoted with ``quote``, as a JSON string.

    ``\\'`` loses its backslash (JSON has no such escape), ``\\xNN`` becomes
    ``\\u00NN``, an unescaped ``"`` gains one; other escapes are JSON's own.
    """
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            if following == "'":
                out.append("'")
            elif following == "x" and i + 3 < len(body):
                out.append("\\u00" + body[i + 2 : i + 4])
                i += 4
                continue
            else:
                out.append(char + following)
            i += 2
            continue
        out.append('\\"' if char == '"' and quote == "'" else char)
        i += 1
    return '"' + "".join(out) + '"'


def to_json(text: str) -> tuple[str, int]:
    """Rewrite one line of QMP-like text as JSON text; also return its bracket balance.

    The balance is the number of ``{``/``[`` minus the number of ``}``/``]``
    outside strings.  The result may still be invalid JSON (a truncated
    object, a stray character): :func:`json.loads` says so.
    """
    out: list[str] = []
    balance = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        token = match.group()
        if kind == "sq":
            body = token[2:-1] if token[0] == "u" else token[1:-1]
            out.append(_python_string(body, "'"))
        elif kind == "udq":
            out.append(_python_string(token[2:-1], '"'))
        elif kind == "long":
            out.append(match.group("num"))
        elif kind == "word":
            out.append(_LITERALS.get(token) or json.dumps(token))
        elif kind == "paren":
            out.append(json.dumps(token))
        else:
            if kind == "open":
                balance += 1
            elif kind == "close":
                balance -= 1
            out.append(token)
    return "".join(out), balance


def bracket_depth(text: str) -> int:
    """The bracket balance of strict JSON text (strings skipped)."""
    bare = _STRING.sub("", text)
    return bare.count("{") + bare.count("[") - bare.count("}") - bare.count("]")
