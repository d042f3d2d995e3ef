"""The simulator reproduces what QEMU 7.2.22 was observed to do (docs/driving-qemu.md,
'Event sequences', 'Return order' and 'Verb and status matrix of 7.2.22'): event
sequences, wire order around the return, the verb×state matrix, error texts; it is
deterministic for a seed and differs between versions where QEMU does."""

from __future__ import annotations

import io
from typing import Any

import pytest

from jobcheck.conformance.errors import TargetError, UsageError
from jobcheck.conformance.targets.sim import Simulator, start_command
from jobcheck.conformance.targets.sim_engine import Engine, Job
from jobcheck.conformance.trace.records import Command, Event, Record, Response, write_jsonl
from jobcheck.conformance.trace.steps import JobSpec
from jobcheck.model.lifecycle import JobType, Status, Verb

MIRROR, BACKUP, COMMIT, CREATE = JobType.MIRROR, JobType.BACKUP, JobType.COMMIT, JobType.CREATE


def token(record: Record) -> str | None:
    """A compact wire token: ``>cmd``, ``<RET``, ``<ERR text``, ``j:status``, ``EVENT(j)``."""
    if isinstance(record, Command):
        return ">" + record.execute
    if isinstance(record, Response):
        return "<RET" if record.ok else f"<ERR {record.error.desc}"  # type: ignore[union-attr]
    if isinstance(record, Event):
        if record.event == "JOB_STATUS_CHANGE":
            return f"{record.data['id']}:{record.data['status']}"
        name = record.event.removeprefix("BLOCK_JOB_")
        return f"{name}({record.data.get('device', record.data.get('id'))})"
    return None


def wire(records: list[Record]) -> list[str]:
    return [t for t in map(token, records) if t is not None]


def events(records: list[Record]) -> list[str]:
    return [t for t in wire(records) if t[0] not in "<>"]


def status_of(sim: Simulator, job_id: str = "j") -> str:
    """The job's status in query-jobs, ``null`` when it is not listed."""
    response = sim.query()
    sim.take_records()
    found = [info["status"] for info in response.value if info["id"] == job_id]
    return found[0] if found else "null"


def fresh(version: str = "7.2", seed: int = 0, *specs: JobSpec, grouped: bool = False) -> Simulator:
    sim = Simulator(version, seed=seed)
    if specs:
        assert sim.start(list(specs), grouped).ok
        sim.settle()
    return sim


def ready_mirror(version: str = "7.2", seed: int = 0) -> Simulator:
    sim = fresh(version, seed, JobSpec(MIRROR, "j"))
    sim.release("j")
    sim.settle()
    assert status_of(sim) == "ready"
    sim.take_records()
    return sim


# -- docs/driving-qemu.md, 'Event sequences': one test per observed sequence -----------


def test_unthrottled_mirror_to_ready() -> None:
    sim = Simulator("7.2")
    sim.execute("blockdev-mirror", {"job-id": "j", "device": "s", "target": "t", "sync": "full"})
    sim.settle()
    assert wire(sim.take_records()) == [
        ">blockdev-mirror",
        "j:created",
        "j:running",
        "<RET",
        "j:ready",
        "READY(j)",
    ]


@pytest.mark.parametrize(
    ("command", "args"),
    [("job-cancel", {"id": "j"}), ("block-job-cancel", {"device": "j", "force": True})],
)
def test_ready_mirror_force_cancel(command: str, args: dict[str, Any]) -> None:
    sim = ready_mirror()
    assert sim.execute(command, args).ok
    sim.settle()
    assert events(sim.take_records()) == ["j:aborting", "CANCELLED(j)", "j:concluded", "j:null"]


def test_ready_mirror_soft_cancel_completes_without_pivot() -> None:
    sim = ready_mirror()
    assert sim.execute("block-job-cancel", {"device": "j"}).ok
    sim.settle()
    records = sim.take_records()
    assert events(records) == ["j:waiting", "j:pending", "COMPLETED(j)", "j:concluded", "j:null"]
    completed = next(r for r in records if isinstance(r, Event) and "COMPLETED" in r.event)
    assert "error" not in completed.data
    assert completed.data["offset"] == completed.data["len"] > 0


