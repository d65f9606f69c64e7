"""Where the project log lives: SQLite in the state directory by default, or PostgreSQL by URL.

Both are tested. ``ITPM_LOG_URL=postgresql+psycopg://user:password@host/db`` shares one log between machines;
give it a database of its own (Prefect's, for one, has an ``events`` table too). Opening a log brings its
database to the newest schema (itpm.log.migrations); the tables below are the query side of that schema and
must match the newest revision (a test compares them).

Each event is committed on its own, so a SIGKILL of a flow loses nothing it had logged. SQLite runs in WAL
mode with ``BEGIN IMMEDIATE`` transactions: several flow processes append at once, and a writer waits for
another (``busy_timeout``, ``ITPM_LOG_BUSY_TIMEOUT_SECONDS``) instead of failing. Reads take no write lock, so
``itpm status`` and a run's own reads go on while another process holds the log. A write that still cannot
happen (another writer holds the log past the busy timeout, the disk is full) raises ``ProjectLogError``,
which says which file, what was being written and what to do; the events committed before it stay as they were.

>>> log = ProjectLog("sqlite:////tmp/log.sqlite")  # doctest: +SKIP
>>> log.append(PhaseChanged(run_id="r1", project="p", phase="planning"))  # doctest: +SKIP
1
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypedDict, Unpack

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    exc,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import NullPool

from itpm.errors import ItpmError
from itpm.log import migrations
from itpm.log.events import Event, RunFinished, RunStarted, event_adapter
from itpm.models.statuses import RunEnd
from itpm.settings import Settings

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "ProjectLog",
    "ProjectLogError",
    "RunStatus",
    "RunSummary",
    "events_table",
    "locks_table",
    "log_engine",
    "log_url",
    "metadata",
    "nearly_full",
    "runs_table",
]

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
    Index("ix_events_project_at", "project", "at"),
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

# One row per run, kept by ``ProjectLog.append`` from the run's events, so that listings need not read them all.
runs_table = Table(
    "runs",
    metadata,
    Column("run_id", String(100), primary_key=True),
    Column("project", String(100), nullable=False),
    Column("title", Text, nullable=False),
    Column("requester", String(200), nullable=False),
    Column("project_file", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Index("ix_runs_project_started_at", "project", "started_at"),
)

# How a run stands in the runs table: running, or how it ended (the enum of RunFinished, defined once).
RunStatus = Literal["running"] | RunEnd


class RunSummary(BaseModel):
    """A run as listings show it, from the ``runs`` table.

    >>> log.runs("baseline-rollout")[0]  # doctest: +SKIP
    RunSummary(run_id='20250101-120000-ab12', project='baseline-rollout', title='Baseline', requester='dana',
               project_file='projects/baseline-rollout.yaml', started_at=datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
               updated_at=datetime(2025, 1, 1, 12, 9, tzinfo=UTC), status='completed', dry_run=False)
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    project: str
    title: str
    requester: str
    project_file: str
    started_at: datetime
    updated_at: datetime
    status: RunStatus  # the last RunFinished after the latest RunStarted; running without one
    dry_run: bool


def log_url(settings: Settings) -> str:
    """Return the project log's database URL: ``ITPM_LOG_URL``, or SQLite in the state directory."""
    return settings.log_url or f"sqlite:///{settings.state_dir / 'project-log.sqlite'}"


# How long an SQLite writer waits for another before it gives up (seconds). Writers hold the log for one event
# (milliseconds), so only something else holds it this long: a backup, a person in the sqlite3 shell.
DEFAULT_BUSY_TIMEOUT_S = 30.0

# The execution option that marks a read (``connection.execution_options(**{_READ_ONLY: True})``): on SQLite it
# begins a deferred transaction, which in WAL mode reads the last commit while another process writes.
_READ_ONLY = "itpm_read_only"


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
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
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


class ProjectLogError(ItpmError):
    """The project log's database refused a read or write: locked by another writer past the busy timeout, or full.

    The message names the database, what was being done and the cause; nothing committed before is lost.
    """


