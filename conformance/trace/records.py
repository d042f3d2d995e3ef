"""Trace records and jobcheck's own JSON-lines trace format.

A *trace* is everything QEMU said during a run, in order: the commands sent,
the responses received, the events received.  The live target, the simulator
and the readers of recorded logs all produce the same records, and the oracle
(:mod:`jobcheck.conformance.oracle`) checks them.

The file format is JSON lines.  The first line is the metadata record; every
other line is one record, distinguished by its ``kind``::

    {"kind": "meta", "format": "jobcheck-trace", "version": 1,
     "source": "sim", "qemu_version": "7.2.22", "order": "wire"}
    {"kind": "command", "execute": "job-pause", "arguments": {"id": "j0"}, "id": 7}
    {"kind": "response", "id": 7, "return": {}}
    {"kind": "response", "id": 8, "error": {"class": "GenericError", "desc": "Job not found"}}
    {"kind": "event", "event": "JOB_STATUS_CHANGE", "data": {"id": "j0", "status": "paused"},
     "timestamp": {"seconds": 1700000000, "microseconds": 12}}
    {"kind": "note", "text": "drain j0", "step": {"op": "drain", "job": "j0"}}

``order`` is ``wire`` when the records are in the order they crossed the
socket, or ``per-job`` when only each job's own events are in order (as in
qemu-iotests output).  Notes carry the test driver's own actions (a drain, a
release of progress) for the readable reproducer; the oracle ignores them.

Records keep the 1-based ``line`` they were read from (0 when generated).
Writing and reading are streaming: :func:`read_jsonl` yields one record at a
time, so a trace of any length is read in bounded memory.
"""

from __future__ import annotations

import json
import json.scanner
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Literal, TypeAlias, cast

TRACE_FORMAT = "jobcheck-trace"
TRACE_FORMAT_VERSION = 1

TEARDOWN_NOTE = "teardown: jobcheck cancels, dismisses and deletes what the run left"
"""The note before the clean-up commands a live target sends after the last step (an
attached QEMU, or a launched one that serves the next example): what follows is not a step."""

#: What ``meta.qemu_version`` may be: ``MAJOR.MINOR``, ``MAJOR.MINOR.MICRO`` (digits only).
QEMU_VERSION = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6}){1,3}", re.ASCII)

Order = Literal["wire", "per-job"]


class TraceFormatError(ValueError):
    """A trace file that cannot be read; ``str()`` is ``FILE:LINE: what is wrong``."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Meta:
    """What a trace came from."""

    source: str = "unknown"
    """``sim``, ``qemu``, a file name, …"""
    qemu_version: str | None = None
    order: Order = "wire"
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form details (seed, target description, mutant, …)."""


@dataclass(frozen=True, slots=True)
class Command:
    """A QMP command as sent."""

    execute: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: Any = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class QmpError:
    """The ``error`` member of a QMP response."""

    error_class: str
    desc: str


@dataclass(frozen=True, slots=True)
class Response:
    """A QMP response: ``return`` (any JSON) or ``error``."""

    id: Any = None
    value: Any = None
    """The ``return`` value; ``None`` when this is an error response."""
    error: QmpError | None = None
    line: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Event:
    """A QMP event."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: dict[str, Any] | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Note:
    """An action of the test driver, in words and, for replay, as a step.

    ``step`` is the driver step that the following commands carry out (see
    :mod:`jobcheck.conformance.targets.base`); a replay re-runs the steps, not
    the recorded commands, so that a trace made on one target replays on another.
    """

    text: str
    step: dict[str, Any] | None = None
    line: int = 0
    wait: dict[str, Any] | None = None
    """A wait for jobs to move on by themselves that ended undecided by events: job id →
    ``{"status": S, "verdict": "stalled" | "slow", "seconds": T, "evidence": TEXT}``.
    ``stalled``: the job stayed in ``S`` with no sign of life; ``slow``: it was still
    working when the wait's bound ran out (see :mod:`jobcheck.conformance.oracle.eventually`)."""
    crash: dict[str, Any] | None = None
    """QEMU crashed here: ``{"outcome": "killed by SIGABRT: <assertion>", "message": TEXT,
    "job": ID or null}`` (the job of the step it crashed in, if that step names one)."""


Record: TypeAlias = Command | Response | Event | Note


def record_to_json(record: Record) -> dict[str, Any]:
    """The JSON object of one record in jobcheck's trace format (without ``line``)."""
    if isinstance(record, Command):
        out: dict[str, Any] = {"kind": "command", "execute": record.execute}
        if record.arguments:
            out["arguments"] = record.arguments
        if record.id is not None:
            out["id"] = record.id
        return out
    if isinstance(record, Response):
        out = {"kind": "response"}
        if record.id is not None:
            out["id"] = record.id
        if record.error is not None:
            out["error"] = {"class": record.error.error_class, "desc": record.error.desc}
        else:
            out["return"] = record.value
        return out
    if isinstance(record, Event):
        out = {"kind": "event", "event": record.event, "data": record.data}
        if record.timestamp is not None:
            out["timestamp"] = record.timestamp
        return out
    out = {"kind": "note", "text": record.text}
    if record.step is not None:
        out["step"] = record.step
    if record.wait is not None:
        out["wait"] = record.wait
    if record.crash is not None:
        out["crash"] = record.crash
    return out


