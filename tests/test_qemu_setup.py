"""The live target's set-up plans (no QEMU: a stand-in records what would be sent).

What is checked: which nodes are named (those a command refers to) and which
are defined inline; that a plan's ``blockdev-add`` commands go out together,
after the image jobs they need and in the order planned; that a failed plan
leaves nothing queued for the next one.
"""

from __future__ import annotations

from typing import Any

import pytest

from jobcheck.conformance.errors import TargetError
from jobcheck.conformance.targets.qemu_setup import NodeSetup, error_offset
from jobcheck.conformance.trace.steps import JobSpec
from jobcheck.model.lifecycle import JobType


class Recorder:
    """A SetupQmp that records each call: ("send", [(command, arguments)...]) or
    ("create", [job ids]); refuses the set-up command number ``refuse`` (1-based)."""

    def __init__(self, refuse: int | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse = refuse
        self.sent = 0

    def setup_commands(self, commands: list[tuple[str, dict[str, Any]]]) -> None:
        self.calls.append(("send", commands))
        for command, arguments in commands:
            self.sent += 1
            if self.sent == self.refuse:
                raise TargetError(f"set-up failed: {command} {arguments['node-name']}")

    def create_images(self, jobs: list[tuple[str, dict[str, Any]]]) -> None:
        self.calls.append(("create", [job for job, _ in jobs]))


def added(call: tuple[str, Any]) -> list[str]:
    kind, commands = call
    assert kind == "send"
    assert all(command == "blockdev-add" for command, _ in commands)
    return [arguments["node-name"].rsplit("-", 1)[1] for _, arguments in commands]


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
    kinds = [kind for kind, _ in qmp.calls]
    assert kinds == ["create", "create", "send"]
    assert qmp.calls[0][1] == ["jc-1-1-1-mk-midf", "jc-1-1-1-mk-topf"]
    assert qmp.calls[1][1] == ["jc-1-1-1-mk-mid", "jc-1-1-1-mk-top"]
    assert added(qmp.calls[2]) == ["basn", "base", "mid", "top"]
    mid = dict(qmp.calls[2][1][2][1])
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
    assert [kind for kind, _ in qmp.calls] == ["create", "send"]
    assert added(qmp.calls[1]) == ["img"]
    assert "cache" not in qmp.calls[1][1][0][1]  # its flushes are kept
    assert plan.arguments["options"]["file"] == "jc-1-1-1-img"


def test_a_failed_plan_leaves_nothing_queued_for_the_next() -> None:
    qmp = Recorder(refuse=2)
    setup = NodeSetup(qmp, "/w", "jc-1-1-")
    with pytest.raises(TargetError, match="dstn"):
        setup.plan(JobSpec(JobType.BACKUP, "a"))
    setup.plan(JobSpec(JobType.BACKUP, "b"))
    assert added(qmp.calls[-1]) == ["src", "dstn", "dst"]
    assert all(a["node-name"].startswith("jc-1-1-2-") for _, a in qmp.calls[-1][1])
