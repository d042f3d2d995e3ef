"""Reports: the JSON against its schema, JUnit counts, the HTML page, traces, the baseline gate.

Two kinds of run feed these tests: real simulator campaigns through the
``jobcheck run`` command line (one with a mutant, so that a new divergence is
found), and small hand-made campaign results whose divergences are known
exactly, for the exit-code rules of the baseline gate.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jobcheck.conformance.campaign.coverage import Coverage, coverage_summary
from jobcheck.conformance.campaign.parallel import RunInfo
from jobcheck.conformance.campaign.results import CampaignResult, Failure
from jobcheck.conformance.cli import main
from jobcheck.conformance.oracle import check
from jobcheck.conformance.oracle.divergence import Divergence
from jobcheck.conformance.report import markdown as report_markdown
from jobcheck.conformance.report import write as report
from jobcheck.conformance.report.baseline import Baseline, Entry, VersionRange, write_baseline
from jobcheck.conformance.report.junit import expected_counts
from jobcheck.conformance.targets.select import TargetChoice
from jobcheck.conformance.trace.records import (
    Command,
    Event,
    Meta,
    Note,
    Record,
    Response,
    read_jsonl,
)
from jobcheck.model.lifecycle import model_for
from jobcheck.model.rules import RULES, rules_for

MUTANT = "dismiss-in-pending"


@dataclass
class Run:
    code: int
    directory: Path
    output: str

    def document(self) -> dict[str, Any]:
        return dict(json.loads((self.directory / "report.json").read_text(encoding="utf-8")))


def _run(directory: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Run:
    argv = ["run", "--target", "sim", "--model", "7.2", "--examples", "3", "--steps", "10"]
    code = main([*argv, "--out", str(directory), *extra])
    return Run(code, directory, capsys.readouterr().out)


@pytest.fixture(scope="module")
def mutant_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    directory = tmp_path_factory.mktemp("mutant")
    argv = ["run", "--target", "sim", "--model", "7.2", "--examples", "3", "--steps", "10"]
    code = main([*argv, "--sim-mutant", MUTANT, "--out", str(directory / "out")])
    return Run(code, directory / "out", "")


# -- a real simulator run with a mutant -----------------------------------------------------


def test_mutant_run_fails_with_a_new_divergence(mutant_run: Run) -> None:
    doc = mutant_run.document()
    assert mutant_run.code == 1
    assert doc["outcome"]["exit_code"] == 1
    assert doc["counts"]["new"] >= 1
    assert doc["target"]["mutant"] == MUTANT
    assert doc["run"]["examples"] <= doc["run"]["examples_requested"]
    assert doc["run"]["name"].startswith(f"sim-7.2-{MUTANT}-seed0-")


def test_json_validates_against_the_schema(mutant_run: Run) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(report.SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(mutant_run.document(), schema)


def test_schema_rejects_a_document_with_a_wrong_field(mutant_run: Run) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(report.SCHEMA_FILE.read_text(encoding="utf-8"))
    doc = mutant_run.document()
    doc["divergences"][0]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_counts_agree_with_the_divergences(mutant_run: Run) -> None:
    doc = mutant_run.document()
    entries, counts = doc["divergences"], doc["counts"]
    assert counts["divergences"] == len(entries)
    for status in ("new", "known", "baselined"):
        assert counts[status] == sum(1 for e in entries if e["status"] == status)
    assert counts["failing"] == sum(1 for e in entries if e["fails"])
    assert counts["occurrences"] == sum(e["occurrences"] for e in entries)
    assert counts["rules"] == len(doc["rules"])


def test_junit_parses_and_its_counts_equal_the_json(mutant_run: Run) -> None:
    doc = mutant_run.document()
    root = ET.parse(mutant_run.directory / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert int(suite.get("tests", "-1")) == len(cases) == expected_counts(doc)["tests"]
    assert int(suite.get("failures", "-1")) == len(failures) == doc["counts"]["failing"]
    counts = doc["counts"]
    no_verdict = counts["rules_unchecked"] + counts["rules_not_exercised"]
    assert int(suite.get("skipped", "-1")) == len(skipped) == counts["accepted"] + no_verdict
    assert int(suite.get("errors", "-1")) == 0
    names = {c.get("name") for c in failures}
    assert names == {f"{e['rule']}[{e['id']}]" for e in doc["divergences"] if e["fails"]}


def test_html_is_self_contained_and_shows_the_diagram(mutant_run: Run) -> None:
    text = (mutant_run.directory / "report.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<svg" in text and "</svg>" in text
    for forbidden in ("<script", "<link", "<img", "<iframe", "@import", "url("):
        assert forbidden not in text
    assert not re.search(r"\ssrc\s*=", text)
    ids = set(re.findall(r'\sid="([^"]+)"', text))
    for href in re.findall(r'\shref="([^"]+)"', text):
        if href.startswith("#"):
            assert href[1:] in ids, href  # every link inside the page lands somewhere
        else:  # else only the trace files beside it
            assert href.startswith("traces/") and (mutant_run.directory / href).is_file(), href
    doc = mutant_run.document()
    for entry in doc["divergences"]:
        assert f'id="{entry["id"]}"' in text and f'href="#{entry["id"]}"' in text
        assert f'href="#rule-{entry["rule"]}"' in text
        if entry["repro"]:
            assert entry["repro"].replace('"', "&quot;").replace("'", "&#x27;") in text
        if entry["trace"]:
            assert f'href="{entry["trace"]["file"]}"' in text
    for rule in doc["rules"]:
        assert f'id="rule-{rule["id"]}"' in text
    assert 'class="matrix"' in text and 'nav class="toc"' in text
    # traces are folded away; a blank column of the matrix says why it is blank
    assert "<details open" not in text and text.count("<details>") == sum(
        1 for e in doc["divergences"] if e["trace"]
    )
    assert "<b>created</b>: a job is created and started by the same command" in text
    assert re.search(r'<tr id="edge-running-ready">', text)


def test_markdown_has_summary_and_rules_and_mermaid_only_when_asked(
    mutant_run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (mutant_run.directory / "report.md").read_text(encoding="utf-8")
    doc = mutant_run.document()
    assert text.startswith(f"# jobcheck report: {doc['run']['name']}")
    assert "```mermaid" not in text and "stateDiagram-v2" not in text
    if (mutant_run.directory / "overlay.svg").exists():
        assert "](overlay.svg)" in text
    for entry in doc["divergences"]:
        assert f"#### `{entry['rule']}`" in text
    assert "### New (" in text
    asked = _run(tmp_path / "mermaid", capsys, "--mermaid")
    text = (asked.directory / "report.md").read_text(encoding="utf-8")
    assert text.count("```mermaid\n---") == 1 and "stateDiagram-v2" in text


def test_each_trace_file_holds_the_divergent_record_at_its_line(mutant_run: Run) -> None:
    doc = mutant_run.document()
    with_trace = [e for e in doc["divergences"] if e["trace"]]
    assert any(e["status"] == "new" for e in with_trace)
    for entry in with_trace:
        path = mutant_run.directory / entry["trace"]["file"]
        with path.open(encoding="utf-8") as stream:
            meta, records = read_jsonl(stream, str(path))
            listed = list(records)
        assert meta.extra["rule"] == entry["rule"]
        assert meta.extra["divergence"] == entry["id"]
        assert len(listed) == entry["trace"]["records"]
        index = entry["trace"]["index"]
        assert listed[index].line == entry["trace"]["line"] == index + 2
        assert entry["repro"].startswith(f"jobcheck replay {path} --target sim")


def test_summary_lines(mutant_run: Run) -> None:
    doc = mutant_run.document()
    outcome = report.Outcome(doc, [], [], None, model_for("7.2"))
    lines = report.summary_lines(outcome)
    assert lines[0] == f"target: {doc['target']['description']}"
    transitions = doc["coverage"]["transitions"]
    assert any(f"transitions {transitions['reached']}/{transitions['goal']}" in x for x in lines)
    assert lines[-1] == "verdict: FAIL (exit 1)"
    assert sum(1 for x in lines if x.startswith("  NEW ")) == doc["counts"]["new"]


def test_a_baseline_of_the_findings_makes_the_mutant_run_pass(
    tmp_path: Path, mutant_run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "baseline.json"
    first = _run(
        tmp_path / "a",
        capsys,
        "--sim-mutant",
        MUTANT,
        "--baseline",
        str(baseline),
        "--update-baseline",
    )
    assert first.code == 1 and baseline.exists()
    rules = {e["rule"] for e in json.loads(baseline.read_text())["entries"]}
    assert {e["rule"] for e in first.document()["divergences"]} <= rules
    second = _run(tmp_path / "b", capsys, "--sim-mutant", MUTANT, "--baseline", str(baseline))
    doc = second.document()
    assert second.code == 0, second.output
    assert doc["counts"]["new"] == 0 and doc["counts"]["baselined"] >= 1


def test_a_malformed_baseline_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"entries": [{"rule": "no.such-rule"}]}', encoding="utf-8")
    code = main(
        ["run", "--target", "sim", "--examples", "1", "--baseline", str(bad), "--no-report"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "no rule 'no.such-rule'" in err and "Traceback" not in err


# -- hand-made results: the exit-code rules -------------------------------------------------


def _records() -> list[Record]:
    spec = {"type": "backup", "id": "j1", "auto-finalize": True, "auto-dismiss": True}

    def jsc(status: str) -> Event:
        return Event("JOB_STATUS_CHANGE", {"id": "j1", "status": status})

    return [
        Note("start backup j1", {"op": "start", "jobs": [spec], "grouped": False}),
        Command("blockdev-backup", {"job-id": "j1"}, 1),
        jsc("created"),
        jsc("running"),
        Response(1, {}),
        Note("job-pause j1", {"op": "verb", "job": "j1", "verb": "pause", "family": "job"}),
        Command("job-pause", {"id": "j1"}, 2),
        jsc("paused"),
        Response(2, {}),
        Note("job-cancel j1", {"op": "verb", "job": "j1", "verb": "cancel", "family": "job"}),
        Command("job-cancel", {"id": "j1"}, 3),
        jsc("running"),
        Response(3, {}),
        jsc("aborting"),
        Event("BLOCK_JOB_CANCELLED", {"type": "backup", "device": "j1", "len": 9, "offset": 1}),
        jsc("concluded"),
        jsc("null"),
    ]


KNOWN = Divergence(
    "status.null-never-visible",
    "j1",
    16,
    0,
    None,
    "the status null is never reported, by event or by query",
    "reported null (JOB_STATUS_CHANGE)",
    True,
    "job 'j1': the job was dismissed (concluded -> null): QEMU reported null (JOB_STATUS_CHANGE);"
    " documented: the status null is never reported, by event or by query",
)
NEW = Divergence(
    "job-pause.pauses",
    "j1",
    7,
    0,
    None,
    "running -> paused",
    "reported standby",
    False,
    "job 'j1': pause went wrong (job-pause.pauses)",
)


STANDBY = {"outcome": "reported standby"}
PAUSED = {"outcome": "refused (GenericError: Job is already paused)"}


def _info(version: str = "7.2") -> RunInfo:
    return RunInfo.of(
        TargetChoice("sim", model="7.2"),
        qemu_version="7.2.22",
        model=version,
        seed=3,
        profile="ci",
        examples=1,
        steps=3,
        jobs=1,
        command="jobcheck run --target sim --model 7.2 --seed 3",
    )


def _outcome(
    divergences: list[Divergence],
    *,
    failing: list[Divergence] | None = None,
    baseline: Path | None = None,
    strict: bool = False,
) -> report.Outcome:
    records = _records()
    result = CampaignResult(coverage=Coverage().feed_all(records), divergences=list(divergences))
    if failing:
        meta = Meta("sim", "7.2.22")
        # as the campaign does: the failure carries every divergence of its records
        seen = check(records, model_for("7.2"), meta)
        result.failure = Failure("diverged", records, meta, failing, seen)
    summary = coverage_summary(result.coverage, model_for("7.2"))
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return report.build(
        _info(), result, summary, str(baseline) if baseline else None, strict, when=when
    )


def _baseline(tmp_path: Path, *entries: Entry) -> Path:
    path = tmp_path / "baseline.json"
    write_baseline(Baseline(None, list(entries)), path)
    return path


def test_known_only_run_exits_0_and_fails_when_strict() -> None:
    assert _outcome([KNOWN, KNOWN]).exit_code == 0
    strict = _outcome([KNOWN], strict=True)
    assert strict.exit_code == 1
    assert strict.document["divergences"][0]["fails"] is True


def test_new_divergence_exits_1() -> None:
    outcome = _outcome([KNOWN, NEW], failing=[NEW])
    doc = outcome.document
    assert outcome.exit_code == 1
    new = [e for e in doc["divergences"] if e["status"] == "new"]
    assert [e["rule"] for e in new] == ["job-pause.pauses"]
    assert new[0]["job_type"] == "backup"
    assert new[0]["trace"]["index"] == 7 and new[0]["trace"]["line"] == 9
    assert outcome.run_name == "sim-7.2-seed3-20260102T030405Z"


def test_baselined_divergence_passes_even_when_strict(tmp_path: Path) -> None:
    path = _baseline(
        tmp_path,
        Entry("job-pause.pauses", "backup", VersionRange.parse("==7.2"), "seen on 7.2", **STANDBY),
        Entry(
            "status.null-never-visible",
            None,
            None,
            "always",
            outcome="reported null (JOB_STATUS_CHANGE)",
        ),
    )
    outcome = _outcome([KNOWN, NEW], failing=[NEW], baseline=path, strict=True)
    doc = outcome.document
    assert outcome.exit_code == 0
    assert {e["status"] for e in doc["divergences"]} == {"baselined"}
    assert doc["baseline"]["matched"] == 2 and doc["baseline"]["stale"] == []


def test_a_baseline_entry_for_another_outcome_does_not_match(tmp_path: Path) -> None:
    entry = Entry("job-pause.pauses", None, None, "seen on 7.2", outcome="reported paused")
    outcome = _outcome([NEW], failing=[NEW], baseline=_baseline(tmp_path, entry), strict=True)
    assert outcome.exit_code == 1
    mine = [e for e in outcome.document["divergences"] if e["rule"] == "job-pause.pauses"]
    assert [e["status"] for e in mine] == ["new"]


def test_a_baseline_entry_for_another_job_type_does_not_match(tmp_path: Path) -> None:
    path = _baseline(tmp_path, Entry("job-pause.pauses", "mirror", None, "mirror only", **STANDBY))
    assert _outcome([NEW], failing=[NEW], baseline=path).exit_code == 1


def test_stale_entries_are_not_judged_after_a_failure(tmp_path: Path) -> None:
    path = _baseline(
        tmp_path, Entry("job-pause.already-paused-is-error", None, None, "x", **PAUSED)
    )
    outcome = _outcome([NEW], failing=[NEW], baseline=path, strict=True)
    assert outcome.document["baseline"]["stale_judged"] is False
    assert outcome.document["baseline"]["stale"] == []
    assert any("not judged" in x for x in report.summary_lines(outcome))


def test_stale_entry_is_reported_and_fails_only_when_strict(tmp_path: Path) -> None:
    stale = Entry(
        "job-pause.already-paused-is-error", None, VersionRange.parse(">=7.0"), "x", **PAUSED
    )
    path = _baseline(tmp_path, stale)
    loose = _outcome([], baseline=path)
    assert loose.exit_code == 0
    assert [s["rule"] for s in loose.document["baseline"]["stale"]] == [stale.rule]
    assert any("fixed? remove it from the baseline" in x for x in report.summary_lines(loose))
    strict = _outcome([], baseline=path, strict=True)
    assert strict.exit_code == 1
    assert strict.document["baseline"]["stale"][0]["fails"] is True


@pytest.mark.parametrize(
    "entry",
    [
        Entry("job-pause.already-paused-is-error", None, None, "", True, **PAUSED),
        Entry("job-pause.already-paused-is-error", None, VersionRange.parse("==8.2"), "", **PAUSED),
        Entry("job-complete.only-ready", None, None, "never sent a complete", outcome="accepted"),
        Entry("job-pause.already-paused-is-error", "mirror", None, "no mirror ran", **PAUSED),
    ],
    ids=["intermittent", "other-version", "not-exercised", "other-job-type"],
)
def test_entries_that_are_not_stale(tmp_path: Path, entry: Entry) -> None:
    outcome = _outcome([], baseline=_baseline(tmp_path, entry), strict=True)
    assert outcome.document["baseline"]["stale"] == []
    assert outcome.exit_code == 0


def test_update_baseline_writes_findings_and_drops_stale(tmp_path: Path) -> None:
    stale = Entry("job-pause.already-paused-is-error", None, None, "fixed since", **PAUSED)
    path = _baseline(tmp_path, stale)
    outcome = _outcome([KNOWN, NEW], baseline=path)
    assert [s["rule"] for s in outcome.document["baseline"]["stale"]] == [stale.rule]
    report.update_baseline(outcome, path)
    entries = json.loads(path.read_text())["entries"]
    assert {e["rule"] for e in entries} == {"status.null-never-visible", "job-pause.pauses"}
    assert all(e["qemu"] == "==7.2" for e in entries)
    again = _outcome([KNOWN, NEW], baseline=path, strict=True)
    assert again.exit_code == 0


def test_write_all_writes_four_reports_and_traces(tmp_path: Path) -> None:
    outcome = _outcome([KNOWN, NEW], failing=[NEW])
    written = report.write_all(outcome, tmp_path / "out")
    names = {p.relative_to(tmp_path / "out").as_posix() for p in written}
    assert set(report.REPORT_FILES) <= names
    traces = sorted(n for n in names if n.startswith("traces/"))
    assert traces == [
        "traces/d01-job-pause.pauses.jsonl",
        "traces/d02-status.null-never-visible.jsonl",
    ]
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["divergences"][0]["repro"] == (
        f"jobcheck replay {tmp_path / 'out' / traces[0]} --target sim --model 7.2"
    )
    assert doc["divergences"][1]["repro"].endswith(" --strict")


def test_crash_is_a_new_no_abort_divergence() -> None:
    records = _records()
    result = CampaignResult(coverage=Coverage().feed_all(records))
    result.crash = "QEMU died of SIGABRT"
    result.failure = Failure("QEMU died of SIGABRT", records, Meta("qemu", "7.2.22"), [])
    summary = coverage_summary(result.coverage, model_for("7.2"))
    outcome = report.build(_info(), result, summary, None, False)
    doc = outcome.document
    assert outcome.exit_code == 1
    assert doc["divergences"][0]["rule"] == "qemu.no-abort"
    assert doc["outcome"]["crash"] == "QEMU died of SIGABRT" and doc["outcome"]["error"] is None


def test_failure_without_divergence_is_an_error() -> None:
    records = _records()
    result = CampaignResult(coverage=Coverage().feed_all(records))
    result.failure = Failure("Flaky: went differently", records, Meta("sim", "7.2.22"), [])
    summary = coverage_summary(result.coverage, model_for("7.2"))
    outcome = report.build(_info(), result, summary, None, False)
    assert outcome.exit_code == 1
    assert outcome.document["counts"]["errors"] == 1
    assert expected_counts(outcome.document)["errors"] == 1


def test_html_without_dot_shows_the_mermaid_text() -> None:
    from jobcheck.conformance.report import html as report_html

    outcome = _outcome([KNOWN, NEW], failing=[NEW])
    text = report_html.render(outcome.document, outcome.trace_records(), None)
    assert "<svg" not in text
    assert "stateDiagram-v2" in text and "was not available" in text


def test_an_unwritable_report_directory_is_a_usage_error(tmp_path: Path) -> None:
    from jobcheck.conformance.errors import UsageError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot write"):
        report.write_all(_outcome([KNOWN]), blocker / "out")


def test_long_traces_are_cut_after_the_divergent_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobcheck.conformance.report import document as report_data

    monkeypatch.setattr(report_data, "MAX_TRACE_RECORDS", 8)
    outcome = _outcome([KNOWN, NEW], failing=[NEW])
    new = next(t for t in outcome.traces if t.name.endswith("job-pause.pauses.jsonl"))
    assert len(new.records) == 9
    assert isinstance(new.records[-1], Response)
    assert new.meta.extra["excerpt"] is True


def test_plain_simulator_known_only_run_and_the_stale_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = _run(tmp_path / "plain", capsys)
    doc = plain.document()
    assert plain.code == 0, plain.output
    assert doc["counts"]["new"] == 0 and doc["counts"]["known"] >= 1
    assert _run(tmp_path / "strict", capsys, "--strict").code == 1
    baseline = tmp_path / "baseline.json"
    made = _run(tmp_path / "made", capsys, "--baseline", str(baseline), "--update-baseline")
    assert made.code == 0
    data = json.loads(baseline.read_text())
    assert {e["rule"] for e in data["entries"]} == {e["rule"] for e in doc["divergences"]}
    assert _run(tmp_path / "baselined", capsys, "--baseline", str(baseline), "--strict").code == 0
    was = {"rule": "job-dismiss.only-concluded", "outcome": "accepted", "reason": "was wrong once"}
    data["entries"].append(was)
    baseline.write_text(json.dumps(data))
    loose = _run(tmp_path / "loose", capsys, "--baseline", str(baseline))
    assert loose.code == 0
    assert "stale: job-dismiss.only-concluded: fixed? remove it from the baseline" in loose.output
    # The same rule with another outcome is not what the entry accepted: new, exit 1.
    data["entries"] = [dict(e, outcome="accepted") for e in data["entries"]]
    baseline.write_text(json.dumps(data))
    other = _run(tmp_path / "other", capsys, "--baseline", str(baseline), "--strict")
    assert other.code == 1
    assert loose.document()["baseline"]["stale_judged"] is True


def test_a_rule_no_check_enforces_is_unchecked_not_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every rule of the catalogue has a check today: make one documentation-only.
    paper = replace(RULES["job-pause.pauses"], checks=(), unchecked="not checked (test)")
    monkeypatch.setitem(RULES, "job-pause.pauses", paper)
    doc = _outcome([]).document
    results = {r["id"]: r for r in doc["rules"]}
    unchecked = [r for r in results.values() if r["result"] == "unchecked"]
    assert [r["id"] for r in unchecked] == ["job-pause.pauses"]
    assert unchecked[0]["unchecked"] == "not checked (test)"
    assert not [r for r in rules_for("7.2") if not r.checks]
    assert doc["counts"]["rules_unchecked"] == len(unchecked)
    assert doc["counts"]["rules_passed"] == sum(
        1 for r in results.values() if r["result"] == "pass"
    )


@pytest.mark.parametrize(
    ("version", "wording"),
    [("7.2", "in the READY state."), ("10.2", "in the READY or STANDBY state.")],
)
def test_rule_quotes_are_the_documentation_of_the_model_version(version: str, wording: str) -> None:
    records = _records()
    result = CampaignResult(coverage=Coverage().feed_all(records), divergences=[])
    summary = coverage_summary(result.coverage, model_for(version))
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    document = report.build(_info(version), result, summary, None, False, when=when).document
    quotes = {r["id"]: r["quote"] for r in document["rules"]}
    assert quotes["job-complete.only-ready"].endswith(wording)


def test_markdown_escapes_what_the_trace_and_qemu_said() -> None:
    hostile = "<img src=x onerror=alert(1)> **bold** [link](http://x) `tick` | pipe\nnext"
    evil = replace(NEW, observed=hostile, expected="a <b>tag</b>", job="j1")
    outcome = _outcome([evil], failing=[evil])
    outcome.document["target"]["description"] = "QEMU <script>alert(2)</script>"
    outcome.document["run"]["command"] = "jobcheck run `x` | y"
    text = report_markdown.render(outcome.document)
    assert "<img" not in text and "<script" not in text and "<b>" not in text
    assert "&lt;img src=x onerror=alert(1)&gt; \\*\\*bold\\*\\* \\[link\\](http://x)" in text
    assert "\\`tick\\` \\| pipe next" in text
    assert "| command | `` jobcheck run `x` \\| y `` |" in text
    assert "QEMU &lt;script&gt;alert(2)&lt;/script&gt;" in text


# -- rule results: pass needs a record that put the rule to the test -------------------------


def test_a_run_without_steps_passes_no_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _run(tmp_path / "empty", capsys, "--no-tour", "--examples", "0")
    doc = empty.document()
    results = {r["id"]: r["result"] for r in doc["rules"]}
    assert "pass" not in results.values()
    checked = {str(r.id) for r in rules_for("7.2") if r.checks}
    assert {i for i, r in results.items() if r == "not-exercised"} == checked
    assert doc["counts"]["rules_not_exercised"] == len(checked)
    assert all(r["exercised"] == 0 for r in doc["rules"])
    unchecked = sum(1 for r in rules_for("7.2") if not r.checks)
    said = f"{unchecked} unchecked, " if unchecked else ""
    assert f"rules: {said}{len(checked)} not exercised (" in empty.output
    suite = ET.parse(empty.directory / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    skipped = [c.find("skipped") for c in suite.findall("testcase")]
    assert sum(1 for s in skipped if s is not None and s.get("type") == "not-exercised") == len(
        checked
    )
    assert {k: int(suite.get(k, -1)) for k in expected_counts(doc)} == expected_counts(doc)
    md = (empty.directory / "report.md").read_text(encoding="utf-8")
    html = (empty.directory / "report.html").read_text(encoding="utf-8")
    assert "not exercised" in md and "not exercised" in html


def test_a_run_that_stopped_early_leaves_rules_not_exercised(mutant_run: Run) -> None:
    doc = mutant_run.document()
    results = [r["result"] for r in doc["rules"]]
    assert "not-exercised" in results
    for rule in doc["rules"]:
        assert (rule["result"] == "pass") == (rule["exercised"] > 0 and rule["result"] == "pass")
        if rule["result"] == "pass":
            assert rule["exercised"] > 0


def test_a_full_simulator_campaign_exercises_every_checked_rule(tmp_path: Path) -> None:
    argv = ["run", "--target", "sim", "--model", "7.2", "--out", str(tmp_path / "plain")]
    assert main(argv) == 0
    doc = json.loads((tmp_path / "plain" / "report.json").read_text(encoding="utf-8"))
    missed = [r["id"] for r in doc["rules"] if r["result"] == "not-exercised"]
    assert missed == ["qemu.no-abort"]  # the simulator cannot abort; a live QEMU exercises it


# -- wording: one line per divergence, the rule once, documented vs QEMU, why accepted ---------


def test_known_divergence_lines_say_what_is_documented_what_qemu_did_where_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = _run(tmp_path / "plain", capsys)
    lines = [line for line in plain.output.splitlines() if line.startswith("  known")]
    assert lines
    for line in lines:
        rule = line.split()[1]
        assert line.count(rule) == 1, line
        assert "; documented: " in line and ": QEMU " in line, line
        assert "; accepted (known divergence): " in line and "verified on QEMU" in line, line
        assert "model 7.2 allows" not in line, line
    complete = next(line for line in lines if "job-complete.only-ready" in line)
    assert "job in standby: QEMU accepted; documented: complete is accepted only in ready" in (
        complete
    )
    device = next(line for line in lines if "block-job.device-not-active" in line)
    assert "to a create job in" in device
