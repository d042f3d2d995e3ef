"""The command line as a whole: one way to ask for JSON, --version, examples in every --help,
the model choice said once, and diagrams that never overwrite the committed set."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jobcheck.conformance.cli import SUBCOMMANDS, build_parser, main
from jobcheck.conformance.trace.records import Event, Meta, write_jsonl

CHECKED = Path(__file__).resolve().parent / "data" / "qsd-7.2.22-lifecycle.jsonl"

JSON_COMMANDS = {
    "run": ["run", "--target", "sim", "--model", "7.2", "--examples", "1", "--no-report"],
    "check-trace": ["check-trace", str(CHECKED)],
    "rules": ["rules", "--model", "7.2"],
    "model": ["model", "--model", "7.2"],
}


@pytest.mark.parametrize("command", sorted(JSON_COMMANDS))
def test_bare_json_is_the_document_alone_on_stdout(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = JSON_COMMANDS[command]
    code = main([argv[0], "--json", *argv[1:]])  # before the other words: it takes none
    out = capsys.readouterr().out
    assert code == 0
    json.loads(out)  # nothing but the document


@pytest.mark.parametrize("command", sorted(JSON_COMMANDS))
def test_json_to_a_file_keeps_the_text(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.json"
    assert main([*JSON_COMMANDS[command], f"--json={target}"]) == 0
    out = capsys.readouterr().out
    assert out.strip() and not out.lstrip().startswith(("{", "["))
    json.loads(target.read_text(encoding="utf-8"))


def test_a_file_after_a_bare_json_is_not_its_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--target", "sim", "--json", "out.json"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "write --json=out.json" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"jobcheck \d+\.\d+\.\d+\n", capsys.readouterr().out)


@pytest.mark.parametrize("command", ["", *SUBCOMMANDS])
def test_every_help_has_examples_and_fits_80_columns(command: str) -> None:
    parser = build_parser()
    if command:
        parser = next(
            action.choices[command]
            for action in parser._actions
            if isinstance(action.choices, dict) and command in action.choices
        )
    text = parser.format_help()
    assert "\nexamples:\n" in text
    examples = text.split("\nexamples:\n", 1)[1]
    assert re.search(rf"^  jobcheck {command}", examples, re.M), examples
    assert [line for line in text.splitlines() if len(line) > 79] == []


def test_diagram_writes_a_folder_of_its_own_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "diagrams").mkdir()
    assert main(["diagram", "--format", "dot"]) == 0
    assert list((tmp_path / "diagrams").iterdir()) == []  # the committed set is left alone
    assert any((tmp_path / "jobcheck-diagrams").glob("lifecycle-*.dot"))
    assert "jobcheck-diagrams" in capsys.readouterr().out


FALLBACK = "model 9.2: the newest model at or below QEMU 10.0.2 (none is written for 10.0)"


def test_the_model_fallback_is_said_once_by_every_command_that_picks_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["model", "--model", "10.0.2"], ["rules", "--model", "10.0.2"]):
        assert main(argv) == 0
        err = capsys.readouterr().err
        assert err.splitlines() == [f"jobcheck {argv[0]}: {FALLBACK}"]
    assert main(["diagram", "--model", "10.0.2", "--format", "dot", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().err.splitlines() == [f"jobcheck diagram: {FALLBACK}"]
    # an exact model version needs no word
    assert main(["model", "--model", "7.2"]) == 0
    assert capsys.readouterr().err == ""
    trace = tmp_path / "t.jsonl"
    with trace.open("w", encoding="utf-8") as stream:
        write_jsonl(
            stream,
            Meta("qemu", "10.0.2"),
            [Event("JOB_STATUS_CHANGE", {"id": "j", "status": "created"})],
        )
    assert main(["check-trace", str(trace), str(trace)]) == 0
    out = capsys.readouterr().out
    assert out.count(FALLBACK) == 1 and f"2 files ({FALLBACK}; wire order)" in out
    argv = ["run", "--target", "sim", "--model", "10.0.2", "--examples", "1", "--no-report"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert (captured.out + captured.err).count(FALLBACK) == 1


def test_the_simulator_is_named_by_its_version_never_latest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "--target", "sim", "--examples", "1", "--no-report"]) == 0
    captured = capsys.readouterr()
    assert "latest" not in captured.out + captured.err
    assert "jobcheck run: target: simulator of QEMU 10.2" in captured.err
    assert "model 10.2" in captured.out


@pytest.mark.parametrize("below", ["", "sub/dir"])
def test_a_report_directory_that_cannot_be_made_is_refused_before_the_campaign(
    below: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = blocker / below if below else blocker
    argv = ["run", "--target", "sim", "--model", "7.2", "--examples", "1", "--out", str(out)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    # the one line, and no campaign: it would have said its target and verdict first
    assert captured.err == f"jobcheck run: error: --out {out}: {blocker} is not a directory\n"
    assert captured.out == ""
    assert blocker.read_text() == "x"
