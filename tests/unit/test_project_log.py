"""The project log and host locks on SQLite: ordered typed events, concurrent writers, locks that expire."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from itpm.log.events import BatchStarted, HostApplied, PhaseChanged
from itpm.log.locks import HostLocks, HostsLocked
from itpm.log.store import ProjectLog


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'log.sqlite'}"


def test_events_come_back_typed_and_filtered(tmp_path: Path) -> None:
    log = ProjectLog(_url(tmp_path))
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


def _writer(url: str, run_id: str, count: int) -> None:
    log = ProjectLog(url)
    for index in range(count):
        log.append(HostApplied(run_id=run_id, project="p", step="s", host=f"h{index}", status="ok"))


def test_concurrent_processes_lose_and_mix_nothing(tmp_path: Path) -> None:
    url = _url(tmp_path)
    ProjectLog(url)  # create the schema once
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(url, f"run{n}", 60)) for n in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    log = ProjectLog(url)
    for n in range(4):
        hosts = [e.host for e in log.events(f"run{n}")]
        assert hosts == [f"h{i}" for i in range(60)]  # all there, in the order each run wrote them


def test_locks_exclude_other_runs_until_released(tmp_path: Path) -> None:
    log = ProjectLog(_url(tmp_path))
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


def test_a_crashed_runs_locks_expire(tmp_path: Path) -> None:
    log = ProjectLog(_url(tmp_path))
    HostLocks(log, "crashed", lease_s=0.3).try_acquire({"h1": "a:22"})
    other = HostLocks(log, "next", lease_s=60)
    assert other.try_acquire({"h1": "a:22"}) == {"h1": "crashed"}
    time.sleep(0.4)
    assert other.try_acquire({"h1": "a:22"}) == {}


def test_hold_waits_for_the_holder_and_renews_its_own_lease(tmp_path: Path) -> None:
    log = ProjectLog(_url(tmp_path))
    holder = HostLocks(log, "holder", lease_s=0.6)
    waiter = HostLocks(log, "waiter", lease_s=60)
    seen: list[dict[str, str]] = []
    with holder.hold({"h1": "a:22"}, wait_s=0):
        time.sleep(1.0)  # longer than the lease: the heartbeat must keep it
        assert waiter.try_acquire({"h1": "a:22"}) == {"h1": "holder"}
    waited = waiter.acquire({"h1": "a:22"}, wait_s=5, on_wait=seen.append)
    assert waited < 1 and seen == []  # released at the end of the block
    assert log.events() == []  # locks write no events
