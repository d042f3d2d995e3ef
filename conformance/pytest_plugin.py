"""The conformance campaign as pytest tests, for CI: ``pytest --jobcheck-target qemu``.

Installed with jobcheck (entry point ``pytest11: jobcheck``), this plugin does
nothing unless one of ``--jobcheck-target``, ``--jobcheck-qemu`` or
``--jobcheck-connect`` is given; so it never touches other test suites.  With
one of them, the session gets these test items (no test file needed)::

    jobcheck::campaign            the campaign itself: fails if QEMU crashed or the
                                  campaign failed without a divergence
    jobcheck::RULE                one per rule of the model version: fails on a new
                                  divergence (or a known one with --jobcheck-strict),
                                  with the minimal failing run's steps; skipped when
                                  only known or baselined ones occurred, when no
                                  check enforces the rule, or when the run never
                                  exercised it
    jobcheck::baseline            fails with --jobcheck-strict when baseline entries
                                  are stale (covered, not reproduced)

Given no path, pytest collects only these (not the tests of the directory it
runs in); given paths, it collects those too.  The node ids are always the
ones above.  The campaign runs once, when the first of these items runs;
pytest's own output, ``-k``, ``--deselect``, ``--junitxml`` and exit status
work as for any test.  The reports go to ``--jobcheck-report DIR``, else to
a ``jobcheck`` directory under pytest's temporary directory (never into the
current directory unless asked); the summary says where.  Typical use in CI::

    pytest --jobcheck-qemu qemu-storage-daemon \\
        --jobcheck-baseline reports/baselines/qemu-7.2.json \\
        --jobcheck-report reports/ci --junitxml reports/ci/pytest.xml

Options: ``--jobcheck-target sim|qemu``, ``--jobcheck-qemu BIN``,
``--jobcheck-connect SOCK``, ``--jobcheck-model V``, ``--jobcheck-sim-mutant NAME``,
``--jobcheck-seed N``, ``--jobcheck-profile ci|thorough``,
``--jobcheck-examples N``, ``--jobcheck-steps N``, ``--jobcheck-timeout S``,
``--jobcheck-baseline FILE``, ``--jobcheck-strict``, ``--jobcheck-report DIR``.
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from jobcheck.conformance.errors import JobcheckError

_KEY = pytest.StashKey["_Campaign"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jobcheck", "jobcheck conformance campaign")
    group.addoption("--jobcheck-target", choices=["sim", "qemu"], help="run the campaign here")
    group.addoption("--jobcheck-qemu", metavar="BIN", help="QEMU binary to launch (implies qemu)")
    group.addoption("--jobcheck-connect", metavar="SOCK", help="attach to a running QEMU")
    group.addoption("--jobcheck-model", metavar="V", help="model version (default: the target's)")
    group.addoption("--jobcheck-sim-mutant", metavar="NAME", help="mutated simulator")
    group.addoption("--jobcheck-seed", type=int, default=0, metavar="N", help="seed (default 0)")
    group.addoption("--jobcheck-profile", choices=["ci", "thorough"], default="ci")
    group.addoption("--jobcheck-examples", type=int, metavar="N", help="Hypothesis examples")
    group.addoption("--jobcheck-steps", type=int, metavar="N", help="steps per example")
    group.addoption("--jobcheck-timeout", type=float, default=10.0, metavar="S")
    group.addoption("--jobcheck-baseline", metavar="FILE", help="known divergences")
    group.addoption("--jobcheck-strict", action="store_true", help="known divergences fail too")
    group.addoption(
        "--jobcheck-report",
        metavar="DIR",
        help="write the reports to DIR (default: under pytest's temporary directory)",
    )


def enabled(config: pytest.Config) -> bool:
    """Whether the plugin was asked to run a campaign."""
    return any(
        config.getoption(name)
        for name in ("--jobcheck-target", "--jobcheck-qemu", "--jobcheck-connect")
    )


@dataclass
class _Campaign:
    """The campaign of this pytest session: options, then (once run) its outcome."""

    args: argparse.Namespace
    chosen: Any
    """The target as the options chose it."""
    choice: Any
    """The same, with the model resolved."""
    model: str
    qemu_version: str
    scratch: Callable[[], Path]
    """Where the reports go without ``--jobcheck-report``."""
    outcome: Any = None
    error: str | None = None

    def run(self) -> Any:
        if self.outcome is None and self.error is None:
            try:
                self.outcome = _execute(self)
            except JobcheckError as exc:
                self.error = str(exc)
        if self.error is not None:
            pytest.fail(f"jobcheck campaign did not run: {self.error}", pytrace=False)
        return self.outcome


def _namespace(config: pytest.Config) -> argparse.Namespace:
    opt = config.getoption
    return argparse.Namespace(
        target=opt("--jobcheck-target") or "qemu",
        qemu=opt("--jobcheck-qemu"),
        connect=opt("--jobcheck-connect"),
        model=opt("--jobcheck-model"),
        sim_mutant=opt("--jobcheck-sim-mutant"),
        seed=opt("--jobcheck-seed"),
        profile=opt("--jobcheck-profile"),
        examples=opt("--jobcheck-examples"),
        steps=opt("--jobcheck-steps"),
        timeout=opt("--jobcheck-timeout"),
        baseline=opt("--jobcheck-baseline"),
        strict=opt("--jobcheck-strict"),
        report=opt("--jobcheck-report"),
    )


def _command(args: argparse.Namespace) -> str:
    """The ``jobcheck run`` command line that runs the same campaign."""
    words = ["jobcheck", "run", "--target", args.target]
    for flag, value in (
        ("--qemu", args.qemu),
        ("--connect", args.connect),
        ("--model", args.model),
        ("--sim-mutant", args.sim_mutant),
        ("--seed", args.seed),
        ("--profile", args.profile),
        ("--examples", args.examples),
        ("--steps", args.steps),
        ("--baseline", args.baseline),
    ):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join(words + (["--strict"] if args.strict else []))


def _prepare(config: pytest.Config) -> _Campaign:
    # lazy: the plugin is loaded into every pytest session that has jobcheck installed
    from jobcheck.conformance.campaign.parallel import probe
    from jobcheck.conformance.targets.select import target_from_options

    args = _namespace(config)
    chosen = target_from_options(args)
    qemu_version, model = probe(chosen)
    choice = chosen if chosen.model else replace(chosen, model=model.version)
    return _Campaign(args, chosen, choice, model.version, qemu_version, lambda: _scratch(config))


def _scratch(config: pytest.Config) -> Path:
    """``jobcheck/`` under pytest's temporary directory (which pytest prunes in time)."""
    factory = getattr(config, "_tmp_path_factory", None)  # set by pytest's tmp_path plugin
    if isinstance(factory, pytest.TempPathFactory):
        return factory.mktemp("jobcheck", numbered=True)
    return Path(tempfile.mkdtemp(prefix="jobcheck-reports-"))


