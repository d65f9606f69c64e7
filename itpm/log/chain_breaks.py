"""Where a run's hash chain breaks, from its rows as stored: the first event edited, deleted, inserted or moved.

Pure: rows in, a ``ChainBreak`` (or None) out; itpm.log.chain_audit reads the rows. Three checks, and the break
is the first event (by id) any of them finds:

- content: each chained event's hash is recomputed from its run, its ``prev_hash`` and its payload (see
  itpm.log.chain), and its columns (run, project, kind, time, step, batch, host) must say what its payload says.
  A mismatch is an edit, unless the payload is another event's (it matches that event's hash where the chain
  has it): then the two were swapped, a reordering;
- links: each event must follow the one before it (the first one ``GENESIS``). One that follows an event the
  log has after it is out of order; two that follow the same event are a fork, and the one that nothing follows
  was inserted; one that follows an event not in the log comes after a deletion, unless the chain goes round it
  (then it was inserted). The run's row in ``runs`` records the hash of its last event as appended, so events
  cut off the end, or appended behind the log's back, show too;
- origin: events with ids up to ``chain_origin.unchained_through`` were logged before the chain began and carry
  no hash; any other event without a hash, or one of those with a hash, was inserted.

Where two checks find the same event, an insertion the links show wins over the content (a forged row whose
hash was not recomputed is an insertion), and the content over the links' other findings (an edited
``prev_hash`` is an edit, though the links then miss a predecessor).

>>> first_break("r1", rows, unchained_through=0, recorded_head=rows[-1].hash).sentence  # doctest: +SKIP
'event 17 (batch_finished, marker/canary, 2026-11-26 10:31:02 UTC) was edited: its content no longer matches its hash'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from itpm.log.chain import GENESIS, SHORT_HASH, event_hash

__all__ = ["ChainBreak", "LoggedEvent", "StoredEvent", "Tampering", "first_break"]


class Tampering(StrEnum):
    """What was done to the log, as far as the chain tells."""

    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"


@dataclass(frozen=True)
class LoggedEvent:
    """An event as its row's columns say (what a person finds with SQL), to name it."""

    id: int
    kind: str
    at: datetime | None  # None when the row's time column holds no time
    step: str | None
    batch: str | None
    host: str | None

    @property
    def label(self) -> str:
        """Return the event in words: ``'event 17 (batch_finished, marker/canary, 2026-11-26 10:31:02 UTC)'``."""
        where = self.batch or self.step  # a batch's name starts with its step's: 'marker/canary'
        moment = self.at.strftime("%Y-%m-%d %H:%M:%S UTC") if self.at is not None else "no readable time"
        parts = [self.kind, *(part for part in (where, self.host) if part), moment]
        return f"event {self.id} ({', '.join(parts)})"


@dataclass(frozen=True)
class ChainBreak:
    """The first place a run's chain does not hold: what was done, to which event, and why the chain says so.

    ``event`` is the event edited, inserted or reordered; for a deletion the event after the gap (``position``
    ``'before'``), or the last one left when the run's tail is gone (``'after'``); None when no chained event of
    the run is left. ``related`` is the other event the reason names.
    """

    tampering: Tampering
    event: LoggedEvent | None
    reason: str  # "its content no longer matches its hash"
    position: Literal["at", "before", "after"] = "at"
    related: LoggedEvent | None = None

    @property
    def sentence(self) -> str:
        """Return the break in one sentence: ``'event 17 (...) was edited: its content no longer matches its hash'``."""
        if self.event is None:
            return f"the run's chained events were deleted: {self.reason}"
        if self.position == "before":
            return f"an event before {self.event.label} was deleted: {self.reason}"
        if self.position == "after":
            return f"events after {self.event.label} were deleted: {self.reason}"
        return f"{self.event.label} was {self.tampering.value}: {self.reason}"


@dataclass(frozen=True)
class StoredEvent:
    """An event's row as stored; ``payload`` is its text (SQL can leave anything there), ``at`` parsed or None."""

    id: int
    run_id: str
    project: str
    kind: str
    at: datetime | None
    step: str | None
    batch: str | None
    host: str | None
    payload: str
    prev_hash: str | None
    hash: str | None

    @property
    def logged(self) -> LoggedEvent:
        """Return the event as its columns name it."""
        return LoggedEvent(self.id, self.kind, self.at, self.step, self.batch, self.host)


