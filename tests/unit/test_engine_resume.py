"""Resuming, stopping and leasing a run with fake ports and a real SQLite log: what a second attempt does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from itpm.cli import entry
from itpm.log.events import RunFinished, RunStarted, StepAudited
from itpm.log.locks import HostLocks
from itpm.log.run_lease import RunAlreadyActive
from itpm.log.store import ProjectLogError
from itpm.models.statuses import RunEnd, Verdict
from itpm.project_run import ProjectRun
from itpm.run_state import HostStepState
from tests.unit.engine_runs import HOSTS, PLAYBOOK, ROLLBACK, Engine, drive, inventory, project, project_data
from tests.unit.fake_ports import Applied, FakeExecutor, FakeVerifier, Outcome


def _project_file(root: Path) -> Path:
    """Write a repository with the project file, its playbooks and checks under ``root``; return the file."""
    for path in (PLAYBOOK, ROLLBACK, Path("checks/fake/test_fake.py")):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("")
    project_file = root / "projects" / "engine-test.yaml"
    project_file.parent.mkdir()
    project_file.write_text(yaml.safe_dump(project_data(scope={"inventory": "hosts.yml"})))
    return project_file


def test_a_resumed_run_skips_done_hosts_applies_the_halted_batch_again_and_keeps_its_baseline(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("itpm.project_run.load_inventory", inventory)  # ansible-inventory takes a second to start
    executor, verifier = FakeExecutor(), FakeVerifier({"h3": Outcome.CHECK_FAILED})
    first = engine.adopt(ProjectRun.open(_project_file(engine.tmp_path / "repo"), engine.settings, requester="dana"))
    first.executor, first.verifier = executor, verifier
    first.start()
    the_step = first.project.steps[0]
    first.audit(the_step, "before")
    assert [o.verdict for o in drive(first, the_step)] == [Verdict.PASSED, Verdict.HALTED]
    first.finish(RunEnd.HALTED)
    assert executor.leftovers_ended == 0  # a first start has nothing to clean up

    verifier.script.clear()  # the cause is fixed
    executor.calls.clear()
    again = engine.adopt(ProjectRun.reopen(first.run_id, engine.settings))
    again.executor, again.verifier = executor, verifier
    assert (again.requester, again.project_file) == ("dana", first.project_file)
    again.start()
    assert executor.leftovers_ended == 1  # what the first attempt left running is ended first
    assert again.baseline_taken(the_step)  # the flow does not audit "before" again: the hosts changed since
    outcomes = drive(again, the_step)
    assert [(o.batch.label, o.verdict, o.skipped) for o in outcomes] == [
        ("s/canary", Verdict.PASSED, True),
        ("s/batch 1", Verdict.PASSED, False),
        ("s/batch 2", Verdict.PASSED, False),
        ("s/batch 3", Verdict.PASSED, False),
    ]
    # h1 was done: not applied again; h2 had passed its checks in the halted batch: applied again with h3.
    assert executor.applied(the_step.playbook) == [("h2", "h3"), ("h4", "h5"), ("h6",)]
    assert again.done_hosts(the_step) == set(HOSTS)
    starts = [e for e in engine.logged(first.run_id) if isinstance(e, RunStarted)]
    assert [s.resumed for s in starts] == [False, True]
    assert [e.stage for e in again.record_keeper.of_kind(StepAudited)] == ["before"]


def test_a_stopped_run_says_where_it_stopped_lets_go_of_its_hosts_and_resumes(engine: Engine) -> None:
    locks = HostLocks(engine.log, "observer", 60)
    seen: dict[str, dict[str, str]] = {}

    def sigterm_in_batch_1(call: Applied) -> None:
        if call.hosts == ("h2", "h3"):  # as Ctrl-C or SIGTERM arrives while Ansible works on batch 1
            seen["before"] = locks.held()
            run.stop("SIGTERM")
            seen["after"] = locks.held()
            raise KeyboardInterrupt

    executor = FakeExecutor(during_apply=sigterm_in_batch_1)
    run = engine.open(project(), executor)
    run.start()
    the_step = run.project.steps[0]
    with pytest.raises(KeyboardInterrupt):
        drive(run, the_step)
    assert seen["before"] == {"h2": run.run_id, "h3": run.run_id, f"run {run.run_id}": f"{run.run_id} ({_me()})"}
    assert seen["after"] == {}  # the hosts and the run's lease let go by the stop itself
    [stopped] = [e for e in engine.logged() if isinstance(e, RunFinished)]
    assert (stopped.status, stopped.step, stopped.batch) == (RunEnd.INTERRUPTED, "s", "s/batch 1")
    assert stopped.note == "stopped by SIGTERM during s/batch 1 of step s; itpm resume engine-test-1 carries on"
    assert run.state.states[("s", "h2")] is HostStepState.APPLYING  # no verdict: not done

    executor.during_apply = None
    executor.calls.clear()
    again = engine.open(project(), executor)
    again.start()  # the lease was let go: the resumption starts at once
    assert [o.verdict for o in drive(again, the_step)] == [Verdict.PASSED] * 4
    assert executor.applied(PLAYBOOK) == [("h2", "h3"), ("h4", "h5"), ("h6",)]


def _me() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(done.stdout)


@pytest.mark.parametrize(
    "holder",
    [
        pytest.param("pid 4242 on build-7", id="on another machine"),
        pytest.param(f"pid {os.getppid()} on {socket.gethostname()}", id="alive on this machine"),
    ],
)
def test_a_run_another_process_works_cannot_be_started_again(
    holder: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("itpm.log.run_lease._this_process", lambda: holder)
    first = engine.open(project())
    first.start()
    monkeypatch.undo()  # the second start is this process's own
    second = engine.open(project())
    with pytest.raises(RunAlreadyActive) as refused:
        second.start()
    assert refused.value.holder == holder
    assert refused.value.message == f"run engine-test-1 is already being worked by {holder}"
    assert "itpm log engine-test-1 --follow" in refused.value.fix
    assert len(engine.logged("engine-test-1", "run_started")) == 1  # the refused start logged nothing
    first.close()
    second.start()  # let go: the run can be taken up
    assert len(engine.logged("engine-test-1", "run_started")) == 2


def test_the_lease_of_a_process_gone_from_this_machine_is_taken_over_at_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("itpm.log.run_lease._this_process", lambda: f"pid {_dead_pid()} on {socket.gethostname()}")
    engine.open(project()).start()  # and then killed outright: it never lets go
    monkeypatch.undo()
    engine.open(project()).start()
    assert len(engine.logged("engine-test-1", "run_started")) == 2


def test_the_cli_says_who_works_the_run_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def resume(**_: object) -> int:
        raise RunAlreadyActive("engine-test-1", "pid 4242 on build-7")

    monkeypatch.setattr(entry, "app", resume)
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == 2
    printed = " ".join(capsys.readouterr().err.split())
    assert "error: run engine-test-1 is already being worked by pid 4242 on build-7" in printed
    assert "fix: follow it with `itpm log engine-test-1 --follow`" in printed


def test_letting_go_after_a_failure_never_masks_it(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    run = engine.open(project())
    run.start()

    def locked() -> None:  # as when another writer holds the SQLite log past the busy timeout
        raise ProjectLogError("the project log is locked by another writer: could not release host locks")

    monkeypatch.setattr(run.hold.locks, "release", locked)
    run.abandon()  # returns: the failure that ended the run is the one reported; the locks expire
    with pytest.raises(ProjectLogError):
        run.close()  # a plain close says what went wrong
