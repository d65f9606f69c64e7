"""Emergency changes and their post-implementation review, with fake ports, a real SQLite log and real SSH keys.

An emergency run goes past its gate, logs why, and stays flagged in status, reports and notices until someone who
could have approved the gate, not the requester, records a review signed with their key (ssh-keygen -Y).
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from itpm.console import project_screen
from itpm.engine.emergency import EmergencyRefused, check_declaration
from itpm.engine.review import PendingReview, ReviewRefused
from itpm.engine.signed_answers import Answer
from itpm.log.events import (
    ApprovalRequested,
    EmergencyDeclared,
    GateSkipped,
    NoteAdded,
    ReviewRecorded,
    RunFinished,
    now,
)
from itpm.models.project import Notice, Project
from itpm.models.statuses import Decision, RunEnd
from itpm.notify.categories import notice_for
from itpm.notify.message import compose
from itpm.project_run import ProjectRun
from itpm.reports.briefing import briefing_of
from itpm.reports.markdown_report import render_markdown
from itpm.reports.project_view import ProjectView, project_view
from itpm.reports.retrospective import next_steps, retrospective
from itpm.reports.run_status import summary_markdown
from itpm.reports.status_report import status_report
from itpm.run_state import RunState
from itpm.signing.instructions import statement_for
from itpm.signing.ssh_keygen import sign
from itpm.signing.statement import APPROVAL_NAMESPACE, Statement, bundle
from tests.unit.engine_runs import PLAYBOOK, ROLLBACK, Engine, drive, inventory, project_data, step
from tests.unit.fake_ports import FakeExecutor, FakeVerifier
from tests.unit.test_exit_codes import run_main

REASON = "payments down: CVE-2026-1234 exploited, vendor patch"
GATED = step(strategy={"approval": {"roles": ["change_manager"]}})
PEOPLE = (
    ("dana", "Dana Engineer", "engineer"),
    ("chris", "Chris Change", "change_manager"),
    ("erin", "Erin E", "engineer"),
)
PENDING = (
    f"EMERGENCY CHANGE — gates skipped: s; reason: {REASON}; post-implementation review pending "
    "(`itpm review {run} --as <login> --key ~/.ssh/id_ed25519`)"
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Return each team member's ed25519 private key (made once for the module: ssh-keygen takes a few ms)."""
    folder = tmp_path_factory.mktemp("keys")
    made = {}
    for login, _, _ in PEOPLE:
        made[login] = folder / login
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", login, "-f", str(made[login])], check=True)
    return made


def _team(keys: dict[str, Path]) -> list[dict[str, str]]:
    return [
        {"name": name, "role": role, "user": login, "signing_key": keys[login].with_suffix(".pub").read_text()}
        for login, name, role in PEOPLE
    ]


@dataclass
class Repo:
    """A repository with one project file, whose runs work on the engine's log through fakes."""

    engine: Engine
    project_file: Path

    def open(self, run_id: str = "fix-1") -> ProjectRun:
        run = self.engine.adopt(
            ProjectRun.open(self.project_file, self.engine.settings, requester="dana", run_id=run_id)
        )
        run.executor, run.verifier = FakeExecutor(), FakeVerifier()
        return run

    def rewrite(self, **changes: Any) -> Project:
        """Write the project file again with ``changes`` (steps, signing, team); return the project."""
        data = yaml.safe_load(self.project_file.read_text())
        self.project_file.write_text(yaml.safe_dump({**data, **changes}))
        return Project.model_validate({**data, **changes})


