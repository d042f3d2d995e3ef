"""The job tracker behind the live target's settle: which jobs still move by themselves.

Fed with the QMP traffic of QEMU 7.2 scenarios (events first where QEMU
sends them before the command's return), written out by hand.
"""

from __future__ import annotations

from typing import Any

from jobcheck.conformance.targets.job_tracker import JobTracker


def sc(tracker: JobTracker, job_id: str, *statuses: str) -> None:
    for status in statuses:
        tracker.event("JOB_STATUS_CHANGE", {"id": job_id, "status": status})


def ok(tracker: JobTracker, command: str, **arguments: Any) -> None:
    tracker.command(command, arguments, True)


def mirror(tracker: JobTracker, job_id: str, **extra: Any) -> None:
    sc(tracker, job_id, "created", "running")
    ok(tracker, "blockdev-mirror", **{"job-id": job_id, "device": "s", "target": "t"}, **extra)


def test_held_job_is_still_and_released_job_moves_until_ready() -> None:
    t = JobTracker()
    mirror(t, "m", speed=1)
    assert t.status("m") == "running" and t.moving() == []
    ok(t, "block-job-set-speed", device="m", speed=0)
    assert t.moving() == ["m"]
    sc(t, "m", "ready")
    assert t.moving() == []
    ok(t, "block-job-set-speed", device="m", speed=1)
    sc(t, "m", "standby", "ready")
    assert t.moving() == []


def test_unthrottled_start_moves() -> None:
    t = JobTracker()
    mirror(t, "m")
    assert t.moving() == ["m"]


def test_pause_that_landed_before_the_return_is_not_pending() -> None:
    t = JobTracker()
    mirror(t, "m", speed=1)
    sc(t, "m", "paused")
    ok(t, "job-pause", id="m")
    assert t.moving() == []
    sc(t, "m", "running")
    ok(t, "job-resume", id="m")
    assert t.moving() == []


def test_pause_still_in_flight_moves_and_resume_withdraws_it() -> None:
    t = JobTracker()
    mirror(t, "m", speed=1)
    ok(t, "job-pause", id="m")
    assert t.moving() == ["m"]
    ok(t, "job-resume", id="m")
    assert t.moving() == []
    ok(t, "block-job-pause", device="m")
    sc(t, "m", "paused")
    assert t.moving() == []


def test_cancel_moves_until_the_end_unless_already_over() -> None:
    t = JobTracker()
    mirror(t, "m", speed=1)
    ok(t, "job-cancel", id="m")
    assert t.moving() == ["m"]
    sc(t, "m", "aborting", "concluded", "null")
    assert t.moving() == []
    mirror(t, "n", speed=1, **{"auto-dismiss": False})
    sc(t, "n", "aborting", "concluded")
    ok(t, "job-cancel", id="n")  # everything happened inside the command
    assert t.moving() == []


def test_complete_in_standby_waits_for_resume() -> None:
    t = JobTracker()
    mirror(t, "m", speed=1)
    ok(t, "block-job-set-speed", device="m", speed=0)
    sc(t, "m", "ready", "standby")
    ok(t, "job-pause", id="m")
    ok(t, "job-complete", id="m")
    assert t.moving() == []
    sc(t, "m", "ready")
    ok(t, "job-resume", id="m")
    assert t.moving() == ["m"]
    sc(t, "m", "waiting", "pending", "concluded")
    assert t.moving() == ["m"]  # auto-dismiss: null is coming
    sc(t, "m", "null")
    assert t.moving() == []


def test_refused_commands_change_nothing() -> None:
    t = JobTracker()
    t.command("blockdev-mirror", {"job-id": "m", "device": "s", "target": "t"}, False)
    assert t.ours() == []
    mirror(t, "n", speed=1)
    t.command("job-complete", {"id": "n"}, False)
    t.command("block-job-set-speed", {"device": "n", "speed": 0}, False)
    assert t.moving() == []


def grouped(t: JobTracker, *jobs: tuple[str, bool]) -> None:
    actions = []
    for job_id, auto_finalize in jobs:
        sc(t, job_id, "created", "running")
        data = {"job-id": job_id, "device": "s", "target": "t", "speed": 1}
        data["auto-finalize"] = auto_finalize
        actions.append({"type": "blockdev-backup", "data": data})
    ok(t, "transaction", actions=actions, properties={"completion-mode": "grouped"})


