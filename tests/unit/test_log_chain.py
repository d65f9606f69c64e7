"""The project log's hash chain on SQLite and PostgreSQL: an untouched log verifies, and tampering by SQL is named.

Every tampering case is made with SQL on the tables, as someone with the database's password would: a payload,
a column or a hash edited; events deleted at the start, middle and end; forged events inserted, chained or not;
events swapped or moved. Each case starts from the same log (two interleaved runs, one a realistic rollout),
restored between cases, and must be named by ``verify_chain``: what was done and to which event.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import JSON, DateTime, Engine, String, column, delete, func, insert, select, table, text, update
from sqlalchemy.exc import IntegrityError

from itpm.log.chain import FORK_INDEX, GENESIS, event_hash, forked
from itpm.log.chain_audit import ChainReport, verify_chain
from itpm.log.chain_breaks import Tampering
from itpm.log.database import log_engine
from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    BatchFinished,
    BatchStarted,
    CostBooked,
    Event,
    HostApplied,
    HostsWaited,
    HostVerified,
    NoteAdded,
    NoticeSent,
    PhaseChanged,
    RiskClosed,
    RiskRaised,
    RolledBack,
    RunFinished,
    RunStarted,
    StepAudited,
    StepPlanned,
)
from itpm.log.migrations import alembic_config
from itpm.log.store import ProjectLog
from itpm.log.tables import chain_origin_table, events_table, runs_table
from itpm.models.failures import FailureKind, HostFailure
from tests import log_writer
from tests.unit.test_hostile_input import run_cli

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
MAIN, OTHER = "baseline-20261126T100000-a1b2c3", "hardening-20261126T100500-d4e5f6"


@pytest.fixture(params=["sqlite", "postgresql"])
def chain_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh log: SQLite in memory-backed /dev/shm where there is one (each commit is synced), then PostgreSQL."""
    if request.param == "postgresql":
        yield request.getfixturevalue("postgres_url")
        return
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() else request.getfixturevalue("tmp_path")
    with tempfile.TemporaryDirectory(dir=parent, prefix="itpm-chain-") as directory:
        yield f"sqlite:///{directory}/log.sqlite"


def _rollout(run_id: str, project: str, start: datetime) -> list[Event]:
    """A one-step rollout on four hosts: audit, plan, approval, canary, a batch with a failed host rolled back."""
    clock = (start + timedelta(seconds=37 * n, microseconds=1234 * n) for n in itertools.count())
    step, canary, rest = "marker", "marker/canary", "marker/rest"

    def common(**fields: Any) -> dict[str, Any]:
        return {"run_id": run_id, "project": project, "at": next(clock), **fields}

    def failure(kind: FailureKind, host: str, **fields: str) -> HostFailure:
        return HostFailure(kind=kind, host=host, **fields)

    return [
        RunStarted(
            **common(),
            project_file=f"projects/{project}.yaml",
            title=f"{project} rollout",
            project_kind="baseline",
            environment="lab",
            requester="dana",
            hosts=["h1", "h2", "h3", "h4"],
            steps=[step],
        ),
        PhaseChanged(**common(phase="planning")),
        StepAudited(
            **common(step=step),
            stage="before",
            checks=["test_marker"],
            passed=["h1", "h3", "h4"],
            failed={"h2": [failure(FailureKind.CHECK_FAILED, "h2", check="test_marker", message="no marker")]},
            duration_s=2.5,
        ),
        StepPlanned(**common(step=step), changes={h: ["Write marker"] for h in ("h1", "h2", "h3", "h4")}),
        RiskRaised(
            **common(), risk_id="R1", title="marker breaks login", likelihood="low", impact="high", owner="dana"
        ),
        ApprovalRequested(**common(step=step), roles=["change-manager"], requester="dana"),
        ApprovalDecided(**common(step=step), approver="chris", decision="approved", comment="ok ✓", waited_s=42.5),
        NoticeSent(
            **common(), stakeholder="ops", channel="email", about="approval_decided", subject="approved", delivered=True
        ),
        PhaseChanged(**common(phase="execution")),
        BatchStarted(**common(step=step, batch=canary), hosts=["h1"]),
        HostApplied(**common(step=step, batch=canary, host="h1"), status="changed", changed_tasks=2, duration_s=1.25),
        HostVerified(**common(step=step, batch=canary, host="h1"), passed=True),
        BatchFinished(**common(step=step, batch=canary), verdict="passed", ok=["h1"], failed=[]),
        CostBooked(**common(step=step, batch=canary), category="hosts", amount=Decimal("0.40"), currency="EUR"),
        HostsWaited(**common(step=step, batch=rest), holders={"h4": OTHER}),
        BatchStarted(**common(step=step, batch=rest), hosts=["h2", "h3", "h4"]),
        HostApplied(
            **common(step=step, batch=rest, host="h2"),
            status="failed",
            failure_kind=FailureKind.TASK_FAILED,
            failed_task="Write marker",
            message="No space left on device",
        ),
        HostApplied(**common(step=step, batch=rest, host="h3"), status="changed", changed_tasks=2),
        HostApplied(**common(step=step, batch=rest, host="h4"), status="changed", changed_tasks=2),
        HostVerified(
            **common(step=step, batch=rest, host="h2"),
            passed=False,
            failures=[failure(FailureKind.NOT_VERIFIED, "h2", message="its apply failed")],
        ),
        HostVerified(**common(step=step, batch=rest, host="h3"), passed=True),
        HostVerified(**common(step=step, batch=rest, host="h4"), passed=True),
        BatchFinished(**common(step=step, batch=rest), verdict="tolerated", ok=["h3", "h4"], failed=["h2"]),
        RolledBack(**common(step=step, batch=rest), hosts=["h2"], ok=["h2"], failed={}),
        CostBooked(**common(), category="labour", amount=Decimal("120.00"), currency="EUR", role="engineer", hours=1.5),
        NoteAdded(**common(), author="dana", text="h2's disk was full: cleaned up.\nRetry next window"),
        RiskClosed(**common(), risk_id="R1", by="dana", note="login works on h1, h3, h4"),
        PhaseChanged(**common(phase="closing")),
        StepAudited(**common(step=step), stage="after", checks=["test_marker"], passed=["h1", "h3", "h4"], failed={}),
        RunFinished(**common(), status="completed"),
    ]


