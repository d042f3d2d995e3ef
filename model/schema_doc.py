"""Read a QAPI schema file's definitions and doc comments, to map them to rules.

QAPI schema files (``qapi/job.json`` and friends) are a sequence of
JSON-like expressions written with single-quoted strings, each usually
preceded by a doc comment block: a ``##`` line, lines starting with ``#``,
and a closing ``##`` line.  A definition's block starts with ``# @Name:``;
its members are documented by ``# @member:`` sections, and ``# @feature:``
sections after a ``Features:`` line document features (not members).

This module turns the schema *text* into :class:`Definition` objects and the
flat list of anchors (``@JobStatus``, ``@JobStatus.null``, ``@job-pause.id``,
``@JobInfo.current-progress``, …) that :mod:`jobcheck.model.rules` refers
to.  It takes text, not a path: reading the file is the caller's business, so
the model stays free of I/O.

    >>> defs = parse_schema('''
    ... ##
    ... # @Colour:
    ... #
    ... # @red: warm
    ... ##
    ... { 'enum': 'Colour', 'data': [ 'red', 'blue' ] }
    ... ''')
    >>> [(a.anchor, a.documented) for a in anchors(defs)]
    [('@Colour', True), ('@Colour.red', True), ('@Colour.blue', False)]

Malformed input raises :class:`SchemaSyntaxError` with the line it was found on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

#: The definition keywords that name something a client can refer to.
DEFINITION_KINDS: tuple[str, ...] = ("enum", "struct", "union", "alternate", "event", "command")
#: Top-level directives that define nothing.
DIRECTIVES: tuple[str, ...] = ("include", "pragma")

_MEMBER_KIND = {
    "enum": "value",
    "struct": "member",
    "union": "member",
    "alternate": "branch",
    "event": "data",
    "command": "argument",
}
_SECTION_RE = re.compile(r"^@([A-Za-z0-9_.+-]+)\s*:(.*)$")
_TAG_RE = re.compile(
    r"^(Since|Returns|Errors?|Features|Examples?|Notes?|TODO|Members|Arguments)\s*:(.*)$"
)
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.+-]*$")


class SchemaSyntaxError(ValueError):
    """The schema text is not a well-formed QAPI schema; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class Located(str):
    """A string from the schema that remembers the line it was written on."""

    line: int

    def __new__(cls, value: str, line: int) -> Located:
        self = super().__new__(cls, value)
        self.line = line
        return self


Value = Located | bool | list["Value"] | dict[Located, "Value"]
"""A parsed schema value: a string, ``true``/``false``, a list or a dictionary."""


@dataclass(frozen=True)
class DocBlock:
    """One ``##``-delimited doc comment."""

    line: int
    """Line of the opening ``##``."""
    symbol: str | None
    """The ``@Name`` the block documents, or ``None`` for free-form text (headings)."""
    members: dict[str, str]
    """``@member:`` sections (before any ``Features:`` line): name → first line of text."""
    features: dict[str, str]
    """``@feature:`` sections after a ``Features:`` line."""
    text: str
    """The block's text, ``#`` prefixes removed."""


@dataclass(frozen=True)
class Member:
    """A member of a definition: enum value, struct member, event data, command argument."""

    name: str
    line: int


@dataclass(frozen=True)
class Definition:
    """One named schema definition and its documentation."""

    kind: str
    """One of :data:`DEFINITION_KINDS`."""
    name: str
    line: int
    members: tuple[Member, ...]
    doc: DocBlock | None


@dataclass(frozen=True)
class Anchor:
    """A documentable thing of the schema, named as rules refer to it."""

    anchor: str
    """``@Name`` or ``@Name.member``."""
    kind: str
    """The definition kind, or for a member ``enum value``, ``command argument``, …."""
    line: int
    documented: bool
    """Whether the schema's doc comments document it."""


# --- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str
    """One of ``{ } [ ] , :``, ``str``, ``bool``, ``doc``."""
    line: int
    text: str = ""
    doc: DocBlock | None = None


