"""SIGKILL of the flow process at eleven points of one rollout and a SIGTERM at one, each followed by ``itpm resume``.

One run of a five-host project (canary h1, batch 1 h2 h3, batch 2 h4 h5, an approval gate, a pause between
batches) is killed again and again: ``os.killpg(pgid, SIGKILL)`` of the ``itpm run`` or ``itpm resume`` process
group, then ``itpm resume`` in the background, killed at the next point, and so on. Each kill point is chosen by
watching the project log for a committed event (or the host's own stamp that an apply started), plus a delay a
seeded RNG picks inside the window that follows, so that the kill lands in the same activity under any load; the
test then checks from the log that it did.

At-least-once: an apply that is in flight when the flow dies is applied again by the resumption, since nothing
tells what the killed Ansible got done on the host. What the log promises instead is that each host has exactly
one *standing* successful apply: a HostApplied (ok or changed) whose batch attempt also holds a passed
HostVerified of that host that no halted verdict or rollback undid later. A host the log shows verified (and
standing) when a kill lands is never applied again: its on-host stamps show no start after that kill.

The kill does not reach Ansible (ansible-runner starts it in a session of its own): the resumption ends what is
left of it on this machine before it starts. The command a killed apply was running on a host still runs to its
end there; nothing on the controller can stop it once its connection is gone.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    BatchFinished,
    BatchStarted,
    Event,
    HostApplied,
    HostVerified,
    PhaseChanged,
    RolledBack,
    RunFinished,
    RunStarted,
    StepAudited,
    StepPlanned,
)
from itpm.log.locks import HostLocks
from itpm.log.store import ProjectLog

from .conftest import REPO
from .world import HOSTS, World

# The delays inside each kill window come from this seed, so that a failure can be replayed point by point.
SEED = 6
STEP = "marker"
CANARY, BATCH_1, BATCH_2 = (f"{STEP}/{name}" for name in ("canary", "batch 1", "batch 2"))
# Long enough that the host is mid-command when the kill lands on its start stamp (and that Ansible, which the
# kill does not reach, is still working when the resumption starts); short everywhere else.
LONG_WORK_S, SHORT_WORK_S = 10, 1
PAUSE_S = 3  # between batches: the window of the "between batches" kill
WAIT_S = 240  # how long any one awaited event may take on a loaded machine

LoggedEvents = list[tuple[int, Event]]
T = TypeVar("T")


@dataclass
class Kill:
    """One kill: where it was aimed, the delay drawn, when it landed, and what the log held at that moment."""

    point: str
    delay_s: float
    killed_at: float
    logged: LoggedEvents
    attempt: list[Event]  # what the killed attempt itself logged
    standing: set[str]  # hosts the log showed applied and verified (standing) when the kill landed
    in_flight: set[str] = field(default_factory=set)  # hosts whose apply had started on the host (stamped)
    leftovers: list[int] = field(default_factory=list)  # Ansible processes of the killed attempt still alive


def _set_work_seconds(world: World, seconds: float) -> None:
    (world.inventory_dir / "group_vars" / "all" / "marker.yml").write_text(
        f"marker_content: ok\nmarker_work_seconds: {seconds}\n"
    )


def _start(world: World, *args: str) -> subprocess.Popen[str]:
    """Start ``itpm`` in its own session, its output to a file (a pipe nobody reads would fill and block it)."""
    output = (world.root / f"itpm-{len(world.background)}.out").open("w")
    running = subprocess.Popen(
        [sys.executable, "-m", "itpm", *args],
        cwd=REPO,
        env=world.env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output.close()  # the child holds its own copy
    world.background.append(running)
    return running


def _wait_until(what: str, probe: Callable[[], T | None], timeout: float = WAIT_S) -> T:
    """Return ``probe()``'s first value that is not None, polling until ``timeout`` (then fail naming ``what``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def _attempt(logged: Sequence[tuple[int, Event]], number: int) -> list[Event]:
    """Return the events of the run's ``number``-th attempt (1: the first start): from its RunStarted on."""
    starts = [i for i, (_, e) in enumerate(logged) if isinstance(e, RunStarted)]
    if len(starts) < number:
        return []
    return [e for _, e in logged[starts[number - 1] :]]


