"""Where the project log lives: SQLite in the state directory by default, or PostgreSQL by URL.

Both are tested. ``ITPM_LOG_URL=postgresql+psycopg://user:password@host/db`` shares one log between machines;
give it a database of its own (Prefect's, for one, has an ``events`` table too). Opening a log brings its
database to the newest schema (itpm.log.migrations); ``itpm.log.tables`` is the query side of that schema.

Each event is committed on its own, so a SIGKILL of a flow loses nothing it had logged, and carries the hash of
its run's previous event (itpm.log.chain), so that an edit, deletion or insertion afterwards shows. SQLite runs in WAL
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
from collections.abc import Iterable, Iterator
from datetime import datetime
from types import TracebackType
from typing import TypedDict, Unpack

from sqlalchemy import exc, select

from itpm.log import migrations
from itpm.log.chain import ChainHead, chain_head, event_hash, forked, last_hash, lock_run, turn
from itpm.log.database import DEFAULT_BUSY_TIMEOUT_S, READ_ONLY, log_engine, log_url, utc
from itpm.log.errors import ProjectLogError, explained, nearly_full
from itpm.log.events import Event, event_adapter
from itpm.log.runs import RunStatus, RunSummary, read_runs, track_run
from itpm.log.tables import events_table, locks_table
from itpm.settings import Settings

# Besides ProjectLog, the names its callers need with it: the error its methods raise, what ``runs`` returns, the
# default busy timeout; and ``nearly_full`` (itpm.cli) and ``locks_table`` (itpm.log.run_lease), which those
# import from here as they did before the store was split (they live in itpm.log.errors and itpm.log.tables).
__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "EventFilter",
    "ProjectLog",
    "ProjectLogError",
    "RunStatus",
    "RunSummary",
    "locks_table",
    "nearly_full",
]


# An event's insert, built once (building a statement costs as much as running it on SQLite in memory).
_INSERT_EVENT = events_table.insert().returning(events_table.c.id)

# How often an append tries when other writers keep appending to its run first. Each retry holds the run's lock
# on PostgreSQL (and SQLite's write lock) from reading the head to the insert, so only a writer that did not
# have to read the head can get in between; a second retry is already rare.
_ATTEMPTS = 50


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
        # The hash of the last event this log wrote for each run: the next event of the run follows it, unless
        # another writer appended since (then the database refuses it, and append reads the run's head).
        self._heads: dict[str, str] = {}
        # SQLite lets one writer in at a time anyway, and a thread waiting for a turn here could not open its
        # connection meanwhile (NullPool: one per write), which its turn at SQLite's lock would otherwise overlap.
        self._take_turns = not url.startswith("sqlite")
        # Reads through this engine wait for no writer (see READ_ONLY); writes go through ``engine``.
        self.reader = self.engine.execution_options(**{READ_ONLY: True})
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
            refusal = explained(error, self.url, doing, self.busy_timeout_s)
            if refusal is None:
                raise
            raise refusal from error

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
        """Commit one event, chained to its run's previous one, and its run's row in ``runs`` with it.

        Returns the event's id in the log: ``42``. The event follows the last one this log wrote for the run;
        when another writer appended to the run since (the database refuses a second event after one: see
        itpm.log.chain), it reads the run's last hash under the run's lock and tries again. Threads of this
        process appending to one run take turns.
        """
        with turn(entry.run_id) if self._take_turns else contextlib.nullcontext():
            return self._append(entry)

    def _append(self, entry: Event) -> int:
        at = utc(entry.at)
        payload = json.loads(entry.model_dump_json())
        row = {
            "run_id": entry.run_id,
            "project": entry.project,
            "kind": entry.kind,
            "at": at,
            "step": entry.step,
            "batch": entry.batch,
            "host": entry.host,
            "payload": payload,
        }
        doing = f"write run {entry.run_id}'s {entry.kind} event"
        prev_hash = self._heads.get(entry.run_id)
        for attempt in range(_ATTEMPTS):
            try:
                with self.explain_failures(doing), self.engine.begin() as connection:
                    if prev_hash is None:  # not written here yet, or another writer moved the head
                        if attempt:
                            lock_run(connection, entry.run_id)
                        prev_hash = last_hash(connection, entry.run_id)
                    digest = event_hash(entry.run_id, prev_hash, payload)
                    inserted = {**row, "prev_hash": prev_hash, "hash": digest}
                    event_id = connection.execute(_INSERT_EVENT, inserted).scalar_one()
                    track_run(connection, entry, at, digest)
            except exc.IntegrityError as error:
                if not forked(error):
                    raise
                prev_hash = None
                continue
            self._heads[entry.run_id] = digest  # only once committed: a rolled-back event is no head
            return int(event_id)
        raise ProjectLogError(
            f"could not {doing}: other writers appended to the run {_ATTEMPTS} times while it tried",
            fix="try again; if it keeps happening, find the processes writing to this run (itpm log RUN shows them)",
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
            query = query.where(events_table.c.at >= utc(since))
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

    def chain_head(self, run_id: str) -> ChainHead | None:
        """Return the head of the run's hash chain as stored (``itpm log verify`` checks it), None if unchained."""
        with self.explain_failures(f"read run {run_id}'s chain"), self.reader.connect() as connection:
            return chain_head(connection, run_id)

    def runs(self, project: str | None = None) -> list[RunSummary]:
        """Return the runs in the log (of one project), newest start first (see ``RunSummary``)."""
        with self.explain_failures("list runs"), self.reader.connect() as connection:
            return read_runs(connection, project)
