"""Reading qemu-iotests expected-output (``.out``) files into trace records.

An iotests ``.out`` file is a test's log: QMP traffic among free text
(headings, ``Launching VM...``, qemu-img and qemu-io output).  This reader
keeps the QMP traffic and drops the rest:

* A JSON value starts on a line whose first character is ``{`` or ``[``.  It
  may be printed over several lines (Python tests pretty-print; shell tests
  split long commands); the following lines belong to it while they start
  with white space or one of ``{}[]"'``, until the brackets balance.  A line
  that is strict JSON is read as it is (most lines are); any other goes
  through :mod:`.lenient_json`.
* Python tests run as ``unittest`` suites print one progress character per
  finished test case (``.``, or ``s``, ``F``, ``E``, ``x``, ``u``) without a
  line end, so the next test's first logged line is glued to them:
  ``..{"execute": "job-finalize", ...}``.  The run of progress characters is
  taken off (and counts as a test-case boundary, see below).
* Shell tests write commands in QMP's single-quoted style, the test filters
  replace values by bare words (``TIMESTAMP``, ``OFFSET``, ``LEN``, ``SIZE``,
  ``PORT``, ``(filtered)``), and the Python tests of QEMU 3.0 and before
  logged Python 2 ``repr()``\\ s (``{u'return': {}}``, ``512L``);
  :mod:`.lenient_json` rewrites all of them into strict JSON, the bare words
  as strings (``"offset": "OFFSET"``).  Those Python tests also logged a
  command's keyword arguments before ``iotests.py`` turned ``_`` into ``-``,
  so ``job_id``, ``auto_finalize`` and ``auto_dismiss`` in such a command are
  read as the ``job-id``, ``auto-finalize`` and ``auto-dismiss`` QEMU received.
  Filtered values that are already strings (``"FILTERED"``, ``"SECS"``,
  ``"USECS"``) stay as they are.
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
candidate places (*boundaries*) are: a new QMP session (a greeting, the
``QMP_VERSION`` placeholder, or a ``qmp_capabilities`` command),
``Launching VM...``, ``Starting VM...``, ``... Restart ...``, ``Testcase
...``, headings (``=== ... ===``, ``== ... ==``, ``--- ... ---``, ``### ...``,
``*** ...``) and unittest progress characters.  A reset must never cut a
job's life in two.  The reader follows each job the log shows, from its first event (a
``JOB_STATUS_CHANGE`` by ``id``, a ``BLOCK_JOB_*`` event by ``device``, or
``id`` for ``BLOCK_JOB_PENDING``) until it is gone (``JOB_STATUS_CHANGE`` to
``null``), in one of three states:

* *running*: nothing says it is ending;
* *ending*: its QEMU is going away (an accepted ``quit`` or a ``SHUTDOWN``
  since the job's last start), which cancels every job: its remaining events
  are status changes on the way to ``null`` and a completion event;
* *finished*: it sent ``BLOCK_JOB_COMPLETED``/``CANCELLED`` (QEMU's job code
  sends it right before ``concluded``) or a ``job-dismiss`` of it was
  accepted: its only remaining events are ``concluded`` and ``null``.

At a boundary, if no job is followed, the reset is written there; otherwise
the decision waits for the next event of one of them.  An event that the
job's old instance can still send (see the states) means that instance lives
on, and no reset is written; any other event — ``created``, or say a
``BLOCK_JOB_READY`` of a finished job — means the old job is gone and its id
now names a new instance, so the reset is written at the boundary.  If no
such event comes (end of file, or more than :data:`MAX_UNDECIDED` records),
no reset is written.  A start command accepted for a followed id makes it
*running* again (QEMU refuses an id in use, so the old instance is gone).

A QEMU that ends (a ``SHUTDOWN`` event, or an accepted ``quit``) is a
boundary only when no job is followed: its jobs may still log their last
events after it (a ``quit`` cancels them), and one that logs more than that
— a second completion event, say — has a divergence, not a successor.  Once
a new QEMU shows itself, though (a command is logged, or a response that
answers no command of the log: the ended QEMU can send neither), an event
that a followed job's old instance cannot send is the new QEMU's, and the
reset is written right before it.
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, cast

from jobcheck.conformance.trace.job_commands import START_COMMANDS, classify
from jobcheck.conformance.trace.lenient_json import to_json
from jobcheck.conformance.trace.qmp_messages import (
    JOB_STATUS_CHANGE,
    QMP_KEYS,
    Greeting,
    message_to_record,
)
from jobcheck.conformance.trace.records import (
    Command,
    Event,
    Note,
    Record,
    Response,
    TraceFormatError,
)
from jobcheck.model.semantics import VERB_COMMANDS

#: The most lines one JSON value may span.
MAX_VALUE_LINES = 100_000

#: The most records held back while a reset is undecided.
MAX_UNDECIDED = 100_000

#: The most commands remembered while their responses are awaited (to pair them in order).
MAX_UNANSWERED = 64

_HEADING = re.compile(
    r"^(?:={2,}\s.*\s={2,}|-{3}\s.*\s-{3}|#{3}\s.*|\*{3}\s(?!done\s*$).*|Testcase\s.*)$"
)
_RESTART = re.compile(r"^\.{3}\s*Restart(?:ing)?(?:\s+VM)?\s*\.{3}$")
#: unittest's progress characters (pass, skip, failure, error, expected / unexpected result).
_PROGRESS = re.compile(r"[.sFExu]+(?=\{)")
_PROGRESS_LINE = re.compile(r"^[.sFExu]*\.[.sFExu]*$")
_PROGRESS_CHARS = frozenset(".sFExu")
#: First characters of a line that may be a boundary (a cheap test before the patterns).
_BOUNDARY_CHARS = frozenset("QLS=-#*T.sFExu")
_CONTINUATION = tuple(" \t{}[]\"'")
#: Python keyword arguments that old iotests logged before turning ``_`` into ``-``.
_PYTHON_KWARGS = {
    "job_id": "job-id",
    "auto_finalize": "auto-finalize",
    "auto_dismiss": "auto-dismiss",
}
_DECODER = json.JSONDecoder()
# (typeshed types make_scanner's argument as the scanner class itself)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(cast(Any, _DECODER))
"""The decoder's own scanner, which ``raw_decode`` calls (raising StopIteration where
``raw_decode`` raises ValueError), without the frame of ``raw_decode`` for every line."""
_COMPLETION_EVENTS = frozenset({"BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"})
_DISMISS = frozenset({"job-dismiss", "block-job-dismiss"})


def _boundary(text: str) -> str | None:
    """Why a free-text line may begin a new QEMU instance or test case; or ``None``."""
    stripped = text.strip()
    if not stripped or stripped[0] not in _BOUNDARY_CHARS:
        return None
    if stripped == "QMP_VERSION":
        return "new QMP session (QMP_VERSION)"
    if stripped.startswith(("Launching VM", "Starting VM")) or _RESTART.match(stripped):
        return stripped
    if _HEADING.match(stripped):
        return f"test case {stripped}"
    if _PROGRESS_LINE.match(stripped):
        return "unittest progress"
    return None


Phase = Literal["running", "ending", "finished"]


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
        key = "id" if record.event == "BLOCK_JOB_PENDING" else "device"
        job = record.data.get(key)
        return (job if isinstance(job, str) else None), None
    return None, None


def _continues(state: Phase, record: Event, status: str | None) -> bool:
    """Whether the instance of a job in ``state`` can still send ``record``."""
    if status == "created":
        return False
    if state == "running":
        return True
    if state == "finished":
        return status in ("concluded", "null")
    return status is not None or record.event in _COMPLETION_EVENTS


class _ResetPlacer:
    """Decides where reset notes go (see the module docstring), streaming."""

    def __init__(self) -> None:
        self.jobs: dict[str, Phase] = {}
        """The jobs followed (seen in an event and not gone), and their states."""
        self.records_since_reset = False
        self.undecided: tuple[str, int] | None = None
        self.watched: dict[str, Phase] = {}
        self.held: list[Record] = []
        self.unanswered: deque[tuple[Command, Phase | None]] = deque(maxlen=MAX_UNANSWERED)
        """Commands awaiting their responses, each with the state of the job it addresses."""
        self.qemu: Literal["up", "ended", "relaunched"] = "up"
        """The QEMU of the followed jobs: ``ended`` after a ``SHUTDOWN`` or an accepted
        ``quit``; ``relaunched`` when, after that, a command is sent or a response comes that
        answers no command of the log (the ended QEMU can do neither)."""

    def boundary(self, reason: str, line: int) -> list[Record]:
        # An earlier boundary still undecided: no followed job has sent an event since, so
        # this one serves as well; it is decided with every job followed by now.
        out = self.finish()
        if not self.jobs:
            if self.records_since_reset:
                out.append(self._reset(reason, line))
            return out
        self.undecided = (reason, line)
        self.watched = dict(self.jobs)
        return out

    def feed(self, record: Record) -> list[Record]:
        if self.undecided is None:
            return self._track(record)
        return self._drain(deque((record,)))

    def finish(self) -> list[Record]:
        out: list[Record] = []
        while self.undecided is not None:
            out.extend(self._decide(False))
        return out

    def _drain(self, queue: deque[Record]) -> list[Record]:
        """Track or hold each record of ``queue`` in turn (a decision puts the held ones
        back at its front)."""
        out: list[Record] = []
        while queue:
            record = queue.popleft()
            if self.undecided is None:
                out.extend(self._track(record))
                continue
            self.held.append(record)
            job, status = _job_event(record)
            if job is not None and job in self.watched:
                assert isinstance(record, Event)
                reset = not _continues(self.watched[job], record, status)
            elif len(self.held) > MAX_UNDECIDED:
                reset = False
            else:
                continue
            out.extend(self._decide(reset, queue))
        return out

    def _decide(self, reset: bool, queue: deque[Record] | None = None) -> list[Record]:
        """Write the undecided reset or not; the held records go back to the front of
        ``queue`` (tracked at once without one)."""
        assert self.undecided is not None
        reason, line = self.undecided
        out: list[Record] = []
        if reset:
            out.append(self._reset(reason, line))
        held, self.held, self.undecided = self.held, [], None
        if queue is None:
            return out + self._drain(deque(held))
        queue.extendleft(reversed(held))
        return out

    def _reset(self, reason: str, line: int) -> Note:
        self.jobs.clear()
        self.unanswered.clear()
        self.records_since_reset = False
        self.qemu = "up"
        return Note(f"reset: {reason}", None, line)

    def _track(self, record: Record) -> list[Record]:
        """Follow the jobs through one record: the record, with the reset notes it brings."""
        self.records_since_reset = True
        if isinstance(record, Event):
            return self._track_event(record)
        if isinstance(record, Command):
            if self.qemu == "ended":
                self.qemu = "relaunched"
            state = None
            if record.execute in VERB_COMMANDS:
                arguments = record.arguments
                job = arguments.get("id", arguments.get("device"))
                state = self.jobs.get(job) if isinstance(job, str) else None
            self.unanswered.append((record, state))
        elif isinstance(record, Response):
            if not self.unanswered:
                if self.qemu == "ended":
                    self.qemu = "relaunched"
            else:
                command, state = self.unanswered.popleft()
                if record.ok:
                    return [record, *self._accepted(command, state, record.line)]
        return [record]

    def _track_event(self, record: Event) -> list[Record]:
        job, status = _job_event(record)
        if job is None:
            if record.event == "SHUTDOWN":
                return [record, *self._ending("QEMU shut down (SHUTDOWN)", record.line)]
            return [record]
        state = self.jobs.get(job)
        out: list[Record] = [record]
        if (
            self.qemu == "relaunched"
            and state is not None
            and not _continues(state, record, status)
        ):
            # The old QEMU's job cannot send this: it is the new QEMU's job.
            out.insert(0, self._reset("a new QEMU (the previous one ended)", record.line))
        self._job_event(job, record, status)
        return out

    def _job_event(self, job: str, record: Event, status: str | None) -> None:
        if status == "null":
            self.jobs.pop(job, None)
            return
        state = self.jobs.get(job)
        if state is None or not _continues(state, record, status):
            state = "running"
        if record.event in _COMPLETION_EVENTS:
            state = "finished"
        self.jobs[job] = state

    def _accepted(self, command: Command, state: Phase | None, line: int) -> list[Record]:
        """What an accepted command tells; ``state``: its job's state when it was sent."""
        name = command.execute
        if name == "quit":
            return self._ending("quit", line)
        if name in VERB_COMMANDS:
            job = command.arguments.get("id", command.arguments.get("device"))
            if isinstance(job, str) and job in self.jobs:
                if name in _DISMISS:
                    self.jobs[job] = "finished"
                elif state == "finished":
                    # A concluded job accepts nothing but a dismiss: a new instance took the id.
                    self.jobs[job] = "running"
        elif name in START_COMMANDS or name == "transaction":
            for info in classify(name, command.arguments).starts:
                if info.id in self.jobs:
                    self.jobs[info.id] = "running"
        return []

    def _ending(self, reason: str, line: int) -> list[Record]:
        """The QEMU goes away: its running jobs are ending.

        With no job followed this is a boundary.  Otherwise it is not one by itself: the
        ended QEMU may still log its jobs' last events, and a job of it that sends more
        than that is a divergence, unless a new QEMU has shown itself in between.
        """
        for job, state in self.jobs.items():
            if state == "running":
                self.jobs[job] = "ending"
        self.qemu = "ended"
        return [] if self.jobs else self.boundary(reason, line)


