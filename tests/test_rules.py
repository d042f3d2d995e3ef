"""The rule catalogue, the QAPI schema reader, and ``jobcheck rules``."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest
from rule_emitters import check_modules, emitters

from jobcheck.conformance.cli import main
from jobcheck.model.lifecycle import MODELS, JobType, Status, UnknownVersionError, Verb
from jobcheck.model.rules import CATALOGUE, RULES, Category, rule, rules_for
from jobcheck.model.schema_doc import SchemaSyntaxError, anchors, parse_schema

# The contract between the catalogue, the oracle, the simulator's mutants and the reports.
EXPECTED_IDS = [
    "status.transition-table",
    "status.created-first",
    "status.nothing-after-null",
    "status.undefined-never-visible",
    "status.null-never-visible",
    "status.waiting-not-visible-for-last",
    "status.aborting-ends-concluded",
    "status.standby-returns-to-ready",
    "status.ready-only-for-ready-phase-jobs",
    "status.pending-waits-for-finalize",
    "status.concluded-waits-for-dismiss",
    "verb.permission-table",
    "job-pause.already-paused-is-error",
    "job-pause.pauses",
    "job-pause.cancel-resumes",
    "job-resume.not-paused-is-error",
    "job-resume.resumes",
    "job-cancel.aborts",
    "job-complete.only-ready",
    "job-complete.completes",
    "job-complete.not-after-cancel",
    "job-dismiss.only-concluded",
    "job-dismiss.removes-job",
    "job-finalize.only-pending",
    "job-finalize.whole-transaction",
    "job-finalize.only-manual",
    "event.status-change-is-a-change",
    "event.status-change-known-job",
    "query-jobs.lists-live-jobs",
    "query-jobs.status-consistent",
    "job-info.type-matches",
    "job-info.current-progress-monotonic",
    "job-info.total-progress-free",
    "job-info.error-iff-failed",
    "block-job.ready-event-after-ready",
    "block-job.pending-event",
    "block-job.completion-event",
    "block-job.no-events-for-non-block-jobs",
    "block-job.device-not-active",
    "qapi.members-known",
    "qemu.no-abort",
]

# Rules whose documentation QEMU is known to contradict (docs/qemu-job-engine.md,
# 'Documented versus implemented').
KNOWN = {
    "status.null-never-visible",
    "status.waiting-not-visible-for-last",
    "job-pause.already-paused-is-error",
    "job-pause.cancel-resumes",
    "job-resume.not-paused-is-error",
    "job-complete.only-ready",
    "job-finalize.only-manual",
    "block-job.device-not-active",
}

CATEGORIES = {
    "transition",
    "permission",
    "refinement",
    "event",
    "visibility",
    "progress",
    "error-field",
    "robustness",
}

VERSIONS = list(MODELS)


def _pos(version: str) -> int:
    return VERSIONS.index(version)


# --- the catalogue --------------------------------------------------------------------------


def test_every_contract_id_is_present() -> None:
    missing = [i for i in EXPECTED_IDS if i not in RULES]
    assert not missing


def test_ids_unique_and_well_formed() -> None:
    ids = [r.id for r in CATALOGUE]
    assert len(ids) == len(set(ids)) == len(RULES)
    for rule_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*", rule_id), rule_id


def test_categories_valid() -> None:
    assert {c.value for c in Category} == CATEGORIES
    for r in CATALOGUE:
        assert r.category.value in CATEGORIES, r.id


def test_anchors_well_formed() -> None:
    for r in CATALOGUE:
        for anchor in r.anchors:
            assert re.fullmatch(r"@[A-Za-z][A-Za-z0-9_-]*(\.[a-z0-9-]+)?", anchor), (r.id, anchor)
    assert rule("qemu.no-abort").anchor is None


def test_versions_are_model_versions_in_order() -> None:
    for r in CATALOGUE:
        first, last = r.versions
        assert first in MODELS and last in MODELS, r.id
        assert _pos(first) <= _pos(last), r.id


def test_known_divergences() -> None:
    assert {r.id for r in CATALOGUE if r.known_divergence} >= KNOWN
    for r in CATALOGUE:
        known = r.known_divergence
        if known is None:
            continue
        first, last = known.versions
        assert first in MODELS and last in MODELS, r.id
        assert _pos(r.versions[0]) <= _pos(first) <= _pos(last) <= _pos(r.versions[1]), r.id
        assert known.observed and "\n" not in known.observed, r.id
        assert "verified" in known.evidence or "code reading" in known.evidence, r.id


def test_complete_in_standby_divergence_starts_at_6_0() -> None:
    known = rule("job-complete.only-ready").known_divergence
    assert known is not None
    assert not known.applies_to("5.2.0")
    assert known.applies_to("6.0")
    assert known.applies_to("7.2.22")


def test_version_ranges_of_special_rules() -> None:
    assert rule("job-finalize.only-manual").versions == ("10.1", "10.2")
    for r in CATALOGUE:
        if r.id.startswith("block-job."):
            assert r.versions[0] == "2.12", r.id
        if r.anchor and r.anchor.startswith(("@job-", "@query-jobs", "@JOB_STATUS_CHANGE")):
            assert _pos(r.versions[0]) >= _pos("3.0"), r.id


def test_every_rule_is_emitted_by_the_checks_it_names() -> None:
    """Rule.checks is exactly the set of functions that emit the rule (a scan of their
    source for RuleId members); a rule no function emits says why (``unchecked``)."""
    found = emitters()
    for r in CATALOGUE:
        assert set(r.checks) == found.get(r.id, set()), (
            f"{r.id}: the catalogue names {sorted(r.checks)}, the code emits it in"
            f" {sorted(found.get(r.id, set()))}"
        )
        assert bool(r.checks) != bool(r.unchecked), f"{r.id}: checks or a reason, not both"


def test_every_named_check_is_a_function() -> None:
    for r in CATALOGUE:
        for name in r.checks:
            obj: object = None
            parts = f"jobcheck.{name}".split(".")
            for split in range(len(parts) - 1, 1, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:split]))
                except ModuleNotFoundError:
                    continue
                for attr in parts[split:]:
                    obj = getattr(obj, attr)
                break
            assert callable(obj), f"{r.id}: {name} is not a function"


def test_no_rule_id_is_spelled_out_in_the_checks() -> None:
    """Checks emit rules by RuleId member, never by a string literal of the id."""
    ids = {str(r.id) for r in CATALOGUE}
    for name in check_modules():
        source = inspect.getsource(importlib.import_module(name))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and node.value in ids:
                raise AssertionError(f"{name}: rule id {node.value!r} as a string literal")


def test_text_is_one_line_and_quotes_one_sentence() -> None:
    for r in CATALOGUE:
        assert r.text and "\n" not in r.text, r.id
        if r.quote is None:
            continue
        assert "\n" not in r.quote, r.id
        # A sentence ends with . ! or ? followed by a capital: there must be none inside.
        assert not re.search(r"[.!?]\s+[A-Z]", r.quote), r.id


def test_every_enum_member_is_covered() -> None:
    named = {a for r in CATALOGUE for a in r.anchors}
    for prefix, enum in (("JobStatus", Status), ("JobVerb", Verb), ("JobType", JobType)):
        assert f"@{prefix}" in named
        for member in enum:
            assert f"@{prefix}.{member.value}" in named


def test_rule_lookup_error_is_helpful() -> None:
    assert rule("job-pause.pauses").id == "job-pause.pauses"
    with pytest.raises(KeyError) as info:
        rule("job-pause.frobnicates")
    assert "job-pause.pauses" in str(info.value)


def test_rules_for_filters_by_version() -> None:
    ids_7_2 = {r.id for r in rules_for("7.2.22")}
    assert "job-finalize.only-manual" not in ids_7_2
    assert "job-finalize.only-pending" in ids_7_2
    assert "job-finalize.only-manual" in {r.id for r in rules_for("latest")}
    ids_2_12 = {r.id for r in rules_for("2.12")}
    assert "block-job.completion-event" in ids_2_12
    assert "job-pause.pauses" not in ids_2_12
    with pytest.raises(UnknownVersionError):
        rules_for("banana")


def test_to_json_round_trips_through_json() -> None:
    data = json.loads(json.dumps([r.to_json() for r in CATALOGUE]))
    by_id = {d["id"]: d for d in data}
    assert by_id["job-complete.only-ready"]["known_divergence"]["versions"] == ["6.0", "9.2"]
    assert by_id["job-pause.pauses"]["known_divergence"] is None
    assert by_id["qemu.no-abort"]["anchor"] is None


# --- the schema reader ----------------------------------------------------------------------

MODERN = """\
# -*- Mode: Python -*-

