"""``jobcheck model``: JSON shape, text and Markdown matrices, ``--diff``, bad versions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobcheck.conformance.cli import main

STATUSES = [
    "undefined",
    "created",
    "running",
    "paused",
    "ready",
    "standby",
    "waiting",
    "pending",
    "aborting",
    "concluded",
    "null",
]


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(["model", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_keys_and_shape(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--format", "json")
    assert {
        "version",
        "statuses",
        "verbs",
        "job_types",
        "transitions",
        "permitted",
        "rules",
    } <= set(data)
    assert data["version"] == "10.2"
    assert data["statuses"] == STATUSES
    assert data["verbs"][-1] == "change"
    assert "snapshot-delete" in data["job_types"]
    # Transitions: [from, to] pairs, sorted by enum position of from, then to.
    pairs = data["transitions"]
    assert all(isinstance(p, list) and len(p) == 2 for p in pairs)
    keys = [(STATUSES.index(a), STATUSES.index(b)) for a, b in pairs]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert ["created", "aborting"] in pairs and ["paused", "aborting"] not in pairs
    assert ["aborting", "aborting"] in pairs
    # permitted: verb -> statuses in enum order.
    assert list(data["permitted"]) == data["verbs"]
    assert data["permitted"]["complete"] == ["ready", "standby"]
    assert data["permitted"]["cancel"] == [
        "created",
        "running",
        "paused",
        "ready",
        "standby",
        "waiting",
        "pending",
    ]
    for statuses in data["permitted"].values():
        assert statuses == [s for s in STATUSES if s in statuses]
    rules = {r["id"]: r for r in data["rules"]}
    for r in data["rules"]:
        assert {"id", "anchor", "category", "text", "known_divergence"} <= set(r)
    assert rules["job-pause.already-paused-is-error"]["known_divergence"]["observed"]
    # Complete-in-standby diverges from the documentation only up to 9.2.
    assert rules["job-complete.only-ready"]["known_divergence"] is None
    assert "job-finalize.only-manual" in rules


def test_json_follows_model_version(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--model", "5.2.0", "--format", "json")
    assert data["version"] == "5.2"
    assert "change" not in data["verbs"]
    assert data["permitted"]["complete"] == ["ready"]
    assert "job-finalize.only-manual" not in {r["id"] for r in data["rules"]}
    data = _json(capsys, "--model", "7.2.22", "--format", "json")
    rules = {r["id"]: r for r in data["rules"]}
    assert rules["job-complete.only-ready"]["known_divergence"]["versions"] == ["6.0", "9.2"]


@pytest.mark.parametrize("version", ["2.11", "banana"])
def test_unknown_version_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], version: str
) -> None:
    assert main(["model", "--model", version]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert version in lines[0] and "known models" in lines[0]


def test_unknown_diff_version_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "--diff", "1.0"]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_markdown_contains_the_matrices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "--model", "7.2", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    header = "| U | C | R | P | Y | S | W | D | X | E | N |"
    assert f"| verb \\ status {header}" in out
    assert f"| from \\ to {header}" in out
    assert "| complete |   |   |   |   | ✓ | ✓ |   |   |   |   |   |" in out
    assert "| cancel |   | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |   |   |   |" in out
    assert "| S standby |   |   |   |   | ✓ |   |   |   |   |   |   |" in out
    assert "| change |" not in out


def test_text_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "--model", "4.2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "verb table A" in lines[0]
    complete = next(line for line in lines if line.strip().startswith("complete"))
    assert complete.split()[1:] == [".", ".", ".", ".", "✓", ".", ".", ".", ".", ".", "."]
    created = next(line for line in lines if line.strip().startswith("C created"))
    assert created.split()[2:] == [".", ".", "✓", ".", ".", ".", ".", ".", "✓", ".", "✓"]


def test_diff_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--model", "5.2", "--diff", "8.2", "--format", "json")
    assert data["old"] == "5.2" and data["new"] == "8.2"
    assert data["added_transitions"] == [] and data["removed_transitions"] == []
    assert data["added_verbs"] == ["change"]
    assert data["added_cells"][0] == ["complete", "standby"]
    assert ["change", "created"] in data["added_cells"]
    assert data["added_job_types"] == ["snapshot-load", "snapshot-save", "snapshot-delete"]
    back = _json(capsys, "--model", "8.2", "--diff", "5.2", "--format", "json")
    assert back["removed_verbs"] == ["change"] and back["added_verbs"] == []
    assert back["removed_cells"] == data["added_cells"]


def test_diff_text_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "--model", "5.2", "--diff", "6.0"]) == 0
    out = capsys.readouterr().out
    assert "+ verb cell: complete in standby" in out
    assert "verb: change" not in out and "verb cell: change in" not in out
    assert main(["model", "--model", "7.2", "--diff", "7.2.22"]) == 0
    assert "no differences" in capsys.readouterr().out
    assert main(["model", "--model", "2.12", "--diff", "3.0", "--format", "markdown"]) == 0
    assert "| added | job type | create |" in capsys.readouterr().out


def test_diff_names_what_changed_beyond_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    # 10.1 rewrote the job documentation; its tables are those of 10.0 (model 9.2).
    assert main(["model", "--model", "9.2", "--diff", "10.1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  no differences in the tables"
    assert "  + rule: job-finalize.only-manual: " in [line[:36] for line in lines]
    assert any(line.startswith("  ~ quote: job-complete.only-ready: ") for line in lines)
    assert any(line.startswith("  - known divergence: job-complete.only-ready: ") for line in lines)
    # 5.0 changed an error text, nothing in the documentation.
    data = _json(capsys, "--model", "4.2", "--diff", "5.0", "--format", "json")
    assert data["added_cells"] == [] and data["documentation"] == []
    assert data["error_texts"] == [
        {
            "refusal": "negative speed",
            "old": "Invalid parameter 'speed'",
            "new": "Parameter 'speed' expects a non-negative value",
        }
    ]
    assert main(["model", "--model", "4.2", "--diff", "5.0", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "No differences in the tables." in out and "| changed | error text |" in out
