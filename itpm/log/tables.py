"""The project log's tables as the code queries them: events, host locks, one row per run, where the chain began.

They describe the newest schema only and must match the head revision of ``itpm.log.migrations`` (a test
compares them); the revisions in ``migrations/versions`` describe each step on their own and never import these.

>>> select(events_table.c.payload).where(events_table.c.run_id == "r1")  # doctest: +SKIP
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text

__all__ = ["chain_origin_table", "events_table", "locks_table", "metadata", "runs_table"]

metadata = MetaData()

events_table = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(100), nullable=False),
    Column("project", String(100), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("step", String(100)),
    Column("batch", String(200)),
    Column("host", String(255), index=True),
    Column("payload", JSON, nullable=False),
    # The run's hash chain (itpm.log.chain): hex SHA-256 of the previous event of the run and of this one; both
    # None for events logged before the chain began (see chain_origin).
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
    Index("ix_events_project_at", "project", "at"),
    # A run's events in log order: its newest, whose hash an append reads, is one index step away.
    Index("ix_events_run_id_id", "run_id", "id"),
    # One event only may follow each event of a run: two writers of a run cannot fork its chain (itpm.log.chain).
    # Events from before the chain have no prev_hash, and NULLs are distinct to a unique index.
    Index("uq_events_run_id_prev_hash", "run_id", "prev_hash", unique=True),
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
    Column("head_hash", String(64)),  # the hash of the run's last event, kept by append: a deleted tail shows
    Index("ix_runs_project_started_at", "project", "started_at"),
)

# One row (id 1), written by migration 0003 when the chain began: events up to ``unchained_through`` were logged
# before it and carry no hash; every later one must.
chain_origin_table = Table(
    "chain_origin",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("unchained_through", Integer, nullable=False),
    Column("began_at", DateTime(timezone=True), nullable=False),
)
