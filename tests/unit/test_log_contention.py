"""The SQLite project log held by another writer: reads go on, a write waits, then fails saying why; locks let go."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from itpm.log.events import PhaseChanged
from itpm.log.locks import HostLocks
from itpm.log.store import ProjectLog, ProjectLogError


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "project-log.sqlite"


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the database in an exclusive write transaction, as another writer (a backup, a sqlite3 shell) would."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _phase(phase: str) -> PhaseChanged:
    return PhaseChanged(run_id="r1", project="p", phase=phase)


def test_a_write_waits_for_another_writer_within_the_busy_timeout(path: Path) -> None:
    with ProjectLog(f"sqlite:///{path}", busy_timeout_s=30) as log:
        log.append(_phase("initiation"))
        holding = threading.Event()

        def hold_a_moment() -> None:
            with exclusive(path):
                holding.set()
                time.sleep(0.5)

        holder = threading.Thread(target=hold_a_moment)
        holder.start()
        holding.wait()
        log.append(_phase("planning"))  # waits for the holder, then commits
        holder.join()
        assert [e.phase for e in log.events("r1") if isinstance(e, PhaseChanged)] == ["initiation", "planning"]


def test_past_the_busy_timeout_a_write_fails_saying_who_and_what_while_reads_go_on(path: Path) -> None:
    with ProjectLog(f"sqlite:///{path}", busy_timeout_s=0.2) as log:
        log.append(_phase("initiation"))
        with exclusive(path):
            assert [e.kind for e in log.events("r1")] == ["phase_changed"]  # a read takes no write lock
            assert log.run_ids() == [] and log.runs() == []
            with pytest.raises(ProjectLogError) as raised:
                log.append(_phase("planning"))
            reopened = ProjectLog(f"sqlite:///{path}", busy_timeout_s=0.2)  # opening a log at head only reads it
            reopened.close()
        assert str(raised.value).startswith(
            f"the project log {path} is locked by another writer: could not write run r1's phase_changed event "
            "within the 0.2 s busy timeout (database is locked)\n  fix: end the other writer's transaction (fuser -v"
        )
        assert [e.phase for e in log.events("r1") if isinstance(e, PhaseChanged)] == ["initiation"]


def test_host_locks_report_the_error_that_ended_their_block_and_expire_if_they_cannot_be_released(
    path: Path,
) -> None:
    with ProjectLog(f"sqlite:///{path}", busy_timeout_s=0.2) as log:
        locks = HostLocks(log, "r1", lease_s=60)
        with (
            contextlib.ExitStack() as other_writer,
            pytest.raises(ProjectLogError, match="could not write run r1's phase_changed event"),
            locks.hold({"h1": "10.0.0.1:22"}, wait_s=0),
        ):
            other_writer.enter_context(exclusive(path))  # held until after the block: the release fails too
            log.append(_phase("execution"))
        assert locks.held() == {"h1": "r1"}  # until the lease runs out; a resumption of r1 takes it back at once
        assert HostLocks(log, "r2", lease_s=60).try_acquire({"h1": "10.0.0.1:22"}) == {"h1": "r1"}
        assert locks.try_acquire({"h1": "10.0.0.1:22"}) == {}
