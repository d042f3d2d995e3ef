"""The mutation run: the pristine build and campaign, then each mutant planted, rebuilt, checked.

Order of work:

1. obtain the tree (:mod:`.source`) and take out any mutant a killed run left
   behind (:meth:`~jobcheck.conformance.mutation.planting.SourceTree.recover`);
   refuse the mutants whose edits do not apply exactly once;
2. configure (unless a build directory exists) and build
   ``qemu-storage-daemon``;
3. run a campaign on the pristine build: it must pass, and its wall time times
   ``limit_factor`` is every mutant's limit;
4. for each mutant: plant it, rebuild incrementally, run a campaign, record
   the verdict, restore the pristine file (always — see :mod:`.planting`),
   and rewrite the results (so an interrupted run keeps what it measured);
5. rebuild the pristine binary.

The campaigns' logs and JSON stay in ``BUILD/jobcheck-mutation/runs/``.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from jobcheck.conformance.errors import UsageError
from jobcheck.conformance.mutation.build import Build, binary_version
from jobcheck.conformance.mutation.campaign import (
    BUILD_FAILURE,
    MISSED,
    run_campaign,
)
from jobcheck.conformance.mutation.catalogue import CATALOGUE, Mutant
from jobcheck.conformance.mutation.interrupts import signals_raise
from jobcheck.conformance.mutation.planting import PlantError, SourceTree
from jobcheck.conformance.mutation.process import tail
from jobcheck.conformance.mutation.results import MutantResult, RunInfo, totals, write
from jobcheck.conformance.mutation.source import default_cache, obtain

#: A campaign on the pristine build that runs longer than this is stopped (it should take ~30 s).
PRISTINE_LIMIT = 900.0


@dataclass
class Options:
    """What the command line asked for."""

    source: Path | None = None
    cache: Path = field(default_factory=default_cache)
    build_dir: Path | None = None
    jobs: int = 2
    seed: int = 1
    baseline: Path | None = None
    out: Path | None = None
    mutants: Sequence[str] = ()
    limit_factor: float = 3.0
    command: str = ""


def select(ids: Sequence[str], catalogue: Sequence[Mutant] = CATALOGUE) -> list[Mutant]:
    """The mutants named (all when none is), in catalogue order; UsageError for an unknown id."""
    known = {mutant.id for mutant in catalogue}
    unknown = [mutant_id for mutant_id in ids if mutant_id not in known]
    if unknown:
        raise UsageError(f"unknown mutant {', '.join(unknown)} (see --list)")
    return [mutant for mutant in catalogue if not ids or mutant.id in ids]


def default_baseline(version: str) -> Path | None:
    """``reports/baselines/qemu-MAJOR.MINOR.json`` when it exists, else None."""
    major_minor = ".".join(version.split(".")[:2])
    path = Path("reports") / "baselines" / f"qemu-{major_minor}.json"
    return path if path.is_file() else None


def _say(stream: TextIO, text: str) -> None:
    print(text, file=stream, flush=True)


def run(options: Options, out: TextIO = sys.stdout) -> int:
    """Measure every selected mutant; the exit code (0 done, 1 the pristine build fails)."""
    with signals_raise():
        return _run(options, out)


def _run(options: Options, out: TextIO) -> int:
    tree = obtain(options.cache, options.source)
    build = Build(
        tree=tree,
        directory=(options.build_dir or tree / "build").resolve(),
        venv=options.cache / "venv",
        jobs=options.jobs,
    )
    sources = SourceTree(tree, build.logs / "state")
    for line in sources.recover():
        _say(out, line)
    mutants = []
    refused = []
    for mutant in select(options.mutants):
        try:
            sources.check(mutant)
            mutants.append(mutant)
        except PlantError as exc:
            refused.append(f"refused {mutant.id}: {exc}")
            _say(out, refused[-1])
    if not mutants:
        raise UsageError("no mutant applies to this tree")

    _say(out, f"tree {tree}; building {build.binary.relative_to(build.directory)}")
    build.prepare()
    built = build.make()
    if built.exit_code != 0:
        raise UsageError(f"the pristine build failed ({built.log}): {tail(built.log, 2)}")
    version = binary_version(build.binary)
    baseline = options.baseline or default_baseline(version)
    notes = list(refused)
    if baseline is None:
        notes.append(
            f"no baseline for QEMU {version} yet: campaigns without --strict (known divergences"
            " do not fail)"
        )

    runs = build.logs / "runs"
    _say(out, f"QEMU {version}: campaign on the pristine build (seed {options.seed})")
    finished, verdict, rules, note = run_campaign(
        build.binary,
        seed=options.seed,
        baseline=baseline,
        workdir=runs / "pristine",
        limit=PRISTINE_LIMIT,
    )
    if verdict != MISSED:
        _say(out, f"the pristine build does not pass: {verdict} {' '.join(rules)} {note}".rstrip())
        return 1
    limit = options.limit_factor * finished.seconds
    info = RunInfo(
        qemu_version=version,
        binary=_shown(build.binary, tree),
        seed=options.seed,
        baseline=str(baseline) if baseline else None,
        pristine_seconds=round(finished.seconds, 1),
        limit_seconds=round(limit, 1),
        command=options.command,
        notes=notes,
    )
    _say(out, f"pristine: passed in {finished.seconds:.1f} s; limit per mutant {limit:.0f} s")
    stem = options.out or Path("reports") / "mutants" / f"qemu-{version}"

    results: list[MutantResult] = []
    for number, mutant in enumerate(mutants, 1):
        result = _measure(mutant, sources, build, options, baseline, limit, runs)
        results.append(result)
        write(stem, info, results)
        rules_text = f" ({', '.join(result.rules)})" if result.rules else ""
        _say(
            out,
            f"[{number}/{len(mutants)}] {mutant.id}: {result.verdict}{rules_text}; build "
            f"{result.build_seconds:.1f} s, campaign {result.campaign_seconds:.1f} s",
        )
    rebuilt = build.make()
    if rebuilt.exit_code != 0:
        _say(out, f"rebuilding the pristine binary failed: {tail(rebuilt.log, 1)}")
    md, js = write(stem, info, results)
    summary = ", ".join(f"{n} {verdict}" for verdict, n in totals(results).items() if n)
    count = f"{len(results)} mutant{'s' if len(results) != 1 else ''}"
    _say(out, f"{count}: {summary}; table {md}, JSON {js}")
    return 0


def _measure(
    mutant: Mutant,
    sources: SourceTree,
    build: Build,
    options: Options,
    baseline: Path | None,
    limit: float,
    runs: Path,
) -> MutantResult:
    diff = sources.check(mutant)
    exit_code: int | None = None
    campaign_seconds = 0.0
    rules: list[str] = []
    with sources.planted(mutant):
        started = time.monotonic()
        built = build.make()
        build_seconds = time.monotonic() - started
        if built.exit_code != 0:
            verdict, note = BUILD_FAILURE, tail(built.log, 2)
        else:
            finished, verdict, rules, note = run_campaign(
                build.binary,
                seed=options.seed,
                baseline=baseline,
                workdir=runs / mutant.id,
                limit=limit,
            )
            exit_code = None if finished.timed_out else finished.exit_code
            campaign_seconds = finished.seconds
    return MutantResult(
        id=mutant.id,
        file=mutant.file,
        function=mutant.function,
        category=mutant.category,
        mistake=mutant.mistake,
        diff=diff,
        verdict=verdict,
        rules=rules,
        exit_code=exit_code,
        build_seconds=round(build_seconds, 1),
        campaign_seconds=round(campaign_seconds, 1),
        note=note,
    )


def _shown(binary: Path, tree: Path) -> str:
    """The binary's path from the tree's parent (``qemu-10.0.2/build/…``), else as it is."""
    try:
        return str(binary.relative_to(tree.parent))
    except ValueError:
        return str(binary)


def command_line(argv: Sequence[str]) -> str:
    """How the run was started, for the table's header."""
    return shlex.join(["python", "-m", "jobcheck.conformance.mutation", *argv])
