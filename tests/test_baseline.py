"""The baseline file: parsing, version ranges, matching, errors, and the update."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.report.baseline import (
    Baseline,
    Entry,
    VersionRange,
    job_type_matches,
    load_baseline,
    outcome_of,
    parse_baseline,
    parse_version,
    updated,
    write_baseline,
)

OUT = {"outcome": "stayed running"}


def _file(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_parse_version_takes_leading_numbers() -> None:
    assert parse_version("7.2.22") == (7, 2, 22)
    assert parse_version("8.2") == (8, 2, 0)
    assert parse_version("10.1.0-rc2") == (10, 1, 0)
    assert parse_version("debian") is None


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("==7.2", ["7.2.0", "7.2.22"], ["7.1.9", "7.3.0", "8.2.0"]),
        ("7.2", ["7.2.5"], ["72.0.0"]),
        (">=7.2, <8.0", ["7.2.0", "7.9.9"], ["7.1.0", "8.0.0"]),
        (">8.2", ["8.2.1", "9.0"], ["8.2.0"]),
        ("<=6.0", ["6.0.0", "5.2"], ["6.0.1"]),
    ],
)
def test_version_ranges(spec: str, inside: list[str], outside: list[str]) -> None:
    version_range = VersionRange.parse(spec)
    assert all(version_range.contains(v) for v in inside)
    assert not any(version_range.contains(v) for v in outside)


def test_bad_version_clause_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad version clause"):
        VersionRange.parse(">= seven")


def test_entry_matching_by_rule_type_and_version() -> None:
    entry = Entry("job-complete.only-ready", "commit", VersionRange.parse("==7.2"))
    assert entry.matches("job-complete.only-ready", "active-commit", "7.2.22")
    assert entry.matches("job-complete.only-ready", "commit", "7.2.1")
    assert not entry.matches("job-complete.only-ready", "mirror", "7.2.22")
    assert not entry.matches("job-complete.only-ready", None, "7.2.22")
    assert not entry.matches("job-complete.only-ready", "active-commit", "8.2.0")
    assert not entry.matches("verb.permission-table", "active-commit", "7.2.22")
    anywhere = Entry("verb.permission-table")
    assert anywhere.matches("verb.permission-table", None, "10.2.0")


def test_job_type_matches_kinds_and_types() -> None:
    assert job_type_matches("commit", "intermediate-commit")
    assert job_type_matches("mirror", "mirror")
    assert not job_type_matches("backup", "mirror")
    assert not job_type_matches("commit", "?")


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    baseline = Baseline(
        None,
        [
            Entry(
                "status.null-never-visible",
                None,
                VersionRange.parse("==7.2"),
                "null on dismiss",
                outcome="reported null",
            ),
            Entry("job-pause.pauses", "mirror", None, "", True, "stayed running"),
        ],
    )
    path = tmp_path / "sub" / "b.json"
    write_baseline(baseline, path)
    again = load_baseline(path)
    assert [e.to_json() for e in again.entries] == [e.to_json() for e in baseline.entries]
    assert again.exists


def test_missing_file_is_an_empty_baseline(tmp_path: Path) -> None:
    baseline = load_baseline(tmp_path / "nope.json")
    assert baseline.entries == [] and not baseline.exists


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"entries": {}}, "'entries' must be a list"),
        ({"format": "wpt"}, "'format' is 'wpt'"),
        ({"version": 3, "entries": []}, "version 3 unsupported"),
        ({"version": 1, "entries": []}, "is version 1: .* --update-baseline"),
        ({"entries": [5]}, "entry 1: an entry must be a JSON object"),
        ({"entries": [{"rule": 3}]}, "entry 1: 'rule' must be a rule id string"),
        ({"entries": [{"rule": "job-pause.pauses"}]}, "entry 1: 'outcome' must be"),
        ({"entries": [{"rule": "job-pause.pauses", "outcome": ""}]}, "'outcome' must be"),
        ({"entries": [{"rule": "job-pause.nope", **OUT}]}, "no rule 'job-pause.nope'.*pauses"),
        ({"entries": [{"rule": "job-pause.pauses", "qemu": ">>7", **OUT}]}, "bad version clause"),
        ({"entries": [{"rule": "job-pause.pauses", "qemu": 7, **OUT}]}, "'qemu' must be"),
        ({"entries": [{"rule": "job-pause.pauses", "intermittent": "yes", **OUT}]}, "'intermit"),
        ({"entries": [{"rule": "job-pause.pauses", "why": "", **OUT}]}, "unknown key 'why'"),
        ({"entries": [{"rule": "job-pause.pauses", "job_type": 1, **OUT}]}, "'job_type' must"),
    ],
)
def test_malformed_baselines_are_one_line_usage_errors(
    tmp_path: Path, data: object, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as info:
        load_baseline(_file(tmp_path, data))
    assert "\n" not in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{\n  "entries": [,]\n}\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"b\.json:2: not valid JSON"):
        load_baseline(path)


def test_parse_baseline_defaults() -> None:
    baseline = parse_baseline({"entries": [{"rule": "job-pause.pauses", **OUT}]})
    (entry,) = baseline.entries
    assert (entry.job_type, entry.qemu, entry.reason, entry.intermittent) == (None, None, "", False)
    assert entry.outcome == "stayed running" and baseline.upgraded_from is None


def test_an_entry_matches_only_its_own_outcome() -> None:
    refused = "refused (GenericError: Can't resume a job that was not paused)"
    entry = Entry("job-resume.not-paused-is-error", outcome=refused)
    assert entry.matches("job-resume.not-paused-is-error", "mirror", "7.2.22", refused)
    assert not entry.matches("job-resume.not-paused-is-error", "mirror", "7.2.22", "accepted")
    assert not entry.matches("job-resume.not-paused-is-error", "mirror", "7.2.22")


def test_outcomes_name_the_job_as_job() -> None:
    observed = "refused (DeviceNotActive: Block job 't12' not found)"
    assert outcome_of(observed, "t12") == "refused (DeviceNotActive: Block job 'JOB' not found)"
    assert outcome_of(observed, "t1") == observed  # t1 is not t12
    assert outcome_of("reported null", None) == "reported null"


def test_a_version_1_file_is_read_only_to_be_upgraded(tmp_path: Path) -> None:
    path = _file(
        tmp_path, {"version": 1, "entries": [{"rule": "job-pause.pauses", "qemu": "==7.2"}]}
    )
    with pytest.raises(UsageError, match="version 1") as info:
        load_baseline(path)
    assert "\n" not in str(info.value) and f"--baseline {path} --update-baseline" in str(info.value)
    legacy = load_baseline(path, upgrade=True)
    assert legacy.upgraded_from == 1
    (entry,) = legacy.entries
    assert entry.outcome is None and entry.matches("job-pause.pauses", None, "7.2.1", "anything")
    # The update replaces it by the outcomes the run saw.
    findings = [("job-pause.pauses", "mirror", "stayed running", "why")]
    result = updated(legacy, findings, "7.2.22", [])
    assert [(e.rule, e.outcome) for e in result.entries] == [("job-pause.pauses", "stayed running")]
    write_baseline(result, path)
    assert load_baseline(path).entries[0].outcome == "stayed running"


def test_updated_drops_stale_keeps_others_and_adds_findings() -> None:
    keep = Entry("status.null-never-visible", None, VersionRange.parse("==7.2"), "kept reason")
    keep = Entry(keep.rule, None, keep.qemu, keep.reason, outcome="reported null")
    stale = Entry("job-complete.only-ready", None, VersionRange.parse("==7.2"), "gone", False, "x")
    other = Entry(
        "job-pause.pauses", None, VersionRange.parse("==8.2"), "another version", False, "y"
    )
    findings = [
        ("status.null-never-visible", "mirror", "reported null", "ignored: already covered"),
        ("status.null-never-visible", "mirror", "listed null", "another outcome"),
        ("job-resume.resumes", None, "stayed paused", "new finding"),
    ]
    result = updated(Baseline(None, [keep, stale, other]), findings, "7.2.22", [stale])
    rules = {(e.rule, e.outcome): e for e in result.entries}
    assert set(rules) == {
        ("status.null-never-visible", "reported null"),
        ("status.null-never-visible", "listed null"),
        ("job-pause.pauses", "y"),
        ("job-resume.resumes", "stayed paused"),
    }
    assert rules[("status.null-never-visible", "reported null")].reason == "kept reason"
    assert rules[("job-resume.resumes", "stayed paused")].reason == "new finding"
    new_range = rules[("job-resume.resumes", "stayed paused")].qemu
    assert new_range is not None and new_range.text == "==7.2"


def test_acceptor_accepts_known_unless_strict_and_baselined_rules() -> None:
    from jobcheck.conformance.oracle.divergence import Divergence
    from jobcheck.conformance.report.baseline import Acceptor

    def divergence(rule: str, known: bool, observed: str = "stayed j") -> Divergence:
        return Divergence(rule, "j", 0, 0, None, "e", observed, known, "m")  # type: ignore[arg-type]

    entry = Entry("job-pause.pauses", "mirror", VersionRange.parse("==7.2"), outcome="stayed JOB")
    baseline = Baseline(None, [entry])
    accept = Acceptor(baseline, "7.2.22", strict=False)
    assert accept(divergence("status.null-never-visible", True))
    assert accept(divergence("job-pause.pauses", False))
    assert not accept(divergence("job-pause.pauses", False, "stayed paused"))  # another outcome
    assert not accept(divergence("job-resume.resumes", False))
    strict = Acceptor(baseline, "7.2.22", strict=True)
    assert not strict(divergence("status.null-never-visible", True))
    assert strict(divergence("job-pause.pauses", False))
    assert not Acceptor(baseline, "8.2.0", strict=False)(divergence("job-pause.pauses", False))
    assert not Acceptor(None, "7.2.22", strict=True)(divergence("job-pause.pauses", True))


def test_an_accepted_job_resume_is_new_under_the_7_2_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The 7.2 baseline accepts QEMU *refusing* job-resume with "Can't resume a job that was
    not paused" (a known divergence of job-resume.not-paused-is-error); a QEMU that
    *accepts* job-resume of a running job breaks the same rule with another outcome: new."""
    from jobcheck.conformance.cli import main

    baseline = Path(__file__).resolve().parent.parent / "reports/baselines/qemu-7.2.json"
    entries = load_baseline(baseline).entries
    resume = [e for e in entries if e.rule == "job-resume.not-paused-is-error"]
    assert [e.outcome for e in resume] == [
        "refused (GenericError: Can't resume a job that was not paused)"
    ]
    argv = ["run", "--target", "sim", "--model", "7.2", "--sim-mutant", "resume-when-not-paused"]
    code = main([*argv, "--baseline", str(baseline), "--strict", "--out", str(tmp_path)])
    assert code == 1
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    new = [e for e in document["divergences"] if e["status"] == "new"]
    assert [(e["rule"], e["observed"]) for e in new] == [
        ("job-resume.not-paused-is-error", "accepted")
    ]
    capsys.readouterr()
