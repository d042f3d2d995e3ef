"""The oracle: check a trace of what QEMU said against the model, record by record.

:func:`check` is a pure function of a trace (and a model version) to the list
of :class:`Divergence`\\ s.  It is built on :class:`Oracle`, which takes one
record at a time (:meth:`Oracle.feed`) so that a live run is checked as it
goes, and keeps only what it needs: the state of each job not yet gone, a
bounded table of commands waiting for their responses, and a bounded memory of
recently gone job ids.  Memory does not grow with the length of a trace.

What is checked, each check naming its rule of :mod:`jobcheck.model.rules`:

* status events (:mod:`.events`): each job's ``JOB_STATUS_CHANGE``
  sequence follows the model's transitions; visibility of ``undefined``,
  ``null`` and ``waiting``; ``ready`` only for jobs with a ready phase;
  manual finalize and dismiss;
* block-job events (:mod:`.events`): ``BLOCK_JOB_READY``,
  ``BLOCK_JOB_PENDING``, one ``BLOCK_JOB_COMPLETED``/``CANCELLED`` per job,
  none for create/amend/snapshot jobs;
* verb responses (:mod:`.verbs`), paired with their commands by QMP id
  (else in order): the outcome QEMU gives for some status the job may be in,
  with QEMU's exact error text;
* query-jobs snapshots (:mod:`.queries`): known, live jobs, in a status
  their history allows, with monotonic progress, a truthful ``error`` and the
  started type;
* QEMU crashes: a note with a ``crash`` member (a driver saw QEMU die of a
  fatal signal or a failed assertion) is a divergence of ``qemu.no-abort``;
* eventual effects (:mod:`.eventually`): a job that must move on by itself
  (after an accepted pause, resume, complete, finalize, dismiss or cancel;
  aborting; auto-finalize; auto-dismiss; running unthrottled) does — decided
  from the verdicts of the driver's waits, recorded in the trace
  (:meth:`Oracle.awaiting` says which jobs to wait for).

**The asynchronous window.**  The order of a command's return and the events
it causes is not stable across QEMU versions, and events of a job's internal
steps (a drained section, its work converging or ending) may still be on their
way when a response arrives.  So at a response the oracle does not take the
job's last reported status as *the* status: it takes every status reported
since the command was sent, and every status reachable from the last one by
silent steps (by any step while other commands for the job are unanswered or
after a command with unknown effects such as ``quit``).  A response is a
divergence only when no status of that set explains it.  When only statuses
the job has not reported yet explain it, the job's later events must pass
through one of them (an obligation), and the divergence is reported (at the
response) as soon as they provably cannot.

**Trace order.**  In a ``per-job`` trace (qemu-iotests output, see
:class:`~jobcheck.conformance.trace.records.Meta`) responses may be logged before the
events that preceded them, commands are often absent and the log may leave
events out.  There the oracle treats any status reachable from the last one
as possible, infers a status from a ``BLOCK_JOB_*`` event that implies it
(``BLOCK_JOB_READY`` means ``ready``), checks refusals from their text only,
and skips the checks that need the wire order: acceptances of forbidden
verbs, obligations, what a command caused, jobs absent from query-jobs, and
missing completion events.  Job ids are reused there, and a job's end is
often not logged, so an instance ends — and its id names a new one — on a
sign: an accepted start command naming the id (QEMU refuses an id in use),
a ``created`` after the instance ended or after such a command, an accepted
dismiss (the dismissed instance may log only its ``null`` after it), or a verb
accepted after the instance ended that a concluded job refuses.  A job known
only from a start command or a verb (its events not logged) counts as a job
instance, of unknown status.

A ``Note`` whose text starts with ``reset:`` (a new QEMU instance or test
case) makes the oracle forget every job.

**Exercise.**  Besides the divergences, the oracle collects the rules whose
checks met a record on which they could have failed (:attr:`Oracle.exercised`:
a verb answer judged against outcomes that rule decides, a status event after
``standby``, a second ``current-progress`` of a job, …).  A report calls a rule
*passed* only if it was exercised; one never exercised has no verdict.

A known divergence's message says what happened and in which status, what
QEMU did, and what the documentation says instead; a new one's, what the model
allows and what QEMU did.  Neither repeats the rule id: every consumer prints
it beside the message.

Example::

    >>> from jobcheck.conformance.trace.records import Event
    >>> from jobcheck.model.lifecycle import MODELS
    >>> def jsc(status):
    ...     return Event("JOB_STATUS_CHANGE", {"id": "j", "status": status})
    >>> trace = [jsc("created"), jsc("running"), jsc("created")]
    >>> [str(d.rule) for d in check(trace, MODELS["7.2"])]
    ['status.transition-table']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jobcheck.conformance.oracle.divergence import Divergence, Indeterminate
from jobcheck.conformance.oracle.events import BLOCK_EVENTS, EventChecks
from jobcheck.conformance.oracle.eventually import Awaited, EventualChecks
from jobcheck.conformance.oracle.queries import QueryChecks, is_job_info
from jobcheck.conformance.oracle.verbs import VerbChecks
from jobcheck.conformance.trace.qmp_messages import JOB_STATUS_CHANGE
from jobcheck.conformance.trace.records import Command, Event, Meta, Note, Record, Response
from jobcheck.model.lifecycle import Model
from jobcheck.model.rules import RuleId


class Oracle(EventualChecks, VerbChecks, QueryChecks, EventChecks):
    """Checks one trace incrementally: :meth:`feed` each record, then :meth:`finish`.

    ``meta`` gives the trace's order (``wire`` when ``None``); ``path`` is put
    in every divergence.  :attr:`records` counts the records fed and
    :attr:`jobs` the job instances seen.
    """

    def feed(self, record: Record) -> list[Divergence]:
        """Check one record: the divergences it reveals (some may be about earlier records)."""
        self._out = []
        self._index = self.records
        if self.records == 0:
            self._check_schema_members()
        self.records += 1
        self._line = record.line
        if isinstance(record, Event):
            if record.event == JOB_STATUS_CHANGE:
                self._on_status_change(record.data)
            elif record.event in BLOCK_EVENTS:
                self._on_block_event(record.event, record.data)
        elif isinstance(record, Response):
            self._on_response(record)
        elif isinstance(record, Command):
            self._on_command(record)
        elif isinstance(record, Note):
            if record.text.startswith("reset:"):
                self.reset()
            elif record.wait is not None:
                self._waited(record.wait)
            elif record.crash is not None:
                self._crashed(record.crash)
        return self._out

    def _crashed(self, crash: dict[str, Any]) -> None:
        """QEMU crashed (a note's ``crash`` member): rule ``qemu.no-abort``."""
        job = crash.get("job")
        self._emit(
            RuleId.QEMU_NO_ABORT,
            job if isinstance(job, str) else None,
            f"QEMU crashed: {crash.get('message') or crash.get('outcome')}",
            "QEMU keeps running",
            str(crash.get("outcome") or "crashed"),
        )

    def _check_schema_members(self) -> None:
        """Enum members the target's QAPI schema has (trace metadata ``schema_members``,
        from ``query-qmp-schema``) that the model does not know."""
        members = self.meta.extra.get("schema_members") if self.meta is not None else None
        if not isinstance(members, dict):
            return
        known = {
            "JobStatus": {s.value for s in self.model.statuses},
            "JobVerb": {v.value for v in self.model.verbs},
            "JobType": {t.value for t in self.model.job_types},
        }
        for enum, names in sorted(members.items()):
            if enum not in known or not isinstance(names, list):
                continue
            for name in names:
                if str(name) not in known[enum]:
                    self._emit(
                        RuleId.QAPI_MEMBERS_KNOWN,
                        None,
                        f"QEMU's schema has {enum} member {name!r}",
                        f"one of the model {self.model.version} {enum} members",
                        f"{enum}.{name}",
                    )

    def finish(self) -> list[Divergence]:
        """What only the end of the trace reveals: nothing, since a trace may stop anywhere.

        Open obligations are dropped: the events that would settle them may
        simply not have been recorded.
        """
        self.reset()
        return []

    def _on_response(self, response: Response) -> None:
        pending = None
        if response.id is not None:
            pending = self._by_id.pop(response.id, None)
        elif self._fifo:
            pending = self._fifo.popleft()
        if pending is None:
            self._unpaired(response)
        elif pending.kind == "verb" and pending.verb is not None:
            self._verb_answered(pending, response)
        elif pending.kind == "query" and isinstance(response.value, list):
            self._check_query(response.value, pending.index, complete=True)
        elif pending.kind == "start" and response.error is not None:
            self._start_failed(pending.starts)
        elif pending.kind == "start" and not self.wire:
            self._start_accepted(pending.starts)

    def _unpaired(self, response: Response) -> None:
        if response.error is not None:
            self._text_refusal(response.error, self._index)
            return
        value = response.value
        if isinstance(value, list) and value and all(is_job_info(v) for v in value):
            self._check_query(value, self._index, complete=True)
        elif value == {}:
            self._unattributed_acceptance()


def check(
    records: Iterable[Record],
    model: Model,
    meta: Meta | None = None,
    *,
    path: str | None = None,
) -> list[Divergence]:
    """Every divergence of a trace from ``model`` (see the module docstring), in trace order.

    ``records`` is consumed lazily, once; ``meta`` gives the order of the trace
    (``wire`` when ``None``); ``path`` is put in every divergence.
    """
    oracle = Oracle(model, meta, path=path)
    out: list[Divergence] = []
    for record in records:
        out.extend(oracle.feed(record))
    out.extend(oracle.finish())
    return out


__all__ = ["Awaited", "Divergence", "Indeterminate", "Oracle", "check"]
