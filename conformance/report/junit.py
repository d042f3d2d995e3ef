"""The JUnit XML report (the xunit2 flavour pytest writes), for CI test dashboards.

One ``<testcase>`` per rule of the model version, and per divergence: a rule
with no divergence is a passing test case if the run exercised it, and a
skipped one if it did not (``not-exercised``) or if no check enforces it
(``unchecked``); each divergence is a test case
named ``RULE[dNN]`` that *fails* when the divergence fails the run (a new one,
or a known one under ``--strict``) and is *skipped* with its reason when it is
accepted (known or baselined).  A stale baseline entry is a test case
``baseline[RULE]``: failing under ``--strict``, passing (with the reason in
``system-out``) otherwise.  A campaign that failed without a divergence, or a
QEMU crash without one, is an ``<error>``.  A rule whose eventual checks were
not all decided (result ``indeterminate``) is *skipped*, with why.

So ``tests``, ``failures`` and ``skipped`` follow from the document's counts:
tests = rules passed, unchecked, indeterminate or not exercised + divergences +
stale entries (+ 1 error), failures = failing divergences (+ stale entries under
``--strict``), skipped = accepted divergences + rules unchecked, indeterminate
or not exercised.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from jobcheck.conformance.report.document import NOT_EXERCISED, NOT_EXERCISED_TEXT


def expected_counts(document: dict[str, Any]) -> dict[str, int]:
    """The ``tests``/``failures``/``errors``/``skipped`` the JUnit file must show."""
    counts = document["counts"]
    stale = document["baseline"]["stale"] if document["baseline"] else []
    stale_failing = sum(1 for s in stale if s["fails"])
    undecided = counts.get("rules_indeterminate", 0)
    return {
        "tests": counts["rules_passed"]
        + counts["rules_unchecked"]
        + undecided
        + counts["rules_not_exercised"]
        + counts["divergences"]
        + len(stale)
        + counts["errors"],
        "failures": counts["failing"] + stale_failing,
        "errors": counts["errors"],
        "skipped": counts["accepted"]
        + counts["rules_unchecked"]
        + undecided
        + counts["rules_not_exercised"],
    }


def details(e: dict[str, Any], document: dict[str, Any] | None = None) -> str:
    """A divergence of the report document in readable lines; a failing one with the steps
    of the minimal failing run (from ``document``)."""
    lines = [
        f"rule: {e['rule']} ({e['anchor'] or 'undocumented'})",
        f"documented: {e['quote'] or e['paraphrase'] or '-'}",
        f"job type: {e['job_type'] or 'unknown'}",
        f"expected: {e['expected']}",
        f"observed: {e['observed']}",
        f"occurrences: {e['occurrences']}",
    ]
    failure = document["outcome"]["failure"] if document is not None else None
    if e["fails"] and failure and failure["steps"]:
        steps = failure["steps"]
        seed = document["run"]["seed"] if document is not None else "?"
        lines.append(f"minimal failing run ({len(steps)} steps, seed {seed}):")
        lines += [f"  {number:3d}. {step}" for number, step in enumerate(steps, start=1)]
    if e["trace"]:
        lines.append(f"trace: {e['trace']['file']} line {e['trace']['line']}")
        lines.append(f"reproduce: {e['repro']}")
    else:
        lines.append(f"reproduce: {e['rerun']}")
    return "\n".join(lines)


def undecided(document: dict[str, Any], rule: dict[str, Any]) -> str:
    """Why a rule's result is indeterminate, in one line."""
    waits = rule.get("eventual") or {}
    first = next((u for u in document.get("indeterminate") or [] if u["rule"] == rule["id"]), None)
    text = (
        f"indeterminate: {waits.get('indeterminate', 0)} of {sum(waits.values())} eventual"
        " checks too slow to decide"
    )
    return f"{text} (e.g. {first['message']})" if first else text


def render(document: dict[str, Any]) -> str:
    """The JUnit XML text."""
    counts = expected_counts(document)
    run, target = document["run"], document["target"]
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": "jobcheck",
            "tests": str(counts["tests"]),
            "failures": str(counts["failures"]),
            "errors": str(counts["errors"]),
            "skipped": str(counts["skipped"]),
            "time": f"{run['seconds']:.3f}",
            "timestamp": run["finished"],
        },
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run", run["name"]),
        ("target", target["description"]),
        ("qemu_version", target["qemu_version"]),
        ("model", document["model"]["version"]),
        ("seed", str(run["seed"])),
        ("profile", run["profile"]),
    ):
        ET.SubElement(props, "property", {"name": name, "value": str(value)})
    by_id = {e["id"]: e for e in document["divergences"]}
    for rule in document["rules"]:
        classname = f"jobcheck.{rule['category'] or 'rule'}"
        if not rule["divergences"]:
            attrs = {"classname": classname, "name": rule["id"], "time": "0"}
            case = ET.SubElement(suite, "testcase", attrs)
            if rule["result"] == "unchecked":
                ET.SubElement(case, "skipped", {"message": rule["unchecked"], "type": "unchecked"})
            elif rule["result"] == "indeterminate":
                ET.SubElement(
                    case, "skipped", {"message": undecided(document, rule), "type": "indeterminate"}
                )
            elif rule["result"] == NOT_EXERCISED:
                attrs = {"message": NOT_EXERCISED_TEXT, "type": NOT_EXERCISED}
                ET.SubElement(case, "skipped", attrs)
            continue
        for did in rule["divergences"]:
            e = by_id[did]
            case = ET.SubElement(
                suite,
                "testcase",
                {"classname": classname, "name": f"{rule['id']}[{did}]", "time": "0"},
            )
            if e["fails"]:
                failure = ET.SubElement(
                    case, "failure", {"message": e["message"], "type": f"divergence.{e['status']}"}
                )
                failure.text = details(e, document)
            else:
                reason = f"{e['status']}: {e['reason']}"
                ET.SubElement(case, "skipped", {"message": reason, "type": e["status"]})
    for entry in document["baseline"]["stale"] if document["baseline"] else []:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": "jobcheck.baseline", "name": f"baseline[{entry['rule']}]", "time": "0"},
        )
        text = "covered but not reproduced: fixed? remove it from the baseline"
        if entry["fails"]:
            ET.SubElement(case, "failure", {"message": text, "type": "baseline.stale"})
        else:
            ET.SubElement(case, "system-out").text = text
    error = document["outcome"]["error"]
    if error:
        attrs = {"classname": "jobcheck.campaign", "name": "campaign", "time": "0"}
        case = ET.SubElement(suite, "testcase", attrs)
        ET.SubElement(case, "error", {"message": error, "type": "campaign"}).text = "\n".join(
            (document["outcome"]["failure"] or {}).get("steps", [])
        )
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"