def _build(log: ProjectLog) -> None:
    """Log the main rollout (30 events) with seven of another run interleaved, as two runs at once write them."""
    main = _rollout(MAIN, "baseline", T0)
    other = iter(_rollout(OTHER, "hardening", T0 + timedelta(minutes=5))[:7])
    for index, event in enumerate(main):
        log.append(event)
        extra = next(other, None) if index % 4 == 3 else None
        if extra is not None:
            log.append(extra)


@dataclass(frozen=True)
class Expected:
    """What ``verify_chain`` must say of a run: the tampering and the event it names (None: it verifies)."""

    tampering: Tampering | None
    event: int | None = None
    position: str = "at"


@dataclass(frozen=True)
class _Snapshot:
    events: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    origin: list[dict[str, Any]]


class Tamperer:
    """SQL on the log's tables, as someone with the database's password would write it.

    Its first act: drop the index that refuses a second event after one (a fork), as such a person would.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.begin() as connection:
            connection.execute(text(f"DROP INDEX IF EXISTS {FORK_INDEX}"))
        with engine.connect() as connection:
            self.main = list(
                connection.execute(select(events_table.c.id).where(events_table.c.run_id == MAIN)).scalars()
            )

    def row(self, event_id: int) -> dict[str, Any]:
        with self.engine.connect() as connection:
            return dict(connection.execute(select(events_table).where(events_table.c.id == event_id)).one()._mapping)

    def set(self, event_id: int, **columns: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(events_table).where(events_table.c.id == event_id).values(columns))

    def edit(self, event_id: int, **fields: Any) -> None:
        """Change fields of the event's payload (its columns stay)."""
        self.set(event_id, payload={**self.row(event_id)["payload"], **fields})

    def delete(self, *event_ids: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(events_table).where(events_table.c.id.in_(event_ids)))

    def insert(self, **row: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(events_table).values(row))

    def forge(self, event_id: int, prev_hash: str, digest: str | None = None) -> None:
        """Insert a note by mallory at ``event_id``, following ``prev_hash``; its hash computed unless given."""
        at = datetime(2026, 11, 26, 10, 20, tzinfo=UTC)
        note = NoteAdded(run_id=MAIN, project="baseline", at=at, author="mallory", text="approved by phone")
        payload = note.model_dump(mode="json")  # what the log would store: a note that reads back as one
        self.insert(
            id=event_id,
            run_id=MAIN,
            project="baseline",
            kind="note_added",
            at=at,
            payload=payload,
            prev_hash=prev_hash,
            hash=digest if digest is not None else event_hash(MAIN, prev_hash, payload),
        )

    def hash_of(self, event_id: int) -> str:
        digest = self.row(event_id)["hash"]
        assert isinstance(digest, str)
        return digest

    def swap_ids(self, first: int, second: int) -> None:
        with self.engine.begin() as connection:
            for old, new in ((first, -1), (second, first), (-1, second)):
                connection.execute(update(events_table).where(events_table.c.id == old).values(id=new))

    def swap(self, first: int, second: int, column: str) -> None:
        one, other = self.row(first)[column], self.row(second)[column]
        self.set(first, **{column: other})
        self.set(second, **{column: one})


