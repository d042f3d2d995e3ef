"""A divergence: one place where QEMU did something the model does not allow.

The oracle (:mod:`jobcheck.conformance.oracle`) produces them; reports,
baselines and the command line consume them, through :meth:`Divergence.to_json`
or :attr:`Divergence.location`.  An eventual check that a run could not decide
is an :class:`Indeterminate` verdict instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobcheck.model.rules import RuleId


@dataclass(frozen=True, slots=True)
class Divergence:
    """One place where QEMU did something the model does not allow."""

    rule: RuleId
    """The rule (see :mod:`jobcheck.model.rules`)."""
    job: str | None
    index: int
    """The 0-based index of the record in the trace (every record fed to the oracle
    counts, notes included; the metadata line does not)."""
    line: int
    """The source line of the record, 0 if none."""
    path: str | None
    expected: str
    """What the model allows, in one line."""
    observed: str
    """What QEMU did, in one line."""
    known: bool
    """A documented-vs-implemented divergence that the rule catalogue names."""
    message: str
    """One line: what happened, what the model allows, what QEMU did, and the rule."""

    @property
    def location(self) -> str:
        """``FILE:LINE`` (``<trace>`` without a file; ``#INDEX`` without a line)."""
        where = self.path or "<trace>"
        return f"{where}:{self.line}" if self.line else f"{where}:#{self.index}"

    def to_json(self) -> dict[str, Any]:
        """The divergence as plain JSON data (every field, by name)."""
        return {
            "rule": str(self.rule),
            "job": self.job,
            "index": self.index,
            "line": self.line,
            "path": self.path,
            "expected": self.expected,
            "observed": self.observed,
            "known": self.known,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Divergence:
        """The inverse of :meth:`to_json` (raises ``KeyError``, ``TypeError`` or
        ``ValueError`` on bad data, such as a rule the catalogue does not have)."""
        return cls(
            RuleId(str(obj["rule"])),
            None if obj.get("job") is None else str(obj["job"]),
            int(obj["index"]),
            int(obj["line"]),
            None if obj.get("path") is None else str(obj["path"]),
            str(obj["expected"]),
            str(obj["observed"]),
            bool(obj["known"]),
            str(obj["message"]),
        )


@dataclass(frozen=True, slots=True)
class Indeterminate:
    """An eventual check the run could not decide: the job was too slow to tell.

    Neither a pass nor a divergence: a wait for a job to move on by itself ran
    out while the job was still working (see :mod:`jobcheck.conformance.oracle.eventually`).
    """

    rule: RuleId
    job: str | None
    index: int
    """The 0-based index of the record that holds the verdict (a wait note)."""
    line: int
    path: str | None
    message: str
    """One line: what was awaited, how long, and the sign of life that kept it open."""

    def to_json(self) -> dict[str, Any]:
        """The verdict as plain JSON data."""
        return {
            "rule": str(self.rule),
            "job": self.job,
            "index": self.index,
            "line": self.line,
            "path": self.path,
            "message": self.message,
        }
