"""Counting the QMP messages of a test log without the readers: a check on what they drop.

The readers of :mod:`jobcheck.conformance.trace` work line by line: a value opens at a
``{`` that starts a line (after unittest progress characters), continues on lines of a
certain shape, and is parsed as JSON.  This counter shares none of that, so that a message
the readers lose shows up as a difference: it takes the whole file as one character
stream, finds every balanced top-level ``{...}`` wherever it starts (mid-line, after any
prefix, over any number of lines), skipping the inside of ``'...'`` and ``"..."`` strings,
and classifies each object by the keys at its own nesting level (a quoted word followed by
``:``; Python's ``u''`` prefix allowed).  An object with none of QMP's keys is program
output (``qemu-img info``, a ``{}`` printed by a test) and is not counted.

    >>> count_messages('..{"execute": "job-finalize"}\\n{u\\'return\\': {}}')
    [(1, 'command'), (2, 'return')]
    >>> count_messages('text {"event": "X",\\n "data": {"s": "a } b"}} {"image": 1}')
    [(1, 'event')]
"""

from __future__ import annotations

import re

#: Each kind of QMP message and the key that makes it, in the order they are tested.
KINDS = (
    ("execute", "command"),
    ("exec-oob", "command"),
    ("event", "event"),
    ("error", "error"),
    ("return", "return"),
    ("QMP", "greeting"),
)

_KEY = re.compile(r"""u?(["'])([A-Za-z_-]+)\1\s*:""")


def _objects(text: str) -> list[tuple[int, str]]:
    """Each balanced top-level object: its first line, and its own level's text (the
    insides of nested objects and arrays left out)."""
    found: list[tuple[int, str]] = []
    line = 1
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\n":
            line += 1
        if char != "{":
            i += 1
            continue
        start_line = line
        depth = 0
        quote = ""
        own: list[str] = []
        j = i
        closed = False
        while j < len(text):
            c = text[j]
            if c == "\n":
                line += 1
            if quote:
                if c == "\\":
                    j += 2
                    continue
                if c == quote:
                    quote = ""
            elif c in "\"'":
                quote = c
            elif c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    closed = True
                    break
            if depth == 1:
                own.append(c)
            j += 1
        if not closed:
            # No balanced object starts here: go on after the brace, counting its lines again.
            line = start_line
            i += 1
            continue
        found.append((start_line, "".join(own)))
        i = j + 1
    return found


def count_messages(text: str) -> list[tuple[int, str]]:
    """``(first line, kind)`` of every QMP message in ``text``; kinds: ``command``,
    ``return``, ``error``, ``event``, ``greeting``."""
    messages: list[tuple[int, str]] = []
    for line, own in _objects(text):
        keys = {match.group(2) for match in _KEY.finditer(own)}
        kind = next((kind for key, kind in KINDS if key in keys), None)
        if kind is not None:
            messages.append((line, kind))
    return messages
