"""The live QEMU target against Debian's QEMU: launch, attach, set-up, steps, failures.

Every test here starts its own QEMU (``qemu-storage-daemon`` unless it says
otherwise) and checks what QEMU really did, from the recorded trace and from
``query-jobs``.  Tests of QEMU's job behaviour run on every QEMU build of
``tests/conftest.py`` (the ``qemu_build`` fixture: 7.2 and 10.0); tests of how
jobcheck handles the process (timeouts, signals, attaching) run on the QEMU on
``PATH``.  The expected verb × status answers are those observed on QEMU 7.2
(verb table B: ``complete`` is accepted in standby), which ``jobcheck compare``
found identical on 10.0.2 for these seven verbs; tests that depend on 7.2
behaviour say so and skip on other versions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CRASH_TRIES, QemuBuild
from qemu.qmp import Message, QMPClient

from jobcheck.conformance.errors import TargetError, UsageError
from jobcheck.conformance.targets.qemu import QemuCrashed, QemuTarget
from jobcheck.conformance.trace.records import Command, Event, Note, Record, Response
from jobcheck.conformance.trace.steps import JobSpec
from jobcheck.model.lifecycle import JobType, Status, Verb, model_for

pytestmark = pytest.mark.live

QSD = shutil.which("qemu-storage-daemon")
SYSTEM = shutil.which("qemu-system-x86_64")
needs_qsd = pytest.mark.skipif(QSD is None, reason="qemu-storage-daemon is not installed")
needs_system = pytest.mark.skipif(SYSTEM is None, reason="qemu-system-x86_64 is not installed")


# -- helpers -------------------------------------------------------------


def spec(kind: str, job_id: str, **options: Any) -> JobSpec:
    job_type, _, variant = kind.partition("-")
    return JobSpec(
        JobType(job_type),
        job_id,
        auto_finalize=options.get("af", True),
        auto_dismiss=options.get("ad", True),
        variant=variant or None,  # type: ignore[arg-type]
        on_error=options.get("on_error"),
    )


def statuses(records: list[Record], job_id: str) -> list[str]:
    return [
        str(r.data["status"])
        for r in records
        if isinstance(r, Event) and r.event == "JOB_STATUS_CHANGE" and r.data.get("id") == job_id
    ]


def events(records: list[Record], name: str) -> list[Event]:
    return [r for r in records if isinstance(r, Event) and r.event == name]


def listed(target: QemuTarget) -> dict[str, dict[str, Any]]:
    response = target.query()
    assert response.ok
    return {job["id"]: job for job in response.value}


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def qsd(qemu_build: QemuBuild) -> Iterator[QemuTarget]:
    target = QemuTarget(binary=qemu_build.storage_daemon)
    try:
        yield target
    finally:
        target.close()


# -- launching and introspection ---------------------------------------


@pytest.mark.parametrize("program", ["qemu-storage-daemon", "qemu-system-x86_64"])
def test_launch_introspect_and_close(qemu_build: QemuBuild, program: str) -> None:
    binary = qemu_build.storage_daemon if program == "qemu-storage-daemon" else qemu_build.system
    if binary is None:
        pytest.skip(f"no {program} in {qemu_build.where}")
    target = QemuTarget(binary=binary)
    pid, workdir = target.pid, target.workdir
    assert pid is not None and Path(workdir, "qemu.stderr").exists()
    assert not Path(workdir, "qmp.sock").exists()  # QMP runs on a socket pair: no socket file
    assert oct(os.stat(workdir).st_mode & 0o777) == "0o700"
    try:
        assert target.model == model_for(target.qemu_version)
        assert target.schema_members["JobStatus"][:3] == ["undefined", "created", "running"]
        assert "null" in target.schema_members["JobStatus"]
        assert {"mirror", "backup", "create"} <= set(target.schema_members["JobType"])
        assert {JobType.MIRROR, JobType.BACKUP, JobType.CREATE} <= target.supported_types
        meta = target.meta()
        assert meta.source == "qemu" and meta.qemu_version == target.qemu_version
        assert meta.extra["schema_members"] == target.schema_members
        assert binary in target.describe()
        target.start([spec("mirror", "j")])
        target.settle()
        assert listed(target)["j"]["status"] == "running"
    finally:
        target.close()
    assert gone(pid)
    assert not os.path.exists(workdir)
    target.close()  # idempotent


@needs_qsd
def test_model_can_be_chosen_and_bad_choices_are_usage_errors(tmp_path: Path) -> None:
    with QemuTarget(model="6.0") as target:
        assert target.model.version == "6.0"
    with pytest.raises(UsageError, match="unknown QEMU version"):
        QemuTarget(model="banana")
    with pytest.raises(UsageError, match="no such file"):
        QemuTarget(binary=str(tmp_path / "no-such-qemu"))
    with pytest.raises(UsageError, match="cannot connect"):
        QemuTarget(connect=str(tmp_path / "nothing.sock"))
    (tmp_path / "plain").write_text("")
    with pytest.raises(UsageError, match="not a unix socket"):
        QemuTarget(connect=str(tmp_path / "plain"))
    with pytest.raises(UsageError, match="not both"):
        QemuTarget(binary=QSD, connect=str(tmp_path / "plain"))


def test_start_refuses_specs_it_cannot_build(qsd: QemuTarget) -> None:
    with pytest.raises(UsageError, match="backup jobs only"):
        qsd.start([spec("mirror", "a"), spec("backup", "b")], grouped=True)
    with pytest.raises(UsageError, match="no I/O"):
        qsd.start([spec("create", "c", on_error="stop")])
    with pytest.raises(UsageError, match="cannot start snapshot-save"):
        qsd.start([JobSpec(JobType.SNAPSHOT_SAVE, "s")])


# -- recording -----------------------------------------------------------


def test_records_are_in_wire_order_with_timestamps(qsd: QemuTarget) -> None:
    qsd.take_records()
    qsd.apply({"op": "start", "jobs": [spec("mirror", "j").to_json()]})
    qsd.settle()
    records = qsd.take_records()
    assert isinstance(records[0], Note) and records[0].step is not None
    start = next(
        i
        for i, r in enumerate(records)
        if isinstance(r, Command) and r.execute == "blockdev-mirror"
    )
    answer = next(
        i
        for i, r in enumerate(records)
        if isinstance(r, Response) and r.id == records[start].id  # type: ignore[union-attr]
    )
    between = [r for r in records[start + 1 : answer] if isinstance(r, Event)]
    # QEMU 7.2 emits created and running inside the start command, before its return.
    assert [e.data["status"] for e in between] == ["created", "running"]
    assert all(e.timestamp and "seconds" in e.timestamp for e in between)
    last_command = [r for r in records if isinstance(r, Command)][-1]
    assert last_command.execute == "query-jobs"  # settle ends with a snapshot


def test_set_up_commands_go_out_back_to_back_and_are_answered_in_order(qsd: QemuTarget) -> None:
    qsd.take_records()
    qsd.apply({"op": "start", "jobs": [spec("mirror", "j").to_json()]})
    records = qsd.take_records()
    adds = [
        i for i, r in enumerate(records) if isinstance(r, Command) and r.execute == "blockdev-add"
    ]
    assert len(adds) == 3 and adds == list(range(adds[0], adds[0] + 3))  # no answer between
    answers = [r for r in records[adds[-1] + 1 : adds[-1] + 4] if isinstance(r, Response)]
    assert [a.id for a in answers] == [records[i].id for i in adds]  # type: ignore[union-attr]
    assert all(a.ok for a in answers)


def test_commands_sent_together_get_their_own_answers(qsd: QemuTarget) -> None:
    qsd.take_records()
    null = {"driver": "null-co", "size": 1 << 20}
    refused = r"set-up failed: blockdev-add .*Duplicate nodes with node-name='a'"
    with pytest.raises(TargetError, match=refused):
        qsd.setup_commands(
            [
                ("blockdev-add", {**null, "node-name": "a"}),
                ("blockdev-add", {**null, "node-name": "a"}),  # a duplicate: refused
                ("blockdev-add", {**null, "node-name": "b"}),
            ]
        )
    records = qsd.take_records()
    answers = [r for r in records if isinstance(r, Response)]
    assert [a.ok for a in answers] == [True, False, True]
    names = {n["node-name"] for n in qsd.execute("query-named-block-nodes").value}
    assert {"a", "b"} <= names  # QEMU ran the one after the refused one, as sent


def test_messages_are_pretty_printed_only_for_a_debug_log(
    qsd: QemuTarget, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    printed: list[str] = []
    plain = Message.__str__

    def counted(message: Message) -> str:
        printed.append(plain(message))
        return printed[-1]

    monkeypatch.setattr(Message, "__str__", counted)
    caplog.set_level(logging.INFO, logger="qemu.qmp")
    assert qsd.execute("query-jobs").ok
    assert printed == []  # qemu.qmp's hooks format every message for a DEBUG line
    caplog.set_level(logging.DEBUG, logger="qemu.qmp")
    assert qsd.execute("query-jobs").ok
    assert any('"query-jobs"' in text for text in printed)
    assert any("query-jobs" in r.getMessage() for r in caplog.records)


# -- every job type, every status ----------------------------------------


def test_each_job_type_starts_held_and_finishes_when_released(qsd: QemuTarget) -> None:
    kinds = ["mirror", "backup", "commit-active", "commit-intermediate", "stream"]
    for n, kind in enumerate(kinds):
        qsd.start([spec(kind, f"h{n}")])
    qsd.settle()
    # A held job copies its first chunk and parks: no event says when, so ask until it shows.
    deadline = time.monotonic() + qsd.timeout
    while True:
        jobs = listed(qsd)
        if all(jobs[f"h{n}"]["current-progress"] > 0 for n in range(len(kinds))):
            break
        assert time.monotonic() < deadline, f"a held job made no progress: {jobs}"
    for n, kind in enumerate(kinds):
        assert jobs[f"h{n}"]["status"] == "running", kind
        assert jobs[f"h{n}"]["type"] == kind.split("-")[0]
        # held: its first chunk copied (awaited above), the rest not
        assert 0 < jobs[f"h{n}"]["current-progress"] < jobs[f"h{n}"]["total-progress"]
    for n in range(len(kinds)):
        qsd.release(f"h{n}")
    qsd.settle()
    jobs = listed(qsd)
    assert jobs["h0"]["status"] == "ready"  # mirror
    assert jobs["h2"]["status"] == "ready"  # active commit
    assert {"h1", "h3", "h4"}.isdisjoint(jobs)  # finished and dismissed
    records = qsd.take_records()
    for job_id in ("h1", "h3", "h4"):
        assert statuses(records, job_id)[-4:] == ["waiting", "pending", "concluded", "null"]


def _set_up(records: list[Record]) -> list[str]:
    return [
        r.execute
        for r in records
        if isinstance(r, Command) and r.execute in ("blockdev-add", "blockdev-create")
    ]


def test_a_cancelled_chain_job_leaves_its_chain_to_the_next(qsd: QemuTarget) -> None:
    qsd.start([spec("stream", "s1")])
    qsd.settle()
    qsd.execute("job-cancel", {"id": "s1"})
    qsd.settle({"s1": "running"})
    assert qsd.inspect_jobs()["s1"] == "null"
    qsd.take_records()
    # the next commit on a chain of that size reuses it, as built: no set-up at all
    qsd.start([spec("commit-intermediate", "c1")])
    qsd.settle()
    records = qsd.take_records()
    assert _set_up(records) == []
    assert statuses(records, "c1") == ["created", "running"]
    qsd.release("c1")
    qsd.settle({"c1": "running"})
    assert statuses(qsd.take_records(), "c1")[-4:] == ["waiting", "pending", "concluded", "null"]
    # a chain whose job did its work (mid is out of it now) is not reused
    qsd.start([spec("commit-intermediate", "c2")])
    qsd.settle()
    records = qsd.take_records()
    assert "blockdev-create" in _set_up(records)
    assert statuses(records, "c2") == ["created", "running"]


def test_a_mirror_gone_leaves_its_nodes_to_the_next_mirror_or_backup(qsd: QemuTarget) -> None:
    """A mirror that completed (its target replaced its source for their parents: they have
    none) is gone; a backup then runs on the same two nodes, drains and finishes, and a
    mirror after it again: no set-up for either."""
    qsd.start([spec("mirror", "m1")])
    qsd.release("m1")
    qsd.settle({"m1": "running"})
    qsd.execute("job-complete", {"id": "m1"})
    qsd.settle({"m1": "ready"})
    assert qsd.inspect_jobs()["m1"] == "null"
    qsd.take_records()
    qsd.start([spec("backup", "b1")])
    qsd.settle()
    qsd.drain("b1")
    qsd.settle()
    records = qsd.take_records()
    assert _set_up(records) == []
    # two drained sections, as a backup on fresh nodes has them
    assert statuses(records, "b1") == ["created", "running", *["paused", "running"] * 2]
    qsd.release("b1")
    qsd.settle({"b1": "running"})
    assert statuses(qsd.take_records(), "b1")[-4:] == ["waiting", "pending", "concluded", "null"]
    qsd.start([spec("mirror", "m2")])
    qsd.release("m2")
    qsd.settle({"m2": "running"})
    records = qsd.take_records()
    assert _set_up(records) == []
    assert statuses(records, "m2") == ["created", "running", "ready"]


def test_create_and_amend_jobs_run_to_concluded_without_block_job_events(
    qsd: QemuTarget,
) -> None:
    qsd.start([spec("create", "c")])
    qsd.hold("c")  # no speed to hold: a note, no command
    qsd.settle()
    qsd.start([spec("amend", "a")])
    qsd.settle()
    jobs = listed(qsd)
    assert (jobs["c"]["type"], jobs["c"]["status"]) == ("create", "concluded")
    assert (jobs["a"]["type"], jobs["a"]["status"]) == ("amend", "concluded")
    assert qsd.verb(Verb.DISMISS, "c").ok and qsd.verb(Verb.DISMISS, "a").ok
    records = qsd.take_records()
    for job_id in ("c", "a"):
        assert statuses(records, job_id) == [
            "created",
            "running",
            "waiting",
            "pending",
            "concluded",
            "null",
        ]
    assert not [e for e in records if isinstance(e, Event) and e.event.startswith("BLOCK_JOB")]
    assert any(isinstance(r, Note) and "no speed" in r.text for r in records)
    answer = qsd.verb(Verb.PAUSE, "c", "block-job")
    assert answer.error is not None and answer.error.error_class == "DeviceNotActive"


def test_every_status_is_reached_and_seen(qsd: QemuTarget) -> None:
    seen_in_query: set[str] = set()

    def snapshot() -> None:
        qsd.settle()
        seen_in_query.update(job["status"] for job in listed(qsd).values())

    qsd.start([spec("mirror", "m", ad=False)])
    snapshot()  # running
    qsd.verb(Verb.PAUSE, "m")
    snapshot()  # paused
    qsd.verb(Verb.RESUME, "m")
    qsd.release("m")
    snapshot()  # ready
    qsd.verb(Verb.PAUSE, "m")
    snapshot()  # standby
    qsd.verb(Verb.RESUME, "m")
    qsd.verb(Verb.COMPLETE, "m")
    snapshot()  # concluded
    qsd.verb(Verb.DISMISS, "m")
    qsd.start([spec("backup", "p", af=False)])
    qsd.release("p")
    snapshot()  # pending
    qsd.verb(Verb.FINALIZE, "p")
    qsd.start([spec("backup", "w"), spec("backup", "k")], grouped=True)
    qsd.release("w")
    snapshot()  # waiting
    qsd.verb(Verb.CANCEL, "k")
    qsd.start([spec("stream", "x")])
    qsd.verb(Verb.CANCEL, "x")
    snapshot()
    records = qsd.take_records()
    assert seen_in_query >= {"running", "paused", "ready", "standby", "concluded", "pending"}
    assert "waiting" in seen_in_query
    assert statuses(records, "m") == [
        *("created", "running", "paused", "running", "ready", "standby", "ready"),
        *("waiting", "pending", "concluded", "null"),
    ]
    assert "aborting" in statuses(records, "x") and statuses(records, "x")[-1] == "null"
    assert statuses(records, "w")[-3:] == ["aborting", "concluded", "null"]
    assert len(events(records, "BLOCK_JOB_PENDING")) == 1
    assert listed(qsd) == {}


def test_block_job_verb_family(qsd: QemuTarget) -> None:
    qsd.start([spec("mirror", "m")])
    assert qsd.verb(Verb.PAUSE, "m", "block-job").ok
    qsd.settle()
    assert listed(qsd)["m"]["status"] == "paused"
    assert qsd.verb(Verb.RESUME, "m", "block-job").ok
    qsd.release("m")
    qsd.settle()
    assert listed(qsd)["m"]["status"] == "ready"
    # A soft cancel of a READY mirror completes it without pivoting (no aborting).
    assert qsd.verb(Verb.CANCEL, "m", "block-job", force=False).ok
    qsd.settle()
    records = qsd.take_records()
    assert "aborting" not in statuses(records, "m")
    assert statuses(records, "m")[-1] == "null"
    assert len(events(records, "BLOCK_JOB_COMPLETED")) == 1
    qsd.start([spec("commit-active", "c")])
    qsd.release("c")
    qsd.settle()
    assert qsd.verb(Verb.COMPLETE, "c", "block-job").ok
    qsd.settle()
    assert "c" not in listed(qsd)
    refused = qsd.verb(Verb.PAUSE, "nosuch", "block-job")
    assert refused.error is not None and refused.error.error_class == "DeviceNotActive"


# -- the verb x status matrix (docs/driving-qemu.md, 'Verb and status matrix of 7.2.22') --

OK = "ok"
V = "V"
AP = "Job is already paused"
NP = "Can't resume a job that was not paused"
NF = "Job not found"
BNF = "BNF"

VERBS = ("cancel", "pause", "resume", "set-speed", "complete", "finalize", "dismiss")
MATRIX: dict[str, tuple[str, ...]] = {
    #          cancel pause resume set-speed complete finalize dismiss
    "running": (OK, OK, NP, OK, V, V, V),
    "paused": (OK, AP, OK, OK, V, V, V),
    "ready": (OK, OK, NP, OK, OK, V, V),
    "standby": (OK, AP, OK, OK, OK, V, V),
    "waiting": (OK, V, NP, V, V, V, V),
    "pending": (OK, V, NP, V, V, OK, V),
    "concluded": (V, V, NP, V, V, V, OK),
    "null": (NF, NF, NF, BNF, NF, NF, NF),
}
AFTER: dict[tuple[str, str], str] = {
    ("pause", "running"): "paused",
    ("pause", "ready"): "standby",
    ("resume", "paused"): "running",
    ("resume", "standby"): "ready",
    ("set-speed", "running"): "running",
    ("set-speed", "paused"): "paused",
    ("set-speed", "ready"): "ready",
    ("set-speed", "standby"): "standby",
    ("complete", "standby"): "standby",
}


def bring(target: QemuTarget, kind: str, state: str, job_id: str) -> None:
    """Start a fresh ``kind`` job and drive it into ``state``."""
    af = state != "pending"
    ad = state != "concluded"
    if state == "waiting":
        target.start([spec(kind, job_id), spec(kind, job_id + "k")], grouped=True)
        target.release(job_id)
    else:
        target.start([spec(kind, job_id, af=af, ad=ad)])
    if state == "paused":
        target.verb(Verb.PAUSE, job_id)
    if state in ("ready", "standby", "pending", "concluded", "null"):
        target.release(job_id)
        target.settle()
        if kind == "mirror":
            if state == "standby":
                target.verb(Verb.PAUSE, job_id)
            elif state != "ready":
                target.verb(Verb.COMPLETE, job_id)
    target.settle()
    status = target.inspect_jobs().get(job_id)
    assert status == state, f"{kind} {job_id} is {status}, not {state}"


@pytest.mark.parametrize(
    ("kind", "state"),
    [("mirror", s) for s in ("running", "paused", "ready", "standby", "pending", "concluded")]
    + [("mirror", "null")]
    + [("backup", s) for s in ("running", "paused", "waiting", "pending", "concluded", "null")],
)
def test_verb_status_matrix(qemu_build: QemuBuild, kind: str, state: str) -> None:
    if not qemu_build.version.startswith(("7.2.", "10.0.")):
        pytest.skip(f"the matrix was observed on QEMU 7.2 and 10.0, not {qemu_build.version}")
    with QemuTarget(binary=qemu_build.storage_daemon) as target:
        for n, (verb, expected) in enumerate(zip(VERBS, MATRIX[state], strict=True)):
            job_id = f"{kind[0]}{n}"
            bring(target, kind, state, job_id)
            answer = target.verb(Verb(verb), job_id, speed=2)
            target.settle()
            cell = f"{verb} in {state} ({kind})"
            if expected == OK:
                assert answer.ok, f"{cell}: {answer.error}"
                after = target.inspect_jobs().get(job_id)
                assert after == AFTER.get((verb, state), "null"), f"{cell}: now {after}"
                continue
            assert answer.error is not None, f"{cell} was accepted"
            if expected == V:
                text = f"Job '{job_id}' in state '{state}' cannot accept command verb '{verb}'"
                assert (answer.error.error_class, answer.error.desc) == ("GenericError", text)
            elif expected == BNF:
                assert answer.error.error_class == "DeviceNotActive", cell
                assert answer.error.desc == f"Block job '{job_id}' not found", cell
            else:
                assert (answer.error.error_class, answer.error.desc) == ("GenericError", expected)
            assert target.inspect_jobs().get(job_id) == state, f"{cell} changed the job"


# -- drains and error injection ------------------------------------------


def test_drain_pauses_the_drained_job(qsd: QemuTarget) -> None:
    """A drain of one job's node pauses and resumes that job; QEMU 7.2 leaves the other jobs
    be, 10.0's ``blockdev-reopen`` drains every node and so pauses every job."""
    version = qsd.qemu_version
    for n, kind in enumerate(["mirror", "backup", "commit-intermediate", "stream"]):
        qsd.start([spec(kind, f"d{n}")])
    qsd.start([spec("mirror", "r")])
    qsd.release("r")
    qsd.settle()
    qsd.take_records()
    for job_id in ("d0", "d1", "d2", "d3", "r"):
        qsd.drain(job_id)
        qsd.settle()
        records = qsd.take_records()
        expected = ["standby", "ready"] if job_id == "r" else ["paused", "running"]
        assert statuses(records, job_id) == expected
        others = {e.data["id"] for e in events(records, "JOB_STATUS_CHANGE")} - {job_id}
        if version.startswith("10.0."):
            assert others == {"d0", "d1", "d2", "d3", "r"} - {job_id}
            for other in others:
                pair = ["standby", "ready"] if other == "r" else ["paused", "running"]
                assert statuses(records, other) == pair, other
        elif version.startswith("7.2."):
            assert not others, f"drain of {job_id} also moved {others}"
    qsd.start([spec("create", "c")])
    qsd.drain("c")
    records = qsd.take_records()
    assert not [r for r in records if isinstance(r, Command) and r.execute == "blockdev-reopen"]


