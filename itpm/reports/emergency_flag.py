"""The flag of an emergency change, in one set of words for every report, screen and notice that shows it.

An emergency change skipped approval gates; until its post-implementation review is recorded it is flagged, with
the command that records the review; afterwards it still says that it was one, and who reviewed it when.

>>> emergency_flag(state)  # doctest: +SKIP
'EMERGENCY CHANGE — gates skipped: baseline; reason: payments down; post-implementation review pending
(`itpm review r1 --as <login> --key ~/.ssh/id_ed25519`)'
>>> emergency_flag(reviewed)  # doctest: +SKIP
'emergency change (gates skipped: baseline; reason: payments down), reviewed by chris on 2026-12-02 13:10 UTC, signed'
"""

from __future__ import annotations

from itpm.reports.wording import when
from itpm.run_state import RunState
from itpm.signing.instructions import how_to_review

__all__ = ["emergency_flag", "review_asked"]


def _skipped(status: RunState) -> str:
    if status.gates_skipped:
        return f"gates skipped: {', '.join(status.gates_skipped)}"
    return f"no gate skipped yet (declared for {', '.join(status.emergency_steps)})"


def emergency_flag(status: RunState) -> str:
    """Return the run's emergency flag in words ("" when the run is no emergency change)."""
    if not status.emergency:
        return ""
    review = status.review
    if review is None:
        return (
            f"EMERGENCY CHANGE — {_skipped(status)}; reason: {status.emergency}; "
            f"post-implementation review pending (`{how_to_review(status.run_id)}`)"
        )
    proof = "signed" if review.signed else "unsigned"
    said = f": {review.comment}" if review.comment else ""
    return (
        f"emergency change ({_skipped(status)}; reason: {status.emergency}), "
        f"reviewed by {review.reviewer} on {when(review.at)}, {proof}{said}"
    )


def review_asked(status: RunState) -> str:
    """Return what is asked while the review is pending, for a list of things to act on ("" when nothing is)."""
    if not status.review_pending:
        return ""
    roles = " or ".join(status.emergency_roles)
    who = f"someone with role {roles} other than {status.requester}" if roles else f"someone but {status.requester}"
    return (
        f"Emergency change: its post-implementation review is pending. Once the run has ended, {who} records it: "
        f"`{how_to_review(status.run_id)}`"
    )
