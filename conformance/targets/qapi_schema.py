"""The job enums and commands that a QEMU really has, read from ``query-qmp-schema``.

QEMU's introspection hides type names behind numbers, so the enums are found
by where they are used: ``JobStatus`` and ``JobType`` are the types of the
``status`` and ``type`` members of ``query-jobs``' return elements (or, before
``query-jobs`` existed, of ``JOB_STATUS_CHANGE``'s ``status``); ``JobVerb``
is used by no command or event, so QEMU does not introspect it, and it is
reported only if some enum carries the verbs.

The members are kept as QEMU spells them, known to jobcheck's model or not:
an unknown member is a finding for the oracle (rule ``qapi.members-known``),
never a reason to fail here.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jobcheck.conformance.trace.qmp_messages import JOB_STATUS_CHANGE

_VERB_MARKERS = frozenset({"pause", "resume", "set-speed", "complete", "dismiss", "finalize"})


def _enum_values(entry: Mapping[str, Any]) -> list[str]:
    values = entry.get("values")
    if isinstance(values, list):
        return [str(v) for v in values]
    members = entry.get("members")
    if isinstance(members, list):
        return [str(m.get("name")) for m in members if isinstance(m, dict)]
    return []


def _by_name(schema: Iterable[Any]) -> dict[str, dict[str, Any]]:
    return {
        str(entry["name"]): entry
        for entry in schema
        if isinstance(entry, dict) and isinstance(entry.get("name"), str)
    }


def _member_enum(
    names: Mapping[str, dict[str, Any]], object_name: str | None, member: str
) -> list[str] | None:
    """The values of the enum type of ``member`` in object type ``object_name``."""
    obj = names.get(object_name or "")
    if obj is None or obj.get("meta-type") != "object":
        return None
    for entry in obj.get("members", []):
        if isinstance(entry, dict) and entry.get("name") == member:
            enum = names.get(str(entry.get("type")))
            if enum is not None and enum.get("meta-type") == "enum":
                return _enum_values(enum)
    return None


def job_enum_members(schema: Iterable[Any]) -> dict[str, list[str]]:
    """``{"JobStatus": [...], "JobType": [...], "JobVerb": [...]}``, for those found."""
    names = _by_name(schema)
    found: dict[str, list[str]] = {}
    query = names.get("query-jobs")
    if query is not None and query.get("meta-type") == "command":
        array = names.get(str(query.get("ret-type")))
        element = str(array.get("element-type")) if array is not None else None
        for member, enum_name in (("status", "JobStatus"), ("type", "JobType")):
            values = _member_enum(names, element, member)
            if values is not None:
                found[enum_name] = values
    event = names.get(JOB_STATUS_CHANGE)
    if "JobStatus" not in found and event is not None and event.get("meta-type") == "event":
        values = _member_enum(names, str(event.get("arg-type")), "status")
        if values is not None:
            found["JobStatus"] = values
    for entry in names.values():
        if entry.get("meta-type") == "enum":
            values = _enum_values(entry)
            if set(values) >= _VERB_MARKERS:
                found["JobVerb"] = values
                break
    return found


def commands(schema: Iterable[Any]) -> frozenset[str]:
    """The names of every command in the schema."""
    return frozenset(
        name for name, entry in _by_name(schema).items() if entry.get("meta-type") == "command"
    )


def command_arguments(schema: Iterable[Any], command: str) -> frozenset[str]:
    """The argument names of ``command`` (empty when it has none or does not exist)."""
    names = _by_name(schema)
    entry = names.get(command)
    if entry is None or entry.get("meta-type") != "command":
        return frozenset()
    args = names.get(str(entry.get("arg-type")))
    if args is None:
        return frozenset()
    return frozenset(str(m.get("name")) for m in args.get("members", []) if isinstance(m, dict))
