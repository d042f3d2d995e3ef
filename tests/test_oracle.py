"""conformance/oracle/__init__.py on crafted traces: each check caught, each legal variant accepted.

Every trace is built here from record objects.  ``new(...)`` is the list of
rule ids of the new (not known) divergences, ``known(...)`` that of the known
ones; a test that expects a divergence states exactly which.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from jobcheck.conformance.oracle import Oracle, check
from jobcheck.conformance.oracle.divergence import Divergence
from jobcheck.conformance.trace.records import (
    Command,
    Event,
    Meta,
    Note,
    QmpError,
    Record,
    Response,
)
from jobcheck.model.lifecycle import MODELS, Status

PER_JOB = Meta(source="test", order="per-job")


class Trace:
    """A trace under construction, with QMP ids handed out in order."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self._ids = itertools.count(1)

    def add(self, *records: Record) -> Trace:
        self.records.extend(records)
        return self

    def cmd(self, execute: str, **args: Any) -> int:
        qid = next(self._ids)
        self.records.append(Command(execute, args, qid))
        return qid

    def ret(self, qid: int | None, value: Any = None) -> Trace:
        self.records.append(Response(qid, {} if value is None else value))
        return self

    def err(self, qid: int | None, desc: str, cls: str = "GenericError") -> Trace:
        self.records.append(Response(qid, None, QmpError(cls, desc)))
        return self

    def jsc(self, job: str, *statuses: str) -> Trace:
        for status in statuses:
            self.records.append(Event("JOB_STATUS_CHANGE", {"id": job, "status": status}))
        return self

    def block(self, name: str, job: str, job_type: str = "mirror", **extra: Any) -> Trace:
        key = "id" if name == "BLOCK_JOB_PENDING" else "device"
        data: dict[str, Any] = {key: job, "type": job_type}
        if name != "BLOCK_JOB_PENDING":
            data.update({"len": 10, "offset": 10, "speed": 0})
        data.update(extra)
        self.records.append(Event(name, data))
        return self

    def call(self, execute: str, reply: Any = None, **args: Any) -> Trace:
        """A command and its successful response."""
        return self.ret(self.cmd(execute, **args), reply)

    def refused(self, execute: str, desc: str, cls: str = "GenericError", **args: Any) -> Trace:
        return self.err(self.cmd(execute, **args), desc, cls)

    def query(self, *infos: dict[str, Any]) -> Trace:
        return self.call("query-jobs", list(infos))

    # --- common starts (events before the return, as QEMU 7.2.22 does) ---

    def mirror(self, job: str = "j", *, ready: bool = False, **opts: Any) -> Trace:
        qid = self.cmd(
            "blockdev-mirror",
            **{"job-id": job, "device": "s", "target": "t", "sync": "full"},
            **opts,
        )
        self.jsc(job, "created", "running").ret(qid)
        if ready:
            self.jsc(job, "ready").block("BLOCK_JOB_READY", job)
        return self

    def backup(self, job: str = "j", **opts: Any) -> Trace:
        qid = self.cmd(
            "blockdev-backup",
            **{"job-id": job, "device": "s", "target": "t", "sync": "full"},
            **opts,
        )
        return self.jsc(job, "created", "running", "paused", "running").ret(qid)

    def create(self, job: str = "c") -> Trace:
        qid = self.cmd("blockdev-create", **{"job-id": job, "options": {"driver": "file"}})
        return self.jsc(job, "created", "running").ret(qid)

    def run(self, version: str = "7.2", meta: Meta | None = None) -> list[Divergence]:
        return check(self.records, MODELS[version], meta)


def new(divergences: list[Divergence]) -> list[str]:
    return [d.rule for d in divergences if not d.known]


def known(divergences: list[Divergence]) -> list[str]:
    return sorted({d.rule for d in divergences if d.known})


def info(job: str, status: str, job_type: str = "mirror", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job,
        "type": job_type,
        "status": status,
        # a job that concluded without an error has done all its work
        "current-progress": 100 if status == "concluded" and "error" not in extra else 0,
        "total-progress": 100,
    }
    out.update(extra)
    return out


NULL = "status.null-never-visible"
WAITING = "status.waiting-not-visible-for-last"

# ---------------------------------------------------------------------------------------
# Legal traces: nothing new.


def test_mirror_to_ready_then_complete() -> None:
    t = Trace().mirror(ready=True).call("job-complete", id="j")
    t.jsc("j", "waiting", "pending").block("BLOCK_JOB_COMPLETED", "j").jsc("j", "concluded", "null")
    out = t.run()
    assert new(out) == []
    assert known(out) == [NULL, WAITING]


def test_known_divergences_are_reported_once_per_job() -> None:
    t = Trace()
    for _ in range(3):
        t.mirror(ready=True).call("job-complete", id="j")
        t.jsc("j", "waiting", "pending").block("BLOCK_JOB_COMPLETED", "j")
        t.jsc("j", "concluded", "null")
    out = t.run()
    assert new(out) == []
    assert [d.rule for d in out] == [WAITING, NULL] * 3


def test_drain_flips_without_any_verb() -> None:
    t = Trace().mirror().jsc("j", "paused", "running", "paused", "running", "ready")
    t.block("BLOCK_JOB_READY", "j").jsc("j", "standby", "ready", "standby", "ready")
    t.query(info("j", "ready"))
    assert new(t.run()) == []


def test_backup_paused_running_pair_at_start_and_manual_finalize_dismiss() -> None:
    t = Trace().backup(**{"auto-finalize": False, "auto-dismiss": False})
    t.jsc("j", "waiting", "pending").block("BLOCK_JOB_PENDING", "j", "backup")
    # Events of finalize and dismiss come before their returns on 7.2.22.
    qid = t.cmd("job-finalize", id="j")
    t.block("BLOCK_JOB_COMPLETED", "j", "backup").jsc("j", "concluded").ret(qid)
    t.query(info("j", "concluded", "backup"))
    qid = t.cmd("job-dismiss", id="j")
    t.jsc("j", "null").ret(qid).query()
    assert new(t.run()) == []


def test_events_before_and_after_returns() -> None:
    t = Trace().mirror(speed=1)
    qid = t.cmd("job-pause", id="j")
    t.jsc("j", "paused").ret(qid)  # before the return
    qid = t.cmd("job-resume", id="j")
    t.ret(qid).jsc("j", "running")  # after the return
    qid = t.cmd("job-cancel", id="j")
    t.ret(qid).jsc("j", "aborting").block("BLOCK_JOB_CANCELLED", "j").jsc("j", "concluded", "null")
    assert new(t.run()) == []