##
# ***********
# Some heading
# ***********
##

##
# @Colour:
#
# A colour.  Two sentences,
#     on two lines.
#
# @red: warm
#
# @blue: cold, and documented over
#     two lines (since 9.0)
#
# @green : odd spacing
#
# Features:
#
# @deprecated: Use something else.
#
# .. note:: A note block that mentions @red: not a section.
#
# Since: 2.12
##
{ 'enum': 'Colour',
  'data': [ 'red', { 'name': 'blue', 'if': 'CONFIG_BLUE' }, 'green' ],
  'features': [ 'deprecated' ] }

##
# @Paint:
#
# @colour: which
#
# @litres: how much
##
{ 'struct': 'Paint', 'data': { 'colour': 'Colour', '*litres': { 'type': 'int', 'if': 'X' } } }

##
# @paint-it:
#
# Paint.
#
# @paint: what (with a 'quote' in the text)
#
# Returns: nothing
##
{ 'command': 'paint-it', 'data': { 'paint': 'Paint' }, 'allow-preconfig': true }

##
# @PAINTED:
##
{ 'event': 'PAINTED', 'data': 'Paint' }
{ 'include': 'other.json' }
"""


def test_parse_modern_schema() -> None:
    items = {a.anchor: a for a in anchors(parse_schema(MODERN))}
    assert list(items) == [
        "@Colour",
        "@Colour.red",
        "@Colour.blue",
        "@Colour.green",
        "@Paint",
        "@Paint.colour",
        "@Paint.litres",
        "@paint-it",
        "@paint-it.paint",
        "@PAINTED",
    ]
    assert all(a.documented for a in items.values())
    assert items["@Colour.blue"].kind == "enum value"
    assert items["@paint-it.paint"].kind == "command argument"
    assert items["@Colour"].line == 30
    assert items["@Colour.green"].line == 31


def test_features_are_not_members() -> None:
    (colour, *_) = parse_schema(MODERN)
    assert colour.doc is not None
    assert set(colour.doc.members) == {"red", "blue", "green"}
    assert set(colour.doc.features) == {"deprecated"}


def test_undocumented_member_is_flagged() -> None:
    text = (
        "##\n# @E:\n#\n# @a: yes\n##\n"
        "{ 'enum': 'E', 'data': ['a', 'b'] }\n"
        "{ 'enum': 'F', 'data': [] }\n"
    )
    flags = {a.anchor: a.documented for a in anchors(parse_schema(text))}
    assert flags == {"@E": True, "@E.a": True, "@E.b": False, "@F": False}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("{ 'enum': 'E', 'data': ['a' }\n", 1, "expected ',' or ']'"),
        ("\n{ 'enum': 'E', 'data': ['a] }\n", 2, "string not closed"),
        ("##\n# @E:\n{ 'enum': 'E', 'data': [] }\n", 3, "does not start with '#'"),
        ("##\n# @E:\n", 1, "not closed"),
        ("##\n# @E:\n##\n{ 'enum': 'F', 'data': [] }\n", 4, "follows documentation for @E"),
        ("##\n# @E:\n##\n", 1, "not followed"),
        ("{ 'enum': 'E', 'enum': 'F' }\n", 1, "duplicate key"),
        ("{ 'type': 'E' }\n", 1, "exactly one of"),
        ("{ 'enum': 'E', 'data': 'a' }\n", 1, "must be a list"),
        ('{ "enum": "E" }\n', 1, "unexpected"),
        ("[ 'E' ]\n", 1, "expected a definition"),
        ("{ 'enum': 'E', 'data': [] }\n}\n", 2, "expected a definition"),
    ],
)
def test_malformed_schemas(text: str, line: int, words: str) -> None:
    with pytest.raises(SchemaSyntaxError) as info:
        parse_schema(text)
    assert info.value.line == line
    assert words in info.value.message


# --- jobcheck rules -------------------------------------------------------------------------

CRAFTED = """\
##
# @JobStatus:
#
# @created: made
#
# @frozen: a status no rule knows
##
{ 'enum': 'JobStatus', 'data': [ 'created', 'frozen' ] }