@pytest.fixture
def repo(engine: Engine, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A project whose one step has a change-manager gate, a signing team, and signatures required."""
    monkeypatch.setattr("itpm.project_run.load_inventory", inventory)  # ansible-inventory takes a second to start
    root = engine.tmp_path / "repo"
    for path in (PLAYBOOK, ROLLBACK, Path("checks/fake/test_fake.py")):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("")
    project_file = root / "projects" / "engine-test.yaml"
    project_file.parent.mkdir()
    data = project_data(GATED, scope={"inventory": "hosts.yml"}, team=_team(keys), signing={"required": True})
    project_file.write_text(yaml.safe_dump(data))
    return Repo(engine, project_file)


def _emergency(run: ProjectRun, reason: str = REASON) -> None:
    """Work ``run`` as the project flow does with ``--emergency``: declared once started, past the gate, to the end."""
    run.check_emergency(reason, dry_run=False)
    run.start()
    run.declare_emergency(reason)
    gated = run.project.steps[0]
    run.plan(gated)
    assert run.approval_needed(gated) and run.skip_gate(gated)  # the flow's gate: skipped, not waited for
    drive(run, gated)
    run.finish(RunEnd.COMPLETED)


def _signed_review(
    keys: dict[str, Path], pending: PendingReview, signer: str, comment: str = "", **changes: str
) -> Answer:
    """Return ``signer``'s review of ``pending`` signed with their key; ``changes`` alter the statement first."""
    statement = Statement(**{**vars(pending.statement(signer, comment)), **changes})
    signature = sign(statement.text().encode(), keys[signer], APPROVAL_NAMESPACE)
    return Answer(signer, True, comment, bundle(statement, signature))


def _view(engine: Engine, run: ProjectRun) -> ProjectView:
    return project_view(run.project, engine.logged(run.run_id), as_of=now())


# -- the emergency ------------------------------------------------------------------------------------------------


def test_an_emergency_change_skips_the_gate_once_and_logs_why(repo: Repo) -> None:
    run = repo.open()
    _emergency(run)
    logged = repo.engine.logged(run.run_id)
    declared = [e for e in logged if isinstance(e, EmergencyDeclared)]
    assert [(d.reason, d.by, d.steps, d.roles) for d in declared] == [(REASON, "dana", ["s"], ["change_manager"])]
    skipped = [e for e in logged if isinstance(e, GateSkipped)]
    assert [(s.step, s.roles, s.reason) for s in skipped] == [("s", ["change_manager"], REASON)]
    assert skipped[0].plan_digest == run.state.gates.current_digest("s") != ""  # the plan that went unapproved
    assert not any(isinstance(e, ApprovalRequested) for e in logged)  # nobody was asked, nobody waited
    assert run.done_hosts(run.project.steps[0]) == {"h1", "h2", "h3", "h4", "h5", "h6"}
    state = RunState.of(logged)
    assert (state.emergency, state.gates_skipped, state.review, state.review_pending) == (REASON, ["s"], None, True)

    again = repo.open()  # a resumption goes past the gate again, without logging it twice
    assert again.skip_gate(again.project.steps[0])
    assert len(again.record_keeper.of_kind(GateSkipped)) == 1


def test_a_run_waiting_at_its_gate_resumed_as_an_emergency_goes_past_it(repo: Repo) -> None:
    run = repo.open()
    run.start()
    gated = run.project.steps[0]
    run.plan(gated)
    run.request_approval(gated)
    run.stop("SIGTERM")
    assert run.state.waiting_for_approval == "s"
    again = repo.open()
    assert again.check_emergency(REASON, dry_run=False) == ["s"]
    again.start()
    again.declare_emergency(REASON)
    assert again.skip_gate(gated)
    assert again.state.waiting_for_approval == ""  # nobody is asked to approve any more
    assert not repo.open("fix-2").skip_gate(gated)  # a run that declared nothing waits at its gate


@pytest.mark.parametrize(
    ("reason", "dry_run", "gated", "message"),
    [
        ("", False, True, "--emergency needs a reason"),
        ("  \t", False, True, "--emergency needs a reason"),
        (REASON, True, True, "a dry run with --emergency"),
        (REASON, False, False, "no gate to skip: no step of project engine-test has an approval gate"),
    ],
)
def test_an_emergency_declaration_needs_a_reason_a_change_and_a_gate(
    repo: Repo, reason: str, dry_run: bool, gated: bool, message: str
) -> None:
    project = repo.rewrite(steps=[GATED if gated else step()])
    with pytest.raises(EmergencyRefused) as refused:
        check_declaration(project, RunState(), reason, dry_run=dry_run)
    assert message in refused.value.message and refused.value.fix
    assert refused.value.exit_code == 2


def test_an_approved_gate_or_one_already_declared_leaves_nothing_to_skip(repo: Repo, keys: dict[str, Path]) -> None:
    run = repo.open()
    run.start()
    gated = run.project.steps[0]
    run.plan(gated)
    request = run.request_approval(gated)
    statement = statement_for(request, project=run.project.name, signer="chris")
    signed = bundle(statement, sign(statement.text().encode(), keys["chris"], APPROVAL_NAMESPACE))
    approved = run.decide_approval(gated, Answer("chris", True, "", signed))
    assert (approved.decision, approved.signed) == (Decision.APPROVED, True)  # the shared check_signed path
    with pytest.raises(EmergencyRefused, match="no gate to skip"):
        run.check_emergency(REASON, dry_run=False)

    declared = repo.open("fix-2")
    _emergency(declared)
    with pytest.raises(EmergencyRefused, match="run fix-2's emergency already skips s"):
        repo.open("fix-2").check_emergency("again", dry_run=False)


# -- the flag -----------------------------------------------------------------------------------------------------


def test_the_flag_shows_in_status_reports_retrospective_and_notices(repo: Repo) -> None:
    run = repo.open()
    _emergency(run)
    view, events = _view(repo.engine, run), repo.engine.logged(run.run_id)
    flag = PENDING.format(run="fix-1")
    assert ("Emergency change", flag) in status_report(view).facts
    assert f"- **Emergency change**: {flag}" in render_markdown(view)  # the Prefect artifact and the HTML report
    asked = "Emergency change: its post-implementation review is pending. Once the run has ended, someone with role "
    asked += "change_manager other than dana records it: `itpm review fix-1 --as <login> --key ~/.ssh/id_ed25519`"
    assert asked in view.attention
    assert f"**{flag}**" in summary_markdown(view.status)  # what `itpm run` prints at the end
    approvals = next(s for s in retrospective(view, events) if s.title == "Approvals")
    assert approvals.paragraphs == (flag,)
    assert any(r.text.startswith("Review the emergency change") for r in next_steps(view, events))
    screen = io.StringIO()
    Console(file=screen, width=400, color_system=None).print(project_screen(view))
    assert flag.replace("`", "") in screen.getvalue().replace("`", "")

    finished = next(e for e in events if isinstance(e, RunFinished))
    notice = compose(run.project, finished, briefing_of(view))
    assert notice.subject == "[itpm] [EMERGENCY CHANGE] Engine rules under test: run completed"
    assert flag in notice.text and notice.data["emergency"] == flag
    declared = next(e for e in events if isinstance(e, EmergencyDeclared))
    assert notice_for(declared) is Notice.APPROVALS  # those who approve hear their gate is skipped
    told = compose(run.project, declared, briefing_of(view))
    assert "emergency change skips the approval of step 's'" in told.subject
    assert "itpm review fix-1 --as <login> --key ~/.ssh/id_ed25519" in told.text


# -- the review ---------------------------------------------------------------------------------------------------


def test_a_signed_review_by_a_change_manager_clears_the_flag(repo: Repo, keys: dict[str, Path]) -> None:
    run = repo.open()
    _emergency(run)
    head = repo.engine.log.chain_head(run.run_id)
    pending = PendingReview.open(repo.engine.log, run.run_id)
    recorded = pending.record(_signed_review(keys, pending, "chris", "service restored, no side effects"))
    assert recorded.refused == "" and (recorded.reviewer, recorded.role, recorded.signed) == (
        "chris",
        "change_manager",
        True,
    )
    assert head is not None and recorded.head == head.hash  # the review covers the log up to there
    assert recorded.signer_key.startswith("SHA256:") and "BEGIN SSH SIGNATURE" in recorded.signature

    view = _view(repo.engine, run)
    assert not view.status.review_pending
    flag = dict(status_report(view).facts)["Emergency change"]
    assert flag.startswith(f"emergency change (gates skipped: s; reason: {REASON}), reviewed by chris on ")
    assert flag.endswith(", signed: service restored, no side effects")
    assert not any("post-implementation review" in line for line in view.attention)
    notice = compose(
        run.project, next(e for e in repo.engine.logged(run.run_id) if isinstance(e, RunFinished)), briefing_of(view)
    )
    assert flag in notice.text  # it still says it was an emergency change

    with pytest.raises(ReviewRefused, match="was reviewed by chris on"):
        PendingReview.open(repo.engine.log, run.run_id)


def test_an_unsigned_review_counts_only_where_signatures_are_not_required(repo: Repo) -> None:
    run = repo.open()
    _emergency(run)
    refused = PendingReview.open(repo.engine.log, run.run_id).record(Answer("chris", True, "looked fine"))
    assert refused.refused.startswith("unsigned: project engine-test requires signed reviews; sign with `itpm review")
    assert refused.role == ""  # a refused review was given in no role
    assert RunState.of(repo.engine.logged(run.run_id)).review_pending  # logged as evidence, and the flag stays

    repo.rewrite(signing={"required": False})
    taken = PendingReview.open(repo.engine.log, run.run_id).record(Answer("Chris Change", True, "looked fine"))
    assert (taken.refused, taken.signed, taken.role) == ("", False, "change_manager")
    assert ", unsigned: looked fine" in dict(status_report(_view(repo.engine, run)).facts)["Emergency change"]


@pytest.mark.parametrize(
    ("signer", "changes", "refusal"),
    [
        ("dana", {}, "signed with the key of dana, who requested this run"),
        ("erin", {}, "erin has role engineer; reviewing this emergency change needs a role that could have approved"),
        ("chris", {"run": "fix-2"}, "signed for run fix-2, not this run (fix-1)"),
        ("chris", {"purpose": "approval"}, "a approval statement, not a review"),
        ("chris", {"decision": "approve"}, "the statement's decision is 'approve': it must be reviewed"),
    ],
)
def test_a_review_by_the_wrong_person_or_about_something_else_is_refused_and_logged(
    repo: Repo, keys: dict[str, Path], signer: str, changes: dict[str, str], refusal: str
) -> None:
    run = repo.open()
    _emergency(run)
    pending = PendingReview.open(repo.engine.log, run.run_id)
    recorded = pending.record(_signed_review(keys, pending, signer, **changes))
    assert recorded.refused.startswith(refusal)
    logged = [e for e in repo.engine.logged(run.run_id) if isinstance(e, ReviewRecorded)]
    assert [e.refused for e in logged] == [recorded.refused]  # the attempt is evidence
    assert RunState.of(repo.engine.logged(run.run_id)).review_pending


def test_a_review_signed_for_another_run_or_an_older_log_is_refused(repo: Repo, keys: dict[str, Path]) -> None:
    first, second = repo.open("fix-1"), repo.open("fix-2")
    _emergency(first)
    _emergency(second)
    other = PendingReview.open(repo.engine.log, "fix-2")
    answer = _signed_review(keys, other, "chris")  # a good review, of the other run
    refused = PendingReview.open(repo.engine.log, "fix-1").judge(answer)
    assert refused.refused == "signed for run fix-2, not this run (fix-1)"

    repo.engine.log.append(NoteAdded(run_id="fix-2", project="engine-test", author="dana", text="rebooted h3"))
    stale = PendingReview.open(repo.engine.log, "fix-2").judge(answer)  # signed before the note was logged
    assert stale.refused.startswith("signed over another state of the run's log (head ")


def test_only_an_ended_emergency_change_can_be_reviewed(repo: Repo) -> None:
    plain = repo.open("plain-1")
    plain.start()
    plain.finish(RunEnd.COMPLETED)
    with pytest.raises(ReviewRefused, match="run plain-1 was not an emergency change"):
        PendingReview.open(repo.engine.log, "plain-1")
    running = repo.open()
    running.start()
    running.declare_emergency(REASON)
    with pytest.raises(ReviewRefused, match="run fix-1 is still running"):
        PendingReview.open(repo.engine.log, "fix-1")


# -- the command line ---------------------------------------------------------------------------------------------


@pytest.fixture
def itpm(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Run ``itpm ARGS`` in this process on the engine's log; return (exit code, what it printed)."""
    monkeypatch.setenv("ITPM_STATE_DIR", str(repo.engine.settings.state_dir))
    monkeypatch.delenv("ITPM_SIGNING_KEY", raising=False)

    def run(*args: str) -> tuple[int | None, str]:
        return run_main(*args)

    yield run


@pytest.mark.parametrize(
    ("args", "gated", "message"),
    [
        (["--emergency", ""], True, "--emergency needs a reason"),
        (["--emergency", REASON, "--dry-run"], True, "a dry run with --emergency"),
        (["--emergency", REASON], False, "no gate to skip"),
    ],
)
def test_itpm_run_refuses_an_emergency_without_reason_change_or_gate(
    repo: Repo, itpm: Any, args: list[str], gated: bool, message: str
) -> None:
    repo.rewrite(steps=[GATED if gated else step()])
    code, output = itpm("run", str(repo.project_file), *args)
    assert code == 2, output
    assert message in output and "fix:" in output and "Traceback" not in output


def test_itpm_review_signs_and_clears_the_flag_and_itpm_status_shows_it(
    repo: Repo, itpm: Any, keys: dict[str, Path]
) -> None:
    _emergency(repo.open())
    code, output = itpm("status", "fix-1")
    assert code == 0 and "EMERGENCY CHANGE — gates skipped: s" in output and "review pending" in output

    code, output = itpm("review", "fix-1", "--as", "dana", "--key", str(keys["dana"]))
    assert code == 2 and "signed with the key of dana, who requested this run" in output

    code, output = itpm("resume", "fix-1", "--emergency", "again")
    assert code == 2 and "emergency already skips s" in output

    code, output = itpm("review", "fix-1", "--as", "chris", "--key", str(keys["chris"]), "--comment", "fine")
    assert code == 0, output
    assert "reviewed the emergency change of run fix-1 as chris (change_manager, signed with SHA256:" in output
    code, output = itpm("status", "fix-1")
    assert code == 0 and "emergency change (gates skipped: s" in output and "reviewed by chris on" in output
    assert "review pending" not in output
