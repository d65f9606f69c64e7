"""What lets a step change hosts, with fake ports and a real SQLite log: approvals, change windows, waivers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from itpm.engine.approvals import Answer
from itpm.log.events import ApprovalDecided, HostVerified
from itpm.log.events import now as real_now
from itpm.models.failures import FailureKind
from itpm.models.standard import Standard
from itpm.models.statuses import Decision, Verdict
from tests.unit.engine_runs import PLAYBOOK, Engine, drive, project, step
from tests.unit.fake_ports import FakeExecutor, FakeVerifier

GATED = step(strategy={"approval": {"roles": ["change_manager"]}})


def test_a_gate_stays_open_until_a_team_member_with_the_role_approves(engine: Engine) -> None:
    run = engine.open(project(GATED))  # requested by dana, an engineer
    run.start()
    gated = run.project.steps[0]
    assert run.approval_needed(gated)
    run.request_approval(gated)
    assert run.state.waiting_for_approval == "s"
    refused = [
        run.decide_approval(gated, Answer(who, True))
        for who in ("dana", "Dana Engineer", "mallory", "erin")  # the requester (by login, by name), off the team
    ]
    assert [d.decision for d in refused] == [Decision.REFUSED] * 4
    assert [d.reason for d in refused] == [
        "dana requested this run and cannot approve it: another person with role change_manager must",
        "Dana Engineer requested this run and cannot approve it: another person with role change_manager must",
        "mallory is not on the project team; approvers need role change_manager",
        "erin has role engineer; step 's' needs change_manager",
    ]
    assert run.approval_needed(gated) and run.state.waiting_for_approval == "s"  # a refusal leaves the gate open
    asked_at = real_now() - timedelta(minutes=5)
    approved = run.decide_approval(gated, Answer("chris", True, "in the window"), requested_at=asked_at)
    assert approved.decision is Decision.APPROVED and approved.waited_s >= 300
    assert not run.approval_needed(gated) and run.state.waiting_for_approval == ""
    # The log, read by a resumption, holds every answer: the gate stays approved.
    logged = [e for e in engine.logged() if isinstance(e, ApprovalDecided)]
    assert [(e.approver, e.decision) for e in logged] == [
        ("dana", Decision.REFUSED),
        ("Dana Engineer", Decision.REFUSED),
        ("mallory", Decision.REFUSED),
        ("erin", Decision.REFUSED),
        ("chris", Decision.APPROVED),
    ]
    assert not engine.open(project(GATED)).approval_needed(gated)


def test_a_rejection_closes_the_gate_without_approving(engine: Engine) -> None:
    run = engine.open(project(GATED))
    run.start()
    gated = run.project.steps[0]
    run.request_approval(gated)
    rejected = run.decide_approval(gated, Answer("chris", False, "not before the freeze ends"))
    assert rejected.decision is Decision.REJECTED and rejected.reason == ""
    assert run.state.waiting_for_approval == ""  # nobody is waited for any more
    assert run.approval_needed(gated)  # and nothing was approved
    assert run.state.approvals == ["s: rejected by chris, unsigned (not before the freeze ends)"]


def test_a_step_without_a_gate_needs_no_approval_and_takes_none(engine: Engine) -> None:
    run = engine.open(project())
    run.start()
    ungated = run.project.steps[0]
    assert not run.approval_needed(ungated)
    answer = run.decide_approval(ungated, Answer("chris", True))
    assert (answer.decision, answer.reason) == (Decision.REFUSED, "step 's' needs no approval")


# -- change windows --------------------------------------------------------------------------------------------


class _Clock:
    """A clock that a fake sleep moves forward."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)