def _tokens(text: str) -> Iterator[_Token]:
    lines = text.splitlines()
    n = 0
    while n < len(lines):
        line = lines[n]
        lineno = n + 1
        col = 0
        if line.strip() == "##" and line.lstrip() == line:
            end = n + 1
            while end < len(lines) and lines[end].rstrip() != "##":
                if not lines[end].startswith("#"):
                    raise SchemaSyntaxError(
                        end + 1, "doc comment line does not start with '#' (missing '##'?)"
                    )
                end += 1
            if end == len(lines):
                raise SchemaSyntaxError(lineno, "doc comment not closed by a '##' line")
            yield _Token("doc", lineno, doc=_doc_block(lineno, lines[n + 1 : end]))
            n = end + 1
            continue
        while col < len(line):
            char = line[col]
            if char in " \t\r\f\v":
                col += 1
            elif char == "#":
                break
            elif char in "{}[],:":
                yield _Token(char, lineno)
                col += 1
            elif char == "'":
                value, col = _string(line, col + 1, lineno)
                yield _Token("str", lineno, value)
            else:
                word = re.match(r"[A-Za-z0-9_.+-]+", line[col:])
                if word and word.group() in ("true", "false"):
                    yield _Token("bool", lineno, word.group())
                    col += len(word.group())
                else:
                    stray = word.group() if word else char
                    raise SchemaSyntaxError(lineno, f"unexpected {stray!r}")
        n += 1


def _string(line: str, col: int, lineno: int) -> tuple[str, int]:
    out: list[str] = []
    while col < len(line):
        char = line[col]
        if char == "'":
            return "".join(out), col + 1
        if char == "\\" and col + 1 < len(line):
            col += 1
            char = line[col]
        out.append(char)
        col += 1
    raise SchemaSyntaxError(lineno, 'string not closed on its line (missing "\'")')


def _doc_block(line: int, body: list[str]) -> DocBlock:
    text_lines = [raw[2:] if raw.startswith("# ") else raw[1:] for raw in body]
    symbol: str | None = None
    members: dict[str, str] = {}
    features: dict[str, str] = {}
    in_features = False
    first = next((t for t in text_lines if t.strip()), "")
    match = _SECTION_RE.match(first)
    if match and not match.group(2).strip():
        symbol = match.group(1)
    seen_symbol = False
    for content in text_lines:
        if symbol is not None and not seen_symbol and content.strip():
            seen_symbol = True
            continue
        tag = _TAG_RE.match(content)
        if tag:
            in_features = tag.group(1) == "Features"
            continue
        section = _SECTION_RE.match(content)
        if section and symbol is not None:
            target = features if in_features else members
            target[section.group(1)] = section.group(2).strip()
    return DocBlock(line, symbol, members, features, "\n".join(text_lines))