def test_running_mirror_soft_cancel_is_force() -> None:
    sim = fresh("7.2", 0, JobSpec(MIRROR, "j"))
    sim.take_records()
    assert sim.execute("block-job-cancel", {"device": "j", "force": False}).ok
    sim.settle()
    assert events(sim.take_records()) == ["j:aborting", "CANCELLED(j)", "j:concluded", "j:null"]


def test_user_paused_running_mirror_cancel_resumes_first() -> None:
    sim = fresh("7.2", 0, JobSpec(MIRROR, "j"))
    assert sim.verb(Verb.PAUSE, "j").ok
    sim.take_records()
    assert sim.verb(Verb.CANCEL, "j").ok
    sim.settle()
    assert events(sim.take_records()) == [
        "j:running",
        "j:aborting",
        "CANCELLED(j)",
        "j:concluded",
        "j:null",
    ]


@pytest.mark.parametrize("auto_finalize", [True, False])
@pytest.mark.parametrize("auto_dismiss", [True, False])
def test_backup_start_drains_then_completes(auto_finalize: bool, auto_dismiss: bool) -> None:
    sim = Simulator("7.2")
    sim.start([JobSpec(BACKUP, "j", auto_finalize=auto_finalize, auto_dismiss=auto_dismiss)])
    sim.release("j")
    sim.settle()
    if not auto_finalize:
        assert sim.verb(Verb.FINALIZE, "j").ok
    if not auto_dismiss:
        assert sim.verb(Verb.DISMISS, "j").ok
    sim.settle()
    expected = ["j:created", "j:running", "j:paused", "j:running", "j:waiting", "j:pending"]
    expected += [] if auto_finalize else ["PENDING(j)"]
    expected += ["COMPLETED(j)", "j:concluded", "j:null"]
    assert events(sim.take_records()) == expected


def test_cancel_in_pending_aborts() -> None:
    sim = fresh("7.2", 0, JobSpec(BACKUP, "j", auto_finalize=False, auto_dismiss=False))
    sim.release("j")
    sim.settle()
    assert status_of(sim) == "pending"
    assert sim.verb(Verb.CANCEL, "j").ok
    sim.settle()
    assert events(sim.take_records()) == ["j:aborting", "CANCELLED(j)", "j:concluded"]
    assert sim.query().value == [
        {
            "id": "j",
            "type": "backup",
            "status": "concluded",
            "current-progress": 1 << 40,
            "total-progress": 1 << 40,
            "error": "Operation canceled",
        }
    ]


def test_grouped_transaction_cancel_of_running_member_aborts_partner() -> None:
    sim = fresh("7.2", 0, JobSpec(BACKUP, "A"), JobSpec(BACKUP, "B"), grouped=True)
    sim.take_records()
    sim.release("B")
    sim.settle()
    assert events(sim.take_records()) == ["B:waiting"]
    assert sim.verb(Verb.CANCEL, "A").ok
    sim.settle()
    assert events(sim.take_records()) == [
        "A:aborting",
        "B:aborting",
        "CANCELLED(B)",
        "B:concluded",
        "B:null",
        "CANCELLED(A)",
        "A:concluded",
        "A:null",
    ]


def test_grouped_transaction_finalize_one_finalizes_both() -> None:
    specs = [JobSpec(BACKUP, "A", auto_finalize=False), JobSpec(BACKUP, "B", auto_finalize=False)]
    sim = fresh("7.2", 0, *specs, grouped=True)
    sim.take_records()
    sim.release("A")
    sim.release("B")
    sim.settle()
    assert events(sim.take_records()) == [
        "A:waiting",
        "B:waiting",
        "B:pending",
        "PENDING(B)",
        "A:pending",
        "PENDING(A)",
    ]
    assert sim.verb(Verb.FINALIZE, "B").ok
    assert events(sim.take_records()) == [
        "COMPLETED(B)",
        "B:concluded",
        "B:null",
        "COMPLETED(A)",
        "A:concluded",
        "A:null",
    ]


