"""The schedule of a run: its pace measured over the batches so far, the projected finish, and each milestone.

Throughput is host-steps verified per hour of execution since the first batch started, pauses and waits
included; the finish (of the rollout, or of a step's milestone) is projected at that pace. A milestone is
reached, on track, at risk (projected after its due day), overdue, or not measured yet (no pace to project from).

>>> measured_throughput(6, datetime(2026, 11, 25, 12, tzinfo=UTC), until=datetime(2026, 11, 25, 14, tzinfo=UTC))
3.0
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from itpm.models.project import Milestone, PhaseName, Project
from itpm.reports.project_view.model import MilestoneState, MilestoneView
from itpm.run_state import HostStepState, RunState

__all__ = ["Pace", "measured_throughput", "milestone_view", "phases_passed", "planned_finish", "projected_finish"]

_PHASE_ORDER = list(PhaseName)


def phases_passed(reached: dict[str, datetime], current: str | None, at: datetime) -> None:
    """Mark every phase before ``current`` (all phases when None) as reached at ``at`` (first time only)."""
    end = _PHASE_ORDER.index(PhaseName(current)) if current is not None else len(_PHASE_ORDER)
    for phase in _PHASE_ORDER[:end]:
        reached.setdefault(phase.value, at)


def measured_throughput(verified: int, first_batch: datetime | None, until: datetime) -> float | None:
    """Return host-steps verified per hour since the first batch started (None before any was verified)."""
    if first_batch is None or verified == 0:
        return None
    hours = (until - first_batch).total_seconds() / 3600
    return verified / hours if hours > 0 else None


def projected_finish(
    status: RunState, throughput: float | None, as_of: datetime, ended_at: datetime | None
) -> datetime | None:
    """Return when the rollout ends at ``throughput`` (its actual end once completed; None if stopped)."""
    if status.finished == "completed":
        return ended_at
    if status.finished or throughput is None:
        return None
    return as_of + timedelta(hours=(status.total - status.verified) / throughput)


def planned_finish(project: Project) -> date | None:
    """Return the planned end of the execution phase, else the last milestone's due day (None if neither)."""
    execution = [p.end for p in project.phases if p.name is PhaseName.EXECUTION]
    if execution:
        return execution[0]
    return max((m.due for m in project.milestones), default=None)


@dataclass(frozen=True)
class Pace:
    """What milestones are judged from: the run's status, its measured pace, and when steps and phases were done."""

    status: RunState
    throughput: float | None
    as_of: datetime
    projected_finish: datetime | None
    step_done: dict[str, datetime]
    phase_reached: dict[str, datetime]


def milestone_view(milestone: Milestone, pace: Pace) -> MilestoneView:
    """Return the milestone reached (and when), or where it stands against its due day at the measured pace."""
    status, throughput, as_of = pace.status, pace.throughput, pace.as_of
    if milestone.step is not None:
        reached = pace.step_done.get(milestone.step)
        # Steps run in order: a step's milestone comes when it and every step before it are verified.
        steps = status.steps[: status.steps.index(milestone.step) + 1] if milestone.step in status.steps else []
        remaining = sum(
            1
            for step in steps
            for host in status.hosts_of(step)
            if status.states.get((step, host)) is not HostStepState.VERIFIED
        )
        projected = as_of + timedelta(hours=remaining / throughput) if throughput and not status.finished else None
    else:
        reached = pace.phase_reached.get(milestone.phase.value) if milestone.phase else None
        projected = pace.projected_finish if not status.finished else None
    deadline = datetime.combine(milestone.due, time.max, tzinfo=UTC)
    if reached is not None:
        state = MilestoneState.REACHED if reached <= deadline else MilestoneState.REACHED_LATE
        return MilestoneView(milestone.name, milestone.due, state, reached_at=reached)
    if as_of > deadline:
        state = MilestoneState.OVERDUE
    elif projected is None:
        state = MilestoneState.NOT_MEASURED
    else:
        state = MilestoneState.AT_RISK if projected > deadline else MilestoneState.ON_TRACK
    return MilestoneView(milestone.name, milestone.due, state, projected=projected)
