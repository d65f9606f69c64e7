"""The project log's tables as the code queries them: events, host locks, and one row per run.

They describe the newest schema only and must match the head revision of ``itpm.log.migrations`` (a test
compares them); the revisions in ``migrations/versions`` describe each step on their own and never import these.

>>> select(events_table.c.payload).where(events_table.c.run_id == "r1")  # doctest: +SKIP
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text

__all__ = ["events_table", "locks_table", "metadata", "runs_table"]

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

# One row per run, kept by ``ProjectLog.append`` from the run's events (itpm.log.runs), so that listings need not
# read them all.
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
