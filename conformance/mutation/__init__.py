"""A mutation harness over QEMU's own job code: which planted bugs does a jobcheck campaign catch?

``python -m jobcheck.conformance.mutation`` (``tox -e qemu-mutants``) takes
QEMU's source — Debian's 10.0.2 from bookworm-backports, cached, or a tree
named with ``--source`` — builds ``qemu-storage-daemon`` alone, runs a
campaign on the pristine build, then plants each mutant of the catalogue in
turn (``job.c``, ``job-qmp.c``, ``blockjob.c``, ``blockdev.c`` and the block
jobs), rebuilds incrementally, runs a campaign and records the verdict
(caught with its rules, target failure, missed, timeout, build failure) and
the times, as a Markdown table and JSON.  The pristine file is put back after
every mutant, on failure and on Ctrl-C, SIGTERM or SIGHUP too.

Modules, in pipeline order: :mod:`.catalogue` (the mutants),
:mod:`.interrupts` and :mod:`.planting` (planting and restoring),
:mod:`.process` (child process groups with a time limit), :mod:`.source` and
:mod:`.build` (obtaining and building QEMU), :mod:`.campaign` (one campaign and
its verdict), :mod:`.results` (the table and JSON), :mod:`.harness` (the run)
and :mod:`.cli`.  Not part of CI's default run: a build takes minutes.
"""
