"""The mutant catalogue: its shape, its coverage of files and categories, and (opt-in) QEMU's tree.

The last test checks every mutant against a real QEMU source tree, named by
``JOBCHECK_QEMU_TREE`` (no build needed); it is skipped without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobcheck.conformance.mutation.catalogue import CATALOGUE, CATEGORIES, Mutant, by_id, files
from jobcheck.conformance.mutation.cli import list_mutants, main
from jobcheck.conformance.mutation.planting import (
    SourceTree,
    check_edit,
    planted_text,
    unplanted_text,
)

#: The files issue-level coverage asks for.
REQUIRED_FILES = {
    "job.c",
    "job-qmp.c",
    "blockjob.c",
    "blockdev.c",
    "block/mirror.c",
    "block/backup.c",
    "block/stream.c",
    "block/commit.c",
}


def test_at_least_25_mutants_with_unique_ids() -> None:
    ids = [mutant.id for mutant in CATALOGUE]
    assert len(ids) >= 25
    assert len(set(ids)) == len(ids)
    assert by_id(ids[-1]) is CATALOGUE[-1]
    with pytest.raises(KeyError):
        by_id("no-such-mutant")


def test_every_category_and_every_job_file_is_covered() -> None:
    assert {mutant.category for mutant in CATALOGUE} == set(CATEGORIES)
    assert set(files()) >= REQUIRED_FILES


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.id)
def test_each_mutant_is_a_small_whole_line_edit_described_in_one_line(mutant: Mutant) -> None:
    assert mutant.mistake and "\n" not in mutant.mistake
    assert mutant.function
    assert 1 <= len(mutant.edits) <= 3
    for edit in mutant.edits:
        assert check_edit(edit) == []
        assert edit.search.count("\n") <= 6 and edit.replace.count("\n") <= 6
        # planting then unplanting the edit on a text holding its search gives the text back
        text = "before\n" + edit.search + "after\n"
        one = Mutant(mutant.id, mutant.file, mutant.function, mutant.category, "", (edit,))
        assert unplanted_text(planted_text(text, one), one) == text


def test_list_names_every_mutant_under_its_category(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert listed == list_mutants() + "\n"
    for mutant in CATALOGUE:
        assert f"  {mutant.id} " in listed


def test_unknown_mutant_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tree = tmp_path / "qemu"
    tree.mkdir()
    for name in ("configure", "job.c", "job-qmp.c", "blockjob.c"):
        (tree / name).write_text("")
    assert main(["--source", str(tree), "--mutant", "no-such-mutant"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown mutant no-such-mutant" in err


def test_source_that_is_not_a_qemu_tree_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["--source", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a QEMU source tree" in err


@pytest.mark.skipif(
    not os.environ.get("JOBCHECK_QEMU_TREE"),
    reason="JOBCHECK_QEMU_TREE names no QEMU source tree",
)
def test_every_mutant_applies_exactly_once_to_the_named_tree(tmp_path: Path) -> None:
    tree = SourceTree(Path(os.environ["JOBCHECK_QEMU_TREE"]), tmp_path / "state")
    for mutant in CATALOGUE:
        diff = tree.check(mutant)
        assert diff.startswith(f"--- a/{mutant.file}\n")
