"""Contention and shared resources: concurrent runs over overlapping hosts, the Prefect server going away, the
project log locked by another writer, a full state directory. Each run either carries on or stops with a clear
message, and ``itpm resume`` finishes it with every host verified once (surroundings: world.py).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from itpm.log.events import HostsWaited, HostVerified
from itpm.prefect_server import client_environment, ensure_server, stop_server
from itpm.settings import Settings

from .conftest import Lab, free_port
from .world import World

# Project name -> host pattern: every run shares hosts with others, h3 is wanted by four of the five.
OVERLAPPING = {
    "span-a": "h1:h2:h3",
    "span-b": "h2:h3:h4",
    "span-c": "h3:h4:h5",
    "span-d": "h1:h5",
    "span-e": "all",
}
# How long all concurrent runs may take together before the test calls it a deadlock (seconds).
DEADLOCK_DEADLINE_S = 420


def _set_work_seconds(world: World, seconds: float) -> None:
    """Make the marker step hold each host for ``seconds`` (the window another run must never enter)."""
    (world.inventory_dir / "group_vars" / "all" / "marker.yml").write_text(
        f"marker_content: ok\nmarker_work_seconds: {seconds}\n"
    )


@pytest.mark.reliability("concurrent runs over overlapping hosts")  # 2 runs: tests/lab/test_projects.py
def test_five_concurrent_runs_over_overlapping_hosts_never_share_a_host(
    world: World, record_property: Callable[[str, object], None]
) -> None:
    _set_work_seconds(world, 2)
    projects = OVERLAPPING
    runs = {
        name: world.itpm_background("run", str(world.project(name, hosts=hosts)), "--as", "dana")
        for name, hosts in projects.items()
    }
    # Each run's output is read as it comes (a full pipe would stall a run and look like a deadlock).
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as readers:
        outputs = {name: readers.submit(running.communicate) for name, running in runs.items()}
        concurrent.futures.wait(outputs.values(), timeout=DEADLOCK_DEADLINE_S)
        stuck = [name for name, running in runs.items() if running.poll() is None]
        if stuck:
            for name in stuck:  # their readers then end too
                os.killpg(runs[name].pid, signal.SIGKILL)
            pytest.fail(f"runs of {', '.join(stuck)} not done after {DEADLOCK_DEADLINE_S} s: a deadlock")
    for name, running in runs.items():
        stdout, stderr = outputs[name].result()
        assert running.returncode == 0, f"{name}: {stdout}{stderr}"

    run_of = {name: world.log.run_ids(project=name)[0] for name in projects}
    for name, hosts in projects.items():
        expected = world.lab.inventory.select(hosts)
        verified = [e.host or "" for e in world.log.events(run_of[name]) if isinstance(e, HostVerified) and e.passed]
        assert sorted(verified) == sorted(expected), f"{name} did not verify each of its hosts once: {verified}"
    successions = 0  # one run's work on a host followed by another's
    for host in world.lab.inventory.select("all"):
        spans = world.spans(host)
        assert set(spans) == {run_of[n] for n, hosts in projects.items() if host in world.lab.inventory.select(hosts)}
        ordered = sorted(spans.items(), key=lambda item: item[1][0])
        for (first, (_, first_end)), (second, (second_start, _)) in itertools.pairwise(ordered):
            assert first_end < second_start, f"runs {first} and {second} overlapped on {host}: {spans}"
            successions += 1
    waited = [e for e in world.log.events(kinds=["hosts_waited"]) if isinstance(e, HostsWaited)]
    assert waited, "no run ever waited for another: the runs did not contend, so this proved nothing"
    record_property(
        "observed",
        f"{len(projects)} runs exit 0 (no deadlock); in {successions} successions of two runs on a host the on-host "
        f"stamps never overlap; {len(waited)} lock waits; each run verified each of its hosts once",
    )


def _start_server(settings: Settings) -> str:
    """Start (or restart) the test's own Prefect server on its port and database; return its API URL."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PREFECT_API_URL", raising=False)  # ensure_server would only check a configured API
        return ensure_server(settings)