def _execute(campaign: _Campaign) -> Any:
    # lazy: the plugin is loaded into every pytest session that has jobcheck installed
    from jobcheck.conformance.campaign.coverage import coverage_summary
    from jobcheck.conformance.campaign.parallel import RunInfo
    from jobcheck.conformance.campaign.run import PROFILES, run_campaign
    from jobcheck.conformance.commands.options import model_line
    from jobcheck.conformance.report import write as report
    from jobcheck.conformance.report.baseline import Acceptor, load_baseline
    from jobcheck.conformance.targets.qemu_package import debian_package
    from jobcheck.model.lifecycle import model_for

    args, choice = campaign.args, campaign.choice
    model = model_for(campaign.model)
    profile = PROFILES[args.profile]
    examples = args.examples if args.examples is not None else profile["examples"]
    steps = args.steps if args.steps is not None else profile["steps"]
    baseline = load_baseline(args.baseline) if args.baseline else None
    started = time.monotonic()
    with choice.targets() as targets:
        result = run_campaign(
            targets.make,
            model,
            seed=args.seed,
            profile=args.profile,
            examples=examples,
            steps=steps,
            accept=Acceptor(baseline, campaign.qemu_version, args.strict),
            meta_extra={"target": choice.describe()},
        )
    result.seconds = time.monotonic() - started
    info = RunInfo.of(
        campaign.chosen,
        qemu_version=campaign.qemu_version,
        model=campaign.model,
        seed=args.seed,
        profile=args.profile,
        examples=examples,
        steps=steps,
        jobs=1,
        command=_command(args),
        package=debian_package(choice.binary),
        model_choice=model_line(campaign.chosen.model or campaign.qemu_version)[1],
    )
    summary = coverage_summary(result.coverage, model)
    directory = Path(args.report) if args.report else campaign.scratch()
    outcome = report.build(info, result, summary, args.baseline, args.strict, directory=directory)
    report.write_all(outcome, directory)
    return outcome


class JobcheckCollector(pytest.Collector):
    """The virtual ``jobcheck`` collector that holds the campaign's items."""

    def collect(self) -> Iterator[pytest.Item]:
        return iter(())


