"""The project manager's view of a run: progress, schedule, budget, risks and what needs attention (pure).

Computed from the project file (the plan) and the run's log events (what happened), at any moment ``as_of``:

- **progress**: host-steps verified out of those in scope;
- **schedule**: throughput measured over the batches so far (host-steps verified per hour of execution, pauses
  and waits included), a projected finish at that pace, and each milestone reached, on track, at risk or overdue;
- **budget**: costs booked in the log (team time x rate, per-host costs, bookings by hand) against the plan, and
  a forecast at completion from the cost of the host-steps done so far;
- **risks**: the project file's open risks and those raised during the run, minus those closed; which materialized;
- **attention**: the few lines a project manager must act on.

One module per part: ``model`` (the view's values), ``fold`` (``project_view``, which builds it), and the
sections it computes: ``schedule``, ``budget``, ``risks``, ``timeline``, ``compliance``. Import from here.

>>> view = project_view(project, log.events(run_id), as_of=now())  # doctest: +SKIP
>>> view.percent_complete, view.projected_finish, view.budget.spent  # doctest: +SKIP
(60.0, datetime(2026, 11, 26, 14, 5, tzinfo=UTC), Decimal('1240.50'))
"""

from __future__ import annotations

from itpm.reports.project_view.fold import project_view
from itpm.reports.project_view.model import (
    BudgetView,
    BurnPoint,
    CheckComparison,
    MilestoneState,
    MilestoneView,
    ProjectView,
    RiskView,
    Span,
)

__all__ = [
    "BudgetView",
    "BurnPoint",
    "CheckComparison",
    "MilestoneState",
    "MilestoneView",
    "ProjectView",
    "RiskView",
    "Span",
    "project_view",
]
