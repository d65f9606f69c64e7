"""A gate's approvals as the log keeps them: they lapse when the plan changes on hosts not done, and a gate that
needs two takes them from two people in two roles. Real SSH signatures, the engine on fakes, a real SQLite log.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from itpm.engine.approvals import Answer
from itpm.gate_book import plan_changes
from itpm.log.events import StepPlanned
from itpm.models.statuses import Decision
from tests.unit.engine_runs import Engine
from tests.unit.signed_gates import needing_approvals, open_gate, signed_project
from tests.unit.ssh_keys import Keys

# -- approvals that lapse --------------------------------------------------------------------------------------


def test_an_approval_lapses_when_the_plan_changes_on_hosts_not_done(engine: Engine, ssh_keys: Keys) -> None:
    gate = open_gate(engine, ssh_keys)
    first = gate.request
    gate.approve()
    assert not gate.run.approval_needed(gate.step)
    gate.replan(h3=["Banner shown before SSH login", "Restart sshd"])
    assert gate.run.approval_needed(gate.step)
    lapsed = gate.run.state.approval_lapsed("s")
    assert lapsed.startswith("the approval by chris (plan sha256:")
    assert lapsed.endswith("no longer holds: the plan changed: h3 would also change 'Restart sshd'")
    gate.carry_on()
    assert gate.applied() == []
    again = gate.run.request_approval(gate.step)
    assert (again.gate, again.lapsed) == ("s#2", lapsed)
    assert again.plan_digest not in ("", first.plan_digest)
    assert gate.run.state.waiting_for_approval == "s"
    gate.approve(comment="with the sshd restart")  # chris again: his first approval no longer counts
    gate.carry_on()
    assert gate.applied() == [("h1",), ("h2", "h3"), ("h4", "h5"), ("h6",)]


def test_a_change_on_a_host_already_done_keeps_the_approval(engine: Engine, ssh_keys: Keys) -> None:
    gate = open_gate(engine, ssh_keys)
    gate.approve()
    canary = gate.run.batches(gate.step)[0]
    gate.run.run_batch(gate.step, canary)
    assert gate.run.state.done("s") == {"h1"}
    gate.replan(h1=[])  # a resumed run plans again: h1 is done, nothing is left to change there
    assert not gate.run.approval_needed(gate.step) and gate.run.state.approval_lapsed("s") == ""
    gate.replan(h1=[], h2=[])  # doing less on a host not done is covered too (an apply cut short, resumed)
    assert not gate.run.approval_needed(gate.step)
    gate.replan(h1=[], h2=["Banner shown before SSH login", "Install the agent"])  # doing more is not
    assert gate.run.approval_needed(gate.step)
    assert "h2 would also change 'Install the agent'" in gate.run.state.approval_lapsed("s")


@pytest.mark.parametrize(
    ("now", "diffs", "said"),
    [
        pytest.param({"h7": ["Banner"]}, {}, "h7 is new in the plan (1 tasks)", id="a new host"),
        pytest.param({"h2": None}, {}, "", id="a host gone: less is covered"),
        pytest.param({"h2": []}, {}, "", id="fewer tasks: less is covered"),
        pytest.param({"h2": ["Install the agent"]}, {}, "h2 would also change 'Install the agent'", id="other tasks"),
        pytest.param({}, {"h2": ["d2"]}, "h2 would change 'Banner' differently", id="another diff"),
        pytest.param({"h1": ["Install the agent"]}, {}, "", id="on a done host only"),
    ],
)
def test_plan_changes_say_what_the_plan_would_do_beyond_the_approved_one(
    now: dict[str, list[str] | None], diffs: dict[str, list[str]], said: str
) -> None:
    common = {"run_id": "r", "project": "p", "step": "s"}
    approved = StepPlanned(**common, changes={"h1": ["Banner"], "h2": ["Banner"]}, diffs={"h1": ["d1"], "h2": ["d1"]})
    changes = {h: t for h, t in {**approved.changes, **now}.items() if t is not None}
    changed = StepPlanned(**common, changes=changes, diffs={**approved.diffs, **diffs})
    assert plan_changes(approved, changed, done={"h1"}) == ([said] if said else [])


# -- two approvals ---------------------------------------------------------------------------------------------


@pytest.mark.reliability("approval forgery")
def test_two_approvals_come_from_two_people_in_two_roles(
    engine: Engine, ssh_keys: Keys, record_property: Callable[[str, object], None]
) -> None:
    gate = open_gate(engine, ssh_keys, signed_project(ssh_keys, **needing_approvals(2)))
    assert gate.request.approvals_needed == 2
    gate.approve(comment="first")
    assert gate.run.approval_needed(gate.step) and gate.run.state.waiting_for_approval == "s"
    second_tries = {
        "chris": "chris already approved this step; the next approval must come from another person",
        "chris@example.com": "chris@example.com already approved this step",
        "casey": "this step's approvals need different roles: change_manager has approved",
    }
    for signer, reason in second_tries.items():
        key = "chris" if signer.startswith("chris") else signer
        decided = gate.run.decide_approval(
            gate.step, Answer(signer, True, "", gate.signed(signer, key=key, comment="2"))
        )
        assert decided.decision is Decision.REFUSED and decided.reason.startswith(reason), decided.reason
        assert gate.run.approval_needed(gate.step) and gate.run.state.waiting_for_approval == "s"
    gate.carry_on()
    assert gate.applied() == []
    record_property("observed", "a second approval by the same person (login, e-mail) or the same role refused")
    decided = gate.run.decide_approval(gate.step, Answer("sam", True, "", gate.signed("sam", comment="second")))
    assert (decided.decision, decided.role) == (Decision.APPROVED, "security")
    assert not gate.run.approval_needed(gate.step) and gate.run.state.waiting_for_approval == ""
    gate.carry_on()
    assert gate.applied() == [("h1",), ("h2", "h3"), ("h4", "h5"), ("h6",)]


def test_two_unsigned_approvals_in_the_lab_need_two_people_too(engine: Engine, ssh_keys: Keys) -> None:
    gate = open_gate(engine, ssh_keys, signed_project(ssh_keys, environment="lab", **needing_approvals(2)))
    assert gate.run.decide_approval(gate.step, Answer("chris", True)).decision is Decision.APPROVED
    again = gate.run.decide_approval(gate.step, Answer("Chris Change", True))  # the same person by name
    assert again.decision is Decision.REFUSED and again.reason.startswith("Chris Change already approved")
    assert gate.run.decide_approval(gate.step, Answer("sam", True)).decision is Decision.APPROVED
    assert not gate.run.approval_needed(gate.step)
