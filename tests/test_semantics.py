"""model/semantics.py: verb outcomes beyond the tables, with QEMU's exact texts, per version.

The verb × state matrix is typed here from the observations on QEMU 7.2.22
(one fresh job per cell, ``job-<verb> {"id": "j"}`` and
``block-job-set-speed``), independently of the module under test.
"""

from __future__ import annotations

import pytest

from jobcheck.model.lifecycle import MODELS, JobType, Status, Verb, model_for
from jobcheck.model.semantics import (
    AbstractJob,
    ErrorText,
    Refusal,
    apply_verb,
    parse_error,
    reachable,
    silent_successors,
)

M72 = MODELS["7.2"]

V = "Job 'j' in state '{state}' cannot accept command verb '{verb}'"
AP = "Job is already paused"
NP = "Can't resume a job that was not paused"
NF = "Job not found"
BNF = "Block job 'j' not found"


def _cell_job(column: str) -> AbstractJob | None:
    """The job each column of the matrix was measured with."""
    mirror = JobType.MIRROR
    backup = JobType.BACKUP
    jobs = {
        "running": AbstractJob.of(mirror, "j", Status.RUNNING),
        "paused": AbstractJob.of(mirror, "j", Status.PAUSED, user_paused=True),
        "ready": AbstractJob.of(mirror, "j", Status.READY),
        "standby": AbstractJob.of(mirror, "j", Status.STANDBY, user_paused=True),
        "waiting": AbstractJob.of(backup, "j", Status.WAITING, txn_held=False),
        "pending": AbstractJob.of(backup, "j", Status.PENDING, auto_finalize=False),
        "concluded": AbstractJob.of(backup, "j", Status.CONCLUDED, auto_dismiss=False),
    }
    return jobs.get(column)


COLUMNS = ["running", "paused", "ready", "standby", "waiting", "pending", "concluded", "null"]
# (verb, one entry per column): "ok", or an error code of the observed matrix.
MATRIX = {
    Verb.CANCEL: ["ok", "ok", "ok", "ok", "ok", "ok", "V", "NF"],
    Verb.PAUSE: ["ok", "AP", "ok", "AP", "V", "V", "V", "NF"],
    Verb.RESUME: ["NP", "ok", "NP", "ok", "NP", "NP", "NP", "NF"],
    Verb.SET_SPEED: ["ok", "ok", "ok", "ok", "V", "V", "V", "BNF"],
    Verb.COMPLETE: ["V", "V", "ok", "ok", "V", "V", "V", "NF"],
    Verb.FINALIZE: ["V", "V", "V", "V", "V", "ok", "V", "NF"],
    Verb.DISMISS: ["V", "V", "V", "V", "V", "V", "ok", "NF"],
}
CELLS = [
    (verb, column, code)
    for verb, row in MATRIX.items()
    for column, code in zip(COLUMNS, row, strict=True)
]


@pytest.mark.parametrize(("verb", "column", "code"), CELLS, ids=[f"{v}-{c}" for v, c, _ in CELLS])
def test_observed_matrix_7_2(verb: Verb, column: str, code: str) -> None:
    job = _cell_job(column)
    out = apply_verb(M72, job, verb, "job", job_id="j", speed=2)
    if code == "ok":
        assert out.accepted, out
        assert out.error is None and out.error_class is None
        return
    assert not out.accepted
    expected_class = "DeviceNotActive" if code == "BNF" else "GenericError"
    text = {"AP": AP, "NP": NP, "NF": NF, "BNF": BNF}.get(code) or V.format(
        state=column, verb=verb.value
    )
    assert (out.error_class, out.error) == (expected_class, text)


def test_create_job_paused_while_running_answers_the_verb_error_in_concluded() -> None:
    # A create job has no pause point: the user pause never lands and stays set.
    job = AbstractJob.of(JobType.CREATE, "c", Status.CONCLUDED, user_paused=True)
    out = apply_verb(M72, job, Verb.RESUME)
    assert out.error == "Job 'c' in state 'concluded' cannot accept command verb 'resume'"


