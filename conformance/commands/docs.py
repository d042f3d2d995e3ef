"""``jobcheck docs``: Sphinx pages of the lifecycle, one per modelled QEMU release.

Writes ``job-lifecycle-V.rst`` for each selected version and an
``index.rst`` (:mod:`jobcheck.model.doc_pages`), and beside them the
``lifecycle-V.svg`` each page can show.  ``--diagram`` chooses how a page
shows its diagram: ``both`` (default: the ``.. graphviz::`` source block,
or the SVG when Sphinx runs with ``-t prebuilt_diagrams``), ``graphviz``
(the block only, no SVG written) or ``svg`` (the SVG only: for a Sphinx
without the ``sphinx.ext.graphviz`` extension).  ``--out`` has no default,
so that nothing lands in a checked-in folder by accident.

    jobcheck docs --model all --out build/docs
    jobcheck docs --model 7.2 --diagram svg --out /tmp/pages
    sphinx-build -W -C -D extensions=sphinx.ext.graphviz -b html build/docs build/html
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jobcheck.conformance.commands.diagram import models_option
from jobcheck.conformance.report.diagram_files import write_docs
from jobcheck.model.doc_pages import DIAGRAM_MODES

HELP = "write a Sphinx page (reStructuredText) of the lifecycle per QEMU release, and an index"
EXAMPLES = """\
  # a page per release and an index, into ./docs-out/
  jobcheck docs --model all --out docs-out
  # one release, with SVG diagrams beside the pages
  jobcheck docs --model 7.2 --out docs-out --diagram svg
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        metavar="V",
        default="all",
        help="model or QEMU version (e.g. 7.2, 7.2.22, latest), or 'all' (default: all)",
    )
    parser.add_argument(
        "--diagram",
        choices=DIAGRAM_MODES,
        default="both",
        help="how a page shows its diagram: both (a graphviz block, or the SVG under the"
        " Sphinx tag prebuilt_diagrams), graphviz (the block only), svg (the SVG only, for"
        " a Sphinx without sphinx.ext.graphviz); default: both",
    )
    parser.add_argument("--out", metavar="DIR", required=True, help="output directory")


def run(args: argparse.Namespace) -> int:
    written = write_docs(models_option(args.model), args.diagram, Path(args.out))
    print(f"wrote {len(written)} files to {args.out}")
    return 0
