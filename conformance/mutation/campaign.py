"""One jobcheck campaign against a build, as a child process, and what its end means for a mutant.

The campaign is ``python -m jobcheck.conformance.cli run --qemu BINARY --seed
N --no-report --json=FILE`` (plus ``--strict --baseline FILE`` when a
baseline is given), stopped at a wall-clock limit.  Its exit code and JSON
give the verdict:

* **caught** — exit 1; the rules are those of the failing divergences
  (``qemu.no-abort`` for a crash);
* **target failure** — exit 3 (QEMU died, hung or could not start);
* **missed** — exit 0;
* **timeout** — still running at the limit;
* **error** — any other exit (2: jobcheck refused its arguments or input).

>>> classify(1, {"divergences": [{"rule": "a", "fails": True}, {"rule": "b", "fails": False}]})
('caught', ['a'], '')
>>> classify(0, None)
('missed', [], '')
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from jobcheck.conformance.mutation.process import Finished, run_group, tail

CAUGHT = "caught"
TARGET_FAILURE = "target failure"
MISSED = "missed"
TIMEOUT = "timeout"
BUILD_FAILURE = "build failure"
ERROR = "error"
#: Every verdict, in the order the tables list them.
VERDICTS = (CAUGHT, TARGET_FAILURE, MISSED, TIMEOUT, BUILD_FAILURE, ERROR)


def campaign_argv(binary: Path, *, seed: int, json_path: Path, baseline: Path | None) -> list[str]:
    """The command line of one campaign."""
    argv = [sys.executable, "-m", "jobcheck.conformance.cli", "run", "--qemu", str(binary)]
    argv += ["--seed", str(seed), "--no-report", f"--json={json_path}"]
    if baseline is not None:
        argv += ["--strict", "--baseline", str(baseline)]
    return argv


def failing_rules(report: dict[str, Any]) -> list[str]:
    """The rule ids of the divergences that failed the run, in report order, without repeats."""
    rules: list[str] = []
    for divergence in report.get("divergences") or []:
        if isinstance(divergence, dict) and divergence.get("fails"):
            rule = str(divergence.get("rule"))
            if rule not in rules:
                rules.append(rule)
    return rules


def _message(report: dict[str, Any] | None) -> str:
    if not report:
        return ""
    outcome = report.get("outcome") or {}
    for key in ("error", "crash"):
        if outcome.get(key):
            return str(outcome[key])
    failure = outcome.get("failure") or {}
    return str(failure.get("message") or "")


def classify(exit_code: int, report: dict[str, Any] | None) -> tuple[str, list[str], str]:
    """The verdict, the failing rules and a one-line note, from a campaign's exit code and JSON."""
    if exit_code == 0:
        return MISSED, [], ""
    if exit_code == 1:
        return CAUGHT, failing_rules(report or {}), _message(report)
    if exit_code == 3:
        return TARGET_FAILURE, [], _message(report)
    return ERROR, [], _message(report) or f"exit {exit_code}"


def read_report(path: Path) -> dict[str, Any] | None:
    """The campaign's JSON, or None when it wrote none (or none that parses)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run_campaign(
    binary: Path, *, seed: int, baseline: Path | None, workdir: Path, limit: float | None
) -> tuple[Finished, str, list[str], str]:
    """Run one campaign; returns how it ended, the verdict, the failing rules and a note."""
    json_path = workdir / "campaign.json"
    json_path.unlink(missing_ok=True)
    argv = campaign_argv(binary, seed=seed, json_path=json_path, baseline=baseline)
    finished = run_group(argv, log=workdir / "campaign.log", limit=limit)
    if finished.timed_out:
        note = f"stopped after {finished.seconds:.0f} s"
        return finished, TIMEOUT, [], note
    verdict, rules, note = classify(finished.exit_code, read_report(json_path))
    if verdict in (TARGET_FAILURE, ERROR) and not note:
        note = tail(finished.log, 1)
    return finished, verdict, rules, note
