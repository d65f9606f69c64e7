"""Who may answer a step's approval gate: a team member with one of the gate's roles, never the requester.

>>> answer(project, step, approver="dana", approve=True, requester="dana")  # doctest: +SKIP
(<Decision.REFUSED: 'refused'>, 'dana requested this run and cannot approve it: another person with role ...')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from itpm.errors import ItpmError
from itpm.log.events import ApprovalDecided, now
from itpm.models.project import Project, Step
from itpm.models.statuses import Decision

__all__ = ["ApprovalRefused", "answer", "check_approver", "decided"]


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


def answer(project: Project, step: Step, *, approver: str, approve: bool, requester: str) -> tuple[Decision, str]:
    """Return the decision an answer at the gate makes, and why it was refused (empty unless refused)."""
    reason = check_approver(project, step, approver, requester)
    if reason:
        return Decision.REFUSED, reason
    return (Decision.APPROVED if approve else Decision.REJECTED), ""


def decided(
    project: Project,
    step: Step,
    common: Mapping[str, str],
    *,
    requester: str,
    approver: str,
    approve: bool,
    comment: str = "",
    requested_at: datetime | None = None,
) -> ApprovalDecided:
    """Return the log's record of an answer at ``step``'s gate: approved, rejected, or refused with the reason."""
    decision, reason = answer(project, step, approver=approver, approve=approve, requester=requester)
    return ApprovalDecided(
        **common,
        step=step.name,
        approver=approver,
        decision=decision,
        comment=comment,
        reason=reason,
        waited_s=(now() - requested_at).total_seconds() if requested_at else 0.0,
    )
