"""A recorded QMP session on qemu.qmp's asyncio client, driven from synchronous code.

The campaign calls targets synchronously; QMP is asynchronous (events arrive
whenever QEMU emits them, before or after a command's return).  A
:class:`QemuSession` runs qemu.qmp's :class:`~qemu.qmp.QMPClient` on a private
event loop that each public method runs in the calling thread until its
coroutine is done, with a timeout::

    session = QemuSession(timeout=10.0)
    session.connect("/run/qsd/qmp.sock")            # or a connected socket
    session.recording = True
    response = session.execute("query-jobs")      # a trace Response
    session.settle(quiet=0.002)                   # wait for the jobs to stop moving
    records = session.take_records()              # Command/Response/Event, wire order

*The loop in the calling thread.*  Between two calls nothing reads the socket:
what QEMU sends meanwhile waits there, in order.  Each call ends with two more
turns of the loop, which take in what came with its answer; a question
asked between calls (:meth:`QemuSession.inspect`,
:attr:`~QemuSession.late_events`, :attr:`~QemuSession.lost`) first looks
whether the socket holds anything (a ``poll`` with no wait) and, if it does,
takes it in.  So the tracker knows at each question what it would know if the
socket were read all the time.  A loop in a thread of its own did that, at the
price of a hop between threads twice a round trip: ``query-jobs`` through the
target took 1.46–1.64 ms that way against 1.23–1.38 ms with the loop in the
calling thread, qemu.qmp's client alone 1.01–1.13 (qemu-storage-daemon 7.2.22,
2-core VM, five alternating pairs of 500); a campaign's exploration alone took
7% less time in the median of seven alternating pairs (−13% to +8%).

Signals that jobcheck turns into exceptions (Ctrl-C, SIGTERM, SIGHUP: their
handlers raise) are kept out of the loop's machinery while a call runs: the
handler runs at once (it forwards the signal to worker processes as before),
its exception cancels the call and is raised once the loop has stopped, so
qemu.qmp's own tasks never see it, and no coroutine is made before the
handlers are swapped (one made and never run would be "never awaited").

*Recording.*  The client is subclassed only at qemu.qmp's documented message
hooks (``_cb_outbound``/``_cb_inbound``), which see every message as it
crosses the socket.  So commands, responses and events become trace records
in arrival order, events interleaved with responses exactly as they came, each
event with QEMU's timestamp.  The same hook feeds the
:class:`~jobcheck.conformance.targets.job_tracker.JobTracker` (before any
caller can look), and the client's one default event listener, registered
before the connection exists, is drained so that it never grows.

*Failures* are two exceptions, which the target turns into
:class:`~jobcheck.conformance.errors.TargetError` with QEMU's exit status and
stderr: :class:`SessionLost` (the socket closed or broke; a watcher on the
client's runstate notices it, also when a question takes in what arrived
between commands) and :class:`SessionTimeout` (no answer in time; the session
is unusable after it, since a late reply would be out of step).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from qemu.qmp import ExecuteError, Message, QMPClient, QMPError, Runstate

from jobcheck.conformance.errors import keep_interrupt, raise_swallowed
from jobcheck.conformance.targets.job_tracker import JobTracker
from jobcheck.conformance.trace.records import Command, Event, QmpError, Record, Response

T = TypeVar("T")


class SessionLost(Exception):
    """The QMP connection closed or broke."""


class SessionTimeout(Exception):
    """QEMU did not answer within the timeout."""


class ConnectFailed(SessionLost):
    """No QMP session could be established; the text says what happened, in one line."""


class ConnectTimeout(SessionTimeout):
    """Connecting took too long; the text says at which point (greeting or negotiation)."""


class NotQmp(ConnectFailed):
    """What answers on the socket is not a QMP server (its first message is no greeting)."""


def connect_failure(path: str, exc: BaseException) -> ConnectFailed:
    """What a failed ``connect()`` means, as one line.

    >>> str(connect_failure("/s", ConnectionRefusedError(111, "Connection refused")))
    'nothing accepts connections on /s (connection refused): is QEMU running?'
    """
    cause: BaseException = exc
    while isinstance(getattr(cause, "exc", None), BaseException):
        cause = cause.exc  # type: ignore[attr-defined]
    if isinstance(cause, ConnectionRefusedError):
        return ConnectFailed(
            f"nothing accepts connections on {path} (connection refused): is QEMU running?"
        )
    if isinstance(cause, FileNotFoundError):
        return ConnectFailed(f"cannot connect to {path}: no such socket")
    if isinstance(cause, PermissionError):
        return ConnectFailed(f"cannot connect to {path}: permission denied")
    if isinstance(cause, EOFError):
        return ConnectFailed(
            f"{path} closed the connection without a QMP greeting (is it a QEMU monitor?)"
        )
    raw = getattr(cause, "raw", None)
    if isinstance(raw, bytes) or "Greeting" in str(exc):
        first = raw.decode("utf-8", "replace").strip() if isinstance(raw, bytes) else ""
        said = f" (it said {first[:60]!r})" if first else ""
        return NotQmp(f"{path} does not speak QMP: its first message is not a QMP greeting{said}")
    return ConnectFailed(f"cannot connect to {path}: {_reason(cause)}")


def command_text(command: str, arguments: dict[str, Any] | None, limit: int = 160) -> str:
    """A command as one short line, for error messages: ``job-pause {"id": "j0"}``."""
    text = command if not arguments else f"{command} {json.dumps(arguments, sort_keys=True)}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _RecordingClient(QMPClient):
    """qemu.qmp's client, with its message hooks forwarding to the session."""

    def __init__(self, session: QemuSession) -> None:
        super().__init__("jobcheck")
        self._session = session

    # The base hooks only log each message at DEBUG level, pretty-printing it (json.dumps
    # with indent) whether DEBUG is on or not: they are called only when it is on.

    def _cb_outbound(self, msg: Message) -> Message:
        if self.logger.isEnabledFor(logging.DEBUG):
            msg = super()._cb_outbound(msg)
        self._session._sent(msg)
        return msg

    def _cb_inbound(self, msg: Message) -> Message:
        if self.logger.isEnabledFor(logging.DEBUG):
            msg = super()._cb_inbound(msg)
        self._session._received(msg)
        return msg


