"""``jobcheck export --as script``: a standalone Python reproducer that needs only qemu.qmp.

The script launches the QEMU binary given with ``--qemu`` (``qemu-storage-daemon``
or any ``qemu-system-*``, with no guest) in a private temporary directory, its
QMP monitor on one end of a socket pair (``-chardev socket,fd=N``; the script
keeps the other end): no socket file, so no path length limit and nothing two
runs could share, and no connect race; QEMU dies with the script, even when the
script is killed by SIGKILL (a parent-death signal, set before QEMU starts; Linux).
Then it replays the plan of :mod:`.plan`: each recorded command, its response, and
the recorded events (waited for, up to a timeout each).  It prints what QEMU answers and, at the
divergent record, whether QEMU still does what the trace recorded.  Exit
status: 1 the divergence reproduces, 0 QEMU answers differently there now
(fixed?), 2 QEMU could not be started, stopped answering, or qemu.qmp is
missing (the script says how to get it, and names the Python that has it).

The script is fixed text (:data:`HEAD`, :data:`IMPORTS`, :data:`TEMPLATE`)
with its data between the imports and the code: the plan as Python literals
written by :func:`.source.literal`, and the description as comment lines
written by :func:`.source.comment`; no trace text is ever pasted into code.
"""

from __future__ import annotations

import sys

from jobcheck.conformance.export.plan import WORKDIR, Plan
from jobcheck.conformance.export.source import about, comment, literal

IMPORTS = """
import argparse
import asyncio
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
"""

TEMPLATE = r'''
try:
    from qemu.qmp import EventListener, ExecuteError, QMPClient
except ImportError:
    sys.exit("this reproducer needs the qemu.qmp package (0.0.3 or later): pip install"
             " qemu.qmp, or run it with a Python that has it, such as jobcheck's: %s %s"
             % (JOBCHECK_PYTHON, sys.argv[0]))

PROGRESS = ("current-progress", "total-progress")


def substitute(value, workdir):
    """Point the recorded file names at this run's directory."""
    if isinstance(value, str):
        return value.replace(WORKDIR, workdir)
    if isinstance(value, dict):
        return {k: substitute(v, workdir) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, workdir) for v in value]
    return value


try:
    LIBC = ctypes.CDLL(None)
except OSError:
    LIBC = None


def die_with_parent():
    """Run in QEMU's process before it starts: it gets SIGKILL when this script ends, even
    by SIGKILL (Linux's PR_SET_PDEATHSIG; where there is no prctl, nothing)."""
    prctl = getattr(LIBC, "prctl", None)
    if prctl is not None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def launch(binary, workdir):
    """Start QEMU with its QMP monitor on one end of a socket pair; return it and our end."""
    ours, theirs = socket.socketpair()
    chardev = "socket,id=mon0,fd=%d" % theirs.fileno()
    if "storage-daemon" in os.path.basename(binary):
        argv = [binary, "--chardev", chardev, "--monitor", "chardev=mon0"]
    else:
        argv = [binary, "-M", "none", "-nodefaults", "-no-user-config", "-display", "none",
                "-accel", "tcg", "-chardev", chardev, "-mon", "chardev=mon0,mode=control"]
    stderr = open(os.path.join(workdir, "qemu.stderr"), "wb")
    try:
        process = subprocess.Popen(argv, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=stderr,
                                   start_new_session=True, preexec_fn=die_with_parent)
    finally:
        theirs.close()
        stderr.close()
    return process, ours


def strip(value):
    if isinstance(value, list):
        return [strip(v) for v in value]
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in PROGRESS}
    return value


def same_answer(got, recorded):
    """Whether two responses say the same (query-jobs progress numbers aside)."""
    if recorded is None:
        return False
    if "error" in recorded or "error" in got:
        return got.get("error") == recorded.get("error")
    return strip(got.get("return")) == strip(recorded.get("return"))


def event_matches(event, wanted):
    if event["event"] != wanted["event"]:
        return False
    data, want = event.get("data", {}), wanted.get("data", {})
    return all(data.get(key) == want.get(key) for key in ("id", "device", "status") if key in want)


async def wait_event(listener, backlog, wanted, timeout):
    """The first received event matching ``wanted`` (kept-back ones first), or None."""
    for event in backlog:
        if event_matches(event, wanted):
            backlog.remove(event)
            return event
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            return None
        try:
            message = await asyncio.wait_for(listener.get(), left)
        except asyncio.TimeoutError:
            return None
        event = {"event": message["event"], "data": dict(message.get("data", {}))}
        if event_matches(event, wanted):
            return event
        backlog.append(event)


async def replay(client, listener, workdir, timeout):
    """Send every command; return True/False (divergence reproduced or not), None if unknown."""
    verdict = None
    backlog = []
    for exchange in EXCHANGES:
        if exchange["step"] is not None:
            print("# step: %s" % exchange["step"])
        arguments = substitute(exchange["arguments"], workdir)
        print("> %s %s" % (exchange["execute"], json.dumps(arguments, sort_keys=True)))
        try:
            value = await asyncio.wait_for(
                client.execute(exchange["execute"], arguments or None), timeout)
            answer = {"return": value}
        except ExecuteError as exc:
            answer = {"error": {"class": exc.error_class, "desc": str(exc)}}
        print("< %s" % json.dumps(answer, sort_keys=True))
        if exchange["divergent"] == "response":
            verdict = same_answer(answer, substitute(exchange["response"], workdir))
            report(verdict, answer, exchange["response"])
        for number, wanted in enumerate(exchange["events"]):
            wanted = substitute(wanted, workdir)
            event = await wait_event(listener, backlog, wanted, timeout)
            if event is None:
                print("! (no %s %s within %g s)" % (wanted["event"],
                                                  json.dumps(wanted["data"], sort_keys=True),
                                                  timeout))
            else:
                print("! %s %s" % (event["event"], json.dumps(event["data"], sort_keys=True)))
            if exchange["divergent"] == number:
                verdict = event is not None
                report(verdict, event, wanted)
    return verdict


def report(reproduced, got, recorded):
    print("*** the divergent record: rule %s" % DIVERGENCE["rule"])
    print("***   documented: %s" % (DIVERGENCE["quote"] or DIVERGENCE["paraphrase"]))
    print("***   expected:   %s" % DIVERGENCE["expected"])
    print("***   recorded:   %s" % json.dumps(recorded, sort_keys=True))
    print("***   now:        %s" % json.dumps(got, sort_keys=True))
    if reproduced:
        print("*** QEMU answers as recorded: the divergence reproduces")
    else:
        print("*** QEMU answers differently now")


def stop(signum, frame):
    raise KeyboardInterrupt  # unwind: QEMU is stopped and the directory removed


async def run(binary, timeout):
    workdir = tempfile.mkdtemp(prefix="repro-")
    process = None
    client = QMPClient("repro")
    listener = EventListener()
    client.register_listener(listener)
    verdict = None
    try:
        process, sock = launch(binary, workdir)
        await asyncio.wait_for(client.connect(sock), timeout)
        version = await client.execute("query-version")
        qemu = version["qemu"]
        print("# QEMU %d.%d.%d %s (recorded on QEMU %s)" % (
            qemu["major"], qemu["minor"], qemu["micro"], version.get("package", "").strip(),
            DIVERGENCE["qemu_version"]))
        verdict = await replay(client, listener, workdir, timeout)
    except Exception as exc:
        code = None
        if process is not None:
            try:
                code = process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if code is not None and code < 0 and DIVERGENCE["rule"] == "qemu.no-abort":
            print("*** QEMU died of signal %d: the divergence (a crash) reproduces" % -code)
            print("DIVERGENCE REPRODUCED")
            return 1
        print("error: QEMU failed: %s: %s" % (type(exc).__name__, exc), file=sys.stderr)
        tail = os.path.join(workdir, "qemu.stderr")
        if os.path.exists(tail):
            with open(tail, "rb") as stream:
                text = stream.read()[-2000:].decode("utf-8", "replace").strip()
            if text:
                print("QEMU's stderr:\n" + text, file=sys.stderr)
        return 2
    finally:
        try:
            await asyncio.wait_for(client.execute("quit"), 5)
        except BaseException:
            pass
        try:
            await client.disconnect()
        except BaseException:
            pass
        if process is not None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    if DIVERGENCE["rule"] == "qemu.no-abort":
        print("QEMU did not crash: NOT REPRODUCED (fixed?)")
        return 0
    if verdict is None:
        print("the divergent record was not reached")
        return 0
    print("DIVERGENCE REPRODUCED" if verdict else "NOT REPRODUCED (fixed?)")
    return 1 if verdict else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qemu", required=True, metavar="BIN",
                        help="qemu-storage-daemon or a qemu-system-* binary")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="seconds to wait for each answer and event (default 10)")
    args = parser.parse_args()
    binary = shutil.which(args.qemu)
    if binary is None:
        parser.error("QEMU binary %r not found" % args.qemu)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        return asyncio.run(run(binary, args.timeout))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
'''

