"""Host locks: two project runs never change the same host at the same time.

A lock is a row per host in the project log's database (so it holds across flow processes and, on PostgreSQL,
across machines), owned by a run, with a lease. The holder renews its leases while it works (``hold`` runs a
heartbeat thread); a run that crashed stops renewing, and once its lease has run out another run may take the
host. All hosts of a batch are taken in one transaction or none are, so two runs cannot deadlock on each
other's halves.

Hosts are identified by address and port, not inventory name: two inventories may call one machine by two
names, and ``h1`` of two labs are different machines.

Why not Prefect's concurrency limits: they lock nothing when a limit was never created (unless strict), and
after a SIGKILL of the holder the temporary server never returns the slot (../shared/PREFECT-NOTES.md).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exc, select, update

from itpm.errors import ItpmError
from itpm.log.store import ProjectLog, ProjectLogError
from itpm.log.tables import locks_table

__all__ = ["HostLocks", "HostsLocked", "lock_key"]

_DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE


class HostsLocked(ItpmError):
    """Hosts are held by other runs; ``holders`` maps each host to the run holding it."""

    def __init__(self, holders: Mapping[str, str], waited_s: float) -> None:
        runs = sorted(set(holders.values()))
        super().__init__(
            f"hosts {', '.join(sorted(holders))} are locked by run {', '.join(runs)} (waited {waited_s:.0f} s)",
            fix="wait for that run to finish (itpm log RUN), or resume/abandon it; a crashed run's locks expire "
            "after ITPM_LOCK_LEASE_SECONDS",
        )
        self.holders = dict(holders)
        self.waited_s = waited_s


def lock_key(address: str, port: int) -> str:
    """Return the identity of a machine for locking: ``lock_key('10.77.0.2', 22) == '10.77.0.2:22'``."""
    return f"{address}:{port}"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes even for timezone-aware columns; everything here is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class HostLocks:
    """Take, renew and release host locks for one run."""

    def __init__(self, log: ProjectLog, run_id: str, lease_s: float) -> None:
        self.log = log
        self.run_id = run_id
        self.lease_s = lease_s

    def try_acquire(self, hosts: Mapping[str, str]) -> dict[str, str]:
        """Take every host of ``hosts`` (name -> lock key) or none; return the holders that prevented it."""
        moment = _now()
        expires = moment + timedelta(seconds=self.lease_s)
        keys = {key: name for name, key in hosts.items()}
        try:
            with (
                self.log.explain_failures(f"take host locks for run {self.run_id}"),
                self.log.engine.begin() as connection,
            ):
                rows = connection.execute(select(locks_table).where(locks_table.c.host_key.in_(list(keys)))).all()
                holders = {
                    keys[row.host_key]: row.run_id
                    for row in rows
                    if row.run_id != self.run_id and _aware(row.expires_at) > moment
                }
                if holders:
                    return holders
                # Expired leases (crashed runs) and this run's own earlier locks are taken over. The conditions
                # are checked again here, not only by the read above: on PostgreSQL another run may have taken
                # or renewed a lock since (each statement sees what is committed when it starts), and that lock
                # must stay; the insert below then fails on it.
                connection.execute(
                    delete(locks_table).where(
                        locks_table.c.host_key.in_(list(keys)),
                        (locks_table.c.run_id == self.run_id) | (locks_table.c.expires_at <= moment),
                    )
                )
                # In key order: two runs inserting overlapping hosts wait on the first key they share instead
                # of each holding a key the other wants (a deadlock on PostgreSQL).
                connection.execute(
                    locks_table.insert(),
                    [
                        {
                            "host_key": key,
                            "host": keys[key],
                            "run_id": self.run_id,
                            "acquired_at": moment,
                            "expires_at": expires,
                        }
                        for key in sorted(keys)
                    ],
                )
        except exc.IntegrityError:  # another run took a host between our read and write (PostgreSQL)
            return {name: "another run" for name in hosts}
        except exc.OperationalError as error:
            # PostgreSQL broke a deadlock by ending this transaction: the takeover of an expired lease met its
            # holder's late renewal (which locks the same rows in another order). Like a held host: try again.
            if getattr(error.orig, "sqlstate", None) != _DEADLOCK_DETECTED:
                raise
            return {name: "another run" for name in hosts}
        return {}

    def acquire(
        self,
        hosts: Mapping[str, str],
        *,
        wait_s: float,
        poll_s: float = 1.0,
        on_wait: Callable[[dict[str, str]], None] | None = None,
    ) -> float:
        """Take all ``hosts``, waiting up to ``wait_s`` for other runs; return seconds waited.

        Raises HostsLocked naming the holders when they still hold hosts after ``wait_s`` (0: fail fast).
        """
        started = time.monotonic()
        told = False
        while True:
            holders = self.try_acquire(hosts)
            if not holders:
                return time.monotonic() - started
            waited = time.monotonic() - started
            if waited >= wait_s:
                raise HostsLocked(holders, waited)
            if on_wait is not None and not told:
                on_wait(holders)
                told = True
            time.sleep(min(poll_s, max(0.05, wait_s - waited)))

    def renew(self) -> None:
        """Extend the lease of every lock this run holds."""
        with self.log.explain_failures(f"renew run {self.run_id}'s host locks"), self.log.engine.begin() as connection:
            connection.execute(
                update(locks_table)
                .where(locks_table.c.run_id == self.run_id)
                .values(expires_at=_now() + timedelta(seconds=self.lease_s))
            )

    def release(self, hosts: Mapping[str, str] | None = None) -> None:
        """Release this run's locks on ``hosts`` (all of them when None)."""
        query = delete(locks_table).where(locks_table.c.run_id == self.run_id)
        if hosts is not None:
            query = query.where(locks_table.c.host_key.in_(list(hosts.values())))
        with (
            self.log.explain_failures(f"release run {self.run_id}'s host locks"),
            self.log.engine.begin() as connection,
        ):
            connection.execute(query)

    def held(self) -> dict[str, str]:
        """Return every live lock: host name -> run id (for status displays and tests)."""
        moment = _now()
        with self.log.explain_failures("read host locks"), self.log.reader.connect() as connection:
            rows = connection.execute(select(locks_table)).all()
        return {row.host: row.run_id for row in rows if _aware(row.expires_at) > moment}

    @contextlib.contextmanager
    def hold(
        self,
        hosts: Mapping[str, str],
        *,
        wait_s: float,
        on_wait: Callable[[dict[str, str]], None] | None = None,
    ) -> Iterator[float]:
        """Hold ``hosts`` for the ``with`` block, renewing the lease until it ends; yield seconds waited."""
        waited = self.acquire(hosts, wait_s=wait_s, on_wait=on_wait)
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(self.lease_s / 3):
                # A missed beat is retried; the lease has slack.
                with contextlib.suppress(exc.SQLAlchemyError, ProjectLogError):
                    self.renew()

        beat = threading.Thread(target=heartbeat, name=f"lock-heartbeat-{self.run_id}", daemon=True)
        beat.start()
        try:
            yield waited
        except BaseException:
            stop.set()
            beat.join()
            # The error that ended the block is the one to report. When the log cannot be written (locked by
            # another writer, disk full) the release cannot be either: the lease then runs out, and a resumption
            # of this run takes its own locks back at once.
            with contextlib.suppress(exc.SQLAlchemyError, ProjectLogError):
                self.release(hosts)
            raise
        stop.set()
        beat.join()
        self.release(hosts)
