"""One launched QEMU for many targets: the campaign's examples take turns on it.

Starting a QEMU, connecting and introspecting it costs about 50 ms (the bench's
"start-up to live target ready"), half of what a whole example of 25 steps
takes.  A :class:`QemuPool` makes
:class:`~jobcheck.conformance.targets.qemu.QemuTarget`\\ s that give their QEMU
back when they are closed, *clean*: every job cancelled or finished and
dismissed, every node deleted, ``query-jobs`` and ``query-named-block-nodes``
empty, the target's image files removed
(:meth:`~jobcheck.conformance.targets.qemu.QemuTarget.close`).  The next target
starts on it with a fresh job tracker, a fresh name prefix and an empty trace,
so an example's trace is what it would have been on a fresh QEMU and replays
on one.  A QEMU that crashed, failed its clean-up, quit, was interrupted, has
served :data:`MAX_SERVED` targets, or whose target made more nodes than
:data:`~jobcheck.conformance.targets.qemu.MAX_RECYCLED_NODES` (the tour) is not
taken back: it quits (or is killed) as before, and the next target launches a
new one.

Only launched QEMUs are pooled; one attached with ``--connect`` is already
shared and is never quit.  :meth:`QemuPool.close` quits the QEMU left idle and
kills one that a target still holds; at exit, a finalizer kills them if nobody
did, and a SIGKILLed jobcheck takes them along (parent-death signal), as it
does every QEMU it launches.
"""

from __future__ import annotations

import weakref

from jobcheck.conformance.targets.qemu import QemuHost, QemuTarget

MAX_SERVED = 200
"""A QEMU serves at most this many targets, then a new one is launched."""


class QemuPool:
    """Makes targets on one launched QEMU, reused while it comes back clean."""

    def __init__(
        self,
        binary: str | None,
        timeout: float = 10.0,
        model: str | None = None,
        max_served: int = MAX_SERVED,
    ) -> None:
        self.binary = binary
        self.timeout = timeout
        self.model = model
        self.max_served = max_served
        self.launched = 0
        """How many QEMUs this pool has launched."""
        self._idle: list[QemuHost] = []
        self._lent: list[QemuHost] = []
        """QEMUs a target runs on now (killed by :meth:`close` if it is still open)."""
        self._closed = False
        self._finalizer = weakref.finalize(self, _release, self._idle, self._lent)

    def make(self, seed: int = 0) -> QemuTarget:
        """A target on the idle QEMU, or on a new one (``seed`` is not used: a live QEMU has
        no randomness of jobcheck's)."""
        if self._closed:
            raise ValueError("the QEMU pool is closed")
        if self._idle:
            host = self._idle[-1]
            self._lent.append(host)
            self._idle.pop()
            return QemuTarget(timeout=self.timeout, pool=self, host=host)
        target = QemuTarget(binary=self.binary, timeout=self.timeout, model=self.model, pool=self)
        self.launched += 1
        if target.host is not None:
            self._lent.append(target.host)
        return target

    def wants(self, host: QemuHost) -> bool:
        return not self._closed and host.served < self.max_served

    def give_back(self, host: QemuHost, clean: bool) -> None:
        if clean and self.wants(host):
            self._idle.append(host)
        elif clean:
            host.resources.release()
        if host in self._lent:
            self._lent.remove(host)

    def close(self) -> None:
        """Quit the idle QEMU (a clean one: no job, no node), kill one a target still runs on
        (the campaign is over: nobody will close it). Idempotent."""
        self._closed = True
        try:
            while self._idle:
                QemuTarget(timeout=self.timeout, host=self._idle[-1]).close()
                self._idle.pop()
        finally:
            _release(self._idle, self._lent)
            self._finalizer.detach()

    def __enter__(self) -> QemuPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _release(*hosts: list[QemuHost]) -> None:
    """Kill every QEMU of ``hosts`` (at exit, for a pool nobody closed; or what is left when
    it closes)."""
    for kept in hosts:
        while kept:
            kept[-1].resources.release(0.2)
            kept.pop()
