"""``itpm approve``: answer the approval gate a run waits at, signed with the approver's SSH key where required.

With ``--key`` the answer is a statement signed with ``ssh-keygen -Y sign`` (a private key, or a ``.pub`` whose
key is in ssh-agent); ``--sign-only`` prints it for the Prefect form instead of sending it. The answer is judged
here first, so that a refusal is logged and said at once; the run judges it again before it opens the gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_OK
from itpm.cli.typer_app import IdentityOption, SigningKeyOption, app, identity_of, use_prefect
from itpm.models.statuses import Decision
from itpm.project_run import Answer, ApprovalRefused, ProjectRun
from itpm.settings import load_settings
from itpm.signing.allowed_signers import principal_of
from itpm.signing.instructions import statement_for
from itpm.signing.ssh_keygen import sign
from itpm.signing.statement import APPROVAL_NAMESPACE, bundle

__all__ = ["approve_command"]


def _signed(run: ProjectRun, step_name: str, approver: str, *, approve: bool, comment: str, key: Path) -> str:
    """Return the bundle answering the open gate of ``step_name``, signed with ``key`` as ``approver``."""
    request = run.state.gates.requests.get(step_name)
    principal = principal_of(run.project, approver)
    if request is None:  # a gate logged before gates said what an answer must name
        raise ApprovalRefused(
            f"the gate of step {step_name} was opened by an older itpm: it cannot take a signed answer",
            fix=f"answer unsigned, or itpm resume {run.run_id} to open it again",
        )
    statement = statement_for(request, project=run.project.name, signer=principal, approve=approve, comment=comment)
    return bundle(statement, sign(statement.text().encode("utf-8"), key, APPROVAL_NAMESPACE))


@app.command("approve")
def approve_command(
    run_id: Annotated[str, typer.Argument(help="the run waiting for approval")],
    *,
    identity: IdentityOption = None,
    reject: Annotated[bool, typer.Option("--reject", help="reject the step instead")] = False,
    comment: Annotated[str, typer.Option(help="why; recorded in the project log")] = "",
    key: SigningKeyOption = None,
    sign_only: Annotated[
        bool, typer.Option("--sign-only", help="print the signed answer for the Prefect form; send nothing")
    ] = False,
) -> int:
    """Approve (or reject) the step a run is waiting on; the requester cannot approve their own run."""
    settings = load_settings()
    run = ProjectRun.reopen(run_id, settings)
    waiting = run.state.waiting_for_approval
    if not waiting:
        raise ApprovalRefused(
            f"run {run_id} is not waiting for an approval", fix=f"itpm log {run_id} shows where it is"
        )
    approver = identity_of(identity)
    step = run.project.step(waiting)
    if sign_only and key is None:
        raise ApprovalRefused("--sign-only needs a key to sign with", fix="add --key ~/.ssh/id_ed25519")
    signature = ""
    if key is not None:
        signature = _signed(run, waiting, approver, approve=not reject, comment=comment, key=key.expanduser())
    if sign_only:
        consoles.out.print(signature, end="", markup=False, highlight=False, soft_wrap=True)
        return EXIT_OK
    given = Answer(approver, not reject, comment, signature)
    judged = run.judge_answer(step, given)
    if judged.decision is Decision.REFUSED:
        run.decide_approval(step, given)  # logged as refused: the attempt is evidence too
        raise ApprovalRefused(judged.reason, fix=f"itpm log {run_id} shows every answer at the gate")
    use_prefect(settings)
    from flows.approval import answer_approval  # noqa: PLC0415 - Prefect is imported only by commands that need it

    answer_approval(run_id, approver=approver, approve=not reject, comment=comment, signature=signature)
    proof = f"signed with {judged.signer_key}" if judged.signed else "unsigned"
    consoles.out.print(
        f"{'rejected' if reject else 'approved'} step {step.name} of run {run_id} as {approver} ({proof})"
    )
    return EXIT_OK