@pytest.fixture(scope="module")
def own_prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A Prefect server of this module's own, which its tests stop and start; each leaves it running."""
    settings = Settings(state_dir=tmp_path_factory.mktemp("own-prefect"), prefect_port=free_port())
    _start_server(settings)
    try:
        yield settings
    finally:
        stop_server(settings)


@pytest.fixture
def own_world(lab: Lab, own_prefect: Settings, tmp_path: Path) -> Iterator[World]:
    """A world (world.py) whose runs report to this module's own Prefect server."""
    root = tmp_path / "world"
    root.mkdir()
    fresh = World.fresh(lab, client_environment(own_prefect), root)
    yield fresh
    fresh.stop_background()


def _flat(text: str) -> str:
    """Return ``text`` on one line as written: the CLI wraps it at the terminal width (keeping the spaces)."""
    return "".join(text.splitlines())


def _verified_once(world: World, run_id: str, hosts: list[str]) -> None:
    verified = [e.host or "" for e in world.log.events(run_id) if isinstance(e, HostVerified) and e.passed]
    assert sorted(verified) == sorted(hosts), f"run {run_id} did not verify each host once: {verified}"


def _starts(world: World, host: str, run_id: str) -> int:
    return len([s for s in world.stamps(host) if s[0] == run_id and s[1] == "start"])


_READ_FLOW_RUNS = """
import sys
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
with get_client(sync_client=True) as client:
    of_run = FlowRunFilter(tags=FlowRunFilterTags(all_=["itpm-run:" + sys.argv[1]]))
    runs = client.read_flow_runs(flow_run_filter=of_run)
print(" ".join(sorted(str(run.state_name) for run in runs)))
"""


def _flow_run_states(world: World, run_id: str) -> list[str]:
    """Return the states of the run's flow runs as the Prefect server recorded them: ``['Completed']``."""
    read = subprocess.run(
        [sys.executable, "-c", _READ_FLOW_RUNS, run_id], env=world.env, capture_output=True, text=True, check=True
    )
    return read.stdout.split()


@pytest.mark.reliability("Prefect server restarted mid-run")
def test_prefect_server_restarted_mid_run_the_run_carries_on(
    own_world: World, own_prefect: Settings, record_property: Callable[[str, object], None]
) -> None:
    world = own_world
    _set_work_seconds(world, 3)
    hosts = ["h1", "h2", "h3"]
    project = world.project("restart", hosts=":".join(hosts), canary=1, batch_size=2)
    running = world.itpm_background("run", str(project), "--as", "dana")
    world.wait_for("batch_started", batch="marker/canary")
    stop_server(own_prefect)
    went_away = time.monotonic()
    try:
        # The server stays down until the canary is done: the task's end is reported to an API that is not there.
        world.wait_for("batch_finished", batch="marker/canary")
    finally:
        _start_server(own_prefect)
    down_s = time.monotonic() - went_away
    stdout, stderr = running.communicate(timeout=600)
    assert running.returncode == 0, stdout + stderr
    assert "Traceback" not in stderr and "Error logging to API" not in stderr, stderr
    (run_id,) = world.log.run_ids()
    _verified_once(world, run_id, hosts)
    assert [_starts(world, host, run_id) for host in hosts] == [1, 1, 1]
    assert _flow_run_states(world, run_id) == ["Completed"]  # the restarted server got the rest of the run
    record_property(
        "observed",
        f"server stopped mid-canary, back on its database {down_s:.0f} s later: the run carried on (Prefect client "
        "retries) to exit 0; each host applied and verified once; the flow run is Completed on the restarted server",
    )