def _standing(events: Sequence[Event]) -> set[str]:
    """Return the hosts with a passed HostVerified that no later failed check, halted verdict or rollback undid."""
    return {
        entry.host
        for position, entry in enumerate(events)
        if isinstance(entry, HostVerified) and entry.host is not None and entry.passed
        if not any(_undoes(later, entry.host) for later in events[position + 1 :])
    }


def _stamp_starts(world: World, host: str) -> int:
    """Return how many applies started on ``host``, read from its writable layer (cheap enough to poll)."""
    stamps = world.lab.settings.lab_dir / world.lab.name / "hosts" / host / "upper" / "var" / "log" / "itpm-stamps"
    try:
        return sum(1 for line in stamps.read_text().splitlines() if " start " in line)
    except FileNotFoundError:
        return 0


def _ansible_of(world: World) -> list[int]:
    """Return the pids of ansible-playbook processes working for this test's runs (found by their inventory)."""
    inventory = str(world.inventory_dir).encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if proc.name.isdigit() and b"ansible-playbook" in command and inventory in command:
            found.append(int(proc.name))
    return found


class Chain:
    """The run under test, its attempts and its kills."""

    def __init__(self, world: World, log: ProjectLog) -> None:
        self.world, self.log = world, log
        self.rng = random.Random(SEED)  # noqa: S311 - draws kill delays, nothing secret
        self.run_id = ""
        self.attempts = 0  # attempts started so far (the first `itpm run` is attempt 1)
        self.kills: list[Kill] = []
        self.running: subprocess.Popen[str] | None = None
        self.last_killed: Kill | None = None  # the previous attempt, when a kill ended it
        self.stopped_at: tuple[float, set[str]] | None = None  # when a SIGTERM stopped an attempt, hosts in flight

    def logged(self) -> LoggedEvents:
        return self.log.events_with_ids(self.run_id)

    def current(self) -> list[Event]:
        """Return the events of the attempt now running."""
        return _attempt(self.logged(), self.attempts)

    def begin(self, *args: str) -> None:
        """Start the next attempt and wait until it has logged its RunStarted."""
        self.running = _start(self.world, *args)
        self.attempts += 1
        if not self.run_id:
            self.run_id = _wait_until("the run's start", lambda: next(iter(self.log.run_ids()), None))
        _wait_until(f"RunStarted of attempt {self.attempts}", lambda: self.current() or None)

    def resume(self) -> None:
        """Start ``itpm resume`` and check that the killed attempt's leftover Ansible is gone once it started."""
        self.begin("resume", self.run_id)
        if self.last_killed is not None:
            survivors = [pid for pid in self.last_killed.leftovers if pid in _ansible_of(self.world)]
            assert not survivors, f"Ansible of the attempt killed {self.last_killed.point} still runs: {survivors}"

    def resume_to_the_end(self) -> subprocess.CompletedProcess[str]:
        """Run ``itpm resume`` in the foreground, to its end; return its exit code and output."""
        done = self.world.itpm("resume", self.run_id)
        self.attempts += 1
        self.last_killed = None
        return done

    def on_event(self, what: str, matches: Callable[[Event], bool]) -> None:
        """Wait until the running attempt logged an event that ``matches``."""
        _wait_until(what, lambda: True if any(matches(e) for e in self.current()) else None)
        self.assert_alive(what)

    def on_apply_started(self, hosts: Sequence[str]) -> set[str]:
        """Wait until an apply started on one of ``hosts`` (a new stamp on the host); return the hosts stamped."""
        before = {h: _stamp_starts(self.world, h) for h in hosts}

        def stamped() -> set[str] | None:
            started = {h for h in hosts if _stamp_starts(self.world, h) > before[h]}
            return started or None

        started = _wait_until(f"an apply on {', '.join(hosts)}", stamped)
        self.assert_alive(f"an apply on {', '.join(hosts)}")
        return started

    def assert_alive(self, waited_for: str) -> None:
        assert self.running is not None and self.running.poll() is None, (
            f"attempt {self.attempts} ended (exit {self.running and self.running.returncode}) before {waited_for}; "
            f"output in {self.world.root}"
        )

    def kill(self, point: str, window_s: tuple[float, float] = (0.0, 0.0), in_flight: set[str] | None = None) -> Kill:
        """Sleep a delay drawn from ``window_s``, SIGKILL the attempt's process group, and record what the log held."""
        assert self.running is not None
        delay = round(self.rng.uniform(*window_s), 2)
        time.sleep(delay)
        os.killpg(self.running.pid, signal.SIGKILL)
        self.running.wait(60)
        logged = self.logged()
        kill = Kill(
            point=point,
            delay_s=delay,
            killed_at=time.time(),
            logged=logged,
            attempt=_attempt(logged, self.attempts),
            standing=_standing([e for _, e in logged]),
            in_flight=in_flight or set(),
            leftovers=_ansible_of(self.world),
        )
        self.kills.append(kill)
        self.last_killed = kill
        return kill


