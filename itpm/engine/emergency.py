"""Emergency changes: a run that goes past its approval gates without waiting, named as such, with a reason.

The requester declares it when the run starts (``itpm run --emergency REASON``, or a resumption's
``itpm resume --emergency``); the declaration names the steps whose gates it skips and is logged once. Each gate
it then goes past is logged as skipped. The run stays flagged in its status, reports and notices until a
post-implementation review is recorded (``itpm.engine.review``). A declaration must be able to skip something, so
that the flag always means a gate was, or will be, passed unapproved: a dry run, or a project with no gate still
to pass, is refused.

>>> check_declaration(project, RunState(), "payments down: CVE-2026-1234 exploited", dry_run=False)  # doctest: +SKIP
['baseline']
"""

from __future__ import annotations

from itpm.errors import InputError
from itpm.log.events import EmergencyDeclared, GateSkipped
from itpm.models.project import Project, Step
from itpm.run_state import RunState

__all__ = ["EmergencyRefused", "check_declaration", "declaration", "gates_to_skip", "skipped"]

_EXAMPLE = '--emergency "payments down: CVE-2026-1234 exploited, vendor patch"'


class EmergencyRefused(InputError):
    """An emergency declaration that cannot be taken: no reason, a dry run, or no gate left to skip."""


def gates_to_skip(project: Project, state: RunState) -> list[str]:
    """Return the gated steps an emergency declared now would skip: not approved, not covered by an earlier one."""
    return [
        s.name
        for s in project.steps
        if s.strategy.approval is not None and not state.approved(s.name) and s.name not in state.emergency_steps
    ]


def check_declaration(project: Project, state: RunState, reason: str, *, dry_run: bool) -> list[str]:
    """Return the steps whose gates an emergency with ``reason`` skips; raise EmergencyRefused saying the fix."""
    if not reason.strip():
        raise EmergencyRefused(
            "--emergency needs a reason: an emergency change skips approval gates, and its reviewers read why",
            fix=f"say why it cannot wait, e.g. {_EXAMPLE}",
        )
    if dry_run:
        raise EmergencyRefused(
            "a dry run with --emergency: a dry run changes nothing and waits at no gate, so there is nothing to skip",
            fix="drop --dry-run to make the emergency change, or --emergency to rehearse it",
        )
    steps = gates_to_skip(project, state)
    if not steps:
        earlier = f"; run {state.run_id}'s emergency already skips {', '.join(state.emergency_steps)}"
        raise EmergencyRefused(
            f"no gate to skip: no step of project {project.name} has an approval gate still to pass"
            + (earlier if state.emergency_steps else ""),
            fix="run without --emergency: the emergency flag is kept for changes that skip an approval",
        )
    return steps


def declaration(project: Project, state: RunState, reason: str, *, by: str, run_id: str) -> EmergencyDeclared:
    """Return the log's record of an emergency declared now by ``by`` (checked as ``check_declaration`` does)."""
    steps = check_declaration(project, state, reason, dry_run=state.dry_run)
    roles = [role for name in steps for role in _roles(project.step(name))]
    return EmergencyDeclared(
        run_id=run_id,
        project=project.name,
        reason=" ".join(reason.split()),
        by=by,
        steps=steps,
        roles=list(dict.fromkeys(roles)),
    )


def skipped(project: Project, state: RunState, step: Step) -> GateSkipped | None:
    """Return the record of the emergency going past ``step``'s gate now; None if the run does not skip it.

    None as well when the gate was skipped before: a resumption goes past it again without logging it twice.
    """
    if step.name not in state.emergency_steps or step.name in state.gates_skipped:
        return None
    return GateSkipped(
        run_id=state.run_id,
        project=project.name,
        step=step.name,
        roles=_roles(step),
        reason=state.emergency,
        plan_digest=state.gates.current_digest(step.name),
    )


def _roles(step: Step) -> list[str]:
    return list(step.strategy.approval.roles) if step.strategy.approval is not None else []
