"""Target failures are target failures everywhere, and a QEMU crash anywhere is a finding.

A QEMU killed or stopped from outside during the Hypothesis exploration is the
target failure it is (exit 3, with the real cause), never a conformance failure
that Hypothesis could not reproduce ("flaky"); a QEMU that aborts is a finding
of rule ``qemu.no-abort`` (exit 1), shrunk to the steps that make it crash and
reported with QEMU's own words.  Nothing is left behind either way.

The simulator versions make the fault happen at an exact step (a target that
fails or crashes on purpose); the live ones send the signal to a real QEMU in
the middle of an example, and wait for it to take effect before going on.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from jobcheck.conformance.campaign.run import run_campaign
from jobcheck.conformance.cli import main
from jobcheck.conformance.errors import TargetCrashed, TargetError
from jobcheck.conformance.targets.qemu import QemuTarget
from jobcheck.conformance.targets.select import TargetChoice
from jobcheck.conformance.targets.sim import Simulator
from jobcheck.conformance.trace.records import Event, Response
from jobcheck.model.lifecycle import model_for
from jobcheck.model.rules import RuleId

# -- the simulator: faults at an exact point -----------------------------------------


class _SimCrash(TargetCrashed):
    @property
    def outcome(self) -> str:
        return "killed by SIGABRT: job.c:216: Assertion `JobSTT[s0][s1]' failed."


class FaultySim(Simulator):
    """A simulator that fails (or crashes) at its ``at``-th command, or at every command
    that ``crashes_on`` says is fatal, or reports an event for a job nobody started at its
    ``ghost_at``-th command."""

    def __init__(
        self,
        seed: int,
        *,
        at: int | None = None,
        crash: bool = False,
        crashes_on: Callable[[Simulator, str, dict[str, Any]], bool] | None = None,
        ghost_at: int | None = None,
        ghosts: list[int] | None = None,
    ) -> None:
        super().__init__("7.2", seed=seed)
        self.at = at
        self.crash = crash
        self.crashes_on = crashes_on
        self.ghost_at = ghost_at
        self.ghosts = ghosts
        """Shared by targets: a ghost event is sent only while it holds a count left."""
        self.sent = 0

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Response:
        self.sent += 1
        if self.sent == self.ghost_at and (self.ghosts is None or self.ghosts[0] > 0):
            if self.ghosts is not None:
                self.ghosts[0] -= 1
            self._record(Event("JOB_STATUS_CHANGE", {"id": "ghost", "status": "running"}))
        if self.crashes_on is not None and self.crashes_on(self, command, arguments or {}):
            raise _SimCrash(f"the simulated QEMU aborted at {command}")
        if self.at is not None and self.sent == self.at:
            if self.crash:
                raise _SimCrash("the simulated QEMU aborted (SIGABRT)")
            raise TargetError("the simulated QEMU was killed by SIGKILL")
        return super().execute(command, arguments)


def _factory(nth: int, **fault: Any) -> Callable[[int], Simulator]:
    """Targets of which the ``nth`` made (1-based) has the fault."""
    made = [0]

    def make(seed: int) -> Simulator:
        made[0] += 1
        if made[0] == nth:
            return FaultySim(seed, **fault)
        return Simulator("7.2", seed=seed)

    return make


def test_a_target_failure_in_the_exploration_is_a_target_failure_not_flaky() -> None:
    # The 3rd example's QEMU dies at its 5th command: Hypothesis would replay the example
    # on a fresh target, see it pass, and call it flaky; the campaign must say what it is.
    with pytest.raises(TargetError, match="killed by SIGKILL") as caught:
        run_campaign(_factory(3, at=5), model_for("7.2"), seed=1, examples=10, tour=False)
    assert not isinstance(caught.value, TargetCrashed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_qemu_that_cannot_start_in_the_exploration_is_a_target_failure(seed: int) -> None:
    # The 3rd example's QEMU does not start: that example draws less than the earlier ones
    # with the same start, and Hypothesis, unwinding, raises its own "inconsistent data
    # generation" error instead.  The campaign must still say what happened.
    made = [0]

    def make(target_seed: int) -> Simulator:
        made[0] += 1
        if made[0] == 3:
            raise TargetError("QEMU cannot start")
        return Simulator("7.2", seed=target_seed)

    with pytest.raises(TargetError, match="cannot start"):
        run_campaign(make, model_for("7.2"), seed=seed, examples=10, tour=False)


@pytest.mark.parametrize("tour", [True, False])
def test_a_qemu_that_crashes_as_it_starts_is_a_finding(tour: bool) -> None:
    made = [0]

    def make(target_seed: int) -> Simulator:
        made[0] += 1
        if made[0] == (1 if tour else 3):
            raise _SimCrash("the simulated QEMU aborted as it started (SIGABRT)")
        return Simulator("7.2", seed=target_seed)

    result = run_campaign(make, model_for("7.2"), seed=1, examples=10, tour=tour)
    assert result.crash is not None and "as it started" in result.crash
    assert result.failure is not None and result.failure.steps() == []


def test_a_crash_in_the_exploration_is_a_finding_not_flaky() -> None:
    result = run_campaign(
        _factory(3, at=5, crash=True), model_for("7.2"), seed=1, examples=10, tour=False
    )
    assert result.crash and "SIGABRT" in result.crash
    failure = result.failure
    assert failure is not None
    assert [d.rule for d in failure.divergences] == [RuleId.QEMU_NO_ABORT]
    assert "Assertion" in failure.divergences[0].observed
    # It did not happen again on replay: the recorded steps of the job involved, and no
    # fake minimal run made of an unrelated replay.
    assert failure.steps() and "did not happen again" in failure.message
    assert failure.meta.extra.get("reproduced") is False


def test_a_crash_that_happens_again_shrinks_to_the_steps_that_cause_it() -> None:
    def fatal(sim: Simulator, command: str, arguments: dict[str, Any]) -> bool:
        # Like a broken assertion in job_complete: a job-complete of a job in ready aborts.
        job = sim._engine.jobs.get(str(arguments.get("id")))
        return command == "job-complete" and job is not None and job.status.value == "ready"

    def make(seed: int) -> Simulator:
        return FaultySim(seed, crashes_on=fatal)

    result = run_campaign(make, model_for("7.2"), seed=2, examples=30)
    assert result.crash is not None
    failure = result.failure
    assert failure is not None and failure.divergences[0].rule == RuleId.QEMU_NO_ABORT
    steps = failure.steps()
    assert 1 <= len(steps) <= 10, steps
    assert steps[0].startswith("start") and "complete" in steps[-1], steps


def test_exit_codes_of_faults_in_the_exploration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for crash, code in ((False, 3), (True, 1)):
        made = _factory(4, at=6, crash=crash)
        monkeypatch.setattr(TargetChoice, "make", lambda self, seed=0, m=made: m(seed))
        argv = ["run", "--target", "sim", "--model", "7.2", "--no-tour", "--examples", "8"]
        assert main([*argv, "--out", str(tmp_path / str(code))]) == code
        out, err = capsys.readouterr()
        if crash:
            assert "qemu.no-abort" in out and "SIGABRT" in out
        else:
            assert "killed by SIGKILL" in err and "qemu.no-abort" not in out


# -- live QEMU: a real signal in the middle of an example ------------------------------


def _await(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds (polling /proc: there is no event to wait on)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.005)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stream:
            text = stream.read()
    except OSError:
        return "gone"
    return text[text.rfind(")") + 1 :].split()[0]


class SignalledQemu(QemuTarget):
    """A live target that sends ``sig`` to its own QEMU before its ``at``-th command, and
    waits until the signal has taken effect (QEMU gone, or stopped)."""

    signalled: ClassVar[list[SignalledQemu]] = []

    def __init__(self, sig: int, at: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sig, self.at, self.sent = sig, at, 0

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Response:
        self.sent += 1
        pid = self.pid
        if self.sent == self.at and pid is not None:
            SignalledQemu.signalled.append(self)
            os.kill(pid, self.sig)
            if self.sig == signal.SIGSTOP:
                _await(lambda: _state(pid) == "T", "QEMU stopping")
            else:
                _await(lambda: _state(pid) in ("Z", "gone"), "QEMU dying")
        return super().execute(command, arguments)


@pytest.mark.live
@pytest.mark.parametrize(
    ("sig", "crash", "words"),
    [
        (signal.SIGKILL, False, "killed by SIGKILL"),
        (signal.SIGSTOP, False, "is stopped"),
        (signal.SIGABRT, True, "killed by SIGABRT"),
    ],
)
def test_a_signal_to_qemu_during_the_exploration(
    sig: int, crash: bool, words: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    SignalledQemu.signalled = []
    made = [0]

    def make(seed: int) -> QemuTarget:
        made[0] += 1
        if made[0] == 3:  # the third example, at its fourth command
            return SignalledQemu(sig, 4, timeout=2.0)
        return QemuTarget(timeout=2.0)

    model = model_for("7.2")
    if crash:
        result = run_campaign(make, model, seed=1, examples=6, steps=10, tour=False)
        assert result.crash is not None and words in result.crash
        assert result.failure is not None
        assert [d.rule for d in result.failure.divergences] == [RuleId.QEMU_NO_ABORT]
        assert len(result.failure.steps()) <= 10
    else:
        with pytest.raises(TargetError, match=words) as caught:
            run_campaign(make, model, seed=1, examples=6, steps=10, tour=False)
        assert not isinstance(caught.value, TargetCrashed)
    (victim,) = SignalledQemu.signalled
    assert victim.pid is not None and _state(victim.pid) == "gone", "QEMU is still there"
    assert not os.path.exists(victim.workdir), "its directory is still there"
    assert os.listdir(tmp_path) == [], "a temporary file survived"


def test_a_divergence_hypothesis_cannot_reproduce_is_reported_from_the_run_that_had_it() -> None:
    # Only the first example that sends a 4th command meets a misbehaving QEMU (an event for
    # a job nobody started): Hypothesis finds the divergence, replays the example on a sound
    # QEMU, and calls it flaky.  The report must show the run that failed — not the replay
    # that passed, not a fake one-step minimal run — and say that it did not recur.
    ghosts = [1]

    def make(seed: int) -> Simulator:
        return FaultySim(seed, ghost_at=4, ghosts=ghosts)

    result = run_campaign(make, model_for("7.2"), seed=5, examples=10, tour=False)
    failure = result.failure
    assert failure is not None and result.crash is None
    assert {d.rule for d in failure.divergences} == {RuleId.EVENT_STATUS_CHANGE_KNOWN_JOB}
    assert any(isinstance(r, Event) and r.data.get("id") == "ghost" for r in failure.records), (
        "the failure is not the run that had the divergence"
    )
    assert "did not happen again" in failure.message


@pytest.mark.live
def test_a_qemu_stopped_at_the_teardown_fails_the_close(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A QEMU that stops answering in the teardown (``quit``) is a target failure too: the
    close says so (it used to be swallowed, and the run passed), after cleaning up."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    target = QemuTarget(timeout=1.0)
    pid = target.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    _await(lambda: _state(pid) == "T", "QEMU stopping")
    with pytest.raises(TargetError, match="is stopped") as caught:
        target.close()
    assert not isinstance(caught.value, TargetCrashed)
    assert _state(pid) == "gone" and os.listdir(tmp_path) == []


def test_the_crash_outcome_is_the_failed_assertion_not_a_warning() -> None:
    from jobcheck.conformance.targets.qemu_process import QemuCrashed

    warning = "warning: The target block device doesn't provide information about the block size"
    assertion = (
        "qemu-storage-daemon: ../job.c:216: job_state_transition_locked: Assertion"
        " `JobSTT[s0][s1]' failed."
    )
    crashed = QemuCrashed("m", -6, f"{warning} | {assertion} | {warning}", "job-cancel")
    assert crashed.outcome == (
        "killed by SIGABRT: ../job.c:216: job_state_transition_locked: Assertion"
        " `JobSTT[s0][s1]' failed."
    )
    # Killed with SIGABRT from outside: no assertion, and the warnings are not the reason.
    assert QemuCrashed("m", -6, warning, "query-jobs").outcome == "killed by SIGABRT"
