"""Reading the job enums and commands out of ``query-qmp-schema`` answers."""

from __future__ import annotations

from typing import Any

from jobcheck.conformance.targets.qapi_schema import (
    command_arguments,
    commands,
    job_enum_members,
)


def schema(status_values: list[str], *, members_form: bool = False) -> list[dict[str, Any]]:
    """A schema in QEMU's introspection shape, type names masked as numbers."""
    status: dict[str, Any] = {"name": "92", "meta-type": "enum"}
    if members_form:
        status["members"] = [{"name": v} for v in status_values]
    else:
        status["values"] = status_values
    return [
        {"name": "query-jobs", "meta-type": "command", "arg-type": "0", "ret-type": "[57]"},
        {"name": "[57]", "meta-type": "array", "element-type": "57"},
        {
            "name": "57",
            "meta-type": "object",
            "members": [
                {"name": "id", "type": "str"},
                {"name": "type", "type": "148"},
                {"name": "status", "type": "92"},
            ],
        },
        status,
        {"name": "148", "meta-type": "enum", "values": ["mirror", "backup", "teleport"]},
        {"name": "job-pause", "meta-type": "command", "arg-type": "60", "ret-type": "0"},
        {"name": "60", "meta-type": "object", "members": [{"name": "id", "type": "str"}]},
        {"name": "JOB_STATUS_CHANGE", "meta-type": "event", "arg-type": "61"},
        {"name": "61", "meta-type": "object", "members": [{"name": "status", "type": "92"}]},
    ]


def test_members_are_found_through_query_jobs_and_kept_as_qemu_spells_them() -> None:
    found = job_enum_members(schema(["created", "running", "frozen"]))
    assert found == {
        "JobStatus": ["created", "running", "frozen"],
        "JobType": ["mirror", "backup", "teleport"],
    }


def test_members_form_of_newer_qemu_is_read_too() -> None:
    found = job_enum_members(schema(["created", "null"], members_form=True))
    assert found["JobStatus"] == ["created", "null"]


def test_status_falls_back_to_the_event_without_query_jobs() -> None:
    entries = [e for e in schema(["created", "paused"]) if e["name"] != "query-jobs"]
    assert job_enum_members(entries) == {"JobStatus": ["created", "paused"]}


def test_job_verb_is_reported_only_if_some_enum_has_the_verbs() -> None:
    verbs = ["cancel", "pause", "resume", "set-speed", "complete", "dismiss", "finalize"]
    entries = [*schema(["created"]), {"name": "7", "meta-type": "enum", "values": verbs}]
    assert job_enum_members(entries)["JobVerb"] == verbs
    assert "JobVerb" not in job_enum_members(schema(["created"]))


def test_commands_and_their_arguments() -> None:
    entries = schema(["created"])
    assert commands(entries) == {"query-jobs", "job-pause"}
    assert command_arguments(entries, "job-pause") == {"id"}
    assert command_arguments(entries, "no-such-command") == frozenset()


def test_garbage_gives_nothing_rather_than_an_error() -> None:
    assert job_enum_members([None, 3, {"name": 5}, {"meta-type": "enum"}]) == {}
    assert commands([]) == frozenset()