@pytest.mark.parametrize("policy", ["stop", "report"])
def test_injected_errors_fire_after_release(qsd: QemuTarget, policy: str) -> None:
    kinds = ["mirror", "backup", "commit-active", "commit-intermediate", "stream"]
    for n, kind in enumerate(kinds):
        qsd.start([spec(kind, f"e{n}", ad=False, on_error=policy)])
        for _ in range(3):  # pause/resume cycles let a held job progress a little
            qsd.verb(Verb.PAUSE, f"e{n}")
            qsd.verb(Verb.RESUME, f"e{n}")
    qsd.settle()
    assert not events(qsd.take_records(), "BLOCK_JOB_ERROR")
    for n in range(len(kinds)):
        qsd.release(f"e{n}")
    qsd.settle()
    records = qsd.take_records()
    jobs = listed(qsd)
    for n, kind in enumerate(kinds):
        job_id = f"e{n}"
        errors = [e for e in events(records, "BLOCK_JOB_ERROR") if e.data["device"] == job_id]
        assert errors and {e.data["action"] for e in errors} == {policy}, kind
        if policy == "stop":
            assert jobs[job_id]["status"] == "paused", kind
        else:
            assert "aborting" in statuses(records, job_id), kind
            assert jobs[job_id]["status"] == "concluded", kind
            assert jobs[job_id]["error"] == "Input/output error", kind
    if policy != "stop":
        return
    # job-resume retries the failed request, which fails again: the job pauses again.
    for n in range(len(kinds)):
        assert qsd.verb(Verb.RESUME, f"e{n}").ok
    qsd.settle()
    records = qsd.take_records()
    jobs = listed(qsd)
    for n, kind in enumerate(kinds):
        job_id = f"e{n}"
        assert statuses(records, job_id)[-2:] == ["running", "paused"], kind
        errors = [e for e in events(records, "BLOCK_JOB_ERROR") if e.data["device"] == job_id]
        assert errors, kind
        assert jobs[job_id]["status"] == "paused", kind


