"""jobcheck's conformance suite: the stages of one pipeline, from a trace to a report.

Everything QEMU says, live or recorded, becomes a trace; a target makes one; the
oracle checks it; a campaign drives targets and collects what the oracle finds; a
report renders the result.  Each stage is a package and imports only from the stages
before it (and from :mod:`jobcheck.model`), never from a later one:

``errors``
    the errors that end a command, each with its exit code;
``trace``
    records, the readers of recorded logs, the driver steps (:mod:`.trace`);
``targets``
    the simulator and the live QEMU behind one interface (:mod:`.targets`);
``oracle``
    a trace against the model: divergences (:mod:`.oracle`);
``campaign``
    the tour and the Hypothesis exploration of a target (:mod:`.campaign`);
``report``
    JSON, Markdown, HTML, JUnit and the baseline (:mod:`.report`);
``export``
    a divergence as a script or a qemu-iotests test (:mod:`.export`);
``bench``
    jobcheck measured against its limits (:mod:`.bench`);
``commands``, ``cli``, ``pytest_plugin``
    the ``jobcheck`` subcommands and the pytest plugin that tie the stages together.

A new trace format is a reader in ``trace``; a new check goes to ``oracle``; a new
target to ``targets``; a new report format is a renderer in ``report``.
"""

STAGES: tuple[str, ...] = (
    "errors",
    "trace",
    "targets",
    "oracle",
    "campaign",
    "report",
    "export",
    "bench",
    "mutation",
    "commands",
    "cli",
    "pytest_plugin",
)
"""The stages in pipeline order (see the module docstring); ``tests/test_structure.py``
checks that no module imports from a stage after its own."""
