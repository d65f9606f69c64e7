"""One process works a run at a time: a lease on the run itself, beside the host locks in the log's database.

Two ``itpm resume`` of one run at once would both apply to the same hosts (host locks are the run's own, so they
do not keep the two apart). The first to start holds the run's lease and renews it while it works; the second
stops at once, naming the holder. A holder killed outright stops renewing: its lease runs out after
``ITPM_LOCK_LEASE_SECONDS``, or at once when it ran on this machine and its process is gone.

>>> with RunLease(log, "r1", lease_s=120).hold():  # doctest: +SKIP
...     ...  # a second process's RunLease(log, "r1", 120).hold() raises RunAlreadyActive
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

from sqlalchemy import delete

from itpm.errors import ItpmError
from itpm.log.locks import HostLocks
from itpm.log.store import ProjectLog, locks_table

__all__ = ["RunAlreadyActive", "RunLease"]


class RunAlreadyActive(ItpmError):
    """Another process is working this run right now."""

    exit_code = 2

    def __init__(self, run_id: str, holder: str) -> None:
        super().__init__(
            f"run {run_id} is already being worked by {holder}",
            fix=f"follow it with `itpm log {run_id} --follow`; if that process is gone on another machine, its "
            "lease runs out after ITPM_LOCK_LEASE_SECONDS and `itpm resume` then carries on",
        )
        self.holder = holder


def _this_process() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


def _gone(holder: str) -> bool:
    """Return whether ``holder`` (``'pid 42 on host'``) was a process of this machine that no longer runs."""
    words = holder.split()
    if len(words) != 4 or words[0] != "pid" or words[2] != "on" or words[3] != socket.gethostname():  # noqa: PLR2004
        return False
    try:
        os.kill(int(words[1]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


class RunLease:
    """The lease of one run, taken for this process."""

    def __init__(self, log: ProjectLog, run_id: str, lease_s: float) -> None:
        self.log = log
        self.run_id = run_id
        self.key = {f"run {run_id}": f"run:{run_id}"}
        self.owner = f"{run_id} ({_this_process()})"
        self.locks = HostLocks(log, self.owner, lease_s)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the run for the ``with`` block (renewed as it goes); raise RunAlreadyActive if another has it."""
        holders = self.locks.try_acquire(self.key)
        if holders:
            holder = next(iter(holders.values())).removeprefix(f"{self.run_id} (").removesuffix(")")
            if not _gone(holder):
                raise RunAlreadyActive(self.run_id, holder)
            self._take_over()
        with self.locks.hold(self.key, wait_s=0):
            yield

    def _take_over(self) -> None:
        """Drop the lease of a holder that died on this machine, so that its resumption need not wait it out."""
        with self.log.explain_failures(f"take over run {self.run_id}"), self.log.engine.begin() as connection:
            connection.execute(delete(locks_table).where(locks_table.c.host_key == self.key[f"run {self.run_id}"]))
