"""The project manager's view of a run: progress, schedule, budget, risks and what needs attention (pure).

Computed from the project file (the plan) and the run's log events (what happened), at any moment ``as_of``:

- **progress**: host-steps verified out of those in scope;
- **schedule**: throughput measured over the batches so far (host-steps verified per hour of execution, pauses
  and waits included), a projected finish at that pace, and each milestone reached, on track, at risk or overdue;
- **budget**: costs booked in the log (team time x rate, per-host costs, bookings by hand) against the plan, and
  a forecast at completion from the cost of the host-steps done so far;
- **risks**: the project file's open risks and those raised during the run, minus those closed; which materialized;
- **attention**: the few lines a project manager must act on.

>>> view = project_view(project, log.events(run_id), as_of=now())  # doctest: +SKIP
>>> view.percent_complete, view.projected_finish, view.budget.spent  # doctest: +SKIP
(60.0, datetime(2026, 11, 26, 14, 5, tzinfo=UTC), Decimal('1240.50'))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from itpm.log.events import (
    ApprovalDecided,
    ApprovalRequested,
    BatchFinished,
    BatchStarted,
    CostBooked,
    Event,
    NoticeSent,
    PhaseChanged,
    RiskClosed,
    RiskRaised,
    RunFinished,
    RunStarted,
    StepAudited,
)
from itpm.models.project import Milestone, PhaseName, Project
from itpm.reports.wording import money, when
from itpm.run_state import HostStepState, RunState

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

_PHASE_ORDER = list(PhaseName)


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
            _phases_passed(phase_reached, entry.phase, entry.at)
        elif isinstance(entry, RunFinished):
            ended_at = entry.at
            if entry.status == "completed":
                _phases_passed(phase_reached, None, entry.at)
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
    throughput = _throughput(status.verified, first_batch, as_of if not finished else (ended_at or as_of))
    projected = _projected(status, throughput, as_of, ended_at)
    pace = _Pace(status, throughput, as_of, projected, step_done, phase_reached)
    milestones = tuple(_milestone(m, pace) for m in project.milestones)
    return ProjectView(
        project=project,
        status=status,
        as_of=as_of,
        started_at=started_at,
        ended_at=ended_at,
        throughput_per_hour=throughput,
        projected_finish=projected,
        planned_finish=_planned_finish(project),
        milestones=milestones,
        budget=_budget(project, status, events, prior_spend),
        risks=_risks(project, events),
        spans=_spans(events, as_of),
        burnup=tuple(burnup),
        compliance=_compliance(events),
        failed_notices=tuple(
            f"{e.stakeholder} ({e.channel}): {e.error}" for e in events if isinstance(e, NoticeSent) and not e.delivered
        ),
    )


# -- schedule ------------------------------------------------------------------------------------------------------


def _phases_passed(reached: dict[str, datetime], current: str | None, at: datetime) -> None:
    """Mark every phase before ``current`` (all phases when None) as reached at ``at`` (first time only)."""
    end = _PHASE_ORDER.index(PhaseName(current)) if current is not None else len(_PHASE_ORDER)
    for phase in _PHASE_ORDER[:end]:
        reached.setdefault(phase.value, at)


def _throughput(verified: int, first_batch: datetime | None, until: datetime) -> float | None:
    """Return host-steps verified per hour since the first batch started (None before any was verified)."""
    if first_batch is None or verified == 0:
        return None
    hours = (until - first_batch).total_seconds() / 3600
    return verified / hours if hours > 0 else None


def _projected(
    status: RunState, throughput: float | None, as_of: datetime, ended_at: datetime | None
) -> datetime | None:
    if status.finished == "completed":
        return ended_at
    if status.finished or throughput is None:
        return None
    return as_of + timedelta(hours=(status.total - status.verified) / throughput)


def _planned_finish(project: Project) -> date | None:
    execution = [p.end for p in project.phases if p.name is PhaseName.EXECUTION]
    if execution:
        return execution[0]
    return max((m.due for m in project.milestones), default=None)


@dataclass(frozen=True)
class _Pace:
    """What milestones are judged from: the run's status, its measured pace, and when steps and phases were done."""

    status: RunState
    throughput: float | None
    as_of: datetime
    projected_finish: datetime | None
    step_done: dict[str, datetime]
    phase_reached: dict[str, datetime]


def _milestone(milestone: Milestone, pace: _Pace) -> MilestoneView:
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


