"""The oracle's checks of commands and their responses: starts and verbs.

Start commands announce jobs (their type and options).  A verb response,
paired with its command, must be an outcome that QEMU gives
(:func:`jobcheck.model.semantics.apply_verb`) for some status in the job's
window and some value of the flags the oracle does not know; if only statuses
the job has not reported yet explain it, the job must pass through one of
them later (an obligation).  Outcomes that QEMU gives against its
documentation are reported as known divergences.

A refusal whose text names the job (``Job 'j' in state 's' cannot accept
command verb 'v'``, ``… is currently paused``, ``… cannot be completed``,
``Block job 'j' not found``) is checked from its text alone when its command
is missing, and always in a per-job log, where pairing by order is unsafe;
acceptances are checked in wire order only.

Part of :class:`jobcheck.conformance.oracle.Oracle`.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from jobcheck.conformance.oracle.core import (
    MAX_GONE_JOBS,
    MAX_PENDING_COMMANDS,
    OracleCore,
    PendingCommand,
    names,
)
from jobcheck.conformance.oracle.job_state import JobState, Obligation, abstract_jobs
from jobcheck.conformance.trace.job_commands import StartInfo, VerbCall, classify
from jobcheck.conformance.trace.records import Command, QmpError, Response
from jobcheck.model.lifecycle import Status, Verb
from jobcheck.model.rules import RuleId
from jobcheck.model.semantics import (
    REFUSAL_RULE,
    VERB_TABLE_RULE,
    AbstractJob,
    Outcome,
    Refusal,
    apply_verb,
    command_name,
    parse_error,
)
from jobcheck.model.status_letters import E, N, U

#: The most verb outcomes the oracle keeps cached.
_MAX_CACHED = 4096
#: The placeholder job id of cached outcomes.
_NAME = "\x00job\x00"

OutcomeKey = tuple[bool, str | None, str | None]
Outcomes = dict[OutcomeKey, list[tuple[Status, Outcome]]]


_EFFECTS: dict[Verb, tuple[RuleId, frozenset[Status]]] = {
    Verb.PAUSE: (RuleId.JOB_PAUSE_PAUSES, frozenset({Status.PAUSED, Status.STANDBY})),
    Verb.RESUME: (RuleId.JOB_RESUME_RESUMES, frozenset({Status.RUNNING, Status.READY})),
    Verb.COMPLETE: (
        RuleId.JOB_COMPLETE_COMPLETES,
        frozenset({Status.WAITING, Status.PENDING, Status.CONCLUDED, Status.NULL}),
    ),
    Verb.FINALIZE: (RuleId.JOB_FINALIZE_CONCLUDES, frozenset({Status.CONCLUDED, Status.NULL})),
}
"""Per verb, the eventual rule about its effect and the statuses that show the effect: an
accepted verb whose job is in one of them when the answer comes put the rule to the test
(and kept it) without a wait."""


def command_text(call: VerbCall) -> str:
    """``job-pause j0``, ``block-job-cancel j0 force=false``."""
    extra = f" force={str(call.force).lower()}" if call.force is not None else ""
    return f"{command_name(call.verb, call.family)} {call.job_id}{extra}"


def describe_key(key: OutcomeKey) -> str:
    """``accepted`` or ``refused (Class: text)``."""
    accepted, error_class, error = key
    return "accepted" if accepted else f"refused ({error_class}: {error})"


def describe(outcomes: Outcomes) -> str:
    """The outcomes the model allows, in one line."""
    texts = sorted(describe_key(key) for key in outcomes)
    if len(texts) > 3:
        texts = [*texts[:3], f"... ({len(texts) - 3} more)"]
    return " or ".join(texts) if texts else "nothing"


def _agreed(values: set[bool]) -> bool | None:
    return next(iter(values)) if len(values) == 1 else None


class VerbChecks(OracleCore):
    """Command bookkeeping and verb-response checks."""

    # --- commands ---------------------------------------------------------------------

    def _on_command(self, command: Command) -> None:
        if not self._commands_seen:
            self._first_command = self._index
        self._commands_seen = True
        meaning = classify(command.execute, command.arguments)
        pending = PendingCommand(command, self._index, meaning.kind, meaning.starts, meaning.verb)
        if meaning.kind == "start":
            for info in meaning.starts:
                self._announce(info)
        elif meaning.kind == "verb" and meaning.verb is not None:
            pending.job = self._verb_sent(meaning.verb)
        elif meaning.kind == "wild":
            for job in self._jobs.values():
                job.forget_commands()
        if command.id is not None:
            self._by_id[command.id] = pending
            while len(self._by_id) > MAX_PENDING_COMMANDS:
                self._drop_pending(self._by_id.popitem(last=False)[1])
        else:
            self._fifo.append(pending)
            while len(self._fifo) > MAX_PENDING_COMMANDS:
                self._drop_pending(self._fifo.popleft())

    def _drop_pending(self, pending: PendingCommand) -> None:
        """A command that will never be paired: whatever it did is unknown."""
        job = pending.job
        if job is not None:
            job.pending = max(0, job.pending - 1)
            job.cancels = 0
            job.forget_commands()

    def _announce(self, info: StartInfo) -> None:
        job = self._jobs.get(info.id)
        if job is None:
            self._failed_starts.pop(info.id, None)
            self._new_job(info.id, info, U)
        elif job.status is U and not job.instance:
            self._apply_info(job, info)
        else:
            job.next_start = info

    def _verb_sent(self, call: VerbCall) -> JobState | None:
        job = self._jobs.get(call.job_id) if call.job_id is not None else None
        if job is None:
            return None
        job.pending += 1
        verb = call.verb
        if verb is Verb.CANCEL:
            job.cancels += 1
        elif verb is Verb.FINALIZE:
            # A finalize's events can come before its return: assume it from when it is sent.
            job.finalize_requested = True
            for other in self._jobs.values():
                if other is job or other.finalize_requested:
                    continue
                if job.grouped and other.id in job.partners:
                    other.finalize_requested = True
                elif job.grouped is None or other.grouped is None:
                    other.finalize_requested = None
        elif verb is Verb.DISMISS:
            job.dismiss_requested = True
        return job

    def _start_failed(self, starts: Iterable[StartInfo]) -> None:
        """A start command was refused: jobs it announced but did not create never exist."""
        for info in starts:
            job = self._jobs.get(info.id)
            if job is not None and job.status is U:
                del self._jobs[info.id]
                self._failed_starts[info.id] = info
                while len(self._failed_starts) > MAX_GONE_JOBS:
                    self._failed_starts.popitem(last=False)
            elif job is not None and job.next_start is info:
                job.next_start = None

    def _start_accepted(self, starts: Iterable[StartInfo]) -> None:
        """Per-job order: an accepted start command created its jobs.

        QEMU refuses a job id that is in use (``job_create`` in job.c), so an earlier
        instance under the same id is gone, whatever the log showed of its end; the new
        instance's status is unknown until its events say (it may have none in the log).
        """
        for info in starts:
            job = self._jobs.get(info.id)
            if job is None:
                job = self._new_job(info.id, info, U)
            elif job.next_start is info:
                job = self._restart(job)
            self._begin_instance(job)

    def _verb_answered(self, pending: PendingCommand, response: Response) -> None:
        call = pending.verb
        assert call is not None
        job = pending.job
        if job is None and call.job_id is not None:
            job = self._jobs.get(call.job_id)
        if job is not None:
            job.pending = max(0, job.pending - 1)
            if call.verb is Verb.CANCEL:
                job.cancels = max(0, job.cancels - 1)
        if self.wire:
            self._check_verb(call, job, response, pending.index)
        elif response.error is not None:
            self._text_refusal(response.error, pending.index)
        elif call.job_id is not None:
            self._accepted_per_job(job, call.job_id, call.verb, pending.index)

    def _accepted_per_job(
        self, sent_to: JobState | None, job_id: str, verb: Verb, since: int
    ) -> None:
        """Per-job order: what an accepted verb (sent at record ``since`` to the instance
        ``sent_to``) tells of the job.

        QEMU accepts a verb only for a job that exists, so an id with no instance known
        names one whose start was not logged: its status is unknown.  An instance that
        ended before the verb was sent (dismissed, or concluded and the verb one that a
        concluded job refuses) had given its id to a new instance, of unknown status too.
        A dismiss ends the instance it reaches.
        """
        job = self._jobs.get(job_id)
        if sent_to is not None and job is not sent_to:
            return  # a start command or a status event replaced the instance meanwhile
        if job is None:
            job = self._adopt(job_id, None)
        elif (
            job.ended_at is not None
            and job.ended_at < since
            and (job.dismissed or not self.model.permits(verb, E))
        ):
            del self._jobs[job_id]
            job = self._adopt(job_id, None)
        if verb is Verb.DISMISS:
            job.dismissed = True
            if job.ended_at is None:
                job.ended_at = self._index

    # --- paired verb responses (wire order) -------------------------------------------

    def _check_verb(
        self, call: VerbCall, job: JobState | None, response: Response, since: int
    ) -> None:
        if call.job_id is None:
            return  # no usable id: QEMU's argument checks answer, not the job engine
        job_id = call.job_id
        error = response.error
        if error is not None and parse_error(error.desc) is None:
            return  # not a job-engine refusal (e.g. "Parameter 'speed' is unexpected")
        key: OutcomeKey = (
            (True, None, None) if error is None else (False, error.error_class, error.desc)
        )
        observed = "accepted" if error is None else f"refused ({error.error_class}: {error.desc})"
        command = command_text(call)
        parsed = parse_error(error.desc) if error is not None else None
        statuses: frozenset[Status]
        if parsed is not None and parsed.refusal is Refusal.VERB:
            stated = self._stated_status(parsed.status, parsed.verb, job, command, observed, since)
            if stated is None:
                return
            statuses = frozenset({stated})
        elif job is None:
            statuses = frozenset({N})
        else:
            statuses = self._window(job, since)
            if U in statuses:
                statuses |= {N}
        outcomes = self._outcomes(job, job_id, statuses, call)
        self._exercise_verb(call, outcomes)
        matched = outcomes.get(key)
        gone = self._gone.get(job_id) if job is None else None
        if gone is not None and gone.index < since:
            # A job that reached null before the command: QEMU must answer as for no job.
            after_null = RuleId.STATUS_NOTHING_AFTER_NULL
            if gone.dismissed:
                after_null = RuleId.JOB_DISMISS_REMOVES_JOB
            self._exercise(after_null)
        if not matched:
            if gone is not None and gone.index < since:
                rule = after_null
                self._emit(
                    rule,
                    job_id,
                    f"{command} after the job reached null",
                    describe(outcomes),
                    observed,
                )
                return
            at_send = job.status_at(since) if job is not None else None
            rule = self._mismatch_rule(call, error, outcomes, at_send)
            where = "" if job is None or job.status is None else f" (last status {job.status})"
            self._emit(rule, job or job_id, f"{command}{where}", describe(outcomes), observed)
            if job is not None:
                job.forget_commands()
            return
        if job is None:
            return
        knowns = {outcome.known for _, outcome in matched}
        if len(knowns) == 1:
            known = knowns.pop()
            if known is not None:
                where = " or ".join(sorted({s.value for s, _ in matched}))
                kind = f"{job.type.value} " if job.type is not None else ""
                self._emit_known(known, job, f"{command} to a {kind}job in {where}", observed)
        self._after_verb(job, call, [outcome for _, outcome in matched])
        if job.error_stop_at > since:
            # An I/O error paused the job (a user pause) while the command was on its way:
            # before or after the command took effect, the events cannot tell.
            job.user_paused = None
        ok = frozenset(status for status, _ in matched)
        if job.status is not None and not (ok & job.statuses_since(since)):
            self._oblige(job, ok, call, command, observed, outcomes)

    def _exercise_verb(self, call: VerbCall, outcomes: Outcomes) -> None:
        """The rules a verb's answer is judged by: the verb table, and the rule of every
        outcome (or known divergence) the model allows for some status the job may be in
        (kept with the cached outcomes they come from)."""
        rules = self._stakes.get(self._outcomes_key)
        if rules is None:
            found = {RuleId.VERB_PERMISSION_TABLE}
            found.add(VERB_TABLE_RULE.get(call.verb, RuleId.VERB_PERMISSION_TABLE))
            for pairs in outcomes.values():
                for _, outcome in pairs:
                    if outcome.rule is not None:
                        found.add(outcome.rule)
                    if outcome.known is not None:
                        found.add(outcome.known)
            rules = self._stakes[self._outcomes_key] = frozenset(found)
        self.exercised |= rules

    def _outcomes(
        self, job: JobState | None, job_id: str, statuses: frozenset[Status], call: VerbCall
    ) -> Outcomes:
        """What QEMU may answer, for each status and every value of the unknown flags.

        The outcomes are computed for a placeholder job id and cached (traces repeat
        the same cases); the keys carry the real id.
        """
        anonymous = replace(call, job_id=_NAME)
        if job is None:
            knowledge: tuple[object, ...] = ()
        else:
            busy = job.pending > 0
            knowledge = (
                job.type,
                job.ready_phase,
                job.block_job,
                None if busy else job.user_paused,
                None if busy else job.cancel_requested,
                job.auto_finalize,
            )
        key = self._outcomes_key = (statuses, knowledge, anonymous)
        cached = self._verb_cache.get(key)
        if cached is None:
            if len(self._verb_cache) >= _MAX_CACHED:
                self._verb_cache.clear()
                self._stakes.clear()
            cached = self._verb_cache[key] = self._compute_outcomes(job, statuses, anonymous)
        found: Outcomes = {}
        for (accepted, error_class, error), pairs in cached.items():
            if error is not None:
                error = error.replace(_NAME, job_id)
            found[(accepted, error_class, error)] = pairs
        return found

    def _compute_outcomes(
        self, job: JobState | None, statuses: frozenset[Status], call: VerbCall
    ) -> Outcomes:
        found: Outcomes = {}
        for status in statuses:
            candidates: Iterable[AbstractJob | None]
            if job is None or status in (U, N):
                candidates, shown = (None,), N
            else:
                candidates, shown = abstract_jobs(job, status, call.verb, name=_NAME), status
            for candidate in candidates:
                outcome = apply_verb(
                    self.model,
                    candidate,
                    call.verb,
                    call.family,
                    call.force,
                    job_id=_NAME,
                    speed=call.speed,
                    copy_mode=call.copy_mode,
                    then=False,
                )
                found.setdefault(outcome.key, []).append((shown, outcome))
        return found

    def _stated_status(
        self,
        status_name: str | None,
        verb_name: str | None,
        job: JobState | None,
        command: str,
        observed: str,
        since: int,
    ) -> Status | None:
        """The state a verb-table refusal names, checked; ``None`` if that is a divergence."""
        self._exercise(RuleId.QAPI_MEMBERS_KNOWN, RuleId.VERB_PERMISSION_TABLE)
        try:
            stated = Status(str(status_name))
            verb = Verb(str(verb_name))
        except ValueError:
            self._emit(
                RuleId.QAPI_MEMBERS_KNOWN,
                job,
                f"{command} names state {status_name!r} and verb {verb_name!r}",
                "the JobStatus and JobVerb members of the model",
                observed,
            )
            return None
        if verb not in self.model.permitted:
            self._emit(
                RuleId.QAPI_MEMBERS_KNOWN,
                job,
                f"{command} names verb {verb.value!r}",
                f"the verbs of model {self.model.version}",
                observed,
            )
            return None
        if self.model.permits(verb, stated):
            self._emit(
                RuleId.VERB_PERMISSION_TABLE,
                job,
                f"{command} refused with the verb error in state {stated.value!r}",
                f"{verb.value} in {stated.value} (the verb table permits it)",
                observed,
            )
            return None
        if job is not None and job.status is not None:
            self._exercise(RuleId.STATUS_TRANSITION_TABLE)
            window = self._window(job, since)
            if stated not in window:
                self._emit(
                    RuleId.STATUS_TRANSITION_TABLE,
                    job,
                    f"{command} says the job is in {stated.value!r}, but its events"
                    f" last reported {job.status.value!r}",
                    "a state in " + names(window),
                    observed,
                )
                return None
        return stated

    def _mismatch_rule(
        self,
        call: VerbCall,
        error: QmpError | None,
        outcomes: Outcomes,
        at_send: Status | None,
    ) -> RuleId:
        """The rule an unexplained outcome breaks.

        A refusal breaks the rule of its own text; an acceptance breaks the rule of the
        refusal the model gives — in the status the job had when the command was sent if
        that decides it, else the rule most of the possible refusals share.
        """
        if error is not None:
            parsed = parse_error(error.desc)
            if parsed is None:
                return RuleId.VERB_PERMISSION_TABLE
            if parsed.refusal is Refusal.VERB:
                return VERB_TABLE_RULE.get(call.verb, RuleId.VERB_PERMISSION_TABLE)
            return REFUSAL_RULE[parsed.refusal]
        here = at_send
        counts: dict[RuleId, int] = {}
        at_status: set[RuleId] = set()
        for pairs in outcomes.values():
            for status, outcome in pairs:
                if outcome.rule:
                    counts[outcome.rule] = counts.get(outcome.rule, 0) + 1
                    if status is here:
                        at_status.add(outcome.rule)
        if len(at_status) == 1:
            return at_status.pop()
        if counts:
            return max(sorted(counts), key=counts.__getitem__)
        return VERB_TABLE_RULE.get(call.verb, RuleId.VERB_PERMISSION_TABLE)

    def _oblige(
        self,
        job: JobState,
        ok: frozenset[Status],
        call: VerbCall,
        command: str,
        observed: str,
        outcomes: Outcomes,
    ) -> None:
        """Only statuses not reported yet explain the outcome: the job must reach one."""
        here = [(k, o) for k, pairs in outcomes.items() for s, o in pairs if s is job.status]
        rules = {o.rule for _, o in here if o.rule}
        if len(rules) == 1:
            rule = rules.pop()
        else:
            rule = VERB_TABLE_RULE.get(call.verb, RuleId.VERB_PERMISSION_TABLE)
        divergence = self._divergence(
            rule,
            job.id,
            f"{command} (last status {job.status}) is explained only if the job was in"
            f" {names(ok)}, but its events never pass through it",
            " or ".join(sorted({describe_key(k) for k, _ in here})) or "another outcome",
            observed,
        )
        self._add_obligation(job, Obligation(ok, divergence))

    def _after_verb(self, job: JobState, call: VerbCall, outcomes: list[Outcome]) -> None:
        """Learn the job's flags from the outcomes that match what QEMU answered.

        A flag is set where every matching outcome agrees on it; where they do not,
        it stays as it was, unless the command changed it (then it becomes unknown).
        """
        verb = call.verb
        states = [o.job for o in outcomes if o.job is not None]
        users = {a.user_paused for a in states}
        accepted = outcomes[0].accepted
        if verb in (Verb.PAUSE, Verb.RESUME, Verb.CANCEL, Verb.COMPLETE) and len(users) == 1:
            job.user_paused = users.pop()
        elif accepted and verb in (Verb.PAUSE, Verb.RESUME, Verb.CANCEL):
            job.user_paused = None
        if accepted:
            effect = _EFFECTS.get(verb)
            if effect is not None and job.status in effect[1]:
                self.exercised.add(effect[0])  # its effect came before its answer: kept
        if not accepted:
            if verb is Verb.COMPLETE and job.pending == 0:
                cancels = {a.cancel_requested for a in states}
                if len(cancels) == 1:
                    job.cancel_requested = cancels.pop()
            return
        if verb is Verb.CANCEL:
            job.cancel_requested = _agreed({a.cancel_requested for a in states})
            job.force_cancel = _agreed({a.force_cancel for a in states})
            job.should_complete = _agreed({a.should_complete for a in states})
            if job.force_cancel and job.concluded_after_cancel:
                self._emit(
                    RuleId.JOB_CANCEL_ABORTS,
                    job,
                    f"{command_text(call)} was accepted, but the job concluded from pending"
                    " after it was sent",
                    "aborting, then concluded",
                    "pending -> concluded",
                )
            job.concluded_after_cancel = False
        elif verb is Verb.COMPLETE:
            job.should_complete = True
        elif verb is Verb.DISMISS:
            job.dismissed_at = self._index
            job.dismiss_requested = True
            self._exercise(RuleId.STATUS_NULL_NEVER_VISIBLE)
        elif verb is Verb.FINALIZE:
            job.finalize_requested = True
            job.finalize_accepted = True
            if job.grouped:
                for name in job.partners:
                    partner = self._jobs.get(name)
                    if partner is not None:
                        partner.finalized_at = self._index
                        partner.finalize_accepted = True
        elif verb is Verb.SET_SPEED:
            job.released = None if call.speed is None else call.speed == 0

    # --- refusals checked from their text ---------------------------------------------

    def _text_refusal(self, error: QmpError, since: int) -> None:
        """A refusal seen without its command, or in a per-job log: check what its text says."""
        parsed = parse_error(error.desc)
        if parsed is None or parsed.job_id is None:
            return
        job = self._jobs.get(parsed.job_id)
        observed = f"refused ({error.error_class}: {error.desc})"
        self._exercise(REFUSAL_RULE[parsed.refusal])
        if parsed.refusal is Refusal.VERB:
            command = f"verb {parsed.verb!r} for {parsed.job_id!r}"
            stated = self._stated_status(parsed.status, parsed.verb, job, command, observed, since)
            if (
                stated is not None
                and job is not None
                and parsed.verb == Verb.RESUME.value
                and job.user_paused is False
                and job.pending == 0
            ):
                self._emit(
                    RuleId.JOB_RESUME_NOT_PAUSED_IS_ERROR,
                    job,
                    "resume of a job that is not user-paused got the verb error",
                    "refused (GenericError: Can't resume a job that was not paused)",
                    observed,
                )
        elif job is None:
            return
        elif parsed.refusal is Refusal.CURRENTLY_PAUSED:
            self._text_currently_paused(job, observed)
        elif parsed.refusal is Refusal.CANNOT_COMPLETE:
            self._text_cannot_complete(job, observed, since)
        elif parsed.refusal is Refusal.BLOCK_NOT_FOUND:
            self._text_block_not_found(job, observed, since)

    def _text_currently_paused(self, job: JobState, observed: str) -> None:
        if job.user_paused is False and job.pending == 0:
            self._emit(
                RuleId.JOB_PAUSE_CANCEL_RESUMES,
                job,
                "block-job-cancel of a job that is not user-paused",
                "accepted, or the verb error",
                observed,
            )
        else:
            self._emit_known(
                RuleId.JOB_PAUSE_CANCEL_RESUMES,
                job,
                f"block-job-cancel without force of a user-paused job (last status {job.status})",
                observed,
            )

    def _text_cannot_complete(self, job: JobState, observed: str, since: int) -> None:
        window = self._window(job, since)
        completable = self.model.permitted.get(Verb.COMPLETE, frozenset())
        if job.status is not None and not window & completable:
            self._emit(
                RuleId.VERB_PERMISSION_TABLE,
                job,
                f"complete refused with 'cannot be completed' (last status {job.status})",
                "the verb error (complete is not permitted in " + names(window) + ")",
                observed,
            )

    def _text_block_not_found(self, job: JobState, observed: str, since: int) -> None:
        if job.block_job is False:
            self._emit_known(
                RuleId.BLOCK_JOB_DEVICE_NOT_ACTIVE,
                job,
                f"a block-job command for the existing {job.type or 'non-block'} job"
                f" (last status {job.status})",
                observed,
            )
        elif self.wire and job.block_job and N not in self._window(job, since):
            window = self._window(job, since)
            self._emit(
                RuleId.BLOCK_JOB_DEVICE_NOT_ACTIVE,
                job,
                f"a block-job command refused for a live block job (last status {job.status})",
                "the verb's outcome in " + names(window),
                observed,
            )

    def _unattributed_acceptance(self) -> None:
        """An acceptance of a command not in the trace: it may have been a verb for any job."""
        for job in self._jobs.values():
            job.forget_commands()