def _snapshot(engine: Engine) -> _Snapshot:
    with engine.connect() as connection:
        return _Snapshot(
            events=[dict(row._mapping) for row in connection.execute(select(events_table).order_by(events_table.c.id))],
            runs=[dict(row._mapping) for row in connection.execute(select(runs_table))],
            origin=[dict(row._mapping) for row in connection.execute(select(chain_origin_table))],
        )


def _restore(engine: Engine, snapshot: _Snapshot) -> None:
    """Put the log back as snapshotted, its ids ten apart: room to insert between two events (sequences leave gaps)."""
    with engine.begin() as connection:
        for table in (events_table, runs_table, chain_origin_table):
            connection.execute(delete(table))
        connection.execute(insert(events_table), [{**row, "id": row["id"] * 10} for row in snapshot.events])
        connection.execute(insert(runs_table), snapshot.runs)
        connection.execute(insert(chain_origin_table), snapshot.origin)


# Each case tampers with the log, and returns what verify_chain must say of each run (a run not named verifies).
Case = Callable[[Tamperer], dict[str, Expected]]
CASES: dict[str, Case] = {}


def case(function: Case) -> Case:
    CASES[function.__name__.replace("_", " ")] = function
    return function


@case
def edit_a_payload_field(t: Tamperer) -> dict[str, Expected]:
    t.edit(t.main[10], changed_tasks=0)
    return {MAIN: Expected(Tampering.EDITED, t.main[10])}


@case
def edit_the_first_event(t: Tamperer) -> dict[str, Expected]:
    t.edit(t.main[0], requester="chris")  # the requester is now the approver
    return {MAIN: Expected(Tampering.EDITED, t.main[0])}


@case
def edit_the_last_event(t: Tamperer) -> dict[str, Expected]:
    t.edit(t.main[-1], status="halted")
    return {MAIN: Expected(Tampering.EDITED, t.main[-1])}


@case
def edit_an_approval(t: Tamperer) -> dict[str, Expected]:
    t.edit(t.main[6], approver="dana", comment="")
    return {MAIN: Expected(Tampering.EDITED, t.main[6])}


@case
def edit_a_cost(t: Tamperer) -> dict[str, Expected]:
    t.edit(t.main[13], amount="0.04")
    return {MAIN: Expected(Tampering.EDITED, t.main[13])}


@case
def edit_the_kind_column(t: Tamperer) -> dict[str, Expected]:
    t.set(t.main[12], kind="run_halted")
    return {MAIN: Expected(Tampering.EDITED, t.main[12])}


@case
def edit_the_time_column(t: Tamperer) -> dict[str, Expected]:
    t.set(t.main[5], at=T0 - timedelta(days=1))
    return {MAIN: Expected(Tampering.EDITED, t.main[5])}


@case
def edit_the_time_in_the_payload(t: Tamperer) -> dict[str, Expected]:
    t.edit(t.main[5], at="2026-11-25T10:00:00Z")
    return {MAIN: Expected(Tampering.EDITED, t.main[5])}


@case
def edit_the_host_column(t: Tamperer) -> dict[str, Expected]:
    t.set(t.main[16], host="h3")  # `itpm log RUN --host h2` no longer shows h2's failure
    return {MAIN: Expected(Tampering.EDITED, t.main[16])}


@case
def edit_a_prev_hash(t: Tamperer) -> dict[str, Expected]:
    t.set(t.main[7], prev_hash=GENESIS)
    return {MAIN: Expected(Tampering.EDITED, t.main[7])}


