"""The baseline: a version-keyed file of known divergences that do not fail a run.

In the spirit of web-platform-tests expectation files, a baseline says, per
rule and per outcome, "on these QEMU versions QEMU is expected to do this".  A
run given ``--baseline FILE`` reports a divergence that an entry matches as
*baselined* (it does not fail the run); an entry that could have matched —
its rule was exercised on its job type during the run — but matched nothing
is *stale*: "fixed? remove it from the baseline".  A stale entry fails the
run under ``--strict``, like a strict xfail; an entry marked ``intermittent``
is never stale.  Staleness is judged only for a campaign that ran to its end:
one that stopped at a failure may simply not have got there.

An entry is keyed by the rule *and the outcome it accepts*: what QEMU did, as
the divergence's ``observed`` text says it (``accepted``; ``refused
(GenericError: Can't resume a job that was not paused)``; ``reported null``;
``stayed concluded``), with the job's id written ``JOB``
(:func:`outcome_of`).  So an entry written for QEMU refusing a verb with one
text does not hide QEMU accepting it, or refusing it with another: the same
rule with another outcome is a new divergence.

The file is JSON::

    {
      "format": "jobcheck-baseline",
      "version": 2,
      "entries": [
        {
          "rule": "status.null-never-visible",
          "outcome": "reported null (JOB_STATUS_CHANGE)",
          "job_type": null,
          "qemu": ">=7.2, <8.0",
          "reason": "QEMU emits JOB_STATUS_CHANGE null on every dismiss",
          "intermittent": false
        }
      ]
    }

``rule`` is a rule id of :mod:`jobcheck.model.rules`; ``outcome`` the
normalised observed outcome.  ``job_type`` (optional) restricts the entry to
one job type (``mirror``, ``commit``…) or job kind (``active-commit``…).
``qemu`` (optional) is a version range: comma-separated clauses ``>=V``,
``>V``, ``<=V``, ``<V``, ``==V``; ``==7.2`` matches every 7.2.x, and a bare
``7.2`` means the same.  ``reason`` says why the divergence is expected;
``intermittent`` (default false) marks an entry that may or may not
reproduce on a given run.

A version 1 file (entries keyed by the rule alone, which hid any other
behaviour under the same rule) is refused with a one-line message saying how
to upgrade it: ``jobcheck run --baseline FILE --update-baseline`` reads it
once more the old way and rewrites it as version 2, one entry per outcome the
run saw.  A malformed file is a :class:`~jobcheck.conformance.errors.UsageError`
with a one-line message naming the file and the entry.

    >>> outcome_of("refused (GenericError: Job 't5' in state 'running' cannot accept"
    ...            " command verb 'complete')", "t5")
    "refused (GenericError: Job 'JOB' in state 'running' cannot accept command verb 'complete')"
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.trace.readers import open_input
from jobcheck.model.kinds import JobKind
from jobcheck.model.rules import RULES

BASELINE_FORMAT = "jobcheck-baseline"
BASELINE_VERSION = 2
LEGACY_VERSION = 1
"""Entries keyed by the rule alone: read only to upgrade them (``--update-baseline``)."""

_CLAUSE = re.compile(r"^(>=|<=|==|>|<)?\s*v?(\d+(?:\.\d+){0,2})$")
_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")

Version = tuple[int, int, int]


def parse_version(text: str) -> Version | None:
    """``7.2.22`` → ``(7, 2, 22)``; leading digits only (``8.2.0-rc1`` → ``(8, 2, 0)``)."""
    match = _VERSION.match(text.strip())
    if not match:
        return None
    parts = [int(p) if p is not None else 0 for p in match.groups()]
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True)
class VersionRange:
    """A QEMU version range: clauses that must all hold."""

    text: str
    clauses: tuple[tuple[str, Version, int], ...]
    """(operator, version, number of components given)."""

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """Parse ``">=7.2, <8.0"``; raise ``ValueError`` with what is wrong."""
        clauses = []
        for part in text.split(","):
            part = part.strip()
            match = _CLAUSE.match(part)
            if not match:
                raise ValueError(f"bad version clause {part!r} (use e.g. '>=7.2, <8.0' or '==7.2')")
            op, number = match.group(1) or "==", match.group(2)
            version = parse_version(number)
            assert version is not None
            clauses.append((op, version, number.count(".") + 1))
        return cls(text, tuple(clauses))

    def contains(self, version: str) -> bool:
        """Whether QEMU ``version`` (e.g. ``7.2.22``) is in the range."""
        have = parse_version(version)
        if have is None:
            return False
        for op, want, given in self.clauses:
            if op == "==":
                if have[:given] != want[:given]:
                    return False
            elif not {
                ">=": have >= want,
                ">": have > want,
                "<=": have <= want,
                "<": have < want,
            }[op]:
                return False
        return True


def outcome_of(observed: str, job: str | None) -> str:
    """The outcome a baseline entry is keyed by: ``observed`` with ``job``'s id as ``JOB``."""
    if job:
        observed = re.sub(rf"(?<![\w-]){re.escape(job)}(?![\w-])", "JOB", observed)
    return observed


