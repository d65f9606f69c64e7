"""The project log's migrations on SQLite and PostgreSQL: old logs upgraded with their data, one migration at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    column,
    inspect,
    select,
    table,
    text,
)

from itpm.log.database import log_engine
from itpm.log.events import CostBooked, Event, HostApplied, NoteAdded, RunFinished, RunStarted
from itpm.log.locks import HostLocks
from itpm.log.migrations import VERSION_TABLE, LogSchemaError, alembic_config, current_revision, head_revision
from itpm.log.store import ProjectLog, RunSummary
from itpm.log.tables import events_table, metadata
from tests import log_writer

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
VERSIONS = table(VERSION_TABLE, column("version_num"))


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _started(run_id: str, project: str, minutes: int, **fields: object) -> RunStarted:
    return RunStarted.model_validate(
        {
            "run_id": run_id,
            "project": project,
            "at": _at(minutes),
            "project_file": f"projects/{project}.yaml",
            "title": f"{project} rollout",
            "project_kind": "baseline",
            "environment": "lab",
            "requester": "dana",
            "hosts": ["h1", "h2"],
            "steps": ["s"],
            **fields,
        }
    )


# Runs in every state the backfill has to get right, their events interleaved as concurrent runs log them.
HISTORY: list[Event] = [
    _started("r1", "p", 0),
    HostApplied(run_id="r1", project="p", step="s", host="h1", status="changed", at=_at(1)),
    _started("r2", "q", 2, dry_run=True, requester="chris"),
    RunFinished(run_id="r1", project="p", status="halted", at=_at(3)),
    RunFinished(run_id="r2", project="q", status="dry_run", at=_at(4)),
    _started("r1", "p", 5, resumed=True, title="p rollout (resumed)"),
    _started("r3", "p", 6),
    CostBooked(run_id="r3", project="p", category="hosts", amount=Decimal("12.345"), currency="EUR", at=_at(7)),
    RunFinished(run_id="r1", project="p", status="completed", at=_at(8)),
    NoteAdded(run_id="r1", project="p", author="dana", text="done, ✓", at=_at(9)),
    HostApplied(run_id="r4", project="p", host="h2", status="ok", at=_at(10)),  # no RunStarted: no row
    _started("r5", "p", 11),
    RunFinished(run_id="r5", project="p", status="halted", at=_at(12)),
    _started("r5", "p", 13, resumed=True),  # halted, then resumed: running again
]


def _summary(run_id: str, project: str, started: int, updated: int, status: str, **fields: object) -> RunSummary:
    return RunSummary.model_validate(
        {
            "run_id": run_id,
            "project": project,
            "title": f"{project} rollout",
            "requester": "dana",
            "project_file": f"projects/{project}.yaml",
            "started_at": _at(started),
            "updated_at": _at(updated),
            "status": status,
            "dry_run": False,
            **fields,
        }
    )


EXPECTED_RUNS = [
    _summary("r5", "p", 11, 13, "running"),
    _summary("r3", "p", 6, 7, "running"),
    _summary("r2", "q", 2, 4, "dry_run", dry_run=True, requester="chris"),
    _summary("r1", "p", 0, 9, "completed", title="p rollout (resumed)"),
]

# The tables as the code before migrations declared them; it made them with metadata.create_all.
OLD_METADATA = MetaData()
Table(
    "events",
    OLD_METADATA,
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
Table(
    "host_locks",
    OLD_METADATA,
    Column("host_key", String(300), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("run_id", String(100), nullable=False, index=True),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


@pytest.fixture
def engine(log_url: str) -> Iterator[Engine]:
    engine = log_engine(log_url)
    yield engine
    engine.dispose()


def _write_old_events(engine: Engine, events: list[Event]) -> None:
    """Log ``events`` as the code before revision 0002 did: rows in ``events`` only."""
    with engine.begin() as connection:
        for event in events:
            connection.execute(
                events_table.insert().values(
                    run_id=event.run_id,
                    project=event.project,
                    kind=event.kind,
                    at=event.at,
                    step=event.step,
                    batch=event.batch,
                    host=event.host,
                    payload=event.model_dump(mode="json"),
                )
            )


def _schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return list(compare_metadata(context, metadata))


def test_the_tables_of_the_store_are_the_schema_at_head(engine: Engine) -> None:
    with ProjectLog(engine.url.render_as_string(hide_password=False)):
        pass
    assert head_revision() == "0003"
    with engine.connect() as connection:
        assert current_revision(connection) == "0003"
    assert _schema_differences(engine) == []


def test_the_runs_of_a_log_kept_by_append_are_those_the_migration_derives(log_url: str) -> None:
    with ProjectLog(log_url) as log:
        for event in HISTORY:
            log.append(event)
        assert log.runs() == EXPECTED_RUNS
        assert log.runs("q") == EXPECTED_RUNS[2:3]


def test_a_log_at_0001_is_upgraded_with_its_events_and_runs_backfilled(engine: Engine) -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
    assert set(inspect(engine).get_table_names()) == {"events", "host_locks", VERSION_TABLE}
    _write_old_events(engine, HISTORY)
    with ProjectLog(engine.url.render_as_string(hide_password=False)) as log:
        assert log.events() == HISTORY
        assert log.runs() == EXPECTED_RUNS
        with log.engine.connect() as connection:
            assert current_revision(connection) == head_revision()


def test_a_log_made_before_migrations_is_adopted_with_its_data(engine: Engine) -> None:
    OLD_METADATA.create_all(engine)
    _write_old_events(engine, HISTORY)
    with ProjectLog(engine.url.render_as_string(hide_password=False)) as log:
        HostLocks(log, "r5", lease_s=60).try_acquire({"h1": "a:22"})
    # Opened again (the adopted log is an ordinary one now): everything is there, and the schema is the head's.
    with ProjectLog(engine.url.render_as_string(hide_password=False)) as log:
        assert log.events() == HISTORY
        assert log.runs() == EXPECTED_RUNS
        assert HostLocks(log, "other", lease_s=60).held() == {"h1": "r5"}
        with log.engine.connect() as connection:
            assert connection.execute(select(VERSIONS.c.version_num)).scalars().all() == ["0003"]
    assert _schema_differences(engine) == []


def test_downgrading_to_0001_and_upgrading_again_rebuilds_the_runs(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    with ProjectLog(url) as log:
        for event in HISTORY:
            log.append(event)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
    assert "runs" not in inspect(engine).get_table_names()
    with ProjectLog(url) as log:
        assert log.runs() == EXPECTED_RUNS
        assert log.events() == HISTORY


def test_a_database_of_other_software_is_refused_untouched(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, occurred TIMESTAMP, resource TEXT)"))
    with pytest.raises(LogSchemaError, match="is not an itpm project log: table host_locks is missing; table events"):
        ProjectLog(engine.url.render_as_string(hide_password=False))
    assert set(inspect(engine).get_table_names()) == {"events"}


def test_a_log_migrated_by_a_newer_itpm_is_refused(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    ProjectLog(url).close()
    with engine.begin() as connection:
        connection.execute(VERSIONS.update().values(version_num="0099"))
    with pytest.raises(LogSchemaError, match="at revision 0099, newer than this itpm knows"):
        ProjectLog(url)


def test_processes_opening_a_fresh_log_at_once_migrate_it_once(log_url: str) -> None:
    logs = []
    with log_writer.launch(*(["open", log_url] for _ in range(4))) as processes:
        for process in processes:
            out, err = process.communicate(timeout=60)
            assert (process.returncode, out) == (0, "opened\n"), err
            logs.append(err)
    migrations = [line for err in logs for line in err.splitlines() if "Running upgrade" in line]
    assert [line.split("Running upgrade", 1)[1].split(",")[0].strip() for line in migrations] == [
        "-> 0001",
        "0001 -> 0002",
        "0002 -> 0003",
    ]
    with ProjectLog(log_url) as log:
        assert log.runs() == []
        with log.engine.connect() as connection:
            assert current_revision(connection) == "0003"