# -- attaching to a running QEMU -----------------------------------------


async def _snapshot(path: str) -> tuple[list[str], list[Any]]:
    client = QMPClient("test")
    await client.connect(path)
    try:
        nodes: list[dict[str, Any]] = await client.execute("query-named-block-nodes")  # type: ignore[assignment]
        jobs: list[Any] = await client.execute("query-jobs")  # type: ignore[assignment]
        return sorted(n["node-name"] for n in nodes), jobs
    finally:
        await client.disconnect()


async def _add_foreign_node(path: str) -> None:
    client = QMPClient("test")
    await client.connect(path)
    try:
        await client.execute("blockdev-add", {"driver": "null-co", "node-name": "theirs"})
    finally:
        await client.disconnect()


@needs_qsd
def test_attach_leaves_the_qemu_running_and_clean(tmp_path: Path) -> None:
    assert QSD is not None
    sock = str(tmp_path / "qmp.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(sock)
    listener.listen()
    chardev = f"socket,id=m,fd={listener.fileno()},server=on,wait=on"
    daemon = subprocess.Popen(
        [QSD, "--chardev", chardev, "--monitor", "chardev=m"],
        pass_fds=[listener.fileno()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listener.close()
    try:
        asyncio.run(_add_foreign_node(sock))
        before = asyncio.run(_snapshot(sock))
        target = QemuTarget(connect=sock)
        workdir = target.workdir
        assert target.pid is None
        target.start([spec("mirror", "m"), spec("backup", "b", ad=False)])
        target.start([spec("commit-active", "c"), spec("stream", "s", af=False)])
        target.start([spec("backup", "g1"), spec("backup", "g2")], grouped=True)
        target.release("b")
        target.release("s")
        target.release("g1")
        target.verb(Verb.PAUSE, "m")
        target.start([spec("create", "cr")])
        with pytest.raises(UsageError, match="did not start"):
            target.execute("quit")
        target.close()
        assert daemon.poll() is None, "the attached QEMU must keep running"
        assert not os.path.exists(workdir)
        after = asyncio.run(_snapshot(sock))
        assert after == before == (["theirs"], [])
    finally:
        daemon.kill()
        daemon.wait()


# -- failures ------------------------------------------------------------


def _timed(action: Any) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        action()
    except BaseException as exc:  # the test inspects it
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def test_qemu_killed_mid_run_is_a_target_error(qsd: QemuTarget) -> None:
    qsd.start([spec("mirror", "m")])
    pid, workdir = qsd.pid, qsd.workdir
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    error, seconds = _timed(lambda: qsd.verb(Verb.PAUSE, "m"))
    assert isinstance(error, TargetError) and not isinstance(error, QemuCrashed)
    assert "SIGKILL" in str(error) and "job-pause" in str(error)
    assert "\n" not in str(error)
    assert seconds < 30  # bounded by the target's own timeouts, not by luck
    with pytest.raises(TargetError):
        qsd.settle()
    qsd.close()
    assert gone(pid) and not os.path.exists(workdir)


@needs_qsd
def test_what_qemu_sends_between_calls_is_taken_in_when_asked() -> None:
    """The session's loop turns only during a call: a job's events that QEMU sends after
    the command's answer wait in the socket until a question takes them in."""
    target = QemuTarget(timeout=5.0)
    try:
        session = target._resources.session
        assert session is not None
        target.start([spec("mirror", "m")])
        target.settle()
        target.take_records()
        target.release("m")  # the mirror copies its disk, then reports ready
        deadline = time.monotonic() + 10
        while session.inspect(lambda t: t.status("m")) != "ready":
            assert time.monotonic() < deadline, "the job's events were never taken in"
        records = target.take_records()
        answered = max(i for i, r in enumerate(records) if isinstance(r, Response))
        after = [
            r.data.get("status")
            for r in records[answered + 1 :]
            if isinstance(r, Event) and r.event == "JOB_STATUS_CHANGE"
        ]
        assert "ready" in after  # sent after the last answer, taken in by the question
    finally:
        target.close()


@needs_qsd
def test_a_qemu_gone_between_calls_is_noticed_when_asked() -> None:
    target = QemuTarget(timeout=5.0)
    pid, session = target.pid, target._resources.session
    assert pid is not None and session is not None
    try:
        assert not session.lost
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not session.lost:  # no call made: asking takes in the closed socket
            assert time.monotonic() < deadline, "the closed connection was never noticed"
    finally:
        target.close()
    assert gone(pid)


@needs_qsd
def test_a_command_without_answer_times_out_and_qemu_is_killed() -> None:
    target = QemuTarget(timeout=0.5)
    pid = target.pid
    assert pid is not None
    try:
        target.start([spec("mirror", "m")])
        os.kill(pid, signal.SIGSTOP)
        error, seconds = _timed(lambda: target.verb(Verb.PAUSE, "m"))
        assert isinstance(error, TargetError) and "did not answer" in str(error)
        assert seconds < 30
        with pytest.raises(TargetError, match="did not answer"):
            target.query()  # unusable from now on: a late reply would be out of step
        target.close()
        assert gone(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@needs_qsd
def test_ctrl_c_during_a_blocked_call_still_cleans_up() -> None:
    target = QemuTarget(timeout=5.0)
    pid, workdir = target.pid, target.workdir
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    session = target._resources.session
    assert session is not None
    sent = threading.Event()
    hook = session._sent

    def sent_then_flag(msg: Any) -> None:
        hook(msg)
        if msg.get("execute") == "query-jobs":
            sent.set()

    session._sent = sent_then_flag  # type: ignore[method-assign]

    main = threading.main_thread().ident
    assert main is not None

    def interrupt_once_sent() -> None:
        if sent.wait(30):  # the query is on the socket, to a QEMU that cannot answer
            # To the main thread itself: a process-wide signal may be taken by another
            # thread, and then the main thread's wait is not interrupted until it times out.
            signal.pthread_kill(main, signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_once_sent, daemon=True)
    # Python's own Ctrl-C handler, whatever this process inherited (a background job of a
    # shell starts with SIGINT ignored)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        interrupter.start()
        with pytest.raises(KeyboardInterrupt), target:
            target.query()
        interrupter.join()
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert sent.is_set() and session.interrupted
    assert gone(pid) and not os.path.exists(workdir)


def test_fake_qemu_that_aborts_at_start_up_is_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "qemu-system-fake"
    fake.write_text(
        "#!/bin/sh\necho 'block/io.c:436: Assertion `!qemu_in_coroutine()` failed.' >&2\n"
        "kill -ABRT $$\n"
    )
    fake.chmod(0o755)
    private = tmp_path / "tmp"  # only this test's temporary files, not the machine's
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(QemuCrashed) as caught:
        QemuTarget(binary=str(fake))
    assert caught.value.signal == signal.SIGABRT
    assert "Assertion" in caught.value.stderr_tail and "SIGABRT" in str(caught.value)
    assert set(os.listdir(tempfile.gettempdir())) - before == set()


def test_fake_qemu_that_exits_is_a_target_error(tmp_path: Path) -> None:
    fake = tmp_path / "qemu-system-fake"
    fake.write_text("#!/bin/sh\necho 'qemu: bad option' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(TargetError, match=r"exited with status 1.*bad option") as caught:
        QemuTarget(binary=str(fake))
    assert not isinstance(caught.value, QemuCrashed)


@needs_qsd
def test_quit_during_a_create_job_aborts_qemu_7_2() -> None:
    """QEMU 7.2 aborts when ``quit`` drains while a blockdev-create job runs (a QEMU bug).

    A race: the ``quit`` must reach QEMU before the create job ends, and on a busy machine
    the client can be too late; so up to :data:`CRASH_TRIES` tries (see there)."""
    attempts, crashes = CRASH_TRIES, 0
    for n in range(attempts):
        if crashes:
            break
        target = QemuTarget()
        pid, workdir = target.pid, target.workdir
        assert pid is not None
        if target.model.version != "7.2":
            target.close()
            pytest.skip("the create+quit abort is a QEMU 7.2 bug")
        try:
            target.start([spec("create", f"c{n}")])
            target.execute("quit")
        except QemuCrashed as crash:
            crashes += 1
            assert crash.signal == signal.SIGABRT
            assert crash.command.startswith("quit")
        except TargetError:
            pass  # 7.2 sometimes hangs instead of aborting
        finally:
            target.close()  # the crash was already raised: close must not raise it again
        assert gone(pid) and not os.path.exists(workdir)
    assert crashes >= 1, f"no abort in {attempts} tries"


def test_own_teardown_never_triggers_the_create_abort(qsd: QemuTarget) -> None:
    for n in range(3):
        qsd.start([spec("create", f"c{n}")])
    pid = qsd.pid
    assert pid is not None
    qsd.close()  # waits for the create jobs before quit: no crash raised
    assert qsd.crash is None
    assert gone(pid)


def test_status_enum_of_statuses_matches_the_model(qsd: QemuTarget) -> None:
    # Every member QEMU 7.2 introspects is one the model knows (qapi.members-known holds).
    assert set(qsd.schema_members["JobStatus"]) == {s.value for s in Status}


@needs_qsd
def test_a_target_never_closed_is_cleaned_up_at_exit() -> None:
    script = (
        "from jobcheck.conformance.targets.qemu import QemuTarget\n"
        "target = QemuTarget()\n"
        "print(target.pid, target.workdir, flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    pid, workdir = done.stdout.split()
    assert gone(int(pid)) and not os.path.exists(workdir)


@needs_qsd
def test_qemu_dies_with_a_jobcheck_killed_outright() -> None:
    script = (
        "import time\n"
        "from jobcheck.conformance.targets.qemu import QemuTarget\n"
        "target = QemuTarget()\n"
        "print(target.pid, target.workdir, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    pid, workdir = child.stdout.readline().split()
    try:
        exited = os.pidfd_open(int(pid))  # readable once QEMU has exited
        assert not gone(int(pid))
        child.kill()  # SIGKILL: no finalizer runs; the parent-death signal must end QEMU
        child.wait()
        try:
            readable, _, _ = select.select([exited], [], [], 30)
        finally:
            os.close(exited)
        assert readable  # QEMU has exited (init reaps it in its own time)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # only a finalizer could have removed it
