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
    parse_baseline,
    parse_version,
    updated,
    write_baseline,
)


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
                "status.null-never-visible", None, VersionRange.parse("==7.2"), "null on dismiss"
            ),
            Entry("job-pause.pauses", "mirror", None, "", intermittent=True),
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
        ({"version": 2, "entries": []}, "version 2 unsupported"),
        ({"entries": [5]}, "entry 1: an entry must be a JSON object"),
        ({"entries": [{"rule": 3}]}, "entry 1: 'rule' must be a rule id string"),
        ({"entries": [{"rule": "job-pause.nope"}]}, "no rule 'job-pause.nope'.*job-pause.pauses"),
        ({"entries": [{"rule": "job-pause.pauses", "qemu": ">>7"}]}, "bad version clause"),
        ({"entries": [{"rule": "job-pause.pauses", "qemu": 7}]}, "'qemu' must be"),
        ({"entries": [{"rule": "job-pause.pauses", "intermittent": "yes"}]}, "'intermittent'"),
        ({"entries": [{"rule": "job-pause.pauses", "why": ""}]}, "unknown key 'why'"),
        ({"entries": [{"rule": "job-pause.pauses", "job_type": 1}]}, "'job_type' must be"),
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
    baseline = parse_baseline({"entries": [{"rule": "job-pause.pauses"}]})
    (entry,) = baseline.entries
    assert (entry.job_type, entry.qemu, entry.reason, entry.intermittent) == (None, None, "", False)


def test_updated_drops_stale_keeps_others_and_adds_findings() -> None:
    keep = Entry("status.null-never-visible", None, VersionRange.parse("==7.2"), "kept reason")
    stale = Entry("job-complete.only-ready", None, VersionRange.parse("==7.2"), "gone")
    other = Entry("job-pause.pauses", None, VersionRange.parse("==8.2"), "another version")
    findings = [
        ("status.null-never-visible", "mirror", "ignored: already covered"),
        ("job-resume.resumes", None, "new finding"),
    ]
    result = updated(Baseline(None, [keep, stale, other]), findings, "7.2.22", [stale])
    rules = {e.rule: e for e in result.entries}
    assert set(rules) == {"status.null-never-visible", "job-pause.pauses", "job-resume.resumes"}
    assert rules["status.null-never-visible"].reason == "kept reason"
    assert rules["job-resume.resumes"].reason == "new finding"
    new_range = rules["job-resume.resumes"].qemu
    assert new_range is not None and new_range.text == "==7.2"


def test_acceptor_accepts_known_unless_strict_and_baselined_rules() -> None:
    from jobcheck.conformance.oracle.divergence import Divergence
    from jobcheck.conformance.report.baseline import Acceptor

    def divergence(rule: str, known: bool) -> Divergence:
        return Divergence(rule, "j", 0, 0, None, "e", "o", known, "m")

    baseline = Baseline(None, [Entry("job-pause.pauses", "mirror", VersionRange.parse("==7.2"))])
    accept = Acceptor(baseline, "7.2.22", strict=False)
    assert accept(divergence("status.null-never-visible", True))
    assert accept(divergence("job-pause.pauses", False))
    assert not accept(divergence("job-resume.resumes", False))
    strict = Acceptor(baseline, "7.2.22", strict=True)
    assert not strict(divergence("status.null-never-visible", True))
    assert strict(divergence("job-pause.pauses", False))
    assert not Acceptor(baseline, "8.2.0", strict=False)(divergence("job-pause.pauses", False))
    assert not Acceptor(None, "7.2.22", strict=True)(divergence("job-pause.pauses", True))
