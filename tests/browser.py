"""A page loaded in headless Chromium, watched over the DevTools protocol: its console
errors, and what a script finds in it; a screenshot of it.

Chromium (Debian's ``chromium``) speaks the DevTools protocol over a pair of pipes
(``--remote-debugging-pipe``: commands on its fd 3, answers and events on its fd 4,
each message a JSON object ended by a NUL byte), so no driver and no network is needed::

    with Browser() as browser:
        page = browser.load(Path("report.html"))
        page.errors                      # console errors, uncaught exceptions, failed loads
        page.evaluate("document.title")
        page.screenshot(Path("shot.png"), width=1280, height=900)

Run as a script, it takes the screenshot of a page (how the README's picture of a
report is made): ``python tests/browser.py report.html shot.png 1280x1600``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
"""Debian's Chromium, if installed."""

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]
"""Headless, and no connection of its own to the outside (this machine's network is closed)."""


class BrowserError(Exception):
    """Chromium did not answer, or answered an error."""


class Browser:
    """One headless Chromium, driven over its DevTools pipe."""

    def __init__(self, timeout: float = 60.0) -> None:
        if CHROMIUM is None:
            raise BrowserError("chromium is not installed (Debian package chromium)")
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="jobcheck-chromium-")
        commands_read, self._commands = _high(os.pipe())
        self._answers, answers_write = _high(os.pipe())
        # Chromium reads commands on its fd 3 and writes answers on its fd 4: bash puts the
        # pipes there (no preexec function in a process that may have threads)
        plumbing = (
            f'exec "$0" "$@" 3<&{commands_read} 4>&{answers_write}'
            f" {commands_read}<&- {answers_write}>&-"
        )
        self._process = subprocess.Popen(
            ["bash", "-c", plumbing, CHROMIUM, *FLAGS, f"--user-data-dir={self._profile}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(commands_read, answers_write),
        )
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next = 0
        self._events: list[dict[str, Any]] = []

    # -- the protocol ----------------------------------------------------

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        """Send one command and return its result (events that come first are kept)."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def wait_for(self, method: str, session: str | None = None) -> dict[str, Any]:
        """The next event ``method`` (of ``session``), waiting for it if it has not come."""
        while True:
            for number, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self._events.pop(number)
            self._events.append(self._read())

    def events(self, method: str, session: str | None = None) -> list[dict[str, Any]]:
        """Every event ``method`` (of ``session``) received so far."""
        return [
            e for e in self._events if e.get("method") == method and e.get("sessionId") == session
        ]

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._answers], [], [], max(0.0, left))
            if not ready:
                raise BrowserError(f"no answer from chromium within {self.timeout:g} s")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited (status {self._process.poll()})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    # -- pages -----------------------------------------------------------

    def load(self, path: Path) -> Page:
        """Open ``path`` in a new tab and wait until it has loaded."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        self.wait_for("Page.loadEventFired", session)
        return Page(self, session)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.write(
                self._commands, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0"
            )
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for fd in (self._commands, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The same pipe on descriptors above 9, clear of the 3 and 4 the child needs."""
    out = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return out[0], out[1]


class Page:
    """A loaded page of a :class:`Browser`."""

    def __init__(self, browser: Browser, session: str) -> None:
        self._browser = browser
        self._session = session

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads, in words."""
        b, s = self._browser, self._session
        b.send("Runtime.evaluate", {"expression": "0"}, session=s)  # let pending events in
        out = [
            str(
                e["params"]["exceptionDetails"].get("exception", {}).get("description")
                or e["params"]["exceptionDetails"].get("text")
            )
            for e in b.events("Runtime.exceptionThrown", s)
        ]
        out += [
            " ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])
            for e in b.events("Runtime.consoleAPICalled", s)
            if e["params"]["type"] in ("error", "assert")
        ]
        out += [
            f"{e['params']['entry'].get('source')}: {e['params']['entry'].get('text')}"
            for e in b.events("Log.entryAdded", s)
            if e["params"]["entry"].get("level") == "error"
        ]
        return out

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-able)."""
        result = self._browser.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True},
            session=self._session,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, width: int = 1280, height: int = 900) -> None:
        """A PNG of the top ``width`` × ``height`` pixels of the page."""
        call: Callable[..., Any] = self._browser.send
        call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=self._session,
        )
        data = call("Page.captureScreenshot", {"format": "png"}, session=self._session)["data"]
        path.write_bytes(base64.b64decode(data))


if __name__ == "__main__":
    page_path, shot = Path(sys.argv[1]), Path(sys.argv[2])
    size = [int(n) for n in sys.argv[3].split("x")] if len(sys.argv) > 3 else [1280, 900]
    with Browser() as browser:
        loaded = browser.load(page_path)
        if loaded.errors:
            sys.exit("\n".join(loaded.errors))
        loaded.screenshot(shot, width=size[0], height=size[1])
