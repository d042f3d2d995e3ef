"""Turn the QMP-like text of recorded test logs into strict JSON.

QEMU's own test logs do not always hold strict JSON:

* commands written by shell tests use single-quoted strings, as QEMU's QMP
  parser allows: ``{ 'execute': 'block-job-complete', 'arguments': {...} }``;
* filtered values are bare words where JSON wants a value:
  ``{"seconds":  TIMESTAMP}``, ``"offset": OFFSET``, ``"len": LEN``,
  ``"port": PORT``, ``"offset": (filtered)``.

:func:`to_json` rewrites such text into JSON that :func:`json.loads` reads:
single-quoted strings become double-quoted strings, and every bare word other
than ``true``/``false``/``null`` becomes a string holding the word (so the
record stays usable: ``"offset": "OFFSET"``).  Python's ``True``/``False``/
``None`` become JSON's literals.  Text inside double-quoted strings is never
touched.  :func:`bracket_depth` counts open brackets outside strings, so that a
reader can tell where an object printed over several lines ends.

This module is pure: text in, text out.
"""

from __future__ import annotations

import json
import re

_TOKEN = re.compile(
    r"""
    (?P<dq>"(?:[^"\\]|\\.)*")
   |(?P<sq>'(?:[^'\\]|\\.)*')
   |(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
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


def _single_quoted(token: str) -> str:
    """``'it\\'s'`` → ``"it's"``: a single-quoted QMP string as a JSON string."""
    out: list[str] = []
    body = token[1:-1]
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            if following == "'":
                out.append("'")
            else:
                out.append(char + following)
            i += 2
            continue
        out.append('\\"' if char == '"' else char)
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
            out.append(_single_quoted(token))
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