@case
def edit_an_event_and_its_hash(t: Tamperer) -> dict[str, Expected]:
    row = t.row(t.main[16])
    payload = {**row["payload"], "status": "changed", "failure_kind": None, "failed_task": "", "message": ""}
    t.set(t.main[16], payload=payload, hash=event_hash(MAIN, row["prev_hash"], payload))
    return {MAIN: Expected(Tampering.DELETED, t.main[17], "before")}  # or rewritten: the reason says both


@case
def delete_the_first_event(t: Tamperer) -> dict[str, Expected]:
    t.delete(t.main[0])
    return {MAIN: Expected(Tampering.DELETED, t.main[1], "before")}


@case
def delete_a_middle_event(t: Tamperer) -> dict[str, Expected]:
    t.delete(t.main[16])
    return {MAIN: Expected(Tampering.DELETED, t.main[17], "before")}


@case
def delete_the_last_event(t: Tamperer) -> dict[str, Expected]:
    t.delete(t.main[-1])
    return {MAIN: Expected(Tampering.DELETED, t.main[-2], "after")}


@case
def delete_three_events_in_a_row(t: Tamperer) -> dict[str, Expected]:
    t.delete(*t.main[19:22])
    return {MAIN: Expected(Tampering.DELETED, t.main[22], "before")}


@case
def delete_the_run(t: Tamperer) -> dict[str, Expected]:
    t.delete(*t.main)
    return {MAIN: Expected(Tampering.DELETED, None)}


@case
def insert_a_chained_forgery(t: Tamperer) -> dict[str, Expected]:
    t.forge(t.main[9] + 5, prev_hash=t.hash_of(t.main[9]))
    return {MAIN: Expected(Tampering.INSERTED, t.main[9] + 5)}


@case
def insert_a_forgery_with_a_made_up_hash(t: Tamperer) -> dict[str, Expected]:
    t.forge(t.main[9] + 5, prev_hash=t.hash_of(t.main[9]), digest="ab" * 32)
    return {MAIN: Expected(Tampering.INSERTED, t.main[9] + 5)}


@case
def insert_a_forgery_that_follows_nothing(t: Tamperer) -> dict[str, Expected]:
    t.forge(t.main[9] + 5, prev_hash="cd" * 32)
    return {MAIN: Expected(Tampering.INSERTED, t.main[9] + 5)}


@case
def insert_a_forgery_at_the_start(t: Tamperer) -> dict[str, Expected]:
    t.forge(t.main[0] - 5, prev_hash=GENESIS)
    return {MAIN: Expected(Tampering.INSERTED, t.main[0] - 5)}


@case
def append_a_chained_forgery(t: Tamperer) -> dict[str, Expected]:
    t.forge(t.main[-1] + 5, prev_hash=t.hash_of(t.main[-1]))
    return {MAIN: Expected(Tampering.INSERTED, t.main[-1] + 5)}


@case
def insert_a_copy_of_an_event(t: Tamperer) -> dict[str, Expected]:
    t.insert(**{**t.row(t.main[20]), "id": t.main[-1] + 5})
    return {MAIN: Expected(Tampering.INSERTED, t.main[-1] + 5)}


@case
def insert_an_event_without_a_hash(t: Tamperer) -> dict[str, Expected]:
    t.insert(**{**t.row(t.main[20]), "id": t.main[10] + 5, "prev_hash": None, "hash": None})
    return {MAIN: Expected(Tampering.INSERTED, t.main[10] + 5)}


@case
def swap_two_neighbours(t: Tamperer) -> dict[str, Expected]:
    t.swap_ids(t.main[11], t.main[12])
    return {MAIN: Expected(Tampering.REORDERED, t.main[11])}


@case
def swap_two_distant_events(t: Tamperer) -> dict[str, Expected]:
    t.swap_ids(t.main[5], t.main[20])
    return {MAIN: Expected(Tampering.REORDERED, t.main[5])}


@case
def swap_two_payloads(t: Tamperer) -> dict[str, Expected]:
    t.swap(t.main[16], t.main[17], "payload")
    return {MAIN: Expected(Tampering.REORDERED, t.main[16])}


