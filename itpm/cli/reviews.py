"""``itpm review``: record the post-implementation review of an emergency change, signed with the reviewer's key.

With ``--key`` the review is a statement signed with ``ssh-keygen -Y sign`` (a private key, or a ``.pub`` whose
key is in ssh-agent) over the run's log as it now stands; without it, the review is unsigned, which only a
project that does not require signatures takes. A refused review is logged with the reason, and exits 2.
"""

from __future__ import annotations

from typing import Annotated

import typer

from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_OK
from itpm.cli.typer_app import IdentityOption, SigningKeyOption, app, identity_of
from itpm.engine.review import PendingReview, ReviewRefused
from itpm.engine.signed_answers import Answer
from itpm.log.store import ProjectLog
from itpm.settings import load_settings
from itpm.signing.instructions import how_to_review
from itpm.signing.ssh_keygen import sign
from itpm.signing.statement import APPROVAL_NAMESPACE, bundle

__all__ = ["review_command"]


@app.command("review")
def review_command(
    run_id: Annotated[str, typer.Argument(help="the emergency change (a run that skipped approval gates)")],
    *,
    identity: IdentityOption = None,
    comment: Annotated[str, typer.Option(help="what the review found; recorded in the project log")] = "",
    key: SigningKeyOption = None,
) -> int:
    """Record the post-implementation review of an ended emergency change; clears its flag in status and reports."""
    log = ProjectLog.for_settings(load_settings())
    pending = PendingReview.open(log, run_id)
    reviewer = identity_of(identity)
    signature = ""
    if key is not None:
        statement = pending.statement(pending.signer(reviewer), comment)
        signature = bundle(statement, sign(statement.text().encode("utf-8"), key.expanduser(), APPROVAL_NAMESPACE))
    recorded = pending.record(Answer(reviewer, True, comment, signature))
    if recorded.refused:
        raise ReviewRefused(
            recorded.refused, fix=f"{how_to_review(run_id)}; itpm log {run_id} shows the refused attempt"
        )
    proof = f"signed with {recorded.signer_key}" if recorded.signed else "unsigned"
    consoles.out.print(
        f"reviewed the emergency change of run {run_id} as {recorded.reviewer} ({recorded.role}, {proof})",
        highlight=False,
    )
    return EXIT_OK
