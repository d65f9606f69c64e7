"""Checking the project log's hash chains: ``verify_chain`` reads each run's rows and names its first break.

The checks themselves are itpm.log.chain_breaks' (pure, rows in); here the rows are read as stored, run by run
in log order, with the run's recorded head (``runs.head_hash``) and where the chain began (``chain_origin``).

What a chain cannot show: someone with write access who deletes a run's tail and also rewrites its row in
``runs``, or who recomputes every later hash after an edit, leaves a chain that verifies. Against that, the
head a person noted (the status report shows it) is the anchor: ``RunChain.has`` says whether it is still
in the chain.

>>> report = verify_chain(log, "r1")  # doctest: +SKIP
>>> report.ok, report.runs[0].summary  # doctest: +SKIP
(True, 'run r1: verified, 31 events chained, head 3f9a1c2b7d4e')
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from sqlalchemy import Connection, Text, select, type_coerce

from itpm.log.chain import SHORT_HASH
from itpm.log.chain_breaks import ChainBreak, StoredEvent, first_break
from itpm.log.database import utc
from itpm.log.store import ProjectLog
from itpm.log.tables import chain_origin_table, events_table, runs_table

__all__ = ["ChainReport", "RunChain", "read_run_chain", "verify_chain"]


@dataclass(frozen=True)
class RunChain:
    """One run's chain checked: how many events it covers, its head, and its first break (None: it verified)."""

    run_id: str
    chained: int  # events carrying a hash
    unchained: int  # events logged before the chain began: not covered
    head: str | None  # the hash of the run's last chained event, as stored
    broken: ChainBreak | None
    hashes: tuple[str, ...] = ()  # every chained event's hash, in log order

    @property
    def ok(self) -> bool:
        """Return whether the run's chain verified."""
        return self.broken is None

    def has(self, noted: str) -> bool:
        """Return whether a hash (or its first hex digits, at least 12) noted earlier is in the run's chain."""
        prefix = noted.strip().lower()
        return len(prefix) >= SHORT_HASH and any(digest.startswith(prefix) for digest in self.hashes)

    @property
    def summary(self) -> str:
        """Return the run's outcome in one line: ``'run r1: verified, 31 events chained, head 3f9a1c2b7d4e'``."""
        if self.broken is not None:
            return f"run {self.run_id}: {self.broken.sentence}"
        parts = [f"{self.chained} events chained"]
        if self.head is not None:
            parts.append(f"head {self.head[:SHORT_HASH]}")
        if self.unchained:
            parts.append(f"{self.unchained} events before the chain began (not covered)")
        return f"run {self.run_id}: verified, {', '.join(parts)}"


@dataclass(frozen=True)
class ChainReport:
    """Every run checked, in log order, and where the log's chain began.

    ``unchained_through`` is the highest event id logged before the chain began; None when the log's record of
    it (``chain_origin``) is gone, which fails the check too: without it, events without a hash after the chain
    began were read as older ones.
    """

    runs: tuple[RunChain, ...]
    unchained_through: int | None
    began_at: datetime | None

    @property
    def ok(self) -> bool:
        """Return whether every run verified and the chain's origin is on record."""
        return self.unchained_through is not None and all(run.ok for run in self.runs)

    @property
    def broken(self) -> tuple[RunChain, ...]:
        """Return the runs whose chain did not verify."""
        return tuple(run for run in self.runs if not run.ok)


def verify_chain(log: ProjectLog, run_id: str | None = None) -> ChainReport:
    """Check the chain of run ``run_id`` (None: of every run); an unknown run gives a report without runs."""
    with log.explain_failures("read the log to verify its chain"), log.reader.connect() as connection:
        origin = connection.execute(select(chain_origin_table).where(chain_origin_table.c.id == 1)).one_or_none()
        # Without the origin every event without a hash counts as inserted: the check fails loudly.
        boundary = origin.unchained_through if origin is not None else 0
        heads = _recorded_heads(connection, run_id)
        checked: list[tuple[int, RunChain]] = []
        for run, rows in groupby(_rows(connection, run_id), key=lambda row: row.run_id):
            events = list(rows)
            checked.append((events[0].id, _check_run(run, events, boundary, heads.get(run))))
    seen = {run.run_id for _, run in checked}
    # A run whose row records a head but which has no event left: all its events were deleted. Listed last.
    gone = [_check_run(run, [], boundary, head) for run, head in heads.items() if run not in seen and head]
    return ChainReport(
        runs=(*(run for _, run in sorted(checked, key=lambda pair: pair[0])), *gone),
        unchained_through=origin.unchained_through if origin is not None else None,
        began_at=utc(origin.began_at) if origin is not None else None,
    )


def read_run_chain(log: ProjectLog, run_id: str) -> tuple[RunChain, list[StoredEvent]]:
    """Return one run's chain checked and its rows as stored, read together (an evidence archive copies them).

    The rows are those the check saw, in log order (empty for a run the log does not have).
    """
    with log.explain_failures(f"read run {run_id}'s chain"), log.reader.connect() as connection:
        origin = connection.execute(select(chain_origin_table).where(chain_origin_table.c.id == 1)).one_or_none()
        boundary = origin.unchained_through if origin is not None else 0
        head = _recorded_heads(connection, run_id).get(run_id)
        rows = list(_rows(connection, run_id))
    return _check_run(run_id, rows, boundary, head), rows


def _check_run(run_id: str, rows: list[StoredEvent], boundary: int, recorded_head: str | None) -> RunChain:
    hashes = tuple(row.hash for row in rows if row.hash is not None)
    return RunChain(
        run_id=run_id,
        chained=len(hashes),
        unchained=sum(1 for row in rows if row.hash is None and row.id <= boundary),
        head=hashes[-1] if hashes else None,
        broken=first_break(run_id, rows, boundary, recorded_head),
        hashes=hashes,
    )


def _recorded_heads(connection: Connection, run_id: str | None) -> dict[str, str | None]:
    query = select(runs_table.c.run_id, runs_table.c.head_hash)
    if run_id is not None:
        query = query.where(runs_table.c.run_id == run_id)
    return {row.run_id: row.head_hash for row in connection.execute(query)}


def _rows(connection: Connection, run_id: str | None) -> Iterator[StoredEvent]:
    """Yield the events' rows run by run, each run's in log order."""
    table = events_table.c
    sqlite = connection.dialect.name == "sqlite"
    # SQLite keeps times and JSON as text, which SQL can set to anything: read both as text and parse them here,
    # so that a garbled row is reported rather than crashing the check. PostgreSQL checks both types on write;
    # its json type keeps the text as written.
    query = select(
        table.id,
        table.run_id,
        table.project,
        table.kind,
        (type_coerce(table.at, Text) if sqlite else table.at).label("at"),
        table.step,
        table.batch,
        table.host,
        (type_coerce(table.payload, Text) if sqlite else table.payload.cast(Text)).label("payload"),
        table.prev_hash,
        table.hash,
    )
    if run_id is not None:
        query = query.where(table.run_id == run_id)
    for row in connection.execute(query.order_by(table.run_id, table.id)):
        yield StoredEvent(
            id=row.id,
            run_id=row.run_id,
            project=row.project,
            kind=row.kind,
            at=_time(row.at),
            step=row.step,
            batch=row.batch,
            host=row.host,
            payload=row.payload,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


def _time(value: object) -> datetime | None:
    """Return a time column's value in UTC (SQLite's text parsed), or None when it holds no time."""
    if isinstance(value, datetime):
        return utc(value)
    try:
        return utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return None