def test_pause_accepted_before_the_running_event_arrives() -> None:
    # The job is still 'created' as far as the events go; it may be running by now.
    t = Trace()
    qid = t.cmd("blockdev-mirror", **{"job-id": "j", "device": "s", "target": "t", "sync": "full"})
    t.jsc("j", "created").ret(qid).call("job-pause", id="j").jsc("j", "running", "paused")
    assert new(t.run()) == []


def test_reused_id_starts_again_at_created() -> None:
    t = Trace().mirror(ready=True).call("job-cancel", id="j")
    t.jsc("j", "aborting").block("BLOCK_JOB_CANCELLED", "j").jsc("j", "concluded", "null")
    t.mirror().jsc("j", "paused", "running")
    assert new(t.run()) == []


def test_several_jobs_interleaved() -> None:
    t = Trace().mirror("a").backup("b")
    t.jsc("a", "ready").jsc("b", "waiting").block("BLOCK_JOB_READY", "a").jsc("b", "pending")
    t.block("BLOCK_JOB_COMPLETED", "b", "backup").call("job-complete", id="a")
    t.jsc("b", "concluded").jsc("a", "waiting").jsc("b", "null").jsc("a", "pending")
    t.block("BLOCK_JOB_COMPLETED", "a").jsc("a", "concluded", "null")
    assert new(t.run()) == []


def test_grouped_transaction_and_its_waiting() -> None:
    t = Trace()
    qid = t.cmd(
        "transaction",
        actions=[
            {"type": "blockdev-backup", "data": {"job-id": "j", "device": "a", "target": "b"}},
            {"type": "blockdev-backup", "data": {"job-id": "k", "device": "c", "target": "d"}},
        ],
        properties={"completion-mode": "grouped"},
    )
    t.jsc("j", "created").jsc("k", "created").jsc("j", "running", "paused")
    t.jsc("k", "running", "paused").jsc("j", "running").jsc("k", "running").jsc("j", "waiting")
    t.ret(qid)
    qid = t.cmd("block-job-set-speed", device="k", speed=0)
    t.jsc("k", "waiting", "pending").jsc("j", "pending")
    t.block("BLOCK_JOB_COMPLETED", "k", "backup").jsc("k", "concluded")
    t.block("BLOCK_JOB_COMPLETED", "j", "backup").jsc("j", "concluded").ret(qid)
    t.jsc("k", "null").jsc("j", "null")
    out = t.run()
    assert new(out) == []
    # j waited for k: only k, the last job, shows the known divergence.
    assert [d.job for d in out if d.rule == WAITING] == ["k"]


def test_transaction_abort_cancels_the_partner() -> None:
    t = Trace()
    qid = t.cmd(
        "transaction",
        actions=[
            {"type": "blockdev-backup", "data": {"job-id": "j", "device": "a", "target": "b"}},
            {"type": "blockdev-backup", "data": {"job-id": "k", "device": "c", "target": "d"}},
        ],
        properties={"completion-mode": "grouped"},
    )
    t.jsc("j", "created").jsc("k", "created").jsc("j", "running").jsc("k", "running")
    t.jsc("j", "waiting").ret(qid)
    qid = t.cmd("job-cancel", id="k")
    t.jsc("k", "aborting").block("BLOCK_JOB_CANCELLED", "k", "backup").jsc("k", "concluded")
    # j is force-cancelled by the transaction: CANCELLED without a cancel of its own.
    t.jsc("j", "aborting").block("BLOCK_JOB_CANCELLED", "j", "backup").jsc("j", "concluded")
    t.ret(qid).jsc("k", "null").jsc("j", "null")
    assert new(t.run()) == []


def test_cancel_of_a_waiting_member_aborts_the_partner_first() -> None:
    # The transaction's list is in reverse creation order: the partner may abort first.
    t = Trace()
    qid = t.cmd(
        "transaction",
        actions=[
            {"type": "blockdev-backup", "data": {"job-id": "j", "device": "a", "target": "b"}},
            {"type": "blockdev-backup", "data": {"job-id": "k", "device": "c", "target": "d"}},
        ],
        properties={"completion-mode": "grouped"},
    )
    t.jsc("j", "created").jsc("k", "created").jsc("j", "running").jsc("k", "running")
    t.jsc("j", "waiting").ret(qid)
    qid = t.cmd("job-cancel", id="j")
    t.jsc("k", "aborting").block("BLOCK_JOB_CANCELLED", "k", "backup").jsc("k", "concluded")
    t.jsc("j", "aborting").block("BLOCK_JOB_CANCELLED", "j", "backup").jsc("j", "concluded")
    t.ret(qid).jsc("k", "null").jsc("j", "null")
    assert new(t.run()) == []


def test_failed_transaction_tears_down_its_created_job() -> None:
    t = Trace()
    qid = t.cmd(
        "transaction",
        actions=[
            {"type": "blockdev-backup", "data": {"job-id": "j", "device": "a", "target": "b"}},
            {"type": "blockdev-backup", "data": {"job-id": "k", "device": "x", "target": "d"}},
        ],
    )
    t.jsc("j", "created", "aborting", "concluded", "null")
    t.err(qid, "Cannot find device='x' nor node-name='x'")
    t.refused("job-pause", "Job not found", id="k")
    assert new(t.run()) == []


def test_soft_cancel_of_a_ready_mirror_completes_it() -> None:
    t = Trace().mirror(ready=True).call("block-job-cancel", device="j", force=False)
    t.jsc("j", "waiting", "pending").block("BLOCK_JOB_COMPLETED", "j").jsc("j", "concluded", "null")
    assert new(t.run()) == []


def test_quit_cancels_every_job() -> None:
    t = Trace().mirror(speed=1)
    qid = t.cmd("quit")
    t.jsc("j", "paused", "running", "aborting").block("BLOCK_JOB_CANCELLED", "j")
    t.jsc("j", "concluded", "null").ret(qid)
    assert new(t.run()) == []