def _last_kinds(events: Sequence[Event]) -> list[str]:
    """Return the kinds (and batches) of the last few events: where a kill landed, for a failure message."""
    return [e.kind + (f" {e.batch}" if e.batch else "") for e in events][-6:]


def _has(kind: type[Event], **fields: object) -> Callable[[Event], bool]:
    """Return a test for events of ``kind`` whose ``fields`` have the given values."""
    return lambda e: isinstance(e, kind) and all(getattr(e, name) == value for name, value in fields.items())


def _logged_any(events: Sequence[Event], kind: type[Event], **fields: object) -> bool:
    return any(_has(kind, **fields)(e) for e in events)


@pytest.mark.reliability("SIGKILL of the flow process")
def test_a_rollout_killed_at_eleven_points_resumes_to_every_host_applied_once_and_verified(
    world: World, record_property: Callable[[str, object], None]
) -> None:
    world.host_var("h5", marker_value="bad")  # batch 2 (h4, h5) fails its checks and is rolled back
    project = world.project("crash", canary=1, batch_size=2, max_fail_percent=0, pause_seconds=PAUSE_S, approval=True)
    _set_work_seconds(world, SHORT_WORK_S)
    log = world.log
    chain = Chain(world, log)
    _kill_before_any_change(chain, project)
    _kill_in_the_canary_and_batch_1(chain)
    _kill_in_the_rollback_then_halt_again(chain)
    (world.inventory_dir / "host_vars" / "h5.yml").unlink()  # the cause fixed
    _kill_in_batch_2_and_the_reaudit(chain)

    final = chain.resume_to_the_end()
    assert final.returncode == 0, final.stdout + final.stderr
    _assert_resumed_cleanly(world, log, chain)

    print("kill points:", *(f"{k.point} (+{k.delay_s} s)" for k in chain.kills), sep="\n  ")
    leftovers = sum(len(k.leftovers) for k in chain.kills)
    record_property("cases", len(chain.kills))
    record_property(
        "observed",
        f"killed at {len(chain.kills)} points ({'; '.join(k.point for k in chain.kills)}); each `itpm resume` went "
        "on from the log and the last completed: every host applied and verified once for good (applies in flight "
        "at a kill redone), no verified host applied again, the log before each kill a prefix of the log after, "
        f"no lock left; {leftovers} Ansible processes left running by kills, all ended by the resumption; killed "
        "flow runs marked Crashed in Prefect; a SIGTERM mid-apply of batch 2 stopped cleanly instead: exit 143, "
        "Ansible ended by the run itself, its locks released, the stop logged where it landed, then resumed",
    )
    log.close()