def test_known_divergences_are_named_where_qemu_contradicts_its_documentation() -> None:
    drained = AbstractJob.of(JobType.MIRROR, "j", Status.PAUSED, drain_paused=True)
    assert apply_verb(M72, drained, Verb.RESUME).known == "job-resume.not-paused-is-error"
    assert apply_verb(M72, drained, Verb.PAUSE).accepted
    assert apply_verb(M72, drained, Verb.PAUSE).known == "job-pause.already-paused-is-error"
    # NP instead of the verb error in pending; NP in running is what the documentation says.
    pending = AbstractJob.of(JobType.BACKUP, "j", Status.PENDING, auto_finalize=False)
    assert apply_verb(M72, pending, Verb.RESUME).known == "job-resume.not-paused-is-error"
    running = AbstractJob.of(JobType.MIRROR, "j", Status.RUNNING)
    assert apply_verb(M72, running, Verb.RESUME).known is None
    # A user pause that has not landed yet: pause errors, resume is accepted.
    pausing = AbstractJob.of(JobType.MIRROR, "j", Status.RUNNING, user_paused=True)
    assert apply_verb(M72, pausing, Verb.PAUSE).error == AP
    assert apply_verb(M72, pausing, Verb.PAUSE).known == "job-pause.already-paused-is-error"
    assert apply_verb(M72, pausing, Verb.RESUME).known == "job-resume.not-paused-is-error"
    # A user-paused job at its pause point: AP is the documented answer.
    paused = AbstractJob.of(JobType.MIRROR, "j", Status.PAUSED, user_paused=True)
    assert apply_verb(M72, paused, Verb.PAUSE).known is None


def test_block_job_cancel_without_force_refuses_a_user_paused_job_before_the_table() -> None:
    job = AbstractJob.of(JobType.MIRROR, "j", Status.PAUSED, user_paused=True)
    soft = apply_verb(M72, job, Verb.CANCEL, "block-job", force=False)
    assert soft.refusal is Refusal.CURRENTLY_PAUSED
    assert soft.error == "The block job for device 'j' is currently paused"
    assert soft.known == "job-pause.cancel-resumes"
    forced = apply_verb(M72, job, Verb.CANCEL, "block-job", force=True)
    assert forced.accepted and Status.RUNNING in forced.then and Status.ABORTING in forced.then
    # job-cancel has no such check: it always forces, and resumes first.
    assert apply_verb(M72, job, Verb.CANCEL, "job").accepted
    # The check comes before the table: even in waiting (a stale user pause).
    stale = AbstractJob.of(JobType.BACKUP, "j", Status.WAITING, user_paused=True)
    assert apply_verb(M72, stale, Verb.CANCEL, "block-job").refusal is Refusal.CURRENTLY_PAUSED


def test_device_not_active_for_missing_and_for_non_block_jobs() -> None:
    created = AbstractJob.of(JobType.CREATE, "c", Status.RUNNING)
    out = apply_verb(M72, created, Verb.SET_SPEED, speed=1)
    assert (out.error_class, out.error) == ("DeviceNotActive", "Block job 'c' not found")
    assert out.known == "block-job.device-not-active"
    missing = apply_verb(M72, None, Verb.PAUSE, "block-job", job_id="x")
    assert (missing.error_class, missing.error) == ("DeviceNotActive", "Block job 'x' not found")
    assert missing.known is None
    assert apply_verb(M72, created, Verb.PAUSE, "job").accepted


def test_complete_refinements() -> None:
    cancelled = AbstractJob.of(JobType.MIRROR, "j", Status.READY, cancel_requested=True)
    out = apply_verb(M72, cancelled, Verb.COMPLETE)
    assert out.error == "The active block job 'j' cannot be completed"
    assert out.rule == "job-complete.not-after-cancel"
    ready = AbstractJob.of(JobType.MIRROR, "j", Status.READY)
    accepted = apply_verb(M72, ready, Verb.COMPLETE)
    assert accepted.accepted and accepted.job is not None and accepted.job.should_complete
    assert {Status.WAITING, Status.PENDING, Status.CONCLUDED} <= accepted.then
    # A second complete while still ready is accepted too (no "already completing" check).
    assert apply_verb(M72, accepted.job, Verb.COMPLETE).accepted


def test_complete_in_standby_per_version() -> None:
    standby = AbstractJob.of(JobType.MIRROR, "j", Status.STANDBY, user_paused=True)
    old = apply_verb(MODELS["5.2"], standby, Verb.COMPLETE)
    assert old.error == "Job 'j' in state 'standby' cannot accept command verb 'complete'"
    for version in ("6.0", "7.2", "9.2"):
        out = apply_verb(MODELS[version], standby, Verb.COMPLETE)
        assert out.accepted and out.known == "job-complete.only-ready", version
    # The 10.1 documentation says "READY or STANDBY": no divergence any more.
    newest = apply_verb(MODELS["10.2"], standby, Verb.COMPLETE)
    assert newest.accepted and newest.known is None


