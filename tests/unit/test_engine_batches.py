"""The engine's batch rules with fake ports and a real SQLite log: batches, halt, rollback, tolerance, exclusions."""

from __future__ import annotations

from itpm.log.events import BatchFinished, HostsExcluded, RolledBack, RunHalted
from itpm.models.failures import FailureKind
from itpm.models.statuses import Verdict
from itpm.run_state import HostStepState
from tests.unit.engine_runs import HOSTS, PLAYBOOK, ROLLBACK, Engine, drive, project, step
from tests.unit.fake_ports import FakeExecutor, FakeVerifier, Outcome


def test_a_step_rolls_out_its_canary_first_then_batches_of_its_strategy(engine: Engine) -> None:
    executor, verifier = FakeExecutor(), FakeVerifier()
    run = engine.open(project(), executor, verifier)
    run.start()
    the_step = run.project.steps[0]
    batches = run.batches(the_step)
    assert [(b.label, b.hosts, b.canary) for b in batches] == [
        ("s/canary", ("h1",), True),
        ("s/batch 1", ("h2", "h3"), False),
        ("s/batch 2", ("h4", "h5"), False),
        ("s/batch 3", ("h6",), False),
    ]
    outcomes = drive(run, the_step)
    assert [o.verdict for o in outcomes] == [Verdict.PASSED] * 4
    assert executor.applied(PLAYBOOK) == [b.hosts for b in batches]  # each batch applied once, in order
    assert verifier.verified() == [b.hosts for b in batches]  # and verified right after
    assert executor.applied(ROLLBACK) == []
    assert run.done_hosts(the_step) == set(HOSTS)
    finished = [e for e in engine.logged() if isinstance(e, BatchFinished)]
    assert [(e.batch, e.ok) for e in finished] == [(b.label, list(b.hosts)) for b in batches]
    # The playbooks are told which run, step and batch changes them.
    extravars = executor.calls[1].extravars
    assert (extravars["itpm_run_id"], extravars["itpm_step"], extravars["itpm_batch"]) == (
        "engine-test-1",
        "s",
        "s/batch 1",
    )


def test_batches_without_a_canary_have_labels_of_their_own(engine: Engine) -> None:
    executor = FakeExecutor()
    run = engine.open(project(step(strategy={"canary": None, "batch_size": "34%"})), executor)
    run.start()
    the_step = run.project.steps[0]
    drive(run, the_step)
    labels = [e.batch for e in engine.logged() if isinstance(e, BatchFinished)]
    assert labels == ["s/batch 1", "s/batch 2"]  # 34% of 6 hosts: 3 a batch, no canary
    assert executor.applied(PLAYBOOK) == [("h1", "h2", "h3"), ("h4", "h5", "h6")]
    assert run.state.verdicts == {"s/batch 1": Verdict.PASSED, "s/batch 2": Verdict.PASSED}


def test_a_failed_canary_halts_and_rolls_back_only_the_canary(engine: Engine) -> None:
    executor = FakeExecutor({PLAYBOOK: {"h1": Outcome.TASK_FAILED}})
    run = engine.open(project(), executor)
    run.start()
    the_step = run.project.steps[0]
    outcomes = drive(run, the_step)
    [canary] = outcomes
    assert canary.verdict is Verdict.HALTED and canary.batch.canary
    assert canary.failed["h1"].kind is FailureKind.TASK_FAILED
    assert executor.applied(PLAYBOOK) == [("h1",)]  # nothing beyond the canary was touched
    assert executor.applied(ROLLBACK) == [("h1",)]
    assert canary.rolled_back is not None and canary.rolled_back.ok == ["h1"]
    assert run.done_hosts(the_step) == set()
    [halted] = [e for e in engine.logged() if isinstance(e, RunHalted)]
    assert halted.reason.startswith("the canary of step 's' failed: h1: task failed at Install the agent")
    assert "s/canary was rolled back on h1" in halted.next_steps
    assert "itpm resume engine-test-1" in halted.next_steps


def test_a_halted_batchs_verified_hosts_are_not_done_and_are_rolled_back(engine: Engine) -> None:
    executor, verifier = FakeExecutor(), FakeVerifier({"h3": Outcome.CHECK_FAILED})
    run = engine.open(project(), executor, verifier)
    run.start()
    the_step = run.project.steps[0]
    outcomes = drive(run, the_step)
    assert [o.verdict for o in outcomes] == [Verdict.PASSED, Verdict.HALTED]
    halted = outcomes[-1]
    assert halted.ok == ("h2",) and halted.failed["h3"].kind is FailureKind.CHECK_FAILED
    assert executor.applied(ROLLBACK) == [("h2", "h3")]  # the whole batch, its verified host included
    assert run.done_hosts(the_step) == {"h1"}  # h2 passed its checks, but its batch was undone
    assert run.state.states[("s", "h2")] is HostStepState.ROLLED_BACK
    [rolled_back] = [e for e in engine.logged() if isinstance(e, RolledBack)]
    assert (rolled_back.batch, rolled_back.hosts) == ("s/batch 1", ["h2", "h3"])
    assert executor.applied(PLAYBOOK) == [("h1",), ("h2", "h3")]  # batch 2 never started


