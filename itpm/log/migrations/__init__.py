"""The project log's schema history (alembic revisions in ``versions/``) and how a database reaches its head.

``ProjectLog`` calls ``upgrade`` whenever it opens a database, so a new itpm migrates an old log on first use:

- a database at the newest revision costs one read of the version table;
- an empty database gets every revision; one made before migrations existed (``metadata.create_all``, no
  version table) is recognised by its tables, stamped ``0001`` and upgraded with its data;
- processes opening one database at once migrate it once: the first holds a lock for the whole migration
  (PostgreSQL: ``pg_advisory_xact_lock``; SQLite: the ``BEGIN IMMEDIATE`` transaction of the log's engine),
  the others wait for it and then find the database at head.

Each migration runs in a single transaction with the lock, so a crash midway leaves the previous revision.
Revisions are written by hand and never import ``itpm.log.tables``: they describe only the newest schema,
a revision must keep describing its own step. There is no alembic.ini; ``alembic_config`` builds the
configuration in code, e.g. to run an alembic command by hand::

    with log_engine(url).begin() as connection:
        command.current(alembic_config(connection))
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, inspect, select

from itpm.errors import ItpmError

__all__ = ["VERSION_TABLE", "LogSchemaError", "alembic_config", "current_revision", "head_revision", "upgrade"]

# Not alembic's default ``alembic_version``: a database that other software also migrates with alembic would
# otherwise have one version table for two schema histories.
VERSION_TABLE = "itpm_log_version"

# Advisory locks are keyed by a number; this one ("itpmlog" in ASCII) is itpm's log migration.
_PG_LOCK_KEY = int.from_bytes(b"itpmlog", "big")

# The tables the code before migrations made with ``metadata.create_all`` (revision 0001 describes them).
_UNVERSIONED_TABLES = {
    "events": {"id", "run_id", "project", "kind", "at", "step", "batch", "host", "payload"},
    "host_locks": {"host_key", "host", "run_id", "acquired_at", "expires_at"},
}


class LogSchemaError(ItpmError):
    """The project log's database holds tables that are not (or no longer) a schema this itpm knows."""

    exit_code = 2


def alembic_config(connection: Connection | None = None) -> Config:
    """Return alembic's configuration of these migrations, to run on ``connection`` (env.py takes it from there)."""
    config = Config()
    # Config values are interpolated: a '%' in the install path must be doubled.
    config.set_main_option("script_location", str(Path(__file__).parent).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """Return the newest revision these migrations know: ``'0003'``."""
    head = _scripts().get_current_head()
    if head is None:  # only a broken install (versions/ missing) gets here
        raise LogSchemaError("itpm ships no project log migrations", fix="reinstall itpm")
    return head


def current_revision(connection: Connection) -> str | None:
    """Return the revision the database is at: ``'0003'``, or None before any (empty, or made before migrations)."""
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: Engine, reader: Engine | None = None) -> None:
    """Bring the database of ``engine`` (made by ``itpm.log.database.log_engine``) to the head revision.

    ``reader`` (``ProjectLog.reader``) checks the revision without the write lock: a log already at the head,
    the usual case, opens while another process holds the lock. Raises LogSchemaError when the database is newer
    than this itpm, or holds tables of the log's names that are not the log's.
    """
    head = head_revision()
    with (reader or engine).connect() as connection:
        if current_revision(connection) == head:
            return
    with engine.begin() as connection:
        _lock(connection)
        revision = current_revision(connection)  # another process may have migrated while we waited
        if revision == head:
            return
        if revision is None:
            _adopt_unversioned(connection)
        elif revision not in {script.revision for script in _scripts().walk_revisions()}:
            raise LogSchemaError(
                f"the project log at {engine.url} is at revision {revision}, newer than this itpm knows ({head})",
                fix="upgrade itpm on this machine to the version that migrated the log",
            )
        command.upgrade(alembic_config(connection), "head")


def _lock(connection: Connection) -> None:
    # SQLite needs nothing here: the log's engine begins every transaction IMMEDIATE, which holds the database's
    # write lock until the transaction ends, and other processes wait for it (busy_timeout).
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))


def _adopt_unversioned(connection: Connection) -> None:
    """Stamp a database made before migrations with ``0001``; leave an empty one (or others' tables) alone."""
    inspector = inspect(connection)
    present = set(inspector.get_table_names()) & set(_UNVERSIONED_TABLES)
    if not present:
        return
    problems = [f"table {name} is missing" for name in sorted(set(_UNVERSIONED_TABLES) - present)]
    for name in sorted(present):
        columns = {column["name"] for column in inspector.get_columns(name)}
        missing = sorted(_UNVERSIONED_TABLES[name] - columns)
        if missing:
            problems.append(f"table {name} lacks columns {', '.join(missing)}")
    if problems:
        raise LogSchemaError(
            f"the database at {connection.engine.url} is not an itpm project log: {'; '.join(problems)}",
            fix="give the project log a database of its own (ITPM_LOG_URL), not one that other software uses",
        )
    command.stamp(alembic_config(connection), "0001")