def test_mirror_write_error_stop_pauses_and_resume_retries() -> None:
    sim = fresh("7.2", 0, JobSpec(MIRROR, "j", on_error="stop"))
    sim.take_records()
    sim.release("j")
    sim.settle()
    records = sim.take_records()
    assert events(records) == ["ERROR(j)", "j:paused"]
    error = next(r for r in records if isinstance(r, Event) and r.event == "BLOCK_JOB_ERROR")
    assert error.data == {"device": "j", "operation": "write", "action": "stop"}
    (info,) = sim.execute("query-block-jobs").value
    assert (info["io-status"], info["paused"], info["status"]) == ("failed", True, "paused")
    assert sim.verb(Verb.RESUME, "j").ok
    sim.settle()
    assert events(sim.take_records()) == ["j:running", "j:ready", "READY(j)"]


def test_mirror_write_error_report_aborts_with_error() -> None:
    sim = fresh("7.2", 0, JobSpec(MIRROR, "j", on_error="report", auto_dismiss=False))
    sim.take_records()
    sim.release("j")
    sim.settle()
    records = sim.take_records()
    assert events(records) == ["ERROR(j)", "j:aborting", "COMPLETED(j)", "j:concluded"]
    by_name = {r.event: r.data for r in records if isinstance(r, Event)}
    assert by_name["BLOCK_JOB_ERROR"]["action"] == "report"
    assert by_name["BLOCK_JOB_COMPLETED"]["error"] == "Input/output error"
    assert sim.query().value[0]["error"] == "Input/output error"


def test_ready_mirror_soft_cancel_then_flush_error_stop() -> None:
    sim = ready_mirror()
    sim.inject_error("j", "stop", on_completion=True)
    assert sim.execute("block-job-cancel", {"device": "j"}).ok
    sim.settle()
    assert events(sim.take_records()) == ["ERROR(j)", "j:standby"]
    refused = sim.verb(Verb.COMPLETE, "j")
    assert refused.error is not None
    assert refused.error.desc == "The active block job 'j' cannot be completed"
    assert sim.verb(Verb.RESUME, "j").ok
    sim.settle()
    assert events(sim.take_records()) == [
        "j:ready",
        "j:waiting",
        "j:pending",
        "COMPLETED(j)",
        "j:concluded",
        "j:null",
    ]


def test_guest_write_through_ready_mirror_drains_twice() -> None:
    sim = ready_mirror()
    cmd = 'qemu-io j-src "write 0 64k"'
    assert sim.execute("human-monitor-command", {"command-line": cmd}).ok
    assert events(sim.take_records()) == ["j:standby", "j:ready", "j:standby", "j:ready"]


def test_blockdev_create_concludes_and_waits_for_dismiss() -> None:
    sim = fresh("7.2", 0, JobSpec(CREATE, "c"))
    started = sim.take_records()
    assert sim.query().value[0]["status"] == "concluded"
    assert sim.verb(Verb.DISMISS, "c").ok
    assert events(started + sim.take_records()) == [
        "c:created",
        "c:running",
        "c:waiting",
        "c:pending",
        "c:concluded",
        "c:null",
    ]


# -- docs/driving-qemu.md, 'Return order': wire order, with the position of the return --


def test_wire_mirror_ready_then_complete() -> None:
    sim = Simulator("7.2", seed=3)
    sim.execute("blockdev-mirror", {"job-id": "j", "device": "s", "target": "t", "sync": "full"})
    sim.settle()
    sim.verb(Verb.COMPLETE, "j")
    sim.settle()
    assert wire(sim.take_records()) == [
        ">blockdev-mirror",
        "j:created",
        "j:running",
        "<RET",
        "j:ready",
        "READY(j)",
        ">job-complete",
        "<RET",
        "j:waiting",
        "j:pending",
        "COMPLETED(j)",
        "j:concluded",
        "j:null",
    ]


def test_wire_ready_mirror_cancel() -> None:
    sim = ready_mirror()
    sim.verb(Verb.CANCEL, "j")
    sim.settle()
    assert wire(sim.take_records()) == [
        ">job-cancel",
        "<RET",
        "j:aborting",
        "CANCELLED(j)",
        "j:concluded",
        "j:null",
    ]