def _explained(error: exc.OperationalError, url: str, doing: str, busy_timeout_s: float) -> ProjectLogError | None:
    """Return what ``error`` means for a person, or None when it is not a lock or a full disk (then it is a bug)."""
    cause = error.orig
    if not isinstance(cause, sqlite3.OperationalError):
        return None
    path = url.removeprefix("sqlite:///")
    directory = Path(path).parent
    code = cause.sqlite_errorcode & 0xFF  # the primary code of an extended one (SQLITE_IOERR_SHMSIZE -> SQLITE_IOERR)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return ProjectLogError(
            f"the project log {path} is locked by another writer: could not {doing} within the "
            f"{busy_timeout_s:g} s busy timeout ({cause})",
            fix=f"end the other writer's transaction (fuser -v {path} lists the processes that have it open); "
            "ITPM_LOG_BUSY_TIMEOUT_SECONDS sets how long a writer waits",
        )
    # A full disk is SQLITE_FULL when the log cannot grow, but a disk I/O error when SQLite cannot even size the
    # shared-memory file it needs to open the log in WAL mode (SQLITE_IOERR_SHMSIZE): then the free space tells.
    if code == sqlite3.SQLITE_FULL or (code == sqlite3.SQLITE_IOERR and nearly_full(directory)):
        return ProjectLogError(
            f"no space left in the state directory {directory} for the project log {path}: could not {doing} ({cause})",
            fix=f"free space in {directory} (df -h {directory}); the events logged before are intact",
        )
    if code == sqlite3.SQLITE_IOERR:
        return ProjectLogError(
            f"the project log {path} could not {doing}: {cause} ({cause.sqlite_errorname})",
            fix=f"check the file system of {directory} (dmesg, df -h {directory})",
        )
    return None


# Less free space than this is a full disk for SQLite: it grows its files by pages and shared-memory blocks.
_NEARLY_FULL_BYTES = 1 << 20


def nearly_full(directory: Path) -> bool:
    """Return whether the disk of ``directory`` has too little space left for SQLite (under 1 MiB) to grow."""
    try:
        return shutil.disk_usage(directory).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


def _utc(moment: datetime) -> datetime:
    # The log keeps UTC only. A naive time is UTC (SQLite returns every time naive); PostgreSQL would read a
    # naive parameter in the session's time zone, and returns aware times in it.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class EventFilter(TypedDict, total=False):
    """What ``ProjectLog.events`` can select by, besides the run: all given filters must match."""

    project: str | None
    kinds: Iterable[str] | None
    step: str | None
    host: str | None
    since: datetime | None
    after_id: int