# --- expressions ----------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._last_line = max(1, len(text.splitlines()))
        self._peeked: _Token | None = None

    def peek(self) -> _Token | None:
        if self._peeked is None:
            self._peeked = next(self._tokens, None)
        return self._peeked

    def take(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise SchemaSyntaxError(self._last_line, f"unexpected end of file, expected {what}")
        self._peeked = None
        return token

    def value(self) -> Value:
        token = self.take("a value")
        if token.kind == "str":
            return Located(token.text, token.line)
        if token.kind == "bool":
            return token.text == "true"
        if token.kind == "{":
            return self._dict(token.line)
        if token.kind == "[":
            return self._list()
        raise SchemaSyntaxError(token.line, f"expected a value, found {_describe(token)}")

    def _dict(self, line: int) -> dict[Located, Value]:
        out: dict[Located, Value] = {}
        token = self.take("'}'")
        if token.kind == "}":
            return out
        while True:
            if token.kind != "str":
                raise SchemaSyntaxError(token.line, f"expected a key, found {_describe(token)}")
            key = Located(token.text, token.line)
            if key in out:
                raise SchemaSyntaxError(token.line, f"duplicate key {token.text!r}")
            colon = self.take("':'")
            if colon.kind != ":":
                raise SchemaSyntaxError(colon.line, f"expected ':', found {_describe(colon)}")
            out[key] = self.value()
            token = self.take("',' or '}'")
            if token.kind == "}":
                return out
            if token.kind != ",":
                raise SchemaSyntaxError(
                    token.line, f"expected ',' or '}}', found {_describe(token)}"
                )
            token = self.take("a key")

    def _list(self) -> list[Value]:
        out: list[Value] = []
        if (token := self.peek()) is not None and token.kind == "]":
            self.take("']'")
            return out
        while True:
            out.append(self.value())
            token = self.take("',' or ']'")
            if token.kind == "]":
                return out
            if token.kind != ",":
                raise SchemaSyntaxError(
                    token.line, f"expected ',' or ']', found {_describe(token)}"
                )


def _describe(token: _Token) -> str:
    if token.kind == "str":
        return f"string {token.text!r}"
    if token.kind == "bool":
        return token.text
    if token.kind == "doc":
        return "a doc comment"
    return repr(token.kind)


def _keys(value: Value, where: str, line: int) -> tuple[Member, ...]:
    if not isinstance(value, dict):
        raise SchemaSyntaxError(line, f"{where} must be a dictionary")
    return tuple(Member(key.removeprefix("*"), key.line) for key in value)


def _enum_values(value: Value, where: str, line: int) -> tuple[Member, ...]:
    if not isinstance(value, list):
        raise SchemaSyntaxError(line, f"{where} must be a list")
    out: list[Member] = []
    for item in value:
        if isinstance(item, dict):
            item = next((v for k, v in item.items() if k == "name"), False)
        if not isinstance(item, Located):
            raise SchemaSyntaxError(line, f"{where}: every value must be a string or have 'name'")
        out.append(Member(str(item), item.line))
    return tuple(out)


def _definition(expr: dict[Located, Value], line: int, doc: DocBlock | None) -> Definition:
    kinds = [k for k in expr if k in DEFINITION_KINDS]
    if len(kinds) != 1:
        expected = ", ".join(DEFINITION_KINDS + DIRECTIVES)
        raise SchemaSyntaxError(line, f"expression needs exactly one of: {expected}")
    kind = str(kinds[0])
    name = expr[kinds[0]]
    if not isinstance(name, Located) or not _NAME_RE.match(name):
        raise SchemaSyntaxError(line, f"'{kind}' must name the definition with a string")
    data = next((v for k, v in expr.items() if k == "data"), None)
    where = f"{kind} {name}: 'data'"
    members: tuple[Member, ...] = ()
    if kind == "enum":
        if data is None:
            raise SchemaSyntaxError(line, f"enum {name} has no 'data'")
        members = _enum_values(data, where, line)
    elif kind in ("struct", "alternate"):
        if data is None:
            raise SchemaSyntaxError(line, f"{kind} {name} has no 'data'")
        members = _keys(data, where, line)
    elif kind == "union":
        base = next((v for k, v in expr.items() if k == "base"), None)
        if isinstance(base, dict):
            members = _keys(base, f"union {name}: 'base'", line)
    elif isinstance(data, dict):
        members = _keys(data, where, line)
    return Definition(kind, str(name), line, members, doc)


def parse_schema(text: str) -> tuple[Definition, ...]:
    """Every named definition of a QAPI schema text, in file order, with its doc block.

    Raises :class:`SchemaSyntaxError` for text that is not a QAPI schema:
    bad syntax, a top-level value that is not a definition, a doc block that
    is not closed or is not followed by the definition it documents.
    """
    parser = _Parser(text)
    definitions: list[Definition] = []
    pending: DocBlock | None = None
    while (token := parser.peek()) is not None:
        if token.kind == "doc":
            parser.take("a doc comment")
            assert token.doc is not None
            if pending is not None:
                raise SchemaSyntaxError(
                    pending.line, f"documentation for @{pending.symbol} is not followed by it"
                )
            if token.doc.symbol is not None:
                pending = token.doc
            continue
        if token.kind != "{":
            raise SchemaSyntaxError(
                token.line, f"expected a definition '{{', found {_describe(token)}"
            )
        expr = parser.value()
        assert isinstance(expr, dict)
        if any(k in DIRECTIVES for k in expr):
            if pending is not None:
                raise SchemaSyntaxError(
                    pending.line, f"documentation for @{pending.symbol} is followed by a directive"
                )
            continue
        definition = _definition(expr, token.line, pending)
        if pending is not None and pending.symbol != definition.name:
            raise SchemaSyntaxError(
                token.line,
                f"definition of {definition.name!r} follows documentation for @{pending.symbol}",
            )
        definitions.append(definition)
        pending = None
    if pending is not None:
        raise SchemaSyntaxError(
            pending.line, f"documentation for @{pending.symbol} is not followed by it"
        )
    return tuple(definitions)


def anchors(definitions: tuple[Definition, ...]) -> tuple[Anchor, ...]:
    """Each definition and each of its members, as the ``@Name[.member]`` anchors rules use."""
    out: list[Anchor] = []
    for definition in definitions:
        doc = definition.doc
        out.append(Anchor(f"@{definition.name}", definition.kind, definition.line, doc is not None))
        member_kind = f"{definition.kind} {_MEMBER_KIND[definition.kind]}"
        for member in definition.members:
            documented = doc is not None and member.name in doc.members
            out.append(
                Anchor(f"@{definition.name}.{member.name}", member_kind, member.line, documented)
            )
    return tuple(out)