def test_a_halt_without_a_rollback_playbook_leaves_the_hosts_to_redo(engine: Engine) -> None:
    executor, verifier = FakeExecutor(), FakeVerifier({"h3": Outcome.UNREACHABLE})
    run = engine.open(project(step()), executor, verifier)
    run.start()
    the_step = run.project.steps[0]
    outcomes = drive(run, the_step)
    assert outcomes[-1].verdict is Verdict.HALTED and outcomes[-1].rolled_back is None
    assert [c.playbook for c in executor.calls] == [PLAYBOOK, PLAYBOOK]  # no rollback was attempted
    assert run.done_hosts(the_step) == {"h1"}
    assert run.state.states[("s", "h2")] is HostStepState.HALTED
    assert "No rollback playbook" in run.state.next_steps


def test_failures_within_max_fail_percent_are_tolerated_and_the_run_carries_on(engine: Engine) -> None:
    # h3 cannot be reached (1 of 2 in batch 1: 50%, at the limit) and h5's checks fail (1 of 2 in batch 2).
    executor = FakeExecutor({PLAYBOOK: {"h3": Outcome.UNREACHABLE}})
    verifier = FakeVerifier({"h5": Outcome.CHECK_FAILED})
    run = engine.open(project(step(strategy={"max_fail_percent": 50})), executor, verifier)
    run.start()
    the_step = run.project.steps[0]
    outcomes = drive(run, the_step)
    assert [o.verdict for o in outcomes] == [Verdict.PASSED, Verdict.TOLERATED, Verdict.TOLERATED, Verdict.PASSED]
    assert outcomes[1].failed["h3"].kind is FailureKind.UNREACHABLE
    assert outcomes[2].failed["h5"].kind is FailureKind.CHECK_FAILED
    assert run.done_hosts(the_step) == {"h1", "h2", "h4", "h6"}
    assert executor.applied(ROLLBACK) == [] and run.state.halt_reason == ""
    # An unreachable host is not verified (it already failed); its reachable batch mate is.
    assert ("h2",) in verifier.verified() and all("h3" not in hosts for hosts in verifier.verified())


def test_failures_past_max_fail_percent_halt(engine: Engine) -> None:
    executor = FakeExecutor({PLAYBOOK: {"h2": Outcome.TASK_FAILED, "h3": Outcome.UNREACHABLE}})
    run = engine.open(project(step(strategy={"max_fail_percent": 50})), executor)
    run.start()
    outcomes = drive(run, run.project.steps[0])
    assert [o.verdict for o in outcomes] == [Verdict.PASSED, Verdict.HALTED]
    assert run.state.halt_reason.startswith("2 of 2 hosts of s/batch 1 failed, more than the 50% allowed")


def test_a_host_no_check_ran_on_is_not_verified(engine: Engine) -> None:
    run = engine.open(project(), verifier=FakeVerifier({"h1": Outcome.NO_CHECKS}))
    run.start()
    [canary] = drive(run, run.project.steps[0])
    assert canary.verdict is Verdict.HALTED and canary.failed["h1"].kind is FailureKind.NOT_VERIFIED


def test_hosts_an_earlier_step_failed_are_left_out_of_later_steps_and_logged_once(engine: Engine) -> None:
    executor = FakeExecutor({PLAYBOOK: {"h3": Outcome.TASK_FAILED}})
    accept = step("accept", strategy={"max_fail_percent": 50})
    provision = step("provision", strategy={"canary": None, "batch_size": 3})
    run = engine.open(project(accept, provision), executor)
    run.start()
    first, second = run.project.steps
    assert [o.verdict for o in drive(run, first)] == [Verdict.PASSED, Verdict.TOLERATED, Verdict.PASSED, Verdict.PASSED]
    batches = run.batches(second)
    assert [b.hosts for b in batches] == [("h1", "h2", "h4"), ("h5", "h6")]  # h3 left out, the cut made without it
    assert run.batches(second) == batches  # asked again (a resumption asks again): same batches, no second log
    drive(run, second)
    assert executor.applied(PLAYBOOK)[4:] == [("h1", "h2", "h4"), ("h5", "h6")]
    excluded = [e for e in engine.logged() if isinstance(e, HostsExcluded)]
    assert [(e.step, e.hosts) for e in excluded] == [("provision", {"h3": "accept"})]
    assert run.state.problems[("provision", "h3")] == "left out: did not pass step accept"
    assert run.done_hosts(second) == {"h1", "h2", "h4", "h5", "h6"}