def test_wire_backup_manual_finalize_and_dismiss() -> None:
    sim = Simulator("7.2")
    args = {"job-id": "j", "device": "s", "target": "t", "sync": "full"}
    sim.execute("blockdev-backup", {**args, "auto-finalize": False, "auto-dismiss": False})
    sim.verb(Verb.FINALIZE, "j")
    sim.verb(Verb.DISMISS, "j")
    assert wire(sim.take_records()) == [
        ">blockdev-backup",
        "j:created",
        "j:running",
        "j:paused",
        "j:running",
        "j:waiting",
        "j:pending",
        "PENDING(j)",
        "<RET",
        ">job-finalize",
        "COMPLETED(j)",
        "j:concluded",
        "<RET",
        ">job-dismiss",
        "j:null",
        "<RET",
    ]


def _grouped_fast_and_slow(sim: Simulator) -> list[str]:
    def backup(job_id: str, **extra: Any) -> dict[str, Any]:
        data = {"job-id": job_id, "device": f"{job_id}s", "target": f"{job_id}t", "sync": "full"}
        return {"type": "blockdev-backup", "data": {**data, "auto-dismiss": False, **extra}}

    actions = [backup("j"), backup("k", speed=1)]
    sim.execute("transaction", {"actions": actions, "properties": {"completion-mode": "grouped"}})
    return wire(sim.take_records())


def test_wire_grouped_transaction_fast_member_waits() -> None:
    sim = Simulator("7.2")
    assert _grouped_fast_and_slow(sim) == [
        ">transaction",
        "j:created",
        "k:created",
        "j:running",
        "j:paused",
        "k:running",
        "k:paused",
        "j:running",
        "k:running",
        "j:waiting",
        "<RET",
    ]
    sim.execute("block-job-set-speed", {"device": "k", "speed": 0})
    assert wire(sim.take_records()) == [
        ">block-job-set-speed",
        "k:waiting",
        "k:pending",
        "j:pending",
        "COMPLETED(k)",
        "k:concluded",
        "COMPLETED(j)",
        "j:concluded",
        "<RET",
    ]


def test_wire_grouped_transaction_cancel_aborts_synchronously() -> None:
    sim = Simulator("7.2")
    _grouped_fast_and_slow(sim)
    sim.verb(Verb.CANCEL, "k")
    assert wire(sim.take_records()) == [
        ">job-cancel",
        "k:aborting",
        "CANCELLED(k)",
        "k:concluded",
        "j:aborting",
        "CANCELLED(j)",
        "j:concluded",
        "<RET",
    ]


def test_wire_paused_job_cancelled() -> None:
    sim = fresh("7.2", 0, JobSpec(MIRROR, "j"))
    sim.take_records()
    sim.verb(Verb.PAUSE, "j")
    sim.verb(Verb.CANCEL, "j")
    sim.settle()
    assert wire(sim.take_records()) == [
        ">job-pause",
        "j:paused",
        "<RET",
        ">job-cancel",
        "j:running",
        "<RET",
        "j:aborting",
        "CANCELLED(j)",
        "j:concluded",
        "j:null",
    ]


def test_wire_transaction_whose_second_action_fails() -> None:
    sim = Simulator("7.2")
    good = {"job-id": "j", "device": "s0", "target": "t0", "sync": "full"}
    clash = {"job-id": "j", "device": "s1", "target": "t1", "sync": "full"}
    actions = [{"type": "blockdev-backup", "data": d} for d in (good, clash)]
    sim.execute("transaction", {"actions": actions})
    assert wire(sim.take_records()) == [
        ">transaction",
        "j:created",
        "j:aborting",
        "j:concluded",
        "j:null",
        "<ERR Job ID 'j' already in use",
    ]
    assert sim.query().value == []


# -- docs/driving-qemu.md, 'Verb and status matrix of 7.2.22' -----------------------------


