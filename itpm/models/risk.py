"""A project's risks in its project file: how likely and how bad, who owns them, and what shows they happened.

>>> Risk(id="R1", title="Agent breaks SSH", likelihood="low", impact="high", mitigation="canary", owner="dana",
...      signals=["unreachable"]).signals  # doctest: +SKIP
(<RiskSignal.UNREACHABLE: 'unreachable'>,)
"""

from __future__ import annotations

from enum import StrEnum

from itpm.models.strict import StrictModel

__all__ = ["Level", "Risk", "RiskSignal"]


class Level(StrEnum):
    """Likelihood or impact of a risk."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def weight(self) -> int:
        """Return 1 for low, 2 for medium, 3 for high: a risk's score is its likelihood's times its impact's."""
        return {Level.LOW: 1, Level.MEDIUM: 2, Level.HIGH: 3}[self]


class RiskSignal(StrEnum):
    """What a run can observe that means a risk materialized."""

    HALT = "halt"  # a batch failed past its tolerance
    UNREACHABLE = "unreachable"  # a host stopped answering during a step
    CHECK_FAILED = "check_failed"  # a host's checks failed after the change
    ROLLBACK_FAILED = "rollback_failed"  # a rollback did not restore a host
    APPROVAL_REJECTED = "approval_rejected"


class Risk(StrictModel):
    """A risk of the project and who owns it; ``signals`` let a run notice, and log, that it materialized."""

    id: str
    title: str
    likelihood: Level
    impact: Level
    mitigation: str
    owner: str
    open: bool = True
    signals: tuple[RiskSignal, ...] = ()
    step: str | None = None  # the step it bears on: its signals and its change class count there only (all if absent)

    @property
    def score(self) -> int:
        """Return likelihood times impact, 1 to 9: ``Risk(likelihood="low", impact="high", ...).score == 3``."""
        return self.likelihood.weight * self.impact.weight

    def bears_on(self, step: str) -> bool:
        """Return whether the risk weighs on a change of ``step``: it is open and names that step or none."""
        return self.open and self.step in (None, step)