@dataclass(frozen=True)
class Entry:
    """One expected divergence: a rule and the outcome QEMU is expected to show."""

    rule: str
    job_type: str | None = None
    qemu: VersionRange | None = None
    reason: str = ""
    intermittent: bool = False
    outcome: str | None = None
    """The outcome accepted (:func:`outcome_of`); ``None`` only for an entry read from a
    version 1 file to be upgraded, which accepts any outcome of its rule."""

    def applies_to(self, qemu_version: str) -> bool:
        """Whether the entry is meant for this QEMU version."""
        return self.qemu is None or self.qemu.contains(qemu_version)

    def matches(
        self, rule: str, job_type: str | None, qemu_version: str, outcome: str | None = None
    ) -> bool:
        """Whether a divergence of ``rule`` with ``outcome`` (:func:`outcome_of`) on a job
        of ``job_type`` is this entry's."""
        if rule != self.rule or not self.applies_to(qemu_version):
            return False
        if self.outcome is not None and outcome != self.outcome:
            return False
        return self.job_type is None or job_type_matches(self.job_type, job_type)

    def label(self) -> str:
        """``rule`` plus its outcome, job type and versions, for messages."""
        text = self.rule
        if self.outcome is not None:
            text += f": {self.outcome}"
        if self.job_type:
            text += f" ({self.job_type})"
        if self.qemu:
            text += f" [QEMU {self.qemu.text}]"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "job_type": self.job_type,
            "qemu": self.qemu.text if self.qemu else None,
            "reason": self.reason,
            "intermittent": self.intermittent,
        }


def job_type_matches(wanted: str, job_kind: str | None) -> bool:
    """Whether an entry's ``job_type`` covers a divergence's job kind.

    ``wanted`` may be a job type (``commit`` covers both commit kinds) or a
    kind (``active-commit``); an unknown job kind matches no restricted entry.
    """
    if job_kind is None:
        return False
    if wanted == job_kind:
        return True
    try:
        return JobKind(job_kind).job_type.value == wanted
    except ValueError:
        return False


@dataclass
class Baseline:
    """The entries of a baseline file (empty when the file does not exist yet)."""

    path: Path | None = None
    entries: list[Entry] = field(default_factory=list)
    exists: bool = True
    upgraded_from: int | None = None
    """The version of the file as read, when it was an older one read to be upgraded."""

    def match(
        self, rule: str, job_type: str | None, qemu_version: str, outcome: str | None = None
    ) -> Entry | None:
        """The first entry that matches a divergence, or ``None``."""
        for entry in self.entries:
            if entry.matches(rule, job_type, qemu_version, outcome):
                return entry
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": BASELINE_FORMAT,
            "version": BASELINE_VERSION,
            "entries": [e.to_json() for e in self.entries],
        }


_KEYS = {"rule", "outcome", "job_type", "qemu", "reason", "intermittent"}


def _entry(obj: Any, where: str, version: int = BASELINE_VERSION) -> Entry:
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: an entry must be a JSON object")
    keys = _KEYS if version == BASELINE_VERSION else _KEYS - {"outcome"}
    unknown = sorted(set(obj) - keys)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r}")

    rule = obj.get("rule")
    if not isinstance(rule, str) or not rule:
        raise UsageError(f"{where}: 'rule' must be a rule id string")
    if rule not in RULES:
        prefix = rule.split(".", 1)[0] + "."
        near = [r for r in RULES if r.startswith(prefix)]
        hint = f" (rules starting {prefix}: {', '.join(near)})" if near else ""
        raise UsageError(f"{where}: no rule {rule!r} in the catalogue{hint}")
    outcome = obj.get("outcome")
    if version == BASELINE_VERSION and (not isinstance(outcome, str) or not outcome):
        raise UsageError(
            f"{where}: 'outcome' must be the outcome accepted, as the report's 'observed'"
            ' says it (e.g. "refused (GenericError: Job is already paused)")'
        )
    job_type = obj.get("job_type")
    if job_type is not None and not isinstance(job_type, str):
        raise UsageError(f"{where}: 'job_type' must be a string or null")
    qemu_text = obj.get("qemu")
    qemu = None
    if qemu_text is not None:
        if not isinstance(qemu_text, str):
            raise UsageError(f"{where}: 'qemu' must be a version range string or null")
        try:
            qemu = VersionRange.parse(qemu_text)
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}") from None
    reason = obj.get("reason", "")
    if not isinstance(reason, str):
        raise UsageError(f"{where}: 'reason' must be a string")
    intermittent = obj.get("intermittent", False)
    if not isinstance(intermittent, bool):
        raise UsageError(f"{where}: 'intermittent' must be true or false")
    return Entry(rule, job_type, qemu, reason, intermittent, outcome)


