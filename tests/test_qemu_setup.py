"""The live target's set-up plans (no QEMU: a stand-in records what would be sent).

What is checked: which nodes are named (those a command refers to) and which
are defined inline; that a plan's commands go out in as few batches as their
order allows (an image job's ``job-dismiss`` with the next batch), in the order
planned; that a failed plan leaves nothing queued for the next one.
"""

from __future__ import annotations

from typing import Any

import pytest

from jobcheck.conformance.errors import TargetError
from jobcheck.conformance.targets.qemu_setup import MAX_JOBS_PER_CHAIN, NodeSetup, error_offset
from jobcheck.conformance.trace.steps import JobSpec
from jobcheck.model.lifecycle import JobType


class Recorder:
    """A SetupQmp that records each call: ("send", [(command, arguments)...]) or
    ("await", [job ids]); refuses the set-up command number ``refuse`` (1-based)."""

    def __init__(self, refuse: int | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse = refuse
        self.sent = 0

    def setup_commands(self, commands: list[tuple[str, dict[str, Any]]]) -> None:
        self.calls.append(("send", commands))
        for command, arguments in commands:
            self.sent += 1
            if self.sent == self.refuse:
                raise TargetError(f"set-up failed: {command} {arguments}")

    def await_jobs(self, ids: list[str]) -> None:
        self.calls.append(("await", ids))


def added(call: tuple[str, Any]) -> list[str]:
    """The roles of the nodes a batch adds (it adds nothing else)."""
    kind, commands = call
    assert kind == "send"
    assert all(command == "blockdev-add" for command, _ in commands)
    return [arguments["node-name"].rsplit("-", 1)[1] for _, arguments in commands]


def sent(call: tuple[str, Any]) -> list[str]:
    """A batch as ``command:name`` words (the job id or node name's last part)."""
    kind, commands = call
    assert kind == "send"
    words = []
    for command, arguments in commands:
        name = arguments.get("node-name") or arguments.get("job-id") or arguments.get("id")
        words.append(f"{command}:{str(name).removeprefix('jc-1-1-1-')}")
    return words


def test_a_mirror_plan_adds_its_three_nodes_in_one_go() -> None:
    qmp = Recorder()
    plan = NodeSetup(qmp, "/w", "jc-1-1-").plan(JobSpec(JobType.MIRROR, "j"))
    assert len(qmp.calls) == 1
    assert added(qmp.calls[0]) == ["src", "dstn", "dst"]
    assert plan.arguments["device"] == "jc-1-1-1-src"
    assert plan.arguments["target"] == "jc-1-1-1-dst"
    # the drained node's child is named: blockdev-reopen must name it
    assert plan.drain == {"driver": "raw", "node-name": "jc-1-1-1-dst", "file": "jc-1-1-1-dstn"}
    assert plan.nodes == ["jc-1-1-1-src", "jc-1-1-1-dstn", "jc-1-1-1-dst"]


def test_a_chain_creates_its_images_first_and_defines_files_and_data_inline() -> None:
    qmp = Recorder()
    setup = NodeSetup(qmp, "/w", "jc-1-1-")
    plan = setup.plan(JobSpec(JobType.STREAM, "j", on_error="stop"))
    assert [kind for kind, _ in qmp.calls] == ["send", "await", "send", "await", "send"]
    assert sent(qmp.calls[0]) == ["blockdev-create:mk-midf", "blockdev-create:mk-topf"]
    assert qmp.calls[1][1] == ["jc-1-1-1-mk-midf", "jc-1-1-1-mk-topf"]
    # the file jobs are dismissed in the batch that creates the images on them
    assert sent(qmp.calls[2]) == [
        "job-dismiss:mk-midf",
        "job-dismiss:mk-topf",
        "blockdev-create:mk-mid",
        "blockdev-create:mk-top",
    ]
    assert sent(qmp.calls[4]) == [
        "job-dismiss:mk-mid",
        "job-dismiss:mk-top",
        *(f"blockdev-add:{role}" for role in ("basn", "base", "mid", "top")),
    ]
    mid = dict(qmp.calls[4][1][4][1])
    assert mid["file"] == {
        "driver": "file",
        "filename": "/w/jc-1-1-1-midf.img",
        "cache": {"no-flush": True},
    }
    rule = mid["data-file"]["file"]["inject-error"][0]
    assert mid["data-file"]["file"]["image"]["driver"] == "null-co"
    assert rule["sector"] * 512 == error_offset(setup.sizes.chain)
    assert mid["backing"] == "jc-1-1-1-base"
    assert plan.nodes == [f"jc-1-1-1-{r}" for r in ("basn", "base", "mid", "top")]


def test_the_job_under_test_of_a_create_plan_keeps_its_own_file_node() -> None:
    qmp = Recorder()
    plan = NodeSetup(qmp, "/w", "jc-1-1-").plan(JobSpec(JobType.CREATE, "j"))
    assert [kind for kind, _ in qmp.calls] == ["send", "await", "send"]
    assert sent(qmp.calls[2]) == ["job-dismiss:mk-img", "blockdev-add:img"]
    assert "cache" not in qmp.calls[2][1][1][1]  # its flushes are kept
    assert plan.arguments["options"]["file"] == "jc-1-1-1-img"


def test_a_failed_plan_leaves_nothing_queued_for_the_next() -> None:
    qmp = Recorder(refuse=2)
    setup = NodeSetup(qmp, "/w", "jc-1-1-")
    with pytest.raises(TargetError, match="jc-1-1-1-dstn"):
        setup.plan(JobSpec(JobType.BACKUP, "a"))
    setup.plan(JobSpec(JobType.BACKUP, "b"))
    assert added(qmp.calls[-1]) == ["src", "dstn", "dst"]
    assert all(a["node-name"].startswith("jc-1-1-2-") for _, a in qmp.calls[-1][1])


def test_a_chain_given_back_serves_the_next_job_of_its_size_a_few_times() -> None:
    qmp = Recorder()
    setup = NodeSetup(qmp, "/w", "jc-1-1-")
    first = setup.plan(JobSpec(JobType.STREAM, "a"))
    setup.give_back(first)
    calls = len(qmp.calls)
    # an active commit needs a bigger chain: a new one
    active = setup.plan(JobSpec(JobType.COMMIT, "b", variant="active"))
    assert active.chain is not first.chain and len(qmp.calls) > calls
    calls = len(qmp.calls)
    again = setup.plan(JobSpec(JobType.COMMIT, "c", variant="intermediate"))
    assert len(qmp.calls) == calls  # nothing sent: the stream's chain, as built
    assert again.chain is first.chain and again.nodes == []
    assert again.arguments["device"] == "jc-1-1-1-top"
    assert again.arguments["top-node"] == "jc-1-1-1-mid"
    assert again.arguments["base-node"] == "jc-1-1-1-base"
    assert again.drain == first.drain
    for job in "def":
        setup.give_back(again)
        again = setup.plan(JobSpec(JobType.STREAM, job))
    assert first.chain is not None and first.chain.jobs == MAX_JOBS_PER_CHAIN
    assert again.chain is not first.chain  # it has served its jobs


def test_a_chain_with_an_injected_error_is_never_reused() -> None:
    qmp = Recorder()
    setup = NodeSetup(qmp, "/w", "jc-1-1-")
    failing = setup.plan(JobSpec(JobType.STREAM, "a", on_error="report"))
    setup.give_back(failing)
    plain = setup.plan(JobSpec(JobType.STREAM, "b"))
    assert plain.chain is not failing.chain
    setup.give_back(plain)
    assert setup.plan(JobSpec(JobType.STREAM, "c", on_error="stop")).chain is not plain.chain


def test_a_pair_given_back_serves_the_next_mirror_or_backup_without_an_error() -> None:
    qmp = Recorder()
    setup = NodeSetup(qmp, "/w", "jc-1-1-")
    first = setup.plan(JobSpec(JobType.MIRROR, "a"))
    assert first.pair is not None and first.nodes == [
        "jc-1-1-1-src",
        "jc-1-1-1-dstn",
        "jc-1-1-1-dst",
    ]
    other = setup.plan(JobSpec(JobType.BACKUP, "b"))  # the first is not given back yet
    assert other.pair is not first.pair and other.nodes
    setup.give_back(first)
    calls = len(qmp.calls)
    backup = setup.plan(JobSpec(JobType.BACKUP, "c"))
    assert len(qmp.calls) == calls and backup.nodes == []  # nothing sent: the mirror's pair
    assert backup.pair is first.pair and backup.drain == first.drain
    assert backup.arguments["device"] == "jc-1-1-1-src"
    assert backup.arguments["target"] == "jc-1-1-1-dst"
    setup.give_back(backup)
    mirror = setup.plan(JobSpec(JobType.MIRROR, "d"))
    assert mirror.pair is first.pair and mirror.arguments["target"] == "jc-1-1-1-dst"
    # with an injected error: nodes of its own, never given back to anyone
    setup.give_back(mirror)
    failing = setup.plan(JobSpec(JobType.BACKUP, "e", on_error="report"))
    assert failing.pair is None and "jc-1-1-5-dste" in failing.nodes
    setup.give_back(failing)
    assert setup.plan(JobSpec(JobType.MIRROR, "f")).pair is first.pair
    assert setup.plan(JobSpec(JobType.MIRROR, "g", on_error="stop")).pair is None


def _data_null(plan_calls: list[tuple[str, Any]]) -> dict[str, Any]:
    """The null device under the data file of the chain's mid node."""
    mid = next(
        a
        for kind, batch in plan_calls
        if kind == "send"
        for c, a in batch
        if c == "blockdev-add" and a["node-name"].endswith("-mid")
    )
    return dict(mid["data-file"]["file"])


def test_only_the_active_commit_chain_reads_no_zeroes() -> None:
    """An active commit copies to base's null device; a stream into top's image file, where
    zeroes become zero clusters: its chain (and an intermediate commit's) reads zeroes."""
    for variant, zeroes in (("active", False), ("intermediate", True)):
        qmp = Recorder()
        NodeSetup(qmp, "/w", "jc-1-1-").plan(JobSpec(JobType.COMMIT, "c", variant=variant))
        assert _data_null(qmp.calls)["read-zeroes"] is zeroes
    qmp = Recorder()
    NodeSetup(qmp, "/w", "jc-1-1-").plan(JobSpec(JobType.STREAM, "s"))
    assert _data_null(qmp.calls)["read-zeroes"] is True