def test_complete_refused_while_paused_up_to_5_2() -> None:
    pausing = AbstractJob.of(JobType.MIRROR, "j", Status.READY, user_paused=True)
    assert apply_verb(MODELS["5.2"], pausing, Verb.COMPLETE).refusal is Refusal.CANNOT_COMPLETE
    assert apply_verb(MODELS["6.0"], pausing, Verb.COMPLETE).accepted


def test_change_verb_exists_from_8_2() -> None:
    mirror = AbstractJob.of(JobType.MIRROR, "j", Status.RUNNING)
    backup = AbstractJob.of(JobType.BACKUP, "j", Status.RUNNING)
    old = apply_verb(M72, mirror, Verb.CHANGE)
    assert (old.error_class, old.error) == (
        "CommandNotFound",
        "The command block-job-change has not been found",
    )
    new = MODELS["8.2"]
    assert apply_verb(new, mirror, Verb.CHANGE, copy_mode="write-blocking").accepted
    assert apply_verb(new, backup, Verb.CHANGE).error == "Job type does not support change"
    assert (
        apply_verb(new, mirror, Verb.CHANGE, copy_mode="bogus").error
        == "Change to copy mode 'bogus' is not implemented"
    )
    waiting = AbstractJob.of(JobType.MIRROR, "j", Status.WAITING)
    assert apply_verb(new, waiting, Verb.CHANGE).refusal is Refusal.VERB


def test_no_job_commands_in_2_12() -> None:
    job = AbstractJob.of(JobType.MIRROR, "j", Status.RUNNING)
    out = apply_verb(MODELS["2.12"], job, Verb.PAUSE, "job")
    assert (out.error_class, out.error) == (
        "CommandNotFound",
        "The command job-pause has not been found",
    )
    assert apply_verb(MODELS["2.12"], job, Verb.PAUSE, "block-job").accepted


@pytest.mark.parametrize(
    ("version", "text"),
    [
        ("2.12.0", "Invalid parameter 'speed'"),
        ("4.2.1", "Invalid parameter 'speed'"),
        # QEMU commit 1ef7d9d368 is first in the v5.0.0 release commit (fdd76fecdd).
        ("5.0.0", "Parameter 'speed' expects a non-negative value"),
        ("5.0.1", "Parameter 'speed' expects a non-negative value"),
        ("5.2", "Parameter 'speed' expects a non-negative value"),
        ("10.2.50", "Parameter 'speed' expects a non-negative value"),
    ],
)
def test_negative_speed_text_changed_in_5_0(version: str, text: str) -> None:
    job = AbstractJob.of(JobType.BACKUP, "j", Status.RUNNING)
    out = apply_verb(model_for(version), job, Verb.SET_SPEED, speed=-1)
    assert out.error == text
    assert parse_error(text) == ErrorText(Refusal.NEGATIVE_SPEED)


def test_negative_speed_text_is_checked_after_the_verb_table() -> None:
    # The verb check comes first.
    done = AbstractJob.of(JobType.BACKUP, "j", Status.PENDING)
    assert apply_verb(M72, done, Verb.SET_SPEED, speed=-1).refusal is Refusal.VERB


def test_finalize_of_an_auto_finalize_job_held_by_its_transaction() -> None:
    held = AbstractJob.of(JobType.BACKUP, "a", Status.PENDING, txn_held=True)
    assert apply_verb(M72, held, Verb.FINALIZE).accepted
    assert apply_verb(M72, held, Verb.FINALIZE).known is None
    assert apply_verb(MODELS["10.2"], held, Verb.FINALIZE).known == "job-finalize.only-manual"