@pytest.mark.reliability("Prefect server down")
def test_prefect_server_down_stops_the_run_clearly_and_resume_finishes(
    own_world: World, own_prefect: Settings, record_property: Callable[[str, object], None]
) -> None:
    world = own_world
    # Prefect's client gives up on a call after 1 retry (~2 s) instead of itpm's 5 (~1 min; the run then stopped
    # ~5 min after the server went away, measured): the same way out, sooner.
    world.env["PREFECT_CLIENT_MAX_RETRIES"] = "1"
    _set_work_seconds(world, 2)
    hosts = ["h1", "h2", "h3"]
    project = world.project("down", hosts=":".join(hosts), canary=1, batch_size=2)
    running = world.itpm_background("run", str(project), "--as", "dana")
    world.wait_for("batch_started", batch="marker/canary")
    url = client_environment(own_prefect)["PREFECT_API_URL"]
    stop_server(own_prefect)
    went_away = time.monotonic()
    try:
        stdout, stderr = running.communicate(timeout=600)
        stopped_after = time.monotonic() - went_away
    finally:
        _start_server(own_prefect)
    (run_id,) = world.log.run_ids()
    assert running.returncode == 1, stdout + stderr
    message = _flat(stderr)
    assert f"error: run {run_id} stopped: the Prefect API at {url} stopped answering" in message, stderr
    assert "itpm server start" in message and f"then itpm resume {run_id}" in message, stderr
    assert "Traceback" not in stderr and "Error logging to API" not in stderr, stderr
    before = world.log.events(run_id)
    assert "run_finished" not in [e.kind for e in before]
    assert world.log.runs()[0].status == "running"

    resumed = world.itpm("resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    events = world.log.events(run_id)
    assert events[: len(before)] == before  # nothing logged before the API went away was lost or changed
    _verified_once(world, run_id, hosts)
    assert [_starts(world, host, run_id) for host in hosts] == [1, 1, 1]  # the canary was not applied again
    states = _flow_run_states(world, run_id)
    assert "Completed" in states, states
    record_property(
        "observed",
        f"server stopped mid-canary for good: {stopped_after:.0f} s later (client retries 1) exit 1 with 'the "
        "Prefect API at URL stopped answering' and the fix (start it, itpm resume RUN), no traceback; log intact; "
        f"resume after restart: each host applied and verified once; Prefect flow runs of the run: {states}",
    )


def _log_path(world: World) -> Path:
    return world.root / "state" / "project-log.sqlite"


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold the SQLite database at ``path`` in an exclusive write transaction, as another writer would."""
    holder = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
    finally:
        holder.close()


@pytest.mark.reliability("project log locked by another writer")
def test_project_log_locked_by_another_writer(world: World, record_property: Callable[[str, object], None]) -> None:
    busy_timeout_s = 10
    world.env["ITPM_LOG_BUSY_TIMEOUT_SECONDS"] = str(busy_timeout_s)
    _set_work_seconds(world, 2)
    hosts = ["h1", "h2", "h3"]
    project = world.project("locked", hosts=":".join(hosts), canary=1, batch_size=2)

    # Held longer than the busy timeout, from inside the canary batch until the run gives up.
    running = world.itpm_background("run", str(project), "--as", "dana")
    world.wait_for("batch_started", batch="marker/canary")
    with _exclusive(_log_path(world)):
        stdout, stderr = running.communicate(timeout=busy_timeout_s * 3 + 300)
    (run_id,) = world.log.run_ids()
    assert running.returncode == 1, stdout + stderr
    message = _flat(stderr)
    assert f"error: the project log {_log_path(world)} is locked by another writer: could not write run {run_id}'s" in (
        message
    ), stderr
    assert f"{busy_timeout_s} s busy timeout" in message and f"then itpm resume {run_id}" in message, stderr
    assert "Traceback" not in stderr, stderr
    before = world.log.events(run_id)
    assert "run_finished" not in [e.kind for e in before]

    # Held again and again for less than the busy timeout while the resumption works: it waits and carries on.
    resuming = world.itpm_background("resume", run_id)
    holds: list[tuple[datetime, datetime]] = []
    deadline = time.monotonic() + 300
    while resuming.poll() is None and time.monotonic() < deadline:
        with _exclusive(_log_path(world)):
            held_from = datetime.now(UTC)
            resuming_ended = _wait_exit(resuming, 2.0)
            holds.append((held_from, datetime.now(UTC)))
        if not resuming_ended:
            _wait_exit(resuming, 1.0)  # let it write
    stdout, stderr = resuming.communicate(timeout=60)
    assert resuming.returncode == 0, stdout + stderr
    events = world.log.events(run_id)
    assert events[: len(before)] == before  # nothing committed before the lock was lost or changed
    _verified_once(world, run_id, hosts)
    waited = [e for e in events[len(before) :] if any(start <= e.at <= end for start, end in holds)]
    assert waited, "no write of the resumption fell into a hold: the lock was never in its way"
    record_property(
        "observed",
        f"held past the {busy_timeout_s} s busy timeout: exit 1, 'project log ... is locked by another writer', "
        f"no traceback, no event lost; resume under {len(holds)} holds of 2 s: {len(waited)} writes waited and "
        "the run finished, each host verified once",
    )
    record_property("cases", 2)


def _wait_exit(process: subprocess.Popen[str], seconds: float) -> bool:
    """Wait up to ``seconds`` for ``process`` to end; return whether it did (its output stays unread)."""
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


@pytest.fixture
def small_state_dir(world: World) -> Iterator[Path]:
    """The world's state directory on a 16 MiB tmpfs of its own (unmounted after the test)."""
    state = world.root / "state"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "itpm-test-full", str(state)], check=True)
    try:
        yield state
    finally:
        world.stop_background()  # nothing may keep a file open on it
        if subprocess.run(["umount", str(state)], check=False).returncode != 0:
            # Something of a failed run (an Ansible left in its own session) still has a file open there: detach
            # the mount now, the kernel frees it when that process ends.
            subprocess.run(["umount", "--lazy", str(state)], check=True)


