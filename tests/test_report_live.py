"""Reports, replay and export on a live QEMU: one small strict campaign, then its traces.

``--strict`` makes the campaign stop at the first divergence QEMU shows —
a catalogued one, which every QEMU has — so the run is short and leaves a
minimal trace that replay and export can work on.  Each test runs on every
QEMU build of ``tests/conftest.py`` (7.2 and 10.0).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import QemuBuild

from jobcheck.conformance.cli import main
from jobcheck.conformance.report import write as report
from jobcheck.conformance.report.junit import expected_counts

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def qsd(qemu_build: QemuBuild) -> str:
    assert qemu_build.storage_daemon is not None
    return qemu_build.storage_daemon


@pytest.fixture(scope="module")
def live_run(qsd: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("live") / "out"
    # seed 0's third example is the first to finish a job (a catalogued divergence)
    argv = ["run", "--qemu", qsd, "--no-tour", "--examples", "5", "--steps", "6", "--strict"]
    code = main([*argv, "--out", str(out)])
    return code, out


def _doc(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "report.json").read_text(encoding="utf-8")))


def test_live_report_validates_and_names_the_qemu(live_run: tuple[int, Path], qsd: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    code, out = live_run
    doc = _doc(out)
    jsonschema.validate(doc, json.loads(report.SCHEMA_FILE.read_text(encoding="utf-8")))
    assert code == 1 and doc["outcome"]["exit_code"] == 1
    assert doc["target"]["kind"] == "qemu" and doc["target"]["binary"] == qsd
    assert doc["counts"]["known"] >= 1 and all(e["fails"] for e in doc["divergences"])
    if shutil.which("dpkg-query"):
        owner = subprocess.run(
            ["dpkg-query", "-S", qsd], capture_output=True, text=True, check=False
        ).stdout
        if owner:
            assert doc["target"]["package"]["name"] == owner.split(":", 1)[0]


def test_live_junit_counts_equal_the_json(live_run: tuple[int, Path]) -> None:
    _, out = live_run
    doc = _doc(out)
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    counts = expected_counts(doc)
    assert int(suite.get("tests", "-1")) == len(suite.findall("testcase")) == counts["tests"]
    assert int(suite.get("failures", "-1")) == counts["failures"] == doc["counts"]["failing"]
    assert "<svg" in (out / "report.html").read_text(encoding="utf-8")


def _first_trace(out: Path) -> tuple[Path, dict[str, Any]]:
    entry = next(e for e in _doc(out)["divergences"] if e["trace"])
    return out / entry["trace"]["file"], entry


def test_a_live_divergence_still_diverges_on_qemu(
    live_run: tuple[int, Path], qsd: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = live_run
    trace, entry = _first_trace(out)
    capsys.readouterr()
    assert main(["replay", str(trace), "--qemu", qsd, "--strict"]) == 1
    text = capsys.readouterr().out
    assert "STILL DIVERGES" in text
    assert f"the trace's divergence ({entry['rule']}): reproduced" in text


def test_the_exported_script_reproduces_a_live_divergence(
    live_run: tuple[int, Path], qsd: str, tmp_path: Path
) -> None:
    _, out = live_run
    trace, _ = _first_trace(out)
    script = tmp_path / "repro.py"
    # QEMU's divergences are all catalogued ones: exporting one is asked for by name
    argv = ["--as", "script", "--out", str(script), "--allow-known", "--divergence", "d01"]
    assert main(["export", str(trace), *argv]) == 0
    done = subprocess.run(
        [sys.executable, str(script), "--qemu", qsd], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    assert done.stdout.rstrip().endswith("DIVERGENCE REPRODUCED")
