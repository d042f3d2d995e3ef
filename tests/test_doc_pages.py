"""The Sphinx pages of ``jobcheck docs``: reST that says what the model says, and builds.

The pages are parsed with docutils (the ``only`` and ``graphviz`` directives
of Sphinx stood in for by small stubs) and read back: the permission table,
the rules, the diagram and the changes are compared with the model itself.
The ``tox -e docs`` commands are run as they are written in ``tox.ini``, with
Sphinx, and must build every release's page without a warning.
"""

from __future__ import annotations

import configparser
import itertools
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobcheck.conformance.cli import main
from jobcheck.conformance.report.diagram_files import dot_program
from jobcheck.model import doc_pages
from jobcheck.model.doc_pages import (
    PREBUILT_TAG,
    changes,
    index_page,
    page_name,
    pages,
    release_page,
    rst_literal,
    rst_text,
    svg_name,
)
from jobcheck.model.graph import diff
from jobcheck.model.lifecycle import MODELS, Model
from jobcheck.model.render import lifecycle_view, to_dot
from jobcheck.model.rules import RULES, rules_for

docutils = pytest.importorskip("docutils", reason="docutils (installed with sphinx) is missing")
from docutils import nodes  # noqa: E402
from docutils.frontend import get_default_settings  # noqa: E402
from docutils.parsers.rst import Directive, Parser, directives, roles  # noqa: E402
from docutils.utils import new_document  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ALL_MODELS = list(MODELS.values())
BY_VERSION = pytest.mark.parametrize("model", ALL_MODELS, ids=[m.version for m in ALL_MODELS])
needs_dot = pytest.mark.skipif(dot_program() is None, reason="Graphviz's dot is not installed")


# -- docutils with stand-ins for Sphinx's directives -------------------------------


class _Only(Directive):
    """``.. only:: EXPR``: a container holding the parsed content, its ``expr`` kept."""

    required_arguments = 1
    final_argument_whitespace = True
    has_content = True

    def run(self) -> list[nodes.Node]:
        box = nodes.container(expr=self.arguments[0])
        self.state.nested_parse(self.content, self.content_offset, box)
        return [box]


class _Graphviz(Directive):
    """``.. graphviz::``: a literal block of the DOT source, class ``graphviz``."""

    has_content = True
    option_spec: ClassVar[dict[str, Any]] = {
        "caption": directives.unchanged,
        "alt": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        block = nodes.literal_block("", "\n".join(self.content), classes=["graphviz"])
        block["caption"] = self.options.get("caption", "")
        return [block]


class _Toctree(Directive):
    """``.. toctree::``: a bullet list of its entries."""

    has_content = True
    option_spec: ClassVar[dict[str, Any]] = {"maxdepth": directives.nonnegative_int}

    def run(self) -> list[nodes.Node]:
        items = [nodes.list_item("", nodes.paragraph(text=e)) for e in self.content if e]
        return [nodes.bullet_list("", *items, classes=["toctree"])]


def _doc_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Any,
    options: Any = None,
    content: Any = None,
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    return [nodes.reference(rawtext, text, refuri=text)], []


directives.register_directive("only", _Only)
directives.register_directive("graphviz", _Graphviz)
directives.register_directive("toctree", _Toctree)
roles.register_local_role("doc", _doc_role)


_SETTINGS = get_default_settings(Parser)
_SETTINGS.report_level, _SETTINGS.halt_level, _SETTINGS.warning_stream = 1, 5, False


def _parse(source: str) -> nodes.document:
    """The doctree of reST ``source``; fails on any docutils message of level warning or above."""
    doctree = new_document("<page>", _SETTINGS)
    Parser().parse(source, doctree)
    problems = [m.astext() for m in doctree.findall(nodes.system_message) if m["level"] >= 2]
    assert not problems, problems
    return doctree


def _section(doctree: nodes.document, name: str) -> nodes.section:
    for section in doctree.findall(nodes.section):
        if section[0].astext() == name:
            return section
    raise AssertionError(f"no section {name!r}")


def _table(doctree: nodes.Node, caption_part: str) -> list[list[str]]:
    """The rows of the table whose title contains ``caption_part``, as cell texts."""
    for table in doctree.findall(nodes.table):
        titles = list(table.findall(nodes.title))
        if titles and caption_part in titles[0].astext():
            return [
                [" ".join(entry.astext().split()) for entry in row.findall(nodes.entry)]
                for row in table.findall(nodes.row)
            ]
    raise AssertionError(f"no table titled {caption_part!r}")


def _words(text: str) -> str:
    return " ".join(text.split())


# -- escaping ------------------------------------------------------------------------

#: Pieces of text that mean something to reST, to mix with arbitrary characters.
_MARKUP = (
    "_",
    "__",
    "*",
    "**",
    "`",
    "``",
    "|",
    ":",
    "::",
    " : ",
    "\\",
    "-",
    "+",
    "•",
    "=",
    "----",
    "1.",
    "iv)",
    "(a)",
    "#.",
    "..",
    ">>>",
    "[1]_",
    "name_",
    "_`t`",
    ":role:`x`",
    "|sub|",
    "http://example.org",
    "a@b.org",
    "a_b",
    "word",
    " ",
    "\t",
)
_TEXT = (
    st.lists(
        st.one_of(
            st.sampled_from(_MARKUP),
            st.text(st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))),
        ),
        min_size=1,
        max_size=8,
    )
    .map("".join)
    .filter(lambda t: bool(t.split()))
)