def test_error_stop_pause_then_resume_and_report_error() -> None:
    t = Trace().mirror(**{"on-target-error": "stop"})
    t.block("BLOCK_JOB_ERROR", "j", operation="write", action="stop").jsc("j", "paused")
    t.call("job-resume", id="j").jsc("j", "running")
    t.block("BLOCK_JOB_ERROR", "j", operation="write", action="report").jsc("j", "aborting")
    t.block("BLOCK_JOB_COMPLETED", "j", error="Input/output error").jsc("j", "concluded", "null")
    assert new(t.run()) == []


def test_create_job_has_no_block_events_and_waits_for_dismiss() -> None:
    t = Trace().create().jsc("c", "waiting", "pending", "concluded")
    t.refused(
        "block-job-set-speed", "Block job 'c' not found", "DeviceNotActive", device="c", speed=1
    )
    t.query(info("c", "concluded", "create"))
    qid = t.cmd("job-dismiss", id="c")
    t.jsc("c", "null").ret(qid)
    out = t.run()
    assert new(out) == []
    assert "block-job.device-not-active" in known(out)


def test_reset_note_forgets_every_job() -> None:
    t = Trace().mirror().add(Note("reset: new QEMU instance")).mirror()
    assert new(t.run()) == []
    without = Trace().mirror().mirror()
    assert "status.transition-table" in new(without.run())


# ---------------------------------------------------------------------------------------
# Status events.


def test_transition_table() -> None:
    assert new(Trace().mirror().jsc("j", "pending").run()) == ["status.transition-table"]


def test_created_first() -> None:
    t = Trace()
    qid = t.cmd("blockdev-mirror", **{"job-id": "j", "device": "s", "target": "t"})
    t.jsc("j", "running").ret(qid)
    assert new(t.run()) == ["status.created-first"]


def test_nothing_after_null() -> None:
    t = Trace().create().jsc("c", "waiting", "pending", "concluded")
    qid = t.cmd("job-dismiss", id="c")
    t.jsc("c", "null").ret(qid).jsc("c", "running")
    assert new(t.run()) == ["status.nothing-after-null"]


def test_undefined_never_visible() -> None:
    assert new(Trace().mirror().jsc("j", "undefined").run()) == ["status.undefined-never-visible"]


def test_null_is_a_known_divergence() -> None:
    out = Trace().add(*Trace().jsc("j", "created", "null").records).run()
    assert new(out) == [] and known(out) == [NULL]


def test_waiting_known_only_for_the_last_job() -> None:
    # Two jobs without known grouping: the first to wait is not (yet) the last.
    t = Trace().jsc("a", "created", "running").jsc("b", "created", "running").jsc("a", "waiting")
    assert WAITING not in known(t.run())
    t.jsc("b", "waiting")
    assert [d.job for d in t.run() if d.rule == WAITING] == ["b"]


def test_aborting_ends_concluded() -> None:
    t = Trace().mirror().call("job-cancel", id="j").jsc("j", "aborting", "running")
    assert new(t.run()) == ["status.aborting-ends-concluded"]


def test_standby_returns_to_ready() -> None:
    t = Trace().mirror(ready=True).jsc("j", "standby", "running")
    assert new(t.run()) == ["status.standby-returns-to-ready"]


def test_ready_only_for_ready_phase_jobs() -> None:
    assert new(Trace().backup().jsc("j", "ready").run()) == [
        "status.ready-only-for-ready-phase-jobs"
    ]
    # An active commit (no top) and a commit whose top may be the active layer may reach ready.
    for args in ({}, {"top": "/images/t.qcow2"}):
        t = Trace()
        qid = t.cmd("block-commit", **{"job-id": "c", "device": "d"}, **args)
        t.jsc("c", "created", "running").ret(qid).jsc("c", "ready")
        assert new(t.run()) == []
    t = Trace()
    qid = t.cmd("block-commit", **{"job-id": "c", "device": "d"})
    t.jsc("c", "created", "running").ret(qid).jsc("c", "ready")
    t.block("BLOCK_JOB_READY", "c", "stream")
    assert new(t.run()) == ["job-info.type-matches"]


def test_pending_waits_for_finalize() -> None:
    t = Trace().backup(**{"auto-finalize": False}).jsc("j", "waiting", "pending")
    t.block("BLOCK_JOB_PENDING", "j", "backup").block("BLOCK_JOB_COMPLETED", "j", "backup")
    t.jsc("j", "concluded")
    assert new(t.run()) == ["status.pending-waits-for-finalize"]


def test_finalize_of_a_partner_finalizes_the_transaction() -> None:
    t = Trace()
    qid = t.cmd(
        "transaction",
        actions=[
            {
                "type": "blockdev-backup",
                "data": {"job-id": j, "device": j, "target": "t", "auto-finalize": False},
            }
            for j in ("a", "b")
        ],
        properties={"completion-mode": "grouped"},
    )
    t.jsc("a", "created").jsc("b", "created").jsc("a", "running").jsc("b", "running").ret(qid)
    t.jsc("a", "waiting").jsc("b", "waiting", "pending").jsc("a", "pending")
    t.block("BLOCK_JOB_PENDING", "b", "backup").block("BLOCK_JOB_PENDING", "a", "backup")
    qid = t.cmd("job-finalize", id="b")
    t.block("BLOCK_JOB_COMPLETED", "b", "backup").jsc("b", "concluded")
    t.block("BLOCK_JOB_COMPLETED", "a", "backup").jsc("a", "concluded").ret(qid)
    t.jsc("b", "null").jsc("a", "null")
    assert new(t.run()) == []


def test_concluded_waits_for_dismiss() -> None:
    t = Trace().create().jsc("c", "waiting", "pending", "concluded", "null")
    assert new(t.run()) == ["status.concluded-waits-for-dismiss"]
    auto = (
        Trace().backup().jsc("j", "waiting", "pending").block("BLOCK_JOB_COMPLETED", "j", "backup")
    )
    auto.jsc("j", "concluded").query(info("j", "concluded", "backup"))
    assert new(auto.run()) == ["status.concluded-auto-dismisses"]


def test_status_change_is_a_change() -> None:
    assert new(Trace().mirror().jsc("j", "running").run()) == ["event.status-change-is-a-change"]


def test_status_change_known_job() -> None:
    t = Trace().mirror("a").jsc("b", "created", "running")
    assert new(t.run()) == ["event.status-change-known-job"]
    t = Trace().mirror("a").jsc("b", "running")
    assert new(t.run()) == ["event.status-change-known-job"]
    # Without any command in the trace, a job is first seen in its created event.
    assert new(Trace().jsc("b", "created", "running").run()) == []