def iotests_records(lines: Iterable[tuple[int, str]], path: str) -> Iterator[Record]:
    """The trace records of an iotests ``.out`` file, with reset notes."""
    placer = _ResetPlacer()
    scan = _SCAN
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
                    yield from _lenient_records("\n".join(value), opener, path, start, placer)
                    value = None
                elif len(value) > MAX_VALUE_LINES:
                    raise TraceFormatError(path, start, "JSON value not closed")
                continue
            if opener == "{":
                raise TraceFormatError(
                    path, start, f"JSON object not closed before the text on line {number}"
                )
            value = None  # a broken '[' line: free text after all
        first = text[:1]
        if first in _PROGRESS_CHARS:
            progress = _PROGRESS.match(text)
            if progress is not None:
                yield from placer.boundary("unittest progress", number)
                text = text[progress.end() :]
                first = "{"
        if first == "{" or first == "[":
            try:
                obj, end = scan(text, 0)
            except (StopIteration, ValueError, RecursionError):
                pass
            else:
                if end == len(text) or text[end:].isspace():
                    yield from _object_records(obj, path, number, placer)
                    continue
            converted, depth = to_json(text)
            opener, start = first, number
            if depth <= 0:
                yield from _lenient_records(converted, opener, path, number, placer)
            else:
                value = [converted]
            continue
        reason = _boundary(text)
        if reason is not None:
            yield from placer.boundary(reason, number)
    if value is not None and opener == "{":
        raise TraceFormatError(path, start, "JSON object not closed (file truncated?)")
    yield from placer.finish()


