"""Pin every cell of the lifecycle tables, for every model version.

The expected tables are typed here independently of ``model/lifecycle.py``,
transcribed from the tables compiled from QEMU's source history (docs/qemu-job-engine.md,
'The transition table', 'The verb table' and 'Enumerations per release' of the engine
notes): one string of permitted column letters per row, with the letters
``U C R P Y S W D X E N`` of QEMU's table comments.  The 5.0 and 10.1 rows were
read from ``job.c`` and ``qapi/job.json`` at QEMU's v5.0.0 (fdd76fecdd) and
v10.1.0 (f8b2f64e23) release commits: the same cells as 4.2 and 9.2.
"""

from __future__ import annotations

import pytest

from jobcheck.model.lifecycle import (
    MODELS,
    JobType,
    Status,
    UnknownVersionError,
    Verb,
    model_choice,
    model_for,
)

COLUMNS = "UCRPYSWDXEN"
STATUS_NAMES = [
    "undefined",
    "created",
    "running",
    "paused",
    "ready",
    "standby",
    "waiting",
    "pending",
    "aborting",
    "concluded",
    "null",
]

# JobSTT, row = from, value = the "to" letters; identical in every version.
STT = {
    "U": "C",
    "C": "RXN",
    "R": "PYWX",
    "P": "R",
    "Y": "SWX",
    "S": "Y",
    "W": "DX",
    "D": "XE",
    "X": "XE",
    "E": "N",
    "N": "",
}

VERBS_A = {
    "cancel": "CRPYSWD",
    "pause": "CRPYS",
    "resume": "CRPYS",
    "set-speed": "CRPYS",
    "complete": "Y",
    "dismiss": "E",
    "finalize": "D",
}
VERBS_B = {**VERBS_A, "complete": "YS"}
VERBS_C = {**VERBS_B, "change": "CRPYS"}

VERB_TABLE = {
    "2.12": ("A", VERBS_A),
    "3.0": ("A", VERBS_A),
    "4.2": ("A", VERBS_A),
    "5.0": ("A", VERBS_A),
    "5.1": ("A", VERBS_A),
    "5.2": ("A", VERBS_A),
    "6.0": ("B", VERBS_B),
    "6.2": ("B", VERBS_B),
    "7.2": ("B", VERBS_B),
    "8.2": ("C", VERBS_C),
    "9.2": ("C", VERBS_C),
    "10.1": ("C", VERBS_C),
    "10.2": ("C", VERBS_C),
}

BLOCK = "commit stream mirror backup"
SNAPSHOTS = "snapshot-load snapshot-save snapshot-delete"
JOB_TYPES = {
    "2.12": BLOCK,
    "3.0": f"{BLOCK} create",
    "4.2": f"{BLOCK} create",
    "5.0": f"{BLOCK} create",
    "5.1": f"{BLOCK} create amend",
    "5.2": f"{BLOCK} create amend",
    "6.0": f"{BLOCK} create amend {SNAPSHOTS}",
    "6.2": f"{BLOCK} create amend {SNAPSHOTS}",
    "7.2": f"{BLOCK} create amend {SNAPSHOTS}",
    "8.2": f"{BLOCK} create amend {SNAPSHOTS}",
    "9.2": f"{BLOCK} create amend {SNAPSHOTS}",
    "10.1": f"{BLOCK} create amend {SNAPSHOTS}",
    "10.2": f"{BLOCK} create amend {SNAPSHOTS}",
}


def _status(letter: str) -> Status:
    return Status(STATUS_NAMES[COLUMNS.index(letter)])


def test_every_version_is_pinned() -> None:
    assert list(MODELS) == list(VERB_TABLE) == list(JOB_TYPES)


def test_status_enum_and_letters() -> None:
    assert [s.value for s in Status] == STATUS_NAMES
    assert "".join(s.letter for s in Status) == COLUMNS


