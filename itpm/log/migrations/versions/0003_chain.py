"""A hash chain per run: each event's ``hash`` and its run's previous ``prev_hash``; where the chain began.

``events`` gets ``prev_hash`` and ``hash`` (hex SHA-256, see itpm.log.chain), ``runs`` the ``head_hash`` of its
run's last event, and ``chain_origin`` one row saying which events came before the chain: the highest event id
at the time of this migration (``unchained_through``) and when it ran. Existing events are never rewritten: they
keep no hash and stay outside the chain (``itpm log verify`` counts them as not covered), and a run that goes on
after the upgrade starts its chain at its next event. A unique index on ``(run_id, prev_hash)`` lets one event
only follow each: two writers of a run cannot fork its chain. The index on ``events.run_id`` becomes one on
``(run_id, id)``: an append may read its run's last hash, the newest row of the run, and PostgreSQL would
otherwise read every row of the run to find it (SQLite's index already held the row id).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_HASH = sa.String(64)  # hex SHA-256

# The tables as this revision knows them (not itpm.log.tables', which follow the newest schema).
_events = sa.table("events", sa.column("id", sa.Integer()))
_origin = sa.table(
    "chain_origin",
    sa.column("id", sa.Integer()),
    sa.column("unchained_through", sa.Integer()),
    sa.column("began_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Add the chain's columns and ``chain_origin``; record the events logged so far as before the chain."""
    op.add_column("events", sa.Column("prev_hash", _HASH))
    op.add_column("events", sa.Column("hash", _HASH))
    op.drop_index("ix_events_run_id", table_name="events")
    op.create_index("ix_events_run_id_id", "events", ["run_id", "id"])
    op.create_index("uq_events_run_id_prev_hash", "events", ["run_id", "prev_hash"], unique=True)
    op.add_column("runs", sa.Column("head_hash", _HASH))
    op.create_table(
        "chain_origin",
        sa.Column("id", sa.Integer(), primary_key=True),  # always 1: the table holds one row
        sa.Column("unchained_through", sa.Integer(), nullable=False),
        sa.Column("began_at", sa.DateTime(timezone=True), nullable=False),
    )
    # On PostgreSQL add_column above waited for the writers then in their transactions (it locks the table), so
    # every event committed before the chain is counted here.
    connection = op.get_bind()
    last = connection.execute(sa.select(sa.func.max(_events.c.id))).scalar_one_or_none()
    connection.execute(_origin.insert().values(id=1, unchained_through=last or 0, began_at=datetime.now(UTC)))


def downgrade() -> None:
    """Drop the chain (the events keep their content): an upgrade after this begins a new chain."""
    op.drop_table("chain_origin")
    # Batch mode: SQLite copies the table to drop a column (it keeps the rows); PostgreSQL drops it in place.
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("head_hash")
    op.drop_index("uq_events_run_id_prev_hash", table_name="events")
    op.drop_index("ix_events_run_id_id", table_name="events")
    op.create_index("ix_events_run_id", "events", ["run_id"])
    with op.batch_alter_table("events") as events:
        events.drop_column("hash")
        events.drop_column("prev_hash")
