"""The synthetic trace generator: its traces parse and are legal by the model.

Legality is checked here by a small checker of its own, written from the
lifecycle tables (``Model.allows``, ``Model.permits``) and independent of the
oracle: every job's ``JOB_STATUS_CHANGE`` sequence, its block-job events, the
query-jobs snapshots and the pairing of commands with responses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobcheck.conformance.commands.check_trace import check_file
from jobcheck.conformance.trace.readers import open_trace
from jobcheck.conformance.trace.records import Command, Event, Note, Record, Response
from jobcheck.conformance.trace.synthetic import main, synthetic_records, write_synthetic_trace
from jobcheck.model.lifecycle import MODELS, Status, Verb

MODELS_CHECKED = [MODELS["7.2"], MODELS["10.2"]]
BLOCK_TYPES = {"mirror", "backup", "commit", "stream"}


@dataclass
class _Life:
    type: str
    status: str = "undefined"
    endings: int = 0
    progress: int = -1
    cancelled: bool = False
    aborted: bool = False


@dataclass
class _Seen:
    """What a checked trace contained, to show the generator is not degenerate."""

    statuses: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    commands: set[str] = field(default_factory=set)
    refused: int = 0
    reused_ids: int = 0
    snapshots: int = 0


def check_legal(records: Iterable[Record]) -> _Seen:
    """Assert that a wire-order trace is legal; return what it contained."""
    seen = _Seen()
    lives: dict[str, _Life] = {}
    ended: set[str] = set()
    pending: Command | None = None
    for record in records:
        if isinstance(record, Command):
            assert pending is None, f"command {record.id} sent before {pending} was answered"
            pending = record
            seen.commands.add(record.execute)
            job = record.arguments.get("job-id")
            if isinstance(job, str):
                assert job not in lives, f"{job} started while still live"
                if job in ended:
                    seen.reused_ids += 1
                lives[job] = _Life(
                    {
                        "blockdev-mirror": "mirror",
                        "blockdev-backup": "backup",
                        "block-commit": "commit",
                        "block-stream": "stream",
                        "blockdev-create": "create",
                    }[record.execute]
                )
            if record.execute == "job-cancel":
                lives[record.arguments["id"]].cancelled = True
        elif isinstance(record, Response):
            assert pending is not None and record.id == pending.id, "response without command"
            if record.error is not None:
                seen.refused += 1
                life = lives[pending.arguments["id"]]
                verb = Verb(pending.execute.removeprefix("job-"))
                assert not any(m.permits(verb, Status(life.status)) for m in MODELS_CHECKED)
                assert record.error.desc == (
                    f"Job '{pending.arguments['id']}' in state '{life.status}' "
                    f"cannot accept command verb '{verb.value}'"
                )
            if pending.execute == "query-jobs":
                seen.snapshots += 1
                listed = {info["id"]: info for info in record.value}
                assert set(listed) == set(lives), "query-jobs must list exactly the live jobs"
                for job, info in listed.items():
                    life = lives[job]
                    assert info["status"] == life.status
                    assert info["type"] == life.type
                    assert info["current-progress"] >= life.progress
                    assert 0 <= info["current-progress"] <= info["total-progress"]
                    life.progress = info["current-progress"]
                    assert ("error" in info) == (life.status == "concluded" and life.aborted)
            pending = None
        elif isinstance(record, Event):
            seen.events.add(record.event)
            if record.event == "JOB_STATUS_CHANGE":
                job, status = record.data["id"], record.data["status"]
                life = lives[job]
                source, target = Status(life.status), Status(status)
                assert all(m.allows(source, target) for m in MODELS_CHECKED), (job, source, target)
                assert source != target
                if target is Status.CONCLUDED and life.type in BLOCK_TYPES:
                    assert life.endings == 1 or life.endings == -1, f"{job}: no completion event"
                if target is Status.NULL:
                    assert life.status == "concluded"
                    del lives[job]
                    ended.add(job)
                else:
                    life.status = status
                    life.aborted = life.aborted or target is Status.ABORTING
                seen.statuses.add(status)
                continue
            life = lives[str(record.data.get("device", record.data.get("id")))]
            assert life.type in BLOCK_TYPES, "BLOCK_JOB_* event of a non-block job"
            if record.event in ("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"):
                assert life.endings == 0, "two completion events"
                assert life.status in ("pending", "aborting")
                if record.event == "BLOCK_JOB_CANCELLED":
                    assert life.cancelled
                failed = record.event == "BLOCK_JOB_CANCELLED" or "error" in record.data
                assert failed == (life.status == "aborting")
                life.endings = -1 if failed else 1
            elif record.event == "BLOCK_JOB_READY":
                assert life.status == "ready" and life.type == "mirror"
            elif record.event == "BLOCK_JOB_PENDING":
                assert life.status == "pending"
        else:
            assert isinstance(record, Note)
    assert pending is None, "last command not answered"
    return seen


def test_generated_trace_parses_and_is_legal(tmp_path: Path) -> None:
    path = str(tmp_path / "trace.jsonl")
    write_synthetic_trace(path, 5000, seed=7)
    meta, records_iter = open_trace(path)
    records = list(records_iter)
    assert (meta.source, meta.order, meta.qemu_version) == ("tracegen", "wire", "7.2.22")
    assert meta.extra["seed"] == 7
    assert len(records) == 5000
    seen = check_legal(records)
    assert seen.statuses == {s.value for s in Status} - {"undefined"}
    assert {"BLOCK_JOB_READY", "BLOCK_JOB_PENDING", "BLOCK_JOB_COMPLETED"} <= seen.events
    assert "BLOCK_JOB_CANCELLED" in seen.events
    assert {"job-pause", "job-resume", "job-complete", "job-finalize", "job-dismiss"} <= (
        seen.commands
    )
    assert {"job-cancel", "block-job-set-speed", "query-jobs", "blockdev-create"} <= seen.commands
    assert seen.refused > 0 and seen.reused_ids > 0 and seen.snapshots > 0


def test_every_job_ends_when_there_is_room(tmp_path: Path) -> None:
    records = list(synthetic_records(3000, seed=11))
    live: set[str] = set()
    for record in records:
        if isinstance(record, Event) and record.event == "JOB_STATUS_CHANGE":
            (live.discard if record.data["status"] == "null" else live.add)(record.data["id"])
    assert live == set()


@settings(max_examples=25)
@given(st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=2**32))
def test_any_size_and_seed_gives_exactly_that_many_legal_records(count: int, seed: int) -> None:
    records = list(synthetic_records(count, seed))
    assert len(records) == count
    check_legal(records)


def test_same_seed_same_file_other_seed_other_file(tmp_path: Path) -> None:
    paths = [str(tmp_path / name) for name in ("a", "b", "c")]
    write_synthetic_trace(paths[0], 800, seed=1)
    write_synthetic_trace(paths[1], 800, seed=1)
    write_synthetic_trace(paths[2], 800, seed=2)
    data = [Path(p).read_bytes() for p in paths]
    assert data[0] == data[1]
    assert data[0] != data[2]


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.jsonl"
    assert main([str(out), "--records", "120", "--seed", "3"]) == 0
    assert len(out.read_text().splitlines()) == 121
    assert "wrote 120 records" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{tmp}/no/such/dir/t.jsonl"], "cannot write"),
        (["{tmp}/t.jsonl", "--records", "-5"], "0 or more"),
    ],
)
def test_command_line_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main([arg.format(tmp=tmp_path) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_the_iotests_output_holds_the_same_records_and_checks_clean(tmp_path: Path) -> None:
    jsonl, out = str(tmp_path / "t.jsonl"), str(tmp_path / "t.out")
    write_synthetic_trace(jsonl, 3000, seed=5)
    assert main([out, "--records", "3000", "--seed", "5", "--format", "iotests"]) == 0
    meta, read = open_trace(out)
    assert meta.order == "per-job"
    records = [r for r in read if not isinstance(r, Note)]

    def plain(record: Record) -> Record:
        # iotests filter the timestamps and do not log the QMP ids.
        if isinstance(record, Event):
            return Event(record.event, record.data)
        assert isinstance(record, Command | Response)
        return replace(record, id=None, line=0)

    expected = [plain(r) for r in synthetic_records(3000, 5) if not isinstance(r, Note)]
    assert [plain(r) for r in records] == expected
    # A test-case heading every IOTESTS_CASE records: the reader may reset there.
    text = Path(out).read_text(encoding="utf-8")
    assert text.count("\n=== Test case ") == 3
    result = check_file(out, "auto", MODELS["7.2"])
    assert (result.error, result.new_count, result.records) == (None, 0, len(expected))
    assert result.jobs == check_file(jsonl, "auto", MODELS["7.2"]).jobs
