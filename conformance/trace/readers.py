"""Opening trace files of every supported format as one lazy stream of records.

Three formats are read (``fmt``):

``jsonl``
    jobcheck's own trace format (:mod:`jobcheck.conformance.trace.records`).
``qmp``
    a raw QMP transcript, one message a line, optionally prefixed ``> ``/``< ``;
    a documentation transcript (``-> {``/``<- {``); or a qemu.qmp debug log
    (:mod:`.qmp_transcript`).  ``Meta.order`` is ``wire``;
    ``Meta.qemu_version`` comes from the greeting when one is near the start of
    the file.
``iotests``
    a qemu-iotests ``.out`` file (:mod:`.iotests_log`).  ``Meta.order`` is
    ``per-job``; ``Note("reset: …")`` records mark new QEMU instances and test
    cases.
``auto`` (the default)
    :func:`detect_format` decides from the first lines.

A file of the ``qmp`` or ``iotests`` format from which not one QMP command,
response or event can be read is not a trace (a wrong path, a format jobcheck
does not read): that is an error too, reported at the first line that looks like
QMP if there is one.

Use it like this::

    meta, records = open_trace("run.jsonl")
    for record in records:
        ...

or, to close the file as soon as the block ends even if the loop stops
early, as a context manager::

    with read_trace("219.out") as (meta, records):
        first = next(records)

Reading is streaming: lines are read one at a time, each at most
:data:`MAX_LINE_BYTES` long, so memory stays bounded whatever the file size.
The file is opened again by the record iterator (in a ``with`` block inside
the generator), so an iterator that is never started holds no open file, and
one that is dropped half-way closes its file when it is collected (at once in
CPython) or when :func:`read_trace`'s block ends.

Errors are one line each: a bad format name, a file that cannot be opened, or
one that is not a regular file (a FIFO, a device, a socket: refused before a
byte is read, so that nothing waits for a writer that never comes) raises
:class:`~jobcheck.conformance.errors.UsageError`; anything wrong inside
the file (bytes that are not UTF-8, a NUL byte, a line that is not JSON where
JSON is required, a record of the wrong shape, an empty file, a truncated
value, a jobcheck trace without its metadata line or of another format
version, a driver step of an unknown shape) raises
:class:`~jobcheck.conformance.trace.records.TraceFormatError`, whose text is
``FILE:LINE: what is wrong``.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.trace.iotests_log import iotests_records
from jobcheck.conformance.trace.qmp_messages import Greeting, check_record
from jobcheck.conformance.trace.qmp_transcript import is_marked_log, qmp_messages, qmp_records
from jobcheck.conformance.trace.records import (
    Meta,
    Note,
    Record,
    TraceFormatError,
    loads,
    parse_json,
    record_from_json,
)
from jobcheck.conformance.trace.steps import StepError, check_step

FORMATS: tuple[str, ...] = ("auto", "jsonl", "qmp", "iotests")

#: The longest line a trace may have.
MAX_LINE_BYTES = 16 * 1024 * 1024

#: How many lines :func:`open_trace` looks at to detect the format and the metadata.
HEAD_LINES = 200


def detect_format(first_lines: Iterable[str]) -> str:
    """``jsonl``, ``qmp`` or ``iotests``, from the first lines of a file.

    * ``jsonl`` if a line is a JSON object with a ``kind`` member (jobcheck's
      records; the metadata record comes first);
    * ``qmp`` if a line holds a message mark (a qemu.qmp debug log's ``--> {``
      or ``<-- {``, a documentation transcript's ``-> {`` or ``<- {``), or if
      every non-blank line is a JSON object, optionally prefixed ``> `` or
      ``< ``, and something says the lines are the wire's own order: a
      direction prefix or a QMP greeting;
    * ``iotests`` otherwise: free text among the JSON, or JSON objects alone
      with nothing to say in which order they crossed the wire (qemu-iotests
      outputs that log nothing but QMP look like that).

    Lines with no content at all give ``jsonl`` (whose reader then reports
    the file as empty).

    >>> detect_format(['{"return": {}}', '{"execute": "job-dismiss"}'])
    'iotests'
    >>> detect_format(['{"QMP": {"version": {}}}', '{"return": {}}'])
    'qmp'
    """
    seen = False
    all_objects = True
    wire = False
    for raw in first_lines:
        text = raw.strip()
        if not text:
            continue
        seen = True
        if text.startswith("{") and '"kind"' in text:
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                obj = None
            if isinstance(obj, dict) and "kind" in obj:
                return "jsonl"
        if is_marked_log([raw]):
            return "qmp"
        body = text
        if text[0] in "<>":
            body = text[1:].lstrip(" ")
            wire = True
        if not body.startswith("{"):
            all_objects = False
        elif not wire and _is_greeting(body):
            wire = True
    if not seen:
        return "jsonl"
    return "qmp" if all_objects and wire else "iotests"


def _is_greeting(text: str) -> bool:
    if '"QMP"' not in text:
        return False
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and "QMP" in obj


#: A line that mentions a QMP member the way a message would (``"execute":``).
_QMP_LOOKING = re.compile(r"""["'](?:execute|exec-oob|return|error|event|QMP)["']\s*:""")


def _no_record(path: str, fmt: str, head: list[tuple[int, str]]) -> TraceFormatError:
    """The error for a file of ``fmt`` that held no QMP record."""
    what = "qemu-iotests output" if fmt == "iotests" else "a QMP transcript"
    for number, text in head:
        if _QMP_LOOKING.search(text):
            return TraceFormatError(
                path,
                number,
                f"this looks like QMP, but no QMP record could be read from the file (read as"
                f" {what}): not a trace, or a format jobcheck does not read",
            )
    return TraceFormatError(
        path,
        head[0][0] if head else 1,
        f"no QMP record found (read as {what}): not a trace, or a format jobcheck does not read",
    )


def _lines(stream: IO[bytes], path: str) -> Iterator[tuple[int, str]]:
    """``(line number, text without its line end)`` for each line, decoded as UTF-8.

    The file is read :data:`READ_BYTES` at a time and each block of whole lines is
    decoded at once.  A block with a byte that is not UTF-8, or a NUL byte, is taken
    line by line, so that the error names its line after the lines before it.
    """
    number = 0
    rest = b""  # the start of a line whose end has not been read yet
    while True:
        data = stream.read(READ_BYTES)
        if not data:
            break
        block = rest + data if rest else data
        end = block.rfind(b"\n") + 1
        # Only the first line of a block, which goes on from the blocks before, can be
        # longer than a block.
        if block.find(b"\n") + 1 > MAX_LINE_BYTES or (end == 0 and len(block) > MAX_LINE_BYTES):
            raise TraceFormatError(path, number + 1, f"line longer than {MAX_LINE_BYTES} bytes")
        rest = block[end:]
        if end:
            texts = _decoded(block[:end], number)
            if texts is None:
                for text in _checked_lines(block[:end], number, path):
                    number += 1
                    yield number, text
            else:
                yield from enumerate(texts, start=number + 1)
                number += len(texts)
    if rest:  # the last line, without a line end
        for text in _checked_lines(rest + b"\n", number, path):
            yield number + 1, text


#: How many bytes :func:`_lines` reads at a time (less than :data:`MAX_LINE_BYTES`).
READ_BYTES = 1024 * 1024


def _decoded(block: bytes, before: int) -> list[str] | None:
    """The lines of ``block`` (whole lines, each ending with a line feed) without their
    line ends; ``None`` if it is not all text (a byte that is not UTF-8, a NUL byte).
    ``before`` is the number of lines before the block."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    if before == 0 and text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    lines.pop()  # the empty text after the last line end
    if "\r" in text:
        lines = [line.rstrip("\r") for line in lines]
    return lines


def _checked_lines(block: bytes, before: int, path: str) -> Iterator[str]:
    """The lines of ``block`` as :func:`_decoded` gives them, one at a time, raising
    :class:`TraceFormatError` at the first that is not text."""
    for number, raw in enumerate(block.split(b"\n")[:-1], start=before + 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TraceFormatError(
                path, number, f"not UTF-8 text (bad byte at column {exc.start + 1})"
            ) from None
        if "\x00" in text:
            raise TraceFormatError(path, number, "binary data (a NUL byte), not a text trace")
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield text.rstrip("\r")


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def open_input(path: str, what: str = "trace") -> IO[bytes]:
    """``path`` opened for reading in binary mode, if it is a regular file.

    Anything else is a :class:`UsageError` raised before a byte is read: the
    file is opened without blocking (a FIFO with no writer would otherwise
    wait forever) and its type checked on the open descriptor.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise UsageError(f"cannot read {what} {path}: it is a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise UsageError(f"cannot read {what} {path}: it is {kind}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open(path: str) -> IO[bytes]:
    return open_input(path, "trace")


def _head(path: str) -> tuple[list[tuple[int, str]], int]:
    """The first :data:`HEAD_LINES` non-blank lines, and the number of lines read."""
    with _open(path) as stream:
        head: list[tuple[int, str]] = []
        number = 0
        try:
            for number, text in _lines(stream, path):
                if text.strip():
                    head.append((number, text))
                    if len(head) >= HEAD_LINES:
                        break
        except OSError as exc:
            raise UsageError(f"cannot read trace {path}: {exc.strerror or exc}") from None
        return head, number


def _jsonl_line(text: str, path: str, number: int) -> Record | Meta:
    return record_from_json(parse_json(text, path, number), path, number)


def _jsonl_meta(head: list[tuple[int, str]], path: str) -> Meta:
    number, text = head[0]
    parsed = _jsonl_line(text, path, number)
    if not isinstance(parsed, Meta):
        raise TraceFormatError(
            path,
            number,
            'no metadata line: a jobcheck trace starts with {"kind": "meta", "format":'
            ' "jobcheck-trace", "version": 1, ...}',
        )
    if parsed.source == "unknown":
        return Meta(path, parsed.qemu_version, parsed.order, parsed.extra)
    return parsed


def _jsonl_records(lines: Iterable[tuple[int, str]], path: str) -> Iterator[Record]:
    first = True
    for number, text in lines:
        if not text or text.isspace():
            continue
        try:
            obj = loads(text)
        except (ValueError, RecursionError):
            obj = parse_json(text, path, number)  # raises with the reason
        parsed = record_from_json(obj, path, number)
        if isinstance(parsed, Meta):
            if not first:
                raise TraceFormatError(path, number, "a second metadata record")
            first = False
            continue
        if first:
            raise TraceFormatError(path, number, "no metadata line before the first record")
        if isinstance(parsed, Note) and parsed.step is not None:
            try:
                check_step(parsed.step)
            except StepError as exc:
                raise TraceFormatError(path, number, f"bad driver step: {exc}") from None
        check_record(parsed, path)
        yield parsed


def _qmp_meta(head: list[tuple[int, str]], path: str, marked: bool) -> Meta:
    version: str | None = None
    try:
        for message in qmp_messages(head, path, marked):
            if isinstance(message, Greeting):
                version = message.version
            break
    except TraceFormatError:
        pass  # reported when the records are read
    return Meta(source=path, qemu_version=version, order="wire", extra={"format": "qmp"})


def _records(path: str, fmt: str, marked: bool, head: list[tuple[int, str]]) -> Iterator[Record]:
    try:
        with _open(path) as stream:
            lines = _lines(stream, path)
            if fmt == "jsonl":
                yield from _jsonl_records(lines, path)
                return
            if fmt == "qmp":
                reader = qmp_records(lines, path, marked)
            else:
                reader = iotests_records(lines, path)
            for record in reader:
                yield record
                if not isinstance(record, Note):
                    break
            else:
                raise _no_record(path, fmt, head)
            yield from reader
    except OSError as exc:
        raise UsageError(f"cannot read trace {path}: {exc.strerror or exc}") from None


def open_trace(path: str, fmt: str = "auto") -> tuple[Meta, Iterator[Record]]:
    """The metadata of a trace file and its records, read lazily.

    ``fmt`` is ``auto``, ``jsonl``, ``qmp`` or ``iotests``.  Errors in the
    first line of a ``jsonl`` file (its metadata) are raised here; all other
    errors while iterating.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown trace format {fmt!r}; choose from {', '.join(FORMATS)}")
    head, read = _head(path)
    if not head:
        raise TraceFormatError(path, max(read, 1), "empty trace file")
    chosen = detect_format(text for _, text in head) if fmt == "auto" else fmt
    marked = chosen == "qmp" and is_marked_log(text for _, text in head)
    if chosen == "jsonl":
        meta = _jsonl_meta(head, path)
    elif chosen == "qmp":
        meta = _qmp_meta(head, path, marked)
    else:
        meta = Meta(source=path, order="per-job", extra={"format": "iotests"})
    return meta, _records(path, chosen, marked, head)


@contextmanager
def read_trace(path: str, fmt: str = "auto") -> Iterator[tuple[Meta, Iterator[Record]]]:
    """:func:`open_trace` as a context manager that closes the file when the block ends."""
    meta, records = open_trace(path, fmt)
    try:
        yield meta, records
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()
