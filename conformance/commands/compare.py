"""``jobcheck compare``: what differs between what two QEMU builds did.

Live, on two builds (any two of ``--qemu BIN``, ``--qemu-build DIR`` and
``--sim V[:MUTANT]``, in the order given: the first is A)::

    jobcheck compare --qemu /usr/bin/qemu-storage-daemon --qemu-build ~/qemu/build

runs the same planned tour and the same Hypothesis steps on both
(:mod:`jobcheck.conformance.campaign.paired`), writes each run's full report
(``DIR/a/``, ``DIR/b/``) and the comparison (``DIR/compare.{json,md,html}``,
``DIR/compare.dot``).  Offline, from two saved runs::

    jobcheck compare reports/run-a/report.json reports/run-b/

does the same comparison from the two ``report.json`` files (a directory
stands for the ``report.json`` in it), writing files only with ``--out``.
What is compared, and why timing never shows as a difference, is in
:mod:`jobcheck.conformance.campaign.compare`.

``--json`` prints the comparison as JSON instead of text; ``--json=FILE``
writes it to FILE.  Exit codes: 0 no difference, 1 some difference, 2 usage
or input error, 3 a target failed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobcheck.conformance.campaign.compare import Comparison, Side, compare
from jobcheck.conformance.campaign.coverage import coverage_summary
from jobcheck.conformance.campaign.paired import exploration_steps, run_side
from jobcheck.conformance.campaign.parallel import RunInfo, probe
from jobcheck.conformance.campaign.results import CampaignResult
from jobcheck.conformance.campaign.run import PROFILES
from jobcheck.conformance.commands.documents import emit, load_reports
from jobcheck.conformance.commands.options import add_json_option
from jobcheck.conformance.errors import UsageError, model_for_option
from jobcheck.conformance.report import write as report
from jobcheck.conformance.report.compare_diagram import diff_dot
from jobcheck.conformance.report.compare_pages import (
    render_html,
    render_markdown,
    summary_lines,
)
from jobcheck.conformance.report.diagram_files import dot_program, render_image
from jobcheck.conformance.targets.qemu_package import debian_package
from jobcheck.conformance.targets.select import TargetChoice, choose_target
from jobcheck.model.lifecycle import Model, model_choice

HELP = "compare what two QEMU builds (or two saved runs) did: same steps, differences classified"
EXAMPLES = """\
  # Debian's QEMU against QEMU 10.0.2 (from .ci/setup), on the same steps
  jobcheck compare --qemu qemu-storage-daemon \\
                   --qemu .qemu/10.0/usr/bin/qemu-storage-daemon
  # a build tree against master's, reports under cmp/
  jobcheck compare --qemu-build ~/qemu/build --qemu-build ~/master/build \\
                   --out cmp
  # two saved runs, without running anything
  jobcheck compare reports/reference/qemu-7.2 reports/reference/qemu-10.0
"""

LABELS = ("A", "B")


class _AddSide(argparse.Action):
    """Appends ``(option, value)`` to ``sides``, so the order of the options is kept."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        sides = list(getattr(namespace, "sides", None) or [])
        sides.append((self.dest, str(values)))
        namespace.sides = sides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "reports",
        nargs="*",
        metavar="REPORT",
        help="two saved runs: report.json files or the directories holding them",
    )
    sides = parser.add_argument_group("builds (two of them, the first is A)")
    sides.add_argument("--qemu", metavar="BIN", action=_AddSide, help="a QEMU binary to launch")
    sides.add_argument(
        "--qemu-build", metavar="DIR", action=_AddSide, help="a QEMU build directory"
    )
    sides.add_argument(
        "--sim", metavar="V[:MUTANT]", action=_AddSide, help="the simulator of QEMU V"
    )
    sides.add_argument("--model", metavar="V", help="one model for both (default: each its own)")
    sides.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="seconds per command (default 10)"
    )
    camp = parser.add_argument_group("campaign (the same on both)")
    camp.add_argument("--seed", type=int, default=0, help="seed of the exploration (default 0)")
    camp.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="ci",
        help="how much to explore: ci (30 examples), thorough (500) or bisect (10); default ci",
    )
    camp.add_argument("--examples", type=int, metavar="N", help="Hypothesis examples")
    camp.add_argument("--steps", type=int, metavar="N", help="steps per example")
    camp.add_argument("--no-tour", action="store_true", help="skip the planned tour")
    out = parser.add_argument_group("output")
    out.add_argument(
        "--out", metavar="DIR", help="where to write (live default: reports/compare-<time>/)"
    )
    out.add_argument("--no-report", action="store_true", help="write no report directory")
    add_json_option(out, "the comparison")
    parser.set_defaults(sides=[])


def run(args: argparse.Namespace) -> int:
    if args.reports and args.sides:
        raise UsageError("compare either two saved reports or two builds, not both")
    if args.reports:
        if len(args.reports) != 2:
            raise UsageError(f"give two reports to compare, not {len(args.reports)}")
        documents = [document for _, document in load_reports(args.reports)]
        sides = [Side.from_document(d, label) for d, label in zip(documents, LABELS, strict=True)]
        comparison = compare(*sides)
        directory = Path(args.out) if args.out and not args.no_report else None
        return _finish(comparison, args, directory, links=None)
    if len(args.sides) != 2:
        raise UsageError(
            "give two builds to compare (--qemu BIN, --qemu-build DIR or --sim V, twice),"
            " or two saved reports"
        )
    return _live(args)