def test_a_batch_waits_for_its_change_window_to_open(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    window = {"days": ["sat"], "start": "22:00", "end": "02:00", "timezone": "Europe/Berlin"}
    run = engine.open(project(step(strategy={"change_window": window})))
    clock = _Clock(datetime(2026, 11, 28, 20, 57, 30, tzinfo=UTC))  # Saturday 21:57:30 in Berlin
    monkeypatch.setattr("itpm.engine.change_window.now", clock.now)
    windowed = run.project.steps[0]
    assert run.wait_for_window(windowed, sleep=clock.sleep) == 180.0
    assert clock.slept == [60.0, 60.0, 60.0] and clock.at.hour == 21 and clock.at.minute == 0  # 22:00:30 there
    clock.at = datetime(2026, 11, 29, 0, 30, tzinfo=UTC)  # 01:30 on Sunday there: Saturday's window still open
    assert run.wait_for_window(windowed, sleep=clock.sleep) == 0.0
    assert len(clock.slept) == 3


def test_a_step_without_a_window_never_waits(engine: Engine) -> None:
    run = engine.open(project())

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s without a window")

    assert run.wait_for_window(run.project.steps[0], sleep=no_sleep) == 0.0


# -- waivers ---------------------------------------------------------------------------------------------------

STANDARD = Standard.model_validate(
    {
        "id": "fake-baseline",
        "title": "Fake baseline",
        "version": "1",
        "checks": "checks/fake",
        "controls": [
            {
                "id": "BAN-01",
                "title": "Banner",
                "severity": "low",
                "rationale": "People see whose host it is.",
                "checks": ["test_banner_shown"],
                "remediation": {"role": "compliance", "tasks": "banner"},
            },
            {
                "id": "SSH-01",
                "title": "sshd hardened",
                "severity": "high",
                "rationale": "Root logs in with keys only.",
                "checks": ["test_sshd_hardened"],
                "remediation": {"role": "compliance", "tasks": "sshd"},
            },
        ],
    }
)
EXPIRES = date(2026, 11, 27)


def _compliance_run(engine: Engine, run_id: str, verifier: FakeVerifier, executor: FakeExecutor) -> None:
    """Run a compliance project whose waiver of SSH-01 on h2 and h3 holds through ``EXPIRES``."""
    waiver = {"control": "SSH-01", "hosts": ["h2", "h3"], "owner": "Dana Engineer", "reason": "vendor fix due"}
    compliance = {"standard": "standards/fake.yaml", "waivers": [{**waiver, "expires": EXPIRES.isoformat()}]}
    strategy = {"canary": None, "batch_size": 3, "max_fail_percent": 50}
    the_project = project(step(strategy=strategy), kind="compliance", compliance=compliance)
    run = engine.open(the_project, executor, verifier, run_id=run_id, standard=STANDARD)
    run.start()
    drive(run, run.project.steps[0])


@pytest.mark.parametrize(
    ("today", "waived"),
    [
        pytest.param(EXPIRES, True, id="on its expiry day"),
        pytest.param(EXPIRES + timedelta(days=1), False, id="the day after"),
    ],
)
def test_a_waiver_exempts_its_controls_checks_until_it_lapses(
    today: date, waived: bool, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
    monkeypatch.setattr("itpm.engine.run_vars.now", lambda: moment)
    # h2 fails only the waived control's check; h3 fails it and the banner, which no waiver covers.
    sshd, banner = {"test_sshd_hardened": "PermitRootLogin yes"}, {"test_banner_shown": "no banner"}
    verifier = FakeVerifier(failing={"h2": sshd, "h3": {**sshd, **banner}})
    executor = FakeExecutor()
    _compliance_run(engine, "compliance-1", verifier, executor)
    verified = {e.host: e for e in engine.logged("compliance-1") if isinstance(e, HostVerified)}
    assert verified["h2"].passed is waived
    assert verified["h3"].passed is False
    assert [f.check for f in verified["h3"].failures] == (
        ["test_banner_shown"] if waived else ["test_banner_shown", "test_sshd_hardened"]
    )
    assert all(f.kind is FailureKind.CHECK_FAILED for f in verified["h3"].failures)
    finished = engine.logged("compliance-1", "batch_finished")
    expected = [Verdict.TOLERATED, Verdict.PASSED] if waived else [Verdict.HALTED]  # 1 or 2 of 3 failed, 50% allowed
    assert [getattr(e, "verdict", None) for e in finished] == expected
    # The remediation is told which controls to leave alone on which host, on the day it runs.
    extravars = executor.calls[0].extravars
    assert executor.calls[0].playbook == PLAYBOOK
    assert extravars["itpm_compliance_waived"] == ({"h2": ["SSH-01"], "h3": ["SSH-01"]} if waived else {})
    assert [c["id"] for c in extravars["itpm_compliance_controls"]] == ["BAN-01", "SSH-01"]


def test_waivers_belong_to_compliance_projects_only(engine: Engine) -> None:
    run = engine.open(project())
    assert run.run_vars.waivers() == {} and run.run_vars.waived_checks() == {}
    assert "itpm_compliance_waived" not in run.run_vars.extravars(run.project.steps[0])
