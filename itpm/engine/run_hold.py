"""What a run holds while it works: its lease (one process works a run at a time) and its host locks.

>>> hold = RunHold(log, "r1", lease_s=120); hold.take_lease()  # doctest: +SKIP
>>> with hold.locks.hold({"h1": "10.0.0.1:22"}, wait_s=60): ...  # doctest: +SKIP
>>> hold.let_go()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib

from itpm.log.locks import HostLocks
from itpm.log.run_lease import RunLease
from itpm.log.store import ProjectLog

__all__ = ["RunHold"]


class RunHold:
    """A run's lease and host locks, taken as the run needs them and let go together."""

    def __init__(self, log: ProjectLog, run_id: str, lease_s: float) -> None:
        self.locks = HostLocks(log, run_id, lease_s)
        self._lease = RunLease(log, run_id, lease_s)
        self._held = contextlib.ExitStack()
        self._leased = False

    def take_lease(self) -> None:
        """Hold the run's lease until ``let_go`` (idempotent); raises RunAlreadyActive naming who works the run."""
        if not self._leased:
            self._held.enter_context(self._lease.hold())
            self._leased = True

    def let_go(self) -> None:
        """Release the run's host locks and its lease (idempotent)."""
        self.locks.release()
        self._held.close()
        self._leased = False
