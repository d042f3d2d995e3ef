"""Reading qemu-iotests expected-output (``.out``) files into trace records.

An iotests ``.out`` file is a test's log: QMP traffic among free text
(headings, ``Launching VM...``, qemu-img and qemu-io output).  This reader
keeps the QMP traffic and drops the rest:

* A JSON value starts on a line whose first character is ``{`` or ``[``.  It
  may be printed over several lines (Python tests pretty-print; shell tests
  split long commands); the following lines belong to it while they start
  with white space or one of ``{}[]"'``, until the brackets balance.
* Shell tests write commands in QMP's single-quoted style, and the test
  filters replace values by bare words (``TIMESTAMP``, ``OFFSET``, ``LEN``,
  ``SIZE``, ``PORT``, ``(filtered)``); :mod:`.lenient_json` rewrites both into
  strict JSON, the bare words as strings (``"offset": "OFFSET"``).  Filtered
  values that are already strings (``"FILTERED"``, ``"SECS"``, ``"USECS"``)
  stay as they are.
* An object with a QMP key (``execute``, ``return``, ``error``, ``event``,
  ``timestamp``, ``QMP``) becomes a record, and must have the right shape.
  Other JSON (``qemu-img map`` arrays, ``qemu-img info`` objects) is program
  output and is skipped.
* **Errors.** A value starting with ``{`` that is not JSON even after that
  rewriting, or that is cut off by free text or by the end of the file, is an
  error (:class:`~jobcheck.conformance.trace.records.TraceFormatError`): such a line
  is almost certainly QMP traffic that the reader would otherwise silently
  lose.  A broken value starting with ``[`` is taken as free text.

The records are in the test's logging order, not the wire order (see
``Meta.order == "per-job"``): only each job's own events are in order.

**Resets.**  One file can run several QEMU instances and several test cases,
and reuses job ids.  The reader marks where a new instance or test case
begins with ``Note("reset: <why>")``; the oracle forgets every job there.  The
candidate places are: a new QMP session (a greeting, the ``QMP_VERSION``
placeholder, or a ``qmp_capabilities`` command), ``Launching VM...``, and
headings (``=== ... ===``, ``== ... ==``, ``--- ... ---``, ``### ...``,
``*** ...``).  A reset must never cut a job's life in two, so at a candidate
place:

* if no job is live (every job seen since the last reset has reached
  ``null``), the reset is written there;
* otherwise the decision waits for the next event of one of the live jobs: a
  ``JOB_STATUS_CHANGE`` to ``created`` means the old job is gone and its id is
  reused by a new instance, so the reset is written at the candidate place;
  any other event means the job lives on, and no reset is written.  If no
  such event comes (end of file, or more than :data:`MAX_UNDECIDED` records),
  no reset is written.

A job is *live* from its first event (``JOB_STATUS_CHANGE`` by ``id``, or a
``BLOCK_JOB_*`` event by ``device``) until its ``JOB_STATUS_CHANGE`` to
``null``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from jobcheck.conformance.trace.lenient_json import to_json
from jobcheck.conformance.trace.qmp_messages import (
    JOB_STATUS_CHANGE,
    Greeting,
    is_qmp_shaped,
    message_to_record,
)
from jobcheck.conformance.trace.records import Command, Event, Note, Record, TraceFormatError

#: The most lines one JSON value may span.
MAX_VALUE_LINES = 100_000

#: The most records held back while a reset is undecided.
MAX_UNDECIDED = 100_000

_HEADING = re.compile(r"^(?:={2,}\s.*\s={2,}|-{3}\s.*\s-{3}|#{3}\s.*|\*{3}\s(?!done\s*$).*)\s*$")
_CONTINUATION = tuple(" \t{}[]\"'")


def _boundary(text: str) -> str | None:
    """Why a free-text line may begin a new QEMU instance or test case; or ``None``."""
    stripped = text.strip()
    if stripped == "QMP_VERSION":
        return "new QMP session (QMP_VERSION)"
    if stripped.startswith("Launching VM"):
        return stripped
    if _HEADING.match(stripped):
        return f"test case {stripped}"
    return None


class _ResetPlacer:
    """Decides where reset notes go (see the module docstring), streaming."""

    def __init__(self) -> None:
        self.live: set[str] = set()
        self.records_since_reset = False
        self.undecided: tuple[str, int] | None = None
        self.watched: frozenset[str] = frozenset()
        self.held: list[Record] = []

    def boundary(self, reason: str, line: int) -> list[Record]:
        if self.undecided is not None:
            return []
        if not self.live:
            if not self.records_since_reset:
                return []
            self.records_since_reset = False
            return [Note(f"reset: {reason}", None, line)]
        self.undecided = (reason, line)
        self.watched = frozenset(self.live)
        return []

    def feed(self, record: Record) -> list[Record]:
        if self.undecided is None:
            self._track(record)
            return [record]
        self.held.append(record)
        job, status = _job_event(record)
        if job is not None and job in self.watched:
            return self._decide(status == "created")
        if len(self.held) > MAX_UNDECIDED:
            return self._decide(False)
        return []

    def finish(self) -> list[Record]:
        if self.undecided is None:
            return []
        return self._decide(False)

    def _decide(self, reset: bool) -> list[Record]:
        assert self.undecided is not None
        reason, line = self.undecided
        out: list[Record] = []
        if reset:
            out.append(Note(f"reset: {reason}", None, line))
            self.live.clear()
        held, self.held, self.undecided = self.held, [], None
        for record in held:
            self._track(record)
            out.append(record)
        return out

    def _track(self, record: Record) -> None:
        self.records_since_reset = True
        job, status = _job_event(record)
        if job is None:
            return
        if status == "null":
            self.live.discard(job)
        else:
            self.live.add(job)


def _job_event(record: Record) -> tuple[str | None, str | None]:
    """The job an event is about, and its new status for a ``JOB_STATUS_CHANGE``."""
    if not isinstance(record, Event):
        return None, None
    if record.event == JOB_STATUS_CHANGE:
        job, status = record.data.get("id"), record.data.get("status")
        return (job if isinstance(job, str) else None), (
            status if isinstance(status, str) else None
        )
    if record.event.startswith("BLOCK_JOB_"):
        device = record.data.get("device")
        return (device if isinstance(device, str) else None), None
    return None, None


def iotests_records(lines: Iterable[tuple[int, str]], path: str) -> Iterator[Record]:
    """The trace records of an iotests ``.out`` file, with reset notes."""
    placer = _ResetPlacer()
    value: list[str] | None = None
    opener = ""
    start = 0
    depth = 0
    for number, text in lines:
        if value is not None:
            if not text.strip() or text.startswith(_CONTINUATION):
                converted, balance = to_json(text)
                value.append(converted)
                depth += balance
                if depth <= 0:
                    yield from _value_records("\n".join(value), opener, path, start, placer)
                    value = None
                elif len(value) > MAX_VALUE_LINES:
                    raise TraceFormatError(path, start, "JSON value not closed")
                continue
            if opener == "{":
                raise TraceFormatError(
                    path, start, f"JSON object not closed before the text on line {number}"
                )
            value = None  # a broken '[' line: free text after all
        if text.startswith(("{", "[")):
            converted, depth = to_json(text)
            opener, start = text[0], number
            if depth <= 0:
                yield from _value_records(converted, opener, path, number, placer)
            else:
                value = [converted]
            continue
        reason = _boundary(text)
        if reason is not None:
            yield from placer.boundary(reason, number)
    if value is not None and opener == "{":
        raise TraceFormatError(path, start, "JSON object not closed (file truncated?)")
    yield from placer.finish()


def _value_records(
    text: str, opener: str, path: str, line: int, placer: _ResetPlacer
) -> Iterator[Record]:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        if opener != "{":
            return
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not JSON"
        raise TraceFormatError(path, line, f"broken QMP object ({reason})") from None
    if not isinstance(obj, dict) or not is_qmp_shaped(obj):
        return
    message = message_to_record(obj, path, line)
    if isinstance(message, Greeting):
        yield from placer.boundary("new QMP session (greeting)", line)
        return
    if message is None:
        return
    if isinstance(message, Command) and message.execute == "qmp_capabilities":
        yield from placer.boundary("new QMP session (qmp_capabilities)", line)
    yield from placer.feed(message)
