"""The mutation harness end to end on one mutant of a built QEMU tree (opt-in).

Set ``JOBCHECK_QEMU_TREE`` to a QEMU source tree whose ``build/`` directory
has been configured and built (``python -m jobcheck.conformance.mutation``
makes one in its cache); without it the test is skipped.  It runs a campaign
on the pristine build and one on the mutant: a minute or two.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jobcheck.conformance.mutation.catalogue import by_id
from jobcheck.conformance.mutation.cli import main
from jobcheck.conformance.mutation.planting import markers_in

TREE = os.environ.get("JOBCHECK_QEMU_TREE", "")
MUTANT = "query-hides-concluded"

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(
        not TREE or not Path(TREE, "build", "build.ninja").is_file(),
        reason="JOBCHECK_QEMU_TREE names no QEMU tree with a configured build/",
    ),
]


def test_harness_catches_one_mutant_and_leaves_the_tree_pristine(tmp_path: Path) -> None:
    tree = Path(TREE)
    mutated = tree / by_id(MUTANT).file
    before = mutated.read_bytes()
    code = main(["--source", str(tree), "--mutant", MUTANT, "--out", str(tmp_path / "m")])
    assert code == 0
    data = json.loads((tmp_path / "m.json").read_text())
    [row] = data["mutants"]
    assert row["verdict"] == "caught", row
    assert "query-jobs.lists-live-jobs" in row["rules"]
    assert row["campaign_seconds"] <= data["run"]["limit_seconds"]
    assert (
        "+        if (job_is_internal(job) || job->status == JOB_STATUS_CONCLUDED) {" in row["diff"]
    )
    assert mutated.read_bytes() == before
    assert markers_in(before.decode()) == []
    assert f"`{MUTANT}`" in (tmp_path / "m.md").read_text()
