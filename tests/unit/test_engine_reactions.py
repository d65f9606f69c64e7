"""What the run's record reacts with, with fake ports and a real SQLite log: materialized risks and booked costs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from itpm.engine.approvals import Answer
from itpm.log.events import BatchFinished, BatchStarted, CostBooked, RiskRaised, RolledBack, StepAudited
from itpm.models.failures import FailureKind
from itpm.models.statuses import RunEnd, Verdict
from itpm.project_run import ProjectRun
from tests.unit.engine_runs import HOSTS, PLAYBOOK, ROLLBACK, Engine, drive, project, step
from tests.unit.fake_ports import FakeExecutor, FakeVerifier, Outcome, recorded_hosts


def _risk(risk_id: str, *signals: str, **changes: Any) -> dict[str, Any]:
    # Low x medium: standard changes, so that the steps need no gate of their own (change classes are not tested here).
    return {
        "id": risk_id,
        "title": f"risk {risk_id}",
        "likelihood": "low",
        "impact": "medium",
        "mitigation": "canary first",
        "owner": "Dana Engineer",
        "signals": list(signals),
        **changes,
    }


RISKS = [
    _risk("R-UNREACHABLE", "unreachable"),
    _risk("R-CHECKS", "check_failed", "halt", step="s"),
    _risk("R-ROLLBACK", "rollback_failed"),
    _risk("R-ELSEWHERE", "halt", "check_failed", "unreachable", step="other"),  # signals of another step only
    _risk("R-REJECTED", "approval_rejected"),
]
STEPS = (step(rollback=str(ROLLBACK)), step("other"))


def _raised(run: ProjectRun) -> dict[str, str]:
    return {e.risk_id: e.note for e in run.history() if isinstance(e, RiskRaised) and e.materialized}


def test_unreachable_hosts_of_a_recorded_lab_run_raise_their_risk_once(engine: Engine) -> None:
    # Recorded in the lab: sshd killed on h2, a wrong host key for h5; h1 converged, h3 drifted and fixed.
    recorded = recorded_hosts("apply_unreachable_h2_hostkey_h5", ["h1", "h2", "h3", "h5"])
    executor = FakeExecutor(recorded={PLAYBOOK: recorded})
    tolerant = step(strategy={"max_fail_percent": 50})
    run = engine.open(project(tolerant, step("other"), risks=RISKS), executor)
    run.start()
    outcomes = drive(run, run.project.steps[0])
    assert [o.verdict for o in outcomes] == [Verdict.PASSED, Verdict.TOLERATED, Verdict.TOLERATED, Verdict.PASSED]
    assert outcomes[1].failed["h2"].kind is FailureKind.UNREACHABLE
    assert outcomes[2].failed["h5"].kind is FailureKind.HOST_KEY_REFUSED
    assert _raised(run) == {"R-UNREACHABLE": "unreachable in s/batch 1: h2"}  # batch 2's h5 does not raise it again
    assert run.state.materialized_risks == {"R-UNREACHABLE"}
    logged = [e for e in engine.logged() if isinstance(e, RiskRaised)]
    assert [(e.risk_id, e.step, e.likelihood, e.impact, e.owner) for e in logged] == [
        ("R-UNREACHABLE", "s", "low", "medium", "Dana Engineer")
    ]


def test_a_halt_with_failed_checks_and_a_failed_rollback_raise_the_risks_of_that_step(engine: Engine) -> None:
    executor = FakeExecutor({ROLLBACK: {"h3": Outcome.TASK_FAILED}})
    run = engine.open(project(*STEPS, risks=RISKS), executor, FakeVerifier({"h3": Outcome.CHECK_FAILED}))
    run.start()
    drive(run, run.project.steps[0])
    assert _raised(run) == {
        "R-CHECKS": "checks failed in s/batch 1: h3; the rollout halted at s/batch 1",
        "R-ROLLBACK": "rollback failed on h3",
    }
    # Each risk is logged right after the event that showed it.
    kinds = [e.kind if not isinstance(e, RiskRaised) else e.risk_id for e in run.history()]
    assert kinds[kinds.index("R-CHECKS") - 1] == "batch_finished"
    assert kinds[kinds.index("R-ROLLBACK") - 1] == "rolled_back"
    [rolled_back] = [e for e in run.history() if isinstance(e, RolledBack)]
    assert rolled_back.ok == ["h2"] and list(rolled_back.failed) == ["h3"]
    assert "Rollback FAILED on h3: restore those hosts by hand first." in run.state.next_steps


def test_a_rejected_step_raises_the_risk_that_watches_for_rejections(engine: Engine) -> None:
    gated = step(strategy={"approval": {"roles": ["change_manager"]}})
    run = engine.open(project(gated, step("other"), risks=RISKS))
    run.start()
    run.request_approval(run.project.steps[0])
    run.decide_approval(run.project.steps[0], Answer("dana", False))  # refused: not a rejection
    assert _raised(run) == {}
    run.decide_approval(run.project.steps[0], Answer("chris", False, "freeze"))
    assert _raised(run) == {"R-REJECTED": "chris rejected step s: freeze"}


# -- costs -----------------------------------------------------------------------------------------------------

BUDGET = {"currency": "EUR", "total": 5000, "rates": {"engineer": 90}, "per_host": 25}


def _booked(engine: Engine, category: str) -> list[CostBooked]:
    events = engine.log.events(project="engine-test", kinds=["cost_booked"])
    return [e for e in events if isinstance(e, CostBooked) and e.category == category]


def test_the_requesters_time_is_booked_at_their_rate_for_each_audit_plan_batch_and_rollback(engine: Engine) -> None:
    run = engine.open(project(budget=BUDGET), verifier=FakeVerifier({"h2": Outcome.CHECK_FAILED}))
    run.start()
    the_step = run.project.steps[0]
    run.audit(the_step, "before")
    run.plan(the_step)
    drive(run, the_step)
    labour = _booked(engine, "labour")
    assert [e.note for e in labour] == [
        "audit of s (before the change)",
        "plan of s",
        "rollout of s/canary",
        "rollout of s/batch 1",  # its rollback included: booked once it was rolled back
    ]
    assert {(e.role, e.person, e.currency, e.automatic) for e in labour} == {("engineer", "dana", "EUR", True)}
    assert all(e.amount == (Decimal(90) * Decimal(str(e.hours))).quantize(Decimal("0.01")) for e in labour)
    [audited] = [e for e in run.history() if isinstance(e, StepAudited)]
    assert labour[0].hours == audited.duration_s / 3600
    [started] = [e for e in run.history() if isinstance(e, BatchStarted) and e.batch == "s/batch 1"]
    [rolled] = [e for e in run.history() if isinstance(e, RolledBack) and e.batch == "s/batch 1"]
    assert labour[3].hours == (rolled.at - started.at).total_seconds() / 3600


def test_someone_off_the_team_books_time_without_a_rate(engine: Engine) -> None:
    run = engine.open(project(budget=BUDGET), requester="mallory")
    run.start()
    run.plan(run.project.steps[0])
    [plan] = _booked(engine, "labour")
    assert (plan.amount, plan.role, plan.note) == (Decimal(0), "", "plan of s; no rate for someone off the team")


def test_a_host_costs_once_in_the_project_and_not_while_its_batch_is_halted(engine: Engine) -> None:
    verifier = FakeVerifier({"h3": Outcome.CHECK_FAILED})
    first = engine.open(project(budget=BUDGET), verifier=verifier)
    first.start()
    assert [o.verdict for o in drive(first, first.project.steps[0])] == [Verdict.PASSED, Verdict.HALTED]
    assert [(e.batch, e.hosts, e.amount) for e in _booked(engine, "hosts")] == [("s/canary", ["h1"], Decimal(25))]
    first.finish(RunEnd.HALTED)

    verifier.script.clear()
    second = engine.open(project(budget=BUDGET), verifier=verifier, run_id="engine-test-2")  # a new run
    second.start()
    drive(second, second.project.steps[0])
    booked = _booked(engine, "hosts")
    assert [(e.run_id, e.batch, e.hosts, e.amount) for e in booked] == [
        ("engine-test-1", "s/canary", ["h1"], Decimal(25)),
        ("engine-test-2", "s/batch 1", ["h2", "h3"], Decimal(50)),  # h1, done by the first run, is not booked again
        ("engine-test-2", "s/batch 2", ["h4", "h5"], Decimal(50)),
        ("engine-test-2", "s/batch 3", ["h6"], Decimal(25)),
    ]
    assert sorted(h for e in booked for h in e.hosts) == sorted(HOSTS)
    assert [e.batch for e in second.history() if isinstance(e, BatchFinished)] == [
        "s/canary",
        "s/batch 1",
        "s/batch 2",
        "s/batch 3",
    ]


def test_a_project_without_a_budget_books_nothing(engine: Engine) -> None:
    run = engine.open(project())
    run.start()
    run.plan(run.project.steps[0])
    drive(run, run.project.steps[0])
    assert engine.log.events(project="engine-test", kinds=["cost_booked"]) == []