def test_unknown_status_name() -> None:
    assert new(Trace().mirror().jsc("j", "frozen").run()) == ["qapi.members-known"]


# ---------------------------------------------------------------------------------------
# Verb responses.


def test_verb_error_in_a_permitted_state() -> None:
    t = (
        Trace()
        .mirror()
        .refused(
            "job-pause", "Job 'j' in state 'running' cannot accept command verb 'pause'", id="j"
        )
    )
    assert new(t.run()) == ["verb.permission-table"]
    # Without the command (per-job logs), from the text alone.
    t = Trace().jsc("j", "created", "running")
    t.err(None, "Job 'j' in state 'running' cannot accept command verb 'cancel'")
    assert new(t.run(meta=PER_JOB)) == ["verb.permission-table"]


def test_verb_error_naming_a_state_the_job_cannot_be_in() -> None:
    t = Trace().create().jsc("c", "waiting", "pending", "concluded")
    t.refused(
        "job-complete", "Job 'c' in state 'running' cannot accept command verb 'complete'", id="c"
    )
    assert new(t.run()) == ["status.transition-table"]


def test_acceptance_of_a_forbidden_verb_wire_order_only() -> None:
    t = Trace().backup(**{"auto-finalize": False}).jsc("j", "waiting", "pending")
    t.call("job-pause", id="j")
    assert new(t.run()) == ["verb.permission-table"]
    assert new(t.run(meta=PER_JOB)) == []


def test_verb_outcomes_cached_by_one_oracle_judge_alike_in_another() -> None:
    """Verb outcomes are cached per model, shared by its oracles, under a placeholder id:
    what one oracle computed for job 'j' judges another oracle's job 'k' the same."""

    def pause_in_pending(job: str) -> list[str]:
        t = Trace().backup(job, **{"auto-finalize": False}).jsc(job, "waiting", "pending")
        t.refused(
            "job-pause",
            f"Job '{job}' in state 'pending' cannot accept command verb 'pause'",
            id=job,
        )
        t.call("job-pause", id=job)  # accepted: forbidden in pending
        out = t.run()
        assert all(d.job in (job, None) for d in out)
        return new(out)

    first = pause_in_pending("j")  # fills the cache (or finds it filled)
    again = pause_in_pending("k")  # served from the cache, for another id
    assert first == again == ["verb.permission-table"]


def test_complete_only_ready() -> None:
    t = Trace().backup().call("job-complete", id="j")
    assert new(t.run()) == ["job-complete.only-ready"]


def test_complete_in_standby_is_known_on_7_2_and_documented_on_10_2() -> None:
    t = Trace().mirror(ready=True)
    qid = t.cmd("job-pause", id="j")
    t.jsc("j", "standby").ret(qid).call("job-complete", id="j")
    out = t.run("7.2")
    assert new(out) == [] and "job-complete.only-ready" in known(out)
    assert "job-complete.only-ready" not in known(t.run("10.2"))
    assert new(t.run("5.2")) == ["job-complete.only-ready"]


def test_dismiss_only_concluded() -> None:
    # A user-paused job stays paused: no silent step can take it to concluded.
    t = Trace().backup(**{"auto-dismiss": False})
    qid = t.cmd("job-pause", id="j")
    t.jsc("j", "paused").ret(qid).call("job-dismiss", id="j")
    assert new(t.run()) == ["job-dismiss.only-concluded"]
    # Accepted while running, it is explained if the job failed and concluded meanwhile
    # (an obligation): the job must then report concluded.
    t = Trace().backup(**{"auto-dismiss": False}).call("job-dismiss", id="j")
    assert new(t.run()) == []
    t.jsc("j", "paused")
    assert new(t.run()) == []
    t.jsc("j", "running", "aborting").block("BLOCK_JOB_COMPLETED", "j", "backup", error="EIO")
    t.jsc("j", "concluded", "null")
    assert new(t.run()) == []


def test_finalize_only_pending_caught_through_an_obligation() -> None:
    # Accepted while the events say running: only 'pending', not reported yet, explains it.
    t = Trace().backup(**{"auto-finalize": False}).call("job-finalize", id="j")
    assert new(t.run()) == []
    index = len(t.records) - 1
    t.jsc("j", "aborting")
    out = t.run()
    assert new(out) == ["job-finalize.only-pending"]
    assert [d.index for d in out if not d.known] == [index]
    # ... and satisfied when the job does report pending.
    ok = Trace().backup(**{"auto-finalize": False}).call("job-finalize", id="j")
    ok.jsc("j", "waiting", "pending").block("BLOCK_JOB_COMPLETED", "j", "backup")
    ok.jsc("j", "concluded", "null")
    assert new(ok.run()) == []


def test_finalize_of_an_auto_finalize_job_held_by_its_transaction() -> None:
    t = Trace()
    qid = t.cmd(
        "transaction",
        actions=[
            {"type": "blockdev-backup", "data": {"job-id": "a", "device": "a", "target": "t"}},
            {
                "type": "blockdev-backup",
                "data": {"job-id": "b", "device": "b", "target": "t", "auto-finalize": False},
            },
        ],
        properties={"completion-mode": "grouped"},
    )
    t.jsc("a", "created").jsc("b", "created").jsc("a", "running").jsc("b", "running").ret(qid)
    t.jsc("a", "waiting").jsc("b", "waiting", "pending").jsc("a", "pending")
    t.block("BLOCK_JOB_PENDING", "b", "backup")
    qid = t.cmd("job-finalize", id="a")
    t.block("BLOCK_JOB_COMPLETED", "b", "backup").jsc("b", "concluded")
    t.block("BLOCK_JOB_COMPLETED", "a", "backup").jsc("a", "concluded").ret(qid)
    assert "job-finalize.only-manual" in known(t.run("10.2"))
    assert new(t.run("10.2")) == []
    assert "job-finalize.only-manual" not in known(t.run("7.2"))