def _in_state(state: str) -> Simulator:
    """A fresh simulator with job ``j`` in ``state`` (docs/driving-qemu.md, 'Reaching each
    status')."""
    if state in ("running", "paused"):
        sim = fresh("7.2", 0, JobSpec(MIRROR, "j"))
    elif state in ("ready", "standby"):
        sim = ready_mirror()
    elif state == "waiting":
        sim = fresh("7.2", 0, JobSpec(BACKUP, "j"), JobSpec(BACKUP, "k"), grouped=True)
    else:
        spec = JobSpec(
            BACKUP, "j", auto_finalize=state != "pending", auto_dismiss=state != "concluded"
        )
        sim = fresh("7.2", 0, spec)
    if state in ("paused", "standby"):
        assert sim.verb(Verb.PAUSE, "j").ok
    if state not in ("running", "paused", "ready", "standby"):
        sim.release("j")
    sim.settle()
    assert status_of(sim) == state
    sim.take_records()
    return sim


V = "Job 'j' in state '{state}' cannot accept command verb '{verb}'"
AP = "Job is already paused"
NP = "Can't resume a job that was not paused"
NF = "Job not found"
BNF = "DeviceNotActive: Block job 'j' not found"
_STATES = ("running", "paused", "ready", "standby", "waiting", "pending", "concluded", "null")
_ROWS: dict[str, tuple[str, ...]] = {
    # cells in the order of _STATES; "ok→X" is accepted with resulting status X
    "cancel": ("ok→null",) * 6 + (V, NF),
    "pause": ("ok→paused", AP, "ok→standby", AP, V, V, V, NF),
    "resume": (NP, "ok→running", NP, "ok→ready", NP, NP, NP, NF),
    "set-speed": ("ok→running", "ok→paused", "ok→ready", "ok→standby", V, V, V, BNF),
    "complete": (V, V, "ok→null", "ok→standby", V, V, V, NF),
    "finalize": (V, V, V, V, V, "ok→null", V, NF),
    "dismiss": (V, V, V, V, V, V, "ok→null", NF),
}
MATRIX = [
    (verb, state, cell)
    for verb, cells in _ROWS.items()
    for state, cell in zip(_STATES, cells, strict=True)
]


@pytest.mark.parametrize(("verb", "state", "cell"), MATRIX)
def test_verb_state_matrix_7_2(verb: str, state: str, cell: str) -> None:
    sim = _in_state(state)
    response = sim.verb(Verb(verb), "j", speed=2)
    sim.settle()
    if cell.startswith("ok→"):
        assert response.ok, response.error
        assert status_of(sim) == cell.removeprefix("ok→")
        return
    assert response.error is not None
    error_class = "DeviceNotActive" if cell == BNF else "GenericError"
    desc = cell.removeprefix("DeviceNotActive: ").format(state=state, verb=verb)
    assert (response.error.error_class, response.error.desc) == (error_class, desc)
    assert status_of(sim) == state


def test_complete_in_standby_completes_after_resume() -> None:
    sim = _in_state("standby")
    assert sim.verb(Verb.COMPLETE, "j").ok
    sim.settle()
    assert events(sim.take_records()) == []
    assert sim.verb(Verb.RESUME, "j").ok
    sim.settle()
    assert events(sim.take_records()) == [
        "j:ready",
        "j:waiting",
        "j:pending",
        "COMPLETED(j)",
        "j:concluded",
        "j:null",
    ]


def test_soft_cancel_of_user_paused_job_is_refused() -> None:
    sim = _in_state("paused")
    refused = sim.execute("block-job-cancel", {"device": "j"})
    assert refused.error is not None
    assert refused.error.desc == "The block job for device 'j' is currently paused"


# -- create jobs: no pause points, no speed, no block-job-* ------------------------------


def test_create_job_pause_is_accepted_but_never_takes_effect() -> None:
    accepted = 0
    for seed in range(12):
        sim = Simulator("7.2", seed=seed)
        assert sim.start([JobSpec(CREATE, "c")]).ok
        paused = sim.verb(Verb.PAUSE, "c")
        sim.settle()
        names = {r.event for r in sim.take_records() if isinstance(r, Event)}
        assert names == {"JOB_STATUS_CHANGE"}
        assert status_of(sim, "c") == "concluded"
        resumed = sim.verb(Verb.RESUME, "c")
        assert resumed.error is not None
        if paused.ok:  # the pause landed while the job was still running
            accepted += 1
            verb_error = "Job 'c' in state 'concluded' cannot accept command verb 'resume'"
            assert resumed.error.desc == verb_error
        else:  # the job had already finished: pause and resume are refused as usual
            assert resumed.error.desc == "Can't resume a job that was not paused"
        speed = sim.verb(Verb.SET_SPEED, "c")
        assert speed.error is not None
        assert (speed.error.error_class, speed.error.desc) == (
            "DeviceNotActive",
            "Block job 'c' not found",
        )
    assert 0 < accepted < 12


