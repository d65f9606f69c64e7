"""The schema from before migrations: events and host locks, as ``metadata.create_all`` made them.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``events`` and ``host_locks`` with the indexes ``index=True`` gave their columns."""
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(100), nullable=False),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step", sa.String(100)),
        sa.Column("batch", sa.String(200)),
        sa.Column("host", sa.String(255)),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    for column in ("run_id", "project", "at", "host"):
        op.create_index(f"ix_events_{column}", "events", [column])
    op.create_table(
        "host_locks",
        sa.Column("host_key", sa.String(300), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(100), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_host_locks_run_id", "host_locks", ["run_id"])


def downgrade() -> None:
    """Drop both tables (and so every event and lock)."""
    op.drop_table("host_locks")
    op.drop_table("events")