# A finding: the id of the event it names, its rank among findings naming that event (lower wins), the break.
_Finding = tuple[int, int, ChainBreak]
_INSERTION, _CONTENT, _ORIGIN, _LINK, _TAIL = range(5)


def first_break(
    run_id: str, rows: Sequence[StoredEvent], unchained_through: int, recorded_head: str | None
) -> ChainBreak | None:
    """Return the first break of run ``run_id``'s chain, or None when it verifies.

    ``rows`` are the run's events in log order, ``unchained_through`` the last event id before the chain began,
    ``recorded_head`` the head hash the run's row in ``runs`` keeps (None: no row, or none kept yet).
    """
    chained = [row for row in rows if row.hash is not None]
    findings = [
        finding
        for finding in (
            _origin_break(rows, unchained_through),
            _content_break(run_id, chained),
            _link_break(chained, recorded_head),
        )
        if finding is not None
    ]
    return min(findings, key=lambda finding: finding[:2])[2] if findings else None


def _origin_break(rows: Sequence[StoredEvent], unchained_through: int) -> _Finding | None:
    for row in rows:
        if row.hash is None and row.id > unchained_through:
            reason = "it has no hash, though " + (
                f"only events up to event {unchained_through} were logged before the chain began"
                if unchained_through
                else "the log was chained from its first event"
            )
            return row.id, _ORIGIN, ChainBreak(Tampering.INSERTED, row.logged, reason)
        if row.hash is not None and row.id <= unchained_through:
            reason = f"it has a hash, though events up to event {unchained_through} were logged before the chain began"
            return row.id, _ORIGIN, ChainBreak(Tampering.INSERTED, row.logged, reason)
    return None


def _content_break(run_id: str, chained: Sequence[StoredEvent]) -> _Finding | None:
    for row in chained:
        try:
            payload = json.loads(row.payload, parse_constant=_not_json)
        except ValueError:
            return row.id, _CONTENT, ChainBreak(Tampering.EDITED, row.logged, "its content is no longer JSON")
        differs = _column_differences(row, payload)
        if event_hash(run_id, row.prev_hash or "", payload) != row.hash:
            # The only mismatch searched further: a swap leaves the content matching another event's hash.
            owner = next(
                (other for other in chained if event_hash(run_id, other.prev_hash or "", payload) == other.hash),
                None,
            )
            if owner is not None and owner is not row:
                reason = f"it holds the content of {owner.logged.label}, which the chain has in that place"
                return row.id, _CONTENT, ChainBreak(Tampering.REORDERED, row.logged, reason, related=owner.logged)
            reason = "its content no longer matches its hash" + (f" ({differs})" if differs else "")
            return row.id, _CONTENT, ChainBreak(Tampering.EDITED, row.logged, reason)
        if differs:
            return row.id, _CONTENT, ChainBreak(Tampering.EDITED, row.logged, differs)
    return None


def _not_json(constant: str) -> None:
    # Python's json reads NaN and Infinity, which are not JSON: no writer of the log stores them.
    raise ValueError(constant)


_COLUMNS = {"run_id": "run", "project": "project", "kind": "kind", "step": "step", "batch": "batch", "host": "host"}


def _column_differences(row: StoredEvent, payload: Any) -> str:  # noqa: ANN401 - any JSON: SQL can store anything
    """Return how the row's columns differ from its payload, in words ('' when they agree)."""
    if not isinstance(payload, dict):
        return "its content is no longer an event"
    for column, name in _COLUMNS.items():
        stored, said = getattr(row, column), payload.get(column)
        if stored != said:
            return f"its {name} column says {_quoted(stored)}, its content {_quoted(said)}"
    said_at = _parsed_time(payload.get("at"))
    if row.at is None or said_at is None or row.at != said_at:
        return f"its time column says {_moment(row.at)}, its content {_moment(said_at)}"
    return ""


def _quoted(value: object) -> str:
    return "nothing" if value is None else f"'{value}'"


