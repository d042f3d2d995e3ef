"""Planting a mutant into a QEMU source tree, and always taking it out again.

A planted edit is preceded by a marker line, ``/* jobcheck-mutant: ID */``,
so a mutant left behind by a killed run is found by reading the files alone.
Before planting, the pristine file is saved under the state directory (in the
build directory); :meth:`SourceTree.planted` restores it in a ``finally``, with
SIGINT, SIGTERM and SIGHUP held back during the restore.  At start-up
:meth:`SourceTree.recover` takes any leftover mutant out — by undoing its
edits, or from the saved copy — and refuses a tree it cannot put right.

Every write replaces the file whole (a temporary file renamed over it) and
gives it a fresh modification time, so that ninja recompiles it.

>>> from jobcheck.conformance.mutation.catalogue import Edit, Mutant
>>> m = Mutant("m", "f.c", "f", "event", "x", (Edit("    b();\\n", "    c();\\n"),))
>>> planted_text("a();\\n    b();\\n", m)
'a();\\n/* jobcheck-mutant: m */\\n    c();\\n'
>>> unplanted_text(planted_text("a();\\n    b();\\n", m), m)
'a();\\n    b();\\n'
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.mutation.catalogue import CATALOGUE, Edit, Mutant
from jobcheck.conformance.mutation.interrupts import signals_deferred

MARKER = "jobcheck-mutant"
_MARKER_RE = re.compile(r"/\* " + MARKER + r": ([A-Za-z0-9_.-]+) \*/")


class PlantError(UsageError):
    """A mutant cannot be planted or taken out (exit 2)."""


def marker_line(mutant: Mutant) -> str:
    """The line that precedes each planted edit."""
    return f"/* {MARKER}: {mutant.id} */\n"


def line_start_positions(text: str, search: str) -> list[int]:
    """Where ``search`` occurs in ``text`` starting at the beginning of a line.

    >>> line_start_positions("ab\\nb\\nxb\\n", "b\\n")
    [3]
    """
    found = []
    start = 0
    while (at := text.find(search, start)) >= 0:
        if at == 0 or text[at - 1] == "\n":
            found.append(at)
        start = at + 1
    return found


def _replace_once(text: str, old: str, new: str, what: str) -> str:
    positions = line_start_positions(text, old) if old else []
    if len(positions) != 1:
        raise PlantError(f"{what}: the text to replace occurs {len(positions)} times, not once")
    at = positions[0]
    return text[:at] + new + text[at + len(old) :]


def apply_edits(text: str, mutant: Mutant, *, marked: bool) -> str:
    """``text`` with the mutant's edits made (each preceded by its marker when ``marked``)."""
    prefix = marker_line(mutant) if marked else ""
    for number, edit in enumerate(mutant.edits, 1):
        what = f"mutant {mutant.id}, edit {number} of {len(mutant.edits)} in {mutant.file}"
        text = _replace_once(text, edit.search, prefix + edit.replace, what)
    return text


def planted_text(pristine: str, mutant: Mutant) -> str:
    """The file as planted: the edits made, each after a marker line."""
    return apply_edits(pristine, mutant, marked=True)


def unplanted_text(planted: str, mutant: Mutant) -> str:
    """The pristine file back from a planted one, by undoing the marked edits."""
    prefix = marker_line(mutant)
    for number, edit in reversed(list(enumerate(mutant.edits, 1))):
        what = f"undoing mutant {mutant.id}, edit {number} in {mutant.file}"
        planted = _replace_once(planted, prefix + edit.replace, edit.search, what)
    return planted


def mutant_diff(pristine: str, mutant: Mutant) -> str:
    """The mutant's unified diff against the pristine file (two lines of context, no marker)."""
    mutated = apply_edits(pristine, mutant, marked=False)
    return "".join(
        difflib.unified_diff(
            pristine.splitlines(keepends=True),
            mutated.splitlines(keepends=True),
            fromfile=f"a/{mutant.file}",
            tofile=f"b/{mutant.file}",
            n=2,
        )
    )


def markers_in(text: str) -> list[str]:
    """The ids of the mutants whose markers ``text`` holds, in order.

    >>> markers_in("x\\n/* jobcheck-mutant: a-b */\\ny\\n")
    ['a-b']
    """
    return _MARKER_RE.findall(text)