def _lenient_records(
    text: str, opener: str, path: str, line: int, placer: _ResetPlacer
) -> Iterator[Record]:
    """The records of a value rewritten by :func:`to_json`."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        if opener != "{":
            return
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not JSON"
        raise TraceFormatError(path, line, f"broken QMP object ({reason})") from None
    if isinstance(obj, dict):
        _python_kwargs(obj)
    yield from _object_records(obj, path, line, placer)


def _python_kwargs(obj: dict[str, Any]) -> None:
    """A command's Python keyword arguments as the QMP member names QEMU received."""
    arguments = obj.get("arguments")
    if "execute" not in obj or not isinstance(arguments, dict):
        return
    for python, qmp in _PYTHON_KWARGS.items():
        if python in arguments and qmp not in arguments:
            arguments[qmp] = arguments.pop(python)


def _object_records(obj: Any, path: str, line: int, placer: _ResetPlacer) -> list[Record]:
    """The record of one JSON value if it is a QMP message, with the notes it brings."""
    if type(obj) is not dict or QMP_KEYS.isdisjoint(obj):
        return []
    message = message_to_record(obj, path, line)
    if isinstance(message, Greeting):
        return placer.boundary("new QMP session (greeting)", line)
    if message is None:
        return []
    if isinstance(message, Command) and message.execute == "qmp_capabilities":
        return [*placer.boundary("new QMP session (qmp_capabilities)", line), *placer.feed(message)]
    return placer.feed(message)
