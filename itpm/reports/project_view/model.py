"""The project manager's view of a run, as values: progress, schedule, budget, risks, timeline, compliance.

``itpm.reports.project_view.fold`` builds a ``ProjectView`` from a project file and a run's events; the reports
render it. Its properties word what a project manager reads first: the schedule in one sentence, and the few
lines that need acting on.

>>> view.schedule_sentence  # doctest: +SKIP
'projected finish 2026-11-26 14:05 UTC, 1 day early (planned 2026-11-27)'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from itpm.log.chain import ChainHead
from itpm.models.project import Project
from itpm.reports.emergency_flag import review_asked
from itpm.reports.wording import money, when
from itpm.run_state import RunState

__all__ = [
    "BudgetView",
    "BurnPoint",
    "CheckComparison",
    "MilestoneState",
    "MilestoneView",
    "ProjectView",
    "RiskView",
    "Span",
]


class MilestoneState(StrEnum):
    """Where a milestone stands against its due date."""

    REACHED = "reached"
    REACHED_LATE = "reached late"
    ON_TRACK = "on track"
    AT_RISK = "at risk"  # the projected date is after the due date
    OVERDUE = "overdue"  # due date passed, not reached
    NOT_MEASURED = "not measured yet"  # no batch has finished, so there is no pace to project from


@dataclass(frozen=True)
class MilestoneView:
    """A milestone of the project file, with when it was reached or is projected to be."""

    name: str
    due: date
    state: MilestoneState
    reached_at: datetime | None = None
    projected: datetime | None = None


@dataclass(frozen=True)
class BudgetView:
    """Money planned and spent, in the project's currency.

    ``planned_by_category`` splits the total into per-host costs (per host x hosts in scope) and team time (the
    rest); ``spent_by_category`` sums the costs booked in the log under the same names, plus ``other``.
    """

    currency: str
    planned: Decimal
    spent: Decimal
    planned_by_category: dict[str, Decimal]
    spent_by_category: dict[str, Decimal]
    forecast: Decimal | None  # estimate at completion; None before any host-step was verified
    hours_by_role: dict[str, float] = field(default_factory=dict)

    @property
    def percent_spent(self) -> float:
        """Return the share of the budget spent, in percent."""
        return float(100 * self.spent / self.planned) if self.planned else 0.0

    @property
    def over_budget(self) -> bool:
        """Return whether what is spent, or the forecast at completion, exceeds the plan."""
        return self.spent > self.planned or (self.forecast is not None and self.forecast > self.planned)


@dataclass(frozen=True)
class RiskView:
    """A risk as the run knows it."""

    id: str
    title: str
    likelihood: str
    impact: str
    owner: str
    source: str  # "project file" or "raised during the run"
    open: bool = True
    materialized: bool = False
    note: str = ""

    @property
    def severity(self) -> int:
        """Return likelihood x impact on a 1..9 scale (low 1, medium 2, high 3), for ranking."""
        levels = {"low": 1, "medium": 2, "high": 3}
        return levels[self.likelihood] * levels[self.impact]


@dataclass(frozen=True)
class Span:
    """Something that took time in the run: a phase, a batch, or a wait for approval (timeline charts)."""

    lane: str  # "phase", "batch" or "approval"
    label: str
    start: datetime
    end: datetime
    outcome: str  # phases: "done" or "current"; batches: passed, tolerated, halted, running; approvals: decision


@dataclass(frozen=True)
class BurnPoint:
    """The number of host-steps verified at a moment (a burn-up chart's point)."""

    at: datetime
    verified: int


@dataclass(frozen=True)
class CheckComparison:
    """One check of a step: the hosts failing it before the change, and after (None: not re-audited yet)."""

    step: str
    check: str
    hosts: int
    failing_before: tuple[str, ...]
    failing_after: tuple[str, ...] | None


@dataclass(frozen=True)
class ProjectView:
    """The project manager's view of a run at ``as_of``."""

    project: Project
    status: RunState
    as_of: datetime
    started_at: datetime | None
    ended_at: datetime | None
    throughput_per_hour: float | None  # host-steps verified per hour since the first batch started
    projected_finish: datetime | None  # the end of the rollout at the measured pace (or its actual end)
    planned_finish: date | None  # the end of the execution phase, else the last milestone
    milestones: tuple[MilestoneView, ...]
    budget: BudgetView | None
    risks: tuple[RiskView, ...]  # every risk, open or closed
    spans: tuple[Span, ...]
    burnup: tuple[BurnPoint, ...]
    compliance: tuple[CheckComparison, ...]
    failed_notices: tuple[str, ...] = ()
    # The head of the run's hash chain when the view was made, for an auditor to note (itpm.log.chain); None when
    # the view was folded from events alone, or none of the run's events is chained.
    chain_head: ChainHead | None = None

    @property
    def percent_complete(self) -> float:
        """Return host-steps verified out of those in scope, in percent."""
        return self.status.progress_percent

    @property
    def elapsed(self) -> timedelta:
        """Return the run's wall-clock time so far (to its end, once it ended)."""
        if self.started_at is None:
            return timedelta(0)
        return (self.ended_at or self.as_of) - self.started_at

    @property
    def open_risks(self) -> tuple[RiskView, ...]:
        """Return the risks still open: those that materialized first, then the most severe."""
        return tuple(sorted((r for r in self.risks if r.open), key=lambda r: (not r.materialized, -r.severity)))

    @property
    def schedule_sentence(self) -> str:
        """Return the schedule in one sentence, e.g. ``projected finish 2026-11-26 14:05 UTC, 1 day early``."""
        if self.status.finished == "completed" and self.ended_at is not None:
            return f"finished {when(self.ended_at)}" + _against(self.ended_at, self.planned_finish)
        if self.status.finished == "dry_run":
            return f"dry run (audit and plan only) finished {when(self.ended_at or self.as_of)}"
        if self.status.finished:
            return f"stopped ({self.status.finished}) {when(self.ended_at or self.as_of)}"
        if self.projected_finish is None:
            planned = f"; planned by {self.planned_finish}" if self.planned_finish else ""
            return "no projected finish yet (no batch has finished)" + planned
        return f"projected finish {when(self.projected_finish)}" + _against(self.projected_finish, self.planned_finish)

    @property
    def attention(self) -> tuple[str, ...]:
        """Return what a project manager must act on, most urgent first."""
        status = self.status
        lines: list[str] = []
        if status.halt_reason:
            lines.append(f"Halted: {status.halt_reason}. Next: {status.next_steps}")
        if status.waiting_for_approval:
            lines.append(
                f"Step {status.waiting_for_approval} waits for approval: `itpm approve {status.run_id} --as <login>`"
            )
        if status.review_pending:
            lines.append(review_asked(status))
        lines += [f"{host} in step {step}: {why}" for (step, host), why in sorted(status.problems.items())]
        lines += [
            f"Milestone {m.name!r} (due {m.due}) is {m.state.value}"
            + (f": projected {when(m.projected)}" if m.projected and m.state is MilestoneState.AT_RISK else "")
            for m in self.milestones
            if m.state in (MilestoneState.AT_RISK, MilestoneState.OVERDUE)
        ]
        budget = self.budget
        if budget is not None and budget.over_budget:
            forecast = f"; forecast {money(budget.forecast, budget.currency)}" if budget.forecast else ""
            lines.append(
                f"Budget: {money(budget.spent, budget.currency)} spent of {money(budget.planned, budget.currency)}"
                + forecast
            )
        lines += [f"Risk {r.id} materialized: {r.title} ({r.note})" for r in self.risks if r.materialized and r.open]
        lines += [f"Notice not delivered: {n}" for n in self.failed_notices]
        return tuple(lines)


def _against(moment: datetime, planned: date | None) -> str:
    if planned is None:
        return ""
    days = (planned - moment.astimezone(UTC).date()).days
    if days == 0:
        return f", on the planned day ({planned})"
    unit = "day" if abs(days) == 1 else "days"
    return f", {abs(days)} {unit} {'early' if days > 0 else 'late'} (planned {planned})"