def write_fresh(path: Path, text: str) -> None:
    """Replace ``path`` whole with ``text``, keeping its mode; the new file has a new mtime."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class SourceTree:
    """A QEMU source tree to plant mutants into, with a state directory for pristine copies."""

    def __init__(self, root: Path, state: Path, catalogue: Sequence[Mutant] = CATALOGUE) -> None:
        self.root = root
        self.state = state
        self.catalogue = {mutant.id: mutant for mutant in catalogue}

    def path(self, mutant: Mutant) -> Path:
        return self.root / mutant.file

    def _saved(self, relative: str) -> Path:
        return self.state / "pristine" / relative

    def _record(self) -> Path:
        return self.state / "planted.json"

    def read(self, relative: str) -> str:
        try:
            return (self.root / relative).read_text(encoding="utf-8")
        except OSError as exc:
            raise PlantError(f"cannot read {self.root / relative}: {exc.strerror or exc}") from None

    def check(self, mutant: Mutant) -> str:
        """The mutant's diff if it applies exactly once to the pristine tree; else PlantError."""
        return mutant_diff(self.read(mutant.file), mutant)

    def plant(self, mutant: Mutant) -> None:
        """Save the pristine file, then write it with the mutant planted."""
        pristine = self.read(mutant.file)
        if markers_in(pristine):
            raise PlantError(f"{mutant.file} already holds a planted mutant")
        planted = planted_text(pristine, mutant)
        saved = self._saved(mutant.file)
        with signals_deferred():
            saved.parent.mkdir(parents=True, exist_ok=True)
            write_fresh(saved, pristine)
            record = {"mutant": mutant.id, "file": mutant.file}
            write_fresh(self._record(), json.dumps(record) + "\n")
            write_fresh(self.path(mutant), planted)

    def restore(self, mutant: Mutant) -> None:
        """Put the pristine file back (undoing the edits, else from the saved copy)."""
        with signals_deferred():
            self._restore_file(mutant.file)

    def _restore_file(self, relative: str) -> None:
        text = self.read(relative)
        saved = self._saved(relative)
        pristine: str | None = None
        ids = markers_in(text)
        if not ids:
            pristine = text
        elif len(set(ids)) == 1 and ids[0] in self.catalogue:
            try:
                pristine = unplanted_text(text, self.catalogue[ids[0]])
            except PlantError:
                pristine = None
        if pristine is None and saved.is_file():
            pristine = saved.read_text(encoding="utf-8")
        if pristine is None or markers_in(pristine):
            raise PlantError(
                f"{self.root / relative} holds a planted mutant ({', '.join(sorted(set(ids)))})"
                " that cannot be taken out: restore the file by hand"
            )
        if pristine != text:
            write_fresh(self.root / relative, pristine)
        saved.unlink(missing_ok=True)
        self._record().unlink(missing_ok=True)

    def leftovers(self) -> dict[str, list[str]]:
        """Files of the catalogue (or of the state record) holding markers → the mutant ids."""
        relatives = {mutant.file for mutant in self.catalogue.values()}
        record = self._record()
        if record.is_file():
            with suppress(OSError, ValueError, KeyError, TypeError):
                relatives.add(str(json.loads(record.read_text(encoding="utf-8"))["file"]))
        found: dict[str, list[str]] = {}
        for relative in sorted(relatives):
            if (self.root / relative).is_file() and (ids := markers_in(self.read(relative))):
                found[relative] = ids
        return found

    def recover(self) -> list[str]:
        """Take out every leftover mutant; returns one line per file put right."""
        done = []
        with signals_deferred():
            for relative, ids in self.leftovers().items():
                self._restore_file(relative)
                done.append(f"{relative}: took out the leftover mutant {', '.join(ids)}")
        return done

    @contextmanager
    def planted(self, mutant: Mutant) -> Iterator[None]:
        """The mutant planted for the block; the pristine file back afterwards, whatever happens."""
        self.check(mutant)
        try:
            self.plant(mutant)
            yield
        finally:
            self.restore(mutant)


def check_edit(edit: Edit) -> list[str]:
    """What is wrong with an edit's shape (whole lines, not empty); [] when it is fine.

    >>> check_edit(Edit("a\\n", ""))
    []
    >>> check_edit(Edit("a", "b"))
    ['search is not whole lines', 'replace is not whole lines']
    """
    problems = []
    if not edit.search.endswith("\n"):
        problems.append("search is not whole lines")
    if edit.replace and not edit.replace.endswith("\n"):
        problems.append("replace is not whole lines")
    if edit.search == edit.replace:
        problems.append("replace equals search")
    return problems
