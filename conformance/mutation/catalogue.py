"""The mutants: one developer mistake each, as a small search/replace in QEMU's job code.

Each :class:`Mutant` names the file and the function it breaks, says in one
line what the developer got wrong, and carries the edit as whole-line
search/replace pairs (:class:`Edit`).  The search text quotes a few lines of
QEMU 10.0.2 (the file and function are cited with each mutant); it must occur
exactly once in the file, at the start of a line, or the harness refuses the
mutant.  The categories (:data:`CATEGORIES`) are the kinds of regression a
change to ``job.c``, ``job-qmp.c``, ``blockjob.c``, ``blockdev.c`` or a block
job can bring.

>>> len(CATALOGUE) >= 25
True
>>> by_id("resume-accepted-stays-paused").file
'job.c'
"""

from __future__ import annotations

from dataclasses import dataclass

#: Category → what a mutant of that category breaks.
CATEGORIES: dict[str, str] = {
    "verb-table": "a cell of JobVerbTable (a verb permitted or refused in the wrong status)",
    "transition-table": "a cell of JobSTT (a status change QEMU asserts on)",
    "event": "an event dropped, doubled or reordered",
    "verb-effect": "a verb accepted but its effect dropped",
    "automatic-step": "an automatic step broken (auto-finalize, auto-dismiss, ready, a kick)",
    "query-field": "a wrong query-jobs field (status, type, progress, error, listing)",
    "transaction": "a transaction rule broken",
    "cancel-mode": "soft and hard cancel confused",
    "error-text": "a refused verb answers with another error text or class",
}


def lines(*text: str) -> str:
    """Whole lines: ``text`` joined by newlines, with a final newline.

    >>> lines("a", "b")
    'a\\nb\\n'
    >>> lines()
    ''
    """
    return "".join(f"{line}\n" for line in text)


@dataclass(frozen=True)
class Edit:
    """Replace the whole lines ``search`` (found exactly once) by ``replace``."""

    search: str
    replace: str


@dataclass(frozen=True)
class Mutant:
    """One planted bug."""

    id: str
    file: str
    """Path relative to the top of QEMU's source tree."""
    function: str
    category: str
    """A key of :data:`CATEGORIES`."""
    mistake: str
    """One line: what the developer got wrong."""
    edits: tuple[Edit, ...]
    survives: str = ""
    """Why a campaign is not expected to fail on it (exit 1), and what shows it instead:
    said for every mutant that changes no documented behaviour."""


def _row(name: str, old: str, new: str) -> Edit:
    """A JobVerbTable row of job.c, from ``old`` cells to ``new`` cells."""
    head = f"    [{name}]".ljust(36) + "= "
    return Edit(lines(head + "{" + old + "},"), lines(head + "{" + new + "},"))


_MIRROR_CANCEL_FORCE = lines("    force = force || !job_is_ready(job);")