class _Item(pytest.Item):
    """An item of the campaign, at no line of any file.

    Its location has no *domain*: pytest would show the dots of a rule id as ``::``
    (``jobcheck::status::transition-table``), unlike the node id everywhere else.
    """

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "jobcheck", None, ""


class CampaignItem(_Item):
    """Runs the campaign; fails on a crash or a campaign error."""

    def runtest(self) -> None:
        outcome = self.config.stash[_KEY].run()
        doc = outcome.document
        if doc["outcome"]["crash"]:
            pytest.fail(f"QEMU crashed: {doc['outcome']['crash']}", pytrace=False)
        if doc["outcome"]["error"]:
            pytest.fail(f"the campaign failed: {doc['outcome']['error']}", pytrace=False)


class RuleItem(_Item):
    """One rule: passes, fails on a failing divergence, skips when only accepted ones."""

    def __init__(self, *, rule: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule

    def runtest(self) -> None:
        from jobcheck.conformance.report.junit import details, undecided  # lazy, as above

        outcome = self.config.stash[_KEY].run()
        doc = outcome.document
        mine = [e for e in doc["divergences"] if e["rule"] == self.rule]
        failing = [e for e in mine if e["fails"]]
        if failing:
            text = "\n\n".join(details(e, doc) for e in failing)
            pytest.fail(f"{len(failing)} divergence(s) from {self.rule}:\n{text}", pytrace=False)
        if mine:
            reasons = "; ".join(f"{e['status']}: {e['reason']}" for e in mine)
            raise pytest.skip.Exception(reasons)
        from jobcheck.conformance.report.document import NOT_EXERCISED, NOT_EXERCISED_TEXT

        verdict = next(r for r in outcome.document["rules"] if r["id"] == self.rule)
        if verdict["result"] == "unchecked":
            raise pytest.skip.Exception(verdict["unchecked"])
        if verdict["result"] == "indeterminate":
            raise pytest.skip.Exception(undecided(outcome.document, verdict))
        if verdict["result"] == NOT_EXERCISED:
            raise pytest.skip.Exception(NOT_EXERCISED_TEXT)


class BaselineItem(_Item):
    """Stale baseline entries: fail with --jobcheck-strict, warn otherwise."""

    def runtest(self) -> None:
        outcome = self.config.stash[_KEY].run()
        baseline = outcome.document["baseline"]
        stale = baseline["stale"] if baseline else []
        if not stale:
            return
        names = ", ".join(
            s["rule"] + (f" ({s['job_type']})" if s["job_type"] else "") for s in stale
        )
        message = f"stale baseline entries (covered, not reproduced: fixed? remove them): {names}"
        if any(s["fails"] for s in stale):
            pytest.fail(message, pytrace=False)
        self.warn(pytest.PytestWarning(message))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A skipped campaign item is reported at its node id, not at a line of this file."""
    report = yield
    if isinstance(item, _Item) and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (item.nodeid, None, report.longrepr[2])
    return report


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Given no path, a jobcheck session collects only the campaign's items."""
    if enabled(config) and config.args_source is not pytest.Config.ArgsSource.ARGS:
        return True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the campaign's items (first, so that ``-k`` and ``-m`` select among them too)."""
    if not enabled(config):
        return
    from jobcheck.model.rules import rules_for  # lazy, as above

    try:
        campaign = _prepare(config)
    except JobcheckError as exc:
        raise pytest.UsageError(f"jobcheck: {exc}") from None
    config.stash[_KEY] = campaign
    parent = JobcheckCollector.from_parent(session, name="jobcheck", nodeid="jobcheck")
    ours: list[pytest.Item] = [CampaignItem.from_parent(parent, name="campaign")]
    ours += [RuleItem.from_parent(parent, name=r.id, rule=r.id) for r in rules_for(campaign.model)]
    if campaign.args.baseline:
        ours.append(BaselineItem.from_parent(parent, name="baseline"))
    # Reported as collected, so that pytest counts them ("collected 43 items").
    session.ihook.pytest_collectreport(
        report=pytest.CollectReport(parent.nodeid, "passed", None, list(ours))
    )
    items[:0] = ours


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The campaign's plain summary and where its reports are."""
    if not enabled(config) or _KEY not in config.stash:
        return
    campaign = config.stash[_KEY]
    if campaign.outcome is None:
        return
    from jobcheck.conformance.report.write import summary_lines  # lazy, as above

    terminalreporter.section("jobcheck")
    for line in summary_lines(campaign.outcome):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"reports: {campaign.outcome.document['run']['directory']}/")
