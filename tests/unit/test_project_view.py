"""The PM's view of a scripted run: progress, projected finish, milestones and budget against hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from itpm.log.events import (
    BatchFinished,
    BatchStarted,
    CostBooked,
    Event,
    HostVerified,
    PhaseChanged,
    RiskClosed,
    RiskRaised,
    RunFinished,
    RunStarted,
    StepAudited,
)
from itpm.models.project import Project
from itpm.reports.briefing import briefing_of
from itpm.reports.project_view import MilestoneState, project_view

HOSTS = [f"h{i}" for i in range(1, 11)]
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
COMMON: dict[str, Any] = {"run_id": "r1", "project": "demo"}

PROJECT = Project.model_validate(
    {
        "name": "demo",
        "title": "Demo rollout",
        "kind": "compliance",
        "objectives": ["all hosts hardened"],
        "scope": {"inventory": "inventory/lab/hosts.yml"},
        "phases": [{"name": "execution", "start": "2026-11-26", "end": "2026-11-26"}],
        "milestones": [{"name": "Rollout done", "due": "2026-11-26", "step": "s"}],
        "budget": {"currency": "EUR", "total": 2000, "rates": {"engineer": 100}, "per_host": 10},
        "team": [{"name": "Dana", "role": "engineer", "user": "dana"}],
        "risks": [
            {
                "id": "R1",
                "title": "hosts lose SSH",
                "likelihood": "low",
                "impact": "high",
                "mitigation": "canary",
                "owner": "Dana",
                "signals": ["unreachable"],
            },
            {
                "id": "R2",
                "title": "vendor late",
                "likelihood": "medium",
                "impact": "medium",
                "mitigation": "-",
                "owner": "Dana",
            },
        ],
        # R1 and R2 make s a normal change: pre-authorised, so that these reports show no approval gate.
        "steps": [
            {"name": "s", "playbook": "p.yml", "checks": ["checks/c"], "strategy": {"pre_authorised": "hardening"}}
        ],
    }
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def labour(minutes_at: float, hours: float, amount: str) -> CostBooked:
    return CostBooked(
        **COMMON,
        at=at(minutes_at),
        category="labour",
        amount=Decimal(amount),
        currency="EUR",
        role="engineer",
        hours=hours,
    )


def batch(label: str, hosts: list[str], start: float, end: float) -> list[Event]:
    return [
        BatchStarted(**COMMON, at=at(start), step="s", batch=label, hosts=hosts),
        *[HostVerified(**COMMON, at=at(end), step="s", batch=label, host=h, passed=True) for h in hosts],
        BatchFinished(**COMMON, at=at(end), step="s", batch=label, verdict="passed", ok=hosts, failed=[]),
        labour(end, (end - start) / 60, f"{100 * (end - start) / 60:.2f}"),
        CostBooked(
            **COMMON, at=at(end), category="hosts", amount=Decimal(10 * len(hosts)), currency="EUR", hosts=hosts
        ),
    ]


def first_half() -> list[Event]:
    """Half the fleet done by 11:00: the canary 10:30-10:40, then four hosts 10:40-11:00."""
    return [
        RunStarted(
            **COMMON,
            at=at(0),
            project_file="demo.yaml",
            title="Demo rollout",
            project_kind="compliance",
            environment="lab",
            requester="dana",
            hosts=HOSTS,
            steps=["s"],
        ),
        PhaseChanged(**COMMON, at=at(0), phase="planning"),
        StepAudited(
            **COMMON,
            at=at(20),
            step="s",
            stage="before",
            checks=["test_a", "test_b"],
            passed=HOSTS[2:],
            failed={"h1": ["test_a: no banner"], "h2": ["test_a: no banner", "test_b: wrong mode"]},
        ),
        labour(30, 0.5, "50.00"),
        PhaseChanged(**COMMON, at=at(30), phase="execution"),
        *batch("s/canary", ["h1"], 30, 40),
        *batch("s/batch 1", HOSTS[1:5], 40, 60),
    ]


def test_pace_projects_the_finish_and_the_milestone() -> None:
    view = project_view(PROJECT, first_half(), as_of=at(60))
    assert view.percent_complete == 50.0
    # 5 host-steps in the 30 minutes since the first batch started: 10 per hour; 5 left: half an hour.
    assert view.throughput_per_hour == 10.0
    assert view.projected_finish == at(90)
    (milestone,) = view.milestones
    assert (milestone.state, milestone.projected) == (MilestoneState.ON_TRACK, at(90))
    assert view.schedule_sentence == "projected finish 2026-11-26 11:30 UTC, on the planned day (2026-11-26)"


def test_a_stalled_run_slips_the_projection_past_the_milestone() -> None:
    # Nothing more by 20:30: 5 host-steps in 10 hours is 0.5 per hour, so 10 more hours for the other 5.
    view = project_view(PROJECT, first_half(), as_of=at(630))
    assert view.projected_finish == datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
    assert view.milestones[0].state is MilestoneState.AT_RISK
    assert any("Rollout done" in line and "at risk" in line for line in view.attention)
    assert (
        project_view(PROJECT, first_half(), as_of=datetime(2026, 11, 27, 0, 1, tzinfo=UTC)).milestones[0].state
        is MilestoneState.OVERDUE
    )


def test_budget_spent_and_forecast_at_completion() -> None:
    budget = project_view(PROJECT, first_half(), as_of=at(60)).budget
    assert budget is not None
    # Team time 50 + 16.67 + 33.33 = 100.00; hosts 5 x 10 = 50.00.
    assert budget.spent == Decimal("150.00")
    assert budget.spent_by_category == {"team time": Decimal("100.00"), "per-host costs": Decimal(50), "other": 0}
    assert budget.planned_by_category == {"per-host costs": Decimal(100), "team time": Decimal(1900)}
    # 100 of team time bought 5 host-steps (20 each); 5 more host-steps and 5 more hosts at 10: 150 + 100 + 50.
    assert budget.forecast == Decimal("300.00")
    assert budget.percent_spent == 7.5
    assert not budget.over_budget
    assert budget.hours_by_role["engineer"] == 0.5 + 10 / 60 + 20 / 60
    earlier = project_view(PROJECT, first_half(), as_of=at(60), prior_spend=Decimal(1900)).budget
    assert earlier is not None and earlier.over_budget  # 2050 spent across the project's runs


def test_a_finished_run_reached_its_milestone_when_the_last_host_verified() -> None:
    events = [
        *first_half(),
        *batch("s/batch 2", HOSTS[5:], 60, 80),
        StepAudited(**COMMON, at=at(85), step="s", stage="after", checks=["test_a", "test_b"], passed=HOSTS, failed={}),
        RunFinished(**COMMON, at=at(90), status="completed"),
    ]
    view = project_view(PROJECT, events, as_of=at(600))
    assert view.percent_complete == 100.0
    assert view.projected_finish == at(90)
    assert view.milestones[0].state is MilestoneState.REACHED
    assert view.milestones[0].reached_at == at(80)
    assert view.elapsed == timedelta(minutes=90)
    assert [(p.at, p.verified) for p in view.burnup][:3] == [(at(0), 0), (at(40), 1), (at(60), 2)]
    assert view.burnup[-1] == type(view.burnup[-1])(at(80), 10)
    assert [(s.lane, s.label, s.outcome) for s in view.spans if s.lane != "phase"] == [
        ("batch", "s/canary", "passed"),
        ("batch", "s/batch 1", "passed"),
        ("batch", "s/batch 2", "passed"),
    ]
    phases = [(s.label, s.start, s.end) for s in view.spans if s.lane == "phase"]
    assert phases == [("planning", at(0), at(30)), ("execution", at(30), at(90))]
    compliance = {c.check: (c.failing_before, c.failing_after, c.hosts) for c in view.compliance}
    assert compliance == {"test_a": (("h1", "h2"), (), 10), "test_b": (("h2",), (), 10)}


def test_risks_materialize_and_close() -> None:
    raised = RiskRaised(
        **COMMON,
        at=at(45),
        step="s",
        risk_id="R1",
        title="hosts lose SSH",
        likelihood="low",
        impact="high",
        owner="Dana",
        materialized=True,
        note="unreachable in s/batch 1: h3",
    )
    view = project_view(PROJECT, [*first_half(), raised], as_of=at(60))
    assert [(r.id, r.materialized, r.source) for r in view.open_risks] == [
        ("R1", True, "project file"),
        ("R2", False, "project file"),
    ]  # R1 (low x high = 3) before R2 (medium x medium = 4): what happened comes before what might
    assert "Risk R1 materialized: hosts lose SSH (unreachable in s/batch 1: h3)" in view.attention
    closed = project_view(PROJECT, [*first_half(), raised, RiskClosed(**COMMON, risk_id="R1", by="dana")], as_of=at(60))
    assert [r.id for r in closed.open_risks] == ["R2"]


def test_a_notice_briefing_puts_the_view_into_sentences() -> None:
    briefing = briefing_of(project_view(PROJECT, first_half(), as_of=at(630)), links=["itpm status r1"])
    assert briefing.progress == "5 of 10 host-steps verified (50%)"
    assert briefing.budget == "EUR 150.00 of EUR 2,000.00 spent (7.5%); forecast at completion EUR 300.00"
    assert briefing.schedule == (
        "projected finish 2026-11-27 06:30 UTC, 1 day late (planned 2026-11-26); "
        "milestone 'Rollout done' due 2026-11-26 is at risk (projected 2026-11-27 06:30 UTC)"
    )
    assert briefing.links == ["itpm status r1"]