class QemuSession:
    """One QMP connection: recorded, tracked, usable from any one calling thread."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.tracker = JobTracker()
        self.recording = False
        """Whether traffic becomes trace records (off during connection and introspection)."""
        self.last_command = "(no command yet)"
        self.interrupted = False
        """A call was interrupted (Ctrl-C): a command may have gone out unanswered."""
        self._records: list[Record] = []
        self._lock = threading.Lock()
        self._responses: dict[Any, Response] = {}
        self._last_id: Any = None
        self._batch: list[Any] | None = None
        """The ids sent so far by :meth:`execute_all`, in wire order (``None`` outside one)."""
        self.sent_bytes = 0
        """Bytes of the commands sent so far (QEMU's monitor reads a command a byte at a
        time: the bench measures what a byte costs)."""
        self._events = 0
        self._events_at_response = 0
        self._unconfirmed = False
        self._lost = False
        self._greeted = False
        self._broken: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_abandoned_quietly)
        self._socket: socket.socket | None = None
        """The connection, when the session was handed a socket (see :meth:`_take_in`)."""
        self._launcher: concurrent.futures.ThreadPoolExecutor | None = None
        """The thread that launches QEMU (:meth:`in_launcher_thread`), made on first use."""
        self._client, self._changed, self._exec_lock = self._call(self._make, timeout)

    async def _make(self) -> tuple[_RecordingClient, asyncio.Event, asyncio.Lock]:
        return _RecordingClient(self), asyncio.Event(), asyncio.Lock()

    # -- running the loop in the calling thread ---------------------------

    def _call(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float) -> T:
        """Run the coroutine ``make()`` on the session's loop, in this thread, until it is
        done (or ``timeout`` and a second more have passed: :class:`SessionTimeout`).

        The coroutine is made and handed to the loop only once interrupts are deferred
        (:func:`_interrupts_deferred`): an interrupt can then no longer fall between the
        two and leave a coroutine that never ran ("never awaited").
        """
        with _interrupts_deferred(self._loop) as deferral:
            raise_swallowed()
            if self._loop.is_closed() or _loop_running_here():
                # closed, or called from inside a loop (a finalizer run by the garbage
                # collector while one turns): there is nothing this call could run on
                raise SessionLost("the QMP session cannot be used from here")
            if not deferral.caught:
                task: asyncio.Task[T] = self._loop.create_task(make())
                deferral.task = task
                try:
                    result = self._loop.run_until_complete(_outcome(task, timeout + 1.0))
                except TimeoutError:
                    if not deferral.caught:
                        self._broken = f"no answer within {timeout:g} s to {self.last_command}"
                        raise SessionTimeout(self._broken) from None
                except asyncio.CancelledError:
                    if not deferral.caught:
                        raise
                finally:
                    if not task.done():  # the loop stopped early: the task ends when it turns
                        task.cancel()
        if deferral.caught:
            # Ctrl-C or a signal: the command may be on its way anyway
            if isinstance(deferral.caught[0], KeyboardInterrupt):
                self.interrupted = True
            raise deferral.caught[0]
        return result

    def _take_in(self) -> None:
        """Take in what QEMU has sent since the last call (events, a closed socket), without
        waiting: when the socket holds something, or when there is no socket of ours to
        look at (the session connected to a path), the loop goes round once more than
        the call's own tail (the first turn reads, the next hands the messages on)."""
        if self._lost or self._broken is not None or self._loop.is_closed():
            return
        if self._socket is not None and not _readable(self._socket):
            return
        if not _loop_running_here():
            self._call(lambda: _turns(1), self.timeout)

    def in_launcher_thread(self, function: Callable[[], T]) -> T:
        """Run ``function`` in the session's launcher thread and return its result (or raise
        its error).

        The live target launches QEMU from there, so that QEMU's parent-death
        signal is bound to a thread that lives exactly as long as the session
        (:meth:`close` ends it).
        """
        if self._launcher is None:
            self._launcher = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="jobcheck-qemu-launcher"
            )
        return self._launcher.submit(function).result()

    # -- hooks (run by the loop) ----------------------------------

    def _append(self, record: Record) -> None:
        with self._lock:
            self._records.append(record)

    def _sent(self, msg: Message) -> None:
        self.sent_bytes += len(bytes(msg))  # what qemu.qmp writes next (it keeps the bytes)
        self._last_id = msg.get("id")
        if self._batch is not None:
            self._batch.append(self._last_id)
        if self.recording and "execute" in msg:
            args = msg.get("arguments")
            arguments = dict(args) if isinstance(args, dict) else {}
            self._append(Command(str(msg["execute"]), arguments, msg.get("id")))

    def _received(self, msg: Message) -> None:
        if "QMP" in msg:
            self._greeted = True
        elif "event" in msg:
            name = str(msg["event"])
            data = msg.get("data")
            data = dict(data) if isinstance(data, dict) else {}
            stamp = msg.get("timestamp")
            with self._lock:
                self.tracker.event(name, data)
                if self.recording:
                    self._records.append(
                        Event(name, data, dict(stamp) if isinstance(stamp, dict) else None)
                    )
                self._events += 1
            self._changed.set()
        elif "return" in msg or "error" in msg:
            error = msg.get("error")
            response = Response(
                msg.get("id"),
                msg.get("return"),
                QmpError(str(error.get("class")), str(error.get("desc")))
                if isinstance(error, dict)
                else None,
            )
            self._responses[msg.get("id")] = response
            self._events_at_response = self._events
            if self.recording:
                self._append(response)

    # -- connecting ------------------------------------------------------

    def connect(self, address: str | socket.socket) -> None:
        """Connect to the QMP unix socket at ``address`` (a path, or a connected socket that
        the session then owns) and negotiate."""
        self._call(lambda: self._connect(address), self.timeout)

    async def _connect(self, address: str | socket.socket) -> None:
        path = address if isinstance(address, str) else "QEMU's QMP connection"
        self._socket = None if isinstance(address, str) else address
        self.last_command = f"connecting to {path}"
        try:
            await asyncio.wait_for(self._client.connect(address), self.timeout)
        except TimeoutError:
            if self._greeted:
                self._broken = (
                    f"the QEMU at {path} sent its QMP greeting, then did not answer"
                    f" qmp_capabilities within {self.timeout:g} s"
                )
            else:
                self._broken = (
                    f"no QMP greeting from {path} within {self.timeout:g} s (is it a QEMU"
                    " monitor? is another client connected to it?)"
                )
            raise ConnectTimeout(self._broken) from None
        except (QMPError, OSError, EOFError) as exc:
            raise connect_failure(path, exc) from None
        except AssertionError:
            # qemu.qmp asserts that it is running at the end of its handshake; a peer that
            # died during the handshake makes that assertion fail.
            raise ConnectFailed(
                f"cannot connect to {path}: it closed during the handshake"
            ) from None
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._watch()), loop.create_task(self._drain_listener())]

    async def _watch(self) -> None:
        while self._client.runstate == Runstate.RUNNING:
            await self._client.runstate_changed()
        self._lost = True
        self._changed.set()

    async def _drain_listener(self) -> None:
        async for _ in self._client.events:
            pass

    # -- commands --------------------------------------------------------

    def execute(
        self, command: str, arguments: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Response:
        """Send one command; its recorded response (``ok`` or a QMP error)."""
        self.last_command = command_text(command, arguments)
        self._usable()
        wait = self.timeout if timeout is None else timeout
        return self._call(lambda: self._execute(command, arguments, wait), wait)

    async def _execute(
        self, command: str, arguments: dict[str, Any] | None, timeout: float
    ) -> Response:
        async with self._exec_lock:
            if self._lost:
                raise SessionLost("the QMP connection is closed")
            msg = QMPClient.make_execute_msg(command, arguments)
            try:
                await asyncio.wait_for(self._client.execute_msg(msg), timeout)
            except ExecuteError:
                pass
            except TimeoutError:
                self._responses.pop(self._last_id, None)
                self._broken = (
                    f"no answer within {timeout:g} s to {command_text(command, arguments)}"
                )
                raise SessionTimeout(self._broken) from None
            except (QMPError, OSError, EOFError) as exc:
                raise SessionLost(_reason(exc)) from None
            response = self._responses.pop(self._last_id)
            self._answered(command, arguments, response)
            return response

    def _answered(self, command: str, arguments: dict[str, Any] | None, response: Response) -> None:
        """Take in what a command's answer tells: whether an accepted command awaits a
        ``query-jobs``, and the job tracker's view."""
        if command == "query-jobs":
            self._unconfirmed = False
        elif response.ok and not command.startswith("query-"):
            self._unconfirmed = True
        with self._lock:
            self.tracker.command(command, arguments, response.ok)
            if command == "query-block-jobs":
                self.tracker.block_jobs(response.value)

    def execute_all(self, commands: Sequence[tuple[str, dict[str, Any] | None]]) -> list[Response]:
        """Send ``commands`` back to back, each without waiting for the answer to the one
        before; their recorded responses, in order.

        QEMU runs a monitor's commands one at a time, in the order they came, so the
        outcome is that of sending them one by one; what changes is that QEMU reads the
        next command (a byte at a time) while it runs this one, and answers them all in
        one round trip.  For set-up and teardown commands, whose answers decide nothing
        until all of them are in.
        """
        if not commands:
            return []
        ends = (commands[0], commands[-1])
        self.last_command = " … ".join(dict.fromkeys(command_text(c, a, 60) for c, a in ends))
        self._usable()
        return self._call(lambda: self._execute_all(list(commands), self.timeout), self.timeout)

    async def _execute_all(
        self, commands: list[tuple[str, dict[str, Any] | None]], timeout: float
    ) -> list[Response]:
        async with self._exec_lock:
            if self._lost:
                raise SessionLost("the QMP connection is closed")
            self._batch = []
            try:
                sends = [
                    asyncio.ensure_future(
                        self._client.execute_msg(QMPClient.make_execute_msg(command, arguments))
                    )
                    for command, arguments in commands
                ]
                for task in sends:
                    # read below, or dropped if the caller gives up (no asyncio complaint)
                    task.add_done_callback(_consume)
                try:
                    done, pending = await asyncio.wait(sends, timeout=timeout)
                finally:
                    for task in sends:
                        task.cancel()
                if pending:
                    self._broken = f"no answer within {timeout:g} s to {self.last_command}"
                    raise SessionTimeout(self._broken)
                for task in done:
                    exc = task.exception()
                    if exc is None or isinstance(exc, ExecuteError):
                        continue  # answered (a refusal is an answer too)
                    if isinstance(exc, (QMPError, OSError, EOFError)):
                        raise SessionLost(_reason(exc))
                    raise exc
                sent = self._batch
            finally:
                self._batch = None
            responses = [self._responses.pop(ident) for ident in sent]
            for (command, arguments), response in zip(commands, responses, strict=True):
                self._answered(command, arguments, response)
            return responses

    # -- waiting ---------------------------------------------------------

    def wait_until(self, predicate: Callable[[JobTracker], bool], timeout: float) -> bool:
        """Wait until ``predicate(tracker)`` holds (re-checked on every event); False on timeout."""
        self._usable()
        deadline = time.monotonic() + timeout
        return self._call(lambda: self._wait_until(predicate, deadline), timeout)

    async def _wait_until(self, predicate: Callable[[JobTracker], bool], deadline: float) -> bool:
        while True:
            if self._lost:
                raise SessionLost("the QMP connection closed")
            if predicate(self.tracker):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def settle(self, quiet: float, timeout: float | None = None) -> list[str]:
        """Wait until no job of ours moves by itself and no event came for ``quiet`` seconds.

        Ends with a ``query-jobs`` (recorded: a snapshot, and a barrier that
        every event QEMU sent before it has arrived).  While a held job is still
        on its first chunk (:meth:`JobTracker.parking`), ``query-block-jobs`` is
        asked before it, again after each quiet period, until the job sleeps at
        its rate limit.
        Returns the ids still moving (or parking) when the timeout ran out (empty
        when settled).
        """
        self.last_command = "waiting for the jobs to settle"
        self._usable()
        wait = self.timeout if timeout is None else timeout
        return self._call(lambda: self._settle(quiet, time.monotonic() + wait), wait + self.timeout)

    async def _settle(self, quiet: float, deadline: float) -> list[str]:
        while True:
            if not await self._wait_until(lambda t: not t.moving(), deadline):
                return self.tracker.moving()
            await self._quiet(quiet, deadline)
            if self.tracker.moving():
                continue
            if self.tracker.parking():
                # Held jobs still on their first chunk: no event says when they are done.
                self.last_command = "query-block-jobs"
                await self._execute("query-block-jobs", None, self.timeout)
                if self.tracker.parking() and time.monotonic() < deadline:
                    continue
            self.last_command = "query-jobs"
            await self._execute("query-jobs", None, self.timeout)
            moving = self.tracker.moving() + self.tracker.parking()
            if not moving or time.monotonic() >= deadline:
                return moving

    async def _quiet(self, quiet: float, deadline: float) -> None:
        """Wait until no event came for ``quiet`` seconds (or the deadline passed)."""
        while True:
            seen = self._events
            await asyncio.sleep(quiet)
            if self._lost:
                raise SessionLost("the QMP connection closed")
            if self._events == seen or time.monotonic() >= deadline:
                return

    def barrier(self, quiet: float) -> None:
        """Wait until no event came for ``quiet`` seconds, then ``query-jobs`` (recorded: a
        snapshot, and proof that every event QEMU sent before it has arrived)."""
        self.last_command = "waiting for events to stop"
        self._usable()
        self._call(lambda: self._barrier(quiet, time.monotonic() + self.timeout), 2 * self.timeout)

    async def _barrier(self, quiet: float, deadline: float) -> None:
        await self._quiet(quiet, deadline)
        self.last_command = "query-jobs"
        await self._execute("query-jobs", None, self.timeout)

    # -- records and state -----------------------------------------------

    def record(self, record: Record) -> None:
        """Append a record of the caller's own (a driver note)."""
        self._append(record)

    def take_records(self) -> list[Record]:
        with self._lock:
            out, self._records = self._records, []
        return out

    def forget(self) -> None:
        """Start afresh on the same connection: no job known, no record kept (a new target
        takes over a QEMU an earlier one left clean)."""
        with self._lock:
            self.tracker = JobTracker()
            self._records = []
            self._unconfirmed = False

    def inspect(self, question: Callable[[JobTracker], T]) -> T:
        """Ask the tracker something, once it has taken in what QEMU has sent so far."""
        self._take_in()
        with self._lock:
            return question(self.tracker)

    @property
    def late_events(self) -> bool:
        """Whether events came after the last response: QEMU sent them on its own, after the
        command, and more of the same moment may still be on their way (a query-jobs makes
        sure: they precede its answer).  What has arrived so far is taken in first."""
        self._take_in()
        return self._events > self._events_at_response

    @property
    def unconfirmed(self) -> bool:
        """Whether QEMU accepted a command (other than a query) since the last ``query-jobs``:
        what it did (a job dismissed, finalized, paused…) is confirmed by the next one."""
        return self._unconfirmed

    @property
    def lost(self) -> bool:
        """Whether the connection has closed (as far as what has arrived so far shows)."""
        self._take_in()
        return self._lost

    @property
    def broken(self) -> str | None:
        """Why the session can no longer be used (a timeout), if it cannot."""
        return self._broken

    def _usable(self) -> None:
        if self._broken is not None:
            raise SessionTimeout(self._broken)
        if self._lost:
            raise SessionLost("the QMP connection closed")

    # -- closing ---------------------------------------------------------

    def close(self) -> None:
        """Disconnect, close the loop and end the launcher thread (idempotent, never
        raises)."""
        if not self._loop.is_closed() and not _loop_running_here():
            try:
                self._call(self._disconnect, 1.0)
            except KeyboardInterrupt as exc:  # raised by the next QMP call or driver step
                keep_interrupt(exc)
            except BaseException:  # closing goes on whatever happened
                pass
            self._loop.close()
        if self._launcher is not None:
            self._launcher.shutdown(wait=True)
            self._launcher = None

    async def _disconnect(self) -> None:
        for task in self._tasks:
            task.cancel()
        # QEMU may already be gone: disconnect() then re-raises EOFError and friends.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.disconnect(), 1.0)


def _loop_running_here() -> bool:
    """Whether an event loop runs in this thread (one cannot run another meanwhile)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _readable(sock: socket.socket) -> bool:
    """Whether ``sock`` has something to read (or is closed), without waiting."""
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


async def _outcome(task: asyncio.Task[T], timeout: float) -> T:
    """``task``'s result within ``timeout`` seconds, once the loop has gone round twice more:
    what arrived with an answer is then taken in (see :meth:`QemuSession._take_in`)."""
    result = await asyncio.wait_for(task, timeout)
    await _turns(2)
    return result


async def _turns(count: int) -> None:
    """Let the loop go round ``count`` times: it reads what the socket holds, and qemu.qmp's
    reader hands each whole message to the hooks."""
    for _ in range(count):
        await asyncio.sleep(0)


#: Signals whose Python handlers :func:`_interrupts_deferred` keeps out of the loop.
DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Deferral:
    """What :func:`_interrupts_deferred` caught, and the task an interrupt cancels."""

    def __init__(self) -> None:
        self.caught: list[BaseException] = []
        self.task: asyncio.Task[Any] | None = None


@contextlib.contextmanager
def _interrupts_deferred(loop: asyncio.AbstractEventLoop) -> Iterator[_Deferral]:
    """While the block runs in the main thread, a signal handler that raises (Ctrl-C,
    jobcheck's SIGTERM and SIGHUP handlers) runs at once, but its exception is kept in
    :attr:`_Deferral.caught` and cancels :attr:`_Deferral.task` instead of going off
    inside whatever the loop was running (qemu.qmp's reader, say).  The handlers are
    swapped with those signals blocked, so none can come half-way.  In other threads
    Python runs no signal handler, and nothing changes."""
    deferral = _Deferral()
    if threading.current_thread() is not threading.main_thread():
        yield deferral
        return
    previous: dict[int, Callable[[int, Any], Any]] = {}

    def deferring(signum: int, frame: Any) -> None:
        try:
            previous[signum](signum, frame)
        except BaseException as exc:
            if not deferral.caught:
                deferral.caught.append(exc)
                if deferral.task is not None:
                    loop.call_soon_threadsafe(deferral.task.cancel)

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, DEFERRED_SIGNALS)
    try:
        for sig in DEFERRED_SIGNALS:
            handler = signal.getsignal(sig)
            if callable(handler):
                previous[sig] = handler
                signal.signal(sig, deferring)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # one that came runs now, deferred
    try:
        yield deferral
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, DEFERRED_SIGNALS)
        try:
            for signum, kept in previous.items():
                signal.signal(signum, kept)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _consume(task: asyncio.Future[Any]) -> None:
    """Mark a finished task's outcome as seen."""
    if not task.cancelled():
        task.exception()


def _abandoned_quietly(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's exception handler: silent about a command that its caller gave up on.

    When Ctrl-C, a signal or a timeout ends :meth:`QemuSession._call`, the command's task
    is cancelled; if it ends with :class:`SessionLost` or :class:`SessionTimeout` anyway
    (the connection was closing: the cancellation came too late), nobody retrieves that,
    and asyncio would print "Task exception was never retrieved" with a traceback after
    jobcheck's own one-line message.  The caller has already reported what happened;
    anything else still goes to asyncio's default handler.
    """
    if isinstance(context.get("exception"), SessionLost | SessionTimeout):
        return
    loop.default_exception_handler(context)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