@case
def move_an_event_to_the_end(t: Tamperer) -> dict[str, Expected]:
    row = t.row(t.main[8])
    t.delete(t.main[8])
    t.insert(**{**row, "id": t.main[-1] + 5})
    return {MAIN: Expected(Tampering.REORDERED, t.main[9])}


@case
def move_an_event_to_another_run(t: Tamperer) -> dict[str, Expected]:
    t.set(t.main[13], run_id=OTHER)
    # Gone from its run; in the other, an event that follows none of that run's.
    return {MAIN: Expected(Tampering.DELETED, t.main[14], "before"), OTHER: Expected(Tampering.INSERTED, t.main[13])}


def _problems(report: ChainReport, expected: dict[str, Expected]) -> list[str]:
    """Return how the report differs from what was expected of each run (nothing: it named every break)."""
    found = []
    for run in report.runs:
        want = expected.get(run.run_id, Expected(None))
        broken = run.broken
        got = (
            Expected(broken.tampering, broken.event.id if broken.event else None, broken.position)
            if broken
            else Expected(None)
        )
        if got != want:
            found.append(f"{run.run_id}: expected {want}, got {got}: {run.summary}")
        elif broken is not None and broken.event is not None and f"event {broken.event.id} (" not in broken.sentence:
            found.append(f"{run.run_id}: the sentence does not name event {broken.event.id}: {broken.sentence}")
    missing = set(expected) - {run.run_id for run in report.runs}
    found += [f"{run_id}: not in the report" for run_id in sorted(missing)]
    return found


@pytest.mark.reliability("project log tampering")
def test_every_kind_of_tampering_is_named(chain_url: str, record_property: Callable[[str, object], None]) -> None:
    with ProjectLog(chain_url) as log:
        _build(log)
        snapshot = _snapshot(log.engine)
        _restore(log.engine, snapshot)
        assert verify_chain(log).ok  # renumbered, it still verifies: ids are not in the chain
        problems: list[str] = []
        seen: dict[str, int] = {}
        for name, tamper in CASES.items():
            _restore(log.engine, snapshot)
            expected = tamper(Tamperer(log.engine))
            report = verify_chain(log)
            problems += [f"{name}: {problem}" for problem in _problems(report, expected)]
            for run in report.broken:
                assert run.broken is not None
                seen[run.broken.tampering.value] = seen.get(run.broken.tampering.value, 0) + 1
    assert problems == []
    assert len(CASES) >= 20
    record_property("cases", len(CASES))
    record_property("observed", ", ".join(f"{what} {n}" for what, n in sorted(seen.items())) + " named")


def test_an_untouched_log_verifies(chain_url: str) -> None:
    with ProjectLog(chain_url) as log:
        _build(log)
        report = verify_chain(log)
        head = log.chain_head(MAIN)
        single = verify_chain(log, MAIN)
    assert report.ok and single.ok
    assert [(run.run_id, run.chained, run.unchained) for run in report.runs] == [(MAIN, 30, 0), (OTHER, 7, 0)]
    assert head is not None and (head.hash, head.chained) == (report.runs[0].head, 30)
    assert single.runs == report.runs[:1]
    assert report.runs[0].summary == f"run {MAIN}: verified, 30 events chained, head {head.short}"


def test_garbled_rows_on_sqlite_are_named(tmp_path: Path) -> None:
    """SQLite takes any text for a time or a payload (PostgreSQL refuses it); the check names it, it does not crash."""
    with ProjectLog(f"sqlite:///{tmp_path / 'log.sqlite'}") as log:
        _build(log)
        tamper = Tamperer(log.engine)
        with log.engine.begin() as connection:
            connection.execute(text("UPDATE events SET at = 'yesterday' WHERE id = :id"), {"id": tamper.main[9]})
        bad_time = verify_chain(log, MAIN).runs[0].broken
        with log.engine.begin() as connection:
            connection.execute(text("UPDATE events SET payload = '{not json' WHERE id = :id"), {"id": tamper.main[3]})
        bad_json = verify_chain(log, MAIN).runs[0].broken
    assert bad_time is not None and bad_time.event is not None
    assert (bad_time.tampering, bad_time.event.id) == (Tampering.EDITED, tamper.main[9])
    assert bad_time.sentence.startswith(f"event {tamper.main[9]} (batch_started, marker/canary, no readable time)")
    assert bad_time.reason.startswith("its time column says no readable time, its content 2026-11-26 10:05:33")
    assert bad_json is not None and bad_json.event is not None
    assert (bad_json.tampering, bad_json.event.id, bad_json.reason) == (
        Tampering.EDITED,
        tamper.main[3],
        "its content is no longer JSON",
    )


