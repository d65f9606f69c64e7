"""A project's schedule in its project file: the phases it moves through, their planned dates, and milestones.

>>> Milestone(name="Canary verified", due=date(2026, 11, 25), step="patch")  # doctest: +SKIP
Milestone(name='Canary verified', due=datetime.date(2026, 11, 25), phase=None, step='patch')
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import model_validator

from itpm.models.strict import StrictModel

__all__ = ["Milestone", "Phase", "PhaseName"]


class PhaseName(StrEnum):
    """The project management phases a run moves through."""

    INITIATION = "initiation"
    PLANNING = "planning"
    EXECUTION = "execution"
    MONITORING_AND_CONTROL = "monitoring_and_control"
    CLOSURE = "closure"


class Phase(StrictModel):
    """A phase with its planned dates."""

    name: PhaseName
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Phase:
        if self.end < self.start:
            raise ValueError(f"phase {self.name.value} ends ({self.end}) before it starts ({self.start})")
        return self


class Milestone(StrictModel):
    """A dated milestone, reached at the end of a phase or when a step is done."""

    name: str
    due: date
    phase: PhaseName | None = None
    step: str | None = None  # reached when this step has verified all its hosts
