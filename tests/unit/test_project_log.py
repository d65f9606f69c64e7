"""The project log and host locks on SQLite and PostgreSQL: typed events, runs, many writers, kills, locks."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text

from itpm.log.chain_audit import verify_chain
from itpm.log.events import (
    BatchStarted,
    CostBooked,
    Event,
    HostApplied,
    PhaseChanged,
    RunFinished,
    RunStarted,
)
from itpm.log.locks import HostLocks, HostsLocked
from itpm.log.store import ProjectLog, RunStatus, RunSummary
from itpm.log.tables import locks_table
from itpm.models.statuses import RunEnd
from tests import log_writer


@pytest.fixture
def log(log_url: str) -> Iterator[ProjectLog]:
    with ProjectLog(log_url) as opened:
        yield opened


def _started(run_id: str, project: str, at: datetime, **fields: object) -> RunStarted:
    return RunStarted.model_validate(
        {
            "run_id": run_id,
            "project": project,
            "at": at,
            "project_file": f"projects/{project}.yaml",
            "title": f"{project} rollout",
            "project_kind": "baseline",
            "environment": "lab",
            "requester": "dana",
            "hosts": ["h1"],
            "steps": ["s"],
            **fields,
        }
    )


def _untimed(events: Iterable[Event]) -> list[dict[str, object]]:
    return [event.model_dump(exclude={"at"}) for event in events]


def test_events_come_back_typed_and_filtered(log: ProjectLog) -> None:
    log.append(PhaseChanged(run_id="r1", project="p", phase="planning"))
    log.append(BatchStarted(run_id="r1", project="p", step="s", batch="s/canary", hosts=["h1"]))
    log.append(HostApplied(run_id="r1", project="p", step="s", batch="s/canary", host="h1", status="changed"))
    log.append(HostApplied(run_id="r2", project="q", step="s", batch="s/canary", host="h1", status="ok"))
    events = log.events("r1")
    assert [e.kind for e in events] == ["phase_changed", "batch_started", "host_applied"]
    assert isinstance(events[2], HostApplied) and events[2].status == "changed"
    assert [e.run_id for e in log.events(host="h1")] == ["r1", "r2"]
    assert [e.project for e in log.events(project="q")] == ["q"]
    assert log.events("r1", kinds=["batch_started"])[0].kind == "batch_started"


def test_append_returns_the_id_events_with_ids_gives(log: ProjectLog) -> None:
    cost = CostBooked(run_id="r1", project="p", category="labour", amount=Decimal("1234.50"), currency="EUR")
    ids = [log.append(PhaseChanged(run_id="r1", project="p", phase="planning")), log.append(cost)]
    assert ids[0] < ids[1]
    assert log.events_with_ids("r1") == [(ids[0], log.events("r1")[0]), (ids[1], cost)]
    assert log.events_with_ids("r1", after_id=ids[0]) == [(ids[1], cost)]  # Decimal amount intact


def test_times_are_compared_in_utc_whatever_zone_they_were_given_in(log: ProjectLog) -> None:
    # 12:00 at +02:00 is 10:00 UTC, before 11:00 UTC: a store keeping local wall times would order them wrong.
    berlin = timezone(timedelta(hours=2))
    log.append(PhaseChanged(run_id="r1", project="p", phase="early", at=datetime(2025, 6, 1, 12, 0, tzinfo=berlin)))
    log.append(PhaseChanged(run_id="r1", project="p", phase="late", at=datetime(2025, 6, 1, 11, 0, tzinfo=UTC)))
    log.append(PhaseChanged(run_id="r1", project="p", phase="naive", at=datetime(2025, 6, 1, 11, 30)))  # as UTC
    since = datetime(2025, 6, 1, 10, 30, tzinfo=UTC)
    assert [e.phase for e in log.events(since=since) if isinstance(e, PhaseChanged)] == ["late", "naive"]
    assert [e.kind for e in log.events(since=datetime(2025, 6, 1, 11, 15))] == ["phase_changed"]  # naive: UTC


def test_runs_follow_their_events(log: ProjectLog) -> None:
    t0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
    log.append(_started("r1", "p", t0))
    log.append(HostApplied(run_id="r1", project="p", host="h1", status="ok", at=t0 + timedelta(minutes=5)))
    log.append(_started("r2", "q", t0 + timedelta(minutes=1), dry_run=True, title="dry"))
    [second, first] = log.runs()
    assert first == RunSummary(
        run_id="r1",
        project="p",
        title="p rollout",
        requester="dana",
        project_file="projects/p.yaml",
        started_at=t0,
        updated_at=t0 + timedelta(minutes=5),
        status="running",
        dry_run=False,
    )
    assert (second.run_id, second.dry_run, second.title) == ("r2", True, "dry")
    assert [run.run_id for run in log.runs("p")] == ["r1"]
    assert log.runs("nobody") == []

    log.append(RunFinished(run_id="r1", project="p", status="halted", at=t0 + timedelta(minutes=6)))
    assert log.runs("p")[0].status == "halted"
    # A resumption runs again from its first start; its RunFinished ends it once more.
    log.append(_started("r1", "p", t0 + timedelta(hours=1), resumed=True, title="p rollout, again"))
    assert log.runs("p")[0].model_dump(include={"status", "started_at", "title"}) == {
        "status": "running",
        "started_at": t0,
        "title": "p rollout, again",
    }
    log.append(RunFinished(run_id="r1", project="p", status="completed", at=t0 + timedelta(hours=2)))
    assert (log.runs("p")[0].status, log.runs("p")[0].updated_at) == ("completed", t0 + timedelta(hours=2))
    # Events of a run that never logged its start make no row (run_ids does not list it either).
    log.append(HostApplied(run_id="r3", project="p", host="h1", status="ok"))
    assert [run.run_id for run in log.runs()] == ["r2", "r1"] and log.run_ids() == ["r1", "r2"]


def test_a_run_status_names_every_way_a_run_can_finish() -> None:
    # The runs table has no CHECK constraint (logging must not fail), so this test keeps the two in step.
    assert RunFinished.model_fields["status"].annotation is RunEnd
    summary = TypeAdapter(RunStatus)
    assert {summary.validate_python(s) for s in ["running", *RunEnd]} == {"running", *RunEnd}
    with pytest.raises(ValidationError):
        summary.validate_python("finished somehow")


@pytest.mark.parametrize("writers", [2, 5])
def test_concurrent_processes_lose_and_mix_nothing(log: ProjectLog, writers: int) -> None:
    count = 200
    runs = [f"run{n}" for n in range(writers)]
    with log_writer.launch(*(["append", log.url, run_id, str(count)] for run_id in runs)) as processes:
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            assert len(out.split()) == count + 2
    for run_id in runs:
        events = log.events(run_id)
        assert [e.run_id for e in events] == [run_id] * (count + 2)  # no event of another run
        assert [e.host for e in events[1:-1]] == [f"h{i}" for i in range(count)]  # all there, in writing order
        assert _untimed(events[1:-1]) == _untimed(log_writer.sequence(run_id, i) for i in range(count))
        assert [e.kind for e in (events[0], events[-1])] == ["run_started", "run_finished"]
    assert sorted(run.run_id for run in log.runs() if run.status == "completed") == runs
    assert verify_chain(log).ok  # each run's chain whole: writers of other runs do not break it


def _read_lines(process: subprocess.Popen[str], at_least: int, timeout_s: float) -> bytes:
    """Return the writer's output once it has printed ``at_least`` lines (0: all of it, up to its end).

    Read from the pipe itself, not its buffered reader, so that a line is seen as soon as the writer flushes it.
    """
    assert process.stdout is not None
    output = b""
    deadline = time.monotonic() + timeout_s
    while at_least == 0 or output.count(b"\n") < at_least:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the writer printed {len(output.splitlines())} lines in {timeout_s} s"
        readable, _, _ = select.select([process.stdout], [], [], remaining)
        if readable:
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                assert at_least == 0, "the writer ended before it was killed"
                break
            output += chunk
    return output


def test_a_sigkilled_writer_loses_nothing_it_was_told_was_logged(log: ProjectLog) -> None:
    with log_writer.launch(["append", log.url, "killed", "0"]) as [process]:
        output = _read_lines(process, 51, 60)  # RunStarted and 50 events
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        output += _read_lines(process, 0, 10)
    # Only whole lines: the kill may cut the last one short.
    printed = [int(line) for line in output.split(b"\n")[:-1]]
    assert len(printed) >= 51 and printed == sorted(set(printed))
    logged = log.events_with_ids("killed")  # every payload validates on the way back
    ids = [event_id for event_id, _ in logged]
    assert ids == sorted(set(ids))
    assert set(printed) <= set(ids)
    expected = (log_writer.sequence("killed", i) for i in range(len(printed) - 1))
    assert _untimed(event for _, event in logged[1 : len(printed)]) == _untimed(expected)
    assert log.runs()[0].status == "running"  # the killed run never finished
    assert verify_chain(log, "killed").ok  # the kill cut no event in half: the chain holds to the last commit
    log.append(RunFinished(run_id="killed", project="p", status="failed"))  # and the log takes more events
    assert log.runs()[0].status == "failed"
    assert verify_chain(log, "killed").runs[0].chained == len(ids) + 1


def test_locks_exclude_other_runs_until_released(log: ProjectLog) -> None:
    first, second = HostLocks(log, "run-a", lease_s=60), HostLocks(log, "run-b", lease_s=60)
    hosts = {"h1": "10.77.0.2:22", "h2": "10.77.0.3:22"}
    assert first.try_acquire(hosts) == {}
    assert second.try_acquire({"h2": "10.77.0.3:22", "h3": "10.77.0.4:22"}) == {"h2": "run-a"}
    assert "h3" not in first.held()  # all or nothing: run-b took no host
    with pytest.raises(HostsLocked, match="locked by run run-a") as raised:
        second.acquire(hosts, wait_s=0)
    assert raised.value.holders == {"h1": "run-a", "h2": "run-a"}
    first.release()
    assert second.try_acquire(hosts) == {}


def test_a_crashed_runs_locks_expire(log: ProjectLog) -> None:
    HostLocks(log, "crashed", lease_s=0.3).try_acquire({"h1": "a:22"})
    other = HostLocks(log, "next", lease_s=60)
    assert other.try_acquire({"h1": "a:22"}) == {"h1": "crashed"}
    time.sleep(0.4)
    assert other.try_acquire({"h1": "a:22"}) == {}


def test_hold_waits_for_the_holder_and_renews_its_own_lease(log: ProjectLog) -> None:
    holder = HostLocks(log, "holder", lease_s=0.6)
    waiter = HostLocks(log, "waiter", lease_s=60)
    seen: list[dict[str, str]] = []
    with holder.hold({"h1": "a:22"}, wait_s=0):
        time.sleep(1.0)  # longer than the lease: the heartbeat must keep it
        assert waiter.try_acquire({"h1": "a:22"}) == {"h1": "holder"}
    waited = waiter.acquire({"h1": "a:22"}, wait_s=5, on_wait=seen.append)
    assert waited < 1 and seen == []  # released at the end of the block
    assert log.events() == []  # locks write no events


def test_runs_racing_for_the_same_hosts_never_hold_them_together(log: ProjectLog) -> None:
    # Each run names the hosts in another order: on PostgreSQL, inserts in those orders would deadlock.
    hosts = {"h1": "a:22", "h2": "b:22", "h3": "c:22"}
    orders = [dict(sorted(hosts.items(), reverse=n % 2 == 1)) for n in range(4)]
    guard = threading.Lock()
    holding: set[str] = set()
    acquired: list[str] = []
    errors: list[BaseException] = []

    def contend(run_id: str, wanted: dict[str, str]) -> None:
        locks = HostLocks(log, run_id, lease_s=60)
        try:
            for _ in range(15):
                if locks.try_acquire(wanted) == {}:
                    with guard:
                        assert not holding, f"{run_id} got the hosts while {holding} held them"
                        holding.add(run_id)
                        acquired.append(run_id)
                    time.sleep(0.002)
                    with guard:
                        holding.remove(run_id)
                    locks.release()
        except BaseException as error:  # the main thread reports it
            errors.append(error)

    threads = [threading.Thread(target=contend, args=(f"run{n}", order)) for n, order in enumerate(orders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert acquired  # the race was run: some run got the hosts, never two at once


def test_a_takeover_meeting_a_late_renewal_waits_instead_of_failing(postgres_url: str) -> None:
    # PostgreSQL only: SQLite runs one writing transaction at a time, so the two cannot interleave there.
    # PostgreSQL ends the transaction whose own deadlock check (deadlock_timeout after it began to wait) finds the
    # cycle. The takeover waits first, so its check must come after the renewal closed the cycle, under any load:
    # 5 s for the takeover's sessions, 60 s for the renewal (at the default 1 s a slow machine let the renewal's
    # check come first and end the renewal instead, now and then).
    with ProjectLog(postgres_url) as setup, setup.engine.begin() as connection:
        database = connection.execute(text("SELECT current_database()")).scalar_one()
        connection.execute(text(f"ALTER DATABASE \"{database}\" SET deadlock_timeout = '5s'"))
    with ProjectLog(postgres_url) as log:
        late = HostLocks(log, "late", lease_s=0.05)
        late.try_acquire({"h1": "a:22", "h2": "b:22"})
        time.sleep(0.1)
        taker = HostLocks(log, "taker", lease_s=60)
        outcome: list[object] = []
        renewed = locks_table.update().values(expires_at=datetime.now(UTC) + timedelta(seconds=60))
        with log.engine.connect() as renewal, log.engine.connect() as observer:
            renewal.execute(text("SET deadlock_timeout = '60s'"))
            renewal.execute(renewed.where(locks_table.c.host_key == "b:22"))  # the renewal is halfway

            def take() -> None:
                try:
                    outcome.append(taker.try_acquire({"h1": "a:22", "h2": "b:22"}))
                except Exception as error:  # the main thread reports it
                    outcome.append(error)

            thread = threading.Thread(target=take)
            thread.start()
            # Only this test's database: the cluster is shared with other tests (xdist), whose waits must not count.
            waiting = text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            deadline = time.monotonic() + 10
            while observer.execute(waiting).scalar_one() == 0:  # the takeover holds a:22 and waits for b:22
                assert time.monotonic() < deadline
                observer.rollback()
                time.sleep(0.01)
            renewal.execute(renewed.where(locks_table.c.host_key == "a:22"))  # waits for the takeover: a deadlock
            renewal.commit()
            thread.join(30)
    assert outcome == [{"h1": "another run", "h2": "another run"}]