def test_already_paused() -> None:
    t = Trace().mirror(speed=1).refused("job-pause", "Job is already paused", id="j")
    assert new(t.run()) == ["job-pause.already-paused-is-error"]
    # A job paused only by a drain accepts a user pause (a known divergence, but not provable
    # here: the drain may have ended before the command ran).
    drained = Trace().mirror(speed=1).jsc("j", "paused").call("job-pause", id="j")
    assert new(drained.run()) == []
    # A user-paused create job never reaches a pause point: AP in running is the known one.
    create = Trace().create().call("job-pause", id="c")
    create.refused("job-pause", "Job is already paused", id="c")
    out = create.run()
    assert new(out) == [] and known(out) == ["job-pause.already-paused-is-error"]
    # A user-paused job answers AP, as documented.
    user = Trace().mirror(speed=1)
    qid = user.cmd("job-pause", id="j")
    user.jsc("j", "paused").ret(qid).refused("job-pause", "Job is already paused", id="j")
    assert user.run() == []


def test_not_paused() -> None:
    t = Trace().mirror(speed=1)
    qid = t.cmd("job-pause", id="j")
    t.jsc("j", "paused").ret(qid).refused(
        "job-resume", "Can't resume a job that was not paused", id="j"
    )
    assert new(t.run()) == ["job-resume.not-paused-is-error"]
    drained = Trace().mirror(speed=1).jsc("j", "paused")
    drained.refused("job-resume", "Can't resume a job that was not paused", id="j")
    assert new(drained.run()) == []
    pending = Trace().backup(**{"auto-finalize": False}).jsc("j", "waiting", "pending")
    pending.refused("job-resume", "Can't resume a job that was not paused", id="j")
    out = pending.run()
    assert new(out) == [] and "job-resume.not-paused-is-error" in known(out)


def test_block_job_cancel_of_a_paused_job() -> None:
    text = "The block job for device 'j' is currently paused"
    t = Trace().mirror(speed=1)
    qid = t.cmd("job-pause", id="j")
    t.jsc("j", "paused").ret(qid).refused("block-job-cancel", text, device="j")
    out = t.run()
    assert new(out) == [] and known(out) == ["job-pause.cancel-resumes"]
    wrong = Trace().mirror(speed=1).refused("block-job-cancel", text, device="j")
    assert new(wrong.run()) == ["job-pause.cancel-resumes"]


def test_cannot_be_completed() -> None:
    text = "The active block job 'j' cannot be completed"
    t = Trace().mirror(ready=True).refused("job-complete", text, id="j")
    assert new(t.run()) == ["job-complete.not-after-cancel"]
    # After a soft cancel (no force: the mirror converges and completes) it is right.
    ok = Trace().mirror(ready=True).call("block-job-cancel", device="j", force=False)
    ok.refused("job-complete", text, id="j")
    assert new(ok.run()) == []


def test_cancel_aborts() -> None:
    t = Trace().mirror(ready=True).call("job-cancel", id="j")
    t.jsc("j", "waiting", "pending").block("BLOCK_JOB_COMPLETED", "j").jsc("j", "concluded")
    # COMPLETED where a force cancel gives CANCELLED, and concluded from pending.
    assert new(t.run()) == ["block-job.completion-event", "job-cancel.aborts"]
    # Found at the response too, when the events came first.
    t = Trace().mirror(ready=True)
    qid = t.cmd("job-cancel", id="j")
    t.jsc("j", "waiting", "pending").block("BLOCK_JOB_COMPLETED", "j").jsc("j", "concluded")
    t.ret(qid)
    assert "job-cancel.aborts" in new(t.run())


def test_job_not_found_for_a_live_job() -> None:
    t = Trace().backup(**{"auto-finalize": False, "auto-dismiss": False})
    t.refused("job-pause", "Job not found", id="j")
    assert new(t.run()) == ["job-id.names-a-job"]


def test_device_not_active_for_a_live_block_job() -> None:
    t = Trace().backup(**{"auto-finalize": False, "auto-dismiss": False})
    t.refused("block-job-pause", "Block job 'j' not found", "DeviceNotActive", device="j")
    assert new(t.run()) == ["block-job.device-not-active"]
    # For a create job it is QEMU's known divergence.
    c = (
        Trace()
        .create()
        .refused("block-job-pause", "Block job 'c' not found", "DeviceNotActive", device="c")
    )
    out = c.run()
    assert new(out) == [] and known(out) == ["block-job.device-not-active"]


def test_argument_errors_are_not_judged() -> None:
    t = Trace().mirror().refused("job-pause", "Parameter 'id' is missing")
    t.refused("block-job-set-speed", "Parameter 'speed' is unexpected", device="j", speed="x")
    assert t.run() == []


def test_verb_for_an_unknown_job() -> None:
    assert new(Trace().refused("job-pause", "Job not found", id="x").run()) == []
    assert new(Trace().call("job-pause", id="x").run()) == ["job-id.names-a-job"]


# ---------------------------------------------------------------------------------------
# query-jobs.


def test_query_lists_an_unknown_job() -> None:
    t = Trace().mirror().query(info("j", "running"), info("x", "running"))
    assert new(t.run()) == ["query-jobs.lists-live-jobs"]
    # A trace that begins with jobs already running (attached to a live QEMU) lists them
    # first: they are taken as they are, and checked from then on.
    attached = Trace().query(info("x", "running")).jsc("x", "paused", "running", "concluded")
    assert new(attached.run()) == ["status.transition-table"]
    attached = Trace().jsc("y", "ready", "standby")
    assert new(attached.run()) == []


def test_query_omits_a_live_job() -> None:
    t = Trace().backup(**{"auto-finalize": False, "auto-dismiss": False}).query()
    assert new(t.run()) == ["query-jobs.lists-live-jobs"]
    # A job that may have gone to null meanwhile (auto-dismiss) may be absent; its events
    # must then show null.
    gone = Trace().mirror().query()
    assert new(gone.run()) == []
    gone.jsc("j", "paused")
    assert new(gone.run()) == []
    gone.jsc("j", "running", "aborting").block("BLOCK_JOB_CANCELLED", "j")
    gone.jsc("j", "concluded", "null")
    assert new(gone.run()) == ["block-job.completion-event"]  # CANCELLED without a cancel
    failed = Trace().mirror().query().jsc("j", "aborting")
    failed.block("BLOCK_JOB_COMPLETED", "j", error="Input/output error")
    failed.jsc("j", "concluded", "null")
    assert new(failed.run()) == []
    stays = Trace().mirror().query().jsc("j", "ready", "standby")
    assert new(stays.run()) == []
    stays.query(info("j", "standby"))
    assert new(stays.run()) == ["query-jobs.lists-live-jobs"]


