"""The ``runs`` table: one row per run, kept from the run's events as they are appended, read by listings.

A run's row is made by its ``RunStarted`` (a resumption starts it again: the first start time stays), touched
by every later event, and takes its status from ``RunFinished``; migration 0002 derives the same rows from the
events of a log made before the table existed.

>>> read_runs(connection, "baseline-rollout")[0].status  # doctest: +SKIP
'completed'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from itpm.log.database import utc
from itpm.log.events import Event, RunFinished, RunStarted
from itpm.log.tables import runs_table
from itpm.models.statuses import RunEnd

__all__ = ["RunStatus", "RunSummary", "read_runs", "track_run"]

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


def read_runs(connection: Connection, project: str | None = None) -> list[RunSummary]:
    """Return the runs in the log (of one project), newest start first."""
    query = select(runs_table)
    if project is not None:
        query = query.where(runs_table.c.project == project)
    rows = connection.execute(query.order_by(runs_table.c.started_at.desc(), runs_table.c.run_id.desc()))
    return [
        RunSummary(
            run_id=row.run_id,
            project=row.project,
            title=row.title,
            requester=row.requester,
            project_file=row.project_file,
            started_at=utc(row.started_at),
            updated_at=utc(row.updated_at),
            status=row.status,
            dry_run=row.dry_run,
        )
        for row in rows
    ]


def track_run(connection: Connection, entry: Event, at: datetime, head_hash: str) -> None:
    """Bring the run's row in ``runs`` up to ``entry``, as migration 0002 derives it from the events.

    ``head_hash`` is ``entry``'s hash: the row keeps the head of the run's chain, so that deleting the run's last
    events shows (the chain alone ends where it was cut). Events before the run's start have no row to keep it.
    """
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
            "head_hash": head_hash,
        }
        _upsert_run(connection, row)
        return
    changes: dict[str, Any] = {"updated_at": at, "head_hash": head_hash}
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