# -- query-jobs, progress, errors ----------------------------------------------------------


def test_query_jobs_fields_and_progress_monotonic() -> None:
    sim = fresh("7.2", 5, JobSpec(MIRROR, "j"), JobSpec(COMMIT, "c", variant="intermediate"))
    sim.release("j")
    sim.release("c")
    seen: dict[str, list[int]] = {"j": [], "c": []}
    for _ in range(8):
        for info in sim.query().value:
            assert set(info) == {"id", "type", "status", "current-progress", "total-progress"}
            seen[info["id"]].append(info["current-progress"])
    sim.settle()
    for progress in seen.values():
        assert progress == sorted(progress)
    final = sim.query().value
    assert [(i["id"], i["status"]) for i in final] == [("j", "ready")]
    assert final[0]["current-progress"] == final[0]["total-progress"]


def test_pause_resume_cycle_leaks_one_chunk_in_7_2_only() -> None:
    progress = {}
    for version in ("7.2", "latest"):
        sim = fresh(version, 0, JobSpec(MIRROR, "j"))
        before = sim.query().value[0]["current-progress"]
        sim.verb(Verb.PAUSE, "j")
        sim.verb(Verb.RESUME, "j")
        sim.settle()
        progress[version] = sim.query().value[0]["current-progress"] - before
    assert progress == {"7.2": 16 << 20, "latest": 0}


def test_error_texts_for_unknown_commands_and_arguments() -> None:
    sim = Simulator("7.2")
    cases = [
        (
            "no-such-command",
            {},
            "CommandNotFound",
            "The command no-such-command has not been found",
        ),
        ("job-pause", {}, "GenericError", "Parameter 'id' is missing"),
        (
            "job-pause",
            {"id": 3},
            "GenericError",
            "Invalid parameter type for 'id', expected: string",
        ),
        ("job-pause", {"id": "j", "x": 1}, "GenericError", "Parameter 'x' is unexpected"),
        ("job-pause", {"id": "j"}, "GenericError", "Job not found"),
        ("block-job-pause", {"device": "j"}, "DeviceNotActive", "Block job 'j' not found"),
        ("block-job-finalize", {"id": "j"}, "DeviceNotActive", "Block job 'j' not found"),
    ]
    for command, args, error_class, desc in cases:
        response = sim.execute(command, args)
        assert response.error is not None, command
        assert (response.error.error_class, response.error.desc) == (error_class, desc)


def test_start_errors_reused_id_and_busy_node() -> None:
    sim = fresh("7.2", 0, JobSpec(MIRROR, "j"))
    again = sim.start([JobSpec(MIRROR, "j")])
    assert again.error is not None
    assert again.error.desc == "Node 'j-src' is busy: block device is in use by block job: mirror"
    other = sim.execute("block-stream", {"job-id": "j", "device": "elsewhere"})
    assert other.error is not None
    assert other.error.desc == "Job ID 'j' already in use"


# -- versions ---------------------------------------------------------------------------------


def test_block_job_change_exists_from_8_2() -> None:
    old = fresh("7.2", 0, JobSpec(MIRROR, "j"))
    missing = old.verb(Verb.CHANGE, "j")
    assert missing.error is not None
    assert (missing.error.error_class, missing.error.desc) == (
        "CommandNotFound",
        "The command block-job-change has not been found",
    )
    new = fresh("latest", 0, JobSpec(MIRROR, "j"), JobSpec(BACKUP, "b"))
    new.start([JobSpec(COMMIT, "a", variant="active"), JobSpec(CREATE, "c")])
    assert new.verb(Verb.CHANGE, "j").ok
    for job_id in ("b", "a"):
        refused = new.verb(Verb.CHANGE, job_id)
        assert refused.error is not None
        assert refused.error.desc == "Job type does not support change"
    create = new.verb(Verb.CHANGE, "c")
    assert create.error is not None
    assert create.error.error_class == "DeviceNotActive"


