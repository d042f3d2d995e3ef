"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) loads it
with no console error, and its table of contents, anchors, links and folded traces work."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import CHROMIUM, Browser

from jobcheck.conformance.cli import main

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian package chromium, as .ci/setup)"
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    argv = ["run", "--target", "sim", "--model", "7.2", "--examples", "3", "--steps", "10"]
    assert main([*argv, "--sim-mutant", "dismiss-in-pending", "--out", str(out)]) == 1
    return out / "report.html"


def test_the_report_renders_in_chromium_without_an_error(report: Path) -> None:
    with Browser() as browser:
        page = browser.load(report)
        assert page.errors == []
        assert page.evaluate("document.title").startswith("jobcheck: sim-7.2-dismiss-in-pending")
        # the diagram is drawn, the contents lead somewhere, every in-page link lands
        assert (
            page.evaluate("document.querySelector('.diagram svg').getBoundingClientRect().height")
            > 200
        )
        assert page.evaluate("document.querySelectorAll('nav.toc a').length") >= 6
        dangling = page.evaluate(
            "[...document.querySelectorAll('a[href^=\"#\"]')]"
            ".map(a => a.getAttribute('href').slice(1))"
            ".filter(id => !document.getElementById(id))"
        )
        assert dangling == []
        # traces are folded away, and open onto the highlighted record
        assert page.evaluate("document.querySelectorAll('details').length") > 0
        assert page.evaluate("document.querySelectorAll('details[open]').length") == 0
        shown = "document.querySelector('details pre.trace').checkVisibility()"
        assert page.evaluate(shown) is False
        page.evaluate("document.querySelector('details').open = true")
        assert page.evaluate(shown) is True
        assert page.evaluate("document.querySelector('details .hit') !== null")
        # a divergence's id is a place to go to
        page.evaluate("location.hash = '#d01'")
        assert page.evaluate("document.querySelector(':target').id") == "d01"
        assert page.evaluate("document.documentElement.scrollWidth") <= 1400
        links = page.evaluate(
            "[...document.querySelectorAll('a[href^=\"traces/\"]')]"
            ".map(a => a.getAttribute('href'))"
        )
        assert links and all((report.parent / link).is_file() for link in links)