def _forks(engine: Engine, run_id: str) -> list[str]:
    """Return the hashes that more than one event of the run follows."""
    query = (
        select(events_table.c.prev_hash)
        .where(events_table.c.run_id == run_id)
        .group_by(events_table.c.prev_hash)
        .having(func.count() > 1)
    )
    with engine.connect() as connection:
        return [str(digest) for digest in connection.execute(query).scalars()]


def test_the_database_refuses_a_second_event_after_one(chain_url: str) -> None:
    """A fork needs the unique index dropped first: a writer's bug (or a careless INSERT) cannot make one."""
    with ProjectLog(chain_url) as log:
        _build(log)
        with log.engine.connect() as connection:
            second = connection.execute(select(events_table).where(events_table.c.run_id == MAIN).limit(2)).all()[1]
        with pytest.raises(IntegrityError) as refused, log.engine.begin() as connection:
            forged = {name: value for name, value in second._mapping.items() if name != "id"}
            connection.execute(insert(events_table).values({**forged, "hash": "ab" * 32}))
    assert forked(refused.value)


def test_logs_of_two_processes_appending_in_turn_each_follow_the_other(chain_url: str) -> None:
    """Each log remembers the head it wrote; when the other moved it, the database refuses, and it reads anew."""
    with ProjectLog(chain_url) as first, ProjectLog(chain_url) as second:
        ids = [first.append(log_writer.run_started("turns"))]
        for index in range(6):
            ids.append((second if index % 2 == 0 else first).append(log_writer.sequence("turns", index)))
        report = verify_chain(first, "turns")
        with first.engine.connect() as connection:
            rows = connection.execute(
                select(events_table.c.id, events_table.c.prev_hash, events_table.c.hash).order_by(events_table.c.id)
            ).all()
    assert report.ok and report.runs[0].chained == 7
    assert [row.id for row in rows] == ids
    assert [row.prev_hash for row in rows] == [GENESIS, *(row.hash for row in rows[:-1])]