_CONTEXTS = {
    "paragraph": "{}\n",
    "bullet": "* {}\n",
    "cell": ".. list-table:: t\n\n   * - {}\n     - x\n",
    "term": "{}\n   definition\n",
    "definition": "term\n   {}\n",
}


def _only_text(doctree: nodes.document, context: str) -> str:
    if context == "cell":
        return _table(doctree, "t")[0][0]
    if context == "term":
        return next(iter(doctree.findall(nodes.term))).astext()
    if context == "definition":
        return next(iter(doctree.findall(nodes.definition))).astext()
    (child,) = doctree.children
    expected = nodes.bullet_list if context == "bullet" else nodes.paragraph
    assert isinstance(child, expected), child
    return child.astext()


#: More examples than the profile's default: each is cheap, and markup hides in corners.
_MANY = settings(max_examples=max(200, settings.default.max_examples))


@_MANY
@given(_TEXT)
def test_rst_text_shows_exactly_the_text(text: str) -> None:
    for context, template in _CONTEXTS.items():
        doctree = _parse(template.format(rst_text(text)))
        assert _only_text(doctree, context) == _words(text), context


@_MANY
@given(_TEXT)
def test_rst_literal_shows_exactly_the_text(text: str) -> None:
    doctree = _parse(f"{rst_literal(text)}\n")
    assert doctree.astext() == _words(text)


def test_escaping_leaves_plain_text_alone() -> None:
    for plain in ("QEMU 7.2: the job lifecycle", "job_transition_to_ready", "a, b; c (d)"):
        assert rst_text(plain) == plain
    assert rst_literal("@job-pause") == "``@job-pause``"
    assert rst_text("a ``b``") != "a ``b``"


# -- one page per release --------------------------------------------------------------


@BY_VERSION
def test_page_parses_and_holds_the_model_permission_table(model: Model) -> None:
    doctree = _parse(release_page(model))
    assert (
        doctree.findall(nodes.title).__next__().astext()
        == f"QEMU {model.version}: the job lifecycle"
    )
    rows = _table(doctree, "JobVerbTable")
    assert rows[0][1:] == [s.value for s in model.statuses]
    assert [row[0] for row in rows[1:]] == [v.value for v in model.verbs]
    for verb, row in zip(model.verbs, rows[1:], strict=True):
        expected = ["✓" if model.permits(verb, s) else "" for s in model.statuses]
        assert row[1:] == expected, verb


@BY_VERSION
def test_page_cites_every_rule_that_applies(model: Model) -> None:
    rows = _table(_parse(release_page(model)), "documented rules")
    rules = rules_for(model.version)
    assert [row[0] for row in rows[1:]] == [r.id for r in rules]
    for rule, (_, documented, divergence) in zip(rules, rows[1:], strict=True):
        quote = next((q for q in rule.quotes if q.applies_to(model.version)), None)
        if quote is not None:
            assert f"“{_words(quote.text)}”" in documented, rule.id
            assert (quote.anchor or rule.anchor or "") in documented, rule.id
        assert (rule.anchor or "not documented") in documented or quote, rule.id
        assert _words(rule.text) in documented, rule.id
        if rule.unchecked:
            assert _words(rule.unchecked) in documented, rule.id
        known = rule.known_divergence
        if known is not None and known.applies_to(model.version):
            assert divergence == _words(f"{known.observed} ({known.evidence})"), rule.id
        else:
            assert divergence == "—", rule.id


def _diagrams(doctree: nodes.document) -> tuple[list[nodes.Node], list[nodes.Node]]:
    figures = [n for n in doctree.findall(nodes.image)]
    blocks = [n for n in doctree.findall(nodes.literal_block) if "graphviz" in n["classes"]]
    return figures, blocks