def _moment(moment: datetime | None) -> str:
    if moment is None:
        return "no readable time"
    # To the microsecond where there are some: an edit may move a time by less than a second.
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" + (".%f" if moment.microsecond else "") + " UTC")


def _parsed_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None  # the log writes UTC times with their zone


def _link_break(chained: Sequence[StoredEvent], recorded_head: str | None) -> _Finding | None:
    expected = GENESIS
    for index, row in enumerate(chained):
        if row.prev_hash != expected:
            return _misplaced(chained, index, expected, recorded_head)
        expected = row.hash or ""
    return _tail_break(chained, recorded_head)


def _misplaced(chained: Sequence[StoredEvent], index: int, expected: str, recorded_head: str | None) -> _Finding:
    """Return why ``chained[index]`` does not follow the event before it (``expected`` is that event's hash)."""
    row = chained[index]
    where = {event.hash: position for position, event in reversed(list(enumerate(chained)))}
    followed = {event.prev_hash for event in chained}
    predecessor = where.get(row.prev_hash)
    if predecessor is not None and predecessor > index:
        before = chained[predecessor].logged
        reason = f"it follows {before.label}, which the log has after it"
        return row.id, _LINK, ChainBreak(Tampering.REORDERED, row.logged, reason, related=before)
    if predecessor is not None or row.prev_hash == GENESIS:
        # A fork: an earlier event follows the same one. The inserted one is the one nothing follows.
        siblings = [event for event in chained[: index + 1] if event.prev_hash == row.prev_hash]
        unfollowed = [event for event in siblings if event.hash not in followed and event.hash != recorded_head]
        forged = unfollowed[0] if unfollowed else row
        # The walk got here, so the event after the shared predecessor (or the first event) is a sibling too.
        other = next((event for event in siblings if event is not forged), chained[index - 1])
        reason = f"it follows the same event as {other.logged.label}"
        if forged.hash == other.hash:
            reason = f"it is a copy of {other.logged.label}"
        elif unfollowed:
            reason += ", and no event follows it"
        # Sure of the insertion only when nothing follows the forged event: otherwise an edited prev_hash, which
        # the content check names as the edit it is, looks the same from here.
        rank = _INSERTION if unfollowed else _LINK
        return forged.id, rank, ChainBreak(Tampering.INSERTED, forged.logged, reason, related=other.logged)
    # It follows an event not in the log.
    skipped = chained[index + 1].prev_hash == expected if index + 1 < len(chained) else recorded_head == expected
    if skipped:
        reason = "it follows no event of the run, and the chain goes on from the event before it"
        return row.id, _INSERTION, ChainBreak(Tampering.INSERTED, row.logged, reason)
    reason = f"it follows an event (hash {str(row.prev_hash)[:SHORT_HASH]}) that is not in the log"
    if index:
        reason += f", unless {chained[index - 1].logged.label} was rewritten with a new hash"
    return row.id, _LINK, ChainBreak(Tampering.DELETED, row.logged, reason, position="before")


def _tail_break(chained: Sequence[StoredEvent], recorded_head: str | None) -> _Finding | None:
    """Return what the run's recorded head says of the chain's end, if it disagrees with it."""
    if recorded_head is None or (chained and chained[-1].hash == recorded_head):
        return None
    if not chained:
        reason = f"the run's row records a head ({recorded_head[:SHORT_HASH]}), but no event of the run has a hash"
        return 0, _TAIL, ChainBreak(Tampering.DELETED, None, reason)
    last = chained[-1]
    recorded = next((position for position, event in enumerate(chained) if event.hash == recorded_head), None)
    if recorded is not None:
        appended, head = chained[recorded + 1], chained[recorded].logged
        reason = f"the run's row records {head.label} as its last event: this one was added without it"
        return appended.id, _TAIL, ChainBreak(Tampering.INSERTED, appended.logged, reason, related=head)
    reason = f"the run's row records a later head ({recorded_head[:SHORT_HASH]}), which no event has"
    reason += ", unless that event was rewritten with a new hash"
    return last.id, _TAIL, ChainBreak(Tampering.DELETED, last.logged, reason, position="after")
