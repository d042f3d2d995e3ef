"""Every rule's quote, word for word, in the documentation of every release it applies to.

The rule catalogue (:mod:`jobcheck.model.rules`) quotes one sentence of QEMU's
QAPI documentation per rule, worded as each range of releases words it.  These
tests read the schema of each release from ``../shared/qapi/`` (QEMU's files
stay outside the repository): ``job-X.Y.json`` for 3.0 onwards (``master`` is
the 10.2.50 development tree) and ``block-core-2.12.json`` for 2.12, where the
job definitions were still the block-job ones.

A quote is looked for in the doc comment of the definition it comes from (the
rule's anchor, or the quote's own; in 2.12 ``JobStatus``, ``JobVerb`` and
``JobType`` are ``BlockJobStatus``, ``BlockJobVerb`` and ``BlockJobType``).
Before comparing, the doc text and the quote are normalised, and only so:

* the ``#`` comment markers go, and all white space becomes one space: each
  release wraps and indents its doc comments differently;
* backticks go: from 10.1 the documentation writes command and event names as
  reST literals (```job-finalize```, ```JOB_STATUS_CHANGE```);
* ``@`` goes: up to 10.0 the documentation refers to definitions as
  ``@job-finalize``, from 10.1 as ```job-finalize``` (the quotes keep the
  older ``@`` spelling).

Letters, punctuation and case are compared as they are.  ``job.json`` holds no
``block-core.json`` definition (``@block-job-*``, ``@BLOCK_JOB_*``), and
``../shared/qapi/`` has ``block-core.json`` for 2.12 only: the quotes of those
definitions are checked against 2.12, and the tests name the pairs they cannot
check, which must be exactly those.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from jobcheck.model.lifecycle import MODELS, model_for
from jobcheck.model.rules import CATALOGUE, Quote, Rule
from jobcheck.model.schema_doc import Definition, parse_schema

#: Each release of ``../shared/qapi/``: (its schema file, a QEMU version string of it).
RELEASES: dict[str, tuple[str, str]] = {
    "2.12": ("block-core-2.12.json", "2.12.0"),
    **{v: (f"job-{v}.json", f"{v}.0") for v in ("3.0", "4.2", "5.0", "5.1", "5.2", "6.0")},
    **{v: (f"job-{v}.json", f"{v}.0") for v in ("6.2", "7.2", "8.2", "9.2", "10.0", "10.1")},
    "10.2": ("job-10.2.json", "10.2.0"),
    "master": ("job-master.json", "10.2.50"),
}

#: 2.12's names of the job definitions that 3.0 moved to ``job.json`` and renamed.
NAMES_2_12 = {"JobStatus": "BlockJobStatus", "JobVerb": "BlockJobVerb", "JobType": "BlockJobType"}

#: Definitions of ``block-core.json`` that rules quote (not in any ``job.json``).
BLOCK_CORE_ANCHORS = re.compile(r"^@(block-job-|BLOCK_JOB_)")


def normalise(text: str) -> str:
    """Doc text as compared: no backticks, no ``@``, white space runs as one space."""
    return " ".join(text.replace("`", "").replace("@", "").split())


def comments(schema: str) -> str:
    """The text of every doc comment line of a schema file, without its ``#`` markers."""
    lines = (line.strip() for line in schema.splitlines())
    return "\n".join(line.lstrip("#") for line in lines if line.startswith("#"))


@functools.cache
def _definitions(path: Path) -> dict[str, Definition]:
    return {d.name: d for d in parse_schema(path.read_text(encoding="utf-8"))}


def _doc(qapi: Path, release: str, anchor: str) -> str | None:
    """The normalised doc comment of ``anchor``'s definition in ``release``; ``None`` if
    that release's schema file in ``../shared/qapi/`` does not define it."""
    name = anchor.removeprefix("@").split(".", 1)[0]
    if release == "2.12":
        name = NAMES_2_12.get(name, name)
    definition = _definitions(qapi / RELEASES[release][0]).get(name)
    if definition is None or definition.doc is None:
        return None
    return normalise(definition.doc.text)


def _anchor(rule: Rule, quote: Quote) -> str:
    anchor = quote.anchor or rule.anchor
    assert anchor is not None, f"{rule.id}: a quote needs an anchor"
    return anchor


def _applicable(rule: Rule) -> list[str]:
    return [r for r, (_, version) in RELEASES.items() if rule.applies_to(version)]


QUOTED = [r for r in CATALOGUE if r.quotes]


@pytest.fixture(scope="module")
def qapi(shared_dir: Path) -> Path:
    folder = shared_dir / "qapi"
    missing = [f for f, _ in RELEASES.values() if not (folder / f).is_file()]
    assert not missing, f"{folder} lacks {missing}"
    return folder


