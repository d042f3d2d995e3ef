"""Every README code block marked runnable runs as written.

A block is marked by an HTML comment on the line before its opening fence (invisible
when the README is rendered)::

    <!-- runnable -->                every command exits 0
    <!-- runnable, exit 1 -->        every command exits 1 (e.g. a divergence found)
    <!-- runnable after setup -->    as written, but for a leading ``.ci/setup &&``

Blocks run in README order, each command (one line; ``#`` comments are shell
comments) with bash, in a scratch directory that looks like a checkout after
``.ci/setup``: ``.venv`` is the environment running these tests, ``tests/`` and
``reports/baselines/`` are the checkout's; what the commands write stays there.
``after setup`` stands for what CI has done before the tests: ``.ci/run`` is
``.ci/setup`` followed by the test suite.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARK = re.compile(
    r"^<!-- runnable(?P<after> after setup)?(?:, exit (?P<exit>\d+))? -->\n"
    r"```sh\n(?P<body>.*?)^```",
    re.S | re.M,
)

pytestmark = [pytest.mark.live, pytest.mark.slow]


def runnable_blocks(text: str) -> list[tuple[list[str], int]]:
    """(commands, expected exit status) of every marked block, in order."""
    blocks = []
    for match in MARK.finditer(text):
        commands = []
        for line in match.group("body").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if match.group("after"):
                line = line.removeprefix(".ci/setup && ")
            commands.append(line)
        blocks.append((commands, int(match.group("exit") or 0)))
    return blocks


def test_the_marks_are_found() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count("<!-- runnable") == len(runnable_blocks(text)) >= 5
    first, _ = runnable_blocks(text)[0]
    assert first == [".venv/bin/jobcheck run --out reports/my-run"]


def test_every_runnable_block_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    (tmp_path / "reports" / "baselines").symlink_to(ROOT / "reports" / "baselines")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    for commands, status in runnable_blocks(README.read_text(encoding="utf-8")):
        for command in commands:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert done.returncode == status, (
                f"{shlex.quote(command)} exited {done.returncode}, not {status}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
