"""Alembic's entry point for the project log: run the revisions on the connection itpm hands over.

itpm migrates a database when it opens it (``itpm.log.migrations.upgrade``), inside one transaction that
holds the migration lock; this script joins that transaction rather than opening its own.
"""

from __future__ import annotations

from alembic import context

from itpm.log.migrations import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the project log's migrations run on a connection given by itpm.log.migrations.alembic_config(connection); "
        "opening a ProjectLog migrates its database"
    )
context.configure(connection=connection, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
