"""QMP wire messages as trace records, with the shape checks every reader applies.

A QMP message is a JSON object of one of these shapes (QEMU's
``docs/interop/qmp-spec``): the greeting ``{"QMP": {...}}``, a command
``{"execute": NAME, "arguments": {...}, "id": ANY}`` (or ``"exec-oob"``), a
response ``{"return": ANY, "id": ANY}`` or ``{"error": {"class": ..., "desc":
...}, "id": ANY}``, and an event ``{"event": NAME, "data": {...},
"timestamp": {...}}``.  :func:`message_to_record` turns one into a
:class:`~jobcheck.conformance.trace.records.Record` (or a :class:`Greeting`), and
raises :class:`~jobcheck.conformance.trace.records.TraceFormatError` when the object
has a QMP shape but wrong member types.

:func:`check_record` holds the checks that every trace, whatever its format,
must pass before the oracle sees it: a ``JOB_STATUS_CHANGE`` carries a string
``id`` and a string ``status``.  The *value* of ``status`` is not checked
here: a status name that the model does not know is a finding for the oracle
(rule ``qapi.members-known``), not a broken file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jobcheck.conformance.trace.records import (
    Command,
    Event,
    QmpError,
    Record,
    Response,
    TraceFormatError,
    check_id,
)

JOB_STATUS_CHANGE = "JOB_STATUS_CHANGE"


def status_change(record: Record) -> tuple[str, str] | None:
    """The job id and the status a ``JOB_STATUS_CHANGE`` event reports, as QEMU spelled
    them; ``None`` for any other record.

    >>> from jobcheck.conformance.trace.records import Event
    >>> status_change(Event(JOB_STATUS_CHANGE, {"id": "j0", "status": "ready"}))
    ('j0', 'ready')
    >>> status_change(Event("BLOCK_JOB_READY", {"device": "j0"})) is None
    True
    """
    if not isinstance(record, Event) or record.event != JOB_STATUS_CHANGE:
        return None
    return str(record.data.get("id")), str(record.data.get("status"))


def last_statuses(records: Iterable[Record]) -> dict[str, str]:
    """Each job's last reported status in ``records``, by job id.

    >>> from jobcheck.conformance.trace.records import Event
    >>> last_statuses([Event(JOB_STATUS_CHANGE, {"id": "j0", "status": s}) for s in
    ...     ("created", "running")])
    {'j0': 'running'}
    """
    found: dict[str, str] = {}
    for record in records:
        change = status_change(record)
        if change is not None:
            found[change[0]] = change[1]
    return found


def block_job_data(
    job_type: str, device: str, length: int, offset: int, speed: int, error: str | None = None
) -> dict[str, Any]:
    """The data of a ``BLOCK_JOB_COMPLETED``/``CANCELLED``/``READY`` event, as QEMU sends it.

    >>> block_job_data("backup", "j1", 100, 100, 0)
    {'type': 'backup', 'device': 'j1', 'len': 100, 'offset': 100, 'speed': 0}
    """
    data: dict[str, Any] = {
        "type": job_type,
        "device": device,
        "len": length,
        "offset": offset,
        "speed": speed,
    }
    if error is not None:
        data["error"] = error
    return data


@dataclass(frozen=True, slots=True)
class Greeting:
    """The QMP greeting, which starts every QMP session."""

    version: str | None
    """``MAJOR.MINOR.MICRO`` from the greeting, when it says."""
    line: int = 0


def greeting_version(body: Any) -> str | None:
    """The QEMU version in the body of a greeting (``{"version": {"qemu": ...}}``)."""
    if not isinstance(body, dict):
        return None
    version = body.get("version")
    qemu = version.get("qemu") if isinstance(version, dict) else None
    if not isinstance(qemu, dict):
        return None
    parts = [qemu.get("major"), qemu.get("minor"), qemu.get("micro")]
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
        return None
    return ".".join(str(p) for p in parts)


def _object(value: Any, what: str, path: str, line: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TraceFormatError(path, line, f"{what} must be a JSON object")
    return value


#: The members that make a JSON object a QMP message.
QMP_KEYS = frozenset({"QMP", "execute", "exec-oob", "event", "return", "error", "timestamp"})


def message_to_record(obj: dict[str, Any], path: str, line: int) -> Record | Greeting | None:
    """The record for one QMP message; ``None`` if the object has no QMP key at all."""
    if "QMP" in obj:
        return Greeting(greeting_version(obj["QMP"]), line)
    if "execute" in obj or "exec-oob" in obj:
        name = obj["execute"] if "execute" in obj else obj["exec-oob"]
        if not isinstance(name, str):
            raise TraceFormatError(path, line, "command without a string 'execute'")
        arguments = _object(obj.get("arguments", {}), "command 'arguments'", path, line)
        return Command(name, arguments, check_id(obj.get("id"), "command", path, line), line)
    if "event" in obj or "timestamp" in obj:
        name = obj.get("event")
        if not isinstance(name, str):
            raise TraceFormatError(path, line, "event without a string 'event' name")
        data = _object(obj.get("data", {}), "event 'data'", path, line)
        timestamp = obj.get("timestamp")
        if timestamp is not None:
            timestamp = _object(timestamp, "event 'timestamp'", path, line)
        if name == JOB_STATUS_CHANGE:
            _check_status_change(data, path, line)
        return Event(name, data, timestamp, line)
    if "error" in obj:
        error = _object(obj["error"], "response 'error'", path, line)
        error_class, desc = error.get("class"), error.get("desc")
        if not isinstance(error_class, str) or not isinstance(desc, str):
            raise TraceFormatError(path, line, "response 'error' needs string 'class' and 'desc'")
        ident = check_id(obj.get("id"), "response", path, line)
        return Response(ident, None, QmpError(error_class, desc), line)
    if "return" in obj:
        return Response(check_id(obj.get("id"), "response", path, line), obj["return"], None, line)
    return None


def check_record(record: Record, path: str) -> None:
    """Raise :class:`TraceFormatError` if a record has a shape no checker can use."""
    if isinstance(record, Event) and record.event == JOB_STATUS_CHANGE:
        _check_status_change(record.data, path, record.line)


def _check_status_change(data: dict[str, Any], path: str, line: int) -> None:
    if not isinstance(data.get("id"), str):
        raise TraceFormatError(path, line, "JOB_STATUS_CHANGE without a string 'id'")
    if not isinstance(data.get("status"), str):
        raise TraceFormatError(path, line, "JOB_STATUS_CHANGE without a string 'status'")