def _kill_before_any_change(chain: Chain, project: Path) -> None:
    """Kill during the audit, during the plan, and at the approval gate before the first batch."""
    chain.begin("run", str(project), "--as", "dana")
    chain.on_event("the planning phase", _has(PhaseChanged, phase="planning"))
    landed = chain.kill("during the audit", (0.1, 0.6))  # its checks run for seconds after the phase begins
    assert not _logged_any(landed.attempt, StepAudited), _last_kinds(landed.attempt)

    chain.resume()
    chain.on_event("the audit", _has(StepAudited, stage="before"))
    landed = chain.kill("during the plan", (0.2, 0.8))  # check mode over five hosts
    assert not _logged_any(landed.attempt, StepPlanned), _last_kinds(landed.attempt)

    chain.resume()
    chain.on_event("the approval request", _has(ApprovalRequested))
    landed = chain.kill("at the approval gate, before the first batch", (0.2, 1.0))  # the flow run paused
    assert not _logged_any(landed.attempt, ApprovalDecided) and not _logged_any(landed.attempt, BatchStarted)


def _kill_in_the_canary_and_batch_1(chain: Chain) -> None:
    """Kill mid-apply and mid-verification of the canary and of batch 1, and in the pause between them."""
    world = chain.world
    _set_work_seconds(world, LONG_WORK_S)
    chain.resume()
    chain.on_event("the approval request", _has(ApprovalRequested))  # the gate asks again; another person approves
    approved = world.itpm("approve", chain.run_id, "--as", "chris", "--comment", "after the crash")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    landed = chain.kill("mid-apply of the canary", in_flight=chain.on_apply_started(["h1"]))
    assert not _logged_any(landed.attempt, HostApplied), _last_kinds(landed.attempt)
    assert landed.leftovers, "the canary's Ansible was expected to outlive the flow (ansible-runner's own session)"

    _set_work_seconds(world, SHORT_WORK_S)
    chain.resume()
    chain.on_event("the canary's apply", _has(HostApplied, host="h1"))
    landed = chain.kill("during the canary's verification")
    assert not _logged_any(landed.attempt, HostVerified), _last_kinds(landed.attempt)

    chain.resume()
    chain.on_event("the canary's verdict", _has(BatchFinished, batch=CANARY, verdict="passed"))
    landed = chain.kill("between the canary and batch 1", (0.5, 1.5))  # in the step's pause
    assert not _logged_any(landed.attempt, BatchStarted, batch=BATCH_1), _last_kinds(landed.attempt)

    _set_work_seconds(world, LONG_WORK_S)
    chain.resume()  # the canary, verified, is skipped
    landed = chain.kill("mid-apply of batch 1", in_flight=chain.on_apply_started(["h2", "h3"]))
    assert not _logged_any(landed.attempt, HostApplied), _last_kinds(landed.attempt)
    assert landed.leftovers

    _set_work_seconds(world, SHORT_WORK_S)
    chain.resume()
    chain.on_event("batch 1's apply", _has(HostApplied, batch=BATCH_1))
    landed = chain.kill("during batch 1's verification")
    assert not _logged_any(landed.attempt, HostVerified, batch=BATCH_1), _last_kinds(landed.attempt)


def _kill_in_the_rollback_then_halt_again(chain: Chain) -> None:
    """Kill while batch 2 is rolled back; resumed with the cause still there, it halts and is rolled back whole."""
    world = chain.world
    chain.resume()
    chain.on_event("batch 2's halt", _has(BatchFinished, batch=BATCH_2, verdict="halted"))
    landed = chain.kill("during the rollback of batch 2")
    assert not _logged_any(landed.attempt, RolledBack), _last_kinds(landed.attempt)

    halted = chain.resume_to_the_end()
    assert halted.returncode == 1, halted.stdout + halted.stderr
    assert f"itpm resume {chain.run_id}" in " ".join(halted.stderr.split()) and "Traceback" not in halted.stderr
    redone = _attempt(chain.logged(), chain.attempts)
    # h4 passed its checks before the kill, but its batch had halted: it is applied (and rolled back) again.
    assert [(e.batch, e.hosts) for e in redone if isinstance(e, BatchStarted)] == [(BATCH_2, ["h4", "h5"])]
    rolled = [(e.hosts, e.ok, e.failed) for e in redone if isinstance(e, RolledBack)]
    assert rolled == [(["h4", "h5"], ["h4", "h5"], {})]
    assert [e.status for e in redone if isinstance(e, RunFinished)] == ["halted"]
    assert (world.marker("h4"), world.marker("h5")) == (None, None)  # rolled back on the hosts themselves


