"""Who may answer a step's approval gate, and with what proof: a gate role, not the requester, a signature.

An answer counts when it comes from a team member with one of the gate's roles, never the requester, and, where
the project requires it, with a signature of their own key (``signed_answers``).
A gate that needs two approvals takes them from two people in two of its roles. Every answer is logged: a
refused one with the reason and whatever signature it carried, as evidence of the attempt.

>>> check_approver(project, step, "dana", requester="dana")  # doctest: +SKIP
'dana requested this run and cannot approve it: another person with role change_manager must'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from itpm.engine.signed_answers import Answer, CheckedAnswer, check_signed, replay_key
from itpm.errors import ItpmError
from itpm.log.events import ApprovalDecided, ApprovalRequested, now
from itpm.models.change_control import classify
from itpm.models.project import Project, Step
from itpm.models.statuses import Decision
from itpm.run_state import RunState
from itpm.signing.allowed_signers import allowed_signers_of

__all__ = [
    "Answer",
    "ApprovalRefused",
    "check_approver",
    "decided",
    "judged",
    "opening",
    "unsigned_refusal",
]


class ApprovalRefused(ItpmError):
    """Someone who may not approve a step tried to."""

    exit_code = 2


def check_approver(project: Project, step: Step, approver: str, requester: str) -> str:
    """Return why ``approver`` may not approve ``step`` (empty when they may)."""
    gate = step.strategy.approval
    if gate is None:
        return f"step {step.name!r} needs no approval"
    if approver == requester or any(p.is_(approver) and p.is_(requester) for p in project.team):
        return f"{approver} requested this run and cannot approve it: another person with role " + (
            " or ".join(gate.roles) + " must"
        )
    roles = set(project.roles_of(approver))
    if not roles:
        return f"{approver} is not on the project team; approvers need role {' or '.join(gate.roles)}"
    if not roles & set(gate.roles):
        return f"{approver} has role {', '.join(sorted(roles))}; step {step.name!r} needs {' or '.join(gate.roles)}"
    return ""


def unsigned_refusal(project: Project, run_id: str) -> str:
    """Return why an unsigned answer is refused where ``project`` requires signatures, and how to sign."""
    return (
        f"unsigned: project {project.name} requires signed approvals; sign with "
        f"`itpm approve {run_id} --as <login> --key ~/.ssh/id_ed25519` (or paste the signed statement, "
        "as the gate's page shows, into the form's signature field)"
    )


def _role_for(project: Project, step: Step, approver: str, earlier: Sequence[ApprovalDecided]) -> tuple[str, str]:
    """Return the gate role ``approver`` answers in, or why their approval cannot count beside ``earlier`` ones."""
    gate = step.strategy.approval
    assert gate is not None
    mine = [r for r in gate.roles if r in project.roles_of(approver)]
    for d in earlier:
        if any(p.is_(approver) and p.is_(d.approver) for p in project.team) or d.approver == approver:
            return "", f"{approver} already approved this step; the next approval must come from another person"
    free = [r for r in mine if r not in {d.role for d in earlier}]
    if earlier and not free:
        used = ", ".join(sorted({d.role for d in earlier}))
        return "", f"this step's approvals need different roles: {used} has approved; another of {gate.roles} must"
    return (free or mine or [""])[0], ""


def decided(
    project: Project,
    step: Step,
    common: Mapping[str, str],
    *,
    requester: str,
    given: Answer,
    request: ApprovalRequested | None = None,
    seen: set[str] | None = None,
    earlier: Sequence[ApprovalDecided] = (),
    requested_at: datetime | None = None,
) -> ApprovalDecided:
    """Return the log's record of an answer at ``step``'s gate: approved, rejected, or refused with the reason.

    ``request`` is the gate's opening (what a signature must name), ``seen`` the replay keys of the good signatures
    the run recorded before, ``earlier`` the approvals of this gate that still hold (a second one must be another
    person and role).
    """
    signed = request is not None and bool(given.signature.strip())
    if request is None:
        # Nothing was asked: an answer would name no plan (and hold for any), and no signature could name the gate.
        closed = f"the gate of step {step.name!r} is not open in this run: nothing was asked to approve yet"
        refusal = closed if step.strategy.approval is not None else ""
        checked = CheckedAnswer(given.approver, given.approve, given.comment, refusal=refusal)
    elif signed:
        checked = check_signed(project, request, given, seen=seen or set())
    else:
        refusal = unsigned_refusal(project, common["run_id"]) if request.signatures_required else ""
        checked = CheckedAnswer(given.approver, given.approve, given.comment, refusal=refusal)
    reason = checked.refusal or check_approver(project, step, checked.identity, requester)
    role = ""
    if not reason and checked.approve:
        role, reason = _role_for(project, step, checked.identity, earlier)
    decision = Decision.APPROVED if checked.approve else Decision.REJECTED
    if reason:
        decision = Decision.REFUSED
    return ApprovalDecided(
        **common,
        step=step.name,
        approver=checked.identity,
        decision=decision,
        comment=checked.comment,
        reason=reason,
        waited_s=(now() - requested_at).total_seconds() if requested_at else 0.0,
        role=role,
        gate=request.gate if request else "",
        plan_digest=request.plan_digest if request else "",
        signed=signed and not checked.refusal,
        signature=given.signature,
        signer_key=checked.signer_key,
    )


def opening(
    project: Project, state: RunState, step: Step, common: Mapping[str, str], *, requester: str
) -> ApprovalRequested:
    """Return the record of the step's gate opening: for which plan, against which signers, how many must answer.

    The gate's name counts its openings (``'baseline#2'``), so that an answer to an earlier one cannot be replayed;
    ``lapsed`` says why it asks again when earlier approvals no longer cover the plan.
    """
    gate = step.strategy.approval
    recorded = state.change_classes.get(step.name)  # the class the run started under: a later edit does not lower it
    needed = recorded.approvals if recorded else classify(project, step).approvals_needed
    return ApprovalRequested(
        **common,
        step=step.name,
        roles=list(gate.roles) if gate else [],
        requester=requester,
        gate=f"{step.name}#{state.gates.openings.get(step.name, 0) + 1}",
        plan_digest=state.gates.current_digest(step.name),
        signatures_required=project.signatures_required,
        allowed_signers=allowed_signers_of(project),
        approvals_needed=max(1, needed),
        lapsed=state.approval_lapsed(step.name),
    )


def judged(
    project: Project,
    state: RunState,
    step: Step,
    common: Mapping[str, str],
    *,
    requester: str,
    given: Answer,
    requested_at: datetime | None = None,
) -> ApprovalDecided:
    """Return what ``given`` at the step's open gate is recorded as, judged against the run's state."""
    gates = state.gates
    # Only good signatures: a refused bundle carrying someone's key and statement over a bad signature must not
    # make their real answer look like a replay.
    seen = {replay_key(d.signature) for answers in gates.decisions.values() for d in answers if d.signed}
    return decided(
        project,
        step,
        common,
        requester=requester,
        given=given,
        request=gates.requests.get(step.name),
        seen=seen - {""},
        earlier=gates.holding(step.name, state.done(step.name)),
        requested_at=requested_at,
    )