##
# @job-frobnicate:
#
# @id: The job identifier.
##
{ 'command': 'job-frobnicate', 'data': { 'id': 'str' } }
"""


def test_rules_schema_3_0_fully_covered(
    shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = shared_dir / "qapi-job-3.0.json"
    assert main(["rules", "--schema", str(schema), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    items = {i["anchor"]: i for i in report["items"]}
    # 1+5 JobType, 1+11 JobStatus, 1+7 JobVerb, 1+2 JOB_STATUS_CHANGE,
    # 6 job-* commands with their id, 1+6 JobInfo, query-jobs.
    assert len(items) == 49
    assert report["uncovered"] == []
    assert report["covered"] == 49
    assert all(i["rules"] for i in items.values())
    for anchor in ("@JobStatus.null", "@JobVerb.finalize", "@JOB_STATUS_CHANGE.id", "@query-jobs"):
        assert anchor in items
    assert "job-info.current-progress-monotonic" in items["@JobInfo.current-progress"]["rules"]
    assert "status.null-never-visible" in items["@JobStatus.null"]["rules"]

    assert main(["rules", "--schema", str(schema)]) == 0
    text = capsys.readouterr().out
    assert "49 covered, 0 not covered" in text


def test_rules_schema_names_the_uncovered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "job.json"
    schema.write_text(CRAFTED, encoding="utf-8")
    assert main(["rules", "--schema", str(schema)]) == 1
    out = capsys.readouterr().out
    uncovered = out.split("Not covered by any rule", 1)[1]
    assert "@JobStatus.frozen" in uncovered
    assert "@job-frobnicate" in uncovered
    assert "@JobStatus.created" not in uncovered

    assert main(["rules", "--schema", str(schema), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["uncovered"] == ["@JobStatus.frozen", "@job-frobnicate", "@job-frobnicate.id"]


@pytest.mark.parametrize(
    "content",
    ["{ 'enum': 'JobStatus', 'data': [ 'created' \n", b"\xff\xfe\x00", "# only a comment\n"],
)
def test_rules_bad_schema_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes
) -> None:
    schema = tmp_path / "bad.json"
    if isinstance(content, bytes):
        schema.write_bytes(content)
    else:
        schema.write_text(content, encoding="utf-8")
    assert main(["rules", "--schema", str(schema)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert str(schema) in lines[0]
    assert "Traceback" not in captured.err


def test_rules_missing_schema_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "absent.json"
    assert main(["rules", "--schema", str(missing)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"jobcheck rules: error: cannot read schema {missing}: No such file or directory"
    ]


def test_rules_malformed_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "bad.json"
    schema.write_text("##\n# @X:\n##\n{ 'enum': 'X', 'data': [ 'a', ] }\n", encoding="utf-8")
    assert main(["rules", "--schema", str(schema)]) == 2
    assert f"{schema}:4: expected a value" in capsys.readouterr().err


def test_rules_catalogue_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--model", "7.2", "--json"]) == 0
    listed = [r["id"] for r in json.loads(capsys.readouterr().out)]
    assert listed == [r.id for r in rules_for("7.2")]
    assert "job-finalize.only-manual" not in listed
    assert main(["rules"]) == 0
    text = capsys.readouterr().out
    assert f"{len(CATALOGUE)} rules" in text
    assert "job-resume.not-paused-is-error" in text


def test_rules_unknown_model_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--model", "2.11"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "known models" in err[0]


def test_quotes_are_verbatim_in_the_3_0_schema(shared_dir: Path) -> None:
    text = (shared_dir / "qapi-job-3.0.json").read_text(encoding="utf-8")
    in_schema = {a.anchor for a in anchors(parse_schema(text))}
    prose = " ".join(line.lstrip("#").strip() for line in text.splitlines())
    checked = 0
    for r in CATALOGUE:
        if r.quote and r.anchor in in_schema and r.applies_to("3.0"):
            assert r.quote in prose, r.id
            checked += 1
    assert checked >= 20


def test_rules_listing_quotes_the_documentation_of_the_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def quote_of(rule_id: str, *args: str) -> list[str]:
        assert main(["rules", *args]) == 0
        lines = capsys.readouterr().out.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(rule_id + " "))
        end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
        return [line.strip() for line in lines[start:end] if line.strip().startswith("quote")]

    old = 'quote: "Manually trigger completion of an active job in the READY state."'
    new = 'quote: "Manually trigger completion of an active job in the READY or STANDBY state."'
    assert quote_of("job-complete.only-ready", "--model", "10.0") == [old]
    assert quote_of("job-complete.only-ready", "--model", "10.1") == [new]
    # Without a model, every wording with the model versions that have it.
    assert quote_of("job-complete.only-ready") == [
        old.replace("quote:", "quote (3.0–9.2):"),
        new.replace("quote:", "quote (10.1–10.2):"),
    ]
    assert main(["rules", "--model", "10.1", "--json"]) == 0
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["job-complete.only-ready"]["quote"] == new.split('"')[1]
