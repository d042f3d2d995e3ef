"""``jobcheck compare`` on real QEMU: 7.2 against 10.0.2 differs (``block-job-change``), a
build against itself does not, and two saved runs compared offline agree with the live form.

The campaigns are cut short (a few examples: the planned tour alone reaches every cell);
the README's figures come from the default profile, 20 runs in a row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import QEMU_BUILDS

from jobcheck.conformance.cli import main

pytestmark = pytest.mark.live

SHORT = ["--examples", "5", "--steps", "15"]


def _binary(version: str) -> str:
    for build in QEMU_BUILDS:
        if build.present and build.version.startswith(version + ".") and build.storage_daemon:
            return build.storage_daemon
    pytest.skip(f"no QEMU {version} (.ci/setup installs 7.2 and unpacks 10.0)")


def _differences(document: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for difference in document["differences"]:
        out.setdefault(difference["category"], []).append(difference["subject"])
    return out


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    old, new = _binary("7.2"), _binary("10.0")
    out = tmp_path_factory.mktemp("compare")
    argv = ["compare", "--qemu", old, "--qemu", new, *SHORT, "--out", str(out / "live")]
    return main([*argv, "--json", str(out / "live.json")]), out


def test_7_2_and_10_0_differ_by_block_job_change(live: tuple[int, Path]) -> None:
    code, out = live
    document = json.loads((out / "live.json").read_text())
    assert code == 1 and document["verdict"] == "different"
    assert "block-job-change" in _differences(document)["command"]
    assert (document["a"]["qemu_version"], document["b"]["qemu_version"])[1].startswith("10.0.")
    for side in ("a", "b"):
        coverage = document[side]["coverage"]
        assert coverage["cells"]["reached"] == coverage["cells"]["goal"], side
    assert "<svg" in (out / "live" / "compare.html").read_text()


def test_the_side_reports_compare_offline_as_live(live: tuple[int, Path]) -> None:
    _, out = live
    assert (
        main(
            [
                "compare",
                str(out / "live" / "a"),
                str(out / "live" / "b"),
                "--json",
                str(out / "off.json"),
            ]
        )
        == 1
    )
    offline = json.loads((out / "off.json").read_text())
    assert offline["differences"] == json.loads((out / "live.json").read_text())["differences"]


def test_two_separate_runs_compare_offline_like_the_live_form(
    live: tuple[int, Path], tmp_path: Path
) -> None:
    _, out = live
    for name, version in (("a", "7.2"), ("b", "10.0")):
        assert main(["run", "--qemu", _binary(version), *SHORT, "--out", str(tmp_path / name)]) == 0
    assert (
        main(
            [
                "compare",
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                "--json",
                str(tmp_path / "o.json"),
            ]
        )
        == 1
    )
    offline = json.loads((tmp_path / "o.json").read_text())
    live_form = json.loads((out / "live.json").read_text())

    def tour(document: dict[str, Any]) -> set[tuple[str, str]]:
        """What the planned tour and the rest of the run show, apart from the exploration's
        cells and the rules broken (those depend on which steps were explored)."""
        return {
            (d["category"], d["subject"])
            for d in document["differences"]
            if d["category"] != "divergence" and "(exploration)" not in d["subject"]
        }

    assert ("command", "block-job-change") in tour(offline)
    assert tour(offline) == tour(live_form)


def test_a_build_against_itself_has_no_difference(tmp_path: Path) -> None:
    qsd = _binary("7.2")
    argv = [
        "compare",
        "--qemu",
        qsd,
        "--qemu",
        qsd,
        *SHORT,
        "--no-report",
        "--json",
        str(tmp_path / "s.json"),
    ]
    assert main(argv) == 0
    document = json.loads((tmp_path / "s.json").read_text())
    assert (
        document["differences"] == []
        and document["a"]["steps_digest"] == document["b"]["steps_digest"]
    )
