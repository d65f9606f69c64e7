"""Where the project log lives: SQLite in the state directory by default, or another SQLAlchemy URL.

Only SQLite is tested so far; PostgreSQL (shared with a scaled-out Prefect) needs a driver and its own tests.

Each event is committed on its own, so a SIGKILL of a flow loses nothing it had logged. SQLite runs in WAL
mode with ``BEGIN IMMEDIATE`` transactions: several flow processes append at once, and a writer waits for
another (``busy_timeout``) instead of failing.

>>> log = ProjectLog("sqlite://")  # doctest: +SKIP
>>> log.append(PhaseChanged(run_id="r1", project="p", phase="planning"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import TypedDict, Unpack

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
)
from sqlalchemy.pool import NullPool

from itpm.log.events import Event, event_adapter
from itpm.settings import Settings

__all__ = ["ProjectLog", "events_table", "locks_table", "log_url", "metadata"]

metadata = MetaData()

events_table = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(100), nullable=False, index=True),
    Column("project", String(100), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("step", String(100)),
    Column("batch", String(200)),
    Column("host", String(255), index=True),
    Column("payload", JSON, nullable=False),
)

# Host locks live beside the events (see itpm.log.locks): the same database, so they hold wherever the log does.
locks_table = Table(
    "host_locks",
    metadata,
    Column("host_key", String(300), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("run_id", String(100), nullable=False, index=True),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


def log_url(settings: Settings) -> str:
    """Return the project log's database URL: ``ITPM_LOG_URL``, or SQLite in the state directory."""
    return settings.log_url or f"sqlite:///{settings.state_dir / 'project-log.sqlite'}"


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # pysqlite would open transactions lazily and deferred; itpm opens them itself, IMMEDIATE, below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class EventFilter(TypedDict, total=False):
    """What ``ProjectLog.events`` can select by, besides the run: all given filters must match."""

    project: str | None
    kinds: Iterable[str] | None
    step: str | None
    host: str | None
    since: datetime | None
    after_id: int


class ProjectLog:
    """Append events and query them by run, project, kind, step, host and time."""

    def __init__(self, url: str) -> None:
        self.url = url
        sqlite = url.startswith("sqlite")
        # NullPool for SQLite: a connection per use, so forked workers and threads never share one.
        self.engine = create_engine(url, poolclass=NullPool) if sqlite else create_engine(url, pool_pre_ping=True)
        if sqlite:
            _tune_sqlite(self.engine)
        metadata.create_all(self.engine)

    @classmethod
    def for_settings(cls, settings: Settings) -> ProjectLog:
        """Return the log configured by ``settings`` (creating the state directory for SQLite)."""
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        return cls(log_url(settings))

    def append(self, entry: Event) -> None:
        """Commit one event."""
        with self.engine.begin() as connection:
            connection.execute(
                events_table.insert().values(
                    run_id=entry.run_id,
                    project=entry.project,
                    kind=entry.kind,
                    at=entry.at,
                    step=entry.step,
                    batch=entry.batch,
                    host=entry.host,
                    payload=json.loads(entry.model_dump_json()),
                )
            )

    def events(self, run_id: str | None = None, **filters: Unpack[EventFilter]) -> list[Event]:
        """Return matching events in the order they were logged."""
        return [entry for _, entry in self.events_with_ids(run_id, **filters)]

    def events_with_ids(self, run_id: str | None = None, **filters: Unpack[EventFilter]) -> list[tuple[int, Event]]:
        """Return matching ``(id, event)`` pairs in log order; ``after_id`` continues a previous read (follow)."""
        query = select(events_table.c.id, events_table.c.payload).where(events_table.c.id > filters.get("after_id", 0))
        if run_id is not None:
            query = query.where(events_table.c.run_id == run_id)
        for column in ("project", "step", "host"):
            value = filters.get(column)
            if value is not None:
                query = query.where(events_table.c[column] == value)
        kinds = filters.get("kinds")
        if kinds is not None:
            query = query.where(events_table.c.kind.in_(list(kinds)))
        since = filters.get("since")
        if since is not None:
            query = query.where(events_table.c.at >= since)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(events_table.c.id)).all()
        return [(row.id, event_adapter.validate_python(row.payload)) for row in rows]

    def run_ids(self, project: str | None = None) -> list[str]:
        """Return the ids of the runs in the log (of one project), oldest first."""
        query = select(events_table.c.run_id).where(events_table.c.kind == "run_started")
        if project is not None:
            query = query.where(events_table.c.project == project)
        with self.engine.connect() as connection:
            ids = [row.run_id for row in connection.execute(query.order_by(events_table.c.id))]
        return list(dict.fromkeys(ids))
