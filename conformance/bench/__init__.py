"""Stage: the benchmark — jobcheck measured against its limits (``tox -e bench``).

* :mod:`.suite` — the command: which figures, the table, the JSON;
* :mod:`.sizes` — how much work each measurement does;
* :mod:`.local` — what needs no QEMU (the Hypothesis ceiling, the simulator, check-trace);
* :mod:`.live` — what needs a live QEMU (start-up, round trip, campaign speed, coverage time);
* :mod:`.process` — a child process's wall time and peak memory;
* :mod:`.table` — the rows, printed as Markdown and JSON.
"""
