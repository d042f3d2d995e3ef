"""Choosing and constructing a target from command-line options.

``--target sim`` is the in-process simulator; ``--target qemu`` a live QEMU:
``--qemu BIN`` launches that binary (``qemu-storage-daemon`` or any
``qemu-system-*``), ``--connect SOCK`` attaches to a running one, and with
neither, ``qemu-storage-daemon`` is looked up on ``PATH``.  Without
``--target``, a live QEMU is used when one is given or found, the simulator
otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import dataclass

from jobcheck.conformance.errors import UsageError, model_for_option
from jobcheck.conformance.targets.base import Target
from jobcheck.conformance.targets.sim_mutants import MUTANTS
from jobcheck.model.lifecycle import model_for


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

    def describe(self) -> str:
        if self.kind == "sim":
            version = model_for(self.model or "latest").version
            return f"simulator of QEMU {version}" + (
                f", mutant {self.mutant}" if self.mutant else ""
            )
        if self.connect:
            return f"live QEMU at {self.connect}"
        return f"live QEMU {self.binary}"

    def options(self) -> list[str]:
        """The command-line options that reach this target again (for replay and rerun)."""
        if self.kind == "sim":
            out = ["--target", "sim"]
            if self.mutant:
                out += ["--sim-mutant", self.mutant]
            return [*out, "--model", self.model or "latest"]
        out = ["--connect", self.connect] if self.connect else ["--qemu", self.binary or ""]
        return [*out, "--model", self.model] if self.model else out

    def make(self, seed: int = 0) -> Target:
        """A fresh target (the seed feeds the simulator's own randomness)."""
        # lazy: a simulator run never loads qemu.qmp, and a live one not the simulator
        if self.kind == "sim":
            from jobcheck.conformance.targets.sim import Simulator

            return Simulator(self.model or "latest", seed=seed, mutant=self.mutant)
        from jobcheck.conformance.targets.qemu import QemuTarget

        return QemuTarget(
            binary=self.binary, connect=self.connect, timeout=self.timeout, model=self.model
        )


def choose_target(
    target: str | None,
    *,
    qemu: str | None = None,
    connect: str | None = None,
    model: str | None = None,
    mutant: str | None = None,
    timeout: float = 10.0,
) -> TargetChoice:
    """Resolve the target options; raise :class:`UsageError` when they do not fit."""
    if model is not None:
        model_for_option(model)
    if target is None:
        target = "qemu" if (qemu or connect or shutil.which("qemu-storage-daemon")) else "sim"
    if target == "sim":
        if qemu or connect:
            raise UsageError("--qemu and --connect need --target qemu, not --target sim")
        if mutant is not None and mutant not in MUTANTS:
            raise UsageError(f"unknown mutant {mutant!r}; see jobcheck run --list-mutants")
        return TargetChoice("sim", model=model, mutant=mutant)
    if target != "qemu":
        raise UsageError(f"unknown target {target!r}; choose sim or qemu")
    if mutant is not None:
        raise UsageError("--sim-mutant needs --target sim")
    if qemu and connect:
        raise UsageError("give --qemu BIN or --connect SOCK, not both")
    if connect:
        if not os.path.exists(connect):
            raise UsageError(f"--connect {connect}: no such socket")
        return TargetChoice("qemu", model=model, connect=connect, timeout=timeout)
    binary = qemu or "qemu-storage-daemon"
    found = shutil.which(binary)
    if found is None:
        raise UsageError(
            f"QEMU binary {binary!r} not found; install Debian's qemu-system-x86 "
            "(it ships qemu-storage-daemon) or pass --qemu PATH"
        )
    return TargetChoice("qemu", model=model, binary=found, timeout=timeout)


def target_from_options(options: argparse.Namespace) -> TargetChoice:
    """:func:`choose_target` from parsed options named as ``jobcheck run``'s are
    (``target``, ``qemu``, ``connect``, ``model``, ``sim_mutant``, ``timeout``)."""
    return choose_target(
        options.target,
        qemu=options.qemu,
        connect=options.connect,
        model=options.model,
        mutant=options.sim_mutant,
        timeout=options.timeout,
    )
