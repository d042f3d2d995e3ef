"""The oracle on traces recorded from a real QEMU: Debian's qemu-storage-daemon 7.2.22.

``tests/data/qsd-7.2.22-*.jsonl`` were recorded in wire order over a raw QMP
socket (every command, response and event as it crossed the socket):

* ``lifecycle``: a held mirror paused/resumed/refused, released to ready,
  completed in standby; a manual-finalize/dismiss backup and the verbs it
  refuses; a cancelled paused mirror; a soft-cancelled ready mirror; a
  grouped transaction cancelled through one member; a blockdev-create job;
  ``quit`` with a live job.
* ``errors-throttle-drain``: backups failing with ``stop`` and ``report``,
  a throttled (busy) backup whose pause does not land, a drain of a ready
  mirror (blockdev-reopen), a second job-complete that finds no job.

QEMU is ground truth: the traces show nothing new.  A single change to them is
caught.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobcheck.conformance.oracle import check
from jobcheck.conformance.trace.records import Event, Record, Response, read_jsonl
from jobcheck.model.lifecycle import model_for

DATA = Path(__file__).resolve().parent / "data"
LIFECYCLE = DATA / "qsd-7.2.22-lifecycle.jsonl"
ERRORS = DATA / "qsd-7.2.22-errors-throttle-drain.jsonl"


def _read(path: Path) -> list[Record]:
    with path.open(encoding="utf-8") as stream:
        meta, records = read_jsonl(stream, str(path))
        assert meta.qemu_version == "7.2.22" and meta.order == "wire"
        return list(records)


@pytest.mark.parametrize(
    ("path", "known"),
    [
        (
            LIFECYCLE,
            {
                "block-job.device-not-active",
                "job-complete.only-ready",
                "job-pause.cancel-resumes",
                "job-resume.not-paused-is-error",
                "status.null-never-visible",
                "status.waiting-not-visible-for-last",
            },
        ),
        (
            ERRORS,
            {
                "job-pause.cancel-resumes",
                "status.null-never-visible",
                "status.waiting-not-visible-for-last",
            },
        ),
    ],
    ids=["lifecycle", "errors-throttle-drain"],
)
def test_recorded_qemu_trace_shows_only_known_divergences(path: Path, known: set[str]) -> None:
    out = check(_read(path), model_for("7.2.22"))
    assert [d.message for d in out if not d.known] == []
    assert {d.rule for d in out if d.known} == known


def _replace(records: list[Record], old: Record, new: Record | None) -> list[Record]:
    index = records.index(old)
    return records[:index] + ([new] if new is not None else []) + records[index + 1 :]


def test_an_acceptance_instead_of_already_paused_is_caught() -> None:
    records = _read(LIFECYCLE)
    (refusal,) = [
        r
        for r in records
        if isinstance(r, Response) and r.error and r.error.desc == "Job is already paused"
    ][:1]
    out = check(_replace(records, refusal, Response(refusal.id, {})), model_for("7.2"))
    assert [d.rule for d in out if not d.known] == ["job-pause.already-paused-is-error"]


def test_a_dropped_status_event_is_caught() -> None:
    records = _read(LIFECYCLE)
    pending = next(
        r for r in records if isinstance(r, Event) and r.data == {"id": "b", "status": "pending"}
    )
    out = check(_replace(records, pending, None), model_for("7.2"))
    assert "status.transition-table" in [d.rule for d in out if not d.known]
