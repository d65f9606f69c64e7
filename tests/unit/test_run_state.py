"""The one fold of a run's events (itpm.run_state): what the engine decides from and what every report shows."""

from __future__ import annotations

from itpm.log.events import (
    ApprovalDecided,
    BatchFinished,
    BatchStarted,
    Event,
    HostApplied,
    HostVerified,
    RolledBack,
    RunStarted,
    StepAudited,
)
from itpm.models.failures import FailureKind
from itpm.models.project import Project
from itpm.models.statuses import Decision
from itpm.reports.project_view import project_view
from itpm.reports.run_status import host_rows
from itpm.run_state import HostStepState, RunState
from tests.unit.test_project_view import PROJECT

COMMON = {"run_id": "r1", "project": "p"}


def started(**changes: object) -> RunStarted:
    fields: dict[str, object] = {
        "project_file": "p.yaml",
        "title": "P",
        "project_kind": "baseline",
        "environment": "lab",
        "requester": "dana",
        "hosts": ["h1", "h2", "h3"],
        "steps": ["s"],
        "step_hosts": {"s": ["h1", "h2", "h3"]},
    }
    return RunStarted.model_validate({**COMMON, **fields, **changes})


def halted_batch_without_rollback() -> list[Event]:
    """h1 applied and verified, h2's check failed: the batch halts, and the step has no rollback playbook."""
    common = {**COMMON, "step": "s", "batch": "s/batch 1"}
    return [
        started(),
        BatchStarted(**common, hosts=["h1", "h2"]),
        HostApplied(**common, host="h1", status="changed"),
        HostApplied(**common, host="h2", status="changed"),
        HostVerified(**common, host="h1", passed=True),
        HostVerified(**common, host="h2", passed=False, failures=["test_banner: no banner"]),
        BatchFinished(**common, verdict="halted", ok=["h1"], failed=["h2"]),
    ]


def test_a_halted_batch_is_undone_for_the_engine_and_every_report_alike() -> None:
    # Issue 14, defect 2: the engine re-applied h1 on resume while the reports counted it verified for good.
    events = halted_batch_without_rollback()
    state = RunState.of(events)
    assert state.done("s") == set()  # what a resumption applies again: both hosts
    assert state.states[("s", "h1")] is HostStepState.HALTED and state.states[("s", "h2")] is HostStepState.FAILED
    rows = {row["host"]: row["s"] for row in host_rows(state)}
    assert rows == {"h1": "halted, to redo", "h2": "failed", "h3": "pending"}
    assert state.verified == 0 and state.progress_percent == 0.0
    view = project_view(_project(), events, as_of=events[-1].at)
    assert view.percent_complete == 0.0


def test_a_rollback_after_the_halt_says_rolled_back_and_a_resumed_batch_is_done_again() -> None:
    events = [*halted_batch_without_rollback()]
    events.append(RolledBack(**COMMON, step="s", batch="s/batch 1", hosts=["h1", "h2"], ok=["h1", "h2"], failed={}))
    state = RunState.of(events)
    assert {state.states[("s", h)] for h in ("h1", "h2")} == {HostStepState.ROLLED_BACK}
    common = {**COMMON, "step": "s", "batch": "s/batch 1"}
    for entry in (
        started(resumed=True, hosts=["h1", "h2", "h3", "h9"]),  # a resumption keeps the first start's hosts
        BatchStarted(**common, hosts=["h1", "h2"]),
        HostVerified(**common, host="h1", passed=True),
        HostVerified(**common, host="h2", passed=True),
        BatchFinished(**common, verdict="passed", ok=["h1", "h2"], failed=[]),
    ):
        state.apply(entry)
    assert state.done("s") == {"h1", "h2"} and state.hosts == ["h1", "h2", "h3"]
    assert ("s", "h2") not in state.problems  # fixed and resumed: nothing left to attend to


def test_failures_read_from_an_older_log_are_typed() -> None:
    verified = HostVerified(**COMMON, step="s", host="h2", passed=False, failures=["test_banner: no banner: at all"])
    (failure,) = verified.failures
    assert (failure.kind, failure.host, failure.check, failure.message) == (
        FailureKind.CHECK_FAILED,
        "h2",
        "test_banner",
        "no banner: at all",
    )
    audited = StepAudited(**COMMON, step="s", stage="before", passed=[], failed={"h1": ["test_x: off"]})
    assert audited.failed["h1"][0].check == "test_x"
    again = HostVerified.model_validate_json(verified.model_dump_json())
    assert again == verified


def test_approvals_baselines_and_refusals() -> None:
    state = RunState.of(
        [
            started(),
            StepAudited(**COMMON, step="s", stage="before", passed=["h1"], failed={}),
            ApprovalDecided(**COMMON, step="s", approver="dana", decision="refused", reason="requester"),
        ]
    )
    assert state.baselines == {"s"} and not state.approved("s")
    state.apply(ApprovalDecided(**COMMON, step="s", approver="chris", decision="approved"))
    assert state.approved("s") and state.decisions["s"][-1].decision is Decision.APPROVED
    assert state.approvals == ["s: refused by dana (requester)", "s: approved by chris, unsigned"]


def _project() -> Project:
    return PROJECT