# --- the data -------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", QUOTED, ids=[r.id for r in QUOTED])
def test_quote_ranges_tile_the_rule_versions(rule: Rule) -> None:
    """Each modelled release the rule applies to has exactly one wording; no other has one."""
    for quote in rule.quotes:
        assert all(v in MODELS for v in quote.versions), (rule.id, quote.versions)
    for version in MODELS:
        wordings = [q for q in rule.quotes if q.applies_to(version)]
        assert len(wordings) == (1 if rule.applies_to(version) else 0), (rule.id, version)
        assert rule.quote_for(version) == (wordings[0].text if wordings else None)
    assert rule.quote in [q.text for q in rule.quotes]


@pytest.mark.parametrize("rule", QUOTED, ids=[r.id for r in QUOTED])
def test_each_quote_is_one_sentence_on_one_line(rule: Rule) -> None:
    for quote in rule.quotes:
        assert "\n" not in quote.text and quote.text == quote.text.strip(), rule.id
        assert not re.search(r"[.!?]\s+[A-Z]", quote.text), (rule.id, quote.text)


# --- against QEMU's schemas -----------------------------------------------------------------


@pytest.mark.parametrize("rule", QUOTED, ids=[r.id for r in QUOTED])
def test_quote_is_verbatim_in_every_release_it_applies_to(qapi: Path, rule: Rule) -> None:
    releases = _applicable(rule)
    assert releases, f"{rule.id} applies to no release of {qapi}"
    for release in releases:
        text = rule.quote_for(RELEASES[release][1])
        quote = next(q for q in rule.quotes if q.text == text)
        anchor = _anchor(rule, quote)
        doc = _doc(qapi, release, anchor)
        if doc is None:
            # Only block-core.json definitions may be absent: job.json never has them.
            assert release != "2.12" and BLOCK_CORE_ANCHORS.match(anchor), (rule.id, release)
            continue
        assert normalise(quote.text) in doc, (
            f"{rule.id}: {RELEASES[release][0]} does not document {anchor} with {quote.text!r}"
        )


@pytest.mark.parametrize("rule", QUOTED, ids=[r.id for r in QUOTED])
def test_wording_ranges_end_where_the_documentation_changed(qapi: Path, rule: Rule) -> None:
    """A sentence is gone from the release after its range (or its range would be longer),
    and a range that starts after a rule's first release starts where the sentence came."""
    order = list(RELEASES)
    for quote in rule.quotes:
        inside = [r for r in order if quote.applies_to(RELEASES[r][1])]
        if not inside:
            continue
        neighbours = []
        first, last = order.index(inside[0]), order.index(inside[-1])
        if last + 1 < len(order) and rule.applies_to(RELEASES[order[last + 1]][1]):
            neighbours.append(order[last + 1])
        if first > 0 and order[first - 1] != "2.12":
            neighbours.append(order[first - 1])
        for release in neighbours:
            doc = _doc(qapi, release, _anchor(rule, quote))
            if doc is not None:
                assert normalise(quote.text) not in doc, (
                    f"{rule.id}: {quote.text!r} is also in {RELEASES[release][0]}"
                )


def test_only_block_core_quotes_go_unchecked_and_every_rule_is_checked(qapi: Path) -> None:
    """Name what cannot be checked (block-core.json after 2.12), and check everything else."""
    checked: set[str] = set()
    unchecked: list[tuple[str, str]] = []
    for rule in QUOTED:
        for release in _applicable(rule):
            text = rule.quote_for(RELEASES[release][1])
            quote = next(q for q in rule.quotes if q.text == text)
            if _doc(qapi, release, _anchor(rule, quote)) is None:
                unchecked.append((rule.id, release))
            else:
                checked.add(rule.id)
    blocks = {
        r.id for r in QUOTED if any(BLOCK_CORE_ANCHORS.match(_anchor(r, q)) for q in r.quotes)
    }
    assert {rule_id for rule_id, _ in unchecked} == blocks
    assert all(release != "2.12" for _, release in unchecked)
    # Every rule with a quote is checked against at least one release (2.12 for block-core).
    assert checked == {r.id for r in QUOTED}


# --- the version facts the quotes carry -----------------------------------------------------


def test_10_1_rewrite_of_job_json(qapi: Path) -> None:
    """QEMU commit da17dd5c5e, first in 10.1: the facts the catalogue builds on."""
    before = normalise(comments((qapi / "job-10.0.json").read_text(encoding="utf-8")))
    after = normalise(comments((qapi / "job-10.1.json").read_text(encoding="utf-8")))
    manual = "applicable only to jobs which have auto-finalize option"
    assert manual not in before and manual in after
    assert "an active job in the READY state." in before
    assert "an active job in the READY or STANDBY state." in after
    only_manual = next(r for r in CATALOGUE if r.id == "job-finalize.only-manual")
    assert [v for v in RELEASES if only_manual.applies_to(RELEASES[v][1])] == [
        "10.1",
        "10.2",
        "master",
    ]
    assert model_for("10.1.0").version == "10.1" and model_for("10.0.2").version == "9.2"
