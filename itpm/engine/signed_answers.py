"""Whether a signed answer at a gate is what it claims: a team member's key, over this run, step, gate and plan.

An answer carries a *bundle* (``itpm.signing.statement``): the statement the approver signed, then the signature.
It is taken only when every check holds; otherwise the refusal says which one failed, in words an approver can act
on. The checks, in order: the bundle and the statement can be read; the signature is made for itpm's approval
namespace; its key is in the allowed signers the gate was opened with; that key belongs to the person the
statement names, and that is who the answer claims to be; ``ssh-keygen -Y verify`` accepts it over the statement's
exact bytes; the signer is not the requester; the statement is about this run, project, step, opening of the gate
and plan; and the same key's signature of the same statement was not recorded before (a replay). A
post-implementation review's statement takes the same checks, against what is ``Expected`` of a review instead of
a gate's opening (``itpm.engine.review``).

>>> checked = check_signed(project, request, Answer("chris", True, "", bundle_text), seen=set())  # doctest: +SKIP
>>> checked.refusal, checked.identity, checked.approve  # doctest: +SKIP
('', 'chris', True)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from itpm.log.events import ApprovalRequested
from itpm.models.project import Project
from itpm.signing import ssh_keygen
from itpm.signing.allowed_signers import parse_allowed_signers
from itpm.signing.sshsig import MalformedSignature, read_signature
from itpm.signing.statement import APPROVAL_NAMESPACE, Statement, parse_statement, split_bundle

__all__ = ["Answer", "CheckedAnswer", "Expected", "check_signed", "expected_answer", "replay_key"]


@dataclass(frozen=True)
class Answer:
    """An answer as given at the gate: who claims to answer, yes or no, why, and the signed bundle (or "")."""

    approver: str
    approve: bool
    comment: str = ""
    signature: str = ""


@dataclass(frozen=True)
class CheckedAnswer:
    """A signed answer read and checked: who signed, what they decided, the key, or why it was refused."""

    identity: str  # the signer's login or e-mail as the statement names it (the claimed name when refused early)
    approve: bool
    comment: str
    signer_key: str = ""  # the key's fingerprint, when the signature could be read
    refusal: str = ""


@dataclass(frozen=True)
class Expected:
    """What a signed statement must say to count, and whose keys may sign it.

    ``statement`` holds the purpose, run, project, step, gate and plan it must name (its decision, signer and
    comment are the signer's to say); ``decisions`` the answers it may give, the first of them a yes.
    """

    statement: Statement
    allowed_signers: str  # the list a signature is verified against
    requester: str  # who asked for the run, and may therefore not sign
    decisions: tuple[str, ...] = ("approve", "reject")
    stale: str = "signed for another plan ({}; the plan now is {}): review the plan again, then sign"


def expected_answer(project: Project, request: ApprovalRequested) -> Expected:
    """Return what an answer to the gate ``request`` opened must say (an approval of this run, step, gate, plan)."""
    return Expected(
        Statement(
            "approval", request.run_id, project.name, request.step or "", request.gate, request.plan_digest, "", ""
        ),
        allowed_signers=request.allowed_signers,
        requester=request.requester,
    )


def replay_key(bundle_text: str) -> str:
    """Return what a replay of the bundle repeats: its key's fingerprint and its statement's digest ("" if unreadable).

    ``'SHA256:q8p... 3f1c...'``. Not the signature's text: the same signature armored with other line breaks
    verifies as well, and so does an Ed25519 signature with the group order added to its S (``ssh-keygen`` accepts
    both), so a replay compared by its text, or even its bytes, would pass for a new answer.
    """
    try:
        text, armored = split_bundle(bundle_text)
        key = read_signature(armored).fingerprint
    except ValueError:  # MalformedSignature is one
        return ""
    return f"{key} {hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def _expected(statement: Statement, expected: Expected) -> str:
    """Return why ``statement`` is about another run, step, gate or plan than ``expected`` (empty if it is not)."""
    want = expected.statement
    article = "an" if want.purpose[:1] in "aeiou" else "a"
    wrong = [
        (statement.purpose, want.purpose, f"a {{}} statement, not {article} {want.purpose}"),
        (statement.run, want.run, "signed for run {}, not this run ({})"),
        (statement.project, want.project, "signed for project {}, not {}"),
        (statement.step, want.step, "signed for step {}, not {}"),
        (statement.gate, want.gate, "signed for gate opening {}, not the open one ({}): sign again"),
        (statement.plan, want.plan, expected.stale),
    ]
    for got, wanted, words in wrong:
        if got != wanted:
            return words.format(got, wanted)
    if statement.decision not in expected.decisions:
        return f"the statement's decision is {statement.decision!r}: it must be {' or '.join(expected.decisions)}"
    return ""


def check_signed(  # noqa: PLR0911 - one return per check, in the order the module's docstring gives
    project: Project, request: ApprovalRequested | Expected, answer: Answer, *, seen: set[str]
) -> CheckedAnswer:
    """Check ``answer``'s bundle against the open gate ``request`` (or what is ``Expected`` of a statement).

    ``seen`` holds the replay keys of the run's good signatures.
    """
    expected = expected_answer(project, request) if isinstance(request, ApprovalRequested) else request
    refused = CheckedAnswer(answer.approver, answer.approve, answer.comment)
    try:
        text, armored = split_bundle(answer.signature)
        statement = parse_statement(text)
        signature = read_signature(armored)
    except (ValueError, MalformedSignature) as unreadable:
        return _refuse(refused, f"not a signed {expected.statement.purpose}: {unreadable}")
    refused = CheckedAnswer(answer.approver or statement.signer, answer.approve, answer.comment, signature.fingerprint)
    if signature.namespace != APPROVAL_NAMESPACE:
        return _refuse(refused, f"signed for namespace {signature.namespace!r}, not {APPROVAL_NAMESPACE!r}")
    owners = [s for s in parse_allowed_signers(expected.allowed_signers) if s.key_blob == signature.key_blob]
    if not owners:
        return _refuse(refused, f"signed with key {signature.fingerprint}, which is not in the allowed signers")
    principals = {p for s in owners for p in s.principals}
    signer = next((p for p in project.team if p.is_(statement.signer)), None)
    if statement.signer not in principals:
        return _refuse(
            refused,
            f"the statement says it is signed by {statement.signer}, but key {signature.fingerprint} "
            f"is {', '.join(sorted(principals))}'s",
        )
    if signer is None:
        return _refuse(refused, f"{statement.signer} signed, but is not on the project team")
    if answer.approver and not signer.is_(answer.approver):
        return _refuse(refused, f"the answer claims {answer.approver}, but {statement.signer} signed it")
    problem = ssh_keygen.verify(
        text.encode("utf-8"),
        armored,
        expected.allowed_signers,
        principal=statement.signer,
        namespace=APPROVAL_NAMESPACE,
    )
    if problem:
        return _refuse(refused, f"the signature does not match the statement (changed after signing?): {problem}")
    if signer.is_(expected.requester):
        return _refuse(refused, f"signed with the key of {statement.signer}, who requested this run")
    elsewhere = _expected(statement, expected)
    if elsewhere:
        return _refuse(refused, elsewhere)
    if replay_key(answer.signature) in seen:
        return _refuse(refused, "replayed: this statement, signed with this key, was recorded in the run before")
    yes = statement.decision == expected.decisions[0]
    return CheckedAnswer(statement.signer, yes, statement.comment, signature.fingerprint)


def _refuse(answer: CheckedAnswer, why: str) -> CheckedAnswer:
    return CheckedAnswer(answer.identity, answer.approve, answer.comment, answer.signer_key, refusal=why)