@BY_VERSION
def test_page_shows_the_diagram_in_each_mode(model: Model) -> None:
    dot = [line.strip() for line in to_dot(lifecycle_view(model)).splitlines()]
    for mode in doc_pages.DIAGRAM_MODES:
        figures, blocks = _diagrams(_parse(release_page(model, mode)))
        assert [f["uri"] for f in figures] == ([] if mode == "graphviz" else [svg_name(model)])
        assert len(blocks) == (0 if mode == "svg" else 1), mode
        for block in blocks:
            assert [line.strip() for line in block.astext().splitlines()] == dot
    doctree = _parse(release_page(model, "both"))
    shown = {box["expr"]: box for box in doctree.findall(nodes.container) if "expr" in box}
    assert set(shown) == {PREBUILT_TAG, f"not {PREBUILT_TAG}"}
    assert list(shown[PREBUILT_TAG].findall(nodes.image))
    assert not list(shown[PREBUILT_TAG].findall(nodes.literal_block))


def test_unknown_diagram_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown diagram mode 'png'"):
        release_page(MODELS["7.2"], "png")


@pytest.mark.parametrize(
    ("old", "new"), list(itertools.pairwise(ALL_MODELS)), ids=lambda m: m.version
)
def test_changes_section_says_what_changed(old: Model, new: Model) -> None:
    section = _section(_parse(release_page(new)), "Changes since the previous release")
    text = _words(section.astext())
    d = diff(old, new)
    terms = [t.astext() for t in section.findall(nodes.term)]
    reworded = {
        r.id
        for r in rules_for(new.version)
        if r.applies_to(old.version) and r.quote_for(old.version) != r.quote_for(new.version)
    }
    if d.empty and set(rules_for(old.version)) == set(rules_for(new.version)) and not reworded:
        same_divergences = all(
            (r.known_divergence is None)
            or r.known_divergence.applies_to(old.version)
            == r.known_divergence.applies_to(new.version)
            for r in rules_for(new.version)
        )
        if same_divergences:
            assert f"Nothing changed since QEMU {old.version}" in text
            return
    assert f"Compared with QEMU {old.version}" in text
    entries = {
        term: [_words(i.astext()) for i in definition.findall(nodes.list_item)]
        for term, definition in zip(terms, section.findall(nodes.definition), strict=True)
    }
    for verb in d.added_verbs:
        assert f"new verb {verb.value}" in entries["Verbs"]
    for verb, status in d.added_cells:
        line = next(e for e in entries["Permissions"] if e.startswith(f"{verb.value} is now"))
        assert status.value in line.split(" in ", 1)[1].split(", ")
    for verb, status in d.removed_cells:
        line = next(e for e in entries["Permissions"] if e.startswith(f"{verb.value} is no longer"))
        assert status.value in line.split(" in ", 1)[1].split(", ")
    for job_type in d.added_job_types:
        assert f"new job type {job_type.value}" in entries["Job types"]
    started = {r.id for r in rules_for(new.version)} - {r.id for r in rules_for(old.version)}
    ended = {r.id for r in rules_for(old.version)} - {r.id for r in rules_for(new.version)}
    documentation = entries.get("Documentation", [])
    for rule_id in started:
        assert any(e.startswith(f"newly documented, {rule_id}:") for e in documentation)
    for rule_id in ended:
        assert any(e.startswith(f"no longer documented, {rule_id}:") for e in documentation)
    for rule_id in reworded:
        (line,) = [e for e in documentation if e.startswith(f"worded anew, {rule_id}:")]
        now, was = RULES[rule_id].quote_for(new.version), RULES[rule_id].quote_for(old.version)
        assert f"“{_words(now or '')}”" in line.split("; was ")[0], rule_id
        assert f"“{_words(was or '')}”" in line.split("; was ")[1], rule_id
    unchanged = [category for category, found in changes(old, new) if not found]
    assert set(entries) == {c for c, found in changes(old, new) if found}
    if unchanged:
        assert f"No change in {', '.join(c.lower() for c in unchanged)}." in text


def test_oldest_page_has_nothing_to_compare() -> None:
    section = _section(_parse(release_page(ALL_MODELS[0])), "Changes since the previous release")
    assert "oldest release modelled" in section.astext()


def test_index_lists_every_page_newest_first() -> None:
    doctree = _parse(index_page(ALL_MODELS))
    newest_first = [page_name(m) for m in reversed(ALL_MODELS)]
    rows = _table(doctree, "Releases")
    assert [row[0] for row in rows[1:]] == newest_first
    (toctree,) = (n for n in doctree.findall(nodes.bullet_list) if "toctree" in n["classes"])
    assert [item.astext() for item in toctree.children] == newest_first
    for model, row in zip(reversed(ALL_MODELS), rows[1:], strict=True):
        assert row[1].startswith(f"QEMU {model.version}")
        assert row[2] == doc_pages.change_summary(model)
    assert set(pages(ALL_MODELS)) == {"index.rst"} | {f"{page_name(m)}.rst" for m in ALL_MODELS}


