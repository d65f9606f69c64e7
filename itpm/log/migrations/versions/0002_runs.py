"""A ``runs`` table, one row per project run for listings, filled from the events already logged.

The row of a run is what its events say: the RunStarted payloads give project, title, requester, project file
and dry run (the first one the start time, the latest one the rest: a resumption starts the run again), the
last RunFinished after that start the status (``running`` without one), the run's last event the update time.
``ProjectLog.append`` keeps it so from here on. Also an index on events (project, at) for per-project timelines.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# The tables as this revision knows them (not itpm.log.tables', which follow the newest schema).
_events = sa.table(
    "events",
    sa.column("id", sa.Integer()),
    sa.column("run_id", sa.String()),
    sa.column("project", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("payload", sa.JSON()),
)
_runs = sa.table(
    "runs",
    sa.column("run_id", sa.String()),
    sa.column("project", sa.String()),
    sa.column("title", sa.Text()),
    sa.column("requester", sa.String()),
    sa.column("project_file", sa.Text()),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("status", sa.String()),
    sa.column("dry_run", sa.Boolean()),
)


def upgrade() -> None:
    """Create ``runs`` and the (project, at) index on events, then fill ``runs`` from the events."""
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(100), primary_key=True),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("project_file", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        # running, completed, halted, rejected, dry_run or failed; no CHECK constraint, so that a status added
        # to RunFinished later can never make logging an event fail.
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_runs_project_started_at", "runs", ["project", "started_at"])
    op.create_index("ix_events_project_at", "events", ["project", "at"])
    _backfill(op.get_bind())


def _backfill(connection: sa.Connection) -> None:
    runs: dict[str, dict[str, Any]] = {}
    starts_and_ends = (
        sa.select(_events.c.run_id, _events.c.project, _events.c.kind, _events.c.at, _events.c.payload)
        .where(_events.c.kind.in_(["run_started", "run_finished"]))
        .order_by(_events.c.id)
    )
    for event in connection.execute(starts_and_ends):
        payload: dict[str, Any] = event.payload
        run = runs.get(event.run_id)
        if event.kind == "run_started":
            runs[event.run_id] = {
                "run_id": event.run_id,
                "project": event.project,
                "title": payload.get("title", ""),
                "requester": payload.get("requester", ""),
                "project_file": payload.get("project_file", ""),
                "started_at": run["started_at"] if run else event.at,
                "updated_at": event.at,
                "status": "running",
                "dry_run": bool(payload.get("dry_run", False)),
            }
        elif run is not None:  # a RunFinished of a run that never logged its start has no row to update
            run["status"] = payload.get("status", run["status"])
    last_event = sa.select(sa.func.max(_events.c.id)).group_by(_events.c.run_id)
    for last in connection.execute(sa.select(_events.c.run_id, _events.c.at).where(_events.c.id.in_(last_event))):
        if last.run_id in runs:
            runs[last.run_id]["updated_at"] = last.at
    if runs:
        connection.execute(_runs.insert(), list(runs.values()))


def downgrade() -> None:
    """Drop ``runs`` and the (project, at) index; the events keep everything it was made from."""
    op.drop_index("ix_events_project_at", table_name="events")
    op.drop_table("runs")