def test_query_status_consistent() -> None:
    t = Trace().create().jsc("c", "waiting", "pending", "concluded")
    t.query(info("c", "running", "create"))
    assert new(t.run()) == ["query-jobs.status-consistent"]
    # Ahead of the events by silent steps: fine, as long as the events follow.
    ahead = Trace().mirror().query(info("j", "ready"))
    assert new(ahead.run()) == []
    ahead.jsc("j", "aborting")
    assert new(ahead.run()) == ["query-jobs.status-consistent"]


def test_query_lists_a_dismissed_job() -> None:
    t = Trace().create().jsc("c", "waiting", "pending", "concluded")
    qid = t.cmd("job-dismiss", id="c")
    t.ret(qid)  # the null event is late
    t.query(info("c", "concluded", "create"))
    assert new(t.run()) == ["job-dismiss.removes-job"]


def test_verb_answered_as_if_a_gone_job_still_existed() -> None:
    t = Trace().create().jsc("c", "waiting", "pending", "concluded")
    qid = t.cmd("job-dismiss", id="c")
    t.jsc("c", "null").ret(qid)
    t.refused(
        "job-cancel", "Job 'c' in state 'concluded' cannot accept command verb 'cancel'", id="c"
    )
    assert new(t.run()) == ["job-dismiss.removes-job"]
    t = Trace().mirror(ready=True).call("job-cancel", id="j").jsc("j", "aborting")
    t.block("BLOCK_JOB_CANCELLED", "j").jsc("j", "concluded", "null").call("job-pause", id="j")
    assert new(t.run()) == ["status.nothing-after-null"]


def test_query_type_matches() -> None:
    t = Trace().mirror().query(info("j", "running", "backup"))
    assert new(t.run()) == ["job-info.type-matches"]


def test_query_unknown_type_and_status() -> None:
    t = Trace().mirror().query(info("j", "running", "teleport"))
    assert new(t.run()) == ["qapi.members-known"]
    t = Trace().mirror().query(info("j", "frozen"))
    assert new(t.run()) == ["qapi.members-known"]


def test_current_progress_monotonic_and_total_progress() -> None:
    t = Trace().mirror().query(info("j", "running", **{"current-progress": 50}))
    t.query(info("j", "running", **{"current-progress": 40}))
    assert new(t.run()) == ["job-info.current-progress-monotonic"]
    t = Trace().mirror().query(info("j", "running", **{"total-progress": -1}))
    assert new(t.run()) == ["job-info.total-progress-free"]
    # Filtered values (strings) and a total that shrinks are fine.
    ok = Trace().mirror().query(info("j", "running", **{"current-progress": "FILTERED"}))
    ok.query(info("j", "running", **{"total-progress": 10})).query(info("j", "running"))
    assert new(ok.run()) == []


def test_error_iff_failed() -> None:
    t = Trace().mirror().query(info("j", "running", error="Input/output error"))
    assert new(t.run()) == ["job-info.error-iff-failed"]
    ok = Trace().backup(**{"auto-dismiss": False}).jsc("j", "waiting", "pending")
    ok.block("BLOCK_JOB_COMPLETED", "j", "backup").jsc("j", "concluded")
    ok.query(info("j", "concluded", "backup"))
    assert new(ok.run()) == []
    bad = Trace().add(*ok.records)
    bad.query(info("j", "concluded", "backup", error="x", **{"current-progress": 100}))
    assert new(bad.run()) == ["job-info.error-iff-failed"]
    cancelled = Trace().backup(**{"auto-dismiss": False}).call("job-cancel", id="j")
    cancelled.jsc("j", "aborting").block("BLOCK_JOB_CANCELLED", "j", "backup")
    cancelled.jsc("j", "concluded").query(info("j", "concluded", "backup"))
    assert new(cancelled.run()) == ["job-info.error-iff-failed"]
    event = Trace().backup().jsc("j", "waiting", "pending")
    event.block("BLOCK_JOB_COMPLETED", "j", "backup", error="Input/output error")
    assert new(event.run()) == ["job-info.error-iff-failed"]


def test_unpaired_query_in_a_per_job_log_may_run_ahead() -> None:
    # iotest 219 logs the listing of a new job before its created event.
    t = Trace().ret(None).ret(None, [info("job0", "running", **{"current-progress": "FILTERED"})])
    t.jsc("job0", "created", "running")
    assert new(t.run(meta=PER_JOB)) == []


# ---------------------------------------------------------------------------------------
# Block-job events.


def test_ready_event_after_ready() -> None:
    t = Trace().mirror().block("BLOCK_JOB_READY", "j")
    assert new(t.run()) == ["block-job.ready-event-after-ready"]
    # A per-job log may have left the status event out (iotest 109): reachable, so fine.
    assert new(t.run(meta=PER_JOB)) == []
    done = Trace().jsc("j", "created", "running", "waiting").block("BLOCK_JOB_READY", "j")
    assert new(done.run(meta=PER_JOB)) == ["block-job.ready-event-after-ready"]


def test_pending_event() -> None:
    t = Trace().backup().jsc("j", "waiting", "pending").block("BLOCK_JOB_PENDING", "j", "backup")
    assert new(t.run()) == ["block-job.pending-event"]
    early = Trace().backup(**{"auto-finalize": False}).block("BLOCK_JOB_PENDING", "j", "backup")
    assert new(early.run()) == ["block-job.pending-event"]


def test_completion_event() -> None:
    missing = Trace().backup().jsc("j", "waiting", "pending", "concluded")
    assert new(missing.run()) == ["block-job.completion-event"]
    assert new(missing.run(meta=PER_JOB)) == []  # iotest 219 logs status events only
    twice = Trace().backup().jsc("j", "waiting", "pending")
    twice.block("BLOCK_JOB_COMPLETED", "j", "backup").block("BLOCK_JOB_COMPLETED", "j", "backup")
    assert new(twice.run()) == ["block-job.completion-event"]
    unasked = Trace().backup().jsc("j", "aborting").block("BLOCK_JOB_CANCELLED", "j", "backup")
    assert new(unasked.run()) == ["block-job.completion-event"]
    early = Trace().backup().block("BLOCK_JOB_COMPLETED", "j", "backup")
    assert new(early.run()) == ["block-job.completion-event"]


