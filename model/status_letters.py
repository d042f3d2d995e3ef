"""One-letter names of the job statuses, for tables that read like QEMU's own.

QEMU's ``job.c`` heads its transition table (``JobSTT``) and its verb table
(``JobVerbTable``) with one letter per status — ``U, C, R, P, Y, S, W, D,
X, E, N`` — and the model's tables and the oracle's checks use the same
letters, defined here once:

>>> from jobcheck.model.status_letters import LETTERS, Y
>>> Y
<Status.READY: 'ready'>
>>> "".join(LETTERS[s] for s in (U, C, R, P, Y, S, W, D, X, E, N))
'UCRPYSWDXEN'
"""

from __future__ import annotations

from jobcheck.model.lifecycle import Status

U = Status.UNDEFINED
C = Status.CREATED
R = Status.RUNNING
P = Status.PAUSED
Y = Status.READY
S = Status.STANDBY
W = Status.WAITING
D = Status.PENDING
X = Status.ABORTING
E = Status.CONCLUDED
N = Status.NULL

LETTERS: dict[Status, str] = {
    U: "U",
    C: "C",
    R: "R",
    P: "P",
    Y: "Y",
    S: "S",
    W: "W",
    D: "D",
    X: "X",
    E: "E",
    N: "N",
}
"""Each status's letter, as in the comments of QEMU's tables."""

WORKING = frozenset({U, C, R, P, Y, S})
"""The statuses of a job that has not finished its work (none of waiting and after)."""

__all__ = ["LETTERS", "C", "D", "E", "N", "P", "R", "S", "U", "W", "X", "Y"]
