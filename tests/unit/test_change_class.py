"""Change classes: the risk matrix, which risks bear on a step, what each class demands, and where a run records it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from itpm.errors import ProjectFileError
from itpm.log.events import RunStarted, event_adapter
from itpm.models.change_control import ChangeClass, Classification, classify
from itpm.models.project import Project
from itpm.project_file import load_project
from itpm.run_state import RunState
from tests.unit.engine_runs import Engine, project_data, step
from tests.unit.test_exit_codes import run_main

REPO = Path(__file__).resolve().parents[2]
GATE = {"roles": ["change_manager"]}
TWO_ROLES = {"roles": ["change_manager", "engineer"]}
SSH = "R1 'Agent breaks SSH'"


def risk(likelihood: str = "low", impact: str = "high", **changes: Any) -> dict[str, Any]:
    return {
        "id": "R1",
        "title": "Agent breaks SSH",
        "likelihood": likelihood,
        "impact": impact,
        "mitigation": "canary first",
        "owner": "Dana Engineer",
        **changes,
    }


def project(*steps: dict[str, Any], risks: list[dict[str, Any]], **changes: Any) -> Project:
    return Project.model_validate(project_data(*steps, risks=risks, **changes))


def refusal(*steps: dict[str, Any], risks: list[dict[str, Any]], **changes: Any) -> str:
    with pytest.raises(ValidationError) as refused:
        project(*steps, risks=risks, **changes)
    return str(refused.value)


def classified(strategy: dict[str, Any], *risks: dict[str, Any], name: str = "s") -> Classification:
    """Return the classification of one step ``name`` (with a second step, ``other``, beside it)."""
    loaded = project(step(name, strategy=strategy), step("other", strategy=strategy), risks=list(risks))
    return classify(loaded, loaded.step(name))


# -- the matrix -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("likelihood", "impact", "expected"),
    [
        ("low", "low", ChangeClass.STANDARD),
        ("low", "medium", ChangeClass.STANDARD),
        ("medium", "low", ChangeClass.STANDARD),
        ("low", "high", ChangeClass.NORMAL),
        ("high", "low", ChangeClass.NORMAL),
        ("medium", "medium", ChangeClass.NORMAL),
        ("medium", "high", ChangeClass.HIGH),
        ("high", "medium", ChangeClass.HIGH),
        ("high", "high", ChangeClass.HIGH),
    ],
)
def test_likelihood_times_impact_gives_the_class(likelihood: str, impact: str, expected: ChangeClass) -> None:
    # A strategy every class accepts: two roles, a canary, batches of 25%.
    found = classified({"approval": TWO_ROLES, "batch_size": "25%"}, risk(likelihood, impact))
    assert found.change_class is found.risk_class is expected
    assert found.reasons[0] == f"{SSH}: {likelihood} likelihood x {impact} impact"
    # A standard step keeps the gate the file gives it: one approval.
    assert found.approvals_needed == {ChangeClass.STANDARD: 1, ChangeClass.NORMAL: 1, ChangeClass.HIGH: 2}[expected]


def test_a_step_no_risk_bears_on_is_a_standard_change_without_approval() -> None:
    found = classified({})
    assert (found.change_class, found.approvals_needed, found.pre_authorised) == (ChangeClass.STANDARD, 0, "")
    assert found.summary == "standard change, no approval (no open risk bears on it)"


def test_a_standard_step_with_a_gate_needs_its_one_approval() -> None:
    found = classified({"approval": GATE}, risk("low", "low"))
    assert (found.change_class, found.approvals_needed) == (ChangeClass.STANDARD, 1)
    assert (
        found.summary
        == f"standard change, 1 approval ({SSH}: low likelihood x low impact; its approval gate asks for one)"
    )


def test_the_worst_risk_decides_and_only_the_risks_of_its_class_explain_it() -> None:
    found = classified(
        {"approval": GATE},
        risk("low", "low"),
        risk("medium", "medium", id="R2", title="Disk fills"),
        risk("high", "low", id="R3", title="Slow reload"),
    )
    assert found.change_class is ChangeClass.NORMAL
    assert found.reasons == (
        "R2 'Disk fills': medium likelihood x medium impact",
        "R3 'Slow reload': high likelihood x low impact",
    )


# -- which risks bear on a step ---------------------------------------------------------------------------------


def test_a_closed_risk_bears_on_no_step() -> None:
    assert classified({}, risk("high", "high", open=False)).change_class is ChangeClass.STANDARD


def test_a_step_scoped_risk_bears_on_its_step_only_and_a_project_wide_one_on_every_step() -> None:
    scoped = project(step("s", strategy={"approval": GATE}), step("other"), risks=[risk("medium", "medium", step="s")])
    assert [classify(scoped, s).change_class for s in scoped.steps] == [ChangeClass.NORMAL, ChangeClass.STANDARD]
    wide = project(step("s", strategy={"approval": GATE}), step("other", strategy={"approval": GATE}), risks=[risk()])
    assert [classify(wide, s).change_class for s in wide.steps] == [ChangeClass.NORMAL, ChangeClass.NORMAL]


# -- what each class demands ------------------------------------------------------------------------------------


def test_a_normal_step_without_a_gate_is_refused_naming_step_class_risk_and_fix() -> None:
    said = refusal(step("s"), risks=[risk()])
    assert (
        f"step 's' is a normal change ({SSH}: low likelihood x high impact): add strategy.approval with the roles "
        "that approve it, or strategy.pre_authorised: <why> if the change board has approved this kind of change "
        "in advance"
    ) in said


def test_a_pre_authorised_normal_step_is_a_standard_change_that_says_why() -> None:
    found = classified({"pre_authorised": "  catalogued: a restart of one service  "}, risk())
    assert (found.change_class, found.risk_class) == (ChangeClass.STANDARD, ChangeClass.NORMAL)
    assert (found.approvals_needed, found.pre_authorised) == (0, "catalogued: a restart of one service")
    assert found.summary == (
        f"standard change, no approval ({SSH}: low likelihood x high impact; "
        "pre-authorised: catalogued: a restart of one service)"
    )


def test_a_pre_authorised_step_that_also_has_a_gate_keeps_it() -> None:
    found = classified({"pre_authorised": "catalogued", "approval": GATE}, risk())
    assert (found.change_class, found.approvals_needed) == (ChangeClass.STANDARD, 1)


def test_a_high_risk_step_cannot_be_pre_authorised() -> None:
    strategy = {"pre_authorised": "we always do this", "approval": TWO_ROLES, "batch_size": "25%"}
    said = refusal(step("s", strategy=strategy), risks=[risk("high", "high")])
    assert (
        f"step 's' is a high-risk change ({SSH}: high likelihood x high impact): a high-risk change cannot be "
        "pre-authorised: remove strategy.pre_authorised"
    ) in said


def test_pre_authorising_a_standard_step_is_refused_as_pointless() -> None:
    said = refusal(step("s", strategy={"pre_authorised": "catalogued"}), risks=[risk("low", "low")])
    assert (
        f"step 's' is a standard change ({SSH}: low likelihood x low impact) without pre_authorised: "
        "remove strategy.pre_authorised"
    ) in said


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_pre_authorisation_must_say_why(blank: str) -> None:
    said = refusal(step("s", strategy={"pre_authorised": blank}), risks=[risk()])
    assert "say why the change board approved this kind of change in advance" in said


def test_a_high_risk_step_with_two_roles_a_canary_and_small_batches_passes_and_needs_two_approvals() -> None:
    found = classified({"approval": TWO_ROLES, "batch_size": "25%"}, risk("medium", "high"))
    assert (found.change_class, found.approvals_needed) == (ChangeClass.HIGH, 2)
    assert found.summary == (
        f"high-risk change, 2 approvals from different people and roles ({SSH}: medium likelihood x high impact)"
    )


@pytest.mark.parametrize(
    ("strategy", "fix"),
    [
        (
            {"batch_size": "25%"},
            "give strategy.approval at least two roles: a high-risk change needs two approvals from different "
            "people with different roles",
        ),
        (
            {"approval": {"roles": ["change_manager", "change_manager"]}, "batch_size": "25%"},
            "give strategy.approval at least two roles (it has change_manager only): a high-risk change needs two",
        ),
        (
            {"approval": TWO_ROLES, "batch_size": "25%", "canary": None},
            "set strategy.canary: a high-risk change starts on a canary",
        ),
        (
            {"approval": TWO_ROLES, "batch_size": "50%"},
            "lower strategy.batch_size '50%' to at most '25%' (change_control.high_risk_max_batch)",
        ),
        (
            {"approval": TWO_ROLES},  # the default batch: every host at once
            "lower strategy.batch_size '100%' to at most '25%'",
        ),
        (
            {"approval": TWO_ROLES, "batch_size": 2},
            "strategy.batch_size 2 and change_control.high_risk_max_batch '25%' cannot be compared: state both as "
            "numbers of hosts or both as percentages",
        ),
    ],
)
def test_a_high_risk_step_without_what_it_needs_is_refused_with_the_fix(strategy: dict[str, Any], fix: str) -> None:
    said = refusal(
        {"name": "s", "playbook": "playbooks/site.yml", "checks": ["checks/fake"], "strategy": strategy},
        risks=[risk("high", "medium")],
    )
    assert f"step 's' is a high-risk change ({SSH}: high likelihood x medium impact): " in said
    assert fix in said


def test_the_project_sets_the_high_risk_batch_limit_stated_like_the_batches() -> None:
    strategy = {"approval": TWO_ROLES, "batch_size": 2}
    limited = project(
        step("s", strategy=strategy), risks=[risk("high", "high")], change_control={"high_risk_max_batch": 2}
    )
    assert classify(limited, limited.steps[0]).change_class is ChangeClass.HIGH
    said = refusal(
        step("s", strategy=strategy), risks=[risk("high", "high")], change_control={"high_risk_max_batch": 1}
    )
    assert "lower strategy.batch_size 2 to at most 1 (change_control.high_risk_max_batch)" in said
    said = refusal(step("s"), risks=[], change_control={"high_risk_max_batch": 2, "max_batch": 1})
    assert "change_control.max_batch" in said and "Extra inputs are not permitted" in said
    said = refusal(step("s"), risks=[], change_control={"high_risk_max_batch": "0%"})
    assert "change_control.high_risk_max_batch" in said


def test_every_step_in_trouble_is_named_in_one_refusal() -> None:
    said = refusal(step("s"), step("other"), risks=[risk()])
    assert "step 's' is a normal change" in said and "; step 'other' is a normal change" in said


def test_a_risk_naming_an_unknown_step_is_reported_as_that_first() -> None:
    said = refusal(step("s", strategy={"pre_authorised": "catalogued"}), risks=[risk(step="nope")])
    assert "risk 'R1' names unknown step 'nope'" in said
    assert "pre_authorised" not in said


# -- the shipped projects and itpm validate ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shipped", "expected"),
    [
        ("baseline-rollout", {"baseline": (ChangeClass.NORMAL, 1)}),
        ("compliance-audit", {"remediate": (ChangeClass.NORMAL, 1)}),
        ("hardware-install", {"burn-in": (ChangeClass.STANDARD, 0), "provision": (ChangeClass.STANDARD, 1)}),
        ("network-config", {"segment": (ChangeClass.NORMAL, 1), "segment-acceptance": (ChangeClass.STANDARD, 0)}),
        ("ledger-backup", dict.fromkeys(("primary", "standby", "backup"), (ChangeClass.STANDARD, 0))),
    ],
)
def test_the_shipped_projects_keep_their_gates(shipped: str, expected: dict[str, tuple[ChangeClass, int]]) -> None:
    loaded = load_project(REPO / "projects" / f"{shipped}.yaml")
    found = {s.name: (classify(loaded, s).change_class, classify(loaded, s).approvals_needed) for s in loaded.steps}
    assert found == expected
    # Each step that had a gate still needs exactly the one approval a single approver gives.
    assert all(found[s.name][1] == 1 for s in loaded.steps if s.strategy.approval)


def _project_file(tmp_path: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` as a project file in a repository-like tree (playbooks/ beside it)."""
    (tmp_path / "playbooks").symlink_to(REPO / "playbooks")
    (tmp_path / "checks").symlink_to(REPO / "checks")
    (tmp_path / "projects").mkdir()
    path = tmp_path / "projects" / "p.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_validate_shows_each_steps_class_and_why() -> None:
    code, said = run_main("validate", str(REPO / "projects" / "hardware-install.yaml"))
    assert code == 0, said
    assert (
        "  burn-in: standard change, no approval (R1 'A delivered server is below the ordered spec': medium "
        "likelihood x medium impact; pre-authorised: burn-in and acceptance of new servers in spare, not yet in "
        "service)\n"
    ) in said
    assert (
        "  provision: standard change, 1 approval (no open risk bears on it; its approval gate asks for one)\n" in said
    )
    code, said = run_main("validate", str(REPO / "projects" / "baseline-rollout.yaml"))
    assert (
        "  baseline: normal change, 1 approval (R1 'sshd hardening locks out automation': low likelihood x high "
        "impact)\n"
    ) in said


