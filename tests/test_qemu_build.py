"""The build-tree workflow: ``--qemu-build DIR`` (binary, source tree, VERSION, job.json),
``jobcheck rules --qemu-build``, and ``jobcheck run --bisect``'s exit codes for git bisect.

The build directories are fakes: the layout of a QEMU build with a symlink to a binary
(or a script that cannot start), which is all jobcheck looks at.  A good build on real QEMU,
``jobcheck compare`` of builds and ``rules`` on a tree run as the README writes them, in
``tests/test_workflows.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SHARED

from jobcheck.conformance.cli import main
from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.targets.qemu_build import BuildUnusable, find_build
from jobcheck.conformance.targets.select import choose_target

QSD = shutil.which("qemu-storage-daemon") or "/usr/bin/qemu-storage-daemon"


def _tree(root: Path, version: str = "10.1.50", schema: str | None = "job-10.1.json") -> Path:
    """A QEMU source tree with ``build/`` inside it; returns the build directory."""
    (root / "qapi").mkdir(parents=True)
    (root / "VERSION").write_text(version + "\n")
    if schema is not None:
        source = SHARED / "qapi" / schema
        text = source.read_text() if source.is_file() else "{ 'enum': 'JobStatus', 'data': [] }\n"
        (root / "qapi" / "job.json").write_text(text)
    build = root / "build"
    (build / "storage-daemon").mkdir(parents=True)
    return build


def _link(build: Path, target: str = QSD, name: str = "storage-daemon/qemu-storage-daemon") -> Path:
    path = build / name
    path.symlink_to(target)
    return path


def test_the_usual_layout_build_inside_the_source_tree(tmp_path: Path) -> None:
    build = _tree(tmp_path / "qemu")
    binary = _link(build)
    found = find_build(str(build))
    assert found.binary == str(binary)
    assert found.source == str(tmp_path / "qemu")
    assert found.version == "10.1.50"
    assert found.schema == str(tmp_path / "qemu" / "qapi" / "job.json")


def test_the_source_tree_given_instead_of_its_build_directory(tmp_path: Path) -> None:
    build = _tree(tmp_path / "qemu")
    binary = _link(build)
    found = find_build(str(tmp_path / "qemu"))
    assert (found.directory, found.binary) == (str(build), str(binary))
    assert found.version == "10.1.50"


def test_a_build_directory_elsewhere_found_through_meson_info(tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    elsewhere = tmp_path / "out"
    (elsewhere / "meson-info").mkdir(parents=True)
    info = {"directories": {"source": str(tmp_path / "src"), "build": str(elsewhere)}}
    (elsewhere / "meson-info" / "meson-info.json").write_text(json.dumps(info))
    _link(elsewhere, name="qemu-system-x86_64")
    found = find_build(str(elsewhere))
    assert found.binary.endswith("qemu-system-x86_64")
    assert found.source == str(tmp_path / "src") and found.version == "10.1.50"


def test_no_binary_is_an_unusable_build_and_no_directory_a_usage_error(tmp_path: Path) -> None:
    build = _tree(tmp_path / "qemu")
    with pytest.raises(BuildUnusable, match="no storage-daemon/qemu-storage-daemon"):
        find_build(str(build))
    with pytest.raises(UsageError, match="no such directory") as caught:
        find_build(str(tmp_path / "nowhere"))
    assert not isinstance(caught.value, BuildUnusable)


def test_a_build_is_a_target_choice_that_names_itself(tmp_path: Path) -> None:
    build = _tree(tmp_path / "qemu")
    binary = _link(build)
    choice = choose_target(None, build=str(build))
    assert (choice.kind, choice.binary) == ("qemu", str(binary))
    assert choice.options() == ["--qemu-build", str(build), "--model", "10.1"]  # from the tree
    assert str(build) in choice.describe()
    with pytest.raises(UsageError, match="one of"):
        choose_target(None, build=str(build), qemu=QSD)
    with pytest.raises(UsageError, match="--target qemu"):
        choose_target("sim", build=str(build))


@pytest.mark.parametrize(
    ("version", "schema", "line"),
    [
        (
            "10.0.50",
            "job-10.1.json",
            "model 10.1: QEMU 10.0.50 is a development version after 10.0, and its"
            " qapi/job.json has the documentation of 10.1 (2 of 2 sentences",
        ),
        (
            "10.0.50",
            "job-10.0.json",
            "model 9.2: QEMU 10.0.50 is a development version after 10.0, and its"
            " qapi/job.json does not have the documentation of 10.1 yet (0 of 2 sentences",
        ),
        (
            "10.1.50",
            "job-master.json",
            "model 10.1: QEMU 10.1.50 is a development version after 10.1, the newest model"
            " at or below it",
        ),
        ("10.0.2", "job-10.0.json", "model 9.2: the newest model at or below QEMU 10.0.2"),
    ],
)
def test_rules_reads_the_trees_schema_and_its_version_chooses_the_model(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    shared_dir: Path,
    version: str,
    schema: str,
    line: str,
) -> None:
    build = _tree(tmp_path / "qemu", version, schema)
    _link(build)
    assert main(["rules", "--qemu-build", str(build)]) == 0
    out, err = capsys.readouterr()
    assert f"schema {tmp_path / 'qemu' / 'qapi' / 'job.json'}" in err
    assert line in err
    assert "0 not covered" in out
    model = line.split(":", 1)[0].removeprefix("model ")
    choice = choose_target(None, build=str(build))
    assert choice.model == model and choice.model_reason is not None and line in choice.model_reason


def test_rules_without_a_schema_in_the_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = _tree(tmp_path / "qemu", schema=None)
    _link(build)
    assert main(["rules", "--qemu-build", str(build)]) == 2
    assert "no qapi/job.json" in capsys.readouterr().err
    assert main(["rules", "--qemu-build", str(build), "--schema", "x.json"]) == 2


# -- jobcheck run --bisect ---------------------------------------------------------------


def _bisect(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", "--bisect", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_bisect_good_and_bad_on_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _bisect(["--target", "sim", "--model", "7.2"], capsys)
    assert code == 0 and "bisect: good (exit 0)" in text
    assert "cells 104/104" in text  # the bisect profile still reaches full coverage
    code, text = _bisect(
        ["--target", "sim", "--model", "7.2", "--sim-mutant", "waiting-skipped"], capsys
    )
    assert code == 1 and "bisect: bad (exit 1)" in text


def test_bisect_skips_a_build_without_a_binary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = _tree(tmp_path / "qemu")
    code, text = _bisect(["--qemu-build", str(build)], capsys)
    assert code == 125 and "bisect: skip" in text
    code, text = _bisect(["--qemu", str(build / "storage-daemon" / "qemu-storage-daemon")], capsys)
    assert code == 125


def test_bisect_skips_a_qemu_that_cannot_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = _tree(tmp_path / "qemu")
    script = tmp_path / "broken"
    script.write_text("#!/bin/sh\necho 'qemu-storage-daemon: cannot load module' >&2\nexit 1\n")
    script.chmod(0o755)
    _link(build, str(script))
    code, text = _bisect(["--qemu-build", str(build)], capsys)
    assert code == 125 and "cannot load module" in text


def test_bisect_aborts_on_a_wrong_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _bisect(["--target", "sim", "--examples", "-1"], capsys)
    assert code == 128 and "bisect: abort" in text
    code, _ = _bisect(["--qemu-build", str(tmp_path / "not-there")], capsys)
    assert code == 128
