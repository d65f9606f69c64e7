"""The budget of a project at a run: planned against spent, by category and role, and a forecast at completion.

Spent is what the log booked (team time x rate, per-host costs, bookings by hand) plus what earlier runs of the
project booked; the forecast prices what is left at what the done part cost.

>>> budget_view(project, status, events, prior=Decimal(0)).spent_by_category  # doctest: +SKIP
{'per-host costs': Decimal('50'), 'team time': Decimal('100.00'), 'other': Decimal('0')}
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from itpm.log.events import CostBooked, Event
from itpm.models.project import Project
from itpm.reports.project_view.model import BudgetView
from itpm.run_state import RunState

__all__ = ["HOST_COSTS", "OTHER", "TEAM_TIME", "budget_view"]

HOST_COSTS = "per-host costs"
TEAM_TIME = "team time"
OTHER = "other"


def budget_view(project: Project, status: RunState, events: Sequence[Event], prior: Decimal) -> BudgetView | None:
    """Return the budget against what was booked (``prior``: by earlier runs); None if the project has none."""
    budget = project.budget
    if budget is None:
        return None
    scope = len(status.hosts)
    host_plan = budget.per_host * scope
    planned = {HOST_COSTS: host_plan, TEAM_TIME: max(budget.total - host_plan, Decimal(0))}
    spent = {HOST_COSTS: Decimal(0), TEAM_TIME: Decimal(0), OTHER: prior}
    hours: dict[str, float] = {}
    booked_hosts: set[str] = set()
    for entry in events:
        if not isinstance(entry, CostBooked):
            continue
        category = {"labour": TEAM_TIME, "hosts": HOST_COSTS}.get(entry.category, OTHER)
        spent[category] += entry.amount
        if entry.category == "labour":
            hours[entry.role or "unknown"] = hours.get(entry.role or "unknown", 0.0) + entry.hours
        booked_hosts.update(entry.hosts)
    total_spent = sum(spent.values(), Decimal(0))
    forecast = None
    if status.verified:
        # What is left costs what the done part cost: team time per verified host-step, and each host's fixed cost.
        per_host_step = spent[TEAM_TIME] / status.verified
        remaining_steps = status.total - status.verified
        remaining_hosts = max(scope - len(booked_hosts), 0)
        forecast = (total_spent + per_host_step * remaining_steps + budget.per_host * remaining_hosts).quantize(
            Decimal("0.01")
        )
    return BudgetView(
        currency=budget.currency,
        planned=budget.total,
        spent=total_spent,
        planned_by_category=planned,
        spent_by_category=spent,
        forecast=forecast,
        hours_by_role=hours,
    )
