"""The README's compare, build-tree, bisect and CI-matrix commands, run as written.

Each test takes its command lines from the README (so the README cannot drift from what
works) and runs them through ``jobcheck``'s ``main``: build directories such as
``~/qemu/build`` become fake build trees (QEMU's layout, with a symlink to a real binary),
output directories become temporary ones, and live campaigns get a short exploration
(``--examples 5 --steps 15``: the planned tour alone reaches every cell).  On real QEMU:
7.2 against 10.0.2 differs by ``block-job-change``, a build against itself does not, the
CI matrix's two runs pass with their baselines and merge into one report, and those two
runs compared offline agree with the live comparison.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from conftest import QEMU_BUILDS, ROOT, require_shared

from jobcheck.conformance.cli import main

README = ROOT / "README.md"
SHORT = ["--examples", "5", "--steps", "15"]


def readme_section(heading: str) -> str:
    """The README's text from ``heading`` to the next heading of the same level or above
    (lines inside fenced code blocks are never headings)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    level = len(heading.split(" ", 1)[0])
    fenced = False
    out = []
    for line in lines[start + 1 :]:
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            break
        out.append(line)
    return "\n".join(out) + "\n"


def readme_commands(heading: str) -> list[list[str]]:
    """The ``jobcheck`` command lines of a README section's code blocks, as argv lists
    (without ``jobcheck``; comments and ``.venv/bin/`` dropped)."""
    commands = []
    for block in re.findall(r"```\w*\n(.*?)```", readme_section(heading), flags=re.S):
        for line in block.splitlines():
            if line.lstrip().startswith("#"):
                continue  # a comment, or output shown after the command
            for found in re.findall(r"(?:\.venv/bin/)?jobcheck ([^'#;|]+)", line):
                commands.append(shlex.split(found))
    return commands


COMPARE = "### `jobcheck compare`: what did my patch change?"
BUILD = "### A QEMU build tree, and `git bisect`"
MATRIX = "### A CI matrix: one run per QEMU, merged"


def _binary(version: str) -> str:
    for build in QEMU_BUILDS:
        if build.present and build.version.startswith(version + ".") and build.storage_daemon:
            return os.path.abspath(build.storage_daemon)
    pytest.skip(f"no QEMU {version} (.ci/setup installs 7.2 and unpacks 10.0 in .qemu/10.0)")


def fake_build(root: Path, binary: str, version: str = "10.0.50") -> Path:
    """A QEMU source tree with its ``build/`` directory, whose qemu-storage-daemon is
    ``binary``; returns the build directory."""
    schema = require_shared() / "qapi" / "job-10.1.json"
    (root / "qapi").mkdir(parents=True)
    (root / "VERSION").write_text(version + "\n")
    (root / "qapi" / "job.json").write_text(schema.read_text())
    (root / "build" / "storage-daemon").mkdir(parents=True)
    (root / "build" / "storage-daemon" / "qemu-storage-daemon").symlink_to(binary)
    return root / "build"


def _substitute(argv: list[str], values: dict[str, str]) -> list[str]:
    """``argv`` with each word that is a key of ``values`` replaced, and ``$VAR`` inside
    words expanded from ``values``."""
    out = []
    for word in argv:
        word = values.get(word, word)
        for key, value in values.items():
            if key.startswith("$"):
                word = word.replace(key, value)
        out.append(word)
    return out


def _with(argv: list[str], option: str, value: str) -> list[str]:
    """``argv`` with ``option``'s value replaced (or the option added)."""
    if option in argv:
        at = argv.index(option)
        return [*argv[: at + 1], value, *argv[at + 2 :]]
    return [*argv, option, value]


def _run_json(argv: list[str], out: Path) -> tuple[int, dict[str, Any]]:
    code = main([*argv, f"--json={out}"])
    return code, json.loads(out.read_text())


