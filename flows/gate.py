"""A step's approval gate in Prefect: pause the flow run with a form, and take answers until the gate is decided.

The form (``ApprovalInput``) is what the Prefect UI shows and what ``itpm approve`` sends. Whether an answer
counts is the engine's to say (``ProjectRun.decide_approval``: role, requester, signature, plan); the gate's page
says what is asked, for which plan, how to sign, and why it asks again when an earlier approval lapsed.
"""

from __future__ import annotations

from prefect import get_run_logger
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput

from itpm.engine.approvals import Answer
from itpm.log.events import ApprovalRequested
from itpm.models.project import Step
from itpm.models.statuses import Decision
from itpm.project_run import ProjectRun
from itpm.signing.instructions import how_to_sign

__all__ = ["ApprovalInput", "await_approval"]


class ApprovalInput(RunInput):
    """What an approver answers (the Prefect UI shows this as a form; ``itpm approve`` sends it)."""

    approver: str
    approve: bool = True
    comment: str = ""
    signature: str = ""  # the signed statement followed by its SSH signature (the gate's page says how)


def await_approval(run: ProjectRun, step: Step) -> bool:
    """Pause until the step's gate is approved by enough people, or rejected; return whether it was approved."""
    gate = step.strategy.approval
    assert gate is not None
    logger = get_run_logger()
    request = run.request_approval(step)
    if request.lapsed:
        logger.warning("step %s asks again: %s", step.name, request.lapsed)
    attempt = 0
    while True:
        attempt += 1
        answer = pause_flow_run(
            wait_for_input=ApprovalInput.with_initial_data(
                description=_gate_page(run, step, request), approver="", approve=True, comment="", signature=""
            ),
            timeout=int(gate.timeout_hours * 3600),
            poll_interval=2,  # an approval should take effect in seconds, not Prefect's default 10
            # Prefect's input keys take lowercase letters, digits and dashes only: no "#" from the gate's name.
            key=f"approval-{step.name}-{request.gate.rpartition('#')[2]}-{attempt}",
        )
        if answer is None:  # Prefect raises on timeout; no input at all means nobody approved
            return False
        given = Answer(answer.approver, answer.approve, answer.comment, answer.signature)
        decided = run.decide_approval(step, given, requested_at=request.at)
        if decided.decision is Decision.REFUSED:
            logger.warning("approval refused: %s", decided.reason)
            continue
        proof = f"signed with {decided.signer_key}" if decided.signed else "unsigned"
        logger.info("step %s %s by %s (%s)", step.name, decided.decision, decided.approver, proof)
        if decided.decision is Decision.REJECTED:
            return False
        if not run.approval_needed(step):
            return True
        logger.info("step %s needs %d approvals from different people and roles", step.name, request.approvals_needed)


def _gate_page(run: ProjectRun, step: Step, request: ApprovalRequested) -> str:
    """Return the gate's page: what is asked, who may answer, the plan, why again (if so), and how to sign."""
    gate = step.strategy.approval
    assert gate is not None
    needed = (
        f"{request.approvals_needed} approvals from different people and roles" if request.approvals_needed > 1 else ""
    )
    again = f"\n\n**Asked again**: {request.lapsed}." if request.lapsed else ""
    return (
        f"Approve step **{step.name}** of {run.project.title} (run `{run.run_id}`, requested by {run.requester}). "
        f"Approvers need role {' or '.join(gate.roles)} and cannot be the requester"
        + (f"; this change needs {needed}" if needed else "")
        + f".{again}\n\n{_plan_summary(run, step)} Plan digest `{request.plan_digest}`.\n\n"
        + how_to_sign(request, project=run.project.name)
    )


def _plan_summary(run: ProjectRun, step: Step) -> str:
    """Return the step's plan as the approver should see it: which hosts would change, and by how many tasks."""
    plan = run.state.gates.plans.get(step.name)
    if plan is None:
        return "No plan was recorded for this step."
    changes = {host: tasks for host, tasks in plan.changes.items() if tasks}
    if not changes:
        return "Plan: no host would change."
    listed = ", ".join(f"{host} ({len(tasks)} tasks)" for host, tasks in sorted(changes.items())[:20])
    more = f" and {len(changes) - 20} more" if len(changes) > 20 else ""  # noqa: PLR2004 - a readable list
    return f"Plan: {len(changes)} of {len(plan.changes)} hosts would change: {listed}{more}."
