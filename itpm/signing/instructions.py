"""How to sign an answer at a gate, in words for the gate's page and the notice that asks for approval.

(And the command that signs an emergency change's post-implementation review, for the reports that ask for it.)

The statement is shown exactly as it must be signed, with ``YOUR-LOGIN`` where the signer's login goes, so that
someone without itpm at hand (the Prefect UI on a laptop) can sign it with ``ssh-keygen`` alone.

>>> print(how_to_sign(request, project="baseline-rollout"))  # doctest: +SKIP
To approve, sign this statement with your SSH key ...
"""

from __future__ import annotations

from itpm.log.events import ApprovalRequested
from itpm.signing.statement import APPROVAL_NAMESPACE, Statement

__all__ = ["PLACEHOLDER", "how_to_review", "how_to_sign", "statement_for"]

PLACEHOLDER = "YOUR-LOGIN"


def statement_for(
    request: ApprovalRequested, *, project: str, signer: str, approve: bool = True, comment: str = ""
) -> Statement:
    """Return the statement that answers the gate ``request`` opened, as ``signer``."""
    return Statement(
        purpose="approval",
        run=request.run_id,
        project=project,
        step=request.step or "",
        gate=request.gate,
        plan=request.plan_digest,
        decision="approve" if approve else "reject",
        signer=signer,
        comment=comment,
    )


def how_to_sign(request: ApprovalRequested, *, project: str) -> str:
    """Return markdown saying how to sign an answer to ``request``: with itpm, or with ssh-keygen by hand."""
    template = statement_for(request, project=project, signer=PLACEHOLDER).text()
    needed = "Signed answers are required." if request.signatures_required else "Unsigned answers are accepted."
    by_hand = [
        "cat > statement <<'EOF'",
        *template.splitlines(),
        "EOF",
        f"ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n {APPROVAL_NAMESPACE} statement",
        "cat statement statement.sig",
    ]
    return (
        f"{needed} Sign with your SSH key, then paste the statement and its signature into **signature**:\n\n"
        f"    itpm approve {request.run_id} --as {PLACEHOLDER} --key ~/.ssh/id_ed25519 --sign-only\n\n"
        "or by hand (put your login in the signer line; a comment or `reject` goes in the statement too):\n\n"
        + "".join(f"    {line}\n" for line in by_hand)
        + "\nWhat the statement says is what counts: its signer, decision and comment are recorded."
    )


def how_to_review(run_id: str) -> str:
    """Return the command that records an emergency change's signed review: ``'itpm review r1 --as <login> ...'``."""
    return f"itpm review {run_id} --as <login> --key ~/.ssh/id_ed25519"