CATALOGUE: tuple[Mutant, ...] = (
    # --- job.c: the tables -------------------------------------------------------------
    Mutant(
        "verb-table-pause-in-waiting",
        "job.c",
        "JobVerbTable",
        "verb-table",
        "the pause row also permits waiting",
        (
            _row(
                "JOB_VERB_PAUSE",
                "0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0",
                "0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0",
            ),
        ),
    ),
    Mutant(
        "verb-table-cancel-in-concluded",
        "job.c",
        "JobVerbTable",
        "verb-table",
        "the cancel row also permits concluded (where job_cancel_locked dismisses the job)",
        (
            _row(
                "JOB_VERB_CANCEL",
                "0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0",
                "0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0",
            ),
        ),
    ),
    Mutant(
        "verb-table-set-speed-not-in-paused",
        "job.c",
        "JobVerbTable",
        "verb-table",
        "the set-speed row forgets paused",
        (
            _row(
                "JOB_VERB_SET_SPEED",
                "0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0",
                "0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0",
            ),
        ),
    ),
    Mutant(
        "verb-table-resume-not-in-standby",
        "job.c",
        "JobVerbTable",
        "verb-table",
        "the resume row forgets standby",
        (
            _row(
                "JOB_VERB_RESUME",
                "0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0",
                "0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0",
            ),
        ),
    ),
    Mutant(
        "verb-table-complete-in-running",
        "job.c",
        "JobVerbTable",
        "verb-table",
        "the complete row also permits running (the driver then refuses with its own text)",
        (
            _row(
                "JOB_VERB_COMPLETE",
                "0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0",
                "0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0",
            ),
        ),
    ),
    Mutant(
        "transition-table-standby-stuck",
        "job.c",
        "JobSTT",
        "transition-table",
        "the standby row loses standby -> ready, so resuming a standby job trips the assertion",
        (
            Edit(
                lines("    /* S: */ [JOB_STATUS_STANDBY]   = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},"),
                lines("    /* S: */ [JOB_STATUS_STANDBY]   = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},"),
            ),
        ),
    ),
    # --- job.c: events -----------------------------------------------------------------
    Mutant(
        "status-event-dropped-for-paused",
        "job.c",
        "job_state_transition_locked",
        "event",
        "JOB_STATUS_CHANGE is not sent when a job becomes paused",
        (
            Edit(
                lines("    if (!job_is_internal(job) && s1 != s0) {"),
                lines("    if (!job_is_internal(job) && s1 != s0 && s1 != JOB_STATUS_PAUSED) {"),
            ),
        ),
    ),
    Mutant(
        "status-event-for-self-transition",
        "job.c",
        "job_state_transition_locked",
        "event",
        "JOB_STATUS_CHANGE is sent even when the status does not change (aborting twice)",
        (
            Edit(
                lines("    if (!job_is_internal(job) && s1 != s0) {"),
                lines("    if (!job_is_internal(job)) {"),
            ),
        ),
    ),
    Mutant(
        "ready-event-doubled",
        "job.c",
        "job_transition_to_ready",
        "event",
        "BLOCK_JOB_READY is sent twice",
        (
            Edit(
                lines("    job_event_ready_locked(job);", "}"),
                lines("    job_event_ready_locked(job);", "    job_event_ready_locked(job);", "}"),
            ),
        ),
    ),
    Mutant(
        "ready-event-before-ready-status",
        "job.c",
        "job_transition_to_ready",
        "event",
        "BLOCK_JOB_READY is sent before the job's status is ready",
        (
            Edit(
                lines(
                    "    job_state_transition_locked(job, JOB_STATUS_READY);",
                    "    job_event_ready_locked(job);",
                ),
                lines(
                    "    job_event_ready_locked(job);",
                    "    job_state_transition_locked(job, JOB_STATUS_READY);",
                ),
            ),
        ),
    ),
    Mutant(
        "pending-event-before-pending-status",
        "job.c",
        "job_transition_to_pending_locked",
        "event",
        "BLOCK_JOB_PENDING is sent before the job's status is pending",
        (
            Edit(
                lines(
                    "    job_state_transition_locked(job, JOB_STATUS_PENDING);",
                    "    if (!job->auto_finalize) {",
                    "        job_event_pending_locked(job);",
                    "    }",
                ),
                lines(
                    "    if (!job->auto_finalize) {",
                    "        job_event_pending_locked(job);",
                    "    }",
                    "    job_state_transition_locked(job, JOB_STATUS_PENDING);",
                ),
            ),
        ),
    ),
    Mutant(
        "pending-event-for-auto-finalize",
        "job.c",
        "job_transition_to_pending_locked",
        "event",
        "BLOCK_JOB_PENDING is sent for auto-finalize jobs too",
        (
            Edit(
                lines(
                    "    if (!job->auto_finalize) {",
                    "        job_event_pending_locked(job);",
                    "    }",
                ),
                lines("    job_event_pending_locked(job);"),
            ),
        ),
    ),
    Mutant(
        "cancelled-job-reports-completed",
        "job.c",
        "job_finalize_single_locked",
        "event",
        "a cancelled job sends BLOCK_JOB_COMPLETED instead of BLOCK_JOB_CANCELLED",
        (
            Edit(
                lines("            job_event_cancelled_locked(job);"),
                lines("            job_event_completed_locked(job);"),
            ),
        ),
    ),
    # --- job.c: verbs accepted without their effect ------------------------------------
    Mutant(
        "pause-accepted-never-pauses",
        "job.c",
        "job_user_pause_locked",
        "verb-effect",
        "job-pause sets the user-pause flag but never asks the job to pause",
        (
            Edit(
                lines("    job->user_paused = true;", "    job_pause_locked(job);"),
                lines("    job->user_paused = true;"),
            ),
        ),
    ),
    Mutant(
        "resume-accepted-stays-paused",
        "job.c",
        "job_user_resume_locked",
        "verb-effect",
        "job-resume clears the user-pause flag but never lets the job run",
        (
            Edit(
                lines("    job->user_paused = false;", "    job_resume_locked(job);"),
                lines("    job->user_paused = false;"),
            ),
        ),
    ),
    Mutant(
        "finalize-accepted-does-nothing",
        "job.c",
        "job_finalize_locked",
        "verb-effect",
        "job-finalize checks the verb and returns without finalizing",
        (
            Edit(
                lines("    job_do_finalize_locked(job);", "}"),
                lines("}"),
            ),
        ),
    ),
    Mutant(
        "dismiss-accepted-does-nothing",
        "job.c",
        "job_dismiss_locked",
        "verb-effect",
        "job-dismiss checks the verb and returns without dismissing",
        (
            Edit(
                lines("    job_do_dismiss_locked(job);", "    *jobptr = NULL;"),
                lines("    *jobptr = NULL;"),
            ),
        ),
    ),
    Mutant(
        "already-paused-accepted",
        "job.c",
        "job_user_pause_locked",
        "verb-effect",
        "job-pause of a user-paused job is accepted and stacks a second pause",
        (
            Edit(
                lines(
                    "    if (job->user_paused) {",
                    '        error_setg(errp, "Job is already paused");',
                    "        return;",
                    "    }",
                ),
                "",
            ),
        ),
    ),
    Mutant(
        "cancel-accepted-does-nothing",
        "job.c",
        "job_user_cancel_locked",
        "verb-effect",
        "a user's cancel checks the verb and returns without cancelling",
        (
            Edit(
                lines("    job_cancel_locked(job, force);", "}"),
                lines("}"),
            ),
        ),
    ),
    # --- job.c: automatic steps --------------------------------------------------------
    Mutant(
        "auto-dismiss-never-dismisses",
        "job.c",
        "job_conclude_locked",
        "automatic-step",
        "a concluded job is dismissed only if it never started, whatever its auto-dismiss",
        (
            Edit(
                lines("    if (job->auto_dismiss || !job_started_locked(job)) {"),
                lines("    if (!job_started_locked(job)) {"),
            ),
        ),
    ),
    Mutant(
        "auto-finalize-never-finalizes",
        "job.c",
        "job_needs_finalize_locked",
        "automatic-step",
        "every job is taken to need a manual finalize, so auto-finalize jobs wait in pending",
        (Edit(lines("    return !job->auto_finalize;"), lines("    return 1;")),),
    ),
    # --- job.c: transactions and error text --------------------------------------------
    Mutant(
        "finalize-only-named-job",
        "job.c",
        "job_do_finalize_locked",
        "transaction",
        "job-finalize finalizes the named job only, not its whole transaction",
        (
            Edit(
                lines("        job_txn_apply_locked(job, job_finalize_single_locked);"),
                lines("        job_finalize_single_locked(job);"),
            ),
        ),
    ),
    Mutant(
        "verb-error-text-changed",
        "job.c",
        "job_apply_verb_locked",
        "error-text",
        "the verb error is reworded",
        (
            Edit(
                lines(
                    "    error_setg(errp, \"Job '%s' in state '%s' cannot accept command verb"
                    " '%s'\","
                ),
                lines(
                    "    error_setg(errp, \"Job '%s' in state '%s' does not accept the verb '%s'\","
                ),
            ),
        ),
        survives=(
            "qapi/job.json documents that the verb is refused (a GenericError), not the"
            " words of the error, so no rule can fail; `jobcheck compare` against the"
            " pristine build reports it (exit 1, 203 changed error texts, seed 1)"
        ),
    ),
    # --- job-qmp.c ---------------------------------------------------------------------
    Mutant(
        "job-cancel-is-soft",
        "job-qmp.c",
        "qmp_job_cancel",
        "cancel-mode",
        "job-cancel asks for a soft cancel (a READY mirror then completes instead of aborting)",
        (
            Edit(
                lines("    job_user_cancel_locked(job, true, errp);"),
                lines("    job_user_cancel_locked(job, false, errp);"),
            ),
        ),
    ),
    Mutant(
        "job-not-found-text",
        "job-qmp.c",
        "find_job_locked",
        "error-text",
        "'Job not found' names the id",
        (
            Edit(
                lines('        error_setg(errp, "Job not found");'),
                lines("        error_setg(errp, \"Job '%s' not found\", id);"),
            ),
        ),
        survives=(
            "qapi/job.json documents no text for an unknown job id, so no rule can fail;"
            " `jobcheck compare` against the pristine build reports it (exit 1, 36 changed"
            " error texts, seed 1)"
        ),
    ),
    Mutant(
        "query-standby-shown-as-ready",
        "job-qmp.c",
        "job_query_single_locked",
        "query-field",
        "query-jobs reports a standby job as ready",
        (
            Edit(
                lines("        .status             = job->status,"),
                lines(
                    "        .status             = job->status == JOB_STATUS_STANDBY ?",
                    "                              JOB_STATUS_READY : job->status,",
                ),
            ),
        ),
    ),
    Mutant(
        "query-commit-typed-as-mirror",
        "job-qmp.c",
        "job_query_single_locked",
        "query-field",
        "query-jobs reports commit jobs with type mirror",
        (
            Edit(
                lines("        .type               = job_type(job),"),
                lines(
                    "        .type               = job_type(job) == JOB_TYPE_COMMIT ?",
                    "                              JOB_TYPE_MIRROR : job_type(job),",
                ),
            ),
        ),
    ),
    Mutant(
        "query-progress-frozen",
        "job-qmp.c",
        "job_query_single_locked",
        "query-field",
        "query-jobs always reports current-progress 0",
        (
            Edit(
                lines("        .current_progress   = progress_current,"),
                lines("        .current_progress   = 0,"),
            ),
        ),
    ),
    Mutant(
        "query-no-error-for-cancelled",
        "job-qmp.c",
        "job_query_single_locked",
        "query-field",
        "query-jobs omits the error of a cancelled job",
        (
            Edit(
                lines("        .error              = job->err ?"),
                lines("        .error              = job->err && job->ret != -ECANCELED ?"),
            ),
        ),
    ),
    Mutant(
        "query-hides-concluded",
        "job-qmp.c",
        "qmp_query_jobs",
        "query-field",
        "query-jobs leaves out concluded jobs",
        (
            Edit(
                lines("        if (job_is_internal(job)) {"),
                lines("        if (job_is_internal(job) || job->status == JOB_STATUS_CONCLUDED) {"),
            ),
        ),
    ),
    # --- blockjob.c --------------------------------------------------------------------
    Mutant(
        "set-speed-never-kicks",
        "blockjob.c",
        "block_job_set_speed_locked",
        "automatic-step",
        "raising the speed (or setting 0) no longer wakes a throttled job",
        (
            Edit(
                lines(
                    "    /* kick only if a timer is pending */",
                    "    job_enter_cond_locked(&job->job, job_timer_pending);",
                ),
                "",
            ),
        ),
    ),
    Mutant(
        "cancelled-event-dropped",
        "blockjob.c",
        "block_job_event_cancelled_locked",
        "event",
        "BLOCK_JOB_CANCELLED is never sent",
        (
            Edit(
                lines("    qapi_event_send_block_job_cancelled(job_type(&job->job),"),
                lines("    if (0) qapi_event_send_block_job_cancelled(job_type(&job->job),"),
            ),
        ),
    ),
    Mutant(
        "completed-event-without-error",
        "blockjob.c",
        "block_job_event_completed_locked",
        "event",
        "BLOCK_JOB_COMPLETED of a failed job carries no error",
        (Edit(lines("        msg = error_get_pretty(job->job.err);"), ""),),
    ),
    # --- blockdev.c --------------------------------------------------------------------
    Mutant(
        "block-job-pause-does-nothing",
        "blockdev.c",
        "qmp_block_job_pause",
        "verb-effect",
        "block-job-pause answers success without pausing",
        (
            Edit(
                lines(
                    "    trace_qmp_block_job_pause(job);",
                    "    job_user_pause_locked(&job->job, errp);",
                ),
                lines("    trace_qmp_block_job_pause(job);"),
            ),
        ),
    ),
    Mutant(
        "block-job-not-found-class",
        "blockdev.c",
        "find_block_job_locked",
        "error-text",
        "an unknown block job is a GenericError instead of DeviceNotActive",
        (
            Edit(
                lines(
                    "        error_set(errp, ERROR_CLASS_DEVICE_NOT_ACTIVE,",
                    "                  \"Block job '%s' not found\", id);",
                ),
                lines("        error_setg(errp, \"Block job '%s' not found\", id);"),
            ),
        ),
    ),
    Mutant(
        "grouped-transaction-ignored",
        "blockdev.c",
        "qmp_transaction",
        "transaction",
        "completion-mode grouped is checked but no job transaction is made",
        (
            Edit(
                lines("        block_job_txn = job_txn_new();"),
                lines("        block_job_txn = NULL;"),
            ),
        ),
    ),
    # --- block/mirror.c ----------------------------------------------------------------
    Mutant(
        "mirror-complete-does-nothing",
        "block/mirror.c",
        "mirror_complete",
        "verb-effect",
        "job-complete of a READY mirror is accepted but never completes it",
        (
            Edit(
                lines(
                    "    s->should_complete = true;",
                    "",
                    "    /* If the job is paused, it will be re-entered when it is resumed */",
                ),
                lines(
                    "", "    /* If the job is paused, it will be re-entered when it is resumed */"
                ),
            ),
        ),
    ),
    Mutant(
        "mirror-never-ready",
        "block/mirror.c",
        "mirror_run",
        "automatic-step",
        "a mirror that has caught up never goes to ready",
        (
            Edit(
                lines("                job_transition_to_ready(&s->common.job);"),
                "",
            ),
        ),
    ),
    Mutant(
        "mirror-hard-cancel-is-soft",
        "block/mirror.c",
        "mirror_cancel",
        "cancel-mode",
        "a force cancel of a READY mirror is treated as a soft cancel",
        (Edit(_MIRROR_CANCEL_FORCE, lines("    force = !job_is_ready(job);")),),
    ),
    Mutant(
        "mirror-soft-cancel-is-hard",
        "block/mirror.c",
        "mirror_cancel",
        "cancel-mode",
        "a soft cancel of a READY mirror aborts it instead of completing without pivot",
        (Edit(_MIRROR_CANCEL_FORCE, lines("    force = true;")),),
    ),
    # --- block/backup.c ----------------------------------------------------------------
    Mutant(
        "backup-soft-cancel-ignored",
        "block/backup.c",
        "backup_cancel",
        "cancel-mode",
        "backup reports a soft cancel as soft, so block-job-cancel leaves it running",
        (
            Edit(
                lines("    bdrv_cancel_in_flight(s->target_bs);", "    return true;"),
                lines("    bdrv_cancel_in_flight(s->target_bs);", "    return force;"),
            ),
        ),
    ),
    Mutant(
        "backup-cancel-never-noticed",
        "block/backup.c",
        "backup_loop",
        "verb-effect",
        "the backup loop waits for the copy without checking for a cancel",
        (
            Edit(
                lines(
                    "        while (!block_copy_call_finished(s) &&",
                    "               !job_is_cancelled(&job->common.job))",
                ),
                lines("        while (!block_copy_call_finished(s))"),
            ),
        ),
        survives=(
            "QEMU stops answering its monitor once job-cancel is sent to a held backup (no"
            " reply within the 10 s timeout): a target failure (exit 3) that names that"
            " command, not a conformance verdict"
        ),
    ),
    # --- block/stream.c, block/commit.c ------------------------------------------------
    Mutant(
        "stream-typed-as-commit",
        "block/stream.c",
        "stream_job_driver",
        "query-field",
        "the stream driver declares the job type commit",
        (
            Edit(
                lines("        .job_type      = JOB_TYPE_STREAM,"),
                lines("        .job_type      = JOB_TYPE_COMMIT,"),
            ),
        ),
    ),
    Mutant(
        "stream-progress-frozen",
        "block/stream.c",
        "stream_run",
        "query-field",
        "stream never publishes its progress",
        (
            Edit(
                lines(
                    "        /* Publish progress */",
                    "        job_progress_update(&s->common.job, n);",
                ),
                lines("        /* Publish progress */"),
            ),
        ),
    ),
    Mutant(
        "commit-progress-frozen",
        "block/commit.c",
        "commit_run",
        "query-field",
        "commit never publishes its progress",
        (
            Edit(
                lines(
                    "        /* Publish progress */",
                    "        job_progress_update(&s->common.job, n);",
                ),
                lines("        /* Publish progress */"),
            ),
        ),
    ),
)


def by_id(mutant_id: str) -> Mutant:
    """The catalogued mutant ``mutant_id`` (KeyError if there is none)."""
    for mutant in CATALOGUE:
        if mutant.id == mutant_id:
            return mutant
    raise KeyError(mutant_id)


def files() -> tuple[str, ...]:
    """The source files the catalogue touches, sorted.

    >>> "job.c" in files()
    True
    """
    return tuple(sorted({mutant.file for mutant in CATALOGUE}))
