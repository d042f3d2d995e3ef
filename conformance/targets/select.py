"""Choosing and constructing a target from command-line options.

``--target sim`` is the in-process simulator; ``--target qemu`` a live QEMU:
``--qemu BIN`` launches that binary (``qemu-storage-daemon`` or any
``qemu-system-*``), ``--qemu-build DIR`` the one a QEMU build directory holds
(:mod:`.qemu_build`), ``--connect SOCK`` attaches to a running, idle one (with
``--connect-force``, to one that runs jobs of its own), and with none of them,
``qemu-storage-daemon`` is looked up on ``PATH``.  Without
``--target``, a live QEMU is used when one is given or found, the simulator
otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobcheck.conformance.errors import UsageError, model_for_option
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.targets.qemu_build import find_build
from jobcheck.conformance.targets.qemu_process import resolve_binary
from jobcheck.conformance.targets.sim_mutants import MUTANTS
from jobcheck.model.lifecycle import model_for

if TYPE_CHECKING:
    from jobcheck.conformance.targets.qemu_pool import QemuPool


@dataclass(frozen=True)
class TargetChoice:
    """Everything needed to make targets of one kind, in any process (picklable)."""

    kind: str
    """``sim`` or ``qemu``."""
    model: str | None = None
    mutant: str | None = None
    binary: str | None = None
    connect: str | None = None
    timeout: float = 10.0
    force: bool = False
    """Attach to a QEMU that is not idle (``--connect-force``)."""
    build: str | None = None
    """The QEMU build directory :attr:`binary` was found in (``--qemu-build``)."""
    model_reason: str | None = None
    """Why :attr:`model` is the build's model, when the build tree chose it (one line)."""

    def describe(self) -> str:
        if self.kind == "sim":
            version = model_for(self.model or "latest").version
            return f"simulator of QEMU {version}" + (
                f", mutant {self.mutant}" if self.mutant else ""
            )
        if self.connect:
            forced = " (--connect-force: its other jobs are left alone and not checked)"
            return f"live QEMU at {self.connect}" + (forced if self.force else "")
        if self.build:
            return f"live QEMU {self.binary} (build {self.build})"
        return f"live QEMU {self.binary}"

    def options(self) -> list[str]:
        """The command-line options that reach this target again (for replay and rerun)."""
        if self.kind == "sim":
            out = ["--target", "sim"]
            if self.mutant:
                out += ["--sim-mutant", self.mutant]
            return [*out, "--model", self.model or "latest"]
        if self.connect:
            out = ["--connect", self.connect]
            if self.force:
                out.append("--connect-force")
        elif self.build:
            out = ["--qemu-build", self.build]
        else:
            out = ["--qemu", self.binary or ""]
        return [*out, "--model", self.model] if self.model else out

    def targets(self) -> Targets:
        """What makes the targets of one campaign (one QEMU reused: see :class:`Targets`)."""
        return Targets(self)

    def make(self, seed: int = 0) -> Target:
        """A fresh target (the seed feeds the simulator's own randomness)."""
        # lazy: a simulator run never loads qemu.qmp, and a live one not the simulator
        if self.kind == "sim":
            from jobcheck.conformance.targets.sim import Simulator

            return Simulator(self.model or "latest", seed=seed, mutant=self.mutant)
        from jobcheck.conformance.targets.qemu import QemuTarget

        return QemuTarget(
            binary=self.binary,
            connect=self.connect,
            timeout=self.timeout,
            model=self.model,
            force=self.force,
        )


class Targets:
    """The targets of one campaign, made by :meth:`make` and let go by :meth:`close`.

    A launched QEMU's targets take turns on one QEMU (:mod:`.qemu_pool`), which
    :meth:`close` quits; the simulator's, and those attached with ``--connect``,
    are made fresh each time.
    """

    def __init__(self, choice: TargetChoice) -> None:
        self.choice = choice
        self._pool: QemuPool | None = None
        if choice.kind == "qemu" and not choice.connect:
            from jobcheck.conformance.targets.qemu_pool import QemuPool

            self._pool = QemuPool(choice.binary, timeout=choice.timeout, model=choice.model)

    def make(self, seed: int = 0) -> Target:
        """A target (on the pooled QEMU, if there is one)."""
        return self._pool.make(seed) if self._pool is not None else self.choice.make(seed)

    def close(self) -> None:
        """Quit the QEMU left idle, if any (idempotent)."""
        if self._pool is not None:
            self._pool.close()

    def __enter__(self) -> Targets:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def choose_target(
    target: str | None,
    *,
    qemu: str | None = None,
    connect: str | None = None,
    model: str | None = None,
    mutant: str | None = None,
    timeout: float = 10.0,
    force: bool = False,
    build: str | None = None,
) -> TargetChoice:
    """Resolve the target options; raise :class:`UsageError` when they do not fit."""
    if model is not None:
        model_for_option(model)
    if target is None:
        live = qemu or connect or build or shutil.which("qemu-storage-daemon")
        target = "qemu" if live else "sim"
    if target == "sim":
        if qemu or connect or build or force:
            raise UsageError(
                "--qemu, --qemu-build and --connect need --target qemu, not --target sim"
            )
        if mutant is not None and mutant not in MUTANTS:
            raise UsageError(f"unknown mutant {mutant!r}; see jobcheck run --list-mutants")
        return TargetChoice("sim", model=model, mutant=mutant)
    if target != "qemu":
        raise UsageError(f"unknown target {target!r}; choose sim or qemu")
    if mutant is not None:
        raise UsageError("--sim-mutant needs --target sim")
    if sum(1 for given in (qemu, connect, build) if given) > 1:
        raise UsageError("give one of --qemu BIN, --qemu-build DIR and --connect SOCK")
    if force and not connect:
        raise UsageError("--connect-force needs --connect SOCK")
    if build:
        found_build = find_build(build)
        reason = None
        chosen = found_build.model_choice() if model is None else None
        if chosen is not None:
            model, reason = chosen[0].version, chosen[1]
        return TargetChoice(
            "qemu",
            model=model,
            binary=found_build.binary,
            timeout=timeout,
            build=build,
            model_reason=reason,
        )
    if connect:
        try:
            mode = os.stat(connect).st_mode
        except OSError as exc:
            raise UsageError(f"--connect {connect}: {exc.strerror or exc}") from None
        if not stat.S_ISSOCK(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a socket"
            raise UsageError(f"--connect {connect}: {kind}, not a QEMU's QMP unix socket")
        return TargetChoice("qemu", model=model, connect=connect, timeout=timeout, force=force)
    found = os.path.abspath(resolve_binary(qemu))
    return TargetChoice("qemu", model=model, binary=found, timeout=timeout)


def target_from_options(options: argparse.Namespace) -> TargetChoice:
    """:func:`choose_target` from parsed options named as ``jobcheck run``'s are
    (``target``, ``qemu``, ``qemu_build``, ``connect``, ``model``, ``sim_mutant``,
    ``timeout``)."""
    return choose_target(
        options.target,
        qemu=options.qemu,
        connect=options.connect,
        model=options.model,
        mutant=options.sim_mutant,
        timeout=options.timeout,
        force=bool(getattr(options, "connect_force", False)),
        build=getattr(options, "qemu_build", None),
    )