def _choice(option: str, value: str, args: argparse.Namespace) -> TargetChoice:
    if option == "sim":
        version, _, mutant = value.partition(":")
        model_for_option(version)
        return choose_target("sim", model=version, mutant=mutant or None)
    return choose_target(
        "qemu",
        qemu=value if option == "qemu" else None,
        build=value if option == "qemu_build" else None,
        model=args.model,
        timeout=args.timeout,
    )


def _live(args: argparse.Namespace) -> int:
    profile = PROFILES[args.profile]
    examples = args.examples if args.examples is not None else profile["examples"]
    steps = args.steps if args.steps is not None else profile["steps"]
    if examples < 0 or steps < 1:
        raise UsageError("--examples must be ≥ 0 and --steps ≥ 1")
    choices = [_choice(option, value, args) for option, value in args.sides]
    probed: list[tuple[TargetChoice, str, Model]] = []
    for label, choice in zip(LABELS, choices, strict=True):
        version, model = probe(choice)
        why = choice.model_reason or (
            model_choice(version)[1] if choice.model is None else f"model {model.version}"
        )
        print(f"jobcheck compare: {label}: {choice.describe()}; {why}", file=sys.stderr)
        probed.append((choice, version, model))
    explore_model = max((m for _, _, m in probed), key=lambda m: m.release)
    explore = exploration_steps(explore_model, seed=args.seed, examples=examples, steps=steps)
    print(
        f"jobcheck compare: {len(explore)} examples ({sum(map(len, explore))} steps) drawn"
        f" with seed {args.seed} on the simulator of QEMU {explore_model.version}",
        file=sys.stderr,
    )
    when = datetime.now(UTC)
    directory = None
    if not args.no_report:
        default = Path("reports") / f"compare-seed{args.seed}-{when.strftime('%Y%m%dT%H%M%SZ')}"
        directory = Path(args.out) if args.out else default
    outcomes = []
    for label, (choice, version, model) in zip(LABELS, probed, strict=True):
        with choice.targets() as targets:
            result = run_side(
                targets.make,
                model,
                explore,
                seed=args.seed,
                tour=not args.no_tour,
                meta_extra={"target": choice.describe(), "profile": args.profile, "compare": label},
            )
        print(
            f"jobcheck compare: {label}: {result.steps} steps in {result.seconds:.1f} s"
            + (f"; QEMU crashed: {result.crash}" if result.crash else ""),
            file=sys.stderr,
        )
        outcomes.append(
            _side_report(label, choice, version, model, result, args, examples, steps, directory)
        )
    sides = [
        Side.from_document(o.document, label) for o, label in zip(outcomes, LABELS, strict=True)
    ]
    links = None
    if directory is not None:
        links = {}
        for outcome, label in zip(outcomes, LABELS, strict=True):
            report.write_all(outcome, directory / label.lower())
            links[f"{label}: report.html"] = f"{label.lower()}/report.html"
    return _finish(compare(*sides), args, directory, links)


def _side_report(
    label: str,
    choice: TargetChoice,
    version: str,
    model: Model,
    result: CampaignResult,
    args: argparse.Namespace,
    examples: int,
    steps: int,
    directory: Path | None,
) -> report.Outcome:
    info = RunInfo.of(
        choice,
        qemu_version=version,
        model=model.version,
        seed=args.seed,
        profile=args.profile,
        examples=examples,
        steps=steps,
        jobs=1,
        command=" ".join(["jobcheck", *sys.argv[1:]]) if sys.argv else "jobcheck compare",
        package=debian_package(choice.binary),
    )
    summary = coverage_summary(result.coverage, model)
    where = directory / label.lower() if directory is not None else None
    return report.build(info, result, summary, baseline_path=None, strict=False, directory=where)


def _finish(
    comparison: Comparison,
    args: argparse.Namespace,
    directory: Path | None,
    links: dict[str, str] | None,
) -> int:
    document = comparison.to_json()
    emit(document, summary_lines(document), args.json)
    if directory is not None:
        write_comparison(document, directory, links)
        print(f"reports: {directory}/", file=sys.stderr if args.json == "-" else sys.stdout)
    return comparison.exit_code


def write_comparison(
    document: dict[str, Any], directory: Path, links: dict[str, str] | None = None
) -> list[Path]:
    """Write ``compare.json``, ``compare.md``, ``compare.html`` and ``compare.dot``."""
    dot = diff_dot(document)
    svg = render_image(dot, "svg").decode("utf-8") if dot_program() else None
    texts = {
        "compare.json": report.document_json(document),
        "compare.md": render_markdown(document, links),
        "compare.html": render_html(document, svg, links),
        "compare.dot": dot,
    }
    for name, text in texts.items():
        report.write_text(directory / name, text)
    return [directory / name for name in texts]