def test_no_block_events_for_non_block_jobs() -> None:
    t = Trace().create().jsc("c", "waiting", "pending").block("BLOCK_JOB_COMPLETED", "c", "create")
    assert new(t.run()) == ["block-job.no-events-for-non-block-jobs"]


def test_block_event_members() -> None:
    t = Trace().mirror().jsc("j", "ready").add(Event("BLOCK_JOB_READY", {"device": "j"}))
    assert new(t.run()) == ["block-job.ready-event-after-ready"]
    t = Trace().mirror().jsc("j", "ready").add(Event("BLOCK_JOB_READY", {"type": "mirror"}))
    assert new(t.run()) == ["block-job.ready-event-after-ready"]


# ---------------------------------------------------------------------------------------
# Interfaces.


def test_divergence_json_round_trip_and_location() -> None:
    out = check(
        [
            Event("JOB_STATUS_CHANGE", {"id": "j", "status": "created"}, line=3),
            Event("JOB_STATUS_CHANGE", {"id": "j", "status": "pending"}, line=4),
        ],
        MODELS["7.2"],
        path="t.jsonl",
    )
    (d,) = out
    assert d.location == "t.jsonl:4" and d.index == 1 and d.job == "j"
    assert json.loads(json.dumps(d.to_json())) == d.to_json()
    assert Divergence.from_json(d.to_json()) == d
    assert "model 7.2 allows" in d.message
    assert "status.transition-table" not in d.message  # the rule is printed beside it, once


def test_incremental_feed_matches_check() -> None:
    t = Trace().mirror().jsc("j", "pending").mirror("k").jsc("k", "running")
    oracle = Oracle(MODELS["7.2"])
    found = [d for record in t.records for d in oracle.feed(record)] + oracle.finish()
    assert found == t.run()
    assert oracle.records == len(t.records) and oracle.jobs == 2


def test_bounded_state_over_many_jobs() -> None:
    oracle = Oracle(MODELS["7.2"])
    for n in range(20_000):
        job = f"j{n}"
        for status in ("created", "running", "waiting", "pending", "concluded", "null"):
            oracle.feed(Event("JOB_STATUS_CHANGE", {"id": job, "status": status}))
    assert oracle._jobs == {}
    assert len(oracle._gone) <= 4096


# ---------------------------------------------------------------------------------------
# Properties.

MODEL = MODELS["10.2"]
SUCCESSORS = {s: sorted(MODEL.successors(s) - {s}) for s in Status}


@st.composite
def legal_paths(draw: st.DrawFn) -> list[Status]:
    """A path of the transition relation from created (without the silent X→X loop)."""
    path = [Status.CREATED]
    while SUCCESSORS[path[-1]] and len(path) < 40:
        path.append(draw(st.sampled_from(SUCCESSORS[path[-1]])))
        if draw(st.integers(0, 9)) == 0:
            break
    return path


def _events(job: str, path: list[Status]) -> list[Record]:
    return [Event("JOB_STATUS_CHANGE", {"id": job, "status": s.value}) for s in path]


@given(legal_paths(), st.sampled_from(["wire", "per-job"]))
def test_any_legal_path_is_accepted(path: list[Status], order: str) -> None:
    meta = Meta(source="prop", order=order)  # type: ignore[arg-type]
    assert new(check(_events("j", path), MODEL, meta)) == []


@given(legal_paths(), st.data())
def test_any_illegal_edge_spliced_into_a_legal_path_is_caught(
    path: list[Status], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(1, len(path)), label="cut")
    before = path[cut - 1]
    wrong = [
        s
        for s in Status
        if s is not before
        and s is not Status.UNDEFINED
        and not MODEL.allows(before, s)
        and not (before is Status.NULL and s is Status.CREATED)
    ]
    bad = data.draw(st.sampled_from(wrong), label="bad")
    out = check(_events("j", [*path[:cut], bad]), MODEL)
    (caught,) = [d for d in out if not d.known]
    assert caught.index == cut
    assert caught.rule in {
        "status.transition-table",
        "status.aborting-ends-concluded",
        "status.standby-returns-to-ready",
        "status.nothing-after-null",
    }


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
ARGUMENT_KEYS = st.sampled_from(
    ["id", "device", "job-id", "force", "speed", "actions", "properties", "top", "auto-finalize"]
)

RECORDS = st.one_of(
    st.builds(
        Command,
        st.sampled_from(
            ["blockdev-mirror", "block-commit", "transaction", "job-cancel", "block-job-change"]
        ),
        st.dictionaries(ARGUMENT_KEYS, JSON, max_size=4),
        st.integers(0, 3),
    ),
    st.builds(
        Response,
        st.one_of(st.none(), st.integers(0, 3)),
        st.lists(st.dictionaries(st.sampled_from(["id", "status", "type", "error"]), JSON)),
    ),
    st.builds(
        Command,
        st.sampled_from(["job-pause", "job-cancel", "block-job-cancel", "query-jobs", "quit"]),
        st.fixed_dictionaries({"id": st.sampled_from(["a", "b"])}),
        st.integers(0, 3),
    ),
    st.builds(
        Response,
        st.one_of(st.none(), st.integers(0, 3)),
        st.one_of(
            st.just({}),
            st.lists(
                st.fixed_dictionaries(
                    {
                        "id": st.sampled_from(["a", "b"]),
                        "status": st.sampled_from([s.value for s in Status] + ["x"]),
                        "type": st.sampled_from(["mirror", "create", "x"]),
                        "current-progress": st.integers(-1, 3),
                    }
                ),
                max_size=2,
            ),
        ),
    ),
    st.builds(
        Response,
        st.one_of(st.none(), st.integers(0, 3)),
        st.none(),
        st.builds(
            QmpError,
            st.just("GenericError"),
            st.sampled_from(
                [
                    "Job not found",
                    "Job is already paused",
                    "Job 'a' in state 'running' cannot accept command verb 'pause'",
                    "The block job for device 'b' is currently paused",
                    "Block job 'a' not found",
                ]
            ),
        ),
    ),
    st.builds(
        Event,
        st.just("JOB_STATUS_CHANGE"),
        st.fixed_dictionaries(
            {
                "id": st.sampled_from(["a", "b"]),
                "status": st.sampled_from([s.value for s in Status]),
            }
        ),
    ),
    st.builds(
        Event,
        st.sampled_from(["BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"]),
        st.fixed_dictionaries(
            {"device": st.sampled_from(["a", "b"]), "type": st.sampled_from(["mirror", "create"])}
        ),
    ),
    st.builds(Note, st.sampled_from(["reset: x", "drain a"])),
)


