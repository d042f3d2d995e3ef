"""``jobcheck check-trace`` end to end: output lines, known divergences apart, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobcheck.conformance.cli import main


def _write(path: Path, records: list[dict[str, Any]], version: str | None = None) -> str:
    meta: dict[str, Any] = {"kind": "meta", "format": "jobcheck-trace", "version": 1}
    meta.update({"source": "test", "order": "wire"})
    if version is not None:
        meta["qemu_version"] = version
    lines = [json.dumps(meta), *(json.dumps(r) for r in records)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _jsc(job: str, status: str) -> dict[str, Any]:
    return {"kind": "event", "event": "JOB_STATUS_CHANGE", "data": {"id": job, "status": status}}


CLEAN = [_jsc("j", s) for s in ("created", "running", "waiting", "pending")]
KNOWN_ONLY = [*CLEAN, _jsc("j", "concluded"), _jsc("j", "null")]
BROKEN = [_jsc("j", "created"), _jsc("j", "pending")]


def test_conforming_trace_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "ok.jsonl", CLEAN[:2])
    assert main(["check-trace", path]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith(
        "1 file (model 10.2: the newest, as no QEMU version is known; wire order): 2 records,"
        " 1 job;"
    )
    assert "0 new divergences, 0 known" in out


def test_new_divergence_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "bad.jsonl", BROKEN)
    assert main(["check-trace", path]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{path}:3: status.transition-table: job 'j': created -> pending")


def test_known_divergences_listed_apart_and_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "known.jsonl", KNOWN_ONLY + BROKEN)
    assert main(["check-trace", path]) == 1
    lines = capsys.readouterr().out.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("Known divergences"))
    before, after = lines[:heading], lines[heading + 1 : -1]
    assert [line.split(": ")[1] for line in before if line] == ["status.transition-table"]
    assert sorted(line.split(": ")[1] for line in after) == [
        "status.null-never-visible",
        "status.waiting-not-visible-for-last",
    ]
    only_known = _write(tmp_path / "only.jsonl", KNOWN_ONLY)
    assert main(["check-trace", only_known]) == 0
    assert main(["check-trace", "--strict", only_known]) == 1


def test_model_from_the_trace_or_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "v.jsonl", CLEAN[:2], version="7.2.22")
    assert main(["check-trace", "--json", path]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["model"] == "7.2"
    assert main(["check-trace", "--json", "--model", "5.2", path]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["model"] == "5.2"
    assert main(["check-trace", "--model", "1.0", path]) == 2
    assert "unknown QEMU version '1.0'" in capsys.readouterr().err


def test_json_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "bad.jsonl", KNOWN_ONLY + BROKEN)
    assert main(["check-trace", "--json", path]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["exit"] == 1
    assert document["summary"] | {"models": None, "model_choices": None} == {
        "files": 1,
        "records": 8,
        "jobs": 2,
        "new": 1,
        "known": 2,
        "errors": 0,
        "models": None,
        "orders": ["wire"],
        "model_choices": None,
    }
    (entry,) = document["files"]
    assert [d["known"] for d in entry["divergences"]] == [False, True, True]
    assert entry["divergences"][0]["line"] == 9


def test_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.jsonl"
    _write(path, CLEAN[:1])
    with path.open("a", encoding="utf-8") as stream:
        stream.write('{"kind": "event", "event": \n')
    good = _write(tmp_path / "good.jsonl", BROKEN)
    assert main(["check-trace", str(path), good]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"{path}:3: not valid JSON (Expecting value)"]
    assert "Traceback" not in captured.err
    # The other file was still checked.
    assert "status.transition-table" in captured.out
    assert main(["check-trace", str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "missing.jsonl" in err[0]


def test_iotests_format_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.out"
    out.write_text(
        "QA output created by t\n"
        '{"execute": "qmp_capabilities"}\n{"return": {}}\n'
        '{"event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "j"}}\n'
        '{"event": "JOB_STATUS_CHANGE", "data": {"status": "ready", "id": "j"}}\n'
        "*** done\n",
        encoding="utf-8",
    )
    assert main(["check-trace", "--format", "iotests", str(out)]) == 1
    assert f"{out}:5: status.transition-table" in capsys.readouterr().out
