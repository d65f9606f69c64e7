"""What a stakeholder's notice says about the project's state: the PM view put into the sentences of a Briefing.

>>> briefing_of(view, links=["itpm status r1"]).budget  # doctest: +SKIP
'EUR 150.00 of EUR 2,000.00 spent (8%); forecast at completion EUR 300.00'
"""

from __future__ import annotations

from collections.abc import Sequence

from itpm.notify.briefing import Briefing
from itpm.reports.emergency_flag import emergency_flag
from itpm.reports.project_view import MilestoneState, ProjectView
from itpm.reports.wording import money, percent, when

__all__ = ["briefing_of"]


def briefing_of(view: ProjectView, *, links: Sequence[str] = ()) -> Briefing:
    """Return the view's progress, schedule and budget as sentences for a notice."""
    status = view.status
    late = [
        f"milestone '{m.name}' due {m.due} is {m.state.value}"
        + (f" (projected {when(m.projected)})" if m.projected else "")
        for m in view.milestones
        if m.state in (MilestoneState.AT_RISK, MilestoneState.OVERDUE, MilestoneState.REACHED_LATE)
    ]
    budget = view.budget
    spent = (
        f"{money(budget.spent, budget.currency)} of {money(budget.planned, budget.currency)} spent "
        f"({percent(budget.percent_spent)})"
        + (f"; forecast at completion {money(budget.forecast, budget.currency)}" if budget.forecast is not None else "")
        if budget is not None
        else ""
    )
    return Briefing(
        progress=f"{status.verified} of {status.total} host-steps verified ({percent(view.percent_complete)})",
        schedule="; ".join([view.schedule_sentence, *late]),
        budget=spent,
        asked="",
        emergency=emergency_flag(status),
        links=list(links),
    )
