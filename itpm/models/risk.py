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
    step: str | None = None  # the signals count only in this step (any step if absent)
