"""One launched QEMU for many targets (:mod:`jobcheck.conformance.targets.qemu_pool`).

Checked on the QEMU on ``PATH``: a target hands its QEMU back clean (no job, no
node, no image file, nothing in the next target's trace), an example's trace on a
reused QEMU is the one it has on a fresh QEMU, a QEMU that does not come back clean
(or crashed, or was killed) is never reused, and nothing outlives the pool.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from jobcheck.conformance.campaign.paired import accept_all
from jobcheck.conformance.campaign.results import CampaignResult
from jobcheck.conformance.campaign.session import Session
from jobcheck.conformance.errors import TargetError
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.targets.qemu import QemuTarget
from jobcheck.conformance.targets.qemu_pool import QemuPool
from jobcheck.conformance.trace.qmp_messages import status_change
from jobcheck.conformance.trace.records import Command, Record, Response
from jobcheck.model.lifecycle import model_for

pytestmark = pytest.mark.live

QSD = shutil.which("qemu-storage-daemon")
if QSD is None:
    pytest.skip("qemu-storage-daemon is not installed", allow_module_level=True)


def job(kind: str, job_id: str, af: bool = True, ad: bool = True) -> dict[str, Any]:
    job_type, _, variant = kind.partition("-")
    return {
        "type": job_type,
        "id": job_id,
        "auto-finalize": af,
        "auto-dismiss": ad,
        "variant": variant or None,
    }


#: An example that leaves a job in nearly every status QEMU can be left in: a held mirror
#: paused by the user, a mirror in ready, a stream held, a backup waiting for finalize,
#: a concluded commit, a create job, and a grouped transaction with a member pending.
BUSY_EXAMPLE: list[dict[str, Any]] = [
    {"op": "start", "jobs": [job("mirror", "j1")]},
    {"op": "verb", "verb": "pause", "job": "j1"},
    {"op": "start", "jobs": [job("mirror", "j2")]},
    {"op": "release", "job": "j2"},
    {"op": "start", "jobs": [job("stream", "j3")]},
    {"op": "start", "jobs": [job("backup", "j4", af=False)]},
    {"op": "release", "job": "j4"},
    {"op": "start", "jobs": [job("commit-intermediate", "j5", ad=False)]},
    {"op": "release", "job": "j5"},
    {"op": "start", "jobs": [job("create", "j6")]},
    {"op": "start", "jobs": [job("backup", "j7", af=False), job("backup", "j8")], "grouped": True},
    {"op": "release", "job": "j7"},
    {"op": "release", "job": "j8"},
]

#: An example whose trace is compared between a fresh and a reused QEMU: every job kind
#: through its whole life, and verbs refused and accepted on the way.
COMPARED_EXAMPLE: list[dict[str, Any]] = [
    {"op": "start", "jobs": [job("mirror", "j1", af=False, ad=False)]},
    {"op": "verb", "verb": "complete", "job": "j1"},
    {"op": "release", "job": "j1"},
    {"op": "verb", "verb": "pause", "job": "j1"},
    {"op": "verb", "verb": "resume", "job": "j1"},
    {"op": "verb", "verb": "complete", "job": "j1"},
    {"op": "verb", "verb": "finalize", "job": "j1"},
    {"op": "verb", "verb": "dismiss", "job": "j1"},
    {"op": "start", "jobs": [job("commit-active", "j2")]},
    {"op": "drain", "job": "j2"},
    {"op": "verb", "verb": "cancel", "job": "j2"},
    {"op": "start", "jobs": [job("backup", "j3", ad=False)]},
    {"op": "release", "job": "j3"},
    {"op": "verb", "verb": "dismiss", "job": "j3"},
    {"op": "start", "jobs": [job("stream", "j4")]},
    {"op": "release", "job": "j4"},
    {"op": "start", "jobs": [job("create", "j5")]},
    {"op": "wait"},
    {"op": "verb", "verb": "dismiss", "job": "j5"},
    {"op": "query"},
]


def run_example(target: Target, steps: list[dict[str, Any]]) -> list[Record]:
    """``steps`` in a session on ``target``, finished (its target closed); the records of
    the steps (the teardown's left out: a fresh QEMU quits, a pooled one is cleaned up)."""
    session = Session(target, model_for("7.2"), accept_all, CampaignResult())
    for step in steps:
        session.step(step)
    records = list(session.records)
    session.finish()
    assert not session.unaccepted
    return records


def what_happened(records: list[Record]) -> dict[str, Any]:
    """What a trace says QEMU did, free of timing: each job's statuses in order, and each
    job command's answer (ok, or its error class), in order; set-up jobs left out, and
    ``query-jobs`` (how many snapshots a wait takes depends on timing)."""
    statuses: dict[str, list[str]] = {}
    answers: list[tuple[str, str]] = []
    sent: dict[Any, str] = {}
    for record in records:
        change = status_change(record)
        if change is not None:
            if not change[0].startswith("jc-"):
                statuses.setdefault(change[0], []).append(change[1])
        elif isinstance(record, Command):
            own = any(str(v).startswith("jc-") for v in (record.arguments or {}).values())
            if not own:
                sent[record.id] = record.execute
        elif isinstance(record, Response) and record.id in sent:
            command = sent.pop(record.id)
            if command.startswith(("job-", "block-job-")):
                error = record.error.error_class if record.error is not None else "ok"
                answers.append((command, error))
    return {"statuses": statuses, "answers": answers}


def qemu_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone too
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False  # reaped in between


@pytest.fixture
def pool() -> Iterator[QemuPool]:
    with QemuPool(QSD) as made:
        yield made


def test_a_target_hands_its_qemu_back_clean(pool: QemuPool) -> None:
    first = pool.make()
    assert isinstance(first, QemuTarget)
    pid, workdir, prefix = first.pid, first.workdir, first.prefix
    run_example(first, BUSY_EXAMPLE)
    assert (pool.launched == 1 and first.pid is None) or first.pid == pid
    second = pool.make()
    assert second.pid == pid and pool.launched == 1  # the same QEMU
    assert second.prefix != prefix
    assert second.take_records() == []  # nothing of the first target's
    assert second.execute("query-jobs").value == []
    assert second.execute("query-named-block-nodes").value == []
    assert not [n for n in os.listdir(workdir) if n.startswith(prefix)]
    assert second.inspect_jobs() == {}  # the job tracker starts afresh
    second.close()


def test_a_target_counts_the_bytes_it_sends_itself(pool: QemuPool) -> None:
    """What the bench divides by the exploration's steps: each target's own commands, on
    a reused QEMU as on a fresh one (the negotiation and introspection included there)."""
    first = pool.make()
    introspected = first.sent_bytes
    assert introspected > 100  # qmp_capabilities, query-version, query-qmp-schema
    first.execute("query-jobs")
    asked = first.sent_bytes - introspected
    first.close()
    second = pool.make()
    assert second.sent_bytes == 0
    second.execute("query-jobs")
    assert second.sent_bytes == asked  # the same command, the same bytes
    second.execute("query-jobs", {"pad": "x" * 100})  # refused, read all the same
    assert second.sent_bytes == 2 * asked + len(',"arguments":{"pad":""}') + 100
    second.close()


def test_an_example_on_a_reused_qemu_does_what_it_does_on_a_fresh_one(pool: QemuPool) -> None:
    """Whatever ran before on the QEMU, an example's trace is the one a fresh QEMU gives:
    so Hypothesis' shrinking holds, and the printed steps replay on a fresh QEMU."""
    fresh = what_happened(run_example(QemuTarget(binary=QSD), COMPARED_EXAMPLE))
    run_example(pool.make(), BUSY_EXAMPLE)
    reused = what_happened(run_example(pool.make(), COMPARED_EXAMPLE))
    again = what_happened(run_example(pool.make(), COMPARED_EXAMPLE))
    assert pool.launched == 1
    assert fresh["statuses"]["j1"][-1] == "null"  # the example did run its jobs through
    assert reused == fresh
    assert again == fresh


def test_a_qemu_that_does_not_come_back_clean_is_not_reused(pool: QemuPool) -> None:
    first = pool.make()
    pid = first.pid
    assert pid is not None
    # a node jobcheck's set-up does not know of: the clean-up cannot delete it
    response = first.execute("blockdev-add", {"driver": "null-co", "node-name": "stranger"})
    assert response.ok
    first.close()
    assert not qemu_alive(pid)  # it quit
    second = pool.make()
    assert second.pid != pid and pool.launched == 2
    assert second.execute("query-named-block-nodes").value == []
    second.close()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_qemu_killed_during_an_example_is_not_reused(pool: QemuPool, sig: int) -> None:
    first = pool.make()
    pid = first.pid
    assert pid is not None
    first.apply({"op": "start", "jobs": [job("mirror", "j1")]})
    os.kill(pid, sig)
    # Under SIGTERM QEMU shuts down in order and may still answer a command or two on
    # its way out: the next step fails once it has exited (left a zombie for its Popen).
    deadline = time.monotonic() + 10
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        assert time.monotonic() < deadline, "QEMU did not exit"
        os.sched_yield()
    with pytest.raises(TargetError):
        first.apply({"op": "query"})
    first.close()
    second = pool.make()
    assert second.pid != pid and pool.launched == 2
    second.close()


def test_a_target_that_served_its_share_quits_its_qemu() -> None:
    with QemuPool(QSD, max_served=2) as pool:
        pids = []
        for _ in range(3):
            target = pool.make()
            pids.append(target.pid)
            target.close()
        assert pids[0] == pids[1] != pids[2] and pool.launched == 2
        assert not qemu_alive(pids[0] or 0)


def test_nothing_outlives_the_pool() -> None:
    with QemuPool(QSD) as pool:
        target = pool.make()
        pid, workdir = target.pid, target.workdir
        run_example(target, BUSY_EXAMPLE)
    assert pid is not None and not qemu_alive(pid)
    assert not os.path.exists(workdir)
    with pytest.raises(ValueError, match="closed"):
        pool.make()


def step_records(session: Session, step: dict[str, Any]) -> list[str]:
    """What one step put on the wire, in order: commands by name, events by name (and
    status), responses as ``ok`` or ``error``."""
    before = len(session.records)
    session.step(step)
    out = []
    for record in session.records[before:]:
        if isinstance(record, Command):
            out.append(record.execute)
        elif isinstance(record, Response):
            out.append("ok" if record.error is None else "error")
        else:
            change = status_change(record)
            name = getattr(record, "event", None)
            if change is not None:
                out.append(change[1])
            elif name is not None:
                out.append(str(name))
    return out


def test_a_step_waits_only_for_what_is_on_its_way() -> None:
    """No fixed quiet period: a refused verb or a query costs its command alone; an accepted
    one, a query-jobs that shows what QEMU did; a job that must move is awaited, and a
    query-jobs then makes sure of the events QEMU sent with the move (BLOCK_JOB_READY behind
    the status change) within the step."""
    target = QemuTarget(binary=QSD)
    session = Session(target, model_for("7.2"), accept_all, CampaignResult())
    try:
        session.step({"op": "start", "jobs": [job("mirror", "j1", af=False, ad=False)]})
        # refused: nothing moves, nothing is awaited
        refused = {"op": "verb", "verb": "finalize", "job": "j1"}
        assert step_records(session, refused) == ["job-finalize", "error"]
        # set-speed on a parked job: accepted, nothing moves; a query-jobs (no quiet period)
        # shows what QEMU did
        slow = {"op": "verb", "verb": "set-speed", "job": "j1", "family": "block-job", "speed": 2}
        assert step_records(session, slow) == ["block-job-set-speed", "ok", "query-jobs", "ok"]
        assert step_records(session, {"op": "query"}) == ["query-jobs", "ok"]
        # released: the job must reach ready; the query-jobs comes after BLOCK_JOB_READY
        released = step_records(session, {"op": "release", "job": "j1"})
        assert released[:2] == ["block-job-set-speed", "ok"]
        assert "ready" in released and "query-jobs" in released and released[-1] == "ok"
        # the query's answer (the last record) comes after every event sent before it
        assert released.index("BLOCK_JOB_READY") < len(released) - 1
    finally:
        session.finish()
