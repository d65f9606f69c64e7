"""The project log's hash chain: each event carries the hash of its run's previous event, so any edit shows.

One chain per run. An event's ``hash`` is the SHA-256 of the canonical JSON (keys sorted, no spaces, ASCII)
of three things: the run id, the previous event's hash (``prev_hash``; ``GENESIS`` for the run's first event),
and the event's payload as stored. The payload holds every column the log indexes (run, project, kind, time,
step, batch, host), so it is the whole event; ``itpm log verify`` checks that the columns agree with it. The row
id is not hashed (SQLite and PostgreSQL number rows differently, and a copied log renumbers them): the chain
itself fixes the order. Anyone can recompute a chain in a few lines of Python::

    import hashlib, json
    def event_hash(run_id, prev_hash, payload):
        document = {"event": payload, "prev": prev_hash, "run": run_id}
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
        return hashlib.sha256(text.encode("ascii")).hexdigest()

Two writers of one run (the run's process, its notices thread, ``itpm note`` from another process or machine)
must never both follow the same event: that would fork the chain. The database itself refuses it: a unique
index on ``(run_id, prev_hash)`` lets only one event follow each. So appending is optimistic and costs what it
did before the chain (one insert, one update of the run's row): ``ProjectLog`` remembers the hash of each run's
last event it wrote and inserts the next event after it; when another writer appended in between, the insert
is refused (``forked``), and the next attempt reads the run's last hash under ``lock_run`` and tries again.
Threads of one process appending to one run take ``turn``s on PostgreSQL (SQLite lets one writer in at a time
anyway). Locking the run for every append instead costs two more round trips per event on PostgreSQL
(measured: 1.8 to 2.2 times the time of an append without the chain; bench/log_append.py).

Events logged before the chain began (migration 0003) have no hash; a run that goes on after the upgrade
starts its chain at ``GENESIS``, not at a hash of its older events, so that verifying never depends on rows the
chain does not cover.

>>> event_hash("r1", GENESIS, {"kind": "note_added", "run_id": "r1", "text": "ok"})[:12]
'8f56c0863160'
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exc, func, select

from itpm.log.tables import events_table

__all__ = [
    "FORK_INDEX",
    "GENESIS",
    "SHORT_HASH",
    "ChainHead",
    "chain_head",
    "event_hash",
    "forked",
    "last_hash",
    "lock_run",
    "turn",
]

# The previous hash of a run's first chained event: 64 zeros, the length of a hash and the hash of nothing.
GENESIS = "0" * 64

# How many hex digits of a hash people see and note (48 bits: no two events of a log share them by chance).
SHORT_HASH = 12

# The unique index that lets one event only follow each event of a run (migration 0003).
FORK_INDEX = "uq_events_run_id_prev_hash"


def event_hash(run_id: str, prev_hash: str, payload: Mapping[str, Any]) -> str:
    """Return the hex SHA-256 of the event ``payload`` of run ``run_id`` following ``prev_hash``: ``'8f56c0…'``."""
    document = {"event": payload, "prev": prev_hash, "run": run_id}
    # allow_nan=False: NaN is not JSON, and another language's parser would read it differently (pydantic
    # writes NaN as null anyway, so a payload never holds one).
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _lock_key(run_id: str) -> int:
    # A signed 64-bit key from the run id. Two runs sharing a key (one chance in 2**64) only take turns.
    digest = hashlib.sha256(b"itpm-chain\0" + run_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# Appends to one run from threads of one process (the run's own, its notices thread) take turns on PostgreSQL:
# each would otherwise follow the head its log remembers, and the database would refuse all but one of them,
# again and again (measured before: four threads appending to one run took twice as long). Striped by run id,
# so that memory stays bounded; runs sharing a stripe only take turns too.
_STRIPES = 64
_turns = [threading.Lock() for _ in range(_STRIPES)]


def _fresh_turns() -> None:
    # A process forked while another thread held a stripe would wait for it forever.
    _turns[:] = [threading.Lock() for _ in range(_STRIPES)]


os.register_at_fork(after_in_child=_fresh_turns)


def turn(run_id: str) -> threading.Lock:
    """Return the lock the appends of ``run_id`` in this process hold, one at a time (see above)."""
    return _turns[zlib.crc32(run_id.encode()) % _STRIPES]


def forked(error: exc.IntegrityError) -> bool:
    """Return whether the database refused an event because another one already follows its ``prev_hash``."""
    # PostgreSQL names the index; SQLite names its columns.
    message = str(error.orig)
    return FORK_INDEX in message or "events.run_id, events.prev_hash" in message


def lock_run(connection: Connection, run_id: str) -> None:
    """Make the other locking writers of ``run_id``'s events wait until this transaction ends (PostgreSQL only).

    Taken by an append that found its run's head moved (``forked``), so that it reads the head and inserts
    after it before another does. SQLite needs nothing: the log's engine begins every write ``IMMEDIATE``, one
    writer at a time. PostgreSQL's advisory lock holds to commit or rollback; its next statement, in READ
    COMMITTED (the engine's default), reads what the writer before it committed.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_lock_key(run_id))))


def last_hash(connection: Connection, run_id: str) -> str:
    """Return the hash the run's next event follows: its last chained event's, or ``GENESIS`` if there is none."""
    query = (
        select(events_table.c.hash)
        .where(events_table.c.run_id == run_id, events_table.c.hash.is_not(None))
        .order_by(events_table.c.id.desc())
        .limit(1)
    )
    found = connection.execute(query).scalar_one_or_none()
    return str(found) if found is not None else GENESIS


@dataclass(frozen=True)
class ChainHead:
    """Where a run's chain stands: its last event's hash and how many events it covers.

    >>> ChainHead(hash="8f56c086316027cc...", chained=31).short
    '8f56c0863160'
    """

    hash: str
    chained: int

    @property
    def short(self) -> str:
        """Return the first 12 hex digits of the hash, what a person notes and compares."""
        return self.hash[:SHORT_HASH]


def chain_head(connection: Connection, run_id: str) -> ChainHead | None:
    """Return the head of the run's chain as stored (not verified), or None when no event of it is chained."""
    chained = connection.execute(
        select(func.count()).where(events_table.c.run_id == run_id, events_table.c.hash.is_not(None))
    ).scalar_one()
    if not chained:
        return None
    return ChainHead(hash=last_hash(connection, run_id), chained=int(chained))