def _against(moment: datetime, planned: date | None) -> str:
    if planned is None:
        return ""
    days = (planned - moment.astimezone(UTC).date()).days
    if days == 0:
        return f", on the planned day ({planned})"
    unit = "day" if abs(days) == 1 else "days"
    return f", {abs(days)} {unit} {'early' if days > 0 else 'late'} (planned {planned})"


# -- budget --------------------------------------------------------------------------------------------------------

HOST_COSTS = "per-host costs"
TEAM_TIME = "team time"
OTHER = "other"


def _budget(project: Project, status: RunState, events: Sequence[Event], prior: Decimal) -> BudgetView | None:
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


# -- risks, timeline, compliance -----------------------------------------------------------------------------------


def _risks(project: Project, events: Sequence[Event]) -> tuple[RiskView, ...]:
    risks: dict[str, RiskView] = {
        r.id: RiskView(r.id, r.title, r.likelihood.value, r.impact.value, r.owner, "project file", open=r.open)
        for r in project.risks
    }
    for entry in events:
        if isinstance(entry, RiskRaised):
            known = risks.get(entry.risk_id)
            risks[entry.risk_id] = RiskView(
                entry.risk_id,
                entry.title,
                entry.likelihood,
                entry.impact,
                entry.owner,
                known.source if known else "raised during the run",
                open=True,
                materialized=entry.materialized or (known.materialized if known else False),
                note=entry.note,
            )
        elif isinstance(entry, RiskClosed) and entry.risk_id in risks:
            known = risks[entry.risk_id]
            risks[entry.risk_id] = replace(known, open=False, note=entry.note or known.note)
    return tuple(risks.values())


def _spans(events: Sequence[Event], as_of: datetime) -> tuple[Span, ...]:
    spans: list[Span] = []
    phase: tuple[str, datetime] | None = None
    batches: dict[str, datetime] = {}
    approvals: dict[str, datetime] = {}
    end = as_of
    for entry in events:
        if isinstance(entry, PhaseChanged):
            if phase is not None:
                spans.append(Span("phase", phase[0], phase[1], entry.at, "done"))
            phase = (entry.phase, entry.at)
        elif isinstance(entry, RunFinished):
            if phase is not None:
                spans.append(Span("phase", phase[0], phase[1], entry.at, "done"))
            phase, end = None, entry.at
        elif isinstance(entry, BatchStarted):
            batches[entry.batch or ""] = entry.at
        elif isinstance(entry, BatchFinished) and (entry.batch or "") in batches:
            spans.append(Span("batch", entry.batch or "", batches.pop(entry.batch or ""), entry.at, entry.verdict))
        elif isinstance(entry, ApprovalRequested):
            approvals[entry.step or ""] = entry.at
        elif isinstance(entry, ApprovalDecided) and entry.decision != "refused" and (entry.step or "") in approvals:
            spans.append(
                Span("approval", f"approval of {entry.step}", approvals.pop(entry.step or ""), entry.at, entry.decision)
            )
    if phase is not None:
        spans.append(Span("phase", phase[0], phase[1], end, "current"))
    spans += [Span("batch", label, start, end, "running") for label, start in batches.items()]
    spans += [Span("approval", f"approval of {step}", start, end, "waiting") for step, start in approvals.items()]
    return tuple(sorted(spans, key=lambda s: s.start))


def _compliance(events: Sequence[Event]) -> tuple[CheckComparison, ...]:
    """Compare each step's latest audit before the change with its latest audit after it, check by check."""
    audits: dict[tuple[str, str], StepAudited] = {}
    for entry in events:
        if isinstance(entry, StepAudited):
            audits[(entry.step or "", entry.stage)] = entry
    comparisons = []
    for step in dict.fromkeys(step for step, _ in audits):
        before, after = audits.get((step, "before")), audits.get((step, "after"))
        checks = list(dict.fromkeys([*_checks_of(before), *_checks_of(after)]))
        latest = after or before
        hosts = len(latest.passed) + len(latest.failed) if latest else 0
        comparisons += [
            CheckComparison(
                step=step,
                check=check,
                hosts=hosts,
                failing_before=_failing(before, check) if before else (),
                failing_after=_failing(after, check) if after else None,
            )
            for check in checks
        ]
    return tuple(comparisons)


def _checks_of(audit: StepAudited | None) -> list[str]:
    if audit is None:
        return []
    failed = [failure.check for failures in audit.failed.values() for failure in failures]
    return list(dict.fromkeys([*audit.checks, *failed]))


def _failing(audit: StepAudited, check: str) -> tuple[str, ...]:
    return tuple(sorted(host for host, failures in audit.failed.items() if any(f.check == check for f in failures)))
