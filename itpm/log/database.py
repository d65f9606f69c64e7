"""The project log's database connection: where it is, and an engine tuned for many writing processes.

SQLite (the default, in the state directory) runs in WAL mode with ``BEGIN IMMEDIATE`` transactions: several
flow processes append at once, and a writer waits for another (``busy_timeout``) instead of failing. Reads go
through an engine with the ``READ_ONLY`` option: they take no write lock. PostgreSQL needs no tuning.

>>> log_engine(log_url(Settings()))  # doctest: +SKIP
Engine(sqlite:////home/dana/.local/state/itpm/project-log.sqlite)
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

from itpm.settings import Settings

__all__ = ["DEFAULT_BUSY_TIMEOUT_S", "READ_ONLY", "log_engine", "log_url", "utc"]


def log_url(settings: Settings) -> str:
    """Return the project log's database URL: ``ITPM_LOG_URL``, or SQLite in the state directory."""
    return settings.log_url or f"sqlite:///{settings.state_dir / 'project-log.sqlite'}"


# How long an SQLite writer waits for another before it gives up (seconds). Writers hold the log for one event
# (milliseconds), so only something else holds it this long: a backup, a person in the sqlite3 shell.
DEFAULT_BUSY_TIMEOUT_S = 30.0

# The execution option that marks a read (``connection.execution_options(**{READ_ONLY: True})``): on SQLite it
# begins a deferred transaction, which in WAL mode reads the last commit while another process writes.
READ_ONLY = "itpm_read_only"


def log_engine(url: str, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Engine:
    """Return an engine for the log database at ``url``, tuned for many writing processes (SQLite: see above)."""
    if url.startswith("sqlite"):
        # NullPool: a connection per use, so forked workers and threads never share one.
        engine = create_engine(url, poolclass=NullPool)
        _tune_sqlite(engine, busy_timeout_s)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _tune_sqlite(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # pysqlite would open transactions lazily and deferred; itpm opens them itself, IMMEDIATE, below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        _switch_to_wal(cursor, busy_timeout_s)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writer takes the write lock at once: taken later, by the first write of a transaction that has read
        # an older snapshot, SQLite would fail it at once instead of waiting.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _switch_to_wal(cursor: sqlite3.Cursor, busy_timeout_s: float) -> None:
    # A database stays in WAL mode once switched, but processes opening a new one switch it at once, and two
    # switches can each hold a lock the other needs. SQLite then fails one at once (busy_timeout does not
    # apply to a deadlock), so that one tries again.
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


def utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC, reading a naive time as UTC: what the log stores and hands back."""
    # The log keeps UTC only. A naive time is UTC (SQLite returns every time naive); PostgreSQL would read a
    # naive parameter in the session's time zone, and returns aware times in it.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
