"""``jobcheck replay``: a mutant's minimal trace still diverges on that mutant, not on the plain
simulator; bad input is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobcheck.conformance.cli import main
from jobcheck.conformance.trace.records import Note, read_jsonl

MUTANT = "dismiss-in-pending"
META = '{"kind": "meta", "format": "jobcheck-trace", "version": 1, "source": "sim"}\n'


@pytest.fixture(scope="module")
def new_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The saved trace of a new divergence found on the mutated simulator."""
    out = tmp_path_factory.mktemp("replay") / "out"
    argv = ["run", "--target", "sim", "--model", "7.2", "--examples", "3", "--steps", "10"]
    assert main([*argv, "--sim-mutant", MUTANT, "--out", str(out)]) == 1
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    new = [e for e in doc["divergences"] if e["status"] == "new" and e["trace"]]
    assert new, "the mutant run saved no trace of a new divergence"
    return out / new[0]["trace"]["file"]


def test_still_diverges_on_the_mutant(new_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["replay", str(new_trace), "--target", "sim", "--sim-mutant", MUTANT])
    out = capsys.readouterr().out
    assert code == 1
    assert "STILL DIVERGES" in out
    assert "): reproduced" in out


def test_fixed_on_the_plain_simulator(new_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["replay", str(new_trace), "--target", "sim"])
    out = capsys.readouterr().out
    assert code == 0
    assert "FIXED: no divergence" in out
    assert "not reproduced" in out


def test_default_target_is_the_plain_simulator_for_a_simulator_trace(
    new_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(new_trace)]) == 0
    assert "on simulator of QEMU 7.2" in capsys.readouterr().out


def test_strict_counts_known_divergences(
    new_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(new_trace), "--target", "sim", "--strict"]) == 1
    assert "STILL DIVERGES" in capsys.readouterr().out


def test_save_writes_a_trace_with_the_same_steps(
    new_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "again.jsonl"
    main(
        ["replay", str(new_trace), "--target", "sim", "--sim-mutant", MUTANT, "--save", str(saved)]
    )
    capsys.readouterr()

    def steps(path: Path) -> list[object]:
        with path.open(encoding="utf-8") as stream:
            _, records = read_jsonl(stream, str(path))
            return [r.step for r in records if isinstance(r, Note) and r.step]

    assert steps(saved) == steps(new_trace)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot"),
        (
            META + '{"kind": "event", "event": "X", "data": {}}\n',
            "no driver steps",
        ),
        (
            META + '{"kind": "note", "text": "x", "step": {}}\n',
            "unknown step op",
        ),
        (META + "not json\n", ":2: not valid JSON"),
    ],
    ids=["missing", "no-steps", "step-without-op", "bad-json"],
)
def test_bad_traces_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "t.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code = main(["replay", str(path), "--target", "sim"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_mutant_is_exit_2(new_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(new_trace), "--target", "sim", "--sim-mutant", "nope"]) == 2
    assert "unknown mutant 'nope'" in capsys.readouterr().err