def test_validate_refuses_a_normal_step_without_a_gate_with_exit_2(tmp_path: Path) -> None:
    document = yaml.safe_load((REPO / "projects" / "baseline-rollout.yaml").read_text())
    del document["steps"][0]["strategy"]["approval"]
    path = _project_file(tmp_path, document)
    with pytest.raises(ProjectFileError, match=r"step 'baseline' is a normal change \(R1 'sshd hardening"):
        load_project(path)
    code, said = run_main("validate", str(path))
    assert code == 2
    assert "add strategy.approval with the roles that approve it, or strategy.pre_authorised: <why>" in said


# -- the run records it -----------------------------------------------------------------------------------------


def test_a_run_records_each_steps_class_at_its_first_start(engine: Engine) -> None:
    risks = [risk(step="s")]
    gated = project(step("s", strategy={"approval": GATE}), step("other"), risks=risks)
    run = engine.open(gated)
    started = run.start()
    assert started.change_classes == {"s": "normal", "other": "standard"}
    assert run.state.change_classes == {"s": ChangeClass.NORMAL, "other": ChangeClass.STANDARD}
    [logged] = [e for e in engine.logged() if isinstance(e, RunStarted)]
    assert logged.change_classes == started.change_classes
    # A resumption after the register changed keeps the classes the run started under, as it keeps its hosts.
    run.close(notices_timeout_s=1.0)
    lowered = project(step("s", strategy={"approval": GATE}), step("other"), risks=[risk("low", "low", step="s")])
    again = engine.open(lowered)
    assert again.start().change_classes == {"s": "standard", "other": "standard"}
    assert again.state.change_classes == {"s": ChangeClass.NORMAL, "other": ChangeClass.STANDARD}


def test_a_run_started_before_change_classes_reads_without_them() -> None:
    old = {
        "kind": "run_started",
        "run_id": "r1",
        "project": "p",
        "at": datetime(2026, 11, 26, tzinfo=UTC).isoformat(),
        "project_file": "projects/p.yaml",
        "title": "P",
        "project_kind": "compliance",
        "environment": "lab",
        "requester": "dana",
        "hosts": ["h1"],
        "steps": ["s"],
    }
    event = event_adapter.validate_python(old)
    assert isinstance(event, RunStarted) and event.change_classes == {}
    assert RunState.of([event]).change_classes == {}
    recorded = event_adapter.validate_json(event.model_copy(update={"change_classes": {"s": "high"}}).model_dump_json())
    assert isinstance(recorded, RunStarted)
    assert RunState.of([recorded]).change_classes == {"s": ChangeClass.HIGH}