@pytest.mark.parametrize("version", list(VERB_TABLE))
def test_every_transition_cell(version: str) -> None:
    model = MODELS[version]
    assert model.statuses == tuple(_status(c) for c in COLUMNS)
    for row, targets in STT.items():
        for column in COLUMNS:
            expected = column in targets
            assert model.allows(_status(row), _status(column)) is expected, (
                f"{version}: {row}->{column} should be {'allowed' if expected else 'forbidden'}"
            )
    assert len(model.transitions) == sum(len(t) for t in STT.values())


@pytest.mark.parametrize("version", list(VERB_TABLE))
def test_every_verb_cell(version: str) -> None:
    model = MODELS[version]
    variant, table = VERB_TABLE[version]
    assert model.verb_table == variant
    # QAPI enum order: dismiss before finalize, change last.
    expected_verbs = [
        v
        for v in [
            "cancel",
            "pause",
            "resume",
            "set-speed",
            "complete",
            "dismiss",
            "finalize",
            "change",
        ]
        if v in table
    ]
    assert [v.value for v in model.verbs] == expected_verbs
    for verb in Verb:
        permitted = table.get(verb.value, "")
        for column in COLUMNS:
            expected = column in permitted
            assert model.permits(verb, _status(column)) is expected, (
                f"{version}: {verb.value} in {column} should be"
                f" {'permitted' if expected else 'refused'}"
            )


def test_cells_lists_every_cell_of_known_verbs() -> None:
    model = MODELS["7.2"]
    cells = list(model.cells())
    assert len(cells) == len(VERBS_B) * len(COLUMNS)
    assert sum(ok for _, _, ok in cells) == sum(len(v) for v in VERBS_B.values())


@pytest.mark.parametrize("version", list(JOB_TYPES))
def test_job_types(version: str) -> None:
    assert [t.value for t in MODELS[version].job_types] == JOB_TYPES[version].split()


def test_job_type_enum_covers_every_version() -> None:
    assert {t.value for t in JobType} == set(JOB_TYPES["10.2"].split())


def test_job_commands_exist_from_3_0() -> None:
    assert [v for v, m in MODELS.items() if not m.job_commands] == ["2.12"]


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("7.2.22", "7.2"),
        ("9.1.0", "8.2"),
        ("10.2.50", "10.2"),
        ("latest", "10.2"),
        ("v6.0.0", "6.0"),
        ("6.1", "6.0"),
        ("5.1.0", "5.1"),
        ("4.2.1", "4.2"),
        ("5.0", "5.0"),
        ("5.0.1", "5.0"),
        ("10.0.2", "9.2"),
        ("10.0.50", "9.2"),
        ("10.1", "10.1"),
        ("10.1.0", "10.1"),
        ("10.1.50", "10.1"),
        ("10.2.0", "10.2"),
        ("2.12.1", "2.12"),
        ("7.2.0+dfsg", "7.2"),
        ("11.0", "10.2"),
        # development versions (micro >= 50) get the model of the release they follow
        ("10.1.91", "10.1"),
        ("9.1.50", "8.2"),
        ("8.1.50", "7.2"),
        ("8.0.50", "7.2"),
        ("7.2.49", "7.2"),
    ],
)
def test_model_for(text: str, version: str) -> None:
    assert model_for(text).version == version


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("7.2.22", "model 7.2: written for QEMU 7.2, and this is QEMU 7.2.22"),
        (
            "10.0.2",
            "model 9.2: the newest model at or below QEMU 10.0.2 (none is written for 10.0)",
        ),
        (
            "10.0.50",
            "model 9.2: QEMU 10.0.50 is a development version after 10.0,"
            " the newest model at or below it",
        ),
        ("latest", "model 10.2: asked for latest"),
    ],
)
def test_model_choice_says_which_model_and_why(text: str, why: str) -> None:
    model, line = model_choice(text)
    assert line == why and model is model_for(text)


@pytest.mark.parametrize("text", ["2.11", "banana", "", "7", "1.7.0"])
def test_model_for_rejects(text: str) -> None:
    with pytest.raises(UnknownVersionError) as info:
        model_for(text)
    assert "known models: 2.12" in str(info.value)
