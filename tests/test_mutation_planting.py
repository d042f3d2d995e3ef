"""Planting and restoring mutants on a tiny fake QEMU tree (no QEMU build needed)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobcheck.conformance.mutation.catalogue import Edit, Mutant, lines
from jobcheck.conformance.mutation.interrupts import Interrupted, signals_raise
from jobcheck.conformance.mutation.planting import (
    PlantError,
    SourceTree,
    markers_in,
    planted_text,
    unplanted_text,
)

JOB_C = lines(
    "void job_user_pause_locked(Job *job, Error **errp)",
    "{",
    "    job->user_paused = true;",
    "    job_pause_locked(job);",
    "}",
    "",
    "void other(Job *job)",
    "{",
    "        job_pause_locked(job);",
    "}",
)
MIRROR_C = lines("static bool mirror_cancel(Job *job, bool force)", "{", "    return force;", "}")

DROP_PAUSE = Mutant(
    "drop-pause",
    "job.c",
    "job_user_pause_locked",
    "verb-effect",
    "pause never pauses",
    (Edit(lines("    job_pause_locked(job);"), ""),),
)
TWO_EDITS = Mutant(
    "two-edits",
    "job.c",
    "job_user_pause_locked",
    "verb-effect",
    "two lines changed",
    (
        Edit(lines("    job->user_paused = true;"), lines("    job->user_paused = false;")),
        Edit(lines("void other(Job *job)"), lines("void other2(Job *job)")),
    ),
)
MIRROR = Mutant(
    "mirror-force",
    "block/mirror.c",
    "mirror_cancel",
    "cancel-mode",
    "always force",
    (Edit(lines("    return force;"), lines("    return true;")),),
)
ABSENT = Mutant(
    "absent", "job.c", "f", "event", "no such text", (Edit(lines("    nothing();"), ""),)
)
TWICE = Mutant(
    "twice", "job.c", "f", "event", "text twice", (Edit(lines("{"), lines("{ /* x */")),)
)
CATALOGUE = (DROP_PAUSE, TWO_EDITS, MIRROR, ABSENT, TWICE)


@pytest.fixture
def tree(tmp_path: Path) -> SourceTree:
    root = tmp_path / "qemu"
    (root / "block").mkdir(parents=True)
    (root / "job.c").write_text(JOB_C)
    (root / "block" / "mirror.c").write_text(MIRROR_C)
    return SourceTree(root, tmp_path / "build" / "state", CATALOGUE)


def read(tree: SourceTree, mutant: Mutant) -> str:
    return tree.path(mutant).read_text()


def test_plant_writes_marked_edit_and_restore_gives_back_the_same_bytes(tree: SourceTree) -> None:
    path = tree.path(DROP_PAUSE)
    os.utime(path, (1_000_000, 1_000_000))
    tree.plant(DROP_PAUSE)
    planted = read(tree, DROP_PAUSE)
    assert "\n    job_pause_locked(job);\n" not in planted
    assert "        job_pause_locked(job);\n" in planted  # the other function is untouched
    assert markers_in(planted) == ["drop-pause"]
    assert tree.leftovers() == {"job.c": ["drop-pause"]}
    tree.restore(DROP_PAUSE)
    assert read(tree, DROP_PAUSE) == JOB_C
    assert path.stat().st_mtime > 1_000_000  # ninja must see the file as changed
    assert tree.leftovers() == {}


def test_multi_edit_mutant_round_trips(tree: SourceTree) -> None:
    planted = planted_text(JOB_C, TWO_EDITS)
    assert markers_in(planted) == ["two-edits", "two-edits"]
    assert unplanted_text(planted, TWO_EDITS) == JOB_C
    with tree.planted(TWO_EDITS):
        assert "void other2(Job *job)" in read(tree, TWO_EDITS)
    assert read(tree, TWO_EDITS) == JOB_C


def test_diff_shows_the_edit_without_the_marker(tree: SourceTree) -> None:
    diff = tree.check(MIRROR)
    assert "-    return force;" in diff and "+    return true;" in diff
    assert "jobcheck-mutant" not in diff
    assert diff.startswith("--- a/block/mirror.c\n+++ b/block/mirror.c\n")


@pytest.mark.parametrize(("mutant", "count"), [(ABSENT, 0), (TWICE, 2)])
def test_edit_that_does_not_apply_exactly_once_is_refused(
    tree: SourceTree, mutant: Mutant, count: int
) -> None:
    with pytest.raises(PlantError, match=f"occurs {count} times"), tree.planted(mutant):
        pytest.fail("the block must not run")
    assert read(tree, mutant) == JOB_C
    assert tree.leftovers() == {}


def test_search_text_counts_only_at_line_starts(tree: SourceTree) -> None:
    # "    job_pause_locked(job);" is also the tail of the 8-space line: not a second match.
    assert tree.check(DROP_PAUSE).count("\n-") == 1


def test_exception_inside_the_block_restores(tree: SourceTree) -> None:
    with pytest.raises(RuntimeError), tree.planted(MIRROR):
        assert read(tree, MIRROR) != MIRROR_C
        raise RuntimeError("build broke")
    assert read(tree, MIRROR) == MIRROR_C


def test_ctrl_c_inside_the_block_restores(tree: SourceTree) -> None:
    with pytest.raises(KeyboardInterrupt), tree.planted(MIRROR):
        os.kill(os.getpid(), signal.SIGINT)
    assert read(tree, MIRROR) == MIRROR_C


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_inside_the_block_restore(tree: SourceTree, signum: int) -> None:
    with pytest.raises(Interrupted) as raised, signals_raise(), tree.planted(DROP_PAUSE):
        os.kill(os.getpid(), signum)
    assert raised.value.signum == signum
    assert read(tree, DROP_PAUSE) == JOB_C
    assert signal.getsignal(signum) is signal.SIG_DFL  # the previous handler is back


def test_leftover_from_a_killed_run_is_taken_out_at_start_up(tree: SourceTree) -> None:
    tree.plant(TWO_EDITS)  # as if the run had been killed with SIGKILL here
    again = SourceTree(tree.root, tree.state, CATALOGUE)
    assert again.recover() == ["job.c: took out the leftover mutant two-edits, two-edits"]
    assert read(again, TWO_EDITS) == JOB_C
    assert again.recover() == []


def test_leftover_whose_edit_cannot_be_undone_comes_back_from_the_saved_copy(
    tree: SourceTree,
) -> None:
    tree.plant(MIRROR)
    path = tree.path(MIRROR)
    path.write_text(path.read_text().replace("return true;", "return 1;"))  # edited since
    tree.recover()
    assert read(tree, MIRROR) == MIRROR_C


def test_leftover_without_saved_copy_or_known_mutant_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "qemu"
    root.mkdir()
    planted = "int a;\n/* jobcheck-mutant: from-another-catalogue */\nint b;\n"
    (root / "job.c").write_text(planted)
    tree = SourceTree(root, tmp_path / "state", CATALOGUE)
    with pytest.raises(PlantError, match="cannot be taken out: restore the file by hand"):
        tree.recover()
    assert (root / "job.c").read_text() == planted  # nothing is guessed


def test_planting_over_a_leftover_is_refused(tree: SourceTree) -> None:
    tree.plant(DROP_PAUSE)
    with pytest.raises(PlantError, match="already holds a planted mutant"):
        tree.plant(TWO_EDITS)


_KILLED_RUN = """
import sys
from pathlib import Path
from jobcheck.conformance.mutation.interrupts import signals_raise
from jobcheck.conformance.mutation.planting import SourceTree
from jobcheck.conformance.mutation.process import run_group
from tests.test_mutation_planting import CATALOGUE, DROP_PAUSE