def test_threads_appending_to_one_run_at_once_never_fork_its_chain(chain_url: str) -> None:
    """The run's own thread, its notices thread, ``itpm note``: one run, many writers, one chain."""
    writers, each = 8, 20
    with ProjectLog(chain_url) as log:
        log.append(log_writer.run_started("shared"))
        start = threading.Barrier(writers)

        def write(writer: int) -> None:
            start.wait()
            for index in range(each):
                log.append(log_writer.sequence("shared", writer * 1000 + index))

        threads = [threading.Thread(target=write, args=(writer,)) for writer in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report = verify_chain(log, "shared")
        assert _forks(log.engine, "shared") == []
    assert report.ok, report.runs[0].summary
    assert report.runs[0].chained == 1 + writers * each


def test_processes_appending_to_one_run_at_once_never_fork_its_chain(chain_url: str) -> None:
    """A run's process and ``itpm note`` in another: the lock on the run holds across processes (and machines)."""
    count = 40
    with log_writer.launch(*(["append", chain_url, "shared", str(count)] for _ in range(2))) as processes:
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            assert len(out.split()) == count + 2  # every event it logged, told once committed
    with ProjectLog(chain_url) as log:
        report = verify_chain(log, "shared")
        assert _forks(log.engine, "shared") == []
    assert report.ok, report.runs[0].summary
    assert report.runs[0].chained == 2 * (count + 2)


def test_a_log_from_before_the_chain_is_covered_from_its_next_event_on(chain_url: str) -> None:
    """Old events keep no hash and are counted as not covered; the runs go on chained; old rows are never rewritten."""
    engine = log_engine(chain_url)
    old_events = _rollout(MAIN, "baseline", T0)[:12]
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
    with engine.begin() as connection:
        for event in old_events:  # as itpm wrote them before the chain: no hash columns
            connection.execute(
                insert(_OLD_EVENTS).values(
                    run_id=event.run_id,
                    project=event.project,
                    kind=event.kind,
                    at=event.at,
                    step=event.step,
                    batch=event.batch,
                    host=event.host,
                    payload=event.model_dump(mode="json"),
                )
            )
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
    engine.dispose()
    with ProjectLog(chain_url) as log:
        old_rows = _snapshot(log.engine).events
        for event in _rollout(MAIN, "baseline", T0)[12:]:  # the run resumed after the upgrade
            log.append(event)
        for event in _rollout(OTHER, "hardening", T0)[:5]:  # and a new one
            log.append(event)
        report = verify_chain(log)
        tamper = Tamperer(log.engine)
        first_chained = tamper.row(tamper.main[12])
        assert _snapshot(log.engine).events[:12] == old_rows
        tamper.edit(tamper.main[2], passed=["h1", "h2", "h3", "h4"])  # not covered: the chain cannot see it
        after_old_edit = verify_chain(log, MAIN)
        forged_id = max(row["id"] for row in _snapshot(log.engine).events) + 1
        tamper.insert(**{**tamper.row(tamper.main[2]), "id": forged_id})  # unhashed, after the chain began
        inserted = verify_chain(log, MAIN).runs[0].broken
    assert report.ok and report.unchained_through == 12
    assert [(run.run_id, run.chained, run.unchained) for run in report.runs] == [(MAIN, 18, 12), (OTHER, 5, 0)]
    assert report.runs[0].summary.endswith("12 events before the chain began (not covered)")
    assert first_chained["prev_hash"] == GENESIS
    assert after_old_edit.ok
    assert inserted is not None and inserted.event is not None
    assert (inserted.tampering, inserted.event.id) == (Tampering.INSERTED, forged_id)
    assert "only events up to event 12 were logged before the chain began" in inserted.reason


_OLD_EVENTS = table(
    "events",
    column("run_id", String()),
    column("project", String()),
    column("kind", String()),
    column("at", DateTime(timezone=True)),
    column("step", String()),
    column("batch", String()),
    column("host", String()),
    column("payload", JSON()),
)


def test_a_noted_head_shows_a_tail_cut_off_with_its_traces(chain_url: str) -> None:
    """What the chain alone cannot see, the head a person noted from the status report shows."""
    with ProjectLog(chain_url) as log:
        _build(log)
        noted = log.chain_head(MAIN)
        tamper = Tamperer(log.engine)
        tamper.delete(tamper.main[-1])
        new_last = tamper.hash_of(tamper.main[-2])
        with log.engine.begin() as connection:  # the traces covered: the runs row points at the new last event
            connection.execute(update(runs_table).where(runs_table.c.run_id == MAIN).values(head_hash=new_last))
        report = verify_chain(log, MAIN)
        earlier = tamper.hash_of(tamper.main[5])
    assert noted is not None
    assert report.ok  # the chain that is left holds
    assert not report.runs[0].has(noted.short)
    assert report.runs[0].has(earlier[:12])  # a head noted earlier still is in it


def test_itpm_log_verify_exits_0_verified_1_tampered_2_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITPM_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("ITPM_LOG_URL", raising=False)
    with ProjectLog(f"sqlite:///{tmp_path / 'project-log.sqlite'}") as log:
        _build(log)
        head = log.chain_head(MAIN)
    assert head is not None
    verified = run_cli("log", "verify")
    noted = run_cli("log", "verify", MAIN, "--head", head.short)
    shown = run_cli("log", MAIN, "--host", "h2")  # `itpm log RUN` as before the verify command
    unknown = run_cli("log", "verify", "no-such-run")
    without_run = run_cli("log", "verify", "--head", head.short)
    tamper = Tamperer(log.engine)
    tamper.edit(tamper.main[6], approver="dana")
    tampered = run_cli("log", "verify")
    assert (verified.code, noted.code, shown.code, unknown.code, without_run.code) == (0, 0, 0, 2, 2)
    assert verified.output.splitlines()[-1] == "2 runs verified"
    assert f"the head noted, {head.short}, is in the chain" in noted.output
    assert "host_applied" in shown.output and "No space left on device" in shown.output
    assert "h3" not in shown.output
    assert "no run 'no-such-run'" in unknown.output and "fix:" in unknown.output
    assert tampered.code == 1
    assert f"run {MAIN}: event {tamper.main[6]} (approval_decided, marker, " in tampered.output
    assert "was edited: its content no longer matches its hash" in tampered.output
    assert tampered.output.splitlines()[-1] == "1 of 2 runs tampered with"
