"""QEMU's own recorded qemu-iotests outputs conform to the newest model.

QEMU's tests are ground truth for what QEMU may do: every ``.out`` file of
``../shared/traces/iotests/`` (beside the checkout) checked with ``--model latest``
must exit 0 and show no divergence other than the known documented-vs-implemented ones
that the rule catalogue names.  Skipped where the shared traces are absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobcheck.conformance.cli import main
from jobcheck.conformance.commands.check_trace import check_file
from jobcheck.model.lifecycle import LATEST
from jobcheck.model.rules import RULES

TRACES = Path(__file__).resolve().parent.parent.parent / "shared" / "traces" / "iotests"


def _files() -> list[Path]:
    return sorted(TRACES.glob("*.out")) if TRACES.is_dir() else []


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_recorded_iotests_output_conforms(path: Path, shared_dir: Path) -> None:
    result = check_file(str(path), "iotests", LATEST)
    assert result.error is None
    assert result.records > 0
    assert [d.message for d in result.new] == []
    for divergence in result.known:
        entry = RULES[divergence.rule]
        assert entry.known_divergence is not None
        assert entry.known_divergence.applies_to(LATEST.version)


def test_every_job_of_the_recorded_outputs_is_seen(shared_dir: Path) -> None:
    # Each output that shows job events yields jobs, so the checks above had work to do.
    results = [check_file(str(path), "auto", LATEST) for path in _files()]
    assert results and all(r.jobs > 0 for r in results)
    assert sum(len(r.known) for r in results) > 0


def test_check_trace_command_on_all_recorded_outputs(
    shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(p) for p in _files()]
    assert main(["check-trace", "--model", "latest", "--json", *files]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["new"] == 0 and document["summary"]["errors"] == 0
    assert document["summary"]["files"] == len(files)
    assert {d["rule"] for f in document["files"] for d in f["divergences"]} <= {
        "status.null-never-visible",
        "status.waiting-not-visible-for-last",
    }