def _subjects(document: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for difference in document["differences"]:
        found.setdefault(difference["category"], []).append(difference["subject"])
    return found


# -- offline: the committed reference reports ---------------------------------------------


def test_the_readme_has_the_commands_it_promises() -> None:
    assert [c[0] for c in readme_commands(COMPARE)] == ["compare"] * 3
    assert [c[:2] for c in readme_commands(BUILD)] == [
        ["rules", "--qemu-build"],
        ["run", "--bisect"],
    ]
    assert [c[0] for c in readme_commands(MATRIX)] == ["run", "merge", "merge"]


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's relative paths are relative to the checkout."""
    monkeypatch.chdir(ROOT)


@pytest.mark.usefixtures("at_root")
def test_the_reference_runs_compare_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = readme_commands(COMPARE)[2]
    code, document = _run_json(argv, tmp_path / "c.json")
    assert code == 1, document["differences"]
    assert _subjects(document)["command"] == ["block-job-change"]
    assert document["granularity"] == "observations"
    assert (document["a"]["qemu_version"], document["b"]["qemu_version"]) == ("7.2.22", "10.0.2")


@pytest.mark.usefixtures("at_root")
def test_the_reference_runs_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = _with(readme_commands(MATRIX)[2], "--out", str(tmp_path))
    assert main(argv) == 0
    merged = json.loads((tmp_path / "merged.json").read_text())
    assert [r["qemu_version"] for r in merged["runs"]] == ["7.2.22", "10.0.2"]
    assert "10.0.2" in (tmp_path / "merged.html").read_text()


def test_rules_reads_a_build_trees_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = fake_build(tmp_path / "qemu", "/bin/true")
    (argv,) = [c for c in readme_commands(BUILD) if c[0] == "rules"]
    assert main(_substitute(argv, {"~/qemu/build": str(build)})) == 0
    err = capsys.readouterr().err
    assert (
        "model 10.1: QEMU 10.0.50 is a development version after 10.0, and its qapi/job.json"
        " has the documentation of 10.1" in err
    )


# -- live ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """The README's first compare command: QEMU 7.2 against 10.0.2."""
    old, new = _binary("7.2"), _binary("10.0")
    out = tmp_path_factory.mktemp("compare")
    argv = readme_commands(COMPARE)[0]
    argv = _substitute(
        argv, {"qemu-storage-daemon": old, ".qemu/10.0/usr/bin/qemu-storage-daemon": new}
    )
    assert argv == ["compare", "--qemu", old, "--qemu", new], argv
    code = main([*argv, *SHORT, "--out", str(out / "live"), f"--json={out / 'live.json'}"])
    return code, out


@pytest.mark.live
def test_7_2_and_10_0_differ_by_block_job_change(live: tuple[int, Path]) -> None:
    code, out = live
    document = json.loads((out / "live.json").read_text())
    assert code == 1 and document["verdict"] == "different"
    assert "block-job-change" in _subjects(document)["command"]
    for side in ("a", "b"):
        cells = document[side]["coverage"]["cells"]
        assert cells["reached"] == cells["goal"], side
    assert "<svg" in (out / "live" / "compare.html").read_text()
    sides = ["compare", str(out / "live" / "a"), str(out / "live" / "b")]
    code, offline = _run_json(sides, out / "sides.json")
    assert code == 1 and offline["differences"] == document["differences"]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The CI matrix's job, once per matrix entry, with the baseline of each version."""
    section = readme_section(MATRIX)
    entries = re.findall(r'- QEMU: "([\d.]+)"\n\s+QSD: (\S+)', section)
    assert [version for version, _ in entries] == ["7.2", "10.0"]
    root = tmp_path_factory.mktemp("ci")
    run, merge, _ = readme_commands(MATRIX)
    codes = {}
    for version, _ in entries:
        argv = _substitute(run, {"$QSD": _binary(version), "$QEMU": version})
        argv = _with(argv, "--out", str(root / f"qemu-{version}"))
        codes[version] = main([*argv, *SHORT])
    assert merge == ["merge", "reports/ci/qemu-*", "--out", "reports/ci/merged"]
    runs = sorted(str(p) for p in root.glob("qemu-*"))  # what the shell's glob gives
    codes["merge"] = main(["merge", *runs, "--out", str(root / "merged")])
    return {"root": root, "codes": codes}


@pytest.mark.live
def test_the_ci_matrix_passes_with_each_baseline_and_merges(matrix: dict[str, Any]) -> None:
    assert matrix["codes"] == {"7.2": 0, "10.0": 0, "merge": 0}
    merged = json.loads((matrix["root"] / "merged" / "merged.json").read_text())
    assert sorted(r["name"] for r in merged["runs"]) == ["qemu-10.0", "qemu-7.2"]
    assert {r["qemu_version"][:4] for r in merged["runs"]} == {"7.2.", "10.0"}
    assert all(r["counts"]["baselined"] == 6 for r in merged["runs"])


@pytest.mark.live
def test_the_matrix_runs_compared_offline_agree_with_the_live_form(
    matrix: dict[str, Any], live: tuple[int, Path], tmp_path: Path
) -> None:
    root = matrix["root"]
    code, offline = _run_json(
        ["compare", str(root / "qemu-7.2"), str(root / "qemu-10.0")], tmp_path / "o.json"
    )
    live_form = json.loads((live[1] / "live.json").read_text())

    def tour(document: dict[str, Any]) -> set[tuple[str, str]]:
        """All but the exploration's cells and the rules broken (those depend on which
        steps were explored, and two separate runs explore different ones)."""
        return {
            (d["category"], d["subject"])
            for d in document["differences"]
            if d["category"] != "divergence" and "(exploration)" not in d["subject"]
        }

    assert code == 1 and ("command", "block-job-change") in tour(offline)
    assert tour(offline) == tour(live_form)


@pytest.mark.live
def test_a_build_against_itself_has_no_difference(tmp_path: Path) -> None:
    build = fake_build(tmp_path / "qemu", _binary("7.2"), "7.2.22")
    argv = _substitute(
        readme_commands(COMPARE)[1], {"~/qemu-master/build": str(build), "~/qemu/build": str(build)}
    )
    argv = _with(argv, "--out", str(tmp_path / "out"))
    code, document = _run_json([*argv, *SHORT], tmp_path / "s.json")
    assert code == 0 and document["differences"] == []
    assert document["a"]["steps_digest"] == document["b"]["steps_digest"]
    assert f"build {build}" in document["a"]["description"]


@pytest.mark.live
def test_bisect_says_good_for_a_good_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = fake_build(tmp_path / "qemu", _binary("7.2"), "7.2.22")
    (argv,) = [c for c in readme_commands(BUILD) if c[0] == "run"]
    assert argv == ["run", "--bisect", "--qemu-build", "build"]
    assert main(_substitute(argv, {"build": str(build)})) == 0  # from inside the tree: build
    out, err = capsys.readouterr()
    assert "bisect: good (exit 0)" in out
    assert (out + err).count("model 7.2: written for QEMU 7.2, and this is QEMU 7.2.") == 1