def _kill_in_batch_2_and_the_reaudit(chain: Chain) -> None:
    """With the cause fixed: kill mid-apply of batch 2, then during the re-audit after the last batch."""
    world = chain.world
    _set_work_seconds(world, LONG_WORK_S)
    chain.resume()
    # The fix changed what batch 2 writes on h5: the approval no longer covers the plan, and the gate asks again.
    chain.on_event("the gate asking again", lambda e: isinstance(e, ApprovalRequested) and "h5" in e.lapsed)
    approved = world.itpm("approve", chain.run_id, "--as", "chris", "--comment", "the cause fixed")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    landed = chain.kill("mid-apply of batch 2", in_flight=chain.on_apply_started(["h4", "h5"]))
    assert not _logged_any(landed.attempt, HostApplied), _last_kinds(landed.attempt)

    chain.resume()
    _stop_mid_apply_of_batch_2(chain)

    _set_work_seconds(chain.world, SHORT_WORK_S)
    chain.resume()
    chain.on_event("the re-audit", _has(PhaseChanged, phase="monitoring_and_control"))
    landed = chain.kill("during the re-audit")
    assert not _logged_any(landed.attempt, StepAudited, stage="after"), _last_kinds(landed.attempt)


def _stop_mid_apply_of_batch_2(chain: Chain) -> None:
    """SIGTERM (as ``systemctl stop`` or a Prefect cancellation sends it) mid-apply: a clean stop, not a crash.

    Unlike a SIGKILL, the run ends Ansible itself (no process left working on the hosts), logs where it stopped,
    releases its host locks and exits 143; the resumption that follows applies the stopped batch again.
    """
    world, running = chain.world, chain.running
    assert running is not None
    in_flight = chain.on_apply_started(["h4", "h5"])
    os.killpg(running.pid, signal.SIGTERM)
    assert running.wait(60) == 128 + signal.SIGTERM, (world.root / f"itpm-{len(world.background) - 1}.out").read_text()
    attempt = chain.current()
    (stopped,) = [e for e in attempt if isinstance(e, RunFinished)]
    assert stopped is attempt[-1] and stopped.status == "interrupted", _last_kinds(attempt)
    assert f"stopped by SIGTERM during {BATCH_2}" in stopped.note and f"itpm resume {chain.run_id}" in stopped.note
    assert not _ansible_of(world), "Ansible outlived a SIGTERM of its run"
    assert HostLocks(chain.log, chain.run_id, lease_s=120).held() == {}, "a stopped run kept its locks"
    chain.stopped_at = (time.time(), in_flight)
    chain.last_killed = None