HEAD = '''#!/usr/bin/env python3
"""Reproducer of a QEMU job-lifecycle divergence, exported by jobcheck.

Usage:  python3 THIS_FILE --qemu /usr/bin/qemu-storage-daemon   (or a qemu-system-* binary)
Needs:  Python 3.8+ and qemu.qmp 0.0.3+ (pip install qemu.qmp).

It starts QEMU with no guest in a private temporary directory, sends the
recorded QMP commands in order, waits for the recorded events, and prints
everything QEMU says ('>' sent, '<' answer, '!' event).  At the divergent
record it says whether QEMU still answers as recorded.
Exit status: 1 the divergence reproduces; 0 QEMU answers differently now;
2 QEMU could not be started or stopped answering.
"""
'''


def render(plan: Plan, python: str | None = None) -> str:
    """The script's text; ``python`` is the interpreter named when qemu.qmp is missing."""
    paragraph = [
        *about(plan.rule, plan.anchor, plan.quote, plan.paraphrase, plan.expected, plan.observed),
        f"Recorded on QEMU {plan.qemu_version or '?'}; trace: {plan.source}",
    ]
    data = [
        "",
        *[line for sentence in paragraph for line in comment(sentence, 96)],
        "",
        f"JOBCHECK_PYTHON = {literal(python or sys.executable, where=plan.source)}",
        f"WORKDIR = {literal(WORKDIR)}",
        "",
        f"DIVERGENCE = {literal(plan.divergence_json(), where=plan.source)}",
        "",
        f"EXCHANGES = {literal([e.to_json() for e in plan.exchanges], where=plan.source)}",
        "",
    ]
    return HEAD + IMPORTS + "\n".join(data) + TEMPLATE