def meta_to_json(meta: Meta) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "meta",
        "format": TRACE_FORMAT,
        "version": TRACE_FORMAT_VERSION,
        "source": meta.source,
        "order": meta.order,
    }
    if meta.qemu_version is not None:
        out["qemu_version"] = meta.qemu_version
    if meta.extra:
        out["extra"] = meta.extra
    return out


def _obj(value: Any, what: str, path: str, line: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TraceFormatError(path, line, f"{what} must be a JSON object")
    return value


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value (dict values and list items, depth first)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def map_strings(value: Any, change: Callable[[str], Any]) -> Any:
    """A JSON value with ``change`` applied to every string in it (keys stay).

    >>> map_strings({"a": ["x", 1], "b": "y"}, str.upper)
    {'a': ['X', 1], 'b': 'Y'}
    """
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, change) for v in value]
    return value


def shown(value: Any, limit: int = 40) -> str:
    """A value from a file, for an error message: its ``repr``, on one line, cut at ``limit``.

    >>> shown("a\\nb")
    "'a\\\\nb'"
    >>> shown("x" * 100, 8)
    "'xxxxxx…"
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_id(value: Any, what: str, path: str, line: int) -> Any:
    """A command's or response's ``id``: a JSON string, number or ``null``.

    QMP allows any JSON value as an id, but jobcheck pairs responses with their
    commands by id, so a list or an object (which no client uses) is refused.
    """
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise TraceFormatError(
        path, line, f"{what} 'id' must be a JSON string or number, not {shown(value)}"
    )


def check_timestamp(value: Any, path: str, line: int) -> dict[str, Any] | None:
    """An event's ``timestamp``: ``{"seconds": N, "microseconds": N}`` as QEMU sends it."""
    if value is None:
        return None
    stamp = _obj(value, "event 'timestamp'", path, line)
    seconds, micro = stamp.get("seconds"), stamp.get("microseconds")
    if type(seconds) is not int or type(micro) is not int:
        # plain ints, as JSON gives them, skip the loop that words the error
        for key, number in (("seconds", seconds), ("microseconds", micro)):
            if not isinstance(number, int) or isinstance(number, bool):
                raise TraceFormatError(
                    path, line, f"event timestamp {key!r} must be an integer, not {shown(number)}"
                )
    assert isinstance(seconds, int) and isinstance(micro, int)
    if seconds < 0 or not 0 <= micro < 1_000_000:
        raise TraceFormatError(path, line, f"event timestamp out of range: {seconds} s {micro} µs")
    return stamp


def meta_from_json(obj: dict[str, Any], path: str, line: int) -> Meta:
    """The metadata record, checked: format, format version, order and QEMU version."""
    fmt, version = obj.get("format"), obj.get("version")
    if fmt != TRACE_FORMAT:
        raise TraceFormatError(
            path, line, f"meta 'format' must be {TRACE_FORMAT!r}, not {shown(fmt)}"
        )
    if not isinstance(version, int) or isinstance(version, bool):
        raise TraceFormatError(
            path, line, f"meta 'version' must be the integer {TRACE_FORMAT_VERSION}"
        )
    if version != TRACE_FORMAT_VERSION:
        raise TraceFormatError(
            path,
            line,
            f"trace format version {version}; this jobcheck reads version"
            f" {TRACE_FORMAT_VERSION} (was the trace written by another jobcheck?)",
        )
    order = obj.get("order", "wire")
    if order not in ("wire", "per-job"):
        raise TraceFormatError(
            path, line, f"meta 'order' must be 'wire' or 'per-job', not {shown(order)}"
        )
    qemu = obj.get("qemu_version")
    if qemu is not None and not (isinstance(qemu, str) and QEMU_VERSION.fullmatch(qemu)):
        raise TraceFormatError(
            path,
            line,
            f"meta 'qemu_version' must be a version such as 7.2.22, not {shown(qemu)}",
        )
    source = obj.get("source", "unknown")
    if not isinstance(source, str):
        raise TraceFormatError(path, line, "meta 'source' must be a string")
    return Meta(
        source=source,
        qemu_version=qemu,
        order=order,
        extra=_obj(obj.get("extra", {}), "meta 'extra'", path, line),
    )


