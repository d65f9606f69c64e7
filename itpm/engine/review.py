"""The post-implementation review (PIR) of an emergency change: someone who could have approved it looks afterwards.

An emergency change went past its approval gates (``itpm.engine.emergency``); it stays flagged until a team member
with a role that could have approved one of the skipped gates, other than the requester, records a review of the
ended run. What they sign is a statement (``itpm.signing.statement``) with purpose ``review``, step ``*``, gate
``review``, decision ``reviewed`` and, as its plan, the hash of the run's last chained event: the review covers
the log up to there, so it cannot be replayed onto a later state of the run. The signature is checked the way a
gate's answer is (``signed_answers.check_signed``), against the project's allowed signers; an unsigned review is
taken only where the project does not require signatures, and is shown as unsigned.

A review that is refused for who gave it or how it is signed is logged with the reason (the attempt is evidence,
as at a gate); one that cannot apply (the run was no emergency, is still running, or was reviewed) is refused
without touching the log.

>>> pending = PendingReview.open(log, "fix-20261202-0930")  # doctest: +SKIP
>>> pending.record(Answer("chris", True, "restored service, no side effects", bundle_text)).refused  # doctest: +SKIP
''
"""

from __future__ import annotations

from dataclasses import dataclass

from itpm.engine.signed_answers import Answer, CheckedAnswer, Expected, check_signed
from itpm.errors import InputError
from itpm.log.events import ReviewRecorded
from itpm.log.store import ProjectLog
from itpm.models.project import Person, Project
from itpm.run_record import project_of, started_event
from itpm.run_state import RunState
from itpm.signing.allowed_signers import allowed_signers_of, principal_of
from itpm.signing.instructions import how_to_review
from itpm.signing.statement import Statement

__all__ = ["REVIEWED", "REVIEW_GATE", "REVIEW_STEP", "PendingReview", "ReviewRefused"]

REVIEW_STEP, REVIEW_GATE, REVIEWED = "*", "review", "reviewed"  # what a review statement names as step, gate, decision


class ReviewRefused(InputError):
    """A post-implementation review that cannot be recorded, or was recorded as refused: the message says why."""


@dataclass(frozen=True)
class PendingReview:
    """An ended emergency change waiting for its review: the project, the run's state, and its log's head now."""

    log: ProjectLog
    project: Project
    state: RunState
    head: str  # the hash of the run's last chained event ("" for a run logged before the chain began)
    allowed_signers: str

    @classmethod
    def open(cls, log: ProjectLog, run_id: str) -> PendingReview:
        """Return the run's pending review; raise ReviewRefused when the run is no emergency, running or reviewed."""
        project = project_of(started_event(log, run_id))
        state = RunState.of(log.events(run_id))
        _check_reviewable(state)
        head = log.chain_head(run_id)
        return cls(log, project, state, head.hash if head else "", allowed_signers_of(project))

    def signer(self, identity: str) -> str:
        """Return the login (else e-mail) ``identity`` signs as; raise SignersError when they cannot sign."""
        return principal_of(self.project, identity)

    def statement(self, signer: str, comment: str = "") -> Statement:
        """Return the statement ``signer`` signs to review the run as its log now stands."""
        return Statement(
            purpose="review",
            run=self.state.run_id,
            project=self.project.name,
            step=REVIEW_STEP,
            gate=REVIEW_GATE,
            plan=self.head,
            decision=REVIEWED,
            signer=signer,
            comment=comment,
        )

    def judge(self, given: Answer) -> ReviewRecorded:
        """Return the log's record of ``given`` as the run's review: counted, or refused with the reason."""
        if given.signature.strip():
            checked = check_signed(self.project, self._expected(), given, seen=set())
        else:
            refusal = self._unsigned_refusal() if self.project.signatures_required else ""
            checked = CheckedAnswer(given.approver, True, given.comment, refusal=refusal)
        role, reason = self._role_of(checked.identity)
        refused = checked.refusal or reason
        return ReviewRecorded(
            run_id=self.state.run_id,
            project=self.project.name,
            reviewer=checked.identity,
            role="" if refused else role,
            comment=checked.comment,
            head=self.head,
            signed=bool(given.signature.strip()) and not checked.refusal,
            signature=given.signature,
            signer_key=checked.signer_key,
            allowed_signers=self.allowed_signers,
            refused=refused,
        )

    def record(self, given: Answer) -> ReviewRecorded:
        """Log ``given`` as the run's review (a refused one too, with why) and return the record."""
        entry = self.judge(given)
        self.log.append(entry)
        return entry

    def _expected(self) -> Expected:
        return Expected(
            self.statement(""),
            allowed_signers=self.allowed_signers,
            requester=self.state.requester,
            decisions=(REVIEWED,),
            stale="signed over another state of the run's log (head {}; it is now {}): review it again, then sign",
        )

    def _person(self, identity: str) -> Person | None:
        return next((p for p in self.project.team if p.is_(identity)), None)

    def _role_of(self, reviewer: str) -> tuple[str, str]:
        """Return the role ``reviewer`` reviews in, or why they may not review this emergency change."""
        roles = self.state.emergency_roles
        needed = " or ".join(roles) or "(none: the skipped gates named no role)"
        person, requester = self._person(reviewer), self.state.requester
        if reviewer == requester or (person is not None and person.is_(requester)):
            return "", (
                f"{reviewer} requested this run and cannot review its emergency change: "
                f"another person with role {needed} must"
            )
        mine = self.project.roles_of(reviewer)
        if not mine:
            return "", f"{reviewer} is not on the project team; reviewers need role {needed}"
        fitting = [r for r in mine if r in roles]
        if not fitting:
            return "", (
                f"{reviewer} has role {', '.join(sorted(set(mine)))}; reviewing this emergency change needs a role "
                f"that could have approved a gate it skipped: {needed}"
            )
        return fitting[0], ""

    def _unsigned_refusal(self) -> str:
        return (
            f"unsigned: project {self.project.name} requires signed reviews; sign with "
            f"`{how_to_review(self.state.run_id)}`"
        )


def _check_reviewable(state: RunState) -> None:
    """Raise ReviewRefused when ``state``'s run has nothing to review now."""
    run = state.run_id
    if not state.emergency:
        raise ReviewRefused(
            f"run {run} was not an emergency change: it skipped no approval gate, so there is nothing to review",
            fix=f"itpm status {run} shows its approvals",
        )
    if state.finished is None:
        raise ReviewRefused(
            f"run {run} is still running ({state.phase} phase): a post-implementation review looks at a change "
            "once it is done",
            fix=f"review it once it has ended (itpm status {run}); to end a run whose process died: itpm resume {run}",
        )
    if state.review is not None:
        raise ReviewRefused(
            f"run {run}'s emergency change was reviewed by {state.review.reviewer} "
            f"on {state.review.at:%Y-%m-%d %H:%M} UTC",
            fix=f"nothing to do: itpm log {run} shows the review",
        )