root, state, pid_file = map(Path, sys.argv[1:4])
sleeper = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"
with signals_raise(), SourceTree(root, state, CATALOGUE).planted(DROP_PAUSE):
    print("planted", flush=True)
    run_group([sys.executable, "-c", sleeper, str(pid_file)], log=state / "log", grace=2)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_during_a_campaign_restores_the_file_and_stops_the_campaign(
    tree: SourceTree, tmp_path: Path, signum: int
) -> None:
    pid_file = tmp_path / "campaign.pid"
    argv = [sys.executable, "-c", _KILLED_RUN, str(tree.root), str(tree.state), str(pid_file)]
    repo = Path(__file__).resolve().parent.parent
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=repo) as run:
        assert run.stdout is not None and run.stdout.readline() == b"planted\n"
        assert markers_in(read(tree, DROP_PAUSE)) == ["drop-pause"]
        run.send_signal(signum)
        _, err = run.communicate(timeout=30)
    assert run.returncode != 0
    assert err.strip().splitlines()[-1].split(b":")[0] in (
        b"KeyboardInterrupt",
        b"jobcheck.conformance.mutation.interrupts.Interrupted",
    )
    assert read(tree, DROP_PAUSE) == JOB_C
    if pid_file.exists():  # the campaign had started: it must be gone
        with contextlib.suppress(ProcessLookupError):
            handle = os.pidfd_open(int(pid_file.read_text()))
            try:
                assert select.select([handle], [], [], 10)[0], "the campaign survived"
            finally:
                os.close(handle)