# -- the Sphinx build (tox -e docs) ----------------------------------------------------

sphinx_missing = pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import sphinx"], capture_output=True).returncode != 0,
    reason="Sphinx is not installed (it is in the test extra: pip install -e '.[test]')",
)

#: Programs of the tox commands, run from this interpreter.
_PROGRAMS = {
    "jobcheck": [sys.executable, "-m", "jobcheck.conformance.cli"],
    "sphinx-build": [sys.executable, "-m", "sphinx"],
}


def _tox_docs_commands(tmp: Path) -> list[list[str]]:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    lines = [x for x in tox["testenv:docs"]["commands"].splitlines() if x.strip()]
    argvs = [shlex.split(x.replace("{envtmpdir}", str(tmp))) for x in lines]
    return [[*_PROGRAMS[argv[0]], *argv[1:]] for argv in argvs]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
@sphinx_missing
@needs_dot
def test_tox_docs_env_builds_every_page_without_a_warning(tmp_path: Path) -> None:
    commands = _tox_docs_commands(tmp_path)
    builds = [c for c in commands if c[:3] == _PROGRAMS["sphinx-build"]]
    assert len(builds) == 3 and all("-W" in c and "--keep-going" in c for c in builds)
    for argv in commands:
        run = _run(argv)
        assert run.returncode == 0, (argv, run.stderr)
        assert "WARNING" not in run.stderr and "ERROR" not in run.stderr, run.stderr
    for html in ("html", "html-prebuilt", "html-svg"):
        for model in ALL_MODELS:
            page = (tmp_path / html / f"{page_name(model)}.html").read_text()
            if html == "html":
                assert 'class="graphviz' in page and svg_name(model) not in page, model.version
            else:
                assert svg_name(model) in page and 'class="graphviz' not in page, model.version
            assert "JobVerbTable" in page and "Changes since the previous release" in page
    assert not list((tmp_path / "html" / "_images").glob("lifecycle-*.svg"))


@sphinx_missing
def test_a_broken_page_fails_the_build(tmp_path: Path) -> None:
    """The build's warnings are errors: an unresolved reference fails it."""
    model = MODELS["7.2"]
    source = tmp_path / "pages"
    source.mkdir()
    (source / "index.rst").write_text(index_page([model]))
    page = release_page(model, "svg") + "\nSee :doc:`no-such-page`.\n"
    (source / f"{page_name(model)}.rst").write_text(page)
    (source / svg_name(model)).write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    argv = _tox_docs_commands(tmp_path)[-1]
    run = _run([*argv[:-2], str(source), str(tmp_path / "html")])
    assert run.returncode != 0 and "no-such-page" in run.stderr


# -- the command ---------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_PROGRAMS["jobcheck"], *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@needs_dot
def test_docs_command_writes_the_pages_and_their_svgs(tmp_path: Path) -> None:
    assert main(["docs", "--model", "7.2.22", "--out", str(tmp_path)]) == 0
    model = MODELS["7.2"]
    assert {p.name for p in tmp_path.iterdir()} == {
        "index.rst",
        f"{page_name(model)}.rst",
        svg_name(model),
    }
    assert (tmp_path / "index.rst").read_text() == index_page([model])
    assert (tmp_path / f"{page_name(model)}.rst").read_text() == release_page(model)
    assert (tmp_path / svg_name(model)).read_text().lstrip().startswith("<?xml")


def test_graphviz_pages_need_no_svg_and_no_dot(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    out = tmp_path / "out"
    run = _cli("docs", "--diagram", "graphviz", "--out", str(out), env={"PATH": str(empty)})
    assert run.returncode == 0, run.stderr
    assert {p.name for p in out.iterdir()} == set(pages(ALL_MODELS, "graphviz"))


def test_missing_dot_writes_the_pages_and_fails_naming_the_package(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    out = tmp_path / "out"
    run = _cli("docs", "--model", "8.2", "--out", str(out), env={"PATH": str(empty)})
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert "apt-get install graphviz" in run.stderr and "--diagram graphviz" in run.stderr
    assert {p.name for p in out.iterdir()} == {"index.rst", "job-lifecycle-8.2.rst"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: --out"),
        (["--diagram", "png", "--out", "{out}"], "invalid choice: 'png'"),
        (["--model", "1.5", "--out", "{out}"], "unknown QEMU version '1.5'"),
        (["--model", "", "--out", "{out}"], "unknown QEMU version ''"),
        (["--out", "{file}/sub"], "cannot create output directory"),
        (["--out", "{file}"], "File exists"),
    ],
)
def test_bad_options_exit_2_with_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = tmp_path / "out"
    argv = [a.format(out=out, file=blocker) for a in args]
    run = _cli("docs", *argv)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()