def test_cancel_outcomes_are_sets_of_statuses() -> None:
    running = AbstractJob.of(JobType.MIRROR, "j", Status.RUNNING)
    forced = apply_verb(M72, running, Verb.CANCEL)
    assert forced.then == {Status.ABORTING, Status.CONCLUDED, Status.NULL}
    ready = AbstractJob.of(JobType.MIRROR, "j", Status.READY)
    soft = apply_verb(M72, ready, Verb.CANCEL, "block-job", force=False)
    assert soft.job is not None and not soft.job.force_cancel and soft.job.cancel_requested
    assert {Status.WAITING, Status.PENDING, Status.CONCLUDED, Status.NULL} <= soft.then
    # A soft cancel before ready is a force cancel: the job cannot complete any more.
    soft_running = apply_verb(M72, running, Verb.CANCEL, "block-job", force=False)
    assert soft_running.job is not None and soft_running.job.force_cancel
    assert Status.WAITING not in soft_running.then
    created = AbstractJob.of(JobType.BACKUP, "j", Status.CREATED, auto_dismiss=False)
    # A job that never started is dismissed even with auto-dismiss=false.
    assert apply_verb(M72, created, Verb.CANCEL).then == {
        Status.ABORTING,
        Status.CONCLUDED,
        Status.NULL,
    }
    kept = AbstractJob.of(
        JobType.BACKUP, "j", Status.PENDING, auto_finalize=False, auto_dismiss=False
    )
    assert Status.NULL not in apply_verb(M72, kept, Verb.CANCEL).then


def test_silent_steps() -> None:
    manual = AbstractJob.of(JobType.BACKUP, "j", Status.PENDING, auto_finalize=False)
    assert silent_successors(M72, manual) == frozenset()
    auto = AbstractJob.of(JobType.BACKUP, "j", Status.PENDING)
    assert silent_successors(M72, auto) == {Status.CONCLUDED, Status.ABORTING}
    backup = AbstractJob.of(JobType.BACKUP, "j", Status.RUNNING)
    assert Status.READY not in reachable(M72, backup)
    mirror = AbstractJob.of(JobType.MIRROR, "j", Status.RUNNING)
    assert Status.READY in reachable(M72, mirror)
    # Leaving ready needs a complete (or a cancel): only drains and errors are silent.
    ready = AbstractJob.of(JobType.MIRROR, "j", Status.READY)
    assert silent_successors(M72, ready) == {Status.STANDBY, Status.ABORTING}
    user = AbstractJob.of(JobType.MIRROR, "j", Status.PAUSED, user_paused=True)
    assert silent_successors(M72, user) == frozenset()
    create = AbstractJob.of(JobType.CREATE, "c", Status.RUNNING)
    assert Status.PAUSED not in silent_successors(M72, create)
    kept = AbstractJob.of(JobType.CREATE, "c", Status.CONCLUDED, auto_dismiss=False)
    assert silent_successors(M72, kept) == frozenset()


@pytest.mark.parametrize(
    ("text", "refusal", "job_id"),
    [
        ("Job 'a b' in state 'ready' cannot accept command verb 'finalize'", Refusal.VERB, "a b"),
        ("Job is already paused", Refusal.ALREADY_PAUSED, None),
        ("Can't resume a job that was not paused", Refusal.NOT_PAUSED, None),
        ("The block job for device 'd' is currently paused", Refusal.CURRENTLY_PAUSED, "d"),
        ("The active block job 'j' cannot be completed", Refusal.CANNOT_COMPLETE, "j"),
        ("Block job 'x' not found", Refusal.BLOCK_NOT_FOUND, "x"),
        ("Job not found", Refusal.NOT_FOUND, None),
        ("Invalid parameter 'speed'", Refusal.NEGATIVE_SPEED, None),
    ],
)
def test_parse_error(text: str, refusal: Refusal, job_id: str | None) -> None:
    parsed = parse_error(text)
    assert parsed is not None
    assert (parsed.refusal, parsed.job_id) == (refusal, job_id)


def test_parse_error_verb_fields_and_unknown_texts() -> None:
    parsed = parse_error("Job 'j' in state 'running' cannot accept command verb 'complete'")
    assert parsed is not None and (parsed.status, parsed.verb) == ("running", "complete")
    assert parse_error("Node 'a' is busy: block device is in use by block job: mirror") is None


def test_every_refusal_round_trips_through_parse_error() -> None:
    seen = set()
    for model in MODELS.values():
        for job_type in (JobType.MIRROR, JobType.BACKUP, JobType.CREATE):
            for status in Status:
                for user in (False, True):
                    job = AbstractJob.of(job_type, "j", status, user_paused=user)
                    for verb in Verb:
                        for family in ("job", "block-job"):
                            out = apply_verb(model, job, verb, family, speed=-1)  # type: ignore[arg-type]
                            if out.accepted:
                                continue
                            assert out.error is not None
                            parsed = parse_error(out.error)
                            assert parsed is not None and parsed.refusal is out.refusal, out
                            seen.add(out.refusal)
    assert seen == set(Refusal) - {Refusal.COPY_MODE}
