"""The fold that builds a ``ProjectView``: the project file (the plan) and a run's events (what happened), at ``as_of``.

One pass over the events feeds the run's state (``itpm.run_state.RunState``, the fold the engine uses too), the
burn-up, and when each step and phase was done; the sections (schedule, budget, risks, timeline, compliance)
are then computed by their own modules.

>>> project_view(project, log.events(run_id), as_of=now()).percent_complete  # doctest: +SKIP
60.0
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from itpm.log.events import BatchStarted, Event, NoticeSent, PhaseChanged, RunFinished, RunStarted
from itpm.models.project import Project
from itpm.reports.project_view.budget import budget_view
from itpm.reports.project_view.compliance import check_comparisons
from itpm.reports.project_view.model import BurnPoint, ProjectView
from itpm.reports.project_view.risks import risk_views
from itpm.reports.project_view.schedule import (
    Pace,
    measured_throughput,
    milestone_view,
    phases_passed,
    planned_finish,
    projected_finish,
)
from itpm.reports.project_view.timeline import timeline_spans
from itpm.run_state import HostStepState, RunState

__all__ = ["project_view"]


def project_view(
    project: Project, events: Sequence[Event], *, as_of: datetime, prior_spend: Decimal = Decimal(0)
) -> ProjectView:
    """Return the view of the run whose ``events`` (oldest first) are given, as it stood at ``as_of``.

    ``prior_spend`` is what earlier runs of the same project booked: the budget is the project's, not the run's.
    """
    status = RunState()
    burnup: list[BurnPoint] = []
    step_done: dict[str, datetime] = {}
    phase_reached: dict[str, datetime] = {}
    started_at = ended_at = first_batch = None
    for entry in events:
        status.apply(entry)
        if isinstance(entry, RunStarted) and started_at is None:
            started_at = entry.at
            burnup.append(BurnPoint(entry.at, 0))
        elif isinstance(entry, BatchStarted) and first_batch is None:
            first_batch = entry.at
        elif isinstance(entry, PhaseChanged):
            phases_passed(phase_reached, entry.phase, entry.at)
        elif isinstance(entry, RunFinished):
            ended_at = entry.at
            if entry.status == "completed":
                phases_passed(phase_reached, None, entry.at)
        if burnup and status.verified != burnup[-1].verified:
            burnup.append(BurnPoint(entry.at, status.verified))
        for step in status.steps:
            hosts = status.hosts_of(step)
            complete = all(status.states.get((step, h)) is HostStepState.VERIFIED for h in hosts)
            if complete and step not in step_done:
                step_done[step] = entry.at
            elif not complete:
                step_done.pop(step, None)

    finished = status.finished is not None
    throughput = measured_throughput(status.verified, first_batch, as_of if not finished else (ended_at or as_of))
    projected = projected_finish(status, throughput, as_of, ended_at)
    pace = Pace(status, throughput, as_of, projected, step_done, phase_reached)
    milestones = tuple(milestone_view(m, pace) for m in project.milestones)
    return ProjectView(
        project=project,
        status=status,
        as_of=as_of,
        started_at=started_at,
        ended_at=ended_at,
        throughput_per_hour=throughput,
        projected_finish=projected,
        planned_finish=planned_finish(project),
        milestones=milestones,
        budget=budget_view(project, status, events, prior_spend),
        risks=risk_views(project, events),
        spans=timeline_spans(events, as_of),
        burnup=tuple(burnup),
        compliance=check_comparisons(events),
        failed_notices=tuple(
            f"{e.stakeholder} ({e.channel}): {e.error}" for e in events if isinstance(e, NoticeSent) and not e.delivered
        ),
    )