class ProjectLog:
    """Append events and query them by run, project, kind, step, host and time; list runs.

    Close it (or use it as a context manager) to close its database connections.
    """

    def __init__(self, url: str, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self.url = url
        self.busy_timeout_s = busy_timeout_s
        self.engine = log_engine(url, busy_timeout_s)
        # Reads through this engine wait for no writer (see _READ_ONLY); writes go through ``engine``.
        self.reader = self.engine.execution_options(**{_READ_ONLY: True})
        try:
            with self.explain_failures("open it"):
                migrations.upgrade(self.engine, reader=self.reader)
        except BaseException:
            self.engine.dispose()
            raise

    @classmethod
    def for_settings(cls, settings: Settings) -> ProjectLog:
        """Return the log configured by ``settings`` (creating the state directory for SQLite)."""
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        return cls(log_url(settings), settings.log_busy_timeout_seconds)

    @contextlib.contextmanager
    def explain_failures(self, doing: str) -> Iterator[None]:
        """Turn a lock held past the busy timeout or a full disk into a ``ProjectLogError`` that names ``doing``.

        ``doing`` completes "could not ...": ``"write run r1's host_applied event"``. Other errors pass through.
        """
        try:
            yield
        except exc.OperationalError as error:
            explained = _explained(error, self.url, doing, self.busy_timeout_s)
            if explained is None:
                raise
            raise explained from error

    def close(self) -> None:
        """Close the pooled database connections (the log can still be used; it connects again)."""
        self.engine.dispose()

    def __enter__(self) -> ProjectLog:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self.close()

    def append(self, entry: Event) -> int:
        """Commit one event, and its run's row in ``runs`` with it; return the event's id in the log: ``42``."""
        at = _utc(entry.at)
        with self.explain_failures(f"write run {entry.run_id}'s {entry.kind} event"), self.engine.begin() as connection:
            event_id = connection.execute(
                events_table.insert()
                .values(
                    run_id=entry.run_id,
                    project=entry.project,
                    kind=entry.kind,
                    at=at,
                    step=entry.step,
                    batch=entry.batch,
                    host=entry.host,
                    payload=json.loads(entry.model_dump_json()),
                )
                .returning(events_table.c.id)
            ).scalar_one()
            _track_run(connection, entry, at)
        return int(event_id)

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
            query = query.where(events_table.c.at >= _utc(since))
        with self.explain_failures("read events"), self.reader.connect() as connection:
            rows = connection.execute(query.order_by(events_table.c.id)).all()
        return [(row.id, event_adapter.validate_python(row.payload)) for row in rows]

    def run_ids(self, project: str | None = None) -> list[str]:
        """Return the ids of the runs in the log (of one project), oldest first."""
        query = select(events_table.c.run_id).where(events_table.c.kind == "run_started")
        if project is not None:
            query = query.where(events_table.c.project == project)
        with self.explain_failures("list runs"), self.reader.connect() as connection:
            ids = [row.run_id for row in connection.execute(query.order_by(events_table.c.id))]
        return list(dict.fromkeys(ids))

    def runs(self, project: str | None = None) -> list[RunSummary]:
        """Return the runs in the log (of one project), newest start first (see ``RunSummary``)."""
        query = select(runs_table)
        if project is not None:
            query = query.where(runs_table.c.project == project)
        with self.explain_failures("list runs"), self.reader.connect() as connection:
            rows = connection.execute(query.order_by(runs_table.c.started_at.desc(), runs_table.c.run_id.desc()))
            return [
                RunSummary(
                    run_id=row.run_id,
                    project=row.project,
                    title=row.title,
                    requester=row.requester,
                    project_file=row.project_file,
                    started_at=_utc(row.started_at),
                    updated_at=_utc(row.updated_at),
                    status=row.status,
                    dry_run=row.dry_run,
                )
                for row in rows
            ]


def _track_run(connection: Connection, entry: Event, at: datetime) -> None:
    """Bring the run's row in ``runs`` up to ``entry``, as migration 0002 derives it from the events."""
    if isinstance(entry, RunStarted):
        row: dict[str, Any] = {
            "run_id": entry.run_id,
            "project": entry.project,
            "title": entry.title,
            "requester": entry.requester,
            "project_file": entry.project_file,
            "started_at": at,
            "updated_at": at,
            "status": "running",
            "dry_run": entry.dry_run,
        }
        _upsert_run(connection, row)
        return
    changes: dict[str, Any] = {"updated_at": at}
    if isinstance(entry, RunFinished):
        changes["status"] = entry.status.value
    # A run that never logged its start has no row: it is not listed, as run_ids does not list it either.
    connection.execute(update(runs_table).where(runs_table.c.run_id == entry.run_id).values(changes))


def _upsert_run(connection: Connection, row: dict[str, Any]) -> None:
    # A resumption starts the run again: it keeps its first start time and takes the rest from the new start.
    # Insert-or-update in one statement, so two processes starting one run at once cannot both insert.
    changes = {name: value for name, value in row.items() if name not in {"run_id", "started_at"}}
    if connection.dialect.name == "postgresql":
        connection.execute(
            postgresql.insert(runs_table)
            .values(row)
            .on_conflict_do_update(index_elements=[runs_table.c.run_id], set_=changes)
        )
    elif connection.dialect.name == "sqlite":
        connection.execute(
            sqlite.insert(runs_table)
            .values(row)
            .on_conflict_do_update(index_elements=[runs_table.c.run_id], set_=changes)
        )
    else:  # other databases: untested, and two processes starting one run at once may collide
        updated = connection.execute(update(runs_table).where(runs_table.c.run_id == row["run_id"]).values(changes))
        if updated.rowcount == 0:
            connection.execute(runs_table.insert().values(row))
