"""``jobcheck rules``: the rule catalogue, and which schema items it covers.

Without ``--schema`` it lists the catalogue of documented rules
(:mod:`jobcheck.model.rules`), each with the sentence of the documentation it
quotes: with ``--model V`` as the documentation of V words it, else every
wording with the model versions that have it (the documentation was rewritten
over time).  With ``--schema PATH`` it reads a QAPI schema file (such as
QEMU's ``qapi/job.json``), lists every definition and member in it with the
rules that cover it (as primary anchor or in ``covers``), then those no rule
covers.  ``--qemu-build DIR`` takes the schema from the source tree of a QEMU
build directory (``qapi/job.json``, see
:mod:`jobcheck.conformance.targets.qemu_build`) and, unless ``--model`` is
given, the rules of the model its ``VERSION`` maps to, saying which and why.
Exit codes: 0 every item is covered (or no schema), 1 some item is not, 2
unreadable or malformed schema, a build tree without one, or an unknown
``--model``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from jobcheck.conformance.commands.options import add_json_option, emit_json, json_only, say_model
from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.targets.qemu_build import find_build
from jobcheck.conformance.trace.readers import open_input
from jobcheck.model.rules import CATALOGUE, Rule, rules_for
from jobcheck.model.schema_doc import Anchor, SchemaSyntaxError, anchors, parse_schema

HELP = "list the documented rules, or check that they cover every item of a QAPI schema"
EXAMPLES = """\
  # the catalogue, with known divergences
  jobcheck rules
  # the rules of 7.2's documentation, as JSON
  jobcheck rules --model 7.2 --json
  # exit 1: a member has no rule
  jobcheck rules --schema ~/qemu/qapi/job.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--schema",
        metavar="PATH",
        help="a QAPI schema file (e.g. qapi/job.json): report which items no rule covers",
    )
    parser.add_argument(
        "--qemu-build",
        metavar="DIR",
        help="a QEMU build directory: check its source tree's qapi/job.json",
    )
    parser.add_argument(
        "--model",
        metavar="V",
        help="only the rules whose documentation applies to this version (default: all rules)",
    )
    add_json_option(parser, "the catalogue, or the coverage of the schema,")


def _model_version(version: str | None) -> str | None:
    if version is None:
        return None
    return say_model("rules", version, always=False).version


def _selected_rules(version: str | None) -> tuple[Rule, ...]:
    if version is None:
        return CATALOGUE
    return rules_for(version)


def read_schema(path: str) -> tuple[Anchor, ...]:
    """The anchors of the schema file at ``path``; :class:`UsageError` if unreadable or bad."""
    try:
        with open_input(path, "schema") as stream:
            text = stream.read().decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    try:
        items = anchors(parse_schema(text))
    except SchemaSyntaxError as exc:
        raise UsageError(f"{path}:{exc.line}: {exc.message}") from None
    except RecursionError:
        raise UsageError(f"{path}: values nested too deeply for a QAPI schema") from None
    if not items:
        raise UsageError(f"{path}: no QAPI definitions found")
    return items


def coverage(items: tuple[Anchor, ...], rules: tuple[Rule, ...]) -> list[tuple[Anchor, list[str]]]:
    """Each schema item with the ids of the rules that name it, in schema order."""
    return [(item, [r.id for r in rules if item.anchor in r.anchors]) for item in items]


def _from_build(args: argparse.Namespace) -> None:
    """Fill ``args.schema`` (and ``args.model``) from ``--qemu-build``."""
    if args.schema is not None:
        raise UsageError("give --schema PATH or --qemu-build DIR, not both")
    build = find_build(args.qemu_build)
    if build.schema is None:
        where = build.source or f"{build.directory} (no source tree found)"
        raise UsageError(f"--qemu-build {args.qemu_build}: no qapi/job.json in {where}")
    args.schema = build.schema
    line = f"jobcheck rules: schema {build.schema}"
    chosen = build.model_choice() if args.model is None else None
    if chosen is not None:
        args.model = chosen[0].version
        line += f"; {chosen[1]}"
    print(line, file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if args.qemu_build is not None:
        _from_build(args)
    version = _model_version(args.model)
    rules = _selected_rules(version)
    if args.schema is None:
        if args.json:
            emit_json(args.json, _documents(rules, version))
        if not json_only(args):
            _print_catalogue(rules, version)
        return 0
    table = coverage(read_schema(args.schema), rules)
    uncovered = [item for item, ids in table if not ids]
    if args.json:
        document: dict[str, Any] = {
            "schema": args.schema,
            "model": args.model,
            "items": [
                {
                    "anchor": item.anchor,
                    "kind": item.kind,
                    "line": item.line,
                    "documented": item.documented,
                    "rules": ids,
                }
                for item, ids in table
            ],
            "covered": len(table) - len(uncovered),
            "uncovered": [item.anchor for item in uncovered],
        }
        emit_json(args.json, document)
    if not json_only(args):
        _print_coverage(args.schema, table)
    return 1 if uncovered else 0


def _print_coverage(path: str, table: list[tuple[Anchor, list[str]]]) -> None:
    width = max(len(item.anchor) for item, _ in table)
    covered = [(item, ids) for item, ids in table if ids]
    uncovered = [item for item, ids in table if not ids]
    print(f"Covered ({len(covered)}):")
    for item, ids in covered:
        print(f"  {item.anchor:<{width}}  {', '.join(ids)}")
    print(f"Not covered by any rule ({len(uncovered)}):")
    for item in uncovered:
        note = "" if item.documented else "  (undocumented in the schema)"
        print(f"  {item.anchor:<{width}}  {item.kind}, line {item.line}{note}")
    print(
        f"{path}: {len(table)} definitions and members, {len(covered)} covered,"
        f" {len(uncovered)} not covered"
    )


def _quote_lines(rule: Rule, version: str | None) -> list[str]:
    """The quote of ``rule`` as model ``version`` words it; without a version, each wording
    with its releases when there are several."""
    if version is not None:
        quote = rule.quote_for(version)
        return [f'quote: "{quote}"'] if quote else []
    if len(rule.quotes) == 1:
        return [f'quote: "{rule.quotes[0].text}"']
    return [f'quote ({q.versions[0]}–{q.versions[1]}): "{q.text}"' for q in rule.quotes]


def _documents(rules: tuple[Rule, ...], version: str | None) -> list[dict[str, Any]]:
    """The rules as JSON; with a version, each with its quote as that release words it."""
    documents = [r.to_json() for r in rules]
    if version is not None:
        for document, rule in zip(documents, rules, strict=True):
            document["quote"] = rule.quote_for(version)
    return documents


def _print_catalogue(rules: tuple[Rule, ...], version: str | None) -> None:
    for r in rules:
        first, last = r.versions
        print(f"{r.id}  [{r.category.value}]  {r.anchor or '(undocumented)'}  {first}–{last}")
        print(f"    {r.text}")
        for line in _quote_lines(r, version):
            print(f"    {line}")
        known = r.known_divergence
        if known is not None:
            kfirst, klast = known.versions
            print(f"    known divergence ({kfirst}–{klast}; {known.evidence}): {known.observed}")
        print(f"    checks: {', '.join(r.checks) or r.unchecked}")
    diverging = sum(r.known_divergence is not None for r in rules)
    print(f"{len(rules)} rules, {diverging} with a known divergence")
