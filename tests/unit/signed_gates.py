"""An approval gate opened by a run of the engine (fakes, real SQLite log), answered with real SSH signatures.

The project's team all have signing keys (``tests.unit.ssh_keys``); its gate takes a change_manager or a
security officer; dana requests the run. ``open_gate`` starts the run, plans the gated step and opens its gate;
``Gate.signed`` makes the bundle an approver would paste into the form, ``Gate.approve`` answers with one.

    gate = open_gate(engine, ssh_keys)
    decided = gate.run.decide_approval(gate.step, Answer("chris", True, "", gate.signed("erin", key="chris")))
    gate.approve("sam")  # a good signed approval, which must be accepted
    gate.carry_on()  # as the project flow does: the step's batches run only once no approval is needed
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from itpm.engine.approvals import Answer
from itpm.log.events import ApprovalDecided, ApprovalRequested, StepPlanned
from itpm.models.project import Project, Step
from itpm.models.statuses import Decision
from itpm.project_run import ProjectRun
from itpm.signing.instructions import statement_for
from itpm.signing.statement import APPROVAL_NAMESPACE, Statement, bundle
from tests.unit.engine_runs import PLAYBOOK, Engine, drive, project, step
from tests.unit.fake_ports import FakeExecutor
from tests.unit.ssh_keys import Keys

__all__ = ["GATE_ROLES", "Gate", "needing_approvals", "open_gate", "signed_project", "team"]

GATE_ROLES = ["change_manager", "security"]


def team(keys: Keys) -> list[dict[str, Any]]:
    """Return the team as the project file writes it, each with their public signing key."""
    people = [
        ("Dana Engineer", "engineer", "dana", "dana@example.com"),
        ("Chris Change", "change_manager", "chris", "chris@example.com"),
        ("Erin Engineer", "engineer", "erin", None),
        ("Casey O'Brien-Núñez", "change_manager", "casey", None),  # a quote and accents in the signers' comment
        ("Sam Secure", "security", "sam", None),
    ]
    return [
        {"name": name, "role": role, "user": user, "email": email, "signing_key": keys.public(user)}
        for name, role, user, email in people
    ]


def signed_project(keys: Keys, *, environment: str = "prod", **changes: Any) -> Project:
    """Return a project outside the lab (signatures required) whose gated step ``s`` takes ``GATE_ROLES``.

    Its allowed signers are the team's keys and the session's signers file (frank, who is not on the team).
    """
    changes.setdefault("signing", {"allowed_signers": str(keys.signers_file)})
    return project(
        step(strategy={"approval": {"roles": GATE_ROLES}}), team=team(keys), environment=environment, **changes
    )


@dataclass
class Gate:
    """A run whose gated step is planned and whose gate is open, and the keys to answer it with."""

    engine: Engine
    keys: Keys
    run: ProjectRun
    executor: FakeExecutor

    @property
    def step(self) -> Step:
        """Return the gated step."""
        return self.run.project.steps[0]

    @property
    def request(self) -> ApprovalRequested:
        """Return the gate's latest opening, as the run's state holds it."""
        return self.run.state.gates.requests[self.step.name]

    def statement(
        self,
        signer: str = "chris",
        *,
        approve: bool = True,
        comment: str = "",
        request: ApprovalRequested | None = None,
        **fields: str,
    ) -> Statement:
        """Return the statement answering the open gate (or ``request``) as ``signer``, with ``fields`` replaced."""
        made = statement_for(
            request or self.request, project=self.run.project.name, signer=signer, approve=approve, comment=comment
        )
        return replace(made, **fields)

    def sign(self, statement: Statement, key: str, namespace: str = APPROVAL_NAMESPACE) -> str:
        """Return the bundle of ``statement`` signed with ``key``'s key."""
        return bundle(statement, self.keys.sign(key, statement.text().encode("utf-8"), namespace))

    def signed(self, signer: str = "chris", *, key: str = "", **statement: Any) -> str:
        """Return the bundle an approver pastes: the statement for the open gate, signed (with ``key``'s key)."""
        return self.sign(self.statement(signer, **statement), key or signer)

    def approve(self, signer: str = "chris", **statement: Any) -> str:
        """Answer the gate with ``signer``'s good signed approval; return the bundle (it must be accepted)."""
        signed = self.signed(signer, **statement)
        decided = self.run.decide_approval(self.step, Answer(signer, True, "", signed))
        assert decided.decision is Decision.APPROVED, decided.reason
        return signed

    def replan(self, **changed: list[str]) -> None:
        """Log a new plan of the gated step (a resumed run plans again): the latest plan with ``changed`` hosts."""
        latest = self.run.state.gates.plans[self.step.name]
        common = {"run_id": self.run.run_id, "project": self.run.project.name}
        changes = {**latest.changes, **changed}
        # A task planned before keeps its diff: the same change, planned again.
        before = {
            (h, t): d for h in latest.changes for t, d in zip(latest.changes[h], latest.diffs.get(h, []), strict=False)
        }
        diffs = {h: [before.get((h, t), "") for t in tasks] for h, tasks in changes.items()}
        self.run.record(StepPlanned(**common, step=self.step.name, changes=changes, diffs=diffs))

    def decisions(self) -> list[ApprovalDecided]:
        """Return the gate's answers as the project log holds them (not the run's memory)."""
        return [e for e in self.engine.logged(self.run.run_id) if isinstance(e, ApprovalDecided)]

    def carry_on(self) -> None:
        """Go on as the project flow does after an answer: work the step's batches only if it needs no approval."""
        if not self.run.approval_needed(self.step):
            drive(self.run, self.step)

    def applied(self) -> list[tuple[str, ...]]:
        """Return the hosts of each apply the executor saw (check-mode plans are not applies)."""
        return self.executor.applied(PLAYBOOK)


def open_gate(
    engine: Engine,
    keys: Keys,
    the_project: Project | None = None,
    *,
    requester: str = "dana",
    run_id: str = "engine-test-1",
) -> Gate:
    """Start a run of ``the_project`` (``signed_project`` by default), plan its gated step, open its gate."""
    executor = FakeExecutor()
    run = engine.open(the_project or signed_project(keys), executor, requester=requester, run_id=run_id)
    run.start()
    run.plan(run.project.steps[0])
    run.request_approval(run.project.steps[0])
    return Gate(engine, keys, run, executor)


def needing_approvals(count: int) -> dict[str, Any]:
    """Return what a project file adds so that its gate needs ``count`` approvals: for two, a high-risk change.

    A high x high risk makes step ``s`` high risk; its batches of 2 are within the limit it states the same way.
    """
    if count < 2:
        return {}
    risk = {
        "id": "R9",
        "title": "the change takes the fleet down",
        "likelihood": "high",
        "impact": "high",
        "mitigation": "canary, small batches, two approvals",
        "owner": "Chris Change",
        "step": "s",
    }
    return {"risks": [risk], "change_control": {"high_risk_max_batch": 2}}
