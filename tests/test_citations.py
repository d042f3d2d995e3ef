"""Every citation of the notes in ``docs/`` resolves in a clone of the repository.

Code, tests and the README cite the pages of ``docs/`` as ``docs/PAGE.md,
'Heading'`` (several headings: ``docs/PAGE.md, 'A', 'B' and 'C'``) or as a link
``docs/PAGE.md#anchor``; the pages link each other as ``PAGE.md#anchor``.  A
cited page must exist, a cited heading must be one of the page's headings as
written, and an anchor must be the GitHub anchor of one.  A citation may wrap
across lines, in a docstring or in ``#`` comments.

The facts the project relies on are written in ``docs/``, so nothing cites
notes kept outside the repository: no section-sign references, no machine
paths, no names of outside notes (:data:`OUTSIDE`).  The tests that read QEMU's
own files from ``../shared`` beside the checkout name that directory
relatively; they are not citations.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HERE = Path(__file__).resolve()

#: A citation: ``docs/PAGE.md``, an optional ``#anchor``, optional quoted headings.
CITATION = re.compile(
    r"(?<![\w/.-])docs/([\w.-]+\.md)(?:#([\w-]+))?"
    r"((?:,\s*'[^']*')(?:(?:,\s*|,?\s+and\s+)'[^']*')*)?"
)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
LINK = re.compile(r"\]\(([^)\s]+)\)")

#: What a citation of notes outside the repository looks like, and why it is one.
OUTSIDE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile("§"), "a section sign: cite docs/PAGE.md, 'Heading'"),
    (re.compile(r"\bqemu-(?:live|jobs|versions)\b"), "the name of notes outside the repository"),
    (re.compile("/work/"), "a machine-specific path"),
    (re.compile(r"\b(?:shared|reference) notes\b", re.I), "notes outside the repository"),
)


def _sources() -> list[Path]:
    """The files that may cite: the README, the pages, code, tests, CI scripts."""
    files = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    for folder in ("model", "conformance", "tests"):
        files += sorted((ROOT / folder).rglob("*.py"))
    files += sorted(p for p in (ROOT / ".ci").glob("*") if p.is_file())
    return [p for p in files if p.resolve() != HERE]


def _flat(text: str) -> str:
    """The text with comment markers and line breaks folded, so wrapped citations join."""
    lines = (re.sub(r"^\s*#+\s?", "", line).strip() for line in text.splitlines())
    return " ".join(line for line in lines if line)


def headings(page: Path) -> list[str]:
    """The headings of a Markdown page, outside fenced code blocks."""
    out: list[str] = []
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            out.append(match.group(1))
    return out


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces as hyphens.

    >>> anchor("Verb and status matrix of 7.2.22")
    'verb-and-status-matrix-of-7222'
    """
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _target_problems(page: Path, frag: str | None, cited: list[str], where: str) -> list[str]:
    if not page.is_file():
        return [f"{where}: no such page {page.relative_to(ROOT)}"]
    names = headings(page)
    problems = [f"{where}: {page.name} has no heading {h!r}" for h in cited if h not in names]
    if frag and frag not in {anchor(h) for h in names}:
        problems.append(f"{where}: {page.name} has no anchor #{frag}")
    return problems


def citation_problems(text: str, where: str = "text") -> list[str]:
    """What does not resolve among the ``docs/…`` citations of ``text``.

    >>> citation_problems("see docs/driving-qemu.md, 'Parking a job' and 'Drains'")
    []
    >>> citation_problems("docs/driving-qemu.md, 'Parking a car'")
    ["text: driving-qemu.md has no heading 'Parking a car'"]
    """
    problems: list[str] = []
    for match in CITATION.finditer(_flat(text)):
        page, frag, quoted = match.group(1), match.group(2), match.group(3) or ""
        cited = re.findall(r"'([^']*)'", quoted)
        problems += _target_problems(DOCS / page, frag, cited, where)
    return problems


def outside_problems(text: str, where: str = "text") -> list[str]:
    """The lines of ``text`` that cite notes outside the repository."""
    return [
        f"{where}:{n}: {why}: {line.strip()}"
        for n, line in enumerate(text.splitlines(), 1)
        for pattern, why in OUTSIDE
        if pattern.search(line)
    ]


def link_problems(page: Path) -> list[str]:
    """What does not resolve among the relative Markdown links of a page."""
    problems: list[str] = []
    text = page.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, frag = target.partition("#")
        if page.parent != DOCS and not path.startswith("docs/"):
            continue  # outside docs/, only links into docs/ are checked here
        linked = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(ROOT)} → {target}"
        if linked.suffix == ".md" or not path:
            problems += _target_problems(linked, frag or None, [], where)
        elif not linked.exists():
            problems.append(f"{where}: no such file")
    return problems


SOURCES = _sources()


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_citations_resolve_in_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    where = str(path.relative_to(ROOT))
    assert citation_problems(text, where) + outside_problems(text, where) == []


@pytest.mark.parametrize(
    "page",
    [ROOT / "README.md", *sorted(DOCS.glob("*.md"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_links_into_docs_resolve(page: Path) -> None:
    assert link_problems(page) == []


def test_the_code_and_tests_cite_the_pages() -> None:
    cited = {m.group(1) for p in SOURCES for m in CITATION.finditer(_flat(p.read_text("utf-8")))}
    pages = {p.name for p in DOCS.glob("*.md")} - {"README.md"}
    assert pages and pages <= cited


def test_the_index_lists_every_page_and_headings_are_unique() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in sorted(DOCS.glob("*.md")):
        names = [anchor(h) for h in headings(page)]
        assert len(names) == len(set(names)), f"{page.name}: two headings share an anchor"
        assert all("'" not in h for h in headings(page)), f"{page.name}: a quote in a heading"
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not list {page.name}"


def test_broken_and_outside_citations_are_found() -> None:
    wrapped = "# see docs/driving-qemu.md, 'Verb and status matrix of\n#     7.2.22' there"
    assert citation_problems(wrapped) == []
    assert citation_problems("docs/driving-qemu.md#no-such-anchor") == [
        "text: driving-qemu.md has no anchor #no-such-anchor"
    ]
    assert citation_problems("docs/nope.md, 'X'") == ["text: no such page docs/nope.md"]
    assert citation_problems(
        "docs/qemu-job-engine.md, 'The verb table', 'Job kinds' and 'No such'"
    ) == ["text: qemu-job-engine.md has no heading 'No such'"]
    old = "(qemu-live.md \N{SECTION SIGN}6)\nsee the shared notes\n/work/shared/x"
    assert [p.split(": ")[1] for p in outside_problems(old)] == [
        "a section sign",
        "the name of notes outside the repository",
        "notes outside the repository",
        "a machine-specific path",
    ]