def record_from_json(obj: Any, path: str = "<trace>", line: int = 0) -> Record | Meta:
    """Parse one JSON object of jobcheck's trace format; raise :class:`TraceFormatError`."""
    obj = _obj(obj, "a record", path, line)
    kind = obj.get("kind")
    # the kinds in the order of how common they are
    if kind == "event":
        name = obj.get("event")
        if not isinstance(name, str):
            raise TraceFormatError(path, line, "event without a string 'event'")
        data = _obj(obj.get("data", {}), "event 'data'", path, line)
        return Event(name, data, check_timestamp(obj.get("timestamp"), path, line), line)
    if kind == "response":
        ident = check_id(obj.get("id"), "response", path, line)
        if "error" in obj:
            err = _obj(obj["error"], "'error'", path, line)
            cls, desc = err.get("class"), err.get("desc")
            if not isinstance(cls, str) or not isinstance(desc, str):
                raise TraceFormatError(path, line, "'error' needs string 'class' and 'desc'")
            return Response(ident, None, QmpError(cls, desc), line)
        if "return" not in obj:
            raise TraceFormatError(path, line, "response with neither 'return' nor 'error'")
        return Response(ident, obj["return"], None, line)
    if kind == "command":
        execute = obj.get("execute")
        if not isinstance(execute, str):
            raise TraceFormatError(path, line, "command without a string 'execute'")
        args = _obj(obj.get("arguments", {}), "'arguments'", path, line)
        return Command(execute, args, check_id(obj.get("id"), "command", path, line), line)
    if kind == "note":
        step = obj.get("step")
        if step is not None:
            step = _obj(step, "note 'step'", path, line)
        wait = obj.get("wait")
        if wait is not None:
            wait = _obj(wait, "note 'wait'", path, line)
        crash = obj.get("crash")
        if crash is not None:
            crash = _obj(crash, "note 'crash'", path, line)
        text = obj.get("text", "")
        if not isinstance(text, str):
            raise TraceFormatError(path, line, "note 'text' must be a string")
        return Note(text, step, line, wait, crash)
    if kind == "meta":
        return meta_from_json(obj, path, line)
    raise TraceFormatError(path, line, f"unknown record kind {shown(kind)}")


def write_jsonl(stream: IO[str], meta: Meta, records: Iterable[Record]) -> None:
    """Write a trace (metadata line first) to a text stream, one record a line."""
    stream.write(json.dumps(meta_to_json(meta), sort_keys=True) + "\n")
    for record in records:
        stream.write(json.dumps(record_to_json(record), sort_keys=True) + "\n")


def read_jsonl(stream: IO[str], path: str = "<trace>") -> tuple[Meta, Iterator[Record]]:
    """Read jobcheck's trace format: the metadata, and the records as a lazy stream.

    A file without a metadata line gets a default :class:`Meta`.  Errors are
    raised as :class:`TraceFormatError` while iterating.
    """
    lines = _lines(stream, path)
    first: Record | None = None
    meta = Meta(source=path)
    for number, text in lines:
        if not text.strip():
            continue
        parsed = _parse_line(text, path, number)
        if isinstance(parsed, Meta):
            meta = (
                parsed
                if parsed.source != "unknown"
                else Meta(path, parsed.qemu_version, parsed.order, parsed.extra)
            )
        else:
            first = parsed
        break

    def rest() -> Iterator[Record]:
        if first is not None:
            yield first
        for number, text in lines:
            if not text.strip():
                continue
            parsed = _parse_line(text, path, number)
            if isinstance(parsed, Meta):
                raise TraceFormatError(path, number, "a second metadata record")
            yield parsed

    return meta, rest()


def _lines(stream: IO[str], path: str) -> Iterator[tuple[int, str]]:
    """Numbered lines; a decoding error becomes a :class:`TraceFormatError`."""
    number = 0
    try:
        for number, text in enumerate(stream, start=1):
            yield number, text
    except UnicodeDecodeError:
        raise TraceFormatError(path, number + 1, "not UTF-8 text") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def loads(text: str) -> Any:
    """:func:`json.loads` without Python's extensions: ``NaN`` and ``Infinity`` are errors.

    >>> loads('{"a": [1, 2.5]}')
    {'a': [1, 2.5]}
    >>> loads('{"seconds": NaN}')
    Traceback (most recent call last):
    ...
    ValueError: NaN is not a JSON value
    """
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        end = -1  # not a value at its first character: the decoder says why
    if end != len(text):
        # white space around the value, something after it, or no value at all:
        # the whole decoder decides (and words the error)
        return _STRICT.decode(text)
    return value


_STRICT = json.JSONDecoder(parse_constant=_no_constant)
"""One decoder for every line (``json.loads`` with an option builds a new one per call)."""
# (typeshed types make_scanner's argument as the scanner class itself)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(cast(Any, _STRICT))
"""The decoder's own scanner alone: a trace line is one value with nothing around it, and
this skips the decoder's two white-space matches per line."""


def parse_json(text: str, path: str, line: int) -> Any:
    """Strict JSON (:func:`loads`), with every failure as :class:`TraceFormatError`."""
    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        raise TraceFormatError(path, line, f"not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise TraceFormatError(path, line, "not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # NaN, or an integer with too many digits
        raise TraceFormatError(path, line, f"not valid JSON ({exc})") from None


def _parse_line(text: str, path: str, number: int) -> Record | Meta:
    return record_from_json(parse_json(text, path, number), path, number)
