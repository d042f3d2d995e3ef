"""Reading raw QMP transcripts, documentation transcripts and qemu.qmp debug logs.

Three line formats hold QMP traffic in the order it crossed the socket:

* a **transcript**: one QMP message (a JSON object) a line, optionally
  prefixed with ``> `` (sent) or ``< `` (received)::

      < {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 22}, ...}}}
      > {"execute": "qmp_capabilities"}
      < {"return": {}}
      > {"execute": "job-pause", "arguments": {"id": "j0"}, "id": 1}
      < {"timestamp": {...}, "event": "JOB_STATUS_CHANGE", "data": {"id": "j0", ...}}
      < {"return": {}, "id": 1}

  Every non-blank line must be a QMP message; anything else is an error.

* a **qemu.qmp debug log** (``logging.DEBUG`` output of the ``qemu.qmp``
  package): each message is logged as ``--> `` (sent) or ``<-- `` (received)
  followed by the message, pretty-printed over several lines; the other log
  lines are skipped::

      DEBUG:qemu.qmp.protocol.h:--> {
        "execute": "job-pause",
        ...
      }

* a **documentation transcript**, the style of QEMU's manuals (``docs/interop``)
  and QAPI examples: a line that starts (after any indentation) with ``->``
  (sent) or ``<-`` (received) and an object, which may go on over the
  following lines; prose between the messages is skipped::

      Example:

          -> { "execute": "job-dismiss",
               "arguments": { "id": "job0" } }
          <- { "return": {} }

  A message shortened with ``...`` (as documentation examples sometimes are)
  is not JSON, and is an error like any broken message.

The debug log and the documentation transcript are both *marked* logs: only
the messages behind a mark are read (:func:`is_marked_log` tells one apart).
The first greeting is dropped; a later one starts a new QMP session, which
becomes a ``Note("reset: new QMP session")`` so that the oracle forgets the
jobs of the previous session.  The parsing is strict JSON (QEMU sends nothing
else).  Records carry the line where their message starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from jobcheck.conformance.trace.lenient_json import bracket_depth
from jobcheck.conformance.trace.qmp_messages import Greeting, message_to_record
from jobcheck.conformance.trace.records import (
    Event,
    Note,
    Record,
    TraceFormatError,
    check_timestamp,
    parse_json,
)

#: Where a line of a marked log holds a message: ``--> {`` or ``<-- {`` anywhere in it (a
#: qemu.qmp debug log), or ``-> {`` or ``<- {`` at its start after any indentation (a
#: documentation transcript).
LOG_MARK = re.compile(r"(?:-->|<--) (?=\{)|^[ \t]*(?:->|<-)[ \t]*(?=\{)")

#: The most lines one pretty-printed message of a debug log may span.
MAX_MESSAGE_LINES = 100_000

RESET_NEW_SESSION = "reset: new QMP session"


def is_marked_log(lines: Iterable[str]) -> bool:
    """Whether any of these lines holds a message mark (:data:`LOG_MARK`).

    >>> is_marked_log(["Example:", '    -> { "execute": "query-jobs" }'])
    True
    >>> is_marked_log(["bottom <- middle <- top", '{"return": {}}'])
    False
    """
    return any(("->" in text or "<-" in text) and LOG_MARK.search(text) for text in lines)


def qmp_messages(
    lines: Iterable[tuple[int, str]], path: str, marked: bool
) -> Iterator[Record | Greeting]:
    """The messages of a transcript (or of a marked log), greetings included."""
    pending: list[str] | None = None
    start = 0
    depth = 0
    for number, text in lines:
        if pending is not None:
            pending.append(text)
            depth += bracket_depth(text)
            if depth <= 0:
                yield _message("\n".join(pending), path, start)
                pending = None
            elif len(pending) > MAX_MESSAGE_LINES:
                raise TraceFormatError(path, start, "QMP message not closed")
            continue
        body = text.strip()
        if not body:
            continue
        mark = LOG_MARK.search(text) if ("->" in text or "<-" in text) else None
        if mark is not None:
            body = text[mark.end() :]
            depth = bracket_depth(body)
            if depth > 0:
                pending, start = [body], number
                continue
        elif body[0] in "<>":
            body = body[1:].lstrip(" ")
        elif marked:
            continue
        if not body.startswith("{"):
            raise TraceFormatError(path, number, "not a QMP message (a JSON object)")
        yield _message(body, path, number)
    if pending is not None:
        raise TraceFormatError(path, start, "QMP message not closed (file truncated?)")


def _message(text: str, path: str, line: int) -> Record | Greeting:
    obj = parse_json(text, path, line)
    if not isinstance(obj, dict):
        raise TraceFormatError(path, line, "a QMP message must be a JSON object")
    record = message_to_record(obj, path, line)
    if record is None:
        raise TraceFormatError(path, line, "not a QMP greeting, command, response or event")
    if isinstance(record, Event):
        check_timestamp(record.timestamp, path, line)
    return record


def qmp_records(lines: Iterable[tuple[int, str]], path: str, marked: bool) -> Iterator[Record]:
    """The trace records of a transcript: greetings dropped or turned into resets."""
    greetings = 0
    for message in qmp_messages(lines, path, marked):
        if isinstance(message, Greeting):
            greetings += 1
            if greetings > 1:
                yield Note(RESET_NEW_SESSION, None, message.line)
            continue
        yield message
