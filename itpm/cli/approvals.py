"""``itpm approve``: answer the approval gate a run waits at, once the project file says the person may."""

from __future__ import annotations

from typing import Annotated

import typer

from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_OK
from itpm.cli.typer_app import IdentityOption, app, identity_of, use_prefect
from itpm.project_run import ApprovalRefused, ProjectRun, check_approver
from itpm.reports.run_status import run_status
from itpm.settings import load_settings

__all__ = ["approve_command"]


@app.command("approve")
def approve_command(
    run_id: Annotated[str, typer.Argument(help="the run waiting for approval")],
    identity: IdentityOption = None,
    reject: Annotated[bool, typer.Option("--reject", help="reject the step instead")] = False,
    comment: Annotated[str, typer.Option(help="why; recorded in the project log")] = "",
) -> int:
    """Approve (or reject) the step a run is waiting on; the requester cannot approve their own run."""
    settings = load_settings()
    run = ProjectRun.reopen(run_id, settings)
    waiting = run_status(run.history()).waiting_for_approval
    if not waiting:
        raise ApprovalRefused(
            f"run {run_id} is not waiting for an approval", fix=f"itpm log {run_id} shows where it is"
        )
    approver = identity_of(identity)
    step = run.project.step(waiting)
    reason = check_approver(run.project, step, approver, run.requester)
    if reason:
        run.decide_approval(step, approver=approver, approve=not reject, comment=comment)  # logged as refused
        raise ApprovalRefused(reason, fix="ask a team member with the required role to approve")
    use_prefect(settings)
    from flows.approval import answer_approval  # noqa: PLC0415 - Prefect is imported only by commands that need it

    answer_approval(run_id, approver=approver, approve=not reject, comment=comment)
    consoles.out.print(f"{'rejected' if reject else 'approved'} step {step.name} of run {run_id} as {approver}")
    return EXIT_OK