def parse_baseline(data: Any, path: str = "<baseline>", *, upgrade: bool = False) -> Baseline:
    """A :class:`Baseline` from parsed JSON; :class:`UsageError` when malformed.

    A version 1 file is refused, with how to upgrade it, unless ``upgrade``: then its
    entries are read with no outcome (each accepts any outcome of its rule) and
    :attr:`Baseline.upgraded_from` says so.
    """
    if not isinstance(data, dict):
        raise UsageError(f"baseline {path}: must be a JSON object with 'entries'")
    fmt = data.get("format", BASELINE_FORMAT)
    if fmt != BASELINE_FORMAT:
        raise UsageError(f"baseline {path}: 'format' is {fmt!r}, not {BASELINE_FORMAT!r}")
    version = data.get("version", BASELINE_VERSION)
    if version == LEGACY_VERSION and not upgrade:
        raise UsageError(
            f"baseline {path} is version 1: its entries accept any outcome of their rule;"
            " version 2 entries name the outcome they accept. Upgrade it with:"
            f" jobcheck run --baseline {path} --update-baseline"
        )
    if version not in (BASELINE_VERSION, LEGACY_VERSION):
        raise UsageError(
            f"baseline {path}: version {version!r} unsupported (this reads {BASELINE_VERSION})"
        )
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise UsageError(f"baseline {path}: 'entries' must be a list")
    parsed = [
        _entry(e, f"baseline {path}: entry {n}", version) for n, e in enumerate(entries, start=1)
    ]
    upgraded = LEGACY_VERSION if version == LEGACY_VERSION else None
    return Baseline(Path(path), parsed, upgraded_from=upgraded)


def load_baseline(path: str | Path, *, upgrade: bool = False) -> Baseline:
    """Read a baseline file.  A file that does not exist is an empty baseline
    (``exists`` false), so that ``--update-baseline`` can create it; ``upgrade``
    reads a version 1 file too (see :func:`parse_baseline`)."""
    path = Path(path)
    if not os.path.lexists(path):
        return Baseline(path, [], exists=False)
    try:
        with open_input(str(path), "baseline") as stream:  # a FIFO is refused, not read
            text = stream.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot read baseline {path}: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"baseline {path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    baseline = parse_baseline(data, str(path), upgrade=upgrade)
    baseline.path = path
    return baseline


def write_baseline(baseline: Baseline, path: str | Path) -> None:
    """Write a baseline file (pretty JSON, entries sorted by rule)."""
    path = Path(path)
    try:
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(baseline.to_json(), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write baseline {path}: {exc.strerror or exc}") from None


def major_minor(qemu_version: str) -> str | None:
    """``7.2.22`` → ``7.2``; ``None`` when the version cannot be parsed."""
    version = parse_version(qemu_version)
    return None if version is None else f"{version[0]}.{version[1]}"


def updated(
    baseline: Baseline,
    findings: Iterable[tuple[str, str | None, str, str]],
    qemu_version: str,
    stale: Iterable[Entry],
) -> Baseline:
    """The baseline after a run: stale entries dropped, every finding covered.

    ``findings`` are (rule, job kind, outcome, reason) of the run's divergences.
    An entry that already matches a finding is kept as it is; a finding no entry
    matches gets a new entry for its rule and outcome (any job type) on this
    QEMU release (``==7.2``).  Entries for other versions, intermittent entries
    and entries whose rule was not exercised are kept; entries of a version 1
    file (no outcome) are replaced by the outcomes the run saw.
    """
    dropped = set(map(id, stale))
    entries = [e for e in baseline.entries if id(e) not in dropped and e.outcome is not None]
    release = major_minor(qemu_version)
    qemu = VersionRange.parse(f"=={release}") if release else None
    for rule, job_kind, outcome, reason in findings:
        if any(e.matches(rule, job_kind, qemu_version, outcome) for e in entries):
            continue
        entries.append(Entry(rule, None, qemu, reason, False, outcome))
    entries.sort(
        key=lambda e: (e.rule, e.outcome or "", e.job_type or "", e.qemu.text if e.qemu else "")
    )
    return Baseline(baseline.path, entries)


@dataclass(frozen=True)
class Acceptor:
    """The campaign's acceptance test with a baseline: a divergence does not fail a step
    when it is catalogued as known (unless ``strict``) or a baseline entry for its rule and
    outcome applies to this QEMU version.

    The campaign does not know a divergence's job type, so entries restricted to a job
    type accept any job type here; the report then classifies each divergence with its
    job type and fails the run on those no entry covers.  Plain data, so that it can be
    handed to campaigns in other processes.
    """

    baseline: Baseline | None
    qemu_version: str
    strict: bool

    def __call__(self, divergence: Any) -> bool:
        if divergence.known and not self.strict:
            return True
        if self.baseline is None:
            return False
        outcome = outcome_of(divergence.observed, divergence.job)
        return any(
            e.rule == divergence.rule
            and (e.outcome is None or e.outcome == outcome)
            and e.applies_to(self.qemu_version)
            for e in self.baseline.entries
        )
