"""``jobcheck diagram``: draw the lifecycle model (SVG, PNG, DOT, Mermaid, Markdown).

For each selected model version it writes the lifecycle diagram (statuses,
transitions labelled by what causes them) and the verb × status permission
matrix; for the newest selected version, one view per verb (where it is
permitted, which transitions it causes); with ``--model all``, also the diffs
between consecutive versions whose lifecycle changed.  ``--verb NAME``
writes only that verb's view.  File names and formats are described in
:mod:`jobcheck.conformance.report.diagram_files`.

    jobcheck diagram --model all --out diagrams     # the committed set
    jobcheck diagram --model 7.2 --format png --out /tmp/d
    jobcheck diagram --verb complete --format svg
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jobcheck.conformance.commands.options import say_model
from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.report.diagram_files import (
    DEFAULT_FORMATS,
    FORMATS,
    diagram_set,
    write_diagrams,
)
from jobcheck.model.lifecycle import MODELS, Model, Verb

HELP = "draw the lifecycle, permission matrices, per-verb views and version diffs"
EXAMPLES = """\
  # the latest model, into ./jobcheck-diagrams/
  jobcheck diagram
  jobcheck diagram --model 7.2 --format png --verb complete --out /tmp/d
  jobcheck diagram --model all --format svg,dot,mermaid --out diagrams
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        metavar="V",
        default="latest",
        help="model or QEMU version (e.g. 7.2, 7.2.22, latest), or 'all' (default: latest)",
    )
    parser.add_argument(
        "--format",
        metavar="LIST",
        default=",".join(DEFAULT_FORMATS),
        help=f"comma-separated, from {', '.join(FORMATS)} (default: {','.join(DEFAULT_FORMATS)}); "
        "the matrices' Markdown is always written",
    )
    parser.add_argument("--verb", metavar="NAME", help="write only this verb's view")
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="jobcheck-diagrams",
        help="output directory (default: jobcheck-diagrams; the repository's committed set"
        " is written with --out diagrams, as tox -e diagrams does)",
    )


def models_option(text: str) -> list[Model]:
    """The models ``--model`` names: one version, or ``all``."""
    if text == "all":
        return list(MODELS.values())
    try:
        return [say_model("diagram", text, always=False)]
    except UsageError as exc:
        raise UsageError(f"{exc} (or 'all')") from None


def _formats(text: str) -> list[str]:
    formats = [f.strip() for f in text.split(",") if f.strip()]
    if not formats:
        raise UsageError(f"no format given; choose from {', '.join(FORMATS)}")
    for fmt in formats:
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    return list(dict.fromkeys(formats))


def _verb(name: str, model: Model) -> Verb:
    try:
        verb = Verb(name)
    except ValueError:
        known = ", ".join(v.value for v in Verb)
        raise UsageError(f"unknown verb {name!r}; known verbs: {known}") from None
    if verb not in model.verbs:
        known = ", ".join(v.value for v in model.verbs)
        raise UsageError(f"QEMU {model.version} has no verb {name!r}; it has: {known}")
    return verb


def run(args: argparse.Namespace) -> int:
    models = models_option(args.model)
    formats = _formats(args.format)
    if args.verb is not None:
        diagrams = diagram_set(models, verbs=[_verb(args.verb, models[-1])], only_verbs=True)
    else:
        diagrams = diagram_set(models, diffs=args.model == "all")
    written = write_diagrams(diagrams, formats, Path(args.out))
    print(f"wrote {len(written)} files to {args.out}")
    return 0
