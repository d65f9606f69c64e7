"""Approver rules, and a run's status folded from its events (what artifacts and `itpm status` show)."""

from __future__ import annotations

from pathlib import Path

from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    BatchStarted,
    HostApplied,
    HostVerified,
    PhaseChanged,
    RolledBack,
    RunFinished,
    RunHalted,
    RunStarted,
)
from itpm.project_file import load_project
from itpm.project_run import check_approver
from itpm.reports.run_status import HostStepState, host_rows, run_status, step_rows, summary_markdown

REPO = Path(__file__).resolve().parents[2]
PROJECT = load_project(REPO / "projects" / "baseline-rollout.yaml")
STEP = PROJECT.steps[0]


def test_the_requester_cannot_approve_under_any_of_their_names() -> None:
    assert "cannot approve" in check_approver(PROJECT, STEP, "dana@example.com", "Dana Engineer")
    assert "cannot approve" in check_approver(PROJECT, STEP, "Chris Change", "Chris Change")


def test_approvers_need_the_role_and_to_be_on_the_team() -> None:
    assert check_approver(PROJECT, STEP, "Chris Change", "Dana Engineer") == ""
    assert check_approver(PROJECT, STEP, "chris@example.com", "Dana Engineer") == ""
    assert "has role engineer" in check_approver(PROJECT, STEP, "Dana Engineer", "someone")
    assert "not on the project team" in check_approver(PROJECT, STEP, "mallory", "Dana Engineer")


def _events() -> list[object]:
    common = {"run_id": "r1", "project": "p"}
    return [
        RunStarted(
            **common,
            project_file="p.yaml",
            title="Demo",
            project_kind="compliance",
            environment="lab",
            requester="dana",
            hosts=["h1", "h2", "h3"],
            steps=["s"],
        ),
        PhaseChanged(**common, phase="execution"),
        ApprovalRequested(**common, step="s", roles=["change_manager"], requester="dana"),
        ApprovalDecided(**common, step="s", approver="dana", decision="refused", reason="requester"),
        ApprovalDecided(**common, step="s", approver="chris", decision="approved", comment="ok"),
        BatchStarted(**common, step="s", batch="s/canary", hosts=["h1"]),
        HostApplied(**common, step="s", batch="s/canary", host="h1", status="changed", changed_tasks=3),
        HostVerified(**common, step="s", batch="s/canary", host="h1", passed=True),
        BatchStarted(**common, step="s", batch="s/batch 1", hosts=["h2", "h3"]),
        HostApplied(
            **common,
            step="s",
            batch="s/batch 1",
            host="h2",
            status="unreachable",
            failed_task="x",
            message="ssh: connect to host 10.77.0.3 port 22: Connection refused",
        ),
        HostApplied(**common, step="s", batch="s/batch 1", host="h3", status="changed"),
        HostVerified(**common, step="s", batch="s/batch 1", host="h3", passed=False, failures=["test_x: bad"]),
        RolledBack(**common, step="s", batch="s/batch 1", hosts=["h2", "h3"], ok=["h3"], failed={"h2": "down"}),
        RunHalted(**common, step="s", batch="s/batch 1", reason="2 of 2 failed", next_steps="fix, then resume"),
        RunFinished(**common, status="halted"),
    ]


def test_status_follows_the_events() -> None:
    status = run_status(_events())  # type: ignore[arg-type]
    assert (status.phase, status.finished, status.requester) == ("execution", "halted", "dana")
    assert status.states[("s", "h1")] is HostStepState.VERIFIED
    assert status.states[("s", "h2")] is HostStepState.ROLLED_BACK
    assert (
        status.problems[("s", "h2")] == "unreachable at x: ssh: connect to host 10.77.0.3 port 22: Connection refused"
    )
    assert status.problems[("s", "h3")] == "test_x: bad"
    assert (status.verified, status.total, round(status.progress_percent)) == (1, 3, 33)
    assert status.waiting_for_approval == ""
    assert status.approvals == ["s: refused by dana (requester)", "s: approved by chris, unsigned (ok)"]


def test_rows_and_summary_are_plain_words() -> None:
    status = run_status(_events())  # type: ignore[arg-type]
    rows = host_rows(status)
    assert rows[0] == {"host": "h1", "s": "verified", "needs attention": ""}
    assert rows[2]["s"] == "rolled back" and rows[2]["needs attention"] == "s: test_x: bad"
    summary = summary_markdown(status)
    assert "**halted**" in summary and "1 of 3 host-steps verified (33.3%)" in summary
    assert "rolled back: h2, h3" in summary and "**Next**: fix, then resume" in summary
    assert "<" not in summary and "HostStepState" not in summary  # no Python reprs for a PM


def test_a_step_narrowed_to_some_hosts_counts_only_those() -> None:
    common = {"run_id": "r2", "project": "p"}
    started = RunStarted(
        **common,
        project_file="p.yaml",
        title="T",
        project_kind="compliance",
        environment="lab",
        requester="dana",
        hosts=["h1", "h2"],
        steps=["all", "web"],
        step_hosts={"all": ["h1", "h2"], "web": ["h1"]},
    )
    verified = HostVerified(**common, step="web", host="h1", passed=True)
    status = run_status([started, verified])
    assert (status.verified, status.total) == (1, 3)
    assert host_rows(status)[1] == {"host": "h2", "all": "pending", "web": "not in this step", "needs attention": ""}


def test_a_table_per_step() -> None:
    status = run_status(_events())  # type: ignore[arg-type]
    assert step_rows(status, "s") == [
        {"host": "h1", "state": "verified", "needs attention": ""},
        {
            "host": "h2",
            "state": "rolled back",
            "needs attention": "unreachable at x: ssh: connect to host 10.77.0.3 port 22: Connection refused",
        },
        {"host": "h3", "state": "rolled back", "needs attention": "test_x: bad"},
    ]


def test_a_host_verified_after_a_fix_no_longer_needs_attention() -> None:
    common = {"run_id": "r1", "project": "p"}
    resumed = [
        *_events(),
        BatchStarted(**common, step="s", batch="s/batch 1", hosts=["h2", "h3"]),
        HostApplied(**common, step="s", batch="s/batch 1", host="h2", status="changed"),
        HostApplied(**common, step="s", batch="s/batch 1", host="h3", status="changed"),
        HostVerified(**common, step="s", batch="s/batch 1", host="h2", passed=True),
        HostVerified(**common, step="s", batch="s/batch 1", host="h3", passed=True),
        RunFinished(**common, status="completed"),
    ]
    status = run_status(resumed)  # type: ignore[arg-type]
    assert status.problems == {}  # what failed before the halt is history (the log keeps it), not attention
    assert (status.verified, status.finished) == (3, "completed")
