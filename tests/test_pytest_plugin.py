"""The pytest plugin: inert without its options; with them, a campaign item and an item per rule."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from jobcheck.model.rules import rules_for

MUTANT = "dismiss-in-pending"


def _pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    registered = any(
        e.name == "jobcheck" for e in importlib.metadata.entry_points(group="pytest11")
    )
    plugin = [] if registered else ["-p", "jobcheck.conformance.pytest_plugin"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugin, *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_its_options_the_plugin_adds_nothing(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    done = _pytest(tmp_path, "-q")
    assert done.returncode == 0, done.stdout
    assert "1 passed" in done.stdout
    assert "jobcheck" not in done.stdout
    assert not (tmp_path / "reports").exists()


def test_a_mutant_campaign_fails_its_rule_items(tmp_path: Path) -> None:
    report = tmp_path / "rep"
    done = _pytest(
        tmp_path,
        "-q",
        "-rfs",
        "--jobcheck-target",
        "sim",
        "--jobcheck-model",
        "7.2",
        "--jobcheck-sim-mutant",
        MUTANT,
        "--jobcheck-examples",
        "2",
        "--jobcheck-report",
        str(report),
        "--junitxml",
        str(tmp_path / "junit.xml"),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED jobcheck::" in done.stdout
    assert "verdict: FAIL (exit 1)" in done.stdout
    # a failure shows the minimal run that reproduces it, step by step
    assert re.search(r"minimal failing run \(\d+ steps, seed 0\):\n +1\. start ", done.stdout)
    # the run stopped early: rules it never reached are skipped, not passed
    assert "jobcheck::qemu.no-abort: not exercised" in done.stdout
    assert (report / "report.html").exists()
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 1 + len(rules_for("7.2"))
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed and "campaign" not in failed
    skipped = {c.get("name") for c in cases if c.find("skipped") is not None}
    assert "status.null-never-visible" in skipped


def _sim(*args: str) -> list[str]:
    """Options for a short campaign on the simulator of QEMU 7.2."""
    return [
        "--jobcheck-target",
        "sim",
        "--jobcheck-model",
        "7.2",
        "--jobcheck-examples",
        "1",
        *args,
    ]


def test_keyword_selection_and_a_bad_option(tmp_path: Path) -> None:
    done = _pytest(
        tmp_path,
        "-q",
        *_sim("--jobcheck-report", str(tmp_path / "rep")),
        "-k",
        "campaign or null-never-visible",
    )
    assert "1 passed, 1 skipped" in done.stdout, done.stdout + done.stderr
    bad = _pytest(tmp_path, "--jobcheck-target", "sim", "--jobcheck-sim-mutant", "nope")
    assert bad.returncode == pytest.ExitCode.USAGE_ERROR
    assert "jobcheck: unknown mutant 'nope'" in bad.stderr


def test_given_no_path_only_the_campaign_is_collected_and_nothing_is_written_here(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    done = _pytest(tmp_path, *_sim())
    assert done.returncode == 0, done.stdout + done.stderr
    count = 1 + len(rules_for("7.2"))
    assert f"collected {count} items" in done.stdout
    assert "test_one" not in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test_one.py"]  # no reports/ here
    written = Path(re.findall(r"^reports: (.*)/$", done.stdout, re.M)[0])
    assert (written / "report.html").exists() and tmp_path not in written.parents
    with_path = _pytest(tmp_path, *_sim(), "test_one.py")
    assert with_path.returncode == 0 and f"collected {count + 1} items" in with_path.stdout


def test_node_ids_are_the_same_everywhere(tmp_path: Path) -> None:
    xml = tmp_path / "out" / "junit.xml"
    done = _pytest(
        tmp_path, "-v", *_sim(), "--junitxml", str(xml), "--deselect", "jobcheck::campaign"
    )
    shown = re.findall(r"^(jobcheck::\S+) (?:PASSED|SKIPPED|FAILED)", done.stdout, re.M)
    expected = [f"jobcheck::{r.id}" for r in rules_for("7.2")]
    assert shown == expected, done.stdout
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite is not None
    cases = [(c.get("classname"), c.get("name")) for c in suite.findall("testcase")]
    assert cases == [("jobcheck", str(r.id)) for r in rules_for("7.2")]
    skipped = re.findall(
        r"^SKIPPED \[1\] (\S+): ", _pytest(tmp_path, "-q", "-rs", *_sim()).stdout, re.M
    )
    assert skipped and all(s in expected for s in skipped)