@given(st.lists(RECORDS, max_size=40), st.sampled_from(["wire", "per-job"]))
def test_any_record_sequence_is_checked_without_crashing(records: list[Record], order: str) -> None:
    meta = Meta(source="fuzz", order=order)  # type: ignore[arg-type]
    out = check(records, MODELS["7.2"], meta)
    assert all(0 <= d.index < len(records) and d.rule and d.message for d in out)


def test_acceptances_break_the_rule_of_the_refusal_due_when_sent() -> None:
    t = Trace().mirror(speed=1).call("job-resume", id="j")
    assert new(t.run()) == ["job-resume.not-paused-is-error"]
    t = Trace().mirror(speed=1)
    qid = t.cmd("job-pause", id="j")
    t.jsc("j", "paused").ret(qid).call("job-pause", id="j")
    assert new(t.run()) == ["job-pause.already-paused-is-error"]
    # Dismiss accepted in pending, its (wrong) null event before the return.
    t = Trace().backup(**{"auto-finalize": False}).jsc("j", "waiting", "pending")
    qid = t.cmd("job-dismiss", id="j")
    t.jsc("j", "null").ret(qid)
    assert new(t.run()) == ["status.transition-table", "job-dismiss.only-concluded"]


def test_finalize_whole_transaction() -> None:
    t = Trace()
    qid = t.cmd(
        "transaction",
        actions=[
            {
                "type": "blockdev-backup",
                "data": {"job-id": j, "device": j, "target": "t", "auto-finalize": False},
            }
            for j in ("a", "b")
        ],
        properties={"completion-mode": "grouped"},
    )
    t.jsc("a", "created").jsc("b", "created").jsc("a", "running").jsc("b", "running").ret(qid)
    t.jsc("a", "waiting").jsc("b", "waiting", "pending").jsc("a", "pending")
    t.call("job-finalize", id="a")
    t.block("BLOCK_JOB_COMPLETED", "a", "backup").jsc("a", "concluded", "null")
    t.query(info("b", "pending", "backup"))
    assert new(t.run()) == ["job-finalize.whole-transaction"]


def test_schema_members_the_model_does_not_know_are_divergences() -> None:
    from jobcheck.conformance.oracle import check as check_trace
    from jobcheck.conformance.trace.records import Meta, Note
    from jobcheck.model.lifecycle import model_for

    members = {
        "JobStatus": [s.value for s in model_for("7.2").statuses],
        "JobType": ["mirror", "backup", "teleport"],
    }
    meta = Meta("qemu", "7.2.22", "wire", {"schema_members": members})
    found = check_trace([Note("start")], model_for("7.2"), meta)
    assert [(d.rule, d.observed) for d in found] == [("qapi.members-known", "JobType.teleport")]
    members["JobType"] = ["mirror", "backup"]
    assert check_trace([Note("start")], model_for("7.2"), meta) == []
    # An older model does not know a newer QEMU's verb.
    newer = Meta("qemu", "8.2.0", "wire", {"schema_members": {"JobVerb": ["cancel", "change"]}})
    found = check_trace([Note("start")], model_for("7.2"), newer)
    assert [d.observed for d in found] == ["JobVerb.change"]


def test_a_second_ready_event_is_a_divergence() -> None:
    t = Trace().mirror(ready=True).block("BLOCK_JOB_READY", "j")
    assert new(t.run()) == ["block-job.ready-event-after-ready"]


def test_completed_rather_than_cancelled_after_a_force_cancel() -> None:
    t = Trace().mirror().call("job-cancel", id="j")
    t.jsc("j", "aborting").block("BLOCK_JOB_COMPLETED", "j", error="Operation canceled")
    t.jsc("j", "concluded", "null")
    assert new(t.run()) == ["block-job.completion-event"]
    # A soft cancel of a READY mirror completes it: COMPLETED is right there.
    soft = Trace().mirror(ready=True).call("block-job-cancel", device="j", force=False)
    soft.jsc("j", "waiting", "pending").block("BLOCK_JOB_COMPLETED", "j")
    soft.jsc("j", "concluded", "null")
    assert new(soft.run()) == []


# --- a wait's verdicts, as a live target records them in a note ---------------------------


def _paused_without_word(verdict: str) -> list[Divergence]:
    """A mirror whose accepted job-pause the wait then judged ``verdict``."""
    t = Trace().mirror().call("job-pause", id="j")
    entry = {"status": "running", "verdict": verdict, "seconds": 1.0, "evidence": "listed paused"}
    t.add(Note("settle: gave up waiting: j", None, wait={"j": entry}))
    return t.run()


def test_a_job_that_moved_without_its_event_breaks_query_consistency() -> None:
    # query-jobs listed the paused job twice and no JOB_STATUS_CHANGE came: the pause was
    # carried out (job-pause.pauses holds), its event is what is missing.
    found = _paused_without_word("unreported")
    assert new(found) == ["query-jobs.status-consistent"]
    assert "no JOB_STATUS_CHANGE reported it" in found[0].message


def test_a_job_that_stayed_breaks_the_pause_rule_and_a_slow_one_is_undecided() -> None:
    assert new(_paused_without_word("stalled")) == ["job-pause.pauses"]
    assert new(_paused_without_word("slow")) == []


def test_a_job_concluded_without_error_has_done_all_its_work() -> None:
    t = Trace().backup(**{"auto-dismiss": False}).jsc("j", "waiting", "pending")
    t.block("BLOCK_JOB_COMPLETED", "j", "backup").jsc("j", "concluded")
    short = (
        Trace().add(*t.records).query(info("j", "concluded", "backup", **{"current-progress": 0}))
    )
    assert new(short.run()) == ["job-info.progress-complete-at-end"]
    done = Trace().add(*t.records).query(info("j", "concluded", "backup"))
    assert new(done.run()) == []
    failed = {"current-progress": 0, "error": "Input/output error"}
    assert "job-info.progress-complete-at-end" not in new(
        Trace().add(*t.records).query(info("j", "concluded", "backup", **failed)).run()
    )