def _assert_resumed_cleanly(world: World, log: ProjectLog, chain: Chain) -> None:
    run_id = chain.run_id
    logged = log.events_with_ids(run_id)
    events = [e for _, e in logged]
    # Nothing committed before a kill was lost or changed: the log then is an exact prefix of the log now.
    for kill in chain.kills:
        assert logged[: len(kill.logged)] == kill.logged, f"the log changed after the kill {kill.point}"

    # Each host: exactly one standing successful apply; hosts never in a halted batch passed their checks once.
    assert _standing(events) == set(HOSTS)
    for host in HOSTS:
        assert len(_standing_applies(events, host)) == 1, f"{host}: {_standing_applies(events, host)}"
    verified = sorted(e.host or "" for e in events if isinstance(e, HostVerified) and e.passed)
    assert [h for h in verified if h in {"h1", "h2", "h3"}] == ["h1", "h2", "h3"]

    # A host the log showed verified at a kill was never applied again (its own stamps say so); a host whose
    # apply was in flight at a kill was applied again after it.
    stamps = {host: world.stamps(host) for host in HOSTS}
    for kill in chain.kills:
        for host in kill.standing:
            later = [at for _, what, at in stamps[host] if what == "start" and at > kill.killed_at]
            assert not later, f"{host} was verified before the kill {kill.point} but applied again after it"
        for host in kill.in_flight:
            assert any(what == "start" and at > kill.killed_at for _, what, at in stamps[host]), host
    assert [world.marker(h) for h in HOSTS] == ["ok"] * 5

    # One baseline: the attempts after the first audit did not audit "before" again, over hosts already changed.
    assert len([e for e in events if isinstance(e, StepAudited) and e.stage == "before"]) == 1
    assert [e.status for e in events if isinstance(e, RunFinished)] == ["halted", "interrupted", "completed"]
    assert chain.stopped_at is not None
    stopped_at, in_flight = chain.stopped_at
    for host in in_flight:  # the stopped apply was done again by the resumption
        assert any(what == "start" and at > stopped_at for _, what, at in stamps[host]), host
    assert HostLocks(log, run_id, lease_s=120).held() == {}  # no host lock left, by this run or any other
    shown = world.itpm("status", run_id)
    assert shown.returncode == 0, shown.stderr
    assert "5 of 5 host-steps verified (100%)" in shown.stdout

    # Prefect: one flow run per attempt, none left Running or Paused by a kill.
    states = _flow_run_states(world, run_id)
    # The SIGTERM'd attempt ends its flow run too (Prefect calls an interrupted flow run Crashed).
    assert sorted(states) == sorted(["Completed", "Failed", *["Crashed"] * (len(chain.kills) + 1)]), states


def _standing_applies(events: Sequence[Event], host: str) -> list[int]:
    """Return the positions of ``host``'s HostApplied (ok or changed) whose batch attempt verified it for good.

    A batch attempt runs from a BatchStarted to the next BatchStarted or RunStarted; its verification stands
    when no later failed check, halted verdict or rollback of the host undid it.
    """
    applies: list[int] = []
    applied_at: int | None = None
    for position, entry in enumerate(events):
        if isinstance(entry, BatchStarted | RunStarted):
            applied_at = None
        elif isinstance(entry, HostApplied) and entry.host == host and entry.status in ("ok", "changed"):
            applied_at = position
        elif (
            _has(HostVerified, host=host, passed=True)(entry)
            and applied_at is not None
            and not any(_undoes(later, host) for later in events[position + 1 :])
        ):
            applies.append(applied_at)
    return applies


def _undoes(entry: Event, host: str) -> bool:
    """Return whether ``entry`` undoes an earlier verification of ``host``."""
    if isinstance(entry, HostVerified):
        return entry.host == host and not entry.passed
    if isinstance(entry, BatchFinished):
        return entry.verdict == "halted" and host in [*entry.ok, *entry.failed]
    return isinstance(entry, RolledBack) and host in entry.hosts


_READ_FLOW_RUNS = """
import json, sys
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
with get_client(sync_client=True) as client:
    tagged = FlowRunFilter(tags=FlowRunFilterTags(all_=["itpm-run:" + sys.argv[1]]))
    runs = client.read_flow_runs(flow_run_filter=tagged)
print(json.dumps([r.state_name for r in runs]))
"""


def _flow_run_states(world: World, run_id: str) -> list[str]:
    """Return the state name of every Prefect flow run of ``run_id``."""
    read = subprocess.run(
        [sys.executable, "-c", _READ_FLOW_RUNS, run_id], env=world.env, capture_output=True, text=True, check=True
    )
    states: list[str] = json.loads(read.stdout)
    return states
