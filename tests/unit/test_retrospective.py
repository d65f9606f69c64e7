"""The retrospective and next steps of a scripted run that failed, rolled back, waited for approval and resumed."""

from __future__ import annotations

from itpm.log.events import (
    ApprovalDecided,
    BatchFinished,
    BatchStarted,
    Event,
    HostApplied,
    HostVerified,
    RiskRaised,
    RolledBack,
    RunFinished,
    RunHalted,
    StepAudited,
)
from itpm.reports.project_view import project_view
from itpm.reports.retrospective import next_steps, next_steps_sections, retrospective
from tests.unit.test_project_view import COMMON, HOSTS, PROJECT, at, batch, first_half


def halted_run() -> list[Event]:
    """Batch 2 (h6-h10): h6 unreachable, h7 fails a check; rolled back, h6's rollback fails; the run halts."""
    label = "s/batch 2"
    return [
        *first_half(),
        ApprovalDecided(**COMMON, at=at(31), step="s", approver="dana", decision="refused", reason="requester"),
        ApprovalDecided(**COMMON, at=at(32), step="s", approver="chris", decision="approved", waited_s=120),
        BatchStarted(**COMMON, at=at(60), step="s", batch=label, hosts=HOSTS[5:]),
        HostApplied(
            **COMMON,
            at=at(70),
            step="s",
            batch=label,
            host="h6",
            status="unreachable",
            failed_task="Gathering Facts",
            message="ssh: connect to host h6 port 22: Connection timed out",
        ),
        *[HostApplied(**COMMON, at=at(70), step="s", batch=label, host=h, status="changed") for h in HOSTS[6:]],
        HostVerified(
            **COMMON, at=at(72), step="s", batch=label, host="h7", passed=False, failures=["test_a: no banner"]
        ),
        *[HostVerified(**COMMON, at=at(72), step="s", batch=label, host=h, passed=True) for h in HOSTS[7:]],
        BatchFinished(**COMMON, at=at(72), step="s", batch=label, verdict="halted", ok=HOSTS[7:], failed=["h6", "h7"]),
        RolledBack(
            **COMMON, at=at(75), step="s", batch=label, hosts=HOSTS[5:], ok=HOSTS[6:], failed={"h6": "unreachable"}
        ),
        RiskRaised(
            **COMMON,
            at=at(75),
            step="s",
            risk_id="R1",
            title="hosts lose SSH",
            likelihood="low",
            impact="high",
            owner="Dana",
            materialized=True,
            note="unreachable in s/batch 2: h6",
        ),
        RunHalted(**COMMON, at=at(75), step="s", batch=label, reason="2 of 5 hosts failed", next_steps="fix, resume"),
        RunFinished(**COMMON, at=at(76), status="halted"),
    ]


def test_retrospective_names_failures_rework_approvals_and_risks() -> None:
    events = halted_run()
    sections = {s.title: s for s in retrospective(project_view(PROJECT, events, as_of=at(80)), events)}
    failed = sections["What failed and why"].table
    assert {
        "step": "s",
        "what failed": "task Gathering Facts",
        "hosts": "1",
        "example": "h6: ssh: connect to host h6 port 22: Connection timed out",
    } in failed
    assert {"step": "s", "what failed": "check test_a", "hosts": "1", "example": "h7: test_a: no banner"} in failed
    rework = sections["Rework and rollbacks"].table
    assert {"step": "s", "host": "h6", "what": "rollback FAILED: unreachable"} in rework
    assert {"step": "s", "host": "h7", "what": "rolled back (s/batch 2)"} in rework
    approvals = sections["Approvals"].table
    assert [(a["who"], a["decision"], a["waited"]) for a in approvals] == [
        ("dana", "refused", ""),
        ("chris", "approved", "2 min"),
    ]
    assert sections["Risks that materialized"].bullets == (
        "R1 hosts lose SSH (owner Dana; still open): unreachable in s/batch 2: h6",
    )
    cost = sections["Cost: planned vs actual"]
    assert cost.paragraphs[0].startswith("Spent EUR 150.00 of EUR 2,000.00 planned (7.5%)")
    assert "stopped (halted) 2026-11-26 11:16 UTC" in sections["Time: planned vs actual"].paragraphs[1]


def test_next_steps_rank_the_unknown_state_first() -> None:
    events = halted_run()
    view = project_view(PROJECT, events, as_of=at(80))
    ranked = next_steps(view, events)
    assert ranked[0].text.startswith("Restore h6 by hand: the rollback of s/batch 2 failed")
    assert ranked[1].text == "Fix the cause of the halt (2 of 5 hosts failed), then `itpm resume r1`."
    assert [r.impact for r in ranked] == sorted((r.impact for r in ranked), reverse=True)
    texts = [r.text for r in ranked]
    assert any(t.startswith("Bring back h6") for t in texts)
    assert any(t.startswith("Review risk R1 (hosts lose SSH) with Dana: it materialized") for t in texts)
    sections = {s.title: s for s in next_steps_sections(view, events)}
    # h1 and h2 failed test_a before the change and were fixed and verified since; h7 failed it in batch 2 and
    # was rolled back to how the audit found it (passing).
    assert sections["Still non-compliant"].table == ()
    assert sections["Still non-compliant"].paragraphs == ("No host is known to fail a check.",)
    revisit = {(row["host"], row["state"]) for row in sections["Hosts to revisit"].table}
    assert revisit == {(h, "rolled back") for h in HOSTS[5:]}


def test_a_clean_run_recommends_closing() -> None:
    events = [
        *first_half(),
        *batch("s/batch 2", HOSTS[5:], 60, 80),
        StepAudited(**COMMON, at=at(85), step="s", stage="after", checks=["test_a"], passed=HOSTS, failed={}),
        RunFinished(**COMMON, at=at(90), status="completed"),
    ]
    view = project_view(PROJECT, events, as_of=at(90))
    assert [r.text for r in next_steps(view, events)] == [
        "Close the project: every host-step is verified and the re-audit found nothing."
    ]
    sections = {s.title: s for s in retrospective(view, events)}
    assert sections["What failed and why"].paragraphs == ("No task or check failed during the rollout.",)
    assert sections["Time: planned vs actual"].table == (
        {"milestone": "Rollout done", "due": "2026-11-26", "outcome": "reached", "when": "2026-11-26 11:20 UTC"},
    )


def test_what_the_re_audit_still_finds_is_to_remediate() -> None:
    events = [
        *first_half(),
        StepAudited(
            **COMMON, at=at(85), step="s", stage="after", passed=HOSTS[1:], failed={"h1": ["test_b: wrong mode"]}
        ),
    ]
    view = project_view(PROJECT, events, as_of=at(90))
    assert "Remediate test_b of step s on 1 host: h1." in [r.text for r in next_steps(view, events)]