def test_grouped_transaction_error_text_per_version() -> None:
    texts = {}
    for version in ("7.2", "latest"):
        sim = Simulator(version)
        action = {"type": "abort", "data": {}}
        props = {"completion-mode": "grouped"}
        response = sim.execute("transaction", {"actions": [action], "properties": props})
        assert response.error is not None
        texts[version] = response.error.desc
    assert texts == {
        "7.2": "Action 'abort' does not support Transaction property completion-mode = grouped",
        "latest": "Action 'abort' does not support transaction property completion-mode = grouped",
    }


def test_versions_and_identity() -> None:
    assert Simulator("7.2").qemu_version == "7.2.22"
    assert Simulator().qemu_version == "10.2.0"
    assert Simulator().model.version == "10.2"
    assert "mutant waiting-skipped" in Simulator(mutant="waiting-skipped").describe()
    with pytest.raises(UsageError, match=r"7\.2 and later"):
        Simulator("5.2")
    with pytest.raises(UsageError, match="unknown QEMU version"):
        Simulator("banana")
    with pytest.raises(UsageError, match="unknown mutant"):
        Simulator(mutant="no-such-mutant")


# -- determinism, the engine's own assertion, the step interface ------------------------------

STEPS: list[dict[str, Any]] = [
    {"op": "start", "jobs": [JobSpec(MIRROR, "m").to_json(), JobSpec(BACKUP, "b").to_json()]},
    {"op": "release", "job": "m"},
    {"op": "query"},
    {"op": "verb", "job": "m", "verb": "pause"},
    {"op": "drain", "job": "b"},
    {"op": "verb", "job": "m", "verb": "resume", "family": "block-job"},
    {"op": "release", "job": "b"},
    {"op": "query"},
    {"op": "verb", "job": "m", "verb": "complete"},
    {"op": "query"},
    {"op": "wait"},
    {"op": "start", "jobs": [JobSpec(CREATE, "c").to_json()]},
    {"op": "query"},
    {"op": "wait"},
    {"op": "verb", "job": "c", "verb": "dismiss"},
]


def _trace(seed: int) -> str:
    sim = Simulator("7.2", seed=seed)
    for step in STEPS:
        sim.apply(step)
    out = io.StringIO()
    write_jsonl(out, sim.meta(), sim.take_records())
    return out.getvalue()


def test_same_seed_gives_byte_identical_trace() -> None:
    assert _trace(11) == _trace(11)


def test_seeds_decide_the_interleaving() -> None:
    traces = {_trace(seed) for seed in range(8)}
    assert len(traces) > 1


def test_engine_asserts_its_transition_rules_unless_mutated() -> None:
    def emit(name: str, data: dict[str, Any]) -> None:
        pass

    import random

    job = Job("j", "mirror", "d")
    job.status = Status.READY
    with pytest.raises(TargetError, match="cannot go from ready to paused"):
        Engine((7, 2), random.Random(0), emit).transition(job, Status.PAUSED)
    Engine((7, 2), random.Random(0), emit, "pause-in-ready-goes-paused").transition(
        job, Status.PAUSED
    )
    assert job.status is Status.PAUSED


def test_steps_record_notes_commands_and_responses_in_order() -> None:
    sim = Simulator("7.2")
    sim.apply({"op": "start", "jobs": [JobSpec(MIRROR, "j").to_json()]})
    sim.apply({"op": "release", "job": "j"})
    sim.apply({"op": "hold", "job": "j"})
    records = sim.take_records()
    commands = [r for r in records if isinstance(r, Command)]
    assert [(c.execute, c.id) for c in commands] == [
        ("blockdev-mirror", 1),
        ("block-job-set-speed", 2),
        ("block-job-set-speed", 3),
    ]
    assert commands[0].arguments == start_command(JobSpec(MIRROR, "j"))[1]
    responses = [r.id for r in records if isinstance(r, Response)]
    assert responses == [1, 2, 3]
    assert sim.take_records() == []
    sim.close()
    sim.close()
    with pytest.raises(TargetError):
        sim.query()