def _fill(directory: Path) -> Path:
    """Fill the disk of ``directory`` to the last byte with one file; return the file."""
    filler = directory / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    return filler


@pytest.mark.reliability("disk full in the state directory")
def test_disk_full_in_the_state_directory(
    world: World, small_state_dir: Path, record_property: Callable[[str, object], None]
) -> None:
    _set_work_seconds(world, 2)
    hosts = ["h1", "h2", "h3"]
    project = world.project("full", hosts=":".join(hosts), canary=1, batch_size=2)

    # Full before the first run: the log cannot even be made.
    filler = _fill(small_state_dir)
    refused = world.itpm("run", str(project), "--as", "dana")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"no space left in the state directory {small_state_dir}" in _flat(refused.stderr), refused.stderr
    assert "Traceback" not in refused.stderr, refused.stderr
    filler.unlink()
    assert world.log.run_ids() == []

    # Full in the middle of the canary batch.
    running = world.itpm_background("run", str(project), "--as", "dana")
    world.wait_for("batch_started", batch="marker/canary")
    filler = _fill(small_state_dir)
    stdout, stderr = running.communicate(timeout=600)
    assert running.returncode == 1, stdout + stderr
    assert f"no space left in the state directory {small_state_dir}" in _flat(stderr), stderr
    assert "Traceback" not in stderr, stderr
    filler.unlink()

    with contextlib.closing(sqlite3.connect(_log_path(world))) as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    (run_id,) = world.log.run_ids()
    before = world.log.events(run_id)
    kinds = [e.kind for e in before]
    assert "batch_started" in kinds and "run_finished" not in kinds
    status = world.itpm("status", run_id)
    assert status.returncode == 0, status.stdout + status.stderr
    resumed = world.itpm("resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    events = world.log.events(run_id)
    assert events[: len(before)] == before  # every event committed before the disk filled is there, unchanged
    _verified_once(world, run_id, hosts)
    record_property(
        "observed",
        "16 MiB tmpfs filled before a run and mid-canary: exit 1 'no space left in the state directory PATH', no "
        "traceback; after freeing: integrity_check ok, status works, resume finished with each host verified "
        "once and no event lost",
    )
    record_property("cases", 2)