def test_waiting_is_still_while_a_partner_works() -> None:
    t = JobTracker()
    grouped(t, ("j", True), ("k", True))
    ok(t, "block-job-set-speed", device="j", speed=0)
    sc(t, "j", "waiting")
    assert t.moving() == []
    ok(t, "block-job-set-speed", device="k", speed=0)
    assert t.moving() == ["k"]
    sc(t, "k", "waiting")
    assert sorted(t.moving()) == ["j", "k"]


def test_pending_waits_for_finalize_of_itself_or_a_partner() -> None:
    t = JobTracker()
    grouped(t, ("a", True), ("b", False))
    sc(t, "a", "waiting", "pending")
    sc(t, "b", "waiting", "pending")
    assert t.moving() == []
    ok(t, "job-finalize", id="b")
    sc(t, "b", "concluded")
    assert t.moving() == ["a", "b"]  # both auto-dismiss; a is free to finalize


def test_create_jobs_run_alone_until_concluded_and_stay() -> None:
    t = JobTracker()
    sc(t, "c", "created", "running")
    ok(t, "blockdev-create", **{"job-id": "c", "options": {"driver": "file"}})
    assert t.moving() == ["c"] and t.running_alone() == ["c"]
    sc(t, "c", "waiting", "pending", "concluded")
    assert t.moving() == [] and t.running_alone() == []  # create jobs are manual-dismiss


def test_reused_id_starts_afresh_and_foreign_jobs_do_not_count() -> None:
    t = JobTracker()
    mirror(t, "m", speed=1)
    ok(t, "job-cancel", id="m")
    sc(t, "m", "aborting", "concluded", "null")
    sc(t, "m", "created", "running")  # someone else's job under the same id
    job = t.jobs["m"]
    assert not job.ours and not job.cancel_requested
    assert t.moving() == []
    sc(t, "x", "created", "running")
    assert t.moving() == [] and t.status("x") == "running"


def test_unknown_statuses_and_malformed_events_do_not_break_it() -> None:
    t = JobTracker()
    mirror(t, "m", speed=1)
    sc(t, "m", "frozen")
    t.event("JOB_STATUS_CHANGE", {"id": 7})
    t.event("BLOCK_JOB_READY", {"device": "m"})
    assert t.status("m") == "frozen" and t.moving() == []


def test_a_soft_cancelled_mirror_rests_in_pending_when_auto_finalize_is_off() -> None:
    """block-job-cancel force=false on a READY mirror completes it: with auto-finalize=false
    it then waits in pending for job-finalize (seen on QEMU 7.2.22), so it is not moving."""
    tracker = JobTracker()
    ok(
        tracker,
        "blockdev-mirror",
        **{"job-id": "m", "device": "s", "target": "t", "sync": "full", "auto-finalize": False},
    )
    sc(tracker, "m", "created", "running", "ready")
    ok(tracker, "block-job-cancel", device="m", force=False)
    assert tracker.moving() == ["m"]  # on its way to waiting
    sc(tracker, "m", "waiting", "pending")
    assert tracker.moving() == []
    ok(tracker, "job-cancel", id="m")  # a force cancel does move it on
    assert tracker.moving() == ["m"]


def test_held_job_is_parking_until_query_block_jobs_shows_it_asleep() -> None:
    t = JobTracker()
    mirror(t, "m", speed=1)
    assert t.parking() == ["m"]  # still on its first chunk, as far as anyone knows
    t.block_jobs([{"device": "m", "busy": True, "paused": False}])
    assert t.parking() == ["m"]
    t.block_jobs([{"device": "m", "busy": False, "paused": False}])
    assert t.parking() == [] and t.moving() == []
    ok(t, "block-job-set-speed", device="m", speed=2)  # a higher speed wakes it
    assert t.parking() == ["m"]
    t.block_jobs([{"device": "m", "busy": False, "paused": False}])
    sc(t, "m", "paused", "running")  # each resume runs one more chunk
    assert t.parking() == ["m"]


def test_unthrottled_and_non_block_jobs_are_never_parking() -> None:
    t = JobTracker()
    mirror(t, "m")
    ok(t, "blockdev-create", **{"job-id": "c", "options": {}})
    sc(t, "c", "created", "running")
    assert t.parking() == [] and sorted(t.moving()) == ["c", "m"]
