"""Options and messages that every subcommand shares, so that each says them alike.

* ``--json[=FILE]`` (:func:`add_json_option`, :func:`emit_json`): the command's
  result as one JSON document — on standard output *instead of* the text when
  no file is given, or written to ``FILE`` *as well as* the text.  As with
  GNU ``getopt`` optional arguments, a file is given only with ``=``
  (:data:`JSON_TO_STDOUT` is what a bare ``--json`` becomes, see
  :func:`jobcheck.conformance.cli.main`): ``jobcheck check-trace --json a.jsonl``
  checks ``a.jsonl``, it does not write over it.
* The model a command picks from a QEMU version (:func:`say_model`), stated
  once, on standard error: ``jobcheck replay: model 9.2: the newest model at or
  below QEMU 10.0.2 (none is written for 10.0)`` — once the command's input
  is known to be good (:func:`say_pending`, which the command line also calls
  when the command returns), so that bad input still gets one line only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from jobcheck.conformance.errors import UsageError, model_choice_option
from jobcheck.model.lifecycle import LATEST, Model

JSON_TO_STDOUT = "-"
"""The value of ``--json`` without a file."""


def add_json_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup, what: str) -> None:
    """``--json[=FILE]``: ``what`` as JSON (see the module docstring)."""
    parser.add_argument(
        "--json",
        nargs="?",
        const=JSON_TO_STDOUT,
        metavar="FILE",
        help=f"{what} as JSON: on standard output instead of the text, or, as --json=FILE,"
        " written to FILE as well",
    )


def emit_json(destination: str, document: Any) -> None:
    """Write ``document`` to ``destination`` (a path, or :data:`JSON_TO_STDOUT`)."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if destination == JSON_TO_STDOUT:
        sys.stdout.write(text)
        return
    path = Path(destination)
    try:
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def json_only(args: argparse.Namespace) -> bool:
    """Whether the JSON replaces the text on standard output (``--json`` without a file)."""
    return getattr(args, "json", None) == JSON_TO_STDOUT


def model_line(version: str | None) -> tuple[Model, str]:
    """The model for a QEMU version (``None``: none known) and why, in one line.

    >>> model_line("10.0.2")[1]
    'model 9.2: the newest model at or below QEMU 10.0.2 (none is written for 10.0)'
    >>> model_line(None)[1]
    'model 10.2: the newest, as no QEMU version is known'
    """
    if version is None:
        return LATEST, f"model {LATEST.version}: the newest, as no QEMU version is known"
    return model_choice_option(version)


_PENDING: list[str] = []
"""Model choices to say once the command's input is known to be good."""


def say_model(command: str, version: str | None, *, always: bool = True) -> Model:
    """Pick the model for ``version``, to be said on standard error in one line.

    With ``always`` false it is said only when the model was not named exactly
    (``--model 10.0.2`` says which model it gets; ``--model 7.2`` does not).
    """
    model, why = model_line(version)
    named = version is not None and (
        version.strip() == model.version or version.strip() in model.aliases
    )
    if always or not named:
        line = f"jobcheck {command}: {why}"
        if line not in _PENDING:
            _PENDING.append(line)
    return model


def say_pending() -> None:
    """Say the model choices made so far (each once)."""
    for line in _PENDING:
        print(line, file=sys.stderr)
    _PENDING.clear()


def drop_pending() -> None:
    """Forget the model choices not said yet (the input was bad after all)."""
    _PENDING.clear()
